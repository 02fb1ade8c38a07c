"""PCWATCH on the x86 debug registers, against real processes (native_proc/watch.py).

Every blocking message has a timeout, every target is killed and reaped, and each target waits
for a "go" on its stdin before it touches the watched memory, so arming never races with it.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time

import pytest

import native_proc.client as npc
from structs.codec import codec
from structs.ctl import encode_ctl, fltset, sigset
from structs.faults import FLT
from structs.procfs import LWPSTATUS, PRWATCH, SIGINFO_VIEWS
from structs.procfs_consts import PC, PCRUN_FLAGS, PR_WHY, WA
from structs.regs import ILLUMOS_REG_INDEX

LWPST = codec(LWPSTATUS["amd64"])
PRW = codec(PRWATCH["amd64"])
FAULT = codec(SIGINFO_VIEWS["amd64"]["fault"])
RIP = ILLUMOS_REG_INDEX["amd64"]["REG_RIP"]
R, W, X, TA = int(WA.WA_READ), int(WA.WA_WRITE), int(WA.WA_EXEC), int(WA.WA_TRAPAFTER)
SIGTRAP_S = 5
TRAP_RWATCH, TRAP_WWATCH, TRAP_XWATCH = 3, 4, 5
T = 5.0  # seconds any blocking message may take before the test fails

# Prints "ready <&var> <target_fn> <vars> <&sink>", waits for a byte on stdin, then:
#   write: var = 1, 2, ...   read: sink = var   call: target_fn()   (50 times, 20 ms apart)
#   thread: a new thread writes var   thread-early: a thread made before "ready" writes var
#   exec: re-executes itself in "write" mode
WATCHED = r"""
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
volatile long var;
volatile long vars[6];
volatile long sink;
static char *self;
__attribute__((noinline)) void target_fn(void) { sink++; }
static void go(void) { char c; if (read(0, &c, 1) != 1) _exit(3); }
static void writes(void) { for (int i = 0; i < 50; i++) { var = i + 1; usleep(20000); } }
static void *writer(void *a) { if (a) go(); writes(); return 0; }
int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "write";
    pthread_t t;
    self = argv[0];
    if (!strcmp(mode, "thread-early")) pthread_create(&t, 0, writer, (void *)1);
    printf("ready %p %p %p %p\n", (void *)&var, (void *)target_fn, (void *)vars, (void *)&sink);
    fflush(stdout);
    if (!strcmp(mode, "thread-early")) { pthread_join(t, 0); printf("done\n"); return 0; }
    go();
    if (!strcmp(mode, "write")) writes();
    else if (!strcmp(mode, "read")) for (int i = 0; i < 50; i++) { sink = var; usleep(20000); }
    else if (!strcmp(mode, "call")) for (int i = 0; i < 50; i++) { target_fn(); usleep(20000); }
    else if (!strcmp(mode, "thread")) { pthread_create(&t, 0, writer, 0); pthread_join(t, 0); }
    else if (!strcmp(mode, "exec")) { execl("/proc/self/exe", self, "write", (char *)0); return 4; }
    printf("done\n");
    return 0;
}
"""


class Target:
    def __init__(self, p: subprocess.Popen) -> None:
        self.p = p
        self.pid = p.pid
        self.ready()

    def ready(self) -> None:
        line = self.p.stdout.readline().split()
        assert line and line[0] == "ready", line
        self.var, self.fn, self.vars, self.sink = (int(x, 16) for x in line[1:5])

    def go(self) -> None:
        self.p.stdin.write("g")
        self.p.stdin.flush()

    def peek(self, addr: int) -> int:
        with npc.open(f"{self.pid}/as") as a:
            return int.from_bytes(a.pread(8, addr), "little")


@pytest.fixture
def spawn(cbuild):
    exe = cbuild(WATCHED, "-O0", "-pthread", name="watched")
    procs = []

    def start(mode: str = "write", norandom: bool = False) -> Target:
        argv = (["setarch", "x86_64", "-R"] if norandom else []) + [str(exe), mode]
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(p)
        return Target(p)

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)


def ctl(*messages) -> bytes:
    return encode_ctl("amd64", list(messages))


def area(vaddr: int, size: int, flags: int) -> tuple:
    return (PC.PCWATCH, {"pr_vaddr": vaddr, "pr_size": size, "pr_wflags": flags, "pr_pad": 0})


def controlled(pid: int):
    """An O_WRONLY ctl with run-on-last-close set, so a failing test leaves nothing stopped."""
    f = npc.open(f"{pid}/ctl", os.O_WRONLY)
    f.write(ctl((PC.PCSET, 0x200000)))
    return f


def lwpstatus(pid: int, lwpid: int = 1) -> dict:
    with npc.open(f"{pid}/lwp/{lwpid}/lwpstatus") as f:
        return LWPST.decode(f.read())


def watches(pid: int) -> list[tuple[int, int, int]]:
    with npc.open(f"{pid}/watch") as f:
        data = f.read(4096)
    return [(w["pr_vaddr"], w["pr_size"], w["pr_wflags"])
            for w in (PRW.decode(data[i:i + PRW.size]) for i in range(0, len(data), PRW.size))]


def trap(st: dict) -> tuple[int, int, int, int]:
    """(si_signo, si_code, si_addr, si_pc) of pr_info."""
    info = st["pr_info"]
    f = FAULT.decode(info["__data"])
    return info["si_signo"], info["si_code"], f["si_addr"], f["si_pc"]


def errno_of(c, data: bytes) -> int:
    with pytest.raises(OSError) as ei:
        c.write(data, timeout=T)
    return ei.value.errno


def tracer(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("TracerPid:")).split()[1])


# -- hits ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode,flags,code", [
    ("write", W | TA, TRAP_WWATCH),
    ("write", R | W | TA, TRAP_WWATCH),
    ("read", R | W | TA, TRAP_RWATCH),
])
def test_data_watch_faults(spawn, mode, flags, code):
    t = spawn(mode)
    with controlled(t.pid) as c:
        c.write(ctl((PC.PCSFAULT, fltset(FLT.FLTWATCH)), area(t.var, 8, flags)))
        assert watches(t.pid) == [(t.var, 8, flags)]
        t.go()
        for n in (1, 2):
            c.write(ctl((PC.PCWSTOP, None)), timeout=T)
            st = lwpstatus(t.pid)
            assert (st["pr_why"], st["pr_what"]) == (PR_WHY.PR_FAULTED, FLT.FLTWATCH)
            signo, si_code, addr, pc = trap(st)
            assert (signo, si_code, addr) == (SIGTRAP_S, code, t.var)
            assert pc == st["pr_reg"][RIP]  # trap after: the pc is past the access
            if mode == "write":
                assert t.peek(t.var) == n  # ... and the write has happened
            c.write(ctl((PC.PCRUN, PCRUN_FLAGS.PRCFAULT)))


@pytest.mark.parametrize("flags", [X, X | TA])  # the seed's setup_watchpoints passes TRAPAFTER
def test_exec_watch_stops_before_the_instruction(spawn, flags):
    t = spawn("call")
    with controlled(t.pid) as c:
        c.write(ctl((PC.PCSFAULT, fltset(FLT.FLTWATCH)), area(t.fn, 1, flags)))
        t.go()
        seen = []
        for _ in range(2):
            c.write(ctl((PC.PCWSTOP, None)), timeout=T)
            st = lwpstatus(t.pid)
            assert (st["pr_why"], st["pr_what"]) == (PR_WHY.PR_FAULTED, FLT.FLTWATCH)
            assert trap(st) == (SIGTRAP_S, TRAP_XWATCH, t.fn, t.fn)
            assert st["pr_reg"][RIP] == t.fn  # before its first instruction
            seen.append(t.peek(t.sink))
            c.write(ctl((PC.PCRUN, PCRUN_FLAGS.PRCFAULT)))
        assert seen[1] == seen[0] + 1  # resuming ran the call once (no re-trap in place)


def test_untraced_fault_becomes_a_traced_sigtrap(spawn):
    t = spawn("write")
    with controlled(t.pid) as c:
        c.write(ctl((PC.PCSTRACE, sigset(SIGTRAP_S)), area(t.var, 8, W | TA)))
        t.go()
        c.write(ctl((PC.PCWSTOP, None)), timeout=T)
        st = lwpstatus(t.pid)
        assert (st["pr_why"], st["pr_what"], st["pr_cursig"]) == (PR_WHY.PR_SIGNALLED, SIGTRAP_S, SIGTRAP_S)
        assert trap(st)[:3] == (SIGTRAP_S, TRAP_WWATCH, t.var)
        c.write(ctl((PC.PCRUN, PCRUN_FLAGS.PRCSIG), (PC.PCWSTOP, None)), timeout=T)
        assert lwpstatus(t.pid)["pr_why"] == PR_WHY.PR_SIGNALLED  # the next write hits again
        c.write(ctl(area(t.var, 0, 0), (PC.PCRUN, PCRUN_FLAGS.PRCSIG)))
        assert t.p.wait(timeout=T) == 0


def test_clearing_stops_further_hits(spawn):
    t = spawn("write")
    with controlled(t.pid) as c:
        c.write(ctl((PC.PCSFAULT, fltset(FLT.FLTWATCH)), area(t.var, 8, W | TA)))
        t.go()
        c.write(ctl((PC.PCWSTOP, None)), timeout=T)
        assert lwpstatus(t.pid)["pr_what"] == FLT.FLTWATCH
        c.write(ctl(area(t.var, 123, TA)))  # no READ/WRITE/EXEC: a clear; the size is ignored
        assert watches(t.pid) == []
        c.write(ctl((PC.PCRUN, PCRUN_FLAGS.PRCFAULT)))
        # FLTWATCH is still traced: one more hit would hold it stopped and time the wait out.
        assert t.p.wait(timeout=T) == 0
        assert t.p.stdout.read().strip() == "done"


@pytest.mark.parametrize("mode", ["thread", "thread-early"])
def test_second_thread_hits(spawn, mode):
    """The area is armed in every LWP: one running when PCWATCH comes, one created after it."""
    t = spawn(mode)
    with controlled(t.pid) as c:
        c.write(ctl((PC.PCSFAULT, fltset(FLT.FLTWATCH)), area(t.var, 8, W | TA)))
        t.go()
        c.write(ctl((PC.PCWSTOP, None)), timeout=T)  # every LWP: the hit, then its siblings
        assert npc.listdir(f"{t.pid}/lwp") == ["1", "2"]
        st = lwpstatus(t.pid, 2)
        assert (st["pr_why"], st["pr_what"]) == (PR_WHY.PR_FAULTED, FLT.FLTWATCH)
        assert trap(st)[:3] == (SIGTRAP_S, TRAP_WWATCH, t.var)
        assert lwpstatus(t.pid, 1)["pr_why"] == PR_WHY.PR_REQUESTED


# -- release and exec -----------------------------------------------------------------------


@pytest.mark.parametrize("jobstop", [False, True])
def test_run_on_last_close_clears_the_debug_registers(spawn, jobstop):
    t = spawn("write")
    c = controlled(t.pid)
    c.write(ctl((PC.PCSFAULT, fltset(FLT.FLTWATCH)), area(t.var, 8, W | TA)))
    if jobstop:  # job-control stopped (PTRACE_LISTEN) when released
        os.kill(t.pid, signal.SIGSTOP)
        deadline = time.monotonic() + T
        while lwpstatus(t.pid)["pr_why"] != PR_WHY.PR_JOBCONTROL:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    c.close()
    deadline = time.monotonic() + T
    while tracer(t.pid):
        assert time.monotonic() < deadline, "still traced after the last close"
        time.sleep(0.01)
    if jobstop:
        os.kill(t.pid, signal.SIGCONT)
    t.go()
    assert t.p.wait(timeout=T) == 0  # an armed register would have killed it with SIGTRAP
    assert t.p.stdout.read().strip() == "done"


def test_exec_cancels_the_areas(spawn):
    t = spawn("exec", norandom=True)  # the new image has its variable at the same address
    with controlled(t.pid) as c:
        c.write(ctl((PC.PCSFAULT, fltset(FLT.FLTWATCH)), area(t.var, 8, W | TA)))
        old = t.var
        t.go()
        t.ready()
        assert t.var == old
        assert watches(t.pid) == []
        t.go()
        assert t.p.wait(timeout=T) == 0  # no hit: a stop would hold it (FLTWATCH is traced)


# -- refusals -------------------------------------------------------------------------------


def test_refused_areas(spawn):
    t = spawn("write")  # waits for "go" for the whole test: nothing touches the areas
    v, vs = t.var, t.vars
    with controlled(t.pid) as c:
        einval = [
            area(v, 8, W | TA | 0x10),  # unknown flag bit
            area(v, 0, 0x10),  # ... even on a clear
            area((1 << 64) - 8, 16, W | TA),  # vaddr + size wraps
            area(v, 0, W | TA),  # size 0 with flags
            area(v, 8, W),  # data areas trap after: TRAPAFTER is required
            area(v, 8, R | W),
            area(v, 8, R | TA),  # reads alone cannot be watched
            area(t.fn, 1, X | W | TA),  # an instruction breakpoint watches no data
            area(v, 3, W | TA),  # not 1, 2, 4 or 8 bytes
            area(v, 16, W | TA),
            area(v + 1, 2, W | TA),  # not naturally aligned
            area(v + 4, 8, W | TA),
            area(t.fn, 2, X),  # an exec area is one byte
        ]
        for msg in einval:
            assert errno_of(c, ctl(msg)) == errno.EINVAL, msg
        assert watches(t.pid) == []
        c.write(ctl(area(v, 8, 0)))  # clearing what is not there is no error
        c.write(ctl(area(0xFFFF800000000000, 8, W | TA)))  # not user space: accepted, ignored
        assert watches(t.pid) == []

        four = [area(vs + 8 * i, 8, W | TA) for i in range(4)]
        c.write(ctl(*four))
        assert errno_of(c, ctl(area(vs + 32, 8, W | TA))) == errno.E2BIG  # a fifth register
        assert errno_of(c, ctl(area(vs + 4, 4, W | TA))) == errno.EINVAL  # overlaps vars[0]
        assert errno_of(c, ctl(area(vs, 4, W | TA))) == errno.EINVAL  # same start, other size
        c.write(ctl(area(vs, 8, R | W | TA)))  # same start and size: the flags are replaced
        assert watches(t.pid) == [(vs, 8, R | W | TA)] + [(vs + 8 * i, 8, W | TA) for i in (1, 2, 3)]
        c.write(ctl(area(vs + 8, 0, 0)))  # a register freed ...
        c.write(ctl(area(vs + 32, 8, W | TA)))  # ... takes a new area
        assert [w[0] for w in watches(t.pid)] == [vs, vs + 16, vs + 24, vs + 32]
        # messages before a refused one stay in effect, later ones are not attempted
        assert errno_of(c, ctl(area(vs, 0, 0), area(v, 8, W), area(vs + 16, 0, 0))) == errno.EINVAL
        assert [w[0] for w in watches(t.pid)] == [vs + 16, vs + 24, vs + 32]


def test_the_register_plan():
    """Area i is DRi; DR7 gets L_i, the R/W code (01 write, 11 read/write, 00 exec) and LEN."""
    from native_proc.lwp import WatchArea
    from native_proc.watch import plan

    areas = [WatchArea(0x1000, 8, W | TA), WatchArea(0x2004, 4, R | W | TA), WatchArea(0x3001, 1, X)]
    addrs, dr7, slots = plan(areas)
    assert addrs == (0x1000, 0x2004, 0x3001, 0)
    assert dr7 == 0x1 | 0x4 | 0x10 | 0b01 << 16 | 0b10 << 18 | 0b11 << 20 | 0b11 << 22
    assert slots == (*areas, None)
    assert plan([]) == ((), 0, ())
