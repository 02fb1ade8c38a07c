"""`lxbrand trace`: an strace-like tracer written only against `lx_ptrace` and the lx waits.

It is the project's main job (issue 4): the Linux side of a tracer, the way strace drives a
Linux kernel, running over the lx emulation.  Nothing here calls host ptrace or native_proc
(apart from `lxbrand.ensure_procd()` before forking a TRACEME child).

* `Tracer.start(argv)` forks; the child does PTRACE_TRACEME and execs; the tracer waits for the
  exec SIGTRAP and prints the execve line from what that stop shows (argv/envp on the new stack).
  `Tracer.attach(pid)` does PTRACE_ATTACH and consumes the SIGSTOP attach stop.
* `Tracer.run()` loops PTRACE_SYSCALL / lx_wait4 / GETREGS.  Entry and exit stops alternate per
  process (`_Proc.in_syscall`); at an entry rax reads -ENOSYS and orig_rax is the call number.
  A SIGTRAP stop that is neither (int3, kill(SIGTRAP), the legacy trap after a successful
  execve) is told apart by the registers: orig_rax -1, or rax not -ENOSYS where an entry is due.
* One line per call, `name(args) = ret`, decoded through `FORMAT` (a data table: call name ->
  argument kinds) and `RETURNS`; calls the table does not know get six hex arguments.
* Other signal stops print `--- SIGxxx ---` and the signal is passed on with PTRACE_SYSCALL.
  The end of a tracee prints `+++ exited with N +++` / `+++ killed by SIGxxx +++`.
* Attached tracees are detached on `request_detach()` (the CLI's SIGINT/SIGTERM/SIGHUP/SIGQUIT
  handler): PTRACE_DETACH needs a stopped tracee, so the tracee is sent SIGSTOP (old strace's
  way: it stops even a tracee that makes no system calls), the loop runs on through any syscall
  stops until that SIGSTOP's signal-delivery stop, and detaches there with signal 0.

Following forks (-f) is a later issue: one tracee per Tracer.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import struct
from dataclasses import dataclass, field
from typing import TextIO

import lxbrand
from lxbrand import lx_ptrace, lx_wait4
from structs.ptrace_consts import PTRACE
from structs.regs import LINUX_REG_INDEX
from structs.signals import linux_name
from structs.syscalls import SYSCALLS

__all__ = ["Tracer", "FORMAT", "RETURNS", "FLAGS", "ENUMS", "TraceError", "quote", "exit_code"]

# -- the argument decoding tables (data) --------------------------------------------------------
#
# Argument kinds:
#   d      int (signed 32 bit)            ld   long (signed 64 bit)     u   unsigned long
#   x      hex (0 prints as 0)            p    pointer (NULL or hex)
#   fd     file descriptor (int)          dirfd  fd, AT_FDCWD for -100
#   path   NUL-terminated string in the tracee, printed whole ("..."), NULL or hex if unreadable
#   ibuf   input buffer, its length the next argument: quoted, -s bytes at most, then ...
#   obuf   output buffer, decoded at exit: as many bytes as the call returned (-s at most)
#   argv   NULL-terminated array of strings ["a", "b"]
#   envp   NULL-terminated array, printed as its pointer and /* N vars */
#   mode   octal; mode? is printed only when the previous flags have O_CREAT or O_TMPFILE
#   a name of FLAGS or ENUMS: symbolic
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
    "stat": ("path", "p"),
    "lstat": ("path", "p"),
    "fstat": ("fd", "p"),
    "newfstatat": ("dirfd", "path", "p", "atflags"),
    "statx": ("dirfd", "path", "atflags", "x", "p"),
    "access": ("path", "amode"),
    "faccessat": ("dirfd", "path", "amode"),
    "faccessat2": ("dirfd", "path", "amode", "atflags"),
    "chdir": ("path",),
    "fchdir": ("fd",),
    "mkdir": ("path", "mode"),
    "mkdirat": ("dirfd", "path", "mode"),
    "rmdir": ("path",),
    "unlink": ("path",),
    "unlinkat": ("dirfd", "path", "atflags"),
    "rename": ("path", "path"),
    "chmod": ("path", "mode"),
    "readlink": ("path", "p", "u"),
    "readlinkat": ("dirfd", "path", "p", "u"),
    "getcwd": ("p", "u"),
    "execve": ("path", "argv", "envp"),
    "lseek": ("fd", "ld", "whence"),
    "dup": ("fd",),
    "dup2": ("fd", "fd"),
    "dup3": ("fd", "fd", "oflags"),
    "pipe": ("p",),
    "pipe2": ("p", "oflags"),
    "fcntl": ("fd", "fcntl", "x"),
    "ioctl": ("fd", "x", "x"),
    "getdents64": ("fd", "p", "u"),
    "mmap": ("p", "u", "prot", "mapflags", "fd", "x"),
    "mprotect": ("p", "u", "prot"),
    "munmap": ("p", "u"),
    "brk": ("p",),
    "arch_prctl": ("arch_prctl", "x"),
    "set_tid_address": ("p",),
    "set_robust_list": ("p", "u"),
    "rseq": ("p", "x", "x", "x"),
    "prlimit64": ("d", "rlimit", "p", "p"),
    "getrandom": ("p", "u", "x"),
    "rt_sigaction": ("signo", "p", "p", "u"),
    "rt_sigprocmask": ("sighow", "p", "p", "u"),
    "rt_sigreturn": (),
    "kill": ("d", "signo"),
    "tkill": ("d", "signo"),
    "tgkill": ("d", "d", "signo"),
    "nanosleep": ("p", "p"),
    "clock_nanosleep": ("clockid", "x", "p", "p"),
    "clock_gettime": ("clockid", "p"),
    "wait4": ("d", "p", "waitopts", "p"),
    "exit": ("d",),
    "exit_group": ("d",),
    "uname": ("p",),
    "sysinfo": ("p",),
    "umask": ("mode",),
    "poll": ("p", "u", "d"),
    **{name: () for name in ("getpid", "getppid", "gettid", "getuid", "geteuid", "getgid",
                             "getegid", "getpgrp", "setsid", "sched_yield", "pause", "fork",
                             "vfork", "sync", "restart_syscall")},
}

#: How a call's return value prints: d (default, decimal), p (pointer: hex), ? (never returns).
RETURNS: dict[str, str] = {"mmap": "p", "mremap": "p", "brk": "p", "shmat": "p",
                           "exit": "?", "exit_group": "?"}

#: Flag sets: (bit, name) in print order (composite flags before their parts), and the name of 0.
FLAGS: dict[str, tuple[tuple[tuple[int, str], ...], str]] = {
    "oflags": ((
        (0o4010000, "O_SYNC"), (0o20200000, "O_TMPFILE"), (0o100, "O_CREAT"), (0o200, "O_EXCL"),
        (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"), (0o2000, "O_APPEND"), (0o4000, "O_NONBLOCK"),
        (0o10000, "O_DSYNC"), (0o20000, "O_ASYNC"), (0o40000, "O_DIRECT"), (0o100000, "O_LARGEFILE"),
        (0o200000, "O_DIRECTORY"), (0o400000, "O_NOFOLLOW"), (0o1000000, "O_NOATIME"),
        (0o2000000, "O_CLOEXEC"), (0o10000000, "O_PATH")), ""),  # access mode: see _oflags
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
    "waitopts": (((1, "WNOHANG"), (2, "WUNTRACED"), (8, "WCONTINUED"), (0x20000000, "__WNOTHREAD"),
                  (0x40000000, "__WALL"), (0x80000000, "__WCLONE")), "0"),
    "amode": (((4, "R_OK"), (2, "W_OK"), (1, "X_OK")), "F_OK"),
}

#: Enumerations: value -> name (other values print in decimal).
ENUMS: dict[str, dict[int, str]] = {
    "whence": {0: "SEEK_SET", 1: "SEEK_CUR", 2: "SEEK_END", 3: "SEEK_DATA", 4: "SEEK_HOLE"},
    "sighow": {0: "SIG_BLOCK", 1: "SIG_UNBLOCK", 2: "SIG_SETMASK"},
    "clockid": {0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 2: "CLOCK_PROCESS_CPUTIME_ID",
                3: "CLOCK_THREAD_CPUTIME_ID", 4: "CLOCK_MONOTONIC_RAW", 5: "CLOCK_REALTIME_COARSE",
                6: "CLOCK_MONOTONIC_COARSE", 7: "CLOCK_BOOTTIME"},
    "fcntl": {0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL", 5: "F_GETLK",
              6: "F_SETLK", 7: "F_SETLKW", 1030: "F_DUPFD_CLOEXEC"},
    "rlimit": {0: "RLIMIT_CPU", 1: "RLIMIT_FSIZE", 2: "RLIMIT_DATA", 3: "RLIMIT_STACK", 4: "RLIMIT_CORE",
               5: "RLIMIT_RSS", 6: "RLIMIT_NPROC", 7: "RLIMIT_NOFILE", 8: "RLIMIT_MEMLOCK", 9: "RLIMIT_AS",
               10: "RLIMIT_LOCKS", 11: "RLIMIT_SIGPENDING", 12: "RLIMIT_MSGQUEUE", 13: "RLIMIT_NICE",
               14: "RLIMIT_RTPRIO", 15: "RLIMIT_RTTIME"},
    "arch_prctl": {0x1001: "ARCH_SET_GS", 0x1002: "ARCH_SET_FS", 0x1003: "ARCH_GET_FS",
                   0x1004: "ARCH_GET_GS", 0x1011: "ARCH_GET_CPUID", 0x1012: "ARCH_SET_CPUID",
                   0x3001: "ARCH_CET_STATUS"},
}

# Kernel-internal errnos a tracer sees at syscall exit (not in Python's errno module).
_KERNEL_ERRNOS = {
    512: ("ERESTARTSYS", "To be restarted if SA_RESTART is set"),
    513: ("ERESTARTNOINTR", "To be restarted"),
    514: ("ERESTARTNOHAND", "To be restarted if no handler"),
    516: ("ERESTART_RESTARTBLOCK", "Interrupted by signal"),
}
_ERRNO_NAMES = {**errno.errorcode, errno.EDEADLK: "EDEADLK", errno.EOPNOTSUPP: "EOPNOTSUPP",
                errno.EAGAIN: "EAGAIN"}

# -- registers ----------------------------------------------------------------------------------

_REGS = struct.Struct("<27Q")
_IDX = LINUX_REG_INDEX["amd64"]
_ARG_REGS = tuple(_IDX[n] for n in ("rdi", "rsi", "rdx", "r10", "r8", "r9"))
_RAX, _ORIG, _RSP = _IDX["rax"], _IDX["orig_rax"], _IDX["rsp"]
_ENOSYS = -errno.ENOSYS
_SIGTRAP, _SIGSTOP = int(signal.SIGTRAP), int(signal.SIGSTOP)
_AT_FDCWD = -100
_PATH_MAX = 4096
_NAMES = SYSCALLS["amd64"]
_EXECVE = next(nr for nr, name in _NAMES.items() if name == "execve")


def _s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


# -- formatting -------------------------------------------------------------------------------

_ESCAPES = {ord("\n"): "\\n", ord("\t"): "\\t", ord("\r"): "\\r", ord("\v"): "\\v", ord("\f"): "\\f",
            ord('"'): '\\"', ord("\\"): "\\\\"}


def quote(data: bytes, truncated: bool = False) -> str:
    """`data` as strace quotes a string: C escapes, octal for other bytes, `...` if truncated."""
    out = ['"']
    n = len(data)
    for i, c in enumerate(data):
        esc = _ESCAPES.get(c)
        if esc is not None:
            out.append(esc)
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        elif i + 1 < n and 0x30 <= data[i + 1] <= 0x37:
            out.append(f"\\{c:03o}")  # an octal digit follows: the full three digits
        else:
            out.append(f"\\{c:o}")
    out.append('"')
    if truncated:
        out.append("...")
    return "".join(out)


def _hex(v: int) -> str:
    return "0" if v == 0 else hex(v)


def _ptr(v: int) -> str:
    return "NULL" if v == 0 else hex(v)


def _flags(v: int, kind: str) -> str:
    table, zero = FLAGS[kind]
    if v == 0:
        return zero
    names, rest = [], v
    for bit, name in table:
        if rest & bit == bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append(hex(rest))
    return "|".join(names)


def _oflags(v: int) -> str:
    v &= 0xFFFFFFFF
    acc = ("O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE")[v & 3]
    rest = v & ~3
    return acc if not rest else acc + "|" + _flags(rest, "oflags")


def _ret(name: str, ret: int) -> str:
    """The text after `= ` for a call's return value."""
    kind = RETURNS.get(name, "d")
    if kind == "?":
        return "?"
    if -4095 <= ret < 0:
        e = -ret
        if e in _KERNEL_ERRNOS:
            ename, msg = _KERNEL_ERRNOS[e]
            return f"? {ename} ({msg})"
        return f"-1 {_ERRNO_NAMES.get(e, str(e))} ({os.strerror(e)})"
    return hex(ret & ((1 << 64) - 1)) if kind == "p" else str(ret)


def exit_code(status: int) -> int:
    """The exit code a tracer reports for a tracee's Linux wait status (128+sig when killed)."""
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return 1


class TraceError(Exception):
    """The tracer could not start or attach (the message says why, strace style)."""


@dataclass(eq=False)
class _Proc:
    """What the tracer keeps per tracee."""

    pid: int
    attached: bool = False  # by PTRACE_ATTACH (detached at the end), not started by us
    in_syscall: bool = False  # between its entry and exit stops
    nr: int = -1
    name: str = ""
    args: tuple[int, ...] = ()
    parts: list[str | None] = field(default_factory=list)  # None: decoded at exit
    exec_trap: bool = False  # a successful execve's legacy SIGTRAP is still to come
    ready: bool = False  # past its attach stop: a detach may stop it with SIGSTOP
    stop_sent: bool = False  # we sent it SIGSTOP to detach at its delivery stop
    pending: int = 0  # the signal to resume it with first


class Tracer:
    """An strace over lx_ptrace: `start(argv)` or `attach(pid)`, then `run()`.

    `out` receives the trace lines; `strsize` is strace's -s (string and array limit)."""

    def __init__(self, out: TextIO, strsize: int = 32) -> None:
        self.out = out
        self.strsize = strsize
        self.procs: dict[int, _Proc] = {}
        self.child = 0  # the pid we started: its wait status is `status`
        self.status: int | None = None
        self.detach_requested = False
        self._regs = bytearray(_REGS.size)
        self._word = bytearray(8)

    # -- output ---------------------------------------------------------------------------------

    def emit(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    # -- tracee memory and registers -----------------------------------------------------------

    def getregs(self, pid: int) -> tuple[int, ...] | None:
        if lx_ptrace(PTRACE.GETREGS, pid, 0, self._regs) != 0:
            return None
        return _REGS.unpack(self._regs)

    def peek(self, pid: int, addr: int) -> bytes | None:
        """One word of the tracee (PTRACE_PEEKDATA), or None where it is not mapped."""
        if lx_ptrace(PTRACE.PEEKDATA, pid, addr, self._word) != 0:
            return None
        return bytes(self._word)

    def read_mem(self, pid: int, addr: int, n: int) -> bytes | None:
        """`n` bytes at `addr` by aligned PEEKDATA words (None if the first is unreadable; short
        if the memory ends early)."""
        if n <= 0:
            return b""
        base = addr & ~7
        out = bytearray()
        for a in range(base, addr + n, 8):
            w = self.peek(pid, a)
            if w is None:
                if a == base:
                    return None
                break
            out += w
        return bytes(out[addr - base:addr - base + n])

    def read_str(self, pid: int, addr: int, limit: int) -> tuple[bytes, bool] | None:
        """The NUL-terminated string at `addr`, at most `limit` bytes: (bytes, truncated)."""
        base = addr & ~7
        out = bytearray()
        a = base
        while True:
            w = self.peek(pid, a)
            if w is None:
                if a == base:
                    return None
                return bytes(out[addr - base:]), False
            out += w
            a += 8
            s = out[addr - base:]
            nul = s.find(0)
            if nul >= 0:
                return (bytes(s[:limit]), True) if nul > limit else (bytes(s[:nul]), False)
            if len(s) > limit:
                return bytes(s[:limit]), True

    def read_ptrs(self, pid: int, addr: int, limit: int) -> list[int] | None:
        """The pointers of a NULL-terminated array (at most `limit` of them)."""
        ptrs = []
        while len(ptrs) < limit:
            w = self.peek(pid, addr + 8 * len(ptrs))
            if w is None:
                return None if not ptrs else ptrs
            p = int.from_bytes(w, "little")
            if p == 0:
                break
            ptrs.append(p)
        return ptrs

    # -- argument decoding ---------------------------------------------------------------------

    def _string(self, pid: int, addr: int, limit: int) -> str:
        if addr == 0:
            return "NULL"
        s = self.read_str(pid, addr, limit)
        return hex(addr) if s is None else quote(*s)

    def _buffer(self, pid: int, addr: int, length: int) -> str:
        if addr == 0:
            return "NULL"
        n = min(max(length, 0), self.strsize)
        data = self.read_mem(pid, addr, n)
        return hex(addr) if data is None else quote(data, length > n)

    def _argv(self, pid: int, addr: int) -> str:
        if addr == 0:
            return "NULL"
        ptrs = self.read_ptrs(pid, addr, self.strsize + 1)
        if ptrs is None:
            return hex(addr)
        items = [self._string(pid, p, self.strsize) for p in ptrs[:self.strsize]]
        if len(ptrs) > self.strsize:
            items.append("...")
        return "[" + ", ".join(items) + "]"

    def _envp(self, pid: int, addr: int) -> str:
        if addr == 0:
            return "NULL"
        ptrs = self.read_ptrs(pid, addr, 1 << 16)
        if ptrs is None:
            return hex(addr)
        return f"{hex(addr)} /* {len(ptrs)} var{'' if len(ptrs) == 1 else 's'} */"

    def format_arg(self, pid: int, kind: str, v: int, args: tuple[int, ...], i: int) -> str | None:
        """Argument i (value v) of kind `kind`; None leaves it out (mode? without O_CREAT)."""
        if kind in ("d", "fd"):
            return str(_s32(v))
        if kind == "dirfd":
            fd = _s32(v)
            return "AT_FDCWD" if fd == _AT_FDCWD else str(fd)
        if kind == "ld":
            return str(_s64(v))
        if kind == "u":
            return str(v)
        if kind == "x":
            return _hex(v)
        if kind == "p":
            return _ptr(v)
        if kind == "path":
            return self._string(pid, v, _PATH_MAX)
        if kind == "ibuf":
            return self._buffer(pid, v, args[i + 1] if i + 1 < len(args) else 0)
        if kind == "argv":
            return self._argv(pid, v)
        if kind == "envp":
            return self._envp(pid, v)
        if kind in ("mode", "mode?"):
            if kind == "mode?" and not args[i - 1] & (0o100 | 0o20200000):
                return None
            return f"0{v & 0o7777:o}" if v & 0o7777 else "000"
        if kind == "oflags":
            return _oflags(v)
        if kind == "signo":
            return linux_name(v) if 0 < v < 65 else str(_s32(v))
        if kind in FLAGS:
            return _flags(v & 0xFFFFFFFF, kind)
        if kind in ENUMS:
            return ENUMS[kind].get(v, str(_s32(v)))
        raise ValueError(f"unknown argument kind {kind!r}")

    # -- stops ---------------------------------------------------------------------------------

    def _entry(self, p: _Proc, regs: tuple[int, ...]) -> None:
        nr = _s64(regs[_ORIG])
        p.in_syscall, p.nr, p.exec_trap = True, nr, False
        p.name = _NAMES.get(nr, f"syscall_{nr:#x}")
        p.args = args = tuple(regs[r] for r in _ARG_REGS)
        kinds = FORMAT.get(p.name)
        if kinds is None:
            p.parts = [hex(a) for a in args]
            return
        parts: list[str | None] = []
        for i, kind in enumerate(kinds):
            if kind == "obuf":
                parts.append(None)
                continue
            text = self.format_arg(p.pid, kind, args[i], args, i)
            if text is not None:
                parts.append(text)
        p.parts = parts

    def _exit(self, p: _Proc, ret: int | None) -> None:
        """Print p's pending call; `ret` None: it never returned (`= ?`)."""
        kinds = FORMAT.get(p.name, ())
        parts = list(p.parts)
        for i, kind in enumerate(kinds):
            if kind == "obuf":
                v = p.args[i]
                if ret is None or ret < 0:
                    text = _ptr(v)
                else:
                    text = self._buffer(p.pid, v, ret)
                parts[parts.index(None)] = text
        tail = "?" if ret is None else _ret(p.name, ret)
        self.emit(f"{p.name}({', '.join(parts)}) = {tail}")
        p.in_syscall = False
        p.exec_trap = p.nr == _EXECVE and ret == 0

    def _stop(self, p: _Proc, sig: int) -> int | None:
        """Handle one stop; the signal to resume with, or None when p was detached."""
        if sig != _SIGTRAP:
            if sig == _SIGSTOP and p.stop_sent:
                self._detach(p)
                return None
            self.emit(f"--- {linux_name(sig)} ---")
            return sig
        regs = self.getregs(p.pid)
        if regs is None:
            return 0  # gone meanwhile: the wait will tell
        orig, rax = _s64(regs[_ORIG]), _s64(regs[_RAX])
        if p.in_syscall:
            if orig == p.nr or rax != _ENOSYS:
                self._exit(p, rax)
                return 0
            self._exit(p, None)  # its exit was never seen: this is the next entry
        if orig != -1 and rax == _ENOSYS:
            self._entry(p, regs)
            return 0
        if p.exec_trap:  # the SIGTRAP a successful execve sends (no PTRACE_O_TRACEEXEC)
            p.exec_trap = False
            return 0
        self.emit(f"--- {linux_name(_SIGTRAP)} ---")  # a real SIGTRAP (int3, kill, ...)
        return _SIGTRAP

    def _gone(self, p: _Proc, status: int) -> None:
        if p.in_syscall:
            self._exit(p, None)
        if os.WIFEXITED(status):
            self.emit(f"+++ exited with {os.WEXITSTATUS(status)} +++")
        else:
            core = " (core dumped)" if status & 0x80 else ""
            self.emit(f"+++ killed by {linux_name(os.WTERMSIG(status))}{core} +++")
        if p.pid == self.child:
            self.status = status
        del self.procs[p.pid]

    def _detach(self, p: _Proc) -> None:
        rc = lx_ptrace(PTRACE.DETACH, p.pid, 0, 0)
        if rc == 0:
            self.emit(f"Process {p.pid} detached")
        else:
            self.emit(f"lxbrand trace: detach {p.pid}: {os.strerror(-rc)}")
        del self.procs[p.pid]

    # -- starting ------------------------------------------------------------------------------

    def start(self, argv: list[str]) -> int:
        """Fork and exec `argv` under PTRACE_TRACEME; prints the execve line; returns the pid."""
        path = argv[0] if "/" in argv[0] else shutil.which(argv[0])
        if path is None or not os.path.exists(path):
            raise TraceError(f"Can't stat '{argv[0]}': No such file or directory")
        lxbrand.ensure_procd()  # before the fork: the child joins the same procd
        pid = os.fork()
        if pid == 0:  # the child
            try:
                for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP):
                    signal.signal(s, signal.SIG_DFL)
                rc = lx_ptrace(PTRACE.TRACEME, 0)
                if rc != 0:
                    os.write(2, f"lxbrand trace: PTRACE_TRACEME: {os.strerror(-rc)}\n".encode())
                    os._exit(126)
                os.execv(path, argv)
            except OSError as e:
                os.write(2, f"lxbrand trace: exec: {e.strerror}\n".encode())
            finally:
                os._exit(127)
        self.child = pid
        p = self.procs[pid] = _Proc(pid)
        rpid, status = lx_wait4(pid)
        if rpid != pid:
            raise TraceError(f"wait4({pid}): {os.strerror(-rpid) if rpid < 0 else 'unexpected'}")
        if not os.WIFSTOPPED(status):
            self._gone(p, status)  # it never reached exec
            return pid
        regs = self.getregs(pid)
        if os.WSTOPSIG(status) == _SIGTRAP and regs is not None:
            self._exec_line(p, path, regs)
        return pid

    def _exec_line(self, p: _Proc, path: str, regs: tuple[int, ...]) -> None:
        """The execve line from the exec stop: argv and envp as they lie on the new stack."""
        sp = regs[_RSP]
        w = self.peek(p.pid, sp)
        argc = int.from_bytes(w, "little") if w else -1
        if 0 <= argc < 1 << 16:
            argv = self._argv(p.pid, sp + 8)
            envp = self._envp(p.pid, sp + 8 * (argc + 2))
        else:
            argv = envp = "?"
        self.emit(f"execve({quote(os.fsencode(path))}, {argv}, {envp}) = {_s64(regs[_RAX])}")

    def attach(self, pid: int) -> None:
        """PTRACE_ATTACH and consume its SIGSTOP stop; prints `Process N attached`."""
        rc = lx_ptrace(PTRACE.ATTACH, pid)
        if rc != 0:
            raise TraceError(f"attach: ptrace(PTRACE_ATTACH, {pid}): {os.strerror(-rc)}")
        p = self.procs[pid] = _Proc(pid, attached=True)
        rpid, status = lx_wait4(pid)
        if rpid != pid or not os.WIFSTOPPED(status):
            if rpid == pid:
                self._gone(p, status)
                return
            self.procs.pop(pid, None)
            raise TraceError(f"attach: wait4({pid}): {os.strerror(-rpid) if rpid < 0 else 'unexpected'}")
        self.emit(f"Process {pid} attached")
        sig = os.WSTOPSIG(status)
        p.pending = 0 if sig == _SIGSTOP else sig
        p.ready = True  # from here on a detach request stops it with SIGSTOP ...
        if self.detach_requested and not p.stop_sent:
            self._detach(p)  # ... one that came before is carried out now, at this stop

    # -- the loop ------------------------------------------------------------------------------

    def request_detach(self, *_: object) -> None:
        """Detach every attached tracee at its next stop (safe in a signal handler): each is sent
        SIGSTOP, whose delivery stop is where the loop detaches it."""
        if self.detach_requested:
            return
        self.detach_requested = True
        for p in list(self.procs.values()):
            if p.attached and p.ready and not p.stop_sent:
                p.stop_sent = True
                try:
                    os.kill(p.pid, signal.SIGSTOP)
                except ProcessLookupError:
                    pass

    def run(self) -> int | None:
        """Trace until no tracee is left; returns the started child's wait status (None for -p)."""
        for p in list(self.procs.values()):
            self._resume(p, p.pending)
        while self.procs:
            pid = next(iter(self.procs))  # one tracee (no -f yet)
            rpid, status = lx_wait4(pid)
            if rpid < 0:
                if rpid == -errno.EINTR:
                    continue
                self.emit(f"lxbrand trace: wait4({pid}): {os.strerror(-rpid)}")
                self.procs.pop(pid)
                continue
            p = self.procs.get(rpid)
            if p is None:
                continue
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                self._gone(p, status)
                continue
            if not os.WIFSTOPPED(status):
                continue
            sig = self._stop(p, os.WSTOPSIG(status))
            if sig is not None:
                self._resume(p, sig)
        return self.status

    def _resume(self, p: _Proc, sig: int) -> None:
        rc = lx_ptrace(PTRACE.SYSCALL, p.pid, 0, sig)
        if rc != 0 and rc != -errno.ESRCH:
            self.emit(f"lxbrand trace: ptrace(PTRACE_SYSCALL, {p.pid}): {os.strerror(-rc)}")

    def cleanup(self) -> None:
        """After an error: detach what we attached (if stopped), kill and reap what we started."""
        for p in list(self.procs.values()):
            if p.attached:
                if lx_ptrace(PTRACE.DETACH, p.pid, 0, 0) != 0:
                    lx_ptrace(PTRACE.KILL, p.pid)  # running: at least let its monitor go
            else:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                lx_wait4(p.pid)
            self.procs.pop(p.pid, None)


def trace(argv: list[str] | None, pid: int | None, out: TextIO, strsize: int = 32,
          reraise: bool = False) -> int:
    """Run a whole trace (the CLI's `trace`): returns the exit code strace would.

    With `argv`: the started command's exit code; if it was killed by a signal, `reraise` kills
    this process with the same signal (as strace does, without a core), else 128+N is returned.
    SIGTERM and SIGHUP are passed on to the command, SIGINT and SIGQUIT ignored (a terminal
    sends them to it too).  With `pid`: 0 after a detach (on SIGINT, SIGTERM, SIGHUP, SIGQUIT)
    or the tracee's end."""
    t = Tracer(out, strsize)
    sigs = (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP)
    old = {s: signal.getsignal(s) for s in sigs}
    try:
        if pid is not None:
            for s in sigs:
                signal.signal(s, t.request_detach)
            t.attach(pid)
        else:
            assert argv
            child = t.start(argv)

            def forward(signum: int, _frame: object) -> None:
                try:
                    os.kill(child, signum)
                except ProcessLookupError:
                    pass

            for s in sigs:
                signal.signal(s, forward if s in (signal.SIGTERM, signal.SIGHUP) else signal.SIG_IGN)
        status = t.run()
    except TraceError as e:
        out.write(f"lxbrand trace: {e}\n")
        out.flush()
        t.cleanup()
        return 1
    except BaseException:
        t.cleanup()
        raise
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if status is None:
        return 0
    if reraise and os.WIFSIGNALED(status):
        _die_by(os.WTERMSIG(status))
    return exit_code(status)


def _die_by(sig: int) -> None:
    """Kill this process with `sig` as the tracee was (no core file); returns if it survives."""
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        os.kill(os.getpid(), sig)
    except (OSError, ValueError):
        pass
