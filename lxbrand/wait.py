"""lx_wait4 / lx_waitpid / lx_waitid: Linux waits over native_proc.waitid.

A TRACEME child's /proc stops arrive as CLD_TRAPPED (PR_PTRACE) and become Linux stop statuses;
an attached process's stops arrive as its monitor's job-control stop and are rewritten into the
target's (the seed's lx_ptrace_wait); spurious monitor events are swallowed; ordinary children
are reported as Linux reports them.  A SIGTRAP stop also sets the tracee's shadow DR6.
"""

from __future__ import annotations

import errno
import os

import native_proc.client as npc
from structs.codec import codec
from structs.procfs import SIGINFO, SIGINFO_VIEWS
from structs.procfs_consts import PR_WHY, SOLARIS_P, SOLARIS_W
from structs.signals import stol

from . import debugregs, monitor
from . import ptrace as P
from . import regs as R

__all__ = ["lx_wait4", "lx_waitpid", "lx_waitid"]

WNOHANG, WUNTRACED, WCONTINUED = 1, 2, 8
_WNOTHREAD, _WALL, _WCLONE = 0x20000000, 0x40000000, 0x80000000
_VALID = WNOHANG | WUNTRACED | WCONTINUED | _WNOTHREAD | _WALL | _WCLONE
_CLD_EXITED, _CLD_KILLED, _CLD_DUMPED, _CLD_TRAPPED, _CLD_STOPPED, _CLD_CONTINUED = 1, 2, 3, 4, 5, 6
_SIGTRAP, _SIGSTOP = 5, 19
_TRACESYSGOOD = 1
_SI = codec(SIGINFO["amd64"])
_CLD = codec(SIGINFO_VIEWS["amd64"]["cld"])
_FAULT = codec(SIGINFO_VIEWS["amd64"]["fault"])
_OFF_INFO = 16  # lwpstatus_t.pr_info
_SLICE = 0.05


def _alive(pid: int) -> bool:
    """Whether the process still exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def _decode(info: bytes) -> tuple[int, int, int]:
    d = _SI.decode(info)
    c = _CLD.decode(d["__data"])
    return c["si_pid"], d["si_code"], c["pdata"]["si_status"]


def _linux_status(code: int, sstatus: int) -> int:
    if code == _CLD_EXITED:
        return (sstatus & 0xFF) << 8
    if code == _CLD_KILLED:
        return stol(sstatus)
    if code == _CLD_DUMPED:
        return stol(sstatus) | 0x80
    if code == _CLD_CONTINUED:
        return 0xFFFF
    return (stol(sstatus) << 8) | 0x7F  # CLD_TRAPPED, CLD_STOPPED


def _stop_status(t: P.Tracee, snap: bytes) -> int:
    """The Linux stop status of a stopped tracee, from its lwpstatus (seed: lx_ptrace_wait)."""
    why, what = R.why_what(snap)
    if t.attach_stop:
        t.attach_stop = False
        if why == PR_WHY.PR_REQUESTED:
            return (_SIGSTOP << 8) | 0x7F  # Linux reports the attach stop as SIGSTOP
    if why == PR_WHY.PR_SIGNALLED:
        sig = stol(what)
    else:
        sig = _SIGTRAP  # requested, syscall and exec stops
    if sig == _SIGTRAP:
        _set_dr6(t, snap)
        if (why in (PR_WHY.PR_SYSENTRY, PR_WHY.PR_SYSEXIT) and t.options & _TRACESYSGOOD
                and not P.is_exec_stop(snap)):
            sig |= 0x80  # PTRACE_O_TRACESYSGOOD: syscall stops report SIGTRAP|0x80
    return (sig << 8) | 0x7F


def _set_dr6(t: P.Tracee, snap: bytes) -> None:
    info = _SI.decode(snap[_OFF_INFO:_OFF_INFO + _SI.size])
    addr = _FAULT.decode(info["__data"])["si_addr"]
    dr6 = debugregs.dr6_for(t.dr, info["si_code"], addr, t.stepping)
    if dr6 is not None:
        t.dr[6] = dr6


def _idtype(pid: int) -> tuple[int, int]:
    if pid > 0:
        t = P._tracees.get(pid)
        if t is not None and t.monitor:
            return SOLARIS_P.P_PID, t.monitor
        return SOLARIS_P.P_PID, pid
    if pid == -1:
        return SOLARIS_P.P_ALL, 0
    if pid == 0:
        return SOLARIS_P.P_PGID, os.getpgid(0)
    return SOLARIS_P.P_PGID, -pid


def _by_monitor(mpid: int) -> P.Tracee | None:
    return next((t for t in P._tracees.values() if t.monitor == mpid), None)


def _wait(pid: int, options: int) -> tuple[int, int]:
    """(pid, Linux status); (0, 0) for WNOHANG with nothing; OSError otherwise."""
    if options & ~_VALID:
        raise OSError(errno.EINVAL, "bad wait options")
    idtype, id = _idtype(pid)
    sopts = SOLARIS_W.WEXITED | SOLARIS_W.WTRAPPED
    if options & WUNTRACED or any(t.monitor for t in P._tracees.values()):
        sopts |= SOLARIS_W.WSTOPPED
    if options & WCONTINUED:
        sopts |= SOLARIS_W.WCONTINUED
    if options & WNOHANG:
        sopts |= SOLARIS_W.WNOHANG
    while True:
        held = [t for t in P._tracees.values() if t.monitor and t.reported]
        for t in held:
            if not _alive(t.pid):
                # The target died while its monitor sat stopped after reporting: let the
                # monitor see it (PCWSTOP -> ENOENT) so its exit carries the target's status.
                t.reported = False
                monitor.resume(t.monitor)
        try:
            # With a monitor held stopped, wait in slices so such a death is noticed.
            info = npc.waitid(idtype, id, int(sopts), timeout=_SLICE if held and not options & WNOHANG else None)
        except TimeoutError:
            continue
        if info is None:
            return 0, 0
        rpid, code, sstatus = _decode(info)
        t = _by_monitor(rpid)
        if t is None:
            if code == _CLD_STOPPED and not options & WUNTRACED:
                continue  # only asked for because monitors exist
            status = _linux_status(code, sstatus)
            tr = P._tracees.get(rpid)
            if code == _CLD_TRAPPED:
                try:
                    tr = P.tracee_of(rpid)
                    status = _stop_status(tr, tr.snapshot())
                except OSError:
                    pass
            elif code in (_CLD_EXITED, _CLD_KILLED, _CLD_DUMPED) and tr is not None:
                P.forget(rpid)
            return rpid, status
        # A monitor's event is its target's (lx_ptrace_wait).
        if code == _CLD_STOPPED:
            try:
                snap = t.snapshot()
            except OSError:
                monitor.resume(t.monitor)  # spurious: the target is not stopped
                continue
            t.reported = True
            return t.tid, _stop_status(t, snap)
        if code in (_CLD_EXITED, _CLD_KILLED, _CLD_DUMPED):
            status = monitor.target_status(sstatus if code == _CLD_EXITED else 255)
            tid = t.tid
            t.monitor = 0
            P.forget(tid)
            return tid, status if status is not None else 0
        continue  # continued monitors and the like are nobody's business


def lx_wait4(pid: int, options: int = 0) -> tuple[int, int]:
    """Linux wait4: (pid, status), (0, 0) for WNOHANG with nothing to report, or (-errno, 0)."""
    try:
        return _wait(pid, options)
    except OSError as e:
        return -(e.errno or errno.EINVAL), 0


def lx_waitpid(pid: int, options: int = 0) -> tuple[int, int]:
    """Linux waitpid: the same as lx_wait4 without resource usage."""
    return lx_wait4(pid, options)


def lx_waitid(idtype: int, id: int, options: int) -> tuple[int, dict | None]:
    """Linux waitid (P_ALL 0, P_PID 1, P_PGID 2; WEXITED 4, WSTOPPED 2, WNOHANG 1 ...): returns
    (0, {si_pid, si_code, si_status}) or (0, None) for WNOHANG with nothing, or (-errno, None)."""
    if idtype not in (0, 1, 2) or not options & (4 | 2 | 8):
        return -errno.EINVAL, None
    pid = {0: -1, 1: id, 2: -id if id else 0}[idtype]
    wopts = (WNOHANG if options & 1 else 0) | (WUNTRACED if options & 2 else 0) | (options & 0xE0000000)
    try:
        rpid, status = _wait(pid, wopts)
    except OSError as e:
        return -(e.errno or errno.EINVAL), None
    if rpid == 0:
        return 0, None
    if os.WIFEXITED(status):
        return 0, {"si_pid": rpid, "si_code": _CLD_EXITED, "si_status": os.WEXITSTATUS(status)}
    if os.WIFSIGNALED(status):
        code = _CLD_DUMPED if status & 0x80 else _CLD_KILLED
        return 0, {"si_pid": rpid, "si_code": code, "si_status": os.WTERMSIG(status)}
    return 0, {"si_pid": rpid, "si_code": _CLD_TRAPPED, "si_status": os.WSTOPSIG(status)}
