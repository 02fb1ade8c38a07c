"""native_proc on threads, fork, exec and job control, with real targets."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

import native_proc.client as npc
from structs.codec import codec
from structs.ctl import encode_ctl, sigset, sysset
from structs.procfs import LWPSTATUS, PSTATUS
from structs.procfs_consts import PC, PR_FLAGS, PR_WHY
from structs.syscalls import NR64

from .targets import LIFE

LWPST = codec(LWPSTATUS["amd64"])
PST = codec(PSTATUS["amd64"])
SIGUSR1_S, SIGSTOP_S = 16, 23
PR_FORK, PR_RLC, PR_ASYNC = 0x100000, 0x200000, 0x800000


def ctl(*messages) -> bytes:
    return encode_ctl("amd64", list(messages))


def lwpstatus(pid: int, lwpid: int) -> dict:
    with npc.open(f"{pid}/lwp/{lwpid}/lwpstatus") as f:
        return LWPST.decode(f.read())


def pstatus(pid: int) -> dict:
    with npc.open(f"{pid}/status") as f:
        return PST.decode(f.read())


def until(cond, timeout: float = 5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def life(cbuild):
    exe = cbuild(LIFE, "-O0", "-pthread", name="life")
    procs = []

    def start(mode: str):
        p = subprocess.Popen([str(exe), mode], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout.readline().strip() == "ready"
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)


def test_pcstop_stops_every_lwp(life):
    p = life("threads")
    until(lambda: len(os.listdir(f"/proc/{p.pid}/task")) == 3)
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSTOP, None)))
        assert npc.listdir(f"{p.pid}/lwp") == ["1", "2", "3"]
        for lwpid in (1, 2, 3):
            assert lwpstatus(p.pid, lwpid)["pr_why"] == PR_WHY.PR_REQUESTED
        st = pstatus(p.pid)
        assert st["pr_nlwp"] == 3 and st["pr_flags"] & PR_FLAGS.PR_ISTOP
        c.write(ctl((PC.PCRUN, 0)))
        for lwpid in (1, 2, 3):
            assert not lwpstatus(p.pid, lwpid)["pr_flags"] & PR_FLAGS.PR_STOPPED


def test_one_lwps_event_stops_its_siblings(life):
    p = life("threads")
    until(lambda: len(os.listdir(f"/proc/{p.pid}/task")) == 3)
    tids = sorted(int(t) for t in os.listdir(f"/proc/{p.pid}/task"))
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSTRACE, sigset(SIGUSR1_S))))
        os.kill(tids[2], 0)
        signal.pthread_kill  # (documentation: tgkill below targets one thread)
        from native_proc import host

        host.tgkill(p.pid, tids[2], signal.SIGUSR1)
        c.write(ctl((PC.PCWSTOP, None)))
        whys = {lwpid: lwpstatus(p.pid, lwpid)["pr_why"] for lwpid in (1, 2, 3)}
        assert whys == {1: PR_WHY.PR_REQUESTED, 2: PR_WHY.PR_REQUESTED, 3: PR_WHY.PR_SIGNALLED}
        st = pstatus(p.pid)
        assert st["pr_lwp"]["pr_lwpid"] == 3  # the representative shows the event
        c.write(ctl((PC.PCRUN, 1)))  # PRCSIG: discard SIGUSR1, all run
        time.sleep(0.05)
        assert p.poll() is None
        assert all(not lwpstatus(p.pid, l)["pr_flags"] & PR_FLAGS.PR_STOPPED for l in (1, 2, 3))


def test_pr_async_leaves_siblings_running(life):
    p = life("threads")
    until(lambda: len(os.listdir(f"/proc/{p.pid}/task")) == 3)
    tids = sorted(int(t) for t in os.listdir(f"/proc/{p.pid}/task"))
    from native_proc import host

    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC | PR_ASYNC), (PC.PCSTRACE, sigset(SIGUSR1_S))))
        host.tgkill(p.pid, tids[1], signal.SIGUSR1)
        with npc.open(f"{p.pid}/lwp/2/lwpctl", os.O_WRONLY) as lc:
            lc.write(ctl((PC.PCWSTOP, None)))
            assert lwpstatus(p.pid, 2)["pr_why"] == PR_WHY.PR_SIGNALLED
            assert not lwpstatus(p.pid, 3)["pr_flags"] & PR_FLAGS.PR_STOPPED
            lc.write(ctl((PC.PCRUN, 1)))


def test_new_thread_appears_under_lwp(life):
    p = life("late-thread")
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC)))
        until(lambda: npc.listdir(f"{p.pid}/lwp") == ["1", "2"])
        c.write(ctl((PC.PCSTOP, None)))
        assert lwpstatus(p.pid, 2)["pr_why"] == PR_WHY.PR_REQUESTED


def test_fork_child_inherits_with_pr_fork(life):
    p = life("fork")
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC | PR_FORK), (PC.PCSTRACE, sigset(SIGUSR1_S))))
        child = int(p.stdout.readline().split()[1])
        try:
            st = until(lambda: pstatus(child))
            assert int.from_bytes(st["pr_sigtrace"]["__sigbits"], "little") == 1 << (SIGUSR1_S - 1)
            assert st["pr_flags"] & PR_FORK
            os.kill(child, signal.SIGUSR1)
            with npc.open(f"{child}/ctl", os.O_WRONLY) as cc:
                cc.write(ctl((PC.PCWSTOP, None)))
                assert lwpstatus(child, 1)["pr_why"] == PR_WHY.PR_SIGNALLED
                cc.write(ctl((PC.PCSET, PR_RLC)))
        finally:
            os.kill(child, signal.SIGKILL)


def test_fork_child_is_released_without_pr_fork(life):
    p = life("fork")
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSTRACE, sigset(SIGUSR1_S))))
        child = int(p.stdout.readline().split()[1])
        try:
            def tracer():
                with open(f"/proc/{child}/status") as f:
                    return next(int(l.split()[1]) for l in f if l.startswith("TracerPid:"))
            until(lambda: tracer() == 0)
            time.sleep(0.1)
            with open(f"/proc/{child}/stat") as f:
                assert f.read().rsplit(")", 1)[1].split()[0] in "RS"  # running, not left stopped
        finally:
            os.kill(child, signal.SIGKILL)


def test_exec_exit_stop(life):
    p = life("exec")
    execve = NR64["execve"]
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSEXIT, sysset(execve)), (PC.PCTWSTOP, 5000)))
        st = lwpstatus(p.pid, 1)
        assert (st["pr_why"], st["pr_what"], st["pr_rval1"]) == (PR_WHY.PR_SYSEXIT, execve, 0)
        with open(f"/proc/{p.pid}/comm") as f:
            assert f.read().strip() == "sleep"
        c.write(ctl((PC.PCRUN, 0)))


def test_job_control_stop(life):
    p = life("late-thread")
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSTRACE, sigset(SIGUSR1_S))))
        os.kill(p.pid, signal.SIGSTOP)
        st = until(lambda: (lambda s: s if s["pr_why"] == PR_WHY.PR_JOBCONTROL else None)(lwpstatus(p.pid, 1)))
        assert st["pr_what"] == SIGSTOP_S
        assert st["pr_flags"] & (PR_FLAGS.PR_STOPPED | PR_FLAGS.PR_ISTOP) == PR_FLAGS.PR_STOPPED
        os.kill(p.pid, signal.SIGCONT)
        until(lambda: not lwpstatus(p.pid, 1)["pr_flags"] & PR_FLAGS.PR_STOPPED)


def test_release_of_a_job_control_stopped_process(life):
    p = life("late-thread")
    c = npc.open(f"{p.pid}/ctl", os.O_WRONLY)
    c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSTRACE, sigset(SIGUSR1_S))))
    os.kill(p.pid, signal.SIGSTOP)
    until(lambda: lwpstatus(p.pid, 1)["pr_why"] == PR_WHY.PR_JOBCONTROL)
    c.close()  # run-on-last-close: let go; job control keeps it stopped

    def state_and_tracer():
        with open(f"/proc/{p.pid}/status") as f:
            st = dict(line.split(":", 1) for line in f)
        return st["State"].split()[0], int(st["TracerPid"])

    until(lambda: state_and_tracer() == ("T", 0))
    os.kill(p.pid, signal.SIGCONT)
    until(lambda: state_and_tracer()[0] in "RS")


def test_lifecycle_stops_from_events(life):
    """fork exit and exit_group entry with nothing else in the sets: served from PTRACE_EVENT
    stops (item 21), with the same /proc view as syscall stops."""
    from structs.syscalls import SYSCALL_NUMBERS

    nr = SYSCALL_NUMBERS["amd64"]
    p = life("fork")
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSEXIT, sysset(nr["clone"], nr["fork"])),
                    (PC.PCTWSTOP, 5000)))
        st = lwpstatus(p.pid, 1)
        assert st["pr_why"] == PR_WHY.PR_SYSEXIT and st["pr_what"] in (nr["clone"], nr["fork"])
        child = st["pr_rval1"]
        assert child > 0 and st["pr_syscall"] == st["pr_what"]
        c.write(ctl((PC.PCRUN, 0)))
        assert int(p.stdout.readline().split()[1]) == child
        os.kill(child, signal.SIGKILL)
    q = subprocess.Popen(["sh", "-c", "sleep 0.3; exit 3"])
    try:
        with npc.open(f"{q.pid}/ctl", os.O_WRONLY) as c:
            c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSENTRY, sysset(nr["exit_group"])), (PC.PCTWSTOP, 5000)))
            st = lwpstatus(q.pid, 1)
            assert (st["pr_why"], st["pr_what"]) == (PR_WHY.PR_SYSENTRY, nr["exit_group"])
            assert st["pr_sysarg"][0] == 3  # the exit code, from the argument registers
            c.write(ctl((PC.PCRUN, 0)))
        assert q.wait(timeout=10) == 3
    finally:
        q.kill()
        q.wait()


def test_a_thread_that_ends_vanishes_from_lwp(life):
    p = life("thread-exit")
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSTRACE, sigset(SIGUSR1_S))))  # controlled now
        until(lambda: npc.listdir(f"{p.pid}/lwp") == ["1", "2"])  # it appears...
        until(lambda: npc.listdir(f"{p.pid}/lwp") == ["1"])  # ...and vanishes when it ends
        with pytest.raises(FileNotFoundError):
            npc.open(f"{p.pid}/lwp/2/lwpstatus")
