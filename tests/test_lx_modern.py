"""lx_ptrace's modern requests (SETOPTIONS, GETEVENTMSG, GET/SETSIGINFO, GET/SETSIGMASK,
GET/SETREGSET) on real TRACEME children, compared with the host kernel where it is cheap."""

from __future__ import annotations

import errno
import os
import signal
import struct
import time

import pytest

import lxbrand
from lxbrand import lx_ptrace, lx_wait4
from native_proc import host
from structs.ptrace_consts import NT, PTRACE, PTRACE_O

from .targets import LOOP, LXT

SI = struct.Struct("<iii4xiI")  # si_signo, si_errno, si_code, si_pid, si_uid (kill arm)
TRACESYSGOOD = int(PTRACE_O.TRACESYSGOOD)
GDB_OPTIONS = int(PTRACE_O.TRACESYSGOOD | PTRACE_O.TRACEFORK | PTRACE_O.TRACEVFORK | PTRACE_O.TRACECLONE
                  | PTRACE_O.TRACEEXEC | PTRACE_O.TRACEVFORKDONE | PTRACE_O.EXITKILL)


def _readline(r: int) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(r, 100)
        if not chunk:
            break
        line += chunk
    return line


@pytest.fixture
def kids(cbuild):
    """kids(source, mode, lx=True) -> (pid, read end of its stdout), stopped at the exec
    SIGTRAP; traced by lx_ptrace or (lx=False) by the host kernel."""
    exes = {}
    started = []
    lxbrand.ensure_procd()

    def start(source: str, mode: str = "", lx: bool = True):
        if source not in exes:
            exes[source] = str(cbuild(source, "-O0", name={LOOP: "loop", LXT: "lxt"}.get(source, "siginfo_target")))
        exe = exes[source]
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.dup2(w, 1)
            try:
                if lx:
                    if lx_ptrace(PTRACE.TRACEME, 0):
                        os._exit(100)
                else:
                    host.ptrace(PTRACE.TRACEME, 0)
                os.execv(exe, [exe, mode] if mode else [exe])
            finally:
                os._exit(101)
        os.close(w)
        started.append((pid, r, lx))
        st = (lx_wait4(pid) if lx else host.wait4(pid))
        assert st == (pid, 0x57F)
        return pid, r

    yield start
    for pid, r, lx in started:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if lx:
            # A tracee with TRACEEXIT stops in its EXIT event even when SIGKILLed (as the
            # host's does): let it finish.
            for _ in range(5):
                p, st = lx_wait4(pid, 0x40000000)
                if p <= 0 or not os.WIFSTOPPED(st):
                    break
                lx_ptrace(PTRACE.CONT, pid, 0, 0)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        os.close(r)


class Lx:
    """The same calls through lx_ptrace / lx_wait4 (raising like the host wrapper)."""

    @staticmethod
    def ptrace(req, pid, addr=0, data=0):
        keep = data  # noqa: F841  (a cdata iovec must outlive the call)
        rc = lx_ptrace(req, pid, addr, host.address(data) if isinstance(data, host.ffi.CData) else data)
        if rc < 0:
            raise OSError(-rc, os.strerror(-rc))
        return rc

    @staticmethod
    def wait4(pid):
        return lx_wait4(pid)


def _siginfo(api, pid) -> bytes:
    b = bytearray(128)
    api.ptrace(PTRACE.GETSIGINFO, pid, 0, b)
    return bytes(b)


def _eventmsg(api, pid) -> int:
    b = bytearray(8)
    api.ptrace(PTRACE.GETEVENTMSG, pid, 0, b)
    return int.from_bytes(b, "little")


def _both(kids, source, mode=""):
    return [(api, *kids(source, mode, lx=api is Lx)) for api in (Lx, host)]


def _run_ready(api, pid, r) -> bytes:
    api.ptrace(PTRACE.CONT, pid, 0, 0)
    return _readline(r)


# -- SETOPTIONS / GETEVENTMSG ------------------------------------------------------------------


def test_setoptions_errors(kids):
    pid, r = kids(LXT)
    assert lx_ptrace(PTRACE.SETOPTIONS, pid, 0, 1 << 22) == -errno.EINVAL  # unknown bit
    assert lx_ptrace(PTRACE.SETOPTIONS, pid, 0, 0x80000000) == -errno.EINVAL
    assert lx_ptrace(PTRACE.SETOPTIONS, os.getpid(), 0, 0) == -errno.ESRCH  # not our tracee
    assert lx_ptrace(PTRACE.SETOPTIONS, pid, 0, GDB_OPTIONS) == 0  # gdb's set: all accepted
    assert lx_ptrace(PTRACE.SETOPTIONS, pid, 0, 0x3000FF) == 0  # every option bit (as root)
    assert lx_ptrace(PTRACE.CONT, pid, 0, 0) == 0
    assert lx_ptrace(PTRACE.SETOPTIONS, pid, 0, 0) == -errno.ESRCH  # running
    assert lx_ptrace(PTRACE.GETEVENTMSG, pid, 0, bytearray(8)) == -errno.ESRCH


def test_tracesysgood_status_and_eventmsg_like_the_host(kids):
    seen = {}
    for api, pid, r in _both(kids, LXT):
        assert _eventmsg(api, pid) == 0  # no event yet (exec stop without TRACEEXEC)
        _run_ready(api, pid, r)
        os.kill(pid, signal.SIGUSR2)
        api.wait4(pid)
        out = []
        for opts in (0, TRACESYSGOOD):
            api.ptrace(PTRACE.SETOPTIONS, pid, 0, opts)
            for _ in range(4):
                api.ptrace(PTRACE.SYSCALL, pid, 0, 0)
                _, st = api.wait4(pid)
                info = SI.unpack_from(_siginfo(api, pid))
                out.append((hex(st), _eventmsg(api, pid), info[:3], info[3] == pid))
        seen[api] = out
    # entry/exit alternate: eventmsg 1 at entry, 2 at exit (Linux >= 5.3)
    assert sorted(set(s[1] for s in seen[Lx])) == [1, 2]
    assert [s[0] for s in seen[Lx]] == ["0x57f"] * 4 + ["0x857f"] * 4
    assert seen[Lx][4][2] == (5, 0, 0x85) and seen[Lx][0][2] == (5, 0, 5)
    assert {s[1:] for s in seen[Lx]} == {s[1:] for s in seen[host]}
    assert [s[0] for s in seen[Lx]] == [s[0] for s in seen[host]]


def test_geteventmsg_efault(kids):
    pid, _ = kids(LXT)
    assert lx_ptrace(PTRACE.GETEVENTMSG, pid, 0, 8) == -errno.EFAULT
    buf = host.buffer(8)
    assert lx_ptrace(PTRACE.GETEVENTMSG, pid, 0, host.address(buf)) == 0
    assert bytes(host.ffi.buffer(buf, 8)) == bytes(8)


# -- GETSIGINFO / SETSIGINFO -------------------------------------------------------------------


def test_siginfo_at_exec_stop_like_the_host(kids):
    got = {}
    for api, pid, _ in _both(kids, LXT):
        signo, err, code, spid, uid = SI.unpack_from(_siginfo(api, pid))
        got[api] = (signo, err, code, spid == pid, uid)
    assert got[Lx] == got[host] == (5, 0, 0, True, os.getuid())  # SI_USER from itself


def test_siginfo_at_sigusr1_stop_like_the_host(kids):
    got = {}
    for api, pid, r in _both(kids, LXT):
        _run_ready(api, pid, r)
        os.kill(pid, signal.SIGUSR1)
        assert api.wait4(pid) == (pid, (signal.SIGUSR1 << 8) | 0x7F)
        got[api] = _siginfo(api, pid)
    assert got[Lx] == got[host]
    assert SI.unpack_from(got[Lx]) == (signal.SIGUSR1, 0, 0, os.getpid(), os.getuid())


def test_siginfo_at_int3_like_the_host(kids):
    got = {}
    for api, pid, r in _both(kids, LOOP, "int3"):
        _run_ready(api, pid, r)
        assert api.wait4(pid) == (pid, 0x57F)
        got[api] = _siginfo(api, pid)
    assert got[Lx] == got[host]
    assert SI.unpack_from(got[Lx])[:3] == (5, 0, 0x80)  # SI_KERNEL, no address


def test_siginfo_at_watchpoint_and_step_like_the_host(kids):
    dr = 848  # offsetof(struct user, u_debugreg)
    got = {}
    for api, pid, r in _both(kids, LOOP, "spin"):
        counter = int(_run_ready(api, pid, r).split()[1], 16)
        os.kill(pid, signal.SIGSTOP)
        api.wait4(pid)
        api.ptrace(PTRACE.POKEUSER, pid, dr, counter)
        api.ptrace(PTRACE.POKEUSER, pid, dr + 56, 0xD0101)
        api.ptrace(PTRACE.CONT, pid, 0, 0)
        assert api.wait4(pid) == (pid, 0x57F)
        regs = bytearray(216)
        api.ptrace(PTRACE.GETREGS, pid, 0, regs)
        rip = struct.unpack_from("<Q", regs, 16 * 8)[0]
        hw = _siginfo(api, pid)
        assert struct.unpack_from("<iiiiQ", hw)[:3] == (5, 0, 4)  # TRAP_HWBKPT
        assert struct.unpack_from("<Q", hw, 16)[0] == rip  # si_addr: the pc, not the data
        api.ptrace(PTRACE.POKEUSER, pid, dr + 56, 0)
        api.ptrace(PTRACE.SINGLESTEP, pid, 0, 0)
        assert api.wait4(pid) == (pid, 0x57F)
        api.ptrace(PTRACE.GETREGS, pid, 0, regs)
        step = _siginfo(api, pid)
        assert struct.unpack_from("<iii", step) == (5, 0, 2)  # TRAP_TRACE
        assert struct.unpack_from("<Q", step, 16)[0] == struct.unpack_from("<Q", regs, 16 * 8)[0]
        got[api] = (hw[:16], step[:16])
    assert got[Lx] == got[host]


def test_setsiginfo(kids):
    pid, r = kids(LXT)
    counter = int(_run_ready(Lx, pid, r).split()[1], 16)
    os.kill(pid, signal.SIGUSR1)
    assert lx_wait4(pid) == (pid, (signal.SIGUSR1 << 8) | 0x7F)
    new = bytearray(128)
    struct.pack_into("<iii4xiIQ", new, 0, signal.SIGUSR1, 0, -1, 4242, 7, 0xABCD)  # SI_QUEUE
    assert lx_ptrace(PTRACE.SETSIGINFO, pid, 0, new) == 0
    assert _siginfo(Lx, pid) == bytes(new)
    assert lx_ptrace(PTRACE.SETSIGINFO, pid, 0, 8) == -errno.EFAULT
    assert lx_ptrace(PTRACE.GETSIGINFO, pid, 0, 8) == -errno.EFAULT
    before = bytearray(8)
    lx_ptrace(PTRACE.PEEKDATA, pid, counter, before)
    assert lx_ptrace(PTRACE.CONT, pid, 0, signal.SIGUSR1) == 0  # delivered with the new info
    time.sleep(0.1)
    os.kill(pid, signal.SIGUSR2)
    assert lx_wait4(pid) == (pid, (signal.SIGUSR2 << 8) | 0x7F)
    after = bytearray(8)
    lx_ptrace(PTRACE.PEEKDATA, pid, counter, after)
    assert int.from_bytes(after, "little") >= int.from_bytes(before, "little") + 1000
    assert SI.unpack_from(_siginfo(Lx, pid))[0] == signal.SIGUSR2  # the override is gone
    assert lx_ptrace(PTRACE.CONT, pid, 0, 0) == 0
    assert lx_ptrace(PTRACE.GETSIGINFO, pid, 0, bytearray(128)) == -errno.ESRCH  # running


# -- GETSIGMASK / SETSIGMASK -------------------------------------------------------------------


def test_sigmask(kids):
    pid, r = kids(LXT)
    m = bytearray(8)
    assert lx_ptrace(PTRACE.GETSIGMASK, pid, 4, m) == -errno.EINVAL
    assert lx_ptrace(PTRACE.SETSIGMASK, pid, 16, m) == -errno.EINVAL
    assert lx_ptrace(PTRACE.GETSIGMASK, pid, 8, m) == 0 and m == bytes(8)
    want = 1 << (signal.SIGUSR1 - 1) | 1 << (signal.SIGRTMIN + 1 - 1)
    assert lx_ptrace(PTRACE.SETSIGMASK, pid, 8, (want | 1 << 8 | 1 << 18).to_bytes(8, "little")) == 0
    assert lx_ptrace(PTRACE.GETSIGMASK, pid, 8, m) == 0
    assert int.from_bytes(m, "little") == want  # SIGKILL and SIGSTOP cannot be blocked
    assert lx_ptrace(PTRACE.SETSIGMASK, pid, 8, 8) == -errno.EFAULT
    assert lx_ptrace(PTRACE.GETSIGMASK, pid, 8, 8) == -errno.EFAULT
    assert lx_ptrace(PTRACE.SETSIGMASK, pid, 8, bytes(8)) == 0
    assert lx_ptrace(PTRACE.GETSIGMASK, pid, 8, m) == 0 and m == bytes(8)
    assert lx_ptrace(PTRACE.CONT, pid, 0, 0) == 0
    assert lx_ptrace(PTRACE.GETSIGMASK, pid, 8, m) == -errno.ESRCH


def test_sigmask_like_the_host(kids):
    got = {}
    for api, pid, _ in _both(kids, LXT):
        api.ptrace(PTRACE.SETSIGMASK, pid, 8, (1 << 9 | 1 << 8).to_bytes(8, "little"))
        m = bytearray(8)
        api.ptrace(PTRACE.GETSIGMASK, pid, 8, m)
        got[api] = bytes(m)
    assert got[Lx] == got[host] == (1 << 9).to_bytes(8, "little")


# -- GETREGSET / SETREGSET ---------------------------------------------------------------------


def _iov(buf, length):
    return bytearray(struct.pack("<QQ", host.address(buf), length))


def test_getregset(kids):
    pid, _ = kids(LXT)
    regs = bytearray(216)
    assert lx_ptrace(PTRACE.GETREGS, pid, 0, regs) == 0
    out = host.buffer(216)
    iov = _iov(out, 216)
    assert lx_ptrace(PTRACE.GETREGSET, pid, NT.PRSTATUS, iov) == 0
    assert bytes(host.ffi.buffer(out, 216)) == regs
    assert struct.unpack("<QQ", iov)[1] == 216
    # a longer iovec is cut to the regset; the iovec may also be given by address
    big = host.buffer(1000)
    civ = host.iovec(big, 1000)
    assert lx_ptrace(PTRACE.GETREGSET, pid, NT.PRFPREG, host.address(civ)) == 0
    assert civ.iov_len == 512
    fx = bytearray(512)
    assert lx_ptrace(PTRACE.GETFPREGS, pid, 0, fx) == 0
    assert bytes(host.ffi.buffer(big, 512)) == fx
    # a short one gives the prefix and the length used
    short = host.buffer(216)
    iov = _iov(short, 96)
    assert lx_ptrace(PTRACE.GETREGSET, pid, NT.PRSTATUS, iov) == 0
    assert struct.unpack("<QQ", iov)[1] == 96 and bytes(host.ffi.buffer(short, 96)) == regs[:96]
    iov = _iov(short, 0)
    assert lx_ptrace(PTRACE.GETREGSET, pid, NT.PRSTATUS, iov) == 0 and struct.unpack("<QQ", iov)[1] == 0
    # failures
    assert lx_ptrace(PTRACE.GETREGSET, pid, NT.PRSTATUS, _iov(short, 100)) == -errno.EINVAL  # not a multiple of 8
    assert lx_ptrace(PTRACE.GETREGSET, pid, 3, _iov(short, 216)) == -errno.EINVAL  # NT_PRPSINFO
    assert lx_ptrace(PTRACE.GETREGSET, pid, 0x4711, _iov(big, 1000)) == -errno.EINVAL  # an unknown note type
    assert lx_ptrace(PTRACE.GETREGSET, pid, NT.PRSTATUS, 8) == -errno.EFAULT  # bad iovec
    assert lx_ptrace(PTRACE.GETREGSET, pid, NT.PRSTATUS, bytearray(struct.pack("<QQ", 8, 216))) == -errno.EFAULT
    assert lx_ptrace(PTRACE.CONT, pid, 0, 0) == 0
    assert lx_ptrace(PTRACE.GETREGSET, pid, NT.PRSTATUS, _iov(short, 216)) == -errno.ESRCH


def test_getregset_lengths_like_the_host(kids):
    got = {}
    for api, pid, _ in _both(kids, LXT):
        out = []
        for nt, n in ((NT.PRSTATUS, 96), (NT.PRSTATUS, 1000), (NT.PRFPREG, 1000), (NT.PRFPREG, 0)):
            civ = host.iovec(host.buffer(1000), n)
            api.ptrace(PTRACE.GETREGSET, pid, nt, civ)
            out.append(civ.iov_len)
        for nt, n in ((NT.PRSTATUS, 100), (3, 216)):
            try:
                api.ptrace(PTRACE.GETREGSET, pid, nt, host.iovec(host.buffer(1000), n))
                out.append(0)
            except OSError as e:
                out.append(-e.errno)
        got[api] = out
    assert got[Lx] == got[host] == [96, 216, 512, 0, -errno.EINVAL, -errno.EINVAL]


def test_setregset(kids):
    pid, _ = kids(LXT)
    regs = bytearray(216)
    lx_ptrace(PTRACE.GETREGS, pid, 0, regs)
    new = bytearray(regs)
    struct.pack_into("<Q", new, 0, 0x1515)  # r15
    struct.pack_into("<Q", new, 8 * 12, 0x1212)  # rdx: beyond the prefix, not written
    buf = host.from_buffer(new)
    iov = _iov(buf, 96)
    assert lx_ptrace(PTRACE.SETREGSET, pid, NT.PRSTATUS, iov) == 0
    assert struct.unpack("<QQ", iov)[1] == 96
    now = bytearray(216)
    lx_ptrace(PTRACE.GETREGS, pid, 0, now)
    assert struct.unpack_from("<Q", now, 0)[0] == 0x1515
    assert now[96:] == regs[96:]
    # FP: only the whole image
    fx = bytearray(512)
    lx_ptrace(PTRACE.GETFPREGS, pid, 0, fx)
    fx[24:28] = (0x1F80 | 0x8000).to_bytes(4, "little")
    fbuf = host.from_buffer(fx)
    assert lx_ptrace(PTRACE.SETREGSET, pid, NT.PRFPREG, _iov(fbuf, 256)) == -errno.EINVAL
    assert lx_ptrace(PTRACE.SETREGSET, pid, NT.PRFPREG, _iov(fbuf, 512)) == 0
    out = bytearray(512)
    lx_ptrace(PTRACE.GETFPREGS, pid, 0, out)
    assert out[24:28] == fx[24:28]
    assert lx_ptrace(PTRACE.SETREGSET, pid, NT.X86_XSTATE, _iov(fbuf, 512)) == -errno.EFAULT  # not the whole area
    assert lx_ptrace(PTRACE.SETREGSET, pid, NT.PRSTATUS, _iov(fbuf, 100)) == -errno.EINVAL
    assert lx_ptrace(PTRACE.SETREGSET, pid, NT.PRSTATUS, 8) == -errno.EFAULT
    assert lx_ptrace(PTRACE.SETREGSET, pid, NT.PRSTATUS, bytearray(struct.pack("<QQ", 8, 216))) == -errno.EFAULT


# -- what the resumed tracee's handler sees ----------------------------------------------------

INFO_TARGET = r"""
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void on_usr1(int s, siginfo_t *si, void *c) {
    (void)s; (void)c;
    char b[64];
    int n = snprintf(b, sizeof b, "%d %d %d %d\n", si->si_signo, si->si_code, (int)si->si_pid,
                     si->si_value.sival_int);
    write(1, b, n);
}
int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, 0);
    printf("ready\n");
    fflush(stdout);
    for (;;) pause();
}
"""


def _until_paused(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/syscall") as f:
            if f.read().split()[0] == "34":  # pause
                return
        time.sleep(0.001)
    raise AssertionError("the target did not return to pause()")


def test_setsiginfo_reaches_the_handler_like_the_host(kids):
    """SETSIGINFO's siginfo is the one the tracee's SA_SIGINFO handler receives; a signal the
    tracer injects in place of the stop's own arrives as SI_USER from the tracer."""
    seen = {}
    for api, pid, r in _both(kids, INFO_TARGET):
        _run_ready(api, pid, r)
        out = []
        os.kill(pid, signal.SIGUSR1)
        assert api.wait4(pid) == (pid, (signal.SIGUSR1 << 8) | 0x7F)
        new = bytearray(128)
        struct.pack_into("<iii4xiIQ", new, 0, signal.SIGUSR1, 0, -1, 4242, 7, 0xABCD)  # SI_QUEUE
        api.ptrace(PTRACE.SETSIGINFO, pid, 0, new)
        api.ptrace(PTRACE.CONT, pid, 0, signal.SIGUSR1)
        out.append(_readline(r))
        # Back in pause() first: a SIGUSR1 injected while its handler still runs is blocked,
        # re-queued, and stops the tracee once more instead of printing (Linux and lx alike).
        _until_paused(pid)
        os.kill(pid, signal.SIGUSR2)
        assert api.wait4(pid) == (pid, (signal.SIGUSR2 << 8) | 0x7F)
        api.ptrace(PTRACE.CONT, pid, 0, signal.SIGUSR1)  # injected in place of SIGUSR2
        out.append(_readline(r).replace(str(os.getpid()).encode(), b"<tracer>"))
        seen[api] = out
    assert seen[Lx] == seen[host]
    assert seen[Lx][0] == b"10 -1 4242 43981\n"
    assert seen[Lx][1].startswith(b"10 0 <tracer>")


def test_siginfo_for_an_i386_caller(kids):
    """An i386 caller's GETSIGINFO is the compat_siginfo_t of what an amd64 caller gets (the
    layouts are checked against gcc -m32 in test_linux_layouts), and SETSIGINFO takes one."""
    from structs.codec import codec
    from structs.linux_siginfo import SIGINFO, SIGINFO_VIEWS

    pid, r = kids(LXT)
    _run_ready(Lx, pid, r)
    os.kill(pid, signal.SIGUSR1)
    assert lx_wait4(pid) == (pid, (signal.SIGUSR1 << 8) | 0x7F)
    b64, b32 = bytearray(128), bytearray(128)
    assert lx_ptrace(PTRACE.GETSIGINFO, pid, 0, b64) == 0
    assert lx_ptrace(PTRACE.GETSIGINFO, pid, 0, b32, abi="i386") == 0
    s64, s32 = codec(SIGINFO["amd64"]).decode(bytes(b64)), codec(SIGINFO["i386"]).decode(bytes(b32))
    assert (s32["si_signo"], s32["si_errno"], s32["si_code"]) == (s64["si_signo"], s64["si_errno"], s64["si_code"])
    k64 = codec(SIGINFO_VIEWS["amd64"]["kill"]).decode(s64["_sifields"])
    k32 = codec(SIGINFO_VIEWS["i386"]["kill"]).decode(s32["_sifields"])
    assert (k32["si_pid"], k32["si_uid"]) == (k64["si_pid"], k64["si_uid"]) == (os.getpid(), os.getuid())
    # SETSIGINFO in the compat form, read back in the amd64 one
    struct.pack_into("<iiiiI", b32, 0, signal.SIGUSR1, 0, -1, 4242, 7)  # SI_QUEUE from 4242
    assert lx_ptrace(PTRACE.SETSIGINFO, pid, 0, b32, abi="i386") == 0
    assert lx_ptrace(PTRACE.GETSIGINFO, pid, 0, b64) == 0
    assert SI.unpack_from(b64) == (signal.SIGUSR1, 0, -1, 4242, 7)
    assert lx_ptrace(PTRACE.GETSIGINFO, pid, 0, 8, abi="i386") == -errno.EFAULT
