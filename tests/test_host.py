"""native_proc.host against real processes: C targets compiled by the session `cbuild` fixture."""

from __future__ import annotations

import errno
import os
import signal
import struct
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from native_proc import host

# Linux x86-64 values, local to this test (the project's tables are in structs/).
PTRACE_TRACEME = 0
PTRACE_PEEKTEXT = 1
PTRACE_PEEKDATA = 2
PTRACE_PEEKUSER = 3
PTRACE_POKEDATA = 5
PTRACE_CONT = 7
PTRACE_GETREGS = 12
PTRACE_GETSIGINFO = 0x4202
PTRACE_GETREGSET = 0x4204
NT_PRSTATUS = 1
RIP_INDEX = 16  # struct user_regs_struct: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip
RSP_INDEX = 19
CLD_EXITED = 1
CLD_TRAPPED = 4
PR_GET_DUMPABLE = 3
PR_GET_NAME = 16
NO_SUCH_PID = 0x7FFFFFF0  # above any pid_max

TARGET = r"""
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

volatile unsigned long target_global = 0x1122334455667788UL;
volatile unsigned long target_ones = ~0UL;
volatile unsigned long target_second = 0xa1a2a3a4a5a6a7a8UL;

int main(int argc, char **argv) {
    int traceme = argc > 1 && strcmp(argv[1], "traceme") == 0;
    printf("%lx %lx %lx\n", (unsigned long)&target_global, (unsigned long)&target_ones,
           (unsigned long)&target_second);
    fflush(stdout);
    if (traceme) {
        if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
            return 99;
        raise(SIGSTOP);
        return (int)(target_global & 0xff);   /* 0x88 unless a tracer poked it */
    }
    for (;;)
        pause();
}
"""

GLOBAL_VALUE = 0x1122334455667788
SECOND_VALUE = 0xA1A2A3A4A5A6A7A8


@dataclass
class Target:
    pid: int
    proc: subprocess.Popen
    global_addr: int
    ones_addr: int
    second_addr: int


def _reap(pid: int) -> None:
    """Kill and reap pid (our child), whatever state it is in."""
    try:
        host.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    while True:
        try:
            got, status = host.wait4(pid, 0)
        except ChildProcessError:
            return
        if got == pid and (os.WIFEXITED(status) or os.WIFSIGNALED(status)):
            return


@pytest.fixture(scope="session")
def target_path(cbuild) -> Path:
    return cbuild(TARGET, "-O0", name="hosttarget")


@pytest.fixture
def spawn(target_path):
    """spawn(traceme: bool) -> Target; every target is killed and reaped at teardown."""
    started: list[Target] = []

    def _spawn(traceme: bool) -> Target:
        args = [str(target_path)] + (["traceme"] if traceme else [])
        proc = subprocess.Popen(args, stdout=subprocess.PIPE)
        t = Target(proc.pid, proc, 0, 0, 0)
        started.append(t)
        line = proc.stdout.readline().split()
        t.global_addr, t.ones_addr, t.second_addr = (int(x, 16) for x in line)
        return t

    yield _spawn
    for t in started:
        _reap(t.pid)
        t.proc.returncode = -9  # reaped by us: keep Popen from waiting
        t.proc.stdout.close()


@pytest.fixture
def stopped(spawn) -> Target:
    """A target that did PTRACE_TRACEME + raise(SIGSTOP), its stop already consumed with wait4."""
    t = spawn(True)
    pid, status = host.wait4(t.pid, 0)
    assert pid == t.pid and os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGSTOP
    return t


def _exec_maps(pid: int) -> list[tuple[int, int, str]]:
    out = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split()
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        out.append((lo, hi, parts[1] + " " + (parts[5] if len(parts) > 5 else "")))
    return out


def _mapping_of(pid: int, addr: int) -> str | None:
    for lo, hi, desc in _exec_maps(pid):
        if lo <= addr < hi:
            return desc
    return None


# --- stops and waiting ------------------------------------------------------------------------------

def test_traceme_in_target_stop_seen_by_wait4(spawn):
    t = spawn(True)
    pid, status = host.wait4(t.pid, 0)
    assert pid == t.pid
    assert os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGSTOP


def test_traceme_from_python_fork_then_exec_stop(target_path):
    pid = os.fork()
    if pid == 0:  # child: only async-signal-safe-ish work, then exec or die
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            host.ptrace(PTRACE_TRACEME, 0, 0, 0)
            os.execv(str(target_path), [str(target_path)])
        finally:
            os._exit(127)
    try:
        got, status = host.wait4(pid, 0)
        assert got == pid
        assert os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGTRAP  # the exec stop
        regs = bytearray(host.USER_REGS_SIZE)
        host.ptrace(PTRACE_GETREGS, pid, 0, regs)
        rip = struct.unpack_from("<Q", regs, RIP_INDEX * 8)[0]
        assert _mapping_of(pid, rip) is not None  # at the dynamic loader's entry point
    finally:
        _reap(pid)


def test_cont_then_exit_status_from_wait4(stopped):
    assert host.ptrace(PTRACE_CONT, stopped.pid, 0, 0) == 0
    pid, status = host.wait4(stopped.pid, 0)
    assert pid == stopped.pid and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0x88


def test_waitid_reports_exit(stopped):
    host.ptrace(PTRACE_CONT, stopped.pid, 0, 0)  # the target returns 0x88 after its stop
    ev = host.waitid(os.P_PID, stopped.pid, os.WEXITED)
    assert ev is not None
    assert (ev.si_pid, ev.si_signo, ev.si_code, ev.si_status) == (
        stopped.pid, signal.SIGCHLD, CLD_EXITED, 0x88)
    assert ev.si_uid == os.getuid()
    assert len(ev.raw) == host.SIGINFO_SIZE
    assert struct.unpack_from("<iii", ev.raw) == (signal.SIGCHLD, 0, CLD_EXITED)


def test_waitid_sees_trapped_stop(spawn):
    t = spawn(True)
    ev = host.waitid(os.P_PID, t.pid, os.WEXITED | os.WSTOPPED | os.WNOWAIT)
    assert ev is not None
    assert (ev.si_pid, ev.si_signo, ev.si_code, ev.si_status) == (
        t.pid, signal.SIGCHLD, CLD_TRAPPED, signal.SIGSTOP)
    # WNOWAIT left it waitable: wait4 consumes the same stop.
    pid, status = host.wait4(t.pid, 0)
    assert pid == t.pid and os.WSTOPSIG(status) == signal.SIGSTOP


def test_waitid_wnohang_on_running_child_is_no_event(spawn):
    t = spawn(False)
    assert host.waitid(os.P_PID, t.pid, os.WEXITED | os.WNOHANG) is None
    assert host.wait4(t.pid, os.WNOHANG) == (0, 0)


def test_waitid_and_wait4_on_non_child_echild():
    with pytest.raises(ChildProcessError) as ei:
        host.waitid(os.P_PID, 1, os.WEXITED | os.WNOHANG)
    assert ei.value.errno == errno.ECHILD and "waitid" in str(ei.value)
    with pytest.raises(OSError) as ei:
        host.wait4(1, os.WNOHANG)
    assert ei.value.errno == errno.ECHILD and "wait4" in str(ei.value)


def test_waitid_bad_options_einval():
    with pytest.raises(OSError) as ei:
        host.waitid(os.P_PID, os.getpid(), 0)  # no WEXITED/WSTOPPED/WCONTINUED
    assert ei.value.errno == errno.EINVAL


# --- peek / poke --------------------------------------------------------------------------------------

def test_peekdata_both_conventions(stopped):
    pid, addr = stopped.pid, stopped.global_addr
    # glibc convention: the word is the return value
    assert host.peek(PTRACE_PEEKDATA, pid, addr) == GLOBAL_VALUE
    assert host.peek(PTRACE_PEEKTEXT, pid, addr) == GLOBAL_VALUE
    assert host.libc_ptrace(PTRACE_PEEKDATA, pid, addr, 0) == GLOBAL_VALUE
    # raw syscall convention: returns 0, the word lands at data (int address or buffer form)
    out = host.buffer(8)
    assert host.ptrace(PTRACE_PEEKDATA, pid, addr, host.address(out)) == 0
    assert int.from_bytes(host.ffi.buffer(out), "little") == GLOBAL_VALUE
    ba = bytearray(8)
    assert host.ptrace(PTRACE_PEEKDATA, pid, addr, ba) == 0
    assert int.from_bytes(ba, "little") == GLOBAL_VALUE
    # a word of all ones is -1 in both conventions, and is not an error
    assert host.peek(PTRACE_PEEKDATA, pid, stopped.ones_addr) == -1
    assert host.libc_ptrace(PTRACE_PEEKDATA, pid, stopped.ones_addr, 0) == -1


def test_pokedata_writes_and_target_sees_it(stopped):
    pid = stopped.pid
    assert host.ptrace(PTRACE_POKEDATA, pid, stopped.global_addr, 42) == 0
    assert host.peek(PTRACE_PEEKDATA, pid, stopped.global_addr) == 42
    # negative / high-bit values go in as their 64-bit pattern
    host.ptrace(PTRACE_POKEDATA, pid, stopped.second_addr, -2)
    assert host.peek(PTRACE_PEEKDATA, pid, stopped.second_addr) == -2
    host.ptrace(PTRACE_POKEDATA, pid, stopped.second_addr, SECOND_VALUE)
    assert host.peek(PTRACE_PEEKDATA, pid, stopped.second_addr) & (2**64 - 1) == SECOND_VALUE
    host.ptrace(PTRACE_CONT, pid, 0, 0)
    got, status = host.wait4(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 42


def test_peek_unmapped_eio(stopped):
    for call in (lambda: host.peek(PTRACE_PEEKDATA, stopped.pid, 8),
                 lambda: host.ptrace(PTRACE_PEEKDATA, stopped.pid, 8, bytearray(8)),
                 lambda: host.libc_ptrace(PTRACE_PEEKDATA, stopped.pid, 8, 0)):
        with pytest.raises(OSError) as ei:
            call()
        assert ei.value.errno == errno.EIO
        assert "PTRACE_PEEKDATA" in str(ei.value)
    # high (kernel-half) addresses are accepted as unsigned and fail the same way
    with pytest.raises(OSError) as ei:
        host.peek(PTRACE_PEEKDATA, stopped.pid, 0xFFFFFFFFFFFFF000)
    assert ei.value.errno == errno.EIO


def test_peek_refuses_other_requests(stopped):
    with pytest.raises(ValueError):
        host.peek(PTRACE_GETREGS, stopped.pid, 0)  # would overflow the 8-byte word


def test_ptrace_only_from_the_tracer_thread(stopped):
    box = {}

    def other():
        try:
            host.peek(PTRACE_PEEKDATA, stopped.pid, stopped.global_addr)
        except OSError as e:
            box["errno"] = e.errno

    th = threading.Thread(target=other)
    th.start()
    th.join()
    assert box.get("errno") == errno.ESRCH
    assert host.peek(PTRACE_PEEKDATA, stopped.pid, stopped.global_addr) == GLOBAL_VALUE


# --- registers and siginfo ----------------------------------------------------------------------------

def test_getregs_int_address_and_bytearray(stopped):
    pid = stopped.pid
    cbuf = host.buffer(host.USER_REGS_SIZE)
    assert host.ptrace(PTRACE_GETREGS, pid, 0, host.address(cbuf)) == 0
    regs_c = bytes(host.ffi.buffer(cbuf))
    regs_b = bytearray(host.USER_REGS_SIZE)
    assert host.ptrace(PTRACE_GETREGS, pid, 0, regs_b) == 0
    assert regs_c == bytes(regs_b)
    rip = struct.unpack_from("<Q", regs_b, RIP_INDEX * 8)[0]
    rsp = struct.unpack_from("<Q", regs_b, RSP_INDEX * 8)[0]
    where = _mapping_of(pid, rip)
    assert where is not None and where.startswith("r-x")  # stopped in raise() -> libc text
    assert "[stack]" in (_mapping_of(pid, rsp) or "")
    # PEEKUSER at offsetof(struct user, regs.rip) agrees
    assert host.peek(PTRACE_PEEKUSER, pid, RIP_INDEX * 8) & (2**64 - 1) == rip
    # GETREGSET NT_PRSTATUS through a struct iovec gives the same bytes and updates iov_len
    big = bytearray(512)
    iov = host.iovec(big)
    assert host.ptrace(PTRACE_GETREGSET, pid, NT_PRSTATUS, iov) == 0
    assert iov.iov_len == host.USER_REGS_SIZE
    assert bytes(big[: host.USER_REGS_SIZE]) == regs_c
    # the kernel writes into caller memory: read-only buffers are refused before the call
    with pytest.raises(BufferError):
        host.ptrace(PTRACE_GETREGS, pid, 0, bytes(host.USER_REGS_SIZE))


def test_getsiginfo_of_signal_stop(stopped):
    si = bytearray(host.SIGINFO_SIZE)
    host.ptrace(PTRACE_GETSIGINFO, stopped.pid, 0, si)
    signo, _errno, code = struct.unpack_from("<iii", si)
    assert signo == signal.SIGSTOP
    assert code == -6  # SI_TKILL: raise() uses tgkill
    sender_pid = struct.unpack_from("<i", si, 16)[0]
    assert sender_pid == stopped.pid


# --- errors on the wrong process ----------------------------------------------------------------------

def test_ptrace_nonexistent_pid_esrch():
    with pytest.raises(ProcessLookupError) as ei:
        host.ptrace(PTRACE_PEEKDATA, NO_SUCH_PID, 0, bytearray(8))
    assert ei.value.errno == errno.ESRCH
    with pytest.raises(ProcessLookupError):
        host.peek(PTRACE_PEEKDATA, NO_SUCH_PID, 0)
    with pytest.raises(ProcessLookupError):
        host.ptrace(PTRACE_CONT, NO_SUCH_PID, 0, 0)


def test_ptrace_running_untraced_esrch(spawn):
    t = spawn(False)
    for call in (lambda: host.peek(PTRACE_PEEKDATA, t.pid, t.global_addr),
                 lambda: host.ptrace(PTRACE_GETREGS, t.pid, 0, bytearray(host.USER_REGS_SIZE)),
                 lambda: host.ptrace(PTRACE_CONT, t.pid, 0, 0)):
        with pytest.raises(OSError) as ei:
            call()
        assert ei.value.errno == errno.ESRCH


def test_kill_bad_signal_einval_and_probe(spawn):
    t = spawn(False)
    host.kill(t.pid, 0)  # existence probe
    with pytest.raises(OSError) as ei:
        host.kill(t.pid, 1000)
    assert ei.value.errno == errno.EINVAL and "kill" in str(ei.value)
    with pytest.raises(ProcessLookupError):
        host.kill(NO_SUCH_PID, 0)


def test_tgkill_and_tkill(spawn):
    t = spawn(False)
    host.tgkill(t.pid, t.pid, 0)
    host.tkill(t.pid, 0)
    with pytest.raises(ProcessLookupError) as ei:
        host.tgkill(t.pid, os.getpid(), 0)  # a real tid, but not in that thread group
    assert ei.value.errno == errno.ESRCH and "tgkill" in str(ei.value)
    with pytest.raises(ProcessLookupError):
        host.tkill(NO_SUCH_PID, 0)
    with pytest.raises(OSError) as ei:
        host.tgkill(t.pid, t.pid, 1000)
    assert ei.value.errno == errno.EINVAL


# --- remote memory ------------------------------------------------------------------------------------

@pytest.mark.parametrize("traced", [False, True])
def test_process_vm_readv(spawn, traced):
    t = spawn(traced)
    if traced:
        host.wait4(t.pid, 0)
    data = host.process_vm_readv(t.pid, t.global_addr, 8)
    assert int.from_bytes(data, "little") == GLOBAL_VALUE
    into = bytearray(8)
    assert host.process_vm_readv_into(t.pid, t.ones_addr, into) == 8 and into == b"\xff" * 8
    a, b = bytearray(8), bytearray(8)
    n = host.process_vm_readv_iov(t.pid, [a, b], [(t.global_addr, 8), (t.second_addr, 8)])
    assert n == 16
    assert int.from_bytes(a, "little") == GLOBAL_VALUE and int.from_bytes(b, "little") == SECOND_VALUE


def test_process_vm_readv_unmapped_efault(spawn):
    t = spawn(False)
    with pytest.raises(OSError) as ei:
        host.process_vm_readv(t.pid, 8, 8)
    assert ei.value.errno == errno.EFAULT and "process_vm_readv" in str(ei.value)
    with pytest.raises(ProcessLookupError):
        host.process_vm_readv(NO_SUCH_PID, t.global_addr, 8)


def test_process_vm_writev(stopped):
    pid = stopped.pid
    assert host.process_vm_writev(pid, stopped.global_addr, (7).to_bytes(8, "little")) == 8
    assert host.peek(PTRACE_PEEKDATA, pid, stopped.global_addr) == 7
    n = host.process_vm_writev_iov(pid, [b"\x01" * 8, b"\x02" * 8],
                                   [(stopped.global_addr, 8), (stopped.second_addr, 8)])
    assert n == 16
    assert host.peek(PTRACE_PEEKDATA, pid, stopped.second_addr) == 0x0202020202020202
    with pytest.raises(OSError) as ei:
        host.process_vm_writev(pid, 8, b"x")
    assert ei.value.errno == errno.EFAULT
    host.process_vm_writev(pid, stopped.global_addr, b"\x05")
    host.ptrace(PTRACE_CONT, pid, 0, 0)
    _, status = host.wait4(pid, 0)
    assert os.WEXITSTATUS(status) == 5


# --- process attributes -------------------------------------------------------------------------------

def test_personality_query_returns_current():
    current = int(Path("/proc/self/personality").read_text(), 16)
    assert host.personality(0xFFFFFFFF) == current


def test_prctl():
    assert host.prctl(PR_GET_DUMPABLE) == 1
    name = bytearray(16)
    assert host.prctl(PR_GET_NAME, name) == 0
    comm = Path(f"/proc/self/task/{host.gettid()}/comm").read_text().rstrip("\n")
    assert name.split(b"\0")[0].decode() == comm
    with pytest.raises(OSError) as ei:
        host.prctl(0x7FFF_0000)
    assert ei.value.errno == errno.EINVAL and "prctl" in str(ei.value)


def test_gettid():
    assert host.gettid() == threading.get_native_id()
    box = {}
    th = threading.Thread(target=lambda: box.update(tid=host.gettid(), nid=threading.get_native_id()))
    th.start()
    th.join()
    assert box["tid"] == box["nid"] != host.gettid()
