"""python-ptrace on lx: its debugger, unmodified, with every ptrace and wait going through lx.

python-ptrace (https://github.com/vstinner/python-ptrace, 0.9.x) reaches the kernel in three
places, each looked up at call time, and `install()` puts lx under each:

- `ptrace.binding.func.ptrace(command, pid, arg1, arg2, check_errno)`: every `ptrace_*` wrapper
  calls it.  It becomes `lx_ptrace` with glibc's `ptrace(3)` conventions, which python-ptrace
  expects: PEEK* return the word (unsigned, as its `c_ulong` result type gives it), other
  requests 0, and an error raises python-ptrace's `PtraceError` with Linux's errno and the same
  message its own binding writes.
- `ptrace.debugger.debugger.waitpid` and `ptrace.debugger.child.waitpid` (`os.waitpid` there):
  become `lx_waitpid` with os.waitpid's conventions (OSError of the errno's class, EINTR retried
  as PEP 475 does).
- `PtraceProcess.readBytes` opens `/proc/PID/mem` with the builtin `open` of
  `ptrace.debugger.process`: an `open` is put in that module's namespace that gives, for
  `/proc/PID/mem` (or `/proc/PID/task/TID/mem`), a file over the lx tracee's `as` file (read
  from the process the id belongs to, a thread's id included, as Linux reads the thread group's
  memory), and the builtin `open` for anything else.  /proc files that only describe a real
  process (maps, stat, environ) are the host's and are read as they are.

    import lxbrand.python_ptrace as lxpp
    with lxpp.installed():
        ...  # python-ptrace's PtraceDebugger, createChild, strace.py's SyscallTracer, ...

`python -m lxbrand.python_ptrace SCRIPT [ARGS...]` runs a python-ptrace script (its `strace.py`
or `gdb.py`) with the adapter installed.  python-ptrace is imported only by `install()`, so
lxbrand does not depend on it.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
import re
import sys
import threading
from typing import Any, Iterator

from structs.ptrace_consts import PTRACE

from . import ptrace as P
from .ptrace import lx_ptrace
from .wait import lx_waitpid

__all__ = ["install", "uninstall", "installed", "is_installed", "lx_binding_ptrace",
           "lx_os_waitpid", "lx_open", "LxMemoryFile", "main"]

_PEEKS = (PTRACE.PEEKTEXT, PTRACE.PEEKDATA, PTRACE.PEEKUSER)
_MISSING = object()
_lock = threading.Lock()
# (module, attribute) -> what was there before install(); empty when not installed.
_saved: dict[tuple[str, str], Any] = {}


def _ptrace_error() -> type:
    from ptrace.error import PtraceError

    return PtraceError


def lx_binding_ptrace(command: int, pid: int = 0, arg1: int = 0, arg2: int = 0,
                      check_errno: bool = False) -> int:
    """python-ptrace's `ptrace.binding.func.ptrace`, carried out by `lx_ptrace`.

    Returns what glibc's ptrace(3) returns through python-ptrace's ctypes binding: the word for
    PEEKTEXT/PEEKDATA/PEEKUSER (unsigned), 0 otherwise.  An lx error raises PtraceError with
    Linux's errno, pid=`pid`, and the message python-ptrace's own binding writes.  Addresses in
    `arg1`/`arg2` (`addressof(regs)` and the like) are the caller's memory, as for the system
    call.  (`check_errno` only tells glibc's -1 word from an error; lx never confuses them.)"""
    if command in _PEEKS:
        word = bytearray(8)
        r = lx_ptrace(command, pid, arg1, word)
        result = int.from_bytes(word, "little") if r == 0 else r
    else:
        result = r = lx_ptrace(command, pid, arg1, arg2)
    if r < 0:
        err = -r
        message = "ptrace(cmd=%s, pid=%s, %r, %r) error #%s: %s" % (
            command, pid, arg1, arg2, err, os.strerror(err))
        raise _ptrace_error()(message, errno=err, pid=pid)
    return result


def lx_os_waitpid(pid: int, options: int) -> tuple[int, int]:
    """`os.waitpid` over `lx_waitpid`: (pid, status), (0, 0) for WNOHANG with nothing; raises
    OSError (ChildProcessError for ECHILD) as os.waitpid does.  Like os.waitpid (PEP 475) a wait
    that a signal handler interrupted is taken up again once the handler has run."""
    while True:
        rpid, status = lx_waitpid(pid, options)
        if rpid >= 0:
            return rpid, status
        if rpid != -errno.EINTR:
            raise OSError(-rpid, os.strerror(-rpid))  # OSError picks the errno's subclass


_MEM_PATH = re.compile(r"^/proc/(\d+)/(?:task/(\d+)/)?mem$")


class LxMemoryFile:
    """`/proc/PID/mem` of an lx tracee, as a raw (unbuffered) binary file: `seek` then `read`
    or `write` at that address, through the tracee's `as` file.

    Linux's answers are kept: a read that starts at an unmapped address raises OSError(EIO), one
    that runs into unmapped memory is short; a process that has gone reads as end of file."""

    def __init__(self, pid: int, writable: bool) -> None:
        self.pid = pid
        self.name = f"/proc/{pid}/mem"
        self.mode = "rb+" if writable else "rb"
        self.closed = False
        self._writable = writable
        self._pos = 0
        # Opening needs the right to trace (Linux: PTRACE_MODE_ATTACH); lx gives it to the
        # tracer of the process only.
        try:
            P.tracee_of(pid)
        except OSError:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), self.name) from None

    def _as(self) -> Any | None:
        try:
            return P.tracee_of(self.pid).mem
        except OSError:
            return None  # gone (exited, or detached): Linux reads a process without memory as EOF

    def _check(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move to `offset` (an address); returns the new position."""
        self._check()
        if whence == os.SEEK_SET:
            pos = offset
        elif whence == os.SEEK_CUR:
            pos = self._pos + offset
        else:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        if pos < 0:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        self._pos = pos
        return pos

    def tell(self) -> int:
        self._check()
        return self._pos

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes at the position (one read, as FileIO's raw read)."""
        self._check()
        if size is None or size < 0:
            size = 1 << 20
        if size == 0:
            return b""
        mem = self._as()
        if mem is None:
            return b""
        try:
            data = mem.pread(size, self._pos)
        except OSError as e:
            if e.errno == errno.ENOENT:  # the process has exited
                return b""
            raise
        if not data:
            # the `as` file ends where the mapping ends (Solaris); Linux's mem file says EIO
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        self._pos += len(data)
        return data

    def write(self, data: bytes) -> int:
        """Write `data` at the position; returns the count written (EIO at an unmapped one)."""
        self._check()
        if not self._writable:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        mem = self._as()
        if mem is None:
            return 0
        try:
            n = mem.pwrite(bytes(data), self._pos)
        except OSError:
            raise OSError(errno.EIO, os.strerror(errno.EIO)) from None
        self._pos += n
        return n

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return self._writable

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        # the `as` file belongs to the tracee record, which lives as long as the tracee
        self.closed = True

    def __enter__(self) -> "LxMemoryFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def lx_open(file: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
    """The builtin `open`, except that `/proc/PID/mem` and `/proc/PID/task/TID/mem` of an lx
    tracee open as an `LxMemoryFile` (binary, unbuffered: python-ptrace opens it 'rb', 0); a
    process we do not trace is EACCES, as Linux says to a tracer without the right to it."""
    if isinstance(file, (str, bytes, os.PathLike)):
        path = os.fsdecode(file)
        m = _MEM_PATH.match(path)
        if m:
            # a thread's id (/proc/TID/mem) names its thread group's memory, as on Linux: the
            # tracee record of a thread reads its process's `as` file, never TID/as
            return LxMemoryFile(int(m.group(1)), any(c in mode for c in "wa+"))
    return builtins.open(file, mode, *args, **kw)


def _targets() -> list[tuple[Any, str, Any]]:
    """(module, attribute, replacement) for every place python-ptrace reaches the kernel."""
    try:
        import ptrace.binding.func as func
        import ptrace.debugger.child as child
        import ptrace.debugger.debugger as debugger
        import ptrace.debugger.process as process
    except ImportError as e:
        raise ImportError("lxbrand.python_ptrace needs python-ptrace (pip install "
                          "python-ptrace): " + str(e)) from e
    return [(func, "ptrace", lx_binding_ptrace),
            (debugger, "waitpid", lx_os_waitpid),
            (child, "waitpid", lx_os_waitpid),
            (process, "open", lx_open)]


def install() -> None:
    """Route python-ptrace's ptrace, waits and memory reads through lx, from now on, for every
    debugger of this process.  Idempotent: a second call changes nothing."""
    with _lock:
        if _saved:
            return
        for mod, name, repl in _targets():
            _saved[(mod.__name__, name)] = mod.__dict__.get(name, _MISSING)
            setattr(mod, name, repl)


def uninstall() -> None:
    """Put python-ptrace back as install() found it (its ctypes binding, os.waitpid, the builtin
    open).  Idempotent: without install() it changes nothing."""
    with _lock:
        for (modname, name), old in _saved.items():
            mod = sys.modules[modname]
            if old is _MISSING:
                mod.__dict__.pop(name, None)
            else:
                setattr(mod, name, old)
        _saved.clear()


def is_installed() -> bool:
    """Whether install() is in force."""
    return bool(_saved)


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """`with installed(): ...` -- the adapter in force inside the block; afterwards it is as it
    was before (still installed if it already was)."""
    was = is_installed()
    install()
    try:
        yield
    finally:
        if not was:
            uninstall()


def main(argv: list[str] | None = None) -> int:
    """`python -m lxbrand.python_ptrace SCRIPT [ARGS...]`: run a python-ptrace script (a path,
    or the name of one on $PATH such as strace.py or gdb.py) as __main__ with the adapter."""
    import runpy
    import shutil

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m lxbrand.python_ptrace SCRIPT [ARGS...]\n"
              "  runs a python-ptrace script (strace.py, gdb.py or your own) with its ptrace,\n"
              "  waitpid and /proc/PID/mem going through lx", file=sys.stderr)
        return 2
    script = args[0]
    if not os.path.exists(script):
        found = shutil.which(script) or shutil.which(script, path=os.path.dirname(sys.executable))
        if found is None:
            print(f"lxbrand.python_ptrace: {script}: no such script", file=sys.stderr)
            return 2
        script = found
    install()
    # Issue 12 item 1: until procd is found at a well-known address, a tracer must reach procd
    # before it forks a child that will PTRACE_TRACEME (createChild does exactly that).
    from native_proc.client import ensure_procd

    ensure_procd()
    sys.argv = [script, *args[1:]]
    # the script's own `open` (gdb.py's gcore reads /proc/PID/mem itself) goes through lx too
    runpy.run_path(script, init_globals={"open": lx_open}, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
