"""Native waitid: the host's waitid for ordinary children, plus, as Solaris does for PR_PTRACE
processes, a traced child's /proc stops reported to its parent as CLD_TRAPPED.

Solaris numbering throughout (options SOLARIS_W, idtypes SOLARIS_P, signal numbers, siginfo_t
in the caller's amd64 layout).  procd keeps, per PR_PTRACE process, whether a whole-process
stop is waiting to be reported (once per stop, WNOWAIT leaves it); the client asks procd for
those and the host for everything else.  A blocked waitid waits in procd in short slices and
checks the host between them, because only the parent itself can wait for its children.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from structs.codec import codec
from structs.procfs import SIGINFO, SIGINFO_VIEWS
from structs.procfs_consts import PR_WHY, SOLARIS_P, SOLARIS_W
from structs.signals import LTOS

_CLD_TRAPPED, _CLD_KILLED, _CLD_DUMPED, _CLD_STOPPED = 4, 2, 3, 5
_SIGCHLD_S, _SIGTRAP_S = 18, 5
_PR_PTRACE = 0x4000000
_PR_ASYNC = 0x800000
_SLICE = 0.05  # seconds a blocked waitid waits in procd before looking at the host again

# Solaris -> Linux option bits and idtypes for the host's waitid.
# (plain ints: flag-enum arithmetic costs microseconds on every wait)
_HOST_OPTS = {int(SOLARIS_W.WEXITED): 4, int(SOLARIS_W.WSTOPPED): 2, int(SOLARIS_W.WCONTINUED): 8,
              int(SOLARIS_W.WNOWAIT): 0x1000000}
_ANY_EVENT = int(SOLARIS_W.WEXITED | SOLARIS_W.WTRAPPED | SOLARIS_W.WSTOPPED | SOLARIS_W.WCONTINUED)
_WNOHANG, _WTRAPPED = int(SOLARIS_W.WNOHANG), int(SOLARIS_W.WTRAPPED)
_HOST_IDTYPE = {SOLARIS_P.P_ALL: 0, SOLARIS_P.P_PID: 1, SOLARIS_P.P_PGID: 2}
_VALID_OPTS = int(SOLARIS_W.WEXITED | SOLARIS_W.WTRAPPED | SOLARIS_W.WSTOPPED | SOLARIS_W.WCONTINUED
                  | SOLARIS_W.WNOHANG | SOLARIS_W.WNOWAIT)


def siginfo_chld(pid: int, uid: int, code: int, status: int) -> bytes:
    """A Solaris (amd64) SIGCHLD siginfo_t (Solaris's cld shape carries no uid)."""
    si = codec(SIGINFO["amd64"])
    d = si.decode(bytes(si.size))
    d["si_signo"], d["si_code"] = _SIGCHLD_S, code
    v = codec(SIGINFO_VIEWS["amd64"]["cld"])
    c = v.decode(bytes(v.size))
    c["si_pid"] = pid
    c["pdata"]["si_status"] = status
    d["__data"] = v.encode(c)
    return si.encode(d)


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


def waitid(ask_procd: Any, idtype: int, id: int, options: int, timeout: float | None) -> bytes | None:
    """The client's waitid loop; `ask_procd(idtype, id, options, timeout)` is the WAITID request."""
    import time

    check_args(idtype, options)
    deadline = None if timeout is None else time.monotonic() + timeout
    nohang = bool(options & _WNOHANG)
    if not options & _WTRAPPED:
        return _host(idtype, id, options, block=not nohang)
    while True:
        got = _host(idtype, id, options)  # no round trip; ECHILD: no such child at all
        if got:
            return got
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError("waitid timed out")
        # procd answers at once when a stop is waiting, else holds the request a slice long.
        try:
            got = ask_procd(idtype, id, options, None if nohang else _SLICE)
        except (socket.timeout, TimeoutError):
            continue
        if got or nohang:
            return got or None
