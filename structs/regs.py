"""Register index tables of both systems and both ABIs, and the maps between them.

What this module promises
-------------------------
* `LINUX_USER_REGS[abi]` — the field order of Linux `struct user_regs_struct` (`<sys/user.h>`,
  also the NT_PRSTATUS regset and the start of `struct user`): field i is at byte i * word.
  amd64: 27 fields of 8 bytes; i386: 17 fields of 4 bytes.  `LINUX_REG_INDEX[abi][name]` is the
  reverse.
* `ILLUMOS_REGS[abi]` — illumos `REG_*` names by gregset index (`intel/sys/regset.h`): amd64
  NPRGREG = 28 (REG_R15 .. REG_GSBASE), i386 NPRGREG = 19 (GS .. SS; i386 names carry no REG_
  prefix).  `REG64` / `REG32` are the same as IntEnums, with the portable aliases
  (REG_PC, REG_SP, ... / R_PC, ...).
* `LINUX_TO_ILLUMOS[abi]` — THE map per ABI, one row per Linux field in Linux order:
  Linux field -> illumos gregset index of the same ABI, or None where illumos has no slot
  (orig_rax / orig_eax: the system-call number, which native_proc reports as pr_syscall and the
  PCXSETSYSNUM extension sets).  On i386, Linux `esp` is illumos `UESP` (17), not `ESP` (7, the
  pusha-slot copy).  Source: `/work/shared/reference/ptrace-emulations.md` §3.3 (illumos
  `lx_archdep.c`).  `ILLUMOS_TO_LINUX[abi]` is its reverse (illumos index -> Linux field; the
  illumos slots no Linux field reads — TRAPNO, ERR, and i386 ESP — are absent).
* `I386_LINUX_TO_AMD64_LINUX` — which amd64 user_regs_struct field holds each i386 field when a
  64-bit tracer looks at a 32-bit tracee (the kernel's compat `getreg32`/`putreg32`; PRoot's
  `convert_user_regs_index` is the same table).  `ILLUMOS_I386_TO_AMD64` — which amd64 gregset
  slot holds each i386 gregset slot (how illumos widens a `prgregset32_t`; ESP has none).
  `I386_IN_AMD64_GREGSET` — derived: i386 Linux field -> amd64 illumos index, i.e. where in the
  amd64 gregset that native_proc gives an LP64 client (ARCHITECTURE item 3) a 32-bit process's
  Linux register lives.  The tests check that both routes to it agree.
* eflags: `X86_EFLAGS` bit names; `LINUX_FLAG_MASK[abi-of-the-kernel]` — the bits a ptrace
  SETREGS/POKEUSER may change (Linux `arch/x86/kernel/ptrace.c`:
  `FLAG_MASK_32 = CF|PF|AF|ZF|SF|TF|DF|OF|RF|AC`, and on an x86-64 kernel
  `FLAG_MASK = FLAG_MASK_32 | NT`, which is what this machine uses for 64- AND 32-bit tracees,
  since the compat path calls the same set_flags()); `ILLUMOS_PSL_USERMASK` — the illumos
  equivalent (`intel/sys/psw.h`: PS_ICC|PS_D|PS_T|PS_V|PS_P|PS_ACHK|PS_NT — no RF).
* User segment selectors of an x86-64 Linux kernel: `USER_CS` 0x33, `USER_DS` 0x2b,
  `USER32_CS` 0x23, `USER32_DS` 0x2b (`arch/x86/include/asm/segment.h`).
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "ABIS",
    "WORD",
    "LINUX_USER_REGS",
    "LINUX_REG_INDEX",
    "ILLUMOS_REGS",
    "ILLUMOS_REG_INDEX",
    "NPRGREG",
    "REG64",
    "REG32",
    "LINUX_TO_ILLUMOS",
    "ILLUMOS_TO_LINUX",
    "LINUX_ORIG_SYSCALL",
    "I386_LINUX_TO_AMD64_LINUX",
    "ILLUMOS_I386_TO_AMD64",
    "I386_IN_AMD64_GREGSET",
    "X86_EFLAGS",
    "LINUX_FLAG_MASK_32",
    "LINUX_FLAG_MASK_64",
    "LINUX_FLAG_MASK",
    "ILLUMOS_PSL_USERMASK",
    "USER_CS",
    "USER_DS",
    "USER32_CS",
    "USER32_DS",
    "USER_SELECTORS",
]

ABIS = ("amd64", "i386")
WORD = {"amd64": 8, "i386": 4}

# ---------------------------------------------------------------------------------------------
# Linux struct user_regs_struct
# ---------------------------------------------------------------------------------------------

LINUX_USER_REGS: dict[str, tuple[str, ...]] = {
    "amd64": (
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
        "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp",
        "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
    ),  # fmt: skip
    "i386": (
        "ebx", "ecx", "edx", "esi", "edi", "ebp", "eax", "xds", "xes", "xfs",
        "xgs", "orig_eax", "eip", "xcs", "eflags", "esp", "xss",
    ),  # fmt: skip
}
LINUX_REG_INDEX: dict[str, dict[str, int]] = {
    abi: {n: i for i, n in enumerate(names)} for abi, names in LINUX_USER_REGS.items()
}
#: The field that holds the system-call number (no illumos gregset slot).
LINUX_ORIG_SYSCALL = {"amd64": "orig_rax", "i386": "orig_eax"}

# ---------------------------------------------------------------------------------------------
# illumos gregset (REG_* indexes)
# ---------------------------------------------------------------------------------------------

ILLUMOS_REGS: dict[str, tuple[str, ...]] = {
    "amd64": (
        "REG_R15", "REG_R14", "REG_R13", "REG_R12", "REG_R11", "REG_R10", "REG_R9", "REG_R8",
        "REG_RDI", "REG_RSI", "REG_RBP", "REG_RBX", "REG_RDX", "REG_RCX", "REG_RAX",
        "REG_TRAPNO", "REG_ERR", "REG_RIP", "REG_CS", "REG_RFL", "REG_RSP", "REG_SS",
        "REG_FS", "REG_GS", "REG_ES", "REG_DS", "REG_FSBASE", "REG_GSBASE",
    ),  # fmt: skip
    "i386": (
        "GS", "FS", "ES", "DS", "EDI", "ESI", "EBP", "ESP", "EBX", "EDX",
        "ECX", "EAX", "TRAPNO", "ERR", "EIP", "CS", "EFL", "UESP", "SS",
    ),  # fmt: skip
}
ILLUMOS_REG_INDEX: dict[str, dict[str, int]] = {
    abi: {n: i for i, n in enumerate(names)} for abi, names in ILLUMOS_REGS.items()
}
NPRGREG = {abi: len(names) for abi, names in ILLUMOS_REGS.items()}  # 28 / 19

_ALIASES = {
    # regset.h portable names, then procfs_isa.h R_* names
    "amd64": {"REG_PC": "REG_RIP", "REG_FP": "REG_RBP", "REG_SP": "REG_RSP", "REG_PS": "REG_RFL",
              "REG_R0": "REG_RAX", "REG_R1": "REG_RDX", "R_PC": "REG_RIP", "R_PS": "REG_RFL",
              "R_SP": "REG_RSP", "R_FP": "REG_RBP", "R_R0": "REG_RAX", "R_R1": "REG_RDX"},
    "i386": {"REG_PC": "EIP", "REG_FP": "EBP", "REG_SP": "UESP", "REG_PS": "EFL",
             "REG_R0": "EAX", "REG_R1": "EDX", "R_PC": "EIP", "R_PS": "EFL",
             "R_SP": "UESP", "R_FP": "EBP", "R_R0": "EAX", "R_R1": "EDX"},
}  # fmt: skip


def _reg_enum(name: str, abi: str) -> type[IntEnum]:
    idx = ILLUMOS_REG_INDEX[abi]
    members = [*idx.items(), *((a, idx[t]) for a, t in _ALIASES[abi].items())]
    return IntEnum(name, members, module=__name__)  # type: ignore[return-value]


REG64 = _reg_enum("REG64", "amd64")
REG64.__doc__ = "illumos amd64 gregset indexes (REG_R15 = 0 .. REG_GSBASE = 27) and aliases."
REG32 = _reg_enum("REG32", "i386")
REG32.__doc__ = "illumos i386 gregset indexes (GS = 0 .. SS = 18) and aliases."

# ---------------------------------------------------------------------------------------------
# THE maps: Linux user_regs_struct field -> illumos gregset index of the same ABI
# ---------------------------------------------------------------------------------------------

_R64 = ILLUMOS_REG_INDEX["amd64"]
_R32 = ILLUMOS_REG_INDEX["i386"]

LINUX_TO_ILLUMOS: dict[str, dict[str, int | None]] = {
    "amd64": {
        "r15": _R64["REG_R15"],
        "r14": _R64["REG_R14"],
        "r13": _R64["REG_R13"],
        "r12": _R64["REG_R12"],
        "rbp": _R64["REG_RBP"],
        "rbx": _R64["REG_RBX"],
        "r11": _R64["REG_R11"],
        "r10": _R64["REG_R10"],
        "r9": _R64["REG_R9"],
        "r8": _R64["REG_R8"],
        "rax": _R64["REG_RAX"],
        "rcx": _R64["REG_RCX"],
        "rdx": _R64["REG_RDX"],
        "rsi": _R64["REG_RSI"],
        "rdi": _R64["REG_RDI"],
        "orig_rax": None,
        "rip": _R64["REG_RIP"],
        "cs": _R64["REG_CS"],
        "eflags": _R64["REG_RFL"],
        "rsp": _R64["REG_RSP"],
        "ss": _R64["REG_SS"],
        "fs_base": _R64["REG_FSBASE"],
        "gs_base": _R64["REG_GSBASE"],
        "ds": _R64["REG_DS"],
        "es": _R64["REG_ES"],
        "fs": _R64["REG_FS"],
        "gs": _R64["REG_GS"],
    },
    "i386": {
        "ebx": _R32["EBX"],
        "ecx": _R32["ECX"],
        "edx": _R32["EDX"],
        "esi": _R32["ESI"],
        "edi": _R32["EDI"],
        "ebp": _R32["EBP"],
        "eax": _R32["EAX"],
        "xds": _R32["DS"],
        "xes": _R32["ES"],
        "xfs": _R32["FS"],
        "xgs": _R32["GS"],
        "orig_eax": None,
        "eip": _R32["EIP"],
        "xcs": _R32["CS"],
        "eflags": _R32["EFL"],
        "esp": _R32["UESP"],  # not ESP (7)
        "xss": _R32["SS"],
    },
}
ILLUMOS_TO_LINUX: dict[str, dict[int, str]] = {
    abi: {i: f for f, i in m.items() if i is not None} for abi, m in LINUX_TO_ILLUMOS.items()
}

# ---------------------------------------------------------------------------------------------
# 32-bit processes seen through 64-bit layouts
# ---------------------------------------------------------------------------------------------

#: i386 user_regs_struct field -> the amd64 user_regs_struct field a 64-bit tracer reads it from
#: (kernel arch/x86/kernel/ptrace.c getreg32/putreg32; r8-r15, fs_base, gs_base read 0).
I386_LINUX_TO_AMD64_LINUX: dict[str, str] = {
    "ebx": "rbx",
    "ecx": "rcx",
    "edx": "rdx",
    "esi": "rsi",
    "edi": "rdi",
    "ebp": "rbp",
    "eax": "rax",
    "xds": "ds",
    "xes": "es",
    "xfs": "fs",
    "xgs": "gs",
    "orig_eax": "orig_rax",
    "eip": "rip",
    "xcs": "cs",
    "eflags": "eflags",
    "esp": "rsp",
    "xss": "ss",
}

#: illumos i386 gregset index -> amd64 gregset index holding the same register (ESP, the
#: pusha-slot copy, has no amd64 slot).
ILLUMOS_I386_TO_AMD64: dict[int, int | None] = {
    _R32["GS"]: _R64["REG_GS"],
    _R32["FS"]: _R64["REG_FS"],
    _R32["ES"]: _R64["REG_ES"],
    _R32["DS"]: _R64["REG_DS"],
    _R32["EDI"]: _R64["REG_RDI"],
    _R32["ESI"]: _R64["REG_RSI"],
    _R32["EBP"]: _R64["REG_RBP"],
    _R32["ESP"]: None,
    _R32["EBX"]: _R64["REG_RBX"],
    _R32["EDX"]: _R64["REG_RDX"],
    _R32["ECX"]: _R64["REG_RCX"],
    _R32["EAX"]: _R64["REG_RAX"],
    _R32["TRAPNO"]: _R64["REG_TRAPNO"],
    _R32["ERR"]: _R64["REG_ERR"],
    _R32["EIP"]: _R64["REG_RIP"],
    _R32["CS"]: _R64["REG_CS"],
    _R32["EFL"]: _R64["REG_RFL"],
    _R32["UESP"]: _R64["REG_RSP"],
    _R32["SS"]: _R64["REG_SS"],
}

#: Derived: i386 Linux field -> amd64 illumos gregset index (None for orig_eax).
I386_IN_AMD64_GREGSET: dict[str, int | None] = {
    f: LINUX_TO_ILLUMOS["amd64"][a] for f, a in I386_LINUX_TO_AMD64_LINUX.items()
}

# ---------------------------------------------------------------------------------------------
# eflags
# ---------------------------------------------------------------------------------------------


class X86_EFLAGS(IntFlag):
    """x86 EFLAGS bits (Linux names, `<asm/processor-flags.h>`)."""

    CF = 0x00000001  # carry
    FIXED = 0x00000002  # bit 1, always 1
    PF = 0x00000004  # parity
    AF = 0x00000010  # auxiliary carry (illumos PS_AC!)
    ZF = 0x00000040  # zero
    SF = 0x00000080  # sign (illumos PS_N)
    TF = 0x00000100  # trap (single-step)
    IF = 0x00000200  # interrupt enable
    DF = 0x00000400  # direction
    OF = 0x00000800  # overflow (illumos PS_V)
    IOPL = 0x00003000
    NT = 0x00004000  # nested task
    RF = 0x00010000  # resume
    VM = 0x00020000  # virtual 8086
    AC = 0x00040000  # alignment check (illumos PS_ACHK)
    VIF = 0x00080000
    VIP = 0x00100000
    ID = 0x00200000


_F = X86_EFLAGS
#: Linux FLAG_MASK_32 (what an i386 kernel lets ptrace change).
LINUX_FLAG_MASK_32 = int(_F.CF | _F.PF | _F.AF | _F.ZF | _F.SF | _F.TF | _F.DF | _F.OF | _F.RF | _F.AC)
#: Linux FLAG_MASK on an x86-64 kernel (FLAG_MASK_32 | NT), for 64- and 32-bit tracees alike.
LINUX_FLAG_MASK_64 = LINUX_FLAG_MASK_32 | int(_F.NT)
#: Keyed by the KERNEL's ABI (this project runs on x86-64 kernels: use "amd64").
LINUX_FLAG_MASK = {"amd64": LINUX_FLAG_MASK_64, "i386": LINUX_FLAG_MASK_32}
#: illumos PSL_USERMASK (intel/sys/psw.h): the eflags bits a user (and PCSREG) may change.
ILLUMOS_PSL_USERMASK = int(_F.CF | _F.AF | _F.ZF | _F.SF | _F.DF | _F.TF | _F.OF | _F.PF | _F.AC | _F.NT)

# ---------------------------------------------------------------------------------------------
# User selectors (x86-64 Linux kernel GDT)
# ---------------------------------------------------------------------------------------------

USER_CS = 0x33  # __USER_CS: 64-bit code
USER_DS = 0x2B  # __USER_DS: data, also ss
USER32_CS = 0x23  # __USER32_CS: 32-bit code (compat processes)
USER32_DS = 0x2B  # __USER32_DS == __USER_DS
#: What cs / ss (and ds, es of a compat process) read as, per tracee ABI.
USER_SELECTORS = {"amd64": {"cs": USER_CS, "ss": USER_DS}, "i386": {"cs": USER32_CS, "ss": USER32_DS}}
