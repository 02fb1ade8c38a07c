"""Linux user_regs_struct <-> illumos gregset (prgregset_t), driven by structs.regs tables.

Python readers are LP64 (ARCHITECTURE item 3), so every target's registers are shown in the amd64
gregset; a 32-bit target's registers arrive from the host already widened (upper halves zero).
"""

from __future__ import annotations

from structs.codec import codec
from structs.procfs import PRGREGSET
from structs.regs import ILLUMOS_I386_TO_AMD64, ILLUMOS_REG_INDEX, LINUX_FLAG_MASK, LINUX_REG_INDEX, LINUX_TO_ILLUMOS, NPRGREG

from structs.user_area import USER_REGS

_LREGS = codec(USER_REGS["amd64"]).struct
_GREGS64 = codec(PRGREGSET["amd64"]).struct
_U64 = (1 << 64) - 1

# (illumos index, Linux index) pairs for amd64: the copy plan in both directions.
_PAIRS = tuple(
    (g, LINUX_REG_INDEX["amd64"][name]) for name, g in LINUX_TO_ILLUMOS["amd64"].items() if g is not None
)
_TRAPNO = ILLUMOS_REG_INDEX["amd64"]["REG_TRAPNO"]
_ERR = ILLUMOS_REG_INDEX["amd64"]["REG_ERR"]
_RFL = ILLUMOS_REG_INDEX["amd64"]["REG_RFL"]
RIP = ILLUMOS_REG_INDEX["amd64"]["REG_RIP"]
_L_EFLAGS = LINUX_REG_INDEX["amd64"]["eflags"]
_FLAG_MASK = LINUX_FLAG_MASK["amd64"]
NGREG = NPRGREG["amd64"]


def signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def to_gregs(linux_regs: bytes) -> list[int]:
    """The amd64 illumos gregset (28 greg_t, signed) of a Linux user_regs_struct."""
    lr = _LREGS.unpack(linux_regs)
    g = [0] * NGREG
    for gi, li in _PAIRS:
        g[gi] = signed(lr[li])
    return g


def from_gregs(gregs: list[int], linux_regs: bytes) -> bytes:
    """A Linux user_regs_struct with the gregset's values written over `linux_regs`.

    What the gregset has no slot for (orig_rax) is kept and only the user-modifiable eflags bits
    change, as PCSREG promises; selectors go to the host as given (it refuses bad ones: EIO).
    """
    lr = list(_LREGS.unpack(linux_regs))
    old_flags = lr[_L_EFLAGS]
    for gi, li in _PAIRS:
        lr[li] = gregs[gi] & _U64
    lr[_L_EFLAGS] = (old_flags & ~_FLAG_MASK) | (gregs[_RFL] & _FLAG_MASK)
    return _LREGS.pack(*lr)


def narrow_i386(g: list[int]) -> list[int]:
    """The i386 gregset (19 greg_t) of a 32-bit process from its amd64 view (ESP, the trap
    frame's own copy, has no source and reads 0)."""
    out = [0] * len(ILLUMOS_I386_TO_AMD64)
    for i, a in ILLUMOS_I386_TO_AMD64.items():
        if a is not None:
            v = g[a] & 0xFFFFFFFF
            out[i] = v - (1 << 32) if v >> 31 else v
    return out


def widen_i386(values: list[int], current: list[int]) -> list[int]:
    """An amd64 gregset with an i386 gregset's values written over `current` (zero-extended)."""
    g = list(current)
    for i, a in ILLUMOS_I386_TO_AMD64.items():
        if a is not None:
            g[a] = values[i] & 0xFFFFFFFF
    return g


def pack_gregs(gregs: list[int]) -> bytes:
    return _GREGS64.pack(*gregs)


def unpack_gregs(data: bytes) -> list[int]:
    return list(_GREGS64.unpack(data))
