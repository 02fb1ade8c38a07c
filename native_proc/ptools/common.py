"""What the proc tools share: pid[/lwps] arguments, libproc's grab errors, the files they read."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import Iterator

from structs.codec import codec
from structs.procfs import LWPSTATUS, PSINFO, PSTATUS
from structs.procfs_consts import PR_MODEL_LP64

from .. import client

__all__ = ["Grab", "GrabError", "parse_arg", "lwp_in_set", "grab", "grab_error", "read_file",
           "psargs", "signame", "lwps_of", "lwpstatus"]

_PST = codec(PSTATUS["amd64"])
_LST = codec(LWPSTATUS["amd64"])
_PSI = codec(PSINFO["amd64"])

# libproc's Pgrab_error() texts for the grab codes a live process can give.
G_NOPROC, G_ZOMB, G_PERM, G_BUSY, G_SYS, G_SELF, G_BADLWPS, G_STRANGE = (
    "no such process", "zombie process", "permission denied", "process is traced",
    "system process", "attempt to grab self", "bad lwp specification", "unanticipated system error")


class GrabError(Exception):
    """A process that cannot be examined or controlled; str() is libproc's text."""


@dataclass
class Grab:
    """One examined process: its pid, the lwp set asked for (None: all), status and psinfo."""

    pid: int
    lwps: str | None
    status: dict
    psinfo: dict

    @property
    def is64(self) -> bool:
        return self.status["pr_dmodel"] == PR_MODEL_LP64

    @property
    def abi(self) -> str:
        return "amd64" if self.is64 else "i386"


def parse_arg(arg: str) -> tuple[int, str | None]:
    """"PID" or "PID/lwps" (also "/proc/PID/..."): (pid, lwp set text or None)."""
    s = arg
    if s.startswith("/proc/"):
        s = s[len("/proc/"):]
    pid_s, sep, lwps = s.partition("/")
    if not pid_s.isdigit():
        raise GrabError(G_NOPROC)
    if sep and (not lwps or not _valid_set(lwps)):
        raise GrabError(G_BADLWPS)
    return int(pid_s), (lwps if sep else None)


def _valid_set(s: str) -> bool:
    for part in s.split(","):
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() and not (lo == "" and dash):
            return False
        if dash and hi and not hi.isdigit():
            return False
    return True


def lwp_in_set(lwps: str | None, lwpid: int) -> bool:
    """proc_lwp_in_set: "1,3-5", "2-" (2 and up), "-3" (up to 3); None matches every LWP."""
    if lwps is None:
        return True
    for part in lwps.split(","):
        lo, dash, hi = part.partition("-")
        a = int(lo) if lo else 1
        b = (int(hi) if hi else 1 << 31) if dash else a
        if a <= lwpid <= b:
            return True
    return False


def grab_error(e: OSError, pid: int) -> str:
    """The libproc text for why `pid` could not be grabbed."""
    if e.errno in (errno.EACCES, errno.EPERM):
        return G_PERM
    if e.errno == errno.ENOENT:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                # procd refuses a zombie as it refuses a vanished process; tell them apart.
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    return G_ZOMB
        except (OSError, IndexError):
            pass
        return G_NOPROC
    if e.errno == errno.EBUSY:
        return G_BUSY
    return G_STRANGE


def read_file(pid: int, name: str) -> bytes:
    """A whole /proc file of `pid` (e.g. "status", "lwp/1/lwpstatus") through procd."""
    with client.open(f"{pid}/{name}") as f:
        out = bytearray()
        while True:
            chunk = f.read(1 << 16)
            if not chunk:
                return bytes(out)
            out += chunk


def grab(arg: str) -> Grab:
    """Examine `arg` (pid or pid/lwps) as proc_arg_xgrab does: GrabError with libproc's text."""
    pid, lwps = parse_arg(arg)
    if pid == os.getpid():
        raise GrabError(G_SELF)
    try:
        st = _PST.decode(read_file(pid, "status"))
        ps = _PSI.decode(read_file(pid, "psinfo"))
    except OSError as e:
        raise GrabError(grab_error(e, pid)) from None
    return Grab(pid, lwps, st, ps)


def psargs(g: Grab) -> str:
    """pr_psargs up to its NUL, as "%.70s" prints it."""
    return g.psinfo["pr_psargs"].split(b"\0", 1)[0].decode(errors="replace")[:70]


def lwps_of(pid: int) -> list[int]:
    """The pid's LWP ids, ascending."""
    return sorted(int(n) for n in client.listdir(f"{pid}/lwp"))


def lwpstatus(pid: int, lwpid: int) -> dict | None:
    """lwpstatus_t of one LWP, None when it exited meanwhile."""
    try:
        return _LST.decode(read_file(pid, f"lwp/{lwpid}/lwpstatus"))
    except FileNotFoundError:
        return None


def each_lwp(g: Grab) -> Iterator[tuple[int, dict]]:
    """(lwpid, lwpstatus) of each LWP of `g` in its lwp set."""
    for lwpid in lwps_of(g.pid):
        if lwp_in_set(g.lwps, lwpid):
            st = lwpstatus(g.pid, lwpid)
            if st is not None:
                yield lwpid, st


# Solaris signal names as sig2str gives them (the first name of each number: CLD, POLL).
_SIG2STR_FIRST = {18: "CLD", 22: "POLL"}


def signame(sig: int, prefix: bool = True) -> str:
    """proc_signame: "SIGHUP" (prefix) or "HUP"; 18 is CLD and 22 POLL, as sig2str says."""
    from structs.signals import solaris_name

    name = _SIG2STR_FIRST.get(sig) or solaris_name(sig)[3:]
    return ("SIG" + name) if prefix else name


def set_words(s: dict | bytes, n: int) -> list[int]:
    """The 32-bit words of a sigset_t/fltset_t/sysset_t member as decoded."""
    if isinstance(s, dict):
        s = s.get("__sigbits", s.get("word"))
    if isinstance(s, (bytes, bytearray)):
        return [int.from_bytes(s[i:i + 4], "little") for i in range(0, 4 * n, 4)]
    return list(s)[:n]


def members(words: list[int], base: int = 1) -> list[int]:
    return [32 * i + b + base for i, w in enumerate(words) for b in range(32) if w >> b & 1]


def usage_error(out_err, text: str) -> int:
    out_err.write(text)
    return 2
