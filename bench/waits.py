"""How fast a stop reaches the tracer's wait, per path (ARCHITECTURE decision 30: no polling on a
wait path), next to the host's figure from the same run.

For each path -- the host's ptrace (Python cffi), lx on a TRACEME child, lx on a SEIZEd target,
lx on an ATTACHed one (the seed's monitor) -- a target looping in getpid is stepped from syscall
stop to syscall stop: SYSCALL, wait, GETREGS.  Printed per path: the median time from the
resume's return to the wait's return (the stop reaching the wait; the tracee's few
instructions to its next call included), and the median loop time per stop.  Targets of the
issues: a seized tracee's stop reaches the wait in < 1 ms median; the lx loop on an ATTACHed or
SEIZEd target within 6x the host loop.  Every loop is bounded in stops and time; every target is
killed by pid in a finally.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import tempfile
import time

import lxbrand
from lxbrand import lx_ptrace, lx_wait4
from native_proc import host
from structs.ptrace_consts import PTRACE

TARGET = r"""
#include <sys/syscall.h>
#include <unistd.h>
int main(void) { for (;;) syscall(SYS_getpid); }
"""
_WALL = 0x40000000
_LIMIT_S = 20.0  # no path may take longer than this, whatever the machine's load


def _build(tmp: str) -> str:
    src, exe = os.path.join(tmp, "loop.c"), os.path.join(tmp, "loop")
    with open(src, "w") as f:
        f.write(TARGET)
    subprocess.run(["gcc", "-O1", "-o", exe, src], check=True)
    return exe


def _spawn(exe: str, traceme: str | None) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            if traceme == "lx":
                lx_ptrace(PTRACE.TRACEME, 0)
            elif traceme == "host":
                host.ptrace(PTRACE.TRACEME, 0)
            os.execv(exe, [exe])
        finally:
            os._exit(127)
    if traceme is None:
        end = time.monotonic() + 10  # until it runs the target (an attach before exec is another case)
        while time.monotonic() < end and os.path.realpath(f"/proc/{pid}/exe") != os.path.realpath(exe):
            time.sleep(0.001)
    return pid


def _loop(pid: int, stops: int, pt, wait) -> tuple[list[float], list[float]]:
    """`stops` SYSCALL/wait/GETREGS rounds: (stop->wait latencies, loop times), seconds."""
    regs = bytearray(216)
    lat, per = [], []
    end = time.monotonic() + _LIMIT_S
    for _ in range(stops):
        t0 = time.perf_counter()
        pt(PTRACE.SYSCALL, pid, 0, 0)
        t1 = time.perf_counter()
        r, st = wait(pid, _WALL)
        t2 = time.perf_counter()
        if r != pid or not os.WIFSTOPPED(st):
            raise RuntimeError(f"wait({pid}) gave {r}, {st:#x}")
        pt(PTRACE.GETREGS, pid, 0, regs)
        per.append(time.perf_counter() - t0)
        lat.append(t2 - t1)
        if time.monotonic() > end:
            break
    return lat, per


def _host_pt(req: int, pid: int, addr: int, data) -> int:
    return host.ptrace(req, pid, addr, host.address(data) if isinstance(data, bytearray) else data)


def _path(exe: str, how: str, stops: int) -> tuple[list[float], list[float]]:
    lx = how != "host"
    pid = _spawn(exe, "lx" if how == "traceme" else "host" if how == "host" else None)
    pt = lx_ptrace if lx else _host_pt
    wait = lx_wait4 if lx else host.wait4
    try:
        if how in ("host", "traceme"):
            wait(pid, 0)  # its exec stop
        elif how == "seize":
            if lx_ptrace(PTRACE.SEIZE, pid, 0, 0) or lx_ptrace(PTRACE.INTERRUPT, pid, 0, 0):
                raise RuntimeError("SEIZE/INTERRUPT failed")
            lx_wait4(pid, _WALL)
        else:  # attach
            if lx_ptrace(PTRACE.ATTACH, pid, 0, 0):
                raise RuntimeError("ATTACH failed")
            lx_wait4(pid, _WALL)
        return _loop(pid, stops, pt, wait)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        end = time.monotonic() + 5
        while time.monotonic() < end:
            try:
                r, st = wait(pid, _WALL | 1)
            except ChildProcessError:
                break
            if r < 0 or (r == pid and not os.WIFSTOPPED(st)):
                break
            if r == pid:
                pt(PTRACE.CONT, pid, 0, 0)
            time.sleep(0.001)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def run(quick: bool) -> None:
    lxbrand.ensure_procd()
    stops = 200 if quick else 2000
    with tempfile.TemporaryDirectory() as tmp:
        exe = _build(tmp)
        figures = {}
        for how in ("host", "traceme", "seize", "attach"):
            lat, per = _path(exe, how, stops)
            figures[how] = (statistics.median(lat) * 1e6, statistics.median(per) * 1e6, len(per))
        host_per = figures["host"][1]
        for how, (lat, per, n) in figures.items():
            target = "  (target < 1000 us)" if how == "seize" else ""
            print(f"  {how:<8} stop reaches the wait: median {lat:9.1f} us{target};"
                  f" loop per stop {per:9.1f} us = {per / host_per:6.1f}x host ({n} stops)")


if __name__ == "__main__":
    import sys

    run("--quick" in sys.argv or os.environ.get("BENCH_QUICK") == "1")
