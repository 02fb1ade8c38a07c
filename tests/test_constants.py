"""The constant tables of `structs` against everything on this machine that can vouch for them.

* Linux values: C probes compiled at test time against the kernel uapi headers
  (`<linux/ptrace.h>`, `<asm/siginfo.h>`, `<asm/debugreg.h>`, ...) and glibc (`<sys/user.h>`,
  `<signal.h>`), for -m64 and -m32; Python's `signal` module; the preprocessor's view of
  `<asm/unistd.h>` for the system call tables; the CPU's own selectors.
* Solaris values: the reference `/work/shared/reference/solaris-proc-layouts.md` and
  `ptrace-emulations.md` (tables parsed from the Markdown; skipped if the reference is absent).
* Internal consistency: the signal map is a bijection where it must be, register maps are
  injective and the two routes from an i386 register to the amd64 gregset agree, etc.
"""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from structs import faults, procfs_consts as pc, ptrace_consts as ptc, regs, signals as sg, syscalls

REPO = Path(__file__).resolve().parent.parent
REFERENCE = next(
    (p for p in (REPO.parent / "shared" / "reference", Path("/work/shared/reference")) if p.is_dir()),
    None,
)
MASK64 = (1 << 64) - 1

# ---------------------------------------------------------------------------------------------
# C probes
# ---------------------------------------------------------------------------------------------


def _probe_source(includes, macros=(), exprs=None, defines=(), extra=""):
    """C source printing `name value` for each macro (`name -` if undefined) and each expression."""
    out = [*(f"#define {d}" for d in defines), "#include <stdio.h>", "#include <stddef.h>"]
    out += [f"#include <{h}>" for h in includes]
    out.append("int main(void) {")
    for m in macros:
        out += [
            f"#ifdef {m}",
            f'  printf("%s %lld\\n", "{m}", (long long)({m}));',
            "#else",
            f'  printf("%s -\\n", "{m}");',
            "#endif",
        ]
    for label, e in (exprs or {}).items():
        out.append(f'  printf("%s %lld\\n", "{label}", (long long)({e}));')
    out += [extra, "  return 0;", "}", ""]
    return "\n".join(out)


def run_probe(cbuild, flag, name, **kw):
    exe = cbuild(_probe_source(**kw), flag, name=name)
    res = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    vals = {}
    for line in res.stdout.splitlines():
        k, v = line.split()
        vals[k] = None if v == "-" else int(v)
    return vals


@pytest.fixture(scope="session")
def m32(cbuild):
    """Skip unless `gcc -m32` can build and run a program (gcc-multilib)."""
    try:
        exe = cbuild("int main(void){return 0;}\n", "-m32", name="m32check")
        subprocess.run([str(exe)], check=True)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:  # pragma: no cover
        pytest.skip(f"no working gcc -m32: {e}")
    return "-m32"


@pytest.fixture(params=["-m64", "-m32"], ids=["amd64", "i386"])
def abi_flag(request):
    if request.param == "-m32":
        request.getfixturevalue("m32")
    return request.param


ABI_OF = {"-m64": "amd64", "-m32": "i386"}

# ---------------------------------------------------------------------------------------------
# Expected Linux values, named as the C headers name them
# ---------------------------------------------------------------------------------------------

_GLIBC_ONLY_PTRACE = {"PEEKUSER", "POKEUSER"}  # the kernel headers spell them PEEKUSR / POKEUSR


def kernel_expected(abi):
    """C macro name -> value we claim, for the kernel uapi headers."""
    exp = {}
    for name, m in ptc.PTRACE.__members__.items():
        if name not in _GLIBC_ONLY_PTRACE:
            exp["PTRACE_" + name] = int(m)
    exp.update({"PTRACE_O_" + n: int(m) for n, m in ptc.PTRACE_O.__members__.items()})
    exp["PTRACE_O_MASK"] = int(ptc.PTRACE_O_MASK)
    exp.update({"PTRACE_EVENT_" + n: int(m) for n, m in ptc.PTRACE_EVENT.__members__.items()})
    exp.update({"PTRACE_SYSCALL_INFO_" + n: int(m) for n, m in ptc.PTRACE_SYSCALL_INFO.__members__.items()})
    exp["PTRACE_PEEKSIGINFO_SHARED"] = ptc.PTRACE_PEEKSIGINFO_SHARED
    exp["PTRACE_EVENTMSG_SYSCALL_ENTRY"] = ptc.PTRACE_EVENTMSG_SYSCALL_ENTRY
    exp["PTRACE_EVENTMSG_SYSCALL_EXIT"] = ptc.PTRACE_EVENTMSG_SYSCALL_EXIT
    for n, m in ptc.NT.__members__.items():
        exp[ptc.NT_C_NAMES.get(m, "NT_" + n)] = int(m)
    w = ptc.W
    exp.update(
        WNOHANG=w.WNOHANG, WUNTRACED=w.WUNTRACED, WSTOPPED=w.WSTOPPED, WEXITED=w.WEXITED,
        WCONTINUED=w.WCONTINUED, WNOWAIT=w.WNOWAIT, __WNOTHREAD=w.WNOTHREAD, __WALL=w.WALL,
        __WCLONE=w.WCLONE,
    )  # fmt: skip
    exp.update({n: int(m) for n, m in ptc.IDTYPE.__members__.items()})
    exp.update(
        EM_386=ptc.EM_386, EM_X86_64=ptc.EM_X86_64, __AUDIT_ARCH_64BIT=ptc.AUDIT_ARCH_64BIT,
        __AUDIT_ARCH_LE=ptc.AUDIT_ARCH_LE, AUDIT_ARCH_X86_64=ptc.AUDIT_ARCH_X86_64,
        AUDIT_ARCH_I386=ptc.AUDIT_ARCH_I386,
    )  # fmt: skip
    for n in (
        "DR_FIRSTADDR", "DR_LASTADDR", "DR_STATUS", "DR_CONTROL", "DR6_RESERVED", "DR_TRAP0",
        "DR_TRAP1", "DR_TRAP2", "DR_TRAP3", "DR_TRAP_BITS", "DR_BUS_LOCK", "DR_STEP", "DR_SWITCH",
        "DR_LOCAL_ENABLE", "DR_GLOBAL_ENABLE", "DR_ENABLE_SIZE", "DR_LOCAL_ENABLE_MASK",
        "DR_GLOBAL_ENABLE_MASK", "DR_LOCAL_SLOWDOWN", "DR_GLOBAL_SLOWDOWN", "DR_CONTROL_SHIFT",
        "DR_CONTROL_SIZE",
    ):  # fmt: skip
        exp[n] = getattr(ptc, n)
    exp["DR_CONTROL_RESERVED"] = ptc.DR_CONTROL_RESERVED[abi]
    exp["DR_RW_EXECUTE"] = ptc.DR7_RW.EXECUTE
    exp["DR_RW_WRITE"] = ptc.DR7_RW.WRITE
    exp["DR_RW_READ"] = ptc.DR7_RW.READWRITE  # the kernel's "READ" is RW=11, read or write
    for nbytes in (1, 2, 4, 8):  # the header's DR_LEN_* are the LEN code shifted left by 2
        exp[f"DR_LEN_{nbytes}"] = ptc.DR7_LEN_CODE[nbytes] << 2
    exp.update({"X86_EFLAGS_" + n: int(m) for n, m in regs.X86_EFLAGS.__members__.items()})
    # signals, kernel numbering (<asm/signal.h>); SIGRTMAX there needs the kernel's _NSIG
    for no, name in sg.LINUX_SIGNAMES.items():
        if no < sg.LINUX_SIGRTMIN:
            exp[name] = no
    exp.update(SIGIOT=6, SIGPOLL=29, SIGUNUSED=31, SIGRTMIN=sg.LINUX_SIGRTMIN)
    for codes in sg.LINUX_SI_CODES.values():
        exp.update(codes)
    return exp


KERNEL_HEADERS = (
    "linux/ptrace.h", "linux/elf.h", "linux/elf-em.h", "linux/wait.h", "linux/audit.h",
    "asm/debugreg.h", "asm/processor-flags.h", "asm/signal.h", "asm/siginfo.h",
)  # fmt: skip


def test_kernel_header_constants(cbuild, abi_flag):
    abi = ABI_OF[abi_flag]
    exp = kernel_expected(abi)
    got = run_probe(
        cbuild,
        abi_flag,
        "kconsts",
        includes=KERNEL_HEADERS,
        macros=sorted(exp),
        exprs={
            # PTRACE_GET_SYSCALL_INFO return sizes: offsetofend of each union member's last field
            "info_none": "offsetof(struct ptrace_syscall_info, entry)",
            "info_entry": "offsetof(struct ptrace_syscall_info, entry.args) + 6 * 8",
            "info_exit": "offsetof(struct ptrace_syscall_info, exit.is_error) + 1",
            "info_seccomp": "offsetof(struct ptrace_syscall_info, seccomp.ret_data) + 4",
        },
    )
    allowed_missing = set(ptc.NEWER_THAN_HEADERS)
    if abi == "i386":
        allowed_missing |= {"PTRACE_" + m.name for m in ptc.PTRACE_AMD64_ONLY}
    missing = {k for k in exp if got[k] is None} - allowed_missing
    assert not missing, f"not defined by the headers: {sorted(missing)}"
    wrong = {
        k: (v, got[k])
        for k, v in exp.items()
        if got[k] is not None and got[k] != v and (got[k] & MASK64) != v
    }
    assert not wrong, f"ours vs headers: {wrong}"
    assert {op: got[f"info_{op.name.lower()}"] for op in ptc.PTRACE_SYSCALL_INFO} == ptc.PTRACE_SYSCALL_INFO_SIZES


def test_newer_than_headers_really_are(cbuild):
    """Every constant we list as newer than the headers is indeed absent from them (else the
    list is stale and the value should be checked like the rest)."""
    got = run_probe(cbuild, "-m64", "newer", includes=KERNEL_HEADERS, macros=sorted(ptc.NEWER_THAN_HEADERS))
    assert all(v is None for v in got.values()), got


def test_glibc_views(cbuild, abi_flag):
    """glibc's <sys/user.h> register layout, its ptrace/signal spellings, and the live selectors."""
    abi = ABI_OF[abi_flag]
    fields = regs.LINUX_USER_REGS[abi]
    exprs = {f"off_{f}": f"offsetof(struct user_regs_struct, {f})" for f in fields}
    exprs["size"] = "sizeof(struct user_regs_struct)"
    exprs.update(
        PTRACE_PEEKUSER="PTRACE_PEEKUSER", PTRACE_POKEUSER="PTRACE_POKEUSER",
        PTRACE_GETFPXREGS="PTRACE_GETFPXREGS", glibc_SIGRTMIN="SIGRTMIN",
        kernel_SIGRTMIN="__SIGRTMIN", kernel_SIGRTMAX="__SIGRTMAX",
    )  # fmt: skip
    classic = [n for no, n in sg.LINUX_SIGNAMES.items() if no < sg.LINUX_SIGRTMIN]
    extra = (
        "  unsigned short cs, ss;\n"
        '  __asm__("mov %%cs,%0; mov %%ss,%1" : "=r"(cs), "=r"(ss));\n'
        '  printf("cs %d\\nss %d\\n", cs, ss);'
    )
    got = run_probe(
        cbuild,
        abi_flag,
        "glibcconsts",
        includes=("signal.h", "sys/ptrace.h", "sys/wait.h", "sys/user.h"),
        defines=("_GNU_SOURCE",),
        macros=[*classic, "SIGCLD", "SIGPOLL", "SIGIOT"],
        exprs=exprs,
        extra=extra,
    )
    word = regs.WORD[abi]
    assert [got[f"off_{f}"] for f in fields] == [i * word for i in range(len(fields))]
    assert got["size"] == len(fields) * word
    assert got["PTRACE_PEEKUSER"] == ptc.PTRACE.PEEKUSER
    assert got["PTRACE_POKEUSER"] == ptc.PTRACE.POKEUSER
    assert got["PTRACE_GETFPXREGS"] == ptc.PTRACE.GETFPXREGS
    assert got["glibc_SIGRTMIN"] == sg.GLIBC_SIGRTMIN
    assert (got["kernel_SIGRTMIN"], got["kernel_SIGRTMAX"]) == (sg.LINUX_SIGRTMIN, sg.LINUX_SIGRTMAX)
    for n in [*classic, "SIGCLD", "SIGPOLL", "SIGIOT"]:
        assert got[n] == sg.linux_signo(n), n
    assert got["cs"] == regs.USER_SELECTORS[abi]["cs"]
    assert got["ss"] == regs.USER_SELECTORS[abi]["ss"]


# <asm/ptrace-abi.h> with __FRAME_OFFSETS: amd64 byte offsets / i386 word indexes of pt_regs,
# which is user_regs_struct's order for the fields they cover.
_FRAME = {
    "amd64": {
        "R15": "r15", "R14": "r14", "R13": "r13", "R12": "r12", "RBP": "rbp", "RBX": "rbx",
        "R11": "r11", "R10": "r10", "R9": "r9", "R8": "r8", "RAX": "rax", "RCX": "rcx",
        "RDX": "rdx", "RSI": "rsi", "RDI": "rdi", "ORIG_RAX": "orig_rax", "RIP": "rip",
        "CS": "cs", "EFLAGS": "eflags", "RSP": "rsp", "SS": "ss",
    },
    "i386": {
        "EBX": "ebx", "ECX": "ecx", "EDX": "edx", "ESI": "esi", "EDI": "edi", "EBP": "ebp",
        "EAX": "eax", "DS": "xds", "ES": "xes", "FS": "xfs", "GS": "xgs", "ORIG_EAX": "orig_eax",
        "EIP": "eip", "CS": "xcs", "EFL": "eflags", "UESP": "esp", "SS": "xss",
    },
}  # fmt: skip


def test_ptrace_abi_frame_offsets(cbuild, abi_flag):
    abi = ABI_OF[abi_flag]
    got = run_probe(
        cbuild, abi_flag, "frame", includes=("asm/ptrace-abi.h",), defines=("__FRAME_OFFSETS",),
        macros=sorted(_FRAME[abi]),
    )  # fmt: skip
    unit = 8 if abi == "amd64" else 1  # amd64: byte offsets; i386: indexes
    for macro, field in _FRAME[abi].items():
        assert got[macro] == regs.LINUX_REG_INDEX[abi][field] * unit, macro


# ---------------------------------------------------------------------------------------------
# System calls
# ---------------------------------------------------------------------------------------------


def _preprocessor_syscalls(flag):
    res = subprocess.run(
        ["gcc", flag, "-dM", "-E", "-include", "asm/unistd.h", "-x", "c", "/dev/null"],
        capture_output=True, text=True,
    )  # fmt: skip
    if res.returncode:
        pytest.skip(f"gcc {flag} -E failed: {res.stderr[:200]}")
    out = {}
    for m in re.finditer(r"^#define __NR_(\w+) (\d+)$", res.stdout, re.M):
        out[int(m.group(2))] = m.group(1)
    return out


def test_syscall_tables_match_headers(abi_flag):
    abi = ABI_OF[abi_flag]
    cpp = _preprocessor_syscalls(abi_flag)
    ours = {nr: syscalls.SYSCALLS[abi][nr] for nr in syscalls.FROM_HEADERS[abi]}
    assert ours == cpp
    # the additions lie outside what the headers know, and do not reuse a number
    assert not set(syscalls.NEWER[abi]) & set(cpp)


def test_generated_module_is_current():
    """structs/syscalls.py is exactly what the generator prints from this machine's headers."""
    from structs import gen_syscalls

    if not all(p.exists() for p in gen_syscalls.HEADERS.values()):
        pytest.skip("kernel headers not installed")
    assert (REPO / "structs" / "syscalls.py").read_text() == gen_syscalls.render()


def test_named_syscalls_compile(cbuild, abi_flag):
    abi = ABI_OF[abi_flag]
    enum = syscalls.NR[abi]
    got = run_probe(
        cbuild, abi_flag, "nrprobe", includes=("asm/unistd.h",),
        macros=[f"__NR_{m.name}" for m in enum],
    )  # fmt: skip
    assert {k[5:]: v for k, v in got.items()} == {m.name: int(m) for m in enum}


def test_syscall_reverse_maps():
    for abi in ("amd64", "i386"):
        fwd, rev = syscalls.SYSCALLS[abi], syscalls.SYSCALL_NUMBERS[abi]
        assert len(fwd) == len(rev)
        assert all(fwd[nr] == name for name, nr in rev.items())
        assert syscalls.syscall_name(abi, 100000) == "syscall_100000"
    assert syscalls.NR64.read == 0 and syscalls.NR32.restart_syscall == 0
    for name in ("execve", "execveat", "fork", "vfork", "clone", "clone3", "exit", "exit_group",
                 "restart_syscall", "rt_sigreturn", "chdir", "gettid", "getpid", "kill", "tgkill",
                 "nanosleep", "pause", "read", "write"):  # fmt: skip
        assert name in syscalls.NR64.__members__ and name in syscalls.NR32.__members__, name


def test_sysset_holds_every_syscall():
    cap = pc.SETS["sysset_t"].capacity
    for abi in ("amd64", "i386"):
        assert max(syscalls.SYSCALLS[abi]) < cap


def test_newer_syscalls_known_to_running_kernel():
    """fchmodat2 (Linux 6.6) with a bad path pointer: EFAULT, not ENOSYS, on a new enough kernel."""
    import ctypes
    import errno
    import os

    major, minor = (int(x) for x in re.match(r"(\d+)\.(\d+)", os.uname().release).groups())
    if (major, minor) < (6, 6):
        pytest.skip("kernel older than 6.6")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    nr = syscalls.SYSCALL_NUMBERS["amd64"]["fchmodat2"]
    rc = libc.syscall(ctypes.c_long(nr), ctypes.c_long(-100), ctypes.c_void_p(1), ctypes.c_long(0o644), ctypes.c_long(0))
    err = ctypes.get_errno()
    if rc == -1 and err in (errno.ENOSYS, errno.EPERM):
        pytest.skip("fchmodat2 refused (a seccomp sandbox that predates it?)")
    assert rc == -1 and err == errno.EFAULT


# ---------------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------------


def test_linux_signals_match_python():
    for name, member in signal.Signals.__members__.items():
        if name == "SIGRTMIN":
            assert member == sg.GLIBC_SIGRTMIN  # glibc's, not the kernel's
        else:
            assert sg.linux_signo(name) == member, name
    assert signal.SIGRTMAX == sg.LINUX_SIGRTMAX


BRIEF_PAIRS = {  # Linux -> Solaris, as the design states them
    "SIGPWR": (30, 19), "SIGCHLD": (17, 18), "SIGIO": (29, 22), "SIGURG": (23, 21),
    "SIGWINCH": (28, 20), "SIGSYS": (31, 12), "SIGBUS": (7, 10), "SIGUSR1": (10, 16),
    "SIGUSR2": (12, 17), "SIGSTOP": (19, 23), "SIGTSTP": (20, 24), "SIGCONT": (18, 25),
    "SIGTTIN": (21, 26), "SIGTTOU": (22, 27), "SIGVTALRM": (26, 28), "SIGPROF": (27, 29),
    "SIGXCPU": (24, 30), "SIGXFSZ": (25, 31), "SIGALRM": (14, 14), "SIGTERM": (15, 15),
    "SIGPIPE": (13, 13), "SIGSEGV": (11, 11), "SIGFPE": (8, 8), "SIGKILL": (9, 9),
    "SIGABRT": (6, 6), "SIGTRAP": (5, 5), "SIGILL": (4, 4), "SIGQUIT": (3, 3), "SIGINT": (2, 2),
    "SIGHUP": (1, 1),
}  # fmt: skip


def test_signal_map_pairs():
    for name, (l, s) in BRIEF_PAIRS.items():
        assert sg.linux_signo(name) == l and sg.solaris_signo(name) == s, name
        assert sg.LTOS[l] == s and sg.STOL[s] == l, name
    assert sg.LTOS[16] == sg.solaris_signo("SIGJVM1") == 39  # SIGSTKFLT
    assert sg.LTOS[64] == sg.solaris_signo("SIGJVM2") == 40  # Linux SIGRTMAX
    assert [sg.LTOS[l] for l in range(32, 64)] == list(range(42, 74))
    assert sg.LTOS[0] == 0 and sg.STOL[0] == 0


def test_signal_map_is_a_bijection():
    lin = range(1, sg.LINUX_NSIG)
    images = [sg.LTOS[l] for l in lin]
    assert all(images) and len(set(images)) == 64  # every Linux signal has its own Solaris number
    assert all(sg.STOL[sg.LTOS[l]] == l for l in lin)
    for s in range(1, sg.SOLARIS_NSIG):
        if s in sg.SOLARIS_ONLY:
            assert sg.STOL[s] == 0
        else:
            assert sg.LTOS[sg.STOL[s]] == s
    assert set(range(1, sg.SOLARIS_NSIG)) == set(images) | sg.SOLARIS_ONLY
    assert len(sg.LTOS) == sg.LINUX_NSIG and len(sg.STOL) == sg.SOLARIS_NSIG


def test_solaris_only_signals():
    names = {"SIGEMT", "SIGWAITING", "SIGLWP", "SIGFREEZE", "SIGTHAW", "SIGCANCEL", "SIGLOST", "SIGXRES", "SIGINFO"}
    assert {sg.solaris_signo(n) for n in names} == sg.SOLARIS_ONLY
    assert all(sg.stol(s) == 0 for s in sg.SOLARIS_ONLY)


def test_shared_names_map_by_name():
    for l in range(1, sg.LINUX_SIGRTMIN):
        if l == 16:
            continue
        assert sg.LINUX_SIGNAMES[l] == sg.SOLARIS_SIGNAMES[sg.LTOS[l]]
    # exactly one table: every row of SIGNAL_MAP is what LTOS/STOL and the name maps say
    for lname, l, sname, s in sg.SIGNAL_MAP:
        assert sg.SOLARIS_SIGNAMES[s] == sname
        if l:
            assert sg.LINUX_SIGNAMES[l] == lname and sg.LTOS[l] == s


@given(st.integers(min_value=-(2**31), max_value=2**31))
def test_ltos_stol_total(n):
    assert 0 <= sg.ltos(n) < sg.SOLARIS_NSIG
    assert 0 <= sg.stol(n) < sg.LINUX_NSIG
    if 1 <= n < sg.LINUX_NSIG:
        assert sg.stol(sg.ltos(n)) == n


def test_signal_names_and_aliases():
    assert sg.linux_signo("USR1") == 10 and sg.solaris_signo("USR1") == 16
    assert sg.linux_signo("SIGRT_2") == 34 == sg.linux_signo("SIGRTMIN+2")
    assert sg.linux_signo("SIGRTMAX") == 64 and sg.solaris_signo("SIGRTMAX") == 73
    assert sg.LinuxSig.SIGCHLD == 17 and sg.SolarisSig.SIGCHLD == 18 and sg.SolarisSig.SIGCLD == 18
    assert sg.LinuxSig.SIGIOT == sg.LinuxSig.SIGABRT
    assert sg.linux_name(16) == "SIGSTKFLT" and sg.solaris_name(sg.ltos(16)) == "SIGJVM1"
    assert sg.linux_name(33) == "SIGRTMIN+1" and sg.solaris_name(43) == "SIGRTMIN+1"
    assert sg.linux_name(99) == "99" and sg.solaris_name(0) == "0"


def test_si_codes_shared_names_agree():
    """Per-signal codes with the same name have the same value on both systems."""
    for lsig, lcodes in sg.LINUX_SI_CODES.items():
        if lsig is None:
            continue
        scodes = sg.SOLARIS_SI_CODES.get(sg.LTOS[lsig], {})
        for name in set(lcodes) & set(scodes):
            assert lcodes[name] == scodes[name], name
    for l, s in sg.SI_CODE_GENERIC_MAP:
        assert sg.LINUX_TO_SOLARIS_SI_GENERIC[sg.LINUX_SI_CODES[None][l]] == sg.SOLARIS_SI_CODES[None][s]
    assert sg.LinuxSi.TRAP_HWBKPT == 4 and sg.LinuxSi.SI_KERNEL == 0x80 and sg.SolarisSi.SI_QUEUE == -2


# ---------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------

S, C, F = sg.LinuxSig, sg.LinuxSi, faults.FLT


@pytest.mark.parametrize(
    "signo, code, area, want",
    [
        (S.SIGTRAP, C.TRAP_BRKPT, "data", F.FLTTRACE),  # x86: a step over a syscall
        (S.SIGTRAP, C.SI_KERNEL, "data", F.FLTBPT),
        (S.SIGTRAP, C.TRAP_TRACE, "data", F.FLTTRACE),
        (S.SIGTRAP, C.TRAP_HWBKPT, "data", F.FLTWATCH),
        (S.SIGTRAP, C.TRAP_HWBKPT, "exec", F.FLTBPT),
        (S.SIGSEGV, C.SEGV_MAPERR, "data", F.FLTBOUNDS),
        (S.SIGSEGV, C.SEGV_ACCERR, "data", F.FLTACCESS),
        (S.SIGSEGV, C.SI_KERNEL, "data", F.FLTBOUNDS),
        (S.SIGBUS, C.BUS_ADRERR, "data", F.FLTACCESS),
        (S.SIGBUS, C.BUS_ADRALN, "data", F.FLTACCESS),
        (S.SIGILL, C.ILL_ILLOPC, "data", F.FLTILL),
        (S.SIGILL, C.ILL_PRVOPC, "data", F.FLTPRIV),
        (S.SIGILL, C.ILL_PRVREG, "data", F.FLTPRIV),
        (S.SIGFPE, C.FPE_INTDIV, "data", F.FLTIZDIV),
        (S.SIGFPE, C.FPE_INTOVF, "data", F.FLTIOVF),
        (S.SIGFPE, C.FPE_FLTDIV, "data", F.FLTFPE),
        (S.SIGFPE, C.FPE_FLTINV, "data", F.FLTFPE),
        (S.SIGFPE, C.SI_KERNEL, "data", F.FLTFPE),
        (S.SIGTRAP, C.TRAP_UNK, "data", F.FLTBPT),
        # sent by someone, not raised by the CPU: a signal, never a fault
        (S.SIGSEGV, C.SI_USER, "data", None),
        (S.SIGTRAP, C.SI_TKILL, "data", None),
        (S.SIGILL, C.SI_QUEUE, "data", None),
        (S.SIGTRAP, C.TRAP_PERF, "data", None),
        (S.SIGUSR1, C.SI_KERNEL, "data", None),
        (S.SIGCHLD, C.CLD_EXITED, "data", None),
    ],
)
def test_host_fault(signo, code, area, want):
    assert faults.host_fault(signo, code, area) == want


def test_fault_tables_are_consistent():
    assert {s for s, c in faults.HOST_FAULTS if c is None} == faults.FAULT_SIGNALS
    for (signo, code), flt in faults.HOST_FAULTS.items():
        assert signo in faults.FAULT_SIGNALS
        if code is None:
            continue
        valid = {**sg.LINUX_SI_CODES[None], **sg.LINUX_SI_CODES[signo]}
        assert code in valid.values() and code > 0, (signo, code)
    assert set(faults.FLT_SIGNAL) == set(faults.FLT) == set(faults.FLT_SOLARIS_SIGNAL)
    # a fault raised from host signal X becomes X again when untraced (FLTACCESS: SIGSEGV or SIGBUS)
    for (signo, _), flt in faults.HOST_FAULTS.items():
        if flt is not None and flt is not F.FLTACCESS:
            assert faults.FLT_SIGNAL[flt] == signo, flt
    assert faults.FLT_SOLARIS_SIGNAL[F.FLTCPCOVF] == sg.solaris_signo("SIGEMT")
    assert faults.FLT_MAX == 13 and faults.FLT_MAX < pc.SETS["fltset_t"].capacity


# ---------------------------------------------------------------------------------------------
# Registers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("abi", ["amd64", "i386"])
def test_register_map_is_injective(abi):
    m = regs.LINUX_TO_ILLUMOS[abi]
    assert tuple(m) == regs.LINUX_USER_REGS[abi]  # one row per Linux field, in Linux order
    none = [f for f, i in m.items() if i is None]
    assert none == [regs.LINUX_ORIG_SYSCALL[abi]]
    idx = [i for i in m.values() if i is not None]
    assert len(set(idx)) == len(idx) and all(0 <= i < regs.NPRGREG[abi] for i in idx)
    uncovered = {regs.ILLUMOS_REGS[abi][i] for i in set(range(regs.NPRGREG[abi])) - set(idx)}
    assert uncovered == ({"REG_TRAPNO", "REG_ERR"} if abi == "amd64" else {"TRAPNO", "ERR", "ESP"})
    assert all(m[f] == i for i, f in regs.ILLUMOS_TO_LINUX[abi].items())


def test_register_map_details():
    assert regs.LINUX_TO_ILLUMOS["i386"]["esp"] == regs.REG32.UESP == regs.REG32.REG_SP == 17
    assert regs.REG32.ESP == 7
    assert regs.LINUX_TO_ILLUMOS["amd64"]["rsp"] == regs.REG64.REG_SP == 20
    assert regs.LINUX_TO_ILLUMOS["amd64"]["fs_base"] == regs.REG64.REG_FSBASE == 26
    assert regs.NPRGREG == {"amd64": 28, "i386": 19}
    assert len(regs.LINUX_USER_REGS["amd64"]) == 27 and len(regs.LINUX_USER_REGS["i386"]) == 17


def test_i386_registers_in_the_amd64_gregset():
    """Route 1 (Linux i386 -> Linux amd64 -> illumos amd64) equals route 2 (Linux i386 ->
    illumos i386 -> illumos amd64)."""
    for f, i32 in regs.LINUX_TO_ILLUMOS["i386"].items():
        via_illumos = None if i32 is None else regs.ILLUMOS_I386_TO_AMD64[i32]
        assert regs.I386_IN_AMD64_GREGSET[f] == via_illumos, f
    slots = [i for i in regs.ILLUMOS_I386_TO_AMD64.values() if i is not None]
    assert len(set(slots)) == len(slots)
    vals = list(regs.I386_LINUX_TO_AMD64_LINUX.values())
    assert len(set(vals)) == len(vals) and set(vals) <= set(regs.LINUX_USER_REGS["amd64"])
    # PRoot's convert_user_regs_index, i386 index -> amd64 index (ptrace-emulations.md §3.3)
    proot = [5, 11, 12, 13, 14, 4, 10, 23, 24, 25, 26, 15, 16, 17, 18, 19, 20]
    ours = [regs.LINUX_REG_INDEX["amd64"][regs.I386_LINUX_TO_AMD64_LINUX[f]] for f in regs.LINUX_USER_REGS["i386"]]
    assert ours == proot


def test_eflags_masks():
    assert regs.LINUX_FLAG_MASK_32 == 0x50DD5
    assert regs.LINUX_FLAG_MASK_64 == 0x54DD5
    assert regs.ILLUMOS_PSL_USERMASK == 0x44DD5
    assert regs.LINUX_FLAG_MASK_64 & regs.X86_EFLAGS.TF  # Linux lets the tracer set TF
    assert not regs.LINUX_FLAG_MASK_64 & (regs.X86_EFLAGS.IF | regs.X86_EFLAGS.IOPL | regs.X86_EFLAGS.VM)


# ---------------------------------------------------------------------------------------------
# procfs constants
# ---------------------------------------------------------------------------------------------


def test_extension_codes_outside_solaris_range():
    assert all(c >= pc.PCX_BASE for c in pc.PCX)
    assert max(pc.PC) < pc.PCX_BASE
    assert pc.PCX.PCXSYSCALL_ONCE == 0x1000 and pc.PCX.PCXSETSYSNUM == 0x1001
    assert pc.CTL_CODES == {int(c) for c in pc.PC} | {0x1000, 0x1001, 0x1002, 0x1003, 0x1004}
    assert pc.PCRUN == 5 and pc.PR_STOPPED == 1 and pc.WA_TRAPAFTER == 8  # module-level names


def test_ctl_uses_these_values():
    """structs/ctl.py re-exports the codes; its PCXSYSCALL_ONCE flags must be these."""
    from structs import ctl

    assert ctl.PCXSYSCALL_ONCE == pc.PCXSYSCALL_ONCE and ctl.PCXSETSYSNUM == pc.PCXSETSYSNUM
    if hasattr(ctl, "XSYSCALL_ENTRY"):
        assert (ctl.XSYSCALL_ENTRY, ctl.XSYSCALL_EXIT) == (pc.XSYSCALL_ENTRY, pc.XSYSCALL_EXIT)


def test_set_rule():
    assert pc.set_position("sigset_t", 1) == (0, 0)
    assert pc.set_position("sigset_t", 32) == (0, 31)
    assert pc.set_position("sigset_t", 33) == (1, 0)
    assert pc.set_position("sigset_t", sg.SOLARIS_MAXSIG) == (2, 8)
    assert pc.set_position("fltset_t", faults.FLT.FLTWATCH) == (0, 11)
    assert pc.set_position("sysset_t", 0) == (0, 0)  # read on x86-64
    assert pc.set_position("sysset_t", 511) == (15, 31)
    assert {k: r.capacity for k, r in pc.SETS.items()} == {"sigset_t": 128, "fltset_t": 128, "sysset_t": 512}
    assert sg.SOLARIS_MAXSIG < pc.SETS["sigset_t"].capacity


def test_pcset_modes():
    assert pc.PCSET_MODES == 0x0FF00000


@given(st.sampled_from(sorted(pc.SETS)), st.integers(min_value=0, max_value=511))
def test_set_position_in_range(kind, n):
    rule = pc.SETS[kind]
    member = n % rule.capacity + rule.base
    w, b = pc.set_position(kind, member)
    assert 0 <= w < rule.words and 0 <= b < pc.SET_WORD_BITS
    assert w * pc.SET_WORD_BITS + b + rule.base == member


def test_star_imports_are_complete():
    for mod in (sg, faults, pc, ptc, regs, syscalls):
        for name in mod.__all__:
            assert hasattr(mod, name), (mod.__name__, name)


# ---------------------------------------------------------------------------------------------
# Solaris values against the reference
# ---------------------------------------------------------------------------------------------

needs_reference = pytest.mark.skipif(REFERENCE is None, reason="reference documents not present")


def _md_sections(text):
    """{heading text: [row cells, ...]} for every Markdown table under a heading."""
    out, head = {}, None
    for line in text.splitlines():
        if line.startswith("#"):
            head = line.lstrip("#").strip()
        elif line.startswith("|") and head is not None and not re.match(r"^\|[-| ]+\|$", line):
            cells = [c.strip().strip("`").strip() for c in line.strip().strip("|").split("|")]
            out.setdefault(head, []).append(cells)
    return out


def _pairs(rows):
    """name -> value for 2-column `| name | value |` rows (names like `SIGIOT / SIGABRT` split)."""
    out = {}
    for cells in rows[1:]:  # first row is the header
        for name in cells[0].replace("`", "").split("/"):
            out[name.strip()] = int(cells[1], 0)
    return out


@pytest.fixture(scope="module")
def layouts_md():
    return _md_sections((REFERENCE / "solaris-proc-layouts.md").read_text())


def _section(md, prefix):
    [key] = [k for k in md if k.startswith(prefix)]
    return _pairs(md[key])


@needs_reference
def test_solaris_signals_against_reference(layouts_md):
    ref = _section(layouts_md, "Signal numbers")
    special = {"_SIGRTMIN": sg.SOLARIS_SIGRTMIN, "_SIGRTMAX": sg.SOLARIS_SIGRTMAX,
               "MAXSIG": sg.SOLARIS_MAXSIG, "NSIG": sg.SOLARIS_NSIG}  # fmt: skip
    for name, value in ref.items():
        assert special.get(name, sg.SOLARIS_SIGNALS.get(name)) == value, name
    classic = {n: v for v, n in sg.SOLARIS_SIGNAMES.items() if not n.startswith("SIGRT")}
    assert all(ref.get(n) == v or n == "SIGIO" for n, v in classic.items())


@needs_reference
@pytest.mark.parametrize(
    "prefix, table",
    [
        ("Fault numbers", {f.name: int(f) for f in faults.FLT}),
        ("Watchpoint flags", {m.name: int(m) for m in pc.WA}),
        ("/proc control codes", {m.name: int(m) for m in pc.PC}),
        ("PCRUN operand flags", {m.name: int(m) for m in pc.PCRUN_FLAGS}),
        ("pr_flags", {m.name: int(m) for m in pc.PR_FLAGS}),
        ("pr_why", {m.name: int(m) for m in pc.PR_WHY}),
        ("pr_dmodel", {m.name: int(m) for m in pc.PR_MODEL}),
        ("prmap_t.pr_mflags", {m.name: int(m) for m in pc.MA}),
        ("generic (siginfo.h)", sg.SOLARIS_SI_CODES[None]),
        ("SIGTRAP (siginfo.h)", sg.SOLARIS_SI_CODES[5]),
        ("SIGCHLD (siginfo.h)", sg.SOLARIS_SI_CODES[18]),
        ("SIGPOLL (siginfo.h)", sg.SOLARIS_SI_CODES[22]),
        ("SIGPROF (siginfo.h)", sg.SOLARIS_SI_CODES[29]),
        ("SIGSEGV (intel machsig.h)", sg.SOLARIS_SI_CODES[11]),
        ("SIGBUS (intel machsig.h)", sg.SOLARIS_SI_CODES[10]),
        ("SIGILL (intel machsig.h)", sg.SOLARIS_SI_CODES[4]),
        ("SIGFPE (intel machsig.h)", sg.SOLARIS_SI_CODES[8]),
        ("SIGEMT (intel machsig.h)", sg.SOLARIS_SI_CODES[7]),
    ],
)
def test_solaris_tables_against_reference(layouts_md, prefix, table):
    assert _section(layouts_md, prefix) == table


@needs_reference
def test_solaris_sizes_against_reference(layouts_md):
    rows = {c[0]: c[1] for c in layouts_md["Constants used"][1:]}
    for name in ("PRCLSZ", "PRSYSARGS", "PRFNSZ", "PRARGSZ", "PRMAPSZ"):
        assert int(rows[name]) == getattr(pc, name), name
    assert rows["sysset_t words"].startswith(f"{pc.SETS['sysset_t'].words} ")
    assert rows["sigset_t words"].startswith(f"{pc.SETS['sigset_t'].words} ")
    assert rows["fltset_t words"].startswith(f"{pc.SETS['fltset_t'].words} ")


@needs_reference
@pytest.mark.parametrize("abi", ["amd64", "i386"])
def test_illumos_reg_indexes_against_reference(layouts_md, abi):
    [key] = [k for k in layouts_md if k.startswith("REG_* indexes") and abi in k]
    ref = {int(c[0]): c[1] for c in layouts_md[key][1:]}
    assert ref == dict(enumerate(regs.ILLUMOS_REGS[abi]))


@needs_reference
def test_register_maps_against_emulation_notes():
    text = (REFERENCE / "ptrace-emulations.md").read_text()
    sec = text[text.index("### 3.3") : text.index("### 3.4")]
    amd64 = {}
    for m in re.finditer(r"^\| (\d+) (\w+) \| (?:REG_\w+ (\d+)|—[^|]*) \|", sec, re.M):
        amd64[m.group(2)] = None if m.group(3) is None else int(m.group(3))
    assert amd64 == regs.LINUX_TO_ILLUMOS["amd64"]
    i386 = {}
    for m in re.finditer(r"\b(\d+) (\w+) ?→ ?(?:\*\*)?(?:[A-Z]+ )?(\d+|none)", sec):
        i386[m.group(2)] = None if m.group(3) == "none" else int(m.group(3))
    assert i386 == regs.LINUX_TO_ILLUMOS["i386"]
