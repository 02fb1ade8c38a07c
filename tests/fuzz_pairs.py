"""Pairs of tracees for differential tests: the same small C program, traced once by the host
kernel (this process as its ptrace tracer) and once by lx_ptrace, held at the same kind of stop.

A call is described symbolically (`Call`) and materialised separately for each side, so each
gets its own buffers with the same contents and addresses that mean the same thing (the targets
run without address-space randomisation, so their code and data lie at the same addresses).
"""

from __future__ import annotations

import errno
import os
import signal
import struct
from dataclasses import dataclass
from typing import Any, Callable

from lxbrand import lx_ptrace, lx_wait4
from native_proc import host
from structs.ptrace_consts import PTRACE

ADDR_NO_RANDOMIZE = 0x0040000

# The target: the words it prints are at fixed addresses (no ASLR), `word` a known value.
TARGET = r"""
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
volatile long counter;
volatile unsigned long word = 0x1122334455667788UL;
static void on_usr1(int s) { (void)s; counter += 1000; }
int main(void) {
    signal(SIGUSR1, on_usr1);
    printf("ready %p\n", (void *)&word);
    fflush(stdout);
    alarm(60);  /* bounded even if every finalizer failed */
    for (;;) { counter++; syscall(SYS_getpid); usleep(1000); }
}
"""

KINDS = ("traceme", "attach", "syscall", "seize")


def _readline(fd: int) -> bytes:
    line = b""
    for _ in range(200):
        if line.endswith(b"\n"):
            break
        chunk = os.read(fd, 100)
        if not chunk:
            break
        line += chunk
    return line


class Side:
    """One traced copy of the target: `api` is "host" or "lx"."""

    def __init__(self, api: str, exe: str, kind: str) -> None:
        self.api, self.exe, self.kind = api, exe, kind
        self.pid = 0
        self.word = 0
        self._start()

    # -- the two ptraces, one convention: the raw call's value or -errno --------------------
    def call(self, req: int, pid: int, addr: Any, data: Any) -> int:
        if self.api == "lx":
            return lx_ptrace(req, pid, addr, data)
        try:
            return host.ptrace(req, pid, addr, data)
        except OSError as e:
            return -e.errno

    def wait(self) -> int:
        if self.api == "lx":
            p, st = lx_wait4(self.pid, 0x40000000)  # __WALL
        else:
            p, st = host.wait4(self.pid, 0x40000000)
        assert p == self.pid, (self.api, self.kind, p, st)
        return st

    def _fork(self, traceme: bool) -> int:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.close(r)
                os.dup2(w, 1)
                host.personality(ADDR_NO_RANDOMIZE)
                if traceme:
                    if self.api == "lx":
                        if lx_ptrace(PTRACE.TRACEME, 0, 0, 0):
                            os._exit(100)
                    else:
                        host.ptrace(PTRACE.TRACEME, 0)
                os.execv(self.exe, [self.exe])
            finally:
                os._exit(101)
        os.close(w)
        self.pid, self._out = pid, r
        return pid

    def _start(self) -> None:
        traceme = self.kind in ("traceme", "syscall")
        self._fork(traceme)
        if traceme:
            assert self.wait() == 0x57F  # the exec SIGTRAP
            if self.kind == "syscall":
                assert self.call(PTRACE.SYSCALL, self.pid, 0, 0) == 0
                assert os.WSTOPSIG(self.wait()) == signal.SIGTRAP  # the first entry stop
            return
        self.word = int(_readline(self._out).split()[1], 16)
        if self.kind == "attach":
            assert self.call(PTRACE.ATTACH, self.pid, 0, 0) == 0
            assert os.WSTOPSIG(self.wait()) == signal.SIGSTOP
        else:
            assert self.call(PTRACE.SEIZE, self.pid, 0, 0) == 0
            assert self.call(PTRACE.INTERRUPT, self.pid, 0, 0) == 0
            assert self.wait() >> 8 == signal.SIGTRAP | 0x80 << 8  # PTRACE_EVENT_STOP

    def close(self) -> None:
        """Kill and reap the target (whatever state it is in)."""
        if not self.pid:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.api == "lx":
            for _ in range(5):  # a tracee stopping in its EXIT event: let it finish
                try:
                    p, st = lx_wait4(self.pid, 0x40000000)
                except OSError:
                    break
                if p <= 0 or not os.WIFSTOPPED(st):
                    break
                lx_ptrace(PTRACE.CONT, self.pid, 0, 0)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        os.close(self._out)
        self.pid = 0


# -- calls --------------------------------------------------------------------------------------

NO_SUCH_PID = 0x7FFF_FFF0  # above pid_max: nobody


def _no_such_pid() -> int:
    return NO_SUCH_PID


@dataclass(frozen=True)
class Call:
    """One ptrace call in symbolic form: `pid` names "tracee", "tracee+2^32", "nobody",
    "zero" or "self"; `addr` and `data` are an int, ("word", off) (the target's `word`),
    ("buf", n, fill), ("iov", n, len, fill) (an iovec to a buffer of n bytes) or ("bad",)
    (an unmapped address)."""

    req: int
    pid: str
    addr: Any
    data: Any


_BAD = 8  # an address nothing maps


class Materialised:
    """A call's arguments for one side, with the buffers kept alive and readable after it."""

    def __init__(self, call: Call, side: Side) -> None:
        self.keep: list[Any] = []
        self.outs: list[Any] = []
        self.pid = {"tracee": side.pid, "tracee+2^32": side.pid + (1 << 32), "nobody": NO_SUCH_PID,
                    "zero": 0, "self": os.getpid()}[call.pid]
        self.addr = self._arg(call.addr, side)
        self.data = self._arg(call.data, side)

    def _arg(self, a: Any, side: Side) -> Any:
        if isinstance(a, int):
            return a
        tag = a[0]
        if tag == "bad":
            return _BAD
        if tag == "word":
            return side.word + a[1] if side.word else _word_addr(side) + a[1]
        if tag == "buf":
            b = bytearray(a[2] * a[1])[:a[1]] if a[2] else bytearray(a[1])
            self.outs.append(b)
            return b
        if tag == "iov":
            n, length, fill = a[1], a[2], a[3]
            buf = host.buffer(max(n, 1))
            if fill:
                host.ffi.buffer(buf, n)[:] = (fill * n)[:n]
            # the iovec at the start of a page-sized buffer: a request that takes the data
            # argument for a plain buffer writes into it without overrunning this process's heap
            iov = bytearray(struct.pack("<QQ", host.address(buf), length).ljust(4096, b"\0"))
            self.keep.append(buf)
            self.outs.append((buf, n))
            self.outs.append(iov)
            return iov
        raise AssertionError(a)

    def out_bytes(self) -> list[bytes]:
        res = []
        for o in self.outs:
            if isinstance(o, tuple):
                res.append(bytes(host.ffi.buffer(o[0], o[1])))
            else:
                res.append(bytes(o))
        return res


_word_cache: dict[str, int] = {}


def _word_addr(side: Side) -> int:
    """The target's `word` (the same address in every copy: no ASLR), learnt once from a run."""
    if side.exe not in _word_cache:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.close(r)
                os.dup2(w, 1)
                host.personality(ADDR_NO_RANDOMIZE)
                os.execv(side.exe, [side.exe])
            finally:
                os._exit(101)
        os.close(w)
        try:
            _word_cache[side.exe] = int(_readline(r).split()[1], 16)
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
    return _word_cache[side.exe]


def run(call: Call, side: Side) -> tuple[int, list[bytes]]:
    m = Materialised(call, side)
    rc = side.call(call.req, m.pid, m.addr, m.data)
    return rc, m.out_bytes()


def errname(rc: int) -> str:
    return str(rc) if rc >= 0 else errno.errorcode.get(-rc, str(rc))


__all__ = ["Side", "Call", "run", "TARGET", "KINDS", "errname", "Callable"]
