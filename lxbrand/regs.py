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
_SELECTORS = frozenset({"cs", "ss", "ds", "es", "fs", "gs"})


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


def check(new: list[int], old: list[int]) -> tuple[list[int], OSError | None]:
    """Linux's putreg, field by field in user_regs_struct order: selectors are taken as 16 bits
    and must have RPL 3 (cs and ss must not be 0), bases must lie in user space, eflags keeps
    the bits a tracer may not change.  Like the kernel, it stops at the first bad field: the
    fields before it are written, and the error (EIO) is returned with them."""
    idx = LINUX_REG_INDEX["amd64"]
    names = LINUX_USER_REGS["amd64"]
    mask = LINUX_FLAG_MASK["amd64"]
    out = list(old)
    for i, name in enumerate(names):
        v = new[i]
        if name in _SELECTORS:
            v &= 0xFFFF
            if (v and v & 3 != 3) or (v == 0 and name in ("cs", "ss")):
                return out, OSError(errno.EIO, f"invalid {name} selector")
        elif name in ("fs_base", "gs_base"):
            if v >= _TASK_SIZE_MAX:
                return out, OSError(errno.EIO, f"{name} outside user space")
        elif name == "eflags":
            v = (old[idx["eflags"]] & ~mask) | (v & mask)
        out[i] = v
    return out, None


def to_gregs(lr: list[int], snapshot: bytes) -> list[int]:
    """The illumos gregset for PCSREG: the LWP's current one with the Linux values written over."""
    g = list(_GREGS.unpack_from(snapshot, _OFF_REG))
    for li, gi in _PAIRS:
        v = lr[li] & _U64
        g[gi] = v - (1 << 64) if v >> 63 else v
    return g


def why_what(snapshot: bytes) -> tuple[int, int]:
    return _SHORTS.unpack_from(snapshot, _OFF_WHY)
