"""lx_wait4 / lx_waitpid / lx_waitid: Linux waits over native_proc.waitid.

A TRACEME child's /proc stops arrive as CLD_TRAPPED (PR_PTRACE) and become Linux stop statuses;
an attached process's stops arrive as its monitor's job-control stop and are rewritten into the
target's (the seed's lx_ptrace_wait); spurious monitor events are swallowed; ordinary children
are reported as Linux reports them.  A SIGTRAP stop also sets the tracee's shadow DR6.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

import native_proc.client as npc
from native_proc.wait import chld_fields
from structs.codec import codec
from structs.procfs import LWPSTATUS, SIGINFO, SIGINFO_VIEWS
from structs.procfs_consts import PR_WHY, SOLARIS_P, SOLARIS_W
from structs.ptrace_consts import PTRACE_EVENT
from structs.signals import ltos, stol

from . import debugregs, monitor
from . import ptrace as P
from . import regs as R

__all__ = ["lx_wait4", "lx_waitpid", "lx_waitid"]

WNOHANG, WUNTRACED, WCONTINUED = 1, 2, 8
_WNOTHREAD, _WALL, _WCLONE = 0x20000000, 0x40000000, 0x80000000
_VALID = WNOHANG | WUNTRACED | WCONTINUED | _WNOTHREAD | _WALL | _WCLONE
_CLD_EXITED, _CLD_KILLED, _CLD_DUMPED, _CLD_TRAPPED, _CLD_STOPPED, _CLD_CONTINUED = 1, 2, 3, 4, 5, 6
_SIGTRAP, _SIGSTOP, _SIGCONT = 5, 19, 18
_TRACESYSGOOD = 1
_SI = codec(SIGINFO["amd64"])
_CLD = codec(SIGINFO_VIEWS["amd64"]["cld"])
_FAULT = codec(SIGINFO_VIEWS["amd64"]["fault"])
_OFF_INFO = 16  # lwpstatus_t.pr_info
_LWPST = codec(LWPSTATUS["amd64"])
# Solaris waitid options as plain ints (flag-enum arithmetic costs microseconds per wait)
_S_WEXITED, _S_WTRAPPED, _S_WSTOPPED, _S_WCONTINUED, _S_WNOHANG = (
    int(SOLARIS_W.WEXITED), int(SOLARIS_W.WTRAPPED), int(SOLARIS_W.WSTOPPED), int(SOLARIS_W.WCONTINUED),
    int(SOLARIS_W.WNOHANG))


def _alive(pid: int) -> bool:
    """Whether the process still exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def _decode(info: bytes) -> tuple[int, int, int]:
    return chld_fields(info)  # (si_pid, si_code, si_status), at their offsets


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


_EVENT_STOP = PTRACE_EVENT.STOP << 16  # in the status: SIGTRAP | PTRACE_EVENT_STOP << 8, << 8
_INTERRUPT_STATUS = _EVENT_STOP | (_SIGTRAP << 8) | 0x7F  # 0x80057f
_FORKS = (PTRACE_EVENT.FORK, PTRACE_EVENT.VFORK, PTRACE_EVENT.CLONE)
_QUIET_GRACE = 0.5  # seconds a WNOHANG wait gives an exit it just let go on


def _stop_status(t: P.Tracee, snap: bytes) -> int:
    """The Linux stop status of a stopped tracee, from its lwpstatus (seed: lx_ptrace_wait)."""
    why, what = R.why_what(snap)
    if t.interrupt_at_wake and why != PR_WHY.PR_JOBCONTROL:
        # The group stop ended (SIGCONT's stop) while its end was to be notified: the
        # PTRACE_EVENT_STOP goes first, SIGCONT's stop is shown after the tracer resumes.
        t.interrupt_at_wake = False
        if (why, what) == (PR_WHY.PR_SIGNALLED, ltos(_SIGCONT)):
            t.synthetic = True
            return _INTERRUPT_STATUS
    if t.attach_stop:
        t.attach_stop = False
        if why == PR_WHY.PR_REQUESTED:
            # The attach (or auto-attach) stop: a SIGSTOP for ATTACH, PTRACE_EVENT_STOP for SEIZE.
            return _INTERRUPT_STATUS if t.seized else (_SIGSTOP << 8) | 0x7F
    if why == PR_WHY.PR_BRAND:
        return _event_status(t, snap, what)
    if why == PR_WHY.PR_JOBCONTROL:  # a group stop (seized: PTRACE_EVENT_STOP with its signal)
        return (stol(what) << 8) | 0x7F | (_EVENT_STOP if t.seized else 0)
    if why == PR_WHY.PR_REQUESTED and t.seized and not t.stepping:
        return _INTERRUPT_STATUS
    if why == PR_WHY.PR_SIGNALLED:
        sig = stol(what)
    else:
        sig = _SIGTRAP  # requested, syscall and exec stops
    if sig == _SIGTRAP:
        _set_dr6(t, snap)
        if (why in (PR_WHY.PR_SYSENTRY, PR_WHY.PR_SYSEXIT) and t.options & _TRACESYSGOOD
                and not P.is_exec_stop(snap, t.options, P._traceme_child(t))):
            sig |= 0x80  # PTRACE_O_TRACESYSGOOD: syscall stops report SIGTRAP|0x80
    return (sig << 8) | 0x7F


def _event_status(t: P.Tracee, snap: bytes, event: int) -> int:
    """An event stop (procd's PR_BRAND, pr_what = the Linux event, pr_rval1 = its message):
    SIGTRAP | event << 8.  A new process or thread becomes a tracee now, so its first stop is
    reported after its parent's event, as on Linux."""
    msg = _LWPST.decode(snap)["pr_rval1"] & ((1 << 64) - 1)
    t.eventmsg = msg
    if event in _FORKS:
        try:
            pid, _ = npc.tidmap(msg)
        except OSError:
            pid = msg
        P.adopt(t, msg, thread=pid == t.pid and msg != t.pid)
    elif event == PTRACE_EVENT.EXIT:
        t.exit_status = msg
    elif event == PTRACE_EVENT.EXEC and msg != t.tid:
        # A thread other than the leader exec'd: it carries on as the leader (this tracee) and
        # its former tid is gone without a report (Linux).
        former = P._tracees.get(msg)
        if former is not None and former is not t:
            if former.monitor:
                monitor.dispose(former.monitor)
                former.monitor = 0
            P.forget(msg)
        _kept[:] = [r for r in _kept if r.tid != msg]
    return ((_SIGTRAP | event << 8) << 8) | 0x7F


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


@dataclass
class _Report:
    """A report taken from native_proc (or a monitor) that this wait may not hand out yet."""

    tid: int
    status: int
    thread: bool  # a non-leader thread
    exit: bool  # an exit (or death) rather than a stop
    took: P.Tracee | None = None  # a signal-delivery stop of this tracee: PCXTAKEN when handed out


def _signal_stop(t: P.Tracee, snap: bytes, status: int) -> P.Tracee | None:
    """`t` when `status` (made from `snap`) reports its signal-delivery stop, else None: the
    stop whose signal a Linux wait takes from the tracee (see P.took)."""
    return t if not status >> 16 and R.why_what(snap)[0] == PR_WHY.PR_SIGNALLED else None


def _hand_out(r: _Report) -> tuple[int, int]:
    """The (pid, status) the wait returns for `r`; a signal-delivery stop is marked taken."""
    if r.took is not None:
        P.took(r.took)
    return r.tid, r.status


# Reports taken but not handed out: a thread group leader's exit while traced threads of it are
# still to be reported (Linux reports the leader last), a stop that came after a traced child
# had already died (its exit goes first), a report for another pid than the one waited for.
_kept: list[_Report] = []


def _threads_left(pid: int) -> bool:
    return any(t.thread and t.pid == pid for t in P._tracees.values()) or any(
        r.thread and r.exit and P._tracees.get(r.tid) is None and _leader_of(r) == pid for r in _kept)


def _leader_of(r: _Report) -> int:
    return _thread_group.get(r.tid, r.tid)


_group_exit: dict[int, int] = {}  # a process's exit status, while traced threads of it remain
_thread_group: dict[int, int] = {}  # a reported thread's tid -> its process, until it is handed out


def _ready(r: _Report, pid: int) -> bool:
    # Traced threads are always eligible (Linux >= 4.7: __WALL / __WCLONE are not needed).
    if not (pid <= 0 or pid == r.tid):
        return False
    return not (r.exit and not r.thread and _threads_left(r.tid))


def _take_kept(pid: int) -> tuple[int, int] | None:
    for t in list(P._tracees.values()):
        if t.rereport and (pid <= 0 or pid == t.tid):
            t.rereport = False
            try:
                snap = t.snapshot()
                status = _stop_status(t, snap)
            except OSError:
                continue
            return _hand_out(_Report(t.tid, status, t.thread, False, _signal_stop(t, snap, status)))
    for i, r in enumerate(_kept):
        if _ready(r, pid):
            del _kept[i]
            _thread_group.pop(r.tid, None)
            return _hand_out(r)
    return None


def _dead_child_first() -> bool:
    """A traced process (not thread) watched through a monitor has died: its exit, which its
    monitor is about to report, happened before anything reported now."""
    return any(t.monitor and not t.thread and not _alive(t.pid) for t in P._tracees.values())


def _wait(pid: int, options: int) -> tuple[int, int]:
    """(pid, Linux status); (0, 0) for WNOHANG with nothing; OSError otherwise."""
    if options & ~_VALID:
        raise OSError(errno.EINVAL, "bad wait options")
    kept = _take_kept(pid)
    if kept is not None:
        return kept
    cont = _continued_own_child(pid) if options & WCONTINUED else None
    if cont is not None:
        return cont
    idtype, id = _idtype(pid)
    sopts = _S_WEXITED | _S_WTRAPPED
    if options & WUNTRACED or any(t.monitor for t in P._tracees.values()):
        sopts |= _S_WSTOPPED
    if options & WCONTINUED:
        sopts |= _S_WCONTINUED
    if options & WNOHANG:
        sopts |= _S_WNOHANG
    while True:
        held = [t for t in P._tracees.values() if t.monitor and t.reported]
        for t in held:
            if not _alive(t.pid) or _stop_of(t) != t.reported_stop:
                # The target died, or stopped anew without a resume (SIGKILL at a stop reaches
                # the EXIT event), while its monitor sat stopped after reporting: let the
                # monitor look again (a new stop, or ENOENT and an exit with the status).
                t.reported = False
                monitor.resume(t.monitor)
        # A monitor held stopped cannot see its target die or stop anew: procd is asked to end
        # the wait when one of those does (watch), and the loop looks again.  Nothing polls.
        watch = ([(t.tid, *t.reported_stop) for t in held if t.reported and t.reported_stop]
                 if not options & WNOHANG else ())
        try:
            info = npc.waitid(idtype, id, int(sopts), watch=watch)
        except P.PROCD_LOST:
            P.procd_lost()  # the tracees are gone from us: only our real children are left
            return _host_wait(pid, options)
        if info is None and not options & WNOHANG:
            continue
        if info is None:
            kept = _take_kept(pid)
            if kept is not None:
                return kept
            # Already a zombie on the host, but its tracer (procd) reaps it first: Linux
            # would report it now, so give that hand-over a moment.
            info = _grace(idtype, id, sopts) if _dying(pid) else None
            if info is None:
                return 0, 0
        r = _report(*_decode(info), options)
        if r is _QUIET and options & WNOHANG:
            # The exit it let go on is a moment away: a WNOHANG wait would just miss it.
            info = _grace(idtype, id, sopts)
            if info is None:
                return 0, 0
            r = _report(*_decode(info), options)
        if r is None or r is _QUIET:
            continue
        if not r.exit and not r.status >> 16 and _dead_child_first() and pid <= 0:
            # A signal stop (its SIGCHLD, say) after a traced child died: the death came first.
            _kept.append(r)
            continue
        if _ready(r, pid):
            _thread_group.pop(r.tid, None)
            return _hand_out(r)
        _kept.append(r)
        kept = _take_kept(pid)
        if kept is not None:
            return kept


_QUIET = _Report(0, 0, False, False)  # an EXIT event taken quietly (P.quiet_exit)
_EXIT_EVENT = (int(PR_WHY.PR_BRAND), int(PTRACE_EVENT.EXIT))  # the stop (why, what) of one


def _host_wait(pid: int, options: int) -> tuple[int, int]:
    """The host's wait4 for our own children, once procd (and every tracee) is gone."""
    try:
        rpid, status, _ = os.wait4(pid, options)
    except ChildProcessError:
        raise OSError(errno.ECHILD, "no such child") from None
    return rpid, status


def _grace(idtype: int, id: int, sopts: int) -> bytes | None:
    """A WNOHANG wait's blocking look, at most _QUIET_GRACE long, for an event known to be a
    moment away; None if it did not come."""
    try:
        return npc.waitid(idtype, id, sopts & ~_S_WNOHANG, timeout=_QUIET_GRACE)
    except (TimeoutError, *P.PROCD_LOST):
        return None


def _dying(pid: int) -> bool:
    """A tracee the wait covers has died on the host but is not reported yet."""
    # (killed: PTRACE_KILLed, maybe still at its exit event, which procd lets go at once)
    return any(t.killed or not _alive(t.pid) for t in P._tracees.values() if pid <= 0 or t.tid == pid)


def _continued_own_child(pid: int) -> tuple[int, int] | None:
    """A SIGCONT that continued our own child, seized or attached (its wait otherwise goes
    to its monitor): the host keeps that for us, the parent."""
    t = P._tracees.get(pid)
    if t is None or not t.monitor:
        return None
    try:
        r = os.waitid(os.P_PID, pid, os.WCONTINUED | os.WNOHANG)
    except ChildProcessError:
        return None
    return (pid, 0xFFFF) if r is not None else None


def _stop_of(t: P.Tracee) -> tuple[int, int] | None:
    """procd's view of the tracee's stop (why, what); None when it is not stopped."""
    # Without the FP state: reading it is a host request, which fails with ESRCH once a
    # SIGKILL has woken the thread -- before procd has seen the host event -- and would be
    # taken for a new stop.
    try:
        return R.why_what(t.snapshot(fp=False))
    except OSError:
        return None


def _own_zombie(pid: int) -> bool:
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return False


def _report(rpid: int, code: int, sstatus: int, options: int) -> _Report | None:
    """What a native waitid result means to the Linux tracer, or None for nothing."""
    t = _by_monitor(rpid)
    if t is None:
        if code == _CLD_STOPPED and not options & WUNTRACED:
            return None  # only asked for because monitors exist
        status = _linux_status(code, sstatus)
        tr = P._tracees.get(rpid)
        if code == _CLD_TRAPPED:
            try:
                tr = P.tracee_of(rpid)
                snap = tr.snapshot(fp=False)
                if P.quiet_exit(tr, snap):
                    return _QUIET
                status = _stop_status(tr, snap)
            except OSError:
                return _Report(rpid, status, False, False)
            return _Report(rpid, status, False, False, _signal_stop(tr, snap, status))
        exited = code in (_CLD_EXITED, _CLD_KILLED, _CLD_DUMPED)
        if exited and tr is not None:
            if tr.monitor:  # our own child, also seized: reported once, here
                monitor.dispose(tr.monitor)
                tr.monitor = 0
            P.forget(rpid)
        if exited and any(x.thread and x.pid == rpid for x in P._tracees.values()):
            _group_exit[rpid] = status  # what its traced threads' exits will report
        return _Report(rpid, status, False, exited)
    # A monitor's event is its target's (lx_ptrace_wait).
    if code == _CLD_STOPPED:
        try:
            snap = t.snapshot(fp=False)
        except OSError:
            monitor.resume(t.monitor)  # spurious: the target is not stopped
            return None

        t.reported = True
        t.reported_stop = R.why_what(snap)
        if t.killed and t.reported_stop != _EXIT_EVENT:
            # After PTRACE_KILL Linux reports nothing but the EXIT event and the death: this
            # is the stop the SIGKILL woke it from, not yet moved on in procd's view.  The
            # monitor stays held until it does (the wait's watch), then sees the exit.
            return None
        if P.quiet_exit(t, snap):
            return _QUIET
        status = _stop_status(t, snap)
        return _Report(t.tid, status, t.thread, False, _signal_stop(t, snap, status))
    if code == _CLD_EXITED and sstatus == monitor.LOST:
        # procd went away under the monitor: the target was taken from us, it did not exit.
        t.monitor = 0
        P.forget(t.tid)
        return None
    if code in (_CLD_EXITED, _CLD_KILLED, _CLD_DUMPED):
        status = monitor.target_status(sstatus if code == _CLD_EXITED else 255)
        if not t.thread and _own_zombie(t.pid):
            # Seized or attached, but also our child: reaped here, so that it is reported once.
            t.monitor = 0
            P.forget(t.tid)
            _, status = os.waitpid(t.pid, os.WNOHANG)
            return _Report(t.tid, status, False, True)
        if t.thread:
            # Linux reports a thread's own exit code, or the group's once the group has exited
            # (wait_task_zombie); a thread leaves no zombie to read, its EXIT event told.
            lead = P._tracees.get(t.pid)
            group = _group_exit.get(t.pid)
            if group is None and lead is not None:
                group = lead.exit_status
            if group is None and not _alive(t.pid):
                group = monitor.target_status(monitor.exit_code(t.pid))
            status = group if group is not None else t.exit_status
            _thread_group[t.tid] = t.pid
        elif status is None:
            status = t.exit_status
        t.monitor = 0
        P.forget(t.tid)
        if not any(x.thread and x.pid == t.pid for x in P._tracees.values()):
            _group_exit.pop(t.pid, None)
        return _Report(t.tid, status if status is not None else 0, t.thread, True)
    return None  # continued monitors and the like are nobody's business


def lx_wait4(pid: int, options: int = 0) -> tuple[int, int]:
    """Linux wait4: (pid, status), (0, 0) for WNOHANG with nothing to report, or (-errno, 0).

    A blocking wait ends with (-EINTR, 0) when a signal handler of the caller ran while it
    waited, as the raw system call does (lx promises the raw call's answer, so Python's PEP 475
    retry is not applied; the handler has run by the time this returns).  Exception: a handler
    installed with SA_RESTART, which the kernel's wait4 would restart, also gives EINTR here."""
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
