"""native_proc brand hooks for Linux ptrace events (PCXSTOPFOROPT, PCXLISTEN, PCXTAKEN), on real targets.

Each test drives one C target through commands on its stdin (fork, vfork, clone, thread, exec,
exit, seccomp, ping) and watches it through native_proc.client: PR_BRAND event stops, children
and threads held at birth, job control as an event of interest, PCXLISTEN, and the errors.
Cross-checks come from the host (/proc/<pid>/syscall, /proc/<pid>/status), never from procd.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import subprocess
import time

import pytest

import native_proc.client as npc
from native_proc import host
from structs.codec import codec
from structs.ctl import encode_ctl, fltset, sigset, sysset
from structs.faults import FLT
from structs.procfs import LWPSTATUS, PSTATUS, SIGINFO, SIGINFO_VIEWS
from structs.procfs_consts import PC, PCX, PCX_EVENT, PCX_EVENT_OF_WHAT, PR_FLAGS, PR_WHY, SOLARIS_P, SOLARIS_W
from structs.regs import ILLUMOS_REG_INDEX
from structs.syscalls import SYSCALL_NUMBERS

from .procd_helpers import host_state, until

LWPST = codec(LWPSTATUS["amd64"])
PST = codec(PSTATUS["amd64"])
SI = codec(SIGINFO["amd64"])
CLD = codec(SIGINFO_VIEWS["amd64"]["cld"])
RIP, RSP = ILLUMOS_REG_INDEX["amd64"]["REG_RIP"], ILLUMOS_REG_INDEX["amd64"]["REG_RSP"]
SIGTRAP_S, SIGUSR1_S, SIGSTOP_S = 5, 16, 23
PR_FORK, PR_RLC, PR_KLC, PR_ASYNC, PR_PTRACE = 0x100000, 0x200000, 0x400000, 0x800000, 0x4000000
MODES = 0x0FF00000
CLD_TRAPPED = 4
E = PCX_EVENT
# Linux PTRACE_EVENT_* numbers: what a PR_BRAND stop's pr_what says.
EV_FORK, EV_VFORK, EV_CLONE, EV_EXEC, EV_VFORK_DONE, EV_EXIT, EV_SECCOMP = range(1, 8)
ENOSYS = errno.ENOSYS
NR64 = SYSCALL_NUMBERS["amd64"]

# One program, driven line by line through stdin; every command answers with lines on stdout.
EVENTS = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char stack[1 << 16];
static volatile long spins;
static int in_clone(void *a) { (void)a; printf("clone-child %d ran\n", (int)getpid()); fflush(stdout); return 4; }
static void *in_thread(void *a) { (void)a; printf("thread ran\n"); fflush(stdout); return 0; }
static void *spinner(void *a) { (void)a; for (;;) spins++; return 0; }

/* getppid() -> SECCOMP_RET_TRACE with data 0x42; everything else allowed. */
static void filter(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | 0x42),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof f / sizeof f[0], f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
        perror("seccomp");
        exit(2);
    }
}

int main(int argc, char **argv) {
    char cmd[16];
    int st;
    pid_t c;
    pthread_t t;
    if (argc > 1 && !strcmp(argv[1], "after-exec")) printf("execd %d\n", (int)getpid());
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    while (fgets(cmd, sizeof cmd, stdin)) {
        switch (cmd[0]) {
        case 'p': printf("pong\n"); break;
        case 'f':
            c = fork();
            if (c == 0) { printf("child %d ran\n", (int)getpid()); fflush(stdout); _exit(5); }
            printf("forked %d\n", (int)c); fflush(stdout);
            waitpid(c, &st, 0);
            printf("reaped %#x\n", st);
            break;
        case 'v':
            c = vfork();
            if (c == 0) _exit(6);
            printf("vforked %d\n", (int)c); fflush(stdout);
            waitpid(c, &st, 0);
            printf("reaped %#x\n", st);
            break;
        case 'c':  /* a new process whose exit signal is not SIGCHLD: the host's CLONE event */
            c = clone(in_clone, stack + sizeof stack, 0, 0);
            printf("cloned %d\n", (int)c); fflush(stdout);
            waitpid(c, &st, __WALL);
            printf("reaped %#x\n", st);
            break;
        case 't':
            pthread_create(&t, 0, in_thread, 0);
            printf("created\n"); fflush(stdout);
            pthread_join(t, 0);
            printf("joined\n");
            break;
        case 'T': pthread_create(&t, 0, spinner, 0); printf("spinning\n"); break;
        case 'e': fflush(stdout); execl("/proc/self/exe", argv[0], "after-exec", (char *)0); perror("exec"); break;
        case 'x': exit(9);
        case 'S': filter(); printf("filtered\n"); break;
        case 'g': { errno = 0; long r = syscall(SYS_getppid); printf("getppid %ld %d\n", r, r < 0 ? errno : 0); break; }
        }
        fflush(stdout);
    }
    return 0;
}
"""


def ctl(*messages) -> bytes:
    return encode_ctl("amd64", list(messages))


def lwpstatus(pid: int, lwpid: int = 1) -> dict:
    with npc.open(f"{pid}/lwp/{lwpid}/lwpstatus") as f:
        return LWPST.decode(f.read())


def pstatus(pid: int) -> dict:
    with npc.open(f"{pid}/status") as f:
        return PST.decode(f.read())


def flags(st: dict) -> int:
    return st["pr_flags"] & (PR_FLAGS.PR_STOPPED | PR_FLAGS.PR_ISTOP | PR_FLAGS.PR_DSTOP)


STOPPED, ISTOP = int(PR_FLAGS.PR_STOPPED), int(PR_FLAGS.PR_ISTOP)
EVENT_STOP = STOPPED | ISTOP


def host_syscall(tid: int) -> tuple[int, int, int]:
    """(number, sp, pc) from the host's /proc/<tid>/syscall of a stopped thread."""
    with open(f"/proc/{tid}/syscall") as f:
        parts = f.read().split()
    return int(parts[0]), int(parts[-2], 16), int(parts[-1], 16)


def errno_of(fn) -> int:
    try:
        fn()
    except OSError as ex:
        return ex.errno
    return 0


class Target:
    """One EVENTS process: send a command, read its answer lines (bounded waits)."""

    def __init__(self, exe: str) -> None:
        self.p = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.pid = self.p.pid
        self.buf = b""
        self.kids: list[int] = []
        assert self.line() == f"ready {self.pid}"

    def send(self, cmd: str) -> None:
        self.p.stdin.write(cmd.encode() + b"\n")

    def line(self, timeout: float = 5.0) -> str | None:
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 4096)
                if not chunk:
                    return None
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def lines(self, n: int, timeout: float = 5.0) -> list[str]:
        out = []
        for _ in range(n):
            got = self.line(timeout)
            assert got is not None, f"only {out} of {n} lines"
            out.append(got)
        return out

    def ping(self, timeout: float = 5.0) -> bool:
        self.send("p")
        return self.line(timeout) == "pong"

    def finish(self) -> None:
        for pid in [self.pid] + self.kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.p.wait(timeout=10)
        self.p.stdin.close()
        self.p.stdout.close()


@pytest.fixture
def target(cbuild):
    exe = str(cbuild(EVENTS, "-O0", "-pthread", name="events"))
    made: list[Target] = []

    def start() -> Target:
        t = Target(exe)
        made.append(t)
        return t

    yield start
    for t in made:
        t.finish()


def brand_stop(pid: int, lwpid: int = 1) -> dict:
    st = lwpstatus(pid, lwpid)
    assert st["pr_why"] == PR_WHY.PR_BRAND, st["pr_why"]
    assert flags(st) == EVENT_STOP
    return st


def held_at_birth(pid: int, lwpid: int = 1) -> dict:
    """A new task held at birth: PR_DSTOP until its first host stop arrives (it may come just
    after the parent's event), then PR_REQUESTED.  Read-only: opening the child for writing
    would change what its last close does."""
    st = lwpstatus(pid, lwpid)
    if flags(st) != EVENT_STOP:
        assert flags(st) == PR_FLAGS.PR_DSTOP
        st = until(lambda: (lambda s: s if s["pr_flags"] & STOPPED else None)(lwpstatus(pid, lwpid)),
                   what="the held task's first stop")
    assert (st["pr_why"], st["pr_what"], flags(st)) == (PR_WHY.PR_REQUESTED, 0, EVENT_STOP)
    return st


# -- the control messages ------------------------------------------------------------------------


def test_codes_and_operands():
    assert (PCX.PCXSTOPFOROPT, PCX.PCXLISTEN, PCX.PCXTAKEN) == (0x1002, 0x1003, 0x1004)
    # The mask bits are Linux's PTRACE_O_* values: 1 << PTRACE_EVENT_*.
    assert all(int(bit) == 1 << what for what, bit in PCX_EVENT_OF_WHAT.items())
    assert E.JOBCONTROL == 1 and int(E.SECCOMP) == 0x80
    from structs.ctl import decode_ctl

    for model, word in (("amd64", 8), ("i386", 4)):
        raw = encode_ctl(model, [(PCX.PCXSTOPFOROPT, 0xFF), (PCX.PCXLISTEN, None), (PCX.PCXTAKEN, None)])
        assert len(raw) == 2 * word + word + word  # ulong operand, then two bare codes
        assert decode_ctl(model, raw) == ([(PCX.PCXSTOPFOROPT, 0xFF), (PCX.PCXLISTEN, None),
                                           (PCX.PCXTAKEN, None)], None)


def test_errors(target):
    t = target()
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC)))
        # Unknown mask bits: EINVAL, and the mask is not changed.
        assert errno_of(lambda: c.write(ctl((PCX.PCXSTOPFOROPT, 0x100)))) == errno.EINVAL
        assert errno_of(lambda: c.write(ctl((PCX.PCXSTOPFOROPT, E.FORK | 0x8000)))) == errno.EINVAL
        t.send("f")
        assert sorted(x.split()[0] for x in t.lines(3)) == ["child", "forked", "reaped"]
        # A truncated message: EINVAL.
        raw = ctl((PCX.PCXSTOPFOROPT, int(E.FORK)))
        assert errno_of(lambda: c.write(raw[:12])) == errno.EINVAL
        # PCXLISTEN on a running LWP, and in a stop that is no reportable group stop.
        assert errno_of(lambda: c.write(ctl((PCX.PCXLISTEN, None)))) == errno.EINVAL
        c.write(ctl((PC.PCSTOP, None)))
        with npc.open(f"{t.pid}/lwp/1/lwpctl", os.O_WRONLY) as lc:
            assert errno_of(lambda: lc.write(ctl((PCX.PCXLISTEN, None)))) == errno.EINVAL
        assert lwpstatus(t.pid)["pr_why"] == PR_WHY.PR_REQUESTED  # untouched
        c.write(ctl((PCX.PCXSTOPFOROPT, int(E.JOBCONTROL)), (PC.PCRUN, 0)))
        assert t.ping()
        # A process that is gone: ENOENT.
        t.send("x")
        assert t.p.wait(timeout=10) == 9
        until(lambda: errno_of(lambda: c.write(ctl((PCX.PCXLISTEN, None)))) == errno.ENOENT,
              what="PCXLISTEN on an exited process fails with ENOENT")
        assert errno_of(lambda: c.write(ctl((PCX.PCXSTOPFOROPT, 0)))) == errno.ENOENT


def test_mask_is_process_wide_and_shown_by_status(target):
    t = target()
    t.send("T")
    assert t.line() == "spinning"
    until(lambda: len(os.listdir(f"/proc/{t.pid}/task")) == 2)
    with npc.open(f"{t.pid}/lwp/2/lwpctl", os.O_WRONLY) as lc:
        lc.write(ctl((PC.PCSET, PR_RLC), (PCX.PCXSTOPFOROPT, int(E.FORK | E.EXIT))))
        assert f"{t.pid}: seized=True" in npc.procd_status()
        assert f"events={int(E.FORK | E.EXIT):#x}" in npc.procd_status()
        lc.write(ctl((PCX.PCXSTOPFOROPT, int(E.EXEC))))  # replaces the mask
        assert f"events={int(E.EXEC):#x}" in npc.procd_status()
        t.send("f")  # FORK no longer in the mask: nothing stops
        assert sorted(x.split()[0] for x in t.lines(3)) == ["child", "forked", "reaped"]


# -- event stops ------------------------------------------------------------------------------------


def test_fork_event_and_child_held_at_birth_with_inherited_tracing(target):
    t = target()
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC | PR_PTRACE | PR_ASYNC),
                    (PC.PCSTRACE, sigset(SIGUSR1_S, SIGTRAP_S)), (PC.PCSFAULT, fltset(FLT.FLTBPT)),
                    (PC.PCSENTRY, sysset(NR64["getppid"])),
                    (PCX.PCXSTOPFOROPT, int(E.FORK | E.EXEC))))
        t.send("f")
        c.write(ctl((PC.PCTWSTOP, 5000)))
        st = brand_stop(t.pid)
        child = st["pr_rval1"]
        t.kids.append(child)
        assert st["pr_what"] == EV_FORK and child > 0
        assert st["pr_syscall"] in (NR64["clone"], NR64["fork"]) and st["pr_nsysarg"] == (5 if st["pr_syscall"] == NR64["clone"] else 1)  # clone(5 args), fork(none: 1 says "in a call")
        nr, sp, pc = host_syscall(t.pid)
        assert (st["pr_syscall"], st["pr_reg"][RSP], st["pr_reg"][RIP]) == (nr, sp, pc)
        # The child: held at birth, the parent's tracing, event mask and modes but PR_PTRACE.
        held_at_birth(child)
        assert host_state(child)[0] == "t"
        cs, ps = pstatus(child), pstatus(t.pid)
        for key in ("pr_sigtrace", "pr_flttrace", "pr_sysentry", "pr_sysexit"):
            assert cs[key] == ps[key], key
        assert cs["pr_flags"] & MODES == PR_RLC | PR_ASYNC
        assert cs["pr_ppid"] == t.pid
        assert f"{child}: seized=True flags={PR_RLC | PR_ASYNC:#x}" in npc.procd_status()
        assert f"events={int(E.FORK | E.EXEC):#x}" in npc.procd_status().split(f"{child}:")[1]
        time.sleep(0.1)
        assert t.line(0.1) is None  # neither the parent nor the child went on
        c.write(ctl((PC.PCRUN, 0)))
        assert t.line() == f"forked {child}"
        assert t.line(0.2) is None  # the child is still held
        with npc.open(f"{child}/ctl", os.O_WRONLY) as cc:
            cc.write(ctl((PC.PCRUN, 0)))
        assert t.lines(2) == [f"child {child} ran", "reaped 0x500"]


def test_vfork_and_vfork_done(target):
    t = target()
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PCX.PCXSTOPFOROPT, int(E.VFORK | E.VFORKDONE))))
        t.send("v")
        c.write(ctl((PC.PCTWSTOP, 5000)))
        st = brand_stop(t.pid)
        child = st["pr_rval1"]
        t.kids.append(child)
        assert st["pr_what"] == EV_VFORK and st["pr_syscall"] in (NR64["vfork"], NR64["clone"], NR64["clone3"])
        held_at_birth(child)
        c.write(ctl((PC.PCRUN, 0)))  # the parent now waits in the kernel for its child
        with npc.open(f"{child}/ctl", os.O_WRONLY) as cc:
            cc.write(ctl((PC.PCRUN, 0)))
        c.write(ctl((PC.PCTWSTOP, 5000)))
        st = brand_stop(t.pid)
        assert (st["pr_what"], st["pr_rval1"]) == (EV_VFORK_DONE, child)
        c.write(ctl((PC.PCRUN, 0)))
        assert t.lines(2) == [f"vforked {child}", "reaped 0x600"]


def test_clone_of_a_new_process(target):
    t = target()
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PCX.PCXSTOPFOROPT, int(E.CLONE))))
        t.send("c")
        c.write(ctl((PC.PCTWSTOP, 5000)))
        st = brand_stop(t.pid)
        child = st["pr_rval1"]
        t.kids.append(child)
        assert (st["pr_what"], st["pr_syscall"]) == (EV_CLONE, NR64["clone"])
        assert npc.listdir(f"{t.pid}/lwp") == ["1"]  # a process of its own, not an LWP
        held_at_birth(child)
        with npc.open(f"{child}/ctl", os.O_WRONLY) as cc:
            cc.write(ctl((PC.PCRUN, 0)))
        c.write(ctl((PC.PCRUN, 0)))
        assert sorted(t.lines(2)) == sorted([f"cloned {child}", f"clone-child {child} ran"])
        assert t.line() == "reaped 0x400"


def test_new_thread_held_at_birth(target):
    t = target()
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PCX.PCXSTOPFOROPT, int(E.CLONE))))
        t.send("t")
        c.write(ctl((PC.PCTWSTOP, 5000)))
        st = brand_stop(t.pid)
        tid = st["pr_rval1"]
        assert st["pr_what"] == EV_CLONE and st["pr_syscall"] in (NR64["clone"], NR64["clone3"])
        assert npc.listdir(f"{t.pid}/lwp") == ["1", "2"]
        assert npc.tidmap(tid) == (t.pid, 2)
        held_at_birth(t.pid, 2)
        with npc.open(f"{t.pid}/lwp/1/lwpctl", os.O_WRONLY) as lc:
            lc.write(ctl((PC.PCRUN, 0)))
        assert t.line() == "created"
        assert t.line(0.2) is None  # the new thread is still held
        with npc.open(f"{t.pid}/lwp/2/lwpctl", os.O_WRONLY) as lc:
            lc.write(ctl((PC.PCRUN, 0)))
        assert t.lines(2) == ["thread ran", "joined"]


def test_exec_event_without_the_legacy_sigtrap(target):
    t = target()
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC | PR_PTRACE), (PC.PCSTRACE, sigset(SIGTRAP_S)),
                    (PCX.PCXSTOPFOROPT, int(E.EXEC))))
        t.send("e")
        c.write(ctl((PC.PCTWSTOP, 5000)))
        st = brand_stop(t.pid)
        assert (st["pr_what"], st["pr_rval1"], st["pr_syscall"]) == (EV_EXEC, t.pid, NR64["execve"])
        nr, sp, pc = host_syscall(t.pid)
        assert (st["pr_reg"][RSP], st["pr_reg"][RIP]) == (sp, pc)  # the new image's entry
        with open(f"/proc/{t.pid}/cmdline", "rb") as f:
            assert f.read().split(b"\0")[1] == b"after-exec"
        c.write(ctl((PC.PCRUN, 0)))
        assert t.lines(2) == [f"execd {t.pid}", f"ready {t.pid}"]
        assert t.ping()
        assert not lwpstatus(t.pid)["pr_flags"] & STOPPED  # no SIGTRAP stop came
        # Without the bit, PR_PTRACE's exec posts SIGTRAP (traced here: a PR_SIGNALLED stop).
        c.write(ctl((PCX.PCXSTOPFOROPT, 0)))
        t.send("e")
        c.write(ctl((PC.PCTWSTOP, 5000)))
        st = lwpstatus(t.pid)
        assert (st["pr_why"], st["pr_what"]) == (PR_WHY.PR_SIGNALLED, SIGTRAP_S)
        c.write(ctl((PC.PCRUN, 1)))  # PRCSIG: the SIGTRAP is dropped
        assert t.lines(2) == [f"execd {t.pid}", f"ready {t.pid}"]


def test_exit_event_holds_the_exiting_lwp(target):
    t = target()
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PCX.PCXSTOPFOROPT, int(E.EXIT))))
        t.send("x")
        c.write(ctl((PC.PCTWSTOP, 5000)))
        st = brand_stop(t.pid)
        assert (st["pr_what"], st["pr_rval1"], st["pr_syscall"]) == (EV_EXIT, 9 << 8, NR64["exit_group"])
        assert st["pr_sysarg"][0] == 9
        time.sleep(0.1)
        assert t.p.poll() is None  # held
        c.write(ctl((PC.PCRUN, 0)))
    assert t.p.wait(timeout=10) == 9


def test_seccomp_event(target):
    t = target()
    t.send("S")
    assert t.line() == "filtered"
    t.send("g")
    assert t.line() == f"getppid -1 {ENOSYS}"  # nobody traces it: SECCOMP_RET_TRACE is ENOSYS
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC)))
        t.send("g")
        assert t.line() == f"getppid -1 {ENOSYS}"  # controlled, but the mask lacks SECCOMP
        # Setting the bit on a running process: the host option reaches it at an unseen stop.
        c.write(ctl((PCX.PCXSTOPFOROPT, int(E.SECCOMP))))
        t.send("g")
        c.write(ctl((PC.PCTWSTOP, 5000)))
        st = brand_stop(t.pid)
        assert (st["pr_what"], st["pr_rval1"], st["pr_syscall"]) == (EV_SECCOMP, 0x42, NR64["getppid"])
        assert host_syscall(t.pid)[0] == NR64["getppid"]
        c.write(ctl((PC.PCRUN, 0)))
        assert t.line() == f"getppid {os.getpid()} 0"  # the tracer let the call run
        # PCXSETSYSNUM at a seccomp stop changes the call (here to getpid).
        t.send("g")
        c.write(ctl((PC.PCTWSTOP, 5000)))
        assert brand_stop(t.pid)["pr_what"] == EV_SECCOMP
        c.write(ctl((PCX.PCXSETSYSNUM, NR64["getpid"]), (PC.PCRUN, 0)))
        assert t.line() == f"getppid {t.pid} 0"
        t.send("g")  # -1 skips the call: the entry's -ENOSYS stays
        c.write(ctl((PC.PCTWSTOP, 5000)))
        assert brand_stop(t.pid)["pr_what"] == EV_SECCOMP
        c.write(ctl((PCX.PCXSETSYSNUM, -1), (PC.PCRUN, 0)))
        assert t.line() == f"getppid -1 {ENOSYS}"
        c.write(ctl((PCX.PCXSTOPFOROPT, int(E.FORK))))  # the bit goes: ENOSYS again
        until(lambda: (t.send("g"), t.line())[1] == f"getppid -1 {ENOSYS}",
              what="TRACESECCOMP dropped from the host options")


def test_without_the_bits_nothing_changes(target):
    """A mask without the fork-family bits: every child, thread and vfork (whose VFORK_DONE
    the host now reports to procd) goes on as before; fork children are let go."""
    t = target()
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSTRACE, sigset(SIGUSR1_S)),
                    (PCX.PCXSTOPFOROPT, int(E.EXEC))))
        t.send("v")
        vf = t.lines(2)
        assert vf[0].startswith("vforked ") and vf[1] == "reaped 0x600"
        t.send("c")
        got = t.lines(3)
        assert got[2] == "reaped 0x400"
        t.send("t")
        assert sorted(t.lines(3)) == ["created", "joined", "thread ran"]
        t.send("f")
        got = t.lines(3)
        assert sorted(x.split()[0] for x in got) == ["child", "forked", "reaped"]
        assert got[-1] == "reaped 0x500"
        assert not lwpstatus(t.pid)["pr_flags"] & STOPPED
        assert npc.listdir(f"{t.pid}/lwp") == ["1"]


# -- job control -------------------------------------------------------------------------------------


def _group_stop(t: Target, c) -> dict:
    os.kill(t.pid, signal.SIGSTOP)
    c.write(ctl((PC.PCTWSTOP, 5000)))
    st = lwpstatus(t.pid)
    assert (st["pr_why"], st["pr_what"], flags(st)) == (PR_WHY.PR_JOBCONTROL, SIGSTOP_S, EVENT_STOP)
    return st


def test_jobcontrol_stop_is_an_event_and_pcrun_resumes(target):
    t = target()
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PCX.PCXSTOPFOROPT, int(E.JOBCONTROL))))
        _group_stop(t, c)
        c.write(ctl((PC.PCSTOP, None)))  # already stopped on an event of interest: nothing to do
        assert lwpstatus(t.pid)["pr_why"] == PR_WHY.PR_JOBCONTROL
        assert not t.ping(0.2)
        c.write(ctl((PC.PCRUN, 0)))  # a tracer's resume from a group stop lets the task run
        assert t.line() == "pong"
        assert t.ping()
        os.kill(t.pid, signal.SIGCONT)
        assert t.ping()
        assert not lwpstatus(t.pid)["pr_flags"] & STOPPED


def test_listen_then_sigcont(target):
    t = target()
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PCX.PCXSTOPFOROPT, int(E.JOBCONTROL))))
        _group_stop(t, c)
        with npc.open(f"{t.pid}/lwp/1/lwpctl", os.O_WRONLY) as lc:
            lc.write(ctl((PCX.PCXLISTEN, None)))
        st = lwpstatus(t.pid)
        assert (st["pr_why"], st["pr_what"], flags(st)) == (PR_WHY.PR_JOBCONTROL, SIGSTOP_S, STOPPED)
        assert errno_of(lambda: c.write(ctl((PCX.PCXLISTEN, None)))) == errno.EINVAL  # twice
        assert errno_of(lambda: c.write(ctl((PC.PCRUN, 0)))) == errno.EBUSY  # no longer istop
        assert not t.ping(0.3)
        # procd's own interrupts of the listening LWP report nothing new: a change of tracing
        # mode (kick) and a signal mask (a deferred action at an unseen stop).
        c.write(ctl((PC.PCSENTRY, sysset(NR64["getppid"]))))
        c.write(ctl((PC.PCSHOLD, sigset(SIGUSR1_S))))
        time.sleep(0.2)
        assert flags(lwpstatus(t.pid)) == STOPPED
        assert host_state(t.pid)[0] == "t"
        with open(f"/proc/{t.pid}/status") as f:
            assert int(next(x for x in f if x.startswith("SigBlk:")).split()[1], 16) == 1 << (signal.SIGUSR1 - 1)
        c.write(ctl((PC.PCSENTRY, sysset()), (PC.PCSHOLD, sigset())))
        time.sleep(0.1)
        assert flags(lwpstatus(t.pid)) == STOPPED
        assert not t.ping(0.2)
        os.kill(t.pid, signal.SIGCONT)
        assert t.lines(2) == ["pong", "pong"]  # both pings sent while it was stopped
        assert not lwpstatus(t.pid)["pr_flags"] & STOPPED
        # A new group stop is an event again.
        _group_stop(t, c)
        c.write(ctl((PC.PCRUN, 0)))
        os.kill(t.pid, signal.SIGCONT)
        assert t.ping()


def test_directed_stop_of_a_listening_lwp(target):
    t = target()
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PCX.PCXSTOPFOROPT, int(E.JOBCONTROL))))
        _group_stop(t, c)
        c.write(ctl((PCX.PCXLISTEN, None)))
        c.write(ctl((PC.PCTWSTOP, 300)))  # listening: no event of interest to wait for
        assert flags(lwpstatus(t.pid)) == STOPPED
        c.write(ctl((PC.PCSTOP, None)))  # interrupts it on the host: a requested stop, now
        st = lwpstatus(t.pid)
        assert (st["pr_why"], flags(st)) == (PR_WHY.PR_REQUESTED, EVENT_STOP)
        c.write(ctl((PC.PCRUN, 0)))
        assert t.ping()
        os.kill(t.pid, signal.SIGCONT)
        assert t.ping()


def test_native_waitid_reports_the_jobcontrol_event(target):
    t = target()
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC | PR_PTRACE), (PCX.PCXSTOPFOROPT, int(E.JOBCONTROL))))
        os.kill(t.pid, signal.SIGSTOP)
        info = npc.waitid(SOLARIS_P.P_PID, t.pid, SOLARIS_W.WTRAPPED, timeout=10)
        d = SI.decode(info)
        cld = CLD.decode(d["__data"])
        assert (d["si_code"], cld["si_pid"], cld["pdata"]["si_status"]) == (CLD_TRAPPED, t.pid, SIGSTOP_S)
        c.write(ctl((PC.PCRUN, 0)))
        os.kill(t.pid, signal.SIGCONT)
        assert t.ping()


def test_without_jobcontrol_group_stops_are_as_before(target):
    t = target()
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PCX.PCXSTOPFOROPT, int(E.FORK))))
        os.kill(t.pid, signal.SIGSTOP)
        st = until(lambda: (lambda s: s if s["pr_why"] == PR_WHY.PR_JOBCONTROL else None)(lwpstatus(t.pid)))
        assert flags(st) == STOPPED  # not an event of interest
        assert errno_of(lambda: c.write(ctl((PCX.PCXLISTEN, None)))) == errno.EINVAL
        os.kill(t.pid, signal.SIGCONT)
        assert t.ping()


# -- PR_ASYNC and native waitid ------------------------------------------------------------------


def test_async_waitid_reports_the_leader_alone(target):
    t = target()
    t.send("T")
    assert t.line() == "spinning"
    until(lambda: len(os.listdir(f"/proc/{t.pid}/task")) == 2)
    tids = sorted(int(x) for x in os.listdir(f"/proc/{t.pid}/task"))
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC | PR_PTRACE | PR_ASYNC), (PC.PCSTRACE, sigset(SIGUSR1_S))))
        host.tgkill(t.pid, tids[1], signal.SIGUSR1)
        with npc.open(f"{t.pid}/lwp/2/lwpctl", os.O_WRONLY) as lc:
            lc.write(ctl((PC.PCTWSTOP, 5000)))
            assert lwpstatus(t.pid, 2)["pr_why"] == PR_WHY.PR_SIGNALLED
            assert not lwpstatus(t.pid, 1)["pr_flags"] & STOPPED  # PR_ASYNC: no sibling stop
            # Not the leader: nothing to report.
            assert npc.waitid(SOLARIS_P.P_PID, t.pid, SOLARIS_W.WTRAPPED | SOLARIS_W.WNOHANG) is None
            host.tgkill(t.pid, t.pid, signal.SIGUSR1)
            info = npc.waitid(SOLARIS_P.P_PID, t.pid, SOLARIS_W.WTRAPPED, timeout=10)
            assert CLD.decode(SI.decode(info)["__data"])["pdata"]["si_status"] == SIGUSR1_S
            # Running the other LWP does not make the leader's stop a new report.
            lc.write(ctl((PC.PCRUN, 1)))
            time.sleep(0.05)
            assert npc.waitid(SOLARIS_P.P_PID, t.pid, SOLARIS_W.WTRAPPED | SOLARIS_W.WNOHANG) is None
        with npc.open(f"{t.pid}/lwp/1/lwpctl", os.O_WRONLY) as lc:
            lc.write(ctl((PC.PCRUN, 1)))
        assert t.ping()


# -- last close ----------------------------------------------------------------------------------------


def test_last_close_releases_held_children(target):
    t = target()
    c = npc.open(f"{t.pid}/ctl", os.O_WRONLY)
    try:
        c.write(ctl((PC.PCSET, PR_RLC), (PCX.PCXSTOPFOROPT, int(E.FORK | E.CLONE))))
        t.send("f")
        c.write(ctl((PC.PCTWSTOP, 5000)))
        child = brand_stop(t.pid)["pr_rval1"]
        t.kids.append(child)
        held_at_birth(child)
    finally:
        c.close()  # run-on-last-close: the parent and the child it was holding
    got = t.lines(3)
    assert sorted(x.split()[0] for x in got) == ["child", "forked", "reaped"]
    until(lambda: host_state(t.pid) in (("S", 0), ("R", 0)), what="parent released")
    assert host_state(child) == ("", 0) or host_state(child)[1] == 0
    assert f"{child}:" not in npc.procd_status() or "seized=False" in npc.procd_status().split(f"{child}:")[1]
    t.send("t")  # the mask went with the release: a thread is no longer held
    assert sorted(t.lines(3)) == ["created", "joined", "thread ran"]


def test_kill_on_last_close_kills_held_children(target):
    t = target()
    c = npc.open(f"{t.pid}/ctl", os.O_WRONLY)
    try:
        c.write(ctl((PC.PCSET, PR_KLC), (PCX.PCXSTOPFOROPT, int(E.FORK))))
        t.send("f")
        c.write(ctl((PC.PCTWSTOP, 5000)))
        child = brand_stop(t.pid)["pr_rval1"]
        t.kids.append(child)
        held_at_birth(child)
    finally:
        c.close()
    assert t.p.wait(timeout=10) == -signal.SIGKILL
    until(lambda: host_state(child)[0] in ("", "Z"), what="held child killed")


def test_a_child_opened_for_writing_keeps_its_own_last_close(target):
    t = target()
    c = npc.open(f"{t.pid}/ctl", os.O_WRONLY)
    cc = None
    try:
        c.write(ctl((PC.PCSET, PR_RLC), (PCX.PCXSTOPFOROPT, int(E.FORK))))
        t.send("f")
        c.write(ctl((PC.PCTWSTOP, 5000)))
        child = brand_stop(t.pid)["pr_rval1"]
        t.kids.append(child)
        cc = npc.open(f"{child}/ctl", os.O_WRONLY)
        c.close()
        assert t.line() == f"forked {child}"  # the parent was released
        time.sleep(0.1)
        held_at_birth(child)  # the child is not: its controller has it open
    finally:
        c.close()
        if cc is not None:
            cc.close()
    assert t.lines(2) == [f"child {child} ran", "reaped 0x500"]


# -- PCXTAKEN: the tracer's wait took the stop ---------------------------------------------------


def _released_fate(t: Target, taken: bool, resume_between: bool = False) -> str:
    """Stop `t` on a traced SIGSTOP (PR_SIGNALLED), mark it taken or not, close the only
    writer (PR_RLC releases the process) and say what the host shows once procd let go."""
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSTRACE, sigset(SIGSTOP_S)), (PC.PCSET, PR_RLC)))
        # Running: nothing to take.
        assert errno_of(lambda: c.write(ctl((PCX.PCXTAKEN, None)))) == errno.EBUSY
        os.kill(t.pid, signal.SIGSTOP)
        c.write(ctl((PC.PCWSTOP, None)))
        st = lwpstatus(t.pid)
        assert (st["pr_why"], st["pr_what"]) == (PR_WHY.PR_SIGNALLED, SIGSTOP_S)
        if taken:
            c.write(ctl((PCX.PCXTAKEN, None)))
        if resume_between:
            # The resume (with the stop's own signal, as a Linux CONT with SIGSTOP) forgets
            # the mark: the next stop is one nobody took.
            c.write(ctl((PC.PCRUN, 0)))
            until(lambda: lwpstatus(t.pid)["pr_why"] == PR_WHY.PR_JOBCONTROL,
                  what="SIGSTOP delivered by the resume (job-control stopped)")
            os.kill(t.pid, signal.SIGCONT)
            os.kill(t.pid, signal.SIGSTOP)
            c.write(ctl((PC.PCWSTOP, None)))
            assert lwpstatus(t.pid)["pr_what"] == SIGSTOP_S
    until(lambda: host_state(t.pid)[1] == 0, what="procd lets go at the last close")
    time.sleep(0.2)  # a signal delivered at the detach has stopped it by now
    return "stopped" if host_state(t.pid)[0] in ("T", "t") else "running"


def test_taken_signal_stop_is_released_without_its_signal(target):
    """PCXTAKEN (non-Solaris): a signal-delivery stop marked taken is let go at the last close
    without its signal (the process runs on); unmarked, the signal is delivered (SIGSTOP stops
    the process); a resume between forgets the mark.  EBUSY unless PR_SIGNALLED."""
    t = target()
    assert _released_fate(t, taken=True) == "running"
    assert t.ping()
    u = target()
    assert _released_fate(u, taken=False) == "stopped"
    os.kill(u.pid, signal.SIGCONT)
    assert u.ping()
    v = target()
    assert _released_fate(v, taken=True, resume_between=True) == "stopped"
    os.kill(v.pid, signal.SIGCONT)
    assert v.ping()


def test_taken_needs_a_signal_stop(target):
    """PCXTAKEN at a requested stop (PR_REQUESTED): EBUSY; PCCSIG at a taken stop is fine and
    the release then has no signal to deliver either way."""
    t = target()
    with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSTOP, None)))
        assert lwpstatus(t.pid)["pr_why"] == PR_WHY.PR_REQUESTED
        with npc.open(f"{t.pid}/lwp/1/lwpctl", os.O_WRONLY) as lc:
            assert errno_of(lambda: lc.write(ctl((PCX.PCXTAKEN, None)))) == errno.EBUSY
        assert errno_of(lambda: c.write(ctl((PCX.PCXTAKEN, None)))) == errno.EBUSY
    until(lambda: host_state(t.pid)[1] == 0, what="procd lets go at the last close")
    assert t.ping()
