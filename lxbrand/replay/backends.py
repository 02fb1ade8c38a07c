"""Where a replay sends the recorded calls: the host's own ptrace (`HostBackend`) or the lx
personality (`LxBackend`: `lx_ptrace`, the lxbrand waits, and native_proc's `as` file).

Every method answers in the raw system-call convention, whatever the backend: a return value,
or ``-errno`` (never an exception), so that the replay compares the two backends and the
recording the same way.

=================  ===========================================  =========================================
call               HostBackend                                  LxBackend
=================  ===========================================  =========================================
ptrace             native_proc.host.ptrace (raw syscall)        lxbrand.lx_ptrace
wait4 / waitid     native_proc.host.wait4 / waitid              lxbrand.lx_wait4 / lx_waitid
kill / tkill /     native_proc.host                             native_proc.host (signals are the host's;
tgkill                                                          procd sees them like any other)
/proc/PID/mem      /proc/PID[/task/TID]/mem, pread/pwrite       native_proc.client.open("PID/as", O_RDWR)
                                                                (an empty read at an unmapped start is
                                                                EIO, as Linux's mem file answers)
process_vm_*       native_proc.host.process_vm_*_iov            the `as` file, one remote range after the
                                                                other (a short range ends the transfer)
TRACEME (child)    native_proc.host.ptrace(TRACEME)             lx_ptrace(TRACEME) (procd joined first)
=================  ===========================================  =========================================

`implemented(request)` tells the replay whether a backend knows a request at all; a backend
that answers -EIO to a request it lacks has that named ("not-implemented"), not treated as a
translation error.  lx_ptrace now implements every request the recorded sessions use.
"""

from __future__ import annotations

import errno
import os
import time
from typing import Any

from native_proc import host

__all__ = ["Backend", "HostBackend", "LxBackend", "get_backend", "BACKENDS"]

_WNOHANG = 1


class Backend:
    """The interface (and the parts both backends share: signals).  `busy` accumulates the
    seconds spent inside the backend, so that the replay can tell its own cost apart."""

    name = "?"

    def __init__(self) -> None:
        self.busy = 0.0
        self.calls = 0

    # -- lifecycle -----------------------------------------------------------------------------
    def setup(self) -> None:
        """Before the first fork (lx: join procd so that TRACEME children find it)."""

    def close(self) -> None:
        """Release every file held."""

    def traceme(self) -> None:
        """PTRACE_TRACEME, called in a freshly forked child (raises OSError on failure)."""
        raise NotImplementedError

    def implemented(self, request: int) -> bool:
        return True

    def forget(self, pid: int) -> None:
        """The process exited or exec'd: drop the memory files held for it."""

    # -- calls ---------------------------------------------------------------------------------
    def ptrace(self, req: int, pid: int, addr: Any, data: Any) -> int:
        raise NotImplementedError

    def wait4(self, pid: int, options: int) -> tuple[int, int]:
        """(pid, status), (0, 0) for WNOHANG with nothing, (-errno, 0) on failure."""
        raise NotImplementedError

    def waitid(self, idtype: int, id: int, options: int) -> tuple[int, dict | None]:
        """(0, {si_pid, si_code, si_status, si_signo, si_uid}), (0, None), or (-errno, None)."""
        raise NotImplementedError

    def kill(self, pid: int, sig: int) -> int:
        return self._timed(_signal_call, host.kill, pid, sig)

    def tkill(self, tid: int, sig: int) -> int:
        return self._timed(_signal_call, host.tkill, tid, sig)

    def tgkill(self, tgid: int, tid: int, sig: int) -> int:
        return self._timed(_signal_call, host.tgkill, tgid, tid, sig)

    def mem_pread(self, pid: int, tid: int | None, count: int, offset: int) -> tuple[int, bytes]:
        raise NotImplementedError

    def mem_pwrite(self, pid: int, tid: int | None, data: bytes, offset: int) -> int:
        raise NotImplementedError

    def vm_readv(self, pid: int, local_sizes: list[int], remote: list[tuple[int, int]]
                 ) -> tuple[int, bytes]:
        raise NotImplementedError

    def vm_writev(self, pid: int, chunks: list[bytes], remote: list[tuple[int, int]]) -> int:
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------------------
    def _timed(self, fn: Any, *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.busy += time.perf_counter() - t0
            self.calls += 1


def _signal_call(fn: Any, *args: Any) -> int:
    try:
        fn(*args)
        return 0
    except OSError as e:
        return -(e.errno or errno.EINVAL)


def _neg(e: OSError) -> int:
    return -(e.errno or errno.EIO)


class HostBackend(Backend):
    """The host kernel's ptrace, through native_proc.host: the reference a replay is judged by."""

    name = "host"

    def __init__(self) -> None:
        super().__init__()
        self._mem: dict[tuple[int, int | None], int] = {}

    def close(self) -> None:
        for fd in self._mem.values():
            os.close(fd)
        self._mem.clear()

    def forget(self, pid: int) -> None:
        for key in [k for k in self._mem if k[0] == pid]:
            os.close(self._mem.pop(key))

    def traceme(self) -> None:
        host.ptrace(0, 0, 0, 0)

    def ptrace(self, req: int, pid: int, addr: Any, data: Any) -> int:
        t0 = time.perf_counter()
        try:
            return host.ptrace(req, pid, addr, data)
        except OSError as e:
            return _neg(e)
        finally:
            self.busy += time.perf_counter() - t0
            self.calls += 1

    def wait4(self, pid: int, options: int) -> tuple[int, int]:
        t0 = time.perf_counter()
        try:
            return host.wait4(pid, options)
        except OSError as e:
            return _neg(e), 0
        finally:
            self.busy += time.perf_counter() - t0
            self.calls += 1

    def waitid(self, idtype: int, id: int, options: int) -> tuple[int, dict | None]:
        t0 = time.perf_counter()
        try:
            r = host.waitid(idtype, id, options)
        except OSError as e:
            return _neg(e), None
        finally:
            self.busy += time.perf_counter() - t0
            self.calls += 1
        if r is None:
            return 0, None
        return 0, {"si_signo": r.si_signo, "si_code": r.si_code, "si_pid": r.si_pid,
                   "si_uid": r.si_uid, "si_status": r.si_status}

    def _fd(self, pid: int, tid: int | None) -> int:
        key = (pid, tid)
        fd = self._mem.get(key)
        if fd is None:
            path = f"/proc/{pid}/task/{tid}/mem" if tid is not None else f"/proc/{pid}/mem"
            fd = self._mem[key] = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        return fd

    def mem_pread(self, pid: int, tid: int | None, count: int, offset: int) -> tuple[int, bytes]:
        t0 = time.perf_counter()
        try:
            data = os.pread(self._fd(pid, tid), count, offset)
            return len(data), data
        except OSError as e:
            return _neg(e), b""
        finally:
            self.busy += time.perf_counter() - t0
            self.calls += 1

    def mem_pwrite(self, pid: int, tid: int | None, data: bytes, offset: int) -> int:
        t0 = time.perf_counter()
        try:
            return os.pwrite(self._fd(pid, tid), data, offset)
        except OSError as e:
            return _neg(e)
        finally:
            self.busy += time.perf_counter() - t0
            self.calls += 1

    def vm_readv(self, pid: int, local_sizes: list[int], remote: list[tuple[int, int]]
                 ) -> tuple[int, bytes]:
        bufs = [bytearray(n) for n in local_sizes]
        t0 = time.perf_counter()
        try:
            n = host.process_vm_readv_iov(pid, bufs, remote)
        except OSError as e:
            return _neg(e), b""
        finally:
            self.busy += time.perf_counter() - t0
            self.calls += 1
        return n, b"".join(bytes(b) for b in bufs)[:n]

    def vm_writev(self, pid: int, chunks: list[bytes], remote: list[tuple[int, int]]) -> int:
        t0 = time.perf_counter()
        try:
            return host.process_vm_writev_iov(pid, chunks, remote)
        except OSError as e:
            return _neg(e)
        finally:
            self.busy += time.perf_counter() - t0
            self.calls += 1


class LxBackend(Backend):
    """The Linux personality: lx_ptrace, lx_wait4/lx_waitid, and native_proc's `as` file."""

    name = "lx"

    def __init__(self) -> None:
        super().__init__()
        import lxbrand
        from lxbrand import ptrace as lxp

        self._lx = lxbrand
        self._requests = lxp.REQUESTS
        self._as: dict[int, Any] = {}

    def setup(self) -> None:
        self._lx.ensure_procd()

    def close(self) -> None:
        for f in self._as.values():
            try:
                f.close()
            except OSError:
                pass
        self._as.clear()

    def forget(self, pid: int) -> None:
        f = self._as.pop(pid, None)
        if f is not None:
            try:
                f.close()
            except OSError:
                pass

    def implemented(self, request: int) -> bool:
        return request in self._requests

    def traceme(self) -> None:
        r = self._lx.lx_ptrace(0, 0, 0, 0)
        if r < 0:
            raise OSError(-r, "lx_ptrace(PTRACE_TRACEME)")

    def ptrace(self, req: int, pid: int, addr: Any, data: Any) -> int:
        t0 = time.perf_counter()
        try:
            return self._lx.lx_ptrace(req, pid, addr, data)
        finally:
            self.busy += time.perf_counter() - t0
            self.calls += 1

    def wait4(self, pid: int, options: int) -> tuple[int, int]:
        t0 = time.perf_counter()
        try:
            return self._lx.lx_wait4(pid, options)
        finally:
            self.busy += time.perf_counter() - t0
            self.calls += 1

    def waitid(self, idtype: int, id: int, options: int) -> tuple[int, dict | None]:
        t0 = time.perf_counter()
        try:
            r, info = self._lx.lx_waitid(idtype, id, options)
        finally:
            self.busy += time.perf_counter() - t0
            self.calls += 1
        return r, info  # lx_waitid fills si_pid, si_code and si_status only

    def _file(self, pid: int) -> Any:
        f = self._as.get(pid)
        if f is None:
            import native_proc.client as npc

            f = self._as[pid] = npc.open(f"{pid}/as", os.O_RDWR)
        return f

    def mem_pread(self, pid: int, tid: int | None, count: int, offset: int) -> tuple[int, bytes]:
        t0 = time.perf_counter()
        try:
            data = self._file(pid).pread(count, offset)
        except OSError as e:
            return (-errno.ESRCH if e.errno == errno.ENOENT else _neg(e)), b""
        finally:
            self.busy += time.perf_counter() - t0
            self.calls += 1
        if count and not data:
            return -errno.EIO, b""  # Linux's mem file: nothing mapped at the offset
        return len(data), data

    def mem_pwrite(self, pid: int, tid: int | None, data: bytes, offset: int) -> int:
        t0 = time.perf_counter()
        try:
            return self._file(pid).pwrite(bytes(data), offset)
        except OSError as e:
            return -errno.ESRCH if e.errno == errno.ENOENT else _neg(e)
        finally:
            self.busy += time.perf_counter() - t0
            self.calls += 1

    def vm_readv(self, pid: int, local_sizes: list[int], remote: list[tuple[int, int]]
                 ) -> tuple[int, bytes]:
        total = sum(local_sizes)
        out = bytearray()
        for addr, n in remote:
            n = min(n, total - len(out))
            if n <= 0:
                break
            r, data = self.mem_pread(pid, None, n, addr)
            if r < 0:
                if not out:
                    return (-errno.EFAULT if r == -errno.EIO else r), b""
                break
            out += data
            if len(data) < n:
                break
        return len(out), bytes(out)

    def vm_writev(self, pid: int, chunks: list[bytes], remote: list[tuple[int, int]]) -> int:
        data = b"".join(chunks)
        done = 0
        for addr, n in remote:
            piece = data[done:done + n]
            if not piece:
                break
            r = self.mem_pwrite(pid, None, piece, addr)
            if r < 0:
                return (-errno.EFAULT if r == -errno.EIO else r) if not done else done
            done += r
            if r < len(piece):
                break
        return done


BACKENDS = {"host": HostBackend, "lx": LxBackend}


def get_backend(name: str) -> Backend:
    try:
        return BACKENDS[name]()
    except KeyError:
        raise ValueError(f"unknown backend {name!r} (choose from {', '.join(BACKENDS)})") from None
