"""A tracer that dies without detaching (issue 15, gap 4): what becomes of its tracee, on the
host (real ptrace) and on lx, with the same tracer program.

Linux (measured here, kernel 6.18): the tracer's exit detaches every tracee (exit_ptrace).  A
signal-delivery stop the tracer's wait has taken is gone with it (the wait cleared the stop's
signal, only a resume would give one again), so a tkill(SIGSTOP) the tracer sent and waited
for is dropped and the tracee runs on; one it has not waited for is still delivered and the
process group-stops (T).  PTRACE_O_EXITKILL kills the tracee instead.  Nothing is ever left in
a tracing stop ('t').  gdb does exactly this on SIGTERM: every thread stopped with tkill(SIGSTOP)
and waited for, then it exits.

Each tracer is a process of its own (a fresh interpreter), that dies by exiting, SIGTERM or
SIGKILL; the test process only starts the target and looks at /proc afterwards.  Gap 5 is a
named limitation: /proc/PID/status TracerPid names procd, not the tracer (test at the end).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from .procd_helpers import REPO, kill_and_reap

# A target with NTHREADS threads (argv[1]) that all sleep in short slices; prints "ready".
TARGET = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static void *nap(void *a) { (void)a; for (;;) usleep(2000); return 0; }
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1;
    pthread_t t;
    for (int i = 1; i < n; i++) pthread_create(&t, 0, nap, 0);
    printf("ready\n");
    fflush(stdout);
    for (;;) usleep(2000);
}
"""

# The tracer: argv = backend (host|lx), how (traceme|attach|seize), waited (1|0), exitkill (1|0),
# death (exit|term|kill), target path, target pid (attach/seize) or thread count (traceme).
# It takes every thread, lets it run, stops each with tkill(SIGSTOP) as gdb does, waits for
# those stops (waited) or only sees them happen (not waited), prints one JSON line and then
# exits (death=exit) or sleeps for the test to kill it.
TRACER = textwrap.dedent(r"""
    import ctypes, json, os, sys, time
    backend, how, waited, exitkill, death, exe, arg = sys.argv[1:8]
    waited, exitkill = waited == "1", exitkill == "1"
    TRACEME, CONT, ATTACH, SETOPTIONS, SEIZE = 0, 7, 16, 0x4200, 0x4206
    EXITKILL, WALL, SIGSTOP, SIGTRAP = 0x100000, 0x40000000, 19, 5
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    libc.syscall.restype = ctypes.c_long
    if backend == "lx":
        import lxbrand
        def ptrace(req, pid, addr=0, data=0):
            return lxbrand.lx_ptrace(req, pid, addr, data)
        def wait(pid):
            return lxbrand.lx_waitpid(pid, WALL)
    else:
        def ptrace(req, pid, addr=0, data=0):
            r = libc.ptrace(req, pid, addr, data)
            return -ctypes.get_errno() if r == -1 else r
        def wait(pid):
            return os.waitpid(pid, WALL)
    def state(tid):
        with open(f"/proc/{tid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    def check(what, rc):
        if rc != 0:
            print(json.dumps({"error": f"{what}: {rc}"}), flush=True)
            os._exit(3)
    statuses = []
    if how == "traceme":
        pid = os.fork()
        if pid == 0:
            rc = lxbrand.lx_ptrace(TRACEME, 0, 0, 0) if backend == "lx" else libc.ptrace(TRACEME, 0, None, None)
            if rc:
                os._exit(90)
            # the target's "ready" is not the tracer's: only the tracer's JSON is on the pipe
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.execv(exe, [exe, arg])
        _, st = wait(pid)  # the exec SIGTRAP stop
        statuses.append(st)
        if exitkill:
            check("SETOPTIONS", ptrace(SETOPTIONS, pid, 0, EXITKILL))
        check("CONT", ptrace(CONT, pid, 0, 0))
        deadline = time.monotonic() + 10
        while len(os.listdir(f"/proc/{pid}/task")) < int(arg) and time.monotonic() < deadline:
            time.sleep(0.01)
        tids = [pid]
    else:
        pid = int(arg)
        tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
        tids.remove(pid)
        tids.insert(0, pid)  # the leader first, as gdb attaches
        for tid in tids:
            if how == "seize":
                check("SEIZE", ptrace(SEIZE, tid, 0, EXITKILL if exitkill else 0))
                continue
            check("ATTACH", ptrace(ATTACH, tid))
            _, st = wait(tid)  # the attach SIGSTOP
            statuses.append(st)
            if exitkill:
                check("SETOPTIONS", ptrace(SETOPTIONS, tid, 0, EXITKILL))
            check("CONT", ptrace(CONT, tid, 0, 0))
    for tid in tids:
        libc.syscall(234, pid, tid, SIGSTOP)  # tgkill, as gdb stops each thread
    for tid in tids:
        if waited:
            _, st = wait(tid)
            statuses.append(st)
        else:
            deadline = time.monotonic() + 10
            while state(tid) != "t" and time.monotonic() < deadline:
                time.sleep(0.005)
    procd = 0
    if backend == "lx":
        from lxbrand import ptrace as P
        procd = P._procd_pid()
    with open(f"/proc/{pid}/status") as f:
        tracer_pid = next(int(l.split()[1]) for l in f if l.startswith("TracerPid:"))
    print(json.dumps({"pid": pid, "tids": tids, "statuses": statuses, "tracer": os.getpid(),
                      "procd": procd, "tracer_pid_seen": tracer_pid,
                      "states": [state(t) for t in tids]}), flush=True)
    if death == "exit":
        os._exit(0)
    time.sleep(60)
""")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    return env


def _states(pid: int) -> dict[int, tuple[str, int]] | None:
    """(state letter, TracerPid) of each thread; None when the process is gone or a zombie."""
    out = {}
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                st = {k: v.strip() for k, v in (line.split(":", 1) for line in f if ":" in line)}
        except OSError:
            continue
        out[tid] = (st["State"][0], int(st["TracerPid"]))
    if not out or all(s in "ZX" for s, _ in out.values()):
        return None
    return out


_KIND = {"R": "running", "S": "running", "D": "running", "T": "stopped", "t": "traced"}


def _fate(pid: int, tracer: subprocess.Popen, death: str) -> str:
    """Let the tracer die (`death`), then watch the target until nothing traces it any more
    and its state has held for a second: 'killed', 'running', 'stopped', or a mix ('traced'
    for a thread left in a tracing stop, always wrong)."""
    if death == "term":
        tracer.send_signal(signal.SIGTERM)
    elif death == "kill":
        tracer.kill()
    tracer.wait(timeout=30)
    deadline = time.monotonic() + 15
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        st = _states(pid)
        if st is None:
            return "killed"
        kinds = sorted({_KIND.get(s, s) for s, _ in st.values()})
        now = (tuple(kinds), all(t == 0 for _, t in st.values()))
        if now != last:
            last, since = now, time.monotonic()
        elif now[1] and time.monotonic() - since > 1.0:
            return "+".join(kinds)
        time.sleep(0.02)
    return f"unsettled {last}"


def _children(ppid: int) -> list[int]:
    """The pids whose parent is `ppid`."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == ppid:
                out.append(int(p))
    return out


@pytest.fixture
def pids():
    """Every pid a test started (tracers, targets): SIGKILLed and reaped at the end."""
    started: list[int] = []
    yield started
    kill_and_reap(started)


@pytest.fixture(scope="module")
def target(cbuild):
    return str(cbuild(TARGET, "-O0", "-pthread", name="tracer_death_target"))


def run_case(backend: str, how: str, waited: bool, exitkill: bool, death: str, threads: int,
             target: str, pids: list[int]) -> tuple[dict, str]:
    """One tracer's life and death; returns (what the tracer printed, the target's fate)."""
    arg = str(threads)
    if how != "traceme":
        t = subprocess.Popen([target, str(threads)], stdout=subprocess.PIPE, text=True)
        pids.append(t.pid)
        assert t.stdout.readline().strip() == "ready"
        arg = str(t.pid)
    tracer = subprocess.Popen([sys.executable, "-c", TRACER, backend, how, "1" if waited else "0",
                               "1" if exitkill else "0", death, target, arg],
                              env=_env(), stdout=subprocess.PIPE, text=True)
    pids.append(tracer.pid)
    try:
        line = tracer.stdout.readline()
        info = json.loads(line) if line else {"error": f"tracer exited {tracer.wait(timeout=30)}"}
    except BaseException:
        pids.extend(_children(tracer.pid))  # a TRACEME target the tracer could not name yet
        tracer.kill()
        raise
    assert "error" not in info, (backend, info)
    if how == "traceme":
        pids.append(info["pid"])
    return info, _fate(info["pid"], tracer, death)


# (how, waited, exitkill, death, threads) -> the fate Linux gives the target.
CASES = {
    "traceme-waited-dropped": (("traceme", True, False, "kill", 1), "running"),
    "attach-waited-dropped": (("attach", True, False, "kill", 1), "running"),
    "seize-waited-dropped": (("seize", True, False, "exit", 1), "running"),
    "traceme-notwaited-kept": (("traceme", False, False, "kill", 1), "stopped"),
    "attach-notwaited-kept": (("attach", False, False, "exit", 1), "stopped"),
    "seize-notwaited-kept": (("seize", False, False, "kill", 1), "stopped"),
    "seize-exitkill": (("seize", False, True, "exit", 1), "killed"),
    "attach-exitkill-waited": (("attach", True, True, "kill", 1), "killed"),
    "traceme-exitkill": (("traceme", True, True, "term", 1), "killed"),
    "gdb-4threads-sigterm": (("attach", True, False, "term", 4), "running"),
    "gdb-4threads-sigkill": (("attach", True, False, "kill", 4), "running"),
    "4threads-notwaited-kept": (("attach", False, False, "term", 4), "stopped"),
    "seize-4threads-waited": (("seize", True, False, "kill", 4), "running"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_tracer_death_as_linux(name, target, pids):
    """The tracer dies without detaching: lx leaves the target exactly as Linux does (running,
    group-stopped or killed; never a thread in a tracing stop), every thread alike."""
    (how, waited, exitkill, death, threads), expected = CASES[name]
    host_info, host = run_case("host", how, waited, exitkill, death, threads, target, pids)
    assert host == expected, (name, host_info)
    lx_info, lx = run_case("lx", how, waited, exitkill, death, threads, target, pids)
    assert lx == host, (name, lx_info)
    assert len(lx_info["tids"]) == len(host_info["tids"]) == (threads if how != "traceme" else 1)
    # The stops the tracer waited for are the same statuses on both.
    assert lx_info["statuses"] == host_info["statuses"], (host_info, lx_info)


def test_tracer_pid_names_procd(target, pids):
    """Gap 5, a named limitation (docs/limitations.md): on the host a tracee's TracerPid is its
    tracer; on lx the host tracer is procd, so TracerPid names procd (a debugger that reads it,
    as gdb does before attaching, sees "already traced by process <procd>")."""
    host_info, _ = run_case("host", "seize", True, False, "kill", 1, target, pids)
    assert host_info["tracer_pid_seen"] == host_info["tracer"]
    lx_info, _ = run_case("lx", "seize", True, False, "kill", 1, target, pids)
    assert lx_info["procd"] > 0
    assert lx_info["tracer_pid_seen"] == lx_info["procd"] != lx_info["tracer"]
