"""The Solaris /proc files that are built from what the host's /proc tells: no ptrace needed.

Pure functions (no procd state).  Each reads ``/proc/<pid>/...`` of the host (Linux) and returns the
bytes of the Solaris file, laid out for the READER's data model ``model`` ("amd64" or "i386";
ARCHITECTURE "Settled after review" item 3), with Solaris signal numbers (item 13):

=====================================  ==========================================================
``dmodel(pid)``                        PR_MODEL_LP64 / PR_MODEL_ILP32 (ELF class of the executable)
``psinfo(pid, model, lwp=None)``       ``psinfo_t`` (+ ``lwpsinfo_t`` of the representative LWP)
``lwpsinfo(pid, tid, lwpid, model)``   ``lwpsinfo_t`` of host thread ``tid``, numbered ``lwpid``
``maps(pid, model)``                   ``prmap_t[]``
``cred(pid, model)``                   ``prcred_t`` with every supplementary group
``auxv(pid, model)``                   ``auxv_t[]`` (through AT_NULL)
``sigact(pid, model)``                 ``struct sigaction[NSIG-1]`` indexed by Solaris signo - 1
``usage(pid, model)``                  ``prusage_t`` of the process (``lwpusage`` for one LWP)
``sigsets(pid, tid)``                  Solaris ``sigset_t`` bytes: lwppend, procpend, hold, ...
``ids(pid)``                           ``(ppid, pgid, sid)``
``sigset_bytes`` / ``linux_mask``      Linux 64-bit signal mask <-> Solaris 16-byte ``sigset_t``
=====================================  ==========================================================

Rules they share, taken from illumos ``prvnops.c`` / ``prsubr.c``:

* A vanished pid or tid raises ``OSError(ENOENT)`` (a ``FileNotFoundError``), also when the host
  says ESRCH half-way through a read.  Other host errors (EACCES, EPERM) pass through.
* A *zombie process* (every thread has exited, not yet reaped) keeps only ``psinfo``,
  ``lwpsinfo`` and ``usage``: ``maps``, ``cred``, ``auxv`` and ``sigact`` raise ENOENT, as the
  Solaris files do (``prlock(pnp, ZNO)``).  Its ``psinfo`` is what illumos gives for ``t == NULL``:
  ids, credentials, times, ``pr_wstat`` (the host's exit status in the Solaris encoding), no tty,
  ``pr_lwp`` zero but for ``pr_state`` SZOMB / ``pr_sname`` 'Z' and no binding; no name, no args.
* An ILP32 reader of an LP64 target gets EOVERFLOW from ``maps``, ``auxv`` and ``sigact``
  (``pr_read_*_32``), and a ``psinfo`` whose ``pr_size``, ``pr_rssize``, ``pr_argv`` and
  ``pr_envp`` are 0 (``prgetpsinfo32``).  An LP64 reader sees every target in the amd64 layout.
* Linux keeps a thread-group leader that called ``pthread_exit`` as a zombie task while the other
  threads run.  That is one zombie LWP of a live process (``pr_nzomb`` 1), and everything that
  needs the address space is read through a live thread (``/proc/<pid>/task/<tid>/...``).

LWP numbering: the caller (procd) owns it (item 11) and passes it in.  Where a function must pick
an LWP itself (``psinfo`` without ``lwp``) it uses ``default_lwpids``: the leader is 1, the other
threads follow in ascending tid order (creation order unless tids wrapped).

Representative LWP (``psinfo`` without ``lwp``): the first live thread in the order
running > sleeping > stopped (illumos ``prchoose`` prefers runnable, then sleeping, then stopped
LWPs, so "stopped" shows only when all are).

``LIMITATIONS`` lists, one string each, what Linux does not let these files say; the docs
(``docs/limitations.md``) quote it.
"""

from __future__ import annotations

import errno
import os
import struct
import time
from structs import procfs as S
from structs.codec import codec
from structs.procfs_consts import (
    MA,
    PR_MODEL_ILP32,
    PR_MODEL_LP64,
    PR_MODEL_UNKNOWN,
    PRARGSZ,
    PRFNSZ,
    PRMAPSZ,
    PRNODEV,
)
from structs.signals import LINUX_NSIG, LTOS, SOLARIS_NSIG, STOL

from . import host

__all__ = [
    "LIMITATIONS",
    "SSLEEP", "SRUN", "SZOMB", "SSTOP", "SIDL", "SONPROC",
    "LINUX_STATES",
    "PBIND_NONE", "PS_NONE", "SIG_DFL", "SIG_IGN", "SSYS", "NZERO",
    "AT_NULL", "AT_PAGESZ", "AT_ENTRY",
    "sigset_bytes", "linux_mask",
    "dmodel", "ids", "default_lwpids",
    "psinfo", "lwpsinfo", "maps", "cred", "auxv", "sigsets", "sigact", "usage", "lwpusage",
    "xmap", "fds", "path_names", "link", "prheader_array", "lusage", "lpsinfo",
]

# --- Solaris constants these files use (illumos sys/proc.h, sys/processor.h, sys/pset.h,
# sys/signal.h, sys/param.h, sys/auxv.h) ---------------------------------------------------------

SSLEEP, SRUN, SZOMB, SSTOP, SIDL, SONPROC = 1, 2, 3, 4, 5, 6  # pr_state (sys/proc.h)
PBIND_NONE = -1  # pr_bindpro: not bound to a processor
PS_NONE = -1  # pr_bindpset: no processor set
SIG_DFL, SIG_IGN = 0, 1
SSYS = 0x00000001  # p_flag: system (kernel) process, the only psinfo pr_flag bit we can say
NZERO = 20  # pr_nice = nice + NZERO
MAXSYSPRI = 99  # v.v_maxsyspri: pr_oldpri = MAXSYSPRI - pr_pri
AT_NULL, AT_PAGESZ, AT_ENTRY = 0, 6, 9  # the same SysV numbers on both systems

#: Linux task state letter (``/proc/<pid>/task/<tid>/stat`` field 3) -> (Solaris pr_state,
#: pr_sname).  Linux "R" is "runnable or running": it cannot say which, so SONPROC ('O') is never
#: reported; Linux "I" is an idle *kernel thread* (a sleep), not Solaris SIDL (being created),
#: which Linux never shows.  Letters not listed map to (0, '?') as illumos does for unknown states.
LINUX_STATES: dict[str, tuple[int, str]] = {
    "R": (SRUN, "R"),  # running or runnable
    "S": (SSLEEP, "S"),  # interruptible sleep
    "D": (SSLEEP, "S"),  # uninterruptible (disk) sleep
    "I": (SSLEEP, "S"),  # idle kernel thread (TASK_IDLE)
    "P": (SSLEEP, "S"),  # parked kernel thread
    "K": (SSLEEP, "S"),  # wakekill (2.6.33-3.13)
    "W": (SRUN, "R"),  # waking (2.6.33-3.13) / paging (< 2.6)
    "T": (SSTOP, "T"),  # stopped by a job-control signal
    "t": (SSTOP, "T"),  # tracing stop
    "Z": (SZOMB, "Z"),  # zombie
    "X": (SZOMB, "Z"),  # dead (being reaped)
    "x": (SZOMB, "Z"),  # dead (2.6.33-3.13)
}

# Linux scheduling policies (stat field 41) that are Solaris's real-time class.
_RT_POLICIES = frozenset({1, 2, 6})  # SCHED_FIFO, SCHED_RR, SCHED_DEADLINE
_PF_KTHREAD = 0x00200000  # stat field 9 (task flags): a kernel thread

LIMITATIONS: list[str] = [
    "sigact: Linux exposes no way to read another process's signal handler addresses, sa_mask or "
    "sa_flags (ARCHITECTURE item 16). sa_handler is SIG_IGN for ignored signals and SIG_DFL (0) for "
    "every other one, CAUGHT SIGNALS INCLUDED (sigsets()['caught'] says which are caught); sa_mask "
    "and sa_flags are 0 (also SA_NOCLDSTOP / SA_NOCLDWAIT of SIGCHLD).",
    "sigact / sigsets: the Solaris-only signals (SIGEMT, SIGWAITING, SIGLWP, SIGFREEZE, SIGTHAW, "
    "SIGCANCEL, SIGLOST, SIGXRES, SIGINFO) have no Linux counterpart: always SIG_DFL, never pending, "
    "held, ignored or caught.",
    "lwpsinfo pr_state: Linux 'R' does not tell a thread on a CPU from a runnable one, so SONPROC "
    "('O') is never reported (SRUN 'R' is); SIDL ('I') is never reported either (Linux does not show "
    "a thread being created). See LINUX_STATES.",
    "lwpsinfo pr_pri / pr_oldpri / pr_nice: derived from the Linux nice value and real-time priority "
    "(TS: pr_pri = 39 - nice, pr_nice = nice + NZERO; RT: pr_pri = 100 + rt_priority * 59 // 99, "
    "pr_nice 0), not from a Solaris dispatcher table; pr_clname is 'RT' for SCHED_FIFO / SCHED_RR / "
    "SCHED_DEADLINE and 'TS' otherwise.",
    "psinfo / lwpsinfo pr_pctcpu, pr_cpu: the lifetime average (CPU time / elapsed time / online "
    "CPUs), not Solaris's decaying recent average.",
    "psinfo / lwpsinfo pr_addr, pr_wchan (kernel addresses), pr_stype, pr_lgrp are 0; pr_bindpro is "
    "always PBIND_NONE (a Linux affinity mask is not a processor binding) and pr_bindpset PS_NONE.",
    "psinfo pr_taskid, pr_projid, pr_poolid, pr_zoneid are 0 and pr_contract is -1: Linux has no "
    "Solaris tasks, projects, pools, zones or contracts.",
    "psinfo pr_psargs is the host's current /proc/<pid>/cmdline (a process that rewrites its argv "
    "changes it); Solaris keeps the exec-time arguments. pr_argc is read from the initial stack "
    "(the argc word at the stack start), counted from cmdline when memory cannot be read.",
    "psinfo of a zombie process: the executable is gone with the address space, so pr_dmodel is "
    "PR_MODEL_UNKNOWN unless the caller passes target_model; pr_wstat is the leader's exit code, "
    "which differs from the process's exit status in one corner (the leader called pthread_exit and "
    "another thread exited the process).",
    "lwpsinfo pr_syscall: read from /proc/<pid>/task/<tid>/syscall for a sleeping or stopped LWP (a "
    "host system-call number, ARCHITECTURE decision 2); 0 for a running LWP or when the host refuses "
    "the read.",
    "maps: pr_mapname is the mapped file's base name (special mappings keep their bracketed name, "
    "[vdso], [vvar], ...), not Solaris's /proc/<pid>/object name (a.out, <fs>.<fsid>.<inode>); "
    "MA_ANON marks only mappings without a file (Solaris also marks private file mappings that "
    "have copy-on-write pages); MA_NORESERVE and MA_ISM are never set; pr_pagesize is the base "
    "page size, also for hugetlb mappings.",
    "auxv: a_type values are the host's (Linux) AT_* numbers. 0..9 (AT_NULL .. AT_ENTRY) are the "
    "SysV values both systems share; Linux-only types (AT_UID 11 .. AT_CLKTCK 17, AT_SECURE 23, "
    "AT_RANDOM 25, AT_EXECFN 31, AT_SYSINFO_EHDR 33, ...) pass through unchanged, not renamed to "
    "AT_SUN_*. The vector ends at its AT_NULL entry (Solaris pads a fixed-size array with AT_NULL).",
    "usage: only user and system time are measured; the other microstate times (trap, faults, "
    "user lock, sleep, wait-cpu, stopped) are 0; pr_term is 0 and pr_rtime keeps growing for a "
    "zombie (Linux keeps no exit time); pr_nswap, pr_inblk, pr_oublk, pr_msnd, pr_mrcv, pr_sigs "
    "and pr_sysc are 0; pr_ioch is rchar + wchar from /proc/<pid>/io (0 when not readable).",
]

# --- small host-reading helpers ---------------------------------------------------------------------

_HZ = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGESIZE")
_NS_PER_TICK = 1_000_000_000 // _HZ
_MODELS = ("amd64", "i386")


def _gone(path: str) -> OSError:
    return OSError(errno.ENOENT, f"{path}: no such process or LWP")


def _read(path: str, limit: int = 1 << 30) -> bytes:
    """The whole file (at most ``limit`` bytes); ENOENT for a vanished process or thread."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ESRCH):
            raise _gone(path) from None
        raise
    try:
        chunks = []
        n = 0
        while n < limit:
            b = os.read(fd, min(65536, limit - n))
            if not b:
                break
            chunks.append(b)
            n += len(b)
        return b"".join(chunks)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ESRCH):
            raise _gone(path) from None
        raise
    finally:
        os.close(fd)


def _stat(path: str) -> tuple[bytes, list[bytes]]:
    """(comm, fields from field 3 on) of a ``stat`` file; ``fields[i]`` is stat field ``i + 3``."""
    raw = _read(path)
    lp, rp = raw.find(b"("), raw.rfind(b")")
    if lp < 0 or rp < 0:
        raise _gone(path)
    return raw[lp + 1 : rp], raw[rp + 2 :].split()


# Indexes into _stat()'s field list (stat field number - 3), proc(5).
_F_STATE, _F_PPID, _F_PGRP, _F_SESSION, _F_TTY, _F_FLAGS = 0, 1, 2, 3, 4, 6
_F_MINFLT, _F_MAJFLT, _F_UTIME, _F_STIME, _F_CUTIME, _F_CSTIME = 7, 9, 11, 12, 13, 14
_F_NICE, _F_NTHREADS, _F_START, _F_VSIZE, _F_RSS, _F_STARTSTACK = 16, 17, 19, 20, 21, 25
_F_PROCESSOR, _F_RTPRIO, _F_POLICY, _F_EXITCODE = 36, 37, 38, 49


def _fi(fields: list[bytes], i: int) -> int:
    return int(fields[i]) if i < len(fields) else 0


def _status(path: str) -> dict[bytes, bytes]:
    out = {}
    for line in _read(path).split(b"\n"):
        k, sep, v = line.partition(b":")
        if sep:
            out[k] = v.strip()
    return out


def _tids(pid: int) -> list[int]:
    """Host tids of ``pid``: the leader first, then ascending."""
    try:
        names = os.listdir(f"/proc/{pid}/task")
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ESRCH):
            raise _gone(f"/proc/{pid}") from None
        raise
    tids = sorted(int(n) for n in names)
    if pid in tids:
        tids.remove(pid)
        tids.insert(0, pid)
    return tids


def default_lwpids(pid: int) -> dict[int, int]:
    """{host tid: lwpid} as numbered without procd: the leader is 1, then ascending tids."""
    return {tid: i + 1 for i, tid in enumerate(_tids(pid))}


def _check_model(model: str) -> None:
    if model not in _MODELS:
        raise ValueError(f"unknown data model {model!r} (amd64 or i386)")


class _Proc:
    """One look at a process: the leader's stat, and (on demand) a live thread for mm reads."""

    __slots__ = ("pid", "comm", "f", "zombie_leader", "_mm_tid")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.comm, self.f = _stat(f"/proc/{pid}/stat")
        self.zombie_leader = self.f[_F_STATE][:1] in (b"Z", b"X")
        self._mm_tid: int | None = None if self.zombie_leader else pid

    def mm_tid(self) -> int | None:
        """A thread that still has the address space (None: a zombie process)."""
        if self._mm_tid is None and self.zombie_leader:
            for tid in _tids(self.pid)[1:]:
                try:
                    _, f = _stat(f"/proc/{self.pid}/task/{tid}/stat")
                except OSError:
                    continue
                if f[_F_STATE][:1] not in (b"Z", b"X"):
                    self._mm_tid = tid
                    break
        return self._mm_tid

    def mm_dir(self) -> str:
        """/proc/<pid> or /proc/<pid>/task/<live tid>; ENOENT for a zombie process."""
        tid = self.mm_tid()
        if tid is None:
            raise _gone(f"/proc/{self.pid} (zombie)")
        return f"/proc/{self.pid}" if tid == self.pid else f"/proc/{self.pid}/task/{tid}"

    @property
    def kthread(self) -> bool:
        return bool(_fi(self.f, _F_FLAGS) & _PF_KTHREAD)


# --- clocks ---------------------------------------------------------------------------------------

_boot_ns = 0


def _boot_realtime_ns() -> int:
    """The wall-clock time of boot, in ns (stat's starttime counts from boot on CLOCK_BOOTTIME).

    Kept stable between calls (re-read only if the clocks moved apart by more than 1 ms), so that
    successive reads of pr_start agree.
    """
    global _boot_ns
    now = time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    if abs(now - _boot_ns) > 1_000_000:
        _boot_ns = now
    return _boot_ns


def _ts(ns: int, model: str) -> dict[str, int]:
    sec, nsec = divmod(ns, 1_000_000_000)
    if model == "i386":
        sec = (sec + (1 << 31)) % (1 << 32) - (1 << 31)  # time32_t, as TIMESPEC_TO_TIMESPEC32 truncates
    return {"tv_sec": sec, "tv_nsec": nsec}


def _ticks_ts(ticks: int, model: str) -> dict[str, int]:
    return _ts(ticks * _NS_PER_TICK, model)


def _pct(cpu_ticks: int, start_ticks: int) -> int:
    """16-bit binary fraction (0x8000 = 100%) of all online CPUs, averaged over the lifetime."""
    now_ticks = time.clock_gettime_ns(time.CLOCK_BOOTTIME) // _NS_PER_TICK
    elapsed = now_ticks - start_ticks
    if elapsed <= 0:
        return 0
    ncpu = os.sysconf("SC_NPROCESSORS_ONLN") or 1
    return min(0x8000, cpu_ticks * 0x8000 // (elapsed * ncpu))


# --- signal sets ----------------------------------------------------------------------------------


def _tables() -> tuple[list[list[int]], list[list[int]]]:
    l2s = [[0] * 256 for _ in range(8)]
    s2l = [[0] * 256 for _ in range(16)]
    for byte in range(8):
        for v in range(256):
            acc = 0
            for bit in range(8):
                if v >> bit & 1:
                    lsig = byte * 8 + bit + 1
                    if lsig < LINUX_NSIG and LTOS[lsig]:
                        acc |= 1 << (LTOS[lsig] - 1)
            l2s[byte][v] = acc
    for byte in range(16):
        for v in range(256):
            acc = 0
            for bit in range(8):
                if v >> bit & 1:
                    ssig = byte * 8 + bit + 1
                    if ssig < SOLARIS_NSIG and STOL[ssig]:
                        acc |= 1 << (STOL[ssig] - 1)
            s2l[byte][v] = acc
    return l2s, s2l


_L2S, _S2L = _tables()


def sigset_bytes(linux_mask: int) -> bytes:
    """The Solaris ``sigset_t`` (16 raw bytes) of a Linux 64-bit mask (bit n-1 = Linux signal n)."""
    acc = 0
    for i in range(8):
        b = linux_mask >> (8 * i) & 0xFF
        if b:
            acc |= _L2S[i][b]
    return acc.to_bytes(16, "little")


def linux_mask(solaris_set: bytes) -> int:
    """The Linux 64-bit mask of a Solaris ``sigset_t``; Solaris-only signals are dropped."""
    acc = 0
    for i, b in enumerate(bytes(solaris_set[:16])):
        if b:
            acc |= _S2L[i][b]
    return acc


def sigsets(pid: int, tid: int) -> dict[str, bytes]:
    """The Solaris sets of LWP ``tid`` of ``pid``, each 16 raw ``sigset_t`` bytes.

    ``lwppend``: pending on the thread itself (SigPnd); ``procpend``: pending on the process
    (ShdPnd); ``hold``: the thread's mask (SigBlk); ``ignored`` (SigIgn) and ``caught`` (SigCgt):
    the process's dispositions.
    """
    st = _status(f"/proc/{pid}/task/{tid}/status")
    keys = {"lwppend": b"SigPnd", "procpend": b"ShdPnd", "hold": b"SigBlk",
            "ignored": b"SigIgn", "caught": b"SigCgt"}  # fmt: skip
    return {name: sigset_bytes(int(st.get(k, b"0"), 16)) for name, k in keys.items()}


# --- dmodel, ids ------------------------------------------------------------------------------------


def _elf_model(path: str) -> int:
    head = _read(path, 5)
    if len(head) < 5 or head[:4] != b"\x7fELF":
        return PR_MODEL_UNKNOWN
    return {1: PR_MODEL_ILP32, 2: PR_MODEL_LP64}.get(head[4], PR_MODEL_UNKNOWN)


def dmodel(pid: int) -> int:
    """PR_MODEL_LP64 / PR_MODEL_ILP32 from the ELF class (EI_CLASS) of the executable.

    ENOENT if the process is gone.  A zombie process (no executable left) is PR_MODEL_UNKNOWN; a
    kernel thread is PR_MODEL_LP64 (the kernel's own model).
    """
    p = _Proc(pid)
    return _dmodel(p)


def _dmodel(p: _Proc) -> int:
    if p.kthread:
        return PR_MODEL_LP64
    tid = p.mm_tid()
    if tid is None:
        return PR_MODEL_UNKNOWN
    try:
        return _elf_model(f"/proc/{p.pid}/exe" if tid == p.pid else f"/proc/{p.pid}/task/{tid}/exe")
    except FileNotFoundError:
        _stat(f"/proc/{p.pid}/stat")  # gone -> ENOENT; still there (exiting) -> unknown
        return PR_MODEL_UNKNOWN


def ids(pid: int) -> tuple[int, int, int]:
    """(ppid, pgid, sid) of ``pid``."""
    _, f = _stat(f"/proc/{pid}/stat")
    return int(f[_F_PPID]), int(f[_F_PGRP]), int(f[_F_SESSION])


def _ilp32_reader_check(p: _Proc, model: str) -> None:
    """EOVERFLOW for an ILP32 reader of an LP64 target (illumos PROCESS_NOT_32BIT)."""
    if model == "i386" and _dmodel(p) == PR_MODEL_LP64:
        raise OSError(errno.EOVERFLOW, f"/proc/{p.pid}: a 32-bit reader cannot read a 64-bit process")


# --- lwpsinfo ---------------------------------------------------------------------------------------

_TEMPLATES: dict[tuple[str, str], dict] = {}


def _zero(name: str, model: str) -> dict:
    """A fresh all-zero dict of a schema (shallow copy of a cached template)."""
    key = (name, model)
    t = _TEMPLATES.get(key)
    if t is None:
        c = codec(getattr(S, name)[model])
        t = _TEMPLATES[key] = c.decode(bytes(c.size))
    return dict(t)


def _cstr(b: bytes, size: int) -> bytes:
    """At most size-1 bytes and a NUL, padded to ``size``."""
    b = b[: size - 1]
    return b + bytes(size - len(b))


def _sched(f: list[bytes]) -> tuple[bytes, int, int, int]:
    """(clname, pr_pri, pr_oldpri, pr_nice) from a task's stat fields (see LIMITATIONS)."""
    policy = _fi(f, _F_POLICY)
    if policy in _RT_POLICIES:
        rt = max(0, min(99, _fi(f, _F_RTPRIO)))
        return b"RT", 100 + rt * 59 // 99, 0, 0  # CL_DONICE fails for RT: oldpri and nice 0
    nice = _fi(f, _F_NICE)
    pri = 39 - nice
    return b"TS", pri, MAXSYSPRI - pri, nice + NZERO


def _syscall_of(path: str) -> int:
    """The host system call the task is in, from its ``syscall`` file; 0 if none or unreadable."""
    try:
        first = _read(path, 64).split(b" ", 1)[0].strip()
        nr = int(first)
    except (OSError, ValueError):
        return 0
    return nr if 0 <= nr < 0x8000 else 0


def _lwpsinfo_dict(pid: int, tid: int, lwpid: int, model: str, comm: bytes, f: list[bytes]) -> dict:
    d = _zero("LWPSINFO", model)
    d["pr_lwpid"] = lwpid
    letter = f[_F_STATE][:1].decode("ascii", "replace")
    state, sname = LINUX_STATES.get(letter, (0, "?"))
    start_ticks = _fi(f, _F_START)
    d["pr_state"], d["pr_sname"] = state, ord(sname)
    # illumos gives the LWP start in whole seconds (t_start is a time_t).
    d["pr_start"] = {"tv_sec": _ts(_boot_realtime_ns() + start_ticks * _NS_PER_TICK, model)["tv_sec"],
                     "tv_nsec": 0}
    if state == SZOMB:  # a zombie LWP: lwpid, state and start only (pr_read_lwpsinfo)
        return d
    clname, pri, oldpri, nice = _sched(f)
    d["pr_clname"] = _cstr(clname, len(d["pr_clname"]))
    d["pr_pri"], d["pr_oldpri"], d["pr_nice"] = pri, max(-128, min(127, oldpri)), nice
    if state in (SSLEEP, SSTOP):
        d["pr_syscall"] = _syscall_of(f"/proc/{pid}/task/{tid}/syscall")
    cpu = _fi(f, _F_UTIME) + _fi(f, _F_STIME)
    d["pr_time"] = _ticks_ts(cpu, model)
    pct = _pct(cpu, start_ticks)
    d["pr_pctcpu"] = pct
    d["pr_cpu"] = min(99, (pct * 100 + 0x6000) >> 15)
    d["pr_name"] = _cstr(comm, PRFNSZ)
    d["pr_onpro"] = _fi(f, _F_PROCESSOR)
    d["pr_bindpro"] = PBIND_NONE
    d["pr_bindpset"] = PS_NONE
    return d


def lwpsinfo(pid: int, tid: int, lwpid: int, model: str) -> bytes:
    """``lwpsinfo_t`` of host thread ``tid`` of ``pid``, reported as LWP ``lwpid``."""
    _check_model(model)
    comm, f = _stat(f"/proc/{pid}/task/{tid}/stat")
    return codec(S.LWPSINFO[model]).encode(_lwpsinfo_dict(pid, tid, lwpid, model, comm, f))


# --- psinfo -----------------------------------------------------------------------------------------

_RANK = {SRUN: 0, SONPROC: 0, SSLEEP: 1, SSTOP: 2}


def _choose(pid: int) -> tuple[int, int, bytes, list[bytes]] | None:
    """(tid, lwpid, comm, stat fields) of the representative live thread, or None (all exited)."""
    best = None
    for lwpid, tid in enumerate(_tids(pid), 1):
        try:
            comm, f = _stat(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            continue
        state = LINUX_STATES.get(f[_F_STATE][:1].decode("ascii", "replace"), (0, "?"))[0]
        if state == SZOMB:
            continue
        rank = _RANK.get(state, 3)
        if best is None or rank < best[0]:
            best = (rank, tid, lwpid, comm, f)
            if rank == 0:
                break
    return None if best is None else best[1:]


def _dev(dev: int, model: str) -> int:
    """A Linux device number as a Solaris dev_t of ``model`` (PRNODEV for none / unrepresentable)."""
    if dev == 0:
        return PRNODEV[model]
    major, minor = os.major(dev), os.minor(dev)
    if model == "amd64":  # NBITSMINOR64 = 32
        return major << 32 | minor
    if major > 0x3FFF or minor > 0x3FFFF:  # cmpldev: MAXMAJ32, MAXMIN32
        return PRNODEV[model]
    return major << 18 | minor  # NBITSMINOR32 = 18


def _wstat(code: int) -> int:
    """A Linux wait status in Solaris encoding (signal numbers translated; wstat())."""
    sig = code & 0x7F
    if sig == 0:
        return code & 0xFF00  # exited: (status & 0xff) << 8
    if sig == 0x7F:
        return 0  # stopped: not an exit status
    return (LTOS[sig] if sig < LINUX_NSIG else sig) | (code & 0x80)  # killed (| WCOREFLG)


def _argc_from_stack(tid: int, startstack: int, word: int) -> int | None:
    if not startstack:
        return None
    try:
        raw = host.process_vm_readv(tid, startstack, word)
    except OSError:
        return None
    if len(raw) != word:
        return None
    n = int.from_bytes(raw, "little")
    return n if n < 1 << 20 else None


def psinfo(pid: int, model: str, lwp: tuple[int, int] | None = None, *,
           target_model: int | None = None) -> bytes:
    """``psinfo_t`` of ``pid`` for a reader of ``model``.

    ``lwp`` = (host tid, lwpid) of the representative LWP, as procd numbers it; without it the
    representative is chosen here (module docstring) and numbered by ``default_lwpids``.
    ``target_model`` (a PR_MODEL_* value) overrides the data model read from the executable; only
    useful for a zombie, whose executable is gone.
    """
    _check_model(model)
    p = _Proc(pid)
    f = p.f
    st = _status(f"/proc/{pid}/status")
    d = _zero("PSINFO", model)
    nthreads = int(st.get(b"Threads", b"1") or 1)
    zombie_proc = p.zombie_leader and p.mm_tid() is None
    d["pr_flag"] = SSYS if p.kthread else 0
    if p.zombie_leader:
        d["pr_nlwp"] = nthreads - 1 if nthreads > 1 else 0
        d["pr_nzomb"] = 1 if nthreads > 1 else 0
    else:
        d["pr_nlwp"] = nthreads
    d["pr_pid"] = pid
    d["pr_ppid"], d["pr_pgid"], d["pr_sid"] = int(f[_F_PPID]), int(f[_F_PGRP]), int(f[_F_SESSION])
    uid = [int(x) for x in st.get(b"Uid", b"0 0 0 0").split()]
    gid = [int(x) for x in st.get(b"Gid", b"0 0 0 0").split()]
    d["pr_uid"], d["pr_euid"], d["pr_gid"], d["pr_egid"] = uid[0], uid[1], gid[0], gid[1]
    if target_model is not None:
        tmodel = target_model
    else:
        try:
            tmodel = _dmodel(p)
        except PermissionError:  # psinfo is world-readable; the executable is not
            tmodel = PR_MODEL_UNKNOWN
    d["pr_dmodel"] = tmodel
    d["pr_time"] = _ticks_ts(_fi(f, _F_UTIME) + _fi(f, _F_STIME), model)
    d["pr_ctime"] = _ticks_ts(_fi(f, _F_CUTIME) + _fi(f, _F_CSTIME), model)
    d["pr_contract"] = -1
    if zombie_proc:
        d["pr_wstat"] = _wstat(_fi(f, _F_EXITCODE))
        d["pr_ttydev"] = PRNODEV[model]
        lw = _zero("LWPSINFO", model)
        lw["pr_state"], lw["pr_sname"] = SZOMB, ord("Z")
        lw["pr_bindpro"], lw["pr_bindpset"] = PBIND_NONE, PS_NONE
        d["pr_lwp"] = lw
        return codec(S.PSINFO[model]).encode(d)

    # A live process.  mm-dependent values come from a live thread's stat.
    mm_tid = p.mm_tid() or pid
    mf = f if mm_tid == pid else _stat(f"/proc/{pid}/task/{mm_tid}/stat")[1]
    d["pr_ttydev"] = _dev(_fi(f, _F_TTY), model)
    start_ticks = _fi(f, _F_START)
    d["pr_start"] = _ts(_boot_realtime_ns() + start_ticks * _NS_PER_TICK, model)
    d["pr_fname"] = _cstr(p.comm, PRFNSZ)
    cmdline = _read(f"/proc/{pid}/cmdline", 4096) if mm_tid == pid else \
        _read(f"/proc/{pid}/task/{mm_tid}/cmdline", 4096)
    args = cmdline[:-1] if cmdline.endswith(b"\0") else cmdline
    d["pr_psargs"] = _cstr(args.replace(b"\0", b" ") if args else (p.comm if p.kthread else b""), PRARGSZ)
    word = 4 if tmodel == PR_MODEL_ILP32 else 8
    startstack = _fi(mf, _F_STARTSTACK)
    argc = _argc_from_stack(mm_tid, startstack, word)
    if argc is None:
        if len(cmdline) >= 4096:
            cmdline = _read(f"/proc/{pid}/task/{mm_tid}/cmdline")
        argc = cmdline.count(b"\0") if cmdline else 0
    d["pr_argc"] = argc
    if startstack:
        d["pr_argv"] = startstack + word
        d["pr_envp"] = startstack + word * (argc + 2)
    vsize, rss_pages = _fi(mf, _F_VSIZE), _fi(mf, _F_RSS)
    d["pr_size"] = vsize // 1024
    d["pr_rssize"] = rss_pages * (_PAGE // 1024)
    phys = os.sysconf("SC_PHYS_PAGES") or 1
    d["pr_pctmem"] = min(0x8000, rss_pages * 0x8000 // phys)
    d["pr_pctcpu"] = _pct(_fi(f, _F_UTIME) + _fi(f, _F_STIME), start_ticks)
    if model == "i386" and tmodel != PR_MODEL_ILP32:
        # prgetpsinfo32: fields an LP64 process cannot represent in ILP32 are zeroed.
        d["pr_size"] = d["pr_rssize"] = d["pr_argv"] = d["pr_envp"] = 0
    mask = (1 << (32 if model == "i386" else 64)) - 1
    for k in ("pr_size", "pr_rssize", "pr_argv", "pr_envp"):
        d[k] &= mask

    if lwp is not None:
        tid, lwpid = lwp
        comm, tf = _stat(f"/proc/{pid}/task/{tid}/stat")
        d["pr_lwp"] = _lwpsinfo_dict(pid, tid, lwpid, model, comm, tf)
    else:
        rep = _choose(pid)
        if rep is not None:
            tid, lwpid, comm, tf = rep
            d["pr_lwp"] = _lwpsinfo_dict(pid, tid, lwpid, model, comm, tf)
        else:
            d["pr_lwp"] = _zero("LWPSINFO", model)
    return codec(S.PSINFO[model]).encode(d)


# --- map ----------------------------------------------------------------------------------------


def _mapname(path: bytes) -> bytes:
    if not path:
        return b""
    if path.startswith(b"["):
        if path in (b"[heap]", b"[stack]") or path.startswith((b"[anon:", b"[anon_shmem:", b"[stack:")):
            return b""
        return path
    if path.endswith(b" (deleted)"):
        path = path[: -len(b" (deleted)")]
    return path.rsplit(b"/", 1)[-1]


def maps(pid: int, model: str) -> bytes:
    """``prmap_t[]`` from ``/proc/<pid>/maps`` (see the module docstring for EOVERFLOW/ENOENT)."""
    _check_model(model)
    p = _Proc(pid)
    mm = p.mm_dir()  # ENOENT for a zombie process
    _ilp32_reader_check(p, model)
    c = codec(S.PRMAP[model])
    base = _zero("PRMAP", model)
    out = []
    for line in _read(f"{mm}/maps").split(b"\n"):
        if not line:
            continue
        parts = line.split(None, 5)
        if len(parts) < 5:
            continue
        lo, _, hi = parts[0].partition(b"-")
        start, end = int(lo, 16), int(hi, 16)
        perms, offset, inode = parts[1], int(parts[2], 16), int(parts[4])
        path = parts[5].strip() if len(parts) > 5 else b""
        flags = 0
        if perms[0:1] == b"r":
            flags |= MA.MA_READ
        if perms[1:2] == b"w":
            flags |= MA.MA_WRITE
        if perms[2:3] == b"x":
            flags |= MA.MA_EXEC
        if perms[3:4] == b"s":
            flags |= MA.MA_SHARED
        shmid = -1
        if path == b"[stack]" or path.startswith(b"[stack:"):
            flags |= MA.MA_STACK | MA.MA_ANON
        elif path == b"[heap]":
            flags |= MA.MA_BREAK | MA.MA_ANON
        elif path.startswith(b"/SYSV") and inode:
            flags |= MA.MA_SHM | MA.MA_ANON  # System V shm: the shm file's inode is the shmid
            shmid = inode
            path = b""
        elif not path or path.startswith((b"[anon:", b"[anon_shmem:")):
            flags |= MA.MA_ANON
        d = dict(base)
        d["pr_vaddr"], d["pr_size"] = start, end - start
        d["pr_mapname"] = _cstr(_mapname(path), PRMAPSZ)
        d["pr_offset"] = offset
        d["pr_mflags"] = int(flags)
        d["pr_pagesize"] = _PAGE
        d["pr_shmid"] = shmid
        out.append(c.encode(d))
    return b"".join(out)


# --- cred -------------------------------------------------------------------------------------------


def cred(pid: int, model: str) -> bytes:
    """``prcred_t`` followed by every supplementary group: offsetof(pr_groups) + 4 * max(n, 1) bytes."""
    _check_model(model)
    p = _Proc(pid)
    p.mm_dir()  # ENOENT for a zombie process
    st = _status(f"/proc/{pid}/status")
    uid = [int(x) for x in st[b"Uid"].split()]
    gid = [int(x) for x in st[b"Gid"].split()]
    groups = [int(x) for x in st.get(b"Groups", b"").split()]
    d = _zero("PRCRED", model)
    d["pr_ruid"], d["pr_euid"], d["pr_suid"] = uid[0], uid[1], uid[2]
    d["pr_rgid"], d["pr_egid"], d["pr_sgid"] = gid[0], gid[1], gid[2]
    d["pr_ngroups"] = len(groups)
    d["pr_groups"] = [groups[0] if groups else 0]
    head = codec(S.PRCRED[model]).encode(d)
    return head + struct.pack(f"<{max(len(groups) - 1, 0)}I", *groups[1:])


# --- auxv -------------------------------------------------------------------------------------------


def auxv(pid: int, model: str) -> bytes:
    """``auxv_t[]`` through AT_NULL, from the host's auxv (in the target's own word size)."""
    _check_model(model)
    p = _Proc(pid)
    mm = p.mm_dir()
    tmodel = _dmodel(p)
    _ilp32_reader_check(p, model)
    raw = _read(f"{mm}/auxv")
    fmt = "<II" if tmodel == PR_MODEL_ILP32 else "<QQ"
    step = struct.calcsize(fmt)
    c = codec(S.AUXV[model])
    base = _zero("AUXV", model)
    out = []
    for off in range(0, len(raw) - step + 1, step):
        a_type, a_val = struct.unpack_from(fmt, raw, off)
        d = dict(base)
        a_type &= 0xFFFFFFFF
        d["a_type"] = a_type - (1 << 32) if a_type >> 31 else a_type  # int a_type
        d["a_un"] = a_val
        out.append(c.encode(d))
        if a_type == AT_NULL:
            break
    return b"".join(out)


# --- sigact -----------------------------------------------------------------------------------------


def sigact(pid: int, model: str) -> bytes:
    """``struct sigaction[SOLARIS_NSIG - 1]`` (73 entries) indexed by Solaris signo - 1.

    Only the disposition ignore / not ignore is known (LIMITATIONS): sa_handler is SIG_IGN for an
    ignored signal, SIG_DFL otherwise (caught signals included); sa_flags and sa_mask are 0.
    """
    _check_model(model)
    p = _Proc(pid)
    p.mm_dir()  # ENOENT for a zombie process
    _ilp32_reader_check(p, model)
    st = _status(f"/proc/{pid}/status")
    ignored = int.from_bytes(sigset_bytes(int(st.get(b"SigIgn", b"0"), 16)), "little")
    c = codec(S.SIGACTION[model])
    dfl = dict(_zero("SIGACTION", model))
    dfl_bytes = c.encode(dfl)
    ign = dict(dfl)
    ign["sa_handler"] = SIG_IGN
    ign_bytes = c.encode(ign)
    return b"".join(ign_bytes if ignored >> (s - 1) & 1 else dfl_bytes for s in range(1, SOLARIS_NSIG))


# --- usage ------------------------------------------------------------------------------------------


def _usage_dict(f: list[bytes], st: dict[bytes, bytes], io: dict[bytes, bytes], model: str,
                lwpid: int, count: int) -> dict:
    d = _zero("PRUSAGE", model)
    now = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    create = _fi(f, _F_START) * _NS_PER_TICK
    d["pr_lwpid"], d["pr_count"] = lwpid, count
    d["pr_tstamp"] = _ts(now, model)
    d["pr_create"] = _ts(create, model)
    d["pr_rtime"] = _ts(max(0, now - create), model)
    d["pr_utime"] = _ticks_ts(_fi(f, _F_UTIME), model)
    d["pr_stime"] = _ticks_ts(_fi(f, _F_STIME), model)
    mask = (1 << (32 if model == "i386" else 64)) - 1
    d["pr_minf"] = _fi(f, _F_MINFLT) & mask
    d["pr_majf"] = _fi(f, _F_MAJFLT) & mask
    d["pr_vctx"] = int(st.get(b"voluntary_ctxt_switches", b"0")) & mask
    d["pr_ictx"] = int(st.get(b"nonvoluntary_ctxt_switches", b"0")) & mask
    d["pr_ioch"] = (int(io.get(b"rchar", b"0")) + int(io.get(b"wchar", b"0"))) & mask
    return d


def _io(path: str) -> dict[bytes, bytes]:
    try:
        return _status(path)
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise
        return {}


def usage(pid: int, model: str) -> bytes:
    """``prusage_t`` of the whole process (survives the zombie state)."""
    _check_model(model)
    p = _Proc(pid)
    st = _status(f"/proc/{pid}/status")
    nthreads = int(st.get(b"Threads", b"1") or 1)
    count = (nthreads - 1) if p.zombie_leader else nthreads
    d = _usage_dict(p.f, st, _io(f"/proc/{pid}/io"), model, 0, count)
    return codec(S.PRUSAGE[model]).encode(d)


def lwpusage(pid: int, tid: int, lwpid: int, model: str) -> bytes:
    """``prusage_t`` of one LWP (host thread ``tid`` numbered ``lwpid``)."""
    _check_model(model)
    base = f"/proc/{pid}/task/{tid}"
    _, f = _stat(f"{base}/stat")
    st = _status(f"{base}/status")
    d = _usage_dict(f, st, _io(f"{base}/io"), model, lwpid, 1)
    return codec(S.PRUSAGE[model]).encode(d)


# --- xmap -------------------------------------------------------------------------------------------

_SMAPS_KB = {b"Rss": "pr_rss", b"Anonymous": "pr_anon", b"Locked": "pr_locked"}


def xmap(pid: int, model: str) -> bytes:
    """``prxmap_t[]`` from ``/proc/<pid>/smaps``: ``map``'s entries (same order, names, flags), with
    the mapped object's device and inode, and resident, anonymous and locked pages (counted in
    ``pr_pagesize`` pages, as Solaris counts them) from smaps' kB figures."""
    _check_model(model)
    p = _Proc(pid)
    mm = p.mm_dir()
    _ilp32_reader_check(p, model)
    heads = codec(S.PRMAP[model])
    c = codec(S.PRXMAP[model])
    base = _zero("PRXMAP", model)
    plain = maps(pid, model)
    entries: dict[int, dict] = {}  # by start address: the two reads may see different maps
    cur: dict | None = None
    for line in _read(f"{mm}/smaps").split(b"\n"):
        if not line:
            continue
        first = line.split(None, 1)[0]
        if b"-" in first and not first.endswith(b":"):
            parts = line.split(None, 5)
            devmaj, _, devmin = parts[3].partition(b":")
            dev, ino = os.makedev(int(devmaj, 16), int(devmin, 16)), int(parts[4])
            cur = entries[int(first.partition(b"-")[0], 16)] = {"dev": dev, "ino": ino, "kb": {}}
        elif cur is not None and first.endswith(b":") and first[:-1] in _SMAPS_KB:
            cur["kb"][first[:-1]] = int(line.split()[1])
    out = []
    for i in range(len(plain) // heads.size):
        h = heads.decode(plain[i * heads.size:(i + 1) * heads.size])
        e = entries.get(h["pr_vaddr"])
        if e is None:
            continue  # mapped between the two reads
        d = dict(base)
        for k in ("pr_vaddr", "pr_size", "pr_mapname", "pr_offset", "pr_mflags", "pr_pagesize", "pr_shmid"):
            d[k] = h[k]
        d["pr_dev"] = _dev(e["dev"], model) if e["ino"] else PRNODEV[model]
        d["pr_ino"] = e["ino"]
        page_kb = max(h["pr_pagesize"] // 1024, 1)
        for key, member in _SMAPS_KB.items():
            d[member] = e["kb"].get(key, 0) // page_kb
        d["pr_hatpagesize"] = _PAGE
        out.append(c.encode(d))
    return b"".join(out)


# --- links: cwd, root, path/, fd/ -------------------------------------------------------------------


def _readlink(path: str) -> bytes:
    try:
        return os.fsencode(os.readlink(path))
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ESRCH):
            raise _gone(path) from None
        raise


def fds(pid: int) -> list[int]:
    """The open descriptors of ``pid``, ascending (ENOENT for a vanished process)."""
    try:
        return sorted(int(n) for n in os.listdir(f"/proc/{pid}/fd"))
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ESRCH):
            raise _gone(f"/proc/{pid}") from None
        raise


def path_names(pid: int) -> list[str]:
    """The names in ``path/``: ``a.out``, ``cwd``, ``root`` and one per open descriptor."""
    return ["a.out", "cwd", "root"] + [str(fd) for fd in fds(pid)]


_PATH_LINKS = {"a.out": "exe", "cwd": "cwd", "root": "root"}


def link(pid: int, kind: str, name: str = "") -> bytes:
    """What a link file names, as bytes.

    ``cwd``/``root``: the directory's path.  ``path/<name>``: the path of ``a.out``, ``cwd``,
    ``root`` or descriptor ``<name>`` (Linux's text for what has none: ``pipe:[N]``,
    ``socket:[N]``, ``anon_inode:...``).  ``fd/<n>``: the host's ``/proc/<pid>/fd/<n>``, which
    opens the same file the descriptor refers to, as opening Solaris's ``fd/<n>`` does.
    """
    if kind in ("cwd", "root"):
        return _readlink(f"/proc/{pid}/{kind}")
    if kind == "path":
        if name in _PATH_LINKS:
            return _readlink(f"/proc/{pid}/{_PATH_LINKS[name]}")
        if not name.isdigit():
            raise OSError(errno.ENOENT, f"path/{name}")
        return _readlink(f"/proc/{pid}/fd/{int(name)}")
    if kind == "fd":
        if not name.isdigit() or int(name) not in fds(pid):
            raise OSError(errno.ENOENT, f"fd/{name}")
        return f"/proc/{pid}/fd/{int(name)}".encode()
    raise OSError(errno.ENOENT, kind)


# --- arrays behind a prheader_t: lstatus, lpsinfo, lusage -------------------------------------------


def prheader_array(entries: list[bytes], entsize: int, model: str) -> bytes:
    """``prheader_t`` (pr_nent, pr_entsize) then the entries, each padded to ``entsize`` (a
    multiple of 8, as illumos's LSPAN rounds)."""
    head = codec(S.PRHEADER[model]).encode({"pr_nent": len(entries), "pr_entsize": entsize})
    return head + b"".join(e.ljust(entsize, b"\0") for e in entries)


def lusage(pid: int, lwps: list[tuple[int, int]], model: str) -> bytes:
    """``prheader_t`` + ``prusage_t[]``: first the defunct LWPs' entry (lwpid 0; Linux keeps no
    per-thread usage of exited threads, so it carries only the time stamp and a count of 0), then
    one per live LWP ``(tid, lwpid)``."""
    size = codec(S.PRUSAGE[model]).size
    d = _zero("PRUSAGE", model)
    d["pr_tstamp"] = _ts(time.clock_gettime_ns(time.CLOCK_BOOTTIME), model)
    entries = [codec(S.PRUSAGE[model]).encode(d)]
    for tid, lwpid in lwps:
        try:
            entries.append(lwpusage(pid, tid, lwpid, model))
        except FileNotFoundError:
            continue  # exited meanwhile
    return prheader_array(entries, (size + 7) & ~7, model)


def lpsinfo(pid: int, lwps: list[tuple[int, int]], model: str) -> bytes:
    """``prheader_t`` + ``lwpsinfo_t[]``, one per live LWP ``(tid, lwpid)``."""
    size = codec(S.LWPSINFO[model]).size
    entries = []
    for tid, lwpid in lwps:
        try:
            entries.append(lwpsinfo(pid, tid, lwpid, model))
        except FileNotFoundError:
            continue
    return prheader_array(entries, (size + 7) & ~7, model)
