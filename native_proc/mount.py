"""`native-proc mount DIR`: native_proc's tree as a real file system (FUSE), for any program.

The mount is a client of procd, not a second engine: each FUSE open is one native_proc open
file (`client.open`), so procd decides access (it sees the mount's credentials: the mount is
private to the user who made it, FUSE's default without allow_other), O_EXCL, writers and the
last close.  A FUSE file handle lives as long as the kernel's open file, whatever fork did with
the descriptor, and FUSE's release is the last close everywhere, so PR_RLC/PR_KLC act when the
last program holding the file closes it or dies.

A ctl write is one request to procd; one that blocks (PCWSTOP) blocks only its own FUSE thread
(the loop is multithreaded) and its own channel to procd (a channel bound to the same open
file), and a signal to the blocked writer ends it with EINTR.  Linux serialises writes to one
FUSE inode unless the open asks for parallel direct writes, which libfuse offers from 3.15 on
(used when present): with Debian 12's libfuse 3.14 a write blocked in PCWSTOP holds up other
writes to the same ctl file (reads, and every other file, go on).

Layout: DIR/<pid>/{as,ctl,status,psinfo,map,xmap,cred,sigact,auxv,usage,lusage,lstatus,lpsinfo,
watch,sigqueue}, DIR/<pid>/lwp/<lwpid>/{lwpctl,lwpstatus,lwpsinfo,lwpusage,xregs,lwpsigqueue},
cwd and root as symbolic links, DIR/<pid>/path/ (links to paths) and DIR/<pid>/fd/ (links to the
host's descriptors: opening one opens the file, as on Solaris).  Everything is re-read on every
access (no attribute or entry caching; reads are direct I/O, st_size is 0).

O_EXCL: Linux's VFS and FUSE drop O_EXCL from an open without O_CREAT, so it cannot reach us:
`ctl.excl` and `as.excl` (not Solaris) are the exclusive opens, with Solaris's EBUSY.

Unmount: `native-proc umount DIR`, or SIGTERM/SIGINT/SIGHUP to the mount: every file it holds
is closed (procd runs the last closes), then the mount exits.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from typing import Any, TextIO

from structs.wire import Op

from . import client

__all__ = ["ProcFS", "main", "serve", "unmount"]

_DIRS_PID = frozenset({"lwp", "fd", "path"})
_LINKS_PID = frozenset({"cwd", "root"})
_WRITE_ONLY = frozenset({"ctl", "lwpctl"})
_MODES = {"ctl": 0o200, "lwpctl": 0o200, "as": 0o600, "psinfo": 0o444, "lpsinfo": 0o444, "lwpsinfo": 0o444}
_EXCL_SUFFIX = ".excl"


class _Open:
    """One FUSE file handle: its native_proc open file and idle channels bound to it."""

    def __init__(self, pf: client.ProcFile, ctl: bool) -> None:
        self.pf = pf
        self.ctl = ctl
        self.idle: list = []
        self.lock = threading.Lock()
        self.closed = False

    def channel(self):
        with self.lock:
            if self.idle:
                return self.idle.pop()
        chan = client._connect()
        client._request(chan, Op.BIND, payload=self.pf._token)
        return chan

    def give_back(self, chan) -> None:
        with self.lock:
            if not self.closed:
                self.idle.append(chan)
                return
        chan.close()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            idle, self.idle = self.idle, []
        for c in idle:
            c.close()
        self.pf.close()


_POLL = 0.25  # seconds between looks at whether the writer was interrupted


def _interruptible_write(chan, offset: int, data: bytes) -> int:
    """One ctl write on `chan`; while procd holds the reply (PCWSTOP), a signal to the writer
    (FUSE's INTERRUPT, seen by fuse_interrupted) gives it EINTR, as a Solaris PCWSTOP does."""
    seq = client._next_seq()
    chan.settimeout(None)
    chan.send(client._REQ.pack(Op.WRITE, seq, offset, 0, 0) + data)
    chan.settimeout(_POLL)
    interrupted = _fuse()._libfuse.fuse_interrupted
    try:
        while True:
            try:
                msg = chan.recv(client._MAXMSG)
            except TimeoutError:
                if interrupted():
                    raise OSError(errno.EINTR, "interrupted") from None
                continue
            if not msg:
                raise OSError(errno.EIO, "procd closed the connection")
            rseq, err, value = client._REP.unpack_from(msg)
            if rseq != seq:
                continue
            if err:
                raise OSError(err, os.strerror(err))
            return value
    finally:
        chan.settimeout(None)


def _fuse():
    import mfusepy

    return mfusepy


def _split(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


class ProcFS:
    """The FUSE operations (mfusepy's Operations protocol), each answered through procd."""

    use_ns = True

    def __init__(self) -> None:
        self.files: dict[int, _Open] = {}
        self._mutex = threading.Lock()
        self.next_fh = 1
        self.uid, self.gid = os.getuid(), os.getgid()
        self.started = time.time_ns()

    # -- helpers -----------------------------------------------------------------------------

    def _owner(self, pid: str) -> tuple[int, int]:
        try:
            st = os.stat(f"/proc/{pid}")
            return st.st_uid, st.st_gid
        except OSError:
            return self.uid, self.gid

    def _attr(self, mode: int, pid: str | None = None, nlink: int = 1) -> dict[str, Any]:
        uid, gid = self._owner(pid) if pid else (self.uid, self.gid)
        t = self.started
        return {"st_mode": mode, "st_nlink": nlink, "st_uid": uid, "st_gid": gid, "st_size": 0,
                "st_atime": t, "st_mtime": t, "st_ctime": t}

    @staticmethod
    def _names(rel: str) -> list[str]:
        try:
            return client.listdir(rel)
        except OSError:
            raise
        except client.ProcdError as e:
            raise OSError(errno.EIO, str(e)) from None

    # -- operations --------------------------------------------------------------------------

    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        parts = _split(path)
        if not parts:
            return self._attr(stat.S_IFDIR | 0o555, nlink=2)
        pid = parts[0]
        if not pid.isdigit():
            raise OSError(errno.ENOENT, path)
        if len(parts) == 1:
            self._names(pid)
            return self._attr(stat.S_IFDIR | 0o555, pid, 2)
        name = parts[1]
        if len(parts) == 2:
            base = name[:-len(_EXCL_SUFFIX)] if name.endswith(_EXCL_SUFFIX) else name
            if base not in self._names(pid) or (base != name and base not in ("ctl", "as")):
                raise OSError(errno.ENOENT, path)
            if base in _DIRS_PID:
                return self._attr(stat.S_IFDIR | 0o555, pid, 2)
            if base in _LINKS_PID:
                return self._attr(stat.S_IFLNK | 0o777, pid)
            return self._attr(stat.S_IFREG | _MODES.get(base, 0o400), pid)
        if name in ("fd", "path") and len(parts) == 3:
            if parts[2] not in self._names(f"{pid}/{name}"):
                raise OSError(errno.ENOENT, path)
            return self._attr(stat.S_IFLNK | 0o777, pid)
        if name == "lwp" and len(parts) == 3:
            self._names(f"{pid}/lwp/{parts[2]}")
            return self._attr(stat.S_IFDIR | 0o555, pid, 2)
        if name == "lwp" and len(parts) == 4:
            if parts[3] not in self._names(f"{pid}/lwp/{parts[2]}"):
                raise OSError(errno.ENOENT, path)
            return self._attr(stat.S_IFREG | _MODES.get(parts[3], 0o400), pid)
        raise OSError(errno.ENOENT, path)

    def readdir(self, path: str, fh: Any) -> list[str]:
        parts = _split(path)
        names = self._names("/".join(parts))
        return [".", ".."] + names

    def readlink(self, path: str) -> str:
        with client.open(path.lstrip("/")) as f:
            return os.fsdecode(f.read())

    def open(self, path: str, fi: Any) -> int:
        rel = path.lstrip("/")
        flags = fi.flags & (os.O_ACCMODE | os.O_EXCL)
        if rel.endswith(_EXCL_SUFFIX) and len(_split(rel)) == 2:
            rel = rel[:-len(_EXCL_SUFFIX)]
            flags |= os.O_EXCL
        try:
            pf = client.open(rel, flags)
        except client.ProcdError as e:
            raise OSError(errno.EIO, str(e)) from None
        fi.direct_io = 1
        fi.keep_cache = 0
        if hasattr(fi, "parallel_direct_writes"):
            # libfuse >= 3.15: a write blocked in PCWSTOP then holds up no other write to the
            # same file (without it the kernel serialises writes to one inode).
            fi.parallel_direct_writes = 1
        with self._mutex:
            fh = self.next_fh
            self.next_fh += 1
            self.files[fh] = _Open(pf, _split(rel)[-1] in _WRITE_ONLY)
        fi.fh = fh
        return 0

    def _file(self, fi: Any) -> _Open:
        f = self.files.get(fi.fh)
        if f is None:
            raise OSError(errno.EBADF, "no such open file")
        return f

    def read(self, path: str, size: int, offset: int, fi: Any) -> bytes:
        return self._file(fi).pf.pread(size, offset)

    def write(self, path: str, data: bytes, offset: int, fi: Any) -> int:
        f = self._file(fi)
        if not f.ctl:
            return f.pf.pwrite(data, offset)
        chan = f.channel()
        try:
            value = _interruptible_write(chan, offset, bytes(data))
        except BaseException:
            chan.close()  # procd abandons a wait whose channel closes
            raise
        f.give_back(chan)
        return value

    def truncate(self, path: str, length: int, fh: Any = None) -> int:
        # `printf ... > ctl` opens with O_TRUNC: there is nothing to truncate in a /proc file.
        return 0

    def release(self, path: str, fi: Any) -> int:
        with self._mutex:
            f = self.files.pop(fi.fh, None)
        if f is not None:
            f.close()
        return 0

    def flush(self, path: str, fi: Any) -> int:
        return 0

    def close_all(self) -> None:
        """Close every file still open (the mount is going away): procd's last closes run."""
        with self._mutex:
            files, self.files = list(self.files.values()), {}
        for f in files:
            try:
                f.close()
            except OSError:
                pass


def serve(mountpoint: str, foreground: bool = True) -> int:
    """Mount at `mountpoint` and serve until unmounted or signalled; then release everything."""
    fuse = _fuse()
    client.ensure_procd()
    ops = ProcFS()
    try:
        fuse.FUSE(ops, mountpoint, raw_fi=True, foreground=foreground, nothreads=False,
                  fsname=f"native-proc:{os.getpid()}", subtype="native-proc", attr_timeout=0, entry_timeout=0,
                  negative_timeout=0)
    except RuntimeError as e:
        # fuse_main returns 8 when its loop ended on SIGTERM/SIGINT/SIGHUP (libfuse's own
        # handlers, which also unmount): a clean stop.
        if str(e) != "8":
            sys.stderr.write(f"native-proc mount: {mountpoint}: libfuse failed ({e})\n")
            return 1
    finally:
        ops.close_all()
    return 0


def _server_of(mountpoint: str) -> int | None:
    """The pid serving `mountpoint`: the mount's source is "native-proc:<pid>" (mountinfo)."""
    want = os.path.realpath(mountpoint)
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                sep = fields.index("-")
                point = fields[4].encode().decode("unicode_escape")
                if point == want and fields[sep + 2].startswith("native-proc:"):
                    return int(fields[sep + 2].split(":", 1)[1])
    except (OSError, ValueError):
        pass
    return None


def unmount(mountpoint: str, timeout: float = 30.0) -> int:
    """Stop the mount serving `mountpoint` (SIGTERM: it unmounts, closes every file it held, so
    procd runs their last closes, and exits), even while programs still hold its files (they
    then get ENOTCONN); a mount of unknown origin gets fusermount3 -u."""
    pid = _server_of(mountpoint)
    if pid is None:
        res = subprocess.run(["fusermount3", "-u", mountpoint], capture_output=True, text=True)
        if res.returncode != 0:
            sys.stderr.write(f"native-proc umount: {res.stderr.strip() or 'fusermount3 failed'}\n")
            return 1
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    return 0  # exited (its parent has not reaped it yet)
        except (OSError, IndexError):
            return 0
        time.sleep(0.05)
    sys.stderr.write(f"native-proc umount: the mount (pid {pid}) did not stop within {timeout:.0f} s\n")
    return 1


def fuse_unavailable() -> str | None:
    """Why a mount cannot work on this machine, or None."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing"
    try:
        _fuse()
    except (ImportError, OSError, EnvironmentError) as e:
        return f"libfuse cannot be loaded: {e}"
    if subprocess.run(["sh", "-c", "command -v fusermount3"], capture_output=True).returncode != 0:
        return "fusermount3 is not installed (Debian's fuse3)"
    return None


def main(cmd: str, mountpoint: str, foreground: bool, out: TextIO) -> int:
    if cmd == "umount":
        return unmount(mountpoint)
    why = fuse_unavailable()
    if why:
        sys.stderr.write(f"native-proc mount: {why}\n")
        return 1
    if foreground:
        return serve(mountpoint, True)
    # In the background: a child serves (its pid names the mount); we return once it is mounted.
    kid = os.fork()
    if kid == 0:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os._exit(serve(mountpoint, True))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _server_of(mountpoint) == kid:
            out.write(f"native-proc mount: serving {mountpoint} (pid {kid}); `native-proc umount {mountpoint}` "
                      "ends it\n")
            return 0
        done, status = os.waitpid(kid, os.WNOHANG)
        if done:
            sys.stderr.write(f"native-proc mount: {mountpoint}: the mount failed (exit {status >> 8})\n")
            return 1
        time.sleep(0.05)
    sys.stderr.write(f"native-proc mount: {mountpoint} not mounted within 30 s\n")
    return 1
