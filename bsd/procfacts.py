"""What kern_ptrace and the procfs verbs decide from: a process's facts as the host's /proc
shows them (the engine is asked nothing until the checks have passed, as the seed decides its
permissions up front).

The BSD notions, on Linux: P_SYSTEM is a kernel thread (PF_KTHREAD); P_INEXEC is a process
whose thread-group leader is inside execve/execveat (its /proc/<pid>/syscall names the call);
P_SUGID is a process that is not dumpable (set-id exec or a credential change), which Linux
shows by giving its /proc/<pid> directory to root; securelevel is the kernel lockdown mode.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from structs.syscalls import SYSCALL_NUMBERS

__all__ = ["Facts", "facts", "securelevel"]

_PF_KTHREAD = 0x00200000
_EXECS = {"amd64": {SYSCALL_NUMBERS["amd64"]["execve"], SYSCALL_NUMBERS["amd64"]["execveat"]},
          "i386": {SYSCALL_NUMBERS["i386"]["execve"], SYSCALL_NUMBERS["i386"]["execveat"]}}
_ANY_EXEC = _EXECS["amd64"] | _EXECS["i386"]  # (the data model is looked up only for these)


@dataclass(frozen=True)
class Facts:
    pid: int
    comm: str
    state: str
    ppid: int
    pgid: int
    sid: int
    tty: int
    system: bool
    inexec: bool
    ruid: int
    euid: int
    rgid: int
    egid: int
    groups: tuple[int, ...]
    sugid: bool
    tracer: int  # the host's TracerPid (native_proc's engine when it controls the process)


def _abi(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/exe", "rb") as f:
            return "i386" if f.read(5)[4:5] == b"\x01" else "amd64"
    except OSError:
        return "amd64"


def _inexec(pid: int, state: str, status: Any = None) -> bool:
    """Inside execve: running or blocked in it, or held by a tracer at its entry (a stop on
    the way out of a finished exec, the exec SIGTRAP, is not "exec'ing")."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            first = f.read().split(" ", 1)[0]
    except OSError:
        return False
    if not (first.isdigit() and int(first) in _ANY_EXEC and int(first) in _EXECS[_abi(pid)]):
        return False
    if state not in ("t", "T"):
        return True
    return _held_at_entry(pid, status)


def _held_at_entry(pid: int, status: Any = None) -> bool:
    """Whether lwp 1 is stopped at a system-call entry (PR_SYSENTRY), from its lwpstatus: the
    tracer's own open file when it has one (the published snapshot: no round trip)."""
    import native_proc.client as npc
    from structs.fields import memberof
    from structs.procfs import LWPSTATUS
    from structs.procfs_consts import PR_WHY

    off = memberof(LWPSTATUS["amd64"], "pr_why")[0]
    try:
        if status is not None:
            snap = status.snapshot() or status.pread(off + 2, 0)
        else:
            with npc.open(f"{pid}/lwp/1/lwpstatus") as f:
                snap = f.pread(off + 2, 0)
    except OSError:
        return False
    return len(snap) >= off + 2 and int.from_bytes(snap[off:off + 2], "little", signed=True) == PR_WHY.PR_SYSENTRY


def facts(pid: int, lwpstatus: Any = None) -> Facts | None:
    """The facts of a live process, or None when there is none (or only its zombie: pfind
    finds no zombies).  `lwpstatus`: the caller's open lwpstatus of its lwp 1, if it has one."""
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
            # a process that is not dumpable has its /proc files (not the directory) owned by root
            st = os.fstat(f.fileno())
    except OSError:
        return None
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    rest = stat[stat.rindex(")") + 2:].split()
    state = rest[0]
    if state in ("Z", "X"):
        return None
    ppid, pgid, sid, tty, flags = int(rest[1]), int(rest[2]), int(rest[3]), int(rest[4]), int(rest[6])
    fields = {}
    for line in status.splitlines():
        k, _, v = line.partition(":")
        fields[k] = v.split()
    uids = [int(x) for x in fields.get("Uid", ["0"] * 4)]
    gids = [int(x) for x in fields.get("Gid", ["0"] * 4)]
    system = bool(flags & _PF_KTHREAD)
    return Facts(pid=pid, comm=comm, state=state, ppid=ppid, pgid=pgid, sid=sid, tty=tty, system=system,
                 inexec=not system and _inexec(pid, state, lwpstatus), ruid=uids[0], euid=uids[1], rgid=gids[0], egid=gids[1],
                 groups=tuple(int(x) for x in fields.get("Groups", [])),
                 sugid=not system and (st.st_uid != uids[0] or st.st_gid != gids[0]),
                 tracer=int(fields.get("TracerPid", ["0"])[0]))


def securelevel() -> int:
    """kern.securelevel, read as the kernel lockdown mode: none -1, integrity 1, confidentiality 2."""
    try:
        with open("/sys/kernel/security/lockdown") as f:
            text = f.read()
    except OSError:
        return -1
    if "[integrity]" in text:
        return 1
    if "[confidentiality]" in text:
        return 2
    return -1
