"""`lxbrand trace` against real strace (/usr/bin/strace), line by line, on the C programs of
tests/strace_corpus/ compiled here: the same options, the same program, both logs normalised
for what differs between any two runs (pids, addresses, times, random bytes, inode numbers;
tests/strace_compare.py).  `python -m tests.strace_compare` prints the figures per case."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import strace_compare as sc

pytestmark = pytest.mark.skipif(not os.path.exists(sc.STRACE), reason="needs strace (apt-get install strace)")


def _gcc_m32_works() -> bool:
    res = subprocess.run(["gcc", "-m32", "-x", "c", "-o", "/dev/null", "-"], input="int main(void){return 0;}",
                         capture_output=True, text=True)
    return res.returncode == 0


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("strace-corpus")


def _params():
    for case in sc.CASES:
        if case.figures_only:
            continue
        marks = []
        if case.xfail:
            marks.append(pytest.mark.xfail(reason=case.xfail, strict=False))
        if "-m32" in case.gcc:
            marks.append(pytest.mark.skipif(not _gcc_m32_works(), reason="gcc -m32 needs gcc-multilib"))
        yield pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_same_lines_as_strace(case, work):
    res = sc.run_case(case, work)
    assert res.strace, "strace wrote no trace"
    assert res.diff == [], (f"{res.same} of {res.total} lines identical; strace (-) vs lxbrand trace (+):\n"
                            + "\n".join(res.diff[:80]))


def test_ff_writes_one_file_per_process(work):
    """-ff -o FILE: FILE.PID per process, lines without a pid prefix, as strace writes them."""
    exe = sc.build(sc.Case("threads", "threads.c"), work)
    logs = {}
    for tool in ("strace", "lx"):
        d = work / f"ff-{tool}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        cmd = [sc.STRACE] if tool == "strace" else [sys.executable, "-m", "lxbrand.cli", "trace"]
        subprocess.run([*cmd, "-ff", "-o", str(d / "log"), "-e", "trace=write,getpid,exit", "--", str(exe)],
                       cwd=sc.REPO, capture_output=True, timeout=120, check=True)
        files = sorted(d.iterdir(), key=lambda f: int(f.suffix[1:]))
        assert len(files) == 2 and all(f.name.startswith("log.") for f in files), files
        logs[tool] = [sc.normalise(f.read_text().splitlines()) for f in files]
    assert logs["lx"] == logs["strace"]


def test_c_table_layout(work):
    """-c: strace's header, rules and column widths (the times themselves vary)."""
    exe = sc.build(sc.Case("strings", "strings.c"), work)
    res = subprocess.run([sys.executable, "-m", "lxbrand.cli", "trace", "-c", "--", str(exe)],
                         cwd=sc.REPO, capture_output=True, text=True, timeout=120)
    lines = res.stderr.splitlines()
    assert lines[0] == "% time     seconds  usecs/call     calls    errors syscall"
    assert lines[1] == lines[-2] == "------ ----------- ----------- --------- --------- ----------------"
    row = re.compile(r"[ \d]{3}\.\d\d [ \d]{4}\.\d{6} [ \d]{11} [ \d]{9} [ \d]{9} \w+")
    for line in lines[2:-2] + lines[-1:]:
        assert row.fullmatch(line), line
    write = next(line for line in lines if line.endswith(" write"))
    assert write.split()[3:] == ["8", "8", "write"]  # 8 calls, all failed (EBADF)
    assert lines[-1].startswith("100.00 ") and lines[-1].endswith(" total")
