"""A real strace on lx (`lxbrand run`) against the same strace on the host, from the same run.

The program makes 2,000 getppid calls (4,000 syscall stops under strace).  Printed, best of a
few runs each, pinned to one CPU and not: the host's `strace -f -o /dev/null PROG`, the same
under `lxbrand run`, that one's start-up alone (`strace` on /bin/true: Python in the debugger,
procd), and the ratio of lx to the host with and without the start-up.  The target of issue 15:
within 3x of the host.  Every run is bounded in time and killed with its process group when it
overruns.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PROGRAM = r"""
#include <sys/syscall.h>
#include <unistd.h>
int main(void) { for (int i = 0; i < 2000; i++) syscall(SYS_getppid); return 0; }
"""
_LIMIT_S = 120.0


def _seconds(argv: list[str], env: dict[str, str]) -> float:
    """Wall time of one run of argv (its process group killed if it overruns)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        rc = p.wait(timeout=_LIMIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise RuntimeError(f"{argv} took more than {_LIMIT_S:g} s")
    if rc != 0:
        raise RuntimeError(f"{argv} exited {rc}")
    return time.perf_counter() - t0


def _best(argv: list[str], env: dict[str, str], n: int) -> float:
    return min(_seconds(argv, env) for _ in range(n))


def run(quick: bool) -> None:
    if not shutil.which("strace") or not shutil.which("gcc"):
        print("  (strace or gcc missing: skipped)")
        return
    n = 2 if quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "calls.c"), os.path.join(tmp, "calls")
        with open(src, "w") as f:
            f.write(PROGRAM)
        subprocess.run(["gcc", "-O1", "-o", exe, src], check=True)
        # a procd and a glue cache of the benchmark's own, so that nothing else's state counts
        env = dict(os.environ, NATIVE_PROC_SOCKET=os.path.join(tmp, "procd", "procd.sock"),
                   XDG_CACHE_HOME=os.path.join(tmp, "cache"))
        lx = [sys.executable, "-m", "lxbrand.cli", "run", "--"]
        strace = ["strace", "-f", "-o", "/dev/null"]
        _seconds(lx + strace + ["/bin/true"], env)  # compiles the glue once
        for pinned in (False, True):
            pin = ["taskset", "-c", "0"] if pinned and shutil.which("taskset") else []
            label = "pinned to CPU 0" if pin else "not pinned"
            host = _best(pin + strace + [exe], env, n)
            on_lx = _best(pin + lx + strace + [exe], env, n)
            start = _best(pin + lx + strace + ["/bin/true"], env, n)
            print(f"  strace -f, 2,000 calls, {label}: host {host * 1e3:8.1f} ms   lx {on_lx * 1e3:8.1f} ms"
                  f"   (lx start-up {start * 1e3:6.1f} ms)")
            print(f"    ratio lx/host {on_lx / host:6.1f}x whole run, {max(on_lx - start, 0) / host:6.1f}x"
                  f" without the start-up  (target <= 3x: {'met' if on_lx <= 3 * host else 'MISSED'})")
