"""Scenarios of the wrong answers real clients found (issue 12: python-ptrace, LTP's ptrace tests,
strace and gdb sessions replayed through lx_ptrace), and their siblings.

  kill/cont-sigkill-after-pause   CONT/SYSCALL/SINGLESTEP carrying SIGKILL to tracees that sat
                                  stopped for a second: 0, and the wait says SIGKILL
  event/fork-parent-reaps         a traced fork child exits while its traced parent waits for
                                  it: the parent's notification is held until the tracer reaped
                                  the child, which shows the real exit status
  threads/memory-by-tid           a threaded tracee's memory read through every thread's id
                                  (/proc/TID/mem on the host, TID/as on lx) between stops,
                                  traced to its end: nothing changes
  syscall-info/i386-*             a 32-bit tracee's system-call results in 64-bit fields

The targets are `modern` and `user32` (targets.py); the helpers are scenarios_modern's.
"""

from __future__ import annotations

import time

from structs.ptrace_consts import PTRACE

from .scenario import Dbg, scenario
from .scenarios_modern import (KILL, M, O, TRAP, WALL, cont, exit_via, exit_via_b, eventmsg, peek_var, quiet,
                               regs, setopt, sysinfo, wait_for)

PAUSE = 1.0  # how long the tracees sit stopped before the SIGKILL (the bug needed >= 0.5 s)


@scenario("kill/cont-sigkill-after-pause")
def kill_after_pause(b, t):
    """CONT, SYSCALL and SINGLESTEP with SIGKILL, each twice, on tracees stopped at their exec
    stop (after SETOPTIONS(TRACESYSGOOD) and GETREGS, as python-ptrace does) for a second: each
    request answers 0 and the wait reports SIGKILL (lx answered ESRCH about one time in three)."""
    d = Dbg(b, t)
    reqs = (PTRACE.CONT, PTRACE.SYSCALL, PTRACE.SINGLESTEP) * 2
    pids = []
    for i, _ in enumerate(reqs):
        pid = d.traceme("idle", prog=M, to_a=False, name=f"<t{i}>")
        setopt(d, pid, O.TRACESYSGOOD)
        d.getregs(pid)
        pids.append(pid)
    time.sleep(PAUSE)
    for pid, req in zip(pids, reqs):
        cont(d, pid, KILL, req)
    for pid in pids:
        wait_for(d, pid)


@scenario("syscall-info/i386-mmap2-exit")
def i386_mmap2(b, t):
    """A 32-bit tracee's mmap2 (int $0x80): at its exit GET_SYSCALL_INFO's rval is the address
    0xe0000000, not sign-extended (is_error 0); a failing one (-EBADF) is negative, is_error 1;
    rax and orig_rax as GETREGS shows them at both stops."""
    d = Dbg(b, t)
    pid = d.traceme("mmap2", prog="user32")
    setopt(d, pid, O.TRACESYSGOOD)
    for _ in range(2):
        for _stop in ("entry", "exit"):
            cont(d, pid, 0, PTRACE.SYSCALL)
            wait_for(d, pid)
            sysinfo(d, pid)
            regs(d, pid, ("orig_rax", "rax", "rbx"))
    exit_via(d, pid)
