"""Blocking lx waits on real processes: no polling on the monitor and seize paths (decision 30),
EINTR when a handler of the tracer ran, SIGCHLD to the tracer for a TRACEME child's stops.

Each case runs in a forked tracer process (a wait that went wrong must not hang or disturb the
test process); the test waits for its answer a bounded time and kills it by pid in a finally.
The targets end themselves within seconds whatever happens.
"""

from __future__ import annotations

import json
import os
import select
import signal
import time

import pytest

TARGET = r"""
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
/* argv[1]: milliseconds to sleep before raising SIGUSR1; then sleep 5 s at most and exit 0 */
static void on(int s) { (void)s; }
int main(int argc, char **argv) {
    signal(SIGUSR1, on);
    usleep(atoi(argv[1]) * 1000);
    kill(getpid(), SIGUSR1);
    sleep(5);
    return 0;
}
"""
ANSWER_S = 30.0  # how long the test waits for a tracer's answer (the host needs < 1 s)


def _in_tracer(fn, *args) -> dict:
    """Run fn(*args) -> dict in a forked tracer; its answer, or a failure naming the wait."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the tracer
        code = 0
        try:
            os.close(r)
            os.write(w, json.dumps(fn(*args)).encode())
        except BaseException as e:  # noqa: BLE001
            os.write(w, json.dumps({"error": repr(e)}).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    try:
        data = b""
        end = time.monotonic() + ANSWER_S
        while time.monotonic() < end:
            ready, _, _ = select.select([r], [], [], max(0.0, end - time.monotonic()))
            if not ready:
                break
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
        assert data, f"the tracer gave no answer within {ANSWER_S:g} s"
        return json.loads(data)
    finally:
        os.close(r)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)


def _target(exe: str, ms: int) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover
        try:
            os.execv(exe, [exe, str(ms)])
        finally:
            os._exit(127)
    end = time.monotonic() + 10  # until it runs the target (bounded; generous for a busy machine)
    while time.monotonic() < end:
        try:
            if os.readlink(f"/proc/{pid}/exe") == os.path.realpath(exe):
                return pid
        except OSError:
            pass
        time.sleep(0.002)
    raise TimeoutError(f"{exe} did not start within 10 s")


def _take(how: str, pid: int) -> None:
    from lxbrand import lx_ptrace, lx_wait4

    if how == "attach":
        assert lx_ptrace(16, pid) == 0
        ret, st = lx_wait4(pid, 0)
        assert (ret, st) == (pid, 0x137F), (ret, hex(st))
        assert lx_ptrace(7, pid, 0, 0) == 0
    else:
        assert lx_ptrace(0x4206, pid, 0, 0) == 0  # SEIZE: it runs on


def _kill(pid: int) -> None:
    from lxbrand import lx_wait4

    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    end = time.monotonic() + 5
    while time.monotonic() < end:
        ret, st = lx_wait4(pid, 1)
        if ret != 0 and (ret < 0 or not os.WIFSTOPPED(st)):
            break
        time.sleep(0.005)
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _idle_wait(exe: str, how: str) -> dict:
    from lxbrand import lx_wait4

    pid = _target(exe, 600)
    try:
        _take(how, pid)
        ret, st = lx_wait4(pid, 0)  # blocks ~0.6 s until the SIGUSR1 stop
        return {"ok": ret == pid, "status": st}
    finally:
        _kill(pid)


@pytest.mark.parametrize("how", ["attach", "seize"])
def test_a_blocking_wait_sleeps_until_the_stop(cbuild, how):
    """A blocking wait on a monitored or seized tracee that stops 0.6 s later returns that stop
    (the wait holds no slices any more: nothing but procd's answer or a SIGCHLD wakes it; how
    fast the stop arrives is bench/waits.py's figure, not a timed assertion)."""
    exe = str(cbuild(TARGET, "-O1", name="usr1-later"))
    got = _in_tracer(_idle_wait, exe, how)
    assert got.get("ok"), got
    assert got["status"] == (signal.SIGUSR1 << 8) | 0x7F, got


def _interrupted_wait(exe: str, how: str) -> dict:
    from lxbrand import lx_wait4

    pid = _target(exe, 3000)
    ran = []
    try:
        _take(how, pid)
        signal.signal(signal.SIGALRM, lambda *_: ran.append(1))
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        t0 = time.monotonic()
        ret, st = lx_wait4(pid, 0)
        return {"ret": ret, "status": st, "handler_ran": bool(ran), "after": time.monotonic() - t0}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _kill(pid)


@pytest.mark.parametrize("how", ["attach", "seize"])
def test_a_handler_interrupts_a_blocking_wait(cbuild, how):
    """SIGALRM with a handler while the tracer blocks in lx_wait4: (-EINTR, 0), the handler has
    run (Linux's wait4 answers EINTR; lx does not retry it away as PEP 475 would)."""
    import errno

    exe = str(cbuild(TARGET, "-O1", name="usr1-later"))
    got = _in_tracer(_interrupted_wait, exe, how)
    assert got.get("ret") == -errno.EINTR, got
    assert got["handler_ran"], got
