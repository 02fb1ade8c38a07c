"""SIGCHLD for a TRACEME child's stops, as a Linux tracer gets it from the kernel, and a procd that
sees host events whatever signal mask the process that started it had (issue 15, gap 1).

The tracer is a separate Python process that blocks SIGCHLD (as gdb does around its waits),
forks, and sleeps in sigtimedwait until SIGCHLD comes: on the host and on lx it must be told of
each stop and of the exit, and the WNOHANG wait after each SIGCHLD must find the event."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

TRACER = r"""
import ctypes, json, os, signal, sys
backend = sys.argv[1]
if backend == "lx":
    from lxbrand import lx_ptrace, lx_waitpid
    ptrace = lambda req, pid: lx_ptrace(req, pid, 0, 0)
    waitpid = lx_waitpid
else:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    ptrace = lambda req, pid: libc.ptrace(req, pid, None, None)
    waitpid = lambda pid, opts: os.waitpid(pid, opts)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
pid = os.fork()
if pid == 0:
    ptrace(0, 0)  # TRACEME: on lx this process starts procd, with SIGCHLD blocked
    os.execv("/bin/true", ["true"])
    os._exit(127)
seen = []
for _ in range(4):
    got = signal.sigtimedwait({signal.SIGCHLD}, 20)
    if got is None:
        seen.append("no SIGCHLD within 20 s")
        break
    r = waitpid(pid, os.WNOHANG)
    while r == (0, 0):  # SIGCHLD came first: the report is a moment away? (it must not be)
        seen.append("SIGCHLD before its report")
        r = waitpid(pid, 0)
    seen.append(hex(r[1]))
    if os.WIFEXITED(r[1]) or os.WIFSIGNALED(r[1]):
        break
    ptrace(7, pid)  # CONT
print(json.dumps(seen))
"""


def _run(backend: str, socket: Path) -> list[str]:
    env = dict(os.environ, NATIVE_PROC_SOCKET=str(socket), PYTHONPATH=str(REPO))
    p = subprocess.Popen([sys.executable, "-c", TRACER, backend], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=90)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    assert p.returncode == 0, err
    return json.loads(out)


def test_traceme_stops_and_exit_send_sigchld_as_on_the_host(tmp_path):
    host = _run("host", tmp_path / "unused.sock")
    lx = _run("lx", tmp_path / "procd" / "procd.sock")  # a cold procd, started by the child
    assert host == ["0x57f", "0x0"]  # the exec SIGTRAP, then the exit
    assert lx == host


def test_procd_runs_with_no_signal_blocked(tmp_path):
    """procd started from a process that blocks SIGCHLD and SIGTERM blocks neither."""
    sock = tmp_path / "procd" / "procd.sock"
    script = ("import signal, time, lxbrand\n"
              "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, signal.SIGTERM})\n"
              "lxbrand.ensure_procd()\n"
              "print('up', flush=True)\n"
              "time.sleep(30)\n")
    env = dict(os.environ, NATIVE_PROC_SOCKET=str(sock), PYTHONPATH=str(REPO))
    p = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        assert p.stdout.readline() == "up\n"
        procds = []
        for pid in (x for x in os.listdir("/proc") if x.isdigit()):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"native_proc.procd" in cmd and str(sock).encode() in cmd:
                procds.append(int(pid))
        assert procds, "procd not found"
        for pid in procds:
            fields = dict(l.split(":", 1) for l in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in l)
            assert int(fields["SigBlk"], 16) == 0, fields["SigBlk"]
    finally:
        p.kill()
        p.wait()
