"""The host adapter inside procd: Linux ptrace-stops in, /proc stops out (ARCHITECTURE decision 3).

procd seizes a process when control is first asked for, classifies every host stop of every
thread, and either turns it into a /proc stop (an event of interest, or job control) or
resumes it without a trace: untraced signals are forwarded, events procd consumes are let go.
All host ptrace calls of procd go through here.
"""

from __future__ import annotations

import os
import struct

from structs import ptrace_consts as T
from structs.syscalls import SYSCALL_NUMBERS

from . import host
from .lwp import Lwp

_U64 = (1 << 64) - 1
_SIGTRAP = 5
_SIGSTOP = 19
_SIGKILL = 9
_JOBCTL = {19, 20, 21, 22}  # SIGSTOP SIGTSTP SIGTTIN SIGTTOU
# TRACEVFORKDONE only matters to PCXSTOPFOROPT's VFORKDONE bit: without it the event is resumed
# at once.  TRACESECCOMP is NOT here: it changes what the tracee sees (without a tracer option
# a SECCOMP_RET_TRACE call fails with ENOSYS), so it is set only while a process's event mask
# asks for SECCOMP (`host_options`).
_SEIZE_OPTS = (T.PTRACE_O_TRACESYSGOOD | T.PTRACE_O_TRACECLONE | T.PTRACE_O_TRACEFORK
               | T.PTRACE_O_TRACEVFORK | T.PTRACE_O_TRACEEXEC | T.PTRACE_O_TRACEEXIT
               | T.PTRACE_O_TRACEVFORKDONE)
_SECCOMP_EVENT_BIT = 0x80  # PCX_EVENT.SECCOMP (= PTRACE_O_TRACESECCOMP)
# Lifecycle calls procd can report from PTRACE_EVENT stops instead of syscall-tracing every call
# (ARCHITECTURE item 21): entry of exit/exit_group (EVENT_EXIT), exit of the exec and fork
# families (EVENT_EXEC, EVENT_FORK/VFORK/CLONE).  Host x86-64 numbers.
_NR = SYSCALL_NUMBERS["amd64"]
_EVENT_ENTRIES = sum(1 << _NR[n] for n in ("exit", "exit_group"))
_EVENT_EXITS = sum(1 << _NR[n] for n in ("execve", "execveat", "fork", "vfork", "clone", "clone3"))
_WALL = 0x40000000


class Buffers:
    """Preallocated buffers for the requests that write into procd's memory."""

    def __init__(self) -> None:
        self.regs = host.buffer(216)
        self.regs_addr = host.address(self.regs)
        self.siginfo = host.buffer(128)
        self.siginfo_addr = host.address(self.siginfo)
        self.scinfo = host.buffer(88)
        self.scinfo_addr = host.address(self.scinfo)
        self.word = host.buffer(8)
        self.word_addr = host.address(self.word)
        self.fpregs = host.buffer(512)
        self.fpregs_addr = host.address(self.fpregs)


_b = Buffers()
_SCINFO = struct.Struct("<B3xIQQ")  # op, arch, ip, sp
_ENTRY = struct.Struct("<Q6Q")
_EXIT = struct.Struct("<qB")
_UQ = struct.Struct("<Q")
_ORIG_RAX = 120
_RAX = 80


def syscalls_traced(sysentry: int, sysexit: int) -> bool:
    """Whether the entry/exit sets need PTRACE_SYSCALL (anything beyond what events serve)."""
    return bool(sysentry & ~_EVENT_ENTRIES or sysexit & ~_EVENT_EXITS)


def host_options(events: int = 0) -> int:
    """The host ptrace options procd keeps on the threads of a process with this PCXSTOPFOROPT
    event mask."""
    return _SEIZE_OPTS | (T.PTRACE_O_TRACESECCOMP if events & _SECCOMP_EVENT_BIT else 0)


def seize(tid: int, options: int = _SEIZE_OPTS) -> None:
    host.ptrace(T.PTRACE_SEIZE, tid, 0, options)


def setoptions(tid: int, options: int) -> None:
    """PTRACE_SETOPTIONS; the thread must be in a ptrace-stop."""
    host.ptrace(T.PTRACE_SETOPTIONS, tid, 0, options)


def interrupt(tid: int) -> None:
    host.ptrace(T.PTRACE_INTERRUPT, tid, 0, 0)


def getregs(lwp: Lwp) -> bytes:
    """The LWP's Linux user_regs_struct (cached while it stays host-stopped)."""
    if lwp.regs is None:
        host.ptrace(T.PTRACE_GETREGS, lwp.tid, 0, _b.regs_addr)
        lwp.regs = bytes(host.ffi.buffer(_b.regs, 216))
    return lwp.regs


def setregs(lwp: Lwp, regs: bytes) -> None:
    """Write the LWP's user_regs_struct, all or nothing: the kernel stores the registers in
    order and stops at the first bad value (a selector: EIO), so on failure the previous set
    is written back before the error is raised (a control message is atomic)."""
    old = getregs(lwp)
    host.ffi.memmove(_b.regs, regs, 216)
    try:
        host.ptrace(T.PTRACE_SETREGS, lwp.tid, 0, _b.regs_addr)
    except OSError:
        host.ffi.memmove(_b.regs, old, 216)
        try:
            host.ptrace(T.PTRACE_SETREGS, lwp.tid, 0, _b.regs_addr)
        except OSError:
            pass
        lwp.regs = None  # whatever the host holds now is read afresh
        raise
    lwp.regs = bytes(regs)


def getfpregs(lwp: Lwp) -> bytes:
    """The LWP's fxsave area (user_fpregs_struct), cached while it stays host-stopped."""
    if lwp.fpregs is None:
        host.ptrace(T.PTRACE_GETFPREGS, lwp.tid, 0, _b.fpregs_addr)
        lwp.fpregs = bytes(host.ffi.buffer(_b.fpregs, 512))
    return lwp.fpregs


def setfpregs(lwp: Lwp, fx: bytes) -> None:
    host.ffi.memmove(_b.fpregs, fx, 512)
    host.ptrace(T.PTRACE_SETFPREGS, lwp.tid, 0, _b.fpregs_addr)
    lwp.fpregs = bytes(fx)


def setsigmask(tid: int, linux_mask: int) -> None:
    _UQ.pack_into(host.ffi.buffer(_b.word, 8), 0, linux_mask)
    host.ptrace(T.PTRACE_SETSIGMASK, tid, 8, _b.word_addr)


def getsiginfo(tid: int) -> bytes:
    host.ptrace(T.PTRACE_GETSIGINFO, tid, 0, _b.siginfo_addr)
    return bytes(host.ffi.buffer(_b.siginfo, 128))


def setsiginfo(tid: int, info: bytes) -> None:
    host.ffi.memmove(_b.siginfo, info, 128)
    host.ptrace(T.PTRACE_SETSIGINFO, tid, 0, _b.siginfo_addr)


def eventmsg(tid: int) -> int:
    host.ptrace(T.PTRACE_GETEVENTMSG, tid, 0, _b.word_addr)
    return _UQ.unpack(host.ffi.buffer(_b.word, 8))[0]


def syscall_info(tid: int) -> tuple[int, int, tuple[int, ...], int, bool]:
    """(op, nr, args, rval, is_error) of a syscall stop."""
    host.ptrace(T.PTRACE_GET_SYSCALL_INFO, tid, 88, _b.scinfo_addr)
    buf = host.ffi.buffer(_b.scinfo, 88)
    op = buf[0][0] if isinstance(buf[0], bytes) else buf[0]
    if op == T.PTRACE_SYSCALL_INFO_ENTRY:
        nr, *args = _ENTRY.unpack_from(buf, 24)
        return op, nr, tuple(args), 0, False
    if op == T.PTRACE_SYSCALL_INFO_EXIT:
        rval, is_error = _EXIT.unpack_from(buf, 24)
        return op, -1, (), rval, bool(is_error)
    return op, -1, (), 0, False


def peekuser(tid: int, off: int) -> int:
    return host.peek(T.PTRACE_PEEKUSER, tid, off) & _U64


def pokeuser(tid: int, off: int, value: int) -> None:
    host.ptrace(T.PTRACE_POKEUSER, tid, off, value & _U64)


def resume(lwp: Lwp, sig: int, syscalls: bool) -> None:
    """Let the host thread run: single-step, syscall-trace or continue, delivering `sig` (host)."""
    if lwp.step:
        req = T.PTRACE_SINGLESTEP
    elif syscalls or lwp.sys_once:
        req = T.PTRACE_SYSCALL
    else:
        req = T.PTRACE_CONT
    host.ptrace(req, lwp.tid, 0, sig)
    lwp.hstop = None
    lwp.regs = None
    lwp.fpregs = None
    lwp.gen += 1


def listen(lwp: Lwp) -> None:
    host.ptrace(T.PTRACE_LISTEN, lwp.tid, 0, 0)
    lwp.listening = True
    lwp.regs = None


def detach(lwp: Lwp, sig: int = 0) -> None:
    try:
        host.ptrace(T.PTRACE_DETACH, lwp.tid, 0, sig)
    except OSError:
        pass
    lwp.hstop = None


def wait_any() -> tuple[int, int] | None:
    """One host wait event (tid, status) of any traced thread, or None."""
    try:
        tid, status = os.waitpid(-1, os.WNOHANG | _WALL)
    except ChildProcessError:
        return None
    if tid == 0:
        return None
    return tid, status


def in_syscall_regs(regs: bytes) -> tuple[bool, int]:
    """(in a system call?, its number) from orig_rax (ARCHITECTURE item 4)."""
    orig = struct.unpack_from("<q", regs, _ORIG_RAX)[0]
    return orig >= 0, orig


_ARGS = struct.Struct("<Q")
_ARG_OFFSETS = (112, 104, 96, 56, 72, 64)  # rdi rsi rdx r10 r8 r9 in user_regs_struct


def syscall_args(regs: bytes) -> tuple[int, ...]:
    """The six system-call argument registers of a user_regs_struct (x86-64 convention)."""
    return tuple(_ARGS.unpack_from(regs, off)[0] for off in _ARG_OFFSETS)


def tgkill(pid: int, tid: int, sig: int) -> None:
    host.tgkill(pid, tid, sig)



# -- extended register state and pending-signal queues (the xregs / lwpsigqueue / sigqueue
# files and PCSXREG).  Every call needs the thread in a ptrace-stop.

_XSTATE_ROOM = 1 << 16  # more than any XSAVE area (AMX tiles included); the host says the size
_SIGINFO = 128  # Linux siginfo_t, procd's own (amd64) layout
_PEEK_ARGS = struct.Struct("<QIi")  # struct ptrace_peeksiginfo_args
_xstate_size = 0
_xbuf = None


def _xstate_buffer():
    global _xbuf
    if _xbuf is None:
        _xbuf = host.buffer(_XSTATE_ROOM)
    return _xbuf


def getxstate(lwp: Lwp) -> bytes:
    """The thread's XSAVE area exactly as the host's PTRACE_GETREGSET(NT_X86_XSTATE) gives it:
    the standard (non-compacted) format, at the host's size (the kernel shrinks the iovec to
    it), with the enabled features (XCR0) in the sw_reserved bytes 464..471."""
    global _xstate_size
    buf = _xstate_buffer()
    iov = host.iovec(host.address(buf), _XSTATE_ROOM)
    host.ptrace(T.PTRACE_GETREGSET, lwp.tid, T.NT.X86_XSTATE, host.address(iov))
    _xstate_size = iov.iov_len
    return bytes(host.ffi.buffer(buf, iov.iov_len))


def xstate_size(lwp: Lwp) -> int:
    """The host's XSAVE area size (a property of this machine, asked of the host once)."""
    if not _xstate_size:
        getxstate(lwp)
    return _xstate_size


def setxstate(lwp: Lwp, area: bytes) -> None:
    """PTRACE_SETREGSET(NT_X86_XSTATE) with a whole area: the host checks it (EINVAL for a bad
    XSAVE header, or reserved MXCSR bits while x87/SSE/AVX state is present, EFAULT for a size
    that is not the host's).  The fxsave part changes too, so the cached FP image is dropped."""
    buf = _xstate_buffer()
    if len(area) > _XSTATE_ROOM:
        raise OSError(22, "larger than any XSAVE area")
    host.ffi.memmove(buf, area, len(area))
    iov = host.iovec(host.address(buf), len(area))
    try:
        host.ptrace(T.PTRACE_SETREGSET, lwp.tid, T.NT.X86_XSTATE, host.address(iov))
    finally:
        lwp.fpregs = None


def peeksiginfo(tid: int, off: int, nr: int, shared: bool) -> list[bytes]:
    """Up to `nr` Linux siginfo_t (128 bytes each, amd64 layout) of the thread's private pending
    queue (or its process's shared one), from queue index `off` on: fewer when the queue ends.
    The host may stop early when procd itself has a signal pending, so it is asked again."""
    out: list[bytes] = []
    args = host.buffer(_PEEK_ARGS.size)
    room = max(min(nr, 64), 0)
    data = host.buffer(max(room, 1) * _SIGINFO)
    while len(out) < nr:
        want = min(room, nr - len(out))
        _PEEK_ARGS.pack_into(host.ffi.buffer(args), 0, off + len(out), 1 if shared else 0, want)
        got = host.ptrace(T.PTRACE_PEEKSIGINFO, tid, host.address(args), host.address(data))
        if got <= 0:
            break
        raw = bytes(host.ffi.buffer(data, got * _SIGINFO))
        out += [raw[i * _SIGINFO:(i + 1) * _SIGINFO] for i in range(got)]
    return out
