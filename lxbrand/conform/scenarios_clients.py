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

import os
import time

from structs.ptrace_consts import PTRACE

from .scenario import Dbg, errname, scenario
from .scenarios_modern import (KILL, M, O, TRAP, WALL, cont, exit_via, exit_via_b, eventmsg, peek_var, quiet, settle,
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


def _mem(d: Dbg, ids: list[int], peek: bool = True) -> None:
    """`word` of the target read through each id (its process's memory, whichever thread names
    it), and PEEKDATA'd through each (peek: only when all are in a reported stop -- a thread
    not yet at its first stop may or may not be there for the host, by timing)."""
    addr = d.sym("word", M)
    for tid in ids:
        got = d.b.read_memory(tid, addr, 8)
        text = got.hex() if isinstance(got, bytes) else errname(got)
        d.obs.note(f"read {d.obs._v(tid)}'s memory at &word -> {text}")
        if not peek:
            continue
        r, w = d.b.peek(PTRACE.PEEKDATA, tid, addr)
        d.obs.note(f"PEEKDATA({d.obs._v(tid)}, &word) -> {errname(r)}" + ("" if w is None else f" word={w:#x}"))


@scenario("threads/memory-by-tid")
def threads_memory_by_tid(b, t):
    """A 3-thread tracee (TRACECLONE) whose memory is read through every thread's id, and
    PEEKDATA'd through each, at every stop, traced to its end: each read gives the process's
    memory and changes nothing (lx lost the whole process to a phantom one made from a thread id:
    no more events, ESRCH, the target running on untraced)."""
    d = Dbg(b, t)
    pid = d.traceme("threads3", prog=M)
    setopt(d, pid, O.TRACECLONE)
    ids = [pid]
    for _ in range(2):
        cont(d, pid)
        wait_for(d, pid, WALL)
        tid = eventmsg(d, pid, "thread")
        if not tid:
            return
        ids.append(tid)
        _mem(d, ids, peek=False)
        wait_for(d, tid, WALL)  # its start (SIGSTOP)
        _mem(d, ids)
        cont(d, tid)
        wait_for(d, tid, WALL)  # its int3
        _mem(d, ids)
    cont(d, pid)  # the leader joins both threads
    for tid in reversed(ids[1:]):
        cont(d, tid)
        wait_for(d, tid, WALL)  # its exit
    _mem(d, [pid], peek=False)
    wait_for(d, pid)  # B
    _mem(d, [pid])
    exit_via(d, pid)


@scenario("threads/attach-one-thread")
def threads_attach_one_thread(b, t):
    """ATTACH of one non-leader thread of an untraced process (by its tid): that thread's SIGSTOP
    attach stop, its memory through its id, DETACH; the process goes on and exits as told."""
    d = Dbg(b, t)
    pid = d.plain("attachee-threads", prog=M)
    tids = sorted(int(x) for x in os.listdir(f"/proc/{pid}/task") if int(x) != pid)
    if not tids:
        d.obs.note("no thread")
        return
    tid = tids[0]
    d.obs.alias(tid, "<thread>")
    d.pt(PTRACE.ATTACH, tid, 0, 0, "ATTACH(<thread>)")
    wait_for(d, tid, WALL)
    _mem(d, [tid])
    d.pt(PTRACE.GETREGS, pid, 0, bytearray(216), "GETREGS(<pid>)")  # the leader is not traced
    d.pt(PTRACE.DETACH, tid, 0, 0, "DETACH(<thread>)")
    quiet(d, -1, WALL)


def _parent_reaps(d: Dbg, mode: str, opt: int) -> None:
    pid = d.traceme(mode, prog=M)
    setopt(d, pid, opt)
    cont(d, pid)
    wait_for(d, pid)  # the fork/vfork event
    c = eventmsg(d, pid, "child")
    if not c:
        return
    cont(d, pid)  # on to its waitpid (fork), or held by the kernel until the child exits (vfork)
    wait_for(d, c, WALL)  # the child's attach stop
    cont(d, c)
    settle(c, "Zt")  # it has exited: a zombie nobody reaped yet (lx: held at its exit)
    quiet(d, pid)  # the parent's SIGCHLD is held until the tracer reaped the child
    wait_for(d, c, WALL)  # the child's real exit status
    wait_for(d, pid)  # now the parent's SIGCHLD (or VFORK_DONE and the like)
    exit_via_b(d, pid)
    peek_var(d, pid, "r_status1")
    exit_via(d, pid)


@scenario("event/fork-parent-reaps")
def fork_parent_reaps(b, t):
    """TRACEFORK: the child exits (5) while its traced parent waits for it; before the tracer
    reaps the child, the parent has nothing to report (WNOHANG: 0), the tracer's waitpid(child,
    __WALL) gives exited 5, then the parent stops with its SIGCHLD and its waitpid gets 0x500
    (lx showed the parent's SIGCHLD first and the child's exit as 0 half the time)."""
    _parent_reaps(Dbg(b, t), "fork", O.TRACEFORK)


@scenario("event/vfork-parent-reaps")
def vfork_parent_reaps(b, t):
    """The same across vfork (TRACEVFORK): the child exits 6; its status reaches both."""
    _parent_reaps(Dbg(b, t), "vfork", O.TRACEVFORK)
