"""The BSD ptrace(2)/procfs ABI: FreeBSD x86 `struct reg`, `struct fpreg`, `struct dbreg`,
`struct ptrace_io_desc`, the PT_* and PIOD_* numbers, and the FreeBSD signal numbers.

What this module promises:

* `REG`, `FPREG`, `DBREG`, `PTRACE_IO_DESC` are keyed by ABI ("amd64", "i386") and laid out as
  FreeBSD's `sys/x86/include/reg.h` (`__reg64`/`__reg32`, `__fpreg64`/`__fpreg32`,
  `__dbreg64`/`__dbreg32`) and `sys/sys/ptrace.h` declare them; `tests/test_bsd_layouts.py`
  checks every size and offset against the numbers worked out from those headers (cited there).
* `PT`, `PIOD`: the request and operation numbers of `sys/sys/ptrace.h` (DragonFly's and
  FreeBSD's agree on every request seed 002 implements).
* `BSD_SIGNALS`: FreeBSD `<sys/signal.h>` names and numbers, and the two directions to Solaris
  numbers (`btos`, `stob`), mapped by name as structs.signals maps Linux's.
No behaviour lives here.
"""

from __future__ import annotations

from enum import IntEnum

from construct import Struct

from .layout import AMD64, I386, DataModel, array, struct
from .signals import SOLARIS_SIGNALS, SOLARIS_SIGRTMIN

__all__ = ["PT", "PIOD", "REG", "FPREG", "DBREG", "PTRACE_IO_DESC", "REG_NAMES", "BSD_SIGNALS",
           "BSD_SIGNAMES", "BSD_SIG_MAXSIG", "btos", "stob", "bsd_signo", "VM_MAXUSER_ADDRESS"]


class PT(IntEnum):
    """ptrace(2) requests (sys/sys/ptrace.h)."""

    TRACE_ME = 0
    READ_I = 1
    READ_D = 2
    WRITE_I = 4
    WRITE_D = 5
    CONTINUE = 7
    KILL = 8
    STEP = 9
    ATTACH = 10
    DETACH = 11
    IO = 12
    GETREGS = 33
    SETREGS = 34
    GETFPREGS = 35
    SETFPREGS = 36
    GETDBREGS = 37
    SETDBREGS = 38


class PIOD(IntEnum):
    """`ptrace_io_desc.piod_op` values."""

    READ_D = 1
    WRITE_D = 2
    READ_I = 3
    WRITE_I = 4


#: Member names of `struct reg` in declaration order, per ABI.
REG_NAMES: dict[str, tuple[str, ...]] = {
    "amd64": ("r_r15", "r_r14", "r_r13", "r_r12", "r_r11", "r_r10", "r_r9", "r_r8", "r_rdi",
              "r_rsi", "r_rbp", "r_rbx", "r_rdx", "r_rcx", "r_rax", "r_trapno", "r_fs", "r_gs",
              "r_err", "r_es", "r_ds", "r_rip", "r_cs", "r_rflags", "r_rsp", "r_ss"),
    "i386": ("r_fs", "r_es", "r_ds", "r_edi", "r_esi", "r_ebp", "r_isp", "r_ebx", "r_edx",
             "r_ecx", "r_eax", "r_trapno", "r_err", "r_eip", "r_cs", "r_eflags", "r_esp",
             "r_ss", "r_gs"),
}  # fmt: skip

# amd64 members that are not __int64_t
_REG64_NARROW = {"r_trapno": "uint32", "r_err": "uint32", "r_fs": "uint16", "r_gs": "uint16",
                 "r_es": "uint16", "r_ds": "uint16"}


def _reg(m: DataModel) -> Struct:
    if m.lp64:
        return struct(*((n, getattr(m, _REG64_NARROW.get(n, "int64"))) for n in REG_NAMES["amd64"]),
                      size=176)
    return struct(*((n, m.uint32) for n in REG_NAMES["i386"]), size=76)


def _fpreg(m: DataModel) -> Struct:
    if m.lp64:  # the fxsave image, named as FreeBSD names its parts
        return struct(("fpr_env", array(m.uint64, 4)), ("fpr_acc", array(array(m.uint8, 16), 8)),
                      ("fpr_xacc", array(array(m.uint8, 16), 16)), ("fpr_spare", array(m.uint64, 12)),
                      size=512)
    # the i387 fsave image, then the exception status word and padding
    return struct(("fpr_env", array(m.uint32, 7)), ("fpr_acc", array(array(m.uint8, 10), 8)),
                  ("fpr_ex_sw", m.uint32), ("fpr_pad", array(m.uint8, 64)), size=176)


def _dbreg(m: DataModel) -> Struct:
    return struct(("dr", array(m.uint64 if m.lp64 else m.uint32, 16 if m.lp64 else 8)),
                  size=128 if m.lp64 else 32)


def _io_desc(m: DataModel) -> Struct:
    return struct(("piod_op", m.int), ("piod_offs", m.ptr), ("piod_addr", m.ptr), ("piod_len", m.size_t))


REG = {m.name: _reg(m) for m in (AMD64, I386)}
FPREG = {m.name: _fpreg(m) for m in (AMD64, I386)}
DBREG = {m.name: _dbreg(m) for m in (AMD64, I386)}
PTRACE_IO_DESC = {m.name: _io_desc(m) for m in (AMD64, I386)}

#: FreeBSD amd64 `VM_MAXUSER_ADDRESS` (4-level paging): procfs_domem transfers nothing at or
#: above it (a read there is end-of-file, not a fault).
VM_MAXUSER_ADDRESS = 0x0000800000000000

# FreeBSD <sys/signal.h>: 1..33 by name, then the real-time range SIGRTMIN 65 .. SIGRTMAX 126.
_NAMED = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGEMT", "SIGFPE",
          "SIGKILL", "SIGBUS", "SIGSEGV", "SIGSYS", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGURG",
          "SIGSTOP", "SIGTSTP", "SIGCONT", "SIGCHLD", "SIGTTIN", "SIGTTOU", "SIGIO", "SIGXCPU",
          "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGINFO", "SIGUSR1", "SIGUSR2",
          "SIGTHR", "SIGLIBRT")  # fmt: skip
BSD_SIGRTMIN, BSD_SIGRTMAX = 65, 126
#: `_SIG_MAXSIG`: kern_ptrace refuses a resume signal above it (EINVAL).
BSD_SIG_MAXSIG = 128
BSD_SIGNAMES: dict[int, str] = {i + 1: n for i, n in enumerate(_NAMED)}
BSD_SIGNAMES.update({BSD_SIGRTMIN + n: f"SIGRTMIN+{n}" if n else "SIGRTMIN" for n in range(32)})
# NON-BSD: signals a Linux process can receive that FreeBSD has no number for, given numbers
# from the unused top of the real-time range so that a stop on one can still be reported.
_LINUX_ONLY = {"SIGPWR": 124, "SIGJVM1": 125, "SIGJVM2": 126}  # SIGPWR, SIGSTKFLT, Linux SIGRTMAX
BSD_SIGNAMES.update({v: k for k, v in _LINUX_ONLY.items()})
BSD_SIGNALS: dict[str, int] = {v: k for k, v in BSD_SIGNAMES.items()}
BSD_SIGNALS.update({"SIGIOT": 6, "SIGPOLL": 23, "SIGLWP": 32})  # <sys/signal.h> aliases


def _solaris(name: str, n: int) -> int:
    if n >= BSD_SIGRTMIN and n - BSD_SIGRTMIN < 32 and name.startswith("SIGRTMIN"):
        return SOLARIS_SIGRTMIN + n - BSD_SIGRTMIN
    return SOLARIS_SIGNALS.get(name, 0)


_BTOS = {n: _solaris(name, n) for n, name in BSD_SIGNAMES.items()}
_STOB = {s: b for b, s in _BTOS.items() if s}


def btos(sig: int) -> int:
    """Solaris number of BSD signal `sig` (0 for 0 and for BSD signals Solaris cannot name)."""
    return _BTOS.get(sig, 0)


def stob(sig: int) -> int:
    """BSD number of Solaris signal `sig` (0 for 0 or when there is none)."""
    return _STOB.get(sig, 0)


def bsd_signo(name: str) -> int:
    """BSD number of a signal name ("hup", "SIGHUP", "HUP"); KeyError if unknown."""
    up = name.upper()
    return BSD_SIGNALS[up if up.startswith("SIG") else "SIG" + up]
