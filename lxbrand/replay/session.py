"""Replay a recorded debugger session (a directory of /work/shared/traces) through a backend and
compare every result with the recording.

What happens
------------
* `load_session(dir)` reads ``meta.json`` and parses ``trace.strace`` (`strace_log`), and
  `analyse` tells the debugger's children apart by their first event (ARCHITECTURE item 24):
  the target (gdb: TRACEME + exec, strace: a self-SIGSTOP then exec, seized; with
  ``--seccomp-bpf`` also the filter it installs before the exec, which stopped at the calls seen
  at its seccomp stops), and the debugger's probe children (gdb's TRACEME+SIGSTOP EXITKILL check
  and its return-to-NX-page check, strace's SEIZE check, its GET_SYSCALL_INFO check and its
  seccomp-order check), plain children that just exit, and children a traced process forks
  (auto-attached, known from their first wait result).
* `Replayer.run()` walks the records in order.  A clone/vfork starts the stand-in for that child:
  the target as meta.json says (path, argv, env, cwd, ASLR off with personality(2)) or a probe
  that makes the same calls the debugger's own child made (a small C helper, `HELPER_SOURCE`,
  built once with gcc).  Recorded pids are mapped to live ones as processes appear (clone
  results, wait results, GETEVENTMSG).  Every other call is re-issued through the backend
  (ptrace, wait4/waitid, kill/tkill/tgkill, pread64/pwrite64 on /proc/PID/mem,
  process_vm_readv/writev; the debugger's reads of ordinary files and /proc/PID/maps are re-read
  from this machine) and compared: return value and errno, wait status, PEEK words, registers
  field by field, siginfo, syscall info, buffers.
* Differences are classified, never dropped (`Diff.kind`):

  - ``normalized``: equal once recorded pids are mapped to live ones (or the debugger's own pid
    and addresses to the replayer's): counted as matched, but named;
  - ``run-dependent``: legitimately different in another run, named with the reason: the
    probe children's and the pre-exec launcher's own state (the stand-in runs the replayer's
    code, not the debugger's), TSC values and AT_RANDOM-derived canaries (checked against this
    run's TSC window and auxv), the XSAVE size, device/inode numbers in maps, CPU time, a WNOHANG
    answer (timing: the replay waits, bounded, for the recorded event instead);
  - ``not-implemented``: the backend answers -EIO to a request it does not know (a test backend
    that lacks one; lx_ptrace implements all the sessions use);
  - ``consequence``: follows from such a request (a SEIZE that did not trace, an option that was
    not set), with the line it follows from;
  - ``unexplained``: anything else.  A session passes when no call has an unexplained difference.

`run_sessions` / `format_report` / `report_json` are what `lxbrand replay` prints and writes.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from native_proc import host

from ..tools import own_dir, own_file

from . import machine as M
from . import strace_log as S
from .backends import Backend, get_backend

__all__ = [
    "Meta", "Session", "Role", "Analysis", "load_session", "analyse", "install_target",
    "Diff", "CallResult", "SessionReport", "Replayer", "replay_session", "run_sessions",
    "format_report", "report_json", "build_helper", "REG_NAMES", "compare_regs",
]

# -------------------------------------------------------------------------------------------------
# Constants (Linux x86-64)
# -------------------------------------------------------------------------------------------------

ADDR_NO_RANDOMIZE = 0x0040000
WNOHANG, WUNTRACED = 1, 2
WALL = 0x40000000
CLONE_THREAD = 0x10000
SIGTRAP, SIGKILL, SIGSTOP, SIGCONT = 5, 9, 19, 18
EVENT_FORK, EVENT_VFORK, EVENT_CLONE, EVENT_EXEC, EVENT_EXIT, EVENT_STOP = 1, 2, 3, 4, 6, 128
EVENT_SECCOMP, SYSCALL_INFO_SECCOMP = 7, 3
O_TRACESYSGOOD, O_TRACEFORK, O_TRACEVFORK, O_TRACECLONE, O_TRACEEXEC, O_TRACEEXIT = (
    0x1, 0x2, 0x4, 0x8, 0x10, 0x40)
AT_RANDOM = 25
_NR_GETRANDOM = S.CONSTS["__NR_getrandom"]
_AUDIT_ARCH_I386, _NR_GETRANDOM_I386 = 0x40000003, 355  # an i386 tracee's getrandom (syscall_32.tbl)
MASK64 = (1 << 64) - 1

REQ = {name[7:]: no for name, no in S.CONSTS.items() if name.startswith("PTRACE_") and no < 0x4300
       and not name.startswith(("PTRACE_O_", "PTRACE_EVENT_", "PTRACE_SYSCALL_INFO_"))}
REQ_NAMES = {v: k for k, v in reversed(list(REQ.items()))}
_RESUMES = {REQ[n] for n in ("CONT", "SYSCALL", "SINGLESTEP", "SINGLEBLOCK", "SYSEMU",
                             "SYSEMU_SINGLESTEP", "DETACH", "KILL")}
_INT_DATA = {REQ[n] for n in ("POKETEXT", "POKEDATA", "POKEUSER", "SETOPTIONS", "SEIZE")}
_NO_DATA = {REQ[n] for n in ("INTERRUPT", "LISTEN", "ATTACH")}
#: requests the kernel serves whether or not the tracee is stopped
_ANY_STATE = {REQ[n] for n in ("ATTACH", "SEIZE", "INTERRUPT", "KILL", "TRACEME")}
# Requests whose failure changes how the tracee runs (not just what the tracer learns).
_EFFECTFUL = {REQ[n] for n in ("SEIZE", "ATTACH", "INTERRUPT", "LISTEN", "SETSIGINFO",
                               "SETREGSET", "SETSIGMASK")}

REG_NAMES = ("r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss "
             "fs_base gs_base ds es fs gs").split()
_REGS = struct.Struct("<27Q")
_Q = struct.Struct("<Q")
_I = struct.Struct("<I")

# siginfo_t (x86-64): field -> (offset, struct format) for the fields strace prints.
_SIGINFO_FIELDS = {
    "si_signo": (0, "<i"), "si_errno": (4, "<i"), "si_code": (8, "<i"),
    "si_pid": (16, "<i"), "si_uid": (20, "<I"), "si_status": (24, "<i"),
    "si_utime": (32, "<q"), "si_stime": (40, "<q"), "si_addr": (16, "<Q"),
    "si_value": (24, "<Q"), "si_int": (24, "<i"), "si_ptr": (24, "<Q"),
    "si_timerid": (16, "<i"), "si_overrun": (20, "<i"), "si_band": (16, "<q"), "si_fd": (24, "<i"),
    "si_call_addr": (16, "<Q"), "si_syscall": (24, "<i"), "si_arch": (28, "<I"),
}


# -------------------------------------------------------------------------------------------------
# The stand-in helper
# -------------------------------------------------------------------------------------------------

HELPER_SOURCE = r"""
/* lxbrand replay: stand-ins for a debugger's own children.  Each mode makes the calls the
   debugger's child made, in the same order, so that the recorded calls on it can be replayed.
   A child that must be traced is made so by the replayer (TRACEME through the backend) before
   it execs this program; the replayer consumes that exec stop, which is not in the recording. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

/* A filter that stops (SECCOMP_RET_TRACE) at the x86-64 calls listed in `nrs` ("1,59,231"),
   at every call of another architecture, and lets the rest run: what strace --seccomp-bpf
   installs for its -e trace= set.  0 when installed. */
static int install_filter(const char *nrs) {
    struct sock_filter f[260];
    unsigned long list[250];
    unsigned n = 0, k = 0;
    for (const char *p = nrs; *p && n < 250; ) {
        char *end;
        list[n++] = strtoul(p, &end, 0);
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p) return -1;
    }
    f[k++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[k++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    f[k++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
    f[k++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (unsigned i = 0; i < n; i++)  /* a match jumps over the other tests and the ALLOW */
        f[k++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, list[i], n - i, 0);
    f[k++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
    struct sock_fprog prog = { .len = (unsigned short) k, .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 ? -1 : 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "stop-exec") && argc > 3) {
        /* strace's startup_child (seize mode): stop, wait for the tracer, exec the target */
        kill(getpid(), SIGSTOP);
        execve(argv[2], argv + 3, environ);
        _exit(127);
    }
    if (!strcmp(mode, "stop-seccomp-exec") && argc > 4) {
        /* strace --seccomp-bpf's startup_child: stop, then (seized by now) the filter, exec */
        kill(getpid(), SIGSTOP);
        if (install_filter(argv[2])) _exit(126);
        execve(argv[3], argv + 4, environ);
        _exit(127);
    }
    if (!strcmp(mode, "seccomp-order")) {
        /* strace's check_seccomp_order child: a filter that stops at gettid, then SIGSTOP,
           gettid, _exit(0) (the TRACEME comes first here: the tracer sees nothing before
           the SIGSTOP either way) */
        char gettid_nr[16];
        snprintf(gettid_nr, sizeof gettid_nr, "%d", __NR_gettid);
        if (install_filter(gettid_nr)) _exit(126);
        kill(getpid(), SIGSTOP);
        syscall(__NR_gettid);
        _exit(0);
    }
    if (!strcmp(mode, "syscall-probe")) {
        /* strace's test_ptrace_get_syscall_info child (gdb's EXITKILL check child stops the
           same way and is killed there) */
        static const unsigned long args[][7] = {
            { __NR_chdir, (unsigned long) "", 0xbad1fed1, 0xbad2fed2, 0xbad3fed3, 0xbad4fed4,
              0xbad5fed5 },
            { __NR_gettid, 0xcaf0bea0, 0xcaf1bea1, 0xcaf2bea2, 0xcaf3bea3, 0xcaf4bea4,
              0xcaf5bea5 },
            { __NR_exit_group, 0, 0xfac1c0d1, 0xfac2c0d2, 0xfac3c0d3, 0xfac4c0d4, 0xfac5c0d5 },
        };
        kill(getpid(), SIGSTOP);
        for (unsigned i = 0; i < sizeof args / sizeof args[0]; i++)
            syscall(args[i][0], args[i][1], args[i][2], args[i][3], args[i][4], args[i][5],
                    args[i][6]);
        _exit(1);
    }
    if (!strcmp(mode, "nx") && argc > 2) {
        /* gdb's linux_ptrace_test_ret_to_nx: return into a readable, non-executable page */
        void *hint = (void *) strtoul(argv[2], 0, 0);
        void *page = mmap(hint, (size_t) getpagesize(), PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED) _exit(2);
        __asm__ volatile("pushq %0\n\tretq\n" : : "r"(page) : "memory");
        _exit(3);
    }
    if (!strcmp(mode, "pause")) {
        /* strace's test_ptrace_seize child */
        for (;;) pause();
    }
    if (!strcmp(mode, "rdtsc")) {
        unsigned lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        printf("%llu\n", ((unsigned long long) hi << 32) | lo);
        return 0;
    }
    return 64;
}
"""

_helper_path: str | None = None


def build_helper() -> str:
    """Compile HELPER_SOURCE once (cached by content in the temp directory); its path."""
    global _helper_path
    if _helper_path and os.path.exists(_helper_path):
        return _helper_path
    key = hashlib.sha1(HELPER_SOURCE.encode()).hexdigest()[:12]
    d = own_dir(Path(tempfile.gettempdir()) / f"lxbrand-replay-{os.getuid()}")
    exe = d / f"standin-{key}"
    if exe.exists() and not own_file(exe):
        exe.unlink()  # not built by us (or writable by others): never run it
    if not exe.exists():
        src = d / f"standin-{key}.c"
        src.write_text(HELPER_SOURCE)
        tmp = d / f"standin-{key}.{os.getpid()}"
        res = subprocess.run(["gcc", "-O1", "-o", str(tmp), str(src)], capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"building the replay's stand-in helper failed:\n{res.stderr}")
        os.replace(tmp, exe)
    _helper_path = str(exe)
    return _helper_path


_rdtsc_fn: Any = None


def _rdtsc() -> int:
    """The TSC now: in-process through a 10-byte function in an executable page (rdtsc; shl
    rdx,32; or rax,rdx; ret), or, where such a page cannot be made, the helper's rdtsc mode."""
    global _rdtsc_fn
    if _rdtsc_fn is None:
        try:
            import ctypes
            import mmap

            page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
            page.write(bytes.fromhex("0f3148c1e2204809d0c3"))
            addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
            fn = ctypes.CFUNCTYPE(ctypes.c_uint64)(addr)
            fn._page = page  # keep the page alive with the function
            fn()
            _rdtsc_fn = fn
        except (OSError, ValueError, TypeError, AttributeError):
            _rdtsc_fn = False
    if _rdtsc_fn:
        return _rdtsc_fn()
    out = subprocess.run([build_helper(), "rdtsc"], capture_output=True, text=True, check=True)
    return int(out.stdout)


# -------------------------------------------------------------------------------------------------
# Sessions
# -------------------------------------------------------------------------------------------------


@dataclass
class Meta:
    """meta.json: how the target was started."""

    mode: str
    debugger: list[str]
    path: str
    argv: list[str]
    cwd: str
    env: list[str]
    aslr: bool
    attached_pid: int | None
    raw: dict

    @classmethod
    def from_json(cls, d: Any) -> "Meta":
        """meta.json's content; ValueError saying what is wrong with it."""
        if not isinstance(d, dict):
            raise ValueError(f"meta.json: not a JSON object ({type(d).__name__})")
        t = d.get("target")
        if not isinstance(t, dict) or not isinstance(t.get("path"), str):
            raise ValueError("meta.json: no \"target\" object with a \"path\" (how the target was started)")
        for key, kind in (("argv", list), ("env", list), ("cwd", str)):
            if key in t and not isinstance(t[key], kind):
                raise ValueError(f"meta.json: target.{key} is not a JSON {kind.__name__}")
        return cls(mode=d.get("mode", "launch"), debugger=list(d.get("debugger", [])),
                   path=t["path"], argv=list(t.get("argv") or [t["path"]]),
                   cwd=t.get("cwd", "/"), env=list(t.get("env", [])), aslr=bool(t.get("aslr", False)),
                   attached_pid=d.get("recorded_pid_of_attached_target"), raw=d)

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(e.split("=", 1) for e in self.env if "=" in e)


@dataclass
class Session:
    """One recorded session: its directory, meta.json and parsed trace."""

    name: str
    dir: Path
    meta: Meta
    parsed: S.ParseResult

    @property
    def records(self) -> list:
        return self.parsed.records

    @property
    def binary(self) -> Path:
        """The target binary stored beside the recording."""
        return self.dir / os.path.basename(self.meta.path)


def load_session(path: str | os.PathLike) -> Session:
    """Read meta.json and trace.strace of a session directory (unparseable lines end up in
    ``session.parsed.errors`` with their line numbers)."""
    d = Path(path)
    with open(d / "meta.json") as f:
        try:
            raw = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"meta.json: not JSON ({e})") from None
    meta = Meta.from_json(raw)
    parsed = S.parse_file(d / "trace.strace")
    if not any(isinstance(r, S.Syscall) for r in parsed.records):
        raise ValueError(f"{d / 'trace.strace'}: no recorded calls (an empty or foreign trace)")
    return Session(name=d.name, dir=d, meta=meta, parsed=parsed)


def install_target(session: Session) -> Path:
    """Put the session's binary at the recorded path (creating the directory; replacing a
    different file there), so that the target's addresses match the recording."""
    dst = Path(session.meta.path)
    src = session.binary
    if not src.exists():
        if dst.exists():
            return dst
        raise FileNotFoundError(f"{src}: the session's target binary is missing")
    own_dir(dst.parent, create_parents=True)  # the target is run from there
    want = src.read_bytes()
    if dst.exists() and own_file(dst) and dst.read_bytes() == want and os.access(dst, os.X_OK):
        return dst
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}")
    tmp.write_bytes(want)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dst)
    return dst


# -------------------------------------------------------------------------------------------------
# Who is who: the debugger's children told apart by their first event
# -------------------------------------------------------------------------------------------------

ROLE_TEXT = {
    "traceme-exec": "target: TRACEME, ASLR off, exec {path} (gdb's fork_inferior)",
    "stop-exec": "target: stops itself with SIGSTOP, then execs {path} (strace's startup_child)",
    "stop-seccomp-exec": "target: stops itself with SIGSTOP, installs a seccomp filter stopping at "
                         "{nrs}, then execs {path} (strace --seccomp-bpf's startup_child)",
    "attached": "target: started beforehand, attached by the debugger",
    "traceme-stop": "probe: TRACEME + SIGSTOP, then chdir(\"\"), gettid, exit_group "
                    "(gdb's EXITKILL check / strace's GET_SYSCALL_INFO check)",
    "nx": "probe: TRACEME, then returns into a non-executable page (gdb's ret-to-NX check)",
    "pause": "probe: pause() (strace's PTRACE_SEIZE check)",
    "seccomp-order": "probe: a seccomp filter stopping at gettid, TRACEME + SIGSTOP, gettid, _exit(0) "
                     "(strace's check_seccomp_order)",
    "exit": "a child that exits with status {code}, untraced",
    "followed": "child of traced pid {parent}, attached by the kernel ({event})",
    "unknown": "a child whose first event the replay does not recognise",
}
_PROBES = {"traceme-stop", "nx", "pause", "seccomp-order"}
_TARGETS = {"traceme-exec", "stop-exec", "stop-seccomp-exec", "attached"}


@dataclass
class Role:
    kind: str
    lineno: int = 0  # where the child appeared (clone line, or first wait result)
    first: int = 0  # line of its first event
    code: int = 0  # exit: the status
    hint: int = 0  # nx: the page address (from the recorded registers)
    parent: int | None = None  # followed: the traced parent
    event: str = ""
    nrs: tuple[int, ...] = ()  # stop-seccomp-exec: the x86-64 calls its filter stops at

    def describe(self, meta: Meta | None = None) -> str:
        return ROLE_TEXT[self.kind].format(path=meta.path if meta else "the target", code=self.code,
                                           parent=self.parent, event=self.event,
                                           nrs=",".join(map(str, self.nrs)) or "nothing")

    @property
    def is_probe(self) -> bool:
        return self.kind in _PROBES


@dataclass
class Analysis:
    roles: dict[int, Role]
    debugger_pid: int | None
    threads: set[int]
    guessed: bool = False  # debugger_pid is a guess (nothing in the recording named it)


def _mentions(rec: Any) -> tuple[int | None, str]:
    """(pid, how) a record concerns, for first-event analysis."""
    if isinstance(rec, S.Wait4Call):
        if rec.ret and rec.ret > 0:
            return rec.ret, "wait"
        return None, ""
    if isinstance(rec, S.PtraceCall):
        return rec.target, "ptrace"
    if isinstance(rec, S.KillCall):
        return rec.target, "kill"
    if isinstance(rec, S.WaitidCall) and rec.siginfo:
        return rec.siginfo.get("si_pid"), "wait"
    return None, ""


def analyse(records: list) -> Analysis:
    """Roles of the debugger's children (and of the children traced processes fork), and the
    debugger's own pid, from the recording alone."""
    roles: dict[int, Role] = {}
    threads: set[int] = set()
    pending: dict[int, S.CloneCall] = {}
    last_fork_event: tuple[int, str] | None = None
    for rec in records:
        if isinstance(rec, S.CloneCall):
            if rec.child:
                if rec.flags and rec.flags & CLONE_THREAD:
                    threads.add(rec.child)
                else:
                    pending[rec.child] = rec
            continue
        pid, how = _mentions(rec)
        if isinstance(rec, S.Wait4Call) and rec.status is not None and os.WIFSTOPPED(rec.status & 0xFFFF):
            ev = rec.status >> 16
            if ev in (EVENT_FORK, EVENT_VFORK, EVENT_CLONE):
                last_fork_event = (rec.ret, {EVENT_FORK: "fork", EVENT_VFORK: "vfork",
                                             EVENT_CLONE: "clone"}[ev])
        if pid is None or pid <= 0 or pid in roles:
            continue
        crec = pending.pop(pid, None)
        if crec is None:
            if how == "wait":
                par, ev = last_fork_event if last_fork_event else (None, "?")
                roles[pid] = Role("followed", lineno=rec.lineno, first=rec.lineno, parent=par, event=ev)
            continue
        role = Role("unknown", lineno=crec.lineno, first=rec.lineno)
        if isinstance(rec, S.PtraceCall) and rec.request == "PTRACE_SEIZE":
            role.kind = "pause"
        elif isinstance(rec, S.Wait4Call) and rec.status is not None:
            st = rec.status & 0xFFFF
            if os.WIFEXITED(st):
                role.kind, role.code = "exit", os.WEXITSTATUS(st)
            elif os.WIFSTOPPED(st):
                sig = os.WSTOPSIG(st)
                if sig == SIGTRAP:
                    role.kind = "traceme-exec"
                elif sig == SIGSTOP:
                    role.kind = "stop-exec" if rec.options & WUNTRACED else "traceme-stop"
                elif sig == 11:
                    role.kind = "nx"
        roles[pid] = role
    for pid, crec in pending.items():  # children never mentioned again
        roles[pid] = Role("unknown", lineno=crec.lineno)
    _seccomp_roles(records, roles)
    for pid, role in roles.items():
        if role.kind == "nx":
            for rec in records:
                if isinstance(rec, S.PtraceCall) and rec.target == pid and rec.regs:
                    role.hint = rec.regs.get("rip", 0)
                    break
    # The debugger's own pid: named where no child is (its own /proc/PID/mem, si_pid of the
    # signals it sends).
    cands: Counter = Counter()
    for rec in records:
        if isinstance(rec, S.MemIOCall) and rec.proc_pid and rec.proc_pid not in roles:
            cands[rec.proc_pid] += 1
        elif isinstance(rec, S.PtraceCall) and rec.siginfo and rec.siginfo.get("si_code") == 0:
            p = rec.siginfo.get("si_pid")
            if isinstance(p, int) and p not in roles and p not in threads:
                cands[p] += 1
        elif isinstance(rec, S.KillCall) and rec.tgid is not None and rec.tgid == rec.target \
                and rec.target not in roles and rec.target not in threads:
            cands[rec.target] += 1  # tgkill(self, self, sig): strace re-raising a signal at its exit
    dbg = cands.most_common(1)[0][0] if cands else None
    guessed = dbg is None
    if dbg is None and roles:
        dbg = min(roles) - 1  # pids are handed out in order: the debugger came just before
    return Analysis(roles, dbg, threads, guessed)


def _seccomp_roles(records: list, roles: dict[int, Role]) -> None:
    """strace --seccomp-bpf's children, told apart by their seccomp stops: the probe that
    stops with SIGSTOP and then at a seccomp stop is check_seccomp_order's; a launcher whose
    processes stop at seccomp stops installed the filter, which stopped at exactly the calls
    seen there (the target makes the same calls again, so the calls never seen do not matter)."""
    seccomp_stops: set[int] = set()
    nrs: set[int] = set()
    for rec in records:
        if isinstance(rec, S.Wait4Call) and rec.ret and rec.status is not None \
                and os.WIFSTOPPED(rec.status & 0xFFFF) and rec.status >> 16 == EVENT_SECCOMP:
            seccomp_stops.add(rec.ret)
        elif isinstance(rec, S.PtraceCall) and rec.syscall_info \
                and rec.syscall_info.get("op") == SYSCALL_INFO_SECCOMP:
            nr = (rec.syscall_info.get("seccomp") or {}).get("nr")
            if isinstance(nr, int) and not (rec.target in roles and roles[rec.target].is_probe):
                nrs.add(nr)
    for pid in seccomp_stops & roles.keys():
        if roles[pid].kind == "traceme-stop":
            roles[pid].kind = "seccomp-order"
    if seccomp_stops - {p for p, r in roles.items() if r.is_probe}:
        for role in roles.values():
            if role.kind == "stop-exec":
                role.kind, role.nrs = "stop-seccomp-exec", tuple(sorted(nrs))


# -------------------------------------------------------------------------------------------------
# Results
# -------------------------------------------------------------------------------------------------

KINDS = ("normalized", "run-dependent", "machine", "not-implemented", "consequence", "unexplained")


@dataclass
class Diff:
    """One compared field that is not simply equal."""

    field: str
    recorded: Any
    live: Any
    kind: str = "unexplained"
    reason: str = ""

    def text(self) -> str:
        r = f"{self.field}: recorded {_fmt(self.recorded)}, live {_fmt(self.live)}"
        return r + (f"  [{self.kind}: {self.reason}]" if self.reason else f"  [{self.kind}]")

    def as_json(self) -> dict:
        return {"field": self.field, "recorded": _jsonable(self.recorded), "live": _jsonable(self.live),
                "kind": self.kind, "reason": self.reason}


@dataclass
class CallResult:
    lineno: int
    call: str
    pid: int | None
    status: str = "matched"  # matched | explained | differed | skipped
    diffs: list[Diff] = field(default_factory=list)
    note: str = ""

    def settle(self) -> "CallResult":
        kinds = {d.kind for d in self.diffs}
        if "unexplained" in kinds:
            self.status = "differed"
        elif kinds - {"normalized"}:
            self.status = "explained"
        else:
            self.status = "matched"
        return self

    def text(self, limit: int = 12) -> str:
        head = f"line {self.lineno}: {self.call}  [{self.status}]" + (f" {self.note}" if self.note else "")
        order = {"unexplained": 0, "consequence": 1, "not-implemented": 2, "machine": 3,
                 "run-dependent": 4, "normalized": 5}
        diffs = sorted(self.diffs, key=lambda d: order.get(d.kind, 5))
        lines = [head] + ["    " + d.text() for d in diffs[:limit]]
        if len(diffs) > limit:
            more = Counter(d.kind for d in diffs[limit:])
            lines.append("    ... " + ", ".join(f"{n} more {k}" for k, n in more.items()))
        return "\n".join(lines)

    def as_json(self) -> dict:
        return {"line": self.lineno, "call": self.call, "pid": self.pid, "status": self.status,
                "note": self.note, "diffs": [d.as_json() for d in self.diffs]}


@dataclass
class SessionReport:
    name: str
    backend: str
    results: list[CallResult] = field(default_factory=list)
    pidmap: dict[int, int] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    context_lines: int = 0
    elapsed: float = 0.0
    backend_time: float = 0.0
    wait_time: float = 0.0
    setup_time: float = 0.0
    parse_time: float = 0.0
    target_output: str = ""
    oracle: dict | None = None  # lx judged by the host's replay in the same run (oracle.py)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def replayed(self) -> int:
        return sum(1 for r in self.results if r.status != "skipped")

    @property
    def passed(self) -> bool:
        return not self.errors and self.count("differed") == 0

    def named(self) -> Counter:
        """(kind, field, reason) -> how many calls had it."""
        c: Counter = Counter()
        for r in self.results:
            for key in {(d.kind, _field_class(d.field), d.reason) for d in r.diffs
                        if d.kind != "unexplained"}:
                c[key] += 1
        return c

    def named_grouped(self) -> list[tuple[str, str, list[str], int]]:
        """(kind, reason, fields, calls): the named differences, one line per reason."""
        fields: dict[tuple[str, str], set] = {}
        calls: Counter = Counter()
        for r in self.results:
            seen = set()
            for d in r.diffs:
                if d.kind == "unexplained":
                    continue
                key = (d.kind, d.reason)
                fields.setdefault(key, set()).add(_field_class(d.field))
                seen.add(key)
            for key in seen:
                calls[key] += 1
        out = [(k, reason, sorted(f), calls[(k, reason)]) for (k, reason), f in fields.items()]
        out.sort(key=lambda x: (KINDS.index(x[0]), x[1]))
        return out

    @property
    def machinery_time(self) -> float:
        """Time spent in the replay itself: parsing, bookkeeping and comparison (not in the
        backend's calls, not waiting for tracees, not forking stand-ins, not the one-time setup
        of installing the target and building the helper)."""
        return max(self.elapsed - self.backend_time - self.wait_time - self.setup_time, 1e-9)

    def as_json(self) -> dict:
        return {
            "session": self.name, "backend": self.backend, "passed": self.passed,
            "replayed": self.replayed, "matched": self.count("matched"),
            "explained": self.count("explained"), "differed": self.count("differed"),
            "skipped": self.count("skipped"), "context_lines": self.context_lines,
            "errors": self.errors, "elapsed_s": round(self.elapsed, 4),
            "parse_s": round(self.parse_time, 4), "backend_s": round(self.backend_time, 4),
            "wait_s": round(self.wait_time, 4), "setup_s": round(self.setup_time, 4),
            "machinery_s": round(self.machinery_time, 4),
            "pids": {str(k): {"live": self.pidmap.get(k), "role": self.roles.get(k, "")}
                     for k in sorted(set(self.roles) | set(self.pidmap))},
            "named_fields": [{"kind": k, "field": f, "reason": r, "calls": n}
                             for (k, f, r), n in sorted(self.named().items())],
            "target_output": self.target_output,
            "host_oracle": self.oracle,
            "calls": [r.as_json() for r in self.results],
        }


def _field_class(name: str) -> str:
    """Group per-address memory fields in summaries: 'data@0x7fff...' -> 'data'."""
    return name.split("@", 1)[0]


def _fmt(v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        return hex(v) if abs(v) > 9 else str(v)
    if isinstance(v, (bytes, bytearray)):
        b = bytes(v)
        return f"<{len(b)} bytes {b[:16].hex()}{'...' if len(b) > 16 else ''}>"
    return repr(v)


def _jsonable(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (int, float, str, bool)):
        return v
    return repr(v)


# -------------------------------------------------------------------------------------------------
# Decoders
# -------------------------------------------------------------------------------------------------


#: what depends on where in its code an attach found the target (in a call or between calls)
_ATTACH_POINT = frozenset({"regs.rax", "regs.orig_rax", "regs.rip", "regs.rcx", "regs.r11", "regs.eflags",
                           "syscall_info.op", "syscall_info.instruction_pointer",
                           "syscall_info.stack_pointer", "syscall_info.entry.nr",
                           "syscall_info.exit.rval", "syscall_info.exit.is_error"})

#: results of a call a signal to the debugger interrupted (ERESTARTSYS, ERESTARTNOINTR,
#: ERESTARTNOHAND, ERESTART_RESTARTBLOCK as strace shows them, and EINTR)
_INTERRUPTED = frozenset({-512, -513, -514, -516, -errno.EINTR})


def _interrupted(res: "CallResult") -> "CallResult":
    res.status, res.note = "skipped", ("interrupted by a signal to the debugger (the replayer gets no "
                                       "such signal, so it does not block here)")
    return res


def decode_regs(buf: bytes) -> dict[str, int]:
    """user_regs_struct's fields from `buf`; a short buffer (GETREGSET(NT_PRSTATUS) with a small
    iov_len, as `strace -k` asks) gives the whole fields it holds, as the kernel copies only those."""
    if len(buf) >= _REGS.size:
        return dict(zip(REG_NAMES, _REGS.unpack_from(buf)))
    n = len(buf) // 8
    return dict(zip(REG_NAMES[:n], struct.unpack_from(f"<{n}Q", buf)))


def encode_regs(regs: dict[str, int]) -> bytes:
    return _REGS.pack(*((regs.get(n, 0) or 0) & MASK64 for n in REG_NAMES))


def decode_siginfo(buf: bytes, keys: Iterable[str]) -> dict[str, int]:
    out = {}
    for k in keys:
        spec = _SIGINFO_FIELDS.get(k)
        if spec is not None:
            out[k] = struct.unpack_from(spec[1], buf, spec[0])[0]
    return out


def encode_siginfo(info: dict) -> bytes:
    buf = bytearray(128)
    for k, v in info.items():
        spec = _SIGINFO_FIELDS.get(k)
        if spec is not None and isinstance(v, int):
            struct.pack_into(spec[1], buf, spec[0], v if spec[1][1] in "iq" else v & MASK64)
    return bytes(buf)


def decode_syscall_info(buf: bytes, size: int) -> dict:
    op, arch, ip, sp = struct.unpack_from("<B3xIQQ", buf, 0)
    out: dict = {"op": op, "arch": arch, "instruction_pointer": ip, "stack_pointer": sp}
    if op in (1, 3) and size >= 80:
        nr, *args = struct.unpack_from("<7Q", buf, 24)
        d = {"nr": nr, "args": list(args)}
        if op == 3:
            d["ret_data"] = struct.unpack_from("<I", buf, 80)[0]
        out["entry" if op == 1 else "seccomp"] = d
    elif op == 2 and size >= 33:
        rval, is_error = struct.unpack_from("<qB", buf, 24)
        out["exit"] = {"rval": rval, "is_error": is_error}
    return out


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out.update(_flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = d
    return out


def compare_regs(recorded: dict[str, int], live: dict[str, int],
                 explain: Callable[[str, int, int], Diff | None] | None = None,
                 prefix: str = "regs.") -> list[Diff]:
    """Field by field; every unequal register becomes a Diff named after it (the `explain`
    callback may classify it)."""
    out = []
    for name, rv in recorded.items():
        lv = live.get(name)
        if not isinstance(rv, int):
            continue
        if lv is not None and (rv & MASK64) == (lv & MASK64):
            continue
        d = explain(prefix + name, rv, lv) if explain is not None and lv is not None else None
        out.append(d or Diff(prefix + name, rv, lv))
    return out


def _signed64(v: int) -> int:
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


# -------------------------------------------------------------------------------------------------
# The replay
# -------------------------------------------------------------------------------------------------


@dataclass
class Proc:
    """A recorded process (or thread) and what the replay knows of its live counterpart."""

    rec: int
    role: Role
    live: int | None = None
    exec_seen: bool = False
    alive: bool = True
    last_status: int | None = None  # the live status of its last reported stop
    derailed: tuple[int, str] | None = None  # (line, reason): it no longer runs as recorded
    missing_options: int = 0  # options the backend did not set ...
    options_line: int = 0  # ... at this line
    image: dict | None = None  # live AT_RANDOM, canary, guard, auxv (per exec)
    rec_random: tuple[int, int] | None = None  # the recording's (canary, guard), when seen
    sp: int | None = None  # live stack pointer at the current stop
    maps_gen: int = 0  # counts the stops (what was read of the live process is per stop)
    ids_seen: int = -1
    maps: list["Region"] | None = None  # live /proc/PID/maps, re-read after each event
    shifts: list["Shift"] = field(default_factory=list)  # learned layout differences
    random_ranges: list[tuple[int, int]] = field(default_factory=list)  # live getrandom buffers
    stack_delta: int | None = None  # recorded - live initial stack position, once learned
    stack_line: int = 0  # ... at this line
    machine: M.MachineFacts | None = None  # recorded vs live CPU facts (per exec)
    start_stack: int | None = None  # live initial stack pointer (/proc/PID/stat), per exec
    heap_moved: tuple[int, int, int] | None = None  # (line, recorded, live) of a moved ld.so-heap pointer
    resumed: bool = False  # the debugger has resumed (or detached) it at least once
    running: bool = False  # resumed, and no stop of it reported since

    def reset_image(self) -> None:
        """A new address space (exec): forget what was learned about the old one."""
        self.image = None
        self.rec_random = None
        self.sp = None
        self.maps = None
        self.shifts.clear()
        self.random_ranges.clear()
        self.stack_delta = None
        self.machine = None
        self.start_stack = None
        self.heap_moved = None


@dataclass
class Region:
    """One line of a live /proc/PID/maps."""

    start: int
    end: int
    perms: str
    offset: int
    path: str


@dataclass
class Shift:
    """Live [start, end) holds what the recording had at [start + delta, end + delta)."""

    start: int
    end: int
    delta: int
    what: str
    line: int

    def reason(self) -> str:
        return (f"address in {self.what}: mapped at {-self.delta:+#x} from the recording here "
                f"(the mmap area is laid out differently, e.g. /etc/ld.so.cache's size; "
                f"learned at line {self.line})")


def read_maps(pid: int) -> list[Region]:
    out = []
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                a, b = parts[0].split("-")
                out.append(Region(int(a, 16), int(b, 16), parts[1], int(parts[2], 16),
                                  parts[5].strip() if len(parts) > 5 else ""))
    except (OSError, ValueError, IndexError):
        pass
    return out


class Replayer:
    """Replays one session through one backend.  `run()` returns a SessionReport."""

    def __init__(self, session: Session, backend: Backend, *, timeout: float = 5.0,
                 progress: Callable[[str, int, int], None] | None = None) -> None:
        self.s = session
        self.b = backend
        self.timeout = timeout
        self.progress = progress
        self.analysis = analyse(session.records)
        dbg = session.meta.raw.get("recorded_pid_of_debugger")
        if isinstance(dbg, int) and dbg > 0 and self.analysis.guessed:
            # `lxbrand record` writes down the recorder's child: better than a guess, but the
            # recording's own evidence (the debugger's reads of its own memory) comes first
            self.analysis.debugger_pid = dbg
        self.procs: dict[int, Proc] = {}
        self.rev: dict[int, int] = {}  # live pid -> recorded
        self.stash: list[tuple[int, int]] = []  # live events received before their recorded turn
        self.last_regs: dict[int, tuple[dict, dict]] = {}  # rec tid -> (recorded view, live view)
        self.report = SessionReport(session.name, backend.name)
        self.wait_time = 0.0
        self._tsc0: int | None = None
        self._tsc_now: int | None = None
        self._out = None
        self._self_mem: int | None = None
        self._self_bufs: dict[int, bytearray] = {}
        self._facts: dict[int, str] | None = None
        self._ids: dict[tuple[int, int], str] | None = None
        self._tps: set[int] = set()  # live thread pointers (fs_base) seen in GETREGS results
        self._tps32: set[int] = set()  # the same of 32-bit tracees (gs_base; their TCB is i386's)
        self._changed: dict[str, tuple[int, int]] | None = None  # see changed_files()
        self._line = 0
        self._rec_reads = _recorded_reads(session.records)
        self._rec_auxv: M.CpuSide | None = None

    # -- pids ------------------------------------------------------------------------------------

    def bind(self, rec: int, live: int, role: Role | None = None) -> Proc:
        p = self.procs.get(rec)
        if p is None:
            p = self.procs[rec] = Proc(rec, role or self.analysis.roles.get(rec) or Role("unknown"))
        p.live = live
        par = self.procs.get(p.role.parent) if p.role.kind == "followed" and p.role.parent else None
        if par is not None and not p.exec_seen:
            # a fork/vfork/clone child starts as a copy of its parent's address space
            p.exec_seen = par.exec_seen
            p.shifts = [Shift(x.start, x.end, x.delta, x.what, x.line) for x in par.shifts]
            p.rec_random = par.rec_random
            p.stack_delta, p.stack_line, p.machine = par.stack_delta, par.stack_line, par.machine
        self.rev[live] = rec
        self.report.pidmap[rec] = live
        self.report.roles[rec] = p.role.describe(self.s.meta)
        return p

    def _detached(self) -> set[int]:
        """The recorded pids the debugger detached (PTRACE_DETACH that succeeded)."""
        return {r.target for r in self.s.records
                if isinstance(r, S.PtraceCall) and r.request == "PTRACE_DETACH" and r.kernel_ret == 0}

    def _space(self, p: Proc) -> Proc:
        """The process whose address space `p` runs in: its thread-group leader for a thread
        (CLONE_THREAD children share the memory, the canary and the pointer guard), else `p`."""
        seen = 0
        while p.rec in self.analysis.threads and p.role.parent in self.procs and seen < 64:
            p = self.procs[p.role.parent]
            seen += 1
        return p

    def live_pid(self, rec: int) -> int | None:
        if self.analysis.debugger_pid is not None and rec == self.analysis.debugger_pid:
            return os.getpid()
        p = self.procs.get(rec)
        return p.live if p else None

    def _map_wait_arg(self, wpid: int) -> int:
        if wpid > 0:
            return self.live_pid(wpid) or wpid
        return wpid

    # -- stand-ins ---------------------------------------------------------------------------------

    def _spawn(self, role: Role) -> int:
        meta = self.s.meta
        env = meta.env_dict
        path, argv, traced, absorb = meta.path, list(meta.argv), False, False
        if role.kind == "traceme-exec":
            traced = True
        elif role.kind == "stop-exec":
            path, argv = build_helper(), [build_helper(), "stop-exec", meta.path, *meta.argv]
        elif role.kind == "stop-seccomp-exec":
            path, argv = build_helper(), [build_helper(), "stop-seccomp-exec", ",".join(map(str, role.nrs)),
                                          meta.path, *meta.argv]
        elif role.kind == "seccomp-order":
            path, argv, traced, absorb = build_helper(), [build_helper(), "seccomp-order"], True, True
        elif role.kind == "traceme-stop":
            path, argv, traced, absorb = build_helper(), [build_helper(), "syscall-probe"], True, True
        elif role.kind == "nx":
            path, argv, traced, absorb = build_helper(), [build_helper(), "nx", hex(role.hint)], True, True
        elif role.kind == "pause":
            path, argv = build_helper(), [build_helper(), "pause"]
        elif role.kind != "exit":
            path, argv = build_helper(), [build_helper(), "pause"]  # unknown: something to kill
        out = self._out.fileno() if self._out else os.open(os.devnull, os.O_WRONLY)
        sys.stdout.flush()
        sys.stderr.flush()
        t_fork = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(out, 1)
                os.dup2(out, 2)
                if role.kind == "exit":
                    os._exit(role.code)
                if not meta.aslr:
                    host.personality(ADDR_NO_RANDOMIZE)
                os.chdir(meta.cwd)
                if traced:
                    self.b.traceme()
                os.execve(path, argv, env)
            except BaseException:
                pass
            os._exit(127)
        self.wait_time += time.perf_counter() - t_fork
        if absorb:
            # Stand-in setup, not in the recording: the helper's own exec stop.
            t0 = time.perf_counter()
            r, st = self.b.wait4(pid, WALL)
            if r != pid or not os.WIFSTOPPED(st) or os.WSTOPSIG(st) != SIGTRAP:
                self.report.errors.append(f"stand-in {role.kind}: expected its exec stop, got "
                                          f"{r} status {st:#x}")
            else:
                self.b.ptrace(REQ["CONT"], pid, 0, 0)
            self.wait_time += time.perf_counter() - t0
        return pid

    def _start_attached_target(self) -> None:
        """Attach sessions: the target runs before the debugger starts."""
        role = Role("attached")
        meta = self.s.meta
        pid = os.fork()
        if pid == 0:  # pragma: no cover
            try:
                out = self._out.fileno() if self._out else os.open(os.devnull, os.O_WRONLY)
                os.dup2(out, 1)
                os.dup2(out, 2)
                if not meta.aslr:
                    host.personality(ADDR_NO_RANDOMIZE)
                os.chdir(meta.cwd)
                os.execve(meta.path, meta.argv, meta.env_dict)
            except BaseException:
                pass
            os._exit(127)
        time.sleep(0.3)  # as record.sh lets it run before the debugger starts
        if meta.attached_pid:
            self.bind(meta.attached_pid, pid, role).exec_seen = True

    # -- waiting -----------------------------------------------------------------------------------

    def _collect(self, want: int | None, options: int, timeout: float) -> tuple[int, int] | None:
        """The next live event of pid `want` (None: of a pid the replay does not know yet),
        waiting at most `timeout` seconds; (-errno, 0) when the wait fails; None on timeout."""
        for i, (p, st) in enumerate(self.stash):
            if (want is not None and p == want) or (want is None and p not in self.rev):
                del self.stash[i]
                return p, st
        t0 = time.perf_counter()
        deadline = t0 + timeout
        delay = 0.0
        try:
            while True:
                r, st = self.b.wait4(want if want is not None else -1, options | WNOHANG)
                if r > 0:
                    if want is None and r in self.rev:
                        self.stash.append((r, st))
                        continue
                    return r, st
                if r < 0:
                    return r, 0
                if time.perf_counter() > deadline:
                    return None
                if delay:
                    time.sleep(delay)
                delay = min(delay * 2 if delay else 2e-5, 2e-3)
        finally:
            self.wait_time += time.perf_counter() - t0

    def _await_stopped(self, live: int) -> None:
        """Bounded (the replay's timeout): until live pid `live` is in a tracing stop ('t' in
        /proc/PID/stat) or gone."""
        t0 = time.perf_counter()
        deadline = t0 + self.timeout
        try:
            while time.perf_counter() < deadline:
                try:
                    with open(f"/proc/{live}/stat", "rb") as f:
                        state = f.read().rsplit(b")", 1)[1].split()[0]
                except (OSError, IndexError):
                    return
                if state in (b"t", b"Z", b"X"):
                    return
                time.sleep(0.0005)
        finally:
            self.wait_time += time.perf_counter() - t0

    def _after_event(self, p: Proc, status: int) -> None:
        p.last_status = status
        p.running = False
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            p.alive = False
            if p.live:
                self.b.forget(p.live)
            return
        if os.WIFSTOPPED(status):
            ev = status >> 16
            first_exec = (p.role.kind == "traceme-exec" and not p.exec_seen
                          and os.WSTOPSIG(status) == SIGTRAP)
            p.maps = None
            p.sp = None
            p.maps_gen += 1
            if ev == EVENT_EXEC or first_exec:
                p.exec_seen = True
                p.reset_image()
                self.last_regs.pop(p.rec, None)
                if p.live:
                    self.b.forget(p.live)

    # -- explanations ------------------------------------------------------------------------------
    #
    # Value rules (`_explain_value`) look at one number: a pid, an address in a mapping laid out
    # elsewhere in this run, a TSC reading, the canary / pointer guard / a mangled pointer, a
    # number describing this machine's files.  Range rules (`_annotate`) look at where a memory
    # word lives: the auxv, AT_RANDOM, a struct stat of a known file, the vDSO, a getrandom(2)
    # buffer, the dead stack below the stack pointer.

    def _in_tsc_window(self, v: int) -> bool:
        """Was `v` a TSC reading taken during this replay (after it started, before now)?"""
        if self._tsc0 is None or v < self._tsc0:
            return False
        if self._tsc_now is None or v > self._tsc_now:
            try:
                self._tsc_now = _rdtsc()
            except (OSError, subprocess.SubprocessError, ValueError):
                return False
        return v <= self._tsc_now

    def _image(self, p: Proc) -> dict | None:
        """Facts of the live address space, read once per exec from the host's /proc (for
        explanations only, never as a replayed call): AT_RANDOM, canary, pointer guard, auxv."""
        if p.image is not None or not p.live or not p.exec_seen:
            return p.image
        try:
            with open(f"/proc/{p.live}/exe", "rb") as f:
                word = 4 if f.read(5)[4:5] == b"\x01" else 8  # ELFCLASS32: the i386 auxv and words
            with open(f"/proc/{p.live}/auxv", "rb") as f:
                aux = f.read()
            pairs = list(struct.iter_unpack("<II" if word == 4 else "<QQ", aux))
            rnd_addr = next(v for k, v in pairs if k == AT_RANDOM)
            fd = os.open(f"/proc/{p.live}/mem", os.O_RDONLY)
            try:
                rnd = os.pread(fd, 16, rnd_addr)
                stack = next((r for r in self._regions(p) if r.path == "[stack]"), None)
                aux_addr = None
                if stack is not None:
                    lo = max(stack.start, stack.end - 65536)
                    top = os.pread(fd, stack.end - lo, lo)
                    k = top.find(aux)
                    aux_addr = lo + k if k >= 0 else None
            finally:
                os.close(fd)
        except (OSError, StopIteration):
            return None
        if len(rnd) != 16:
            return None
        canary, guard = _random_words(rnd, word)
        p.image = {"random_addr": rnd_addr, "random": rnd, "word": word, "canary": canary, "guard": guard,
                   "auxv": pairs, "auxv_addr": aux_addr, "auxv_entry": 2 * word}
        return p.image

    def _note_recorded_random(self, p: Proc, base: int, rec_data: bytes, live: bytes) -> None:
        """Keep the recording's canary and pointer guard when a recorded read shows them -- the
        AT_RANDOM bytes (the stack is where it was: ASLR is off), or a thread's TCB, where glibc
        keeps copies (stack_guard at +0x28, pointer_guard at +0x30; recognised by the live read
        holding this run's canary and guard there) -- for demangling recorded pointers."""
        img = self._image(p)
        if img is None or p.rec_random is not None:
            return
        a = img["random_addr"]
        if base <= a and a + 16 <= base + len(rec_data):
            p.rec_random = _random_words(rec_data[a - base:a + 16 - base], img["word"])
            return
        w = img["word"]
        fmt = "<I" if w == 4 else "<Q"
        for tp in self._tps if w == 8 else self._tps32:
            k = tp + _TCB_GUARDS[w] - base
            if 0 <= k and k + 2 * w <= min(len(rec_data), len(live)) and \
                    struct.unpack_from(fmt, live, k) == (img["canary"],) and \
                    struct.unpack_from(fmt, live, k + w) == (img["guard"],):
                p.rec_random = (struct.unpack_from(fmt, rec_data, k)[0], struct.unpack_from(fmt, rec_data, k + w)[0])
                return

    def _ldso_memory(self, p: Proc) -> list[Region]:
        """ld.so's own writable memory in the live process: its rw file mappings and the
        anonymous pages its start-up allocator mapped (right below the vDSO/vvar block)."""
        regions = self._regions(p)
        out = [r for r in regions if "/ld-linux" in r.path and r.perms.startswith("rw")]
        for i, r in enumerate(regions[1:], 1):
            if r.path.startswith("[vvar") or r.path == "[vdso]":
                prev = regions[i - 1]
                if not prev.path and prev.perms.startswith("rw") and prev.end == r.start:
                    out.append(prev)
                break
        return out

    def _machine(self, p: Proc) -> M.MachineFacts | None:
        """The recorded and the live CPU facts for this process's image (read once per exec):
        the auxv of each side (the recording's from a recorded read of the stack top), and the
        glibc-hwcaps levels ld.so named in its allocator's pages on each side."""
        if p.machine is not None or not p.live or not p.exec_seen:
            return p.machine
        img = self._image(p)
        if img is None:
            return None
        heap = [r for r in self._ldso_memory(p) if not r.path]
        if not heap:
            return None
        live = M.side_from_auxv(img["auxv"], lambda a: _read_cstr(p.live, a))
        try:
            fd = os.open(f"/proc/{p.live}/mem", os.O_RDONLY)
            try:
                pages = [(r, os.pread(fd, r.end - r.start, r.start)) for r in heap]
                live.levels = set().union(*(M.levels_in(data) for _, data in pages))
                live.search_elem = M.search_elem_size(pages[0][1], heap[0].start, heap[0].start)
            finally:
                os.close(fd)
        except OSError:
            return None
        if self._rec_auxv is None:
            self._rec_auxv = M.CpuSide()
            for base, data in self._rec_reads:
                found = M.find_auxv(data, base)
                if found is not None:
                    def rd(a: int, base=base, data=data) -> str | None:
                        k = a - base
                        if 0 <= k < len(data) and b"\0" in data[k:]:
                            return data[k:data.index(b"\0", k)].decode("latin-1")
                        return None
                    self._rec_auxv = M.side_from_auxv(found[0], rd)
                    break
        rec = M.CpuSide(**{k: getattr(self._rec_auxv, k) for k in ("hwcap", "hwcap2", "platform", "minsigstksz")})
        seen = [data for base, data in self._rec_reads
                if any(r.start <= base < r.end or base <= r.start < base + len(data) for r in heap)]
        if seen:
            rec.levels = set().union(*(M.levels_in(d) for d in seen))
        rec.search_elem = next((size for base, data in self._rec_reads
                                if (size := M.search_elem_size(data, base, heap[0].start)) is not None), None)
        facts = self.s.meta.raw.get("machine")
        if isinstance(facts, dict) and isinstance(facts.get("glibc_hwcaps"), list):
            rec.levels = set(facts["glibc_hwcaps"])  # written down by the recorder itself
        p.machine = M.MachineFacts(rec, live)
        return p.machine

    def _in_ldso(self, p: Proc, addr: int) -> bool:
        return any(r.start <= addr < r.end for r in self._ldso_memory(p))

    def changed_files(self) -> dict[str, tuple[int, int]]:
        """The files the debugger read (its own preads of ordinary files, re-read here) whose
        bytes on this machine are not the recorded ones: realpath -> (line, file offset of the
        first differing byte).  Read once per replay; evidence, not a guess, that this machine
        has another build of the file (another libc6 package, say)."""
        if self._changed is None:
            self._changed = {}
            for rec in self.s.records:
                if not isinstance(rec, S.MemIOCall) or rec.name != "pread64" or rec.proc_pid is not None \
                        or not rec.path or rec.path.startswith("/proc/") or rec.data is None:
                    continue
                real = os.path.realpath(rec.path)
                if real in self._changed:
                    continue
                try:
                    with open(real, "rb") as f:
                        live = os.pread(f.fileno(), len(rec.data), rec.offset)
                except OSError:
                    continue
                if live != rec.data:
                    k = next((i for i, (a, b) in enumerate(zip(live, rec.data)) if a != b),
                             min(len(live), len(rec.data)))
                    self._changed[real] = (rec.lineno, rec.offset + k)
            facts = self.s.meta.raw.get("machine")
            files = facts.get("files") if isinstance(facts, dict) else None
            for path, digest in (files.items() if isinstance(files, dict) else ()):
                if digest and path not in self._changed and M.file_digest(path) not in (None, digest):
                    self._changed[path] = (0, 0)  # meta.json's digest (line 0: not a trace line)
        return self._changed

    def _mapped_file_differs(self, p: Proc, addr: int, rec: bytes, live: bytes) -> str | None:
        """Evidence, from one read, that a library here is another build than the recorder's:
        `addr` is in a read-only mapping of a file whose live bytes there are this machine's file
        bytes (the page was never written), yet the recording read other bytes.  Registered in
        changed_files(), so that the file's other mappings are named with it."""
        reg = next((r for r in self._regions(p) if r.start <= addr < r.end), None)
        if reg is None or not reg.path.startswith("/") or "w" in reg.perms or rec == live:
            return None
        off = reg.offset + (addr - reg.start)
        real = os.path.realpath(reg.path)
        try:
            with open(real, "rb") as f:
                on_disk = os.pread(f.fileno(), len(live), off)
        except OSError:
            return None
        if on_disk != live:
            return None  # written at run time (relro), or not the file's bytes: no evidence
        self.changed_files().setdefault(real, (-self._line, off))
        return self._build_reason(reg.path)

    def _build_reason(self, path: str) -> str | None:
        ch = self.changed_files().get(os.path.realpath(path))
        if ch is None:
            return None
        if ch[0] < 0:
            return (f"{path} is another build here than the recorder's: at line {-ch[0]} the recording "
                    f"read bytes of its read-only mapping (file offset {ch[1]:#x}) that this machine's "
                    "file does not hold there")
        if ch[0] == 0:
            return (f"{path} is another build here than the recorder's: its sha256 differs from the "
                    "one meta.json's machine facts give")
        return (f"{path} is another build here than the recorder's: the debugger's own read of the "
                f"file at line {ch[0]} differs from this machine's file from offset {ch[1]:#x} on")

    def _built_elsewhere(self, p: Proc, addr: int) -> str | None:
        """Why memory at live `addr` may hold other bytes: it is a mapping of a file that is
        another build here, or ld.so's own memory while ld.so is another build."""
        if not self.changed_files():
            return None
        regions = self._regions(p)
        for i, r in enumerate(regions):
            if r.start <= addr < r.end and r.path.startswith("/"):
                return self._build_reason(r.path)
            if r.start <= addr < r.end and not r.path and i and regions[i - 1].end == r.start \
                    and regions[i - 1].path.startswith("/") and regions[i - 1].perms.startswith("rw"):
                why = self._build_reason(regions[i - 1].path)  # the bss right after its data
                return f"{os.path.basename(regions[i - 1].path)}'s bss: {why}" if why else None
        if self._in_ldso(p, addr):
            ld = next((r.path for r in self._regions(p) if "/ld-linux" in r.path), None)
            why = self._build_reason(ld) if ld else None
            return f"ld.so's own memory: {why}" if why else None
        return None

    def _machine_diff(self, p: Proc | None, name: str, rec: Any, live: Any, addr: int | None,
                      ptr: bool) -> Diff | None:
        """ld.so's data (at live `addr`), or a pointer into it (`ptr`: `rec` and `live` both
        point into ld.so's memory), differs because ld.so chose another hwcaps level here; or
        memory of a file that this machine has in another build (or a pointer into it)."""
        if p is None or not p.exec_seen:
            return None
        why = self._built_elsewhere(p, addr) if addr is not None else None
        if why is None and addr is not None and isinstance(rec, bytes) and isinstance(live, bytes):
            why = self._mapped_file_differs(p, addr, rec, live)
        if why is None and ptr and isinstance(rec, int) and isinstance(live, int):
            a, b = self._built_elsewhere(p, live), self._built_elsewhere(p, rec & MASK64)
            why = a if a is not None and b is not None else None
        if why is not None:
            return Diff(name, rec, live, "machine", why)
        if addr is not None and not ptr and self._below_start_stack(p, addr):
            # ld.so's start-up ran on this part of the stack before the program did: with another
            # CPU it computed other values there (its hwcaps counts, cache sizes, cpu features),
            # which stay in slots the program has not written yet
            why = self._startup_differs(p)
            return Diff(name, rec, live, "machine", "the stack below the initial stack pointer, where "
                        f"ld.so's start-up ran: {why}") if why else None
        if addr is not None and not self._in_ldso(p, addr):
            if not ptr:
                return None
        if ptr and not (isinstance(rec, int) and isinstance(live, int)
                        and self._in_ldso(p, rec) and self._in_ldso(p, live)):
            if addr is None or not self._in_ldso(p, addr):
                return None
        facts = self._machine(p)
        why = facts.hwcaps_reason() if facts is not None else None
        if why:
            return Diff(name, rec, live, "machine", why)
        return self._heap_layout_diff(p, name, rec, live, addr, facts)

    def _heap_layout_diff(self, p: Proc, name: str, rec: Any, live: Any, addr: int | None,
                          facts: M.MachineFacts | None) -> Diff | None:
        """ld.so's start-up heap laid out otherwise than in the recording, when the recording
        shows too little of the recorder's CPU to say why: a pointer into that heap that is not
        the recorded one is the evidence (without ASLR the layout is the same from run to run
        on one machine), and what the recording read in that heap afterwards is named with it."""
        heap = [r for r in self._ldso_memory(p) if not r.path]
        in_heap = lambda a: any(r.start <= a < r.end for r in heap)  # noqa: E731
        as_int = lambda v: _Q.unpack(v)[0] if isinstance(v, bytes) and len(v) == 8 else v  # noqa: E731
        r_, l_ = as_int(rec), as_int(live)
        elem = facts.live.search_elem if facts is not None else None
        cause = ("its first allocation, the search-path element, holds one status per hwcaps "
                 "subdirectory combination ld.so found on the CPU" + (f" ({elem:#x} bytes here)" if elem else ""))
        if isinstance(r_, int) and isinstance(l_, int) and r_ != l_ and in_heap(r_) and in_heap(l_):
            if p.heap_moved is None:
                p.heap_moved = (self._line, r_, l_)
            return Diff(name, rec, live, "machine",
                        f"a pointer into ld.so's start-up heap, which is laid out otherwise here: {cause}")
        if addr is not None and in_heap(addr) and p.heap_moved is not None:
            line, a, b = p.heap_moved
            return Diff(name, rec, live, "machine",
                        f"ld.so's start-up heap, laid out otherwise here (a pointer into it was {a:#x} "
                        f"recorded, {b:#x} here, at line {line}): what the recording read at this "
                        f"address sits elsewhere; {cause}")
        return None

    def _startup_differs(self, p: Proc) -> str | None:
        """What shows that ld.so's start-up ran otherwise here than in the recording (another
        CPU, its heap laid out otherwise, or a library it loaded another build), or None."""
        facts = self._machine(p)
        why = facts.hwcaps_reason() if facts is not None else None
        if why:
            return why
        if p.heap_moved is not None:
            line, a, b = p.heap_moved
            return (f"its heap is laid out otherwise here (a pointer into it was {a:#x} recorded, "
                    f"{b:#x} here, at line {line})")
        return next((self._build_reason(path) for path in self.changed_files()), None)

    def _below_start_stack(self, p: Proc, addr: int) -> bool:
        """Whether live `addr` is in the stack mapping below the process's initial stack pointer
        (argc's slot: everything below it is frames, ld.so's first)."""
        if p.start_stack is None and p.live:
            try:
                with open(f"/proc/{p.live}/stat") as f:
                    text = f.read()
                p.start_stack = int(text[text.rindex(")") + 2:].split()[25])  # field 28, startstack
            except (OSError, ValueError, IndexError):
                return False
        if not p.start_stack or addr >= p.start_stack:
            return False
        return any(r.path == "[stack]" and r.start <= addr < r.end for r in self._regions(p))

    def _stack_diff(self, p: Proc | None, name: str, rec: int, live: int) -> Diff | None:
        """The initial stack sits elsewhere here (the kernel put auxv/platform strings of another
        size above it): learned from the first stack-pointer observation after exec, then a
        stack address that differs by exactly that much is the same address."""
        if p is None or not p.exec_seen:
            return None
        stack = next((r for r in self._regions(p) if r.path == "[stack]"), None)
        if stack is None or not (stack.start <= live < stack.end):
            return None
        delta = (rec - live) & MASK64
        if delta >> 63:
            delta -= 1 << 64
        if p.stack_delta is None and name in ("syscall_info.stack_pointer", "regs.rsp") \
                and delta % 16 == 0 and 0 < abs(delta) < 65536:
            p.stack_delta, p.stack_line = delta, self._line
        if p.stack_delta is None or delta != p.stack_delta:
            return None
        return Diff(name, rec, live, "normalized",
                    f"a stack address: the initial stack sits {-p.stack_delta:+#x} from the recording "
                    "here (the kernel's auxv, platform strings and environment above it differ in "
                    f"size; learned at line {p.stack_line})")

    def _role_diff(self, p: Proc | None, name: str, rec: Any, live: Any) -> Diff | None:
        """Anything read from a probe child, or from the target before its exec: that is the
        debugger's own code and data in the recording, the replayer's helper here."""
        if p is not None and p.role.is_probe:
            return Diff(name, rec, live, "run-dependent",
                        f"probe child state: the debugger's own code and data ({p.role.kind} "
                        "stand-in runs the replayer's helper instead)")
        if p is not None and p.role.kind in ("stop-exec", "stop-seccomp-exec") and not p.exec_seen:
            return Diff(name, rec, live, "run-dependent",
                        "launcher before exec: the debugger's own image in its child "
                        "(the stand-in runs the replayer's helper instead)")
        return None

    def _explain_value(self, p: Proc | None, name: str, rec: int, live: int, *,
                       addr: int | None = None, size: int = 8) -> Diff | None:
        """Why an integer value (a register, a syscall-info field, a memory word at live address
        `addr`) may differ from the recording; None when no value rule explains it."""
        if live is None:
            return None
        rp = self.procs.get(rec)
        if rp is not None and rp.live == live:
            return Diff(name, rec, live, "normalized", f"pid {rec} is live pid {live}")
        if p is not None and (rp is None or rp.live is None) and rec in self.analysis.roles \
                and live not in self.rev and _parent_of(live) == p.live:
            # a new child's pid (fork's result) seen before any event of the child: the live
            # process of that pid is the tracee's child, so it is the recorded one
            self.bind(rec, live)
            return Diff(name, rec, live, "normalized", f"pid {rec} is live pid {live} (a new child of "
                                                       f"{p.rec}, known from its parent's call)")
        if rec == self.analysis.debugger_pid and live == os.getpid():
            return Diff(name, rec, live, "normalized", "the debugger's own pid is the replayer's")
        if rec == self.s.meta.raw.get("recorded_pid_of_target_parent") and live == os.getpid():
            return Diff(name, rec, live, "normalized",
                        "the attached target's parent: the recorder then, the replayer here")
        d = self._role_diff(p, name, rec, live)
        if d is not None:
            return d
        if p is not None and p.role.kind == "attached" and not p.resumed and name in _ATTACH_POINT:
            return Diff(name, rec, live, "run-dependent",
                        "the attach point: the attached target was stopped elsewhere in its loop than "
                        "in the recording (where an attach lands is timing); until its first resume")
        if p is None or size != 8:
            return None
        rec &= MASK64
        live &= MASK64
        sh = self._shift_of(p, live)
        if sh is not None and (rec - live) & MASK64 == sh.delta & MASK64:
            return Diff(name, rec, live, "normalized", sh.reason())
        sh = self._shift_of(p, -live & MASK64)  # a negated pointer (an offset computed from one)
        if sh is not None and (live - rec) & MASK64 == sh.delta & MASK64:
            return Diff(name, rec, live, "normalized", "negated " + sh.reason())
        if (1 << 32) <= live < (1 << 62) and (1 << 32) <= rec < (1 << 62) and self._in_tsc_window(live):
            return Diff(name, rec, live, "run-dependent",
                        "timing: a TSC value (rdtsc) the target read in this run")
        q = self._space(p)  # a thread's canary and guard are its process's
        img = self._image(q)
        if img is not None:
            if live == img["canary"] and (rec & 0xFF) == 0:
                return Diff(name, rec, live, "run-dependent",
                            "random: the stack-protector canary (from AT_RANDOM)")
            if live == img["guard"]:
                return Diff(name, rec, live, "run-dependent",
                            "random: the pointer guard (from AT_RANDOM)")
            if q.rec_random is not None:
                lp = _demangle(live, img["guard"], img["word"])
                rp_ = _demangle(rec, q.rec_random[1], img["word"])
                sh = self._shift_of(p, lp)
                if lp == rp_ or (sh is not None and (rp_ - lp) & MASK64 == sh.delta & MASK64):
                    return Diff(name, rec, live, "run-dependent",
                                "random: a pointer mangled with the pointer guard (PTR_MANGLE; "
                                "the guard comes from AT_RANDOM; equal once demangled)")
        lo_, hi_ = live & 0xFFFFFFFF, live >> 32
        if lo_ == hi_ and (rec & 0xFFFFFFFF) == rec >> 32 and rec >> 32 < 4096 and lo_ == _last_cpu(p.live):
            return Diff(name, rec, live, "run-dependent",
                        "rseq cpu_id_start/cpu_id: the CPU the thread last ran on")
        fact = self._host_facts(p).get(live)
        if fact is not None:
            return Diff(name, rec, live, "run-dependent", f"this machine's file system: {fact}")
        cpu = _cpu_values()
        why = cpu.get(live)
        if why is None and live >> 32 == rec >> 32:
            why = cpu.get(live & 0xFFFFFFFF)
        if why is None and live & 0xFFFFFFFF == rec & 0xFFFFFFFF:
            why = cpu.get(live >> 32)
        if why is not None:
            return Diff(name, rec, live, "run-dependent",
                        f"this CPU: {why}, as glibc derives it from CPUID (ld.so --list-diagnostics)")
        sh = self._learn_shift(p, rec, live, name)
        if sh is not None:
            return Diff(name, rec, live, "normalized", sh.reason())
        d = self._stack_diff(p, name, rec, live)
        if d is not None:
            return d
        d = self._vdso_diff(p, name, rec, live)
        if d is not None:
            return d
        return self._machine_diff(p, name, rec, live, addr, True)

    def _vdso_diff(self, p: Proc | None, name: str, rec: int, live: int) -> Diff | None:
        """A pointer into the vDSO whose target moved: the vDSO is the kernel's own image, so
        another kernel build lays out its dynamic section, symbols and strings differently
        (ld.so's link_map of linux-vdso.so.1 holds such pointers).  Only when the recording was
        made under another kernel build and both values fall inside this run's vDSO."""
        krec = self.s.meta.raw.get("kernel")
        if p is None or not p.exec_seen or not krec or krec == os.uname().release:
            return None
        for r in self._regions(p):
            if r.path == "[vdso]" and r.start <= live < r.end and r.start <= rec < r.end:
                return Diff(name, rec, live, "machine",
                            f"a pointer into the vDSO, the kernel's own image: recorded under {krec}, "
                            f"replayed under {os.uname().release}, whose vDSO is laid out otherwise")
        return None

    def _annotate(self, p: Proc | None, base: int, live: bytes) -> list[tuple[int, int, str]]:
        """Live address ranges of a buffer read at `base` whose contents legitimately differ
        from the recording, with the reason."""
        if p is None or not p.exec_seen:
            return []
        out: list[tuple[int, int, str]] = []
        end = base + len(live)
        for r in self._regions(p):
            if r.start < end and base < r.end and (r.path == "[vdso]" or r.path.startswith("[vvar")):
                krec = self.s.meta.raw.get("kernel")
                if krec and krec != os.uname().release:
                    out.append((r.start, r.end, f"{r.path}: the kernel's own page (recorded under "
                                                f"{krec}, replayed under {os.uname().release})"))
        for a, b in p.random_ranges:
            out.append((a, b, "random: bytes from getrandom(2)"))
        off = _rseq_offset()
        if off is not None:
            for tp in self._tps:
                out.append((tp + off, tp + off + 32,
                             "rseq area of a thread (glibc's, at its thread pointer + __rseq_offset): "
                             "the kernel writes where the thread last ran and its concurrency id (mm_cid)"))
        img = self._image(p)
        if img is not None:
            a = img["random_addr"]
            out.append((a, a + 16, "random: the AT_RANDOM bytes"))
            if img["auxv_addr"] is not None:
                aa = img["auxv_addr"]
                n = img["auxv_entry"]
                for i, (k, _v) in enumerate(img["auxv"]):
                    out.append((aa + n * i, aa + n * i + n,
                                f"auxv {_AT_NAMES.get(k, k)}: this machine's CPU and kernel"))
        # struct stat of a file this machine has (st_dev, st_ino side by side)
        ids = self._file_ids(p)
        first = ((base + 7) & ~7) - base
        n = (len(live) - first) // 8
        if n >= 2:
            words = struct.unpack_from(f"<{n}Q", live, first)
            devs = {d for d, _i in ids}
            for k in range(n - 1):
                if words[k] in devs:
                    f = ids.get((words[k], words[k + 1]))
                    if f is not None:
                        a = base + first + 8 * k
                        out.append((a, a + 144, f"this machine's file system: struct stat of {f}"))
        if p.sp is not None:
            stack = next((r for r in self._regions(p) if r.path == "[stack]"), None)
            if stack is not None and base < p.sp - 128:
                out.append((stack.start, p.sp - 128,
                            "dead stack below the stack pointer: leftovers of earlier calls "
                            "(ld.so's CPU, file and time probing), not program state"))
        return out

    def _file_ids(self, p: Proc | None = None) -> dict[tuple[int, int], str]:
        """(st_dev, st_ino) -> name, for the files a target may have stat'ed: what it maps,
        what it has open, ld.so.cache, the target binary, its output file."""
        if self._ids is None:
            self._ids = {}
            self._id_paths: set[str] = set()
            if self._out is not None:
                st = os.fstat(self._out.fileno())
                self._ids[(st.st_dev, st.st_ino)] = "the target's output file"
        paths = {"/etc/ld.so.cache", self.s.meta.path, "/bin/true", "/usr/bin/true", os.devnull}
        if p is not None and p.live and p.ids_seen != p.maps_gen:
            p.ids_seen = p.maps_gen
            paths.update(r.path for r in self._regions(p) if r.path.startswith("/"))
            try:
                fds = os.listdir(f"/proc/{p.live}/fd")
            except OSError:
                fds = []
            for fd in fds:
                try:
                    paths.add(os.readlink(f"/proc/{p.live}/fd/{fd}"))
                except OSError:
                    pass
        for path in paths - self._id_paths:
            self._id_paths.add(path)
            try:
                st = os.stat(path)
            except OSError:
                continue
            self._ids.setdefault((st.st_dev, st.st_ino), path)
        return self._ids

    def _host_facts(self, p: Proc | None) -> dict[int, str]:
        """Numbers that describe this machine's files (a target that maps ld.so.cache holds its
        size), keyed by value; only values large enough to mean something."""
        if self._facts is None:
            self._facts = {}
            for path in ("/etc/ld.so.cache",):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                self._facts[st.st_size] = f"the size of {path}"
        return self._facts

    # -- the live address space ------------------------------------------------------------------

    def _regions(self, p: Proc) -> list[Region]:
        if p.maps is None and p.live:
            p.maps = read_maps(p.live)
        return p.maps or []

    def _shift_of(self, p: Proc, live_addr: int) -> Shift | None:
        for sh in p.shifts:
            if sh.start <= live_addr < sh.end:
                return sh
        return None

    def _learn_shift(self, p: Proc, rec: int, live: int, name: str) -> Shift | None:
        """A pointer into a run-time mapping that differs from the recording by a whole number of
        pages: that mapping (with the rest of its object) sits elsewhere in this run."""
        delta = (rec - live) & MASK64
        if delta >> 63:
            delta -= 1 << 64
        if delta == 0 or delta % 4096 or abs(delta) > (64 << 20) or not p.exec_seen:
            return None
        regions = self._regions(p)
        reg = next((r for r in regions if r.start <= live < r.end), None)
        if reg is None or reg.path.startswith("[") or reg.path == self.s.meta.path:
            return None
        ldso = [r.start for r in regions if "/ld-linux" in r.path]
        if not ldso or reg.start >= min(ldso):
            return None  # only what is mapped below the dynamic linker at run time moves
        group = [reg]
        if reg.path:  # the whole object: its file mappings and the anonymous bss after them
            group = [r for r in regions if r.path == reg.path]
            last = max(group, key=lambda r: r.end)
            nxt = next((r for r in regions if r.start == last.end and not r.path), None)
            if nxt is not None and last.perms.startswith("rw"):
                group.append(nxt)
        what = os.path.basename(reg.path) if reg.path else "an anonymous mapping"
        for r in group:
            if self._shift_of(p, r.start) is None:
                p.shifts.append(Shift(r.start, r.end, delta, what, self._line))
        return self._shift_of(p, live)

    def _to_live(self, p: Proc | None, addr: int) -> int:
        """A recorded address of the target as this run has it (learned layout shifts); an
        address inside a live mapping that did not move stays as it is."""
        if p is None:
            return addr
        if p.stack_delta:
            stack = next((r for r in self._regions(p) if r.path == "[stack]"), None)
            if stack is not None and stack.start + p.stack_delta <= addr < stack.end + p.stack_delta:
                return addr - p.stack_delta  # the initial stack sits elsewhere here (learned)
        if not p.shifts:
            return addr
        for sh in p.shifts:
            if sh.start + sh.delta <= addr < sh.end + sh.delta:
                if self._shift_of(p, addr) is None and any(
                        r.start <= addr < r.end for r in self._regions(p)):
                    return addr  # what lives there now did not move
                return addr - sh.delta
        return addr

    def _consequence(self, p: Proc | None, d: Diff) -> Diff:
        """Mark an unexplained diff on a derailed process as a consequence."""
        if d.kind == "unexplained" and p is not None and p.derailed is not None:
            line, why = p.derailed
            d.kind, d.reason = "consequence", f"follows from line {line}: {why}"
        return d

    def _explain_status(self, p: Proc, rec_st: int, live_st: int) -> Diff:
        d = Diff("status", rec_st, live_st)
        if p.missing_options and os.WIFSTOPPED(rec_st & 0xFFFF):
            sig = (rec_st >> 8) & 0xFF
            ev = rec_st >> 16
            why = f"SETOPTIONS at line {p.options_line} not implemented by this backend"
            if sig == (SIGTRAP | 0x80) and p.missing_options & O_TRACESYSGOOD and \
                    live_st == (rec_st & ~0x8000):
                d.kind, d.reason = "consequence", f"no PTRACE_O_TRACESYSGOOD: {why}"
                return d
            need = {EVENT_EXEC: O_TRACEEXEC, EVENT_FORK: O_TRACEFORK, EVENT_VFORK: O_TRACEVFORK,
                    EVENT_CLONE: O_TRACECLONE, EVENT_EXIT: O_TRACEEXIT}.get(ev, 0)
            if need and p.missing_options & need:
                d.kind = "consequence"
                d.reason = f"no PTRACE_EVENT_{_EVENT_NAMES.get(ev, ev)} stop: {why}"
                if ev != EVENT_EXEC:  # the process no longer runs as recorded
                    p.derailed = p.derailed or (p.options_line, f"options not set ({why})")
                return d
        return self._consequence(p, d)

    # -- the loop ------------------------------------------------------------------------------------

    def run(self) -> SessionReport:
        t_start = time.perf_counter()
        rep = self.report
        rep.parse_time = 0.0
        if self.s.parsed.errors:
            for e in self.s.parsed.errors:
                rep.errors.append(f"line {e.lineno}: unparseable: {e.message}")
        install_target(self.s)
        build_helper()
        self._out = tempfile.TemporaryFile()
        self.b.setup()
        if self.s.meta.mode == "attach":
            self._start_attached_target()
        _cpu_values()
        try:
            self._tsc0 = _rdtsc()
        except (OSError, subprocess.SubprocessError, ValueError):
            self._tsc0 = None
        rep.setup_time = time.perf_counter() - t_start
        for pid, role in self.analysis.roles.items():
            rep.roles.setdefault(pid, role.describe(self.s.meta))
        records = self.s.records
        total = sum(1 for r in records if isinstance(r, S.Syscall))
        done = 0
        last_progress = time.perf_counter()
        try:
            for rec in records:
                if not isinstance(rec, S.Syscall):
                    rep.context_lines += 1
                    continue
                try:
                    res = self._one(rec)
                except Exception as e:  # one call's failure is that call's verdict, not the run's
                    res = CallResult(rec.lineno, f"{rec.name}(...)", getattr(rec, "pid", None), diffs=[
                        Diff("replayer", None, f"{type(e).__name__}: {e}", "unexplained",
                             "the replayer could not replay this call")])
                rep.results.append(res.settle() if res.status != "skipped" else res)
                done += 1
                if self.progress and (done % 100 == 0 or time.perf_counter() - last_progress > 1.0):
                    last_progress = time.perf_counter()
                    self.progress(self.s.name, done, total)
            for live, st in self.stash:
                recp = self.rev.get(live)
                p = self.procs.get(recp) if recp is not None else None
                d = self._consequence(p, Diff("event", None, st))
                if d.kind == "unexplained" and recp in self._detached() and \
                        (os.WIFEXITED(st) or os.WIFSIGNALED(st)):
                    d.kind, d.reason = "run-dependent", (
                        "the exit of a process the debugger had detached: the recording ended "
                        "before the debugger reaped it (its real parent), the replay reaps it")
                if d.kind == "unexplained":
                    d.reason = f"live pid {live} reported status {st:#x}, which the recording never saw"
                rep.results.append(CallResult(0, f"(pending event of live pid {live})", recp, diffs=[d]).settle())
        finally:
            self._cleanup()
        rep.elapsed = time.perf_counter() - t_start
        rep.backend_time = self.b.busy
        rep.wait_time = self.wait_time
        return rep

    def _cleanup(self) -> None:
        t0 = time.perf_counter()
        live = [p.live for p in self.procs.values() if p.live and p.alive and p.live != os.getpid()]
        for pid in live:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.perf_counter() + 3.0
        while time.perf_counter() < deadline:
            r, _ = self.b.wait4(-1, WALL | WNOHANG)
            if r < 0:
                break
            if r == 0:
                time.sleep(0.002)
        for pid in live:  # anything the backend's wait did not reap
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        self.b.close()
        if self._self_mem is not None:
            os.close(self._self_mem)
            self._self_mem = None
        if self._out is not None:
            self._out.seek(0)
            self.report.target_output = self._out.read().decode("utf-8", "replace")
            self._out.close()
            self._out = None
        self.wait_time += time.perf_counter() - t0

    def _one(self, rec: S.Syscall) -> CallResult:
        self._line = rec.lineno
        if rec.unfinished:
            return CallResult(rec.lineno, rec.name + "(...)", rec.pid, "skipped",
                              note="no result was recorded")
        if rec.partial:
            return CallResult(rec.lineno, rec.name + "(...)", rec.pid, "skipped",
                              note="only the end of the call was recorded")
        if isinstance(rec, S.PtraceCall):
            return self._ptrace(rec)
        if isinstance(rec, S.Wait4Call):
            return self._wait4(rec)
        if isinstance(rec, S.WaitidCall):
            return self._waitid(rec)
        if isinstance(rec, S.CloneCall):
            return self._clone(rec)
        if isinstance(rec, S.KillCall):
            return self._kill(rec)
        if isinstance(rec, S.MemIOCall):
            return self._memio(rec)
        if isinstance(rec, S.ProcessVmCall):
            return self._vm(rec)
        return CallResult(rec.lineno, f"{rec.name}(...)", rec.pid, "skipped",
                          note="not a tracing call (the debugger's own business)")

    # -- results helpers -------------------------------------------------------------------------

    def _ret_diff(self, p: Proc | None, rec: S.Syscall, live: int, name: str = "ret") -> Diff | None:
        want = rec.kernel_ret
        if want == live:
            return None
        q = self.procs.get(want) if want is not None and want > 0 else None
        if q is not None and q.live == live:
            return Diff(name, want, live, "normalized", f"pid {want} is live pid {live}")
        return self._consequence(p, Diff(name, _errtext(want), _errtext(live)))

    # -- clone / fork ------------------------------------------------------------------------------

    def _clone(self, rec: S.CloneCall) -> CallResult:
        call = f"{rec.name}() = {rec.child}"
        if rec.child is None:
            return CallResult(rec.lineno, call, rec.pid, "skipped", note="the clone failed: nothing to start")
        if rec.flags is not None and rec.flags & CLONE_THREAD:
            return CallResult(rec.lineno, call, rec.pid, "skipped",
                              note="a thread of the debugger itself (not replayed)")
        role = self.analysis.roles.get(rec.child) or Role("unknown")
        live = self._spawn(role)
        self.bind(rec.child, live, role)
        res = CallResult(rec.lineno, call, rec.child, note=f"stand-in: {role.describe(self.s.meta)}")
        res.diffs.append(Diff("ret", rec.child, live, "normalized", f"pid {rec.child} is live pid {live}"))
        if role.kind == "unknown":
            res.diffs.append(Diff("role", None, None, "unexplained",
                                  "the replay cannot tell what this child did (no first event)"))
        return res

    # -- waits -------------------------------------------------------------------------------------

    def _wait4(self, rec: S.Wait4Call) -> CallResult:
        want = rec.kernel_ret
        opts = rec.options
        call = f"wait4({rec.wpid}, {opts:#x}) = {_errtext(want)}"
        res = CallResult(rec.lineno, call, want if want and want > 0 else None)
        if want in _INTERRUPTED:
            return _interrupted(res)
        if want is not None and want > 0:
            p = self.procs.get(want)
            timeout = self.timeout if p is None or p.derailed is None else min(self.timeout, 0.3)
            ev = self._collect(p.live if p is not None else None, opts, timeout)
            if ev is None:
                d = Diff("event", f"{want} status {rec.status:#x}" if rec.status is not None else want,
                         f"nothing within {timeout:g}s")
                res.diffs.append(self._consequence(p or self._owner(want), d))
                return res
            live_pid, st = ev
            if live_pid < 0:
                res.diffs.append(self._consequence(p or self._owner(want),
                                                   Diff("ret", want, _errtext(live_pid))))
                return res
            if p is None:
                p = self.bind(want, live_pid)
            res.diffs.append(Diff("ret", want, live_pid, "normalized", f"pid {want} is live pid {live_pid}"))
            if rec.status is not None and (rec.status & 0xFFFFFFFF) != (st & 0xFFFFFFFF):
                res.diffs.append(self._explain_status(p, rec.status, st))
            self._after_event(p, st)
            return res
        live_wpid = self._map_wait_arg(rec.wpid)
        about = self.procs.get(rec.wpid) if rec.wpid > 0 else self._any_derailed()
        if want == 0:
            r, st = self.b.wait4(live_wpid, opts)
            if r > 0:
                self.stash.append((r, st))
                res.diffs.append(Diff("ret", 0, r, "run-dependent",
                                      "timing: a WNOHANG answer; the event was already pending in "
                                      "this run (kept for the wait that recorded it)"))
            elif r != 0:
                res.diffs.append(self._consequence(about, Diff("ret", 0, _errtext(r))))
            return res
        # a recorded failure (ECHILD...): ask without blocking
        r, st = self.b.wait4(live_wpid, opts | WNOHANG)
        if r != want:
            if r > 0:
                self.stash.append((r, st))
            recp = self.rev.get(r) if r > 0 else None
            d = Diff("ret", _errtext(want), _errtext(r) if r <= 0 else f"{r} status {st:#x}")
            res.diffs.append(self._consequence(self.procs.get(recp) if recp else about, d))
        return res

    def _owner(self, rec_pid: int | None) -> Proc | None:
        """The process a recorded pid stands for, or, for a child that never appeared live, the
        traced parent it would have come from (whose derailment then explains its absence)."""
        seen = set()
        while rec_pid is not None and rec_pid not in seen:
            seen.add(rec_pid)
            p = self.procs.get(rec_pid)
            if p is not None and (p.live is not None or p.derailed is not None):
                return p
            role = self.analysis.roles.get(rec_pid)
            rec_pid = role.parent if role is not None else None
        return None

    def _attached_thread(self, rec_tid: int) -> Proc | None:
        """An attach session's debugger attaching a thread of the target that ran before it
        (`strace -f -p`, `gdb -p` of a threaded process): the recorded thread ids the debugger
        attached, in order, are the live target's other threads in order of their ids (threads
        started the same way get ids in the order they were made)."""
        lead = self.procs.get(self.s.meta.attached_pid) if self.s.meta.attached_pid else None
        if lead is None or not lead.live or rec_tid == lead.rec:
            return None
        want = sorted({r.target for r in self.s.records if isinstance(r, S.PtraceCall)
                       and r.request in ("PTRACE_ATTACH", "PTRACE_SEIZE") and r.target > lead.rec})
        try:
            tids = sorted(int(t) for t in os.listdir(f"/proc/{lead.live}/task") if int(t) != lead.live)
        except OSError:
            return None
        if rec_tid not in want or len(tids) != len(want):
            return None
        p = self.bind(rec_tid, tids[want.index(rec_tid)], Role("attached"))
        p.role = Role("attached")  # a thread of the attached target, whatever its first event was
        p.exec_seen = True
        return p

    def _absent(self, rec_pid: int) -> Diff:
        return self._consequence(self._owner(rec_pid),
                                 Diff("pid", rec_pid, None, reason="the process never appeared live"))

    def _any_derailed(self) -> Proc | None:
        return next((p for p in self.procs.values() if p.derailed is not None), None)

    def _waitid(self, rec: S.WaitidCall) -> CallResult:
        call = f"waitid({rec.idtype}, {rec.id}, {rec.options:#x}) = {_errtext(rec.kernel_ret)}"
        res = CallResult(rec.lineno, call, None)
        if rec.kernel_ret in _INTERRUPTED:
            return _interrupted(res)
        want_pid = rec.siginfo.get("si_pid") if rec.siginfo else None
        idtype, ident = rec.idtype, rec.id
        if idtype == 1:
            ident = self.live_pid(ident) or ident
        p = self.procs.get(want_pid) if want_pid else None
        deadline = time.perf_counter() + (self.timeout if want_pid else 0)
        while True:
            t0 = time.perf_counter()
            r, info = self.b.waitid(idtype, ident, rec.options | (WNOHANG if want_pid else 0))
            self.wait_time += time.perf_counter() - t0
            if not want_pid or info is not None or r < 0 or time.perf_counter() > deadline:
                break
            time.sleep(0.001)
        if r != rec.kernel_ret:
            res.diffs.append(self._consequence(p, Diff("ret", _errtext(rec.kernel_ret), _errtext(r))))
        if rec.siginfo:
            if info is None:
                res.diffs.append(self._consequence(p, Diff("siginfo", rec.siginfo, None)))
            else:
                if p is None and want_pid and info.get("si_pid"):
                    p = self.bind(want_pid, info["si_pid"])
                for k, v in rec.siginfo.items():
                    if k not in info or not isinstance(v, int):
                        continue
                    if (v & MASK64) != (info[k] & MASK64):
                        d = self._explain_value(p, "siginfo." + k, v, info[k], size=4)
                        res.diffs.append(d or self._consequence(p, Diff("siginfo." + k, v, info[k])))
        return res

    # -- signals -----------------------------------------------------------------------------------

    def _kill(self, rec: S.KillCall) -> CallResult:
        call = (f"{rec.name}({str(rec.tgid) + ', ' if rec.tgid else ''}{rec.target}, {rec.signame}) = "
                f"{_errtext(rec.kernel_ret)}")
        tgt = rec.target
        dbg = self.analysis.debugger_pid
        if dbg is not None and (abs(tgt) == dbg or rec.tgid == dbg):
            # e.g. strace re-raising SIGINT at its own exit: the replayer must not signal itself
            return CallResult(rec.lineno, call, None, "skipped",
                              note="the debugger signals itself (its own business, not replayed)")
        live = self.live_pid(abs(tgt)) if tgt else 0
        p = self.procs.get(abs(tgt))
        res = CallResult(rec.lineno, call, abs(tgt) if tgt else None)
        if tgt and live is None:
            res.diffs.append(self._absent(abs(tgt)))
            return res
        live = (live if tgt > 0 else -live) if tgt else 0
        if rec.name == "kill":
            r = self.b.kill(live, rec.signal)
        elif rec.name == "tkill":
            r = self.b.tkill(live, rec.signal)
        else:
            r = self.b.tgkill(self.live_pid(rec.tgid) or rec.tgid, live, rec.signal)
        d = self._ret_diff(p, rec, r)
        if d:
            res.diffs.append(d)
        if r == 0 and rec.signal == SIGKILL and p is not None:
            p.derailed = None  # whatever happened before, it dies now as recorded
        return res

    # -- memory ------------------------------------------------------------------------------------

    def _mem_diffs(self, p: Proc | None, rec_data: bytes, live: bytes, base: int,
                   truncated: bool) -> list[Diff]:
        """Byte buffers read at live address `base`: the differing 8-byte words (aligned on the
        address), each explained if a value or range rule allows; runs of unexplained words
        are merged into one range."""
        if truncated:
            live = live[:len(rec_data)]
        if rec_data == live:
            return []
        if len(rec_data) != len(live):
            n = min(len(rec_data), len(live))
            out = self._mem_diffs(p, rec_data[:n], live[:n], base, False)
            return out + [self._consequence(p, Diff("length", len(rec_data), len(live)))]
        if p is not None and p.exec_seen:
            self._note_recorded_random(p, base, rec_data, live)
        ranges = None
        diffs: list[Diff] = []
        end = base + len(rec_data)
        a = base & ~7
        while a < end:
            lo, hi = max(a, base) - base, min(a + 8, end) - base
            rw, lw = rec_data[lo:hi], live[lo:hi]
            if rw != lw:
                name = f"data@{base + lo:#x}"
                d = None
                if hi - lo == 8:
                    d = self._explain_value(p, name, _Q.unpack(rw)[0], _Q.unpack(lw)[0], addr=a)
                    if d is None:
                        d = self._explain_halves(p, name, rw, lw)
                else:
                    d = self._role_diff(p, name, rw, lw)
                if d is None:
                    d = self._machine_diff(p, name, rw, lw, base + lo, False)
                if d is None:
                    if ranges is None:
                        ranges = self._annotate(p, base, live)
                    why = next((w for s_, e_, w in ranges if s_ < base + hi and base + lo < e_), None)
                    d = Diff(name, rw, lw, "run-dependent", why) if why else Diff(name, rw, lw)
                diffs.append(d)
            a += 8
        out: list[Diff] = []
        for d in diffs:
            if d.kind == "unexplained" and out and out[-1].kind == "unexplained" and _adjacent(out[-1], d):
                prev = out[-1]
                prev.recorded = _as_bytes(prev.recorded) + _as_bytes(d.recorded)
                prev.live = _as_bytes(prev.live) + _as_bytes(d.live)
                continue
            out.append(self._consequence(p, d))
        return out

    def _explain_halves(self, p: Proc | None, name: str, rw: bytes, lw: bytes) -> Diff | None:
        """A word whose differing 4-byte halves are each a mapped pid, or the low half of a
        pointer into a mapping laid out elsewhere in this run."""
        reasons = []
        for k in (0, 4):
            r4, l4 = _I.unpack_from(rw, k)[0], _I.unpack_from(lw, k)[0]
            if r4 == l4:
                continue
            q = self.procs.get(r4)
            if q is not None and q.live == l4:
                reasons.append(f"pid {r4} is live pid {l4}")
                continue
            sh = self._shift_of(p, 0x7FFF00000000 | l4) if p is not None else None
            if sh is not None and (r4 - l4) & 0xFFFFFFFF == sh.delta & 0xFFFFFFFF:
                reasons.append("low 32 bits of an " + sh.reason())
                continue
            img = self._image(self._space(p)) if p is not None else None
            if img is not None and img["word"] == 4:  # a 32-bit tracee's words
                d = self._explain_value(p, name, r4, l4)
                if d is not None and d.kind == "run-dependent" and d.reason.startswith("random:"):
                    reasons.append(d.reason)
                    continue
            return None
        kind = "run-dependent" if any(r.startswith("random:") for r in reasons) else "normalized"
        return Diff(name, rw, lw, kind, "; ".join(reasons))

    def _memio(self, rec: S.MemIOCall) -> CallResult:
        call = f"{rec.name}({rec.path}, {rec.count}, {rec.offset:#x}) = {_errtext(rec.kernel_ret)}"
        if rec.proc_pid is None:
            return self._file_io(rec, call)
        dbg = self.analysis.debugger_pid
        if rec.proc_pid == dbg:
            return self._self_mem_io(rec, call)
        p = self.procs.get(rec.proc_pid)
        res = CallResult(rec.lineno, call, rec.proc_pid)
        if p is None or p.live is None:
            res.diffs.append(self._absent(rec.proc_pid))
            return res
        tid = None
        if rec.proc_tid is not None:
            tid = p.live if rec.proc_tid == rec.proc_pid else self.live_pid(rec.proc_tid)
        off = self._translated(p, rec.offset, res, "offset")
        if rec.name == "pread64":
            r, data = self.b.mem_pread(p.live, tid, rec.count, off)
            d = self._ret_diff(p, rec, r)
            if d:
                res.diffs.append(d)
            elif r > 0 and rec.data is not None:
                res.diffs += self._mem_diffs(p, rec.data, data, off, rec.truncated)
        else:
            if rec.data is None:
                return CallResult(rec.lineno, call, rec.proc_pid, "skipped",
                                  note="the written bytes were not recorded")
            if rec.truncated:
                res.note = f"only the first {len(rec.data)} of {rec.count} bytes were recorded and written"
            r = self.b.mem_pwrite(p.live, tid, rec.data, off)
            d = self._ret_diff(p, rec, r)
            if d:
                res.diffs.append(d)
        return res

    def _translated(self, p: Proc | None, addr: int, res: CallResult, name: str) -> int:
        live = self._to_live(p, addr)
        if live != addr and p is not None:
            sh = self._shift_of(p, live)
            why = sh.reason() if sh else (
                f"a stack address: the initial stack sits {-p.stack_delta:+#x} from the recording here "
                f"(learned at line {p.stack_line})" if p.stack_delta and addr - live == p.stack_delta
                else "address")
            res.diffs.append(Diff(name, addr, live, "normalized", why))
        return live

    def _self_mem_io(self, rec: S.MemIOCall, call: str) -> CallResult:
        """The debugger reading or writing its own memory (gdb checks /proc/PID/mem is writable):
        the replayer does the same on a buffer of its own."""
        res = CallResult(rec.lineno, call, rec.proc_pid,
                         note="the debugger's own memory: done on a buffer of the replayer's")
        buf = self._self_bufs.setdefault(rec.lineno, bytearray(max(rec.count, 1)))
        addr = host.address(buf)
        if self._self_mem is None:
            self._self_mem = os.open(f"/proc/{os.getpid()}/mem", os.O_RDWR | os.O_CLOEXEC)
        t0 = time.perf_counter()
        try:
            if rec.name == "pread64":
                data = os.pread(self._self_mem, rec.count, addr)
                r = len(data)
            else:
                r = os.pwrite(self._self_mem, rec.data or b"", addr)
                if bytes(buf[:r]) != (rec.data or b"")[:r]:
                    res.diffs.append(Diff("data", rec.data, bytes(buf[:r]),
                                          reason="the write did not land"))
        except OSError as e:
            r = -(e.errno or errno.EIO)
        finally:
            self.b.busy += time.perf_counter() - t0
        res.diffs.append(Diff("offset", rec.offset, addr, "normalized",
                              "the debugger's own address is a buffer of the replayer's"))
        d = self._ret_diff(None, rec, r)
        if d:
            res.diffs.append(d)
        return res

    def _file_io(self, rec: S.MemIOCall, call: str) -> CallResult:
        """Reads of other files: the debugger's own libraries (re-read from this machine) and
        /proc/PID/... files of traced processes (read for the live pid)."""
        path = rec.path or ""
        if rec.name != "pread64" or not path:
            return CallResult(rec.lineno, call, None, "skipped",
                              note="the debugger's own file I/O (not replayed)")
        res = CallResult(rec.lineno, call, None)
        p = None
        live_path = path
        parts = path.split("/")
        if path.startswith("/proc/") and len(parts) > 3 and parts[2].isdigit():
            rp = int(parts[2])
            p = self.procs.get(rp)
            res.pid = rp
            if p is None or p.live is None:
                res.diffs.append(self._absent(rp))
                return res
            parts[2] = str(p.live)
            if len(parts) > 4 and parts[3] == "task" and parts[4].isdigit():
                parts[4] = str(self.live_pid(int(parts[4])) or parts[4])
            live_path = "/".join(parts)
        t0 = time.perf_counter()
        try:
            fd = os.open(live_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                data = os.pread(fd, rec.count, rec.offset)
            finally:
                os.close(fd)
            r = len(data)
        except OSError as e:
            r, data = -(e.errno or errno.EIO), b""
        finally:
            self.b.busy += time.perf_counter() - t0
        if path.endswith("/maps"):
            rd = rec.data or b""
            if rd != data:
                if _maps_normal(rd) == _maps_normal(data):
                    res.diffs.append(Diff("data", rd, data, "run-dependent",
                                          "maps: device and inode numbers of the mapped files"))
                    if r != rec.kernel_ret:
                        res.diffs.append(Diff("ret", rec.kernel_ret, r, "run-dependent",
                                              "maps: device and inode numbers of the mapped files"))
                    return res
                res.diffs.append(self._consequence(p, Diff("data", rd, data)))
            elif r != rec.kernel_ret:
                res.diffs.append(self._consequence(p, Diff("ret", rec.kernel_ret, r)))
            return res
        d = self._ret_diff(p, rec, r)
        if d:
            res.diffs.append(d)
        elif r > 0 and rec.data is not None:
            live = data[:len(rec.data)] if rec.truncated else data
            if live != rec.data:
                why = self._build_reason(path) if p is None else None
                res.diffs.append(Diff("data", rec.data, live, "machine", why) if why
                                 else self._consequence(p, Diff("data", rec.data, live)))
        return res

    def _vm(self, rec: S.ProcessVmCall) -> CallResult:
        call = f"{rec.name}({rec.target}, {len(rec.remote_iov)} ranges) = {_errtext(rec.kernel_ret)}"
        p = self.procs.get(rec.target)
        res = CallResult(rec.lineno, call, rec.target)
        if p is None or p.live is None:
            res.diffs.append(self._absent(rec.target))
            return res
        sizes = [S.to_int(i["iov_len"]) for i in rec.local_iov if isinstance(i, dict)]
        remote = [(self._translated(p, a, res, "remote"), n) for a, n in rec.remote_iov]
        if rec.name == "process_vm_readv":
            r, data = self.b.vm_readv(p.live, sizes, remote)
            d = self._ret_diff(p, rec, r)
            if d:
                res.diffs.append(d)
            elif r > 0 and rec.data is not None and len(remote) == 1:
                res.diffs += self._mem_diffs(p, rec.data, data, remote[0][0], rec.truncated)
            elif r > 0 and rec.data is not None:
                if data[:len(rec.data)] != rec.data:
                    res.diffs.append(self._consequence(p, Diff("data", rec.data, data)))
        else:
            if rec.data is None:
                return CallResult(rec.lineno, call, rec.target, "skipped",
                                  note="the written bytes were not recorded")
            chunks, k = [], 0
            for n in sizes:
                chunks.append(rec.data[k:k + n])
                k += n
            r = self.b.vm_writev(p.live, chunks, remote)
            d = self._ret_diff(p, rec, r)
            if d:
                res.diffs.append(d)
        return res

    # -- ptrace --------------------------------------------------------------------------------------

    def _ptrace(self, rec: S.PtraceCall) -> CallResult:
        req = rec.request_no
        name = rec.request[7:] if rec.request.startswith("PTRACE_") else rec.request
        call = f"ptrace(PTRACE_{name}, {rec.target}) = {_errtext(rec.kernel_ret)}"
        res = CallResult(rec.lineno, call, rec.target)
        if req is None:
            res.status, res.note = "skipped", "unknown request"
            return res
        if req == REQ["TRACEME"]:
            res.status, res.note = "skipped", "the debugger itself asked to be traced (not replayable)"
            return res
        p = self.procs.get(rec.target)
        if (p is None or p.live is None) and req in (REQ["ATTACH"], REQ["SEIZE"]):
            p = self._attached_thread(rec.target)
        if p is None or p.live is None:
            res.diffs.append(self._absent(rec.target))
            return res
        live = p.live
        addr = rec.addr_int or 0
        if req in (REQ["PEEKTEXT"], REQ["PEEKDATA"], REQ["POKETEXT"], REQ["POKEDATA"]):
            addr = self._translated(p, addr, res, "addr")
        keep: Any = None
        data: Any = 0
        buf: bytearray | None = None
        if req in (REQ["PEEKTEXT"], REQ["PEEKDATA"], REQ["PEEKUSER"], REQ["GETEVENTMSG"]):
            buf = bytearray(8)
            data = buf
        elif req == REQ["GETREGS"]:
            buf = bytearray(_REGS.size)
            data = buf
        elif req == REQ["SETREGS"]:
            data = self._setregs_payload(rec)
        elif req == REQ["GETSIGINFO"]:
            buf = bytearray(128)
            data = buf
        elif req == REQ["SETSIGINFO"]:
            info = dict(rec.siginfo or {})
            if isinstance(info.get("si_pid"), int):
                info["si_pid"] = self.live_pid(info["si_pid"]) or info["si_pid"]
            data = encode_siginfo(info)
        elif req == REQ["GET_SYSCALL_INFO"]:
            buf = bytearray(max(addr, 0) or 88)
            data = buf
        elif req in (REQ["GETREGSET"], REQ["SETREGSET"]):
            # strace shows "iov_len=A => B" when the kernel changed it, else the one length
            n = rec.iov_len_in or (rec.iov or {}).get("iov_len") or 0
            buf = bytearray(n or 8)
            if req == REQ["SETREGSET"] and rec.regs:
                buf[:_REGS.size] = self._setregs_payload(rec)
            keep = host.iovec(buf, n)
            data = host.address(keep)
        elif req in _RESUMES or req in _INT_DATA:
            data = (rec.data_int or 0) & MASK64
        elif req in _NO_DATA:
            data = 0
        else:
            res.status, res.note = "skipped", f"PTRACE_{name}: its data is not replayed yet"
            return res
        if p.running and rec.kernel_ret == 0 and req not in _ANY_STATE:
            # The recording's request succeeded, so its tracee had stopped, though the debugger
            # collected no wait for it (a wait a signal interrupted, say): here too, let it stop.
            self._await_stopped(live)
        r = self.b.ptrace(req, live, addr, data)
        if req in _RESUMES or req == REQ["DETACH"]:
            p.resumed = True
            p.running = r == 0 and req != REQ["DETACH"] and req != REQ["KILL"]
        want = rec.kernel_ret
        if r != want:
            # Only a request the backend declares it lacks is "not-implemented"; any other
            # answer that is not the recorded one is a difference (no excuse paths).
            if r == -errno.EIO and not self.b.implemented(req):
                why = f"PTRACE_{name} not implemented by this backend"
                res.diffs.append(Diff("ret", _errtext(want), _errtext(r), "not-implemented", why))
                self._unimplemented(p, rec, req, why)
                return res
            res.diffs.append(self._ret_diff(p, rec, r) or Diff("ret", want, r))
            return res
        if r < 0:
            return res
        if req == REQ["GETREGS"] and rec.regs is not None:
            lv = decode_regs(buf)
            p.sp = lv["rsp"]
            if lv.get("fs_base"):
                self._tps.add(lv["fs_base"])  # a thread pointer: its rseq area is known from it
            if lv.get("cs") == 0x23 and lv.get("gs_base"):
                self._tps32.add(lv["gs_base"])  # an i386 thread's TCB (%gs)
            res.diffs += compare_regs(rec.regs, lv, lambda f, a, b: self._explain_value(p, f, a, b))
            res.diffs = [self._consequence(p, d) for d in res.diffs]
            self.last_regs[rec.target] = (rec.regs, lv)
        elif req in (REQ["PEEKTEXT"], REQ["PEEKDATA"], REQ["PEEKUSER"]) and rec.peek is not None:
            lv = _Q.unpack(buf)[0]
            if (rec.peek & MASK64) != lv:
                d = self._explain_value(p, "peek", rec.peek & MASK64, lv)
                res.diffs.append(d or self._consequence(p, Diff("peek", rec.peek & MASK64, lv)))
        elif req == REQ["GETEVENTMSG"] and rec.peek is not None:
            lv = _Q.unpack(buf)[0]
            ev = (p.last_status >> 16) if p.last_status else 0
            if ev in (EVENT_FORK, EVENT_VFORK, EVENT_CLONE) and rec.peek not in self.procs:
                self.bind(rec.peek, lv, Role("followed", lineno=rec.lineno, parent=rec.target,
                                             event=_EVENT_NAMES.get(ev, "?").lower()))
            if rec.peek != lv:
                d = self._explain_value(p, "eventmsg", rec.peek, lv)
                res.diffs.append(d or self._consequence(p, Diff("eventmsg", rec.peek, lv)))
        elif req == REQ["GETSIGINFO"] and rec.siginfo is not None:
            lv = decode_siginfo(buf, rec.siginfo.keys())
            for k, v in rec.siginfo.items():
                if not isinstance(v, int) or k not in lv:
                    continue
                if (v & 0xFFFFFFFF if _SIGINFO_FIELDS[k][1] in ("<i", "<I") else v & MASK64) != \
                        (lv[k] & 0xFFFFFFFF if _SIGINFO_FIELDS[k][1] in ("<i", "<I") else lv[k] & MASK64):
                    d = self._explain_value(p, "siginfo." + k, v, lv[k], size=4)
                    if d is None and k in ("si_utime", "si_stime"):
                        d = Diff("siginfo." + k, v, lv[k], "run-dependent", "timing: CPU time")
                    res.diffs.append(d or self._consequence(p, Diff("siginfo." + k, v, lv[k])))
        elif req == REQ["GET_SYSCALL_INFO"] and rec.syscall_info is not None:
            lv = decode_syscall_info(buf, r)
            p.sp = lv["stack_pointer"]
            ent = lv.get("entry")
            if ent and ent["nr"] == (_NR_GETRANDOM_I386 if lv.get("arch") == _AUDIT_ARCH_I386 else _NR_GETRANDOM):
                p.random_ranges.append((ent["args"][0], ent["args"][0] + ent["args"][1]))
            rf, lf = _flatten(rec.syscall_info), _flatten(lv)
            for k, v in rf.items():
                x = lf.get(k)
                if isinstance(v, int) and x is not None and (v & MASK64) == (x & MASK64):
                    continue
                if not isinstance(v, int):
                    continue
                d = self._explain_value(p, "syscall_info." + k, v, x) if x is not None else None
                if d is not None and d.kind == "run-dependent" and p.role.is_probe and \
                        k in ("op", "arch", "entry.nr", "exit.is_error") :
                    d = None  # what the probe does must match
                res.diffs.append(d or self._consequence(p, Diff("syscall_info." + k, v, x)))
        elif req in (REQ["GETREGSET"], REQ["SETREGSET"]) and rec.iov:
            ln = keep.iov_len
            if rec.iov.get("iov_len") is not None and ln != rec.iov["iov_len"]:
                if addr == S.CONSTS["NT_X86_XSTATE"]:
                    res.diffs.append(Diff("iov_len", rec.iov["iov_len"], ln, "run-dependent",
                                          "the XSAVE size of this CPU"))
                else:
                    res.diffs.append(self._consequence(p, Diff("iov_len", rec.iov["iov_len"], ln)))
            if rec.regs is not None and addr == 1:
                lv = decode_regs(bytes(buf[:min(ln, _REGS.size) if isinstance(ln, int) and ln >= 0 else _REGS.size]))
                res.diffs += [self._consequence(p, d) for d in compare_regs(
                    rec.regs, lv, lambda f, a, b: self._explain_value(p, f, a, b))]
        elif req == REQ["SETOPTIONS"] or req == REQ["SEIZE"]:
            pass
        if req == REQ["SETREGS"] and rec.regs is not None:
            self.last_regs[rec.target] = (rec.regs, decode_regs(data))
        self._tsc_halves(res.diffs)
        return res

    def _tsc_halves(self, diffs: list[Diff]) -> None:
        """A 32-bit tracee's rdtsc leaves its reading in two 32-bit registers (edx:eax, often
        moved on to others): two unexplained 32-bit values of one call whose live values, as
        high and low half, form a TSC reading taken during this replay are named so."""
        cands = [d for d in diffs if d.kind == "unexplained" and isinstance(d.live, int)
                 and isinstance(d.recorded, int) and 0 <= d.live < 1 << 32 and 0 <= d.recorded < 1 << 32]
        for hi in cands:
            if hi.live == 0 or hi.kind != "unexplained":
                continue
            lo = next((d for d in cands if d is not hi and d.kind == "unexplained"
                       and self._in_tsc_window(hi.live << 32 | d.live)), None)
            if lo is None:
                continue
            for d, half in ((hi, "high"), (lo, "low")):
                d.kind, d.reason = "run-dependent", (f"timing: the {half} half of a TSC value (rdtsc) "
                                                     "a 32-bit tracee read in this run")

    def _setregs_payload(self, rec: S.PtraceCall) -> bytes:
        """What SETREGS writes: the live registers the last GETREGS returned, with the fields the
        debugger changed (recorded SETREGS != recorded GETREGS) set as the debugger set them."""
        regs = dict(rec.regs or {})
        prev = self.last_regs.get(rec.target)
        if prev is not None:
            rview, lview = prev
            p = self.procs.get(rec.target)
            for n in REG_NAMES:
                if n in regs and rview.get(n) == regs[n] and n in lview:
                    regs[n] = lview[n]
                elif n in regs:
                    regs[n] = self._to_live(p, regs[n])  # an edit, in this run's layout
        return encode_regs(regs)

    def _unimplemented(self, p: Proc, rec: S.PtraceCall, req: int, why: str) -> None:
        if req == REQ["SETOPTIONS"]:
            p.missing_options |= rec.data_int or 0
            p.options_line = rec.lineno
        elif req in _EFFECTFUL and p.derailed is None:
            effect = {REQ["SEIZE"]: "the process was never traced",
                      REQ["INTERRUPT"]: "the stop it asks for never happens",
                      REQ["LISTEN"]: "the tracee is not listening"}.get(req, "the tracee runs otherwise")
            p.derailed = (rec.lineno, f"{why}; {effect}")
            if req == REQ["SEIZE"]:
                p.missing_options |= rec.data_int or 0
                p.options_line = rec.lineno


_EVENT_NAMES = {EVENT_FORK: "FORK", EVENT_VFORK: "VFORK", EVENT_CLONE: "CLONE", EVENT_EXEC: "EXEC",
                5: "VFORK_DONE", EVENT_EXIT: "EXIT", 7: "SECCOMP", EVENT_STOP: "STOP"}


_AT_NAMES = {3: "AT_PHDR", 6: "AT_PAGESZ", 16: "AT_HWCAP", 17: "AT_CLKTCK", 25: "AT_RANDOM",
             26: "AT_HWCAP2", 27: "AT_RSEQ_FEATURE_SIZE", 28: "AT_RSEQ_ALIGN", 31: "AT_EXECFN",
             33: "AT_SYSINFO_EHDR", 51: "AT_MINSIGSTKSZ"}


_rseq_off: list = []


def _rseq_offset() -> int | None:
    """glibc's ``__rseq_offset`` (the rseq area's offset from the thread pointer), read from this
    process's own libc -- the targets here run the same libc; None where glibc has none."""
    if not _rseq_off:
        try:
            import ctypes

            _rseq_off.append(ctypes.c_ssize_t.in_dll(ctypes.CDLL(None), "__rseq_offset").value)
        except (OSError, ValueError, AttributeError):
            _rseq_off.append(None)
    return _rseq_off[0]


def _parent_of(pid: int) -> int | None:
    """The parent pid of live `pid` (/proc/PID/stat field 4); None when it is not a pid."""
    if not 0 < pid < (1 << 22):
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _last_cpu(pid: int | None) -> int | None:
    """The CPU `pid` last ran on (/proc/PID/stat field 39)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[36])
    except (OSError, ValueError, IndexError):
        return None


_cpu_cache: dict[int, str] | None = None


def _cpu_values() -> dict[int, str]:
    """This CPU's identification and cache values as glibc's ld.so computes them
    (`ld.so --list-diagnostics`), value -> name; values below 0x100 are left out (they prove
    nothing)."""
    global _cpu_cache
    if _cpu_cache is None:
        _cpu_cache = {}
        for ldso in ("/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"):
            try:
                out = subprocess.run([ldso, "--list-diagnostics"], capture_output=True, text=True,
                                     timeout=10).stdout
            except (OSError, subprocess.SubprocessError):
                continue
            for line in out.splitlines():
                key, _, val = line.partition("=")
                if not (key.startswith("x86.") or key.startswith("dl_hwcap")) or not val.startswith("0x"):
                    continue
                try:
                    v = int(val, 16)
                except ValueError:
                    continue
                if v >= 0x100 and v != MASK64:
                    _cpu_cache.setdefault(v, key)
            break
    return _cpu_cache


def _ror17(v: int) -> int:
    v &= MASK64
    return ((v >> 17) | (v << 47)) & MASK64


# Where glibc's TCB keeps its copies of the canary and the pointer guard (tcbhead_t's stack_guard
# and pointer_guard, side by side), from the thread pointer, by word size.
_TCB_GUARDS = {8: 0x28, 4: 0x14}


def _random_words(rnd: bytes, word: int) -> tuple[int, int]:
    """(canary, pointer guard) glibc derives from the 16 AT_RANDOM bytes for a process of that
    word size: the first word with its low byte cleared, and the word after it."""
    fmt = "<I" if word == 4 else "<Q"
    return struct.unpack_from(fmt, rnd, 0)[0] & ~0xFF, struct.unpack_from(fmt, rnd, word)[0]


def _demangle(v: int, guard: int, word: int) -> int:
    """glibc's PTR_DEMANGLE: x86-64 rotates right by 17 then xors the guard; i386 by 9 in 32 bits."""
    if word == 4:
        v &= 0xFFFFFFFF
        return (((v >> 9) | (v << 23)) & 0xFFFFFFFF) ^ guard
    return _ror17(v) ^ guard


def _recorded_reads(records: list) -> list[tuple[int, bytes]]:
    """(address, bytes) of every recorded read of a traced process's memory (the recording's
    own view of its target, for the machine facts)."""
    out = []
    for r in records:
        if isinstance(r, S.MemIOCall) and r.name == "pread64" and r.proc_pid is not None and r.data:
            out.append((r.offset, bytes(r.data)))
        elif isinstance(r, S.ProcessVmCall) and r.name == "process_vm_readv" and r.data \
                and len(r.remote_iov) == 1:
            out.append((r.remote_iov[0][0], bytes(r.data)))
    return out


def _read_cstr(pid: int, addr: int, limit: int = 64) -> str | None:
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
        try:
            b = os.pread(fd, limit, addr)
        finally:
            os.close(fd)
    except OSError:
        return None
    return b.split(b"\0", 1)[0].decode("latin-1")


def _errtext(v: Any) -> Any:
    if isinstance(v, int) and v < 0 and -v in errno.errorcode:
        return f"-{errno.errorcode[-v]}"
    return v


def _as_bytes(v: Any) -> bytes:
    if isinstance(v, int):
        return _Q.pack(v & MASK64)
    return bytes(v)


def _adjacent(a: Diff, b: Diff) -> bool:
    try:
        ea = int(a.field.split("@", 1)[1], 16) + len(a.recorded)
        sb = int(b.field.split("@", 1)[1], 16)
    except (IndexError, ValueError, TypeError):
        return False
    return ea == sb


def _maps_normal(data: bytes) -> list[tuple]:
    out = []
    for line in data.decode("latin-1").splitlines():
        f = line.split(None, 5)
        if len(f) >= 5:
            out.append((f[0], f[1], f[2], f[5].strip() if len(f) > 5 else ""))
        else:
            out.append(tuple(f))
    return out


# -------------------------------------------------------------------------------------------------
# Running and reporting
# -------------------------------------------------------------------------------------------------


def replay_session(path: str | os.PathLike, backend: str | Backend = "host", *, timeout: float = 5.0,
                   progress: Callable[[str, int, int], None] | None = None,
                   host_oracle: bool | SessionReport = False) -> SessionReport:
    """Load and replay one session directory; the report.  With `host_oracle` (True, or a host
    report of the same session made in this run) a non-host backend is judged by the host's
    replay: differences the host shows too are "machine" (lxbrand/replay/oracle.py)."""
    t0 = time.perf_counter()
    s = load_session(path)
    t_parse = time.perf_counter() - t0
    b = get_backend(backend) if isinstance(backend, str) else backend
    host_rep = None
    if host_oracle is not False and b.name != "host":
        host_rep = host_oracle if isinstance(host_oracle, SessionReport) else \
            Replayer(s, get_backend("host"), timeout=timeout).run()
    rep = Replayer(s, b, timeout=timeout, progress=progress).run()
    rep.parse_time = t_parse
    rep.elapsed += t_parse
    if host_rep is not None:
        from .oracle import judge_by_host

        judge_by_host(rep, host_rep)
    return rep


def run_sessions(paths: Iterable[str | os.PathLike], backend: str = "lx", *, timeout: float = 5.0,
                 progress: Callable[[str, int, int], None] | None = None,
                 host_oracle: bool = True) -> list[SessionReport]:
    return [replay_session(p, backend, timeout=timeout, progress=progress, host_oracle=host_oracle)
            for p in paths]


def format_report(rep: SessionReport, *, first: int = 5) -> str:
    """The per-session table `lxbrand replay` prints."""
    L = []
    L.append(f"== {rep.name}  (backend {rep.backend})")
    L.append(f"   calls replayed {rep.replayed:5d}   matched {rep.count('matched'):5d}   "
             f"explained {rep.count('explained'):4d}   differed {rep.count('differed'):4d}   "
             f"skipped {rep.count('skipped'):3d}   ({rep.context_lines} signal/exit lines)   "
             f"{rep.elapsed:.2f}s")
    if rep.oracle is not None:
        o = rep.oracle
        L.append(f"   host oracle: {o['disagree']} calls where lx and the host disagree; "
                 f"{o['machine_calls']} calls differ from the recording on the host too (machine); "
                 f"the host's own replay: {o['host_differed']} calls differed from the recording")
    if rep.roles or rep.pidmap:
        L.append("   pids (recorded -> live):")
        for k in sorted(set(rep.roles) | set(rep.pidmap)):
            v = rep.pidmap.get(k)
            L.append(f"     {k:>7} -> {v if v is not None else '(none)':<7} {rep.roles.get(k, '')}"
                     + ("" if v is not None else "  [never appeared live]"))
    named = rep.named_grouped()
    if named:
        L.append("   named differences (kind: fields -- reason [calls]):")
        pid_calls = sum(n for k, reason, _f, n in named if k == "normalized" and reason.startswith("pid "))
        for kind, reason, fields, n in named:
            if kind == "normalized" and reason.startswith("pid "):
                continue  # listed once below
            L.append(f"     {kind}: {','.join(fields)} -- {reason} [{n}]")
        if pid_calls:
            L.append(f"     normalized: pids -- recorded pids as the live ones above [{pid_calls}]")
    skipped = Counter(r.note for r in rep.results if r.status == "skipped")
    for note, n in skipped.items():
        L.append(f"   skipped {n}: {note}")
    for e in rep.errors:
        L.append(f"   ERROR: {e}")
    bad = [r for r in rep.results if r.status == "differed"]
    shown = bad[:first] if bad else [r for r in rep.results if r.status == "explained"][:first]
    if shown:
        L.append(f"   first {'differences' if bad else 'explained differences'}:")
        for r in shown:
            L.extend("     " + line for line in r.text().splitlines())
    L.append(f"   {'PASS' if rep.passed else 'FAIL'}")
    return "\n".join(L)


def report_json(reports: list[SessionReport]) -> dict:
    return {"sessions": [r.as_json() for r in reports],
            "passed": sum(r.passed for r in reports), "failed": sum(not r.passed for r in reports)}
