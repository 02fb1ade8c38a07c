"""Issue 3 targets, same-run ratios against the host binding:
lwpstatus read of a stopped LWP <= 40 us; `as` pread of 8 bytes <= 2x the host's pread of
/proc/<pid>/mem; a truss-style loop (PCSENTRY/PCSEXIT all, PCRUN+PCWSTOP in one write, lwpstatus
read at every stop) <= 3x a raw PTRACE_SYSCALL + wait + GETREGS loop; 1,000 sleeping processes
controlled at once, with procd's memory per process."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import tempfile
import time

import native_proc.client as npc
from bench.timing import per_call_us, report
from native_proc import host
from structs.ctl import encode_ctl
from structs.procfs_consts import PC
from structs.ptrace_consts import PTRACE

TARGET = r"""
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = atol(argv[1]);
    char c;
    if (argc > 2 && !strcmp(argv[2], "traceme")) { ptrace(PTRACE_TRACEME, 0, 0, 0); raise(SIGSTOP); }
    else if (read(0, &c, 1) != 1) return 2;
    for (long i = 0; i < n; i++) syscall(SYS_getpid);
    return 0;
}
"""
ALL_SYSCALLS = {"word": [0xFFFFFFFF] * 16}


def _build(tmp: str) -> str:
    src, exe = os.path.join(tmp, "t.c"), os.path.join(tmp, "t")
    with open(src, "w") as f:
        f.write(TARGET)
    subprocess.run(["gcc", "-O1", "-o", exe, src], check=True)
    return exe


def _host_loop(exe: str, n: int) -> float:
    """Microseconds per syscall stop for PTRACE_SYSCALL + wait4 + GETREGS on a TRACEME child."""
    pid = os.fork()
    if pid == 0:
        os.execv(exe, [exe, str(n), "traceme"])
    host.wait4(pid, 0)
    regs = host.buffer(216)
    addr = host.address(regs)
    stops = 0
    t0 = time.perf_counter()
    while True:
        host.ptrace(PTRACE.SYSCALL, pid, 0, 0)
        _, st = host.wait4(pid, 0)
        if os.WIFEXITED(st) or os.WIFSIGNALED(st):
            break
        host.ptrace(PTRACE.GETREGS, pid, 0, addr)
        stops += 1
    return (time.perf_counter() - t0) / max(stops, 1) * 1e6


def _proc_loop(exe: str, n: int) -> float:
    """The same loop through native_proc: one write (PCRUN + PCWSTOP) and one lwpstatus read per stop."""
    p = subprocess.Popen([exe, str(n)], stdin=subprocess.PIPE)
    ctl = npc.open(f"{p.pid}/ctl", os.O_WRONLY)
    ctl.write(encode_ctl("amd64", [(PC.PCSET, 0x200000), (PC.PCSTOP, None), (PC.PCSENTRY, ALL_SYSCALLS),
                                    (PC.PCSEXIT, ALL_SYSCALLS)]))
    st = npc.open(f"{p.pid}/lwp/1/lwpstatus")
    run_wait = encode_ctl("amd64", [(PC.PCRUN, 0), (PC.PCWSTOP, None)])
    p.stdin.write(b"g")
    p.stdin.flush()
    stops = 0
    t0 = time.perf_counter()
    try:
        while True:
            ctl.write(run_wait)
            st.pread(2048, 0)
            stops += 1
    except FileNotFoundError:
        pass  # the target exited
    elapsed = time.perf_counter() - t0
    ctl.close()
    st.close()
    p.wait()
    return elapsed / max(stops, 1) * 1e6


def _procd_rss_kb() -> int:
    s = npc._session.get()
    pid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _many(count: int) -> None:
    base = _procd_rss_kb()
    procs = [subprocess.Popen(["sleep", "120"]) for _ in range(count)]
    files = []
    t0 = time.perf_counter()
    try:
        for p in procs:
            f = npc.open(f"{p.pid}/ctl", os.O_WRONLY)
            f.write(encode_ctl("amd64", [(PC.PCSET, 0x200000), (PC.PCSTRACE, {"__sigbits": b"\x01" + bytes(15)})]))
            files.append(f)
        elapsed = time.perf_counter() - t0
        rss = _procd_rss_kb()
        print(f"  procd controls {count} sleeping processes: took control in {elapsed:.2f} s; "
              f"procd RSS {base} -> {rss} KB, {(rss - base) / count:.1f} KB per process")
    finally:
        for f in files:
            f.close()
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def run(quick: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        exe = _build(tmp)
        p = subprocess.Popen(["sleep", "60"])
        try:
            ctl = npc.open(f"{p.pid}/ctl", os.O_WRONLY)
            ctl.write(encode_ctl("amd64", [(PC.PCSET, 0x200000), (PC.PCSTOP, None)]))
            st = npc.open(f"{p.pid}/lwp/1/lwpstatus")
            n = 500 if quick else 5000
            report("lwpstatus read, stopped LWP", per_call_us(lambda: st.pread(2048, 0), n), 40)
            with open(f"/proc/{p.pid}/maps") as m:
                addr = int(m.readline().split("-")[0], 16)
            a = npc.open(f"{p.pid}/as")
            fd = os.open(f"/proc/{p.pid}/mem", os.O_RDONLY)
            ours = per_call_us(lambda: a.pread(8, addr), n)
            theirs = per_call_us(lambda: os.pread(fd, 8, addr), n)
            report("as pread 8 bytes", ours)
            report("host pread of /proc/<pid>/mem, 8 bytes", theirs)
            print(f"  as/host ratio {ours / theirs:.2f} (target <= 2)")
            os.close(fd)
            for f in (a, st, ctl):
                f.close()
        finally:
            p.kill()
            p.wait()
        n = 300 if quick else 3000
        h = _host_loop(exe, n)
        ours = _proc_loop(exe, n)
        report("host loop: PTRACE_SYSCALL + wait4 + GETREGS, per stop", h)
        report("truss loop: PCRUN+PCWSTOP write + lwpstatus read, per stop", ours)
        print(f"  truss/host ratio {ours / h:.2f} (target <= 3)")
        _many(100 if quick else 1000)
