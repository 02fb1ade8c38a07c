"""The BSD procfs directory of seed 004 over native_proc: `open(pid, name)`.

Files (pid may be "curproc", the caller):

* `ctl` (write-only): one verb per write — `attach` (stop it, trace it, become its debug control
  process: the same Solaris messages as PT_ATTACH), `wait` (PCWSTOP), `step` (PCRUN|PRSTEP, no
  signal), `run` (PCRUN, no signal), `<signame>` (deliver it and run; to a process we do not hold
  stopped it is just sent, PCKILL), `detach` (untrace, release and run).  FreeBSD's procfs_ctl.c
  semantics where the README is silent: attach of a traced process EBUSY, of another user's or a
  set-id process EPERM (not root), of yourself EINVAL; step/run/<signame>-and-run need the
  process stopped and traced by us (EBUSY); detach of a process we do not trace is a no-op; and,
  as issue 17 asks, an unknown verb or signal name and a `wait` on a process not attached are
  EINVAL.
* `status` (read-only): the one-line text of the README's example: comm pid ppid pgid sid
  maj,min flags start-sec start-usec user-sec user-usec sys-sec sys-usec wchan euid ruid rgid
  groups... (flags: ctty, sldr, or noflags).
* `map`: one line per mapping in FreeBSD's procfs_map.c format: start end resident
  private-resident object rwx ref-count shadow-count flags COW|NCOW NC|NNC type path.
* `regs`, `fpregs`, `dbregs` (read/write): FreeBSD's `struct reg`/`fpreg`/`dbreg` of the caller's
  ABI (`abi=`), readable and writable whenever the process is stopped under /proc control
  (EBUSY otherwise).
* `mem` (read/write): the address space, procfs_domem's rules (a hole is EFAULT, nothing lies at
  or above VM_MAXUSER_ADDRESS).
* `note`, `notepg` (write-only): a signal name sent to the process / its whole process group.
* `file`: the exec'd file, opened read-only (the descriptor of the text's vnode).
* `rlimit`: one line per resource, "name cur max" (-1 for infinity), FreeBSD's resource names.
* `etype`: the executable type, as FreeBSD names a Linux binary's sysentvec ("Linux ELF64").

Access is checked as procfs does (CHECKIO/p_trespass): root, or the same real uid and not set-id,
else EPERM; a process that does not exist is ENOENT.
"""

from __future__ import annotations

import builtins  # this module's own `open` is the procfs one
import errno
import io
import os
import resource
from typing import Any

import native_proc.client as npc
from structs.bsd import BSD_SIG_MAXSIG, bsd_signo, btos
from structs.codec import codec
from structs.procfs import PRWATCH, PSINFO, PSTATUS
from structs.procfs_consts import PC, WA
from structs.signals import stol

from . import ptrace as P
from . import regs as R
from .procfacts import Facts, facts
from .wait import stop_status

__all__ = ["open", "FILES"]

FILES = ("ctl", "status", "map", "regs", "fpregs", "dbregs", "mem", "note", "notepg", "file", "rlimit", "etype")
_PST = codec(PSTATUS["amd64"])
_PSI = codec(PSINFO["amd64"])
_WATCH = codec(PRWATCH["amd64"])


def _pid(pid: int | str) -> int:
    if pid == "curproc":
        return os.getpid()
    if isinstance(pid, str) and not pid.isdigit():
        raise OSError(errno.ENOENT, f"no such procfs entry: {pid}")
    return int(pid)


def _facts(pid: int) -> Facts:
    f = facts(pid)
    if f is None:
        raise OSError(errno.ENOENT, f"no process {pid}")
    return f


def _may_debug(f: Facts) -> None:
    """CHECKIO / p_trespass: root, or our real uid and not set-id."""
    if os.geteuid() != 0 and (f.ruid != os.getuid() or f.sugid):
        raise OSError(errno.EPERM, "another user's or a set-id process")


def _signal(name: str) -> int:
    try:
        sig = bsd_signo(name)
    except KeyError:
        raise OSError(errno.EINVAL, f"unknown verb or signal name {name!r}") from None
    if not 0 < sig <= BSD_SIG_MAXSIG or not stol(btos(sig)):
        raise OSError(errno.EINVAL, f"{name} cannot reach a Linux process")
    return btos(sig)


class _Text(io.RawIOBase):
    """A read-only text file whose content is computed when it is opened."""

    def __init__(self, text: str) -> None:
        self._buf = io.BytesIO(text.encode())

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        return self._buf.readinto(b)

    def read(self, size: int = -1) -> bytes:
        return self._buf.read(size)


class CtlFile:
    """`ctl`: write one verb per write(); returns the number of bytes taken."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.closed = False

    def write(self, data: str | bytes, timeout: float | None = None) -> int:
        text = data.decode() if isinstance(data, bytes) else data
        verb = text[:-1] if text.endswith("\n") else text
        _ctl(self.pid, verb, timeout)
        return len(data)

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> "CtlFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ctl(pid: int, verb: str, timeout: float | None) -> None:
    f = facts(pid)
    if f is None:
        P.forget(pid)  # gone: what we held of it goes too
        raise OSError(errno.ENOENT, f"no process {pid}")
    if verb == "attach":
        if P._traced(f):
            raise OSError(errno.EBUSY, "already traced")
        _may_debug(f)
        if pid == os.getpid():
            raise OSError(errno.EINVAL, "cannot trace yourself")
        P.attach(f)
        return
    _may_debug(f)
    t = P.tracee_of(pid)
    if verb == "detach":
        if t is None:
            return  # "if not being traced, then this is a painless no-op"
        msgs = P.detach_messages(t)
        if t.stopped():
            P.resume(t, 0, extra=msgs)
        else:
            t.write_proc(msgs)
        P.forget(pid)
        return
    if verb == "wait":
        if t is None:
            raise OSError(errno.EINVAL, "not attached")
        try:
            t.write_proc([(PC.PCWSTOP, None)], timeout=timeout)
        except FileNotFoundError:
            P.forget(pid)
            raise OSError(errno.ENOENT, "process has exited") from None
        t.waited = True
        stop_status(t)  # the stop as a debugger sees it (DR6 after a debug trap)
        return
    if verb in ("step", "run"):
        _held(t)
        P.resume(t, 0, step=verb == "step")
        return
    sig = _signal(verb)
    if t is not None and t.stopped():
        P.resume(t, sig)
    else:
        _send(pid, sig, t)


def _send(pid: int, sig: int, t: P.Tracee | None) -> None:
    """psignal: PCKILL through the lwpctl we hold, else the host's kill.  (Opening a writable
    ctl just to signal would be a last close when it is closed again, which releases or kills a
    process someone set PR_RLC/PR_KLC on and holds no descriptor of.)"""
    if t is not None:
        t.write_proc([(PC.PCKILL, sig)])
        return
    try:
        os.kill(pid, stol(sig))
    except ProcessLookupError:
        raise OSError(errno.ENOENT, "process has exited") from None


def _held(t: P.Tracee | None) -> P.Tracee:
    """TRACE_WAIT_P: stopped, and traced by us."""
    if t is None or not t.stopped():
        raise OSError(errno.EBUSY, "not stopped under our control")
    return t


class _NoteFile:
    """`note` / `notepg`: a signal name written here is sent to the process / its group."""

    def __init__(self, pid: int, group: bool) -> None:
        self.pid, self.group, self.closed = pid, group, False

    def write(self, data: str | bytes) -> int:
        text = data.decode() if isinstance(data, bytes) else data
        sig = _signal(text.strip())
        if self.group:
            try:
                os.killpg(_facts(self.pid).pgid, stol(sig))  # pgsignal
            except ProcessLookupError:
                raise OSError(errno.ENOENT, "process group has gone") from None
        else:
            _send(self.pid, sig, P.tracee_of(self.pid))
        return len(data)

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> "_NoteFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _RegFile:
    """`regs` / `fpregs` / `dbregs`: the structure's bytes at offsets 0..size, through the
    tracee we hold, or (another process stopped under /proc control) files of our own."""

    def __init__(self, pid: int, kind: str, abi: str) -> None:
        self.pid, self.kind, self.abi = pid, kind, abi
        self.size = R.SIZE[{"regs": "reg", "fpregs": "fpreg", "dbregs": "dbreg"}[kind]][abi]
        self._pos = 0
        self.closed = False
        t = P.tracee_of(pid)
        self._own = t is None
        if t is None:
            # Reads need only the status; the writable lwpctl is opened by the first write.
            st = npc.open(f"{pid}/lwp/1/lwpstatus")
            t = P.Tracee(pid, st, st, st, child=False, oppid=0)
        self.t = t
        if self._own and kind == "dbregs":
            self.t.dr, self.t.watched = _dr_from_watch(pid)

    def _get(self) -> bytes:
        if self.kind == "dbregs":
            return R.get_dbreg(self.t.dr, self.abi)
        snap = self.t.snapshot()
        return R.get_reg(snap, self.abi) if self.kind == "regs" else R.get_fpreg(snap, self.abi)

    def pread(self, size: int, offset: int) -> bytes:
        if not self.t.stopped():
            raise OSError(errno.EBUSY, "not stopped")
        return self._get()[offset:offset + max(size, 0)]

    def pwrite(self, data: bytes, offset: int) -> int:
        if not self.t.stopped():
            raise OSError(errno.EBUSY, "not stopped")
        if offset < 0 or offset + len(data) > self.size:
            raise OSError(errno.EINVAL, "outside the register structure")
        if self._own and self.t.lwpctl is self.t.status:
            self.t.lwpctl = npc.open(f"{self.pid}/lwp/1/lwpctl", os.O_WRONLY)
        buf = bytearray(self._get())
        buf[offset:offset + len(data)] = data
        raw = bytes(buf)
        if self.kind == "regs":
            g = R.set_reg(self.t.snapshot(), self.abi, raw)
            self.t.write([(PC.PCSREG, g)])
        elif self.kind == "fpregs":
            self.t.write([(PC.PCSFPREG, R.set_fpreg(self.t.snapshot(), self.abi, raw))])
        else:
            P.set_dbregs(self.t, R.parse_dbreg(raw, self.abi), self.abi)
        return len(data)

    def read(self, size: int = -1) -> bytes:
        data = self.pread(self.size if size < 0 else size, self._pos)
        self._pos += len(data)
        return data

    def write(self, data: bytes) -> int:
        n = self.pwrite(bytes(data), self._pos)
        self._pos += n
        return n

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = pos if whence == 0 else self._pos + pos if whence == 1 else self.size + pos
        return self._pos

    def close(self) -> None:
        if not self.closed and self._own:
            self.t.status.close()
            if self.t.lwpctl is not self.t.status:
                self.t.lwpctl.close()
        self.closed = True

    def __enter__(self) -> "_RegFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _dr_from_watch(pid: int) -> tuple[list[int], list[tuple[int, int, int]]]:
    """A debug-register view of the areas the process already watches (slot order = the
    engine's order), for a dbregs file opened on a process we do not trace."""
    dr = [0, 0, 0, 0, 0, 0, R.DR6_RESERVED, 0]
    areas: list[tuple[int, int, int]] = []
    try:
        with npc.open(f"{pid}/watch") as f:
            data = f.read()
    except OSError:
        return dr, areas
    lens = {1: 0b00, 2: 0b01, 4: 0b11, 8: 0b10}
    for i in range(min(len(data) // _WATCH.size, 4)):
        w = _WATCH.decode(data[i * _WATCH.size:(i + 1) * _WATCH.size])
        fl = w["pr_wflags"]
        rw = 0b00 if fl & WA.WA_EXEC else 0b11 if fl & WA.WA_READ else 0b01
        dr[i] = w["pr_vaddr"]
        dr[7] |= 1 << (2 * i) | rw << (16 + 4 * i) | lens.get(w["pr_size"], 0) << (18 + 4 * i)
        areas.append((w["pr_vaddr"], w["pr_size"], fl))
    return dr, areas


class _MemFile:
    """`mem`: read and write the address space at the file position (procfs_domem)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        # read-only until the first write: a writable descriptor's last close is an event
        self._as = npc.open(f"{pid}/as", os.O_RDONLY)
        self._t = P.Tracee(pid, self._as, self._as, self._as, child=False, oppid=0)
        self._writable = False
        self._pos = 0
        self.closed = False

    def pread(self, size: int, offset: int) -> bytes:
        got, moved, error = P.domem(self._t, offset, size, None)
        if error and not moved:
            raise OSError(error, "cannot read there")
        return got[:moved]

    def pwrite(self, data: bytes, offset: int) -> int:
        if not self._writable:
            rw = npc.open(f"{self.pid}/as", os.O_RDWR)
            self._as.close()
            self._as = self._t.mem = self._t.status = self._t.lwpctl = rw
            self._writable = True
        _, moved, error = P.domem(self._t, offset, len(data), bytes(data))
        if error and not moved:
            raise OSError(error, "cannot write there")
        return moved

    def read(self, size: int = 4096) -> bytes:
        data = self.pread(size, self._pos)
        self._pos += len(data)
        return data

    def write(self, data: bytes) -> int:
        n = self.pwrite(data, self._pos)
        self._pos += n
        return n

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = pos if whence == 0 else self._pos + pos
        return self._pos

    def close(self) -> None:
        if not self.closed:
            self._as.close()
        self.closed = True

    def __enter__(self) -> "_MemFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the text files -----------------------------------------------------------------------------


def status_line(pid: int) -> str:
    """The README's status line, from native_proc's psinfo and status and the host's stat."""
    f = _facts(pid)
    with npc.open(f"{pid}/psinfo") as fh:
        ps = _PSI.decode(fh.read())
    with npc.open(f"{pid}/status") as fh:
        st = _PST.decode(fh.read())
    comm = ps["pr_fname"].split(b"\0", 1)[0].decode(errors="replace") or f.comm
    if f.tty:
        tty = f"{(f.tty >> 8) & 0xFFF},{(f.tty & 0xFF) | ((f.tty >> 12) & 0xFFF00)}"
    else:
        tty = "-1,-1"
    flags = [n for n, on in (("ctty", bool(f.tty)), ("sldr", f.sid == pid)) if on]
    start, ut, stime = ps["pr_start"], st["pr_utime"], st["pr_stime"]
    try:
        with builtins.open(f"/proc/{pid}/wchan") as w:
            wchan = w.read().strip()
    except OSError:
        wchan = ""
    groups = [f.egid, *[g for g in f.groups if g != f.egid]]
    return " ".join(str(x) for x in (
        comm, pid, st["pr_ppid"], st["pr_pgid"], st["pr_sid"], tty, ",".join(flags) or "noflags",
        start["tv_sec"], start["tv_nsec"] // 1000, ut["tv_sec"], ut["tv_nsec"] // 1000,
        stime["tv_sec"], stime["tv_nsec"] // 1000, wchan if wchan and wchan != "0" else "nochan",
        f.euid, f.ruid, f.rgid, *groups)) + "\n"


def map_text(pid: int) -> str:
    """procfs_map.c's lines, from the host's smaps of the process."""
    lines = []
    with builtins.open(f"/proc/{pid}/smaps") as fh:
        entry: dict[str, Any] | None = None
        for line in fh:
            head = line.split()
            if head and "-" in head[0] and not head[0].endswith(":"):
                if entry:
                    lines.append(_map_line(entry))
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                entry = {"lo": lo, "hi": hi, "perms": head[1], "inode": int(head[4]),
                         "path": head[5] if len(head) > 5 else "", "rss": 0, "private": 0}
            elif entry is not None and head and head[0] in ("Rss:", "Private_Clean:", "Private_Dirty:"):
                kb = int(head[1])
                if head[0] == "Rss:":
                    entry["rss"] = kb * 1024 // 4096
                else:
                    entry["private"] += kb * 1024 // 4096
        if entry:
            lines.append(_map_line(entry))
    return "".join(lines)


def _map_line(e: dict) -> str:
    perms = e["perms"]
    private = perms[3] == "p"
    path = e["path"] if e["path"].startswith("/") else "-"
    typ = "vnode" if e["inode"] else ("device" if e["path"] in ("[vvar]", "[vdso]", "[vsyscall]") else
                                     "swap" if e["private"] else "default")
    obj = f"0x{e['inode']:x}" if e["inode"] else "0"
    return (f"0x{e['lo']:x} 0x{e['hi']:x} {e['rss']} {e['private']} {obj} {perms[:3]} 1 0 0x0 "
            f"{'COW' if private and 'w' in perms else 'NCOW'} NNC {typ} {path}\n")


# FreeBSD's resource names (rlimit_ident) and the Linux limit each one is
_RLIMITS = (("cpu", resource.RLIMIT_CPU), ("fsize", resource.RLIMIT_FSIZE), ("data", resource.RLIMIT_DATA),
            ("stack", resource.RLIMIT_STACK), ("core", resource.RLIMIT_CORE), ("rss", resource.RLIMIT_RSS),
            ("memlock", resource.RLIMIT_MEMLOCK), ("nproc", resource.RLIMIT_NPROC),
            ("nofile", resource.RLIMIT_NOFILE), ("sbsize", None), ("vmem", resource.RLIMIT_AS))


def rlimit_text(pid: int) -> str:
    out = []
    for name, res in _RLIMITS:
        cur, mx = (resource.RLIM_INFINITY, resource.RLIM_INFINITY) if res is None else resource.prlimit(pid, res)
        fmt = [("-1" if v == resource.RLIM_INFINITY else str(v)) for v in (cur, mx)]
        out.append(f"{name} {fmt[0]} {fmt[1]}\n")
    return "".join(out)


def etype_text(pid: int) -> str:
    with npc.open(f"{pid}/psinfo") as fh:
        model = _PSI.decode(fh.read())["pr_dmodel"]
    return "Linux ELF32\n" if model == 1 else "Linux ELF64\n"  # PR_MODEL_ILP32 = 1


_READ_ONLY_TEXT = {"status": status_line, "map": map_text, "rlimit": rlimit_text, "etype": etype_text}


def open(pid: int | str, name: str, *, abi: str = "amd64") -> Any:  # noqa: A001
    """Open `name` in the procfs directory of `pid` ("curproc": the caller).  ENOENT for no such
    process or file, EPERM where procfs would refuse the caller."""
    p = _pid(pid)
    if name not in FILES:
        raise OSError(errno.ENOENT, f"no such procfs file: {name}")
    f = _facts(p)
    if name == "ctl":
        return CtlFile(p)
    if name in ("note", "notepg"):
        return _NoteFile(p, name == "notepg")
    if name in _READ_ONLY_TEXT:
        return _Text(_READ_ONLY_TEXT[name](p))
    if name == "file":
        return builtins.open(f"/proc/{p}/exe", "rb")
    _may_debug(f)
    if name == "mem":
        return _MemFile(p)
    if abi not in ("amd64", "i386"):
        raise ValueError(f"abi must be 'amd64' or 'i386', not {abi!r}")
    return _RegFile(p, name, abi)
