"""Signal numbers and si_code values of Linux (x86, kernel numbering) and illumos, and the one
table that maps the signals between them (ARCHITECTURE "Settled after review" item 13).

What this module promises
-------------------------
* `SIGNAL_MAP` is THE table: one row per signal of either system, `(linux_name, linux_no,
  solaris_name, solaris_no)`, 0/None on the side where the signal does not exist.  Everything
  else about signal numbers here is derived from it:

  - `LTOS[linux_no] -> solaris_no` (a tuple indexed 0..64; `LTOS[0] == 0`),
  - `STOL[solaris_no] -> linux_no` (a tuple indexed 0..73; 0 for Solaris-only signals),
  - `LINUX_SIGNAMES` / `SOLARIS_SIGNAMES` (number -> canonical name) and
    `LINUX_SIGNALS` / `SOLARIS_SIGNALS` (name -> number, canonical names plus the aliases in
    `LINUX_ALIASES` / `SOLARIS_ALIASES`), and the lookups `linux_name` / `solaris_name` /
    `linux_signo` / `solaris_signo`,
  - the `LinuxSig` / `SolarisSig` IntEnums (every name that is a Python identifier: all
    classic signals plus SIGRTMIN / SIGRTMAX; LinuxSig also holds strace's SIGRT_1..SIGRT_32, so
    it covers 1..64, while SolarisSig(43..72) does not exist — use the name tables for those).

* The mapping is a bijection between Linux 1..64 and the 64 Solaris signals that have a Linux
  counterpart; the 9 Solaris-only signals (`SOLARIS_ONLY`) map to Linux 0, so a Linux process
  can receive everything it could receive on Linux, and a Solaris-only signal sent to a Linux
  process is EINVAL (the caller decides; this module only says "0").

* The rules the table follows: shared names map by name; Linux real-time 32..63 map to Solaris
  `_SIGRTMIN`..`_SIGRTMAX` (42..73); Linux 64 (`SIGRTMAX`) maps to `SIGJVM2` (40) and `SIGSTKFLT`
  (16) to `SIGJVM1` (39).

* Linux numbers are the KERNEL's: `SIGRTMIN` is 32.  glibc reserves 32 and 33 for itself and its
  `SIGRTMIN` (what Python's `signal.SIGRTMIN` reports) is 34 (`GLIBC_SIGRTMIN`); that is a libc
  convention, invisible to ptrace.
* Solaris numbers are current illumos (`SIGINFO` = 41, `_SIGRTMIN` 42 .. `_SIGRTMAX` 73, `NSIG` 74);
  source: `/work/shared/reference/solaris-proc-layouts.md` ("Signal numbers"), i.e.
  illumos `usr/src/uts/common/sys/iso/signal_iso.h` and `sys/signal.h`.

si_code tables
--------------
`LINUX_SI_CODES[signo_or_None]` and `SOLARIS_SI_CODES[...]` map a code name to its value, per
signal (`None` = the generic SI_* codes, valid for every signal).  Linux values are from the
kernel's `<asm-generic/siginfo.h>` as installed on this machine (x86: the `__ia64__`/`__sparc__`
variants are not used); Solaris values from illumos `sys/siginfo.h` and `intel/sys/machsig.h` via
the reference above.  The shared per-signal codes (TRAP_BRKPT, TRAP_TRACE, CLD_*, POLL_*,
SEGV_MAPERR/ACCERR, BUS_ADRALN..OBJERR, ILL_*, FPE_INTDIV..FPE_FLTSUB) have the SAME value on both
systems; the generic ones do not (Linux SI_QUEUE is -1, Solaris SI_QUEUE is -2).
`SI_CODE_GENERIC_MAP` pairs the generic codes by meaning (rows `(linux_name, solaris_name)`).
"""

from __future__ import annotations

from enum import IntEnum
from types import SimpleNamespace

__all__ = [
    "SIGNAL_MAP",
    "LINUX_NSIG",
    "LINUX_SIGRTMIN",
    "LINUX_SIGRTMAX",
    "GLIBC_SIGRTMIN",
    "SOLARIS_NSIG",
    "SOLARIS_MAXSIG",
    "SOLARIS_SIGRTMIN",
    "SOLARIS_SIGRTMAX",
    "SOLARIS_ONLY",
    "LTOS",
    "STOL",
    "ltos",
    "stol",
    "LINUX_SIGNAMES",
    "SOLARIS_SIGNAMES",
    "LINUX_ALIASES",
    "SOLARIS_ALIASES",
    "LINUX_SIGNALS",
    "SOLARIS_SIGNALS",
    "linux_name",
    "solaris_name",
    "linux_signo",
    "solaris_signo",
    "LinuxSig",
    "SolarisSig",
    "LINUX_SI_CODES",
    "SOLARIS_SI_CODES",
    "LINUX_SI_CODE_NAMES",
    "SOLARIS_SI_CODE_NAMES",
    "SI_CODE_GENERIC_MAP",
    "LINUX_TO_SOLARIS_SI_GENERIC",
    "SOLARIS_TO_LINUX_SI_GENERIC",
    "LinuxSi",
    "SolarisSi",
]

# ---------------------------------------------------------------------------------------------
# Ranges
# ---------------------------------------------------------------------------------------------

LINUX_SIGRTMIN = 32  # kernel <asm/signal.h> SIGRTMIN
LINUX_SIGRTMAX = 64  # kernel _NSIG
LINUX_NSIG = 65  # valid Linux signals are 1..64 (glibc NSIG = _NSIG + 1)
GLIBC_SIGRTMIN = 34  # glibc keeps 32 (SIGCANCEL) and 33 (SIGSETXID) for itself

SOLARIS_SIGRTMIN = 42  # _SIGRTMIN
SOLARIS_SIGRTMAX = 73  # _SIGRTMAX
SOLARIS_MAXSIG = 73
SOLARIS_NSIG = 74  # valid Solaris signals are 1..73


def _rt_name(n: int, last: int) -> str:
    """Name of real-time signal number `n` of a range that ends at offset `last`."""
    return "SIGRTMIN" if n == 0 else ("SIGRTMAX" if n == last else f"SIGRTMIN+{n}")


# ---------------------------------------------------------------------------------------------
# THE table.  (linux name, linux no, solaris name, solaris no); 0 / None where absent.
# ---------------------------------------------------------------------------------------------

SIGNAL_MAP: tuple[tuple[str | None, int, str | None, int], ...] = (
    # shared names, mapped by name
    ("SIGHUP", 1, "SIGHUP", 1),
    ("SIGINT", 2, "SIGINT", 2),
    ("SIGQUIT", 3, "SIGQUIT", 3),
    ("SIGILL", 4, "SIGILL", 4),
    ("SIGTRAP", 5, "SIGTRAP", 5),
    ("SIGABRT", 6, "SIGABRT", 6),
    ("SIGBUS", 7, "SIGBUS", 10),
    ("SIGFPE", 8, "SIGFPE", 8),
    ("SIGKILL", 9, "SIGKILL", 9),
    ("SIGUSR1", 10, "SIGUSR1", 16),
    ("SIGSEGV", 11, "SIGSEGV", 11),
    ("SIGUSR2", 12, "SIGUSR2", 17),
    ("SIGPIPE", 13, "SIGPIPE", 13),
    ("SIGALRM", 14, "SIGALRM", 14),
    ("SIGTERM", 15, "SIGTERM", 15),
    ("SIGCHLD", 17, "SIGCHLD", 18),
    ("SIGCONT", 18, "SIGCONT", 25),
    ("SIGSTOP", 19, "SIGSTOP", 23),
    ("SIGTSTP", 20, "SIGTSTP", 24),
    ("SIGTTIN", 21, "SIGTTIN", 26),
    ("SIGTTOU", 22, "SIGTTOU", 27),
    ("SIGURG", 23, "SIGURG", 21),
    ("SIGXCPU", 24, "SIGXCPU", 30),
    ("SIGXFSZ", 25, "SIGXFSZ", 31),
    ("SIGVTALRM", 26, "SIGVTALRM", 28),
    ("SIGPROF", 27, "SIGPROF", 29),
    ("SIGWINCH", 28, "SIGWINCH", 20),
    ("SIGIO", 29, "SIGIO", 22),  # SIGPOLL on both
    ("SIGPWR", 30, "SIGPWR", 19),
    ("SIGSYS", 31, "SIGSYS", 12),
    # Linux-only signals, given the otherwise unused Solaris JVM numbers
    ("SIGSTKFLT", 16, "SIGJVM1", 39),
    (_rt_name(32, 32), 64, "SIGJVM2", 40),  # Linux SIGRTMAX
    # Linux real-time 32..63 -> Solaris _SIGRTMIN.._SIGRTMAX (42..73), offset by offset
    *(
        (_rt_name(n, 32), LINUX_SIGRTMIN + n, _rt_name(n, 31), SOLARIS_SIGRTMIN + n)
        for n in range(32)
    ),
    # Solaris-only signals: no Linux number
    (None, 0, "SIGEMT", 7),
    (None, 0, "SIGWAITING", 32),
    (None, 0, "SIGLWP", 33),
    (None, 0, "SIGFREEZE", 34),
    (None, 0, "SIGTHAW", 35),
    (None, 0, "SIGCANCEL", 36),
    (None, 0, "SIGLOST", 37),
    (None, 0, "SIGXRES", 38),
    (None, 0, "SIGINFO", 41),
)

# Aliases: other spellings accepted by the name lookups (never produced by them).
LINUX_ALIASES: dict[str, int] = {
    "SIGIOT": 6,
    "SIGPOLL": 29,
    "SIGCLD": 17,  # glibc/Python spelling; the kernel headers do not define it
    "SIGUNUSED": 31,  # kernel <asm/signal.h>, historical
    # strace's spelling of the real-time signals: SIGRT_<signo - 32> (src/signal.c signame())
    **{f"SIGRT_{n}": LINUX_SIGRTMIN + n for n in range(1, 33)},
    # counting down from the top, as <signal.h> users write them
    **{f"SIGRTMAX-{n}": LINUX_SIGRTMAX - n for n in range(1, 32)},
    "SIGRTMIN+32": 64,
}
SOLARIS_ALIASES: dict[str, int] = {
    "SIGIOT": 6,
    "SIGCLD": 18,
    "SIGPOLL": 22,
    "SIGRTMIN+31": SOLARIS_SIGRTMAX,
    **{f"SIGRTMAX-{n}": SOLARIS_SIGRTMAX - n for n in range(1, 31)},
}

# ---------------------------------------------------------------------------------------------
# Derived from SIGNAL_MAP
# ---------------------------------------------------------------------------------------------

SOLARIS_ONLY: frozenset[int] = frozenset(s for _, l, _, s in SIGNAL_MAP if l == 0)


def _index(pairs, size: int) -> tuple[int, ...]:
    out = [0] * size
    for k, v in pairs:
        if k:
            out[k] = v
    return tuple(out)


#: LTOS[linux signo] = Solaris signo (index 0..64; 0 -> 0).
LTOS: tuple[int, ...] = _index(((l, s) for _, l, _, s in SIGNAL_MAP), LINUX_NSIG)
#: STOL[solaris signo] = Linux signo (index 0..73; 0 for 0 and for Solaris-only signals).
STOL: tuple[int, ...] = _index(((s, l) for _, l, _, s in SIGNAL_MAP), SOLARIS_NSIG)

LINUX_SIGNAMES: dict[int, str] = {l: ln for ln, l, _, _ in sorted(SIGNAL_MAP, key=lambda r: r[1]) if l}
SOLARIS_SIGNAMES: dict[int, str] = {s: sn for _, _, sn, s in sorted(SIGNAL_MAP, key=lambda r: r[3])}

LINUX_SIGNALS: dict[str, int] = {**{v: k for k, v in LINUX_SIGNAMES.items()}, **LINUX_ALIASES}
SOLARIS_SIGNALS: dict[str, int] = {**{v: k for k, v in SOLARIS_SIGNAMES.items()}, **SOLARIS_ALIASES}


def ltos(sig: int) -> int:
    """Solaris number of Linux signal `sig` (0 for 0 or out of range)."""
    return LTOS[sig] if 0 <= sig < LINUX_NSIG else 0


def stol(sig: int) -> int:
    """Linux number of Solaris signal `sig` (0 for 0, Solaris-only signals, or out of range)."""
    return STOL[sig] if 0 <= sig < SOLARIS_NSIG else 0


def linux_name(sig: int) -> str:
    """Canonical Linux name of `sig` ("SIGUSR1", "SIGRTMIN+3"), or its number as text if none."""
    return LINUX_SIGNAMES.get(sig, str(sig))


def solaris_name(sig: int) -> str:
    """Canonical illumos name of `sig` ("SIGUSR1", "SIGJVM2"), or its number as text if none."""
    return SOLARIS_SIGNAMES.get(sig, str(sig))


def linux_signo(name: str) -> int:
    """Linux number of a signal name ("SIGUSR1", "USR1", "SIGRTMIN+3", "SIGRT_3"); KeyError if unknown."""
    return LINUX_SIGNALS[name if name.startswith("SIG") else "SIG" + name]


def solaris_signo(name: str) -> int:
    """Solaris number of a signal name; KeyError if unknown."""
    return SOLARIS_SIGNALS[name if name.startswith("SIG") else "SIG" + name]


LinuxSig = IntEnum(  # type: ignore[misc]
    "LinuxSig",
    [(n, v) for n, v in sorted(LINUX_SIGNALS.items(), key=lambda kv: kv[1]) if n.isidentifier()],
    module=__name__,
)
LinuxSig.__doc__ = "Linux signal numbers (kernel numbering) under their identifier-shaped names."

SolarisSig = IntEnum(  # type: ignore[misc]
    "SolarisSig",
    [(n, v) for n, v in sorted(SOLARIS_SIGNALS.items(), key=lambda kv: kv[1]) if n.isidentifier()],
    module=__name__,
)
SolarisSig.__doc__ = "illumos signal numbers under their identifier-shaped names."

# ---------------------------------------------------------------------------------------------
# si_code values.  Key None = generic codes (any signal); else the Linux / Solaris signo.
# ---------------------------------------------------------------------------------------------

# Linux: <asm-generic/siginfo.h> (x86 values).
LINUX_SI_CODES: dict[int | None, dict[str, int]] = {
    None: {
        "SI_USER": 0,  # kill, sigsend, raise
        "SI_KERNEL": 0x80,  # sent by the kernel (x86: int3 SIGTRAP, #GP SIGSEGV, ...)
        "SI_QUEUE": -1,
        "SI_TIMER": -2,
        "SI_MESGQ": -3,
        "SI_ASYNCIO": -4,
        "SI_SIGIO": -5,
        "SI_TKILL": -6,  # tkill / tgkill
        "SI_DETHREAD": -7,  # execve killing subsidiary threads
        "SI_ASYNCNL": -60,  # glibc async name lookup completion
    },
    4: {  # SIGILL
        "ILL_ILLOPC": 1,
        "ILL_ILLOPN": 2,
        "ILL_ILLADR": 3,
        "ILL_ILLTRP": 4,
        "ILL_PRVOPC": 5,
        "ILL_PRVREG": 6,
        "ILL_COPROC": 7,
        "ILL_BADSTK": 8,
        "ILL_BADIADDR": 9,
    },
    5: {  # SIGTRAP
        "TRAP_BRKPT": 1,
        "TRAP_TRACE": 2,
        "TRAP_BRANCH": 3,
        "TRAP_HWBKPT": 4,
        "TRAP_UNK": 5,
        "TRAP_PERF": 6,
    },
    7: {  # SIGBUS
        "BUS_ADRALN": 1,
        "BUS_ADRERR": 2,
        "BUS_OBJERR": 3,
        "BUS_MCEERR_AR": 4,
        "BUS_MCEERR_AO": 5,
    },
    8: {  # SIGFPE
        "FPE_INTDIV": 1,
        "FPE_INTOVF": 2,
        "FPE_FLTDIV": 3,
        "FPE_FLTOVF": 4,
        "FPE_FLTUND": 5,
        "FPE_FLTRES": 6,
        "FPE_FLTINV": 7,
        "FPE_FLTSUB": 8,
        "FPE_FLTUNK": 14,
        "FPE_CONDTRAP": 15,
    },
    11: {  # SIGSEGV
        "SEGV_MAPERR": 1,
        "SEGV_ACCERR": 2,
        "SEGV_BNDERR": 3,
        "SEGV_PKUERR": 4,
        "SEGV_ACCADI": 5,
        "SEGV_ADIDERR": 6,
        "SEGV_ADIPERR": 7,
        "SEGV_MTEAERR": 8,
        "SEGV_MTESERR": 9,
    },
    17: {  # SIGCHLD
        "CLD_EXITED": 1,
        "CLD_KILLED": 2,
        "CLD_DUMPED": 3,
        "CLD_TRAPPED": 4,
        "CLD_STOPPED": 5,
        "CLD_CONTINUED": 6,
    },
    29: {  # SIGPOLL / SIGIO
        "POLL_IN": 1,
        "POLL_OUT": 2,
        "POLL_MSG": 3,
        "POLL_ERR": 4,
        "POLL_PRI": 5,
        "POLL_HUP": 6,
    },
    31: {  # SIGSYS
        "SYS_SECCOMP": 1,
        "SYS_USER_DISPATCH": 2,
    },
}

# illumos: sys/siginfo.h (generic, SIGTRAP, SIGCHLD, SIGPOLL, SIGPROF), intel/sys/machsig.h (rest).
SOLARIS_SI_CODES: dict[int | None, dict[str, int]] = {
    None: {
        "SI_USER": 0,
        "SI_LWP": -1,  # _lwp_kill (the Linux tkill analogue)
        "SI_QUEUE": -2,
        "SI_TIMER": -3,
        "SI_ASYNCIO": -4,
        "SI_MESGQ": -5,
        "SI_RCTL": 2049,
        "SI_DTRACE": 2050,
        "SI_NOINFO": 32767,  # no information
    },
    4: {  # SIGILL
        "ILL_ILLOPC": 1,
        "ILL_ILLOPN": 2,
        "ILL_ILLADR": 3,
        "ILL_ILLTRP": 4,
        "ILL_PRVOPC": 5,
        "ILL_PRVREG": 6,
        "ILL_COPROC": 7,
        "ILL_BADSTK": 8,
    },
    5: {  # SIGTRAP
        "TRAP_BRKPT": 1,
        "TRAP_TRACE": 2,
        "TRAP_RWATCH": 3,
        "TRAP_WWATCH": 4,
        "TRAP_XWATCH": 5,
        "TRAP_DTRACE": 6,
    },
    7: {"EMT_CPCOVF": 1},  # SIGEMT
    8: {  # SIGFPE
        "FPE_INTDIV": 1,
        "FPE_INTOVF": 2,
        "FPE_FLTDIV": 3,
        "FPE_FLTOVF": 4,
        "FPE_FLTUND": 5,
        "FPE_FLTRES": 6,
        "FPE_FLTINV": 7,
        "FPE_FLTSUB": 8,
        "FPE_FLTDEN": 9,
    },
    10: {  # SIGBUS
        "BUS_ADRALN": 1,
        "BUS_ADRERR": 2,
        "BUS_OBJERR": 3,
    },
    11: {  # SIGSEGV
        "SEGV_MAPERR": 1,
        "SEGV_ACCERR": 2,
    },
    18: {  # SIGCHLD
        "CLD_EXITED": 1,
        "CLD_KILLED": 2,
        "CLD_DUMPED": 3,
        "CLD_TRAPPED": 4,
        "CLD_STOPPED": 5,
        "CLD_CONTINUED": 6,
    },
    22: {  # SIGPOLL
        "POLL_IN": 1,
        "POLL_OUT": 2,
        "POLL_MSG": 3,
        "POLL_ERR": 4,
        "POLL_PRI": 5,
        "POLL_HUP": 6,
    },
    29: {"PROF_SIG": 1},  # SIGPROF
}

#: (signo or None, value) -> name, derived.
LINUX_SI_CODE_NAMES: dict[int | None, dict[int, str]] = {
    k: {v: n for n, v in d.items()} for k, d in LINUX_SI_CODES.items()
}
SOLARIS_SI_CODE_NAMES: dict[int | None, dict[int, str]] = {
    k: {v: n for n, v in d.items()} for k, d in SOLARIS_SI_CODES.items()
}

#: The generic codes paired by meaning, (linux name, solaris name).  Codes with no counterpart
#: are absent (Linux SI_KERNEL / SI_SIGIO / SI_DETHREAD / SI_ASYNCNL; Solaris SI_RCTL /
#: SI_DTRACE / SI_NOINFO); the caller picks a fallback.
SI_CODE_GENERIC_MAP: tuple[tuple[str, str], ...] = (
    ("SI_USER", "SI_USER"),
    ("SI_TKILL", "SI_LWP"),
    ("SI_QUEUE", "SI_QUEUE"),
    ("SI_TIMER", "SI_TIMER"),
    ("SI_MESGQ", "SI_MESGQ"),
    ("SI_ASYNCIO", "SI_ASYNCIO"),
)
LINUX_TO_SOLARIS_SI_GENERIC: dict[int, int] = {
    LINUX_SI_CODES[None][l]: SOLARIS_SI_CODES[None][s] for l, s in SI_CODE_GENERIC_MAP
}
SOLARIS_TO_LINUX_SI_GENERIC: dict[int, int] = {v: k for k, v in LINUX_TO_SOLARIS_SI_GENERIC.items()}


def _flat(tables: dict[int | None, dict[str, int]]) -> SimpleNamespace:
    out: dict[str, int] = {}
    for d in tables.values():
        out.update(d)
    return SimpleNamespace(**out)


#: Every Linux si_code name as an attribute (`LinuxSi.TRAP_HWBKPT == 4`).  Not an enum on
#: purpose: values repeat across signals, and an enum would turn TRAP_BRKPT into ILL_ILLOPC.
LinuxSi = _flat(LINUX_SI_CODES)
#: Every illumos si_code name as an attribute (`SolarisSi.SI_LWP == -1`).
SolarisSi = _flat(SOLARIS_SI_CODES)
