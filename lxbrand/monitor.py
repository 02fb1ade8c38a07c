"""The seed's monitor processes: how an attached process's stops reach the tracer's wait.

Linux reparents an attached tracee to its tracer for wait(2); Solaris cannot.  So ATTACH forks a
real monitor child that inherits the target's lwpctl descriptor and loops: block in PCWSTOP
until the target stops, then stop itself (SIGSTOP), which the tracer's wait sees as a child
stop; lxbrand's wait rewrites it into the target's (lx_ptrace_wait).  Resuming the target
continues the monitor.  When the target goes away the monitor exits with a code that carries the
target's fate (see `exit_code`); it dies with its tracer too (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import os
import signal

from native_proc import host
from native_proc.client import ProcFile
from structs.ctl import encode_ctl
from structs.procfs_consts import PC

_PR_SET_PDEATHSIG = 1
_PCWSTOP = encode_ctl("amd64", [(PC.PCWSTOP, None)])
# The monitor's exit code: 0..127 the target exited with that code, 128+n killed by signal n,
# UNKNOWN when the target's status could not be read before its parent reaped it, LOST when
# procd went away (the target was taken from its tracer: no exit of the target's at all).
UNKNOWN = 255
LOST = 254


def exit_code(pid: int) -> int:
    """The code a monitor exits with for a target that has just gone (its zombie's status)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        status = int(fields[-1])  # exit_code, the wait status of the zombie
    except (OSError, ValueError, IndexError):
        return UNKNOWN
    if status & 0x7F:
        return 128 + (status & 0x7F)
    return (status >> 8) & 0x7F


def target_status(code: int) -> int | None:
    """The Linux wait status of the target, from its monitor's exit code (None: unknown)."""
    if code in (UNKNOWN, LOST):
        return None
    if code >= 128:
        return code - 128
    return code << 8


def spawn(lwpctl: ProcFile, target: int) -> int:
    """Fork a monitor for `target` over the inherited `lwpctl`; returns the monitor's pid."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP})
    tracer = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            host.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != tracer:
                # The tracer died before the death signal was armed: nothing would ever kill
                # this monitor, and its copy of lwpctl would keep the target from the release
                # a tracer's death brings (the last close).
                os._exit(code)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            while True:
                try:
                    lwpctl.write(_PCWSTOP)
                except FileNotFoundError:
                    code = exit_code(target)
                    break
                except (OSError, RuntimeError):  # ProcdError, EPIPE, ECONNRESET: procd is gone
                    code = LOST
                    break
                os.kill(os.getpid(), signal.SIGSTOP)
        except BaseException:
            code = 1 if code == 1 else code
        finally:
            os._exit(code)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    return pid


def resume(monitor: int) -> None:
    """The target was set running: let its monitor wait for the next stop."""
    try:
        os.kill(monitor, signal.SIGCONT)
    except ProcessLookupError:
        pass


def dispose(monitor: int) -> None:
    """KILL/DETACH/exit: the monitor goes, and is reaped, so it never outlives its target."""
    try:
        os.kill(monitor, signal.SIGKILL)
        os.waitpid(monitor, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
