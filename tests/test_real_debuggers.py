"""Real, unmodified gdb and strace on lx (`lxbrand run`), each session compared with the same
session on the bare host after normalising what differs between any two runs (pids, addresses,
times).  Every session runs in a session of its own; whatever is left of it afterwards is killed
by pid, and a process of it left stopped fails the test (issue 15)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not (shutil.which("gdb") and shutil.which("strace")),
                                reason="gdb and strace are installed by ./dev's set-up")

PROG = r"""
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

volatile int counter;
int f(int x) { return x * 2; }
static void on_usr1(int s) { (void)s; counter += 100; }
void *worker(void *arg) { counter += (int)(long)arg; return NULL; }
void *sleeper(void *arg) { (void)arg; for (;;) pause(); }
void *quitter(void *arg) { (void)arg; syscall(SYS_exit, 7); return NULL; }

int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "hello";
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(m, "hello")) {
        int a = f(3);
        printf("hello %d\n", a);
    } else if (!strcmp(m, "signal")) {
        signal(SIGUSR1, on_usr1);
        raise(SIGUSR1);
        raise(SIGUSR1);
        printf("counter %d\n", counter);
    } else if (!strcmp(m, "watch")) {
        for (int i = 0; i < 3; i++)
            counter += f(i);
        printf("counter %d\n", counter);
    } else if (!strcmp(m, "fork")) {
        for (int i = 0; i < 2; i++) {
            pid_t c = fork();
            if (c == 0) {
                printf("child %d\n", f(i));
                _exit(3 + i);
            }
            int st;
            waitpid(c, &st, 0);
            printf("reaped %d\n", WEXITSTATUS(st));
        }
    } else if (!strcmp(m, "exec")) {
        pid_t c = fork();
        if (c == 0) {
            execl("/bin/true", "true", (char *)0);
            _exit(127);
        }
        int st;
        waitpid(c, &st, 0);
        printf("true gave %d\n", WEXITSTATUS(st));
    } else if (!strcmp(m, "threads")) {
        for (long i = 1; i <= 3; i++) {  /* one at a time: every run sees the same order */
            pthread_t t;
            pthread_create(&t, NULL, worker, (void *)i);
            pthread_join(t, NULL);
        }
        printf("counter %d\n", counter);
    } else if (!strcmp(m, "quitter")) {  /* a non-leader thread exits with its own code */
        pthread_t t;
        pthread_create(&t, NULL, quitter, NULL);
        pthread_join(t, NULL);
        printf("joined\n");
    } else if (!strcmp(m, "sleeper")) {  /* attached to: 'ready', then pause() for ever */
        printf("ready\n");
        for (;;) pause();
    } else if (!strcmp(m, "sleepers")) {  /* 4 threads, all in pause() */
        pthread_t t;
        for (int i = 0; i < 3; i++)
            pthread_create(&t, NULL, sleeper, NULL);
        printf("ready\n");
        for (;;) pause();
    } else if (!strcmp(m, "syscalls")) {  /* 2,000 system calls (the benchmark's program) */
        for (int i = 0; i < 2000; i++)
            syscall(SYS_getppid);
        printf("done\n");
    }
    return 0;
}
"""

_TIMEOUT = 60.0  # one session, on a loaded 2-core machine


@pytest.fixture(scope="module")
def prog(cbuild) -> str:
    return str(cbuild(PROG, "-g", "-O0", "-pthread", name="dbgprog"))


@pytest.fixture(scope="module")
def lx_env(tmp_path_factory) -> dict[str, str]:
    """The environment of the lx sessions: a procd of this module's own, and a cache of its
    own for the compiled library (the first session compiles it)."""
    d = tmp_path_factory.mktemp("lxrun")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LD_PRELOAD", "LXBRAND_"))}
    env.update(NATIVE_PROC_SOCKET=str(d / "procd" / "procd.sock"), XDG_CACHE_HOME=str(d / "cache"),
               LC_ALL="C", TERM="dumb")
    return env


def _session_members(sid: int) -> list[tuple[int, str, str]]:
    """(pid, state, command) of every process in session `sid`."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid:
            out.append((int(p), fields[0], name))
    return out


class Session:
    """One debugger run in a new session: its output, exit status, and what was left of it."""

    def __init__(self, argv: list[str], env: dict[str, str] | None, stdin: str | None = None,
                 interrupt_after: float | None = None, signal_after: tuple[float, int] | None = None,
                 spawn_first: list[str] | None = None) -> None:
        self.target: subprocess.Popen | None = None
        self.left: list[tuple[int, str, str]] = []
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, text=True)
        try:
            if interrupt_after is not None or signal_after is not None:
                delay, sig = signal_after or (interrupt_after, signal.SIGINT)
                time.sleep(delay)
                os.kill(proc.pid, sig)
            self.output, _ = proc.communicate(stdin, timeout=_TIMEOUT)
            self.rc = proc.returncode
        except subprocess.TimeoutExpired:
            self.output, self.rc = f"<no end within {_TIMEOUT:g} s>", None
        finally:
            self.seconds = time.monotonic() - started
            self._end(proc.pid)

    def _end(self, sid: int) -> None:
        """Kill, by pid, whatever of the session is left, after noting what was stopped."""
        for _ in range(50):  # a moment for exits under way (a released tracee running on)
            self.left = [m for m in _session_members(sid) if m[1] != "Z"]
            if not any(state in "tT" for _, state, _ in self.left):
                break
            time.sleep(0.02)
        self.stopped = [m for m in self.left if m[1] in "tT"]
        for pid, _, _ in _session_members(sid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.killpg(sid, signal.SIGKILL)
        except OSError:
            pass


_NORMAL = [
    (re.compile(r"0x[0-9a-f]{6,}"), "0xADDR"),
    # strace -f: whether a line has the prefix is scheduling (how many tracees strace knows of
    # at that moment), and the result column's padding follows the prefix
    (re.compile(r"^\[pid +\d+\] ", re.M), ""),
    (re.compile(r" +(= (-?\d+|\?|0x))"), r" \1"),
    (re.compile(r"\b\d+\.\d+\b"), "T"),
    (re.compile(r"\b\d{3,}\b"), "N"),  # pids and tids wherever they appear
    (re.compile(r"si_[us]time=\d+( /\* T s \*/)?"), "si_time=N"),
]


def normal(text: str) -> str:
    """The output with pids, addresses and times made the same in every run."""
    lines = [l for l in text.splitlines() if not l.startswith("lxbrand run:")]
    text = "\n".join(lines)
    for pat, rep in _NORMAL:
        text = pat.sub(rep, text)
    return text


def lx(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "lxbrand.cli", "run", "--", *argv]


def both(argv: list[str], lx_env: dict[str, str], **kw) -> tuple[Session, Session]:
    host = Session(argv, {**lx_env}, **kw)
    on_lx = Session(lx(argv), lx_env, **kw)
    return host, on_lx


def assert_same(host: Session, on_lx: Session) -> None:
    assert host.rc is not None, f"the host session did not end:\n{host.output}"
    assert not host.stopped, host.stopped
    assert not on_lx.stopped, f"left stopped on lx: {on_lx.stopped}\n{on_lx.output}"
    assert normal(on_lx.output) == normal(host.output), (
        f"host:\n{host.output}\n--- lx ({on_lx.seconds:.1f} s):\n{on_lx.output}")
    assert on_lx.rc == host.rc


def gdb(prog: str, *cmds: str, args: tuple[str, ...] = (), out: Path | None = None) -> list[str]:
    """gdb -batch running `cmds`; with `out`, each `run` sends the program's output there (so
    that it is not interleaved with gdb's, which no two runs order alike)."""
    argv = ["gdb", "-nx", "-batch", "-ex", "set width 0", "-ex", "set pagination off"]
    for c in cmds:
        argv += ["-ex", f"run >> {out}" if c == "run" and out is not None else c]
    return argv + (["--args", prog, *args] if args else [prog])


GDB_SESSIONS = {
    "break-finish": (("break f", "run", "bt", "finish", "next", "info registers rip", "continue"), ("hello",)),
    "stepi": (("break f", "run", "stepi", "stepi", "x/i $pc", "info registers rip", "continue"), ("hello",)),
    "signals-handle": (("handle SIGUSR1 stop print", "run", "continue", "handle SIGUSR1 nostop noprint",
                        "continue"), ("signal",)),
    "hw-watch": (("break main", "run", "watch counter", "continue", "continue", "continue"), ("watch",)),
    "sw-watch": (("break main", "run", "set can-use-hw-watchpoints 0", "watch counter", "continue",
                  "continue"), ("watch",)),
    "catch-syscall": (("catch syscall write", "run", "continue", "continue"), ("hello",)),
    "follow-fork-child": (("set follow-fork-mode child", "set detach-on-fork on", "break f", "run", "bt",
                           "continue"), ("fork",)),
    "follow-fork-parent": (("set follow-fork-mode parent", "break f", "run", "continue"), ("fork",)),
    "threads": (("break worker", "run", "thread apply all bt", "continue", "info threads", "continue",
                 "continue"), ("threads",)),
    "run-twice": (("break f", "run", "kill", "run", "continue"), ("hello",)),
    "kill": (("break f", "run", "kill", "info inferiors"), ("hello",)),
    "exec": (("catch exec", "set follow-fork-mode child", "run", "continue"), ("exec",)),
}


@pytest.mark.parametrize("name", sorted(GDB_SESSIONS))
def test_gdb_session_as_on_the_host(name, prog, lx_env, tmp_path):
    cmds, args = GDB_SESSIONS[name]
    outs = []
    sessions = []
    for runner in (lambda a: a, lx):
        out = tmp_path / f"out{len(outs)}"
        out.write_text("")
        outs.append(out)
        sessions.append(Session(runner(gdb(prog, *cmds, args=args, out=out)), lx_env))
    assert_same(*sessions)
    assert outs[1].read_text() == outs[0].read_text()


STRACE_SESSIONS = {
    "fork-exec": ["strace", "-f", "-qq", "-e", "trace=process,write", "{prog}", "exec"],
    "forks": ["strace", "-f", "-qq", "-e", "trace=process,wait4,write", "{prog}", "fork"],
    "threads-leader-waits": ["strace", "-f", "-qq", "-e", "trace=exit,write", "{prog}", "quitter"],
    "signals": ["strace", "-qq", "-e", "trace=kill,tgkill,write,rt_sigreturn", "{prog}", "signal"],
    "trace-filter": ["strace", "-qq", "-e", "trace=getppid,write", "{prog}", "syscalls"],
    "hello": ["strace", "-qq", "-e", "trace=write,exit_group", "{prog}", "hello"],
}


@pytest.mark.parametrize("name", sorted(STRACE_SESSIONS))
def test_strace_session_as_on_the_host(name, prog, lx_env):
    argv = [a.replace("{prog}", prog) for a in STRACE_SESSIONS[name]]
    assert_same(*both(argv, lx_env))


def test_strace_count_as_on_the_host(prog, lx_env):
    """-c: the same calls with the same counts and errors (the times are the machine's)."""
    argv = ["strace", "-f", "-c", "-e", "trace=getppid,write,exit_group", prog, "syscalls"]
    host, on_lx = both(argv, lx_env)

    def table(out: str) -> list[tuple[str, ...]]:
        rows = []
        for line in out.splitlines():
            cols = line.split()
            if cols and cols[-1] in ("getppid", "write", "exit_group", "total"):
                rows.append((cols[-1], *[c for c in cols[3:-1] if not c.startswith("-")]))
        return sorted(rows)

    assert host.rc == on_lx.rc == 0
    assert table(host.output) and table(on_lx.output) == table(host.output), (host.output, on_lx.output)
    assert not on_lx.stopped


def _sleeper(prog: str, mode: str) -> subprocess.Popen:
    p = subprocess.Popen([prog, mode], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert p.stdout.readline() == "ready\n"
    return p


@pytest.fixture
def sleepers(prog):
    """sleepers(mode) -> a running target to attach to; killed and reaped afterwards."""
    started: list[subprocess.Popen] = []

    def start(mode: str) -> subprocess.Popen:
        started.append(_sleeper(prog, mode))
        return started[-1]

    yield start
    for p in started:
        p.kill()
        p.wait(timeout=10)


def _state(pid: int) -> set[str]:
    """The states of every thread of `pid`."""
    out = set()
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/stat") as f:
                s = f.read()
            out.add(s[s.rindex(")") + 2])
        except OSError:
            pass
    return out


@pytest.mark.parametrize("mode", ["sleeper", "sleepers"])
def test_gdb_attach_and_detach_as_on_the_host(mode, prog, lx_env, sleepers):
    """Attach to a running process (one thread, and four), look, detach: it runs on."""
    results = []
    for runner in (lambda a: a, lx):
        target = sleepers(mode)
        argv = ["gdb", "-nx", "-batch", "-ex", "set width 0", "-ex", "info threads", "-ex", "detach",
                "-p", str(target.pid)]
        s = Session(runner(argv), lx_env)
        results.append(s)
        time.sleep(0.1)
        assert _state(target.pid) <= {"S", "R"}, (_state(target.pid), s.output)
    host, on_lx = results
    # the frames a sleeping thread shows are the same; what gdb says of the libraries it read
    # (and their addresses) may not be
    keep = lambda s: [l for l in normal(s.output).splitlines() if l.lstrip().startswith(("*", "1 ", "2 ", "3 ", "4 ", "Id", "[Inferior", "Detaching"))]
    assert keep(on_lx) == keep(host), (host.output, on_lx.output)
    assert on_lx.rc == host.rc == 0


def test_strace_attach_then_ctrl_c_as_on_the_host(prog, lx_env, sleepers):
    """strace -p on a quiet process, then SIGINT: strace detaches at once and the target runs on."""
    for runner in (lambda a: a, lx):
        target = sleepers("sleeper")
        s = Session(runner(["strace", "-p", str(target.pid)]), lx_env, interrupt_after=1.5)
        assert s.rc is not None, s.output  # it ended on the interrupt
        assert "detached" in s.output, s.output
        time.sleep(0.1)
        assert _state(target.pid) <= {"S", "R"}, (_state(target.pid), s.output)


# (strace detaches on SIGTERM as on SIGINT: the Ctrl-C case covers it)
@pytest.mark.parametrize("debugger,sig", [("gdb", signal.SIGTERM), ("gdb", signal.SIGKILL),
                                          ("strace", signal.SIGKILL)],
                         ids=["gdb-SIGTERM", "gdb-SIGKILL", "strace-SIGKILL"])
def test_tracer_death_leaves_nothing_stopped(debugger, sig, prog, lx_env, sleepers):
    """The debugger is killed mid-session: its tracee is left as Linux leaves it (running)."""
    states = []
    for runner in (lambda a: a, lx):
        target = sleepers("sleepers")
        argv = (["gdb", "-nx", "-ex", "continue", "-p", str(target.pid)] if debugger == "gdb"
                else ["strace", "-f", "-p", str(target.pid)])
        Session(runner(argv), lx_env, signal_after=(2.0, sig), stdin="")
        deadline = time.monotonic() + 10
        while _state(target.pid) & {"t", "T"} and time.monotonic() < deadline:
            time.sleep(0.05)
        states.append(_state(target.pid))
    assert states[1] == states[0] and not states[0] & {"t", "T"}, f"host {states[0]}, lx {states[1]}"


def test_the_debuggers_environment_stays_out_of_its_programs(prog, lx_env, tmp_path):
    """The program gdb runs sees no LD_PRELOAD and none of lxbrand's variables (gdb keeps its
    environ across its vfork, which lx makes a fork: docs/limitations.md)."""
    env_dump = tmp_path / "env"
    s = Session(lx(["gdb", "-nx", "-batch", "-ex", "run", "--args", "/bin/sh", "-c",
                    f"env > {env_dump}"]), lx_env)
    assert s.rc == 0, s.output
    env = env_dump.read_text()
    assert "LD_PRELOAD" not in env and "LXBRAND_" not in env, env
