"""illumos machine-fault numbers (FLT*) and the table that turns a Linux host fault into one
(ARCHITECTURE "Settled after review" item 14).

What this module promises
-------------------------
* `FLT` — the illumos fault numbers of `sys/fault.h` (FLTILL 1 .. FLTCPCOVF 13); `FLT_NAMES`,
  `FLT_MAX` (13, the highest member of a fltset_t in use).
* `HOST_FAULTS` — THE table: `(linux signo, linux si_code) -> FLT`, or `None` where a kernel
  signal with that code is not a machine fault (it is reported as a plain signal).  The row
  `(linux signo, None)` is the fault for any OTHER kernel-generated code of that signal
  (`HOST_FAULT_DEFAULT`, derived).  Only kernel-generated signals are faults: a code <= 0
  (SI_USER, SI_TKILL, SI_QUEUE, ...: someone called kill/tgkill/sigqueue) is never a fault,
  whatever the signal (`is_kernel_code`).  Ask `host_fault(...) is not None`, not "is the key
  in the table": (SIGTRAP, TRAP_PERF) is in it, as "not a fault".
* The one case that needs more than (signo, si_code) — a debug-register hit, TRAP_HWBKPT — is
  data too: `HWBKPT_FAULT[area kind]`, the kind being "exec" (an instruction breakpoint, DR7
  RW=00, a PCWATCH area with WA_EXEC) or "data" (RW=01/11, WA_READ/WA_WRITE).  `HOST_FAULTS`
  holds the "data" answer for (SIGTRAP, TRAP_HWBKPT).
* `FLT_SIGNAL[flt]` — the signal (Linux number, and `FLT_SOLARIS_SIGNAL` in Solaris numbers)
  an untraced fault becomes, as illumos posts it (`usr/src/uts/intel/os/trap.c`).  When the
  fault came from a host signal, the host's own signal and siginfo are what gets delivered;
  this table is for faults that have no host signal behind them, and for documentation.
  FLTPAGE is not a signal (0).
* `host_fault()` is the trivial lookup over these tables.

Linux codes: x86 reports int3 as SIGTRAP/SI_KERNEL (not TRAP_BRKPT), a single-step as
TRAP_TRACE (but a step over a syscall instruction as TRAP_BRKPT), a debug-register hit as TRAP_HWBKPT, and a general-protection fault (#GP) as
SIGSEGV/SI_KERNEL, which illumos calls FLTBOUNDS.
"""

from __future__ import annotations

from enum import IntEnum

from .signals import LTOS, LinuxSi, LinuxSig

__all__ = [
    "FLT",
    "FLT_NAMES",
    "FLT_MAX",
    "HOST_FAULTS",
    "HOST_FAULT_DEFAULT",
    "HWBKPT_FAULT",
    "FAULT_SIGNALS",
    "FLT_SIGNAL",
    "FLT_SOLARIS_SIGNAL",
    "is_kernel_code",
    "host_fault",
]


class FLT(IntEnum):
    """illumos `sys/fault.h` fault numbers (fltset_t members, 1-based)."""

    FLTILL = 1  # illegal instruction
    FLTPRIV = 2  # privileged instruction
    FLTBPT = 3  # breakpoint instruction
    FLTTRACE = 4  # trace trap (single-step)
    FLTACCESS = 5  # memory access (e.g. alignment)
    FLTBOUNDS = 6  # memory bounds (invalid address)
    FLTIOVF = 7  # integer overflow
    FLTIZDIV = 8  # integer zero divide
    FLTFPE = 9  # floating-point exception
    FLTSTACK = 10  # irrecoverable stack fault
    FLTPAGE = 11  # recoverable page fault (no associated signal)
    FLTWATCH = 12  # watchpoint trap
    FLTCPCOVF = 13  # CPU performance counter overflow


FLT_NAMES: dict[int, str] = {f.value: f.name for f in FLT}
FLT_MAX = max(FLT)

_S = LinuxSig
_C = LinuxSi

#: THE table: (Linux signo, Linux si_code) -> FLT, or None = "a kernel signal, but not a fault".
#: A row with si_code None is the answer for every other kernel-generated code of that signal.
HOST_FAULTS: dict[tuple[int, int | None], FLT | None] = {
    # SIGTRAP
    (_S.SIGTRAP, _C.SI_KERNEL): FLT.FLTBPT,  # x86 int3
    # x86 sends TRAP_BRKPT in one case only: a single step that completed a syscall instruction
    # (user_single_step_report); it is a trace trap, not a breakpoint
    (_S.SIGTRAP, _C.TRAP_BRKPT): FLT.FLTTRACE,
    (_S.SIGTRAP, _C.TRAP_TRACE): FLT.FLTTRACE,  # single-step (DR6.BS)
    (_S.SIGTRAP, _C.TRAP_BRANCH): FLT.FLTTRACE,  # PTRACE_SINGLEBLOCK step
    (_S.SIGTRAP, _C.TRAP_HWBKPT): FLT.FLTWATCH,  # data area; see HWBKPT_FAULT for exec areas
    (_S.SIGTRAP, _C.TRAP_PERF): None,  # perf_event sigtrap: a notification, not a fault
    (_S.SIGTRAP, None): FLT.FLTBPT,
    # SIGSEGV
    (_S.SIGSEGV, _C.SEGV_MAPERR): FLT.FLTBOUNDS,
    (_S.SIGSEGV, _C.SEGV_ACCERR): FLT.FLTACCESS,
    (_S.SIGSEGV, _C.SI_KERNEL): FLT.FLTBOUNDS,  # #GP, as illumos reports it
    (_S.SIGSEGV, _C.SEGV_BNDERR): FLT.FLTBOUNDS,
    (_S.SIGSEGV, _C.SEGV_PKUERR): FLT.FLTACCESS,  # protection-key denial: a permission fault
    (_S.SIGSEGV, None): FLT.FLTBOUNDS,
    # SIGBUS
    (_S.SIGBUS, None): FLT.FLTACCESS,
    # SIGILL
    (_S.SIGILL, _C.ILL_PRVOPC): FLT.FLTPRIV,
    (_S.SIGILL, _C.ILL_PRVREG): FLT.FLTPRIV,
    (_S.SIGILL, None): FLT.FLTILL,
    # SIGFPE
    (_S.SIGFPE, _C.FPE_INTDIV): FLT.FLTIZDIV,
    (_S.SIGFPE, _C.FPE_INTOVF): FLT.FLTIOVF,
    (_S.SIGFPE, None): FLT.FLTFPE,
}

#: Derived: the per-signal answer for codes without a row of their own.
HOST_FAULT_DEFAULT: dict[int, FLT] = {s: f for (s, c), f in HOST_FAULTS.items() if c is None and f}

#: Linux signals that can carry a machine fault.
FAULT_SIGNALS: frozenset[int] = frozenset(HOST_FAULT_DEFAULT)

#: TRAP_HWBKPT: which fault a debug-register hit is, by the kind of area that fired.
HWBKPT_FAULT: dict[str, FLT] = {
    "exec": FLT.FLTBPT,  # instruction breakpoint (DR7 RW=00, WA_EXEC): traps before execution
    "data": FLT.FLTWATCH,  # data breakpoint (RW=01 write, RW=11 read/write): traps after
}

#: Untraced fault -> the signal illumos posts for it (Linux numbering; 0 = none).
FLT_SIGNAL: dict[FLT, int] = {
    FLT.FLTILL: _S.SIGILL,
    FLT.FLTPRIV: _S.SIGILL,
    FLT.FLTBPT: _S.SIGTRAP,
    FLT.FLTTRACE: _S.SIGTRAP,
    FLT.FLTACCESS: _S.SIGSEGV,  # SIGBUS when the host said SIGBUS (the host signal wins)
    FLT.FLTBOUNDS: _S.SIGSEGV,
    FLT.FLTIOVF: _S.SIGFPE,
    FLT.FLTIZDIV: _S.SIGFPE,
    FLT.FLTFPE: _S.SIGFPE,
    FLT.FLTSTACK: _S.SIGSEGV,
    FLT.FLTPAGE: 0,
    FLT.FLTWATCH: _S.SIGTRAP,
    FLT.FLTCPCOVF: 0,  # SIGEMT on illumos, which Linux has not got
}
#: The same in Solaris numbering (FLTCPCOVF -> SIGEMT 7).
FLT_SOLARIS_SIGNAL: dict[FLT, int] = {
    **{f: LTOS[s] for f, s in FLT_SIGNAL.items()},
    FLT.FLTCPCOVF: 7,
}


def is_kernel_code(si_code: int) -> bool:
    """True if `si_code` says the kernel generated the signal (SI_FROMKERNEL: code > 0)."""
    return si_code > 0


def host_fault(signo: int, si_code: int, area: str = "data") -> FLT | None:
    """The FLT a Linux (signo, si_code) stands for, or None if it is a plain signal.

    `area` only matters for TRAP_HWBKPT: "exec" or "data" (`HWBKPT_FAULT`).
    """
    if not is_kernel_code(si_code) or signo not in FAULT_SIGNALS:
        return None
    if signo == _S.SIGTRAP and si_code == _C.TRAP_HWBKPT:
        return HWBKPT_FAULT[area]
    key = (signo, si_code) if (signo, si_code) in HOST_FAULTS else (signo, None)
    return HOST_FAULTS[key]
