"""FreeBSD's `struct reg`, `struct fpreg`, `struct dbreg` and `struct ptrace_io_desc` (structs/bsd.py)
against FreeBSD's headers.

Where the numbers come from:
* freebsd/freebsd-src, sys/x86/include/reg.h at commit 4484bf717c82ee46f15a522b7fc088a3e85f3d5b
  (which sys/amd64/include/reg.h and sys/i386/include/reg.h include): `struct __reg64` (amd64
  `struct reg`), `__reg32` (i386), `__fpreg64`/`__fpreg32`, `__dbreg64`/`__dbreg32`.
* freebsd/freebsd-src, sys/sys/ptrace.h at commit 009e81b16465ea457c0e63fd49fe77f47cc27a5a:
  `struct ptrace_io_desc`, PT_* and PIOD_*; DragonFlyBSD/DragonFlyBSD sys/sys/ptrace.h at
  005f09fe85c0814fc8cc5cf71b6280707e2f82d3 has the same numbers for PT_TRACE_ME..PT_IO and the
  same ptrace_io_desc.
The member declarations below are those headers' (types spelled with <stdint.h>), compiled with
`gcc -m64` and `gcc -m32`; every member's offset and every size must agree with the schema.  The
hand-worked totals from the headers are asserted too, so a compiler and a schema that agreed on
a wrong transcription would still fail.
"""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from structs import bsd
from structs.fields import offsetof, sizeof

DECLS = r"""
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
struct reg64 { int64_t r_r15, r_r14, r_r13, r_r12, r_r11, r_r10, r_r9, r_r8, r_rdi, r_rsi, r_rbp,
    r_rbx, r_rdx, r_rcx, r_rax; uint32_t r_trapno; uint16_t r_fs, r_gs; uint32_t r_err;
    uint16_t r_es, r_ds; int64_t r_rip, r_cs, r_rflags, r_rsp, r_ss; };
struct reg32 { uint32_t r_fs, r_es, r_ds, r_edi, r_esi, r_ebp, r_isp, r_ebx, r_edx, r_ecx, r_eax,
    r_trapno, r_err, r_eip, r_cs, r_eflags, r_esp, r_ss, r_gs; };
struct fpreg64 { uint64_t fpr_env[4]; uint8_t fpr_acc[8][16]; uint8_t fpr_xacc[16][16];
    uint64_t fpr_spare[12]; };
struct fpreg32 { uint32_t fpr_env[7]; uint8_t fpr_acc[8][10]; uint32_t fpr_ex_sw; uint8_t fpr_pad[64]; };
struct dbreg64 { uint64_t dr[16]; };
struct dbreg32 { uint32_t dr[8]; };
struct ptrace_io_desc { int piod_op; void *piod_offs; void *piod_addr; size_t piod_len; };
#define P(s, m) printf(#s " " #m " %zu\n", offsetof(struct s, m));
#define S(s) printf(#s " sizeof %zu\n", sizeof(struct s));
int main(void) {
%s
    return 0;
}
"""

GCC = {"amd64": "-m64", "i386": "-m32"}
C_NAME = {"amd64": {"REG": "reg64", "FPREG": "fpreg64", "DBREG": "dbreg64", "PTRACE_IO_DESC": "ptrace_io_desc"},
          "i386": {"REG": "reg32", "FPREG": "fpreg32", "DBREG": "dbreg32", "PTRACE_IO_DESC": "ptrace_io_desc"}}
MEMBERS = {
    "REG": lambda abi: bsd.REG_NAMES[abi],
    "FPREG": lambda abi: (("fpr_env", "fpr_acc", "fpr_xacc", "fpr_spare") if abi == "amd64"
                          else ("fpr_env", "fpr_acc", "fpr_ex_sw", "fpr_pad")),
    "DBREG": lambda abi: ("dr",),
    "PTRACE_IO_DESC": lambda abi: ("piod_op", "piod_offs", "piod_addr", "piod_len"),
}

# Worked out by hand from the headers above (15 int64 + 4+2+2+4+2+2 + 5 int64 = 176, ...).
HEADER_SIZES = {
    "amd64": {"REG": 176, "FPREG": 512, "DBREG": 128, "PTRACE_IO_DESC": 32},
    "i386": {"REG": 76, "FPREG": 176, "DBREG": 32, "PTRACE_IO_DESC": 16},
}
HEADER_OFFSETS = {  # a few members whose place a slip would move
    ("amd64", "REG", "r_trapno"): 120, ("amd64", "REG", "r_fs"): 124, ("amd64", "REG", "r_err"): 128,
    ("amd64", "REG", "r_rip"): 136, ("amd64", "REG", "r_ss"): 168,
    ("i386", "REG", "r_eip"): 52, ("i386", "REG", "r_gs"): 72,
    ("amd64", "FPREG", "fpr_acc"): 32, ("amd64", "FPREG", "fpr_xacc"): 160, ("amd64", "FPREG", "fpr_spare"): 416,
    ("i386", "FPREG", "fpr_acc"): 28, ("i386", "FPREG", "fpr_ex_sw"): 108,
    ("amd64", "PTRACE_IO_DESC", "piod_offs"): 8, ("i386", "PTRACE_IO_DESC", "piod_offs"): 4,
}


def _schema(kind: str, abi: str):
    return getattr(bsd, kind)[abi]


@pytest.fixture(scope="module", params=["amd64", "i386"])
def compiled(request, tmp_path_factory):
    abi = request.param
    lines = []
    for kind, names in MEMBERS.items():
        c = C_NAME[abi][kind]
        lines.append(f"    S({c})")
        lines += [f"    P({c}, {m})" for m in names(abi)]
    src = tmp_path_factory.mktemp("bsd") / f"probe-{abi}.c"
    src.write_text(DECLS.replace("%s", "\n".join(lines)))
    exe = src.with_suffix("")
    res = subprocess.run(["gcc", GCC[abi], "-o", str(exe), str(src)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"gcc {GCC[abi]} failed (gcc-multilib missing?):\n{res.stderr}")
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        s, m, v = line.split()
        table[(s, m)] = int(v)
    return abi, table


@pytest.mark.parametrize("kind", list(MEMBERS))
def test_layout_matches_compiled_header(compiled, kind):
    abi, table = compiled
    schema, c = _schema(kind, abi), C_NAME[abi][kind]
    assert sizeof(schema) == table[(c, "sizeof")] == HEADER_SIZES[abi][kind]
    for m in MEMBERS[kind](abi):
        assert offsetof(schema, m) == table[(c, m)], f"{abi} {kind}.{m}"


@pytest.mark.parametrize("key", list(HEADER_OFFSETS))
def test_offsets_worked_from_the_header(key):
    abi, kind, member = key
    assert offsetof(_schema(kind, abi), member) == HEADER_OFFSETS[key]


def test_request_numbers():
    # sys/sys/ptrace.h (both BSDs): PT_TRACE_ME 0 .. PT_IO 12; PT_GETREGS 33 .. PT_SETDBREGS 38
    assert [int(bsd.PT[n]) for n in ("TRACE_ME", "READ_I", "READ_D", "WRITE_I", "WRITE_D", "CONTINUE",
                                     "KILL", "STEP", "ATTACH", "DETACH", "IO")] == [0, 1, 2, 4, 5, 7, 8, 9, 10, 11, 12]
    assert [int(bsd.PT[n]) for n in ("GETREGS", "SETREGS", "GETFPREGS", "SETFPREGS", "GETDBREGS",
                                     "SETDBREGS")] == list(range(33, 39))
    assert [int(p) for p in bsd.PIOD] == [1, 2, 3, 4]


def test_signal_numbers_by_name():
    # FreeBSD <sys/signal.h>: SIGBUS 10, SIGUSR1 30, SIGSTOP 17, SIGCHLD 20, SIGINFO 29, SIGRTMIN 65
    assert [bsd.bsd_signo(n) for n in ("hup", "BUS", "SIGUSR1", "stop", "chld", "info", "SIGRTMIN")] == \
        [1, 10, 30, 17, 20, 29, 65]
    # and the Solaris numbers they go to by name (Solaris SIGUSR1 16, SIGSTOP 23, SIGCHLD 18)
    assert (bsd.btos(30), bsd.btos(17), bsd.btos(20), bsd.btos(65)) == (16, 23, 18, 42)
    assert all(bsd.stob(bsd.btos(n)) == n for n in bsd.BSD_SIGNAMES if bsd.btos(n))
    assert bsd.btos(32) == 0  # SIGTHR: no Solaris counterpart


@settings(max_examples=50)
@given(st.data())
def test_round_trip_any_bytes(data):
    for kind in MEMBERS:
        for abi in ("amd64", "i386"):
            s = _schema(kind, abi)
            b = data.draw(st.binary(min_size=sizeof(s), max_size=sizeof(s)))
            assert s.build(s.parse(b)) == b


def test_bsd_imports_only_downward():
    """bsd may import native_proc and structs; nothing of lxbrand, native_proc or structs imports
    bsd, and bsd imports nothing of lxbrand (ARCHITECTURE's arrows)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent

    def imports(pkg: str) -> set[str]:
        out = set()
        for path in (root / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    out |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    out.add(node.module.split(".")[0])
        return out

    assert "lxbrand" not in imports("bsd")
    assert imports("bsd") & {"native_proc", "structs"} == {"native_proc", "structs"}
    for pkg in ("structs", "native_proc", "lxbrand"):
        assert "bsd" not in imports(pkg), pkg
