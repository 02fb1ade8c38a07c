"""The differential conformance harness (lxbrand/conform): runner, verdicts, declared limitations."""

from __future__ import annotations

import json
import os

import pytest

from lxbrand.conform import runner
from lxbrand.conform.backend import HostBackend, LxBackend
from lxbrand.conform.scenario import SCENARIOS, Dbg, Obs, Scenario, status_text
from lxbrand.conform.targets import Targets
from structs.ptrace_consts import PTRACE

import lxbrand.conform.scenarios  # noqa: F401  (registers the scenarios)


@pytest.fixture(scope="module")
def targets() -> Targets:
    return Targets()


class CorruptPeek(HostBackend):
    """A deliberately broken backend: PEEKDATA reads one bit off."""

    name = "broken"

    def ptrace(self, req, pid, addr=0, data=0):
        r = super().ptrace(req, pid, addr, data)
        if req == PTRACE.PEEKDATA and r == 0 and isinstance(data, bytearray):
            data[0] ^= 1
        return r


QUICK = ["traceme/exec-stop", "mem/peek-unaligned", "signal/stop-and-deliver", "attach/stop-regs-detach"]


def test_registry_has_the_issue_groups():
    groups = {s.group for s in SCENARIOS.values()}
    assert {"traceme", "mem", "user", "regs", "resume", "signal", "syscall", "breakpoint", "watch",
            "attach", "kill", "errno"} <= groups
    assert len(SCENARIOS) >= 30
    assert all(n.count("/") == 1 and SCENARIOS[n].doc for n in SCENARIOS)


def test_quick_scenarios_pass_on_both_backends(targets):
    import lxbrand

    lxbrand.ensure_procd()
    report = runner.run([SCENARIOS[n] for n in QUICK], targets=targets, limitations={})
    bad = {r.name: r.difference for r in report.results if r.verdict != "pass"}
    assert not bad
    assert report.summary() == f"{len(QUICK)} passed, 0 failed, 0 declared"
    ex = report.results[0]
    assert ex.host[0] == "exec stop: stopped SIGTRAP" and ex.host == ex.lx
    assert ex.host[-1] == "wait -> <pid> exited 0"  # pids are named, not compared


def test_a_broken_backend_fails_with_the_first_difference(targets):
    report = runner.run([SCENARIOS["mem/peek-aligned"]], judged=CorruptPeek, targets=targets, limitations={})
    (res,) = report.results
    assert res.verdict == "fail" and not report.ok
    assert res.difference.startswith("#3: host PEEKDATA(&word) -> 0 word=0x1122334455667788")
    assert "| lx PEEKDATA(&word) -> 0 word=0x1122334455667789" in res.difference
    assert report.summary() == "0 passed, 1 failed, 0 declared"


def test_declared_limitations_are_counted_apart(targets, tmp_path):
    lim = tmp_path / "limitations.toml"
    lim.write_text('[[limitation]]\nscenario = "mem/peek-aligned"\nreason = "a test"\n'
                   'instead = "one bit off"\n')
    declared = runner.load_limitations(lim)
    scs = [SCENARIOS["mem/peek-aligned"], SCENARIOS["mem/peek-unaligned"]]
    report = runner.run(scs, judged=CorruptPeek, targets=targets, limitations=declared)
    verdicts = {r.name: r.verdict for r in report.results}
    assert verdicts == {"mem/peek-aligned": "declared", "mem/peek-unaligned": "fail"}
    assert report.summary() == "0 passed, 1 failed, 1 declared"
    assert "a test -- instead: one bit off" in report.results[0].note
    # a declaration that matches again is reported, not hidden
    again = runner.run([SCENARIOS["mem/peek-aligned"]], reference=HostBackend, judged=HostBackend,
                       targets=targets, limitations=declared)
    assert again.results[0].verdict == "pass" and "remove" in again.results[0].note


def test_limitations_file_entries_are_complete(tmp_path):
    assert isinstance(runner.load_limitations(), dict)  # the shipped file parses
    bad = tmp_path / "l.toml"
    bad.write_text('[[limitation]]\nscenario = "x/y"\nreason = "no instead"\n')
    with pytest.raises(ValueError):
        runner.load_limitations(bad)


def test_exceptions_and_reference_failures_are_observations(targets):
    def broken(b, t):
        d = Dbg(b, t)
        d.obs.note("before")
        if b.name == "host":
            raise RuntimeError("scenario bug")

    report = runner.run([Scenario("test/raises", broken)], targets=targets, limitations={})
    (res,) = report.results
    assert res.verdict == "fail" and "reference run itself failed" in res.difference
    assert res.host == ["before", "exception: RuntimeError: scenario bug"]


def test_obs_names_what_it_does_not_compare():
    o = Obs()
    o.alias(4242)
    o.regs({"rax": 4242, "rip": 0x401000, "rsp": 0x7FFF0000}, volatile={"rsp"})
    assert o.entries == ["regs: rax=<pid> rip=0x401000 [not compared: rsp]"]
    assert status_text(0x57F) == "stopped SIGTRAP"
    assert status_text(0x0700) == "exited 7"
    assert status_text(9) == "signaled SIGKILL"
    assert status_text(0x857F) == "stopped SIGTRAP|0x80"
    assert status_text((38 << 8) | 0x7F) == "stopped SIGRTMIN+4"


def test_targets_have_the_same_addresses_on_both_backends(targets):
    import lxbrand

    lxbrand.ensure_procd()
    seen = []
    for backend in (HostBackend(), LxBackend()):
        backend.obs = Obs()
        pid = backend.spawn_traceme(targets.argv("idle"))
        assert os.WIFSTOPPED(backend.last_spawn_status)
        buf = bytearray(216)
        assert backend.ptrace(PTRACE.GETREGS, pid, 0, buf) == 0
        seen.append(bytes(buf))
        backend.cleanup()
    assert seen[0] == seen[1]  # ASLR off, same environment: the very same initial registers


def test_cli_conform(capsys, tmp_path):
    from lxbrand.cli import main

    out = tmp_path / "report.json"
    rc = main(["conform", "-k", "traceme/exec-stop", "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    assert text.splitlines()[-1] == "1 passed, 0 failed, 0 declared"
    assert "traceme/exec-stop" in text and "selected by -k" in text
    data = json.loads(out.read_text())
    assert data["summary"]["passed"] == 1 and data["scenarios"][0]["host"] == data["scenarios"][0]["lx"]
    assert main(["conform", "-k", "no-such-scenario"]) == 1
