"""Linux siginfo_t <-> illumos siginfo_t, for PTRACE_GETSIGINFO / SETSIGINFO (amd64 layouts).

Both directions are driven by tables:

* signal numbers through `stol` / `ltos`;
* generic si_codes (<= 0: sent by a process) through SOLARIS_TO_LINUX_SI_GENERIC and back; a
  Solaris generic code with no Linux counterpart (SI_NOINFO, SI_RCTL, SI_DTRACE) becomes
  SI_KERNEL;
* per-signal codes through `_TRAP_TO_LINUX` (SIGTRAP: what the x86 kernel reports, checked on the
  host: int3 is SI_KERNEL with no fields, a single step TRAP_TRACE and a hardware watchpoint
  TRAP_HWBKPT, both with si_addr = the pc), and otherwise kept (the fault, CLD and POLL codes
  have the same values on both sides);
* the union arm by the kind of code: `_ARMS` names, per arm, (Linux offset, Solaris offset,
  size) for every field the two share.
"""

from __future__ import annotations

import struct

from structs.signals import LINUX_TO_SOLARIS_SI_GENERIC, SOLARIS_TO_LINUX_SI_GENERIC, ltos, stol

__all__ = ["to_linux", "from_linux", "to_compat", "from_compat", "trap", "SIZE"]

SIZE = 128  # Linux siginfo_t
_SOL_SIZE = 256  # illumos amd64 siginfo_t
_HEAD_L = struct.Struct("<iii")  # si_signo, si_errno, si_code
_HEAD_S = struct.Struct("<iii")  # si_signo, si_code, si_errno
_SI_KERNEL = 0x80
_SI_USER = 0
_SIGTRAP, _SIGCHLD, _SIGPOLL = 5, 17, 29
_FAULT_SIGNALS = frozenset({4, 7, 8, 11})  # SIGILL SIGBUS SIGFPE SIGSEGV (Linux numbers)

# (Linux offset, Solaris offset, size) of the fields each arm shares (amd64).
_ARMS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "kill": ((16, 16, 4), (20, 24, 4), (24, 32, 8)),  # si_pid, si_uid, si_value
    "fault": ((16, 16, 8),),  # si_addr
    "chld": ((16, 16, 4), (24, 32, 4), (32, 24, 8), (40, 40, 8)),  # pid, status, utime, stime
    "poll": ((16, 24, 8), (24, 16, 4)),  # si_band, si_fd
    "none": (),
}

# Solaris SIGTRAP code -> (Linux code, si_addr is the pc?)
_TRAP_TO_LINUX: dict[int, tuple[int, bool]] = {
    1: (_SI_KERNEL, False),  # TRAP_BRKPT (int3): Linux's do_int3 sends SI_KERNEL, no address
    # (TRAP_BRKPT with si_trapno FLTTRACE is a step over a syscall: Linux's own TRAP_BRKPT)
    2: (2, True),  # TRAP_TRACE (single step)
    3: (4, True),  # TRAP_RWATCH -> TRAP_HWBKPT
    4: (4, True),  # TRAP_WWATCH -> TRAP_HWBKPT
    5: (4, True),  # TRAP_XWATCH -> TRAP_HWBKPT
}
# Linux SIGTRAP code -> Solaris code, for SETSIGINFO
_TRAP_TO_SOLARIS: dict[int, int] = {_SI_KERNEL: 1, 1: 1, 2: 2, 4: 4}
# Solaris FPE_FLTDEN has no Linux code of its own.
_FPE_TO_LINUX = {9: 14}  # FPE_FLTDEN -> FPE_FLTUNK
_FPE_TO_SOLARIS = {14: 9}


_FLTTRACE = 4


def _trapno(sol: bytes) -> int:
    """The fault arm's si_trapno (the FLT the trap was; procd fills it from the host's code)."""
    return struct.unpack_from("<i", sol, 24)[0] if len(sol) >= 28 else 0


def _arm(lsig: int, lcode: int) -> str:
    if lcode <= 0:
        return "kill"
    if lcode == _SI_KERNEL:
        return "none"
    if lsig in _FAULT_SIGNALS or lsig == _SIGTRAP:
        return "fault"
    if lsig == _SIGCHLD:
        return "chld"
    if lsig == _SIGPOLL:
        return "poll"
    return "none"


def _move(dst: bytearray, src: bytes, arm: str, to_linux: bool) -> None:
    for loff, soff, n in _ARMS[arm]:
        if to_linux:
            dst[loff:loff + n] = src[soff:soff + n]
        else:
            dst[soff:soff + n] = src[loff:loff + n]


def to_linux(sol: bytes, pc: int = 0) -> bytes:
    """The Linux siginfo_t (128 bytes) of an illumos siginfo_t (e.g. lwpstatus pr_info); `pc`
    is the stopped LWP's pc, which Linux reports as si_addr of single-step and watchpoint traps."""
    ssig, scode, serr = _HEAD_S.unpack_from(sol)
    lsig = stol(ssig) if ssig else 0
    pc_addr = False
    if scode <= 0 or scode > 0x7FF:  # generic: sent by a process, or kernel-internal
        lcode = SOLARIS_TO_LINUX_SI_GENERIC.get(scode, _SI_KERNEL)
    elif lsig == _SIGTRAP and scode == 1 and _trapno(sol) == _FLTTRACE:
        lcode, pc_addr = 1, True  # a step over a syscall instruction: Linux's TRAP_BRKPT, at the pc
    elif lsig == _SIGTRAP:
        lcode, pc_addr = _TRAP_TO_LINUX.get(scode, (scode, False))
    elif lsig == 8:
        lcode = _FPE_TO_LINUX.get(scode, scode)
    else:
        lcode = scode
    out = bytearray(SIZE)
    _HEAD_L.pack_into(out, 0, lsig, serr, lcode)
    _move(out, sol, _arm(lsig, lcode), True)
    if pc_addr:
        struct.pack_into("<Q", out, 16, pc & (1 << 64) - 1)
    return bytes(out)


def from_linux(lin: bytes) -> dict:
    """The illumos siginfo_t, as the PCSSIG operand, of a Linux siginfo_t (128 bytes)."""
    lsig, lerr, lcode = _HEAD_L.unpack_from(lin)
    ssig = ltos(lsig) if 0 < lsig < 65 else 0
    if lcode <= 0:
        scode = LINUX_TO_SOLARIS_SI_GENERIC.get(lcode, _SI_USER)
    elif lcode == _SI_KERNEL:
        scode = 1 if lsig == _SIGTRAP else 32767  # TRAP_BRKPT / SI_NOINFO
    elif lsig == _SIGTRAP:
        scode = _TRAP_TO_SOLARIS.get(lcode, lcode)
    elif lsig == 8:
        scode = _FPE_TO_SOLARIS.get(lcode, lcode)
    else:
        scode = lcode
    sol = bytearray(_SOL_SIZE)
    _move(sol, lin, _arm(lsig, lcode), False)
    return {"si_signo": ssig, "si_code": scode, "si_errno": lerr, "si_pad": 0, "__data": bytes(sol[16:])}


def trap(code: int, pid: int = 0, uid: int = 0) -> bytes:
    """The synthetic SIGTRAP siginfo Linux gives at ptrace stops it makes up itself: at a syscall
    stop si_code SIGTRAP (| 0x80 with TRACESYSGOOD) and at the legacy exec stop SI_USER, both
    kill-shaped from the tracee itself (si_pid = its pid, si_uid = its uid), as the host shows."""
    out = bytearray(SIZE)
    _HEAD_L.pack_into(out, 0, _SIGTRAP, 0, code)
    struct.pack_into("<iI", out, 16, pid, uid)
    return bytes(out)


# -- the compat siginfo_t an i386 caller sees ---------------------------------------------------

_SI_TIMER, _SI_SIGIO = -2, -5
# signal -> (highest si_code with a signal-specific layout, that layout)  (kernel sig_sicodes)
_SIG_CODES = {4: (11, "fault"), 8: (15, "fault"), 11: (10, "fault"), 7: (5, "fault"), 5: (6, "fault"),
              17: (6, "chld"), 29: (6, "poll"), 31: (2, "sys")}
_NSIGPOLL = 6
# layout -> fields (amd64 offset, i386 offset, bytes copied): compat narrows longs and pointers
# to their low 4 bytes.
_COMPAT_FIELDS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "kill": ((16, 12, 4), (20, 16, 4)),
    "timer": ((16, 12, 4), (20, 16, 4), (24, 20, 4)),
    "rt": ((16, 12, 4), (20, 16, 4), (24, 20, 4)),
    "poll": ((16, 12, 4), (24, 16, 4)),
    "fault": ((16, 12, 4),),
    "mceerr": ((16, 12, 4), (24, 16, 2)),
    "bnderr": ((16, 12, 4), (32, 20, 4), (40, 24, 4)),
    "pkuerr": ((16, 12, 4), (32, 20, 4)),
    "perf": ((16, 12, 4), (32, 20, 4), (40, 24, 4), (44, 28, 4)),
    "chld": ((16, 12, 4), (20, 16, 4), (24, 20, 4), (32, 24, 4), (40, 28, 4)),
    "sys": ((16, 12, 4), (24, 16, 4), (28, 20, 4)),
}


def _layout(sig: int, code: int) -> str:
    """The kernel's siginfo_layout()."""
    if 0 < code < _SI_KERNEL:
        limit, layout = _SIG_CODES.get(sig, (0, ""))
        if code <= limit:
            if sig == 7 and code in (4, 5):
                return "mceerr"  # BUS_MCEERR_AR / _AO
            if sig == 11 and code == 3:
                return "bnderr"
            if sig == 11 and code == 4:
                return "pkuerr"
            if sig == 5 and code == 6:
                return "perf"  # TRAP_PERF
            return layout
        return "poll" if code <= _NSIGPOLL else "kill"
    if code == _SI_TIMER:
        return "timer"
    if code == _SI_SIGIO:
        return "poll"
    return "rt" if code < 0 else "kill"


def to_compat(lin: bytes) -> bytes:
    """The i386 (compat_siginfo_t) form of an amd64 Linux siginfo_t, field by field as the
    kernel's copy_siginfo_to_external32 makes it for a 32-bit caller."""
    sig, err, code = struct.unpack_from("<iii", lin)
    out = bytearray(SIZE)
    struct.pack_into("<iii", out, 0, sig, err, code)
    for src, dst, n in _COMPAT_FIELDS[_layout(sig, code)]:
        out[dst:dst + n] = lin[src:src + n]
    return bytes(out)


def from_compat(c: bytes) -> bytes:
    """The amd64 Linux siginfo_t of an i386 caller's compat_siginfo_t (what the kernel's
    copy_siginfo_from_user32 makes of it); narrowed fields come back zero-extended."""
    sig, err, code = struct.unpack_from("<iii", c)
    out = bytearray(SIZE)
    struct.pack_into("<iii", out, 0, sig, err, code)
    for src, dst, n in _COMPAT_FIELDS[_layout(sig, code)]:
        out[src:src + n] = c[dst:dst + n]
    return bytes(out)
