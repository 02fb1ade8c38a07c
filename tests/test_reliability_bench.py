"""bench/reliability.py's campaigns (issue 19's figures) with small counts: every figure zero.

The same functions CI's quick bench runs, on real targets and a private procd of the campaign's
own; and controls showing that each check can fail (a target left stopped is seen as such, a
trap still armed is seen, the fuzz never sends a message that waits by design, the campaign's
directory and processes are gone even when it fails)."""

from __future__ import annotations

import os

import pytest

import native_proc.client as npc
from bench import reliability as R
from native_proc import host
from structs.procfs_consts import PC
from structs.ptrace_consts import PTRACE

from .procd_helpers import until

ROOT = os.getuid() == 0


@pytest.fixture(scope="module")
def camp():
    with R.campaign() as c:
        yield c


def test_ctl_fuzz_gives_no_crash_hang_or_stopped_target(camp):
    f = R.ctl_fuzz(camp, 800, 6, seed=7)
    assert f.writes == 800 and f.targets >= 6, f
    assert (f.crashes, f.hangs, f.errors_logged, f.left_stopped) == (0, 0, 0, 0), (f, camp.procd.log())
    assert camp.procd.alive()


def test_sigkill_of_procd_and_tracer_at_each_kind_of_stop(camp):
    k = R.kill_at_stops(camp)
    assert k.not_stopped == [], k.not_stopped  # every stop reached: the cases below are real
    assert k.cases == 2 * 2 * len(R.KINDS), k
    assert (k.left_stopped, k.not_running, k.watch_left_armed, k.guardians_unclean) == ([], [], [], []), k


def test_many_targets_leave_no_records_and_nothing_stopped(camp):
    s = R.many_targets(camp, 60)
    assert s.targets == 60
    assert (s.failed, s.left_stopped, s.dead_records) == (0, 0, 0), s
    assert npc.procd_status() == ""


def test_attach_detach_cycles_leak_nothing(camp):
    a = R.attach_cycles(camp, 25)
    assert a.cycles == 25
    assert (a.failed, a.monitors_leaked, a.fds_leaked, a.procd_fds_leaked) == (0, 0, 0, 0), a


@pytest.mark.skipif(not ROOT, reason="acting as another uid (65534) needs root")
def test_another_uid_gets_what_the_kernel_gives(camp):
    checks, violations = R.other_uid(camp)
    assert checks >= 15
    assert violations == [], violations
    # the reference is not one-sided: the kernel refuses this uid root's process and grants
    # it its own and a peer's, and procd answered each
    got = camp.uid_answers
    assert got["root"]["kernel"] == "EACCES" and got["self"]["kernel"] == got["peer"]["kernel"] == "ok", got
    assert got["root"]["ctl"] == "EACCES" and got["peer"]["ctl"] == "ok", got


# -- the checks can fail -----------------------------------------------------------------------------


def test_a_target_left_stopped_is_counted(camp):
    """A controller without PR_RLC closes its ctl: Solaris leaves the target stopped, and
    `_released` says so (the figures' 'left stopped' is not a check that always passes)."""
    t = camp.spawn("spin")
    try:
        with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as f:
            f.write(R.ctl((PC.PCSTOP, None)), timeout=5)
        assert R._released(t, timeout=0.5) is False
        assert R.host_state(t.pid)[0] in ("t", "T")
    finally:
        camp.finish(t)


def test_a_trap_left_armed_is_seen(camp):
    """A write watch armed with the host's ptrace and left there: the target's SIGTRAP
    handler counts the traps, which is what 'watched targets still trapping' reads."""
    t = camp.spawn("spin")
    try:
        host.ptrace(PTRACE.SEIZE, t.pid, 0, 0)
        host.ptrace(PTRACE.INTERRUPT, t.pid, 0, 0)
        os.waitpid(t.pid, R._WALL)
        host.ptrace(PTRACE.POKEUSER, t.pid, R.DR0, t.addr)
        host.ptrace(PTRACE.POKEUSER, t.pid, R.DR7, R.DR7_W8)
        host.ptrace(PTRACE.DETACH, t.pid, 0, 0)
        before = R._counter(t.pid, t.hits)
        until(lambda: R._counter(t.pid, t.hits) > before, what="traps counted")
    finally:
        camp.finish(t)


def test_the_fuzz_sends_no_message_that_waits_by_design():
    assert not R.sendable(R.ctl((PC.PCWSTOP, None)))
    for ms in (0, -1, 51, 10_000):
        assert not R.sendable(R.ctl((PC.PCTWSTOP, ms))), ms
    assert not R.sendable(R.ctl((PC.PCNULL, None), (PC.PCUNSET, R.PR_RLC)))
    assert R.sendable(R.ctl((PC.PCTWSTOP, 10), (PC.PCUNSET, 0x100000)))
    assert R.sendable(b"\x03")  # a truncated code word: procd answers EINVAL, nothing waits
    import random

    rng = random.Random(1)
    payloads = [R.fuzz_payload(rng) for _ in range(500)]
    assert sum(map(R.sendable, payloads)) > 400  # the filter leaves the fuzz almost whole
    assert len({p[:8] for p in payloads}) > 100


def test_a_failed_campaign_leaves_no_process_or_directory():
    started = {}
    with pytest.raises(RuntimeError, match="on purpose"):
        with R.campaign() as c:
            started["root"], started["procd"] = c.root, c.procd.pid
            started["target"] = c.spawn("pause").pid
            raise RuntimeError("on purpose")
    assert not os.path.exists(started["root"])
    assert R.host_state(started["procd"]) == ("", 0)
    assert R.host_state(started["target"]) == ("", 0)


def test_the_bench_fails_when_a_figure_misses(capsys):
    assert R._line("a figure", 0) is True
    assert R._line("another", 2) is False
    out = capsys.readouterr().out
    assert "(target 0: met)" in out and "(target 0: MISSED)" in out
