"""bsd_ptrace and bsd_wait on real processes: a small debugger written only against them, and
every errno path of kern_ptrace (seed 002) in the seed's order."""

from __future__ import annotations

import ctypes
import errno
import os
import select
import signal
import struct
import subprocess
import sys
import time

import pytest

import native_proc.client as npc
from native_proc import host
from bsd import bsd_ptrace, bsd_wait
from bsd import procfacts
from bsd import ptrace as BP
from structs.bsd import PIOD, PT, PTRACE_IO_DESC, REG, VM_MAXUSER_ADDRESS, bsd_signo
from structs.codec import codec
from structs.ctl import encode_ctl, sysset
from structs.procfs_consts import PC
from structs.syscalls import SYSCALL_NUMBERS

# -O0 -no-pie: the symbols' addresses (nm) are where they are in the process.
DEBUGGEE = r"""
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
volatile long watched;
volatile long got_usr1;  /* SIGUSR1s handled; the loop prints one line per signal */
long told;
char buf[32] = "hello, debugger";
static void on_usr1(int s) { (void)s; got_usr1++; }
__attribute__((noinline)) void marker(void) { __asm__ volatile("nop"); }
int main(int argc, char **argv) {
    signal(SIGUSR1, on_usr1);
    if (argc > 1 && !strcmp(argv[1], "spin")) {
        printf("ready\n"); fflush(stdout);
        for (;;) {
            marker(); watched++; usleep(1000);
            while (told < got_usr1) { told++; printf("usr1\n"); fflush(stdout); }
        }
    }
    marker();
    watched = 42;
    printf("%s %ld %ld\n", buf, watched, got_usr1);
    fflush(stdout);
    return 7;
}
"""

REGC = codec(REG["amd64"])
IOD = codec(PTRACE_IO_DESC["amd64"])
SIGTRAP_STOP = (5 << 8) | 0x7F
SIGSTOP_STOP = (bsd_signo("STOP") << 8) | 0x7F
WAIT = 30.0  # seconds any single wait may take on a loaded 2-core machine


def err(fn, *args, **kw) -> int:
    with pytest.raises(OSError) as ei:
        fn(*args, **kw)
    return ei.value.errno


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    BP.forget(pid)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


@pytest.fixture(scope="module")
def debuggee(tmp_path_factory):
    d = tmp_path_factory.mktemp("bsd")
    src = d / "debuggee.c"
    src.write_text(DEBUGGEE)
    exe = d / "debuggee"
    subprocess.run(["gcc", "-O0", "-no-pie", "-o", str(exe), str(src)], check=True)
    syms = {}
    for line in subprocess.check_output(["nm", str(exe)], text=True).splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    return str(exe), syms


@pytest.fixture
def launch(debuggee):
    """launch(*args) -> (pid, stdout fd): a PT_TRACE_ME child stopped at its exec SIGTRAP.
    Every child is killed and reaped afterwards, by pid."""
    exe, _ = debuggee
    npc.ensure_procd()
    kids: list[tuple[int, int]] = []

    def start(*args: str) -> tuple[int, int]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                os.dup2(w, 1)
                bsd_ptrace(PT.TRACE_ME, 0)
                os.execv(exe, [exe, *args])
            finally:
                os._exit(127)
        os.close(w)
        kids.append((pid, r))
        assert bsd_wait(pid, timeout=WAIT) == (pid, SIGTRAP_STOP)  # exec of a traced process
        return pid, r

    yield start
    for pid, r in kids:
        _kill(pid)
        _reap(pid)
        os.close(r)


def getregs(pid: int, abi: str = "amd64") -> dict:
    buf = bytearray(REG[abi].sizeof())
    assert bsd_ptrace(PT.GETREGS, pid, buf, abi=abi) == 0
    return REG[abi].parse(bytes(buf))


def pt_io(pid: int, op: int, offs: int, buf: ctypes.Array | int, length: int) -> tuple[int, dict]:
    """PT_IO with a ptrace_io_desc; (0 or -errno, the descriptor as it came back)."""
    where = buf if isinstance(buf, int) else ctypes.addressof(buf)
    desc = bytearray(IOD.encode({"piod_op": op, "piod_offs": offs, "piod_addr": where,
                                 "piod_len": length}))
    try:
        rc = bsd_ptrace(PT.IO, pid, desc)
    except OSError as e:
        return -e.errno, IOD.decode(bytes(desc))
    return rc, IOD.decode(bytes(desc))


_pending: dict[int, bytes] = {}


def read_line(fd: int) -> bytes:
    """The next line from `fd` (a pipe), waiting at most WAIT seconds for it."""
    out = _pending.pop(fd, b"")
    end = time.monotonic() + WAIT
    while b"\n" not in out:
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(f"no line from the debuggee in {WAIT} s (got {out!r})")
        chunk = os.read(fd, 200)
        if not chunk:
            return out
        out += chunk
    line, rest = out.split(b"\n", 1)
    if rest:
        _pending[fd] = rest
    return line + b"\n"


def test_debugger_session(launch, debuggee):
    """Break (int3 written with PT_WRITE_I), step, PT_IO read and write, a hardware watchpoint
    through PT_SETDBREGS, detach: all through bsd_ptrace and bsd_wait."""
    _, sym = debuggee
    pid, out = launch()
    m = sym["marker"]
    orig = bsd_ptrace(PT.READ_I, pid, m)
    assert orig & 0xFF == 0x55  # push %rbp
    assert bsd_ptrace(PT.WRITE_I, pid, m, (orig & ~0xFF) | 0xCC) == 0
    assert bsd_ptrace(PT.CONTINUE, pid, 1, 0) == 0
    assert bsd_wait(pid, timeout=WAIT) == (pid, SIGTRAP_STOP)
    assert getregs(pid)["r_rip"] == m + 1  # just past the int3
    assert bsd_ptrace(PT.WRITE_I, pid, m, orig) == 0
    # PT_STEP from `marker` (addr is the new pc): one instruction, push %rbp
    assert bsd_ptrace(PT.STEP, pid, m, 0) == 0
    assert bsd_wait(pid, timeout=WAIT) == (pid, SIGTRAP_STOP)
    assert getregs(pid)["r_rip"] == m + 1
    dbr = bytearray(128)
    bsd_ptrace(PT.GETDBREGS, pid, dbr)
    assert struct.unpack_from("<16Q", dbr)[6] & 0x4000  # DR6.BS after a step
    # PT_IO: read the string, write over its start
    b = ctypes.create_string_buffer(32)
    rc, d = pt_io(pid, PIOD.READ_D, sym["buf"], b, 16)
    assert (rc, d["piod_len"], b.raw[:16]) == (0, 16, b"hello, debugger\0")
    up = ctypes.create_string_buffer(b"HELLO")
    rc, d = pt_io(pid, PIOD.WRITE_D, sym["buf"], up, 5)
    assert (rc, d["piod_len"]) == (0, 5)
    # a write watchpoint on `watched` (8 bytes, DR7: L0, R/W0 = 01, LEN0 = 10)
    dr = [0] * 16
    dr[0], dr[7] = sym["watched"], 1 | (0b01 << 16) | (0b10 << 18)
    assert bsd_ptrace(PT.SETDBREGS, pid, bytearray(struct.pack("<16Q", *dr))) == 0
    back = bytearray(128)
    bsd_ptrace(PT.GETDBREGS, pid, back)
    assert struct.unpack("<16Q", back)[0] == sym["watched"] and struct.unpack("<16Q", back)[7] == dr[7]
    assert bsd_ptrace(PT.CONTINUE, pid, 1, 0) == 0
    assert bsd_wait(pid, timeout=WAIT) == (pid, SIGTRAP_STOP)
    bsd_ptrace(PT.GETDBREGS, pid, back)
    assert struct.unpack("<16Q", back)[6] & 0xF == 1  # B0: slot 0 hit
    assert bsd_ptrace(PT.READ_D, pid, sym["watched"]) == 42  # traps after the write
    assert bsd_ptrace(PT.SETDBREGS, pid, bytearray(128)) == 0
    # detach with SIGUSR1 (FreeBSD 30): delivered as it goes
    assert bsd_ptrace(PT.DETACH, pid, 1, bsd_signo("USR1")) == 0
    assert read_line(out) == b"HELLO, debugger 42 1\n"
    assert bsd_wait(pid, timeout=WAIT) == (pid, 7 << 8)


def test_registers_and_fp(launch):
    pid, _ = launch()
    r = getregs(pid)
    assert r["r_cs"] & 3 == 3 and r["r_rsp"] != 0
    r32 = getregs(pid, "i386")
    assert r32["r_eip"] == r["r_rip"] & 0xFFFFFFFF and r32["r_eax"] == r["r_rax"] & 0xFFFFFFFF
    # SETREGS: a changed rax comes back
    r["r_rax"] = 0x1234
    assert bsd_ptrace(PT.SETREGS, pid, bytearray(REG["amd64"].build(r))) == 0
    assert getregs(pid)["r_rax"] == 0x1234
    # FP: amd64 fpreg is the fxsave image; write xmm0 and the control word, read them back
    fp = bytearray(512)
    assert bsd_ptrace(PT.GETFPREGS, pid, fp) == 0
    fp[160:176] = bytes(range(16))
    assert bsd_ptrace(PT.SETFPREGS, pid, fp) == 0
    fp2 = bytearray(512)
    bsd_ptrace(PT.GETFPREGS, pid, fp2)
    assert fp2[160:176] == bytes(range(16))
    # i386 fpreg: the fsave image; its control word is fxsave's, and a write of it sticks
    f32 = bytearray(176)
    assert bsd_ptrace(PT.GETFPREGS, pid, f32, abi="i386") == 0
    assert struct.unpack_from("<H", f32)[0] == struct.unpack_from("<H", fp2)[0]
    struct.pack_into("<I", f32, 0, 0xFFFF0000 | 0x027F)
    assert bsd_ptrace(PT.SETFPREGS, pid, f32, abi="i386") == 0
    bsd_ptrace(PT.GETFPREGS, pid, fp2)
    assert struct.unpack_from("<H", fp2)[0] == 0x027F and fp2[160:176] == bytes(range(16))


def test_i386_caller_pt_io(launch, debuggee):
    """An i386 caller's 16-byte ptrace_io_desc, its buffer below 4 GiB (MAP_32BIT)."""
    import mmap

    _, sym = debuggee
    pid, _ = launch()
    m = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x40)  # MAP_32BIT
    try:
        buf = ctypes.c_char.from_buffer(m)
        where = ctypes.addressof(buf)
        assert where < 1 << 32
        iod = codec(PTRACE_IO_DESC["i386"])
        desc = bytearray(iod.encode({"piod_op": PIOD.READ_D, "piod_offs": sym["buf"], "piod_addr": where,
                                     "piod_len": 5}))
        assert len(desc) == 16
        assert bsd_ptrace(PT.IO, pid, desc, abi="i386") == 0
        assert iod.decode(bytes(desc))["piod_len"] == 5 and m[:5] == b"hello"
        del buf
    finally:
        m.close()


def test_setregs_checks(launch):
    pid, _ = launch()
    r = getregs(pid)
    bad = dict(r, r_rflags=r["r_rflags"] | 0x3000)  # IOPL: not in PSL_USERCHANGE
    assert err(bsd_ptrace, PT.SETREGS, pid, bytearray(REG["amd64"].build(bad))) == errno.EINVAL
    bad = dict(r, r_cs=r["r_cs"] & ~3)
    assert err(bsd_ptrace, PT.SETREGS, pid, bytearray(REG["amd64"].build(bad))) == errno.EINVAL
    assert getregs(pid) == r  # nothing changed
    # copyin before kern_ptrace: a bad pointer is EFAULT even for a pid that does not exist
    assert err(bsd_ptrace, PT.SETREGS, 1 << 30, 8) == errno.EFAULT
    assert err(bsd_ptrace, PT.IO, 1 << 30, 8) == errno.EFAULT
    assert err(bsd_ptrace, PT.GETREGS, pid, 8) == errno.EFAULT  # copyout after


def test_memory_errnos(launch, debuggee):
    _, sym = debuggee
    pid, _ = launch()
    assert err(bsd_ptrace, PT.READ_D, pid, 16) == errno.EFAULT  # unmapped
    assert err(bsd_ptrace, PT.READ_D, pid, VM_MAXUSER_ADDRESS) == errno.EINVAL  # beyond: EOF
    assert err(bsd_ptrace, PT.WRITE_D, pid, 16, 1) == errno.EFAULT
    b = ctypes.create_string_buffer(64)
    assert pt_io(pid, 99, sym["buf"], b, 4)[0] == -errno.EINVAL
    rc, d = pt_io(pid, PIOD.READ_D, 16, b, 8)
    assert (rc, d["piod_len"]) == (-errno.EFAULT, 0)
    rc, d = pt_io(pid, PIOD.READ_I, VM_MAXUSER_ADDRESS, b, 8)
    assert (rc, d["piod_len"]) == (0, 0)  # nothing there, and no error: end of file
    # across the end of a mapping: the bytes before the hole move, then EFAULT
    end = _mapping_end(pid, sym["buf"])
    rc, d = pt_io(pid, PIOD.READ_D, end - 8, b, 64)
    assert (rc, d["piod_len"]) == (-errno.EFAULT, 8)
    rc, d = pt_io(pid, PIOD.WRITE_D, end - 8, b, 64)
    assert (rc, d["piod_len"]) == (-errno.EFAULT, 8)
    rc, d = pt_io(pid, PIOD.READ_D, sym["buf"], 8, 8)  # our side unwritable
    assert rc == -errno.EFAULT


def _mapping_end(pid: int, addr: int) -> int:
    with open(f"/proc/{pid}/maps") as f:
        spans = [tuple(int(x, 16) for x in line.split()[0].split("-")) for line in f]
    for lo, hi in spans:
        if lo <= addr < hi and not any(l2 == hi for l2, _ in spans):
            return hi
    pytest.skip("the data mapping is followed by another mapping")


def test_dbregs_checks(launch, debuggee):
    _, sym = debuggee
    pid, _ = launch()

    def setdb(dr7: int, dr0: int = sym["watched"], dr6: int = 0) -> int:
        dr = [dr0, 0, 0, 0, 0, 0, dr6, dr7] + [0] * 8
        try:
            return bsd_ptrace(PT.SETDBREGS, pid, bytearray(struct.pack("<16Q", *dr)))
        except OSError as e:
            return -e.errno

    assert setdb(1 | (0b10 << 16)) == -errno.EINVAL  # an I/O breakpoint
    assert setdb(1 | (0b01 << 16) | (0b11 << 18), dr0=VM_MAXUSER_ADDRESS) == -errno.EINVAL
    assert setdb(1 << 40) == -errno.EINVAL  # upper half of DR7
    assert setdb(1 | (0b01 << 16), dr6=1 << 40) == -errno.EINVAL
    # on i386 an 8-byte length is EINVAL
    dr = struct.pack("<8I", sym["watched"], 0, 0, 0, 0, 0, 0, 1 | (0b01 << 16) | (0b10 << 18))
    assert err(bsd_ptrace, PT.SETDBREGS, pid, bytearray(dr), abi="i386") == errno.EINVAL
    back = bytearray(128)
    bsd_ptrace(PT.GETDBREGS, pid, back)
    assert struct.unpack("<16Q", back)[7] == 0  # none of that took


def test_kill_and_resume_signals(launch):
    pid, out = launch("spin")
    assert bsd_ptrace(PT.CONTINUE, pid, 1, 0) == 0
    assert read_line(out) == b"ready\n"
    # not stopped: the requests that need a stop are EBUSY
    assert err(bsd_ptrace, PT.READ_D, pid, 0x400000) == errno.EBUSY
    os.kill(pid, signal.SIGUSR1)
    assert bsd_wait(pid, timeout=WAIT) == (pid, (bsd_signo("USR1") << 8) | 0x7F)
    for bad in (-1, 129):
        assert err(bsd_ptrace, PT.CONTINUE, pid, 1, bad) == errno.EINVAL
    for name in ("THR", "EMT", "INFO"):  # no such signal on Linux: nothing done
        assert err(bsd_ptrace, PT.CONTINUE, pid, 1, bsd_signo(name)) == errno.EINVAL
    assert bsd_ptrace(PT.CONTINUE, pid, 1, bsd_signo("USR1")) == 0  # its own signal, delivered
    assert read_line(out) == b"usr1\n"
    assert bsd_wait(pid, 1) == (0, 0)  # WNOHANG, running
    os.kill(pid, signal.SIGUSR2)
    assert bsd_wait(0, timeout=WAIT) == (pid, (bsd_signo("USR2") << 8) | 0x7F)  # our group
    assert bsd_ptrace(PT.CONTINUE, pid, 1, 0) == 0
    os.kill(pid, signal.SIGUSR2)
    assert bsd_wait(-os.getpgid(0), timeout=WAIT) == (pid, (bsd_signo("USR2") << 8) | 0x7F)
    assert bsd_ptrace(PT.KILL, pid) == 0
    assert bsd_wait(pid, timeout=WAIT) == (pid, bsd_signo("KILL"))


def test_unknown_request(launch):
    pid, _ = launch()
    assert err(bsd_ptrace, 3, pid) == errno.EINVAL  # was PT_READ_U
    assert err(bsd_ptrace, 99, 1 << 30) == errno.ESRCH  # pfind first


def test_esrch_and_system_process():
    assert err(bsd_ptrace, PT.ATTACH, 1 << 30) == errno.ESRCH
    assert err(bsd_ptrace, PT.READ_D, 1 << 30, 0) == errno.ESRCH
    z = os.fork()
    if z == 0:
        os._exit(0)
    deadline = time.monotonic() + WAIT
    while procfacts.facts(z) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert err(bsd_ptrace, PT.ATTACH, z) == errno.ESRCH  # a zombie: pfind finds none
    finally:
        os.waitpid(z, 0)
    kthread = next((p for p in (2, 3) if (f := procfacts.facts(p)) is not None and f.system), None)
    if kthread is None:
        pytest.skip("no kernel thread visible in this pid namespace")
    assert err(bsd_ptrace, PT.ATTACH, kthread) == errno.EINVAL
    assert err(bsd_ptrace, PT.READ_D, kthread, 0) == errno.EINVAL


@pytest.fixture
def spin(debuggee):
    """spin() -> Popen of the debuggee looping (our child); each is killed and reaped after."""
    exe, _ = debuggee
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        p = subprocess.Popen([exe, "spin"], stdout=subprocess.PIPE)
        procs.append(p)
        assert read_line(p.stdout.fileno()) == b"ready\n"
        return p

    npc.ensure_procd()
    yield start
    for p in procs:
        BP.forget(p.pid)
        p.kill()
        p.wait(timeout=WAIT)


def test_attach_child(spin):
    p = spin()
    assert err(bsd_ptrace, PT.CONTINUE, p.pid, 1, 0) == errno.EPERM  # not being traced
    assert err(bsd_ptrace, PT.ATTACH, os.getpid()) == errno.EINVAL  # self
    assert bsd_ptrace(PT.ATTACH, p.pid) == 0
    assert err(bsd_ptrace, PT.ATTACH, p.pid) == errno.EBUSY  # already traced
    assert bsd_wait(p.pid, timeout=WAIT) == (p.pid, SIGSTOP_STOP)
    regs = getregs(p.pid)
    assert regs["r_cs"] & 3 == 3
    assert bsd_ptrace(PT.DETACH, p.pid, 1, 0) == 0
    assert err(bsd_ptrace, PT.READ_D, p.pid, 0) == errno.EPERM  # no longer traced
    os.kill(p.pid, signal.SIGUSR1)
    assert read_line(p.stdout.fileno()) == b"usr1\n"  # runs untraced: its handler sees the signal


def test_hardware_instruction_breakpoint(spin, debuggee):
    _, sym = debuggee
    p = spin()
    assert bsd_ptrace(PT.ATTACH, p.pid) == 0
    assert bsd_wait(p.pid, timeout=WAIT) == (p.pid, SIGSTOP_STOP)
    dr = [sym["marker"], 0, 0, 0, 0, 0, 0, 1] + [0] * 8  # L0, R/W0 = 00 (execute), LEN0 = 00
    assert bsd_ptrace(PT.SETDBREGS, p.pid, bytearray(struct.pack("<16Q", *dr))) == 0
    assert bsd_ptrace(PT.CONTINUE, p.pid, 1, 0) == 0
    assert bsd_wait(p.pid, timeout=WAIT) == (p.pid, SIGTRAP_STOP)
    assert getregs(p.pid)["r_rip"] == sym["marker"]  # an instruction breakpoint traps before
    back = bytearray(128)
    bsd_ptrace(PT.GETDBREGS, p.pid, back)
    assert struct.unpack("<16Q", back)[6] & 0xF == 1
    assert bsd_ptrace(PT.DETACH, p.pid, 1, 0) == 0  # its areas go with the tracer
    os.kill(p.pid, signal.SIGUSR1)
    assert read_line(p.stdout.fileno()) == b"usr1\n"


def test_trace_me_is_always_legal(launch):
    """PT_TRACE_ME twice: the seed has no check ("Always legal")."""
    npc.ensure_procd()

    def twice() -> None:
        bsd_ptrace(PT.TRACE_ME, 0)
        bsd_ptrace(PT.TRACE_ME, 0)
        BP.pstatus_flags(os.getpid())

    assert _in_child(twice) == 0


def test_attach_not_waited_is_ebusy(spin):
    p = spin()
    assert bsd_ptrace(PT.ATTACH, p.pid) == 0
    # stopped or about to be, but its stop not yet taken by a wait: P_WAITED is clear
    assert err(bsd_ptrace, PT.READ_D, p.pid, 0x400000) == errno.EBUSY
    assert bsd_wait(p.pid, timeout=WAIT) == (p.pid, SIGSTOP_STOP)
    assert bsd_ptrace(PT.READ_D, p.pid, 0x400000) != 0  # the ELF header of a -no-pie image
    assert bsd_ptrace(PT.KILL, p.pid) == 0
    assert bsd_wait(p.pid, timeout=WAIT) == (p.pid, bsd_signo("KILL"))


# An intermediate parent that forks the debuggee and never reaps it, so that the debuggee is
# not our child (BSD would reparent it to its tracer; native_proc cannot).
_FOSTER = r"""
import os, sys, time
import ctypes
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL: it goes when its foster parent goes
    os.dup2(w, 1)
    os.execv(sys.argv[1], [sys.argv[1], "spin"])
os.read(r, 6)  # "ready\n": it runs the debuggee's image
print(pid, flush=True)
time.sleep(600)
"""


@pytest.fixture
def foster(debuggee):
    exe, _ = debuggee
    npc.ensure_procd()
    started: list[tuple[subprocess.Popen, int]] = []

    def start() -> tuple[int, subprocess.Popen]:
        p = subprocess.Popen([sys.executable, "-c", _FOSTER, exe], stdout=subprocess.PIPE)
        started.append((p, 0))
        pid = int(read_line(p.stdout.fileno()))
        started[-1] = (p, pid)
        return pid, p

    yield start
    for p, pid in started:
        if pid:
            BP.forget(pid)
            _kill(pid)
        p.kill()
        p.wait(timeout=WAIT)


def test_attach_non_child_session(foster, debuggee):
    _, sym = debuggee
    pid, _ = foster()
    assert bsd_ptrace(PT.ATTACH, pid) == 0
    assert bsd_wait(-1, 0, timeout=WAIT) == (pid, SIGSTOP_STOP)
    assert bsd_wait(pid, 1) == (0, 0)  # WNOHANG: its stop was taken already
    b = ctypes.create_string_buffer(16)
    assert pt_io(pid, PIOD.READ_D, sym["buf"], b, 5)[0] == 0 and b.raw[:5] == b"hello"
    assert bsd_ptrace(PT.CONTINUE, pid, 1, 0) == 0
    os.kill(pid, signal.SIGUSR2)
    assert bsd_wait(pid, timeout=WAIT) == (pid, (bsd_signo("USR2") << 8) | 0x7F)
    assert bsd_ptrace(PT.KILL, pid) == 0
    assert bsd_wait(pid, timeout=WAIT) == (pid, bsd_signo("KILL"))  # from its zombie


def test_traced_by_another_is_ebusy(debuggee):
    """A grandchild traced (PT_TRACE_ME) by our child: P_TRACED, but not by us."""
    exe, _ = debuggee
    npc.ensure_procd()
    r, w = os.pipe()
    a = os.fork()
    if a == 0:
        try:
            os.close(r)
            g = os.fork()
            if g == 0:
                bsd_ptrace(PT.TRACE_ME, 0)
                os.execv(exe, [exe, "spin"])
            bsd_wait(g, timeout=WAIT)
            os.write(w, f"{g}\n".encode())
            time.sleep(600)
        finally:
            os._exit(0)
    os.close(w)
    g = 0
    try:
        g = int(read_line(r))
        assert err(bsd_ptrace, PT.READ_D, g, 0x400000) == errno.EBUSY
        assert err(bsd_ptrace, PT.ATTACH, g) == errno.EBUSY
        _kill(a)
        os.waitpid(a, 0)
        # PR_KLC: the tracee dies with its tracer (DragonFly's exit1)
        deadline = time.monotonic() + WAIT
        while procfacts.facts(g) is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert procfacts.facts(g) is None, f"the tracee outlived its tracer by {WAIT} s"
    finally:
        _kill(a)
        if g:
            _kill(g)
        try:
            os.waitpid(a, 0)
        except ChildProcessError:
            pass
        os.close(r)


def _in_child(fn) -> int:
    """Run fn() in a forked child; its errno (0 for success) comes back through a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            fn()
        except OSError as e:
            code = e.errno or 255
        except BaseException:
            code = 254
        os.write(w, bytes([code]))
        os._exit(0)
    os.close(w)
    try:
        got = os.read(r, 1)
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    assert got, "the child died before answering"
    return got[0]


def _as_nobody() -> None:
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_eperm_other_user_and_setid(spin):
    p = spin()  # root's process

    def attach_it() -> None:
        _as_nobody()
        bsd_ptrace(PT.ATTACH, p.pid)

    assert _in_child(attach_it) == errno.EPERM
    # a process of the same real uid that changed its credentials (not dumpable: P_SUGID)
    r, w = os.pipe()
    t = os.fork()
    if t == 0:
        try:
            _as_nobody()
            os.write(w, b"x")
            time.sleep(600)
        finally:
            os._exit(0)
    os.close(w)
    try:
        assert os.read(r, 1) == b"x"
        f = procfacts.facts(t)
        assert f is not None and f.ruid == 65534 and f.sugid

        def attach_setid() -> None:
            _as_nobody()
            bsd_ptrace(PT.ATTACH, t)

        assert _in_child(attach_setid) == errno.EPERM
    finally:
        _kill(t)
        os.waitpid(t, 0)
        os.close(r)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_eperm_for_an_engine_held_process(spin):
    """Another user's process that native_proc's engine controls: the caller cannot reach our
    procd to read its flags, and still gets EPERM."""
    p = spin()
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(encode_ctl("amd64", [(PC.PCSTRACE, {"__sigbits": bytes(16)})]))  # seized
        assert procfacts.facts(p.pid).tracer != 0

        def attach_it() -> None:
            _as_nobody()
            bsd_ptrace(PT.ATTACH, p.pid)

        assert _in_child(attach_it) == errno.EPERM


def test_attach_ancestor_while_traced(launch, debuggee):
    """A traced process attaching to its own tracer: EINVAL."""
    npc.ensure_procd()
    me = os.getpid()

    def child() -> None:
        bsd_ptrace(PT.TRACE_ME, 0)
        bsd_ptrace(PT.ATTACH, me)

    code = _in_child(child)
    assert code == errno.EINVAL


def test_securelevel_protects_init(monkeypatch):
    # securelevel is the kernel's lockdown mode, which a test cannot raise: the check's input
    # is replaced, nothing of init is touched (EPERM is decided before any control).
    monkeypatch.setattr(BP, "securelevel", lambda: 1)
    assert err(bsd_ptrace, PT.ATTACH, 1) == errno.EPERM


EXECER = r"""
#include <stdio.h>
#include <unistd.h>
int main(void) { printf("ready\n"); fflush(stdout); usleep(200000); execl("/bin/true", "true", (char *)0); return 3; }
"""


def test_eagain_while_execing(tmp_path):
    """A process held at the entry of execve (by a native_proc controller) is exec'ing."""
    src = tmp_path / "execer.c"
    src.write_text(EXECER)
    exe = tmp_path / "execer"
    subprocess.run(["gcc", "-O0", "-o", str(exe), str(src)], check=True)
    npc.ensure_procd()
    p = subprocess.Popen([str(exe)], stdout=subprocess.PIPE)
    ctl = None
    try:
        assert read_line(p.stdout.fileno()) == b"ready\n"
        ctl = npc.open(f"{p.pid}/ctl", os.O_WRONLY)
        ctl.write(encode_ctl("amd64", [(PC.PCSENTRY, sysset(SYSCALL_NUMBERS["amd64"]["execve"])),
                                       (PC.PCWSTOP, None)]), timeout=WAIT)
        assert procfacts.facts(p.pid).inexec
        assert err(bsd_ptrace, PT.ATTACH, p.pid) == errno.EAGAIN
        assert err(bsd_ptrace, PT.READ_D, p.pid, 0) == errno.EAGAIN
    finally:
        p.kill()
        if ctl is not None:
            ctl.close()
        p.wait(timeout=WAIT)


THREADS = r"""
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static void on_usr1(int s) { (void)s; }
static void *spin(void *a) { (void)a; for (;;) usleep(1000); return 0; }
int main(void) {
    pthread_t t;
    signal(SIGUSR1, on_usr1);
    pthread_create(&t, 0, spin, 0);
    printf("ready\n"); fflush(stdout);
    for (;;) usleep(1000);
}
"""


def test_a_thread_stops_the_process(tmp_path):
    """A signal to a non-leader thread: the whole process stops (no PR_ASYNC), and the wait
    reports that thread's signal, not the leader's requested stop."""
    src = tmp_path / "threads.c"
    src.write_text(THREADS)
    exe = tmp_path / "threads"
    subprocess.run(["gcc", "-O0", "-pthread", "-o", str(exe), str(src)], check=True)
    npc.ensure_procd()
    p = subprocess.Popen([str(exe)], stdout=subprocess.PIPE)
    try:
        assert read_line(p.stdout.fileno()) == b"ready\n"
        assert bsd_ptrace(PT.ATTACH, p.pid) == 0
        assert bsd_wait(p.pid, timeout=WAIT) == (p.pid, SIGSTOP_STOP)
        assert bsd_ptrace(PT.CONTINUE, p.pid, 1, 0) == 0
        other = next(int(t) for t in os.listdir(f"/proc/{p.pid}/task") if int(t) != p.pid)
        host.tgkill(p.pid, other, signal.SIGUSR1)  # to that thread alone
        assert bsd_wait(p.pid, timeout=WAIT) == (p.pid, (bsd_signo("USR1") << 8) | 0x7F)
        assert bsd_ptrace(PT.KILL, p.pid) == 0
        assert bsd_wait(p.pid, timeout=WAIT) == (p.pid, bsd_signo("KILL"))
    finally:
        BP.forget(p.pid)
        p.kill()
        p.wait(timeout=WAIT)


def test_wait_untraced_child_stop_and_continue():
    """An ordinary child: its job-control stop under WUNTRACED, SIGCONT under WCONTINUED, its exit."""
    npc.ensure_procd()
    pid = os.fork()
    if pid == 0:
        while True:
            signal.pause()
    try:
        assert bsd_wait(pid, 1) == (0, 0)
        os.kill(pid, signal.SIGSTOP)
        assert bsd_wait(pid, 2, timeout=WAIT) == (pid, SIGSTOP_STOP)  # WUNTRACED
        os.kill(pid, signal.SIGCONT)
        assert bsd_wait(pid, 4, timeout=WAIT) == (pid, 0x13)  # WCONTINUED
        os.kill(pid, signal.SIGTERM)
        assert bsd_wait(pid, timeout=WAIT) == (pid, bsd_signo("TERM"))
    finally:
        _kill(pid)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def test_wait_errors():
    assert err(bsd_wait, -1, 0x100) == errno.EINVAL
    with pytest.raises(ChildProcessError):
        bsd_wait(1 << 30, 1)
