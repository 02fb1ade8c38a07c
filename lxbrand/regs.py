"""Linux user_regs_struct from an LWP's /proc status, and back (both caller ABIs).

The illumos gregset has no orig_rax: it is rebuilt from the syscall state procd reports
(`pr_nsysarg > 0` says the LWP is inside a call, `pr_syscall` which one; ARCHITECTURE item 4),
and -1 otherwise.  At a syscall-entry stop the kernel has already set rax to -ENOSYS, which the
gregset shows as is.
"""

from __future__ import annotations

import errno

from structs.codec import codec
from structs.fields import memberof
from structs.procfs import LWPSTATUS, PRGREGSET
from structs.regs import I386_LINUX_TO_AMD64_LINUX, LINUX_FLAG_MASK, LINUX_REG_INDEX, LINUX_TO_ILLUMOS, LINUX_USER_REGS
from structs.user_area import USER_REGS

_LWP = LWPSTATUS["amd64"]
_OFF_REG = memberof(_LWP, "pr_reg")[0]
_OFF_SYSCALL = memberof(_LWP, "pr_syscall")[0]
_OFF_WHY = memberof(_LWP, "pr_why")[0]
_GREGS = codec(PRGREGSET["amd64"]).struct
_SHORTS = __import__("struct").Struct("<hh")  # pr_syscall, pr_nsysarg (adjacent shorts)
_U64 = (1 << 64) - 1
_U32 = (1 << 32) - 1
_PAIRS = tuple((LINUX_REG_INDEX["amd64"][n], g) for n, g in LINUX_TO_ILLUMOS["amd64"].items() if g is not None)
_ORIG = LINUX_REG_INDEX["amd64"]["orig_rax"]
STRUCTS = {abi: codec(USER_REGS[abi]).struct for abi in ("amd64", "i386")}
SIZE = {abi: s.size for abi, s in STRUCTS.items()}
# i386 field i <- amd64 field index, in i386 order
_I386_FROM = tuple(LINUX_REG_INDEX["amd64"][I386_LINUX_TO_AMD64_LINUX[n]] for n in LINUX_USER_REGS["i386"])
_TASK_SIZE_MAX = 0x7FFFFFFFF000  # x86-64, 4-level paging: the first address user space cannot map
_SEGS = ("ds", "es", "fs", "gs")


def syscall_state(snapshot: bytes) -> int:
    """orig_rax as Linux shows it: the call number inside a system call, -1 elsewhere."""
    nr, nargs = _SHORTS.unpack_from(snapshot, _OFF_SYSCALL)
    return nr if nargs > 0 else -1


def linux_regs(snapshot: bytes) -> list[int]:
    """The amd64 user_regs_struct values (unsigned) of a stopped LWP's lwpstatus_t."""
    g = _GREGS.unpack_from(snapshot, _OFF_REG)
    lr = [0] * 27
    for li, gi in _PAIRS:
        lr[li] = g[gi] & _U64
    lr[_ORIG] = syscall_state(snapshot) & _U64
    return lr


def pack(abi: str, lr: list[int]) -> bytes:
    """The caller's user_regs_struct bytes (i386: the 32-bit view the compat path gives)."""
    if abi == "amd64":
        return STRUCTS["amd64"].pack(*lr)
    vals = []
    for i in _I386_FROM:
        v = lr[i] & _U32
        vals.append(v - (1 << 32) if v >> 31 else v)
    return STRUCTS["i386"].pack(*vals)


def unpack(abi: str, data: bytes, current: list[int]) -> list[int]:
    """amd64 register values from the caller's struct, over `current` (i386 leaves r8..r15)."""
    if abi == "amd64":
        return [v & _U64 for v in STRUCTS["amd64"].unpack(data)]
    lr = list(current)
    for v, i in zip(STRUCTS["i386"].unpack(data), _I386_FROM):
        lr[i] = v & _U32 if i != _ORIG else (v if v < 0 else v & _U32)
    return lr


def check(new: list[int], old: list[int]) -> list[int]:
    """Linux's putreg rules: EIO for a selector without RPL 3 (cs/ss) or a bad data selector, a
    base beyond user space; eflags keeps the bits the tracer may not change."""
    idx = LINUX_REG_INDEX["amd64"]
    for name in ("cs", "ss"):
        if new[idx[name]] & 3 != 3 or new[idx[name]] >> 16:
            raise OSError(errno.EIO, f"invalid {name} selector")
    for name in _SEGS:
        v = new[idx[name]]
        if v >> 16 or (v and v & 3 != 3):
            raise OSError(errno.EIO, f"invalid {name} selector")
    for name in ("fs_base", "gs_base"):
        if new[idx[name]] >= _TASK_SIZE_MAX:
            raise OSError(errno.EIO, f"{name} outside user space")
    mask = LINUX_FLAG_MASK["amd64"]
    out = list(new)
    out[idx["eflags"]] = (old[idx["eflags"]] & ~mask) | (new[idx["eflags"]] & mask)
    return out


def to_gregs(lr: list[int], snapshot: bytes) -> list[int]:
    """The illumos gregset for PCSREG: the LWP's current one with the Linux values written over."""
    g = list(_GREGS.unpack_from(snapshot, _OFF_REG))
    for li, gi in _PAIRS:
        v = lr[li] & _U64
        g[gi] = v - (1 << 64) if v >> 63 else v
    return g


def why_what(snapshot: bytes) -> tuple[int, int]:
    return _SHORTS.unpack_from(snapshot, _OFF_WHY)
