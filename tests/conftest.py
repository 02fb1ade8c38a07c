"""Shared fixtures: C targets compiled at test time, cached for the session."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs on 2 cores: keep property tests bounded there.
settings.register_profile("ci", max_examples=50, deadline=None)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


class CBuilder:
    """Compiles C (or assembly) sources once per session and returns the executable's path."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, source: str, *flags: str, name: str = "target", lang: str = "c") -> Path:
        key = hashlib.sha1((source + "\0" + " ".join(flags) + lang).encode()).hexdigest()[:16]
        out = self.root / f"{name}-{key}"
        if not out.exists():
            src = self.root / f"{name}-{key}.{'c' if lang == 'c' else 's'}"
            src.write_text(source)
            cmd = ["gcc", *flags, "-o", str(out), str(src)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr}")
        return out


@pytest.fixture(scope="session")
def cbuild(tmp_path_factory: pytest.TempPathFactory) -> CBuilder:
    """cbuild(source, *gcc_flags, name=...) -> path of the compiled program (cached per session)."""
    return CBuilder(tmp_path_factory.mktemp("cbuild"))


@pytest.fixture
def spawn(cbuild):
    """spawn(mode) -> (Popen, counter address); every target is killed and reaped afterwards."""
    from .targets import LOOP

    exe = cbuild(LOOP, "-O0", name="loop")
    procs = []

    def start(mode: str = "spin"):
        p = subprocess.Popen([str(exe), mode], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        line = p.stdout.readline().split()
        assert line[0] == "ready"
        return p, int(line[1], 16)

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)
