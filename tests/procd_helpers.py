"""Test helpers: a procd of the test's own (`native-proc serve` as a subprocess), switching the
client library to it and back, host process state read without procd, and reaping orphans."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import native_proc.client as npc
from native_proc import host

REPO = Path(__file__).resolve().parent.parent
PR_SET_CHILD_SUBREAPER = 36

# A procd whose guardian is told a set of pids before it starts serving (what the watchpoint
# code does through procd.guardian.armed at run time).
_GUARDED = """
import sys
from native_proc.procd import Procd
p = Procd(sys.argv[1], embedded=False)
p.catch_stop_signals()
p.guardian.armed({int(x) for x in sys.argv[2:]})
print("NATIVE_PROC_SOCKET=" + sys.argv[1], flush=True)
p.run(None)
"""


def until(cond: Callable[[], object], timeout: float = 5.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.01)


class Served:
    """A procd run as `native-proc serve --socket <tmp>/procd/procd.sock` (or, with `armed`, one
    whose guardian already knows those pids).  stderr goes to <tmp>/procd.err; `sockdir` puts
    the socket elsewhere (a directory the caller removes)."""

    def __init__(self, tmp: Path, armed: list[int] | None = None, sockdir: Path | None = None) -> None:
        self.dir = sockdir or tmp / "procd"
        self.path = str(self.dir / "procd.sock")
        self.errpath = tmp / "procd.err"
        err = open(self.errpath, "w")
        if armed is None:
            cmd = [sys.executable, "-m", "native_proc.cli", "serve", "--socket", self.path]
        else:
            self.dir.mkdir(mode=0o700)
            cmd = [sys.executable, "-c", _GUARDED, self.path, *map(str, armed)]
        env = dict(os.environ)
        env.pop(npc.ENV, None)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                     text=True, cwd=REPO, env=env)
        err.close()
        line = self.proc.stdout.readline().strip()
        assert line == f"{npc.ENV}={self.path}", (line, self.log())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.errpath.read_text()
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def guardian_pid(self) -> int:
        """procd's only child that is not one of its tracees: the guardian."""
        f = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        kids = until(lambda: f.read_text().split(), what="the guardian started")  # forked in run()
        assert len(kids) == 1, kids
        return int(kids[0])

    @contextlib.contextmanager
    def active(self) -> Iterator["Served"]:
        """Point the client library at this procd (environment and session), then back."""
        with using_procd(self.path):
            yield self

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


@contextlib.contextmanager
def using_procd(path: str) -> Iterator[None]:
    """$NATIVE_PROC_SOCKET = path and a fresh client session; both restored afterwards.
    (The client keeps one session per process and does not follow a changed environment.)"""
    old_env = os.environ.get(npc.ENV)
    old_session = npc._session
    os.environ[npc.ENV] = path
    npc._session = npc._Session()
    try:
        yield
    finally:
        mine, npc._session = npc._session, old_session
        if mine.sock is not None:
            mine.sock.close()
        if old_env is None:
            os.environ.pop(npc.ENV, None)
        else:
            os.environ[npc.ENV] = old_env


@contextlib.contextmanager
def subreaper() -> Iterator[None]:
    """Orphans of our descendants (a killed procd's guardian) become our children meanwhile,
    so the test can reap them and see how they exited."""
    host.prctl(PR_SET_CHILD_SUBREAPER, 1)
    try:
        yield
    finally:
        host.prctl(PR_SET_CHILD_SUBREAPER, 0)


def kill_and_reap(pids: list[int]) -> None:
    """End every pid (SIGCONT, then SIGKILL) and reap those that are our children: a fixture's
    finalizer, whatever state the test left them in."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except OSError:  # ChildProcessError too: not ours, or reaped already
            pass


def reap(pid: int, timeout: float = 10.0) -> int:
    """Wait (bounded) for a child of ours to exit; its wait status."""
    end = time.monotonic() + timeout
    while True:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            return st
        if time.monotonic() > end:
            raise AssertionError(f"process {pid} did not exit within {timeout} s")
        time.sleep(0.01)


def host_state(pid: int) -> tuple[str, int]:
    """(state letter, TracerPid) from the host's /proc; ("", 0) when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return "", 0
    state = tracer = None
    for line in text.splitlines():
        if line.startswith("State:"):
            state = line.split()[1]
        elif line.startswith("TracerPid:"):
            tracer = int(line.split()[1])
    return state or "", tracer or 0


def counter(pid: int, addr: int) -> int:
    """A target's 8-byte counter, read from the host (not through procd)."""
    fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    try:
        return int.from_bytes(os.pread(fd, 8, addr), "little")
    finally:
        os.close(fd)


def stopped_processes(match: Callable[[int, str, int], bool]) -> list[tuple[int, str, str]]:
    """(pid, state, exe) of every host process in state 't' or 'T' that `match(pid, exe, ppid)`
    accepts — procd-independent: read from the host's /proc."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        state, ppid = rest[0], int(rest[1])
        if state in ("t", "T") and match(pid, exe, ppid):
            out.append((pid, state, exe))
    return out
