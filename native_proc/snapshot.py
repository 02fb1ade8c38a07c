"""Stopped LWPs' status, published by procd in shared memory so a read costs no round trip.

procd owns a file of SNAPSHOT_SLOTS slots (structs.wire) next to its socket; each controlled LWP
has a slot.  While an LWP sits stopped, its slot holds its amd64 lwpstatus_t and valid=1; the
moment anything resumes it or changes what its status says, procd rewrites or invalidates the
slot.  Writers and readers follow a seqlock: `seq` odd while writing.  Readers map the file
read-only; a slot they cannot use (invalid, or written under them twice) means "ask procd".

The pending and held signal sets are not in the snapshot: they change without procd seeing it
(a signal queued to a stopped LWP), so the reader fills them from the host's /proc itself.
Nor, at first, is the FP state (pr_fpreg): it costs procd a host request at every stop and few
readers want it.  `valid` says which: VALID (bit 0) the LWP sits stopped and the copy is current,
NO_FP (bit 1) pr_fpreg is not filled in (a reader that needs it asks procd, which publishes it).
"""

from __future__ import annotations

import mmap
import os

from structs.codec import codec
from structs.wire import SNAPSHOT_HEADER, SNAPSHOT_SLOT_SIZE, SNAPSHOT_SLOTS

_HDR = codec(SNAPSHOT_HEADER).struct
_HSIZE = _HDR.size
_SIZE = SNAPSHOT_SLOT_SIZE * SNAPSHOT_SLOTS
VALID, NO_FP = 1, 2


def path_for(socket_path: str) -> str:
    """The snapshot file of the procd serving `socket_path` (beside it, one per address)."""
    return socket_path + ".snap"


class Publisher:
    """procd's side: owns the file, hands out slots, writes and invalidates them."""

    def __init__(self, socket_path: str) -> None:
        self.path = path_for(socket_path)
        # A new file, never the old one truncated: a client of a previous procd at this address
        # may still map the old one, and a mapping of a truncated file faults (SIGBUS).
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, _SIZE)
            self.mm = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)
        self.free = list(range(SNAPSHOT_SLOTS - 1, -1, -1))
        self.seqs = [0] * SNAPSHOT_SLOTS

    def alloc(self) -> int:
        """A slot for a new LWP, or -1 when all are taken (its reads then go through procd)."""
        return self.free.pop() if self.free else -1

    def release(self, slot: int) -> None:
        if slot >= 0:
            self.invalidate(slot, 0)
            self.free.append(slot)

    def publish(self, slot: int, gen: int, data: bytes, fp: bool = True) -> None:
        """The slot's LWP is stopped and `data` is its status (`fp`: with pr_fpreg filled in)."""
        if slot < 0:
            return
        off = slot * SNAPSHOT_SLOT_SIZE
        seq = self.seqs[slot] + 1
        _HDR.pack_into(self.mm, off, seq, gen, 0, 0)  # odd: being written
        self.mm[off + _HSIZE: off + _HSIZE + len(data)] = data
        seq += 1
        _HDR.pack_into(self.mm, off, seq, gen, VALID if fp else VALID | NO_FP, len(data))
        self.seqs[slot] = seq

    def invalidate(self, slot: int, gen: int) -> None:
        if slot < 0:
            return
        off = slot * SNAPSHOT_SLOT_SIZE
        seq = self.seqs[slot] + 2
        _HDR.pack_into(self.mm, off, seq, gen, 0, 0)
        self.seqs[slot] = seq

    def close(self) -> None:
        self.mm.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def invalidate_all(mm: mmap.mmap) -> None:
    """Mark every slot of a publisher's mapping invalid: its procd is gone (the guardian's
    first act), so no reader may take the last published status for a stopped LWP's."""
    for slot in range(SNAPSHOT_SLOTS):
        off = slot * SNAPSHOT_SLOT_SIZE
        seq, gen, _valid, _length = _HDR.unpack_from(mm, off)
        _HDR.pack_into(mm, off, (seq | 1) + 1, gen, 0, 0)  # even again: a finished write


class Reader:
    """A client's read-only view of procd's snapshots."""

    def __init__(self, socket_path: str) -> None:
        fd = os.open(path_for(socket_path), os.O_RDONLY)
        try:
            self.mm = mmap.mmap(fd, _SIZE, prot=mmap.PROT_READ)
        finally:
            os.close(fd)

    def valid(self, slot: int) -> bool:
        """Whether the slot's LWP is stopped with a current snapshot (one header read)."""
        seq, _gen, valid, _length = _HDR.unpack_from(self.mm, slot * SNAPSHOT_SLOT_SIZE)
        return bool(valid & VALID) and not seq & 1

    def read(self, slot: int, fp: bool = True) -> bytes | None:
        """The slot's lwpstatus_t bytes if the LWP is stopped and the copy is consistent (and,
        with `fp`, has pr_fpreg filled in; without, pr_fpreg may read zero)."""
        off = slot * SNAPSHOT_SLOT_SIZE
        mm, unpack_from = self.mm, _HDR.unpack_from
        for _ in range(3):
            seq, _gen, valid, length = unpack_from(mm, off)
            if seq & 1:
                continue
            if not valid & VALID or (fp and valid & NO_FP):
                return None
            data = mm[off + _HSIZE: off + _HSIZE + length]
            if unpack_from(mm, off)[0] == seq:
                return data
        return None
