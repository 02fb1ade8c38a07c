"""Parse strace's text output (as recorded by /work/shared/traces/record.sh) into typed records.

What this module promises
-------------------------
* `parse_file(path)` / `parse_lines(lines)` turn every line of an strace log written with
  ``strace [-f] -o FILE -s N -x -y`` into exactly one of:

  - a `Syscall` (or one of its typed subclasses: `PtraceCall`, `Wait4Call`, `WaitidCall`,
    `MemIOCall`, `ProcessVmCall`, `KillCall`, `CloneCall`, `OpenatCall`, `CloseCall`,
    `SigsuspendCall`) for ``name(args) = ret ...`` lines.  A ``<unfinished ...>`` line and its
    ``<... name resumed>`` line (same pid) are joined into ONE call record that sits at the
    position of the unfinished line and keeps both line numbers (`lineno`, `end_lineno`);
  - a `SignalRecord` for ``--- SIGCHLD {si_signo=...} ---`` / ``--- stopped by SIGSTOP ---``;
  - an `ExitRecord` for ``+++ exited with 0 +++`` / ``+++ killed by SIGKILL +++``;
  - or a `LineError` in `ParseResult.errors` (line number, text, reason) when the line cannot be
    parsed.  Nothing is dropped silently; ``strict=True`` raises `StraceParseError` ("file:line:
    reason") at the first bad line instead.  Blank lines carry nothing and are skipped.

* Arguments are parsed by one small recursive-descent parser (`parse_args` / `parse_value`) into
  plain Python values: `int`, `bytes` (C-escapes decoded exactly; `TruncatedBytes` when strace
  printed ``"..."...``), `dict` for ``{name=value, ...}``, `list` for ``[...]``, and a few small
  types for what strace prints symbolically: `Sym` (a name, ``.value`` is its number or None),
  `FlagSet` (``A|B|0x80``), `Expr` (``a << b``, ``8*SS+8``, ``x == y``, ``-ENOENT`` ...), `Fn`
  (``WIFSTOPPED(s)``, ``offsetof(struct user, u_debugreg)``), `Group` (a brace group of bare
  values, as in wait statuses), `Changed` (``before => after``), `Field` (a top-level
  ``name=value`` argument, as clone prints them), `Fd` (an int fd carrying its ``-y`` path) and
  `Raw` (unparsed text; only ever used for arguments of calls this module has no decoder for).
  `to_int` evaluates any of these to the number the kernel saw; `numify` does it recursively.

* Typed records expose the decoded facts a replay compares: the ptrace request name/number,
  target, addr/data (raw and as ints), user_regs as ``{reg: int}``, siginfo / syscall_info as
  numeric dicts, PEEK results, the wait status as the numeric Linux status word (``0x857f`` for
  ``WSTOPSIG(s) == SIGTRAP | 0x80``), pread64/pwrite64 buffers as exact bytes with the
  ``/proc/<pid>[/task/<tid>]/mem`` target, and so on.  Any call name without a decoder still
  parses generically (name, args, raw argument texts, return value, errno).

* The name->number table (`CONSTS`, Linux x86-64) lives in one clearly marked block below; it is
  TEMPORARY until structs/ptrace_consts.py, structs/signals.py and structs/syscalls.py land.
"""

from __future__ import annotations

import errno as _errno_mod
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple

__all__ = [
    "CONSTS", "lookup", "signal_number", "errno_number",
    "Sym", "FlagSet", "Expr", "Fn", "Group", "Changed", "Field", "Fd", "TruncatedBytes", "Raw",
    "Value", "to_int", "numify", "wait_status", "sigset_mask",
    "c_unescape", "c_escape", "parse_args", "parse_value", "split_args",
    "Record", "Syscall", "PtraceCall", "Wait4Call", "WaitidCall", "MemIOCall", "ProcessVmCall",
    "KillCall", "CloneCall", "OpenatCall", "CloseCall", "SigsuspendCall", "SignalRecord",
    "ExitRecord", "LineError", "ParseResult", "StraceParseError",
    "parse_line", "parse_lines", "parse_file",
]

# =================================================================================================
# SYMBOLIC CONSTANTS: the one table of strace names -> numbers (Linux x86-64) this parser needs.
# TEMPORARY: to be pointed at structs/ptrace_consts.py, structs/signals.py and structs/syscalls.py
# once those exist.  Everything else in this module reads names only through `CONSTS`/`lookup`.
# =================================================================================================

_PTRACE_REQUESTS = {
    "PTRACE_TRACEME": 0, "PTRACE_PEEKTEXT": 1, "PTRACE_PEEKDATA": 2, "PTRACE_PEEKUSER": 3,
    "PTRACE_PEEKUSR": 3, "PTRACE_POKETEXT": 4, "PTRACE_POKEDATA": 5, "PTRACE_POKEUSER": 6,
    "PTRACE_POKEUSR": 6, "PTRACE_CONT": 7, "PTRACE_KILL": 8, "PTRACE_SINGLESTEP": 9,
    "PTRACE_GETREGS": 12, "PTRACE_SETREGS": 13, "PTRACE_GETFPREGS": 14, "PTRACE_SETFPREGS": 15,
    "PTRACE_ATTACH": 16, "PTRACE_DETACH": 17, "PTRACE_GETFPXREGS": 18, "PTRACE_SETFPXREGS": 19,
    "PTRACE_SYSCALL": 24, "PTRACE_GET_THREAD_AREA": 25, "PTRACE_SET_THREAD_AREA": 26,
    "PTRACE_ARCH_PRCTL": 30, "PTRACE_SYSEMU": 31, "PTRACE_SYSEMU_SINGLESTEP": 32,
    "PTRACE_SINGLEBLOCK": 33,
    "PTRACE_SETOPTIONS": 0x4200, "PTRACE_GETEVENTMSG": 0x4201, "PTRACE_GETSIGINFO": 0x4202,
    "PTRACE_SETSIGINFO": 0x4203, "PTRACE_GETREGSET": 0x4204, "PTRACE_SETREGSET": 0x4205,
    "PTRACE_SEIZE": 0x4206, "PTRACE_INTERRUPT": 0x4207, "PTRACE_LISTEN": 0x4208,
    "PTRACE_PEEKSIGINFO": 0x4209, "PTRACE_GETSIGMASK": 0x420A, "PTRACE_SETSIGMASK": 0x420B,
    "PTRACE_SECCOMP_GET_FILTER": 0x420C, "PTRACE_SECCOMP_GET_METADATA": 0x420D,
    "PTRACE_GET_SYSCALL_INFO": 0x420E, "PTRACE_GET_RSEQ_CONFIGURATION": 0x420F,
    "PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG": 0x4210,
    "PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG": 0x4211,
}
_PTRACE_MISC = {
    "PTRACE_O_TRACESYSGOOD": 0x1, "PTRACE_O_TRACEFORK": 0x2, "PTRACE_O_TRACEVFORK": 0x4,
    "PTRACE_O_TRACECLONE": 0x8, "PTRACE_O_TRACEEXEC": 0x10, "PTRACE_O_TRACEVFORKDONE": 0x20,
    "PTRACE_O_TRACEEXIT": 0x40, "PTRACE_O_TRACESECCOMP": 0x80, "PTRACE_O_EXITKILL": 0x100000,
    "PTRACE_O_SUSPEND_SECCOMP": 0x200000,
    "PTRACE_EVENT_FORK": 1, "PTRACE_EVENT_VFORK": 2, "PTRACE_EVENT_CLONE": 3,
    "PTRACE_EVENT_EXEC": 4, "PTRACE_EVENT_VFORK_DONE": 5, "PTRACE_EVENT_EXIT": 6,
    "PTRACE_EVENT_SECCOMP": 7, "PTRACE_EVENT_STOP": 128,
    "PTRACE_SYSCALL_INFO_NONE": 0, "PTRACE_SYSCALL_INFO_ENTRY": 1, "PTRACE_SYSCALL_INFO_EXIT": 2,
    "PTRACE_SYSCALL_INFO_SECCOMP": 3, "PTRACE_PEEKSIGINFO_SHARED": 1,
    "AUDIT_ARCH_X86_64": 0xC000003E, "AUDIT_ARCH_I386": 0x40000003,
    "NT_PRSTATUS": 1, "NT_PRFPREG": 2, "NT_FPREGSET": 2, "NT_PRPSINFO": 3, "NT_TASKSTRUCT": 4,
    "NT_AUXV": 6, "NT_386_TLS": 0x200, "NT_386_IOPERM": 0x201, "NT_X86_XSTATE": 0x202,
    "NT_X86_SHSTK": 0x204, "NT_PRXFPREG": 0x46E62B7F, "NT_SIGINFO": 0x53494749,
    "NT_FILE": 0x46494C45,
}
# Linux kernel signal numbers (x86-64); SIGRTMIN is the kernel's 32, strace names 33.. "SIGRT_n".
_SIGNALS = {
    "SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6, "SIGIOT": 6,
    "SIGBUS": 7, "SIGFPE": 8, "SIGKILL": 9, "SIGUSR1": 10, "SIGSEGV": 11, "SIGUSR2": 12,
    "SIGPIPE": 13, "SIGALRM": 14, "SIGTERM": 15, "SIGSTKFLT": 16, "SIGCHLD": 17, "SIGCONT": 18,
    "SIGSTOP": 19, "SIGTSTP": 20, "SIGTTIN": 21, "SIGTTOU": 22, "SIGURG": 23, "SIGXCPU": 24,
    "SIGXFSZ": 25, "SIGVTALRM": 26, "SIGPROF": 27, "SIGWINCH": 28, "SIGIO": 29, "SIGPOLL": 29,
    "SIGPWR": 30, "SIGSYS": 31, "SIGRTMIN": 32, "SIGRTMAX": 64,
    **{f"SIGRT_{n}": 32 + n for n in range(0, 33)},
}
_SI_CODES = {
    "SI_USER": 0, "SI_KERNEL": 0x80, "SI_QUEUE": -1, "SI_TIMER": -2, "SI_MESGQ": -3,
    "SI_ASYNCIO": -4, "SI_SIGIO": -5, "SI_TKILL": -6, "SI_DETHREAD": -7, "SI_ASYNCNL": -60,
    "ILL_ILLOPC": 1, "ILL_ILLOPN": 2, "ILL_ILLADR": 3, "ILL_ILLTRP": 4, "ILL_PRVOPC": 5,
    "ILL_PRVREG": 6, "ILL_COPROC": 7, "ILL_BADSTK": 8,
    "FPE_INTDIV": 1, "FPE_INTOVF": 2, "FPE_FLTDIV": 3, "FPE_FLTOVF": 4, "FPE_FLTUND": 5,
    "FPE_FLTRES": 6, "FPE_FLTINV": 7, "FPE_FLTSUB": 8,
    "SEGV_MAPERR": 1, "SEGV_ACCERR": 2, "SEGV_BNDERR": 3, "SEGV_PKUERR": 4,
    "BUS_ADRALN": 1, "BUS_ADRERR": 2, "BUS_OBJERR": 3, "BUS_MCEERR_AR": 4, "BUS_MCEERR_AO": 5,
    "TRAP_BRKPT": 1, "TRAP_TRACE": 2, "TRAP_BRANCH": 3, "TRAP_HWBKPT": 4, "TRAP_UNK": 5,
    "CLD_EXITED": 1, "CLD_KILLED": 2, "CLD_DUMPED": 3, "CLD_TRAPPED": 4, "CLD_STOPPED": 5,
    "CLD_CONTINUED": 6,
    "POLL_IN": 1, "POLL_OUT": 2, "POLL_MSG": 3, "POLL_ERR": 4, "POLL_PRI": 5, "POLL_HUP": 6,
    "SYS_SECCOMP": 1,
}
_WAIT_AND_MISC = {
    "WNOHANG": 1, "WUNTRACED": 2, "WSTOPPED": 2, "WEXITED": 4, "WCONTINUED": 8,
    "WNOWAIT": 0x1000000, "__WNOTHREAD": 0x20000000, "__WALL": 0x40000000, "__WCLONE": 0x80000000,
    "P_ALL": 0, "P_PID": 1, "P_PGID": 2, "P_PIDFD": 3,
    "NULL": 0, "SIG_DFL": 0, "SIG_IGN": 1, "AT_FDCWD": -100,
    "O_RDONLY": 0, "O_WRONLY": 1, "O_RDWR": 2, "O_CREAT": 0o100, "O_EXCL": 0o200,
    "O_NOCTTY": 0o400, "O_TRUNC": 0o1000, "O_APPEND": 0o2000, "O_NONBLOCK": 0o4000,
    "O_DSYNC": 0o10000, "O_ASYNC": 0o20000, "O_DIRECT": 0o40000, "O_LARGEFILE": 0o100000,
    "O_DIRECTORY": 0o200000, "O_NOFOLLOW": 0o400000, "O_NOATIME": 0o1000000,
    "O_CLOEXEC": 0o2000000, "O_SYNC": 0o4010000, "O_PATH": 0o10000000, "O_TMPFILE": 0o20200000,
    "CLONE_VM": 0x100, "CLONE_FS": 0x200, "CLONE_FILES": 0x400, "CLONE_SIGHAND": 0x800,
    "CLONE_PIDFD": 0x1000, "CLONE_PTRACE": 0x2000, "CLONE_VFORK": 0x4000,
    "CLONE_PARENT": 0x8000, "CLONE_THREAD": 0x10000, "CLONE_NEWNS": 0x20000,
    "CLONE_SYSVSEM": 0x40000, "CLONE_SETTLS": 0x80000, "CLONE_PARENT_SETTID": 0x100000,
    "CLONE_CHILD_CLEARTID": 0x200000, "CLONE_DETACHED": 0x400000, "CLONE_UNTRACED": 0x800000,
    "CLONE_CHILD_SETTID": 0x1000000, "CLONE_NEWCGROUP": 0x2000000, "CLONE_NEWUTS": 0x4000000,
    "CLONE_NEWIPC": 0x8000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000, "CLONE_IO": 0x80000000, "CLONE_CLEAR_SIGHAND": 0x100000000,
    "CLONE_INTO_CGROUP": 0x200000000, "CLONE_NEWTIME": 0x80,
    # x86-64 user_regs_struct word indices, as strace prints PEEKUSER offsets ("8*CS", "8*SS+8").
    **{r: i for i, r in enumerate(
        "R15 R14 R13 R12 RBP RBX R11 R10 R9 R8 RAX RCX RDX RSI RDI ORIG_RAX RIP CS EFLAGS RSP SS "
        "FS_BASE GS_BASE DS ES FS GS".split())},
}
# offsetof(struct user, member) on x86-64, for strace's "offsetof(struct user, u_debugreg)+48".
_STRUCT_USER_OFFSETS = {
    "regs": 0, "u_fpvalid": 216, "i387": 224, "u_tsize": 736, "u_dsize": 744, "u_ssize": 752,
    "start_code": 760, "start_stack": 768, "signal": 776, "reserved": 784, "u_ar0": 792,
    "u_fpstate": 800, "magic": 808, "u_comm": 816, "u_debugreg": 848,
}
# Kernel-internal errnos that strace shows (not in Python's errno module).
_KERNEL_ERRNOS = {
    "ERESTARTSYS": 512, "ERESTARTNOINTR": 513, "ERESTARTNOHAND": 514, "ENOIOCTLCMD": 515,
    "ERESTART_RESTARTBLOCK": 516, "EPROBE_DEFER": 517, "EOPENSTALE": 518, "ENOPARAM": 519,
    "EBADHANDLE": 521, "ENOTSYNC": 522, "EBADCOOKIE": 523, "ENOTSUPP": 524, "ETOOSMALL": 525,
    "ESERVERFAULT": 526, "EBADTYPE": 527, "EJUKEBOX": 528, "EIOCBQUEUED": 529,
    "ERECALLCONFLICT": 530,
}
if not sys.platform.startswith("linux"):  # Python's errno numbers are the host's
    raise ImportError("strace_log's errno table is taken from Python's errno module on Linux")
_ERRNOS = {name: no for no, name in _errno_mod.errorcode.items()}
_ERRNOS.update({n: getattr(_errno_mod, n) for n in dir(_errno_mod) if n.startswith("E")
                and isinstance(getattr(_errno_mod, n), int)})  # aliases (EWOULDBLOCK, ...)
_ERRNOS.update(_KERNEL_ERRNOS)
# x86-64 syscall numbers (from asm/unistd_64.h): 0..334 in order, then 424..450 in order.
_NR_0 = """
read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction
rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe select
sched_yield mremap msync mincore madvise shmget shmat shmctl dup dup2 pause nanosleep
getitimer alarm setitimer getpid sendfile socket connect accept sendto recvfrom sendmsg
recvmsg shutdown bind listen getsockname getpeername socketpair setsockopt getsockopt clone
fork vfork execve exit wait4 kill uname semget semop semctl shmdt msgget msgsnd msgrcv
msgctl fcntl flock fsync fdatasync truncate ftruncate getdents getcwd chdir fchdir rename
mkdir rmdir creat link unlink symlink readlink chmod fchmod chown fchown lchown umask
gettimeofday getrlimit getrusage sysinfo times ptrace getuid syslog getgid setuid setgid
geteuid getegid setpgid getppid getpgrp setsid setreuid setregid getgroups setgroups
setresuid getresuid setresgid getresgid getpgid setfsuid setfsgid getsid capget capset
rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend sigaltstack utime mknod uselib
personality ustat statfs fstatfs sysfs getpriority setpriority sched_setparam
sched_getparam sched_setscheduler sched_getscheduler sched_get_priority_max
sched_get_priority_min sched_rr_get_interval mlock munlock mlockall munlockall vhangup
modify_ldt pivot_root _sysctl prctl arch_prctl adjtimex setrlimit chroot sync acct
settimeofday mount umount2 swapon swapoff reboot sethostname setdomainname iopl ioperm
create_module init_module delete_module get_kernel_syms query_module quotactl nfsservctl
getpmsg putpmsg afs_syscall tuxcall security gettid readahead setxattr lsetxattr fsetxattr
getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr
fremovexattr tkill time futex sched_setaffinity sched_getaffinity set_thread_area io_setup
io_destroy io_getevents io_submit io_cancel get_thread_area lookup_dcookie epoll_create
epoll_ctl_old epoll_wait_old remap_file_pages getdents64 set_tid_address restart_syscall
semtimedop fadvise64 timer_create timer_settime timer_gettime timer_getoverrun timer_delete
clock_settime clock_gettime clock_getres clock_nanosleep exit_group epoll_wait epoll_ctl
tgkill utimes vserver mbind set_mempolicy get_mempolicy mq_open mq_unlink mq_timedsend
mq_timedreceive mq_notify mq_getsetattr kexec_load waitid add_key request_key keyctl
ioprio_set ioprio_get inotify_init inotify_add_watch inotify_rm_watch migrate_pages openat
mkdirat mknodat fchownat futimesat newfstatat unlinkat renameat linkat symlinkat readlinkat
fchmodat faccessat pselect6 ppoll unshare set_robust_list get_robust_list splice tee
sync_file_range vmsplice move_pages utimensat epoll_pwait signalfd timerfd_create eventfd
fallocate timerfd_settime timerfd_gettime accept4 signalfd4 eventfd2 epoll_create1 dup3
pipe2 inotify_init1 preadv pwritev rt_tgsigqueueinfo perf_event_open recvmmsg fanotify_init
fanotify_mark prlimit64 name_to_handle_at open_by_handle_at clock_adjtime syncfs sendmmsg
setns getcpu process_vm_readv process_vm_writev kcmp finit_module sched_setattr
sched_getattr renameat2 seccomp getrandom memfd_create kexec_file_load bpf execveat
userfaultfd membarrier mlock2 copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc
pkey_free statx io_pgetevents rseq
""".split()
_NR_424 = """
pidfd_send_signal io_uring_setup io_uring_enter io_uring_register open_tree move_mount fsopen
fsconfig fsmount fspick pidfd_open clone3 close_range openat2 pidfd_getfd faccessat2
process_madvise epoll_pwait2 mount_setattr quotactl_fd landlock_create_ruleset
landlock_add_rule landlock_restrict_self memfd_secret process_mrelease futex_waitv
set_mempolicy_home_node
""".split()
_SYSCALLS = {**{f"__NR_{n}": i for i, n in enumerate(_NR_0)},
             **{f"__NR_{n}": 424 + i for i, n in enumerate(_NR_424)}}

CONSTS: dict[str, int] = {
    **_PTRACE_REQUESTS, **_PTRACE_MISC, **_SIGNALS, **_SI_CODES, **_WAIT_AND_MISC,
    **_ERRNOS, **_SYSCALLS,
}
# ===================================== end of the constants table ================================

_PTRACE_REQUEST_NAMES = {v: k for k, v in reversed(list(_PTRACE_REQUESTS.items()))}
_SIGNAL_NAMES = {v: k for k, v in reversed(list(_SIGNALS.items()))}


def lookup(name: str) -> int | None:
    """The number behind a symbolic name strace printed, or None if this table does not know it."""
    return CONSTS.get(name)


def signal_number(v: Any) -> int:
    """A signal given as a number, ``SIGxxx`` or a sigset member without the prefix (``CHLD``)."""
    if isinstance(v, int):
        return int(v)
    n = CONSTS.get(v) if v.startswith("SIG") else _SIGNALS.get("SIG" + v)
    if n is None:
        raise ValueError(f"unknown signal {v!r}")
    return n


def errno_number(name: str) -> int:
    """The number of an errno name as strace prints it (including kernel-internal ERESTART*)."""
    n = _ERRNOS.get(name)
    if n is None:
        raise ValueError(f"unknown errno {name!r}")
    return n


# =================================================================================================
# Values
# =================================================================================================


class Sym(str):
    """A symbolic name as strace printed it (``PTRACE_O_EXITKILL``, ``SIGTRAP``, ``NULL``)."""

    __slots__ = ()

    @property
    def value(self) -> int | None:
        """Its number from `CONSTS`, or None when unknown."""
        return CONSTS.get(self)

    def __repr__(self) -> str:
        return f"Sym({str(self)!r})"


class FlagSet(tuple):
    """``A|B|0x80``: the operands of a ``|`` chain in order (Sym, int or any other value)."""

    __slots__ = ()

    @property
    def value(self) -> int:
        """The OR of all operands (raises ValueError if one is an unknown name)."""
        return to_int(self)

    @property
    def names(self) -> list[str]:
        """The symbolic operands, as strings."""
        return [str(x) for x in self if isinstance(x, Sym)]

    def __repr__(self) -> str:
        return "FlagSet(" + "|".join(repr(x) if not isinstance(x, int) else hex(x) for x in self) + ")"


class Expr(tuple):
    """An operator expression: ``(op, *operands)``; ops ``<< >> + - * == != && || neg ~ !``."""

    __slots__ = ()

    @property
    def op(self) -> str:
        return self[0]

    @property
    def operands(self) -> tuple:
        return self[1:]

    def __repr__(self) -> str:
        return f"Expr{tuple(self)!r}"


class Group(tuple):
    """A ``{...}`` brace group holding bare values rather than fields (``{WIFEXITED(s) && ...}``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Group{tuple(self)!r}"


class Fn(NamedTuple):
    """A function-like form: ``WIFSTOPPED(s)``, ``offsetof(struct user, u_debugreg)``."""

    name: str
    args: tuple


class Changed(NamedTuple):
    """``before => after``: strace shows a value the kernel changed (clone3 tids, iov_len)."""

    before: Any
    after: Any


class Field(NamedTuple):
    """A top-level ``name=value`` argument (clone prints its arguments this way)."""

    name: str
    value: Any


class Fd(int):
    """A file descriptor; `path` is strace's ``-y`` decoration (``3</proc/5033/mem>``) or None."""

    path: str | None

    def __new__(cls, fd: int, path: str | None = None) -> "Fd":
        self = int.__new__(cls, fd)
        self.path = path
        return self

    def __repr__(self) -> str:
        return f"Fd({int(self)}, {self.path!r})"


class TruncatedBytes(bytes):
    """A string strace cut at its ``-s`` limit (printed as ``"..."...``): only the first bytes."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"TruncatedBytes({bytes(self)!r})"


class Raw(str):
    """Unparsed argument text (only for calls without a decoder whose argument did not parse)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Raw({str(self)!r})"


Value = Any  # int | bytes | dict | list | Sym | FlagSet | Expr | Fn | Group | Changed | Field | ...

_EVAL_OPS: dict[str, Callable[[int, int], int]] = {
    "<<": lambda a, b: a << b, ">>": lambda a, b: a >> b, "+": lambda a, b: a + b,
    "-": lambda a, b: a - b, "*": lambda a, b: a * b, "|": lambda a, b: a | b,
}


def to_int(v: Value) -> int:
    """The number strace's rendering stands for: ints, known names, ``A|B``, ``x<<16``, ``-ENOENT``,
    ``8*SS+8``, ``offsetof(struct user, u_debugreg)+48``, ``[0x33]`` (a one-element PEEK result),
    ``a => b`` (the final b).  Raises ValueError for anything else (unknown names, structs...)."""
    if isinstance(v, int):
        return int(v)
    if isinstance(v, Sym):
        n = CONSTS.get(v)
        if n is None:
            raise ValueError(f"unknown symbolic constant {str(v)!r}")
        return n
    if isinstance(v, FlagSet):
        acc = 0
        for x in v:
            acc |= wait_status(x) if isinstance(x, Group) else to_int(x)
        return acc
    if isinstance(v, Expr):
        op = v[0]
        if op == "neg":
            return -to_int(v[1])
        if op == "~":
            if isinstance(v[1], list):
                return sigset_mask(v)
            return ~to_int(v[1])
        f = _EVAL_OPS.get(op)
        if f is not None:
            return f(to_int(v[1]), to_int(v[2]))
        raise ValueError(f"not a numeric expression: {v!r}")
    if isinstance(v, Fn) and v.name == "offsetof" and len(v.args) == 2 and v.args[0] == "struct user":
        off = _STRUCT_USER_OFFSETS.get(v.args[1])
        if off is not None:
            return off
    if isinstance(v, Changed):
        return to_int(v.after)
    if isinstance(v, list) and len(v) == 1:
        return to_int(v[0])
    raise ValueError(f"not a number: {v!r}")


def numify(v: Value) -> Value:
    """`v` with every number-like part (names, flag sets, expressions) replaced by its int where
    the table knows it; dicts, lists and `Changed` are converted recursively; the rest is kept."""
    if type(v) is int:
        return v
    if isinstance(v, dict):
        return {k: numify(x) for k, x in v.items()}
    if isinstance(v, list):
        return [numify(x) for x in v]
    if isinstance(v, (Sym, FlagSet, Expr, Fn)):
        try:
            return to_int(v)
        except ValueError:
            return v
    if isinstance(v, Changed):
        return Changed(numify(v.before), numify(v.after))
    if isinstance(v, Fd):
        return int(v)
    return v


def _and_terms(e: Value) -> list:
    if isinstance(e, Expr) and e[0] == "&&":
        return _and_terms(e[1]) + _and_terms(e[2])
    return [e]


def wait_status(v: Value) -> int:
    """The numeric Linux wait status behind strace's decoding of one: ``[{WIFSTOPPED(s) &&
    WSTOPSIG(s) == SIGTRAP | 0x80}]`` -> 0x857f, ``...}|PTRACE_EVENT_EXEC<<16`` -> adds 0x40000,
    ``WIFEXITED(s) && WEXITSTATUS(s) == 1`` -> 0x100, ``WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL
    [&& WCOREDUMP(s)]`` -> 9 [|0x80], ``WIFCONTINUED(s)`` -> 0xffff, ``[0x1234]`` -> 0x1234."""
    if isinstance(v, list):
        if len(v) != 1:
            raise ValueError(f"a wait status is one value, got {v!r}")
        v = v[0]
    if isinstance(v, int):
        return int(v)
    parts = v if isinstance(v, FlagSet) else (v,)
    extra = 0
    group = None
    for p in parts:
        if isinstance(p, Group):
            if group is not None or len(p) != 1:
                raise ValueError(f"bad wait status {v!r}")
            group = p[0]
        else:
            extra |= to_int(p)
    if group is None:
        return extra
    kind = None
    val = None
    core = False
    for term in _and_terms(group):
        if isinstance(term, Fn):
            if term.name == "WCOREDUMP":
                core = True
            elif term.name in ("WIFEXITED", "WIFSIGNALED", "WIFSTOPPED", "WIFCONTINUED"):
                kind = term.name
            else:
                raise ValueError(f"unknown wait status term {term!r}")
        elif isinstance(term, Expr) and term[0] == "==" and isinstance(term[1], Fn):
            val = to_int(term[2])
        else:
            raise ValueError(f"unknown wait status term {term!r}")
    if kind == "WIFEXITED" and val is not None:
        base = (val & 0xFF) << 8
    elif kind == "WIFSIGNALED" and val is not None:
        base = (val & 0x7F) | (0x80 if core else 0)
    elif kind == "WIFSTOPPED" and val is not None:
        base = ((val & 0xFF) << 8) | 0x7F
    elif kind == "WIFCONTINUED":
        base = 0xFFFF
    else:
        raise ValueError(f"incomplete wait status {v!r}")
    return base | extra


def sigset_mask(v: Value) -> int:
    """A sigset as strace prints it (``[]``, ``[CHLD USR1]``, ``~[RTMIN RT_1]``) as a 64-bit mask."""
    if isinstance(v, Expr) and v[0] == "~":
        return ~sigset_mask(v[1]) & 0xFFFFFFFFFFFFFFFF
    if not isinstance(v, list):
        return to_int(v)
    mask = 0
    for s in v:
        mask |= 1 << (signal_number(s) - 1)
    return mask


# =================================================================================================
# C string escapes
# =================================================================================================

_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{1,2})|([0-7]{1,3})|(.))", re.S)
_SIMPLE_ESC = {"n": 10, "t": 9, "r": 13, "v": 11, "f": 12, "a": 7, "b": 8, "e": 27,
               '"': 34, "\\": 92, "'": 39, "?": 63}


def _literal_bytes(s: str) -> bytes:
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape")


def c_unescape(body: str) -> bytes:
    """The bytes a C string literal body (without its quotes) stands for: ``\\xHH``, octal
    ``\\NNN`` (1-3 digits), ``\\n \\t \\r \\v \\f \\a \\b \\" \\\\ \\'``; other characters are
    themselves (read logs as latin-1 so that this is exact)."""
    if "\\" not in body:
        return _literal_bytes(body)
    k = len(body) >> 2
    if len(body) & 3 == 0 and body[::4] == "\\" * k and body[1::4] == "x" * k:
        try:  # strace -x: the whole string is \xHH
            b = bytes.fromhex(body.replace("\\x", ""))
            if len(b) == k:
                return b
        except ValueError:
            pass
    out = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(body):
        if m.start() > pos:
            out += _literal_bytes(body[pos:m.start()])
        hx, octal, ch = m.groups()
        if hx is not None:
            out.append(int(hx, 16))
        elif octal is not None:
            n = int(octal, 8)
            if n > 0xFF:
                raise ValueError(f"octal escape out of range: \\{octal}")
            out.append(n)
        else:
            c = _SIMPLE_ESC.get(ch)
            if c is None:
                raise ValueError(f"unknown escape \\{ch}")
            out.append(c)
        pos = m.end()
    if pos != len(body):
        rest = body[pos:]
        if "\\" in rest:
            raise ValueError("dangling backslash in string")
        out += _literal_bytes(rest)
    return bytes(out)


_PRINTABLE_ESC = {0x22: '\\"', 0x5C: "\\\\", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t",
                  0x0B: "\\v"}


def c_escape(data: bytes, *, hex_all: bool = False) -> str:
    """Render bytes as strace does inside quotes: with ``hex_all`` every byte as ``\\xHH`` (what
    ``-x`` does to a string with any non-printable byte), otherwise strace's default: printable
    ASCII as itself, ``\\" \\\\ \\f \\n \\r \\t \\v``, other bytes as the shortest octal escape
    that cannot run into a following digit."""
    if hex_all:
        return "".join(f"\\x{b:02x}" for b in data)
    out = []
    n = len(data)
    for i, b in enumerate(data):
        e = _PRINTABLE_ESC.get(b)
        if e is not None:
            out.append(e)
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        elif i + 1 < n and 0x30 <= data[i + 1] <= 0x39:
            out.append(f"\\{b:03o}")
        else:
            out.append(f"\\{b:o}")
    return "".join(out)


# =================================================================================================
# The argument grammar: tokenizer + recursive descent
# =================================================================================================

_TOKEN = re.compile(
    r"""\s*(
      "[^"\\]*(?:\\.[^"\\]*)*"(?:\.\.\.)?          # string, maybe truncated
     |0[xX][0-9a-fA-F]+                           # hex
     |\d+\.\d+                                    # float (rare: -T style values)
     |\d+(?:<(?!<)[^>\\]*(?:\\.[^>\\]*)*>)?       # decimal/octal, maybe with a -y path
     |[A-Za-z_]\w*(?:\?\?\?)?(?:<(?!<)[^>\\]*(?:\\.[^>\\]*)*>)?  # name, maybe AT_FDCWD</cwd>
     |<<|>>|&&|\|\||==|!=|=>|\.\.\.               # multi-char operators
     |/\*.*?\*/                                   # comment
     |\S                                          # any other single character
    )""",
    re.X | re.S,
)
_BINPREC = {"=>": 1, "&&": 2, "||": 2, "==": 3, "!=": 3, "|": 4, "<<": 5, ">>": 5, "+": 6, "-": 6,
            "*": 7}
_NULL = Sym("NULL")
_IDENT0 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_DIGITS = frozenset("0123456789")


class _Bad(ValueError):
    pass


def _tokens(text: str) -> list[str]:
    """Tokens of argument text.  String literals are cut out with str.find (a 4096-byte ``-x``
    buffer is 16K characters; the regex would walk it escape by escape)."""
    findall = _TOKEN.findall
    if '"' not in text:
        toks = findall(text)
    else:
        toks = []
        pos = 0
        find = text.find
        while True:
            q = find('"', pos)
            if q < 0:
                toks += findall(text, pos)
                break
            if q > pos:
                toks += findall(text, pos, q)
            j = find('"', q + 1)
            while j > 0 and text[j - 1] == "\\":
                k = j - 2
                while text[k] == "\\":
                    k -= 1
                if (j - 1 - k) % 2 == 0:  # an even run of backslashes: the quote is real
                    break
                j = find('"', j + 1)
            if j < 0:
                raise _Bad("unterminated string")
            end = j + 1
            if text.startswith("...", end):
                end += 3
            toks.append(text[q:end])
            pos = end
    if "/*" in text:
        toks = [t for t in toks if not t.startswith("/*")]
    return toks


def _fd_path(raw: str) -> str:
    return c_unescape(raw).decode("utf-8", "surrogateescape") if "\\" in raw else raw


def _number(t: str) -> Any:
    if t[1:2] in ("x", "X"):
        return int(t, 16)
    if "<" in t:
        k = t.index("<")
        return Fd(_number(t[:k]), _fd_path(t[k + 1:-1]))
    if "." in t:
        return float(t)
    if t[0] == "0" and len(t) > 1:
        return int(t, 8)
    return int(t)


class _Parser:
    """Recursive descent over a token list; `i` is the next token."""

    __slots__ = ("t", "i", "n")

    def __init__(self, toks: list[str]) -> None:
        self.t = toks
        self.i = 0
        self.n = len(toks)

    def fail(self, what: str) -> _Bad:
        got = self.t[self.i] if self.i < self.n else "end of arguments"
        if len(got) > 40:
            got = got[:40] + "..."
        return _Bad(f"{what}, got {got!r} (token {self.i})")

    def args(self, allow_trailing_comma: bool = False) -> list:
        """Top-level arguments: values or ``name=value`` fields, comma separated, to the end."""
        t, n = self.t, self.n
        out = []
        if n == 0:
            return out
        while True:
            i = self.i
            if i + 1 < n and t[i + 1] == "=" and t[i][0] in _IDENT0:
                self.i = i + 2
                out.append(Field(t[i], self.expr(1)))
            elif t[i][0] in _DIGITS and (i + 1 == n or t[i + 1] == ","):
                out.append(_number(t[i]))  # fast path: a plain number
                self.i = i + 1
            else:
                out.append(self.expr(1))
            if self.i >= n:
                return out
            if t[self.i] != ",":
                raise self.fail("expected ',' between arguments")
            self.i += 1
            if self.i >= n:
                if allow_trailing_comma:
                    return out
                raise self.fail("expected an argument after ','")

    def expr(self, minprec: int) -> Any:
        left = self.primary()
        t, n = self.t, self.n
        while self.i < n:
            op = t[self.i]
            p = _BINPREC.get(op)
            if p is None or p < minprec:
                break
            self.i += 1
            right = self.expr(p + 1)
            if op == "|":
                left = FlagSet((*left, right)) if isinstance(left, FlagSet) else FlagSet((left, right))
            elif op == "=>":
                left = Changed(left, right)
            else:
                left = Expr((op, left, right))
        return left

    def primary(self) -> Any:
        i = self.i
        if i >= self.n:
            raise self.fail("expected a value")
        tok = self.t[i]
        c = tok[0]
        self.i = i + 1
        if c == '"':
            if tok[-1] == ".":
                return TruncatedBytes(c_unescape(tok[1:-4]))
            return c_unescape(tok[1:-1])
        if c in _DIGITS:
            return _number(tok)
        if c in _IDENT0:
            nxt = self.t[i + 1] if i + 1 < self.n else ""
            if nxt == "(":
                self.i = i + 2
                return Fn(tok, tuple(self.seq(")")))
            if tok == "NULL":
                return _NULL
            if tok[-1] == ">":  # -y path on a symbolic fd: AT_FDCWD</tmp/lxtrace>
                k = tok.index("<")
                v = CONSTS.get(tok[:k])
                if v is None:
                    raise _Bad(f"unknown symbolic fd {tok[:k]!r}")
                return Fd(v, _fd_path(tok[k + 1:-1]))
            if (tok == "struct" or tok == "union") and nxt and nxt[0] in _IDENT0:
                self.i = i + 2
                return Sym(tok + " " + nxt)
            return Sym(tok)
        if tok == "{":
            return self.struct()
        if tok == "[":
            return self.array()
        if tok == "-":
            v = self.primary()
            if type(v) is int:
                return -v
            return Expr(("neg", v))
        if tok == "~" or tok == "!":
            return Expr((tok, self.primary()))
        if tok == "(":
            v = self.expr(1)
            self.expect(")")
            return v
        if tok == "...":
            return ...
        self.i = i
        raise self.fail("expected a value")

    def expect(self, tok: str) -> None:
        if self.i >= self.n or self.t[self.i] != tok:
            raise self.fail(f"expected {tok!r}")
        self.i += 1

    def seq(self, close: str) -> list:
        """Comma separated values up to `close` (function-call arguments)."""
        out = []
        t = self.t
        if self.i < self.n and t[self.i] == close:
            self.i += 1
            return out
        while True:
            out.append(self.expr(1))
            if self.i >= self.n:
                raise self.fail(f"expected {close!r}")
            tok = t[self.i]
            self.i += 1
            if tok == close:
                return out
            if tok != ",":
                self.i -= 1
                raise self.fail(f"expected ',' or {close!r}")

    def struct(self) -> Any:
        t, n = self.t, self.n
        fields: dict = {}
        bare: list = []
        if self.i < n and t[self.i] == "}":
            self.i += 1
            return fields
        while True:
            i = self.i
            if i + 1 < n and t[i + 1] == "=" and t[i][0] in _IDENT0:
                j = i + 2
                if j + 1 < n and t[j][0] in _DIGITS and (t[j + 1] == "," or t[j + 1] == "}"):
                    fields[t[i]] = _number(t[j])  # fast path: name=NUMBER
                    self.i = j + 1
                else:
                    self.i = j
                    fields[t[i]] = self.expr(1)
            elif i < n and t[i] == "...":
                self.i = i + 1
                fields["..."] = ...
            else:
                bare.append(self.expr(1))
            if self.i >= n:
                raise self.fail("expected '}'")
            tok = t[self.i]
            self.i += 1
            if tok == "}":
                break
            if tok != ",":
                self.i -= 1
                raise self.fail("expected ',' or '}' in a struct")
        if not bare:
            return fields
        if not fields:
            return Group(bare)
        for k, v in enumerate(bare):
            fields[k] = v
        return fields

    def array(self) -> list:
        """``[a, b]``, and strace's space separated sigsets ``[HUP INT]``."""
        t, n = self.t, self.n
        out: list = []
        while True:
            if self.i >= n:
                raise self.fail("expected ']'")
            tok = t[self.i]
            if tok == "]":
                self.i += 1
                return out
            if tok == ",":
                if not out:
                    raise self.fail("expected a value")
                self.i += 1
                continue
            out.append(self.expr(1))


def parse_args(text: str) -> list:
    """Parse the text between a call's parentheses into a list of values (see module doc)."""
    p = _Parser(_tokens(text))
    out = p.args()
    return out


def parse_value(text: str) -> Value:
    """Parse one value (``{si_signo=SIGCHLD, ...}``, ``[{WIFEXITED(s) && ...}]``, ``"\\x01"``...)."""
    p = _Parser(_tokens(text))
    v = p.expr(1)
    if p.i != p.n:
        raise p.fail("trailing text after value")
    return v


def split_args(text: str) -> list[str]:
    """Split argument text at top-level commas (outside strings, (), [] and {}), stripped."""
    out = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
        i += 1
    last = text[start:].strip()
    if last or out:
        out.append(last)
    return out


# =================================================================================================
# Records
# =================================================================================================


@dataclass(slots=True, kw_only=True)
class Record:
    """One event of the log.  `lineno` is 1-based; `pid` is the ``[pid N]`` / ``N`` prefix strace
    adds with -f (None when the line has none)."""

    lineno: int
    pid: int | None = None


@dataclass(slots=True, kw_only=True)
class Syscall(Record):
    """``name(args) = ret``.  `args` are parsed values (top-level ``name=value`` arguments as
    `Field`); `args_text` is the raw text between the parentheses.  `ret` is None for ``= ?``;
    `errno`/`errmsg` are ``ENOENT`` / ``No such file or directory`` for failures, `errmsg` alone
    holds a success annotation like ``Timeout``; `ret_path` is a ``-y`` path on a returned fd.
    `end_lineno` is where the result was printed (the resumed line of a split call).
    `unfinished`: no result was ever printed (args may be partial).  `partial`: a resumed line
    whose start was not in the log (args are only the tail)."""

    name: str
    args: list = field(default_factory=list)
    args_text: str = ""
    ret: int | None = None
    errno: str | None = None
    errmsg: str | None = None
    ret_text: str = ""
    ret_path: str | None = None
    end_lineno: int | None = None
    unfinished: bool = False
    partial: bool = False

    @property
    def raw_args(self) -> list[str]:
        """The argument texts, split at top-level commas."""
        return split_args(self.args_text)

    @property
    def failed(self) -> bool:
        return self.errno is not None

    @property
    def errno_no(self) -> int | None:
        """The errno as a number (None when the call did not fail)."""
        return None if self.errno is None else errno_number(self.errno)

    @property
    def kernel_ret(self) -> int | None:
        """What the raw syscall returned: ``-errno`` for failures, else `ret`."""
        if self.errno is not None:
            return -errno_number(self.errno)
        return self.ret

    def arg(self, name: str) -> Value:
        """The value of a top-level ``name=value`` argument (KeyError if absent)."""
        for a in self.args:
            if isinstance(a, Field) and a.name == name:
                return a.value
        raise KeyError(name)


@dataclass(slots=True, kw_only=True)
class PtraceCall(Syscall):
    """``ptrace(REQUEST, pid[, addr][, data])``.  strace omits addr for GETREGS/SETREGS-style
    requests and both for ATTACH/INTERRUPT/LISTEN/KILL; `addr`/`data` are None when not shown.

    `addr_int`/`data_int` are their numbers when they have one (``8*SS+8`` -> 168, ``NULL`` -> 0,
    ``SIGCONT`` -> 18, option sets, ``[0x33]`` PEEK results); `regs` is user_regs_struct as
    ``{name: int}`` (GETREGS/SETREGS, or a decoded NT_PRSTATUS regset); `siginfo` and
    `syscall_info` are numeric dicts; `iov` is ``{'iov_base': ..., 'iov_len': int}`` with the
    length after the call and `iov_len_in` the one passed in when strace showed ``a => b``;
    `peek` is the word a PEEK* request read or the GETEVENTMSG message; `options` the option
    bits of SETOPTIONS/SEIZE; `signal` the signal a resuming request delivers."""

    request: str = ""
    request_no: int | None = None
    target: int | None = None
    addr: Value = None
    data: Value = None
    addr_int: int | None = None
    data_int: int | None = None
    regs: dict | None = None
    siginfo: dict | None = None
    syscall_info: dict | None = None
    iov: dict | None = None
    iov_len_in: int | None = None
    peek: int | None = None
    options: int | None = None
    signal: int | None = None


@dataclass(slots=True, kw_only=True)
class Wait4Call(Syscall):
    """``wait4(pid, status, options, rusage) = pid``.  `status` is the numeric wait status when
    the kernel wrote one (strace decoded it); `status_addr` the pointer when strace printed only
    an address (nothing written, e.g. ``= 0`` with WNOHANG or an error)."""

    wpid: int = 0
    status: int | None = None
    status_addr: int | None = None
    options: int = 0
    rusage: Value = None


@dataclass(slots=True, kw_only=True)
class WaitidCall(Syscall):
    """``waitid(idtype, id, infop, options, rusage)``; `siginfo` numeric when written."""

    idtype: int = 0
    id: int = 0
    siginfo: dict | None = None
    options: int = 0
    rusage: Value = None


@dataclass(slots=True, kw_only=True)
class MemIOCall(Syscall):
    """``pread64``/``pwrite64(fd<path>, buf, count, offset)``.  `data` is the exact bytes shown
    (read back for pread64, written for pwrite64; only the first -s bytes when `truncated`), or
    None when strace printed the buffer as an address (`buf_addr`).  `proc_pid`/`proc_tid` come
    from a ``/proc/<pid>/mem`` or ``/proc/<pid>/task/<tid>/mem`` path."""

    fd: int = -1
    path: str | None = None
    data: bytes | None = None
    truncated: bool = False
    buf_addr: int | None = None
    count: int = 0
    offset: int = 0
    proc_pid: int | None = None
    proc_tid: int | None = None


@dataclass(slots=True, kw_only=True)
class ProcessVmCall(Syscall):
    """``process_vm_readv/writev(pid, local_iov, liovcnt, remote_iov, riovcnt, flags)``.
    `local_iov` is the parsed list of ``{iov_base, iov_len}``; `remote_iov` is ``[(addr, len)]``;
    `data` the concatenated local buffers strace showed (None if any was only an address)."""

    target: int = 0
    local_iov: list = field(default_factory=list)
    remote_iov: list = field(default_factory=list)
    flags: int = 0
    data: bytes | None = None
    truncated: bool = False


@dataclass(slots=True, kw_only=True)
class KillCall(Syscall):
    """``kill(pid, sig)``, ``tkill(tid, sig)``, ``tgkill(tgid, tid, sig)``; `target` is the pid or
    tid, `tgid` only for tgkill."""

    target: int = 0
    tgid: int | None = None
    signal: int = 0
    signame: str | None = None


@dataclass(slots=True, kw_only=True)
class CloneCall(Syscall):
    """``clone``/``clone3``/``fork``/``vfork``.  `child` is the new pid (the return value, when
    positive); `flags` the clone flags without the exit signal; `exit_signal` the signal the
    child's exit sends; `params` the named arguments (clone) or the clone_args struct (clone3,
    with kernel-written fields like ``parent_tid`` taken from the ``=> {...}`` part)."""

    flags: int | None = None
    exit_signal: int | None = None
    child: int | None = None
    params: dict | None = None


@dataclass(slots=True, kw_only=True)
class OpenatCall(Syscall):
    """``openat(dirfd, path, flags[, mode]) = fd``; the fd's ``-y`` path is `ret_path`."""

    dirfd: int = -100
    path: str = ""
    flags: int = 0
    mode: int | None = None


@dataclass(slots=True, kw_only=True)
class CloseCall(Syscall):
    """``close(fd<path>)``."""

    fd: int = -1
    path: str | None = None


@dataclass(slots=True, kw_only=True)
class SigsuspendCall(Syscall):
    """``rt_sigsuspend(mask, sigsetsize)``; `mask` as a 64-bit mask, `signals` the names of the
    signals in it (``SIGCHLD``, ``SIGRT_1``...)."""

    mask: int = 0
    signals: list = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class SignalRecord(Record):
    """``--- SIGCHLD {si_signo=SIGCHLD, ...} ---`` (kind ``"signal"``: a signal was delivered to
    the traced process) or ``--- stopped by SIGSTOP ---`` (kind ``"stopped"``).  `siginfo` is
    numeric, `siginfo_raw` as parsed."""

    kind: str = "signal"
    signame: str = ""
    signo: int | None = None
    siginfo: dict | None = None
    siginfo_raw: dict | None = None


@dataclass(slots=True, kw_only=True)
class ExitRecord(Record):
    """``+++ exited with N +++`` (kind ``"exited"``, `code`), ``+++ killed by SIG [(core dumped)]
    +++`` (kind ``"killed"``, `signo`), ``+++ superseded by execve in pid N +++`` (kind
    ``"superseded"``, `code` is that pid)."""

    kind: str = "exited"
    code: int | None = None
    signame: str | None = None
    signo: int | None = None
    core_dumped: bool = False

    @property
    def wait_status(self) -> int | None:
        """The wait status a parent would have seen."""
        if self.kind == "exited" and self.code is not None:
            return (self.code & 0xFF) << 8
        if self.kind == "killed" and self.signo is not None:
            return self.signo | (0x80 if self.core_dumped else 0)
        return None


class LineError(NamedTuple):
    """A line that could not be parsed: where, what, and why."""

    lineno: int
    line: str
    message: str


class StraceParseError(ValueError):
    """Raised by ``strict=True`` parsing: ``path:lineno: message``."""

    def __init__(self, path: str, lineno: int, message: str, line: str = "") -> None:
        super().__init__(f"{path}:{lineno}: {message}")
        self.path = path
        self.lineno = lineno
        self.line = line


@dataclass(slots=True)
class ParseResult:
    """Everything parsed from one log: `records` in log order, `errors` for unparseable lines,
    `line_count` lines read."""

    path: str
    records: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    line_count: int = 0

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def ok(self) -> bool:
        return not self.errors

    def calls(self, *names: str) -> list[Syscall]:
        """The syscall records (only those named `names`, if given)."""
        if names:
            return [r for r in self.records if isinstance(r, Syscall) and r.name in names]
        return [r for r in self.records if isinstance(r, Syscall)]


# =================================================================================================
# Typed decoders: (common kwargs, args) -> record.  Raising means "this line is malformed".
# =================================================================================================

_PROC_MEM = re.compile(r"/proc/(\d+)(?:/task/(\d+))?/mem\Z")
_REGS_REQUESTS = frozenset({"PTRACE_GETREGS", "PTRACE_SETREGS", "PTRACE_GETFPREGS",
                            "PTRACE_SETFPREGS", "PTRACE_GETFPXREGS", "PTRACE_SETFPXREGS"})
_RESUME_REQUESTS = frozenset({"PTRACE_CONT", "PTRACE_SYSCALL", "PTRACE_SINGLESTEP",
                              "PTRACE_SINGLEBLOCK", "PTRACE_SYSEMU", "PTRACE_SYSEMU_SINGLESTEP",
                              "PTRACE_DETACH", "PTRACE_KILL"})
_PEEK_REQUESTS = frozenset({"PTRACE_PEEKTEXT", "PTRACE_PEEKDATA", "PTRACE_PEEKUSER",
                            "PTRACE_PEEKUSR", "PTRACE_GETEVENTMSG"})


def _int_or_none(v: Value) -> int | None:
    if v is None:
        return None
    try:
        return to_int(v)
    except ValueError:
        return None


def _dec_ptrace(kw: dict, args: list) -> PtraceCall:
    req = args[0]
    if isinstance(req, Sym):
        request = str(req)
        request_no = CONSTS.get(request)
    else:
        request_no = to_int(req)
        request = _PTRACE_REQUEST_NAMES.get(request_no, hex(request_no))
    target = to_int(args[1]) if len(args) > 1 else None
    addr = data = None
    if len(args) == 3:
        data = args[2]
    elif len(args) == 4:
        addr, data = args[2], args[3]
    elif len(args) > 4:
        raise _Bad(f"ptrace with {len(args)} arguments")
    rec = PtraceCall(request=request, request_no=request_no, target=target, addr=addr,
                     data=data, addr_int=_int_or_none(addr), **kw)
    if data is None:
        return rec
    if not isinstance(data, (dict, bytes, Changed, Group)):
        rec.data_int = _int_or_none(data)
    if request in _REGS_REQUESTS:
        if isinstance(data, dict):
            rec.regs = numify(data)
    elif request in _PEEK_REQUESTS:
        if isinstance(data, list):
            rec.peek = to_int(data)
    elif request in _RESUME_REQUESTS:
        rec.signal = rec.data_int
    elif request in ("PTRACE_SETOPTIONS", "PTRACE_SEIZE"):
        rec.options = rec.data_int
    elif request in ("PTRACE_GETSIGINFO", "PTRACE_SETSIGINFO"):
        if isinstance(data, dict):
            rec.siginfo = numify(data)
    elif request == "PTRACE_GET_SYSCALL_INFO":
        if isinstance(data, dict):
            rec.syscall_info = numify(data)
    elif request in ("PTRACE_GETREGSET", "PTRACE_SETREGSET"):
        iov = data
        if isinstance(iov, Changed):  # [{...}] => [{...}] / {...} => {iov_len=N}
            before, after = iov
            before = before[0] if isinstance(before, list) and len(before) == 1 else before
            after = after[0] if isinstance(after, list) and len(after) == 1 else after
            merged = dict(before) if isinstance(before, dict) else {}
            if isinstance(after, dict):
                merged.update(after)
            if isinstance(before, dict) and "iov_len" in before and isinstance(after, dict) \
                    and "iov_len" in after:
                rec.iov_len_in = to_int(before["iov_len"])
            iov = merged
        if isinstance(iov, list) and len(iov) == 1:
            iov = iov[0]
        if isinstance(iov, dict):
            base = iov.get("iov_base")
            ln = iov.get("iov_len")
            if isinstance(ln, Changed):
                rec.iov_len_in = to_int(ln.before)
            rec.iov = {"iov_base": numify(base), "iov_len": None if ln is None else to_int(ln)}
            if isinstance(base, dict) and rec.addr_int == 1:  # NT_PRSTATUS decoded as regs
                rec.regs = numify(base)
        else:
            rec.data_int = _int_or_none(iov)
    return rec


def _dec_wait4(kw: dict, args: list) -> Wait4Call:
    wpid, st, opts = args[0], args[1], args[2]
    rusage = args[3] if len(args) > 3 else None
    status = status_addr = None
    if isinstance(st, list):
        status = wait_status(st)
    elif st is not _NULL:
        status_addr = to_int(st)
    return Wait4Call(wpid=to_int(wpid), status=status, status_addr=status_addr,
                     options=to_int(opts), rusage=rusage, **kw)


def _dec_waitid(kw: dict, args: list) -> WaitidCall:
    infop = args[2]
    return WaitidCall(idtype=to_int(args[0]), id=to_int(args[1]),
                      siginfo=numify(infop) if isinstance(infop, dict) else None,
                      options=to_int(args[3]), rusage=args[4] if len(args) > 4 else None, **kw)


def _dec_memio(kw: dict, args: list) -> MemIOCall:
    fd, buf, count, offset = args
    path = fd.path if isinstance(fd, Fd) else None
    pp = pt = None
    if path is not None:
        m = _PROC_MEM.match(path)
        if m:
            pp = int(m.group(1))
            pt = int(m.group(2)) if m.group(2) else None
    data = None
    addr = None
    if isinstance(buf, bytes):
        data = buf
    else:
        addr = to_int(buf)
    return MemIOCall(fd=to_int(fd), path=path, data=data, truncated=isinstance(buf, TruncatedBytes),
                     buf_addr=addr, count=to_int(count), offset=to_int(offset), proc_pid=pp,
                     proc_tid=pt, **kw)


def _dec_process_vm(kw: dict, args: list) -> ProcessVmCall:
    pid, local, _lcnt, remote, _rcnt, flags = args
    chunks = []
    trunc = False
    if isinstance(local, list):
        for iov in local:
            base = iov.get("iov_base") if isinstance(iov, dict) else None
            if isinstance(base, bytes):
                chunks.append(base)
                trunc = trunc or isinstance(base, TruncatedBytes)
            else:
                chunks = None
                break
    else:
        chunks = None
    remote_iov = []
    if isinstance(remote, list):
        for iov in remote:
            if iov is ...:
                continue
            remote_iov.append((to_int(iov["iov_base"]), to_int(iov["iov_len"])))
    return ProcessVmCall(target=to_int(pid), local_iov=local if isinstance(local, list) else [],
                         remote_iov=remote_iov, flags=to_int(flags),
                         data=b"".join(chunks) if chunks is not None else None, truncated=trunc,
                         **kw)


def _dec_kill(kw: dict, args: list) -> KillCall:
    sig = args[-1]
    tgid = to_int(args[0]) if len(args) == 3 else None
    target = to_int(args[-2])
    return KillCall(target=target, tgid=tgid, signal=signal_number(sig),
                    signame=str(sig) if isinstance(sig, Sym) else _SIGNAL_NAMES.get(to_int(sig)),
                    **kw)


def _dec_clone(kw: dict, args: list) -> CloneCall:
    ret = kw.get("ret")
    child = ret if ret is not None and ret > 0 else None
    flags = exit_signal = None
    params: dict | None = None
    name = kw["name"]
    if name == "clone3" and args:
        a = args[0]
        if isinstance(a, Changed):
            params = dict(a.before) if isinstance(a.before, dict) else {}
            if isinstance(a.after, dict):
                params.update(a.after)
        elif isinstance(a, dict):
            params = dict(a)
        if params is not None:
            if "flags" in params:
                flags = to_int(params["flags"])
            if "exit_signal" in params:
                exit_signal = signal_number(params["exit_signal"])
    elif name == "clone":
        params = {a.name: a.value for a in args if isinstance(a, Field)}
        if "flags" in params:
            f = to_int(params["flags"])
            flags, exit_signal = f & ~0xFF, f & 0xFF
    elif name == "vfork":
        flags, exit_signal = CONSTS["CLONE_VM"] | CONSTS["CLONE_VFORK"], CONSTS["SIGCHLD"]
    elif name == "fork":
        flags, exit_signal = 0, CONSTS["SIGCHLD"]
    return CloneCall(flags=flags, exit_signal=exit_signal, child=child, params=params, **kw)


def _dec_openat(kw: dict, args: list) -> OpenatCall:
    dirfd, path, flags = args[0], args[1], args[2]
    mode = to_int(args[3]) if len(args) > 3 else None
    if not isinstance(path, bytes):
        raise _Bad("openat path is not a string")
    return OpenatCall(dirfd=to_int(dirfd), path=path.decode("utf-8", "surrogateescape"),
                      flags=to_int(flags), mode=mode, **kw)


def _dec_close(kw: dict, args: list) -> CloseCall:
    (fd,) = args
    return CloseCall(fd=to_int(fd), path=fd.path if isinstance(fd, Fd) else None, **kw)


def _dec_sigsuspend(kw: dict, args: list) -> SigsuspendCall:
    mask = sigset_mask(args[0])
    names = [_SIGNAL_NAMES.get(n, str(n)) for n in range(1, 65) if mask >> (n - 1) & 1]
    return SigsuspendCall(mask=mask, signals=names, **kw)


_DECODERS: dict[str, Callable[[dict, list], Syscall]] = {
    "ptrace": _dec_ptrace,
    "wait4": _dec_wait4,
    "waitid": _dec_waitid,
    "pread64": _dec_memio,
    "pwrite64": _dec_memio,
    "process_vm_readv": _dec_process_vm,
    "process_vm_writev": _dec_process_vm,
    "kill": _dec_kill,
    "tkill": _dec_kill,
    "tgkill": _dec_kill,
    "clone": _dec_clone,
    "clone3": _dec_clone,
    "fork": _dec_clone,
    "vfork": _dec_clone,
    "openat": _dec_openat,
    "close": _dec_close,
    "rt_sigsuspend": _dec_sigsuspend,
}


# =================================================================================================
# Lines
# =================================================================================================

_PREFIX = re.compile(r"\[pid +(\d+)\] |(\d+) +")
_CALL_HEAD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*|\?\?\?)\(")
_RESUMED = re.compile(r"<\.\.\. ([A-Za-z_][A-Za-z0-9_]*|\?\?\?) resumed>")
_ERRNAME = re.compile(r"E[A-Z0-9_]+\Z")
_UNFINISHED = " <unfinished ...>"
_TIMING = re.compile(r"(?:^| )<\d+\.\d+>\Z")
_SIGLINE = re.compile(r"--- (SIG\w+|\d+) (.*) ---\Z")
_STOPPED = re.compile(r"--- stopped by (SIG\w+) ---\Z")
_EXITED = re.compile(r"\+\+\+ exited with (-?\d+) \+\+\+\Z")
_KILLED = re.compile(r"\+\+\+ killed by (SIG\w+|\d+)( \(core dumped\))? \+\+\+\Z")
_SUPERSEDED = re.compile(r"\+\+\+ superseded by execve in pid (\d+) \+\+\+\Z")


def _split_prefix(line: str) -> tuple[int | None, str]:
    c = line[0]
    if c == "[" or c in _DIGITS:
        m = _PREFIX.match(line)
        if m:
            return int(m.group(1) or m.group(2)), line[m.end():]
    return None, line


def _parse_ret(text: str) -> dict:
    """``4906`` / ``-1 ENOENT (No such file or directory)`` / ``? ERESTARTSYS (...)`` / ``?`` /
    ``3</proc/1/mem>`` / ``0 (Timeout)`` / ``0x7f00 (flags ...)``, optionally `` <0.000012>``."""
    out: dict = {"ret_text": text}
    head, sep, rest = text.partition(" ")
    if head == "?":
        out["ret"] = None
    else:
        if not head or not (head[0] in _DIGITS or (head[0] == "-" and head[1:2] in _DIGITS)):
            raise _Bad(f"bad return value {text!r}")
        if "<" in head:
            k = head.index("<")
            if head[-1] != ">":
                # the path may contain spaces: take up to the closing '>'
                j = text.find(">", k)
                if j < 0:
                    raise _Bad(f"bad return value {text!r}")
                head, rest = text[:j + 1], text[j + 2:]
            out["ret_path"] = head[k + 1:-1]
            head = head[:k]
        neg = head[0] == "-"
        body = head[1:] if neg else head
        v = int(body, 16) if body[:2] in ("0x", "0X") else int(body)
        out["ret"] = -v if neg else v
    rest = rest.strip()
    t = _TIMING.search(rest)
    if t:  # -T: time spent in the call
        rest = rest[:t.start()]
    if rest:
        name, sp, msg = rest.partition(" ")
        if _ERRNAME.match(name) and msg.startswith("(") and msg.endswith(")"):
            out["errno"] = name
            out["errmsg"] = msg[1:-1]
        elif _ERRNAME.match(name) and not msg:
            out["errno"] = name
        elif rest.startswith("(") and rest.endswith(")"):
            out["errmsg"] = rest[1:-1]
        else:
            out["errmsg"] = rest  # e.g. "<unavailable>", "<detached ...>"
    return out


def _generic_args(name: str, text: str, *, lenient: bool) -> list:
    try:
        p = _Parser(_tokens(text))
        return p.args(allow_trailing_comma=lenient)
    except _Bad:
        if name in _DECODERS and not lenient:
            raise
        return [Raw(a) for a in split_args(text)]


def _parse_call(s: str, lineno: int, pid: int | None, end_lineno: int, *,
                typed: bool = True) -> Syscall:
    m = _CALL_HEAD.match(s)
    if not m:
        raise _Bad("not a syscall, signal or exit line")
    name = m.group(1)
    k = s.rfind(" = ")
    if k < 0:
        raise _Bad("no ' = ' result")
    j = s.rfind(")", m.end() - 1, k)  # strace pads short calls to a column with spaces
    if j < 0 or (j + 1 < k and not s[j + 1:k].isspace()):
        raise _Bad("no ')' before ' = '")
    args_text = s[m.end():j]
    kw = _parse_ret(s[k + 3:])
    kw["name"] = name
    kw["lineno"] = lineno
    kw["pid"] = pid
    kw["end_lineno"] = end_lineno
    if args_text.endswith(_UNFINISHED):  # "wait4(-1,  <unfinished ...>) = ?": died mid-call
        kw["unfinished"] = True
        kw["args_text"] = args_text = args_text[:-len(_UNFINISHED)].rstrip().rstrip(",")
        kw["args"] = _generic_args(name, args_text, lenient=True)
        return Syscall(**kw)
    kw["args_text"] = args_text
    dec = _DECODERS.get(name) if typed else None
    if dec is None:
        kw["args"] = _generic_args(name, args_text, lenient=not typed)
        if not typed:
            kw["partial"] = True
        return Syscall(**kw)
    args = _Parser(_tokens(args_text)).args()
    kw["args"] = args
    return dec(kw, args)


def _parse_signal(s: str, lineno: int, pid: int | None) -> SignalRecord:
    m = _SIGLINE.match(s)
    if m:
        signame, body = m.groups()
        info = parse_value(body)
        if not isinstance(info, dict):
            raise _Bad("signal line without a siginfo struct")
        signo = signal_number(Sym(signame)) if not signame.isdigit() else int(signame)
        return SignalRecord(lineno=lineno, pid=pid, kind="signal", signame=signame, signo=signo,
                            siginfo=numify(info), siginfo_raw=info)
    m = _STOPPED.match(s)
    if m:
        return SignalRecord(lineno=lineno, pid=pid, kind="stopped", signame=m.group(1),
                            signo=signal_number(m.group(1)))
    raise _Bad("unrecognised '---' line")


def _parse_exit(s: str, lineno: int, pid: int | None) -> ExitRecord:
    m = _EXITED.match(s)
    if m:
        return ExitRecord(lineno=lineno, pid=pid, kind="exited", code=int(m.group(1)))
    m = _KILLED.match(s)
    if m:
        sig = m.group(1)
        signo = int(sig) if sig.isdigit() else signal_number(sig)
        return ExitRecord(lineno=lineno, pid=pid, kind="killed", signame=sig, signo=signo,
                          core_dumped=bool(m.group(2)))
    m = _SUPERSEDED.match(s)
    if m:
        return ExitRecord(lineno=lineno, pid=pid, kind="superseded", code=int(m.group(1)))
    raise _Bad("unrecognised '+++' line")


def _unfinished_record(head: str, lineno: int, pid: int | None) -> Syscall:
    m = _CALL_HEAD.match(head)
    if not m:
        raise _Bad("unfinished line without 'name('")
    name = m.group(1)
    text = head[m.end():].rstrip().rstrip(",")
    return Syscall(lineno=lineno, pid=pid, name=name, args_text=text,
                   args=_generic_args(name, text, lenient=True), unfinished=True)


def parse_line(line: str, lineno: int = 1) -> Record:
    """Parse one self-contained line (a complete call, a signal or an exit line).  An unfinished
    line gives an ``unfinished`` Syscall and a resumed line a ``partial`` one (use `parse_lines`
    to join them).  Raises ValueError when the line does not parse."""
    line = line.rstrip("\r\n")
    if not line:
        raise _Bad("empty line")
    pid, s = _split_prefix(line)
    c = s[0]
    if c == "-" and s.startswith("--- "):
        return _parse_signal(s, lineno, pid)
    if c == "+" and s.startswith("+++ "):
        return _parse_exit(s, lineno, pid)
    if c == "<":
        m = _RESUMED.match(s)
        if not m:
            raise _Bad("unrecognised '<' line")
        return _parse_call(m.group(1) + "(" + s[m.end():], lineno, pid, lineno, typed=False)
    if s.endswith(_UNFINISHED):
        return _unfinished_record(s[:-len(_UNFINISHED)], lineno, pid)
    return _parse_call(s, lineno, pid, lineno)


class _Pending(NamedTuple):
    index: int
    head: str
    lineno: int
    name: str


def parse_lines(lines: Iterable[str], *, path: str = "<lines>", strict: bool = False) -> ParseResult:
    """Parse a whole log (an iterable of lines, newlines optional); joins unfinished/resumed pairs
    per pid.  Bad lines go to ``result.errors`` (or raise `StraceParseError` when `strict`)."""
    res = ParseResult(path=path)
    records = res.records
    pending: dict[int | None, _Pending] = {}
    lineno = 0
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line or line.isspace():
            continue
        try:
            pid, s = _split_prefix(line)
            c = s[0]
            if c == "-" and s.startswith("--- "):
                records.append(_parse_signal(s, lineno, pid))
            elif c == "+" and s.startswith("+++ "):
                records.append(_parse_exit(s, lineno, pid))
            elif c == "<":
                m = _RESUMED.match(s)
                if not m:
                    raise _Bad("unrecognised '<' line")
                name = m.group(1)
                p = pending.get(pid)
                if p is not None and p.name == name:
                    del pending[pid]
                    rec = _parse_call(p.head + s[m.end():], p.lineno, pid, lineno)
                    records[p.index] = rec
                else:
                    records.append(parse_line(line, lineno))
            elif s.endswith(_UNFINISHED):
                head = s[:-len(_UNFINISHED)]
                rec = _unfinished_record(head, lineno, pid)
                pending[pid] = _Pending(len(records), head, lineno, rec.name)
                records.append(rec)
            else:
                records.append(_parse_call(s, lineno, pid, lineno))
        except (ValueError, IndexError, KeyError, TypeError, AttributeError) as e:
            msg = str(e) or type(e).__name__
            if not isinstance(e, ValueError):
                msg = f"unexpected shape for this call ({type(e).__name__}: {msg})"
            if strict:
                raise StraceParseError(path, lineno, msg, line) from e
            res.errors.append(LineError(lineno, line, msg))
    res.line_count = lineno
    return res


def parse_file(path: str | Path, *, strict: bool = False) -> ParseResult:
    """Parse an strace output file (read as latin-1, so string bytes decode exactly)."""
    p = Path(path)
    with open(p, encoding="latin-1", newline="") as f:
        lines = f.read().split("\n")  # not splitlines(): latin-1 \x85 etc. are not line breaks
    if lines and lines[-1] == "":
        lines.pop()
    return parse_lines(lines, path=str(p), strict=strict)
