"""What each control message does (solaris-proc-control.md §2), one handler per code.

A handler gets the engine, the open file, the process and the LWP the message addresses (None
for a process-level ctl file) and the decoded operand.  It raises OSError with the Solaris
errno, or returns a `Wait` when the message blocks (PCSTOP, PCWSTOP, PCTWSTOP).
"""

from __future__ import annotations

import errno
import os
import time
from typing import Any, Callable

from structs.procfs_consts import PC, PCRUN_VALID, PCSET_MODES, PCX, PCX_EVENT_VALID, PR_WHY
from structs.procfs_consts import PCRUN_FLAGS as RF
from structs.signals import SOLARIS_NSIG, STOL

from . import gregs, procinfo, status, tracing, watch
from .lwp import HostStop, Lwp, Proc

_SIGKILL_S = 9
_LP64 = 2  # PR_MODEL_LP64
# Plain ints: flag-enum arithmetic costs microseconds on the per-stop path.
_PRCSIG, _PRCFAULT, _PRSTEP = int(RF.PRCSIG), int(RF.PRCFAULT), int(RF.PRSTEP)
_PRSABORT, _PRSTOP = int(RF.PRSABORT), int(RF.PRSTOP)
_PCRUN_VALID, _PCSET_MODES = int(PCRUN_VALID), int(PCSET_MODES)
_ALL_SIGS = (1 << (SOLARIS_NSIG - 1)) - 1
_EVENT_SECCOMP = 7  # pr_what of a PR_BRAND stop for Linux's PTRACE_EVENT_SECCOMP


def _lwps(proc: Proc, lwp: Lwp | None) -> list[Lwp]:
    return [lwp] if lwp is not None else list(proc.lwps.values())


def _one(proc: Proc, lwp: Lwp | None) -> Lwp:
    """The LWP a message addresses: that of lwpctl, or the representative LWP for ctl."""
    if lwp is not None:
        return lwp
    rep = status.representative(proc)
    if rep is None:
        raise OSError(errno.ENOENT, "no lwps")
    return rep


def _self(of: Any, proc: Proc) -> bool:
    return of.opener == proc.pid


def pcnull(e: Any, of: Any, proc: Proc, lwp: Lwp | None, op: Any) -> None:
    return None


def pcdstop(e: Any, of: Any, proc: Proc, lwp: Lwp | None, op: Any) -> None:
    e.seize(proc)
    for l in _lwps(proc, lwp):
        e.direct_stop(l)
    return None


def pcstop(e: Any, of: Any, proc: Proc, lwp: Lwp | None, op: Any):
    pcdstop(e, of, proc, lwp, op)
    if _self(of, proc):
        return None  # directing one's own stop never waits
    return _wait(e, of, proc, lwp, None)


def _wait(e: Any, of: Any, proc: Proc, lwp: Lwp | None, deadline: float | None):
    if _self(of, proc):
        raise OSError(errno.EBUSY, "waiting on oneself")
    from .engine import Wait

    return Wait(proc, lwp, deadline)


def pcwstop(e: Any, of: Any, proc: Proc, lwp: Lwp | None, op: Any):
    return _wait(e, of, proc, lwp, None)


def pctwstop(e: Any, of: Any, proc: Proc, lwp: Lwp | None, timeout_ms: int):
    deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms > 0 else None
    return _wait(e, of, proc, lwp, deadline)


def pcrun(e: Any, of: Any, proc: Proc, lwp: Lwp | None, flags: int) -> None:
    target = _one(proc, lwp)
    if not (target.istop or target.dstop):
        raise OSError(errno.EBUSY, "not stopped")
    if flags & ~_PCRUN_VALID:
        raise OSError(errno.EINVAL, "unknown PCRUN flags")
    if flags & _PRCSIG and target.cursig != _SIGKILL_S:
        target.cursig, target.curinfo = 0, b""
        target.deferred_sig = 0
        target.taken = False
    if flags & _PRCFAULT:
        target.curfault, target.faultinfo = 0, b""
    if flags & _PRSTEP:
        target.step = True
    if flags & _PRSABORT:
        target.abort = True
    single = lwp is not None or flags & (_PRSTEP | _PRSTOP)
    if single:
        _run_one(e, target, bool(flags & _PRSTOP))
        return None
    # Whole process: the representative's event is consumed; if another LWP still shows an
    # event of interest the process stays stopped showing it, else everything runs.
    if target.istop and target.why != PR_WHY.PR_REQUESTED:
        target.why, target.what = PR_WHY.PR_REQUESTED, 0
    nxt = status.representative(proc)
    if nxt is not None and nxt.istop and nxt.why != PR_WHY.PR_REQUESTED:
        e.wake(proc)
        return None
    for l in list(proc.lwps.values()):
        if l.istop or l.dstop:
            e.run_lwp(l)
    return None


def _run_one(e: Any, lwp: Lwp, stop_again: bool) -> None:
    if lwp.istop:
        if stop_again and lwp.hstop is not None:
            # PRSTOP: the host trap is armed before the LWP runs, so it stops again before it
            # executes anything (a directive sent after the resume could come too late).
            try:
                tracing.interrupt(lwp.tid)
            except OSError:
                pass
            e.run_lwp(lwp)
            lwp.dstop = True
            e.dirty.add(lwp)
            return
        e.run_lwp(lwp)
    else:
        lwp.dstop = False  # merely directed: the directive is cancelled
    if stop_again:
        e.direct_stop(lwp)


def pccsig(e: Any, of: Any, proc: Proc, lwp: Lwp | None, op: Any) -> None:
    t = _one(proc, lwp)
    if t.cursig == _SIGKILL_S:
        raise OSError(errno.EBUSY, "current signal is SIGKILL")
    t.cursig, t.curinfo, t.deferred_sig = 0, b"", 0
    t.taken = False
    return None


def pccfault(e: Any, of: Any, proc: Proc, lwp: Lwp | None, op: Any) -> None:
    t = _one(proc, lwp)
    t.curfault, t.faultinfo = 0, b""
    return None


def pcssig(e: Any, of: Any, proc: Proc, lwp: Lwp | None, info: dict) -> None:
    sig = info["si_signo"]
    if sig < 0 or sig >= SOLARIS_NSIG:
        raise OSError(errno.EINVAL, "bad signal")
    if sig and not STOL[sig]:
        raise OSError(errno.EINVAL, "a Solaris-only signal cannot reach a Linux process")
    t = _one(proc, lwp)
    if t.cursig == _SIGKILL_S:
        raise OSError(errno.EBUSY, "current signal is SIGKILL")
    from structs.codec import codec
    from structs.procfs import SIGINFO

    t.cursig = sig
    raw = codec(SIGINFO[of.model]).encode(info)
    t.curinfo = (raw if of.model == "amd64" else status.widen_siginfo(raw)) if sig else b""
    t.info_set = bool(sig)
    if sig == _SIGKILL_S:
        os.kill(proc.pid, 9)
    return None


def pckill(e: Any, of: Any, proc: Proc, lwp: Lwp | None, sig: int) -> None:
    if sig <= 0 or sig >= SOLARIS_NSIG:
        raise OSError(errno.EINVAL, "bad signal")
    hsig = STOL[sig]
    if not hsig:
        raise OSError(errno.EINVAL, "a Solaris-only signal cannot reach a Linux process")
    if lwp is not None:
        tracing.tgkill(proc.pid, lwp.tid, hsig)
    else:
        os.kill(proc.pid, hsig)
    return None


def pcunkill(e: Any, of: Any, proc: Proc, lwp: Lwp | None, sig: int) -> None:
    if sig <= 0 or sig >= SOLARIS_NSIG or sig == _SIGKILL_S:
        raise OSError(errno.EINVAL, "bad signal")
    hsig = STOL[sig]
    if not hsig:
        return None  # a Solaris-only signal is never pending in a Linux process
    # Linux cannot dequeue another process's signal (ARCHITECTURE item 16).  A pending one is
    # discarded instead when it is delivered: every delivery passes procd while it is seized.
    e.seize(proc)
    t = lwp or _one(proc, None)
    sets = procinfo.sigsets(proc.pid, t.tid)
    bit = 1 << (sig - 1)
    if lwp is not None and int.from_bytes(sets["lwppend"], "little") & bit:
        lwp.unkill.add(hsig)
    elif lwp is None and int.from_bytes(sets["procpend"], "little") & bit:
        proc.unkill.add(hsig)
    return None


def pcshold(e: Any, of: Any, proc: Proc, lwp: Lwp | None, sset: dict) -> None:
    t = _one(proc, lwp)
    mask = procinfo.linux_mask(sset["__sigbits"]) & ~((1 << 8) | (1 << 18))  # never SIGKILL, SIGSTOP
    e.seize(proc)
    e.at_host_stop(t, lambda l: tracing.setsigmask(l.tid, mask))
    return None


def pcsfpreg(e: Any, of: Any, proc: Proc, lwp: Lwp | None, fp: dict) -> None:
    t = _one(proc, lwp)
    _stopped(t)
    if of.model != "amd64":
        # The i386 prfpregset_t is an fnsave image; converting it to fxsave is not done yet.
        raise OSError(errno.EINVAL, "PCSFPREG from a 32-bit writer is not supported")
    from structs.codec import codec
    from structs.procfs import PRFPREGSET

    raw = codec(PRFPREGSET["amd64"]).encode(fp)
    tracing.setfpregs(t, raw[:512])  # fpchip_state is the fxsave image; status/xstatus stay
    return None


def pcsxreg(e: Any, of: Any, proc: Proc, lwp: Lwp | None, area: bytes) -> None:
    """PCSXREG (ARCHITECTURE item 12): the operand is the host's XSAVE area raw, in the standard
    format and exactly at the host's size (what the `xregs` file reads; any other size: EINVAL),
    for either writer model.  The LWP must be stopped (EBUSY).  The host validates the area as
    it does for PTRACE_SETREGSET(NT_X86_XSTATE): a bad XSAVE header (unsupported features in
    xstate_bv, a compacted xcomp_bv, non-zero reserved bytes) or reserved MXCSR bits with
    x87/SSE/AVX state present are EINVAL, and nothing changes."""
    t = _one(proc, lwp)
    _stopped(t)
    if len(area) != tracing.xstate_size(t):
        raise OSError(errno.EINVAL, "PCSXREG: not the host's XSAVE area size")
    tracing.setxstate(t, bytes(area))
    return None


def pcsvaddr(e: Any, of: Any, proc: Proc, lwp: Lwp | None, addr: int) -> None:
    t = _one(proc, lwp)
    _stopped(t)
    g = gregs.to_gregs(tracing.getregs(t))
    g[gregs.RIP] = gregs.signed(addr)
    tracing.setregs(t, gregs.from_gregs(g, tracing.getregs(t)))
    return None


def pcstrace(e: Any, of: Any, proc: Proc, lwp: Lwp | None, sset: dict) -> None:
    e.seize(proc)
    proc.sigtrace = int.from_bytes(sset["__sigbits"], "little") & _ALL_SIGS & ~(1 << (_SIGKILL_S - 1))
    return None


def pcsfault(e: Any, of: Any, proc: Proc, lwp: Lwp | None, fset: dict) -> None:
    e.seize(proc)
    proc.flttrace = sum(w << (32 * i) for i, w in enumerate(fset["word"]))
    return None


def _sysset(s: dict) -> int:
    return sum(w << (32 * i) for i, w in enumerate(s["word"]))


def _syscall_sets_changed(e: Any, proc: Proc, was_tracing: bool) -> None:
    # Running LWPs were resumed with PTRACE_CONT (or not at all, just seized): bring them
    # through an unseen stop so they go on under PTRACE_SYSCALL, or back to CONT.
    if was_tracing != tracing.syscalls_traced(proc.sysentry, proc.sysexit):
        for l in proc.lwps.values():
            e.kick(l)


def _set_syscalls(e: Any, proc: Proc, which: str, s: dict) -> None:
    e.seize(proc)
    was = tracing.syscalls_traced(proc.sysentry, proc.sysexit)
    setattr(proc, which, _sysset(s))
    _syscall_sets_changed(e, proc, was)


def pcsentry(e: Any, of: Any, proc: Proc, lwp: Lwp | None, s: dict) -> None:
    _set_syscalls(e, proc, "sysentry", s)
    return None


def pcsexit(e: Any, of: Any, proc: Proc, lwp: Lwp | None, s: dict) -> None:
    _set_syscalls(e, proc, "sysexit", s)
    return None


def pcset(e: Any, of: Any, proc: Proc, lwp: Lwp | None, flags: int) -> None:
    if flags & ~_PCSET_MODES:
        raise OSError(errno.EINVAL, "unknown mode flags")
    e.seize(proc)
    proc.flags |= flags
    return None


def pcunset(e: Any, of: Any, proc: Proc, lwp: Lwp | None, flags: int) -> None:
    if flags & ~_PCSET_MODES:
        raise OSError(errno.EINVAL, "unknown mode flags")
    proc.flags &= ~flags
    return None


def _stopped(lwp: Lwp) -> None:
    if not (lwp.istop or (lwp.why and lwp.hstop is not None and not lwp.listening)):
        raise OSError(errno.EBUSY, "not stopped")


def pcsreg(e: Any, of: Any, proc: Proc, lwp: Lwp | None, greg: list[int]) -> None:
    t = _one(proc, lwp)
    _stopped(t)
    values = list(greg)
    if of.model == "i386":
        values = gregs.widen_i386(values, gregs.to_gregs(tracing.getregs(t)))
    regs = gregs.from_gregs(values, tracing.getregs(t))
    tracing.setregs(t, regs)
    return None


def pcnice(e: Any, of: Any, proc: Proc, lwp: Lwp | None, inc: int) -> None:
    for l in proc.lwps.values():
        cur = os.getpriority(os.PRIO_PROCESS, l.tid)
        os.setpriority(os.PRIO_PROCESS, l.tid, max(-20, min(19, cur + inc)))
    return None


def pcx_syscall_once(e: Any, of: Any, proc: Proc, lwp: Lwp | None, flags: int) -> None:
    if flags & ~3:
        raise OSError(errno.EINVAL, "flags are 0 (disarm), 1 (entry), 2 (exit) or 3")
    e.seize(proc)
    for l in _lwps(proc, lwp):
        l.sys_once = flags
    return None


def pcx_setsysnum(e: Any, of: Any, proc: Proc, lwp: Lwp | None, nr: int) -> None:
    t = _one(proc, lwp)
    seccomp = t.why == PR_WHY.PR_BRAND and t.what == _EVENT_SECCOMP and t.hstop is HostStop.EVENT
    if not (t.istop and (t.hstop in (HostStop.SYSENTRY, HostStop.SYSEXIT) or seccomp)):
        raise OSError(errno.EBUSY, "not stopped at a system call entry or exit")
    # At entry it changes the call (-1 skips it); at exit it only changes what the thread's
    # orig_rax says (restart logic reads it), as a Linux tracer's write does.
    regs = bytearray(tracing.getregs(t))
    regs[120:128] = (nr & ((1 << 64) - 1)).to_bytes(8, "little")
    tracing.setregs(t, bytes(regs))
    t.sysnum = nr
    return None


def pcx_stopforopt(e: Any, of: Any, proc: Proc, lwp: Lwp | None, mask: int) -> None:
    """NON-SOLARIS (the lx brand's B_PTRACE_STOP_FOR_OPT): the process's PCX_EVENT mask,
    whichever ctl/lwpctl it is written to.  Unknown bits: EINVAL (nothing changes)."""
    if mask & ~PCX_EVENT_VALID:
        raise OSError(errno.EINVAL, "unknown PCX_EVENT bits")
    e.set_events(proc, mask)
    return None


def pcx_listen(e: Any, of: Any, proc: Proc, lwp: Lwp | None, op: Any) -> None:
    """NON-SOLARIS (Linux's PTRACE_LISTEN): only for an LWP stopped on an event of interest
    with PR_JOBCONTROL (PCXSTOPFOROPT's JOBCONTROL bit); anything else is EINVAL."""
    t = _one(proc, lwp)
    if not (t.istop and t.why == PR_WHY.PR_JOBCONTROL and t.hstop is HostStop.GROUP
            and not t.listening):
        raise OSError(errno.EINVAL, "not stopped in a reportable group stop")
    e.listen_lwp(t)
    return None


def pcx_taken(e: Any, of: Any, proc: Proc, lwp: Lwp | None, op: Any) -> None:
    """NON-SOLARIS (Linux's wait_task_stopped clearing the stop's exit_code): the tracer's wait
    took this LWP's signal-delivery stop.  Only for an LWP stopped on an event of interest with
    PR_SIGNALLED, else EBUSY.  A release at the last close then lets it go without its current
    signal; a resume, a new stop or PCCSIG forget the mark."""
    t = _one(proc, lwp)
    if not (t.istop and t.why == PR_WHY.PR_SIGNALLED):
        raise OSError(errno.EBUSY, "not stopped on a signal")
    t.taken = True
    return None


def _unsupported(e: Any, of: Any, proc: Proc, lwp: Lwp | None, op: Any) -> None:
    raise OSError(errno.ENOTSUP, "not offered by this engine yet")


HANDLERS: dict[int, Callable[..., Any]] = {
    PC.PCNULL: pcnull,
    PC.PCSTOP: pcstop,
    PC.PCDSTOP: pcdstop,
    PC.PCWSTOP: pcwstop,
    PC.PCTWSTOP: pctwstop,
    PC.PCRUN: pcrun,
    PC.PCCSIG: pccsig,
    PC.PCCFAULT: pccfault,
    PC.PCSSIG: pcssig,
    PC.PCKILL: pckill,
    PC.PCUNKILL: pcunkill,
    PC.PCSTRACE: pcstrace,
    PC.PCSFAULT: pcsfault,
    PC.PCSENTRY: pcsentry,
    PC.PCSEXIT: pcsexit,
    PC.PCSET: pcset,
    PC.PCUNSET: pcunset,
    PC.PCSREG: pcsreg,
    PC.PCSHOLD: pcshold,
    PC.PCSFPREG: pcsfpreg,
    PC.PCSXREG: pcsxreg,
    PC.PCSVADDR: pcsvaddr,
    PC.PCNICE: pcnice,
    PC.PCWATCH: watch.pcwatch,
    PCX.PCXSYSCALL_ONCE: pcx_syscall_once,
    PCX.PCXSETSYSNUM: pcx_setsysnum,
    PCX.PCXSTOPFOROPT: pcx_stopforopt,
    PCX.PCXLISTEN: pcx_listen,
    PCX.PCXTAKEN: pcx_taken,
}


# What a 32-bit writer may not do to a 64-bit target (solaris-proc-control.md §1.2).
_LP64_ONLY = frozenset({PC.PCSSIG, PC.PCSREG, PC.PCSFPREG, PC.PCSXREG, PC.PCSVADDR, PC.PCWATCH,
                        PC.PCAGENT, PC.PCREAD, PC.PCWRITE})


def execute(e: Any, of: Any, proc: Proc, lwp: Lwp | None, code: int, operand: Any):
    """Run one message; returns a Wait when it blocks."""
    handler = HANDLERS.get(code, _unsupported)
    if of.model == "i386" and proc.dmodel == _LP64 and code in _LP64_ONLY:
        raise OSError(errno.EOVERFLOW, "a 32-bit writer cannot do that to a 64-bit process")
    try:
        return handler(e, of, proc, lwp, operand)
    finally:
        # Whatever the message changed shows in the next status read.
        e.touch(proc)
