"""Where a user's procd is found, and how it is started exactly once.

Every process of a user meets the same procd at a well-known address that depends only on the
uid: `/tmp/native-proc-<uid>/procd.sock` (the directory private to the user, mode 0700).  Nothing
is read from the environment to find it, so a TRACEME child whose environment was replaced, or
a tracer that forked before its first call, meets its parent's procd all the same, and nothing
needs to be added to a traced program's environment.  $NATIVE_PROC_SOCKET names another address
explicitly (tests, isolation); `native-proc serve --socket PATH` serves one.

Starting is race-free: a client that finds nobody listening takes the address's lock file
(flock), looks again, and only then starts a procd, which binds and answers "ready" before the
lock is let go; two clients starting at once get one procd.  A procd a client started exits
when it has had no client for a grace period (procd.py), under the same lock, so a client never
connects to a procd that is leaving.
"""

from __future__ import annotations

import fcntl
import os
import socket
import stat
import struct
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Iterator

__all__ = ["ENV", "ProcdError", "default_path", "address", "private_dir", "user_dir", "check_path",
           "dial", "connect", "locked", "lock_path", "log_path", "GRACE", "MAX_PATH"]

ENV = "NATIVE_PROC_SOCKET"
#: The interpreter procd is started with.  A program that embeds Python (a debugger under
#: `lxbrand run`) has its own binary as sys.executable: the shim names a real interpreter here.
PYTHON = sys.executable
GRACE = 2.0  # seconds an idle procd that a client started waits for a new client before exiting
_LOCK_WAIT = 30.0  # seconds a client waits for another one that is starting procd
_START_WAIT = 30.0  # seconds a started procd may take to answer "ready"
_PEERCRED = struct.Struct("3i")
MAX_PATH = 107  # bytes of a socket path AF_UNIX takes (sun_path is 108 with its NUL)


class ProcdError(RuntimeError):
    """procd could not be reached or started."""


def default_path(uid: int | None = None) -> str:
    """The well-known address of `uid`'s procd (default: ours); a function of the uid only."""
    return f"/tmp/native-proc-{os.getuid() if uid is None else uid}/procd.sock"


def address() -> tuple[str, bool]:
    """(path, explicit): $NATIVE_PROC_SOCKET when set, else the user's well-known address."""
    explicit = os.environ.get(ENV)
    if explicit:
        return os.path.abspath(explicit), True
    return default_path(), False


def lock_path(path: str) -> str:
    """The lock file that serialises starting (and idle exit of) the procd at `path`."""
    return path + ".lock"


def log_path(path: str) -> str:
    """Where a procd a client started writes its messages (it holds none of the client's files)."""
    return path + ".log"


def private_dir(d: str) -> None:
    """Make sure `d` is a directory of ours that only we can use: created mode 0700, refused when
    it is a symbolic link, another user's, or writable by group or others (someone could then
    put their own socket where we look).  Raises ProcdError saying which."""
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        st = os.lstat(d)
    except OSError as e:
        raise ProcdError(f"cannot create procd's directory {d}: {e.strerror}") from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise ProcdError(f"{d} is not a directory (a symbolic link or a file is there): not using it")
    if st.st_uid != os.getuid():
        raise ProcdError(f"{d} belongs to uid {st.st_uid}, not to us (uid {os.getuid()}): not using it; "
                         f"set ${ENV} to a socket path in a directory of yours")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(d, 0o700)


def check_path(path: str) -> None:
    """Raise ProcdError unless `path` can be a procd's socket: short enough for AF_UNIX, and
    nothing but a socket (a stale one) already there.  Checked before anything is created."""
    n = len(os.fsencode(path))
    if n > MAX_PATH:
        raise ProcdError(f"socket path {path!r} is {n} bytes long; AF_UNIX allows {MAX_PATH}")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise ProcdError(f"cannot use {path} as procd's socket: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ProcdError(f"{path} is a directory, not a socket path (name a file in it)")
    if not stat.S_ISSOCK(st.st_mode):
        raise ProcdError(f"{path} exists and is not a socket: not replacing it")


def user_dir(d: str) -> None:
    """The directory of a socket path the user named: created (mode 0700) when missing, else
    used as it is -- its mode is never changed (it may be /tmp or anyone's: issue 19 item 2).
    Raises ProcdError saying why it cannot be used."""
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
    except OSError as e:
        raise ProcdError(f"cannot create {d}: {e.strerror}") from None
    if not os.path.isdir(d):
        raise ProcdError(f"{d} is not a directory")


def dial(path: str) -> socket.socket:
    """Connect to the procd at `path`.  FileNotFoundError/ConnectionRefusedError when nobody
    listens there; ProcdError when what listens runs as another user who is not root (never
    spoken to)."""
    if len(os.fsencode(path)) > MAX_PATH:
        raise ProcdError(f"procd socket path is {len(os.fsencode(path))} bytes long, AF_UNIX allows "
                         f"{MAX_PATH} (${ENV}?): {path!r}")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
        _pid, uid, _gid = _PEERCRED.unpack(s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                         _PEERCRED.size))
    except BaseException:
        s.close()
        raise
    if uid not in (os.getuid(), 0):  # root's procd may serve us (it checks each client's uid)
        s.close()
        raise ProcdError(f"the procd at {path} runs as uid {uid}, not as us (uid {os.getuid()})")
    return s


@contextmanager
def locked(path: str, wait: float = _LOCK_WAIT, blocking: bool = True) -> Iterator[bool]:
    """Hold the lock of the procd address `path` (yields True), or, with blocking=False, yield
    False at once when someone else holds it.  Blocking, waits at most `wait` seconds (then
    ProcdError): the holder is a client starting procd, which takes well under a second."""
    try:
        fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as e:
        raise ProcdError(f"cannot open {lock_path(path)}: {e.strerror}") from None
    try:
        deadline = time.monotonic() + wait
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not blocking:
                    yield False
                    return
                if time.monotonic() > deadline:
                    raise ProcdError(f"{lock_path(path)} stayed locked for {wait:g} s (a client "
                                     f"starting procd is stuck?)") from None
                # Bounded back-off: the holder finishes in milliseconds unless it is stopped.
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        yield True
    finally:
        os.close(fd)  # closing the only descriptor drops the flock


def connect() -> tuple[socket.socket, str]:
    """A connection to this user's procd (or the one $NATIVE_PROC_SOCKET names), started first
    when nobody listens there; returns (socket, path)."""
    path, explicit = address()
    try:
        return dial(path), path
    except (FileNotFoundError, ConnectionRefusedError):
        pass
    if explicit:
        # A directory the user named: used as it is (created if missing), never re-moded.
        try:
            user_dir(os.path.dirname(path))
        except ProcdError as e:
            raise ProcdError(f"${ENV}: {e}") from None
    else:
        private_dir(os.path.dirname(path))
    with locked(path):
        # Someone may have started it while we waited for the lock.
        try:
            return dial(path), path
        except (FileNotFoundError, ConnectionRefusedError):
            pass
        _start(path)
        try:
            return dial(path), path
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise ProcdError(f"procd started but {path} does not answer: {e.strerror}") from None


def _start(path: str) -> None:
    """Start a procd serving `path` (it exits after GRACE seconds without clients), detached: it
    is nobody's child here, so it never shows in a wait of ours.  Returns once it listens."""
    r, w = os.pipe2(os.O_CLOEXEC)
    env = dict(os.environ)
    env.pop(ENV, None)
    cmd = [PYTHON, "-m", "native_proc.procd", "--embedded", "--socket", path, "--ready-fd", str(w)]
    try:
        # procd must not hold the starting client's stdout or stderr: a pipe the client's reader
        # waits on would stay open as long as procd lives.  Its messages go to a log beside it.
        log = os.open(log_path(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW,
                      0o600)
    except OSError as e:
        os.close(r)
        os.close(w)
        raise ProcdError(f"cannot open {log_path(path)}: {e.strerror}") from None
    try:
        # The intermediate child exits at once; procd is re-parented and in a session of its own.
        launcher = subprocess.Popen(
            [PYTHON, "-c",
             "import os,subprocess,sys; subprocess.Popen(sys.argv[2:], pass_fds=(int(sys.argv[1]),),"
             " start_new_session=True, stdin=subprocess.DEVNULL); os._exit(0)", str(w), *cmd],
            pass_fds=(w,), env=env, close_fds=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=log, cwd="/",  # nor its working directory (it would keep a mount busy)
        )
    except OSError as e:
        os.close(r)
        os.close(w)
        raise ProcdError(f"cannot start procd: {e.strerror}") from None
    finally:
        os.close(log)
    os.close(w)
    launcher.wait()
    try:
        ready = _read_ready(r, _START_WAIT)
    finally:
        os.close(r)
    if ready != b"R":
        raise ProcdError(f"procd failed to start (socket {path})")


def _read_ready(fd: int, wait: float) -> bytes:
    """One byte from the ready pipe, or b"" at EOF or after `wait` seconds (select and read
    are retried on EINTR by Python itself, PEP 475)."""
    import select

    ready, _, _ = select.select([fd], [], [], wait)
    return os.read(fd, 1) if ready else b""
