"""Native waitid: the host's waitid for ordinary children, plus, as Solaris does for PR_PTRACE
processes, a traced child's /proc stops reported to its parent as CLD_TRAPPED.

Solaris numbering throughout (options SOLARIS_W, idtypes SOLARIS_P, signal numbers, siginfo_t
in the caller's amd64 layout).  procd keeps, per PR_PTRACE process, whether a whole-process
stop is waiting to be reported (once per stop, WNOWAIT leaves it); the client asks procd for
those and the host for everything else.  A blocked waitid polls nothing: procd holds its
request until a report is due (or a PR_PTRACE child exits, or an LWP the caller watches stops
anew or goes away), and the caller's own children's news (SIGCHLD, read through a signalfd
while the wait blocks it) wakes it for the host's part, which only the parent itself can wait
for.  A signal whose handler runs ends a blocking wait with InterruptedError (EINTR), as on
Linux.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import struct
import time
from typing import Any, Callable, Sequence

from structs.codec import codec
from structs.fields import memberof
from structs.procfs import SIGINFO, SIGINFO_VIEWS
from structs.procfs_consts import PR_WHY, SOLARIS_P, SOLARIS_W
from structs.signals import LTOS
from structs.wire import REPLY, REQUEST, Op

from . import framing

_CLD_TRAPPED, _CLD_KILLED, _CLD_DUMPED, _CLD_STOPPED = 4, 2, 3, 5
_SIGCHLD_S, _SIGTRAP_S = 18, 5
_PR_PTRACE = 0x4000000
_PR_ASYNC = 0x800000

# Solaris -> Linux option bits and idtypes for the host's waitid.
# (plain ints: flag-enum arithmetic costs microseconds on every wait)
_HOST_OPTS = {int(SOLARIS_W.WEXITED): 4, int(SOLARIS_W.WSTOPPED): 2, int(SOLARIS_W.WCONTINUED): 8,
              int(SOLARIS_W.WNOWAIT): 0x1000000}
_ANY_EVENT = int(SOLARIS_W.WEXITED | SOLARIS_W.WTRAPPED | SOLARIS_W.WSTOPPED | SOLARIS_W.WCONTINUED)
_WNOHANG, _WTRAPPED = int(SOLARIS_W.WNOHANG), int(SOLARIS_W.WTRAPPED)
_HOST_IDTYPE = {SOLARIS_P.P_ALL: 0, SOLARIS_P.P_PID: 1, SOLARIS_P.P_PGID: 2}
_VALID_OPTS = int(SOLARIS_W.WEXITED | SOLARIS_W.WTRAPPED | SOLARIS_W.WSTOPPED | SOLARIS_W.WCONTINUED
                  | SOLARIS_W.WNOHANG | SOLARIS_W.WNOWAIT)


# The amd64 siginfo_t's fields a SIGCHLD report sets, as packed offsets (a report is built at
# every stop: no codec dict).  __data starts at 16; the cld arm's si_pid and si_status in it.
_SI_SIZE = codec(SIGINFO["amd64"]).size
_SI_HEAD = struct.Struct("<ii")  # si_signo, si_code
_I32 = struct.Struct("<i")
_DATA = 16
_CLD_PID = _DATA + memberof(SIGINFO_VIEWS["amd64"]["cld"], "si_pid")[0]
_CLD_STATUS = _DATA + memberof(SIGINFO_VIEWS["amd64"]["cld"], "pdata.si_status")[0]


def siginfo_chld(pid: int, uid: int, code: int, status: int) -> bytes:
    """A Solaris (amd64) SIGCHLD siginfo_t (Solaris's cld shape carries no uid)."""
    out = bytearray(_SI_SIZE)
    _SI_HEAD.pack_into(out, 0, _SIGCHLD_S, code)
    _I32.pack_into(out, _CLD_PID, pid)
    _I32.pack_into(out, _CLD_STATUS, status)
    return bytes(out)


def chld_fields(info: bytes) -> tuple[int, int, int]:
    """(si_pid, si_code, si_status) of a Solaris (amd64) SIGCHLD siginfo_t."""
    return (_I32.unpack_from(info, _CLD_PID)[0], _I32.unpack_from(info, 4)[0],
            _I32.unpack_from(info, _CLD_STATUS)[0])


def check_args(idtype: int, options: int) -> None:
    if idtype not in _HOST_IDTYPE:
        raise OSError(errno.EINVAL, f"idtype {idtype} is not supported (P_PID, P_PGID, P_ALL)")
    if options & ~_VALID_OPTS or not options & _ANY_EVENT:
        raise OSError(errno.EINVAL, "bad waitid options")


# -- procd side ----------------------------------------------------------------------------------


def trap_status(proc: Any) -> int | None:
    """The CLD_TRAPPED status a whole-process stop reports, or None if it is not (yet) one.

    NON-SOLARIS: with PR_ASYNC the report is due as soon as the thread-group leader (lwpid 1)
    is stopped on an event of interest, whatever its siblings do (they are watched through
    their own lwpctl files).  The status is the Solaris signal of a PR_SIGNALLED stop or of a
    job-control stop reported as an event (PCXSTOPFOROPT JOBCONTROL), else SIGTRAP."""
    if not proc.flags & _PR_PTRACE:
        return None
    if proc.flags & _PR_ASYNC:
        lead = proc.lwps.get(1)
        if lead is None or not lead.istop:
            return None
        return _status(lead)
    lwps = list(proc.lwps.values())
    if not lwps or not all(l.istop for l in lwps):
        return None
    return _status(next((l for l in lwps if l.why != PR_WHY.PR_REQUESTED), lwps[0]))


def _status(shown: Any) -> int:
    if shown.why in (PR_WHY.PR_SIGNALLED, PR_WHY.PR_JOBCONTROL):
        return shown.what
    return _SIGTRAP_S


def matches(proc: Any, caller: int, idtype: int, id: int, pgid: int) -> bool:
    if proc.parent != caller:
        return False
    if idtype == SOLARIS_P.P_PID:
        return proc.pid == id
    if idtype == SOLARIS_P.P_PGID:
        return pgid == id
    return True


# -- client side ----------------------------------------------------------------------------------


def _host(idtype: int, id: int, options: int, block: bool = False) -> bytes | None:
    from . import host  # the client process's own children

    opts = 0 if block else 1  # WNOHANG unless the host alone can answer
    for s, h in _HOST_OPTS.items():
        if options & s:
            opts |= h
    if not opts & 0xE:
        return None
    r = host.waitid(_HOST_IDTYPE[idtype], id, opts)
    if r is None:
        return None
    status = r.si_status
    if r.si_code in (_CLD_KILLED, _CLD_DUMPED, _CLD_STOPPED, _CLD_TRAPPED) and 0 < status < len(LTOS):
        status = LTOS[status]
    return siginfo_chld(r.si_pid, r.si_uid, r.si_code, status)


_REQ = codec(REQUEST).struct
_REP = codec(REPLY).struct
_WATCH = struct.Struct("<Iii")  # a watched LWP: host tid, the pr_why / pr_what it was seen at
_HELLO_LP64 = 2
_MULTI_THREAD_SLICE = 0.25  # see _ChildSignals.slice


class Channel:
    """The waiting process's own procd session, as the client hands it over: `get()` the socket,
    `lock` held around every exchange, `next_seq()` a request tag."""

    def __init__(self, get: Callable[[], socket.socket], lock: Any, next_seq: Callable[[], int]) -> None:
        self.get, self.lock, self.next_seq = get, lock, next_seq


# Reports procd handed out to a WAITID this process then abandoned (a host event or a signal came
# first): returned before anything else is asked, so no report is ever lost.
_stashed: list[bytes] = []


class _ChildSignals:
    """SIGCHLD blocked in the waiting thread and readable through a signalfd for the length of a
    wait: the host's news of the caller's own children (a monitor's stop, an exit) wakes the wait
    with no polling.  What the wait consumed is given back to the thread when it ends (the same
    siginfo, rt_tgsigqueueinfo to itself), so a SIGCHLD handler of the caller still runs."""

    _fd: dict[int, int] = {}

    def __enter__(self) -> "_ChildSignals":
        from . import host

        pid = os.getpid()
        fd = self._fd.get(pid)
        if fd is None:
            fd = self._fd[pid] = host.signalfd([signal.SIGCHLD])
        self.fd = fd
        self.taken: list[bytes] = []
        self.old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        # Another thread, SIGCHLD not blocked there, may take a process-directed SIGCHLD before
        # the signalfd sees it: then (only then) the wait looks at the host every slice too.
        try:
            # /proc/self/task's link count is 2 + the number of threads (one stat, no listing)
            threads = os.stat("/proc/self/task").st_nlink - 2
        except OSError:
            threads = 1
        self.slice = _MULTI_THREAD_SLICE if threads > 1 else None
        return self

    def drain(self) -> None:
        while True:
            try:
                raw = os.read(self.fd, 128)
            except BlockingIOError:
                return
            if len(raw) < 128:
                return
            self.taken.append(_from_signalfd(raw))

    def __exit__(self, *exc: object) -> None:
        from . import host

        self.drain()
        if signal.SIGCHLD not in self.old:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.old)
        if self.taken:
            # One is enough: SIGCHLD is not queued twice while pending; a handler sees the last.
            try:
                host.sigqueue_self(self.taken[-1])
            except OSError:
                pass


_SFD = struct.Struct("<IiiII")  # signalfd_siginfo: ssi_signo, ssi_errno, ssi_code, ssi_pid, ssi_uid


def _from_signalfd(raw: bytes) -> bytes:
    """A Linux siginfo_t (SIGCHLD shape) from a struct signalfd_siginfo."""
    signo, err, code, pid, uid = _SFD.unpack_from(raw)
    # ssi_status for a kernel CLD_* one; a queued one (si_code < 0) carries its value in ssi_int
    status = struct.unpack_from("<i", raw, 40 if code > 0 else 44)[0]
    utime, stime = struct.unpack_from("<QQ", raw, 56)
    out = bytearray(128)
    struct.pack_into("<iii4xIIi4xQQ", out, 0, signo, err, code, pid, uid, status, utime, stime)
    return bytes(out)


def _exchange(ch: Channel, idtype: int, id: int, options: int, watch: Sequence[tuple[int, int, int]],
              sig: _ChildSignals, deadline: float | None) -> bytes | int:
    """One WAITID held by procd until it has a report (returned), or it says to look again (1: a
    PR_PTRACE child exited; 2: a watched LWP stopped anew or went away), or a SIGCHLD of ours
    came (0).  A signal whose handler ran raises InterruptedError, the deadline TimeoutError;
    either way the request is withdrawn first and a report procd already sent is kept."""
    from . import host

    hold = struct.pack("<d", -1.0) + b"".join(_WATCH.pack(*w) for w in watch)
    with ch.lock:
        sock = ch.get()
        seq = ch.next_seq()
        sock.send(_REQ.pack(Op.WAITID, seq, idtype, id, options) + hold)
        fds = [sock.fileno(), sig.fd]
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if sig.slice is not None:
                left = sig.slice if left is None else min(left, sig.slice)
            try:
                ready = host.poll_in(fds, left)
            except InterruptedError:
                _withdraw(sock, ch, seq)
                raise
            if sock.fileno() in ready:
                got = _reply(sock, seq)
                if got is not None:
                    return got
                continue
            if sig.fd in ready:
                before = len(sig.taken)
                sig.drain()
                if sig.taken[before:] and all(_from_peer(info, sock) for info in sig.taken[before:]) \
                        and not _own_child_event():
                    # procd's own notice of a report (the lx brand's sigcld), which this request
                    # brings.  SIGCHLD is not queued twice: a child's own event that came while
                    # it was pending left no siginfo, hence the look at the host (drained first,
                    # so anything later sends a SIGCHLD of its own).
                    continue
            elif deadline is None or time.monotonic() < deadline:
                if sig.slice is None:
                    continue  # a spurious wakeup
            _withdraw(sock, ch, seq)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError("waitid timed out")
            return 0


def _from_peer(info: bytes, sock: socket.socket) -> bool:
    """Whether a SIGCHLD siginfo was sent by procd itself (kill(): SI_USER from the peer of
    `sock`), which tells a tracer that a report is due -- the report this held request brings --
    rather than news of the caller's own children."""
    signo, _, code = struct.unpack_from("<iii", info)
    if code != 0:
        return False
    try:
        peer = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    except OSError:
        return False
    return struct.unpack_from("<i", info, 16)[0] == peer


def _own_child_event() -> bool:
    """Whether one of the caller's own children has an event to wait for (nothing consumed)."""
    try:
        return os.waitid(os.P_ALL, 0, os.WEXITED | os.WSTOPPED | os.WCONTINUED | os.WNOHANG
                         | os.WNOWAIT) is not None
    except ChildProcessError:
        return False


def _reply(sock: socket.socket, seq: int) -> bytes | int | None:
    """The answer to request `seq` if this datagram is it (a report, or 1/2: look again)."""
    buf, n = framing.recv(sock)
    if not n:
        raise ConnectionResetError(errno.ECONNRESET, "procd closed the connection")
    rseq, err, value = _REP.unpack_from(buf)
    framing.seen(os.getpid(), rseq)
    if rseq != seq:
        return None  # a stale answer to an abandoned request (never a report: see _withdraw)
    if err:
        raise OSError(err, os.strerror(err))
    return bytes(buf[_REP.size:n]) if n > _REP.size else (value or 1)


def _withdraw(sock: socket.socket, ch: Channel, seq: int) -> None:
    """End a held WAITID: a new request (HELLO) makes procd cancel it; a report it sent before
    that is stashed for the next wait."""
    hello = ch.next_seq()
    sock.send(_REQ.pack(Op.HELLO, hello, _HELLO_LP64, 0, 0))
    while True:
        buf, n = framing.recv(sock)
        if not n:
            raise ConnectionResetError(errno.ECONNRESET, "procd closed the connection")
        rseq = _REP.unpack_from(buf)[0]
        framing.seen(os.getpid(), rseq)
        if rseq == seq and n > _REP.size:
            _stashed.append(bytes(buf[_REP.size:n]))
        if rseq == hello:
            return


def waitid(ch: Channel, idtype: int, id: int, options: int, timeout: float | None,
           watch: Sequence[tuple[int, int, int]] = ()) -> bytes | None:
    """The client's waitid (see client.waitid).  Blocks with no polling: procd holds the request
    until a report is due, and a SIGCHLD of the caller's own children wakes it (signalfd)."""
    check_args(idtype, options)
    nohang = bool(options & _WNOHANG)
    deadline = None if timeout is None else time.monotonic() + timeout
    if not options & _WTRAPPED:
        if nohang:
            return _host(idtype, id, options)
        with _ChildSignals() as sig:
            while True:
                got = _host(idtype, id, options)  # ECHILD: no such child at all
                if got:
                    return got
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError("waitid timed out")
                from . import host

                if sig.fd in host.poll_in([sig.fd], left if sig.slice is None else
                                          min(sig.slice, left if left is not None else sig.slice)):
                    sig.drain()
    rep = _from_stash(idtype, id, options)
    if rep is not None:
        return rep
    if nohang:
        got = _host(idtype, id, options)
        if got:
            return got
        with ch.lock:
            sock = ch.get()
            seq = ch.next_seq()
            sock.send(_REQ.pack(Op.WAITID, seq, idtype, id, options))
            while True:
                got = _reply(sock, seq)
                if got is not None:
                    return got if isinstance(got, bytes) else None
    with _ChildSignals() as sig:
        while True:
            got = _host(idtype, id, options)  # no round trip; ECHILD: no such child at all
            if got:
                return got
            r = _exchange(ch, idtype, id, options, watch, sig, deadline)
            if isinstance(r, bytes):
                return r
            if r == 2:
                return None  # a watched LWP changed: the caller looks again
            rep = _from_stash(idtype, id, options)  # a report that came as the request was withdrawn
            if rep is not None:
                return rep


def _from_stash(idtype: int, id: int, options: int) -> bytes | None:
    for i, rep in enumerate(_stashed):
        if _stash_matches(rep, idtype, id):
            if not options & int(SOLARIS_W.WNOWAIT):
                del _stashed[i]
            return rep
    return None


def _stash_matches(rep: bytes, idtype: int, id: int) -> bool:
    if idtype == SOLARIS_P.P_ALL:
        return True
    si = codec(SIGINFO["amd64"])
    pid = codec(SIGINFO_VIEWS["amd64"]["cld"]).decode(si.decode(rep)["__data"])["si_pid"]
    if idtype == SOLARIS_P.P_PID:
        return pid == id
    try:
        return os.getpgid(pid) == id
    except OSError:
        return False
