"""The two sides of a conformance comparison, behind one interface.

`HostBackend` is the reference: the kernel's own ptrace(2) and waits through `native_proc.host`.
`LxBackend` is what is judged: `lx_ptrace` and the lxbrand waits.  Both return the same Python
shapes:

  ptrace(req, pid, addr, data) -> the raw system call's result (0, ...) or -errno; PEEK* store the
                                  word at `data` (an int address or a writable buffer)
  wait4(pid, options)          -> (pid, status), (0, 0) for WNOHANG with nothing, or (-errno, 0)
  waitid(idtype, id, options)  -> (0, {si_pid, si_code, si_status}), (0, None), or (-errno, None)
  kill(pid, sig) / tgkill(tgid, tid, sig) -> 0 or -errno
  read_memory(tid, addr, size) -> the bytes read through the process or thread id `tid` (the
                                  host's /proc/TID/mem, lx's TID/as file), or -errno
  spawn_traceme(argv)          -> pid of a child that did PTRACE_TRACEME through this backend and
                                  exec'ed argv, after this backend's wait saw its first stop
                                  (`last_spawn_status` holds that wait's status)
  spawn_plain(argv, settle=True) -> pid of an untraced child running argv, once it is asleep
                                  (settle=False: at once, e.g. for a child that stops itself)
  adopt(pid)                   -> have cleanup() kill and reap a pid/tid the scenario learned
                                  (auto-attached children, traced threads: ours to wait for);
                                  disown(pid) once a wait has reaped it

Targets are started with ASLR off and a fixed environment so that addresses agree between the
two runs.  `cleanup()` kills and reaps everything a backend started or adopted.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from typing import Any

from native_proc import host

__all__ = ["Backend", "HostBackend", "LxBackend", "ADDR_NO_RANDOMIZE", "TARGET_ENV"]

ADDR_NO_RANDOMIZE = 0x0040000
TARGET_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}
_TRACEME = 0
_WNOHANG = 1
_WALL = 0x40000000


def _err(e: OSError) -> int:
    return -(e.errno or errno.EIO)


class Backend:
    """What a scenario drives.  Subclasses provide the ptrace/wait primitives."""

    name = "?"

    def __init__(self) -> None:
        self.children: list[int] = []
        self.adopted: list[int] = []
        self.last_spawn_status: int | None = None
        self.obs: Any = None  # the Obs log of the run in progress (set by the runner)

    # -- primitives ------------------------------------------------------------------------------
    def ptrace(self, req: int, pid: int, addr: Any = 0, data: Any = 0) -> int:
        raise NotImplementedError

    def wait4(self, pid: int, options: int = 0) -> tuple[int, int]:
        raise NotImplementedError

    def waitid(self, idtype: int, id: int, options: int) -> tuple[int, dict | None]:
        raise NotImplementedError

    def kill(self, pid: int, sig: int) -> int:
        try:
            host.kill(pid, sig)
            return 0
        except OSError as e:
            return _err(e)

    def tgkill(self, tgid: int, tid: int, sig: int) -> int:
        try:
            host.tgkill(tgid, tid, sig)
            return 0
        except OSError as e:
            return _err(e)

    def read_memory(self, tid: int, addr: int, size: int) -> bytes | int:
        raise NotImplementedError

    # -- conveniences built on the primitives ----------------------------------------------------
    def peek(self, req: int, pid: int, addr: int) -> tuple[int, int | None]:
        """(result, word): the word a PEEK* stored (unsigned), None when it failed."""
        buf = bytearray(8)
        r = self.ptrace(req, pid, addr, buf)
        return r, (int.from_bytes(buf, "little") if r == 0 else None)

    # -- starting targets ------------------------------------------------------------------------
    def _before_fork(self) -> None:
        pass

    def _child_traceme(self) -> int:
        raise NotImplementedError

    def spawn_traceme(self, argv: list[str]) -> int:
        self._before_fork()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            code = 127
            try:
                host.personality(ADDR_NO_RANDOMIZE)
                if self._child_traceme() != 0:
                    code = 100
                else:
                    os.execve(argv[0], argv, TARGET_ENV)
            finally:
                os._exit(code)
        self.children.append(pid)
        ret, status = self.wait4(pid, 0)
        self.last_spawn_status = status if ret == pid else None
        return pid

    def spawn_plain(self, argv: list[str], timeout: float = 5.0, settle: bool = True) -> int:
        self._before_fork()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                host.personality(ADDR_NO_RANDOMIZE)
                os.execve(argv[0], argv, TARGET_ENV)
            finally:
                os._exit(127)
        self.children.append(pid)
        if settle:
            _await_sleep(pid, argv[0], timeout)
        return pid

    def adopt(self, pid: int) -> None:
        """Kill and reap `pid` at cleanup too (once; the backend's own children already are)."""
        if pid > 0 and pid not in self.children and pid not in self.adopted and pid != os.getpid():
            self.adopted.append(pid)

    def disown(self, pid: int) -> None:
        """`pid` was reaped: cleanup must not signal it (the number may be reused)."""
        if pid in self.adopted:
            self.adopted.remove(pid)

    def run_in_child(self, fn: Any) -> tuple[int, Any]:
        """Fork; the child runs fn(self) and sends back its (repr-able) result; returns (pid, result).
        The child exits 0 afterwards; the caller waits for it through this backend."""
        self._before_fork()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                os.close(r)
                os.write(w, repr(fn(self)).encode())
            finally:
                os._exit(0)
        os.close(w)
        self.children.append(pid)
        data = b""
        while chunk := os.read(r, 4096):
            data += chunk
        os.close(r)
        import ast

        return pid, ast.literal_eval(data.decode()) if data else None

    def cleanup(self) -> None:
        """Kill and reap every process this backend started or adopted (bounded in time).
        Adopted pids (traced threads, auto-attached children) go first: a thread-group leader
        is reported only once its traced threads have been reaped."""
        for pid in self.adopted:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in self.adopted:
            self._reap_adopted(pid)
        self.adopted.clear()
        for pid in self.children:
            self._reap(pid)
        self.children.clear()

    def _reap_adopted(self, pid: int) -> None:
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            ret, status = self.wait4(pid, _WNOHANG | _WALL)
            if ret < 0 or (ret == pid and (os.WIFEXITED(status) or os.WIFSIGNALED(status))):
                break
            if ret == pid or ret == 0:  # stopped on the way out (an event stop): let it die
                self.ptrace(7, pid, 0, 0)
            if ret == 0:
                time.sleep(0.005)

    def _reap(self, pid: int) -> None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            ret, status = self.wait4(pid, _WNOHANG)
            if ret < 0 or (ret == pid and (os.WIFEXITED(status) or os.WIFSIGNALED(status))):
                break
            if ret == pid or ret == 0:  # stopped on the way out (PTRACE_EVENT_EXIT): let it die
                self.ptrace(7, pid, 0, 0)
            if ret == 0:
                time.sleep(0.005)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _await_sleep(pid: int, exe: str, timeout: float) -> None:
    """Wait until `pid` runs `exe` and sleeps (state S): an attach target at a quiet point."""
    deadline = time.monotonic() + timeout
    real = os.path.realpath(exe)
    while time.monotonic() < deadline:
        try:
            if os.readlink(f"/proc/{pid}/exe") == real:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
                if state == b"S":
                    return
        except OSError:
            pass
        time.sleep(0.002)
    raise TimeoutError(f"{exe} (pid {pid}) did not settle within {timeout} s")


class HostBackend(Backend):
    """The reference: the host kernel's ptrace(2) and waits."""

    name = "host"

    def ptrace(self, req: int, pid: int, addr: Any = 0, data: Any = 0) -> int:
        try:
            return host.ptrace(req, pid, addr, data)
        except OSError as e:
            return _err(e)

    def wait4(self, pid: int, options: int = 0) -> tuple[int, int]:
        try:
            return host.wait4(pid, options)
        except OSError as e:
            return _err(e), 0

    def waitid(self, idtype: int, id: int, options: int) -> tuple[int, dict | None]:
        try:
            r = host.waitid(idtype, id, options)
        except OSError as e:
            return _err(e), None
        if r is None:
            return 0, None
        return 0, {"si_pid": r.si_pid, "si_code": r.si_code, "si_status": r.si_status}

    def read_memory(self, tid: int, addr: int, size: int) -> bytes | int:
        try:
            fd = os.open(f"/proc/{tid}/mem", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            return _err(e)
        try:
            return os.pread(fd, size, addr)
        except OSError as e:
            return _err(e)
        finally:
            os.close(fd)

    def _child_traceme(self) -> int:
        try:
            return host.ptrace(_TRACEME, 0)
        except OSError as e:
            return _err(e)


class LxBackend(Backend):
    """What is judged: lx_ptrace and the lxbrand waits."""

    name = "lx"

    def __init__(self) -> None:
        super().__init__()
        import lxbrand

        self._lx = lxbrand

    def ptrace(self, req: int, pid: int, addr: Any = 0, data: Any = 0) -> int:
        return self._lx.lx_ptrace(req, pid, addr, data)

    def wait4(self, pid: int, options: int = 0) -> tuple[int, int]:
        return self._lx.lx_wait4(pid, options)

    def waitid(self, idtype: int, id: int, options: int) -> tuple[int, dict | None]:
        r, info = self._lx.lx_waitid(idtype, id, options)
        if info is not None:
            info = {k: info[k] for k in ("si_pid", "si_code", "si_status")}
        return r, info

    def read_memory(self, tid: int, addr: int, size: int) -> bytes | int:
        import native_proc.client as npc

        try:
            with npc.open(f"{tid}/as") as f:
                return f.pread(size, addr)
        except OSError as e:
            return _err(e)

    def _before_fork(self) -> None:
        self._lx.ensure_procd()

    def _child_traceme(self) -> int:
        return self._lx.lx_ptrace(_TRACEME, 0)

    def _reap(self, pid: int) -> None:
        super()._reap(pid)
        from lxbrand import ptrace as P

        P.forget(pid)  # nothing of a dead target may outlive the scenario

    def _reap_adopted(self, pid: int) -> None:
        super()._reap_adopted(pid)
        from lxbrand import ptrace as P

        P.forget(pid)
