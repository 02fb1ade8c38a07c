"""bsd_wait: BSD wait4 for a tracer, over native_proc's waits.

A traced process that is our child (PT_TRACE_ME, or PT_ATTACHed child) reports its stops through
native_proc's waitid (PR_PTRACE: CLD_TRAPPED to the parent), with its exit, as any child's.
BSD reparents an attached process to its tracer; native_proc cannot, so the stops of an attached
process that is not our child are taken from its ctl (PCWSTOP) and its exit from its zombie,
the way the seed's procfs "wait" verb waits.  Statuses are BSD's (FreeBSD signal numbers):
stopped `sig << 8 | 0177`, exited `code << 8`, killed `sig` (| 0200 core), continued 0x13.
Reporting a stop sets P_WAITED, which kern_ptrace requires of the requests that need a stop.
"""

from __future__ import annotations

import errno
import os
import select
import time

import native_proc.client as npc
from structs.bsd import stob
from structs.codec import codec
from structs.fields import memberof
from structs.procfs import LWPSTATUS, SIGINFO, SIGINFO_VIEWS
from structs.procfs_consts import PC, PR_WHY, SOLARIS_P, SOLARIS_W

from . import ptrace as P
from . import regs as R

__all__ = ["bsd_wait", "WNOHANG", "WUNTRACED", "WCONTINUED", "stop_status"]

WNOHANG, WUNTRACED, WCONTINUED = 1, 2, 4  # FreeBSD <sys/wait.h>
_CLD_EXITED, _CLD_KILLED, _CLD_DUMPED, _CLD_TRAPPED, _CLD_STOPPED, _CLD_CONTINUED = 1, 2, 3, 4, 5, 6
_BSD_SIGTRAP = 5
_SI = codec(SIGINFO["amd64"])
_CLD = codec(SIGINFO_VIEWS["amd64"]["cld"])
_FAULT = codec(SIGINFO_VIEWS["amd64"]["fault"])
_OFF_INFO = memberof(LWPSTATUS["amd64"], "pr_info")[0]
_LWPST = codec(LWPSTATUS["amd64"])
_SLICE = 0.05  # seconds between looks at attached non-children while children are waited for


def _bsd_sig(solaris: int) -> int:
    return stob(solaris)


def stop_status(t: P.Tracee) -> int:
    """The BSD wait status of a stopped tracee, from its lwpstatus; DR6 is set for a debug trap."""
    snap = t.event()
    why, what = P._WHY_WHAT.unpack_from(snap, P._OFF_WHY)
    sig = _bsd_sig(what) if why in (PR_WHY.PR_SIGNALLED, PR_WHY.PR_JOBCONTROL) else _BSD_SIGTRAP
    if sig == _BSD_SIGTRAP:
        info = _SI.decode(snap[_OFF_INFO:_OFF_INFO + _SI.size])
        dr6 = R.dr6_for(t.dr, info["si_code"], _FAULT.decode(info["__data"])["si_addr"])
        if dr6 is not None:
            t.dr[6] = dr6
    return (sig << 8) | 0x7F


def _exit_status(code: int, sstatus: int) -> int:
    if code == _CLD_EXITED:
        return (sstatus & 0xFF) << 8
    if code == _CLD_KILLED:
        return _bsd_sig(sstatus)
    if code == _CLD_DUMPED:
        return _bsd_sig(sstatus) | 0x80
    if code == _CLD_CONTINUED:
        return 0x13
    return (_bsd_sig(sstatus) << 8) | 0x7F


def _zombie_status(pid: int) -> int | None:
    """The BSD status of an exited process that is not ours, from its zombie (None: reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    if fields[0] not in (b"Z", b"X"):
        return None
    st = int(fields[-1])  # the Linux wait status
    if st & 0x7F:
        from structs.signals import ltos

        return _bsd_sig(ltos(st & 0x7F)) | (st & 0x80)
    return st & 0xFF00


def _gone(t: P.Tracee) -> tuple[int, int]:
    st = _zombie_status(t.pid)
    P.forget(t.pid)
    if st is None:
        raise ChildProcessError(errno.ECHILD, f"traced process {t.pid} exited and was reaped by its parent")
    return t.pid, st


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


def _look(t: P.Tracee) -> tuple[int, int] | None:
    """An attached non-child's news without blocking: a stop not yet taken, or its exit."""
    if not _alive(t.pid):
        return _gone(t)
    if not t.waited and not t.dying and t.stopped():
        t.waited = True
        return t.pid, stop_status(t)
    return None


def _block(t: P.Tracee, deadline: float | None) -> tuple[int, int]:
    """Wait for an attached non-child's next stop (PCWSTOP) or its exit."""
    while True:
        got = _look(t)
        if got is not None:
            return got
        left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        if t.waited or t.dying:
            # its stop has been taken, or it was killed: only its exit is news
            _wait_exit(t.pid, left)
        else:
            try:
                t.write_proc([(PC.PCWSTOP, None)], timeout=left)
            except FileNotFoundError:
                return _gone(t)
            except (TimeoutError, OSError) as e:
                if isinstance(e, TimeoutError) or getattr(e, "errno", None) is None:
                    raise TimeoutError(f"bsd_wait: no event from {t.pid} in {left:.1f} s") from None
                raise
        if deadline is not None and time.monotonic() >= deadline:
            got = _look(t)
            if got is not None:
                return got
            raise TimeoutError(f"bsd_wait: no event from {t.pid} before the deadline")


def _wait_exit(pid: int, timeout: float | None) -> None:
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


def _idtype(pid: int) -> tuple[int, int]:
    if pid > 0:
        return SOLARIS_P.P_PID, pid
    if pid == -1:
        return SOLARIS_P.P_ALL, 0
    if pid == 0:
        return SOLARIS_P.P_PGID, os.getpgid(0)
    return SOLARIS_P.P_PGID, -pid


def _children(pid: int, options: int, timeout: float | None) -> tuple[int, int]:
    opts = int(SOLARIS_W.WEXITED | SOLARIS_W.WTRAPPED)
    if options & WUNTRACED:
        opts |= int(SOLARIS_W.WSTOPPED)
    if options & WCONTINUED:
        opts |= int(SOLARIS_W.WCONTINUED)
    if options & WNOHANG:
        opts |= int(SOLARIS_W.WNOHANG)
    idtype, id_ = _idtype(pid)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        info = npc.waitid(idtype, id_, opts, timeout=left)
        if info is None:
            return 0, 0
        d = _SI.decode(info)
        c = _CLD.decode(d["__data"])
        who, code, sstatus = c["si_pid"], d["si_code"], c["pdata"]["si_status"]
        if code == _CLD_TRAPPED:
            t = P.tracee_of(who)
            if t is not None and t.dying:
                # PT_KILL was sent: a stop seen while its threads die is no news; its exit is
                continue
            if t is None:
                t = P.take(who, child=True, oppid=os.getpid())
            t.waited = True
            try:
                return who, stop_status(t)
            except OSError:
                return who, (_bsd_sig(sstatus) << 8) | 0x7F
        if code in (_CLD_EXITED, _CLD_KILLED, _CLD_DUMPED):
            P.forget(who)
        return who, _exit_status(code, sstatus)


def _has_children() -> bool:
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WSTOPPED | os.WCONTINUED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def bsd_wait(pid: int = -1, options: int = 0, timeout: float | None = None) -> tuple[int, int]:
    """wait4(pid, &status, options) for a BSD tracer: (pid, BSD status), or (0, 0) under WNOHANG
    when nothing is to report.  Raises ChildProcessError (ECHILD) when there is nothing to wait
    for, TimeoutError after `timeout` seconds (None: no limit), OSError(EINVAL) for bad options."""
    if options & ~(WNOHANG | WUNTRACED | WCONTINUED):
        raise OSError(errno.EINVAL, "bad wait options")
    deadline = None if timeout is None else time.monotonic() + timeout
    pgid = os.getpgid(0) if pid == 0 else -pid if pid < -1 else None
    others = [t for t in list(P._tracees.values()) if not t.child
              and (pid == -1 or t.pid == pid or (pgid is not None and _pgid(t.pid) == pgid))]
    for t in others:
        got = _look(t)
        if got is not None:
            return got
    if others and (pid > 0 or not _has_children()):
        if options & WNOHANG:
            return 0, 0
        if len(others) == 1:
            return _block(others[0], deadline)
        return _slices(others, pid, options | WNOHANG, deadline, children=False)
    if not others:
        return _children(pid, options, timeout)
    if options & WNOHANG:
        return _children(pid, options, None)
    return _slices(others, pid, options, deadline, children=True)


def _slices(others: list, pid: int, options: int, deadline: float | None, children: bool) -> tuple[int, int]:
    """Several sources at once (children and attached non-children): look at each in turn,
    children's native wait holding for a short slice."""
    while True:
        for t in list(others):
            got = _look(t)
            if got is not None:
                return got
        if children:
            try:
                got = _children(pid, options & ~WNOHANG, _SLICE)
                return got
            except TimeoutError:
                pass
        else:
            time.sleep(_SLICE)
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError("bsd_wait: nothing to report before the deadline")


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except OSError:
        return -1
