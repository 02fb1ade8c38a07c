"""Issue 4 targets, same-run ratios against the host's ptrace through cffi: PEEKDATA <= 2x,
GETREGS <= 4x, and an strace-style loop (SYSCALL, wait, GETREGS at each stop) <= 3x, all on
TRACEME targets (ARCHITECTURE item 22)."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time

import lxbrand
from bench.timing import per_call_us, report
from lxbrand import lx_ptrace, lx_wait4
from native_proc import host
from structs.ptrace_consts import PTRACE

TARGET = r"""
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = atol(argv[1]);
    for (long i = 0; i < n; i++) syscall(SYS_getpid);
    return 0;
}
"""


def _build(tmp: str) -> str:
    src, exe = os.path.join(tmp, "t.c"), os.path.join(tmp, "t")
    with open(src, "w") as f:
        f.write(TARGET)
    subprocess.run(["gcc", "-O1", "-o", exe, src], check=True)
    return exe


def _start(exe: str, n: int, lx: bool) -> int:
    """A TRACEME child stopped at its exec (through the host or through lx_ptrace)."""
    pid = os.fork()
    if pid == 0:
        if lx:
            lx_ptrace(PTRACE.TRACEME, 0)
        else:
            host.ptrace(PTRACE.TRACEME, 0)
        os.execv(exe, [exe, str(n)])
    if lx:
        lx_wait4(pid)
    else:
        host.wait4(pid)
    return pid


def _finish(pid: int, lx: bool) -> None:
    os.kill(pid, signal.SIGKILL)
    if lx:
        lx_wait4(pid)
    else:
        host.wait4(pid)


def _loop_host(pid: int) -> tuple[int, float]:
    regs = host.buffer(216)
    addr = host.address(regs)
    stops, t0 = 0, time.perf_counter()
    while True:
        host.ptrace(PTRACE.SYSCALL, pid, 0, 0)
        _, st = host.wait4(pid)
        if not os.WIFSTOPPED(st):
            break
        host.ptrace(PTRACE.GETREGS, pid, 0, addr)
        stops += 1
    return stops, time.perf_counter() - t0


def _loop_lx(pid: int) -> tuple[int, float]:
    regs = bytearray(216)
    stops, t0 = 0, time.perf_counter()
    while True:
        lx_ptrace(PTRACE.SYSCALL, pid, 0, 0)
        _, st = lx_wait4(pid)
        if not os.WIFSTOPPED(st):
            break
        lx_ptrace(PTRACE.GETREGS, pid, 0, regs)
        stops += 1
    return stops, time.perf_counter() - t0


def run(quick: bool) -> None:
    lxbrand.ensure_procd()
    n = 2000 if quick else 20000
    with tempfile.TemporaryDirectory() as tmp:
        exe = _build(tmp)
        hp, lp = _start(exe, 10, False), _start(exe, 10, True)
        try:
            with open(f"/proc/{hp}/maps") as m:
                haddr = int(m.readline().split("-")[0], 16)
            with open(f"/proc/{lp}/maps") as m:
                laddr = int(m.readline().split("-")[0], 16)
            word = bytearray(8)
            hbuf = host.buffer(216)
            hregs = host.address(hbuf)
            lregs = bytearray(216)
            h = per_call_us(lambda: host.peek(PTRACE.PEEKDATA, hp, haddr), n)
            x = per_call_us(lambda: lx_ptrace(PTRACE.PEEKDATA, lp, laddr, word), n)
            report("host PEEKDATA", h)
            report("lx_ptrace PEEKDATA", x)
            print(f"  PEEKDATA ratio {x / h:.2f} (target <= 2)")
            h = per_call_us(lambda: host.ptrace(PTRACE.GETREGS, hp, 0, hregs), n)
            x = per_call_us(lambda: lx_ptrace(PTRACE.GETREGS, lp, 0, lregs), n)
            report("host GETREGS", h)
            report("lx_ptrace GETREGS", x)
            print(f"  GETREGS ratio {x / h:.2f} (target <= 4)")
        finally:
            _finish(hp, False)
            _finish(lp, True)
        calls = 300 if quick else 3000
        hs, ht = _loop_host(_start(exe, calls, False))
        ls, lt = _loop_lx(_start(exe, calls, True))
        report("host loop per syscall stop", ht / hs * 1e6)
        report("lx loop per syscall stop", lt / ls * 1e6)
        print(f"  strace-style loop ratio {(lt / ls) / (ht / hs):.2f} (target <= 3)")
