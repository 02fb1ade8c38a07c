"""PCWATCH on the x86 debug registers (ARCHITECTURE decision 3, items 14, 15, 17;
solaris-proc-control.md §5).

Watched areas belong to the process (`Proc.watch`); each area takes one debug register, the
same one in every LWP: area i of `Proc.watch` is DRi, enabled in DR7 with its R/W and LEN codes.
Nothing here keeps pages protected: an area the hardware cannot watch is refused, with the
errno below, until a page-protection scheme exists (decision 3).

What one PCWATCH message does, in this order (the Solaris order of `pr_watch`, then the x86
rules of item 15):

| operand                                                 | result                            |
|---------------------------------------------------------|-----------------------------------|
| none of WA_READ/WA_WRITE/WA_EXEC (0 or only TRAPAFTER)  | clear (see below)                 |
| pr_vaddr + pr_size wraps past 2**64                     | EINVAL                            |
| a flag bit outside WA_VALID (even on a clear)           | EINVAL                            |
| a set with pr_size 0                                    | EINVAL                            |
| pr_vaddr at/above the user limit (`USER_LIMIT`)         | success, nothing done (Solaris)   |
| WA_READ alone                                           | EINVAL: x86 cannot watch reads    |
| WA_EXEC with WA_READ/WA_WRITE                           | EINVAL: one register, one kind    |
| data area (READ and/or WRITE) without WA_TRAPAFTER      | EINVAL: x86 traps after access    |
| data area not 1/2/4/8 bytes or not naturally aligned    | EINVAL (no page protection yet)   |
| exec area whose size is not 1                           | EINVAL (DR7 LEN must be 00)       |
| overlaps an area with exactly the same start and size   | success: its flags are replaced   |
| any other overlap                                       | EINVAL                            |
| a fifth area                                            | E2BIG (four debug registers)      |

A clear removes the area whose start is exactly pr_vaddr (pr_size is ignored); when there is
none it does nothing and is not an error.

WA_EXEC is an instruction breakpoint: it traps *before* the instruction runs, whether or not
WA_TRAPAFTER is given (the seed's `setup_watchpoints` passes TRAPAFTER with every area, exec ones
included, so refusing it would break lxbrand; Solaris's trap-after exec watch is not offered).
The kernel sets EFLAGS.RF at an instruction-breakpoint hit, so resuming runs the instruction.

Arming.  The kernel takes POKEUSER of a debug register only in ptrace-stop.  LWPs that are
host-stopped (and not in PTRACE_LISTEN) are programmed at once; the others get `dr_pending`, an
`on_stop` action (the engine's deferred host actions, run at the top of `_host_event` before the
stop is classified) and a PTRACE_INTERRUPT; procd's own interrupt stop is then resumed unseen, a
job-control stop goes back to PTRACE_LISTEN.  The PCWATCH message waits (an engine `Wait` of kind
"watch") until no LWP is pending, so when the write returns every LWP is armed.  A thread
blocked where PTRACE_INTERRUPT cannot reach it (a vfork parent waiting for its child) holds the
message until it can.  New threads do not inherit debug registers on Linux:
one created by clone is programmed at its first (attach) stop, before it runs any code.  Each LWP
records what it has programmed (`Lwp.dr_slots`), so a hit is mapped through the registers that
were armed when it fired, even if a PCWATCH re-programmed the LWP at that very stop.

Hits (a SIGTRAP signal-delivery stop with si_code TRAP_HWBKPT): DR6 says which registers fired
(B0..B3); it is read and then cleared.  The Solaris `pr_info` is si_signo SIGTRAP, si_code
TRAP_XWATCH (exec area), TRAP_WWATCH (write-only area, or a read/write area whose bytes changed),
TRAP_RWATCH (a read/write area whose bytes did not change), si_addr the area's address, si_pc the
pc, si_trapno FLTWATCH.  When one instruction fires several areas the precedence is that of
TRAPAFTER watchpoints: write, read, exec.  Every PCWATCH hit is FLTWATCH, exec areas included
(§5; `HWBKPT_FAULT["exec"]` -> FLTBPT in structs.faults / item 14 is for Linux-side breakpoints
that lxbrand sets up, not for a /proc exec watch).  If FLTWATCH is traced the LWP stops
PR_FAULTED; otherwise SIGTRAP follows the signal rules (PR_SIGNALLED if traced, else delivered).
A hit that maps to no current area (one cancelled while the hit was on its way) is swallowed.

Telling a read from a write uses a copy of the watched bytes per area (`WatchArea.value`), taken
at every PCWATCH and at every hit of the area.  A write by someone the debug registers do not see
(the kernel filling a buffer in read(2), a debugger writing through `as`) makes the next read hit
report TRAP_WWATCH; a write of the same value reports TRAP_RWATCH.

Exec: the kernel drops an exec'ing thread's ptrace breakpoints (checked on Linux 6.18: DR7 reads
0 at the PTRACE_EVENT_EXEC stop), and the engine cancels every area; `exec_reset` zeroes the
registers again anyway and forgets what was programmed.

Release (item 17): the engine detaches each LWP from a ptrace-stop (`Engine.release` brings a
running one through an unseen stop first); `clear_lwp`, called by `Engine._clear_debugregs` just
before the detach, zeroes DR7, the used DR0-3 and DR6.  An LWP in PTRACE_LISTEN (job-control
stopped) takes no ptrace request, the detach included: it is interrupted and its re-trap report
taken synchronously (`_retrap`, bounded by RETRAP_TIMEOUT), so registers and detach both work and
it stays job-control stopped.  If procd itself dies, the guardian (native_proc/guardian.py),
told of every change of the armed set through `Engine.watch_changed`, disarms them.
"""

from __future__ import annotations

import errno
import os
import struct
import time
from dataclasses import dataclass
from typing import Any

from structs import procfs as S
from structs.codec import codec
from structs.faults import FLT
from structs.fields import offsetof
from structs.procfs_consts import PR_MODEL_ILP32, PR_MODEL_LP64, WA, WA_VALID
from structs.ptrace_consts import (
    DR7_L,
    DR7_LEN_CODE,
    DR7_LEN_SHIFT,
    DR7_RW,
    DR7_RW_SHIFT,
    DR_CONTROL,
    DR_NADDR,
    DR_STATUS,
)
from structs.signals import LTOS, SOLARIS_SI_CODES
from structs.user_area import USER

from . import host, tracing
from .lwp import Lwp, Proc, WatchArea

__all__ = ["Kind", "KINDS", "REFUSED", "USER_LIMIT", "RETRAP_TIMEOUT", "change", "plan", "pcwatch",
           "program", "programmed", "at_stop", "new_lwp", "exec_reset", "hit", "clear_lwp"]

_R, _W, _X, _TA = int(WA.WA_READ), int(WA.WA_WRITE), int(WA.WA_EXEC), int(WA.WA_TRAPAFTER)
_RWX = _R | _W | _X
_U64 = (1 << 64) - 1
_DR0 = offsetof(USER["amd64"], "u_debugreg[0]")  # 848; struct user of the 64-bit tracer
_RIP = offsetof(USER["amd64"], "regs.rip")  # user_regs_struct opens struct user
_SIGTRAP_L = 5
_WALL = 0x40000000

_TRAP = SOLARIS_SI_CODES[LTOS[_SIGTRAP_L]]
TRAP_RWATCH, TRAP_WWATCH, TRAP_XWATCH = (_TRAP[n] for n in ("TRAP_RWATCH", "TRAP_WWATCH", "TRAP_XWATCH"))
#: Which hit is reported when one instruction fires several areas (trap-after order).
_PRECEDENCE = (TRAP_WWATCH, TRAP_RWATCH, TRAP_XWATCH)

#: Lowest address that is not user space, by target data model: Solaris accepts a PCWATCH there
#: and does nothing.  amd64: the kernel's TASK_SIZE_MAX with 4-level paging (POKEUSER of DRi
#: refuses it); on a 5-level-paging machine user addresses above it are treated the same way.
USER_LIMIT: dict[int, int] = {PR_MODEL_LP64: 0x7FFFFFFFF000, PR_MODEL_ILP32: 0xFFFFE000}


@dataclass(frozen=True)
class Kind:
    """What the hardware does for one combination of WA_READ/WA_WRITE/WA_EXEC."""

    rw: int  # DR7 R/W code
    sizes: tuple[int, ...]  # sizes the register can watch (each naturally aligned)
    needs_trapafter: bool  # data breakpoints trap after the access: WA_TRAPAFTER is required
    si_code: int | None  # Solaris si_code of a hit; None: TRAP_RWATCH unless the bytes changed


#: The kinds an area may be (pr_wflags & (READ|WRITE|EXEC)).
KINDS: dict[int, Kind] = {
    _W: Kind(DR7_RW.WRITE, (1, 2, 4, 8), True, TRAP_WWATCH),
    _R | _W: Kind(DR7_RW.READWRITE, (1, 2, 4, 8), True, None),
    _X: Kind(DR7_RW.EXECUTE, (1,), False, TRAP_XWATCH),
}
#: The combinations refused (EINVAL), with the reason.
REFUSED: dict[int, str] = {
    _R: "x86 cannot watch reads alone: use WA_READ|WA_WRITE",
    _X | _W: "an instruction breakpoint cannot also watch data",
    _X | _R: "an instruction breakpoint cannot also watch data",
    _X | _R | _W: "an instruction breakpoint cannot also watch data",
}

#: How long the release waits for a job-control stopped thread to re-trap (seconds).
RETRAP_TIMEOUT = 1.0

_SI = codec(S.SIGINFO["amd64"])
_FAULT = codec(S.SIGINFO_VIEWS["amd64"]["fault"])
_Q = struct.Struct("<Q")


def _dr(i: int) -> int:
    return _DR0 + 8 * i


def _einval(why: str) -> OSError:
    return OSError(errno.EINVAL, why)


# -- the rules ---------------------------------------------------------------------------------


def change(areas: list[WatchArea], vaddr: int, size: int, wflags: int,
           dmodel: int = PR_MODEL_LP64) -> list[WatchArea] | None:
    """The area list after one PCWATCH operand, None if nothing changes; OSError if refused.

    `areas` is not modified (a refused message changes nothing)."""
    kinds = wflags & _RWX
    if not kinds:
        size = 0  # a clear
    if vaddr + size > _U64:
        raise _einval("pr_vaddr + pr_size wraps")
    if wflags & ~WA_VALID:
        raise _einval("unknown pr_wflags bits")
    if not kinds:
        kept = [a for a in areas if a.vaddr != vaddr]
        return kept if len(kept) != len(areas) else None
    if size == 0:
        raise _einval("a watched area needs a size")
    if vaddr >= USER_LIMIT.get(dmodel, USER_LIMIT[PR_MODEL_LP64]):
        return None  # not user space: accepted, nothing to watch (Solaris)
    kind = KINDS.get(kinds)
    if kind is None:
        raise _einval(REFUSED[kinds])
    if kind.needs_trapafter and not wflags & _TA:
        raise _einval("x86 data watchpoints trap after the access: WA_TRAPAFTER is required")
    if size not in kind.sizes or vaddr % size:
        sizes = ", ".join(map(str, kind.sizes))
        raise _einval(f"the debug registers watch {sizes} naturally aligned byte(s); "
                      f"{size} at {vaddr:#x} would need page protection")
    new = WatchArea(vaddr, size, wflags)
    out = list(areas)
    for i, a in enumerate(areas):
        if a.vaddr < vaddr + size and vaddr < a.vaddr + a.size:
            if a.vaddr != vaddr or a.size != size:
                raise _einval("overlaps another watched area")
            new.value = a.value
            out[i] = new  # the same area: its flags are replaced
            return out
    if len(areas) >= DR_NADDR:
        raise OSError(errno.E2BIG, f"only {DR_NADDR} debug registers")
    out.append(new)
    return out


def plan(areas: list[WatchArea]) -> tuple[tuple[int, ...], int, tuple]:
    """(DR0-3 addresses, DR7, the area in each register) that watch `areas`."""
    if not areas:
        return (), 0, ()
    addrs = [0] * DR_NADDR
    slots: list[WatchArea | None] = [None] * DR_NADDR
    dr7 = 0
    for i, a in enumerate(areas):
        kind = KINDS[a.wflags & _RWX]
        length = 1 if kind.rw == DR7_RW.EXECUTE else a.size  # exec: LEN must be 00
        addrs[i], slots[i] = a.vaddr, a
        dr7 |= DR7_L[i] | int(kind.rw) << DR7_RW_SHIFT(i) | DR7_LEN_CODE[length] << DR7_LEN_SHIFT(i)
    return tuple(addrs), dr7, tuple(slots)


# -- the message -------------------------------------------------------------------------------


def pcwatch(e: Any, of: Any, proc: Proc, lwp: Lwp | None, op: dict) -> Any:
    """PCWATCH: validate, commit, then arm every LWP (returns a Wait while some are running)."""
    new = change(proc.watch, op["pr_vaddr"], op["pr_size"], op["pr_wflags"], proc.dmodel)
    if new is None:
        return None
    e.seize(proc)  # may fail (EBUSY): nothing is committed yet
    for a in new:
        if a.wflags & (_R | _W):
            a.value = _read(proc.pid, a.vaddr, a.size)
    proc.watch[:] = new
    e.watch_changed(proc)
    return program(e, proc)


def program(e: Any, proc: Proc) -> Any:
    """Bring every LWP's debug registers in line with proc.watch; a Wait if some must stop first."""
    waiting = False
    for l in list(proc.lwps.values()):
        if l.hstop is not None and not l.listening:
            try:
                _program(l)
            except OSError as ex:
                if ex.errno != errno.ESRCH:
                    raise
        else:
            _defer(e, l)
            waiting = True
    if not waiting:
        return None
    from .engine import Wait

    return Wait(proc, None, kind="watch")


def programmed(proc: Proc) -> bool:
    """Whether a "watch" Wait is over: no LWP still waits for its debug registers."""
    return not any(l.dr_pending for l in proc.lwps.values())


# -- engine hooks ------------------------------------------------------------------------------


def _defer(e: Any, lwp: Lwp) -> None:
    """Program a running (or PTRACE_LISTEN) LWP at the next ptrace-stop, which procd brings about."""
    if not lwp.dr_pending:
        lwp.dr_pending = True
        lwp.on_stop.append(lambda l: at_stop(e, l))
    try:
        tracing.interrupt(lwp.tid)  # also re-traps a PTRACE_LISTEN one (Engine.kick would not)
    except OSError:
        pass  # gone: its exit report removes it, which ends the wait


def at_stop(e: Any, lwp: Lwp) -> None:
    """A pending LWP reports a ptrace-stop: program it before the stop is classified."""
    if not lwp.dr_pending or lwp.lwpid not in lwp.proc.lwps:
        return
    prev = lwp.dr_slots
    _program(lwp)
    lwp.dr_fired = (lwp.gen, prev)  # a hit reported by this very stop fired under `prev`
    proc = lwp.proc
    # Wake the PCWATCH after this event is handled, never in the middle of it.
    e.timers.append((0.0, lambda: e.wake(proc)))


def new_lwp(e: Any, lwp: Lwp) -> None:
    """A thread joined a watched process: Linux starts it with clear debug registers.

    A clone child reports an attach stop before it runs any code, and is programmed there."""
    if lwp.proc.watch and not lwp.dr_pending:
        lwp.dr_pending = True
        lwp.on_stop.append(lambda l: at_stop(e, l))


def exec_reset(e: Any, lwp: Lwp) -> None:
    """At the exec stop (areas already cancelled): zero the registers, forget what was programmed."""
    lwp.dr_pending = False
    if any(lwp.dr_slots):
        try:
            _zero(lwp)
        except OSError:
            pass
    lwp.dr_slots = ()


def hit(e: Any, lwp: Lwp) -> bytes | None:
    """A TRAP_HWBKPT stop: the Solaris siginfo of the area that fired, None if no area did."""
    tid = lwp.tid
    dr6 = tracing.peekuser(tid, _dr(DR_STATUS))
    tracing.pokeuser(tid, _dr(DR_STATUS), 0)
    gen, prev = lwp.dr_fired
    slots = prev if gen == lwp.gen else lwp.dr_slots
    proc = lwp.proc
    best: tuple[int, int, WatchArea] | None = None
    for i, s in enumerate(slots):
        if s is None or not dr6 >> i & 1:
            continue
        area = next((a for a in proc.watch if a.vaddr == s.vaddr and a.size == s.size), None)
        if area is None:
            continue  # cancelled meanwhile
        kind = KINDS[area.wflags & _RWX]
        code = kind.si_code
        if kind.rw != DR7_RW.EXECUTE:
            now = _read(proc.pid, area.vaddr, area.size)
            changed, area.value = now != area.value, now
            if code is None:
                code = TRAP_WWATCH if changed else TRAP_RWATCH
        rank = _PRECEDENCE.index(code)
        if best is None or rank < best[0]:
            best = (rank, code, area)
    if best is None:
        return None
    pc = _Q.unpack_from(tracing.getregs(lwp), _RIP)[0]
    return siginfo(best[1], best[2].vaddr, pc)


def siginfo(code: int, addr: int, pc: int) -> bytes:
    """The Solaris siginfo_t (amd64 layout) of a watchpoint trap."""
    out = _SI.decode(bytes(_SI.size))
    out["si_signo"], out["si_code"] = LTOS[_SIGTRAP_L], code
    f = _FAULT.decode(bytes(_FAULT.size))
    f["si_addr"], f["si_trapno"], f["si_pc"] = addr, int(FLT.FLTWATCH), pc
    out["__data"] = _FAULT.encode(f)
    return _SI.encode(out)


def clear_lwp(e: Any, lwp: Lwp) -> None:
    """Before the engine detaches a host-stopped LWP (release): zero its debug registers."""
    lwp.dr_pending = False
    if not any(lwp.dr_slots):
        return
    if lwp.listening and not _retrap(e, lwp):
        return  # gone, or deaf to the interrupt: nothing more can be done
    try:
        _zero(lwp)
    except OSError as ex:
        if ex.errno != errno.ESRCH:
            raise


# -- host side ---------------------------------------------------------------------------------


def _program(lwp: Lwp) -> None:
    addrs, dr7, slots = plan(lwp.proc.watch)
    if any(lwp.dr_slots) or dr7:
        tid = lwp.tid
        # DR7 off first: the kernel checks each address against the register's current length.
        tracing.pokeuser(tid, _dr(DR_CONTROL), 0)
        prev = lwp.dr_slots
        for i in range(DR_NADDR):
            if slots and slots[i] is not None:
                tracing.pokeuser(tid, _dr(i), addrs[i])
            elif i < len(prev) and prev[i] is not None:
                tracing.pokeuser(tid, _dr(i), 0)  # a register no area uses any more
        if dr7:
            tracing.pokeuser(tid, _dr(DR_CONTROL), dr7)
    lwp.dr_slots = slots
    lwp.dr_pending = False


def _zero(lwp: Lwp) -> None:
    tid = lwp.tid
    tracing.pokeuser(tid, _dr(DR_CONTROL), 0)
    for i, a in enumerate(lwp.dr_slots):
        if a is not None:
            tracing.pokeuser(tid, _dr(i), 0)
    tracing.pokeuser(tid, _dr(DR_STATUS), 0)
    lwp.dr_slots = ()


def _retrap(e: Any, lwp: Lwp) -> bool:
    """Bring a PTRACE_LISTEN thread (job-control stopped) back into a ptrace-stop, synchronously.

    PTRACE_LISTEN takes no ptrace request, not even the detach the caller is about to make.
    PTRACE_INTERRUPT makes it re-trap at once (PTRACE_EVENT_STOP); that report is taken here, so
    the detach cannot race with it, and the thread stays job-control stopped once detached."""
    tid = lwp.tid
    try:
        tracing.interrupt(tid)
    except OSError:
        return False
    deadline = time.monotonic() + RETRAP_TIMEOUT
    while True:
        try:
            r, st = os.waitpid(tid, os.WNOHANG | _WALL)
        except ChildProcessError:
            return False
        if r == tid:
            break
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.0002)
    if not os.WIFSTOPPED(st):
        e.timers.append((0.0, lambda: e._host_event(lwp, st)))  # its exit, handled in turn
        return False
    lwp.listening, lwp.regs = False, None
    return True


def _read(pid: int, addr: int, size: int) -> bytes:
    try:
        return host.process_vm_readv(pid, addr, size)
    except OSError:
        return b""  # not mapped (yet): Solaris accepts such areas
