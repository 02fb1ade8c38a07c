"""A Linux siginfo_t (PTRACE_GETSIGINFO's 128 bytes) as strace prints it on a `--- SIG ---` line."""

from __future__ import annotations

import struct

from .names import signame

__all__ = ["format_siginfo"]

_SI_CODES = {0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER", -3: "SI_MESGQ",
             -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL", -7: "SI_DETHREAD", -60: "SI_ASYNCNL"}
_FAULT_CODES = {
    4: ("ILL_ILLOPC", "ILL_ILLOPN", "ILL_ILLADR", "ILL_ILLTRP", "ILL_PRVOPC", "ILL_PRVREG",
        "ILL_COPROC", "ILL_BADSTK", "ILL_BADIADDR"),
    8: ("FPE_INTDIV", "FPE_INTOVF", "FPE_FLTDIV", "FPE_FLTOVF", "FPE_FLTUND", "FPE_FLTRES",
        "FPE_FLTINV", "FPE_FLTSUB", "FPE_FLTUNK", "FPE_CONDTRAP"),
    11: ("SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR", "SEGV_PKUERR", "SEGV_ACCADI", "SEGV_ADIDERR",
         "SEGV_ADIPERR", "SEGV_MTEAERR", "SEGV_MTESERR"),
    7: ("BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR", "BUS_MCEERR_AR", "BUS_MCEERR_AO"),
    5: ("TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH", "TRAP_HWBKPT", "TRAP_UNK", "TRAP_PERF"),
    17: ("CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "CLD_TRAPPED", "CLD_STOPPED", "CLD_CONTINUED"),
    29: ("POLL_IN", "POLL_OUT", "POLL_MSG", "POLL_ERR", "POLL_PRI", "POLL_HUP"),
    31: ("SYS_SECCOMP", "SYS_USER_DISPATCH"),
}


def _code(signo: int, code: int) -> tuple[str, bool]:
    """(the si_code name, whether the code is one of the signal's own kernel codes)."""
    if code > 0 and code != 0x80 and signo in _FAULT_CODES and code <= len(_FAULT_CODES[signo]):
        return _FAULT_CODES[signo][code - 1], True
    if code in _SI_CODES:
        return _SI_CODES[code], False
    return str(code), False


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _ptr(v: int) -> str:
    return "NULL" if v == 0 else hex(v)


def format_siginfo(raw: bytes, lp64: bool = True) -> str:
    """`{si_signo=SIGUSR1, si_code=SI_USER, si_pid=..., si_uid=...}` (strace 6.1's layout)."""
    signo, errno_, code = struct.unpack_from("<iii", raw, 0)
    u = 16 if lp64 else 12
    name, own = _code(signo, code)
    parts = [f"si_signo={signame(signo)}", f"si_code={name}"]
    if errno_:
        parts.append(f"si_errno={errno_}")
    pid, uid = struct.unpack_from("<iI", raw, u)
    if code in (0, -6):  # SI_USER, SI_TKILL: kill()/tgkill()
        parts += [f"si_pid={pid}", f"si_uid={uid}"]
    elif code in (-1, -3):  # SI_QUEUE, SI_MESGQ: sigqueue()
        val = struct.unpack_from("<Q" if lp64 else "<I", raw, u + 8)[0]
        parts += [f"si_pid={pid}", f"si_uid={uid}", f"si_int={_s32(val)}", f"si_ptr={_ptr(val)}"]
    elif code == -2:  # SI_TIMER
        tid, overrun = struct.unpack_from("<ii", raw, u)
        val = struct.unpack_from("<Q" if lp64 else "<I", raw, u + 8)[0]
        parts += [f"si_timerid={tid:#x}", f"si_overrun={overrun}",
                  f"si_int={val & 0xFFFFFFFF}", f"si_ptr={hex(val)}"]
    elif own and signo == 17:
        status = struct.unpack_from("<i", raw, u + 8)[0]
        if lp64:
            utime, stime = struct.unpack_from("<qq", raw, u + 16)
        else:
            utime, stime = struct.unpack_from("<ii", raw, u + 12)
        st = signame(status) if name in ("CLD_KILLED", "CLD_DUMPED") or (
            name in ("CLD_TRAPPED", "CLD_STOPPED") and 0 < status < 65) else str(status)
        parts += [f"si_pid={pid}", f"si_uid={uid}", f"si_status={st}", f"si_utime={utime}",
                  f"si_stime={stime}"]
    elif own and signo in (4, 5, 7, 8, 11):
        addr = struct.unpack_from("<Q" if lp64 else "<I", raw, u)[0]
        parts.append(f"si_addr={_ptr(addr)}")
    elif own and signo == 29:
        band, fd = struct.unpack_from("<qi" if lp64 else "<ii", raw, u)
        parts += [f"si_band={band}", f"si_fd={fd}"]
    elif own and signo == 31:
        addr = struct.unpack_from("<Q" if lp64 else "<I", raw, u)[0]
        sc, arch = struct.unpack_from("<iI", raw, u + (8 if lp64 else 4))
        parts += [f"si_call_addr={_ptr(addr)}", f"si_syscall={sc}", f"si_arch={arch:#x}"]
    return "{" + ", ".join(parts) + "}"
