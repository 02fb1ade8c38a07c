"""The Linux layouts (user area, siginfo_t, ptrace argument structures) against the C compiler.

A C probe is generated from the schemas themselves: for every named member at every level
(arrays element by element, nested structures, union arms through their views) it prints
offsetof, sizeof and the signedness of scalars, compiled with `gcc -m64` and `gcc -m32` against
glibc's <sys/user.h>, <signal.h>, <sys/uio.h> and <linux/ptrace.h>.  What the compiler cannot
answer (the kernel's tail of the amd64 `struct user`, the sizes PTRACE_GET_SYSCALL_INFO returns)
is asserted as constants with the kernel source named.  Every schema round-trips any bytes.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field

import pytest
from construct import Struct
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from structs.codec import codec, plain
from structs.fields import leaves, memberof, offsetof, sizeof
from structs.layout import alignof
from structs.linux_siginfo import SIFIELDS_SIZE, SIGINFO, SIGINFO_VIEWS, SI_MAX_SIZE
from structs.ptrace_abi import (
    IOVEC,
    PTRACE_PEEKSIGINFO_ARGS,
    PTRACE_SYSCALL_INFO,
    PTRACE_SYSCALL_INFO_SIZE,
    PTRACE_SYSCALL_INFO_VIEWS,
)
from structs.user_area import GLIBC_USER_SIZE, USER, USER_FPREGS, USER_FPXREGS, USER_REGS

ABIS = ("amd64", "i386")
GCC_FLAG = {"amd64": "-m64", "i386": "-m32"}

# Schema names that are not C members: builder padding, the unnamed rest of a union view, and
# ptrace_syscall_info's anonymous union.
NOT_C = re.compile(r"^_(pad\d+|rest|union)$")

# glibc's siginfo_t arm for each view, and the view members named after glibc's si_* macros
# because the real member starts with an underscore.
SIGINFO_ARM = {
    "kill": "_kill",
    "timer": "_timer",
    "rt": "_rt",
    "sigchld": "_sigchld",
    "sigfault": "_sigfault",
    "sigpoll": "_sigpoll",
    "sigsys": "_sigsys",
}
SIGINFO_RENAME = {
    "si_bounds": "_bounds",
    "si_call_addr": "_call_addr",
    "si_syscall": "_syscall",
    "si_arch": "_arch",
}
# glibc's si_* macros -> (view, member) they should land on.
SIGINFO_MACROS = {
    "si_pid": ("kill", "si_pid"),
    "si_uid": ("kill", "si_uid"),
    "si_timerid": ("timer", "si_tid"),
    "si_overrun": ("timer", "si_overrun"),
    "si_status": ("sigchld", "si_status"),
    "si_utime": ("sigchld", "si_utime"),
    "si_stime": ("sigchld", "si_stime"),
    "si_value": ("rt", "si_sigval"),
    "si_addr": ("sigfault", "si_addr"),
    "si_addr_lsb": ("sigfault", "si_addr_lsb"),
    "si_band": ("sigpoll", "si_band"),
    "si_fd": ("sigpoll", "si_fd"),
    "si_call_addr": ("sigsys", "si_call_addr"),
    "si_syscall": ("sigsys", "si_syscall"),
    "si_arch": ("sigsys", "si_arch"),
}
# Every si_* macro glibc defines, undefined before probing the real member paths (a macro
# expands after `.` too: `_sifields._kill.si_pid` would otherwise become nonsense).
ALL_SI_MACROS = (*SIGINFO_MACROS, "si_int", "si_ptr", "si_lower", "si_upper", "si_pkey")


@dataclass
class Target:
    """One schema and the C object it describes."""

    key: str
    con: Struct
    ctype: str
    base: str = ""  # C member the schema's bytes start at (a union arm), "" for the whole type
    rename: dict[str, str] = field(default_factory=dict)  # schema top-level name -> C name
    limit: int | None = None  # check only members that end at or before this offset


def targets(abi: str) -> list[Target]:
    ts = [
        Target("USER_REGS", USER_REGS[abi], "struct user_regs_struct"),
        Target("USER_FPREGS", USER_FPREGS[abi], "struct user_fpregs_struct"),
        Target("USER", USER[abi], "struct user", limit=GLIBC_USER_SIZE[abi]),
        Target("SIGINFO", SIGINFO[abi], "siginfo_t"),
        Target("IOVEC", IOVEC[abi], "struct iovec"),
        Target("PTRACE_SYSCALL_INFO", PTRACE_SYSCALL_INFO[abi], "struct ptrace_syscall_info"),
        Target("PTRACE_PEEKSIGINFO_ARGS", PTRACE_PEEKSIGINFO_ARGS[abi], "struct ptrace_peeksiginfo_args"),
    ]
    if abi in USER_FPXREGS:
        ts.append(Target("USER_FPXREGS", USER_FPXREGS[abi], "struct user_fpxregs_struct"))
    for arm, view in SIGINFO_VIEWS[abi].items():
        base = f"_sifields.{SIGINFO_ARM[arm]}"
        ts.append(Target(f"SIGINFO_VIEWS.{arm}", view, "siginfo_t", base, SIGINFO_RENAME))
    for arm, view in PTRACE_SYSCALL_INFO_VIEWS[abi].items():
        ts.append(Target(f"PTRACE_SYSCALL_INFO_VIEWS.{arm}", view, "struct ptrace_syscall_info", arm))
    return ts


def member_paths(con: Struct) -> list[str]:
    """Every member path at every level ("i387", "i387.st_space", "i387.st_space[3]")."""
    out: dict[str, None] = {}
    for leaf in leaves(con):
        for cut in [m.start() for m in re.finditer(r"[.\[]", leaf.path)] + [len(leaf.path)]:
            out[leaf.path[:cut]] = None
    return list(out)


def c_path(t: Target, path: str) -> str | None:
    names = re.findall(r"[A-Za-z_]\w*", path)
    if any(NOT_C.match(n) for n in names):
        return None
    head = re.match(r"[A-Za-z_]\w*", path).group()
    path = t.rename.get(head, head) + path[len(head) :]
    return f"{t.base}.{path}" if t.base else path


PROBE_HEAD = r"""
#include <stddef.h>
#include <stdio.h>
#include <signal.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <linux/ptrace.h>

#define SGN(x) _Generic((x), char: ((char)-1 < 0 ? 's' : 'u'), signed char: 's', \
    unsigned char: 'u', short: 's', unsigned short: 'u', int: 's', unsigned int: 'u', \
    long: 's', unsigned long: 'u', long long: 's', unsigned long long: 'u', default: '-')
#define M(key, T, m, base) printf("%s %zu %zu %c\n", key, offsetof(T, m) - (base), \
    sizeof(((T *)0)->m), SGN(((T *)0)->m))
#define S(key, T) printf("%s %zu %zu\n", key, sizeof(T), _Alignof(T))

int main(void)
{
"""


def probe_source(abi: str) -> str:
    lines = [PROBE_HEAD]
    # glibc's macro spellings first, while the macros exist.
    for macro in SIGINFO_MACROS:
        lines.append(f'    M("macro:{macro}", siginfo_t, {macro}, offsetof(siginfo_t, _sifields));')
    lines += [f"#undef {m}" for m in ALL_SI_MACROS]
    for t in targets(abi):
        if t.base:
            lines.append(f'    printf("base:{t.key} %zu %zu\\n", offsetof({t.ctype}, {t.base}), '
                         f'sizeof((({t.ctype} *)0)->{t.base}));')
        else:
            lines.append(f'    S("size:{t.key}", {t.ctype});')
        base = f"offsetof({t.ctype}, {t.base})" if t.base else "0"
        for path in member_paths(t.con):
            cp = c_path(t, path)
            if cp is None:
                continue
            off, size = memberof(t.con, path)
            if t.limit is not None and off + size > t.limit:
                continue
            lines.append(f'    M("{t.key}:{path}", {t.ctype}, {cp}, {base});')
    lines.append("    return 0;\n}\n")
    return "\n".join(lines)


@pytest.fixture(scope="module", params=ABIS)
def probe(request, cbuild) -> tuple[str, dict[str, tuple]]:
    """(abi, {key: (offset, size, sign)} or {"size:..": (size, align)}) from the compiled probe."""
    abi = request.param
    exe = cbuild(probe_source(abi), GCC_FLAG[abi], "-std=gnu11", "-Wall", name=f"linux-layouts-{abi}")
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        key, *vals = line.split()
        table[key] = tuple(int(v) if v.isdigit() else v for v in vals)
    return abi, table


def _sign(fmt: str) -> str:
    return "u" if fmt.isupper() else "s"


def test_every_member_matches_the_compiler(probe):
    abi, c = probe
    wrong, checked = [], 0
    for t in targets(abi):
        fmts = {leaf.path: leaf.fmt for leaf in leaves(t.con)}
        for path in member_paths(t.con):
            key = f"{t.key}:{path}"
            if c_path(t, path) is None or (t.limit is not None and sum(memberof(t.con, path)) > t.limit):
                assert key not in c
                continue
            off, size, sign = c[key]
            checked += 1
            if (off, size) != memberof(t.con, path):
                wrong.append(f"{key}: C says offset {off} size {size}, schema {memberof(t.con, path)}")
            fmt = fmts.get(path)
            if fmt is None:
                continue
            # '-' is a pointer or a union of a pointer and an integer: kept as an unsigned word.
            if _sign(fmt) != (sign if sign != "-" else "u"):
                wrong.append(f"{key}: C signedness {sign}, schema format {fmt!r}")
    assert not wrong, "\n".join(wrong)
    assert checked >= 300  # every register, array element and view member, not a sample


def test_struct_sizes_and_alignment_match_the_compiler(probe):
    abi, c = probe
    for t in targets(abi):
        if t.base:
            continue
        size, align = c[f"size:{t.key}"]
        want = t.limit if t.limit is not None else sizeof(t.con)
        assert (size, align) == (want, alignof(t.con)), t.key


def test_glibc_macros_land_on_the_view_members(probe):
    abi, c = probe
    for macro, (arm, member) in SIGINFO_MACROS.items():
        off, size, _ = c[f"macro:{macro}"]
        assert (off, size) == memberof(SIGINFO_VIEWS[abi][arm], member), macro


def test_union_views_start_where_the_union_does(probe):
    abi, c = probe
    sif = memberof(SIGINFO[abi], "_sifields")
    assert sif == c["SIGINFO:_sifields"][:2] == (12 if abi == "i386" else 16, SIFIELDS_SIZE[abi])
    for arm, view in SIGINFO_VIEWS[abi].items():
        off, arm_size = c[f"base:SIGINFO_VIEWS.{arm}"]
        assert off == sif[0] and arm_size <= sizeof(view) == sif[1], arm
    # ptrace_syscall_info's union is anonymous: it starts where its arms do and runs to the end.
    u_off, u_size = memberof(PTRACE_SYSCALL_INFO[abi], "_union")
    assert u_off + u_size == c["size:PTRACE_SYSCALL_INFO"][0]
    for arm, view in PTRACE_SYSCALL_INFO_VIEWS[abi].items():
        off, arm_size = c[f"base:PTRACE_SYSCALL_INFO_VIEWS.{arm}"]
        assert off == u_off == 24 and arm_size <= sizeof(view) == u_size, arm


# ---- what the compiler cannot say -----------------------------------------------------------


def test_amd64_struct_user_kernel_tail():
    # torvalds/linux arch/x86/include/asm/user_64.h: struct user ends
    #   unsigned long u_debugreg[8]; unsigned long error_code; unsigned long fault_address;
    # glibc's <sys/user.h> stops after u_debugreg (912 bytes, checked against gcc above).
    u = USER["amd64"]
    assert GLIBC_USER_SIZE["amd64"] == 912
    assert memberof(u, "u_debugreg") == (848, 64)
    assert memberof(u, "error_code") == (912, 8)
    assert memberof(u, "fault_address") == (920, 8)
    assert sizeof(u) == 928
    assert [p for p in member_paths(u) if offsetof(u, p) >= 912] == ["error_code", "fault_address"]
    # i386 (arch/x86/include/asm/user_32.h) has no tail: glibc and the kernel agree on 284.
    assert sizeof(USER["i386"]) == GLIBC_USER_SIZE["i386"] == 284


def test_user_area_reference_offsets():
    # /work/shared/reference/ptrace-emulations.md §3.1/§3.2 (also FreeBSD LINUX_DBREG_OFFSET 252).
    a, i = USER["amd64"], USER["i386"]
    assert offsetof(a, "regs.orig_rax") == 120 and offsetof(a, "regs.rip") == 128
    assert offsetof(a, "i387") == 224 and offsetof(a, "u_debugreg[7]") == 904
    assert offsetof(i, "regs.orig_eax") == 44 and offsetof(i, "i387") == 72
    assert offsetof(i, "u_comm") == 220 and offsetof(i, "u_debugreg") == 252
    assert sizeof(USER_FPXREGS["i386"]) == sizeof(USER_FPREGS["amd64"]) == 512


@pytest.mark.parametrize("abi", ABIS)
def test_syscall_info_returned_sizes(abi):
    # torvalds/linux kernel/ptrace.c ptrace_get_syscall_info(): none = offsetof(info, entry),
    # entry = offsetof(entry.args) + sizeof(entry.args), exit = ... exit.is_error + 1,
    # seccomp = ... seccomp.ret_data + 4.
    assert PTRACE_SYSCALL_INFO_SIZE[abi] == {"none": 24, "entry": 80, "exit": 33, "seccomp": 84}
    assert max(PTRACE_SYSCALL_INFO_SIZE[abi].values()) <= sizeof(PTRACE_SYSCALL_INFO[abi])


def test_siginfo_sizes():
    for abi in ABIS:
        assert sizeof(SIGINFO[abi]) == SI_MAX_SIZE == 128
    assert SIFIELDS_SIZE == {"amd64": 112, "i386": 116}
    assert offsetof(SIGINFO["amd64"], "_sifields") == 16 and offsetof(SIGINFO["i386"], "_sifields") == 12
    assert sizeof(IOVEC["amd64"]) == 16 and sizeof(IOVEC["i386"]) == 8


# ---- round trips ----------------------------------------------------------------------------


def _all_schemas() -> list[tuple[str, Struct]]:
    out = []
    for abi in ABIS:
        for t in targets(abi):
            out.append((f"{abi}:{t.key}", t.con))
    return out


SCHEMAS = _all_schemas()



@pytest.mark.parametrize("con", [c for _, c in SCHEMAS], ids=[n for n, _ in SCHEMAS])
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_any_bytes(con, data):
    n = sizeof(con)
    b = data.draw(st.one_of(st.binary(min_size=n, max_size=n), st.just(b"\xff" * n)))
    parsed = con.parse(b)
    assert con.build(parsed) == b
    c = codec(con)
    decoded = c.decode(b)
    assert decoded == plain(parsed)
    assert c.encode(decoded) == b
