"""The BSD view of native_proc's engine: another personality beside lxbrand (ARCHITECTURE 33).

`bsd_ptrace(req, pid, addr, data)` is DragonFly's ptrace(2) (seed 002) with kern_ptrace's checks;
`bsd_wait` is wait4 for its tracer; `bsd.procfs.open(pid, name)` is the BSD procfs directory of
seed 004 (ctl verbs, status, map, regs, fpregs, dbregs, mem, note, notepg, file, rlimit, etype;
pid "curproc" is the caller).  Everything is carried out as Solaris ctl messages through
native_proc's client; nothing here calls the host's ptrace.  It imports native_proc and structs
only, and nothing below it imports it.
"""

from .ptrace import bsd_ptrace
from .wait import bsd_wait

__all__ = ["bsd_ptrace", "bsd_wait"]
