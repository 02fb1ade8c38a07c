"""Run every scenario against both backends on fresh targets, compare, and judge.

Verdicts:
  pass      the two observation logs are equal
  fail      they differ (the first differing observation is reported), or the reference run
            itself raised (a scenario bug: reported, never skipped)
  declared  they differ, and `limitations.toml` declares this scenario a known difference, with
            its reason and the behaviour lx gives instead

A declaration whose scenario now matches is reported as such ("pass", with a note to remove it).
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import signal
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

from .backend import Backend, HostBackend, LxBackend
from .scenario import SCENARIOS, Obs, Scenario, bound
from .targets import Targets

__all__ = ["Result", "Report", "run", "compare", "load_limitations", "select", "main"]

LIMITATIONS = Path(__file__).with_name("limitations.toml")
TIMEOUT = bound(60.0)  # seconds one run of one scenario may take (above any one bounded wait)


class ScenarioTimeout(Exception):
    pass


@dataclass
class Result:
    name: str
    verdict: str  # pass | fail | declared
    difference: str = ""
    note: str = ""
    host: list[str] = field(default_factory=list)
    lx: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Report:
    results: list[Result]
    seconds: float
    selected: int
    total: int
    warnings: list[str] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(r.verdict == verdict for r in self.results)

    @property
    def ok(self) -> bool:
        return self.count("fail") == 0

    def summary(self) -> str:
        return f"{self.count('pass')} passed, {self.count('fail')} failed, {self.count('declared')} declared"

    def to_json(self) -> dict[str, Any]:
        return {"summary": {"passed": self.count("pass"), "failed": self.count("fail"),
                            "declared": self.count("declared"), "seconds": round(self.seconds, 3),
                            "selected": self.selected, "total": self.total},
                "warnings": self.warnings,
                "scenarios": [asdict(r) for r in self.results]}


def load_limitations(path: Path | None = None) -> dict[str, dict[str, str]]:
    """scenario -> {reason, instead}.  Every entry must give both.  A missing file is an error
    (FileNotFoundError naming it): an installation without it would silently declare nothing."""
    p = path or LIMITATIONS
    if not p.exists():
        raise FileNotFoundError(f"{p}: the conformance suite's limitations file is missing "
                                f"(a broken installation: lxbrand/conform/limitations.toml belongs "
                                f"in the package)")
    data = tomllib.loads(p.read_text())
    out: dict[str, dict[str, str]] = {}
    for entry in data.get("limitation", []):
        name, reason, instead = entry.get("scenario"), entry.get("reason"), entry.get("instead")
        if not (name and reason and instead):
            raise ValueError(f"{p}: a limitation needs scenario, reason and instead: {entry}")
        out[name] = {"reason": reason, "instead": instead}
    return out


def compare(a: list[str], b: list[str]) -> str:
    """"" when equal, else the first differing observation as "#i: host <a> | lx <b>"."""
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else "(end of log)"
        y = b[i] if i < len(b) else "(end of log)"
        if x != y:
            return f"#{i}: {_narrow(x, y)}"
    return ""


def _narrow(x: str, y: str) -> str:
    """Two register lines ("label: k=v ...") that differ: only the fields that differ."""
    hx, _, bx = x.partition(": ")
    hy, _, by = y.partition(": ")
    if hx == hy and "=" in bx and "=" in by:
        fx = dict(f.split("=", 1) for f in bx.split(" ") if "=" in f)
        fy = dict(f.split("=", 1) for f in by.split(" ") if "=" in f)
        if fx.keys() == fy.keys() and "[" not in bx + by:
            keys = [k for k in fx if fx[k] != fy[k]]
            return (f"{hx}: host " + " ".join(f"{k}={fx[k]}" for k in keys)
                    + " | lx " + " ".join(f"{k}={fy[k]}" for k in keys))
    return f"host {x} | lx {y}"


def _on_alarm(signum: int, frame: Any) -> None:
    raise ScenarioTimeout()


def run_once(sc: Scenario, backend: Backend, targets: Targets, timeout: float = TIMEOUT) -> list[str]:
    """One run of one scenario: its observation log (an exception or a timeout is an observation)."""
    obs = Obs()
    backend.obs = obs
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        try:
            sc.fn(backend, targets)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except ScenarioTimeout:
        obs.note(f"timeout: no progress within {timeout:g} s")
    except Exception as e:  # noqa: BLE001 - an exception is what this run observed
        obs.error(e)
    finally:
        signal.signal(signal.SIGALRM, old)
        try:
            backend.cleanup()
        except Exception as e:  # noqa: BLE001
            obs.note(f"cleanup failed: {type(e).__name__}: {e}")
    return obs.entries


def select(pattern: str | None, scenarios: Iterable[Scenario] | None = None) -> list[Scenario]:
    """Scenarios whose name contains `pattern` (or matches it, if it is a glob)."""
    items = list(scenarios if scenarios is not None else SCENARIOS.values())
    if not pattern:
        return items
    glob = any(c in pattern for c in "*?[")
    return [s for s in items if (fnmatch.fnmatch(s.name, pattern) if glob else pattern in s.name)]


def run(scenarios: Iterable[Scenario] | None = None, *, pattern: str | None = None,
        reference: Callable[[], Backend] = HostBackend, judged: Callable[[], Backend] = LxBackend,
        limitations: dict[str, dict[str, str]] | None = None, targets: Targets | None = None,
        progress: Callable[[Result], None] | None = None, timeout: float = TIMEOUT) -> Report:
    importlib.import_module(f"{__package__}.scenarios")  # registers the scenarios
    importlib.import_module(f"{__package__}.scenarios_modern")  # ... and those of the modern interface
    importlib.import_module(f"{__package__}.scenarios_i386")  # ... and those of the i386 caller
    importlib.import_module(f"{__package__}.scenarios_clients")  # ... and what real clients found

    pool = list(scenarios) if scenarios is not None else list(SCENARIOS.values())
    chosen = select(pattern, pool)
    lim = load_limitations() if limitations is None else limitations
    tg = targets or Targets()
    warnings = [f"limitations.toml names an unknown scenario: {n}" for n in lim if n not in SCENARIOS]
    ref, jud = reference(), judged()
    t0 = time.monotonic()
    results = []
    for sc in chosen:
        t1 = time.monotonic()
        a = run_once(sc, ref, tg, timeout)
        b = run_once(sc, jud, tg, timeout)
        diff = compare(a, b)
        host_error = next((e for e in a if e.startswith(("exception:", "timeout:", "cleanup failed:"))), None)
        if host_error:
            res = Result(sc.name, "fail", f"the reference run itself failed: {host_error}")
        elif not diff:
            res = Result(sc.name, "pass")
            if sc.name in lim:
                res.note = "declared in limitations.toml but matches now: remove the declaration"
        elif sc.name in lim:
            res = Result(sc.name, "declared", diff, note=f"{lim[sc.name]['reason']} -- instead: {lim[sc.name]['instead']}")
        else:
            res = Result(sc.name, "fail", diff)
        res.host, res.lx, res.seconds = a, b, time.monotonic() - t1
        results.append(res)
        if progress:
            progress(res)
    return Report(results, time.monotonic() - t0, len(chosen), len(pool), warnings)


def _row(r: Result, width: int) -> str:
    diff = r.difference or r.note
    if r.verdict == "declared":
        diff = r.difference
    line = f"{r.name:<40} {r.verdict:<9} {diff}"
    return line if len(line) <= width else line[:width - 1] + "…"


def main(pattern: str | None = None, json_path: str | None = None, out: TextIO | None = None,
         verbose: bool = False, width: int = 160) -> int:
    import lxbrand

    out = out or sys.stdout
    # The targets are compiled at first use: a missing tool chain is one clear message up front,
    # not an exception in every scenario.
    from ..tools import MissingTool, require

    try:
        require("gcc")
        require("nm")
        if not pattern or "user32" in pattern or any(c in pattern for c in "*?["):
            require("gcc -m32")
    except MissingTool as e:
        print(f"lxbrand conform: {e}", file=sys.stderr)
        return 2
    from native_proc.rendezvous import ProcdError

    try:
        lxbrand.ensure_procd()
    except ProcdError as e:
        print(f"lxbrand conform: {e}", file=sys.stderr)
        return 2
    print(f"{'scenario':<40} {'verdict':<9} first difference", file=out)
    report = run(pattern=pattern, progress=lambda r: print(_row(r, width), file=out, flush=True))
    if report.selected < report.total:
        print(f"({report.selected} of {report.total} scenarios selected by -k {pattern!r})", file=out)
    for r in report.results:
        if r.verdict == "declared":
            print(f"declared {r.name}: {r.note}", file=out)
        elif r.note:
            print(f"note {r.name}: {r.note}", file=out)
        if verbose and r.verdict == "fail":
            print(f"--- {r.name}\n  host: " + "\n        ".join(r.host) + "\n  lx:   " + "\n        ".join(r.lx),
                  file=out)
    for w in report.warnings:
        print(f"warning: {w}", file=out)
    if json_path:
        try:
            Path(json_path).write_text(json.dumps(report.to_json(), indent=2) + "\n")
        except OSError as e:
            print(f"lxbrand conform: can't write {json_path}: {e.strerror}", file=sys.stderr)
            return 2
    if not report.selected:
        print(f"no scenario matches -k {pattern!r}", file=out)
    print(f"{report.selected} scenarios, each on both backends, in {report.seconds:.2f} s", file=out)
    print(report.summary(), file=out)
    return 0 if report.ok and report.selected else 1
