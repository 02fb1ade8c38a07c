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
import signal
from dataclasses import dataclass, field
from typing import Any, Callable

import native_proc.client as npc
from native_proc.client import ProcFile
from structs.codec import codec
from structs.ctl import encode_ctl, sysset
from structs.fields import field_at, memberof
from structs.procfs import LWPSTATUS, PRFPREGSET, PSTATUS
from structs.procfs_consts import PC, PCX, PR_WHY
from structs.ptrace_consts import NT, PTRACE, PTRACE_O, PTRACE_O_MASK
from structs.signals import LINUX_NSIG, ltos
from structs.syscalls import SYSCALL_NUMBERS
from structs.user_area import USER, USER_FPREGS, USER_FPXREGS

from . import caller, debugregs, monitor
from . import siginfo as SI
from . import regs as R

__all__ = ["lx_ptrace", "Tracee", "tracee_of", "forget"]

_PR_PTRACE, _PR_RLC, _PR_FORK = 0x4000000, 0x200000, 0x100000
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
    stepping: bool = False
    options: int = 0  # PTRACE_SETOPTIONS bits
    eventmsg: int = 0  # PTRACE_GETEVENTMSG's word (no event is reported yet: stays 0)
    siginfo: bytes | None = None  # Linux siginfo set by SETSIGINFO for the current stop

    def snapshot(self) -> bytes:
        """The stopped LWP's lwpstatus_t; ESRCH (Linux: not a stopped tracee) otherwise."""
        snap = self.status.snapshot()
        if snap is None:
            try:
                snap = self.status.pread(_LWPST.size, 0)
            except OSError:
                raise OSError(errno.ESRCH, "no such tracee") from None
            if not _LWPST.struct.unpack_from(snap)[0] & 2:  # PR_ISTOP
                raise OSError(errno.ESRCH, "tracee is not stopped")
        return snap

    def close(self) -> None:
        for f in (self.lwpctl, self.status, self.mem):
            f.close()


_tracees: dict[int, Tracee] = {}


def forget(tid: int) -> None:
    """Drop what we hold for a tracee that exited or was detached."""
    t = _tracees.pop(tid, None)
    if t is not None:
        t.close()


def _open_tracee(tid: int, attach: bool = False) -> Tracee:
    try:
        pid, lwpid = npc.tidmap(tid)
    except OSError:
        pid, lwpid = tid, 1
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
    if not (st["pr_flags"] & _PR_PTRACE and st["pr_ppid"] == os.getpid()):
        raise OSError(errno.ESRCH, "not traced by this process")
    t = _tracees[tid] = _open_tracee(tid)
    return t


def _stopped(tid: int) -> Tracee:
    t = tracee_of(tid)
    ok = t.status.stopped()
    if ok is False or (ok is None and not _LWPST.struct.unpack_from(t.snapshot())[0] & 2):
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
        c.write(encode_ctl("amd64", [(PC.PCSET, _PR_PTRACE | _PR_RLC), (PC.PCSTRACE, _ALL_SIGNALS),
                                     (PC.PCSFAULT, _NO_FAULTS), (PC.PCUNSET, _PR_FORK)]))
    return 0


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


def _user_member(abi: str, off: int) -> tuple[str, int]:
    """("regs", index) / ("debugreg", n) / ("other", 0) for a struct user offset, or EIO."""
    w = _WORD[abi]
    user = USER[abi]
    if off < 0 or off % w or off >= user.sizeof():
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
        value = R.pack(abi, R.linux_regs(t.snapshot()))[n * w:(n + 1) * w]
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
        old = R.linux_regs(snap)
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
    if orig_new != orig_old and R.why_what(snap)[0] in (PR_WHY.PR_SYSENTRY, PR_WHY.PR_SYSEXIT):
        # Linux: writing orig_rax at entry changes (or, -1, skips) the call; at exit it is kept.
        msgs.append((PCX.PCXSETSYSNUM, orig_new))
    if new != old:
        t.lwpctl.write(encode_ctl("amd64", msgs))
    if error is not None:
        raise error  # the fields before the bad one stay written, as the kernel leaves them


def _signed(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


def _getregs(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    caller.write(data, R.pack(abi, R.linux_regs(t.snapshot())))
    return 0


def _setregs(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    raw = caller.read(data, R.SIZE[abi])
    snap = t.snapshot()
    _write_regs(t, abi, raw, snap, R.linux_regs(snap))
    return 0


def _fxsave(t: Tracee) -> bytes:
    return t.snapshot()[_OFF_FPREG:_OFF_FPREG + 512]


def _getfpregs(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    fx = _fxsave(t)
    caller.write(data, fx if abi == "amd64" else _fsave(fx))
    return 0


def _setfpregs(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    if abi != "amd64":
        raise OSError(errno.EIO, "SETFPREGS of the fsave image is not supported yet")
    fx = caller.read(data, 512)
    cur = t.snapshot()[_OFF_FPREG:_OFF_FPREG + _FPSET.size]
    t.lwpctl.write(encode_ctl("amd64", [(PC.PCSFPREG, _FPSET.decode(fx + cur[512:]))]))
    return 0


def _getfpxregs(pid: int, addr: Any, data: Any, abi: str) -> int:
    if abi != "i386":
        raise OSError(errno.EIO, "GETFPXREGS is an i386 request")
    t = _stopped(pid)
    caller.write(data, _fxsave(t))
    return 0


def _setfpxregs(pid: int, addr: Any, data: Any, abi: str) -> int:
    if abi != "i386":
        raise OSError(errno.EIO, "SETFPXREGS is an i386 request")
    t = _stopped(pid)
    fx = caller.read(data, USER_FPXREGS["i386"].sizeof())
    cur = t.snapshot()[_OFF_FPREG:_OFF_FPREG + _FPSET.size]
    t.lwpctl.write(encode_ctl("amd64", [(PC.PCSFPREG, _FPSET.decode(fx + cur[512:]))]))
    return 0


def _fsave(fx: bytes) -> bytes:
    """The i387 fsave image (user_i387_struct, 108 bytes) of an fxsave area, as the kernel's
    convert_from_fxsr does: control/status words, full tag word, pointers, 80-bit registers."""
    cwd, swd, ftw, fop, fip, fcs_rest, foo, fos_rest = (
        int.from_bytes(fx[0:2], "little"), int.from_bytes(fx[2:4], "little"), fx[4],
        int.from_bytes(fx[6:8], "little"), int.from_bytes(fx[8:12], "little"),
        int.from_bytes(fx[12:16], "little"), int.from_bytes(fx[16:20], "little"),
        int.from_bytes(fx[20:24], "little"))
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
    head = [cwd | 0xFFFF0000, swd | 0xFFFF0000, twd | 0xFFFF0000, fip,
            (fcs_rest & 0xFFFF) | (fop << 16), foo, (fos_rest & 0xFFFF) | 0xFFFF0000]
    st = b"".join(fx[32 + 16 * i:32 + 16 * i + 10] for i in range(8))
    out = b"".join(v.to_bytes(4, "little") for v in head) + st
    assert len(out) == USER_FPREGS["i386"].sizeof()
    return out


def _resume(t: Tracee, sig: int, flags: int, once: int = 0) -> None:
    """ptrace_cont_common: PCCSIG; PCSSIG sig; (PCXSYSCALL_ONCE); PCRUN in one write."""
    msgs: list = [(PC.PCCSIG, None)]
    if sig:  # exactly the signal the tracer names (the seed dropped SIGSTOP; Linux does not)
        if t.siginfo is not None and int.from_bytes(t.siginfo[:4], "little", signed=True) == sig:
            # SETSIGINFO's siginfo goes with the signal it names (Linux: ptrace_signal); a
            # different signal gets a fresh SI_USER siginfo from the tracer, as on Linux.
            msgs.append((PC.PCSSIG, SI.from_linux(t.siginfo)))
        else:
            msgs.append((PC.PCSSIG, _resume_info(t, sig)))
    t.siginfo = None
    # SYSCALL arms the next entry/exit stop; CONT and SINGLESTEP disarm a stop still armed.
    msgs.append((PCX.PCXSYSCALL_ONCE, once))
    msgs.append((PC.PCRUN, flags))
    t.lwpctl.write(encode_ctl("amd64", msgs))
    t.stepping = bool(flags & _PRSTEP)
    if t.monitor:
        t.reported = False
        monitor.resume(t.monitor)


def _resume_info(t: Tracee, sig: int) -> dict:
    """The siginfo a resumed tracee gets with `sig` (Linux ptrace_signal): the stop's own when
    it is the signal that stopped it, else a SI_USER one from the tracer."""
    try:
        snap = t.snapshot()
    except OSError:
        snap = None
    if snap is not None and R.why_what(snap) == (PR_WHY.PR_SIGNALLED, ltos(sig)) and not is_exec_stop(snap):
        info = snap[_OFF_INFO:_OFF_INFO + 256]
        return {"si_signo": ltos(sig), "si_code": int.from_bytes(info[4:8], "little", signed=True),
                "si_errno": int.from_bytes(info[8:12], "little", signed=True), "si_pad": 0,
                "__data": info[16:256]}
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
    # Since Linux 6.0 PTRACE_KILL sends SIGKILL whether the tracee is stopped or running.
    try:
        os.kill(t.pid, signal.SIGKILL)
    except OSError:
        pass
    if t.monitor:
        monitor.dispose(t.monitor)
        t.monitor = 0
    return 0


def _attach(pid: int, addr: Any, data: Any, abi: str) -> int:
    if pid == os.getpid() or pid == 1:
        raise OSError(errno.EPERM, "cannot attach to self or init")
    if pid in _tracees:
        raise OSError(errno.EPERM, "already traced")
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
    try:
        execve = SYSCALL_NUMBERS["amd64"]["execve"]
        t.lwpctl.write(encode_ctl("amd64", [
            (PC.PCSTOP, None), (PC.PCSTRACE, _ALL_SIGNALS), (PC.PCSFAULT, _NO_FAULTS),
            (PC.PCUNSET, _PR_FORK), (PC.PCSET, _PR_RLC), (PC.PCSEXIT, sysset(execve))]))
    except OSError:
        t.close()
        raise OSError(errno.EPERM, "cannot stop it") from None
    t.attach_stop = True
    t.monitor = monitor.spawn(t.lwpctl, t.pid)
    _tracees[pid] = t
    return 0


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
    msgs: list = [(PC.PCUNSET, _PR_PTRACE), (PC.PCSEXIT, sysset()), (PC.PCSET, _PR_RLC), (PC.PCCSIG, None)]
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
    # Only TRACESYSGOOD changes what is reported so far.  EXITKILL is kept: PR_RLC (set by
    # TRACEME/ATTACH) already lets the tracee go, not die, when the tracer's descriptors close.
    # The event options are stored for the event stops to come.
    t.options = opts
    return 0


def is_exec_stop(snap: bytes) -> bool:
    """The exec SIGTRAP stop: a stop on the way out of a successful execve."""
    why, what = R.why_what(snap)
    if why == PR_WHY.PR_SYSEXIT:  # an attached tracee: the exit of execve is caught (PCSEXIT)
        return what in _EXECVE and R.linux_regs(snap)[10] == 0
    # a TRACEME child: the engine's SIGTRAP, stopped on its way out of execve
    return (why == PR_WHY.PR_SIGNALLED and what == ltos(5) and R.syscall_state(snap) in _EXECVE
            and R.linux_regs(snap)[10] == 0)


def _geteventmsg(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    why, _ = R.why_what(t.snapshot())
    msg = t.eventmsg
    if why == PR_WHY.PR_SYSENTRY:
        msg = 1  # PTRACE_EVENTMSG_SYSCALL_ENTRY, set by Linux at every syscall stop since 5.3
    elif why == PR_WHY.PR_SYSEXIT and not is_exec_stop(t.snapshot()):
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
    snap = t.snapshot()
    why, what = R.why_what(snap)
    if is_exec_stop(snap):
        return SI.trap(0, t.tid, _uid(t.pid))  # legacy exec SIGTRAP: SI_USER from itself
    if why in _SYSCALL_STOPS:
        code = 5 | (0x80 if t.options & PTRACE_O.TRACESYSGOOD else 0)
        return SI.trap(code, t.tid, _uid(t.pid))
    if why == PR_WHY.PR_SIGNALLED:
        pc = R.linux_regs(snap)[16]
        return SI.to_linux(snap[_OFF_INFO:_OFF_INFO + 256], pc)
    if why == PR_WHY.PR_REQUESTED:
        out = bytearray(SI.SIZE)  # the attach SIGSTOP (SEND_SIG_PRIV: SI_KERNEL), or a step
        if t.stepping:
            out[0:12] = (5).to_bytes(4, "little") + bytes(4) + (2).to_bytes(4, "little")
            out[16:24] = R.linux_regs(snap)[16].to_bytes(8, "little")
        else:
            out[0:12] = (19).to_bytes(4, "little") + bytes(4) + (0x80).to_bytes(4, "little")
        return bytes(out)
    raise OSError(errno.EINVAL, "no siginfo at this stop")


def _getsiginfo(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    if abi != "amd64":
        raise OSError(errno.EIO, "the compat siginfo is not supported yet")
    caller.write(data, stop_siginfo(t))
    return 0


def _setsiginfo(pid: int, addr: Any, data: Any, abi: str) -> int:
    t = _stopped(pid)
    if abi != "amd64":
        raise OSError(errno.EIO, "the compat siginfo is not supported yet")
    stop_siginfo(t)  # EINVAL where Linux has no siginfo to replace
    lin = caller.read(data, SI.SIZE)
    why, _ = R.why_what(t.snapshot())
    if why == PR_WHY.PR_SIGNALLED:
        sig = int.from_bytes(lin[:4], "little", signed=True)
        if 0 < sig < LINUX_NSIG:
            # the stop's pending signal info changes now; CONT with that signal delivers it
            t.lwpctl.write(encode_ctl("amd64", [(PC.PCSSIG, SI.from_linux(lin))]))
    t.siginfo = lin
    return 0


def _getsigmask(pid: int, addr: int, data: Any, abi: str) -> int:
    if addr != 8:
        raise OSError(errno.EINVAL, "sigset size must be 8")
    t = _stopped(pid)
    from native_proc.procinfo import linux_mask

    full = t.status.pread(_LWPST.size, 0)  # with the signal sets (the snapshot has none)
    if len(full) < _OFF_HOLD + 16:
        raise OSError(errno.ESRCH, "tracee is gone")
    mask = linux_mask(full[_OFF_HOLD:_OFF_HOLD + 16])
    caller.write(data, mask.to_bytes(8, "little"))
    return 0


def _setsigmask(pid: int, addr: int, data: Any, abi: str) -> int:
    if addr != 8:
        raise OSError(errno.EINVAL, "sigset size must be 8")
    t = _stopped(pid)
    from native_proc.procinfo import sigset_bytes

    mask = int.from_bytes(caller.read(data, 8), "little") & ~_SIGKILL_STOP_BITS
    t.lwpctl.write(encode_ctl("amd64", [(PC.PCSHOLD, {"__sigbits": sigset_bytes(mask)})]))
    return 0


_IOV = {"amd64": __import__("struct").Struct("<QQ"), "i386": __import__("struct").Struct("<II")}


def _regset(t: Tracee, nt: int, abi: str) -> bytes:
    snap = t.snapshot()
    if nt == NT.PRSTATUS:
        return R.pack(abi, R.linux_regs(snap))
    if nt == NT.PRFPREG:
        fx = snap[_OFF_FPREG:_OFF_FPREG + 512]
        return fx if abi == "amd64" else _fsave(fx)
    raise OSError(errno.EINVAL, "unsupported regset")  # NT_X86_XSTATE and the rest


def _iov(data: Any, abi: str) -> tuple[int, int]:
    return _IOV[abi].unpack(caller.read(data, _IOV[abi].size))


def _put_iov_len(data: Any, abi: str, base: int, n: int) -> None:
    caller.write(data, _IOV[abi].pack(base, n))


def _regset_io(pid: int, addr: int, data: Any, abi: str) -> tuple[Tracee, int, bytes, int]:
    """GETREGSET/SETREGSET's common part: (tracee, iov_base, the regset now, bytes to move)."""
    t = _stopped(pid)
    base, length = _iov(data, abi)
    full = _regset(t, addr, abi)
    if length % _WORD[abi]:
        raise OSError(errno.EINVAL, "iov_len is not a multiple of the regset's unit")
    return t, base, full, min(length, len(full))


def _getregset(pid: int, addr: int, data: Any, abi: str) -> int:
    t, base, full, n = _regset_io(pid, addr, data, abi)
    if n:
        caller.write(base, full[:n])
    _put_iov_len(data, abi, base, n)
    return 0


def _setregset(pid: int, addr: int, data: Any, abi: str) -> int:
    t, base, full, n = _regset_io(pid, addr, data, abi)
    new = caller.read(base, n) if n else b""
    snap = t.snapshot()
    if addr == NT.PRSTATUS:
        if n:
            _write_regs(t, abi, new + full[n:], snap, R.linux_regs(snap))
    else:  # NT_PRFPREG: Linux's xfpregs_set takes only the whole fxsave image
        if abi != "amd64" or n != 512:
            raise OSError(errno.EINVAL, "partial FP regset write")
        if int.from_bytes(new[24:28], "little") & ~0xFFFF:
            raise OSError(errno.EINVAL, "reserved MXCSR bits")
        cur = snap[_OFF_FPREG:_OFF_FPREG + _FPSET.size]
        t.lwpctl.write(encode_ctl("amd64", [(PC.PCSFPREG, _FPSET.decode(new + cur[512:]))]))
    _put_iov_len(data, abi, base, n)
    return 0


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
    PTRACE.GETEVENTMSG: _geteventmsg,
    PTRACE.GETSIGINFO: _getsiginfo,
    PTRACE.SETSIGINFO: _setsiginfo,
    PTRACE.GETREGSET: _getregset,
    PTRACE.SETREGSET: _setregset,
    PTRACE.GETSIGMASK: _getsigmask,
    PTRACE.SETSIGMASK: _setsigmask,
}


def lx_ptrace(req: int, pid: int, addr: Any = 0, data: Any = 0, *, abi: str = "amd64") -> int:
    """Linux ptrace(2) for a caller of `abi` ("amd64" or "i386"): returns what the raw system
    call returns (0 for most requests; PEEK* store the word at `data`) or -errno."""
    if abi not in _WORD:
        raise ValueError(f"abi must be 'amd64' or 'i386', not {abi!r}")
    handler = REQUESTS.get(req, _unknown)
    try:
        return handler(pid, addr, data, abi)
    except OSError as e:
        return -(e.errno or errno.EIO)


def _unknown(pid: int, addr: Any, data: Any, abi: str) -> int:
    """Linux checks for a stopped tracee first (ESRCH), then finds the request unknown (EIO)."""
    _stopped(pid)
    raise OSError(errno.EIO, "unknown ptrace request")
