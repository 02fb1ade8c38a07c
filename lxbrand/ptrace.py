"""lx_ptrace: Linux ptrace(2) requests carried out through native_proc's /proc.

Follows the seed (OpenSolaris lx ptrace.c): TRACEME sets PR_PTRACE and traces every signal on the
process's own ctl; ATTACH stops the target, traces it the same way, catches exec, and forks a
monitor; CONT/SINGLESTEP/SYSCALL are `PCCSIG; PCSSIG; PCRUN` on the LWP's lwpctl in one write;
PEEK/POKE go through the `as` file; registers through lwpstatus and PCSREG; the user area is
resolved through the `struct user` schema; debug registers become watched areas.  Where the seed
differs from Linux, Linux wins (errnos, full-word POKE, the SIGSTOP attach stop, PEEKUSER of any
offset).  Every call returns 0 (or what the raw system call returns) or -errno.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import struct
from dataclasses import dataclass, field
from typing import Any, Callable

import native_proc.client as npc
from native_proc.client import ProcFile
from structs.codec import codec
from structs.ctl import encode_ctl, sysset
from structs.fields import field_at, memberof
from structs.procfs import LWPSTATUS, PRFPREGSET, PSTATUS
from structs.procfs_consts import PC, PCRUN_FLAGS, PCX, PR_WHY
from structs.ptrace_consts import PTRACE, PTRACE_EVENT, PTRACE_O, PTRACE_O_MASK
from structs.signals import LINUX_NSIG, ltos, stol
from structs.syscalls import SYSCALL_NUMBERS
from structs.user_area import USER, USER_FPREGS, USER_FPXREGS

from native_proc import host
from native_proc import siginfo as SI

from . import caller, debugregs, monitor
from . import regs as R

__all__ = ["lx_ptrace", "Tracee", "tracee_of", "forget", "adopt", "took", "procd_lost", "PROCD_LOST"]

_PR_PTRACE, _PR_RLC, _PR_KLC, _PR_FORK, _PR_ASYNC = 0x4000000, 0x200000, 0x400000, 0x100000, 0x800000
_PRSTEP = 0x4
_WORD = {"amd64": 8, "i386": 4}
_PST = codec(PSTATUS["amd64"])
_LWPST = codec(LWPSTATUS["amd64"])
_FPSET = codec(PRFPREGSET["amd64"])
_OFF_FPREG = memberof(LWPSTATUS["amd64"], "pr_fpreg")[0]
_OFF_INFO = memberof(LWPSTATUS["amd64"], "pr_info")[0]
_ALL_SIGNALS = {"__sigbits": b"\xff" * 16}
_NO_FAULTS = {"word": [0, 0, 0, 0]}


@dataclass(eq=False)
class Tracee:
    """What this tracer holds for one traced LWP (a Linux pid or tid)."""

    pid: int  # the process
    tid: int  # the Linux id the tracer names
    lwpid: int
    lwpctl: ProcFile
    status: ProcFile
    mem: ProcFile
    dr: list[int] = field(default_factory=debugregs.new_shadow)
    watched: list[tuple[int, int, int]] = field(default_factory=list)
    monitor: int = 0  # pid of the monitor process (ATTACH), 0 for a TRACEME child
    attach_stop: bool = False  # the next reported stop is the attach SIGSTOP
    reported: bool = False  # its monitor reported a stop and sits stopped until we resume
    reported_stop: tuple[int, int] | None = None  # (pr_why, pr_what) of that stop
    stepping: bool = False
    options: int = 0  # PTRACE_SETOPTIONS bits
    eventmsg: int = 0  # PTRACE_GETEVENTMSG's word: the last event's message
    siginfo: bytes | None = None  # Linux siginfo set by SETSIGINFO for the current stop
    seized: bool = False  # attached by PTRACE_SEIZE (or auto-attached from a seized tracee)
    thread: bool = False  # a non-leader thread (its tid is the pid the tracer names)
    interrupt: bool = False  # INTERRUPT while stopped: stop again as soon as it is resumed
    listening: bool = False  # LISTEN: group-stopped, its next stop comes when that ends
    # INTERRUPT then LISTEN: Linux's pending trap fires first when the group stop ends, so the
    # next real stop is shown as the interrupt stop (`synthetic`) and shown again itself after
    # the tracer resumes it (`rereport`, taken by the next wait).
    interrupt_at_wake: bool = False
    synthetic: bool = False
    rereport: bool = False
    exit_status: int | None = None  # the wait status its EXIT event announced
    auto: bool = False  # auto-attached (FORK/VFORK/CLONE): its SIGSTOP carries no siginfo
    orig_override: int | None = None  # orig_rax written at this stop where no call can take it
    killed: bool = False  # PTRACE_KILL sent it SIGKILL: its death is a moment away (wait._dying)

    def snapshot(self, fp: bool = True) -> bytes:
        """The stopped LWP's lwpstatus_t; ESRCH (Linux: not a stopped tracee) otherwise.
        `fp=False`: pr_fpreg may read zero (it is then not asked of procd)."""
        snap = self.status.snapshot(fp)
        if snap is None:
            try:
                snap = self.status.pread(_LWPST.size, 0)
            except OSError:
                raise OSError(errno.ESRCH, "no such tracee") from None
            if not _LWPST.struct.unpack_from(snap)[0] & 2:  # PR_ISTOP
                raise OSError(errno.ESRCH, "tracee is not stopped")
        return snap

    def regs(self) -> list[int]:
        """Its Linux user_regs_struct as values, with an orig_rax the tracer wrote at this stop
        (outside a system call the kernel keeps such a write; native_proc has no place for it)."""
        lr = R.linux_regs(self.snapshot(fp=False))
        if self.orig_override is not None:
            lr[15] = self.orig_override
        return lr

    def close(self) -> None:
        for f in (self.lwpctl, self.status, self.mem):
            f.close()


_tracees: dict[int, Tracee] = {}


def forget(tid: int) -> None:
    """Drop what we hold for a tracee that exited or was detached."""
    t = _tracees.pop(tid, None)
    if t is not None:
        t.close()


# What a request to a procd that went away raises: its tracees were taken from us (procd
# let them go, or its guardian did), which Linux answers with ESRCH; waits see no such child.
PROCD_LOST = (npc.ProcdError, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


def _procd_gone(t: Tracee) -> bool:
    """Whether the procd holding `t` has closed our connection (one poll, no request)."""
    try:
        p = select.poll()
        p.register(t.lwpctl.fileno(), select.POLLHUP)
        return any(ev & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, ev in p.poll(0))
    except (OSError, ValueError):
        return True


def procd_lost() -> None:
    """procd is gone: every tracee was taken from us.  Nothing of them is trusted any more
    (their last published snapshots included): their monitors go (killed and reaped: a
    monitor sitting stopped after a report would otherwise stay so until we exit) and their
    records are dropped, so requests answer ESRCH and waits see no such child (a TRACEME
    child stays our child: its exit is still ours to wait for)."""
    for tid in list(_tracees):
        t = _tracees.get(tid)
        if t is None:
            continue
        if t.monitor:
            monitor.dispose(t.monitor)
            t.monitor = 0
        forget(tid)
    npc.forget_procd()


def _open_tracee(tid: int, attach: bool = False) -> Tracee:
    try:
        pid, lwpid = npc.tidmap(tid)
    except OSError:
        pid, lwpid = _tgid(tid), 1
        if pid != tid:
            # A thread of a process procd holds no record of yet: opening the process names
            # its LWPs; the tracee is that LWP, never the leader under the thread's name.
            try:
                with npc.open(f"{pid}/status"):
                    pid, lwpid = npc.tidmap(tid)
            except OSError:
                raise OSError(errno.ESRCH, "no such thread") from None
    flags = os.O_WRONLY | (os.O_EXCL if attach else 0)
    lwpctl = npc.open(f"{pid}/lwp/{lwpid}/lwpctl", flags)
    try:
        st = npc.open(f"{pid}/lwp/{lwpid}/lwpstatus")
        mem = npc.open(f"{pid}/as", os.O_RDWR)
    except BaseException:
        lwpctl.close()
        raise
    return Tracee(pid, tid, lwpid, lwpctl, st, mem)


def tracee_of(tid: int) -> Tracee:
    """The tracee record for a pid this process traces, or ESRCH (Linux: not our tracee)."""
    t = _tracees.get(tid)
    if t is not None:
        return t
    # A TRACEME child: traced by us when PR_PTRACE is set and we are its parent.
    try:
        with npc.open(f"{tid}/status") as f:
            st = _PST.decode(f.read())
    except OSError:
        raise OSError(errno.ESRCH, "no such process") from None
    # (pr_pid: a thread id names its process's status, but only the process is the child)
    if not (st["pr_flags"] & _PR_PTRACE and st["pr_ppid"] == os.getpid() and st["pr_pid"] == tid):
        raise OSError(errno.ESRCH, "not traced by this process")
    t = _tracees[tid] = _open_tracee(tid)
    return t


def _stopped(tid: int) -> Tracee:
    t = tracee_of(tid)
    ok = t.status.stopped()
    if ok is False or (ok is None and not _LWPST.struct.unpack_from(t.snapshot())[0] & 2):
        # (only here, off the path of a stopped tracee: its procd may be gone -- the guardian
        # then made every snapshot invalid -- and the tracees with it)
        if _procd_gone(t):
            procd_lost()
        raise OSError(errno.ESRCH, "tracee is not stopped")
    return t


def _signal(sig: int) -> int:
    """A Linux signal number from a request's data, or EIO (Linux's answer to a bad one)."""
    if not 0 <= sig < LINUX_NSIG:
        raise OSError(errno.EIO, "bad signal")
    return sig


# -- requests -----------------------------------------------------------------------------------


def _traceme(pid: int, addr: Any, data: Any, abi: str) -> int:
    me = os.getpid()
    with npc.open(f"{me}/status") as f:
        if _PST.decode(f.read())["pr_flags"] & _PR_PTRACE:
            raise OSError(errno.EPERM, "already traced")
    with npc.open(f"{me}/ctl", os.O_WRONLY) as c:
        # PR_RLC: when the tracer's descriptors are all gone (it exited) the process is let go,
        # as Linux detaches the tracees of a tracer that exits.
        # PR_ASYNC: as on Linux only the thread that stops stops; group stops are reported
        # to the tracer (PCX_EVENT JOBCONTROL) as Linux reports them.
        c.write(encode_ctl("amd64", [(PCX.PCXSTOPFOROPT, _events(0)),
                                     (PC.PCSET, _PR_PTRACE | _PR_RLC | _PR_ASYNC),
                                     (PC.PCSTRACE, _ALL_SIGNALS), (PC.PCSFAULT, _NO_FAULTS),
                                     (PC.PCUNSET, _PR_FORK)]))
    return 0


_EVENT_BITS = (PTRACE_O.TRACEFORK | PTRACE_O.TRACEVFORK | PTRACE_O.TRACECLONE | PTRACE_O.TRACEEXEC
               | PTRACE_O.TRACEVFORKDONE | PTRACE_O.TRACEEXIT | PTRACE_O.TRACESECCOMP)
_JOBCONTROL = 0x1  # PCX_EVENT.JOBCONTROL: group stops are events of interest


def _events(options: int, threads: bool = False) -> int:
    """The PCXSTOPFOROPT mask for a tracee's options: its event bits (the same values as
    Linux's PTRACE_O_TRACE*), group stops always (a Linux tracer sees them), and EXIT while
    threads of the process are traced: an exit the tracer did not ask to see is then taken
    quietly by the wait, for the exit code a thread leaves nowhere else."""
    return int(options & _EVENT_BITS) | _JOBCONTROL | (PTRACE_O.TRACEEXIT if threads else 0)


def _has_threads(pid: int) -> bool:
    return any(x.thread and x.pid == pid for x in _tracees.values())


def _quiet_exit_wanted(t: Tracee) -> bool:
    """Whether `t`'s exit is to be caught at its EXIT event even when the tracer did not ask
    for it: traced threads of its process exist (the exit code a thread leaves nowhere else),
    or it is an auto-attached child, whose real parent is a tracee too.  Linux holds that
    parent's notification until the tracer has reaped the child; here the child is held at its
    EXIT event until the tracer's wait takes it, so its parent can neither see nor reap it first,
    and its status is the event's."""
    return _has_threads(t.pid) or (t.auto and not t.thread)


def quiet_exit(t: Tracee, snap: bytes) -> bool:
    """An EXIT event the tracer did not ask for: note its status and let the thread go on
    exiting (True), unseen by the tracer."""
    why, what = R.why_what(snap)
    if why != PR_WHY.PR_BRAND or what != PTRACE_EVENT.EXIT or t.options & PTRACE_O.TRACEEXIT:
        return False
    t.exit_status = _LWPST.decode(snap)["pr_rval1"] & 0xFFFFFFFF
    _resume(t, 0, 0)
    return True


_ADDR_LIMIT = 1 << 63  # the `as` file's offsets are signed: nothing user space maps lies above


def _peek(pid: int, addr: int, data: Any, abi: str) -> int:
    t = _stopped(pid)
    w = _WORD[abi]
    addr &= (1 << 64) - 1
    if addr >= _ADDR_LIMIT:
        raise OSError(errno.EIO, "address outside user space")
    word = t.mem.pread(w, addr)
    if len(word) != w:
        raise OSError(errno.EIO, "unmapped address")
    caller.write(data, word)
    return 0


def _poke(pid: int, addr: int, data: int, abi: str) -> int:
    t = _stopped(pid)
    w = _WORD[abi]
    addr &= (1 << 64) - 1
    if addr >= _ADDR_LIMIT:
        raise OSError(errno.EIO, "address outside user space")
    try:
        n = t.mem.pwrite((data & ((1 << (8 * w)) - 1)).to_bytes(w, "little"), addr)
    except OSError:
        raise OSError(errno.EIO, "unmapped address") from None
    if n != w:
        raise OSError(errno.EIO, "short write")
    return 0


_DR_FIRST_I386, _DR_LAST_I386 = 252, 280  # offsetof(struct user32, u_debugreg[0] / [7])


def _user_member(abi: str, off: int) -> tuple[str, int]:
    """("regs", index) / ("debugreg", n) / ("other", 0) for a struct user offset, or EIO."""
    w = _WORD[abi]
    user = USER[abi]
    if abi == "i386":
        # The kernel's compat getreg32/putreg32: any offset in 252..280 is a debug register
        # (misaligned ones too); elsewhere misaligned is EIO, and only offsets past the end
        # (284 included: `regno > sizeof(struct user32)`) are out of range.
        if _DR_FIRST_I386 <= off <= _DR_LAST_I386:
            return "debugreg", (off - _DR_FIRST_I386) // 4
        if off < 0 or off % w or off > user.sizeof():
            raise OSError(errno.EIO, "offset outside struct user or misaligned")
        if off == user.sizeof():
            return "other", 0
    elif off < 0 or off % w or off >= user.sizeof():
        raise OSError(errno.EIO, "offset outside struct user or misaligned")
    leaf = field_at(user, off)
    path = leaf.path if leaf is not None else ""
    if path.startswith("regs."):
        return "regs", off // w
    if path.startswith("u_debugreg["):
        return "debugreg", int(path[11:-1])
    return "other", 0


def _peekuser(pid: int, addr: int, data: Any, abi: str) -> int:
    t = _stopped(pid)
    kind, n = _user_member(abi, addr)
    w = _WORD[abi]
    if kind == "regs":
        value = R.pack(abi, t.regs())[n * w:(n + 1) * w]
    elif kind == "debugreg":
        value = (0 if n in (4, 5) else t.dr[n]).to_bytes(8, "little")[:w]
    else:
        value = bytes(w)  # Linux: any other aligned in-range offset reads 0
    caller.write(data, value)
    return 0


def _pokeuser(pid: int, addr: int, data: int, abi: str) -> int:
    t = _stopped(pid)
    kind, n = _user_member(abi, addr)
    w = _WORD[abi]
    value = data & ((1 << (8 * w)) - 1)
    if kind == "regs":
        snap = t.snapshot()
        old = t.regs()
        buf = bytearray(R.pack(abi, old))
        buf[n * w:(n + 1) * w] = value.to_bytes(w, "little")
        _write_regs(t, abi, bytes(buf), snap, old)
    elif kind == "debugreg":
        _poke_debugreg(t, n, value, w)
    elif abi == "amd64":
        raise OSError(errno.EIO, "not a writable part of struct user")
    # i386 compat path: other offsets are ignored (putreg32 returns 0)
    return 0


def _poke_debugreg(t: Tracee, n: int, value: int, w: int) -> None:
    if n in (4, 5):
        raise OSError(errno.EIO, "DR4/DR5 are not writable")
    if n < 4:
        debugregs.check_address(value, w)
        t.dr[n] = value
        if t.dr[7] >> (2 * n) & 3:
            _setup_watchpoints(t, t.dr[7])
    elif n == 6:
        t.dr[6] = value
    else:
        _setup_watchpoints(t, value)
        t.dr[7] = value


def _setup_watchpoints(t: Tracee, dr7: int) -> None:
    """The seed's setup_watchpoints: the enabled DR slots become the process's watched areas."""
    new = debugregs.areas(t.dr, dr7)
    if new == t.watched:
        return
    try:
        t.lwpctl.write(encode_ctl("amd64", debugregs.watch_messages(t.watched, new)))
    except OSError as e:
        raise OSError(errno.EINVAL if e.errno in (errno.EINVAL, errno.E2BIG, errno.ENOTSUP) else e.errno,
                      "the debug register setting cannot be watched") from None
    t.watched = new


def _write_regs(t: Tracee, abi: str, data: bytes, snap: bytes, old: list[int]) -> None:
    new, error = R.check(R.unpack(abi, data, old), old)
    msgs: list = [(PC.PCSREG, R.to_gregs(new, snap))]
    orig_old, orig_new = _signed(old[15]), _signed(new[15])
    if orig_new != orig_old and (R.why_what(snap)[0] in (PR_WHY.PR_SYSENTRY, PR_WHY.PR_SYSEXIT)
                                 or R.why_what(snap) == (PR_WHY.PR_BRAND, PTRACE_EVENT.SECCOMP)):
        # Linux: writing orig_rax at entry (or at the seccomp stop) changes (or, -1, skips) the
        # call; at exit it is kept.
        msgs.append((PCX.PCXSETSYSNUM, orig_new))
    elif orig_new != orig_old:
        t.orig_override = new[15]  # kept for the rest of this stop, as the kernel keeps it
    if new != old:
        t.lwpctl.write(encode_ctl("amd64", msgs))
    if error is not None:
        raise error  # the fields before the bad one stay written, as the kernel leaves them


def _signed(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


def _getregs(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    caller.write(data, R.pack(abi, t.regs()))
    return 0


def _setregs(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    raw = caller.read(data, R.SIZE[abi])
    snap = t.snapshot()
    _write_regs(t, abi, raw, snap, t.regs())
    return 0


def _fxsave(t: Tracee) -> bytes:
    return t.snapshot()[_OFF_FPREG:_OFF_FPREG + 512]


def _getfpregs(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    fx = _fxsave(t)
    caller.write(data, fx if abi == "amd64" else _fsave(fx, R.linux_regs(t.snapshot())))
    return 0


def _setfpregs(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    cur = t.snapshot()[_OFF_FPREG:_OFF_FPREG + _FPSET.size]
    if abi == "amd64":
        fx = caller.read(data, 512)
    else:
        fx = fxsr(caller.read(data, USER_FPREGS["i386"].sizeof()), cur[:512])
    t.lwpctl.write(encode_ctl("amd64", [(PC.PCSFPREG, _FPSET.decode(fx + cur[512:]))]))
    return 0


def fxsr(env: bytes, fx: bytes) -> bytes:
    """The fxsave area `fx` with the fsave image `env` written into it, as the kernel's
    convert_to_fxsr does on x86-64: control, status, abridged tag, opcode, the instruction and
    operand pointers (their selectors are dropped), the eight 80-bit registers; MXCSR and the
    SSE registers stay."""
    cwd, swd, twd, fip, fcs, foo = struct.unpack_from("<6I", env)
    tag = 0
    for i in range(8):
        if (twd >> (2 * i)) & 3 != 3:  # not empty
            tag |= 1 << i
    out = bytearray(fx)
    struct.pack_into("<HHBxHQQ", out, 0, cwd & 0xFFFF, swd & 0xFFFF, tag, fcs >> 16, fip, foo)
    for i in range(8):
        out[32 + 16 * i:32 + 16 * i + 10] = env[28 + 10 * i:28 + 10 * i + 10]
    return bytes(out)


def _getfpxregs(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)  # Linux: the tracee first (ESRCH), then the request (EIO)
    if abi != "i386":
        raise OSError(errno.EIO, "GETFPXREGS is an i386 request")
    caller.write(data, _fxsave(t))
    return 0


def _setfpxregs(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)  # Linux: the tracee first (ESRCH), then the request (EIO)
    if abi != "i386":
        raise OSError(errno.EIO, "SETFPXREGS is an i386 request")
    fx = caller.read(data, USER_FPXREGS["i386"].sizeof())
    cur = t.snapshot()[_OFF_FPREG:_OFF_FPREG + _FPSET.size]
    t.lwpctl.write(encode_ctl("amd64", [(PC.PCSFPREG, _FPSET.decode(fx + cur[512:]))]))
    return 0


def _fsave(fx: bytes, lr: list[int]) -> bytes:
    """The i387 fsave image (user_i387_struct, 108 bytes) of an fxsave area, as the kernel's
    convert_from_fxsr does: control/status words, full tag word, pointers, 80-bit registers;
    the code selector is the task's cs and the operand selector its ds (`lr`: its registers)."""
    cwd, swd, ftw, fop, fip, foo = (
        int.from_bytes(fx[0:2], "little"), int.from_bytes(fx[2:4], "little"), fx[4],
        int.from_bytes(fx[6:8], "little"), int.from_bytes(fx[8:12], "little"),
        int.from_bytes(fx[16:20], "little"))
    top = (swd >> 11) & 7
    twd = 0
    for i in range(8):
        reg = fx[32 + 16 * ((i - top) % 8):32 + 16 * ((i - top) % 8) + 10]
        if not ftw >> i & 1:
            tag = 3  # empty
        else:
            exp = int.from_bytes(reg[8:10], "little") & 0x7FFF
            mant = int.from_bytes(reg[:8], "little")
            if exp == 0x7FFF:
                tag = 2
            elif exp == 0:
                tag = 1 if mant == 0 else 2
            else:
                tag = 0 if mant >> 63 else 2
        twd |= tag << (2 * i)
    cs, ds = lr[17], lr[23]
    head = [cwd | 0xFFFF0000, swd | 0xFFFF0000, twd | 0xFFFF0000, fip,
            (cs & 0xFFFF) | (fop << 16), foo, (ds & 0xFFFF) | 0xFFFF0000]
    st = b"".join(fx[32 + 16 * i:32 + 16 * i + 10] for i in range(8))
    out = b"".join(v.to_bytes(4, "little") for v in head) + st
    assert len(out) == USER_FPREGS["i386"].sizeof()
    return out


def _resume(t: Tracee, sig: int, flags: int, once: int = 0) -> None:
    """ptrace_cont_common: PCCSIG; PCSSIG sig; (PCXSYSCALL_ONCE); PCRUN in one write."""
    if t.synthetic:
        # Leaving the interrupt stop shown in place of a real one: the real one comes next.
        t.synthetic, t.rereport = False, True
        return
    snap = _snapshot_or_none(t)
    why, what = R.why_what(snap) if snap is not None else (0, 0)
    if sig and (why in (PR_WHY.PR_BRAND, PR_WHY.PR_JOBCONTROL) or (why == PR_WHY.PR_REQUESTED and t.seized)):
        sig = 0  # Linux injects only at signal-delivery and syscall stops; these drop it
    own = (why == PR_WHY.PR_SIGNALLED and sig == stol(what) and not is_exec_stop(snap, t.options, _traceme_child(t))
           and t.siginfo is None)
    msgs: list = []
    if not own:
        # The stop's own signal, resumed with, keeps its siginfo where it is (the host's);
        # any other signal is exactly the one the tracer names (the seed dropped SIGSTOP).
        msgs.append((PC.PCCSIG, None))
        if sig and t.siginfo is not None and int.from_bytes(t.siginfo[:4], "little", signed=True) == sig:
            # SETSIGINFO's siginfo goes with the signal it names (Linux: ptrace_signal).
            msgs.append((PC.PCSSIG, SI.from_linux(t.siginfo)))
        elif sig:
            msgs.append((PC.PCSSIG, _tracer_info(sig)))
    t.siginfo = None
    t.orig_override = None
    # SYSCALL arms the next entry/exit stop; CONT and SINGLESTEP disarm a stop still armed.
    msgs.append((PCX.PCXSYSCALL_ONCE, once))
    if t.interrupt:
        flags |= PCRUN_FLAGS.PRSTOP  # an INTERRUPT that came while it was stopped
        t.interrupt = False
    if t.seized and why == PR_WHY.PR_JOBCONTROL:
        # Running though its group is stopped: when SIGCONT ends the group stop, Linux notifies
        # with PTRACE_EVENT_STOP before SIGCONT's own stop.
        t.interrupt_at_wake = True
    msgs.append((PC.PCRUN, flags))
    data = _encoded(msgs)
    if t.monitor:
        # The monitor's next PCWSTOP must find the LWP running: the resume is answered first.
        t.lwpctl.write(data)
    else:
        # Posted: carried out before anything we ask next, and the wait that usually follows
        # costs the only round trip (issue 14).  The LWP was checked stopped (_stopped).
        t.lwpctl.post(data)
    t.stepping = bool(flags & _PRSTEP)
    t.listening = False
    _monitor_go(t)


_ENCODED: dict[tuple, bytes] = {}  # resume message lists without a siginfo operand, encoded once


def _encoded(msgs: list) -> bytes:
    """encode_ctl("amd64", msgs), from a cache when no operand is a structure (the few resume
    lists a tracer uses at every stop)."""
    if all(op is None or op.__class__ is int for _, op in msgs):
        key = tuple(msgs)
        data = _ENCODED.get(key)
        if data is None:
            data = _ENCODED[key] = encode_ctl("amd64", msgs)
        return data
    return encode_ctl("amd64", msgs)


def _snapshot_or_none(t: Tracee) -> bytes | None:
    try:
        return t.snapshot(fp=False)
    except OSError:
        return None


_TAKEN = encode_ctl("amd64", [(PCX.PCXTAKEN, None)])


def took(t: Tracee) -> None:
    """The tracer's wait has just handed out `t`'s signal-delivery stop.  Linux's wait clears
    the stop's signal (only the resume gives one again), so a tracer that dies now, without
    detaching, leaves the tracee running where one that had not waited leaves it the signal
    (a tkill(SIGSTOP) then stops the process): procd is told (PCXTAKEN), for its release at
    the last close.  Posted: no round trip on the wait's path; a failure (the LWP is no
    longer in that stop) changes nothing."""
    try:
        t.lwpctl.post(_TAKEN)
    except (OSError, ValueError, *PROCD_LOST):
        pass


def _monitor_go(t: Tracee) -> None:
    if t.monitor:
        t.reported = False
        monitor.resume(t.monitor)


def _tracer_info(sig: int) -> dict:
    """A signal the tracer injects in place of another: Linux's ptrace_signal makes it SI_USER
    from the tracer (si_pid, si_uid: ours)."""
    lin = bytearray(SI.SIZE)
    lin[0:4] = sig.to_bytes(4, "little")
    lin[16:24] = os.getpid().to_bytes(4, "little") + os.getuid().to_bytes(4, "little")
    return SI.from_linux(bytes(lin))


def _cont(pid: int, addr: Any, data: int, abi: str) -> int:
    t = _stopped(pid)
    _resume(t, _signal(data), 0)
    return 0


def _singlestep(pid: int, addr: Any, data: int, abi: str) -> int:
    t = _stopped(pid)
    _resume(t, _signal(data), _PRSTEP)
    return 0


def _syscall(pid: int, addr: Any, data: int, abi: str) -> int:
    t = _stopped(pid)
    _resume(t, _signal(data), 0, once=3)  # the seed's B_PTRACE_SYSCALL: next entry or exit
    return 0


def _kill(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = tracee_of(pid)
    # A resume posted just before is carried out first: on Linux the tracee runs once CONT
    # has returned, so the SIGKILL finds it running (and its death is reported as such).
    npc.settle()
    # Since Linux 6.0 PTRACE_KILL sends SIGKILL whether the tracee is stopped or running.
    t.killed = True
    try:
        os.kill(t.pid, signal.SIGKILL)
    except OSError:
        pass
    # The monitor stays: it sees the target go and exits with its status, which the tracer's
    # wait then reports as Linux does (a held monitor is let go by the wait).
    return 0


def _attach(pid: int, addr: Any, data: Any, abi: str) -> int:
    _attach_common(pid, seize=False, options=0)
    return 0


def _seize(pid: int, addr: int, data: int, abi: str) -> int:
    opts = data & ((1 << 64) - 1)
    if not _exists(pid):
        raise OSError(errno.ESRCH, "no such process")  # Linux finds the task before anything else
    # Linux checks these before it looks further at the target, both with EIO (not EINVAL).
    if addr != 0:
        raise OSError(errno.EIO, "PTRACE_SEIZE takes addr 0")
    if opts & ~int(PTRACE_O_MASK):
        raise OSError(errno.EIO, "unknown option bits")
    _attach_common(pid, seize=True, options=opts)
    return 0


def _exists(pid: int) -> bool:
    """Whether a task (process or thread) of that id exists: the syscall's first lookup."""
    return pid > 0 and os.path.exists(f"/proc/{pid}")


def _attach_common(pid: int, seize: bool, options: int) -> Tracee:
    """The seed's ptrace_attach_common: take control of `pid`'s process (exclusive lwpctl),
    trace every signal, report group stops, fork a monitor.  ATTACH also stops it (the attach
    SIGSTOP) and catches exec's exit for the legacy exec SIGTRAP; SEIZE does neither."""
    if options & PTRACE_O.SUSPEND_SECCOMP and os.geteuid() != 0:
        raise OSError(errno.EPERM, "SUSPEND_SECCOMP needs CAP_SYS_ADMIN")
    if pid == os.getpid() or pid == 1:
        raise OSError(errno.EPERM, "cannot attach to self or init")
    if pid in _tracees:
        raise OSError(errno.EPERM, "already traced")
    tgid = _tgid(pid)
    if tgid != pid and any(x.pid == tgid for x in _tracees.values()):
        return _attach_thread(pid, seize, options)
    try:
        with npc.open(f"{pid}/status") as f:
            st = _PST.decode(f.read())
    except PermissionError:
        raise OSError(errno.EPERM, "no permission") from None
    except OSError:
        raise OSError(errno.ESRCH, "no such process") from None
    if st["pr_flags"] & _PR_PTRACE or _host_tracer(pid):
        raise OSError(errno.EPERM, "already traced")
    try:
        t = _open_tracee(pid, attach=True)
    except OSError as e:
        raise OSError(errno.EPERM if e.errno in (errno.EBUSY, errno.EACCES, errno.EPERM) else errno.ESRCH,
                      "cannot control it") from None
    t.seized, t.options = seize, options
    msgs: list = [(PCX.PCXSTOPFOROPT, _events(options))]
    if not seize:
        msgs.append((PC.PCSTOP, None))  # PCDSTOP would not wait: the stop must be there at once
    msgs += [(PC.PCSTRACE, _ALL_SIGNALS), (PC.PCSFAULT, _NO_FAULTS), (PC.PCUNSET, _PR_FORK),
             *_life_msgs(options, also=_PR_ASYNC),
             (PC.PCSEXIT, _exit_set(options, seize))]
    _take(t, msgs, errno.EPERM)
    return _enlist(t, attach_stop=not seize)


def _take(t: Tracee, msgs: list, err: int) -> None:
    """The control writes that make `t` a tracee; on failure nothing is kept open."""
    try:
        if msgs:
            t.lwpctl.write(encode_ctl("amd64", msgs))
    except OSError:
        t.close()
        raise OSError(err, "cannot take it") from None


def _enlist(t: Tracee, attach_stop: bool) -> Tracee:
    """A tracee that is not our TRACEME child: watched by a monitor of its own (the seed's
    design), its first stop shown as the attach stop when `attach_stop`."""
    t.attach_stop = attach_stop
    t.monitor = monitor.spawn(t.lwpctl, t.pid)
    _tracees[t.tid] = t
    return t


def _tgid(tid: int) -> int:
    try:
        with open(f"/proc/{tid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Tgid:"))
    except (OSError, StopIteration, ValueError):
        return tid


def _attach_thread(tid: int, seize: bool, options: int) -> Tracee:
    """ATTACH/SEIZE of another thread of a process we already trace (gdb attaches a threaded
    process thread by thread): that LWP alone is stopped (ATTACH) and watched by a monitor."""
    try:
        t = _open_tracee(tid)
    except OSError:
        raise OSError(errno.ESRCH, "no such thread") from None
    t.seized, t.options, t.thread = seize, options, True
    _take(t, [] if seize else [(PC.PCSTOP, None)], errno.ESRCH)
    return _enlist(t, attach_stop=not seize)


_EXECVE_SET = sysset(SYSCALL_NUMBERS["amd64"]["execve"])


def _exit_set(options: int, seized: bool) -> dict:
    """The exit set of a tracee that is not a TRACEME child: execve's exit makes the legacy
    exec SIGTRAP stop of an ATTACHed tracee, unless TRACEEXEC asks for the EXEC event instead;
    a SEIZEd tracee has no legacy exec stop at all (Linux)."""
    return sysset() if seized or options & PTRACE_O.TRACEEXEC else _EXECVE_SET


def _life_msgs(options: int, also: int = 0) -> list:
    """PCSET/PCUNSET for what the tracer's going away does: EXITKILL kills the tracee (PR_KLC),
    else Linux detaches it and lets it run (PR_RLC); `also` is set with it."""
    on = _PR_KLC if options & PTRACE_O.EXITKILL else _PR_RLC
    return [(PC.PCSET, on | also), (PC.PCUNSET, on ^ (_PR_RLC | _PR_KLC))]


def _host_tracer(pid: int) -> bool:
    """Traced by some other host tracer (procd itself excepted)?"""
    try:
        with open(f"/proc/{pid}/status") as f:
            tracer = next(int(line.split()[1]) for line in f if line.startswith("TracerPid:"))
    except (OSError, StopIteration, ValueError):
        return False
    return tracer != 0 and tracer != _procd_pid()


def _procd_pid() -> int:
    import socket
    import struct

    s = npc._session.get()
    return struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]


def _detach(pid: int, addr: Any, data: int, abi: str) -> int:
    t = _stopped(pid)
    sig = _signal(data & 0xFFFFFFFF)  # the kernel's ptrace_detach takes an unsigned int
    msgs: list = [(PC.PCUNSET, _PR_PTRACE | _PR_KLC), (PC.PCSEXIT, sysset()), (PCX.PCXSTOPFOROPT, 0),
                  (PC.PCSET, _PR_RLC), (PC.PCCSIG, None)]
    if t.watched:
        msgs += debugregs.watch_messages(t.watched, [])
    if sig:
        msgs.append((PC.PCSSIG, {"si_signo": ltos(sig), "si_code": 0, "si_errno": 0, "si_pad": 0,
                                 "__data": bytes(240)}))
    t.lwpctl.write(encode_ctl("amd64", msgs))
    if t.monitor:
        monitor.dispose(t.monitor)
        t.monitor = 0
    forget(pid)  # the last close runs it (PR_RLC), delivering the signal
    return 0


def _interrupt(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = tracee_of(pid)
    if not t.seized:
        raise OSError(errno.EIO, "PTRACE_INTERRUPT needs a PTRACE_SEIZEd tracee")
    if t.status.stopped() and not t.listening:
        t.interrupt = True  # Linux keeps the trap pending: it stops again once resumed
        return 0
    # Running, or LISTENing in a group stop: a directed stop, which procd turns into a host
    # PTRACE_INTERRUPT; the stop is reported as PTRACE_EVENT_STOP.
    t.lwpctl.write(encode_ctl("amd64", [(PC.PCDSTOP, None)]))
    if t.listening:
        t.listening = False
    return 0


def _listen(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    if not t.seized:
        raise OSError(errno.EIO, "PTRACE_LISTEN needs a PTRACE_SEIZEd tracee")
    why, _ = R.why_what(t.snapshot())
    if why != PR_WHY.PR_JOBCONTROL:
        raise OSError(errno.EIO, "PTRACE_LISTEN only from a group stop")
    # It stays group-stopped; its next report comes when that changes (SIGCONT, INTERRUPT).
    t.lwpctl.write(encode_ctl("amd64", [(PCX.PCXLISTEN, None)]))
    t.listening = True
    t.interrupt = False
    # When the group stop ends (SIGCONT) Linux notifies the listener with PTRACE_EVENT_STOP
    # before anything else: shown in place of SIGCONT's stop.
    t.interrupt_at_wake = True
    _monitor_go(t)
    return 0


def adopt(parent: Tracee, child: int, thread: bool) -> Tracee | None:
    """A tracee's FORK/VFORK/CLONE event made `child` (a pid, or a tid when `thread`) a tracee
    too, as Linux auto-attaches it: held stopped at birth by procd, with the parent's options,
    and watched through a monitor of its own (it is not the tracer's child).  Its first stop
    reports as the attach SIGSTOP (legacy) or PTRACE_EVENT_STOP (seized)."""
    if child in _tracees or child <= 0:
        return _tracees.get(child)
    try:
        t = _open_tracee(child)
    except OSError:
        return None  # gone already: its exit is nobody's to report but its parent's
    t.seized, t.options, t.thread, t.auto = parent.seized, parent.options, thread, True
    _enlist(t, attach_stop=True)
    if not thread and not parent.options & PTRACE_O.TRACEEXIT:
        try:  # its exit is held at its EXIT event for the tracer's wait (_quiet_exit_wanted)
            t.lwpctl.write(encode_ctl("amd64", [(PCX.PCXSTOPFOROPT, _events(parent.options, True))]))
        except OSError:
            pass
    if thread and not parent.options & PTRACE_O.TRACEEXIT:
        try:  # from now on a thread's exit code is caught at its EXIT event (quiet_exit)
            parent.lwpctl.write(encode_ctl("amd64", [(PCX.PCXSTOPFOROPT, _events(parent.options, True))]))
        except OSError:
            pass
    return t


# -- the modern requests (0x42xx) ---------------------------------------------------------------

_SYSCALL_STOPS = (PR_WHY.PR_SYSENTRY, PR_WHY.PR_SYSEXIT)
_EXECVE = {SYSCALL_NUMBERS["amd64"]["execve"], SYSCALL_NUMBERS["amd64"].get("execveat", -1)}
_OFF_HOLD = memberof(LWPSTATUS["amd64"], "pr_lwphold")[0]
_SIGKILL_STOP_BITS = (1 << (9 - 1)) | (1 << (19 - 1))  # Linux SIGKILL, SIGSTOP


def _setoptions(pid: int, addr: Any, data: int, abi: str) -> int:
    t = _stopped(pid)
    opts = data & ((1 << 64) - 1)
    if opts & ~int(PTRACE_O_MASK):
        raise OSError(errno.EINVAL, "unknown option bits")
    if opts & PTRACE_O.SUSPEND_SECCOMP and os.geteuid() != 0:
        raise OSError(errno.EPERM, "SUSPEND_SECCOMP needs CAP_SYS_ADMIN")
    msgs: list = [(PCX.PCXSTOPFOROPT, _events(opts, _quiet_exit_wanted(t))), *_life_msgs(opts)]
    if not _traceme_child(t):
        msgs.append((PC.PCSEXIT, _exit_set(opts, t.seized)))
    t.lwpctl.write(encode_ctl("amd64", msgs))
    t.options = opts
    return 0


def _traceme_child(t: Tracee) -> bool:
    """Traced through PR_PTRACE (TRACEME), not through a monitor."""
    return not t.monitor and not t.thread


def is_exec_stop(snap: bytes, options: int = 0, traceme: bool = False) -> bool:
    """The legacy exec SIGTRAP stop: a stop on the way out of a successful execve, for a tracee
    without TRACEEXEC (with it, exec is the EXEC event and execve's exit an ordinary stop).
    `traceme`: the tracee is a TRACEME child, whose exec SIGTRAP is a real signal (the engine
    posts it), so that its execve exit stop is only ever the syscall-exit stop PTRACE_SYSCALL
    asked for, which Linux reports (SIGTRAP|0x80) before the SIGTRAP."""
    if options & PTRACE_O.TRACEEXEC:
        return False
    why, what = R.why_what(snap)
    if why == PR_WHY.PR_SYSEXIT:  # an attached tracee: the exit of execve is caught (PCSEXIT)
        return not traceme and what in _EXECVE and R.linux_regs(snap)[10] == 0
    # a TRACEME child: the engine's SIGTRAP, stopped on its way out of execve
    return (why == PR_WHY.PR_SIGNALLED and what == ltos(5) and R.syscall_state(snap) in _EXECVE
            and R.linux_regs(snap)[10] == 0)


def _geteventmsg(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    snap = t.snapshot()
    why, _ = R.why_what(snap)
    if why == PR_WHY.PR_BRAND:
        t.eventmsg = _LWPST.decode(snap)["pr_rval1"] & ((1 << 64) - 1)
    msg = t.eventmsg
    if why == PR_WHY.PR_SYSENTRY:
        msg = 1  # PTRACE_EVENTMSG_SYSCALL_ENTRY, set by Linux at every syscall stop since 5.3
    elif why == PR_WHY.PR_SYSEXIT and not is_exec_stop(snap, t.options, _traceme_child(t)):
        msg = 2  # PTRACE_EVENTMSG_SYSCALL_EXIT
    w = _WORD[abi]
    caller.write(data, (msg & ((1 << (8 * w)) - 1)).to_bytes(w, "little"))
    return 0


def _uid(pid: int) -> int:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return 0


def stop_siginfo(t: Tracee) -> bytes:
    """The Linux siginfo_t of the tracee's current stop, or EINVAL when Linux has none."""
    if t.siginfo is not None:
        return t.siginfo
    if t.synthetic:
        return SI.trap(5 | PTRACE_EVENT.STOP << 8, t.tid, _uid(t.pid))
    snap = t.snapshot()
    why, what = R.why_what(snap)
    if is_exec_stop(snap, t.options, _traceme_child(t)):
        return SI.trap(0, t.tid, _uid(t.pid))  # legacy exec SIGTRAP: SI_USER from itself
    if why in _SYSCALL_STOPS:
        code = 5 | (0x80 if t.options & PTRACE_O.TRACESYSGOOD else 0)
        return SI.trap(code, t.tid, _uid(t.pid))
    if why == PR_WHY.PR_SIGNALLED:
        pc = R.linux_regs(snap)[16]
        return SI.to_linux(snap[_OFF_INFO:_OFF_INFO + 256], pc)
    if why == PR_WHY.PR_BRAND:  # an event stop: ptrace_notify's SIGTRAP | event << 8
        return SI.trap(5 | what << 8, t.tid, _uid(t.pid))
    if why == PR_WHY.PR_JOBCONTROL:
        if not t.seized:
            raise OSError(errno.EINVAL, "a group stop has no siginfo")  # legacy group stop
        sig = stol(what)  # PTRACE_EVENT_STOP's siginfo names the stop signal
        out = bytearray(SI.trap(sig | PTRACE_EVENT.STOP << 8, t.tid, _uid(t.pid)))
        out[0:4] = sig.to_bytes(4, "little")
        return bytes(out)
    if why == PR_WHY.PR_REQUESTED and t.seized and not t.stepping:
        return SI.trap(5 | PTRACE_EVENT.STOP << 8, t.tid, _uid(t.pid))  # INTERRUPT's stop
    if why == PR_WHY.PR_REQUESTED:
        out = bytearray(SI.SIZE)  # the attach SIGSTOP (SEND_SIG_PRIV: SI_KERNEL), or a step
        if t.stepping:
            out[0:12] = (5).to_bytes(4, "little") + bytes(4) + (2).to_bytes(4, "little")
            out[16:24] = R.linux_regs(snap)[16].to_bytes(8, "little")
        else:
            # ATTACH's SIGSTOP is SEND_SIG_PRIV (SI_KERNEL); an auto-attached child's was only
            # added to its pending set, and reads as an all-zero SI_USER one.
            out[0:12] = (19).to_bytes(4, "little") + bytes(4) + (0 if t.auto else 0x80).to_bytes(4, "little")
        return bytes(out)
    raise OSError(errno.EINVAL, "no siginfo at this stop")


def _getsiginfo(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    info = stop_siginfo(t)
    caller.write(data, info if abi == "amd64" else SI.to_compat(info))  # i386: compat_siginfo_t
    return 0


def _setsiginfo(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    stop_siginfo(t)  # EINVAL where Linux has no siginfo to replace
    if abi != "amd64":
        lin = SI.from_compat(caller.read(data, SI.SIZE))  # compat: the whole compat_siginfo
    else:
        lin = _siginfo_from_user(data)
    why, _ = R.why_what(t.snapshot())
    if why == PR_WHY.PR_SIGNALLED:
        sig = int.from_bytes(lin[:4], "little", signed=True)
        if 0 < sig < LINUX_NSIG:
            # the stop's pending signal info changes now; CONT with that signal delivers it
            t.lwpctl.write(encode_ctl("amd64", [(PC.PCSSIG, SI.from_linux(lin))]))
    t.siginfo = lin
    return 0


_KERNEL_SIGINFO = 48  # sizeof(struct kernel_siginfo) on x86-64: what copy_siginfo_from_user reads
# The highest si_code > 0 of each signal whose codes are its own (Linux 6.18's sig_sicodes:
# NSIGILL, NSIGFPE, NSIGSEGV (SEGV_CPERR since 6.6), NSIGBUS, NSIGTRAP, NSIGCHLD, NSIGSYS).
_SIG_SICODES = {4: 11, 8: 15, 11: 10, 7: 5, 5: 6, 17: 6, 31: 2}
_NSIGPOLL, _SI_KERNEL, _SI_DETHREAD, _SI_ASYNCNL = 6, 0x80, -7, -60


def _known_siginfo_layout(sig: int, code: int) -> bool:
    """The kernel's known_siginfo_layout: whether 48 bytes hold all of such a siginfo."""
    if code == _SI_KERNEL:
        return True
    if code > 0:
        return code <= _SIG_SICODES.get(sig, _NSIGPOLL)
    return code >= _SI_DETHREAD or code == _SI_ASYNCNL


def _siginfo_from_user(data: Any) -> bytes:
    """Linux's copy_siginfo_from_user: the first 48 bytes (EFAULT); for a layout it does not
    know, the other 80 too, which must be zero (E2BIG).  Only the 48 are kept: the rest reads
    back as zero, as from the kernel."""
    head = caller.read(data, _KERNEL_SIGINFO)
    sig, _, code = struct.unpack_from("<iii", head)
    if not _known_siginfo_layout(sig, code):
        if any(caller.read(data, SI.SIZE)[_KERNEL_SIGINFO:]):
            raise OSError(errno.E2BIG, "an unknown siginfo layout with bytes past 48")
    return head + bytes(SI.SIZE - _KERNEL_SIGINFO)


def _getsigmask(pid: int, addr: int, data: Any, abi: str) -> int:
    t = _stopped(pid)  # Linux: the tracee first (ESRCH), then the size (EINVAL)
    if addr != 8:
        raise OSError(errno.EINVAL, "sigset size must be 8")
    from native_proc.procinfo import linux_mask

    full = t.status.pread(_LWPST.size, 0)  # with the signal sets (the snapshot has none)
    if len(full) < _OFF_HOLD + 16:
        raise OSError(errno.ESRCH, "tracee is gone")
    mask = linux_mask(full[_OFF_HOLD:_OFF_HOLD + 16])
    caller.write(data, mask.to_bytes(8, "little"))
    return 0


def _setsigmask(pid: int, addr: int, data: Any, abi: str) -> int:
    t = _stopped(pid)
    if addr != 8:
        raise OSError(errno.EINVAL, "sigset size must be 8")
    from native_proc.procinfo import sigset_bytes

    mask = int.from_bytes(caller.read(data, 8), "little") & ~_SIGKILL_STOP_BITS
    t.lwpctl.write(encode_ctl("amd64", [(PC.PCSHOLD, {"__sigbits": sigset_bytes(mask)})]))
    return 0


_ARCH_SET_GS, _ARCH_SET_FS, _ARCH_GET_FS, _ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004
_TASK_SIZE_MAX = (1 << 47) - 4096  # x86-64 with 4-level paging: no base at or above it
# user_regs_struct slots of each base and its selector (the kernel zeroes the selector)
_ARCH_BASE = {_ARCH_SET_FS: (21, 25), _ARCH_GET_FS: (21, 25), _ARCH_SET_GS: (22, 26), _ARCH_GET_GS: (22, 26)}


def _arch_prctl(pid: int, addr: Any, data: int, abi: str) -> int:
    """PTRACE_ARCH_PRCTL (amd64 callers): `data` is the code, `addr` the value (SET) or where
    the base is stored (GET), as the kernel's do_arch_prctl_64 on the tracee.  The bases are
    the fs_base/gs_base of the LWP's registers (lwpstatus, PCSREG).  Other codes: EINVAL, as
    Linux on a CPU without LAM; the ARCH_MAP_VDSO_* codes are declared in docs/limitations.md."""
    t = _stopped(pid)
    if abi != "amd64":
        raise OSError(errno.EIO, "PTRACE_ARCH_PRCTL is an amd64 request")
    code = data & 0xFFFFFFFF  # the kernel's option is an int
    if code not in _ARCH_BASE:
        raise OSError(errno.EINVAL, "not an arch_prctl code ptrace serves")
    base, selector = _ARCH_BASE[code]
    if code in (_ARCH_GET_FS, _ARCH_GET_GS):
        caller.write(addr, t.regs()[base].to_bytes(8, "little"))
        return 0
    value = caller.value(addr) & ((1 << 64) - 1)
    if value >= _TASK_SIZE_MAX:
        raise OSError(errno.EPERM, "base outside user space")
    snap = t.snapshot()
    old = t.regs()
    new = list(old)
    new[base], new[selector] = value, 0
    _write_regs(t, "amd64", R.pack("amd64", new), snap, old)
    return 0


# GETREGSET/SETREGSET live in regset.py, GET_SYSCALL_INFO/PEEKSIGINFO in syscall_info.py; both
# use this module's tracee helpers, so they are imported here, once those exist.
from .regset import getregset as _getregset, setregset as _setregset  # noqa: E402
from .syscall_info import get_syscall_info as _get_syscall_info, peeksiginfo as _peeksiginfo  # noqa: E402


_Handler = Callable[[int, Any, Any, str], int]
REQUESTS: dict[int, _Handler] = {
    PTRACE.TRACEME: _traceme,
    PTRACE.PEEKTEXT: _peek,
    PTRACE.PEEKDATA: _peek,
    PTRACE.PEEKUSER: _peekuser,
    PTRACE.POKETEXT: _poke,
    PTRACE.POKEDATA: _poke,
    PTRACE.POKEUSER: _pokeuser,
    PTRACE.CONT: _cont,
    PTRACE.KILL: _kill,
    PTRACE.SINGLESTEP: _singlestep,
    PTRACE.GETREGS: _getregs,
    PTRACE.SETREGS: _setregs,
    PTRACE.GETFPREGS: _getfpregs,
    PTRACE.SETFPREGS: _setfpregs,
    PTRACE.ATTACH: _attach,
    PTRACE.DETACH: _detach,
    18: _getfpxregs,  # PTRACE_GETFPXREGS (i386)
    19: _setfpxregs,  # PTRACE_SETFPXREGS (i386)
    PTRACE.SYSCALL: _syscall,
    PTRACE.SETOPTIONS: _setoptions,
    21: _setoptions,  # PTRACE_OLDSETOPTIONS (x86 keeps the old number as an alias)
    PTRACE.GETEVENTMSG: _geteventmsg,
    PTRACE.GETSIGINFO: _getsiginfo,
    PTRACE.SETSIGINFO: _setsiginfo,
    PTRACE.GETREGSET: _getregset,
    PTRACE.SETREGSET: _setregset,
    PTRACE.GET_SYSCALL_INFO: _get_syscall_info,
    PTRACE.PEEKSIGINFO: _peeksiginfo,
    PTRACE.GETSIGMASK: _getsigmask,
    PTRACE.SETSIGMASK: _setsigmask,
    PTRACE.SEIZE: _seize,
    PTRACE.INTERRUPT: _interrupt,
    PTRACE.LISTEN: _listen,
    PTRACE.ARCH_PRCTL: _arch_prctl,
}


# The requests whose addr / data are numbers (a signal, options, a size, an offset, an address
# in the tracee) rather than pointers into the caller: a buffer given there stands for its
# address, as a C caller's pointer would.
_VALUE_ARGS: dict[int, tuple[bool, bool]] = {
    PTRACE.PEEKTEXT: (True, False), PTRACE.PEEKDATA: (True, False), PTRACE.PEEKUSER: (True, False),
    PTRACE.POKETEXT: (True, True), PTRACE.POKEDATA: (True, True), PTRACE.POKEUSER: (True, True),
    PTRACE.CONT: (False, True), PTRACE.SINGLESTEP: (False, True), PTRACE.SYSCALL: (False, True),
    PTRACE.DETACH: (False, True), PTRACE.SYSEMU: (False, True), PTRACE.SYSEMU_SINGLESTEP: (False, True),
    PTRACE.SINGLEBLOCK: (False, True), PTRACE.SETOPTIONS: (False, True), 21: (False, True),
    PTRACE.SEIZE: (True, True), PTRACE.GETREGSET: (True, False), PTRACE.SETREGSET: (True, False),
    PTRACE.GET_SYSCALL_INFO: (True, False), PTRACE.GETSIGMASK: (True, False),
    PTRACE.SETSIGMASK: (True, False), PTRACE.ARCH_PRCTL: (False, True),
    PTRACE.GET_THREAD_AREA: (True, False), PTRACE.SET_THREAD_AREA: (True, False),
    PTRACE.SECCOMP_GET_FILTER: (True, False), PTRACE.SECCOMP_GET_METADATA: (True, False),
    PTRACE.GET_RSEQ_CONFIGURATION: (True, False), PTRACE.SET_SYSCALL_USER_DISPATCH_CONFIG: (True, False),
    PTRACE.GET_SYSCALL_USER_DISPATCH_CONFIG: (True, False), PTRACE.SET_SYSCALL_INFO: (True, False),
}


def _int_arg(name: str, v: Any) -> int:
    if isinstance(v, int):
        return v
    raise TypeError(f"lx_ptrace: {name} must be an int, not {type(v).__name__}")


def _ptr_arg(name: str, v: Any, as_value: bool) -> Any:
    """addr/data as the handlers take them: an int, or a buffer (a pointer argument) or its
    address (a value argument); None is NULL; a cffi pointer is its address."""
    if isinstance(v, int):
        return v
    if v is None:
        return 0
    if isinstance(v, host.ffi.CData):
        try:
            return host.address(v)
        except TypeError:
            raise TypeError(f"lx_ptrace: {name} is a cffi {host.ffi.typeof(v).cname}, "
                            "not a pointer or array") from None
    if isinstance(v, (str, float, complex)) or not _is_buffer(v):
        raise TypeError(f"lx_ptrace: {name} must be an int, None or a bytes-like object "
                        f"(a buffer), not {type(v).__name__}")
    return caller.value(v) if as_value else v


def _is_buffer(v: Any) -> bool:
    try:
        memoryview(v)
    except TypeError:
        return False
    return True


def _pid_t(pid: int) -> int:
    """The kernel's view of the pid argument: a long cut to the 32-bit pid_t."""
    pid &= 0xFFFFFFFF
    return pid - (1 << 32) if pid >> 31 else pid


def lx_ptrace(req: int, pid: int, addr: Any = 0, data: Any = 0, *, abi: str = "amd64") -> int:
    """Linux ptrace(2) for a caller of `abi` ("amd64" or "i386"): returns what the raw system
    call returns (0 for most requests; PEEK* store the word at `data`) or -errno.

    Arguments: `req` and `pid` are ints (`pid` is cut to 32 bits, as the kernel's pid_t).
    `addr` and `data` are each an int (a number, or an address in this process), None (NULL),
    or a bytes-like object (bytearray, memoryview, array, ctypes object, cffi array/pointer):
    where the request takes a pointer into the caller, the buffer is that memory (too short:
    EFAULT, read-only where written: EFAULT); where it takes a number (a signal, options, a size,
    an offset, an address in the tracee) the buffer stands for its own address.  Anything else
    (str, float, ...) raises TypeError naming the argument; no other exception leaves."""
    if abi not in _WORD:
        raise ValueError(f"abi must be 'amd64' or 'i386', not {abi!r}")
    req = _int_arg("req", req)
    pid = _pid_t(_int_arg("pid", pid))
    addr_value, data_value = _VALUE_ARGS.get(req, (False, False))
    addr = _ptr_arg("addr", addr, addr_value)
    data = _ptr_arg("data", data, data_value)
    handler = REQUESTS.get(req, _unknown)
    try:
        return handler(pid, addr, data, abi)
    except PROCD_LOST:
        procd_lost()
        return -errno.ESRCH
    except OSError as e:
        return -(e.errno or errno.EIO)


def _unknown(pid: int, addr: Any, data: Any, abi: str) -> int:
    """Linux checks for a stopped tracee first (ESRCH), then finds the request unknown (EIO)."""
    _stopped(pid)
    raise OSError(errno.EIO, "unknown ptrace request")
