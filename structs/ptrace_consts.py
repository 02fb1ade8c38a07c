"""Linux ptrace(2) / wait(2) constants as a tracer on x86 sees them (amd64 and i386).

What this module promises
-------------------------
* `PTRACE` — request numbers (generic `<linux/ptrace.h>` and x86 `<asm/ptrace-abi.h>`; glibc's
  `PTRACE_PEEKUSER`/`POKEUSER` spellings are aliases of the kernel's `PEEKUSR`/`POKEUSR`).
  `PTRACE_I386_ONLY` names the ones only a 32-bit caller has (GETFPXREGS/SETFPXREGS; the x86-64
  kernel serves them only through the compat entry), `PTRACE_AMD64_ONLY` the 64-bit-only one
  (ARCH_PRCTL).  Requests newer than this machine's installed headers (kernel 6.1 uapi) are
  listed in `NEWER_THAN_HEADERS`, with the kernel release that added them.
* `PTRACE_O` — option bits, `PTRACE_O_MASK` (all of them); `PTRACE_EVENT` — event numbers
  (status >> 16); `PTRACE_O_FOR_EVENT` — event -> the option that enables it.
* `PTRACE_PEEKSIGINFO_SHARED`, `PTRACE_SYSCALL_INFO` (op values of ptrace_syscall_info),
  `PTRACE_EVENTMSG_SYSCALL_ENTRY/EXIT`, `AUDIT_ARCH_X86_64` / `AUDIT_ARCH_I386`.
* `NT` — ELF note types accepted by PTRACE_GETREGSET/SETREGSET (and found in core files).
* wait(2): `W` (options), `IDTYPE` (waitid idtype), and the status encoding constants
  (`WSTOPPED_LOW` 0x7f, `WCOREFLAG`, `WCONTINUED_STATUS` 0xffff, `SYSCALL_STOP_SIG` 0x80).
* `ERESTART` — the kernel-internal "restart" errnos a tracer sees in rax at a syscall-exit stop
  (never returned to user space; from the kernel's `include/linux/errno.h`, which is not a uapi
  header, so they cannot be checked against this machine's headers).
* x86 debug registers: `DR6_*`/`DR_TRAP*`/`DR_STEP` (DR6 bits), DR7 enable bits and field
  positions (`DR7_RW_SHIFT(i)` = 16 + 4*i, `DR7_LEN_SHIFT(i)` = 18 + 4*i), `DR7_RW` (R/W
  encodings) and `DR7_LEN_BYTES` / `DR7_LEN_CODE` (LEN encoding <-> byte count).
  Source: `<asm/debugreg.h>` on this machine (whose DR_LEN_* are pre-shifted by 2, i.e. the
  4-bit RW|LEN<<2 nibble; ours are the raw 2-bit LEN codes) and the Intel SDM vol. 3 §17.2.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "PTRACE",
    "PTRACE_I386_ONLY",
    "PTRACE_AMD64_ONLY",
    "NEWER_THAN_HEADERS",
    "PTRACE_O",
    "PTRACE_O_MASK",
    "PTRACE_EVENT",
    "PTRACE_O_FOR_EVENT",
    "PTRACE_PEEKSIGINFO_SHARED",
    "PTRACE_SYSCALL_INFO",
    "PTRACE_SYSCALL_INFO_SIZES",
    "PTRACE_EVENTMSG_SYSCALL_ENTRY",
    "PTRACE_EVENTMSG_SYSCALL_EXIT",
    "EM_386",
    "EM_X86_64",
    "AUDIT_ARCH_64BIT",
    "AUDIT_ARCH_LE",
    "AUDIT_ARCH_X86_64",
    "AUDIT_ARCH_I386",
    "NT",
    "W",
    "IDTYPE",
    "WSTOPPED_LOW",
    "WCOREFLAG",
    "WCONTINUED_STATUS",
    "SYSCALL_STOP_SIG",
    "ERESTART",
    "DR_FIRSTADDR",
    "DR_LASTADDR",
    "DR_STATUS",
    "DR_CONTROL",
    "DR_NADDR",
    "DR6_RESERVED",
    "DR_TRAP0",
    "DR_TRAP1",
    "DR_TRAP2",
    "DR_TRAP3",
    "DR_TRAP_BITS",
    "DR_BUS_LOCK",
    "DR_STEP",
    "DR_SWITCH",
    "DR_LOCAL_ENABLE",
    "DR_GLOBAL_ENABLE",
    "DR_ENABLE_SIZE",
    "DR_LOCAL_ENABLE_MASK",
    "DR_GLOBAL_ENABLE_MASK",
    "DR_LOCAL_SLOWDOWN",
    "DR_GLOBAL_SLOWDOWN",
    "DR_CONTROL_SHIFT",
    "DR_CONTROL_SIZE",
    "DR_CONTROL_RESERVED",
    "DR7_RW",
    "DR7_LEN_BYTES",
    "DR7_LEN_CODE",
    "DR7_L",
    "DR7_G",
    "DR7_RW_SHIFT",
    "DR7_LEN_SHIFT",
]


class PTRACE(IntEnum):
    """ptrace(2) request numbers (x86)."""

    TRACEME = 0
    PEEKTEXT = 1
    PEEKDATA = 2
    PEEKUSR = 3
    PEEKUSER = 3  # glibc spelling
    POKETEXT = 4
    POKEDATA = 5
    POKEUSR = 6
    POKEUSER = 6  # glibc spelling
    CONT = 7
    KILL = 8
    SINGLESTEP = 9
    GETREGS = 12  # x86 <asm/ptrace-abi.h> from here ...
    SETREGS = 13
    GETFPREGS = 14
    SETFPREGS = 15
    ATTACH = 16
    DETACH = 17
    GETFPXREGS = 18  # i386 only
    SETFPXREGS = 19  # i386 only
    OLDSETOPTIONS = 21
    SYSCALL = 24
    GET_THREAD_AREA = 25
    SET_THREAD_AREA = 26
    ARCH_PRCTL = 30  # amd64 only
    SYSEMU = 31
    SYSEMU_SINGLESTEP = 32
    SINGLEBLOCK = 33  # ... to here
    SETOPTIONS = 0x4200
    GETEVENTMSG = 0x4201
    GETSIGINFO = 0x4202
    SETSIGINFO = 0x4203
    GETREGSET = 0x4204
    SETREGSET = 0x4205
    SEIZE = 0x4206
    INTERRUPT = 0x4207
    LISTEN = 0x4208
    PEEKSIGINFO = 0x4209
    GETSIGMASK = 0x420A
    SETSIGMASK = 0x420B
    SECCOMP_GET_FILTER = 0x420C
    SECCOMP_GET_METADATA = 0x420D
    GET_SYSCALL_INFO = 0x420E
    GET_RSEQ_CONFIGURATION = 0x420F
    SET_SYSCALL_USER_DISPATCH_CONFIG = 0x4210
    GET_SYSCALL_USER_DISPATCH_CONFIG = 0x4211
    SET_SYSCALL_INFO = 0x4212


PTRACE_I386_ONLY: frozenset[PTRACE] = frozenset({PTRACE.GETFPXREGS, PTRACE.SETFPXREGS})
PTRACE_AMD64_ONLY: frozenset[PTRACE] = frozenset({PTRACE.ARCH_PRCTL})

#: Constants in this module that the installed uapi headers (Debian 12, Linux 6.1) lack, with
#: the release that added them (kernel `include/uapi/linux/ptrace.h`, `elf.h`).
NEWER_THAN_HEADERS: dict[str, str] = {
    "PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG": "6.4",
    "PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG": "6.4",
    "PTRACE_SET_SYSCALL_INFO": "6.16",
    "NT_X86_SHSTK": "6.6",
}


class PTRACE_EVENT(IntEnum):
    """Event numbers: a stop with status `SIGTRAP | event << 8` (seen as `status >> 16`)."""

    FORK = 1
    VFORK = 2
    CLONE = 3
    EXEC = 4
    VFORK_DONE = 5
    EXIT = 6
    SECCOMP = 7
    STOP = 128  # PTRACE_SEIZE group-stop / PTRACE_INTERRUPT stop


class PTRACE_O(IntFlag):
    """PTRACE_SETOPTIONS / PTRACE_SEIZE option bits."""

    TRACESYSGOOD = 1
    TRACEFORK = 1 << PTRACE_EVENT.FORK
    TRACEVFORK = 1 << PTRACE_EVENT.VFORK
    TRACECLONE = 1 << PTRACE_EVENT.CLONE
    TRACEEXEC = 1 << PTRACE_EVENT.EXEC
    TRACEVFORKDONE = 1 << PTRACE_EVENT.VFORK_DONE
    TRACEEXIT = 1 << PTRACE_EVENT.EXIT
    TRACESECCOMP = 1 << PTRACE_EVENT.SECCOMP
    EXITKILL = 1 << 20
    SUSPEND_SECCOMP = 1 << 21


PTRACE_O_MASK = 0x000000FF | PTRACE_O.EXITKILL | PTRACE_O.SUSPEND_SECCOMP  # = 0x3000ff

#: Which option turns each event on (EVENT_STOP has none: it comes with PTRACE_SEIZE).
PTRACE_O_FOR_EVENT: dict[PTRACE_EVENT, PTRACE_O] = {
    PTRACE_EVENT.FORK: PTRACE_O.TRACEFORK,
    PTRACE_EVENT.VFORK: PTRACE_O.TRACEVFORK,
    PTRACE_EVENT.CLONE: PTRACE_O.TRACECLONE,
    PTRACE_EVENT.EXEC: PTRACE_O.TRACEEXEC,
    PTRACE_EVENT.VFORK_DONE: PTRACE_O.TRACEVFORKDONE,
    PTRACE_EVENT.EXIT: PTRACE_O.TRACEEXIT,
    PTRACE_EVENT.SECCOMP: PTRACE_O.TRACESECCOMP,
}

PTRACE_PEEKSIGINFO_SHARED = 1 << 0  # ptrace_peeksiginfo_args.flags: read the shared queue


class PTRACE_SYSCALL_INFO(IntEnum):
    """ptrace_syscall_info.op."""

    NONE = 0
    ENTRY = 1
    EXIT = 2
    SECCOMP = 3


#: What PTRACE_GET_SYSCALL_INFO returns for each op (bytes of ptrace_syscall_info that are
#: meaningful): offsetof(..., entry) = 24; entry: +8 nr +6*8 args = 80; exit: +8 rval +1 = 33;
#: seccomp: +8 nr +6*8 args +4 ret_data = 84.  (debugger-requirements.md: 24/80/33.)
PTRACE_SYSCALL_INFO_SIZES: dict[PTRACE_SYSCALL_INFO, int] = {
    PTRACE_SYSCALL_INFO.NONE: 24,
    PTRACE_SYSCALL_INFO.ENTRY: 80,
    PTRACE_SYSCALL_INFO.EXIT: 33,
    PTRACE_SYSCALL_INFO.SECCOMP: 84,
}

PTRACE_EVENTMSG_SYSCALL_ENTRY = 1  # GETEVENTMSG at a syscall stop with PTRACE_SYSCALL_INFO
PTRACE_EVENTMSG_SYSCALL_EXIT = 2

EM_386 = 3
EM_X86_64 = 62
AUDIT_ARCH_64BIT = 0x80000000
AUDIT_ARCH_LE = 0x40000000
AUDIT_ARCH_X86_64 = EM_X86_64 | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE  # 0xc000003e
AUDIT_ARCH_I386 = EM_386 | AUDIT_ARCH_LE  # 0x40000003


class NT(IntEnum):
    """ELF note types (`<linux/elf.h>`); x86 regsets for GETREGSET/SETREGSET."""

    PRSTATUS = 1  # user_regs_struct (elf_gregset_t)
    PRFPREG = 2  # user_fpregs_struct (amd64: fxsave; i386: fsave)
    PRPSINFO = 3
    TASKSTRUCT = 4
    AUXV = 6
    X86_TLS = 0x200  # NT_386_TLS: struct user_desc[GDT_ENTRY_TLS_ENTRIES]
    X86_IOPERM = 0x201  # NT_386_IOPERM
    X86_XSTATE = 0x202
    X86_SHSTK = 0x204  # shadow-stack pointer (6.6+)
    PRXFPREG = 0x46E62B7F  # i386 user_fxsr_struct
    SIGINFO = 0x53494749
    FILE = 0x46494C45


#: The names the C headers use where they differ from `NT.<name>` with an NT_ prefix.
NT_C_NAMES: dict[NT, str] = {NT.X86_TLS: "NT_386_TLS", NT.X86_IOPERM: "NT_386_IOPERM"}
__all__.append("NT_C_NAMES")


class W(IntFlag):
    """wait4/waitpid/waitid option bits (`<linux/wait.h>`).

    The kernel spells the last three `__WNOTHREAD`, `__WALL`, `__WCLONE`; those names are also
    module-level aliases here (a class body would mangle them).
    """

    WNOHANG = 0x00000001
    WUNTRACED = 0x00000002
    WSTOPPED = 0x00000002  # waitid spelling of WUNTRACED
    WEXITED = 0x00000004
    WCONTINUED = 0x00000008
    WNOWAIT = 0x01000000
    WNOTHREAD = 0x20000000  # __WNOTHREAD
    WALL = 0x40000000  # __WALL
    WCLONE = 0x80000000  # __WCLONE


class IDTYPE(IntEnum):
    """waitid(2) idtype_t."""

    P_ALL = 0
    P_PID = 1
    P_PGID = 2
    P_PIDFD = 3


# Status word encoding (wait(2)): exited = code << 8; killed = signo | WCOREFLAG?; stopped =
# WSTOPPED_LOW | sig << 8 | event << 16; continued = 0xffff.
WSTOPPED_LOW = 0x7F
WCOREFLAG = 0x80
WCONTINUED_STATUS = 0xFFFF
SYSCALL_STOP_SIG = 0x80  # OR-ed into SIGTRAP at syscall stops under PTRACE_O_TRACESYSGOOD


class ERESTART(IntEnum):
    """Kernel-internal errnos visible to a tracer as -errno in rax at syscall-exit stops."""

    ERESTARTSYS = 512
    ERESTARTNOINTR = 513
    ERESTARTNOHAND = 514
    ENOIOCTLCMD = 515
    ERESTART_RESTARTBLOCK = 516


# ---------------------------------------------------------------------------------------------
# x86 debug registers (u_debugreg[8] in struct user)
# ---------------------------------------------------------------------------------------------

DR_FIRSTADDR = 0  # u_debugreg[0..3]: breakpoint addresses
DR_LASTADDR = 3
DR_STATUS = 6  # DR6
DR_CONTROL = 7  # DR7
DR_NADDR = 4

# DR6
DR6_RESERVED = 0xFFFF0FF0  # bits that read as 1 (Linux reports DR6 with them set)
DR_TRAP0 = 0x1  # B0..B3: breakpoint i fired
DR_TRAP1 = 0x2
DR_TRAP2 = 0x4
DR_TRAP3 = 0x8
DR_TRAP_BITS = DR_TRAP0 | DR_TRAP1 | DR_TRAP2 | DR_TRAP3
DR_BUS_LOCK = 0x800
DR_STEP = 0x4000  # BS: single-step
DR_SWITCH = 0x8000  # BT: task switch

# DR7: enable bits, two per register: L_i = bit 2i, G_i = bit 2i+1
DR_LOCAL_ENABLE = 0x1
DR_GLOBAL_ENABLE = 0x2
DR_ENABLE_SIZE = 2
DR_LOCAL_ENABLE_MASK = 0x55
DR_GLOBAL_ENABLE_MASK = 0xAA
DR_LOCAL_SLOWDOWN = 0x100  # LE
DR_GLOBAL_SLOWDOWN = 0x200  # GE
# DR7: a 4-bit R/W + LEN nibble per register, from bit 16
DR_CONTROL_SHIFT = 16
DR_CONTROL_SIZE = 4
DR_CONTROL_RESERVED = {"amd64": 0xFFFFFFFF0000FC00, "i386": 0xFC00}


class DR7_RW(IntEnum):
    """R/W field (2 bits at 16 + 4*i): what access triggers breakpoint i."""

    EXECUTE = 0b00  # instruction fetch (LEN must be 00)
    WRITE = 0b01
    IO = 0b10  # I/O read/write, only with CR4.DE; never valid for user space
    READWRITE = 0b11  # data read or write (no read-only breakpoints on x86)


#: LEN field (2 bits at 18 + 4*i) -> watched bytes; 0b10 = 8 bytes (long mode).
DR7_LEN_BYTES: dict[int, int] = {0b00: 1, 0b01: 2, 0b11: 4, 0b10: 8}
#: Byte count -> LEN code.
DR7_LEN_CODE: dict[int, int] = {v: k for k, v in DR7_LEN_BYTES.items()}

#: Enable bits of register i.
DR7_L: tuple[int, ...] = tuple(DR_LOCAL_ENABLE << (DR_ENABLE_SIZE * i) for i in range(DR_NADDR))
DR7_G: tuple[int, ...] = tuple(DR_GLOBAL_ENABLE << (DR_ENABLE_SIZE * i) for i in range(DR_NADDR))


def DR7_RW_SHIFT(i: int) -> int:
    """Bit position of register i's R/W field in DR7."""
    return DR_CONTROL_SHIFT + DR_CONTROL_SIZE * i


def DR7_LEN_SHIFT(i: int) -> int:
    """Bit position of register i's LEN field in DR7."""
    return DR_CONTROL_SHIFT + DR_CONTROL_SIZE * i + 2


# Module-level names as the C headers spell them: PTRACE_CONT, PTRACE_O_TRACESYSGOOD,
# PTRACE_EVENT_EXEC, PTRACE_SYSCALL_INFO_ENTRY, NT_PRSTATUS, WNOHANG, P_PID, ERESTARTSYS.
for _enum, _prefix in (
    (PTRACE, "PTRACE_"),
    (PTRACE_O, "PTRACE_O_"),
    (PTRACE_EVENT, "PTRACE_EVENT_"),
    (PTRACE_SYSCALL_INFO, "PTRACE_SYSCALL_INFO_"),
    (NT, "NT_"),
    (W, ""),
    (IDTYPE, ""),
    (ERESTART, ""),
):
    for _name, _member in _enum.__members__.items():
        if not _name.startswith("_"):
            globals()[_prefix + _name] = _member
            __all__.append(_prefix + _name)
for _member, _cname in (*NT_C_NAMES.items(), (W.WNOTHREAD, "__WNOTHREAD"), (W.WALL, "__WALL"), (W.WCLONE, "__WCLONE")):
    globals()[_cname] = _member
    __all__.append(_cname)
del _enum, _prefix, _name, _member, _cname
