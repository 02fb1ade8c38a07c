"""The client side of native_proc: /proc files that are real file descriptors.

`open(path, flags)` returns a `ProcFile` backed by its own connection to procd.  The connection
is the descriptor: it survives fork, and procd sees the file's last close when every copy of it
in every process is closed.  A process other than the opener (a forked child) never talks over
the inherited socket: it opens a channel of its own the first time it uses the file and binds it
to the same open file, so two processes never read each other's replies.

Every process of a user speaks to the same procd, found at a well-known address (or the one
$NATIVE_PROC_SOCKET names) and started by the first client that finds none (rendezvous.py):
nothing has to be set up first, and nothing is added to anyone's environment.
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
import threading

from structs.codec import codec
from structs.fields import memberof
from structs.procfs import LWPSTATUS
from structs.procfs_consts import PR_MODEL_LP64
from structs.wire import FEATURE_POST, REPLY, REQUEST, Op

from . import framing, procinfo, rendezvous, snapshot
from .rendezvous import ProcdError
from . import wait as _wait

__all__ = ["ENV", "ProcFile", "open", "listdir", "waitid", "procd_status", "shutdown", "ProcdError",
           "ensure_procd", "tidmap", "forget_procd", "settle"]

ENV = rendezvous.ENV
_REQ = codec(REQUEST).struct
_REP = codec(REPLY).struct
_MAXMSG = framing.MAXMSG
# Requests are tagged with a per-process counter; replies with another tag are stale answers
# to requests a caller stopped waiting for.  (next() of a count is atomic under the GIL.)
_seqs = itertools.count(1)


def _next_seq() -> int:
    return next(_seqs) & 0xFFFFFFFF


def _request(sock: socket.socket, op: int, a: int = 0, b: int = 0, c: int = 0, payload: bytes = b"",
             timeout: float | None = None) -> tuple[int, bytes]:
    """Send one request and wait for its reply: returns (value, payload) or raises OSError.
    The socket stays blocking; only a request with a timeout changes that, for its length."""
    session = sock is _session.sock
    if not session and _posted_pending():
        _settle()
    seq = next(_seqs) & 0xFFFFFFFF
    if timeout is not None:
        sock.settimeout(timeout)
    try:
        sock.send(_REQ.pack(op, seq, a, b, c) + payload if payload else _REQ.pack(op, seq, a, b, c))
        buf = framing.buffer()
        while True:
            n = sock.recv_into(buf)
            if not n:
                raise ProcdError("procd closed the connection")
            rseq, err, value = _REP.unpack_from(buf)
            if session:
                framing.seen(_session.pid, rseq)
            if rseq != seq:
                continue
            if err:
                raise OSError(err, os.strerror(err))
            return value, bytes(buf[_REP.size:n])
    finally:
        if timeout is not None:
            sock.settimeout(None)


class _Session:
    """This process's own connection to procd (waits, listings), opened lazily per pid."""

    def __init__(self) -> None:
        self.pid = -1
        self.sock: socket.socket | None = None
        self.path = ""
        self.lock = threading.Lock()
        self.features = 0  # what this procd offers (wire.FEATURES), from its HELLO reply

    def get(self) -> socket.socket:
        if self.pid != os.getpid() or self.sock is None:
            # An inherited session socket belongs to the parent; keep it open (it keeps
            # procd alive while we live) but talk over our own.
            sock, path = rendezvous.connect()
            if path != self.path:
                _readers.pop(path, None)
            self.sock, self.path, self.pid = sock, path, os.getpid()
            self.features = _request(self.sock, Op.HELLO, PR_MODEL_LP64)[0]
        return self.sock


_session = _Session()


def _posted_pending() -> bool:
    return framing.unsettled(os.getpid())


def settle() -> None:
    """Return once procd has carried out every write this process posted (ProcFile.post): at
    once when none is outstanding.  For a caller about to act on a target from outside procd
    (a signal) in the order it asked for things."""
    if _posted_pending():
        _settle()


def _settle() -> None:
    """Make sure procd has carried out this process's posted writes (ProcFile.post) before
    anything that could overtake them: one round trip on the session, only when one is
    outstanding (after a resume the tracer did not follow with a wait)."""
    with _session.lock:
        if framing.unsettled(os.getpid()):
            _request(_session.get(), Op.HELLO, PR_MODEL_LP64)
_PEND = memberof(LWPSTATUS["amd64"], "pr_lwppend")
_HOLD = memberof(LWPSTATUS["amd64"], "pr_lwphold")
_readers: dict[str, snapshot.Reader] = {}


def _snapshots() -> snapshot.Reader | None:
    """The shared status snapshots of the procd this process's session speaks to, mapped once
    per procd (a new procd at the same address publishes a new file)."""
    path = _session.path
    if not path:
        return None
    r = _readers.get(path)
    if r is None:
        try:
            r = _readers[path] = snapshot.Reader(path)
        except OSError:
            return None
    return r


def _connect() -> socket.socket:
    """A new connection to the user's procd (started when none runs: rendezvous.py)."""
    sock, _path = rendezvous.connect()
    return sock


def _closed_file() -> OSError:
    """What any use of a closed /proc file raises: EBADF, as write(2) on a closed descriptor
    says (a ctl write gave ValueError, which no caller of a file descriptor expects)."""
    return OSError(errno.EBADF, "I/O operation on closed /proc file")


class ProcFile:
    """An open /proc file: a real descriptor (`fileno()`), usable after fork by parent and child."""

    def __init__(self, path: str, flags: int, model: int = PR_MODEL_LP64) -> None:
        self.path = path
        self.flags = flags
        # The session connection lives as long as this process and keeps an embedded procd
        # alive between files.
        with _session.lock:
            _session.get()
        self._sock = _connect()
        self._owner = os.getpid()
        self._chan: socket.socket | None = None
        self._chan_pid = -1
        self._pos = 0
        self._lock = threading.Lock()
        try:
            self.id, reply = _request(self._sock, Op.OPEN, flags, model, payload=path.encode())
        except BaseException:
            self._sock.close()
            raise
        self._token = reply[:16]
        self.closed = False
        self._slot = -1
        self._mem: int | None = None
        self._sigfd: int | None = None
        parts = [p for p in path.split("/") if p and p != "proc"]
        if len(reply) >= 24 and model == PR_MODEL_LP64:
            # lwpstatus: read the published snapshot while the LWP is stopped (no round trip).
            self._slot = int.from_bytes(reply[16:20], "little", signed=True)
            self._pid, self._tid = int(parts[0]), int.from_bytes(reply[20:24], "little")
        elif parts[-1] == "as":
            # procd has checked access: the address space is read from the host directly.
            try:
                acc = flags & os.O_ACCMODE
                self._mem_pid = int(parts[0])
                self._mem_flags = (os.O_RDWR if acc != os.O_RDONLY else os.O_RDONLY) | os.O_CLOEXEC
                self._mem = os.open(f"/proc/{self._mem_pid}/mem", self._mem_flags)
            except OSError:
                self._mem = None

    def fileno(self) -> int:
        return self._sock.fileno()

    def _conn(self) -> socket.socket:
        if self.closed:
            raise _closed_file()
        pid = os.getpid()
        if pid == self._owner:
            return self._sock
        if self._chan_pid != pid:
            # First use in this process (a forked child): a channel of our own, bound to the
            # same open file; the inherited socket stays as the reference that keeps it open.
            with _session.lock:
                _session.get()
            chan = _connect()
            _request(chan, Op.BIND, payload=self._token)
            self._chan, self._chan_pid = chan, pid
        assert self._chan is not None
        return self._chan

    def _call(self, op: int, a: int = 0, b: int = 0, c: int = 0, payload: bytes = b"",
              timeout: float | None = None) -> tuple[int, bytes]:
        with self._lock:
            return _request(self._conn(), op, a, b, c, payload, timeout)

    def pread(self, size: int, offset: int) -> bytes:
        """Read up to `size` bytes at `offset` (a status file's snapshot, or the address space)."""
        if self._mem is not None:
            return self._mem_read(size, offset)
        if self._slot >= 0:
            if _posted_pending():
                _settle()
            snap = _snapshots()
            data = snap.read(self._slot) if snap is not None else None
            sets = self._thread_sets() if data is not None else None
            if sets is not None:
                buf = bytearray(data)
                buf[_PEND[0]:_PEND[0] + _PEND[1]] = sets[0]
                buf[_HOLD[0]:_HOLD[0] + _HOLD[1]] = sets[1]
                return bytes(buf[offset:offset + max(size, 0)])
        return self._call(Op.READ, offset, size)[1]

    def snapshot(self, fp: bool = True) -> bytes | None:
        """lwpstatus only: the published amd64 lwpstatus_t of a stopped LWP without its signal
        sets (which cost a host read), or None when the LWP is not stopped or has no slot.
        `fp=False`: pr_fpreg may read zero (procd publishes it only once someone read it), so
        a caller that only looks at the rest is never sent to procd for it."""
        if self._slot < 0:
            return None
        if _posted_pending():
            _settle()
        snap = _snapshots()
        return snap.read(self._slot, fp) if snap is not None else None

    def stopped(self) -> bool | None:
        """lwpstatus only: whether the LWP sits stopped (a shared-memory header read); None when
        this file has no snapshot slot and the caller must read the status instead."""
        if self._slot < 0:
            return None
        if _posted_pending():
            _settle()
        snap = _snapshots()
        return snap.valid(self._slot) if snap is not None else None

    def _thread_sets(self) -> tuple[bytes, bytes] | None:
        """The thread's pending and held sets (Solaris), straight from the host's /proc."""
        try:
            if self._sigfd is None:
                self._sigfd = os.open(f"/proc/{self._pid}/task/{self._tid}/status", os.O_RDONLY)
            text = os.pread(self._sigfd, 8192, 0)
            i = text.index(b"SigPnd:") + 7
            j = text.index(b"SigBlk:") + 7
            return (procinfo.sigset_bytes(int(text[i:text.index(b"\n", i)], 16)),
                    procinfo.sigset_bytes(int(text[j:text.index(b"\n", j)], 16)))
        except (OSError, ValueError):
            return None

    def _mem_read(self, size: int, offset: int) -> bytes:
        if self.closed:
            raise _closed_file()
        for retry in (False, True):
            try:
                data = os.pread(self._mem, size, offset)
                if data or retry or not size:
                    return data
            except OSError as e:
                if e.errno == errno.ESRCH:
                    raise OSError(errno.ENOENT, "process has exited") from None
                if e.errno not in (errno.EIO, errno.EFAULT):
                    raise
                if retry:
                    return b""  # a read at an unmapped start is end-of-file, as on Solaris
            self._reopen_mem()
        return b""

    def _reopen_mem(self) -> None:
        """The host descriptor names the address space it was opened on; after an exec the
        process has a new one, which the Solaris `as` file follows."""
        assert self._mem is not None
        try:
            fd = os.open(f"/proc/{self._mem_pid}/mem", self._mem_flags)
        except PermissionError:
            # The exec was of a set-id (or unreadable) program: the old descriptor is invalid,
            # as Solaris says it (EAGAIN), not a fresh open's EACCES.
            raise OSError(errno.EAGAIN, "invalidated by a set-id exec of the process") from None
        os.dup2(fd, self._mem)
        os.close(fd)

    def pwrite(self, data: bytes, offset: int, timeout: float | None = None) -> int:
        """Write at `offset`; for ctl/lwpctl, a sequence of control messages (offset ignored).

        `timeout` (seconds) bounds a blocking message (PCWSTOP): on expiry socket.timeout is
        raised and procd abandons the wait when this channel's next request arrives or it closes.
        """
        if self._mem is not None:
            if self.closed:
                raise _closed_file()
            for retry in (False, True):
                try:
                    return os.pwrite(self._mem, data, offset)
                except OSError as e:
                    if e.errno == errno.ESRCH:
                        raise OSError(errno.ENOENT, "process has exited") from None
                    if retry:
                        raise OSError(errno.EIO, "unmapped address") from None
                self._reopen_mem()
        return self._call(Op.WRITE, offset, payload=bytes(data), timeout=timeout)[0]

    def post(self, data: bytes) -> None:
        """ctl/lwpctl only: write control messages none of which blocks (PCRUN, PCCSIG, PCSSIG,
        ...) without waiting for procd's answer.  They are carried out before anything this
        process asks procd afterwards or reads from its snapshots; a failure is not reported
        (the caller has checked what it could: the LWP was stopped).  Sent over the session, so
        that a wait which follows costs no second round trip.  Falls back to `write` in a
        process that did not open the file (a forked copy speaks over a channel of its own)."""
        if self.closed:
            raise ValueError("I/O operation on closed /proc file")
        pid = os.getpid()
        if pid != self._owner or self._mem is not None:
            self.write(data)
            return
        with _session.lock:
            sock = _session.get()
            if not _session.features & FEATURE_POST:
                sock = None  # an older procd at this address: an answered write
            else:
                seq = next(_seqs) & 0xFFFFFFFF
                sock.send(_REQ.pack(Op.POST, seq, self.id, 0, 0) + bytes(data))
                framing.post(pid, seq)
        if sock is None:
            self.write(data)

    def read(self, size: int = -1) -> bytes:
        data = self.pread(size if size >= 0 else _MAXMSG - 64, self._pos)
        self._pos += len(data)
        return data

    def write(self, data: bytes, timeout: float | None = None) -> int:
        n = self.pwrite(data, self._pos, timeout)
        self._pos += n
        return n

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence != 0:
            raise OSError(22, "only absolute seeks are supported on /proc files")
        self._pos = pos
        return pos

    def close(self) -> None:
        """Close this process's copy.  The file's last close is when no copy is left anywhere."""
        if self.closed:
            return
        self.closed = True
        if self._chan is not None and self._chan_pid == os.getpid():
            self._chan.close()
        for fd in (self._mem, self._sigfd):
            if fd is not None:
                os.close(fd)
        self._sock.close()

    def __enter__(self) -> "ProcFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def open(path: str, flags: int = os.O_RDONLY, model: int = PR_MODEL_LP64) -> ProcFile:  # noqa: A001
    """Open a /proc file ("<pid>/ctl", "<pid>/lwp/<lwpid>/lwpstatus", ...; a leading "/proc/" is
    allowed).  `model` is the reader's data model: PR_MODEL_LP64 (default) reads amd64 layouts
    for every target, PR_MODEL_ILP32 the i386 ones."""
    return ProcFile(path, flags, model)


def ensure_procd() -> str:
    """Join (or start) the user's procd now and return its socket path.  Never needed: every
    call finds the same procd by itself, whatever was forked before it; kept for callers that
    want the path or the start-up cost paid early."""
    with _session.lock:
        _session.get()
    return _session.path


def listdir(path: str) -> list[str]:
    """The names in a /proc directory ("" or "/proc" for the pids, "<pid>", "<pid>/lwp")."""
    with _session.lock:
        _, data = _request(_session.get(), Op.LIST, payload=path.encode())
    return [n for n in data.decode().split("\0") if n]


def waitid(idtype: int, id: int, options: int, timeout: float | None = None,
           watch: "list[tuple[int, int, int]] | tuple" = ()) -> bytes | None:
    """Solaris waitid for the caller's children (Solaris idtype, options and numbering): the
    host's exits and job-control stops, and (WTRAPPED) the /proc stops of PR_PTRACE children as
    CLD_TRAPPED.  Returns a Solaris amd64 siginfo_t, or None for WNOHANG with nothing to report
    (or, blocking, when an LWP in `watch` -- (host tid, pr_why, pr_what) as last seen stopped --
    stopped anew or went away); raises ChildProcessError when there is no such child,
    TimeoutError after `timeout` seconds, InterruptedError when a signal handler ran.  Nothing
    polls (native_proc/wait.py)."""
    return _wait.waitid(_wait.Channel(_session.get, _session.lock, _next_seq), idtype, id, options,
                        timeout, watch)


def forget_procd() -> None:
    """Drop this process's session with a procd that went away (its socket only reports the
    loss again): the next call finds, or starts, the user's procd anew."""
    with _session.lock:
        sock, _session.sock, _session.pid = _session.sock, None, -1
        _readers.pop(_session.path, None)
    if sock is not None:
        sock.close()


def procd_status() -> str:
    """What the procd controls, as text (the `native-proc status` listing)."""
    with _session.lock:
        return _request(_session.get(), Op.STATUS)[1].decode()


def tidmap(tid: int) -> tuple[int, int]:
    """Host tid -> (pid, lwpid) as procd numbers LWPs."""
    with _session.lock:
        v, _ = _request(_session.get(), Op.TIDMAP, tid)
    return v >> 32, v & 0xFFFFFFFF


def shutdown() -> None:
    """Ask procd to release everything it controls and exit."""
    with _session.lock:
        try:
            _request(_session.get(), Op.SHUTDOWN)
        except ProcdError:
            pass
