"""illumos /proc constants (sys/procfs.h, sys/watchpoint.h) and this project's non-Solaris
extension control codes.

What this module promises
-------------------------
* `PC` — the Solaris control codes PCNULL 0 .. PCSCREDX 31 (written as a `long`, then the
  operand).  `PCX` — the project's extension codes (ARCHITECTURE items 9-10, and the brand
  hooks for Linux ptrace events PCXSTOPFOROPT / PCXLISTEN / PCXTAKEN), outside the Solaris range
  (>= `PCX_BASE` = 0x1000): they are NOT Solaris and a Solaris /proc would reject them.
  `CTL_CODES` is both, for a ctl interpreter's "is this a known code" check;
  `PCX_SYSCALL_FLAGS` (XSYSCALL_ENTRY / XSYSCALL_EXIT) is PCXSYSCALL_ONCE's operand;
  `PCX_EVENT` (Linux PTRACE_O_* bit values) is PCXSTOPFOROPT's, `PCX_EVENT_OF_WHAT` maps a
  PR_BRAND stop's pr_what to its bit.  PCX_EVENT's members are not module-level names (FORK,
  EXIT ... are too generic): write `PCX_EVENT.FORK`.
* `PCRUN_FLAGS` (PRCSIG .. PRSTOP), `PR_FLAGS` (pr_flags bits, PR_STOPPED .. PR_MSFORK) and
  `PCSET_MODES` (the mode bits PCSET/PCUNSET accept), `PR_WHY` (pr_why), `PR_MODEL` (pr_dmodel),
  `WA` (prwatch_t.pr_wflags), `MA` (prmap_t.pr_mflags).
* Sizes: PRCLSZ, PRFNSZ, PRARGSZ, PRMAPSZ, PRSYSARGS, PRNODEV.
* The set rule, as data (`SETS`): Solaris sigset_t/fltset_t are 1-based — member N is bit
  (N-1) % 32 of word (N-1) // 32 — but in THIS project sysset_t is 0-based on the host's system
  call numbers (bit n = host syscall n; `read` is 0 on x86-64; ARCHITECTURE item 12).
  `set_position(kind, member)` is the trivial lookup.

Source of the Solaris values: `/work/shared/reference/solaris-proc-layouts.md` ("Constants") and
`solaris-proc-control.md` (PCSET), i.e. illumos `usr/src/uts/common/sys/procfs.h`.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag
from typing import NamedTuple

__all__ = [
    "PC",
    "PCX",
    "PCX_BASE",
    "CTL_CODES",
    "PCX_SYSCALL_FLAGS",
    "PCX_EVENT",
    "PCX_EVENT_VALID",
    "PCX_EVENT_OF_WHAT",
    "PCRUN_FLAGS",
    "PCRUN_VALID",
    "PR_FLAGS",
    "PCSET_MODES",
    "PR_WHY",
    "PR_MODEL",
    "WA",
    "WA_VALID",
    "MA",
    "PRCLSZ",
    "PRFNSZ",
    "PRARGSZ",
    "PRMAPSZ",
    "PRSYSARGS",
    "PRNODEV",
    "SET_WORD_BITS",
    "SetRule",
    "SETS",
    "set_position",
]


class PC(IntEnum):
    """Solaris /proc control codes (procfs.h)."""

    PCNULL = 0  # null request, advance to next message
    PCSTOP = 1  # direct process or lwp to stop and wait for stop
    PCDSTOP = 2  # direct process or lwp to stop, don't wait
    PCWSTOP = 3  # wait for process or lwp to stop, no timeout
    PCTWSTOP = 4  # wait for stop, with long millisecond timeout arg
    PCRUN = 5  # make process/lwp runnable, w/ long flags argument
    PCCSIG = 6  # clear current signal from lwp
    PCCFAULT = 7  # clear current fault from lwp
    PCSSIG = 8  # set current signal from siginfo_t argument
    PCKILL = 9  # post a signal to process/lwp, long argument
    PCUNKILL = 10  # delete a pending signal from process, long arg
    PCSHOLD = 11  # set lwp signal mask from sigset_t argument
    PCSTRACE = 12  # set traced signal set from sigset_t argument
    PCSFAULT = 13  # set traced fault set from fltset_t argument
    PCSENTRY = 14  # set traced syscall entry set from sysset_t arg
    PCSEXIT = 15  # set traced syscall exit set from sysset_t arg
    PCSET = 16  # set modes from long argument
    PCUNSET = 17  # unset modes from long argument
    PCSREG = 18  # set lwp general registers from prgregset_t arg
    PCSFPREG = 19  # set lwp floating-point registers from prfpregset_t
    PCSXREG = 20  # set lwp extra registers from prxregset_t arg
    PCNICE = 21  # set nice priority from long argument
    PCSVADDR = 22  # set %pc virtual address from long argument
    PCWATCH = 23  # set/unset watched memory area from prwatch_t arg
    PCAGENT = 24  # create agent lwp with regs from prgregset_t arg
    PCREAD = 25  # read from the address space via priovec_t arg
    PCWRITE = 26  # write to the address space via priovec_t arg
    PCSCRED = 27  # set process credentials from prcred_t argument
    PCSASRS = 28  # set ancillary state registers from asrset_t arg (SPARC)
    PCSPRIV = 29  # set process privileges from prpriv_t argument
    PCSZONE = 30  # set zoneid from zoneid_t argument
    PCSCREDX = 31  # as PCSCRED but with supplemental groups


#: First extension code.  Everything from here on is this project's, not Solaris's.
PCX_BASE = 0x1000


class PCX(IntEnum):
    """NON-SOLARIS extension control codes (the seed's brand calls, ARCHITECTURE items 9-10,
    and the brand hooks for Linux ptrace events).

    Per LWP (write them to an lwpctl, or to ctl to act on the representative LWP), except
    PCXSTOPFOROPT, which acts on the whole process wherever it is written.
    """

    #: The seed's B_PTRACE_SYSCALL: the next resume of this LWP stops at the next system-call
    #: entry and/or exit, reported as PR_SYSENTRY / PR_SYSEXIT whatever the entry/exit sets say.
    #: Operand: a `ulong_t` of `PCX_SYSCALL_FLAGS` (XSYSCALL_ENTRY | XSYSCALL_EXIT = either one,
    #: whichever comes first); the wire format is structs/ctl.py's.
    PCXSYSCALL_ONCE = 0x1000
    #: Linux's orig_rax write: set the system-call number the stopped LWP will execute; -1
    #: skips the call.  Operand: a `long`.  PCSREG keeps the gregset meaning.  Accepted at a
    #: PR_SYSENTRY/PR_SYSEXIT stop and at a PR_BRAND stop for PTRACE_EVENT_SECCOMP.
    PCXSETSYSNUM = 0x1001
    #: The lx brand's B_PTRACE_STOP_FOR_OPT: which Linux ptrace events stop the process's LWPs.
    #: PROCESS-wide (ctl or any lwpctl; acts on the process); replaces the previous mask; seizes
    #: the process like PCSTRACE.  Operand: a `ulong_t` of `PCX_EVENT` bits (others: EINVAL).
    #: An event whose bit is set stops the LWP as an event of interest with pr_why PR_BRAND,
    #: pr_what the Linux PTRACE_EVENT_* number (`PCX_EVENT_OF_WHAT`), pr_rval1 the event
    #: message; children and threads born under the FORK/VFORK/CLONE bits are held at birth
    #: (PR_REQUESTED) with the parent's tracing; JOBCONTROL makes group stops events of interest.
    PCXSTOPFOROPT = 0x1002
    #: Linux's PTRACE_LISTEN: per LWP, no operand.  Only for an LWP stopped on an event of
    #: interest with pr_why PR_JOBCONTROL (the JOBCONTROL bit of PCXSTOPFOROPT), else EINVAL:
    #: the LWP stays job-control stopped but no longer on an event of interest (PR_STOPPED
    #: without PR_ISTOP) until SIGCONT, a stop directive or a new group stop.
    PCXLISTEN = 0x1003
    #: The tracer's wait took this stop (Linux's wait_task_stopped clears the stop's exit_code):
    #: per LWP, no operand.  Only for an LWP stopped on an event of interest with pr_why
    #: PR_SIGNALLED, else EBUSY.  Should the process be released at its last close (the tracer
    #: died without detaching, PR_RLC), such an LWP is let go WITHOUT its current signal, as
    #: Linux's exit_ptrace drops a signal-delivery stop its tracer has waited for; a resume
    #: (PCRUN), a new stop and PCCSIG forget the mark.
    PCXTAKEN = 0x1004


CTL_CODES: frozenset[int] = frozenset(int(c) for c in (*PC, *PCX))


class PCX_SYSCALL_FLAGS(IntFlag):
    """NON-SOLARIS: the PCXSYSCALL_ONCE operand."""

    XSYSCALL_ENTRY = 0x1  # stop at the next system-call entry
    XSYSCALL_EXIT = 0x2  # stop at the next system-call exit


class PCX_EVENT(IntFlag):
    """NON-SOLARIS: the PCXSTOPFOROPT operand.  Each bit is Linux's PTRACE_O_* value, i.e.
    1 << PTRACE_EVENT_* (JOBCONTROL takes the place of PTRACE_O_TRACESYSGOOD, which is no
    event: it is this project's own, "group stops are events of interest")."""

    JOBCONTROL = 0x01
    FORK = 0x02
    VFORK = 0x04
    CLONE = 0x08
    EXEC = 0x10
    VFORKDONE = 0x20
    EXIT = 0x40
    SECCOMP = 0x80


#: Every bit PCXSTOPFOROPT accepts.
PCX_EVENT_VALID = 0xFF
#: pr_what of a PR_BRAND stop (the Linux PTRACE_EVENT_* number) -> its PCX_EVENT bit.
PCX_EVENT_OF_WHAT: dict[int, PCX_EVENT] = {
    1: PCX_EVENT.FORK,
    2: PCX_EVENT.VFORK,
    3: PCX_EVENT.CLONE,
    4: PCX_EVENT.EXEC,
    5: PCX_EVENT.VFORKDONE,
    6: PCX_EVENT.EXIT,
    7: PCX_EVENT.SECCOMP,
}


class PCRUN_FLAGS(IntFlag):
    """PCRUN operand flags."""

    PRCSIG = 0x01  # clear current signal
    PRCFAULT = 0x02  # clear current fault
    PRSTEP = 0x04  # single-step after resuming
    PRSABORT = 0x08  # abort syscall
    PRSTOP = 0x10  # set directed stop request


PCRUN_VALID = int(
    PCRUN_FLAGS.PRCSIG | PCRUN_FLAGS.PRCFAULT | PCRUN_FLAGS.PRSTEP | PCRUN_FLAGS.PRSABORT | PCRUN_FLAGS.PRSTOP
)


class PR_FLAGS(IntFlag):
    """pr_flags of pstatus_t / lwpstatus_t."""

    # lwp flags
    PR_STOPPED = 0x00000001  # lwp is stopped
    PR_ISTOP = 0x00000002  # lwp is stopped on an event of interest
    PR_DSTOP = 0x00000004  # lwp has a stop directive in effect
    PR_STEP = 0x00000008  # lwp has a single-step directive in effect
    PR_ASLEEP = 0x00000010  # lwp is sleeping in a system call
    PR_PCINVAL = 0x00000020  # contents of pr_instr undefined
    PR_ASLWP = 0x00000040  # obsolete
    PR_AGENT = 0x00000080  # this lwp is the /proc agent lwp
    PR_DETACH = 0x00000100  # this is a detached lwp
    PR_DAEMON = 0x00000200  # this is a daemon lwp
    PR_IDLE = 0x00000400  # lwp is a cpu's idle thread
    # process flags
    PR_ISSYS = 0x00001000  # this is a system process
    PR_VFORKP = 0x00002000  # process is the parent of a vfork()d child
    PR_ORPHAN = 0x00004000  # process's process group is orphaned
    PR_NOSIGCHLD = 0x00008000  # process will not generate SIGCHLD on exit
    PR_WAITPID = 0x00010000  # only waitid(P_PID, pid) can reap the child
    # process modes (PCSET / PCUNSET)
    PR_FORK = 0x00100000  # inherit-on-fork is in effect
    PR_RLC = 0x00200000  # run-on-last-close is in effect
    PR_KLC = 0x00400000  # kill-on-last-close is in effect
    PR_ASYNC = 0x00800000  # asynchronous-stop is in effect
    PR_MSACCT = 0x01000000  # micro-state usage accounting is in effect
    PR_BPTADJ = 0x02000000  # breakpoint trap pc adjustment is in effect
    PR_PTRACE = 0x04000000  # ptrace-compatibility mode is in effect
    PR_MSFORK = 0x08000000  # micro-state accounting inherited on fork


#: The bits PCSET / PCUNSET accept; any other bit is EINVAL.
PCSET_MODES = int(
    PR_FLAGS.PR_FORK
    | PR_FLAGS.PR_RLC
    | PR_FLAGS.PR_KLC
    | PR_FLAGS.PR_ASYNC
    | PR_FLAGS.PR_MSACCT
    | PR_FLAGS.PR_BPTADJ
    | PR_FLAGS.PR_PTRACE
    | PR_FLAGS.PR_MSFORK
)


class PR_WHY(IntEnum):
    """pr_why: why the LWP stopped (pr_what says which signal / syscall / fault)."""

    PR_REQUESTED = 1  # pr_what unused (0)
    PR_SIGNALLED = 2  # pr_what = signal number
    PR_SYSENTRY = 3  # pr_what = syscall number
    PR_SYSEXIT = 4  # pr_what = syscall number
    PR_JOBCONTROL = 5  # pr_what = stopping signal number
    PR_FAULTED = 6  # pr_what = FLT number
    PR_SUSPENDED = 7
    PR_CHECKPOINT = 8
    #: NON-SOLARIS use (Solaris leaves it to the brand): a Linux ptrace event stop made by
    #: PCXSTOPFOROPT; pr_what = the PTRACE_EVENT_* number, pr_rval1 = the event message.
    PR_BRAND = 9


class PR_MODEL(IntEnum):
    """pr_dmodel: the target's data model."""

    PR_MODEL_UNKNOWN = 0
    PR_MODEL_ILP32 = 1
    PR_MODEL_LP64 = 2


class WA(IntFlag):
    """prwatch_t.pr_wflags."""

    WA_EXEC = 0x01
    WA_WRITE = 0x02
    WA_READ = 0x04
    WA_TRAPAFTER = 0x08


WA_VALID = int(WA.WA_EXEC | WA.WA_WRITE | WA.WA_READ | WA.WA_TRAPAFTER)


class MA(IntFlag):
    """prmap_t.pr_mflags."""

    MA_EXEC = 0x0001
    MA_WRITE = 0x0002
    MA_READ = 0x0004
    MA_SHARED = 0x0008
    MA_BREAK = 0x0010  # grown by brk(2)
    MA_STACK = 0x0020  # grown automatically on stack faults
    MA_ANON = 0x0040  # anonymous memory
    MA_ISM = 0x0080  # intimate shared mem
    MA_NORESERVE = 0x0100  # mapped with MAP_NORESERVE
    MA_SHM = 0x0200  # System V shared memory
    MA_RESERVED1 = 0x0400


PRCLSZ = 8  # maximum size of scheduling class name
PRSYSARGS = 8  # maximum number of syscall arguments
PRFNSZ = 16  # maximum size of execed filename
PRARGSZ = 80  # number of chars of arguments
PRMAPSZ = 64  # size of pr_mapname
PRNODEV = {"amd64": (1 << 64) - 1, "i386": (1 << 32) - 1}  # (dev_t)-1 per data model

# ---------------------------------------------------------------------------------------------
# Set layout rule
# ---------------------------------------------------------------------------------------------

SET_WORD_BITS = 32  # every set is an array of uint32


class SetRule(NamedTuple):
    words: int  # uint32 words in the set
    base: int  # number of the member held in bit 0 of word 0 (1 = Solaris rule, 0 = host syscall)

    @property
    def capacity(self) -> int:
        return self.words * SET_WORD_BITS


#: sigset_t and fltset_t follow Solaris (1-based); sysset_t is 0-based on host syscall numbers
#: in this project (512 bits: every x86-64 and i386 Linux syscall fits).
SETS: dict[str, SetRule] = {
    "sigset_t": SetRule(words=4, base=1),
    "fltset_t": SetRule(words=4, base=1),
    "sysset_t": SetRule(words=16, base=0),
}


def set_position(kind: str, member: int) -> tuple[int, int]:
    """(word index, bit index) of `member` in a set of `kind` ("sigset_t", "fltset_t", "sysset_t")."""
    n = member - SETS[kind].base
    return n // SET_WORD_BITS, n % SET_WORD_BITS


class SOLARIS_W(IntFlag):
    """Solaris waitid(2) options (illumos usr/src/uts/common/sys/wait.h)."""

    WEXITED = 0o001
    WTRAPPED = 0o002  # report /proc (PR_PTRACE) stops: CLD_TRAPPED
    WSTOPPED = 0o004  # = WUNTRACED
    WCONTINUED = 0o010
    WNOHANG = 0o100
    WNOWAIT = 0o200


class SOLARIS_P(IntEnum):
    """Solaris idtype_t (illumos usr/src/uts/common/sys/procset.h), the ones waitid takes."""

    P_PID = 0
    P_PPID = 1
    P_PGID = 2
    P_SID = 3
    P_CID = 4
    P_UID = 5
    P_GID = 6
    P_ALL = 7


__all__ += ["SOLARIS_W", "SOLARIS_P"]

# Every member above is also a module-level name (`from structs.procfs_consts import PCRUN,
# PR_STOPPED, WA_TRAPAFTER`), as the C headers spell them.
for _enum in (PC, PCX, PCX_SYSCALL_FLAGS, PCRUN_FLAGS, PR_FLAGS, PR_WHY, PR_MODEL, WA, MA):
    globals().update(_enum.__members__)
    __all__ += list(_enum.__members__)
del _enum
