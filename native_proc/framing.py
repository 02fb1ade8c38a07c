"""Receiving datagrams without a new buffer per message.

A `socket.recv(n)` allocates n bytes before it reads, and a 1 MiB allocation is an mmap and an
munmap: on every request and reply that cost more than the exchange itself (issue 14).  Each
thread reads into one buffer of its own, reused, and copies out only what came.
"""

from __future__ import annotations

import socket
import threading

MAXMSG = 1 << 20  # the largest datagram either side sends (a READ reply, a WRITE payload)

_tls = threading.local()


def buffer() -> memoryview:
    """This thread's receive buffer (MAXMSG bytes), made on first use."""
    try:
        return _tls.buf
    except AttributeError:
        buf = _tls.buf = memoryview(bytearray(MAXMSG))
        return buf


def recv(sock: socket.socket) -> tuple[memoryview, int]:
    """One datagram into this thread's buffer: (buffer, length).  The buffer is overwritten by
    the thread's next receive: copy out what is kept."""
    buf = buffer()
    return buf, sock.recv_into(buf)


# -- posted writes (Op.POST) ---------------------------------------------------------------------
# A posted write is not answered; procd handles a connection's requests in order, so any reply
# on the session connection to a request sent after it (or the posted write's own error reply)
# says it was carried out.  Until then, anything this process asks over another connection, or
# reads from the shared snapshots, could overtake it: the client settles it first (client.py).
_posted = [-1, 0]  # [pid that posted, seq of its latest posted write]; pid -1: nothing unsettled


def post(pid: int, seq: int) -> None:
    """Process `pid` sent a posted write tagged `seq` over its session."""
    _posted[0], _posted[1] = pid, seq


def seen(pid: int, rseq: int) -> None:
    """A reply tagged `rseq` came on `pid`'s session: a posted write sent before it is done."""
    if _posted[0] == pid and (rseq - _posted[1]) & 0xFFFFFFFF < 0x80000000:
        _posted[0] = -1


def unsettled(pid: int) -> bool:
    """Whether `pid` has a posted write procd may not have carried out yet."""
    return _posted[0] == pid
