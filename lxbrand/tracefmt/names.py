"""Names as strace prints them: signals, errnos, si_code values, and flag sets."""

from __future__ import annotations

import errno
import os

from structs.signals import linux_name

__all__ = ["signame", "errname", "flags", "SIGNUMS", "KERNEL_ERRNOS"]


def signame(sig: int) -> str:
    """strace's signal name: SIGHUP..SIGSYS, SIGRTMIN for 32, SIGRT_n for 32+n."""
    if 0 < sig < 32:
        return linux_name(sig)
    if sig == 32:
        return "SIGRTMIN"
    if 32 < sig <= 64:
        return f"SIGRT_{sig - 32}"
    return str(sig)


#: name -> number (for -e signal=): every strace name, and the usual aliases
SIGNUMS: dict[str, int] = {signame(s): s for s in range(1, 65)}
SIGNUMS.update({"SIGIOT": 6, "SIGPOLL": 29, "SIGCLD": 17})

#: Kernel-internal errnos a tracer sees at syscall exit (not in Python's errno module).
KERNEL_ERRNOS: dict[int, tuple[str, str]] = {
    512: ("ERESTARTSYS", "To be restarted if SA_RESTART is set"),
    513: ("ERESTARTNOINTR", "To be restarted"),
    514: ("ERESTARTNOHAND", "To be restarted if no handler"),
    515: ("ENOIOCTLCMD", "No ioctl command"),
    516: ("ERESTART_RESTARTBLOCK", "Interrupted by signal"),
}
_ERRNO_NAMES = {**errno.errorcode, errno.EDEADLK: "EDEADLK", errno.EOPNOTSUPP: "EOPNOTSUPP",
                errno.EAGAIN: "EAGAIN", errno.ENOTSUP: "EOPNOTSUPP"}


def errname(e: int) -> str:
    """The text after `= ` for a failed call returning -e: `-1 ENOENT (No such file ...)`."""
    if e in KERNEL_ERRNOS:
        name, msg = KERNEL_ERRNOS[e]
        return f"? {name} ({msg})"
    return f"-1 {_ERRNO_NAMES.get(e, f'E?{e}')} ({os.strerror(e)})"


def flags(v: int, table: tuple[tuple[int, str], ...], zero: str = "0") -> str:
    """`v` as strace prints a flag set: known names in table order, then the rest in hex."""
    if v == 0:
        return zero
    names, rest = [], v
    for bit, name in table:
        if bit and rest & bit == bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append(hex(rest))
    return "|".join(names)
