"""The guardian: disarms the debug registers of procd's targets when procd dies (ARCHITECTURE item 17).

When a tracer dies, Linux detaches its tracees but leaves their debug registers armed: the next
hit of a watched address raises a SIGTRAP nobody traces, and the process dies of it.  procd
therefore keeps a small guardian process, forked from procd when its loop starts (`Procd.run`),
that holds the read end of a pipe from procd.  While procd lives the guardian only reads what
procd tells it; when the pipe reaches EOF (procd exited or was killed, SIGKILL included) it
seizes (PTRACE_SEIZE) every thread of every pid procd last named, interrupts it, clears DR7
(POKEUSER at offsetof(struct user, u_debugreg[7]) = 848 + 7*8), detaches and exits.

Interface (the only thing procd's watchpoint code needs)::

    procd.guardian.armed(pids)      # from the engine: self.procd.guardian.armed({...})

`pids` is the complete set of pids that currently have debug-register (PCWATCH) areas armed in
any thread; call it whenever that set changes (an area armed in a process that had none, the
last area of a process cleared, a process released or exited).  Each call replaces the previous
set; calling it with an unchanged set costs nothing; it never raises (a guardian that died is
started again).  Before `start()` the set is only remembered and is sent when the guardian
starts.  On a clean procd exit the guardian acts on the last set too, so procd should report the
areas it cleared while releasing; disarming a process whose DR7 is already clear is harmless.

The guardian is not a controlled process (procd never names it in its tables), it closes every
descriptor it inherited except the pipe and stderr (so it holds no client connection, no
listening socket, no ready pipe, and never keeps an embedded procd or a caller's pipe alive),
and it ignores SIGINT/SIGHUP/SIGTERM: it lives exactly as long as procd, plus the disarming.

Pipe protocol: ASCII lines, each one the complete current set as space-separated decimal pids
(an empty line is the empty set); the guardian keeps the last complete line.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import sys
import time
from typing import Any, Iterable

from structs import ptrace_consts as T

from . import host, snapshot

__all__ = ["Guardian", "DR7_OFFSET", "disarm"]

DR7_OFFSET = 848 + 7 * 8  # offsetof(struct user, u_debugreg[7]) on x86-64
_WALL = 0x40000000
_SIGTRAP = 5
_TRAP_HWBKPT = 4
_SEIZE_PATIENCE = 3.0  # seconds: the dead tracer's exit detaches its tracees only after its files close


class Guardian:
    """procd's side of the guardian: the write end of the pipe and the guardian's pid."""

    def __init__(self) -> None:
        self.pids: frozenset[int] = frozenset()
        self.pid = 0
        self._w = -1
        # procd's shared status snapshots (snapshot.Publisher.mm, set by the engine): made
        # invalid first thing when procd is gone, so that no client trusts the last ones.
        self.snapshots: Any = None

    def start(self) -> None:
        """Fork the guardian (from procd, before or while serving)."""
        r, w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:  # the guardian
            code = 1
            try:
                _guard(r, self.snapshots)
                code = 0
            except BaseException:  # noqa: BLE001 - never return into procd's code
                try:
                    import traceback

                    traceback.print_exc()
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                os._exit(code)
        os.close(r)
        self.pid, self._w = pid, w
        if self.pids:
            self._send()

    def armed(self, pids: Iterable[int]) -> None:
        """The complete set of pids with armed debug-register areas (replaces the last one)."""
        new = frozenset(int(p) for p in pids)
        if new == self.pids:
            return
        self.pids = new
        if self._w >= 0:
            self._send()

    def _send(self) -> None:
        msg = (" ".join(str(p) for p in sorted(self.pids)) + "\n").encode()
        try:
            _write_all(self._w, msg)
        except OSError:
            # The guardian is gone (someone killed it): start a new one, which gets the set.
            self.close()
            try:
                self.start()
            except OSError as ex:
                print(f"procd: cannot restart the guardian: {ex}", file=sys.stderr)

    def stop(self, timeout: float = 1.0) -> None:
        """procd's clean exit: close the pipe, let the guardian disarm the last set, reap it.

        Bounded: a target procd could not release is seized by the guardian only once procd
        has exited, so procd does not wait for that (the guardian keeps trying meanwhile)."""
        self.close()
        pid, self.pid = self.pid, 0
        deadline = time.monotonic() + timeout
        while pid:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                return  # already reaped (procd's wait for its tracees took it)
            if done or time.monotonic() > deadline:
                return
            time.sleep(0.005)

    def close(self) -> None:
        """Drop procd's end of the pipe (the guardian then disarms the last set and exits)."""
        if self._w >= 0:
            try:
                os.close(self._w)
            except OSError:
                pass
            self._w = -1


def _write_all(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _guard(r: int, snapshots: Any = None) -> None:
    """The guardian's life: read sets until EOF, then invalidate procd's published snapshots
    and disarm the last set."""
    if r < 3:  # procd ran with a standard descriptor closed: keep the pipe clear of 0-2
        r2 = fcntl.fcntl(r, fcntl.F_DUPFD_CLOEXEC, 3)
        os.close(r)
        r = r2
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    # Every other inherited descriptor goes: client connections, the listener, the ready pipe,
    # procd's end of our own pipe (or we would never see EOF).
    os.closerange(3, r)
    os.closerange(r + 1, 1 << 16)
    pids: set[int] = set()
    buf = b""
    while True:
        try:
            data = os.read(r, 65536)
        except InterruptedError:
            continue
        if not data:
            break
        buf += data
        *lines, buf = buf.split(b"\n")
        if lines:
            pids = {int(x) for x in lines[-1].split()}
    if snapshots is not None:
        try:
            snapshot.invalidate_all(snapshots)
        except (ValueError, OSError) as ex:  # (a closed mapping: procd's clean exit closed it)
            print(f"procd guardian: snapshots: {ex}", file=sys.stderr)
    deadline = time.monotonic() + _SEIZE_PATIENCE
    for pid in sorted(pids):
        try:
            disarm(pid, deadline)
        except Exception as ex:  # noqa: BLE001 - one process must not spare the others
            print(f"procd guardian: pid {pid}: {ex}", file=sys.stderr)


def disarm(pid: int, deadline: float) -> None:
    """Seize every thread of `pid`, clear its DR7, and let it go (threads that vanish are skipped)."""
    done: set[int] = set()
    while True:
        try:
            tids = {int(t) for t in os.listdir(f"/proc/{pid}/task")}
        except OSError:
            return  # the process is gone
        todo = sorted(tids - done)
        if not todo:
            return
        for tid in todo:
            done.add(tid)
            _disarm_thread(tid, deadline)


def _disarm_thread(tid: int, deadline: float) -> None:
    while True:
        try:
            host.ptrace(T.PTRACE_SEIZE, tid, 0, 0)
            break
        except OSError as ex:
            if ex.errno == errno.ESRCH:
                return
            if ex.errno != errno.EPERM or time.monotonic() > deadline:
                raise
            # Still traced: the dead procd's exit detaches its tracees after its pipe closed.
            time.sleep(0.001)
    try:
        host.ptrace(T.PTRACE_INTERRUPT, tid, 0, 0)
        sig = 0
        while True:
            try:
                _, st = os.waitpid(tid, _WALL)
            except ChildProcessError:
                return
            if not os.WIFSTOPPED(st):
                return  # it exited
            event = st >> 16
            stopsig = os.WSTOPSIG(st)
            if event == 0 and stopsig != _SIGTRAP | 0x80:
                # A signal-delivery stop came before our interrupt: pass the signal on,
                # unless it is the debug trap we are here to prevent.
                if stopsig == _SIGTRAP and _si_code(tid) == _TRAP_HWBKPT:
                    stopsig = 0
                sig = stopsig
            break
        host.ptrace(T.PTRACE_POKEUSER, tid, DR7_OFFSET, 0)
        host.ptrace(T.PTRACE_DETACH, tid, 0, sig)
    except OSError as ex:
        if ex.errno != errno.ESRCH:
            raise


def _si_code(tid: int) -> int:
    buf = host.buffer(host.SIGINFO_SIZE)
    host.ptrace(T.PTRACE_GETSIGINFO, tid, 0, host.address(buf))
    return int.from_bytes(bytes(host.ffi.buffer(buf, host.SIGINFO_SIZE))[8:12], "little", signed=True)
