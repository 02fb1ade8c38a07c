"""What procd knows about each controlled process and LWP: plain state, no host calls.

Host stop kinds (what the kernel's ptrace-stop is) and /proc stop states (what a client sees)
are kept apart: an LWP can be host-stopped for procd's own reasons (an untraced signal being
forwarded, an event procd consumes) without ever looking stopped through /proc.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class HostStop(Enum):
    """The kind of ptrace-stop the host thread is in (None while it runs)."""

    SIGNAL = "signal-delivery"
    SYSENTRY = "syscall-entry"
    SYSEXIT = "syscall-exit"
    EVENT = "event"
    GROUP = "group-stop"
    INTERRUPT = "interrupt"


@dataclass(eq=False)  # identity: LWPs live in sets
class Lwp:
    tid: int
    lwpid: int
    proc: "Proc"
    # host side
    hstop: HostStop | None = None  # None: running
    hsig: int = 0  # host signal of a signal-delivery or group stop
    hinfo: bytes = b""  # Linux siginfo of a signal-delivery stop
    fresh_sig: int = 0  # while deferred actions run at a signal-delivery stop: its signal
    listening: bool = False  # PTRACE_LISTEN in a group stop
    retrap: bool = False  # procd interrupted it while listening: its group-stop trap is procd's
    # /proc side
    why: int = 0  # pr_why while stopped through /proc, 0 while running
    what: int = 0
    istop: bool = False  # stopped on an event of interest (PR_ISTOP)
    dstop: bool = False  # a stop directive is pending (PR_DSTOP)
    step: bool = False  # single-step armed (PR_STEP)
    cursig: int = 0  # Solaris number of the current signal
    curinfo: bytes = b""  # its Solaris siginfo_t (amd64 layout)
    info_set: bool = False  # curinfo came from PCSSIG: the host delivers it as given
    curfault: int = 0  # FLT* of a PR_FAULTED stop, until cleared or turned into its signal
    faultinfo: bytes = b""
    deferred_sig: int = 0  # host signal held back while the LWP sits in a requested stop
    # PCXTAKEN (non-Solaris brand hook): the tracer's wait took this signal-delivery stop; a
    # release at the last close lets the LWP go without cursig (Linux: the wait cleared it)
    taken: bool = False
    deferred_info: bytes = b""
    # system call state (host numbers)
    in_syscall: bool = False
    sysnum: int = -1
    sysargs: tuple[int, ...] = ()
    rval: int = 0
    is_error: bool = False
    sys_once: int = 0  # PCXSYSCALL_ONCE bits: 1 entry, 2 exit
    abort: bool = False  # PRSABORT
    # caches valid while the host thread stays stopped
    regs: bytes | None = None
    fpregs: bytes | None = None
    gen: int = 0  # bumped whenever the LWP is resumed or its state changes
    waiters: list[Any] = field(default_factory=list)
    internal_stops: int = 0  # INTERRUPTs procd sent for its own purposes (watchpoints)
    # PCWATCH on the debug registers (watch.py)
    dr_pending: bool = False  # the areas changed: program DR0-3/DR7 at this thread's next ptrace-stop
    dr_slots: tuple = ()  # the WatchArea (or None) programmed in DR0..DR3 of this thread
    dr_fired: tuple = (-1, ())  # (gen, slots) armed before a reprogramming at the current stop
    slot: int | None = None  # shared-memory status snapshot slot (snapshot.Publisher)
    want_fp: bool = False  # a reader asked for pr_fpreg: snapshots of this LWP carry it from now on
    on_stop: list[Any] = field(default_factory=list)  # host actions waiting for a ptrace-stop
    unkill: set[int] = field(default_factory=set)  # host signals to discard at delivery (PCUNKILL)

    @property
    def stopped(self) -> bool:
        """PR_STOPPED: stopped through /proc (event of interest or job control)."""
        return self.why != 0


@dataclass
class WatchArea:
    vaddr: int
    size: int
    wflags: int
    value: bytes = b""  # the watched bytes as last seen (arming, each hit): tells a write from a read


@dataclass(eq=False)
class Proc:
    pid: int
    dmodel: int  # PR_MODEL_LP64 / PR_MODEL_ILP32
    lwps: dict[int, Lwp] = field(default_factory=dict)  # by lwpid
    next_lwpid: int = 1
    seized: bool = False
    flags: int = 0  # PR_FORK, PR_RLC, ... (mode bits)
    sigtrace: int = 0  # bit n-1 set: Solaris signal n traced
    flttrace: int = 0  # bit n-1 set: fault n traced
    sysentry: int = 0  # bit n set: host syscall n (0-based, ARCHITECTURE item 12)
    sysexit: int = 0
    watch: list[WatchArea] = field(default_factory=list)
    rep: int = 0  # lwpid of the representative LWP while the process is stopped
    writers: int = 0  # open writable descriptors (for last-close)
    excl: bool = False
    waiters: list[Any] = field(default_factory=list)  # PCWSTOP on ctl
    unkill: set[int] = field(default_factory=set)  # process-directed signals PCUNKILL removed
    trap_state: int = 0  # PR_PTRACE: 0 running, 1 stop to report to the parent, 2 reported
    trap_status: int = 0  # the CLD_TRAPPED si_status of that stop
    parent: int = 0
    ident: Any = None  # identity.Identity: tells the process apart from a later one with its pid
    nfiles: int = 0  # open files on this process (an untraced one's record goes with the last)
    was_seized: bool = False  # procd has been its host tracer (late host events may still come)
    exited: bool = False
    exit_status: int = 0
    # PCXSTOPFOROPT (non-Solaris brand hook): PCX_EVENT bits of the Linux events that stop LWPs
    events: int = 0
    # children born held under the FORK/VFORK/CLONE bits: released with this process on its
    # last close (PR_RLC / PR_KLC) unless someone opened them for writing
    brand_kids: list["Proc"] = field(default_factory=list)

    def add_lwp(self, tid: int) -> Lwp:
        lwp = Lwp(tid=tid, lwpid=self.next_lwpid, proc=self)
        self.next_lwpid += 1
        self.lwps[lwp.lwpid] = lwp
        return lwp

    @property
    def traced(self) -> bool:
        """Whether anything asks procd to stay attached."""
        return bool(self.sigtrace or self.flttrace or self.sysentry or self.sysexit or self.watch
                    or self.flags or self.events)
