"""How many arguments each Linux system call takes (its SYSCALL_DEFINEn), by name.

pflags, truss and lwpstatus's pr_nsysarg show that many arguments; a call missing here shows
all six (SYSCALL_ARGS_DEFAULT).  The registers they sit in, per ABI, are ARG_REGS (names of
user_regs_struct members): the x86-64 convention passes the fourth in r10, not rcx.
"""

from __future__ import annotations

__all__ = ["SYSCALL_NARGS", "SYSCALL_ARGS_DEFAULT", "ARG_REGS", "nargs"]

SYSCALL_ARGS_DEFAULT = 6

ARG_REGS: dict[str, tuple[str, ...]] = {
    "amd64": ("rdi", "rsi", "rdx", "r10", "r8", "r9"),
    "i386": ("rbx", "rcx", "rdx", "rsi", "rdi", "rbp"),  # ebx ecx edx esi edi ebp
}

_BY_COUNT: dict[int, str] = {
    0: "getpid getppid gettid getuid geteuid getgid getegid getpgrp setsid sched_yield pause fork vfork "
       "sync munlockall inotify_init vhangup rt_sigreturn sigreturn restart_syscall idle",
    1: "close exit exit_group dup umask chdir fchdir rmdir unlink brk alarm uname sysinfo times "
       "time setuid setgid getpgid getsid setfsuid setfsgid iopl personality fsync fdatasync acct "
       "chroot shmdt epoll_create epoll_create1 eventfd inotify_init1 set_tid_address io_destroy "
       "timer_getoverrun timer_delete pipe sched_getscheduler mlockall nice swapoff "
       "userfaultfd memfd_secret unshare olduname oldumount stime adjtimex "
       " ssetmask sgetmask",
    2: "dup2 link symlink rename mkdir creat access chmod fchmod kill tkill gettimeofday settimeofday "
       "getrlimit setrlimit getrusage nanosleep getitimer getcwd truncate ftruncate flock munmap "
       "mlock munlock setpgid setreuid setregid getgroups setgroups sethostname setdomainname "
       "sigaltstack statfs fstatfs stat fstat lstat ustat utime utimes swapon listen shutdown umount2 "
       "clock_gettime clock_settime clock_getres pipe2 capget capset sched_setparam sched_getparam "
       "getpriority sched_get_priority_max sched_get_priority_min sched_rr_get_interval rt_sigpending "
       "rt_sigsuspend io_setup timerfd_gettime eventfd2 inotify_rm_watch fanotify_init "
       "memfd_create setns arch_prctl delete_module membarrier pidfd_open signal sigpending "
       " "
       "fremovexattr timer_gettime clock_adjtime syncfs",
    3: "read write open lseek mprotect msync madvise mincore ioctl fcntl readv writev execve "
       "socket connect accept bind getsockname getpeername getdents getdents64 chown fchown lchown "
       "setresuid setresgid getresuid getresgid readlink mknod sched_setscheduler "
       "sched_setaffinity sched_getaffinity setpriority sigaction "
       "sigprocmask shmget shmat semget semop msgget syslog poll dup3 mkdirat unlinkat fchmodat "
       "faccessat inotify_add_watch tgkill getrandom lookup_dcookie ioprio_set "
       "set_robust_list sendmsg recvmsg timer_create init_module "
       "finit_module seccomp mlock2 open_tree fsmount pidfd_getfd removexattr lremovexattr "
       "listxattr llistxattr flistxattr io_cancel io_submit "
       "landlock_create_ruleset modify_ldt readahead",
    4: "pread64 pwrite64 rt_sigaction rt_sigprocmask rt_sigtimedwait rt_sigqueueinfo wait4 "
       "openat newfstatat fstatat64 mknodat renameat readlinkat sendfile sendfile64 socketpair "
       "semctl shmctl msgctl timer_settime timerfd_settime epoll_ctl epoll_wait "
       "signalfd4 accept4 utimensat fallocate quotactl tee vmsplice sync_file_range "
       "getxattr lgetxattr fgetxattr clock_nanosleep request_key "
       "ptrace openat2 pidfd_send_signal faccessat2 "
       " get_robust_list statmount listmount "
       "futex_wake close_range set_mempolicy_home_node "
       "sched_setattr",
    5: "select _newselect mremap waitid fchownat linkat setxattr lsetxattr fsetxattr keyctl "
       "add_key prctl mount mq_timedsend mq_timedreceive renameat2 statx perf_event_open "
       " io_getevents ppoll msgrcv process_madvise fsconfig "
       "move_mount fanotify_mark name_to_handle_at kcmp execveat preadv pwritev "
       "rt_tgsigqueueinfo getsockopt setsockopt mount_setattr sched_getattr futex_waitv "
       "",
    6: "mmap mmap2 futex sendto recvfrom splice copy_file_range pselect6 epoll_pwait epoll_pwait2 "
       "process_vm_readv process_vm_writev ipc preadv2 pwritev2 move_pages mbind io_pgetevents "
       "sync_file_range2 fadvise64 fadvise64_64 arm_fadvise64_64 clone",
}

# Calls named on neither list above, and the i386-only variants.
_EXTRA = {"clone3": 2, "open_by_handle_at": 3, "mq_open": 4, "kexec_load": 4, "io_uring_setup": 2,
          "io_uring_enter": 6, "io_uring_register": 4, "rt_sigsuspend": 2, "msgsnd": 4, "ioprio_get": 2, "clone": 5, "utimes": 2,
          "futimesat": 3, "pidfd_open": 2, "landlock_add_rule": 4, "landlock_restrict_self": 2,
          "fspick": 3, "quotactl_fd": 4, "mq_unlink": 1, "mq_getsetattr": 3, "mq_notify": 2,
          "get_mempolicy": 5, "set_mempolicy": 3, "migrate_pages": 4, "rseq": 4, "pkey_alloc": 2,
          "pkey_free": 1, "pkey_mprotect": 4, "bpf": 3, "sysfs": 3, "reboot": 4, "kexec_file_load": 5,
          "uselib": 1, "fstatfs64": 3, "statfs64": 3, "socketcall": 2, "waitpid": 3, "lseek": 3,
          "_llseek": 5, "ftruncate64": 2, "truncate64": 2, "fcntl64": 3, "stat64": 2, "lstat64": 2,
          "fstat64": 2, "getuid32": 0, "geteuid32": 0, "getgid32": 0, "getegid32": 0,
          "set_thread_area": 1, "get_thread_area": 1, "epoll_wait_old": 4, "epoll_ctl_old": 4,
          "recvmmsg": 5, "sendmmsg": 4, "unshare": 1, "sched_getcpu": 0, "getcpu": 3, "lsm_get_self_attr": 4,
          "cachestat": 4, "map_shadow_stack": 3, "mseal": 3, "setxattrat": 6, "getxattrat": 6,
          "listxattrat": 5, "removexattrat": 4, "uretprobe": 0, "open_tree_attr": 5, "file_getattr": 5,
          "file_setattr": 5}


def _build() -> dict[str, int]:
    out: dict[str, int] = {}
    for n, names in _BY_COUNT.items():
        for name in names.split():
            out.setdefault(name, n)
    out.update(_EXTRA)
    return out


SYSCALL_NARGS: dict[str, int] = _build()


def nargs(name: str) -> int:
    """The argument count of the call `name` (SYSCALL_ARGS_DEFAULT for one not in the table)."""
    return SYSCALL_NARGS.get(name, SYSCALL_ARGS_DEFAULT)
