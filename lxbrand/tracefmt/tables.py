"""The data strace's decoding follows: per call the kinds of its arguments, and the flag and
enumeration tables (values from the Linux uapi headers; names and print order as strace 6.1).

Argument kinds are the keys of `decode.DECODERS`: d (int), u32, ld (long), u (unsigned long),
x (hex), p (pointer), fd, dirfd, path (a whole NUL-terminated string), str (one cut at -s), ibuf
(input buffer, its length the next argument), obuf/obuf_hex/ostr (output buffers, decoded at
exit), argv, envp, mode, mode? (only with O_CREAT/O_TMPFILE), the struct kinds (ostat, sigaction,
osigaction, sigset, osigset, timespec, rlimit64, orlimit64, sockaddr, opipe, dents, outsname,
owstatus) and the names of FLAGS and ENUMS below.  A call not listed prints six hex words.
"""

from __future__ import annotations

__all__ = ["FORMAT", "RETURNS", "FLAGS", "ENUMS", "OFLAGS", "O_TMPFILE"]

_NOARGS = ("getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getpgrp",
           "setsid", "sched_yield", "pause", "fork", "vfork", "sync", "restart_syscall",
           "munlockall", "vhangup", "inotify_init", "getuid32", "geteuid32", "getgid32",
           "getegid32", "rt_sigreturn", "sigreturn")

FORMAT: dict[str, tuple[str, ...]] = {
    "read": ("fd", "obuf", "u"),
    "write": ("fd", "ibuf", "u"),
    "pread64": ("fd", "obuf", "u", "ld"),
    "pwrite64": ("fd", "ibuf", "u", "ld"),
    "readv": ("fd", "p", "d"),
    "writev": ("fd", "p", "d"),
    "open": ("path", "oflags", "mode?"),
    "openat": ("dirfd", "path", "oflags", "mode?"),
    "creat": ("path", "mode"),
    "close": ("fd",),
    "close_range": ("u32", "u32", "close_range"),
    "stat": ("path", "ostat"),
    "lstat": ("path", "ostat"),
    "fstat": ("fd", "ostat"),
    "newfstatat": ("dirfd", "path", "ostat", "atflags"),
    "statx": ("dirfd", "path", "statx_flags", "statx_mask", "ostatx"),
    "statfs": ("path", "p"),
    "fstatfs": ("fd", "p"),
    "access": ("path", "amode"),
    "faccessat": ("dirfd", "path", "amode"),
    "faccessat2": ("dirfd", "path", "amode", "atflags"),
    "chdir": ("path",),
    "fchdir": ("fd",),
    "chroot": ("path",),
    "mkdir": ("path", "mode"),
    "mkdirat": ("dirfd", "path", "mode"),
    "rmdir": ("path",),
    "unlink": ("path",),
    "unlinkat": ("dirfd", "path", "atflags"),
    "rename": ("path", "path"),
    "renameat": ("dirfd", "path", "dirfd", "path"),
    "renameat2": ("dirfd", "path", "dirfd", "path", "rename_flags"),
    "link": ("path", "path"),
    "linkat": ("dirfd", "path", "dirfd", "path", "atflags"),
    "symlink": ("path", "path"),
    "symlinkat": ("path", "dirfd", "path"),
    "chmod": ("path", "mode"),
    "fchmod": ("fd", "mode"),
    "fchmodat": ("dirfd", "path", "mode"),
    "chown": ("path", "d", "d"),
    "lchown": ("path", "d", "d"),
    "fchown": ("fd", "d", "d"),
    "fchownat": ("dirfd", "path", "d", "d", "atflags"),
    "truncate": ("path", "ld"),
    "ftruncate": ("fd", "ld"),
    "readlink": ("path", "obuf", "u"),
    "readlinkat": ("dirfd", "path", "obuf", "u"),
    "getcwd": ("ostr", "u"),
    "execve": ("path", "argv", "envp"),
    "lseek": ("fd", "ld", "whence"),
    "dup": ("fd",),
    "dup2": ("fd", "fd"),
    "dup3": ("fd", "fd", "fdflags"),
    "pipe": ("opipe",),
    "pipe2": ("opipe", "fdflags"),
    "ioctl": ("fd", "ioctl", "p"),
    "getdents64": ("fd", "dents", "u"),
    "getdents": ("fd", "dents", "u"),
    "mmap": ("p", "u", "prot", "mapflags", "fd", "x"),
    "mprotect": ("p", "u", "prot"),
    "munmap": ("p", "u"),
    "mremap": ("p", "u", "u", "mremap_flags", "mremap_new"),
    "madvise": ("p", "u", "madvise"),
    "msync": ("p", "u", "msync_flags"),
    "mlock": ("p", "u"),
    "munlock": ("p", "u"),
    "brk": ("p",),
    "arch_prctl": ("arch_prctl", "p"),
    "set_tid_address": ("p",),
    "set_robust_list": ("p", "u"),
    "get_robust_list": ("d", "p", "p"),
    "rseq": ("p", "x", "x", "x"),
    "prlimit64": ("d", "rlimit_res", "rlimit64", "orlimit64"),
    "getrlimit": ("rlimit_res", "orlimit"),
    "setrlimit": ("rlimit_res", "p"),
    "getrandom": ("obuf_hex", "u", "grnd"),
    "rt_sigaction": ("signo", "sigaction", "osigaction", "u"),
    "rt_sigprocmask": ("sighow", "sigset", "osigset", "u"),
    "rt_sigsuspend": ("sigset", "u"),
    "rt_sigpending": ("osigset", "u"),
    "rt_sigqueueinfo": ("d", "signo", "siginfo"),
    "rt_tgsigqueueinfo": ("d", "d", "signo", "siginfo"),
    "clone3": (),  # decode.WHOLE
    "mmap2": ("p", "u", "prot", "mapflags", "fd", "pgoff"),
    "ugetrlimit": ("rlimit_res", "orlimit"),
    "set_thread_area": ("user_desc",),
    "_llseek": ("fd", "x", "x", "p", "whence"),
    "fcntl64": (),  # decode.WHOLE
    "waitpid": ("d", "owstatus", "waitopts"),
    "kill": ("d", "signo"),
    "tkill": ("d", "signo"),
    "tgkill": ("d", "d", "signo"),
    "nanosleep": ("timespec", "p"),
    "clock_nanosleep": ("clockid", "timer_flags", "timespec", "p"),
    "clock_gettime": ("clockid", "otimespec"),
    "clock_getres": ("clockid", "otimespec"),
    "wait4": ("d", "owstatus", "waitopts", "p"),
    "exit": ("d",),
    "exit_group": ("d",),
    "uname": ("outsname",),
    "sysinfo": ("osysinfo",),
    "umask": ("umode",),
    "poll": ("p", "u", "d"),
    "getxattr": ("path", "str", "obuf", "u"),
    "lgetxattr": ("path", "str", "obuf", "u"),
    "fgetxattr": ("fd", "str", "obuf", "u"),
    "futex": (),  # decode.WHOLE
    "fcntl": (),  # decode.WHOLE
    "clone": ("p", "clone_flags", "p", "p", "x"),
    "socket": ("sockfamily", "socktype", "sockproto"),
    "socketpair": ("sockfamily", "socktype", "sockproto", "opipe"),
    "connect": ("fd", "sockaddr", "u32"),
    "bind": ("fd", "sockaddr", "u32"),
    "listen": ("fd", "d"),
    "shutdown": ("fd", "shut_how"),
    "fadvise64": ("fd", "ld", "ld", "fadvise"),
    "epoll_create1": ("epoll_flags",),
    "epoll_create": ("d",),
    "eventfd2": ("u32", "efd_flags"),
    "setpgid": ("d", "d"),
    "getpgid": ("d",),
    "getsid": ("d",),
    "setuid": ("d",),
    "setgid": ("d",),
    "alarm": ("u32",),
    "sched_getaffinity": ("d", "u", "p"),
    "sched_setaffinity": ("d", "u", "p"),
    "personality": ("x",),
    "sigaltstack": ("p", "p"),
    "getrusage": ("rusage_who", "p"),
    "times": ("p",),
    "membarrier": ("x", "x", "d"),
    "memfd_create": ("str", "memfd_flags"),
    "inotify_init1": ("oflags",),
    "fsync": ("fd",),
    "fdatasync": ("fd",),
    "flock": ("fd", "flock_op"),
    "sendfile": ("fd", "fd", "p", "u"),
    "setsockopt": ("fd", "d", "d", "p", "d"),
    "getsockopt": ("fd", "d", "d", "p", "p"),
    "getsockname": ("fd", "p", "p"),
    "getpeername": ("fd", "p", "p"),
    "accept": ("fd", "p", "p"),
    "accept4": ("fd", "p", "p", "oflags"),
    "sendto": ("fd", "ibuf", "u", "msg_flags", "sockaddr", "u32"),
    "recvfrom": ("fd", "obuf", "u", "msg_flags", "p", "p"),
    **{name: () for name in _NOARGS},
}

#: How a call's return value prints: d (default, decimal), p (pointer: hex), o (octal),
#: fd (a descriptor: -y decorates it), ? (never returns).
RETURNS: dict[str, str] = {"mmap": "p", "mmap2": "p", "mremap": "p", "brk": "p", "shmat": "p", "umask": "o",
                           "exit": "?", "exit_group": "?",
                           **{n: "fd" for n in ("open", "openat", "creat", "dup", "dup2", "dup3",
                                                "socket", "accept", "accept4", "epoll_create1",
                                                "eventfd2", "memfd_create", "inotify_init1")}}

O_TMPFILE = 0o20200000
#: open flags (after the access mode) in strace's print order
OFLAGS: tuple[tuple[int, str], ...] = (
    (0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"), (0o4000, "O_NONBLOCK"), (0o4010000, "O_SYNC"), (0o10000, "O_DSYNC"),
    (0o40000, "O_DIRECT"), (0o100000, "O_LARGEFILE"), (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"), (0o2000000, "O_CLOEXEC"), (0o10000000, "O_PATH"),
    (O_TMPFILE, "O_TMPFILE"), (0o200000, "O_DIRECTORY"), (0o20000, "FASYNC"))

#: Flag sets: kind -> ((bit, name) in print order, the text for 0).
FLAGS: dict[str, tuple[tuple[tuple[int, str], ...], str]] = {
    "prot": (((1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC"), (0x1000000, "PROT_GROWSDOWN"),
              (0x2000000, "PROT_GROWSUP")), "PROT_NONE"),
    "mapflags": ((
        (3, "MAP_SHARED_VALIDATE"), (1, "MAP_SHARED"), (2, "MAP_PRIVATE"), (0x10, "MAP_FIXED"),
        (0x20, "MAP_ANONYMOUS"), (0x40, "MAP_32BIT"), (0x100, "MAP_GROWSDOWN"), (0x800, "MAP_DENYWRITE"),
        (0x1000, "MAP_EXECUTABLE"), (0x2000, "MAP_LOCKED"), (0x4000, "MAP_NORESERVE"),
        (0x8000, "MAP_POPULATE"), (0x10000, "MAP_NONBLOCK"), (0x20000, "MAP_STACK"),
        (0x40000, "MAP_HUGETLB"), (0x80000, "MAP_SYNC"), (0x100000, "MAP_FIXED_NOREPLACE")), "0"),
    "atflags": (((0x100, "AT_SYMLINK_NOFOLLOW"), (0x200, "AT_REMOVEDIR"), (0x400, "AT_SYMLINK_FOLLOW"),
                 (0x800, "AT_NO_AUTOMOUNT"), (0x1000, "AT_EMPTY_PATH")), "0"),
    "waitopts": (((1, "WNOHANG"), (2, "WSTOPPED"), (4, "WEXITED"), (8, "WCONTINUED"),
                  (0x1000000, "WNOWAIT"), (0x20000000, "__WNOTHREAD"), (0x40000000, "__WALL"),
                  (0x80000000, "__WCLONE")), "0"),
    "amode": (((4, "R_OK"), (2, "W_OK"), (1, "X_OK")), "F_OK"),
    "grnd": (((1, "GRND_NONBLOCK"), (2, "GRND_RANDOM"), (4, "GRND_INSECURE")), "0"),
    "timer_flags": (((1, "TIMER_ABSTIME"),), "0"),
    "close_range": (((2, "CLOSE_RANGE_UNSHARE"), (4, "CLOSE_RANGE_CLOEXEC")), "0"),
    "rename_flags": (((1, "RENAME_NOREPLACE"), (2, "RENAME_EXCHANGE"), (4, "RENAME_WHITEOUT")), "0"),
    "mremap_flags": (((1, "MREMAP_MAYMOVE"), (2, "MREMAP_FIXED"), (4, "MREMAP_DONTUNMAP")), "0"),
    "msync_flags": (((1, "MS_ASYNC"), (2, "MS_INVALIDATE"), (4, "MS_SYNC")), "0"),
    "epoll_flags": (((0o2000000, "EPOLL_CLOEXEC"),), "0"),
    "efd_flags": (((0o4000, "EFD_NONBLOCK"), (0o2000000, "EFD_CLOEXEC"), (1, "EFD_SEMAPHORE")), "0"),
    "memfd_flags": (((1, "MFD_CLOEXEC"), (2, "MFD_ALLOW_SEALING"), (4, "MFD_HUGETLB"),
                     (8, "MFD_NOEXEC_SEAL"), (16, "MFD_EXEC")), "0"),
    "flock_op": (((1, "LOCK_SH"), (2, "LOCK_EX"), (4, "LOCK_NB"), (8, "LOCK_UN")), "0"),
    "msg_flags": (((1, "MSG_OOB"), (2, "MSG_PEEK"), (4, "MSG_DONTROUTE"), (8, "MSG_CTRUNC"),
                   (0x20, "MSG_TRUNC"), (0x40, "MSG_DONTWAIT"), (0x80, "MSG_EOR"),
                   (0x100, "MSG_WAITALL"), (0x4000, "MSG_NOSIGNAL"), (0x8000, "MSG_MORE"),
                   (0x40000000, "MSG_CMSG_CLOEXEC")), "0"),
}

ENUMS: dict[str, dict[int, str]] = {
    "whence": {0: "SEEK_SET", 1: "SEEK_CUR", 2: "SEEK_END", 3: "SEEK_DATA", 4: "SEEK_HOLE"},
    "sighow": {0: "SIG_BLOCK", 1: "SIG_UNBLOCK", 2: "SIG_SETMASK"},
    "clockid": {0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 2: "CLOCK_PROCESS_CPUTIME_ID",
                3: "CLOCK_THREAD_CPUTIME_ID", 4: "CLOCK_MONOTONIC_RAW", 5: "CLOCK_REALTIME_COARSE",
                6: "CLOCK_MONOTONIC_COARSE", 7: "CLOCK_BOOTTIME", 8: "CLOCK_REALTIME_ALARM",
                9: "CLOCK_BOOTTIME_ALARM", 11: "CLOCK_TAI"},
    "rlimit": {0: "RLIMIT_CPU", 1: "RLIMIT_FSIZE", 2: "RLIMIT_DATA", 3: "RLIMIT_STACK", 4: "RLIMIT_CORE",
               5: "RLIMIT_RSS", 6: "RLIMIT_NPROC", 7: "RLIMIT_NOFILE", 8: "RLIMIT_MEMLOCK", 9: "RLIMIT_AS",
               10: "RLIMIT_LOCKS", 11: "RLIMIT_SIGPENDING", 12: "RLIMIT_MSGQUEUE", 13: "RLIMIT_NICE",
               14: "RLIMIT_RTPRIO", 15: "RLIMIT_RTTIME"},
    "arch_prctl": {0x1001: "ARCH_SET_GS", 0x1002: "ARCH_SET_FS", 0x1003: "ARCH_GET_FS",
                   0x1004: "ARCH_GET_GS", 0x1011: "ARCH_GET_CPUID", 0x1012: "ARCH_SET_CPUID",
                   0x3001: "ARCH_CET_STATUS"},
    "madvise": {0: "MADV_NORMAL", 1: "MADV_RANDOM", 2: "MADV_SEQUENTIAL", 3: "MADV_WILLNEED",
                4: "MADV_DONTNEED", 8: "MADV_FREE", 9: "MADV_REMOVE", 10: "MADV_DONTFORK",
                11: "MADV_DOFORK", 12: "MADV_MERGEABLE", 13: "MADV_UNMERGEABLE", 14: "MADV_HUGEPAGE",
                15: "MADV_NOHUGEPAGE", 16: "MADV_DONTDUMP", 17: "MADV_DODUMP", 18: "MADV_WIPEONFORK",
                19: "MADV_KEEPONFORK", 20: "MADV_COLD", 21: "MADV_PAGEOUT", 100: "MADV_HWPOISON"},
    "fadvise": {0: "POSIX_FADV_NORMAL", 1: "POSIX_FADV_RANDOM", 2: "POSIX_FADV_SEQUENTIAL",
                3: "POSIX_FADV_WILLNEED", 4: "POSIX_FADV_DONTNEED", 5: "POSIX_FADV_NOREUSE"},
    "shut_how": {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"},
    "rusage_who": {0: "RUSAGE_SELF", 0xFFFFFFFF: "RUSAGE_CHILDREN", 1: "RUSAGE_THREAD"},
}

FD_FLAGS: tuple[tuple[int, str], ...] = ((0o2000000, "O_CLOEXEC"), (0o4000, "O_NONBLOCK"),
                                          (0o40000, "O_DIRECT"))
STATX_MASK: tuple[tuple[int, str], ...] = (
    (0x7FF, "STATX_BASIC_STATS"), (1, "STATX_TYPE"), (2, "STATX_MODE"), (4, "STATX_NLINK"),
    (8, "STATX_UID"), (0x10, "STATX_GID"), (0x20, "STATX_ATIME"), (0x40, "STATX_MTIME"),
    (0x80, "STATX_CTIME"), (0x100, "STATX_INO"), (0x200, "STATX_SIZE"), (0x400, "STATX_BLOCKS"),
    (0x800, "STATX_BTIME"), (0x1000, "STATX_MNT_ID"), (0x2000, "STATX_DIOALIGN"))
STATX_ATTRS: tuple[tuple[int, str], ...] = (
    (0x4, "STATX_ATTR_COMPRESSED"), (0x10, "STATX_ATTR_IMMUTABLE"), (0x20, "STATX_ATTR_APPEND"),
    (0x40, "STATX_ATTR_NODUMP"), (0x800, "STATX_ATTR_ENCRYPTED"), (0x1000, "STATX_ATTR_AUTOMOUNT"),
    (0x2000, "STATX_ATTR_MOUNT_ROOT"), (0x100000, "STATX_ATTR_VERITY"), (0x200000, "STATX_ATTR_DAX"))

FCNTL: dict[int, str] = {0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL",
                         5: "F_GETLK", 6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN",
                         1024: "F_SETLEASE", 1025: "F_GETLEASE", 1030: "F_DUPFD_CLOEXEC",
                         1031: "F_SETPIPE_SZ", 1032: "F_GETPIPE_SZ", 1033: "F_ADD_SEALS",
                         1034: "F_GET_SEALS"}

S_IFMT_NAMES = {0o140000: "S_IFSOCK", 0o120000: "S_IFLNK", 0o100000: "S_IFREG", 0o060000: "S_IFBLK",
                0o040000: "S_IFDIR", 0o020000: "S_IFCHR", 0o010000: "S_IFIFO"}

SA_FLAGS: tuple[tuple[int, str], ...] = (
    (0x04000000, "SA_RESTORER"), (0x08000000, "SA_ONSTACK"), (0x10000000, "SA_RESTART"),
    (0x40000000, "SA_NODEFER"), (0x80000000, "SA_RESETHAND"), (1, "SA_NOCLDSTOP"),
    (2, "SA_NOCLDWAIT"), (4, "SA_SIGINFO"))

AF: dict[int, str] = {0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK",
                      17: "AF_PACKET", 4: "AF_IPX", 5: "AF_APPLETALK", 31: "AF_BLUETOOTH",
                      38: "AF_ALG", 40: "AF_VSOCK"}
SOCK_TYPES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET",
              6: "SOCK_DCCP", 10: "SOCK_PACKET"}
IPPROTO = {0: "IPPROTO_IP", 1: "IPPROTO_ICMP", 6: "IPPROTO_TCP", 17: "IPPROTO_UDP",
           58: "IPPROTO_ICMPV6", 132: "IPPROTO_SCTP", 255: "IPPROTO_RAW"}
NETLINK = {0: "NETLINK_ROUTE", 4: "NETLINK_SOCK_DIAG", 9: "NETLINK_AUDIT", 15: "NETLINK_KOBJECT_UEVENT",
           16: "NETLINK_GENERIC"}

CLONE_FLAGS: tuple[tuple[int, str], ...] = (
    (0x100, "CLONE_VM"), (0x200, "CLONE_FS"), (0x400, "CLONE_FILES"), (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"), (0x2000, "CLONE_PTRACE"), (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"), (0x10000, "CLONE_THREAD"), (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"), (0x80000, "CLONE_SETTLS"), (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"), (0x400000, "CLONE_DETACHED"), (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"), (0x2000000, "CLONE_NEWCGROUP"), (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"), (0x10000000, "CLONE_NEWUSER"), (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"), (0x80000000, "CLONE_IO"))

FUTEX_OPS = {0: "FUTEX_WAIT", 1: "FUTEX_WAKE", 2: "FUTEX_FD", 3: "FUTEX_REQUEUE",
             4: "FUTEX_CMP_REQUEUE", 5: "FUTEX_WAKE_OP", 6: "FUTEX_LOCK_PI", 7: "FUTEX_UNLOCK_PI",
             8: "FUTEX_TRYLOCK_PI", 9: "FUTEX_WAIT_BITSET", 10: "FUTEX_WAKE_BITSET",
             11: "FUTEX_WAIT_REQUEUE_PI", 12: "FUTEX_CMP_REQUEUE_PI", 13: "FUTEX_LOCK_PI2"}

IOCTLS = {0x5401: "TCGETS", 0x5402: "TCSETS", 0x5403: "TCSETSW", 0x5404: "TCSETSF",
          0x540F: "TIOCGPGRP", 0x5410: "TIOCSPGRP", 0x5413: "TIOCGWINSZ", 0x5414: "TIOCSWINSZ",
          0x541B: "FIONREAD", 0x5421: "FIONBIO", 0x5450: "FIONCLEX", 0x5451: "FIOCLEX",
          0x802C542A: "TCGETS2"}
