"""lxbrand: the Linux ptrace personality over native_proc (the illumos lx brand, runnable).

`lx_ptrace(req, pid, addr, data, abi=...)` answers as Linux's ptrace(2) does (0 or -errno);
`lx_wait4`/`lx_waitpid`/`lx_waitid` are the waits that see its stops.  Nothing is set up first:
every process of a user finds the same procd (native_proc/rendezvous.py), so a tracer may fork
its TRACEME child before its own first call, as Linux programs do.
"""

from .ptrace import lx_ptrace
from .wait import lx_wait4, lx_waitid, lx_waitpid

__all__ = ["lx_ptrace", "lx_wait4", "lx_waitpid", "lx_waitid", "ensure_procd"]


def ensure_procd() -> str:
    """Join (or start) the user's procd now and return its socket path; never required (kept
    for callers that want the start-up cost paid early)."""
    from native_proc.client import ensure_procd as _ensure

    return _ensure()
