"""Syscall classes for `-e trace=%CLASS` (strace's sysent flags for x86_64, the same names on i386),
and the parser of `-e trace=` / `-e signal=` / `-e status=` expressions."""

from __future__ import annotations

import re
from typing import Iterable

__all__ = ["CLASSES", "parse_trace", "parse_signals", "parse_status", "STATUSES", "ExprError"]


class ExprError(ValueError):
    """A bad -e expression; the message is strace's wording."""


_W = str.split
#: class -> the calls strace marks with it
CLASSES: dict[str, frozenset[str]] = {
    "file": frozenset(_W(
        "open stat lstat access truncate getcwd chdir rename mkdir rmdir creat link unlink symlink "
        "readlink chmod chown lchown utime mknod uselib statfs pivot_root chroot acct mount umount2 "
        "swapon swapoff quotactl setxattr lsetxattr getxattr lgetxattr listxattr llistxattr "
        "removexattr lremovexattr utimes inotify_add_watch openat mkdirat mknodat fchownat "
        "futimesat newfstatat unlinkat renameat linkat symlinkat readlinkat fchmodat faccessat "
        "utimensat fanotify_mark name_to_handle_at renameat2 execve execveat statx open_tree "
        "move_mount fsopen fspick openat2 faccessat2 mount_setattr umount oldstat oldlstat "
        "stat64 lstat64 statfs64 truncate64 chown32 lchown32 fstatat64 readdir")),
    "process": frozenset(_W(
        "clone fork vfork execve exit wait4 kill rt_sigqueueinfo tkill exit_group tgkill waitid "
        "rt_tgsigqueueinfo execveat clone3 pidfd_send_signal waitpid")),
    "network": frozenset(_W(
        "sendfile socket connect accept sendto recvfrom sendmsg recvmsg shutdown bind listen "
        "getsockname getpeername socketpair setsockopt getsockopt getpmsg putpmsg accept4 "
        "recvmmsg sendmmsg socketcall send recv sendfile64")),
    "signal": frozenset(_W(
        "rt_sigaction rt_sigprocmask rt_sigreturn pause kill rt_sigpending rt_sigtimedwait "
        "rt_sigqueueinfo rt_sigsuspend sigaltstack tkill tgkill signalfd signalfd4 "
        "rt_tgsigqueueinfo pidfd_send_signal signal sigaction sigprocmask sigreturn sigsuspend "
        "sigpending sgetmask ssetmask")),
    "memory": frozenset(_W(
        "mmap mprotect munmap brk mremap msync mincore madvise shmat shmdt mlock munlock mlockall "
        "munlockall io_setup io_destroy remap_file_pages mbind set_mempolicy get_mempolicy "
        "migrate_pages move_pages mlock2 pkey_mprotect mmap2 old_mmap process_madvise "
        "set_mempolicy_home_node")),
    "ipc": frozenset(_W(
        "shmget shmat shmctl semget semop semctl shmdt msgget msgsnd msgrcv msgctl semtimedop ipc")),
    "desc": frozenset(_W(
        "read write open close fstat poll lseek mmap ioctl pread64 pwrite64 readv writev pipe "
        "select dup dup2 sendfile fcntl flock fsync fdatasync ftruncate getdents fchdir creat "
        "fchmod fchown fstatfs readahead fsetxattr fgetxattr flistxattr fremovexattr epoll_create "
        "getdents64 fadvise64 epoll_wait epoll_ctl mq_open mq_timedsend mq_timedreceive mq_notify "
        "mq_getsetattr inotify_init inotify_add_watch inotify_rm_watch openat mkdirat mknodat "
        "fchownat futimesat newfstatat unlinkat renameat linkat symlinkat readlinkat fchmodat "
        "faccessat pselect6 ppoll splice tee sync_file_range vmsplice utimensat epoll_pwait "
        "signalfd timerfd_create eventfd fallocate timerfd_settime timerfd_gettime signalfd4 "
        "eventfd2 epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev perf_event_open "
        "fanotify_init fanotify_mark name_to_handle_at open_by_handle_at syncfs setns "
        "finit_module renameat2 memfd_create kexec_file_load bpf execveat userfaultfd "
        "copy_file_range preadv2 pwritev2 statx pidfd_send_signal open_tree move_mount fsopen "
        "fsconfig fsmount fspick pidfd_open openat2 pidfd_getfd faccessat2 "
        "process_madvise epoll_pwait2 mount_setattr _llseek fstat64 fcntl64 fstatat64 "
        "mmap2 ftruncate64 fstatfs64 _newselect")),
}
CLASSES["net"] = CLASSES["network"]
CLASSES["fstat"] = frozenset(_W("fstat newfstatat statx fstat64 fstatat64"))
CLASSES["stat"] = frozenset(_W("stat statx newfstatat stat64 fstatat64 oldstat"))
CLASSES["lstat"] = frozenset(_W("lstat statx newfstatat lstat64 fstatat64 oldlstat"))
CLASSES["creds"] = frozenset(_W(
    "getuid getgid setuid setgid geteuid getegid setreuid setregid getgroups setgroups setresuid "
    "getresuid setresgid getresgid setfsuid setfsgid capget capset prctl getuid32 getgid32 "
    "geteuid32 getegid32 setuid32 setgid32 setreuid32 setregid32 setresuid32 getresuid32 "
    "setresgid32 getresgid32 getgroups32 setgroups32 setfsuid32 setfsgid32"))
CLASSES["clock"] = frozenset(_W(
    "gettimeofday adjtimex settimeofday time clock_settime clock_gettime clock_getres "
    "clock_adjtime clock_gettime64 clock_settime64 clock_getres_time64 stime"))
CLASSES["pure"] = frozenset(_W(
    "getpid getuid getgid geteuid getegid getppid getpgrp gettid getuid32 getgid32 geteuid32 "
    "getegid32"))

#: the -e status= values
STATUSES = ("successful", "failed", "unfinished", "unavailable", "detached")


def _split(expr: str) -> tuple[bool, list[str]]:
    neg = expr.startswith("!")
    if neg:
        expr = expr[1:]
    return neg, [t for t in expr.split(",") if t != ""]


def parse_trace(expr: str, known: Iterable[str]) -> frozenset[str]:
    """The set of call names `-e trace=EXPR` selects among `known` (names, %class, /regex,
    all, none, ?name for a name that may not exist; a leading ! negates the whole set)."""
    known = frozenset(known)
    neg, tokens = _split(expr)
    chosen: set[str] = set()
    for tok in tokens:
        quiet = tok.startswith("?")
        if quiet:
            tok = tok[1:]
        if tok == "all":
            chosen |= known
        elif tok == "none":
            pass
        elif tok.startswith("%"):
            cls = CLASSES.get(tok[1:])
            if cls is None:
                raise ExprError(f"invalid system call '{tok}'")
            chosen |= cls & known
        elif tok.startswith("/"):
            try:
                rx = re.compile(tok[1:])
            except re.error as e:
                raise ExprError(f"invalid system call '{tok}': {e}") from None
            hits = {n for n in known if rx.search(n)}
            if not hits and not quiet:
                raise ExprError(f"invalid system call '{tok}'")
            chosen |= hits
        elif tok in known:
            chosen.add(tok)
        elif not quiet:
            raise ExprError(f"invalid system call '{tok}'")
    return known - chosen if neg else frozenset(chosen)


def parse_signals(expr: str, names: dict[str, int]) -> frozenset[int]:
    """`-e signal=EXPR`: signal numbers (names with or without SIG, numbers, all, none, !)."""
    universe = frozenset(range(1, 65))
    neg, tokens = _split(expr)
    chosen: set[int] = set()
    for tok in tokens:
        if tok == "all":
            chosen |= universe
            continue
        if tok == "none":
            continue
        if tok.isdigit() and 0 < int(tok) < 65:
            chosen.add(int(tok))
            continue
        name = tok.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        if name not in names:
            raise ExprError(f"invalid signal '{tok}'")
        chosen.add(names[name])
    return universe - chosen if neg else frozenset(chosen)


def parse_status(expr: str) -> frozenset[str]:
    """`-e status=EXPR`: a subset of STATUSES (all, none, !)."""
    neg, tokens = _split(expr)
    chosen: set[str] = set()
    for tok in tokens:
        if tok == "all":
            chosen |= set(STATUSES)
        elif tok == "none":
            pass
        elif tok in STATUSES:
            chosen.add(tok)
        else:
            raise ExprError(f"invalid status '{tok}'")
    return frozenset(STATUSES) - chosen if neg else frozenset(chosen)
