"""procd: one process, one thread, the only host tracer of the processes it controls.

The event loop multiplexes client connections (SOCK_SEQPACKET, one datagram per request) and
host events (SIGCHLD through a wakeup pipe, then a non-blocking wait4 drain).  Everything a
request means is the engine's business; this module only moves datagrams, checks credentials
(SO_PEERCRED) and keeps each connection's pending (blocked) request.

Run by hand: `native-proc serve [--socket PATH]`; embedded: started by the first client call.
"""

from __future__ import annotations

import argparse
import errno
import os
import selectors
import signal
import socket
import struct
import sys
import time
import traceback
from typing import Callable

from structs.codec import codec
from structs.wire import REPLY, REQUEST

from .engine import Engine, Pending
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
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        old = os.umask(0o077)  # the socket is private to its user
        try:
            self.listener.bind(path)
        finally:
            os.umask(old)
        self.listener.listen(128)
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ, self._accept)
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.sel.register(self.wake_r, selectors.EVENT_READ, self._on_wake)
        self.conns: dict[int, Conn] = {}
        self.ever_had_client = False
        self.stopping = False
        self.guardian = Guardian()  # disarms debug registers if procd dies (guardian.py)
        self.engine = Engine(self)

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
        try:
            msg = s.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            msg = b""
        if not msg:
            self._drop(c)
            return
        if len(msg) < _REQ.size:
            self._reply(c, 0, errno.EINVAL)
            return
        op, seq, a, b, cc = _REQ.unpack_from(msg)
        payload = msg[_REQ.size:]
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
            # An embedded procd releases everything when its last client is gone (item 18).
            self.stopping = True

    # -- loop ------------------------------------------------------------------------------

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        self.engine.timers.append((time.monotonic() + delay, fn))

    def run(self, ready_fd: int | None) -> None:
        self.guardian.start()
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        if ready_fd is not None:
            os.write(ready_fd, b"R")
            os.close(ready_fd)
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
