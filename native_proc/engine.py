"""The /proc engine inside procd: open files, reads, control writes, host stops.

procd calls `request()` for every client datagram and `reap()` whenever SIGCHLD may have
arrived.  A request either answers at once ((value, payload), or OSError) or returns a
`Pending` that answers later (a ctl write blocked in PCWSTOP).  Host stops are classified in
`_host_stop` (ARCHITECTURE decision 3) and wake whatever waits for them.
"""

from __future__ import annotations

import errno
import os
import secrets
import signal
import struct
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from structs.ctl import decode_ctl
from structs.faults import FLT, FLT_SOLARIS_SIGNAL, HWBKPT_FAULT, host_fault
from structs.procfs_consts import PC, PR_MODEL_ILP32, PR_MODEL_LP64, PR_WHY, SOLARIS_P, SOLARIS_W
from structs.ptrace_consts import PTRACE_EVENT, PTRACE_SYSCALL_INFO
from structs.signals import LTOS, STOL
from structs.wire import FEATURES, Op

from . import control, procinfo, siginfo, snapshot, status, tracing, wait, watch
from .identity import Identity
from .lwp import HostStop, Lwp, Proc

_SIGTRAP, _SIGKILL, _SIGSTOP = 5, 9, 19
_JOBCTL = frozenset({19, 20, 21, 22})
_SYSGOOD = _SIGTRAP | 0x80
# xregs: the LWP's XSAVE area (item 12).  lwpsigqueue / sigqueue are NOT Solaris: the pending
# signal queues of an LWP / of the process as siginfo_t arrays (status.read_sigqueue).
# cwd, root and the entries of path/ and fd/ are links (status.LINK_FILES): a read gives what
# they name.
_LWP_FILES = ("lwpctl", "lwpsigqueue", "lwpsinfo", "lwpstatus", "lwpusage", "xregs")
_PID_FILES = ("as", "auxv", "cred", "ctl", "cwd", "fd", "lpsinfo", "lstatus", "lusage", "lwp", "map", "path",
              "psinfo", "root", "sigact", "sigqueue", "status", "usage", "watch", "xmap")
_PID_DIRS = frozenset({"lwp", "fd", "path"})
_WRITABLE = frozenset({"ctl", "lwpctl", "as"})
_WRITE_ONLY = frozenset({"ctl", "lwpctl"})
_READ_ONLY = frozenset({"status", "lwpstatus", "psinfo", "lwpsinfo", "auxv", "map", "watch", "cred", "sigact",
                        "xregs", "lwpsigqueue", "sigqueue", "cwd", "root", "fd", "path", "usage", "lwpusage",
                        "lusage", "lstatus", "lpsinfo", "xmap"})
_QUEUE_FILES = frozenset({"lwpsigqueue", "sigqueue"})
_MODEL_NAME = {PR_MODEL_LP64: "amd64", PR_MODEL_ILP32: "i386"}
_WATCHED = struct.Struct("<Iii")  # a WAITID's watched LWP: host tid, pr_why, pr_what
_BLOCKING = frozenset({PC.PCSTOP, PC.PCWSTOP, PC.PCTWSTOP, PC.PCWATCH})  # may return a Wait
QUIET = ("quiet",)  # a request's result that is not answered (Op.POST)


class Pending:
    """A reply that waits for an event.  procd binds where the answer goes, then starts it."""

    def __init__(self, start: Callable[["Pending"], None], cancel: Callable[["Pending"], None] | None = None):
        self._start = start
        self._cancel = cancel
        self._cb: Callable[..., None] | None = None
        self.done = False

    def bind(self, cb: Callable[..., None]) -> None:
        self._cb = cb

    def start(self) -> None:
        self._start(self)

    def complete(self, err: int = 0, value: int = 0, data: bytes = b"") -> None:
        if self.done:
            return
        self.done = True
        assert self._cb is not None
        self._cb(err, value, data)

    def cancel(self) -> None:
        if not self.done:
            self.done = True
            if self._cancel:
                self._cancel(self)


@dataclass
class OpenFile:
    id: int
    token: bytes
    kind: str
    proc: Proc
    lwpid: int  # 0 for process files
    flags: int
    model: str  # reader data model: "amd64" / "i386"
    writer: bool
    excl: bool
    opener: int  # pid of the client that opened it
    conns: set = field(default_factory=set)
    name: str = ""  # the entry of fd/ or path/ this file is
    # Owner of /proc/PID when opened: a set-id (or unreadable) exec changes it (Linux makes the
    # process's /proc entry the new euid's, or root's when not dumpable); the file is then
    # invalid for unprivileged users (EAGAIN, as Solaris), see Engine._file.
    owner_ids: tuple[int, int] | None = None


@dataclass
class Wait:
    """A ctl message that blocks: PCSTOP/PCWSTOP/PCTWSTOP on an LWP (lwp set) or the process."""

    proc: Proc
    lwp: Lwp | None
    deadline: float | None = None
    kind: str = "stop"  # "watch": PCWATCH until every LWP has its debug registers (watch.py)


class CtlWrite:
    """One write to ctl/lwpctl: messages run in order; a blocking one parks the rest."""

    def __init__(self, engine: "Engine", of: OpenFile, messages: list, error: Any, nbytes: int):
        self.engine = engine
        self.of = of
        self.messages = messages
        self.error = error
        self.nbytes = nbytes
        self.i = 0
        self.pending: Pending | None = None
        self.wait: Wait | None = None

    def run(self) -> tuple[int, bytes] | Pending:
        r = self._step()
        if r is not None:
            return r
        self.pending = Pending(lambda p: None, lambda p: self.engine.unwait(self))
        return self.pending

    def _step(self) -> tuple[int, bytes] | None:
        """Run messages until done (returns the reply), blocked (returns None) or failed (raises)."""
        e = self.engine
        while self.i < len(self.messages):
            code, operand = self.messages[self.i]
            proc, lwp = e.target(self.of)
            w = control.execute(e, self.of, proc, lwp, code, operand)
            self.i += 1
            if w is not None and not e.wait_satisfied(w):
                self.wait = w
                e.waits.append(self)
                return None
        if self.error is not None:
            raise OSError(getattr(errno, self.error.errno), self.error.reason)
        return self.nbytes, b""

    def resume(self) -> None:
        """The wait ended (stopped, timed out, or the target vanished): carry on."""
        assert self.pending is not None
        w, self.wait = self.wait, None
        try:
            if w is not None:
                self.engine.wait_satisfied(w)  # raises ENOENT when the target went away
            r = self._step()
        except OSError as ex:
            self.pending.complete(ex.errno or errno.EIO)
            return
        if r is not None:
            self.pending.complete(0, r[0], r[1])


# Mode bits and PCXSTOPFOROPT bits as plain ints (flag-enum arithmetic is slow on the stop path).
_PR_FORK, _PR_RLC, _PR_KLC, _PR_ASYNC, _PR_PTRACE = 0x100000, 0x200000, 0x400000, 0x800000, 0x4000000
_EV_JOBCONTROL = 0x1  # PCX_EVENT.JOBCONTROL; every other bit is 1 << (Linux PTRACE_EVENT_*)
_BRAND_EVENTS = frozenset(range(1, 8))  # PTRACE_EVENT FORK .. SECCOMP: what PR_BRAND reports
_BIRTH_EVENTS = frozenset({PTRACE_EVENT.FORK, PTRACE_EVENT.VFORK, PTRACE_EVENT.CLONE})


class Engine:
    def __init__(self, procd: Any) -> None:
        self.procd = procd
        self.files: dict[int, OpenFile] = {}
        self.tokens: dict[bytes, OpenFile] = {}
        self.procs: dict[int, Proc] = {}
        self.tids: dict[int, Lwp] = {}
        self.waits: list[CtlWrite] = []
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self.next_id = 1
        self.early: dict[int, int] = {}  # host stops of threads not yet known (a new clone)
        self.release_later: set[int] = set()  # fork children without PR_FORK, not yet stopped
        self.snap = snapshot.Publisher(procd.path)
        guardian = getattr(procd, "guardian", None)
        if guardian is not None:
            guardian.snapshots = self.snap.mm  # invalidated by the guardian if procd dies
        self.waiters: dict[Pending, tuple[int, int, int, int]] = {}  # blocked native waitids
        self.watchers: dict[int, set[Pending]] = {}  # host tid -> waitids it ends (_op_waitid)
        self.armed_pids: set[int] = set()  # processes with armed debug registers
        self.dirty: set[Lwp] = set()  # LWPs whose published snapshot may be out of date

    # -- request dispatch --------------------------------------------------------------------

    def request(self, conn: Any, op: int, a: int, b: int, c: int, payload: bytes) -> tuple[int, bytes] | Pending:
        handler = _OPS.get(op)
        if handler is None:
            raise OSError(errno.EINVAL, "unknown request")
        return handler(self, conn, a, b, c, payload)

    def _op_hello(self, conn: Any, a: int, b: int, c: int, payload: bytes) -> tuple[int, bytes]:
        conn.model = a
        return FEATURES, b""

    def _op_open(self, conn: Any, flags: int, model: int, c: int, payload: bytes) -> tuple[int, bytes]:
        path = payload.decode()
        parts = _split(path)
        name = ""
        if len(parts) == 2 and parts[1] in _PID_FILES and parts[1] not in _PID_DIRS:
            pid, kind, lwpid = _pid(parts[0]), parts[1], 0
        elif len(parts) == 3 and parts[1] in ("fd", "path"):
            pid, kind, lwpid, name = _pid(parts[0]), parts[1], 0, parts[2]
        elif len(parts) == 4 and parts[1] == "lwp" and parts[3] in _LWP_FILES:
            pid, kind, lwpid = _pid(parts[0]), parts[3], _num(parts[2])
        else:
            raise OSError(errno.ENOENT, path)
        if model not in _MODEL_NAME:
            raise OSError(errno.EINVAL, "unknown data model")
        proc = self.proc(pid)
        pid = proc.pid  # a thread id names its process (Engine.proc)
        self._check_access(conn, pid)
        if lwpid and lwpid not in proc.lwps:
            raise OSError(errno.ENOENT, path)
        if name:
            procinfo.link(pid, kind, name)  # ENOENT now for a name that is not there
        acc = flags & os.O_ACCMODE
        writing = acc in (os.O_WRONLY, os.O_RDWR)
        if (kind in _WRITE_ONLY and acc != os.O_WRONLY) or (kind in _READ_ONLY and writing):
            raise OSError(errno.EACCES, f"{kind} cannot be opened that way")
        excl = bool(flags & os.O_EXCL) and writing
        self_open = conn.pid == pid
        if excl and not self_open and (proc.excl or proc.writers):
            raise OSError(errno.EBUSY, "already open for writing")
        of = OpenFile(self.next_id, secrets.token_bytes(16), kind, proc, lwpid, flags,
                      _MODEL_NAME[model], writing and not self_open, excl, conn.pid, name=name,
                      owner_ids=_proc_owner(pid))
        self.next_id += 1
        if of.writer:
            proc.writers += 1
            proc.excl = proc.excl or excl
        proc.nfiles += 1
        self.files[of.id] = of
        self.tokens[of.token] = of
        of.conns.add(conn)
        conn.file = of
        conn.owner = True
        extra = b""
        if kind == "lwpstatus":
            lwp = proc.lwps[lwpid]
            if lwp.slot is None:
                lwp.slot = self.snap.alloc()
                self.dirty.add(lwp)
            extra = lwp.slot.to_bytes(4, "little", signed=True) + lwp.tid.to_bytes(4, "little")
        return of.id, of.token + extra

    def _op_bind(self, conn: Any, a: int, b: int, c: int, payload: bytes) -> tuple[int, bytes]:
        of = self.tokens.get(payload)
        if of is None:
            raise OSError(errno.EBADF, "no such open file")
        conn.file = of
        of.conns.add(conn)
        return of.id, b""

    def _file(self, conn: Any) -> OpenFile:
        """The open file this connection speaks for; EBADF if none, EAGAIN when an
        unprivileged client uses a file its process's set-id exec invalidated."""
        of = conn.file
        if of is None or of.id not in self.files:
            raise OSError(errno.EBADF, "not an open /proc file")
        proc = of.proc
        # procd sees the exit of what it traces; of anything else only the host's start time
        # tells whether the pid still names the process the file was opened on.
        if (proc.exited or not proc.seized) and not _same_process(proc):
            self._forget(proc)
            raise OSError(errno.ENOENT, "process has exited")
        if conn.uid != 0 and of.owner_ids is not None:
            now = _proc_owner(of.proc.pid)
            # (None: the process is gone; the request itself says ENOENT)
            if now is not None and now != of.owner_ids:
                raise OSError(errno.EAGAIN, "invalidated by a set-id exec of the process")
        return of

    def may_see(self, conn: Any, pid: int) -> bool:
        """Whether `conn`'s client may look at process `pid` (the rules of open)."""
        try:
            self._check_access(conn, pid)
            return True
        except OSError:
            return False

    def _op_read(self, conn: Any, offset: int, size: int, c: int, payload: bytes) -> tuple[int, bytes]:
        of = self._file(conn)
        if of.kind in _WRITE_ONLY:
            raise OSError(errno.EINVAL, "ctl files cannot be read")
        if of.kind == "as":
            return 0, self._read_as(of, offset, size)
        if of.kind in _QUEUE_FILES:
            return 0, status.read_sigqueue(self, of, offset, size)  # only the entries asked for
        data = status.read_file(self, of)
        if of.kind == "lwpstatus" and of.model == "amd64" and of.lwpid in of.proc.lwps:
            self.publish_fp(of.proc.lwps[of.lwpid])
        return 0, data[offset:offset + max(size, 0)]

    def _op_write(self, conn: Any, offset: int, b: int, c: int, payload: bytes) -> tuple[int, bytes] | Pending:
        of = self._file(conn)
        if not (of.flags & os.O_ACCMODE) in (os.O_WRONLY, os.O_RDWR):
            raise OSError(errno.EBADF, "not open for writing")
        if of.kind == "as":
            return self._write_as(of, offset, payload), b""
        self.alive(of.proc)
        messages, error = decode_ctl(of.model, payload)
        return CtlWrite(self, of, messages, error, len(payload)).run()

    def _op_post(self, conn: Any, file_id: int, b: int, c: int, payload: bytes) -> Any:
        """Op.POST: a ctl write, sent over the caller's session, to a file the caller holds
        open, that is not answered when it succeeds (QUIET).  Nothing is done when a message
        could block (EINVAL): a blocking write has an answer to wait for."""
        of = self.files.get(file_id)
        if of is None or not any(x.pid == conn.pid for x in of.conns):
            raise OSError(errno.EBADF, "not an open /proc file of this process")
        if of.kind not in _WRITE_ONLY or (of.flags & os.O_ACCMODE) != os.O_WRONLY:
            raise OSError(errno.EBADF, "not a ctl file open for writing")
        self.alive(of.proc)
        messages, error = decode_ctl(of.model, payload)
        if any(code in _BLOCKING for code, _ in messages):
            raise OSError(errno.EINVAL, "a posted write may not block")
        r = CtlWrite(self, of, messages, error, len(payload)).run()
        assert not isinstance(r, Pending)
        return QUIET

    def _op_list(self, conn: Any, a: int, b: int, c: int, payload: bytes) -> tuple[int, bytes]:
        parts = _split(payload.decode())
        if not parts:
            names = sorted((n for n in os.listdir("/proc") if n.isdigit()), key=int)
        elif len(parts) == 1:
            self._check_access(conn, self.proc(_pid(parts[0])).pid)
            names = list(_PID_FILES)
        elif len(parts) == 2 and parts[1] == "lwp":
            proc = self.proc(_pid(parts[0]))
            self._check_access(conn, proc.pid)
            names = [str(i) for i in sorted(proc.lwps)]
        elif len(parts) == 3 and parts[1] == "lwp":
            proc = self.proc(_pid(parts[0]))
            self._check_access(conn, proc.pid)
            if _num(parts[2]) not in proc.lwps:
                raise OSError(errno.ENOENT, "no such lwp")
            names = list(_LWP_FILES)
        elif len(parts) == 2 and parts[1] in ("fd", "path"):
            pid = _pid(parts[0])
            self.proc(pid)
            self._check_access(conn, pid)
            names = procinfo.path_names(pid) if parts[1] == "path" else [str(n) for n in procinfo.fds(pid)]
        else:
            raise OSError(errno.ENOTDIR, "not a directory")
        return 0, "\0".join(names).encode()

    def _op_status(self, conn: Any, a: int, b: int, c: int, payload: bytes) -> tuple[int, bytes]:
        """The listing of `native-proc status`: only the processes the caller may see."""
        for p in [p for p in self.procs.values() if not p.seized and not _same_process(p)]:
            self._forget(p)  # gone untraced: nothing of it is left to show
        lines = []
        shown = [(pid, p) for pid, p in sorted(self.procs.items()) if self.may_see(conn, pid)]
        for pid, p in shown:
            lines.append(f"{pid}: seized={p.seized} flags={p.flags:#x} writers={p.writers} watch={len(p.watch)}"
                         + (f" events={p.events:#x}" if p.events else ""))
            for lwpid, l in sorted(p.lwps.items()):
                lines.append(f"  lwp {lwpid} tid {l.tid}: why={l.why} what={l.what} istop={l.istop} "
                             f"host={l.hstop.value if l.hstop else 'running'}")
        return len(shown), "\n".join(lines).encode()

    def _op_shutdown(self, conn: Any, a: int, b: int, c: int, payload: bytes) -> tuple[int, bytes]:
        """Only procd's own user or root may stop it (EPERM)."""
        if conn.uid not in (0, os.getuid()):
            raise OSError(errno.EPERM, "only procd's own user or root may shut it down")
        self.procd.stopping = True
        return 0, b""

    def _op_tidmap(self, conn: Any, tid: int, pid: int, lwpid: int, payload: bytes) -> tuple[int, bytes]:
        if tid >= 0:
            lwp = self.tids.get(tid)
            # (a thread the caller may not see is no thread of its: nothing is told about it)
            if lwp is None or not self.may_see(conn, lwp.proc.pid):
                raise OSError(errno.ESRCH, "not a controlled thread")
            return (lwp.proc.pid << 32) | lwp.lwpid, b""
        proc = self.procs.get(pid)
        if proc is None or lwpid not in proc.lwps or not self.may_see(conn, pid):
            raise OSError(errno.ESRCH, "no such lwp")
        return proc.lwps[lwpid].tid, b""

    def _op_waitid(self, conn: Any, idtype: int, id: int, options: int,
                   payload: bytes) -> tuple[int, bytes] | Pending:
        """CLD_TRAPPED reports of the caller's PR_PTRACE children (the client asks the host for
        the rest).  Blocking: answers with the report, or empty when a child exits (look again)
        or when the hold time the payload names (a double, seconds) has passed.  procd, not the
        client, ends the hold: a request the client gave up on would take a report with it."""
        wait.check_args(idtype, options)
        got = self._take_report(conn.pid, idtype, id, options)
        if got is not None or options & SOLARIS_W.WNOHANG:
            return 0, got or b""
        # NON-SOLARIS: after the hold time, the payload may name LWPs (host tid, pr_why, pr_what as
        # the caller last saw them stopped): a new stop of one of them, or its end, ends the hold
        # with the value 2 (look again).  lxbrand watches the tracees whose monitors sit stopped.
        watch = [_WATCHED.unpack_from(payload, off) for off in range(8, len(payload) - _WATCHED.size + 1,
                                                                    _WATCHED.size)]
        for tid, why, what in watch:
            lwp = self.tids.get(tid)
            if lwp is None or lwp.proc.exited or not lwp.istop or (lwp.why, lwp.what) != (why, what):
                return 2, b""
        entry = (conn.pid, idtype, id, options)

        def cancel(p: Pending) -> None:
            self.waiters.pop(p, None)
            for tid, _, _ in watch:
                self.watchers.get(tid, set()).discard(p)

        pending = Pending(lambda p: None, cancel)
        self.waiters[pending] = entry
        for tid, _, _ in watch:
            self.watchers.setdefault(tid, set()).add(pending)
        (hold,) = struct.unpack_from("<d", payload) if len(payload) >= 8 else (-1.0,)
        if hold >= 0:

            def expire() -> None:
                if self.waiters.pop(pending, None) is not None:
                    pending.complete(0, 0, b"")

            self.timers.append((time.monotonic() + max(hold, 0.0), expire))
        return pending

    def _take_report(self, caller: int, idtype: int, id: int, options: int) -> bytes | None:
        for proc in self.procs.values():
            if proc.trap_state != 1:
                continue
            pgid = procinfo.ids(proc.pid)[1] if idtype == SOLARIS_P.P_PGID else 0
            if wait.matches(proc, caller, idtype, id, pgid):
                if not options & SOLARIS_W.WNOWAIT:
                    proc.trap_state = 2
                return wait.siginfo_chld(proc.pid, 0, 4, proc.trap_status)
        return None

    def _report(self, proc: Proc) -> None:
        """A PR_PTRACE process may have become wholly stopped (report it once) or gone."""
        if proc.exited:
            for p, (caller, idtype, id, options) in list(self.waiters.items()):
                if caller == proc.parent:
                    del self.waiters[p]
                    p.complete(0, 1, b"")  # the parent looks at the host's waitid again
            return
        st = wait.trap_status(proc)
        if st is None:
            proc.trap_state = 0
            return
        if proc.trap_state == 0:
            proc.trap_state, proc.trap_status = 1, st
            _sigcld(proc)
        for p, (caller, idtype, id, options) in list(self.waiters.items()):
            got = self._take_report(caller, idtype, id, options)
            if got is not None:
                del self.waiters[p]
                p.complete(0, 0, got)

    # -- processes ---------------------------------------------------------------------------

    def proc(self, pid: int) -> Proc:
        """The Proc for a live host process, created on first use (not yet seized).

        NON-SOLARIS: a thread id that is not a process id (Linux's hidden /proc/TID) names its
        thread group, as Linux reads the group's memory through /proc/TID/mem: never a process of
        its own (that would take the group's threads from the real one)."""
        p = self.procs.get(pid)
        if p is not None and not p.exited and self._current(p):
            return p
        lwp = self.tids.get(pid)
        if (lwp is not None and lwp.proc.pid != pid and not lwp.proc.exited and self._current(lwp.proc)
                and self.tids.get(pid) is lwp):
            return lwp.proc
        tgid = _tgid(pid)
        if tgid != pid:
            if not os.path.isdir(f"/proc/{tgid}/task/{pid}"):
                raise OSError(errno.ENOENT, f"no process {pid}")
            return self.proc(tgid)
        try:
            model = procinfo.dmodel(pid)
            tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
        except OSError:
            raise OSError(errno.ENOENT, f"no process {pid}") from None
        if _is_zombie(pid):
            raise OSError(errno.ENOENT, f"process {pid} is a zombie")
        p = Proc(pid=pid, dmodel=model, parent=procinfo.ids(pid)[0], ident=Identity(pid))
        for tid in [pid] + [t for t in tids if t != pid]:
            self.tids[tid] = p.add_lwp(tid)
        self.procs[pid] = p
        return p

    def _current(self, p: Proc) -> bool:
        """Whether the record `p` still describes a live process.  A traced one is (procd sees
        its threads come and go); an untraced one's record is dropped when its pid is gone or
        names a newer process (start time), and its thread table is brought up to date
        (threads procd never saw may have come and gone, and their ids been reused)."""
        if p.seized:
            return True
        if not _same_process(p):
            self._forget(p)
            return False
        self._sync_threads(p)
        return True

    def _sync_threads(self, p: Proc) -> None:
        """An untraced process's LWPs: exactly its host threads now."""
        try:
            now = {int(t) for t in os.listdir(f"/proc/{p.pid}/task")}
        except OSError:
            return
        for lwp in list(p.lwps.values()):
            if lwp.tid not in now:
                self._drop_lwp(lwp)
                p.lwps.pop(lwp.lwpid, None)
        known = {l.tid for l in p.lwps.values()}
        for tid in sorted(now - known):
            self.tids[tid] = p.add_lwp(tid)

    def _drop_lwp(self, lwp: Lwp) -> None:
        if self.tids.get(lwp.tid) is lwp:
            del self.tids[lwp.tid]
        if lwp.slot is not None:
            self.snap.release(lwp.slot)
            lwp.slot = None
        self.dirty.discard(lwp)
        if self.watchers:
            self._watched(lwp.tid)

    def _forget(self, p: Proc) -> None:
        """Drop the record of an untraced process that is gone (or whose pid is another's now):
        its files answer ENOENT from now on, and a new process with its pid or one of its
        thread ids starts afresh."""
        if p.seized:
            return
        for lwp in list(p.lwps.values()):
            self._drop_lwp(lwp)
        p.lwps.clear()
        p.exited = True
        if self.procs.get(p.pid) is p:
            del self.procs[p.pid]
        if p.pid in self.armed_pids:  # (the guardian's set is left alone otherwise)
            self.watch_changed(p)
        self.wake(p)

    def _check_access(self, conn: Any, pid: int) -> None:
        """As the kernel guards /proc: privileged, or same real uid/gid and not set-id."""
        if conn.uid == 0 or conn.pid == pid:
            return
        try:
            with open(f"/proc/{pid}/status") as f:
                st = f.read()
        except OSError:
            raise OSError(errno.ENOENT, "no such process") from None
        uids = gids = ()
        for line in st.splitlines():
            if line.startswith("Uid:"):
                uids = tuple(int(x) for x in line.split()[1:])
            elif line.startswith("Gid:"):
                gids = tuple(int(x) for x in line.split()[1:])
        if any(u != conn.uid for u in uids) or any(g != conn.gid for g in gids):
            raise OSError(errno.EACCES, "credentials differ")

    def alive(self, proc: Proc) -> None:
        if proc.exited or self.procs.get(proc.pid) is not proc:
            raise OSError(errno.ENOENT, "process has exited")

    def target(self, of: OpenFile) -> tuple[Proc, Lwp | None]:
        proc = of.proc
        self.alive(proc)
        if of.lwpid:
            lwp = proc.lwps.get(of.lwpid)
            if lwp is None:
                raise OSError(errno.ENOENT, "lwp has exited")
            return proc, lwp
        return proc, None

    def seize(self, proc: Proc) -> None:
        """Become the host tracer of every thread (control was asked for)."""
        if proc.seized:
            return
        self._sync_threads(proc)  # never a stale thread id: it may be another process's now
        options = tracing.host_options(proc.events)
        for lwp in list(proc.lwps.values()):
            try:
                tracing.seize(lwp.tid, options)
            except OSError as ex:
                if ex.errno == errno.EPERM:
                    raise OSError(errno.EBUSY, f"process {proc.pid} is traced by someone else") from None
                if ex.errno == errno.ESRCH:
                    self._lwp_gone(lwp)
                    continue
                raise
        proc.seized = proc.was_seized = True
        # Threads created between listing and seizing are caught by re-listing.
        try:
            tids = {int(t) for t in os.listdir(f"/proc/{proc.pid}/task")}
        except OSError:
            tids = set()
        for tid in sorted(tids - {l.tid for l in proc.lwps.values()}):
            try:
                tracing.seize(tid, options)
                self.tids[tid] = proc.add_lwp(tid)
            except OSError:
                pass

    def set_events(self, proc: Proc, mask: int) -> None:
        """PCXSTOPFOROPT (non-Solaris brand hook): the Linux events that stop this process's
        LWPs.  Seizes the process; the host's TRACESECCOMP option follows the SECCOMP bit on
        every thread (now on host-stopped ones, at an unseen stop on the others)."""
        old, proc.events = proc.events, mask
        was_seized = proc.seized
        try:
            self.seize(proc)
        except OSError:
            proc.events = old
            raise
        if was_seized and tracing.host_options(old) != tracing.host_options(mask):
            for lwp in list(proc.lwps.values()):
                self.at_host_stop(lwp, _apply_options)

    def listen_lwp(self, lwp: Lwp) -> None:
        """PCXLISTEN: an LWP in a reportable group stop stays job-control stopped, no longer on
        an event of interest; its next host stop (SIGCONT, a directive, a new group stop) is
        classified as usual."""
        tracing.listen(lwp)
        lwp.istop = False
        lwp.gen += 1
        self.dirty.add(lwp)
        if lwp.slot is not None:
            self.snap.invalidate(lwp.slot, lwp.gen)
        self.wake(lwp.proc)

    def release(self, proc: Proc) -> None:
        """Detach from a process nobody controls any more, leaving it running.

        A stopped LWP is detached at once, with the signal it still owes (its current signal, a
        signal held back by a requested stop, or an uncleared fault's); a running one is brought
        through an unseen stop first, as the kernel detaches only stopped tracees."""
        if not proc.seized:
            return
        proc.seized = False
        for lwp in list(proc.lwps.values()):
            lwp.why = lwp.what = 0
            lwp.istop = lwp.dstop = lwp.step = False
            lwp.gen += 1
            self.dirty.add(lwp)
            self.at_host_stop(lwp, self._detach_lwp)

    def _detach_lwp(self, lwp: Lwp) -> None:
        self._clear_debugregs(lwp)
        sig = 0
        if lwp.cursig:
            sig = STOL[lwp.cursig]
        elif lwp.deferred_sig:
            sig = lwp.deferred_sig
        elif lwp.curfault and lwp.hstop is HostStop.SIGNAL:
            sig = lwp.hsig
        elif lwp.fresh_sig and not self._our_trap(lwp):
            sig = lwp.fresh_sig  # a signal arriving just as we let go still reaches the process
        lwp.cursig = lwp.deferred_sig = lwp.curfault = lwp.fresh_sig = 0
        if sig and lwp.hstop is not HostStop.SIGNAL:
            tracing.tgkill(lwp.proc.pid, lwp.tid, sig)
            sig = 0
        if lwp.slot is not None:
            self.snap.invalidate(lwp.slot, lwp.gen)
        tracing.detach(lwp, sig)

    def _our_trap(self, lwp: Lwp) -> bool:
        """A SIGTRAP our own debug registers raised (dropped when we let go)."""
        if lwp.fresh_sig != _SIGTRAP:
            return False
        try:
            return int.from_bytes(tracing.getsiginfo(lwp.tid)[8:12], "little", signed=True) == 4
        except OSError:
            return False

    def _clear_debugregs(self, lwp: Lwp) -> None:
        watch.clear_lwp(self, lwp)  # DR7, DR0-3 zeroed before the detach (item 17)

    def watch_changed(self, proc: Proc) -> None:
        """Tell the guardian (item 17) which processes have armed debug registers now."""
        if proc.watch and not proc.exited and proc.seized:
            self.armed_pids.add(proc.pid)
        else:
            self.armed_pids.discard(proc.pid)
        guardian = getattr(self.procd, "guardian", None)
        if guardian is not None:
            guardian.armed(self.armed_pids)

    # -- status snapshots ---------------------------------------------------------------------

    def touch(self, proc: Proc, lwp: Lwp | None = None) -> None:
        """What the status of these LWPs says may have changed: republish before the next reply."""
        if lwp is not None:
            self.dirty.add(lwp)
        else:
            self.dirty.update(proc.lwps.values())

    def flush(self) -> None:
        """Publish stopped LWPs' status, invalidate the others (called before every reply)."""
        if not self.dirty:
            return
        dirty, self.dirty = self.dirty, set()
        for lwp in dirty:
            if lwp.slot is None or lwp.slot < 0:
                continue
            if lwp.why and lwp.hstop is not None and not lwp.listening and lwp.lwpid in lwp.proc.lwps:
                try:
                    # pr_fpreg costs a host request: left out until a reader of this LWP has
                    # asked for it once (publish_fp), as most never do.
                    fp = lwp.want_fp
                    self.snap.publish(lwp.slot, lwp.gen, status.lwpstatus_amd64(lwp, sets=False, fp=fp), fp=fp)
                    continue
                except OSError:
                    pass
            self.snap.invalidate(lwp.slot, lwp.gen)

    def publish_fp(self, lwp: Lwp) -> None:
        """A reader asked for the whole status of a stopped LWP: its snapshot gets pr_fpreg too,
        so further reads at this stop (and at its later stops) cost no round trip."""
        lwp.want_fp = True
        if lwp.slot is None or lwp.slot < 0 or lwp in self.dirty:
            return  # the next flush publishes it anew
        if lwp.why and lwp.hstop is not None and not lwp.listening and lwp.lwpid in lwp.proc.lwps:
            try:
                self.snap.publish(lwp.slot, lwp.gen, status.lwpstatus_amd64(lwp, sets=False, fp=True))
            except OSError:
                pass

    def _resume(self, lwp: Lwp, sig: int) -> None:
        if lwp.slot is not None:
            self.snap.invalidate(lwp.slot, lwp.gen + 1)  # before anyone can be told it runs
        tracing.resume(lwp, sig, tracing.syscalls_traced(lwp.proc.sysentry, lwp.proc.sysexit))

    # -- stops and waits ----------------------------------------------------------------------

    def stop_lwp(self, lwp: Lwp, why: int, what: int, istop: bool | None = None) -> None:
        """Make a host-stopped LWP visibly stopped through /proc (on an event of interest unless
        it is job control; `istop` overrides that: a group stop reported under PCXSTOPFOROPT)."""
        lwp.why, lwp.what = why, what
        lwp.istop = why != PR_WHY.PR_JOBCONTROL if istop is None else istop
        lwp.dstop = False
        lwp.step = False
        lwp.taken = False  # a new stop: not the one the tracer's wait took
        lwp.gen += 1
        self.dirty.add(lwp)
        proc = lwp.proc
        if lwp.istop and (not proc.flags & _PR_ASYNC or lwp.lwpid == 1):
            # A new stop without a resume between (SIGKILL at a stop reaching the EXIT event):
            # it is a new report for the parent.
            proc.trap_state = 0
        if (lwp.istop and lwp.lwpid != 1 and why != PR_WHY.PR_REQUESTED
                and proc.flags & _PR_PTRACE and proc.flags & _PR_ASYNC):
            _sigcld(proc)  # a sibling's own report (the leader's comes from _report)
        if lwp.istop and why != PR_WHY.PR_REQUESTED and not (proc.flags & 0x800000):  # PR_ASYNC
            for other in proc.lwps.values():
                if other is not lwp and not other.istop:
                    self.direct_stop(other)
        if self.watchers:
            self._watched(lwp.tid)
        self.wake(proc)

    def _watched(self, tid: int) -> None:
        """A watched LWP stopped anew or went away: the waitids watching it look again."""
        for p in list(self.watchers.pop(tid, ())):
            if self.waiters.pop(p, None) is not None:  # (a finished one may linger in other sets)
                p.complete(0, 2, b"")

    def direct_stop(self, lwp: Lwp) -> None:
        """PCSTOP/PCDSTOP on one LWP: a running one is interrupted, a host-stopped one stops now."""
        if lwp.istop:
            return
        lwp.dstop = True
        self.dirty.add(lwp)
        # A job-control stopped (listening) LWP keeps the directive pending until SIGCONT, as
        # Solaris does -- except under PCXSTOPFOROPT's JOBCONTROL bit, where the Linux rule
        # holds (PTRACE_INTERRUPT of a listening tracee traps at once: PR_REQUESTED now).
        if lwp.hstop is None or (lwp.listening and lwp.proc.events & _EV_JOBCONTROL):
            try:
                tracing.interrupt(lwp.tid)
            except OSError:
                pass
        elif not lwp.listening:
            self.stop_lwp(lwp, PR_WHY.PR_REQUESTED, 0)

    def at_host_stop(self, lwp: Lwp, action: Callable[[Lwp], None]) -> None:
        """Run `action(lwp)` while the thread is in a ptrace-stop: now if it is, else at an unseen
        stop procd brings about (the kernel takes register and mask changes only then)."""
        if lwp.hstop is not None and not lwp.listening:
            action(lwp)
        else:
            # A running LWP, or one in a group stop under PTRACE_LISTEN (which takes no other
            # request): interrupt it; a listening one stays job-control stopped afterwards.
            lwp.on_stop.append(action)
            self.kick(lwp)

    def kick(self, lwp: Lwp) -> None:
        """Interrupt a running LWP for procd's own purposes; its stop is never seen through /proc
        (an interrupt stop without a stop directive is simply resumed, with the current mode)."""
        if lwp.hstop is None or lwp.listening:
            lwp.retrap = lwp.listening  # its group-stop trap is ours: listen again, report nothing
            try:
                tracing.interrupt(lwp.tid)
            except OSError:
                pass

    def wait_satisfied(self, w: Wait) -> bool:
        if w.proc.exited:
            raise OSError(errno.ENOENT, "process has exited")
        if w.kind == "watch":
            return watch.programmed(w.proc)
        if w.lwp is not None:
            if w.lwp.lwpid not in w.proc.lwps:
                raise OSError(errno.ENOENT, "lwp has exited")
            return w.lwp.istop
        return all(l.istop for l in w.proc.lwps.values())

    def wake(self, proc: Proc) -> None:
        if proc.flags & 0x4000000 or proc.exited:  # PR_PTRACE
            self._report(proc)
        for cw in [cw for cw in self.waits if cw.wait is not None and cw.wait.proc is proc]:
            try:
                ok = self.wait_satisfied(cw.wait)
            except OSError:
                ok = True  # resume() re-checks and reports ENOENT through the next message
            if ok:
                self.waits.remove(cw)
                cw.resume()

    def unwait(self, cw: CtlWrite) -> None:
        if cw in self.waits:
            self.waits.remove(cw)

    def next_timeout(self) -> float | None:
        deadlines = [cw.wait.deadline for cw in self.waits if cw.wait is not None and cw.wait.deadline]
        deadlines += [t for t, _ in self.timers]
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def run_timers(self) -> None:
        now = time.monotonic()
        for cw in [cw for cw in self.waits if cw.wait and cw.wait.deadline and cw.wait.deadline <= now]:
            self.waits.remove(cw)
            cw.resume()  # PCTWSTOP timing out is not an error
        due = [t for t in self.timers if t[0] <= now]
        self.timers = [t for t in self.timers if t[0] > now]
        for _, fn in due:
            fn()

    # -- resuming ---------------------------------------------------------------------------------

    def run_lwp(self, lwp: Lwp) -> None:
        """Set a /proc-stopped (or merely directed) LWP running again on the host."""
        lwp.why = lwp.what = 0
        lwp.istop = lwp.dstop = lwp.taken = False
        lwp.gen += 1
        self.dirty.add(lwp)
        if lwp.slot is not None:
            self.snap.invalidate(lwp.slot, lwp.gen)
        proc = lwp.proc
        if not proc.flags & _PR_ASYNC or lwp.lwpid == 1:
            proc.trap_state = 0  # with PR_ASYNC only the leader's stop is reported (wait.py)
        if lwp.hstop is None:
            return
        try:
            self._run_host(lwp)
        except ProcessLookupError:
            # The thread is dying (a SIGKILL -- PCSSIG's own, sent at once -- makes the host
            # refuse every request from then on): nothing is left to resume, its exit follows.
            lwp.cursig, lwp.curinfo, lwp.info_set, lwp.deferred_sig, lwp.abort = 0, b"", False, 0, False
            lwp.hstop, lwp.regs, lwp.fpregs = None, None, None

    def _run_host(self, lwp: Lwp) -> None:
        """run_lwp's host part: the signal it owes, a syscall abort, then the host resume."""
        proc = lwp.proc
        if lwp.cursig == _SIGKILL:
            # PCSSIG SIGKILL killed the process when it was sent (control.pcssig); the kernel
            # takes nothing more from a thread with SIGKILL pending.
            lwp.cursig, lwp.curinfo, lwp.info_set, lwp.deferred_sig, lwp.abort = 0, b"", False, 0, False
            self._resume(lwp, 0)
            return
        if lwp.curfault:
            # A fault not cleared with PRCFAULT becomes its signal.
            sig = FLT_SOLARIS_SIGNAL[FLT(lwp.curfault)]
            lwp.curfault = 0
            if not lwp.cursig:
                lwp.cursig, lwp.curinfo = sig, lwp.faultinfo
            if self._sig_traced(proc, lwp.cursig) and lwp.hstop is HostStop.SIGNAL:
                self.stop_lwp(lwp, PR_WHY.PR_SIGNALLED, lwp.cursig)
                return
        sig = 0
        if lwp.cursig:
            hsig = STOL[lwp.cursig]
            if lwp.hstop is HostStop.SIGNAL:
                sig = hsig
                if lwp.info_set:
                    # PCSSIG's siginfo is what the process receives (the host would otherwise
                    # make up a SI_USER one from procd, or keep the stop's own).
                    regs = tracing.getregs(lwp)
                    tracing.setsiginfo(lwp.tid, siginfo.to_linux(lwp.curinfo, int.from_bytes(regs[128:136], "little")))
            else:
                tracing.tgkill(proc.pid, lwp.tid, hsig)
            lwp.cursig, lwp.curinfo = 0, b""
        lwp.info_set = False
        if lwp.deferred_sig:
            if lwp.hstop is HostStop.SIGNAL and not sig:
                sig = lwp.deferred_sig
            else:
                tracing.tgkill(proc.pid, lwp.tid, lwp.deferred_sig)
            lwp.deferred_sig = 0
        if lwp.hstop is HostStop.GROUP and lwp.listening:
            return  # job-control stopped: stays so until SIGCONT
        if lwp.abort and lwp.hstop is HostStop.SYSENTRY:
            regs = bytearray(tracing.getregs(lwp))
            regs[120:128] = (-1 & (1 << 64) - 1).to_bytes(8, "little")
            regs[80:88] = (-errno.EINTR & (1 << 64) - 1).to_bytes(8, "little")
            tracing.setregs(lwp, bytes(regs))
        lwp.abort = False
        self._resume(lwp, sig)

    def _sig_traced(self, proc: Proc, ssig: int) -> bool:
        return bool(ssig and proc.sigtrace >> (ssig - 1) & 1)

    def _flt_traced(self, proc: Proc, flt: int) -> bool:
        return bool(flt and proc.flttrace >> (flt - 1) & 1)

    # -- host events ------------------------------------------------------------------------------

    def reap(self) -> None:
        while True:
            ev = tracing.wait_any()
            if ev is None:
                return
            tid, st = ev
            lwp = self.tids.get(tid)
            if lwp is None:
                if tid in self.release_later:
                    self.release_later.discard(tid)
                    if os.WIFSTOPPED(st):
                        tracing.detach(Lwp(tid=tid, lwpid=1, proc=Proc(pid=tid, dmodel=0)))
                else:
                    self.early[tid] = st
                continue
            try:
                self._host_event(lwp, st)
            except OSError as ex:
                if ex.errno != errno.ESRCH:
                    raise
                # The thread died under us (SIGKILL): its exit report follows.

    def _host_event(self, lwp: Lwp, st: int) -> None:
        if os.WIFEXITED(st) or os.WIFSIGNALED(st):
            self._lwp_gone(lwp, st)
            return
        if not os.WIFSTOPPED(st):
            return
        sig = os.WSTOPSIG(st)
        event = st >> 16
        lwp.regs = None
        lwp.fpregs = None
        # A group-stop trap of a listening LWP that procd interrupted for itself (kick, deferred
        # actions) goes back to listening: it is no new group stop to report.
        ours = lwp.listening and (lwp.retrap or bool(lwp.on_stop))
        lwp.listening = lwp.retrap = False
        proc = lwp.proc
        orphan = 0
        if not proc.seized and event in _BIRTH_EVENTS:
            # Let go at this very stop: its new task (auto-attached by the host) goes too.
            try:
                orphan = tracing.eventmsg(lwp.tid)
            except OSError:
                pass
        # Refined below; deferred actions run at any ptrace-stop, and a plain signal-delivery
        # stop is marked so that a detach among them hands the signal back (fresh_sig).
        plain = not event and sig != _SYSGOOD
        lwp.hstop = HostStop.SIGNAL if plain else HostStop.INTERRUPT
        lwp.hsig = sig if plain else 0
        lwp.fresh_sig = sig if plain else 0
        while lwp.on_stop:
            lwp.on_stop.pop(0)(lwp)
        if not proc.seized:
            # Released: detached by one of those actions, or a detach that did not take (the
            # thread was not in a ptrace-stop then); let this stop go, signal and all.
            if lwp.hstop is not None:
                sig = lwp.fresh_sig if lwp.fresh_sig and not self._our_trap(lwp) else 0
                tracing.detach(lwp, sig)
            lwp.fresh_sig = 0
            if orphan:
                self._let_go(orphan)
            return
        lwp.fresh_sig = 0
        if event == PTRACE_EVENT.STOP:
            if sig in _JOBCTL and not lwp.dstop:
                lwp.hstop, lwp.hsig = HostStop.GROUP, sig
                if proc.events & _EV_JOBCONTROL and not ours:
                    # PCXSTOPFOROPT JOBCONTROL: an event of interest, left in the host trap (no
                    # LISTEN): PCRUN resumes it (PTRACE_CONT), PCXLISTEN lets it listen.
                    self.stop_lwp(lwp, PR_WHY.PR_JOBCONTROL, LTOS[sig], istop=True)
                    return
                lwp.why, lwp.what, lwp.istop = PR_WHY.PR_JOBCONTROL, LTOS[sig], False
                tracing.listen(lwp)
                self.wake(proc)
                return
            lwp.hstop, lwp.hsig = HostStop.INTERRUPT, 0
            if lwp.dstop:
                self.stop_lwp(lwp, PR_WHY.PR_REQUESTED, 0)
            else:
                self.run_lwp(lwp)  # procd's own interrupt (or a new thread's first stop)
            return
        if event:
            lwp.hstop = HostStop.EVENT
            self._ptrace_event(lwp, event)
            return
        if sig == _SYSGOOD:
            op, nr, args, rval, is_error = tracing.syscall_info(lwp.tid)
            if op == PTRACE_SYSCALL_INFO.ENTRY:
                lwp.hstop = HostStop.SYSENTRY
                lwp.in_syscall, lwp.sysnum, lwp.sysargs = True, nr, args
                once = lwp.sys_once & 1
                if once or proc.sysentry >> nr & 1:
                    lwp.sys_once = 0
                    self.stop_lwp(lwp, PR_WHY.PR_SYSENTRY, nr)
                    return
            else:
                lwp.hstop = HostStop.SYSEXIT
                lwp.rval, lwp.is_error = rval, is_error
                nr = lwp.sysnum
                once = lwp.sys_once & 2
                # A one-shot stop is due even for a call skipped at entry (nr -1), as Linux's is.
                if once or (nr >= 0 and proc.sysexit >> nr & 1):
                    lwp.sys_once = 0
                    self.stop_lwp(lwp, PR_WHY.PR_SYSEXIT, nr)
                    lwp.in_syscall = False
                    return
                lwp.in_syscall = False
            if lwp.dstop:
                self.stop_lwp(lwp, PR_WHY.PR_REQUESTED, 0)
            else:
                self.run_lwp(lwp)
            return
        self._signal_stop(lwp, sig)

    def _signal_stop(self, lwp: Lwp, sig: int) -> None:
        proc = lwp.proc
        lwp.hstop, lwp.hsig = HostStop.SIGNAL, sig
        info = tracing.getsiginfo(lwp.tid)
        lwp.hinfo = info
        code = int.from_bytes(info[8:12], "little", signed=True)
        flt = host_fault(sig, code, "data")
        winfo = b""
        if sig == _SIGTRAP and code == 4:  # TRAP_HWBKPT: which PCWATCH area fired (watch.py)
            winfo = watch.hit(self, lwp)
            if winfo is None:  # a late hit of a cancelled area: swallowed
                if lwp.dstop:
                    self.stop_lwp(lwp, PR_WHY.PR_REQUESTED, 0)
                else:
                    self._resume(lwp, 0)
                return
            flt = HWBKPT_FAULT["data"]  # FLTWATCH for every PCWATCH area, exec ones too (§5)
        if flt is not None and self._flt_traced(proc, flt):
            lwp.curfault = int(flt)
            lwp.faultinfo = winfo or status.solaris_siginfo(info, fault=int(flt))
            self.stop_lwp(lwp, PR_WHY.PR_FAULTED, int(flt))
            return
        for dropped in (lwp.unkill, proc.unkill):
            if sig in dropped:
                # PCUNKILL: the signal leaves the queue as it is delivered, unseen.
                dropped.discard(sig)
                self._resume(lwp, 0)
                return
        ssig = LTOS[sig]
        if self._sig_traced(proc, ssig):
            # (si_trapno names the fault the signal stands for, as for a PR_FAULTED stop: a
            # step over a syscall and an int3 share TRAP_BRKPT, and Linux tells them apart)
            lwp.cursig, lwp.curinfo = ssig, winfo or status.solaris_siginfo(
                info, fault=int(flt) if flt is not None else None)
            self.stop_lwp(lwp, PR_WHY.PR_SIGNALLED, ssig)
            return
        if lwp.dstop:
            # A requested stop wins; the signal waits for the resume.
            lwp.deferred_sig = sig
            self.stop_lwp(lwp, PR_WHY.PR_REQUESTED, 0)
            return
        # Untraced: delivered as if procd were not there.
        lwp.deferred_sig = 0
        self._resume(lwp, sig)

    def _ptrace_event(self, lwp: Lwp, event: int) -> None:
        proc = lwp.proc
        # PCXSTOPFOROPT: an event whose bit (1 << event) is in the mask is a PR_BRAND stop,
        # decided before the lifecycle / entry-exit-set handling; the event's bookkeeping (new
        # LWPs and children, exec) is done either way.
        brand = bool(proc.events >> event & 1) and event in _BRAND_EVENTS
        if event == PTRACE_EVENT.EXIT:
            # An exiting thread (SIGKILL included) is held only when exit's entry is asked for;
            # a pending stop directive must not keep a dying process from dying.
            lwp.dstop = False
            if brand:
                self._brand_stop(lwp, event, tracing.eventmsg(lwp.tid))
                return
            self._lifecycle_stop(lwp, PR_WHY.PR_SYSENTRY, 0)
            return
        if event in _BIRTH_EVENTS:
            child = tracing.eventmsg(lwp.tid)
            if event == PTRACE_EVENT.CLONE and _tgid(child) == proc.pid:
                nl = proc.add_lwp(child)
                self.tids[child] = nl
                watch.new_lwp(self, nl)  # Linux threads do not inherit debug registers
                if brand:
                    nl.dstop = True  # held at birth: its first host stop is PR_REQUESTED
                st = self.early.pop(child, None)
                if st is not None:
                    self._host_event(nl, st)
            else:
                self._new_child(proc, child, hold=brand)
            if brand:
                self._brand_stop(lwp, event, child)
                return
        elif event == PTRACE_EVENT.EXEC:
            former = tracing.eventmsg(lwp.tid)
            for other in list(proc.lwps.values()):
                if other is not lwp:
                    self.tids.pop(other.tid, None)
                    if other.slot is not None:
                        self.snap.release(other.slot)
                        other.slot = None
                    self.dirty.discard(other)
            if former != lwp.tid:
                self.tids.pop(former, None)
            proc.lwps.clear()
            proc.next_lwpid = 1
            lwp.lwpid, lwp.tid = 1, proc.pid
            proc.lwps[1] = lwp
            proc.next_lwpid = 2
            self.tids[proc.pid] = lwp
            proc.watch.clear()
            watch.exec_reset(self, lwp)
            self.watch_changed(proc)
            try:
                proc.dmodel = procinfo.dmodel(proc.pid)
            except OSError:
                pass
            if brand:
                # Linux posts the legacy SIGTRAP only without PTRACE_O_TRACEEXEC.
                self._brand_stop(lwp, event, former)
                return
            if proc.flags & _PR_PTRACE:  # a successful exec posts SIGTRAP
                tracing.tgkill(proc.pid, proc.pid, _SIGTRAP)
            self._lifecycle_stop(lwp, PR_WHY.PR_SYSEXIT, 0)
            return
        else:
            # VFORK_DONE, SECCOMP: nothing but a PR_BRAND stop reports them.
            if brand:
                self._brand_stop(lwp, event, tracing.eventmsg(lwp.tid))
            elif lwp.dstop:
                self.stop_lwp(lwp, PR_WHY.PR_REQUESTED, 0)
            else:
                self.run_lwp(lwp)
            return
        self._lifecycle_stop(lwp, PR_WHY.PR_SYSEXIT, child)

    def _brand_stop(self, lwp: Lwp, event: int, msg: int) -> None:
        """A PCXSTOPFOROPT event stop: PR_BRAND, pr_what the Linux PTRACE_EVENT_* number,
        pr_rval1 the host's event message; pr_syscall/pr_sysarg from the registers, as for any
        stop inside a system call."""
        regs = tracing.getregs(lwp)
        insys, nr = tracing.in_syscall_regs(regs)
        if insys:
            lwp.in_syscall, lwp.sysnum, lwp.sysargs = True, nr, tracing.syscall_args(regs)
        lwp.rval, lwp.is_error = msg, False
        self.stop_lwp(lwp, PR_WHY.PR_BRAND, event)

    def _lifecycle_stop(self, lwp: Lwp, why: int, rval: int) -> None:
        """At a PTRACE_EVENT stop: report the system call's entry/exit from the event when the
        sets ask for nothing but lifecycle calls (item 21: no syscall tracing for those), else
        go on as the event needs."""
        proc = lwp.proc
        if (proc.sysentry or proc.sysexit) and not tracing.syscalls_traced(proc.sysentry, proc.sysexit):
            regs = tracing.getregs(lwp)
            _, nr = tracing.in_syscall_regs(regs)
            wanted = proc.sysentry if why == PR_WHY.PR_SYSENTRY else proc.sysexit
            if nr >= 0 and wanted >> nr & 1:
                lwp.in_syscall, lwp.sysnum, lwp.sysargs = True, nr, tracing.syscall_args(regs)
                lwp.rval, lwp.is_error = rval, False
                self.stop_lwp(lwp, why, nr)
                return
        if lwp.dstop:
            self.stop_lwp(lwp, PR_WHY.PR_REQUESTED, 0)
        else:
            self.run_lwp(lwp)

    def _new_child(self, parent: Proc, pid: int, hold: bool = False) -> None:
        """A new process (fork, vfork, or a clone into a new thread group).

        `hold` (the event's PCXSTOPFOROPT bit): it inherits the parent's sets, event mask and
        modes except PR_PTRACE (its parent is the tracee, not the tracer), and its first host
        stop is PR_REQUESTED, as if PCDSTOP'd at creation.  Else with PR_FORK it inherits
        tracing and runs; else it is let go at its first stop."""
        if hold or parent.flags & _PR_FORK:
            # The host child inherited the parent's ptrace options (TRACESECCOMP too): the mask
            # goes with them.
            child = Proc(pid=pid, dmodel=parent.dmodel, seized=True, was_seized=True,
                         flags=parent.flags & ~_PR_PTRACE if hold else parent.flags,
                         sigtrace=parent.sigtrace, flttrace=parent.flttrace,
                         sysentry=parent.sysentry, sysexit=parent.sysexit, parent=parent.pid,
                         events=parent.events, ident=Identity(pid))
            nl = child.add_lwp(pid)
            if hold:
                nl.dstop = True
                parent.brand_kids = [k for k in parent.brand_kids if not k.exited] + [child]
            self.procs[pid] = child
            self.tids[pid] = nl
            st = self.early.pop(pid, None)
            if st is not None:
                self._host_event(nl, st)
            return
        self._let_go(pid)

    def _let_go(self, tid: int) -> None:
        """A new task procd does not keep: detached at its first host stop."""
        if self.early.pop(tid, None) is not None:
            tracing.detach(Lwp(tid=tid, lwpid=1, proc=Proc(pid=tid, dmodel=0)))
        else:
            self.release_later.add(tid)  # detached at its first stop (see reap)

    def _lwp_gone(self, lwp: Lwp, st: int = 0) -> None:
        proc = lwp.proc
        if self.watchers:
            self._watched(lwp.tid)
            if lwp.tid == proc.pid or len(proc.lwps) <= 1:
                for other in proc.lwps.values():
                    self._watched(other.tid)
        self.tids.pop(lwp.tid, None)
        proc.lwps.pop(lwp.lwpid, None)
        if lwp.slot is not None:
            self.snap.release(lwp.slot)
            lwp.slot = None
        self.dirty.discard(lwp)
        if lwp.tid == proc.pid or not proc.lwps:
            proc.exited = True
            proc.exit_status = st
            for other in list(proc.lwps.values()):
                self.tids.pop(other.tid, None)
            proc.lwps.clear()
            if self.procs.get(proc.pid) is proc:
                del self.procs[proc.pid]
            self.watch_changed(proc)
        self.wake(proc)

    # -- connections --------------------------------------------------------------------------

    def cancel(self, pending: Pending) -> None:
        pending.cancel()

    def disconnected(self, conn: Any) -> None:
        of = conn.file
        if of is None:
            return
        of.conns.discard(conn)
        if conn.owner:
            self._last_close(of)

    def _last_close(self, of: OpenFile) -> None:
        self.files.pop(of.id, None)
        self.tokens.pop(of.token, None)
        proc = of.proc
        proc.nfiles -= 1
        if of.writer:
            proc.writers -= 1
            if of.excl:
                proc.excl = False
            if proc.writers == 0:
                self._closed(proc)
        if proc.nfiles <= 0 and not proc.seized and not proc.exited and self._idle(proc):
            self._forget(proc)  # an untraced process nobody has open: nothing to remember

    def _idle(self, proc: Proc) -> bool:
        """Nothing procd may still hear of: never traced (a released process's record stays
        for the host events still due -- a detach at its next stop, an exit stop -- until its
        pid is seen gone or reused)."""
        return not proc.was_seized and not proc.writers and not proc.brand_kids

    def _closed(self, proc: Proc) -> None:
        """No writable descriptor is left: PR_KLC kills, PR_RLC releases.  Children born held
        under PCXSTOPFOROPT that nobody opened for writing follow their own inherited modes
        (else nothing could ever release them)."""
        if not proc.exited:
            if proc.flags & _PR_KLC:
                try:
                    os.kill(proc.pid, _SIGKILL)
                except OSError:
                    pass
                # The kernel drops SIGKILL for a process already exiting: one held at its exit
                # stop would stay there, traced with no controller.  Nothing is left to
                # control: let every LWP go (the killed ones die, the exiting ones finish).
                self.run_on_last_close(proc)
            elif proc.flags & _PR_RLC:
                self.run_on_last_close(proc)
        kids, proc.brand_kids = proc.brand_kids, []
        for kid in kids:
            if kid.exited or self.procs.get(kid.pid) is not kid:
                continue
            if kid.writers:
                proc.brand_kids.append(kid)  # its own last close decides
            else:
                self._closed(kid)

    def run_on_last_close(self, proc: Proc) -> None:
        """Tracing is cleared and every LWP set running (released to the host as it is).  A
        PR_PTRACE process whose stop its parent has taken with a wait is let go without that
        stop's signal: Linux's wait takes the signal of a signal-delivery stop from the tracee
        (it is given again only by the resume), so a tracer that dies after waiting leaves
        its tracee running, and one that dies before leaves it the signal.  The same holds for
        every LWP whose stop a wait took (PCXTAKEN): monitored tracees and traced threads."""
        for lwp in proc.lwps.values():
            took = proc.trap_state == 2 and (lwp.lwpid == 1 or not proc.flags & _PR_ASYNC)
            if lwp.istop and (took or lwp.taken):
                lwp.cursig, lwp.curinfo, lwp.info_set = 0, b"", False
            lwp.taken = False
        proc.sigtrace = proc.flttrace = proc.sysentry = proc.sysexit = 0
        proc.events = 0
        proc.watch.clear()
        proc.flags &= ~(0x200000 | 0x400000)
        self.release(proc)
        self.watch_changed(proc)

    def release_all(self) -> None:
        """procd is going away: nothing it controls may be left stopped."""
        for proc in list(self.procs.values()):
            if proc.exited:
                continue
            try:
                self.run_on_last_close(proc)
            except OSError:
                pass

    # -- address space ---------------------------------------------------------------------

    def _read_as(self, of: OpenFile, offset: int, size: int) -> bytes:
        self.alive(of.proc)
        try:
            fd = os.open(f"/proc/{of.proc.pid}/mem", os.O_RDONLY)
        except OSError:
            raise OSError(errno.ENOENT, "process has exited") from None
        try:
            return os.pread(fd, size, offset)
        except OSError:
            return b""  # a read at an unmapped start is end-of-file, as on Solaris
        finally:
            os.close(fd)

    def _write_as(self, of: OpenFile, offset: int, data: bytes) -> int:
        self.alive(of.proc)
        fd = os.open(f"/proc/{of.proc.pid}/mem", os.O_RDWR)
        try:
            return os.pwrite(fd, data, offset)
        except OSError:
            raise OSError(errno.EIO, "unmapped address") from None
        finally:
            os.close(fd)


_OPS: dict[int, Callable[..., Any]] = {
    Op.HELLO: Engine._op_hello,
    Op.OPEN: Engine._op_open,
    Op.BIND: Engine._op_bind,
    Op.READ: Engine._op_read,
    Op.WRITE: Engine._op_write,
    Op.LIST: Engine._op_list,
    Op.WAITID: Engine._op_waitid,
    Op.STATUS: Engine._op_status,
    Op.SHUTDOWN: Engine._op_shutdown,
    Op.TIDMAP: Engine._op_tidmap,
    Op.POST: Engine._op_post,
}


def _apply_options(lwp: Lwp) -> None:
    """At a ptrace-stop: the host options the process's event mask needs (set_events)."""
    try:
        tracing.setoptions(lwp.tid, tracing.host_options(lwp.proc.events))
    except OSError as ex:
        if ex.errno != errno.ESRCH:
            raise


def _split(path: str) -> list[str]:
    if path.startswith("/proc"):
        path = path[5:]
    return [p for p in path.split("/") if p]


def _num(s: str) -> int:
    if not s.isdigit():
        raise OSError(errno.ENOENT, s)
    return int(s)


def _pid(s: str) -> int:
    if s == "self":
        raise OSError(errno.ENOENT, "/proc/self is not offered: name the pid")
    return _num(s)


def _tgid(tid: int) -> int:
    try:
        with open(f"/proc/{tid}/status") as f:
            for line in f:
                if line.startswith("Tgid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return tid


def _sigcld(proc: Proc) -> None:
    """Tell a PR_PTRACE process's parent (its tracer) that a stop is there to wait for, as the
    lx brand's sigcld() does: the host tells procd, its tracer on the host, and nobody else, and
    a Linux debugger (gdb) sleeps in sigsuspend until SIGCHLD comes.  Sent with kill(): the
    kernel lets no other process queue a CLD_TRAPPED siginfo, so si_code is SI_USER and si_pid
    procd's (docs/limitations.md)."""
    if proc.parent <= 1:
        return  # unknown (0 would be procd's own group) or init's
    try:
        os.kill(proc.parent, signal.SIGCHLD)
    except OSError:
        pass  # the parent is gone (the report is then nobody's) or not ours to signal


def _proc_owner(pid: int) -> tuple[int, int] | None:
    """(uid, gid) owning the host's /proc/PID (the euid/egid, root's when not dumpable), None
    when the process is gone."""
    try:
        st = os.stat(f"/proc/{pid}")
    except OSError:
        return None
    return st.st_uid, st.st_gid


def _same_process(p: Proc) -> bool:
    """Whether p's pid still names the process p was recorded for (a zombie still does)."""
    return p.ident is None or p.ident.same()


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return s[s.rindex(")") + 2] in "ZX"
    except (OSError, ValueError, IndexError):
        return True
