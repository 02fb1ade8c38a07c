"""The client <-> procd wire format: fixed headers on a SOCK_SEQPACKET Unix socket.

Every request is one datagram: a REQUEST header followed by its payload; every reply is one
datagram: a REPLY header followed by its payload.  `seq` pairs a reply with its request, so a
client that gave up waiting (a timed-out PCWSTOP) can discard the late answer.
The layout is fixed (little-endian, 64-bit fields) whatever the data model of either side.
"""

from __future__ import annotations

from enum import IntEnum

from .layout import AMD64 as _m
from .layout import struct

REQUEST = struct(
    ("op", _m.uint32),
    ("seq", _m.uint32),
    ("a", _m.int64),
    ("b", _m.int64),
    ("c", _m.int64),
    size=32,
)

REPLY = struct(
    ("seq", _m.uint32),
    ("err", _m.int32),  # 0 or a host errno
    ("value", _m.int64),
    size=16,
)


class Op(IntEnum):
    """Request codes.  a/b/c and the payload mean what the comment says."""

    OPEN = 1  # a=open flags, b=reader data model (PR_MODEL_*), payload=path -> value=file id, payload=token
    BIND = 2  # payload=token: this channel now speaks for that open file (a forked copy)
    READ = 3  # a=offset, b=size -> payload=data
    WRITE = 4  # a=offset, payload=data -> value=bytes written
    LIST = 5  # payload=directory path -> payload=NUL-separated names
    WAITID = 6  # a=idtype, b=id, c=options -> payload=Solaris siginfo_t (amd64) or empty
    HELLO = 7  # a=client data model; first request on a session connection -> value=FEATURES
    STATUS = 8  # -> payload=text: what this procd controls (for `native-proc status`)
    SHUTDOWN = 9  # release everything (run-on-last-close semantics) and exit
    TIDMAP = 10  # a=host tid -> value=(pid << 32) | lwpid; a<0: b=pid, c=lwpid -> value=host tid
    # On a session connection: a=id of a ctl/lwpctl file this process holds open, payload=control
    # messages none of which blocks.  No reply unless it fails (then an error reply): the answer
    # is implied by the reply to the next request on the same connection, which procd handles
    # after it (a resume followed by its wait costs one round trip: issue 14).
    POST = 11


# What a procd offers beyond the first protocol, as HELLO's value (0 from a procd older than
# this field): a client speaking to an older procd at the same address does without.
FEATURE_POST = 1  # Op.POST
FEATURES = FEATURE_POST


# Status snapshots procd publishes in shared memory (ARCHITECTURE item 19): one slot per LWP,
# a seqlock header then the LWP's amd64 lwpstatus_t.  `seq` is odd while procd writes the slot;
# a reader that sees the same even `seq` before and after copying has a consistent snapshot.
SNAPSHOT_HEADER = struct(
    ("seq", _m.uint64),
    ("gen", _m.uint64),  # the LWP's generation: bumped whenever it runs or its state changes
    ("valid", _m.uint32),  # 1 while the LWP sits stopped and the data is current
    ("length", _m.uint32),
    size=24,
)
SNAPSHOT_SLOT_SIZE = 1344  # header + amd64 lwpstatus_t (1296), rounded to 64
SNAPSHOT_SLOTS = 4096
