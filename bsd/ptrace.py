"""bsd_ptrace: DragonFly's sys_ptrace/kern_ptrace (seed 002) over native_proc's /proc.

As the seed builds ptrace on procfs primitives, this builds it on native_proc's: `procfs_domem`
is the `as` file, `procfs_doregs`/`dofpregs` are lwpstatus and PCSREG/PCSFPREG, `dodbregs` is a
debug-register shadow carried out as PCWATCH areas, and every resume is `PCCSIG; PCSSIG;
(PCSVADDR); PCRUN` on the LWP's lwpctl.  kern_ptrace's checks are decided up front, in the
seed's order, from what the host's /proc says about the target (`procfacts`), and give the
seed's errnos.  Signal numbers and wait statuses are FreeBSD's (structs.bsd).

Convention: `bsd_ptrace` returns what the system call returns (0, or the word PT_READ_I/D
read) and raises OSError with the BSD errno on failure, as a C caller sees -1 and errno.
"""

from __future__ import annotations

import errno
import os
import struct
from dataclasses import dataclass, field
from typing import Any, Callable

import native_proc.client as npc
from native_proc.client import ProcFile
from structs.bsd import BSD_SIG_MAXSIG, PIOD, PT, PTRACE_IO_DESC, VM_MAXUSER_ADDRESS, btos
from structs.codec import codec
from structs.ctl import encode_ctl
from structs.fields import memberof
from structs.procfs import LWPSTATUS, PSTATUS
from structs.procfs_consts import PC, PR_WHY
from structs.signals import stol

from . import regs as R
from .caller import copyin, copyout
from .procfacts import Facts, facts, securelevel

__all__ = ["bsd_ptrace", "Tracee", "tracee_of", "take", "forget", "resume", "attach", "PR_PTRACE"]

PR_PTRACE, _PR_RLC, _PR_KLC, _PR_FORK, _PR_ASYNC = 0x4000000, 0x200000, 0x400000, 0x100000, 0x800000
_PR_ISTOP = 0x2
_PRSTEP = 0x4
_SOL_SIGKILL, _SOL_SIGSTOP = 9, 23
_PST = codec(PSTATUS["amd64"])
_LWPST = codec(LWPSTATUS["amd64"])
_OFF_WHY = memberof(LWPSTATUS["amd64"], "pr_why")[0]
_OFF_REP = memberof(PSTATUS["amd64"], "pr_lwp")
_WHY_WHAT = struct.Struct("<hh")  # pr_why, pr_what (adjacent shorts)
_ALL_SIGNALS = {"__sigbits": b"\xff" * 16}
_NO_SIGNALS = {"__sigbits": bytes(16)}
_NO_FAULTS = {"word": [0, 0, 0, 0]}
_ABIS = ("amd64", "i386")
_PAGE = 4096


@dataclass(eq=False)
class Tracee:
    """What this tracer holds for one traced process (its representative LWP, lwpid 1)."""

    pid: int
    lwpctl: ProcFile
    status: ProcFile
    mem: ProcFile
    child: bool  # our own child: its stops reach us through the native waitid (PR_PTRACE)
    oppid: int  # the parent it had before PT_ATTACH (p_oppid)
    waited: bool = False  # P_WAITED: the tracer's wait has taken the current stop
    dying: bool = False  # PT_KILL sent: its exit is the only news left
    dr: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0, 0, R.DR6_RESERVED, 0])
    watched: list[tuple[int, int, int]] = field(default_factory=list)
    ctl: ProcFile | None = None  # the process's ctl: what acts on the whole process goes here

    def snapshot(self) -> bytes:
        """The stopped LWP's lwpstatus_t (EBUSY, the seed's "not currently stopped", if not)."""
        snap = self.status.snapshot()
        if snap is None:
            try:
                snap = self.status.pread(_LWPST.size, 0)
            except OSError:
                raise OSError(errno.ESRCH, "process has exited") from None
            if len(snap) < _LWPST.size or not _LWPST.struct.unpack_from(snap)[0] & _PR_ISTOP:
                raise OSError(errno.EBUSY, "not stopped")
        return snap

    def stopped(self) -> bool:
        ok = self.status.stopped()
        if ok is not None:
            return ok
        try:
            snap = self.status.pread(_LWPST.size, 0)
        except OSError:
            return False
        return len(snap) >= 4 and bool(_LWPST.struct.unpack_from(snap)[0] & _PR_ISTOP)

    def write(self, msgs: list) -> None:
        """Messages for the representative LWP of the seed (FIRST_LWP_IN_PROC): lwpctl."""
        self.lwpctl.write(encode_ctl("amd64", msgs))

    def write_proc(self, msgs: list, timeout: float | None = None) -> None:
        """Messages for the whole process (a BSD stop and run is the process's): ctl."""
        (self.ctl or self.lwpctl).write(encode_ctl("amd64", msgs), timeout=timeout)

    def event(self) -> bytes:
        """The lwpstatus that shows why the process stopped: lwp 1's, or when it only stopped
        because a sibling did (PR_REQUESTED), the representative LWP's (pstatus_t.pr_lwp)."""
        snap = self.snapshot()
        if _WHY_WHAT.unpack_from(snap, _OFF_WHY)[0] == PR_WHY.PR_REQUESTED:
            try:
                with npc.open(f"{self.pid}/status") as f:
                    data = f.read()
            except OSError:
                return snap
            off, size = _OFF_REP
            if len(data) >= off + size:
                return data[off:off + size]
        return snap

    def close(self) -> None:
        for f in (self.lwpctl, self.status, self.mem, self.ctl):
            if f is not None:
                f.close()


_tracees: dict[int, Tracee] = {}


def tracee_of(pid: int) -> Tracee | None:
    return _tracees.get(pid)


def forget(pid: int) -> None:
    """Drop what we hold for a tracee that exited or was detached (its last close acts)."""
    t = _tracees.pop(pid, None)
    if t is not None:
        t.close()


def take(pid: int, child: bool, oppid: int, exclusive: bool = False) -> Tracee:
    """Open the files a tracer needs for `pid` and enter it in the table."""
    flags = os.O_WRONLY | (os.O_EXCL if exclusive else 0)
    lwpctl = npc.open(f"{pid}/lwp/1/lwpctl", flags)
    opened = [lwpctl]
    try:
        # (a non-exclusive write open succeeds while our exclusive one is held)
        opened.append(npc.open(f"{pid}/ctl", os.O_WRONLY))
        opened.append(npc.open(f"{pid}/lwp/1/lwpstatus"))
        opened.append(npc.open(f"{pid}/as", os.O_RDWR))
    except BaseException:
        for f in opened:
            f.close()
        raise
    _, ctl, st, mem = opened
    t = _tracees[pid] = Tracee(pid, lwpctl, st, mem, child, oppid, ctl=ctl)
    return t


def pstatus_flags(pid: int) -> int | None:
    """pstatus_t.pr_flags of `pid` as native_proc shows it (None if it cannot be read, or
    procd cannot be reached by this caller, as another user's procd cannot)."""
    try:
        with npc.open(f"{pid}/status") as f:
            return _PST.decode(f.read())["pr_flags"]
    except (OSError, npc.ProcdError):
        return None


def _traced(f: Facts) -> bool:
    """P_TRACED: someone traces it (our table, PR_PTRACE in its /proc status, or a host tracer
    that is not native_proc's engine)."""
    if f.pid in _tracees:
        return True
    if not f.tracer:
        return False
    if not _is_engine(f.tracer):
        return True  # some other debugger holds it
    # controlled by the engine: traced when PR_PTRACE is set (unreadable, as another user's
    # process is to a caller that is not root: not known to be, and EPERM follows)
    return bool((pstatus_flags(f.pid) or 0) & PR_PTRACE)


def _is_engine(pid: int) -> bool:
    """Whether a host tracer is native_proc's engine (procd), told by its command line: the
    client API names no procd pid, and a wrong answer only turns EBUSY into EPERM for a
    process some other debugger holds (attaching to it still fails, EBUSY)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmd = fh.read()
        return b"native_proc" in cmd or b"native-proc" in cmd
    except OSError:
        return False


def _mine(f: Facts) -> Tracee | None:
    """The tracee record when the caller is its tracer (p_pptr == curp), else None."""
    t = _tracees.get(f.pid)
    if t is not None:
        return t
    # A PT_TRACE_ME child of ours that we have not seen stop yet.
    if f.ppid == os.getpid() and f.tracer:
        flags = pstatus_flags(f.pid)
        if flags is not None and flags & PR_PTRACE:
            return take(f.pid, child=True, oppid=f.ppid)
    return None


# -- kern_ptrace's up-front checks ---------------------------------------------------------------

_NEEDS_STOPPED = frozenset({PT.READ_I, PT.READ_D, PT.WRITE_I, PT.WRITE_D, PT.IO, PT.CONTINUE, PT.KILL,
                            PT.STEP, PT.DETACH, PT.GETREGS, PT.SETREGS, PT.GETFPREGS, PT.SETFPREGS,
                            PT.GETDBREGS, PT.SETDBREGS})


def check(req: int, pid: int) -> tuple[Facts | None, Tracee | None]:
    """kern_ptrace's permission checks, in the seed's order, before anything is done."""
    me = os.getpid()
    held = _tracees.get(pid)
    if held is not None and held.waited and req in _NEEDS_STOPPED:
        # Our tracee, its stop taken by our wait and still current (the published snapshot is
        # valid only while it stays stopped): every check is known to pass without asking the
        # host (a stopped process exists, is no kernel thread, and is not exec'ing unless held
        # at execve's entry, which this personality never asks for but is looked at anyway).
        snap = held.status.snapshot()
        if snap is not None and _WHY_WHAT.unpack_from(snap, _OFF_WHY)[0] != PR_WHY.PR_SYSENTRY:
            return None, held
    f = facts(me if req == PT.TRACE_ME else pid, held.status if held is not None and req != PT.TRACE_ME else None)
    if f is None:
        raise OSError(errno.ESRCH, "no such process")
    if f.system:
        raise OSError(errno.EINVAL, "a system process")
    if f.inexec:
        raise OSError(errno.EAGAIN, "the process is exec'ing")
    if req == PT.TRACE_ME:
        return f, None
    if req == PT.ATTACH:
        if f.pid == me:
            raise OSError(errno.EINVAL, "cannot trace yourself")
        if _traced(f):
            raise OSError(errno.EBUSY, "already traced")
        mine = facts(me)
        if mine is not None and _traced_self(mine) and f.pid in _ancestors(me):
            raise OSError(errno.EINVAL, "cannot trace an ancestor while being traced")
        if (f.ruid != os.getuid() or f.sugid) and os.geteuid() != 0:
            raise OSError(errno.EPERM, "another user's or a set-id process")
        if securelevel() > 0 and f.pid == 1:
            raise OSError(errno.EPERM, "init cannot be traced when securelevel > 0")
        return f, None
    if req not in _NEEDS_STOPPED:
        raise OSError(errno.EINVAL, "unknown request")
    if not _traced(f):
        raise OSError(errno.EPERM, "not being traced")
    t = _mine(f)
    if t is None:
        raise OSError(errno.EBUSY, "not being traced by you")
    if not t.waited or not t.stopped():
        raise OSError(errno.EBUSY, "not stopped (or its stop not yet waited for)")
    return f, t


def _traced_self(f: Facts) -> bool:
    """curp's own P_TRACED (its own /proc status is always readable to it)."""
    return _traced(f)


def _ancestors(pid: int) -> list[int]:
    out = []
    seen = {pid}
    p = pid
    while len(out) < 4096:
        f = facts(p)
        if f is None or f.ppid <= 0 or f.ppid in seen:
            break
        out.append(f.ppid)
        seen.add(f.ppid)
        p = f.ppid
    return out


# -- the requests --------------------------------------------------------------------------------


def _trace_me(f: Facts, t: Tracee | None, addr: Any, data: int, abi: str) -> int:
    # P_TRACED, owned by the parent: PR_PTRACE makes the stops reach the parent's wait; every
    # signal stops it (issignal), faults arrive as their signals.  PR_KLC: DragonFly's exit1
    # kills the traced children of a tracer that exits.  Not PR_ASYNC: a BSD stop is the
    # whole process's.
    with npc.open(f"{f.pid}/ctl", os.O_WRONLY) as c:
        c.write(encode_ctl("amd64", [(PC.PCSET, PR_PTRACE | _PR_KLC), (PC.PCUNSET, _PR_FORK | _PR_ASYNC | _PR_RLC),
                                     (PC.PCSTRACE, _ALL_SIGNALS), (PC.PCSFAULT, _NO_FAULTS)]))
    return 0


def attach(f: Facts) -> Tracee:
    """PT_ATTACH / procfs "attach" once the checks passed: trace it, become its controlling
    process (exclusive lwpctl), and send SIGSTOP (the seed's `data = SIGSTOP; goto sendsig`)."""
    try:
        t = take(f.pid, child=f.ppid == os.getpid(), oppid=f.ppid, exclusive=True)
    except OSError as e:
        if e.errno == errno.EBUSY:
            raise OSError(errno.EBUSY, "already controlled") from None
        raise OSError(errno.ESRCH if e.errno == errno.ENOENT else errno.EPERM, "cannot control it") from None
    try:
        t.write_proc([(PC.PCSET, PR_PTRACE | _PR_KLC), (PC.PCUNSET, _PR_FORK | _PR_ASYNC | _PR_RLC),
                      (PC.PCSTRACE, _ALL_SIGNALS), (PC.PCSFAULT, _NO_FAULTS), (PC.PCKILL, _SOL_SIGSTOP)])
    except OSError:
        forget(f.pid)
        raise OSError(errno.EBUSY, "cannot trace it") from None
    return t


def _attach(f: Facts, t: Tracee | None, addr: Any, data: int, abi: str) -> int:
    attach(f)
    return 0


def _signal(data: int) -> int:
    """The resume signal (0: none) as a Solaris number; EINVAL outside 0.._SIG_MAXSIG, and for a
    BSD signal a Linux process cannot receive (SIGTHR, SIGLIBRT, SIGEMT, SIGINFO)."""
    if data < 0 or data > BSD_SIG_MAXSIG:
        raise OSError(errno.EINVAL, "signal out of range")
    s = btos(data)
    if data and not stol(s):
        raise OSError(errno.EINVAL, "no such signal on this host")
    return s


def _user_info(sig: int) -> dict:
    return {"si_signo": sig, "si_code": 0, "si_errno": 0, "si_pad": 0, "__data": bytes(240)}


def resume(t: Tracee, sig: int, step: bool = False, pc: int | None = None, extra: list | None = None) -> None:
    """sendsig for a stopped tracee: the stop's signal is replaced by `sig` (Solaris, 0: none),
    the pc of lwp 1 set when asked, and the process runs (PT_STEP: the stopped LWP steps, the
    others stay stopped until it stops again)."""
    why, what = _WHY_WHAT.unpack_from(t.event(), _OFF_WHY)
    if pc is not None:
        t.write([(PC.PCSVADDR, pc)])  # ptrace_set_pc(FIRST_LWP_IN_PROC)
    msgs: list = list(extra or [])
    if not (why == PR_WHY.PR_SIGNALLED and sig and what == sig):
        # (resumed with its own signal, the stop keeps that signal and its siginfo)
        msgs.append((PC.PCCSIG, None))
        if sig:
            msgs.append((PC.PCSSIG, _user_info(sig)))
    msgs.append((PC.PCRUN, _PRSTEP if step else 0))
    t.write_proc(msgs)
    t.waited = False


def _pc(addr: Any) -> int | None:
    """`addr == (caddr_t)1` means "where it stopped"; anything else is the new pc."""
    if not isinstance(addr, int):
        raise OSError(errno.EINVAL, "addr must be an address or 1")
    return None if addr == 1 else addr & ((1 << 64) - 1)


def _continue(f: Facts | None, t: Tracee, addr: Any, data: int, abi: str) -> int:
    sig = _signal(data)
    resume(t, sig, pc=_pc(addr))
    return 0


def _step(f: Facts | None, t: Tracee, addr: Any, data: int, abi: str) -> int:
    sig = _signal(data)
    resume(t, sig, step=True, pc=_pc(addr))
    return 0


def detach_messages(t: Tracee) -> list:
    """No longer traced: the modes, traced sets and watched areas go; PR_RLC lets it run when
    our descriptors close."""
    return [(PC.PCUNSET, PR_PTRACE | _PR_KLC), (PC.PCSTRACE, _NO_SIGNALS), (PC.PCSFAULT, _NO_FAULTS),
            *R.watch_messages(t.watched, []), (PC.PCSET, _PR_RLC)]


def _detach(f: Facts | None, t: Tracee, addr: Any, data: int, abi: str) -> int:
    sig = _signal(data)
    pc = _pc(addr)
    resume(t, sig, pc=pc, extra=detach_messages(t))
    t.watched = []
    forget(t.pid)
    return 0


def _kill(f: Facts | None, t: Tracee, addr: Any, data: int, abi: str) -> int:
    # data = SIGKILL; goto sendsig: it is stopped, so it is let run into the SIGKILL.
    t.write_proc([(PC.PCKILL, _SOL_SIGKILL)])
    t.waited, t.dying = False, True
    return 0


def domem(t: Tracee, offset: int, length: int, data: bytes | None) -> tuple[bytes, int, int]:
    """procfs_domem: move up to `length` bytes at `offset` (read when `data` is None).
    Returns (bytes read, bytes moved, error): nothing at or above VM_MAXUSER_ADDRESS moves and
    that is no error (end of file); an address that cannot be accessed is EFAULT, with the
    bytes before it moved."""
    offset &= (1 << 64) - 1
    if offset >= VM_MAXUSER_ADDRESS:
        return b"", 0, 0
    length = min(length, VM_MAXUSER_ADDRESS - offset)
    if data is None:
        got = t.mem.pread(length, offset)
        return got, len(got), 0 if len(got) == length else errno.EFAULT
    done = 0
    while done < length:
        # page by page, so a fault part-way leaves an exact count of what was written
        n = min(length - done, _PAGE - (offset + done) % _PAGE)
        try:
            w = t.mem.pwrite(data[done:done + n], offset + done)
        except OSError:
            return b"", done, errno.EFAULT
        done += w
        if w != n:
            return b"", done, errno.EFAULT
    return b"", done, 0


def _read(f: Facts | None, t: Tracee, addr: Any, data: int, abi: str) -> int:
    got, moved, error = domem(t, int(addr), 4, None)
    if moved != 4:
        # the seed: a short transfer without an error (or ENOSPC/EPERM) is EINVAL ("EOF")
        raise OSError(error if error not in (0, errno.ENOSPC, errno.EPERM) else errno.EINVAL, "cannot read there")
    return int.from_bytes(got, "little", signed=True)


def _write(f: Facts | None, t: Tracee, addr: Any, data: int, abi: str) -> int:
    _, moved, error = domem(t, int(addr), 4, (data & 0xFFFFFFFF).to_bytes(4, "little"))
    if moved != 4:
        raise OSError(error if error not in (0, errno.ENOSPC, errno.EPERM) else errno.EINVAL, "cannot write there")
    return 0


_IOD = {abi: codec(PTRACE_IO_DESC[abi]) for abi in _ABIS}


def _io(f: Facts | None, t: Tracee, addr: Any, data: int, abi: str, piod: dict) -> int:
    op, offs, buf, length = piod["piod_op"], piod["piod_offs"], piod["piod_addr"], piod["piod_len"]
    if op in (PIOD.READ_D, PIOD.READ_I):
        got, moved, error = domem(t, offs, length, None)
        if moved:
            try:
                copyout(got[:moved], buf)
            except OSError:
                moved, error = 0, errno.EFAULT
    elif op in (PIOD.WRITE_D, PIOD.WRITE_I):
        try:
            src = copyin(buf, length) if length else b""
        except OSError:
            src, error, moved = b"", errno.EFAULT, 0
        else:
            _, moved, error = domem(t, offs, length, src)
    else:
        raise OSError(errno.EINVAL, "unknown piod_op")
    piod["piod_len"] = moved
    if error:
        raise OSError(error, "PT_IO stopped short")
    return 0


def _getregs(f: Facts | None, t: Tracee, addr: Any, data: int, abi: str) -> bytes:
    return R.get_reg(t.snapshot(), abi)


def _setregs(f: Facts | None, t: Tracee, addr: Any, data: int, abi: str, raw: bytes) -> None:
    g = R.set_reg(t.snapshot(), abi, raw)
    try:
        t.write([(PC.PCSREG, g)])
    except OSError as e:
        raise OSError(errno.EINVAL, f"registers refused ({e.strerror})") from None


def _getfpregs(f: Facts | None, t: Tracee, addr: Any, data: int, abi: str) -> bytes:
    return R.get_fpreg(t.snapshot(), abi)


def _setfpregs(f: Facts | None, t: Tracee, addr: Any, data: int, abi: str, raw: bytes) -> None:
    t.write([(PC.PCSFPREG, R.set_fpreg(t.snapshot(), abi, raw))])


def _getdbregs(f: Facts | None, t: Tracee, addr: Any, data: int, abi: str) -> bytes:
    return R.get_dbreg(t.dr, abi)


def set_dbregs(t: Tracee, dr: list[int], abi: str) -> None:
    """procfs_write_dbregs: the enabled slots become the process's watched areas (EINVAL for
    what FreeBSD's set_dbregs refuses or the engine cannot watch); nothing changes on failure."""
    dr = list(dr)
    dr[4] = dr[5] = 0
    new = R.dbreg_areas(dr, abi)
    if new != t.watched:
        try:
            t.write_proc(R.watch_messages(t.watched, new))
        except OSError as e:
            # the old areas were removed before the failing one: put them back
            try:
                t.write_proc(R.watch_messages([], t.watched))
            except OSError:
                pass
            raise OSError(errno.EINVAL, f"cannot watch that ({e.strerror})") from None
    t.watched = new
    t.dr = dr


def _setdbregs(f: Facts | None, t: Tracee, addr: Any, data: int, abi: str, raw: bytes) -> None:
    set_dbregs(t, R.parse_dbreg(raw, abi), abi)


_SIMPLE: dict[int, Callable[..., int]] = {
    PT.TRACE_ME: _trace_me, PT.ATTACH: _attach, PT.CONTINUE: _continue, PT.STEP: _step,
    PT.DETACH: _detach, PT.KILL: _kill, PT.READ_I: _read, PT.READ_D: _read,
    PT.WRITE_I: _write, PT.WRITE_D: _write,
}
# sys_ptrace's copyin before kern_ptrace (a bad pointer is EFAULT before any check) and
# copyout after it
_GET = {PT.GETREGS: (_getregs, "reg"), PT.GETFPREGS: (_getfpregs, "fpreg"), PT.GETDBREGS: (_getdbregs, "dbreg")}
_SET = {PT.SETREGS: (_setregs, "reg"), PT.SETFPREGS: (_setfpregs, "fpreg"), PT.SETDBREGS: (_setdbregs, "dbreg")}


def bsd_ptrace(req: int, pid: int, addr: Any = 0, data: int = 0, *, abi: str = "amd64") -> int:
    """BSD ptrace(2) for a caller of `abi` ("amd64" or "i386"): returns 0 (PT_READ_I/D: the int
    read) or raises OSError with kern_ptrace's errno.  `addr` is an address in this process or
    a writable buffer for the requests that take a structure; 1 for PT_CONTINUE/PT_STEP/
    PT_DETACH means "where it stopped"."""
    if abi not in _ABIS:
        raise ValueError(f"abi must be 'amd64' or 'i386', not {abi!r}")
    data = int(data)
    if req in _SET:
        fn, kind = _SET[req]
        raw = copyin(addr, R.SIZE[kind][abi])
        f, t = check(req, pid)
        fn(f, t, addr, data, abi, raw)
        return 0
    if req == PT.IO:
        iod = _IOD[abi]
        piod = iod.decode(copyin(addr, iod.size))
        f, t = check(req, pid)
        try:
            return _io(f, t, addr, data, abi, piod)
        finally:
            try:
                copyout(iod.encode(piod), addr)  # (void)copyout: the count moved, even on error
            except OSError:
                pass
    f, t = check(req, pid)
    if req in _GET:
        fn, kind = _GET[req]
        copyout(fn(f, t, addr, data, abi), addr)
        return 0
    return _SIMPLE[req](f, t, addr, data, abi)
