"""The Linux x86 user area: `user_regs_struct`, the FPU images and `struct user`, for amd64 and i386.

What this module promises:

* Each layout is the one glibc's ``<sys/user.h>`` declares for that ABI (member names and C types,
  signedness included), built as a construct schema; the dicts are keyed by ABI name
  (``USER["amd64"]``, ``USER["i386"]``).  ``tests/test_linux_layouts.py`` checks every member's
  offset, size and signedness against ``gcc -m64`` and ``gcc -m32``.
* ``USER["amd64"]`` is the *kernel's* ``struct user`` (arch/x86/include/asm/user_64.h): 928 bytes,
  ending in ``error_code``@912 and ``fault_address``@920.  glibc's declaration stops at 912
  (``GLIBC_USER_SIZE["amd64"]``).  PEEKUSER/POKEUSER bounds are the kernel's, i.e.
  ``sizeof(USER[abi])``.  On i386 both declarations end at 284.
* ``build(parse(b)) == b`` for any bytes of the right size: compiler padding is an explicit raw
  ``_pad<offset>`` member, ``u_comm`` is raw bytes, and the amd64 ``u_ar0``/``u_fpstate`` unions
  (pointer / 64-bit word) are one unsigned word each.

The amd64 and i386 register and FPU structures are different C declarations (not one shape in two
data models), so they are written separately; ``struct user`` itself is one shape built for both.
"""

from __future__ import annotations

from construct import Struct

from .fields import offsetof, sizeof
from .layout import AMD64, I386, MODELS, DataModel, array, raw, struct

__all__ = [
    "USER_REGS",
    "USER_FPREGS",
    "USER_FPXREGS",
    "USER",
    "GLIBC_USER_SIZE",
    "AMD64_REG_NAMES",
    "I386_REG_NAMES",
]

AMD64_REG_NAMES: tuple[str, ...] = (
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
    "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
    "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
)  # fmt: skip
"""amd64 `user_regs_struct` members in order (word index = position)."""

I386_REG_NAMES: tuple[str, ...] = (
    "ebx", "ecx", "edx", "esi", "edi", "ebp", "eax", "xds", "xes", "xfs",
    "xgs", "orig_eax", "eip", "xcs", "eflags", "esp", "xss",
)  # fmt: skip
"""i386 `user_regs_struct` members in order (glibc names; the kernel spells them bx, cx, ...)."""


def _user_regs(m: DataModel) -> Struct:
    if m.lp64:
        return struct(*((n, m.ulong) for n in AMD64_REG_NAMES), size=216)
    # glibc declares the i386 registers `long int` (signed), as illumos's i386 greg_t is.
    return struct(*((n, m.long) for n in I386_REG_NAMES), size=68)


def _fxsave_amd64(m: DataModel) -> Struct:
    """amd64 `user_fpregs_struct`: the 512-byte fxsave image."""
    return struct(
        ("cwd", m.ushort),
        ("swd", m.ushort),
        ("ftw", m.ushort),
        ("fop", m.ushort),
        ("rip", m.ullong),
        ("rdp", m.ullong),
        ("mxcsr", m.uint),
        ("mxcr_mask", m.uint),
        ("st_space", array(m.uint, 32)),
        ("xmm_space", array(m.uint, 64)),
        ("padding", array(m.uint, 24)),
        size=512,
    )


def _fsave_i386(m: DataModel) -> Struct:
    """i386 `user_fpregs_struct` (the kernel's user_i387_struct): the 108-byte fsave image."""
    return struct(
        ("cwd", m.long),
        ("swd", m.long),
        ("twd", m.long),
        ("fip", m.long),
        ("fcs", m.long),
        ("foo", m.long),
        ("fos", m.long),
        ("st_space", array(m.long, 20)),
        size=108,
    )


def _fxsr_i386(m: DataModel) -> Struct:
    """i386 `user_fpxregs_struct` (the kernel's user_fxsr_struct): the 512-byte fxsave image."""
    return struct(
        ("cwd", m.ushort),
        ("swd", m.ushort),
        ("twd", m.ushort),
        ("fop", m.ushort),
        ("fip", m.long),
        ("fcs", m.long),
        ("foo", m.long),
        ("fos", m.long),
        ("mxcsr", m.long),
        ("reserved", m.long),
        ("st_space", array(m.long, 32)),
        ("xmm_space", array(m.long, 32)),
        ("padding", array(m.long, 56)),
        size=512,
    )


USER_REGS: dict[str, Struct] = {name: _user_regs(m) for name, m in MODELS.items()}
USER_FPREGS: dict[str, Struct] = {"amd64": _fxsave_amd64(AMD64), "i386": _fsave_i386(I386)}
USER_FPXREGS: dict[str, Struct] = {"i386": _fxsr_i386(I386)}


def _user(m: DataModel) -> Struct:
    fields = [
        ("regs", USER_REGS[m.name]),
        ("u_fpvalid", m.int),
        ("i387", USER_FPREGS[m.name]),
        ("u_tsize", m.ulong),
        ("u_dsize", m.ulong),
        ("u_ssize", m.ulong),
        ("start_code", m.ulong),
        ("start_stack", m.ulong),
        ("signal", m.long),
        ("reserved", m.int),
        ("u_ar0", m.ptr),
        ("u_fpstate", m.ptr),
        ("magic", m.ulong),
        ("u_comm", raw(32)),
        # unsigned long long on amd64, int on i386: so both glibc and the kernel declare it.
        ("u_debugreg", array(m.ulong if m.lp64 else m.int, 8)),
    ]
    if m.lp64:
        # The kernel's tail (arch/x86/include/asm/user_64.h), absent from glibc's <sys/user.h>.
        fields += [("error_code", m.ulong), ("fault_address", m.ulong)]
    return struct(*fields, size=928 if m.lp64 else 284)


USER: dict[str, Struct] = {name: _user(m) for name, m in MODELS.items()}

GLIBC_USER_SIZE: dict[str, int] = {
    "amd64": offsetof(USER["amd64"], "error_code"),
    "i386": sizeof(USER["i386"]),
}
"""sizeof(struct user) as glibc's <sys/user.h> declares it: the prefix of USER[abi] (912 / 284)."""

assert GLIBC_USER_SIZE == {"amd64": 912, "i386": 284}
