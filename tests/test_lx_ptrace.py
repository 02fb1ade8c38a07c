"""lx_ptrace and the lx waits on real processes: each request's success and its failures."""

from __future__ import annotations

import errno
import os
import signal
import struct
import subprocess
import time

import pytest

import lxbrand
from lxbrand import lx_ptrace, lx_wait4
from native_proc import host
from structs.fields import offsetof
from structs.ptrace_consts import PTRACE
from structs.syscalls import NR64
from structs.user_area import USER

from .targets import LXT

REGS = struct.Struct("<27Q")
IDX = {n: i for i, n in enumerate("r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax "
                                  "rip cs eflags rsp ss fs_base gs_base ds es fs gs".split())}
DR = offsetof(USER["amd64"], "u_debugreg")


def s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


@pytest.fixture
def traced(cbuild):
    """traced() -> (pid, &counter, &word): a TRACEME child stopped at its exec SIGTRAP."""
    exe = str(cbuild(LXT, "-O0", name="lxt"))
    lxbrand.ensure_procd()
    kids = []

    def start():
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.dup2(w, 1)
            rc = lx_ptrace(PTRACE.TRACEME, 0)
            if rc:
                os._exit(100)
            os.execv(exe, [exe])
        os.close(w)
        kids.append((pid, r))
        assert lx_wait4(pid) == (pid, 0x57F)  # the exec SIGTRAP, as Linux reports it
        return pid, r

    def addresses(r: int) -> tuple[int, int]:
        line = b""
        while not line.endswith(b"\n"):
            line += os.read(r, 100)
        _, a, b = line.split()
        return int(a, 16), int(b, 16)

    start.addresses = addresses  # type: ignore[attr-defined]
    yield start
    for pid, r in kids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        lx_wait4(pid)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        os.close(r)


def run_to_ready(pid: int, r: int, start) -> tuple[int, int]:
    """Let the exec-stopped child run until it printed its addresses, then stop it (SIGUSR2)."""
    assert lx_ptrace(PTRACE.CONT, pid, 0, 0) == 0
    addrs = start.addresses(r)
    os.kill(pid, signal.SIGUSR2)
    assert lx_wait4(pid) == (pid, (signal.SIGUSR2 << 8) | 0x7F)
    return addrs


def getregs(pid: int) -> list[int]:
    buf = bytearray(216)
    assert lx_ptrace(PTRACE.GETREGS, pid, 0, buf) == 0
    return list(REGS.unpack(buf))


def test_traceme_exec_stop_registers(traced):
    pid, _ = traced()
    regs = getregs(pid)
    assert regs[IDX["orig_rax"]] == NR64["execve"]  # stopped on its way out of execve
    assert regs[IDX["cs"]] == 0x33 and regs[IDX["rax"]] == 0
    w = bytearray(8)
    assert lx_ptrace(PTRACE.PEEKUSER, pid, 8 * IDX["rip"], w) == 0
    assert int.from_bytes(w, "little") == regs[IDX["rip"]]


def test_traceme_twice_is_eperm(traced):
    lxbrand.ensure_procd()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        first = lx_ptrace(PTRACE.TRACEME, 0)
        second = lx_ptrace(PTRACE.TRACEME, 0)
        os.write(w, struct.pack("ii", first, second))
        os._exit(0)
    os.close(w)
    assert struct.unpack("ii", os.read(r, 8)) == (0, -errno.EPERM)
    os.close(r)
    lx_wait4(pid)


def test_peek_poke(traced):
    pid, r = traced()
    counter, word = run_to_ready(pid, r, traced)
    out = bytearray(8)
    assert lx_ptrace(PTRACE.PEEKDATA, pid, word, out) == 0
    assert int.from_bytes(out, "little") == 0x1122334455667788
    assert lx_ptrace(PTRACE.PEEKDATA, pid, word + 1, out) == 0  # unaligned is fine on Linux
    assert out[:7] == (0x1122334455667788).to_bytes(8, "little")[1:]
    assert lx_ptrace(PTRACE.POKEDATA, pid, word, 0x0102030405060708) == 0  # a whole word
    assert lx_ptrace(PTRACE.PEEKTEXT, pid, word, out) == 0
    assert int.from_bytes(out, "little") == 0x0102030405060708
    assert lx_ptrace(PTRACE.PEEKDATA, pid, 16, out) == -errno.EIO
    assert lx_ptrace(PTRACE.POKEDATA, pid, 16, 1) == -errno.EIO
    # the word goes to caller memory: an int address works, a bad one is EFAULT
    buf = host.buffer(8)
    assert lx_ptrace(PTRACE.PEEKDATA, pid, word, host.address(buf)) == 0
    assert bytes(host.ffi.buffer(buf, 8)) == (0x0102030405060708).to_bytes(8, "little")
    assert lx_ptrace(PTRACE.PEEKDATA, pid, word, 8) == -errno.EFAULT


def test_peekuser_pokeuser_offsets(traced):
    pid, _ = traced()
    w = bytearray(8)
    assert lx_ptrace(PTRACE.PEEKUSER, pid, 224, w) == 0 and w == bytes(8)  # i387 area reads 0
    assert lx_ptrace(PTRACE.PEEKUSER, pid, 216, w) == 0 and w == bytes(8)  # u_fpvalid
    assert lx_ptrace(PTRACE.PEEKUSER, pid, 920, w) == 0  # kernel tail, in range
    for bad in (928, 4, -8):
        assert lx_ptrace(PTRACE.PEEKUSER, pid, bad, w) == -errno.EIO
    assert lx_ptrace(PTRACE.POKEUSER, pid, 224, 0) == -errno.EIO
    assert lx_ptrace(PTRACE.POKEUSER, pid, 3, 0) == -errno.EIO
    assert lx_ptrace(PTRACE.POKEUSER, pid, 8 * IDX["rbx"], 0xABCDEF) == 0
    assert getregs(pid)[IDX["rbx"]] == 0xABCDEF
    assert lx_ptrace(PTRACE.POKEUSER, pid, 8 * IDX["cs"], 0x30) == -errno.EIO  # RPL 0 selector
    # debug registers: shadowed, DR4/5 read 0 and refuse writes, kernel addresses EINVAL
    assert lx_ptrace(PTRACE.POKEUSER, pid, DR + 8 * 1, 0x1000) == 0
    assert lx_ptrace(PTRACE.PEEKUSER, pid, DR + 8 * 1, w) == 0 and int.from_bytes(w, "little") == 0x1000
    assert lx_ptrace(PTRACE.POKEUSER, pid, DR + 8 * 4, 1) == -errno.EIO
    assert lx_ptrace(PTRACE.POKEUSER, pid, DR, 0xFFFF_8000_0000_0000) == -errno.EINVAL
    assert lx_ptrace(PTRACE.PEEKUSER, pid, DR, w) == 0 and w == bytes(8)  # no side effect


def test_i386_caller_user_area(traced):
    pid, _ = traced()
    w = bytearray(4)
    assert lx_ptrace(PTRACE.PEEKUSER, pid, 4 * 12, w, abi="i386") == 0  # eip
    assert int.from_bytes(w, "little") == getregs(pid)[IDX["rip"]] & 0xFFFFFFFF
    assert lx_ptrace(PTRACE.PEEKUSER, pid, 284, w, abi="i386") == 0 and w == bytearray(4)  # `regno > sizeof`: 284 reads 0
    assert lx_ptrace(PTRACE.PEEKUSER, pid, 288, w, abi="i386") == -errno.EIO
    assert lx_ptrace(PTRACE.PEEKUSER, pid, 2, w, abi="i386") == -errno.EIO
    assert lx_ptrace(PTRACE.POKEUSER, pid, 72, 5, abi="i386") == 0  # compat path ignores it
    buf = bytearray(68)
    assert lx_ptrace(PTRACE.GETREGS, pid, 0, buf, abi="i386") == 0
    assert struct.unpack("<17i", buf)[11] == NR64["execve"]  # orig_eax


def test_setregs_round_trip_and_efault(traced):
    pid, _ = traced()
    regs = getregs(pid)
    regs[IDX["r12"]] = 0x5555
    assert lx_ptrace(PTRACE.SETREGS, pid, 0, REGS.pack(*regs) and bytearray(REGS.pack(*regs))) == 0
    assert getregs(pid)[IDX["r12"]] == 0x5555
    assert lx_ptrace(PTRACE.GETREGS, pid, 0, 16) == -errno.EFAULT
    assert lx_ptrace(PTRACE.SETREGS, pid, 0, 16) == -errno.EFAULT


def test_fpregs(traced):
    pid, _ = traced()
    fx = bytearray(512)
    assert lx_ptrace(PTRACE.GETFPREGS, pid, 0, fx) == 0
    assert int.from_bytes(fx[24:28], "little") & 0xFFC0 == 0x1F80  # default MXCSR
    fx[24:28] = (0x1F80 | 0x8000).to_bytes(4, "little")  # FZ
    assert lx_ptrace(PTRACE.SETFPREGS, pid, 0, fx) == 0
    out = bytearray(512)
    assert lx_ptrace(PTRACE.GETFPREGS, pid, 0, out) == 0 and out[24:28] == fx[24:28]
    i387 = bytearray(108)
    assert lx_ptrace(PTRACE.GETFPREGS, pid, 0, i387, abi="i386") == 0
    assert int.from_bytes(i387[0:4], "little") & 0xFFFF == int.from_bytes(fx[0:2], "little")  # cwd
    assert lx_ptrace(18, pid, 0, bytearray(512)) == -errno.EIO  # GETFPXREGS: i386 only


def test_syscall_stops(traced):
    pid, r = traced()
    run_to_ready(pid, r, traced)
    seen = []
    for _ in range(6):
        assert lx_ptrace(PTRACE.SYSCALL, pid, 0, 0) == 0
        assert lx_wait4(pid) == (pid, 0x57F)
        regs = getregs(pid)
        seen.append((s64(regs[IDX["orig_rax"]]), s64(regs[IDX["rax"]])))
    getpid = NR64["getpid"]
    entries = [s for s in seen if s[0] == getpid and s[1] == -errno.ENOSYS]
    exits = [s for s in seen if s[0] == getpid and s[1] == pid]
    assert entries and exits


def test_skip_syscall_with_orig_rax(traced):
    pid, r = traced()
    run_to_ready(pid, r, traced)
    getpid = NR64["getpid"]
    for _ in range(20):  # find a getpid entry
        lx_ptrace(PTRACE.SYSCALL, pid, 0, 0)
        lx_wait4(pid)
        regs = getregs(pid)
        if regs[IDX["orig_rax"]] == getpid and s64(regs[IDX["rax"]]) == -errno.ENOSYS:
            break
    regs[IDX["orig_rax"]] = (1 << 64) - 1  # -1: skip the call
    assert lx_ptrace(PTRACE.SETREGS, pid, 0, bytearray(REGS.pack(*regs))) == 0
    lx_ptrace(PTRACE.SYSCALL, pid, 0, 0)
    assert lx_wait4(pid) == (pid, 0x57F)
    assert s64(getregs(pid)[IDX["rax"]]) == -errno.ENOSYS  # skipped: the call never ran


def test_cont_delivers_the_named_signal(traced):
    pid, r = traced()
    counter, _ = run_to_ready(pid, r, traced)
    out = bytearray(8)
    lx_ptrace(PTRACE.PEEKDATA, pid, counter, out)
    before = int.from_bytes(out, "little")
    assert lx_ptrace(PTRACE.CONT, pid, 0, signal.SIGUSR1) == 0
    time.sleep(0.1)
    os.kill(pid, signal.SIGUSR2)
    assert lx_wait4(pid) == (pid, (signal.SIGUSR2 << 8) | 0x7F)
    lx_ptrace(PTRACE.PEEKDATA, pid, counter, out)
    assert int.from_bytes(out, "little") >= before + 1000  # the SIGUSR1 handler ran


def test_singlestep(traced):
    pid, r = traced()
    run_to_ready(pid, r, traced)
    rips = {getregs(pid)[IDX["rip"]]}
    for _ in range(5):  # the first step may just re-run an interrupted system call
        assert lx_ptrace(PTRACE.SINGLESTEP, pid, 1, 0) == 0  # gdb passes addr=1: ignored
        assert lx_wait4(pid) == (pid, 0x57F)
        rips.add(getregs(pid)[IDX["rip"]])
    assert len(rips) > 1
    w = bytearray(8)
    assert lx_ptrace(PTRACE.PEEKUSER, pid, DR + 8 * 6, w) == 0
    assert int.from_bytes(w, "little") == 0xFFFF4FF0  # DR6.BS after a single step


def test_errors(traced):
    pid, r = traced()
    assert lx_ptrace(0x9999, pid) == -errno.EIO  # unknown request
    assert lx_ptrace(PTRACE.CONT, pid, 0, 65) == -errno.EIO  # bad signal
    assert lx_ptrace(PTRACE.GETREGS, os.getpid(), 0, bytearray(216)) == -errno.ESRCH  # not traced
    assert lx_ptrace(PTRACE.GETREGS, 999999999, 0, bytearray(216)) == -errno.ESRCH
    assert lx_ptrace(PTRACE.CONT, pid, 0, 0) == 0
    assert lx_ptrace(PTRACE.GETREGS, pid, 0, bytearray(216)) == -errno.ESRCH  # running
    assert lx_ptrace(PTRACE.DETACH, pid, 0, 0) == -errno.ESRCH  # running
    assert lx_ptrace(PTRACE.ATTACH, os.getpid()) == -errno.EPERM
    assert lx_ptrace(PTRACE.ATTACH, pid) == -errno.EPERM  # already traced (by us)
    assert lx_ptrace(PTRACE.ATTACH, 999999999) == -errno.ESRCH
    assert lx_wait4(os.getpid()) == (-errno.ECHILD, 0)


def test_kill(traced):
    pid, _ = traced()
    assert lx_ptrace(PTRACE.KILL, pid) == 0
    assert lx_wait4(pid) == (pid, signal.SIGKILL)


def _monitors() -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,ppid,stat,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines()[1:] if int(line.split()[1]) == os.getpid()]


@pytest.fixture
def stranger(cbuild):
    exe = str(cbuild(LXT, "-O0", name="lxt"))
    p = subprocess.Popen([exe], stdout=subprocess.PIPE, text=True)
    p.stdout.readline()
    yield p
    p.kill()
    p.wait()


def test_attach_detach_cycle(stranger):
    pid = stranger.pid
    before = len(_monitors())
    assert lx_ptrace(PTRACE.ATTACH, pid) == 0
    assert len(_monitors()) == before + 1  # the monitor, a child of ours
    assert lx_wait4(pid) == (pid, 0x137F)  # the attach stop is a SIGSTOP stop
    assert getregs(pid)[IDX["cs"]] == 0x33
    assert lx_ptrace(PTRACE.CONT, pid, 0, 0) == 0
    os.kill(pid, signal.SIGUSR1)
    assert lx_wait4(pid) == (pid, (signal.SIGUSR1 << 8) | 0x7F)
    assert lx_ptrace(PTRACE.DETACH, pid, 0, signal.SIGUSR1) == 0  # delivered on detach
    assert len(_monitors()) == before
    time.sleep(0.1)
    assert stranger.poll() is None
    with open(f"/proc/{pid}/status") as f:
        assert "TracerPid:\t0" in f.read()
    assert lx_ptrace(PTRACE.GETREGS, pid, 0, bytearray(216)) == -errno.ESRCH


def test_attached_target_exit_and_kill(stranger):
    pid = stranger.pid
    assert lx_ptrace(PTRACE.ATTACH, pid) == 0
    assert lx_wait4(pid) == (pid, 0x137F)
    assert lx_ptrace(PTRACE.KILL, pid) == 0
    # As on Linux the tracer's wait reports the kill (gdb's fork probe waits for it), and the
    # monitor that carried it is gone with that report.
    assert lx_wait4(pid, 0x40000000) == (pid, signal.SIGKILL)
    assert not any(str(pid) in line for line in _monitors() if "lxt" not in line)
    stranger.wait(timeout=10)


@pytest.mark.parametrize("how", ["PTRACE_KILL", "kill(2)"])
def test_a_stopped_tracee_killed_reports_only_its_death(cbuild, how):
    """SIGKILL wakes a stopped tracee at once, before procd has seen the host event: a wait
    must not take the stop it left (read then as ESRCH) for a new one.  gdb's fork probe
    PTRACE_KILLs its stopped child and waits for the kill; 40 rounds, as the race is narrow."""
    exe = str(cbuild(LXT, "-O0", name="lxt"))
    lxbrand.ensure_procd()
    procs: list[subprocess.Popen] = []
    try:
        for _ in range(40):
            p = subprocess.Popen([exe], stdout=subprocess.PIPE, text=True)
            procs.append(p)
            p.stdout.readline()
            assert lx_ptrace(PTRACE.ATTACH, p.pid) == 0
            assert lx_wait4(p.pid) == (p.pid, 0x137F)
            if how == "PTRACE_KILL":
                assert lx_ptrace(PTRACE.KILL, p.pid) == 0
            else:
                os.kill(p.pid, signal.SIGKILL)
            assert lx_wait4(p.pid, 0x40000000) == (p.pid, signal.SIGKILL)
            p.wait(timeout=10)
        assert not [line for line in _monitors() if "lxt" not in line and " ps " not in line]
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_gdb_hardware_watchpoint_sequence(traced):
    """gdb's sequence (../shared/traces/gdb-hw-watch): DR7=0, DR0=&var, DR7=0xd0101, DR6=0,
    CONT -> SIGTRAP stop, PEEKUSER DR6 = 0xffff0ff1 (B0)."""
    pid, r = traced()
    counter, _ = run_to_ready(pid, r, traced)
    assert lx_ptrace(PTRACE.POKEUSER, pid, DR + 8 * 7, 0) == 0
    assert lx_ptrace(PTRACE.POKEUSER, pid, DR + 8 * 0, counter) == 0
    assert lx_ptrace(PTRACE.POKEUSER, pid, DR + 8 * 7, 0xD0101) == 0
    assert lx_ptrace(PTRACE.POKEUSER, pid, DR + 8 * 6, 0) == 0
    assert lx_ptrace(PTRACE.CONT, pid, 0, 0) == 0
    assert lx_wait4(pid) == (pid, 0x57F)
    w = bytearray(8)
    assert lx_ptrace(PTRACE.PEEKUSER, pid, DR + 8 * 6, w) == 0
    assert int.from_bytes(w, "little") == 0xFFFF0FF1
    assert lx_ptrace(PTRACE.PEEKUSER, pid, DR + 8 * 7, w) == 0 and int.from_bytes(w, "little") == 0xD0101
    # deleting the watchpoint (DR7=0) lets the program run without further traps
    assert lx_ptrace(PTRACE.POKEUSER, pid, DR + 8 * 7, 0) == 0
    assert lx_ptrace(PTRACE.CONT, pid, 0, 0) == 0
    time.sleep(0.1)
    assert lx_wait4(pid, 1) == (0, 0)  # WNOHANG: no stop
    assert lx_ptrace(PTRACE.POKEUSER, pid, DR + 8 * 7, 0x2) == -errno.ESRCH  # running


# -- a 32-bit target and an i386 caller ---------------------------------------------------------

REGS32 = struct.Struct("<17i")
I32 = {n: i for i, n in enumerate("ebx ecx edx esi edi ebp eax xds xes xfs xgs orig_eax eip xcs "
                                  "eflags esp xss".split())}


@pytest.fixture
def traced32(cbuild):
    exe = str(cbuild(LXT, "-O0", "-m32", name="lxt32"))
    lxbrand.ensure_procd()
    pids = []

    def start():
        pid = os.fork()
        if pid == 0:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            if lx_ptrace(PTRACE.TRACEME, 0, abi="i386"):
                os._exit(100)
            os.execv(exe, [exe])
        pids.append(pid)
        assert lx_wait4(pid) == (pid, 0x57F)
        return pid

    yield start
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
        lx_wait4(pid)


def test_i386_caller_on_a_32bit_target(traced32):
    pid = traced32()
    buf = bytearray(68)
    assert lx_ptrace(PTRACE.GETREGS, pid, 0, buf, abi="i386") == 0
    regs = list(REGS32.unpack(buf))
    assert regs[I32["xcs"]] == 0x23 and regs[I32["orig_eax"]] == 11  # i386 execve
    eip = regs[I32["eip"]] & 0xFFFFFFFF
    w = bytearray(4)
    assert lx_ptrace(PTRACE.PEEKUSER, pid, 4 * I32["eip"], w, abi="i386") == 0
    assert int.from_bytes(w, "little") == eip
    assert lx_ptrace(PTRACE.PEEKTEXT, pid, eip, w, abi="i386") == 0  # a 4-byte word
    code = bytearray(8)
    assert lx_ptrace(PTRACE.PEEKTEXT, pid, eip, code) == 0 and code[:4] == w
    regs[I32["ebx"]] = 0x1234
    assert lx_ptrace(PTRACE.SETREGS, pid, 0, bytearray(REGS32.pack(*regs)), abi="i386") == 0
    assert lx_ptrace(PTRACE.GETREGS, pid, 0, buf, abi="i386") == 0
    assert REGS32.unpack(buf)[I32["ebx"]] == 0x1234
    # the 64-bit view of the same target: upper halves zero, cs 0x23
    regs64 = getregs(pid)
    assert regs64[IDX["rip"]] == eip and regs64[IDX["cs"]] == 0x23 and regs64[IDX["rbx"]] == 0x1234
    fx = bytearray(512)
    assert lx_ptrace(18, pid, 0, fx, abi="i386") == 0  # GETFPXREGS
    assert int.from_bytes(fx[24:28], "little") & 0xFFC0 == 0x1F80
    assert lx_ptrace(19, pid, 0, fx, abi="i386") == 0  # SETFPXREGS round trip
    assert lx_ptrace(PTRACE.POKEUSER, pid, 252 + 4 * 7, 0, abi="i386") == 0  # DR7 at 280
    assert lx_ptrace(PTRACE.POKEUSER, pid, 252 + 4 * 4, 0, abi="i386") == -errno.EIO  # DR4
    assert lx_ptrace(PTRACE.CONT, pid, 0, 0, abi="i386") == 0


def test_realtime_signal_stop_and_delivery(traced):
    pid, r = traced()
    run_to_ready(pid, r, traced)
    rt = signal.SIGRTMIN + 3
    assert lx_ptrace(PTRACE.CONT, pid, 0, 0) == 0
    os.kill(pid, rt)
    assert lx_wait4(pid) == (pid, (rt << 8) | 0x7F)  # Linux numbering, through Solaris and back
    assert lx_ptrace(PTRACE.CONT, pid, 0, rt) == 0  # default action: terminate
    assert lx_wait4(pid) == (pid, rt)


def test_wait_options_and_ordinary_children(traced):
    pid, r = traced()
    assert lx_wait4(pid, 1) == (0, 0)  # WNOHANG: the exec stop was already reported
    assert lx_wait4(pid, 0x40000000 | 0x20000000 | 1) == (0, 0)  # __WALL|__WNOTHREAD|WNOHANG
    assert lx_wait4(pid, 0x1000) == (-errno.EINVAL, 0)  # not a wait4 option
    p = subprocess.Popen(["sh", "-c", "exit 5"])
    assert lx_wait4(p.pid) == (p.pid, 5 << 8)
    p.returncode = 5


def test_monitor_dies_with_its_target(stranger):
    pid = stranger.pid
    assert lx_ptrace(PTRACE.ATTACH, pid) == 0
    assert lx_wait4(pid) == (pid, 0x137F)
    assert lx_ptrace(PTRACE.CONT, pid, 0, 0) == 0
    mons = [line for line in _monitors() if "lxt" not in line]
    os.kill(pid, signal.SIGKILL)
    assert lx_wait4(pid) == (pid, signal.SIGKILL)  # reported through the monitor's exit
    stranger.wait(timeout=10)
    left = [line for line in _monitors() if line in mons]
    assert left == []


def test_monitor_dies_with_its_tracer(cbuild, tmp_path):
    exe = str(cbuild(LXT, "-O0", name="lxt"))
    target = subprocess.Popen([exe], stdout=subprocess.DEVNULL)
    script = tmp_path / "tracer.py"
    script.write_text(
        "import os, sys, time\n"
        "from lxbrand import lx_ptrace, lx_wait4\n"
        f"assert lx_ptrace(16, {target.pid}) == 0\n"
        f"assert lx_wait4({target.pid}) == ({target.pid}, 0x137f)\n"
        f"assert lx_ptrace(7, {target.pid}, 0, 0) == 0\n"
        "print('attached', flush=True)\n"
        "time.sleep(60)\n")
    tracer = subprocess.Popen([os.sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert tracer.stdout.readline().strip() == "attached"
        out = subprocess.run(["ps", "-eo", "pid,ppid"], capture_output=True, text=True).stdout
        monitors = [int(l.split()[0]) for l in out.splitlines()[1:] if int(l.split()[1]) == tracer.pid]
        assert monitors
        tracer.kill()
        tracer.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{m}") and
                                                  open(f"/proc/{m}/stat").read().split()[2] != "Z"
                                                  for m in monitors):
            time.sleep(0.05)
        assert not any(os.path.exists(f"/proc/{m}") and open(f"/proc/{m}/stat").read().split()[2] != "Z"
                       for m in monitors)
        def tracer_pid():
            with open(f"/proc/{target.pid}/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("TracerPid:"))
        deadline = time.monotonic() + 5
        while tracer_pid() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tracer_pid() == 0  # let go, as Linux detaches a dead tracer's tracees
        assert target.poll() is None
    finally:
        target.kill()
        target.wait()


def test_linux_details_the_conformance_suite_found(traced):
    pid, r = traced()
    out = bytearray(8)
    for addr in (1 << 63, 0xFFFF_8000_0000_0000, (1 << 64) - 8):
        assert lx_ptrace(PTRACE.PEEKDATA, pid, addr, out) == -errno.EIO
        assert lx_ptrace(PTRACE.POKEDATA, pid, addr, 0) == -errno.EIO
    assert lx_ptrace(0x9999, os.getpid()) == -errno.ESRCH  # the tracee check comes first
    # SETREGS stops at the first bad field, keeping the ones before it (the kernel's putreg loop)
    regs = getregs(pid)
    regs[IDX["r15"]], regs[IDX["cs"]], regs[IDX["rsp"]] = 0xDEAD, 0x30, 0x1234  # r15 < cs < rsp
    assert lx_ptrace(PTRACE.SETREGS, pid, 0, bytearray(REGS.pack(*regs))) == -errno.EIO
    now = getregs(pid)
    assert now[IDX["r15"]] == 0xDEAD and now[IDX["cs"]] == 0x33 and now[IDX["rsp"]] != 0x1234
    # selectors are 16 bits: 0x10000 in ds is 0
    assert lx_ptrace(PTRACE.POKEUSER, pid, 8 * IDX["ds"], 0x10000) == 0
    assert getregs(pid)[IDX["ds"]] == 0
    # KILL works on a running tracee (Linux >= 6.0)
    assert lx_ptrace(PTRACE.CONT, pid, 0, 0) == 0
    assert lx_ptrace(PTRACE.KILL, pid) == 0
    assert lx_wait4(pid) == (pid, signal.SIGKILL)


def test_detach_signal_is_an_unsigned_int(stranger):
    pid = stranger.pid
    assert lx_ptrace(PTRACE.ATTACH, pid) == 0
    assert lx_wait4(pid) == (pid, 0x137F)
    assert lx_ptrace(PTRACE.CONT, pid, 0, (1 << 32) + signal.SIGUSR1) == -errno.EIO
    assert lx_ptrace(PTRACE.DETACH, pid, 0, (1 << 32) + signal.SIGUSR1) == 0  # SIGUSR1
    time.sleep(0.1)
    assert stranger.poll() is None  # LXT's handler caught it
