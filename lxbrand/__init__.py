"""lxbrand: the Linux ptrace personality over native_proc (the illumos lx brand, runnable).

`lx_ptrace(req, pid, addr, data, abi=...)` answers as Linux's ptrace(2) does (0 or -errno);
`lx_wait4`/`lx_waitpid`/`lx_waitid` are the waits that see its stops.  A tracer must reach
procd before it forks a child that will PTRACE_TRACEME (`ensure_procd()`, or any lx call), so
that the child joins the same procd through the inherited environment.
"""

from .ptrace import lx_ptrace
from .wait import lx_wait4, lx_waitid, lx_waitpid

__all__ = ["lx_ptrace", "lx_wait4", "lx_waitpid", "lx_waitid", "ensure_procd"]


def ensure_procd() -> str:
    """Join or start procd now: call before forking a child that will PTRACE_TRACEME."""
    from native_proc.client import ensure_procd as _ensure

    return _ensure()
