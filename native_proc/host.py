"""The host system-call binding: ptrace(2), wait, signals and remote memory, through cffi (ABI mode).

No compiler is needed: the C declarations below are parsed at import and resolved against the
running process's libc (``ffi.dlopen("libc.so.6")``).  Everything here is x86-64 Linux only.

Conventions
-----------
* Every failure raises ``OSError`` carrying the call's ``errno`` (Python maps it to the subclass:
  ``ProcessLookupError`` for ESRCH, ``ChildProcessError`` for ECHILD, ...) and a message that names
  the call and its arguments, e.g. ``[Errno 5] ptrace(PTRACE_PEEKDATA, 1234, 0x8, 0x0): ...``.
* ``ptrace()`` is the *raw system-call* convention (it goes through ``syscall(SYS_ptrace, ...)``): the
  return value is the kernel's, and PEEKTEXT/PEEKDATA/PEEKUSER store the word at ``data``.
  ``peek()`` is the *glibc* convention for those three requests: it returns the word.
  ``libc_ptrace()`` calls glibc's own variadic ``ptrace()`` wrapper, for comparisons.
* Pointer arguments accept an ``int`` address, a cffi pointer/array, or a Python buffer
  (``bytearray``, writable ``memoryview``, ``array``...), wrapped with ``ffi.from_buffer`` for the
  duration of the call.  Read-only buffers (``bytes``) are refused with BufferError where the
  kernel could write into caller memory.  The ``int`` form is the fast path: one cffi call, no allocation.
* Blocking waits (``wait4``, ``waitid``) retry on EINTR, as Python's own ``os.waitpid`` does
  (PEP 475); a Python signal handler that raises still interrupts them.

The call that must be cheap is ``ptrace(req, pid, addr:int, data:int)``: a type check and one cffi
call; the errno is read only when the call returned -1.
"""

from __future__ import annotations

import errno as _errno
import os
import threading
from typing import Any, NamedTuple, Sequence, Union

import cffi

__all__ = [
    "ffi", "lib",
    "SYS_ptrace", "SYS_gettid", "SYS_tkill", "SYS_tgkill", "SYS_prctl",
    "USER_REGS_SIZE", "SIGINFO_SIZE",
    "Pointer", "WaitidResult",
    "ptrace", "peek", "libc_ptrace",
    "waitid", "wait4",
    "kill", "tkill", "tgkill",
    "process_vm_readv", "process_vm_readv_into", "process_vm_writev",
    "process_vm_readv_iov", "process_vm_writev_iov",
    "personality", "prctl", "gettid", "poll_in", "signalfd", "sigqueue_self",
    "buffer", "address", "from_buffer", "iovec",
]

# --- host constants only this module needs (x86-64 Linux, arch/x86/entry/syscalls/syscall_64.tbl) ---
SYS_ptrace = 101
SYS_gettid = 186
SYS_tkill = 200
SYS_tgkill = 234
SYS_prctl = 157

USER_REGS_SIZE = 216   # sizeof(struct user_regs_struct) on x86-64: 27 * 8
SIGINFO_SIZE = 128     # sizeof(siginfo_t)

_ULONG_MASK = (1 << 64) - 1

ffi = cffi.FFI()
ffi.cdef(
    """
    typedef int pid_t;

    /* Layout-identical to struct iovec, with the base as an integer so Python ints assign directly. */
    struct iovec { uintptr_t iov_base; size_t iov_len; };

    /* The part of siginfo_t that waitid(2) fills in (SIGCHLD layout), padded to 128 bytes. */
    typedef union {
        struct {
            int si_signo; int si_errno; int si_code; int _pad0;
            int si_pid; unsigned int si_uid; int si_status; int _pad1;
        } chld;
        unsigned char raw[128];
    } lxb_siginfo_t;

    long syscall(long number, ...);
    long ptrace(int request, ...);            /* glibc's variadic wrapper */
    int waitid(int idtype, unsigned int id, lxb_siginfo_t *infop, unsigned int options);
    pid_t wait4(pid_t pid, int *wstatus, unsigned int options, void *rusage);
    int kill(pid_t pid, int sig);
    int personality(unsigned long persona);
    ssize_t process_vm_readv(pid_t pid, const struct iovec *local_iov, unsigned long liovcnt,
                             const struct iovec *remote_iov, unsigned long riovcnt,
                             unsigned long flags);
    ssize_t process_vm_writev(pid_t pid, const struct iovec *local_iov, unsigned long liovcnt,
                              const struct iovec *remote_iov, unsigned long riovcnt,
                              unsigned long flags);
    struct pollfd { int fd; short events; short revents; };
    int poll(struct pollfd *fds, unsigned long nfds, int timeout);
    int signalfd(int fd, const void *mask, int flags);
    int sigemptyset(void *set);
    int sigaddset(void *set, int signum);
    """
)
# libc itself, not the process's global scope: inside a debugger run by `lxbrand run`, ptrace,
# waitpid and syscall in the global scope are the preload library's, which would call us back.
lib = ffi.dlopen("libc.so.6")

# syscall() is variadic; glibc implements it in assembly (it never reads %al), so calling it through a
# fixed-arity pointer is exact on x86-64 and lets cffi convert Python ints without per-call casts.
_sys4 = ffi.cast("long(*)(long, long, long, unsigned long, unsigned long)", lib.syscall)
_sys5 = ffi.cast(
    "long(*)(long, unsigned long, unsigned long, unsigned long, unsigned long, unsigned long)",
    lib.syscall,
)
_sys0 = ffi.cast("long(*)(long)", lib.syscall)
_sys2 = ffi.cast("long(*)(long, long, long)", lib.syscall)
_sys3 = ffi.cast("long(*)(long, long, long, long)", lib.syscall)
_libc_ptrace = lib.ptrace
_waitid = lib.waitid
_wait4 = lib.wait4
_kill = lib.kill
_personality = lib.personality
_vm_readv = lib.process_vm_readv
_vm_writev = lib.process_vm_writev
_NULL = ffi.NULL

Pointer = Union[int, Any]
"""An address: an ``int``, a cffi pointer/array, or an object supporting the buffer protocol."""

# Requests for which the kernel only *reads* caller memory at ``data``: read-only buffers are fine.
_READONLY_OK = frozenset({
    13,      # PTRACE_SETREGS
    15,      # PTRACE_SETFPREGS
    19,      # PTRACE_SETFPXREGS
    26,      # PTRACE_SET_THREAD_AREA
    0x4203,  # PTRACE_SETSIGINFO
    0x420B,  # PTRACE_SETSIGMASK
})

# Names for error messages only; the project's constant tables live in structs/.
_REQ_NAMES = {
    0: "PTRACE_TRACEME", 1: "PTRACE_PEEKTEXT", 2: "PTRACE_PEEKDATA", 3: "PTRACE_PEEKUSER",
    4: "PTRACE_POKETEXT", 5: "PTRACE_POKEDATA", 6: "PTRACE_POKEUSER", 7: "PTRACE_CONT",
    8: "PTRACE_KILL", 9: "PTRACE_SINGLESTEP", 12: "PTRACE_GETREGS", 13: "PTRACE_SETREGS",
    14: "PTRACE_GETFPREGS", 15: "PTRACE_SETFPREGS", 16: "PTRACE_ATTACH", 17: "PTRACE_DETACH",
    18: "PTRACE_GETFPXREGS", 19: "PTRACE_SETFPXREGS", 24: "PTRACE_SYSCALL",
    25: "PTRACE_GET_THREAD_AREA", 26: "PTRACE_SET_THREAD_AREA", 30: "PTRACE_ARCH_PRCTL",
    31: "PTRACE_SYSEMU", 32: "PTRACE_SYSEMU_SINGLESTEP", 33: "PTRACE_SINGLEBLOCK",
    0x4200: "PTRACE_SETOPTIONS", 0x4201: "PTRACE_GETEVENTMSG", 0x4202: "PTRACE_GETSIGINFO",
    0x4203: "PTRACE_SETSIGINFO", 0x4204: "PTRACE_GETREGSET", 0x4205: "PTRACE_SETREGSET",
    0x4206: "PTRACE_SEIZE", 0x4207: "PTRACE_INTERRUPT", 0x4208: "PTRACE_LISTEN",
    0x4209: "PTRACE_PEEKSIGINFO", 0x420A: "PTRACE_GETSIGMASK", 0x420B: "PTRACE_SETSIGMASK",
    0x420C: "PTRACE_SECCOMP_GET_FILTER", 0x420D: "PTRACE_SECCOMP_GET_METADATA",
    0x420E: "PTRACE_GET_SYSCALL_INFO",
}


def _fmt(v: Any) -> str:
    return hex(v) if isinstance(v, int) else type(v).__name__


def _oserror(err: int, call: str) -> OSError:
    return OSError(err, f"{call}: {os.strerror(err)}")


def _ptrace_error(err: int, request: int, pid: int, addr: Any, data: Any) -> OSError:
    name = _REQ_NAMES.get(request, str(request))
    return _oserror(err, f"ptrace({name}, {pid}, {_fmt(addr)}, {_fmt(data)})")


# --- per-thread scratch buffers -------------------------------------------------------------------

class _Scratch(threading.local):
    def __init__(self) -> None:
        self.word = ffi.new("long[1]")
        self.word_addr = int(ffi.cast("uintptr_t", self.word))
        self.status = ffi.new("int[1]")
        self.siginfo = ffi.new("lxb_siginfo_t *")
        self.iov = ffi.new("struct iovec[2]")   # [0] local, [1] remote


_scratch = _Scratch()


# --- buffer helpers ---------------------------------------------------------------------------------

def buffer(size: int) -> Any:
    """A new zeroed ``char[size]`` owned by the returned cdata (freed when it is collected)."""
    return ffi.new("char[]", size)


def from_buffer(obj: Any, writable: bool = True) -> Any:
    """Wrap a Python buffer (bytearray, memoryview, array...) as a ``char[]`` cdata without copying.

    The buffer cannot be resized while the returned cdata is alive. ``writable=True`` refuses
    read-only objects such as ``bytes`` (BufferError).
    """
    return ffi.from_buffer(obj, require_writable=writable)


def address(obj: Pointer) -> int:
    """The address of ``obj`` as an int: ints are returned as is, cffi pointers/arrays are cast,
    Python buffers are located with ``ffi.from_buffer``.

    For a Python buffer the caller must keep ``obj`` alive (and not resize it) while the address is in
    use; prefer passing the buffer itself to the calls here, which keep it pinned during the call.
    """
    if isinstance(obj, int):
        return int(obj) & _ULONG_MASK
    if isinstance(obj, ffi.CData):
        return int(ffi.cast("uintptr_t", obj))
    return int(ffi.cast("uintptr_t", ffi.from_buffer(obj)))


def _pin(obj: Any, writable: bool) -> tuple[int, Any]:
    """(address, keep-alive object) for any Pointer form."""
    if isinstance(obj, int):
        return int(obj) & _ULONG_MASK, None
    if obj is None:
        return 0, None
    if isinstance(obj, ffi.CData):
        return int(ffi.cast("uintptr_t", obj)), obj
    cd = ffi.from_buffer(obj, require_writable=writable)
    return int(ffi.cast("uintptr_t", cd)), cd


def iovec(base: Pointer, length: int | None = None) -> Any:
    """A ``struct iovec *`` (owned cdata) describing ``base``/``length``, e.g. for PTRACE_GETREGSET.

    ``base`` may be an int address (``length`` required) or a buffer/cdata array (``length`` defaults
    to its size; give it explicitly for a bare cdata pointer). A buffer is kept alive and pinned for as long as the returned iovec is alive. The kernel
    updates ``iov_len`` in place for GETREGSET/SETREGSET; read it back as ``iov.iov_len``.
    """
    if length is None:
        if isinstance(base, int):
            raise TypeError("iovec(): length is required when base is an address")
        length = ffi.sizeof(base) if isinstance(base, ffi.CData) else memoryview(base).nbytes
    addr, keep = _pin(base, writable=True)
    iov = ffi.new("struct iovec *")
    iov.iov_base = addr
    iov.iov_len = length
    if keep is None:
        return iov
    # ffi.gc's destructor closure holds the pinned buffer and the original owner alive.
    return ffi.gc(iov, lambda _p, _keep=keep: None)


# --- ptrace -----------------------------------------------------------------------------------------

def ptrace(request: int, pid: int, addr: Pointer = 0, data: Pointer = 0) -> int:
    """ptrace(2), raw system-call convention: returns what the kernel returned (0 for most requests).

    PEEKTEXT/PEEKDATA/PEEKUSER store the word at ``data`` (an 8-byte writable location) and return 0;
    use ``peek()`` for the glibc convention. ``addr``/``data`` may be ints (values or addresses) or
    buffers/cdata (passed by address, pinned during the call). Raises OSError(errno) on failure.
    """
    if addr.__class__ is int and data.__class__ is int:
        try:
            r = _sys4(SYS_ptrace, request, pid, addr, data)
        except OverflowError:
            r = _sys4(SYS_ptrace, request, pid, addr & _ULONG_MASK, data & _ULONG_MASK)
        if r == -1:
            raise _ptrace_error(ffi.errno, request, pid, addr, data)
        return r
    a, keep_a = _pin(addr, writable=True)
    d, keep_d = _pin(data, writable=request not in _READONLY_OK)
    r = _sys4(SYS_ptrace, request, pid, a, d)
    if r == -1:
        raise _ptrace_error(ffi.errno, request, pid, addr, data)
    del keep_a, keep_d
    return r


def peek(request: int, pid: int, addr: int) -> int:
    """PEEKTEXT (1), PEEKDATA (2) or PEEKUSER (3), glibc convention: returns the word (a signed
    64-bit int; a word of all ones is -1 and is *not* an error). Raises OSError(errno) on failure,
    ValueError for any other request.
    """
    if not 0 < request < 4:
        raise ValueError(f"peek(): request {request} is not PEEKTEXT/PEEKDATA/PEEKUSER")
    s = _scratch
    try:
        r = _sys4(SYS_ptrace, request, pid, addr, s.word_addr)
    except OverflowError:
        r = _sys4(SYS_ptrace, request, pid, addr & _ULONG_MASK, s.word_addr)
    if r == -1:
        raise _ptrace_error(ffi.errno, request, pid, addr, 0)
    return s.word[0]


def libc_ptrace(request: int, pid: int, addr: Pointer = 0, data: Pointer = 0) -> int:
    """glibc's own ``ptrace()`` wrapper (variadic, called with explicit C types): for PEEK* requests it
    returns the word, otherwise the kernel's return value. Failure (-1 with errno set; errno is cleared
    before the call so a peeked -1 is not an error) raises OSError. Slower than ``ptrace()``: for
    reference and differential checks.
    """
    a, keep_a = _pin(addr, writable=True)
    d, keep_d = _pin(data, writable=request not in _READONLY_OK)
    ffi.errno = 0
    r = _libc_ptrace(request, ffi.cast("int", pid), ffi.cast("void *", a), ffi.cast("void *", d))
    if r == -1:
        err = ffi.errno
        if err:
            raise _ptrace_error(err, request, pid, addr, data)
    del keep_a, keep_d
    return r


# --- waiting ----------------------------------------------------------------------------------------

class WaitidResult(NamedTuple):
    """The SIGCHLD fields of the siginfo_t filled in by waitid(2), and the raw 128 bytes."""
    si_pid: int
    si_uid: int
    si_signo: int
    si_status: int
    si_code: int
    raw: bytes


def waitid(idtype: int, id: int, options: int) -> WaitidResult | None:
    """waitid(2). Returns the child's event, or None when WNOHANG was given and no child had one.

    ``idtype`` is P_ALL (0), P_PID (1), P_PGID (2) or P_PIDFD (3); ``options`` any of WEXITED,
    WSTOPPED, WCONTINUED, WNOHANG, WNOWAIT, __WALL, __WCLONE, __WNOTHREAD. Retries on EINTR.
    Raises OSError (ECHILD when there is no such child, EINVAL for bad options).
    """
    info = _scratch.siginfo
    while True:
        info.chld.si_pid = 0
        info.chld.si_signo = 0
        r = _waitid(idtype, id, info, options)
        if r == 0:
            break
        err = ffi.errno
        if err != _errno.EINTR:
            raise _oserror(err, f"waitid({idtype}, {id}, {options:#x})")
    c = info.chld
    if c.si_pid == 0 and c.si_signo == 0:
        return None
    return WaitidResult(c.si_pid, c.si_uid, c.si_signo, c.si_status, c.si_code,
                        ffi.buffer(info)[:])


def wait4(pid: int, options: int = 0) -> tuple[int, int]:
    """wait4(2) without rusage. Returns (pid, status); (0, 0) when WNOHANG found no event.

    Decode ``status`` with ``os.WIFSTOPPED``/``os.WSTOPSIG``/``os.WIFEXITED``/... (ptrace event stops
    carry the event in ``status >> 16``). Retries on EINTR. Raises OSError (ECHILD, EINVAL).
    """
    st = _scratch.status
    while True:
        st[0] = 0
        r = _wait4(pid, st, options, _NULL)
        if r != -1:
            return r, st[0]
        err = ffi.errno
        if err != _errno.EINTR:
            raise _oserror(err, f"wait4({pid}, {options:#x})")


# --- signals ----------------------------------------------------------------------------------------

SYS_rt_tgsigqueueinfo = 297
_SFD_NONBLOCK_CLOEXEC = 0o4000 | 0o2000000
_POLLIN = 1


def poll_in(fds: Sequence[int], timeout: float | None) -> list[int]:
    """poll(2) for readability of `fds`, at most `timeout` seconds (None: no limit).  Returns
    the ready descriptors ([] when the time ran out).  NOT retried on EINTR: a signal whose
    handler ran raises InterruptedError (the caller decides whether the wait it serves is
    interruptible -- Linux's blocking waits are)."""
    n = len(fds)
    p = ffi.new("struct pollfd[]", n)
    for i, fd in enumerate(fds):
        p[i].fd, p[i].events = fd, _POLLIN
    ms = -1 if timeout is None else max(0, min(int(timeout * 1000 + 0.999), 0x7FFFFFFF))
    r = lib.poll(p, n, ms)
    if r == -1:
        err = ffi.errno
        if err == _errno.EINTR:
            raise InterruptedError(_errno.EINTR, "poll interrupted by a signal")
        raise _oserror(err, "poll")
    return [p[i].fd for i in range(n) if p[i].revents]


def signalfd(signals: Sequence[int]) -> int:
    """A new non-blocking, close-on-exec signalfd(2) for `signals` (they must be blocked in the
    threads that are to see them through it)."""
    mask = ffi.new("char[128]")
    lib.sigemptyset(mask)
    for sig in signals:
        lib.sigaddset(mask, sig)
    fd = lib.signalfd(-1, mask, _SFD_NONBLOCK_CLOEXEC)
    if fd == -1:
        raise _oserror(ffi.errno, "signalfd")
    return fd


def sigqueue_self(info: bytes) -> None:
    """rt_tgsigqueueinfo(2) to the calling thread with a whole siginfo_t (any si_code is allowed
    to oneself): a signal taken from a signalfd, given back as it came."""
    buf = ffi.new("char[128]", bytes(info[:128]).ljust(128, b"\0"))
    signo = int.from_bytes(info[:4], "little")
    if _sys5(SYS_rt_tgsigqueueinfo, os.getpid(), gettid(), signo, int(ffi.cast("uintptr_t", buf)), 0) == -1:
        raise _oserror(ffi.errno, f"rt_tgsigqueueinfo({signo})")


def kill(pid: int, sig: int) -> None:
    """kill(2). Raises OSError (ESRCH, EPERM, EINVAL for a bad signal)."""
    if _kill(pid, sig) == -1:
        raise _oserror(ffi.errno, f"kill({pid}, {sig})")


def tkill(tid: int, sig: int) -> None:
    """tkill(2) (syscall 200): signal one thread by its host tid. Raises OSError."""
    if _sys2(SYS_tkill, tid, sig) == -1:
        raise _oserror(ffi.errno, f"tkill({tid}, {sig})")


def tgkill(tgid: int, tid: int, sig: int) -> None:
    """tgkill(2) (syscall 234): signal thread ``tid`` only if it belongs to thread group ``tgid``.
    Raises OSError (ESRCH when ``tid`` is not in ``tgid``)."""
    if _sys3(SYS_tgkill, tgid, tid, sig) == -1:
        raise _oserror(ffi.errno, f"tgkill({tgid}, {tid}, {sig})")


def gettid() -> int:
    """The calling thread's host tid (syscall 186)."""
    return _sys0(SYS_gettid)


# --- remote memory ----------------------------------------------------------------------------------

def process_vm_readv_into(pid: int, addr: int, buf: Any) -> int:
    """Read ``len(buf)`` bytes at ``addr`` in ``pid`` into ``buf``: a writable Python buffer or a
    cdata *array* (its full ``ffi.sizeof``).

    Returns the number of bytes read: short if the remote range stops being mapped part-way. Raises
    OSError (EFAULT when nothing at ``addr`` is readable, ESRCH, EPERM).
    """
    if isinstance(buf, ffi.CData):
        local, n = buf, ffi.sizeof(buf)
    else:
        local = ffi.from_buffer(buf, require_writable=True)
        n = len(local)
    iov = _scratch.iov
    iov[0].iov_base = int(ffi.cast("uintptr_t", local))
    iov[0].iov_len = n
    iov[1].iov_base = addr & _ULONG_MASK
    iov[1].iov_len = n
    r = _vm_readv(pid, iov, 1, iov + 1, 1, 0)
    if r == -1:
        raise _oserror(ffi.errno, f"process_vm_readv({pid}, {addr:#x}, {n})")
    return r


def process_vm_readv(pid: int, addr: int, size: int) -> bytes:
    """Read ``size`` bytes at ``addr`` in ``pid``. The result is shorter than ``size`` when the remote
    range stops being mapped part-way. Raises OSError (EFAULT when nothing is readable, ESRCH, EPERM).
    """
    local = ffi.new("char[]", size)
    n = process_vm_readv_into(pid, addr, local)
    return ffi.buffer(local, n)[:]


def process_vm_writev(pid: int, addr: int, data: Any) -> int:
    """Write the bytes-like ``data`` at ``addr`` in ``pid``. Returns the number of bytes written (short
    if the remote range stops being mapped part-way). Raises OSError (EFAULT, ESRCH, EPERM).

    Unlike PTRACE_POKETEXT and /proc/<pid>/mem, this obeys the remote page protections: writing
    read-only text fails with EFAULT.
    """
    local = ffi.from_buffer(data)
    n = len(local)
    iov = _scratch.iov
    iov[0].iov_base = int(ffi.cast("uintptr_t", local))
    iov[0].iov_len = n
    iov[1].iov_base = addr & _ULONG_MASK
    iov[1].iov_len = n
    r = _vm_writev(pid, iov, 1, iov + 1, 1, 0)
    if r == -1:
        raise _oserror(ffi.errno, f"process_vm_writev({pid}, {addr:#x}, {n})")
    return r


def _iovs(local: Sequence[Any], remote: Sequence[tuple[int, int]], writable: bool
          ) -> tuple[Any, Any, list[Any]]:
    liov = ffi.new("struct iovec[]", max(len(local), 1))
    riov = ffi.new("struct iovec[]", max(len(remote), 1))
    keep = []
    for i, b in enumerate(local):
        if isinstance(b, ffi.CData):
            cd, n = b, ffi.sizeof(b)
        else:
            cd = ffi.from_buffer(b, require_writable=writable)
            n = len(cd)
        keep.append(cd)
        liov[i].iov_base = int(ffi.cast("uintptr_t", cd))
        liov[i].iov_len = n
    for i, (a, n) in enumerate(remote):
        riov[i].iov_base = a & _ULONG_MASK
        riov[i].iov_len = n
    return liov, riov, keep


def process_vm_readv_iov(pid: int, local: Sequence[Any], remote: Sequence[tuple[int, int]]) -> int:
    """Scatter/gather process_vm_readv(2): fill the writable buffers ``local`` in order from the remote
    ranges ``remote`` = [(addr, length), ...]. Returns the total number of bytes read (short when a
    remote range is unmapped: nothing after it is transferred). Raises OSError.
    """
    liov, riov, keep = _iovs(local, remote, writable=True)
    r = _vm_readv(pid, liov, len(local), riov, len(remote), 0)
    if r == -1:
        raise _oserror(ffi.errno, f"process_vm_readv({pid}, <{len(local)} iov>, <{len(remote)} iov>)")
    del keep
    return r


def process_vm_writev_iov(pid: int, local: Sequence[Any], remote: Sequence[tuple[int, int]]) -> int:
    """Scatter/gather process_vm_writev(2): write the bytes-like ``local`` buffers in order into the
    remote ranges ``remote`` = [(addr, length), ...]. Returns the total written. Raises OSError.
    """
    liov, riov, keep = _iovs(local, remote, writable=False)
    r = _vm_writev(pid, liov, len(local), riov, len(remote), 0)
    if r == -1:
        raise _oserror(ffi.errno, f"process_vm_writev({pid}, <{len(local)} iov>, <{len(remote)} iov>)")
    del keep
    return r


# --- process attributes -----------------------------------------------------------------------------

def personality(persona: int) -> int:
    """personality(2): set the execution domain and return the previous one; ``0xffffffff`` only
    queries. Raises OSError (EINVAL)."""
    r = _personality(persona & _ULONG_MASK)
    if r == -1:
        raise _oserror(ffi.errno, f"personality({persona:#x})")
    return r


def prctl(option: int, arg2: Pointer = 0, arg3: Pointer = 0, arg4: Pointer = 0,
          arg5: Pointer = 0) -> int:
    """prctl(2) (syscall 157): returns the kernel's return value (e.g. PR_GET_DUMPABLE -> 0/1).

    Pointer arguments (PR_GET_NAME's buffer, PR_GET_PDEATHSIG's int*) may be given as buffers/cdata;
    negative ints are passed as their unsigned 64-bit value (PR_SET_PTRACER_ANY = -1).
    Raises OSError (EINVAL for an unknown option, ...).
    """
    args = []
    keep = []
    for a in (arg2, arg3, arg4, arg5):
        v, k = _pin(a, writable=True)
        args.append(v)
        keep.append(k)
    r = _sys5(SYS_prctl, option & _ULONG_MASK, *args)
    if r == -1:
        raise _oserror(ffi.errno, f"prctl({option}, {', '.join(_fmt(a) for a in (arg2, arg3, arg4, arg5))})")
    del keep
    return r
