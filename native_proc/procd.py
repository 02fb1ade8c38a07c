"""procd: one process, one thread, the only host tracer of the processes it controls.

The event loop multiplexes client connections (SOCK_SEQPACKET, one datagram per request) and
host events (SIGCHLD through a wakeup pipe, then a non-blocking wait4 drain).  Everything a
request means is the engine's business; this module only moves datagrams, checks credentials
(SO_PEERCRED) and keeps each connection's pending (blocked) request.

Run by hand: `native-proc serve [--socket PATH]`; embedded: started by the first client call that
found none at the user's address (rendezvous.py), and gone after rendezvous.GRACE seconds without
a client (everything it controls is released first).
"""

from __future__ import annotations

import argparse
import errno
import os
import selectors
import signal
import socket
import stat
import struct
import sys
import time
import traceback
from typing import Callable

from structs.codec import codec
from structs.wire import REPLY, REQUEST

from .engine import QUIET, Engine, Pending
from . import framing, rendezvous
from .guardian import Guardian

_REQ = codec(REQUEST).struct
_REP = codec(REPLY).struct
_SO_PEERCRED = struct.Struct("3i")
_MAX_SLEEP = 3600.0  # seconds; deadlines further away are re-checked on waking


class Conn:
    """One client connection: a file connection, a bound channel, or a session."""

    __slots__ = ("sock", "pid", "uid", "gid", "file", "owner", "pending", "model")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        cred = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _SO_PEERCRED.size)
        self.pid, self.uid, self.gid = _SO_PEERCRED.unpack(cred)
        self.file = None  # the engine's OpenFile this connection speaks for
        self.owner = False  # True on the connection that opened the file (its EOF = last close)
        self.pending: Pending | None = None
        self.model = 2


class Procd:
    def __init__(self, path: str, embedded: bool) -> None:
        self.path = path
        self.embedded = embedded
        self.sel = selectors.DefaultSelector()
        self._listen()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.sel.register(self.wake_r, selectors.EVENT_READ, self._on_wake)
        self.conns: dict[int, Conn] = {}
        self.rbuf = memoryview(bytearray(framing.MAXMSG))  # every request is read into it (framing.py)
        self.ever_had_client = False
        self.stopping = False
        self.guardian = Guardian()  # disarms debug registers if procd dies (guardian.py)
        self.engine = Engine(self)

    def _listen(self) -> None:
        """Bind the address anew (a stale socket file of a dead procd is replaced: whoever starts
        a procd holds the address's lock, so no live one is there)."""
        old_listener = getattr(self, "listener", None)
        if old_listener is not None:
            self.sel.unregister(old_listener)
            old_listener.close()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            # Only a stale socket is replaced: a file or directory at the path is not ours.
            if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        old = os.umask(0o077)  # the socket is private to its user
        try:
            self.listener.bind(self.path)
        finally:
            os.umask(old)
        self.bound = os.stat(self.path)
        self.listener.listen(128)
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ, self._accept)

    # -- host events -------------------------------------------------------------------

    def _on_wake(self, _fd: int) -> None:
        try:
            while os.read(self.wake_r, 512):
                pass
        except BlockingIOError:
            pass
        self.engine.reap()

    # -- connections ---------------------------------------------------------------------

    def _accept(self, _sock: socket.socket) -> None:
        while True:
            try:
                s, _ = self.listener.accept()
            except BlockingIOError:
                return
            s.setblocking(False)
            c = Conn(s)
            self.conns[s.fileno()] = c
            self.ever_had_client = True
            self.sel.register(s, selectors.EVENT_READ, self._readable)

    def _readable(self, s: socket.socket) -> None:
        c = self.conns.get(s.fileno())
        if c is None:
            return
        buf = self.rbuf
        try:
            n = s.recv_into(buf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            n = 0
        if not n:
            self._drop(c)
            return
        if n < _REQ.size:
            self._reply(c, 0, errno.EINVAL)
            return
        op, seq, a, b, cc = _REQ.unpack_from(buf)
        payload = bytes(buf[_REQ.size:n])
        if c.pending is not None:
            # The client gave up on its blocked request (a timeout) and asks something new.
            self.engine.cancel(c.pending)
            c.pending = None
        try:
            result = self.engine.request(c, op, a, b, cc, payload)
        except OSError as e:
            self._reply(c, seq, e.errno or errno.EIO)
            return
        except Exception:  # noqa: BLE001 - bad input must never kill procd: log it, answer EIO
            _log_exception(f"request op={op} from pid {c.pid}")
            self._reply(c, seq, errno.EIO)
            return
        if isinstance(result, Pending):
            result.bind(lambda err, value=0, data=b"", c=c, seq=seq: self._complete(c, seq, err, value, data))
            c.pending = result
            result.start()
            return
        if result is QUIET:
            return  # Op.POST: the next reply on this connection implies it (wire.py)
        value, data = result
        self._reply(c, seq, 0, value, data)

    def _complete(self, c: Conn, seq: int, err: int, value: int, data: bytes) -> None:
        c.pending = None
        if c.sock.fileno() >= 0:
            self._reply(c, seq, err, value, data)

    def _reply(self, c: Conn, seq: int, err: int, value: int = 0, data: bytes = b"") -> None:
        # Published status must be current before a client can act on this answer.
        self.engine.flush()
        try:
            c.sock.send(_REP.pack(seq, err, value) + data)
        except OSError:
            pass  # the client is gone; its EOF will be seen by the loop

    def _drop(self, c: Conn) -> None:
        if c.pending is not None:
            self.engine.cancel(c.pending)
            c.pending = None
        self.sel.unregister(c.sock)
        self.conns.pop(c.sock.fileno(), None)
        c.sock.close()
        self.engine.disconnected(c)
        if self.embedded and not self.conns:
            self._idle_soon()

    # -- idle exit (a procd a client started) ------------------------------------------------

    def _idle_soon(self) -> None:
        self.call_later(rendezvous.GRACE, self._idle_check)

    def _idle_check(self) -> None:
        """No client for GRACE seconds: leave, under the address's lock so that a client that
        finds nobody listening starts a new procd only once this one has let the address go,
        and a client that connected just before is served rather than dropped."""
        if self.conns or self.stopping:
            return
        try:
            with rendezvous.locked(self.path, blocking=False) as mine:
                if not mine:
                    self._idle_soon()  # a client is starting or joining: look again later
                    return
                self._leave_if_unwanted()
        except rendezvous.ProcdError:
            # The address's directory is gone (removed under us): no client can find this
            # procd any more, nor take the lock.  Serve whoever connected before, then leave.
            self._accept(self.listener)
            self.stopping = not self.conns

    def _leave_if_unwanted(self) -> None:
        if os.path.exists(self.path) and os.path.samestat(os.stat(self.path), self.bound):
            os.unlink(self.path)
        self._accept(self.listener)  # connections queued before the name went away
        if self.conns:
            self._listen()  # someone came after all: serve on, at the same address
            return
        self.stopping = True

    # -- loop ------------------------------------------------------------------------------

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        self.engine.timers.append((time.monotonic() + delay, fn))

    def catch_stop_signals(self) -> None:
        """From now on SIGTERM, SIGINT and SIGHUP stop procd cleanly (everything released, its
        socket and snapshot file removed), even before `run` has started its loop: call it
        before announcing the address to anyone who may then send them."""
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    def run(self, ready_fd: int | None) -> None:
        # The signal mask is inherited across exec: the process that started us may have had
        # SIGCHLD blocked (gdb and strace block it around their waits, and a TRACEME child
        # starts procd from inside such a wait's caller), and a blocked SIGCHLD would never
        # wake the loop for a host event.  Nothing procd relies on may stay blocked.
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        self.guardian.start()
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.catch_stop_signals()
        if ready_fd is not None:
            os.write(ready_fd, b"R")
            os.close(ready_fd)
        if self.embedded:
            self._idle_soon()  # the client that started us may be gone before it connects
        while not self.stopping:
            timeout = self.engine.next_timeout()
            if timeout is not None:
                timeout = min(timeout, _MAX_SLEEP)  # a client's huge PCTWSTOP must not overflow poll()
            for key, _ in self.sel.select(timeout):
                _guarded(key.data, key.fileobj)
            _guarded(self.engine.run_timers)
            _guarded(self.engine.reap)
            _guarded(self.engine.flush)
        _guarded(self.engine.release_all)
        self.guardian.stop()
        self.engine.snap.close()
        try:
            # Only our own socket file: after an idle exit a successor may own the name.
            if os.path.samestat(os.stat(self.path), self.bound):
                os.unlink(self.path)
        except OSError:
            pass


def _log_exception(what: str) -> None:
    print(f"procd: unexpected error in {what}:", file=sys.stderr)
    traceback.print_exc()
    sys.stderr.flush()


def _guarded(fn: Callable[..., None], *args: object) -> None:
    """Run one event handler; an unexpected exception is logged, and procd serves on."""
    try:
        fn(*args)
    except Exception:  # noqa: BLE001
        _log_exception(getattr(fn, "__qualname__", repr(fn)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="native-proc serve")
    p.add_argument("--socket", required=True)
    p.add_argument("--embedded", action="store_true")
    p.add_argument("--ready-fd", type=int)
    args = p.parse_args(argv)
    Procd(args.socket, args.embedded).run(args.ready_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
