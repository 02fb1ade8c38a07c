"""Argument decoders: one function per argument kind, as strace 6.1 prints each.

A decoder gets a `Call` (the tracee's memory reader, the call's raw arguments and, at exit, its
return value) and the index of its argument, and returns the text, or None to leave the argument
out.  `EXIT_KINDS` are the kinds whose text is only known once the call returned (output buffers
and structs the kernel fills): strace prints a call's line up to the first of them at entry and
the rest at exit, which is where `<unfinished ...>` splits a line.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import Callable, Protocol

from .names import flags, signame
from .quoting import quote
from .wait_status import format_status
from . import tables as T

__all__ = ["Memory", "Call", "DECODERS", "EXIT_KINDS", "format_arg", "format_ret"]


class Memory(Protocol):
    """What a decoder may read of the tracee (None where it is not mapped)."""

    def read(self, addr: int, n: int) -> bytes | None: ...

    def read_str(self, addr: int, limit: int) -> tuple[bytes, bool] | None: ...

    def fd_path(self, fd: int) -> str | None: ...


@dataclass
class Call:
    """One system call being printed."""

    name: str
    args: tuple[int, ...]
    kinds: tuple[str, ...]
    mem: Memory
    lp64: bool = True
    strsize: int = 32
    xflag: int = 0
    verbose: bool = False
    decode_fds: bool = False
    ret: int | None = None  # set at exit; None: not returned (yet)
    saved: dict[str, object] = field(default_factory=dict)

    @property
    def word(self) -> int:
        return 8 if self.lp64 else 4

    @property
    def failed(self) -> bool:
        return self.ret is None or -4096 < self.ret < 0


_PATH_MAX = 4096


def s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def s64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


def ptr(v: int) -> str:
    return "NULL" if v == 0 else hex(v)


def _hex(v: int) -> str:
    return "0" if v == 0 else hex(v)


# -- scalars -----------------------------------------------------------------------------------

def _fd(c: Call, v: int) -> str:
    fd = s32(v)
    if c.decode_fds and fd >= 0:
        path = c.mem.fd_path(fd)
        if path is not None:
            return _decorated(str(fd), path)
    return str(fd)


def _decorated(text: str, path: str) -> str:
    # strace keeps a deleted file's " (deleted)" outside the brackets
    if path.endswith(" (deleted)"):
        return f"{text}<{path[:-10]}>(deleted)"
    return f"{text}<{path}>"


def _dirfd(c: Call, v: int) -> str:
    if s32(v) != -100:
        return _fd(c, v)
    if c.decode_fds:
        cwd = c.mem.fd_path(-100)
        if cwd is not None:
            return _decorated("AT_FDCWD", cwd)
    return "AT_FDCWD"


def _long(c: Call, v: int) -> int:
    return s64(v) if c.lp64 else s32(v)


def _ulong(c: Call, v: int) -> int:
    return v & ((1 << 64) - 1 if c.lp64 else 0xFFFFFFFF)


def _string(c: Call, addr: int, limit: int) -> str:
    if addr == 0:
        return "NULL"
    s = c.mem.read_str(addr, limit)
    return hex(addr) if s is None else quote(s[0], s[1], c.xflag)


def _buffer(c: Call, addr: int, length: int, xflag: int | None = None) -> str:
    if addr == 0:
        return "NULL"
    n = min(max(length, 0), c.strsize)
    data = c.mem.read(addr, n)
    return hex(addr) if data is None else quote(data, length > n, c.xflag if xflag is None else xflag)


def _words(c: Call, addr: int, limit: int) -> list[int] | None:
    """A NULL-terminated array of pointers (at most `limit`)."""
    out: list[int] = []
    w = c.word
    while len(out) < limit:
        b = c.mem.read(addr + w * len(out), w)
        if b is None or len(b) < w:
            return None if not out else out
        p = int.from_bytes(b, "little")
        if p == 0:
            break
        out.append(p)
    return out


def _argv(c: Call, addr: int) -> str:
    """A string array: at most -s elements, unless -v (strace's abbreviation)."""
    if addr == 0:
        return "NULL"
    most = 1 << 16 if c.verbose else c.strsize
    ptrs = _words(c, addr, most + 1)
    if ptrs is None:
        return hex(addr)
    items = [_string(c, p, c.strsize) for p in ptrs[:most]]
    text = "[" + ", ".join(items)
    return text + (", ...]" if len(ptrs) > most else "]")


def _envp(c: Call, addr: int) -> str:
    if c.verbose:
        return _argv(c, addr)
    if addr == 0:
        return "NULL"
    ptrs = _words(c, addr, 1 << 16)
    if ptrs is None:
        return hex(addr)
    return f"{hex(addr)} /* {len(ptrs)} var{'' if len(ptrs) == 1 else 's'} */"


def _mode(v: int) -> str:
    v &= 0o7777
    return f"0{v:o}" if v else "000"


def _file_mode(v: int) -> str:
    """st_mode as strace prints it: S_IFDIR|S_ISVTX|0777 (type, the set-id and sticky bits by
    name, then the permissions in octal)."""
    fmt = T.S_IFMT_NAMES.get(v & 0o170000)
    names = [fmt] if fmt else ([f"{v & 0o170000:#o}"] if v & 0o170000 else [])
    names += [n for bit, n in ((0o4000, "S_ISUID"), (0o2000, "S_ISGID"), (0o1000, "S_ISVTX")) if v & bit]
    perm = v & 0o777
    return "|".join(names + [f"0{perm:o}".rjust(3, "0") if perm else "000"])


def _oflags(v: int) -> str:
    v &= 0xFFFFFFFF
    acc = ("O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE")[v & 3]
    rest = v & ~3
    if not rest:
        return acc
    return acc + "|" + flags(rest, T.OFLAGS)


def _has_mode(flags_: int) -> bool:
    # open(2) reads the mode only with O_CREAT or O_TMPFILE (O_TMPFILE includes O_DIRECTORY, so
    # O_DIRECTORY alone must not count).
    return bool(flags_ & 0o100) or flags_ & T.O_TMPFILE == T.O_TMPFILE


def _sigset(c: Call, addr: int, size: int) -> str:
    if addr == 0:
        return "NULL"
    size = min(max(size, 0), 128)
    data = c.mem.read(addr, size) if size else b""
    if data is None or len(data) < size:
        return hex(addr)
    return sigset_text(int.from_bytes(data, "little"), size * 8)


def sigset_text(bits: int, nbits: int) -> str:
    """[INT TERM] or ~[KILL STOP] (the complement when more than half are set), as strace."""
    n = min(nbits, 64)
    members = [s for s in range(1, n + 1) if bits >> (s - 1) & 1]
    if len(members) * 2 > n:
        missing = [s for s in range(1, n + 1) if not bits >> (s - 1) & 1]
        return "~[" + " ".join(signame(s)[3:] for s in missing) + "]"
    return "[" + " ".join(signame(s)[3:] for s in members) + "]"


def _timespec(c: Call, addr: int) -> str:
    if addr == 0:
        return "NULL"
    fmt = "<qq" if c.lp64 else "<ii"
    data = c.mem.read(addr, struct.calcsize(fmt))
    if data is None or len(data) < struct.calcsize(fmt):
        return hex(addr)
    sec, nsec = struct.unpack(fmt, data)
    return f"{{tv_sec={sec}, tv_nsec={nsec}}}"


def _rlim_value(v: int, infinity: int) -> str:
    if v == infinity:
        return "RLIM64_INFINITY" if infinity == (1 << 64) - 1 else "RLIM_INFINITY"
    if v and v % 1024 == 0:
        return f"{v // 1024}*1024"
    return str(v)


def _rlimit(c: Call, addr: int, wide: bool) -> str:
    if addr == 0:
        return "NULL"
    fmt = "<QQ" if wide or c.lp64 else "<II"
    data = c.mem.read(addr, struct.calcsize(fmt))
    if data is None or len(data) < struct.calcsize(fmt):
        return hex(addr)
    cur, mx = struct.unpack(fmt, data)
    inf = (1 << 64) - 1 if fmt == "<QQ" else 0xFFFFFFFF
    if wide:
        return f"{{rlim_cur={_rlim_value(cur, inf)}, rlim_max={_rlim_value(mx, inf)}}}"
    return (f"{{rlim_cur={_rlim_value(cur, inf).replace('RLIM64', 'RLIM')}, "
            f"rlim_max={_rlim_value(mx, inf).replace('RLIM64', 'RLIM')}}}")


def _stat(c: Call, addr: int) -> str:
    """struct stat (amd64 layout) abbreviated as strace prints it without -v."""
    if not c.lp64:
        return ptr(addr)  # i386's stat64 layout is not decoded (printed as its address)
    data = c.mem.read(addr, 144)
    if data is None or len(data) < 144:
        return hex(addr)
    (dev, ino, nlink, mode, uid, gid, _pad, rdev, size, blksize, blocks, atime, atime_ns, mtime,
     mtime_ns, ctime, ctime_ns) = struct.unpack_from("<QQQIIIIQqqqqqqqqq", data)
    fmt = mode & 0o170000
    if not c.verbose:
        parts = [f"st_mode={_file_mode(mode)}"]
        # (abbreviated: strace shows the type and size, or a device's number)
        if fmt in (0o020000, 0o060000):  # character and block devices: their device number
            parts.append(f"st_rdev={_makedev(rdev)}")
        else:
            parts.append(f"st_size={size}")
        return "{" + ", ".join(parts) + ", ...}"
    parts = [f"st_dev={_makedev(dev)}", f"st_ino={ino}", f"st_mode={_file_mode(mode)}",
             f"st_nlink={nlink}", f"st_uid={uid}", f"st_gid={gid}", f"st_blksize={blksize}",
             f"st_blocks={blocks}"]
    parts.append(f"st_rdev={_makedev(rdev)}" if fmt in (0o020000, 0o060000) else f"st_size={size}")
    for n, (sec, ns) in (("st_atime", (atime, atime_ns)), ("st_mtime", (mtime, mtime_ns)),
                         ("st_ctime", (ctime, ctime_ns))):
        parts.append(f"{n}={sec} /* {_utc(sec, ns)} */")
        parts.append(f"{n}_nsec={ns}")
    return "{" + ", ".join(parts) + "}"


def _utc(sec: int, ns: int) -> str:
    import time

    try:
        t = time.localtime(sec)
    except (OverflowError, OSError, ValueError):
        return "?"
    off = t.tm_gmtoff
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    frac = f".{ns:09d}" if ns else ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f"{frac}{sign}{off // 3600:02d}{off % 3600 // 60:02d}"


def _makedev(dev: int) -> str:
    major = ((dev >> 32) & 0xFFFFF000) | ((dev >> 8) & 0xFFF)
    minor = ((dev >> 12) & 0xFFFFFF00) | (dev & 0xFF)
    return f"makedev({_hex(major)}, {_hex(minor)})"


def _sigaction(c: Call, addr: int) -> str:
    if addr == 0:
        return "NULL"
    if not c.lp64:
        return hex(addr)
    data = c.mem.read(addr, 32)
    if data is None or len(data) < 32:
        return hex(addr)
    handler, sa_flags, restorer, mask = struct.unpack("<QQQQ", data)
    h = {0: "SIG_DFL", 1: "SIG_IGN"}.get(handler, hex(handler))
    parts = [f"sa_handler={h}", f"sa_mask={sigset_text(mask, 64)}",
             f"sa_flags={flags(sa_flags, T.SA_FLAGS)}"]
    if sa_flags & 0x04000000:  # SA_RESTORER
        parts.append(f"sa_restorer={ptr(restorer)}")
    return "{" + ", ".join(parts) + "}"


def _sockaddr(c: Call, addr: int, length: int) -> str:
    if addr == 0:
        return "NULL"
    length = min(max(length, 0), 128)
    data = c.mem.read(addr, length)
    if data is None or len(data) < 2:
        return hex(addr)
    fam = struct.unpack_from("<H", data)[0]
    fname = T.AF.get(fam, str(fam))
    body = data[2:]
    if fam == 1:  # AF_UNIX
        path = body.split(b"\0", 1)[0] if body[:1] != b"\0" else body
        if body[:1] == b"\0":
            return f"{{sa_family={fname}, sun_path=@{quote(body[1:], False, c.xflag)}}}"
        return f"{{sa_family={fname}, sun_path={quote(path, False, c.xflag)}}}"
    if fam == 2 and len(data) >= 8:
        port = struct.unpack_from(">H", data, 2)[0]
        ip = ".".join(str(b) for b in data[4:8])
        return f"{{sa_family={fname}, sin_port=htons({port}), sin_addr=inet_addr(\"{ip}\")}}"
    if fam == 10 and len(data) >= 28:
        import ipaddress

        port, flow = struct.unpack_from(">HI", data, 2)
        ip = ipaddress.IPv6Address(bytes(data[8:24]))
        scope = struct.unpack_from("<I", data, 24)[0]
        return (f"{{sa_family={fname}, sin6_port=htons({port}), sin6_flowinfo=htonl({flow}), "
                f"inet_pton({fname}, \"{ip}\", &sin6_addr), sin6_scope_id={scope}}}")
    if fam == 16 and len(data) >= 12:  # AF_NETLINK
        pid, groups = struct.unpack_from("<II", data, 4)
        return f"{{sa_family={fname}, nl_pid={pid}, nl_groups={groups:#010x}}}"
    return f"{{sa_family={fname}, sa_data={quote(bytes(body), False, c.xflag)}}}"


def _pipefds(c: Call, addr: int) -> str:
    data = c.mem.read(addr, 8)
    if c.failed or data is None or len(data) < 8:
        return ptr(addr)
    a, b = struct.unpack("<ii", data)
    return f"[{_fd(c, a)}, {_fd(c, b)}]"


def _dents(c: Call, addr: int) -> str:
    if c.failed or not c.ret:
        return f"{hex(addr)} /* 0 entries */" if c.ret == 0 else ptr(addr)
    data = c.mem.read(addr, c.ret)
    if data is None:
        return hex(addr)
    n, off = 0, 0
    while off + 18 < len(data) and n < 1 << 16:
        reclen = struct.unpack_from("<H", data, off + 16)[0]
        if reclen == 0:
            break
        n, off = n + 1, off + reclen
    return f"{hex(addr)} /* {n} entries */"


def _utsname(c: Call, addr: int) -> str:
    if c.failed:
        return ptr(addr)
    data = c.mem.read(addr, 65 * 6)
    if data is None or len(data) < 65 * 6:
        return hex(addr)
    f = [data[i * 65:(i + 1) * 65].split(b"\0", 1)[0] for i in range(6)]
    names = ("sysname", "nodename", "release", "version", "machine", "domainname")
    if not c.verbose:
        return f"{{sysname={quote(f[0])}, nodename={quote(f[1])}, ...}}"
    return "{" + ", ".join(f"{n}={quote(v)}" for n, v in zip(names, f)) + "}"


def _wstatus(c: Call, addr: int) -> str:
    if addr == 0:
        return "NULL"
    if c.failed or c.ret == 0:
        return hex(addr)
    data = c.mem.read(addr, 4)
    if data is None or len(data) < 4:
        return hex(addr)
    return "[" + format_status(struct.unpack("<i", data)[0]) + "]"


def _clone_flags(v: int) -> str:
    sig = v & 0xFF
    rest = v & ~0xFF
    text = flags(rest, T.CLONE_FLAGS) if rest else ""
    if sig:
        text = f"{text}|{signame(sig)}" if text else signame(sig)
    return text or "0"


def _futex(c: Call, i: int) -> list[str]:
    """futex's arguments: the operation decides how many and of which kinds."""
    a = c.args
    op = a[1] & 0xFFFFFFFF
    cmd = op & 0x7F
    name = T.FUTEX_OPS.get(cmd, str(cmd))
    if op & 128:
        name += "_PRIVATE"
    if op & 256:
        name += "|FUTEX_CLOCK_REALTIME"
    out = [ptr(a[0]), name]
    val = s32(a[2])
    if cmd in (0, 11):  # WAIT, WAIT_REQUEUE_PI
        out += [str(val), _timespec(c, a[3])]
        if cmd == 11:
            out.append(ptr(a[4]))
    elif cmd == 9:  # WAIT_BITSET
        out += [str(val), _timespec(c, a[3]), _bitset(a[5])]
    elif cmd == 10:  # WAKE_BITSET
        out += [str(val), _bitset(a[5])]
    elif cmd in (1, 7, 8):  # WAKE, UNLOCK_PI, TRYLOCK_PI
        if cmd == 1:
            out.append(str(val))
    elif cmd in (3,):  # REQUEUE
        out += [str(val), str(s32(a[3])), ptr(a[4])]
    elif cmd in (4, 12):  # CMP_REQUEUE(_PI)
        out += [str(val), str(s32(a[3])), ptr(a[4]), str(s32(a[5]))]
    elif cmd in (6, 13):  # LOCK_PI(2)
        out.append(_timespec(c, a[3]))
    else:
        out += [str(val), hex(a[3]) if a[3] else "0", ptr(a[4]), _hex(a[5])]
    return out


def _bitset(v: int) -> str:
    return "FUTEX_BITSET_MATCH_ANY" if v & 0xFFFFFFFF == 0xFFFFFFFF else hex(v & 0xFFFFFFFF)


def _fcntl(c: Call) -> list[str]:
    cmd = s32(c.args[1])
    out = [_fd(c, c.args[0]), T.FCNTL.get(cmd, str(cmd))]
    arg = c.args[2]
    if cmd in (0, 1030):  # F_DUPFD(_CLOEXEC)
        out.append(str(s32(arg)))
    elif cmd == 2:  # F_SETFD
        out.append(flags(arg & 0xFFFFFFFF, ((1, "FD_CLOEXEC"),)))
    elif cmd == 4:  # F_SETFL
        out.append(_oflags(arg))
    elif cmd in (1, 3, 9, 1025, 1032, 1034):  # GETFD, GETFL, GETOWN, GETLEASE, GETPIPE_SZ, GET_SEALS
        pass
    elif cmd in (8, 1024, 1031, 1033):  # SETOWN, SETLEASE, SETPIPE_SZ, ADD_SEALS
        out.append(str(s32(arg)))
    else:
        out.append(ptr(arg))
    return out


# -- the decoder table ---------------------------------------------------------------------------
#
# Each entry: kind -> f(call, index) -> str | None.

Decoder = Callable[[Call, int], "str | None"]


def _simple(f: Callable[[Call, int], str]) -> Decoder:
    return lambda c, i: f(c, c.args[i])


def _prev_len(c: Call, i: int) -> int:
    return s64(c.args[i + 1]) if i + 1 < len(c.args) else 0


DECODERS: dict[str, Decoder] = {
    "d": _simple(lambda c, v: str(s32(v))),
    "u32": _simple(lambda c, v: str(v & 0xFFFFFFFF)),
    "ld": _simple(lambda c, v: str(_long(c, v))),
    "u": _simple(lambda c, v: str(_ulong(c, v))),
    "x": _simple(lambda c, v: _hex(_ulong(c, v))),
    "p": _simple(lambda c, v: ptr(_ulong(c, v))),
    "fd": _simple(_fd),
    "dirfd": _simple(_dirfd),
    "path": _simple(lambda c, v: _string(c, v, _PATH_MAX)),
    "str": _simple(lambda c, v: _string(c, v, c.strsize)),
    "ibuf": lambda c, i: _buffer(c, c.args[i], _prev_len(c, i)),
    "obuf": lambda c, i: ptr(c.args[i]) if c.failed else _buffer(c, c.args[i], c.ret or 0),
    "obuf_hex": lambda c, i: ptr(c.args[i]) if c.failed else _buffer(c, c.args[i], c.ret or 0, xflag=2),
    "ostr": lambda c, i: ptr(c.args[i]) if c.failed else _string(c, c.args[i], _PATH_MAX),
    "argv": _simple(_argv),
    "envp": _simple(_envp),
    "mode": _simple(lambda c, v: _mode(v)),
    "mode?": lambda c, i: _mode(c.args[i]) if _has_mode(c.args[i - 1]) else None,
    "oflags": _simple(lambda c, v: _oflags(v)),
    "signo": _simple(lambda c, v: signame(v) if 0 < v < 65 else str(s32(v))),
    "sigset": lambda c, i: _sigset(c, c.args[i], c.args[3] if c.name == "rt_sigprocmask" else 8),
    "osigset": lambda c, i: ptr(c.args[i]) if c.failed else _sigset(c, c.args[i], c.args[3]),
    "sigaction": _simple(_sigaction),
    "osigaction": lambda c, i: ptr(c.args[i]) if c.failed else _sigaction(c, c.args[i]),
    "timespec": _simple(_timespec),
    "otimespec": lambda c, i: ptr(c.args[i]) if c.failed else _timespec(c, c.args[i]),
    "rlimit_res": _simple(lambda c, v: T.ENUMS["rlimit"].get(v & 0xFFFFFFFF, str(s32(v)))),
    "rlimit64": _simple(lambda c, v: _rlimit(c, v, True)),
    "orlimit64": lambda c, i: ptr(c.args[i]) if c.failed else _rlimit(c, c.args[i], True),
    "orlimit": lambda c, i: ptr(c.args[i]) if c.failed else _rlimit(c, c.args[i], False),
    "ostat": lambda c, i: ptr(c.args[i]) if c.failed else _stat(c, c.args[i]),
    "sockaddr": lambda c, i: _sockaddr(c, c.args[i], _prev_len(c, i)),
    "opipe": lambda c, i: _pipefds(c, c.args[i]),
    "dents": lambda c, i: _dents(c, c.args[i]),
    "outsname": lambda c, i: _utsname(c, c.args[i]),
    "owstatus": lambda c, i: _wstatus(c, c.args[i]),
    "clone_flags": _simple(lambda c, v: _clone_flags(v)),
    "sockfamily": _simple(lambda c, v: T.AF.get(v & 0xFFFFFFFF, str(s32(v)))),
    "socktype": _simple(lambda c, v: _socktype(v)),
    "sockproto": lambda c, i: _sockproto(c.args[0], c.args[i]),
    "ioctl": _simple(lambda c, v: T.IOCTLS.get(v & 0xFFFFFFFF, _hex(v & 0xFFFFFFFF))),
    "umode": _simple(lambda c, v: f"0{v & 0o777:o}".rjust(3, "0")),
    "fdflags": _simple(lambda c, v: flags(v & 0xFFFFFFFF, T.FD_FLAGS)),
    "mremap_new": lambda c, i: ptr(c.args[i]) if c.args[3] & 2 else None,
    "pgoff": _simple(lambda c, v: _hex(v * 4096)),
    "siginfo": _simple(lambda c, v: _siginfo_at(c, v)),
    "statx_flags": _simple(lambda c, v: _statx_flags(v)),
    "statx_mask": _simple(lambda c, v: flags(v & 0xFFFFFFFF, T.STATX_MASK)),
    "ostatx": lambda c, i: ptr(c.args[i]) if c.failed else _statx(c, c.args[i]),
    "user_desc": _simple(lambda c, v: _user_desc(c, v)),
    "osysinfo": lambda c, i: ptr(c.args[i]) if c.failed else _sysinfo(c, c.args[i]),
}


def _socktype(v: int) -> str:
    t = v & 0xF
    name = T.SOCK_TYPES.get(t, str(t))
    rest = v & ~0xF & 0xFFFFFFFF
    extra = flags(rest, ((0o2000000, "SOCK_CLOEXEC"), (0o4000, "SOCK_NONBLOCK")))
    return name if not rest else f"{name}|{extra}"


def _sockproto(family: int, v: int) -> str:
    v &= 0xFFFFFFFF
    if family in (2, 10):
        return T.IPPROTO.get(v, str(v))
    if family == 16:
        return T.NETLINK.get(v, str(v))
    return str(v)


for _kind, (_table, _zero) in T.FLAGS.items():
    DECODERS.setdefault(_kind, (lambda tb, z: lambda c, i: flags(c.args[i] & 0xFFFFFFFF, tb, z))(_table, _zero))
for _kind, _enum in T.ENUMS.items():
    DECODERS.setdefault(_kind, (lambda e: lambda c, i: e.get(c.args[i] & 0xFFFFFFFF, str(s32(c.args[i]))))(_enum))

def _siginfo_at(c: Call, addr: int) -> str:
    from .siginfo import format_siginfo

    if addr == 0:
        return "NULL"
    data = c.mem.read(addr, 128)
    if data is None or len(data) < 128:
        return hex(addr)
    return format_siginfo(data, c.lp64)


def _statx_flags(v: int) -> str:
    v &= 0xFFFFFFFF
    sync = {0: "AT_STATX_SYNC_AS_STAT", 0x2000: "AT_STATX_FORCE_SYNC", 0x4000: "AT_STATX_DONT_SYNC",
            0x6000: "AT_STATX_SYNC_TYPE"}[v & 0x6000]
    rest = v & ~0x6000
    return sync + ("|" + flags(rest, T.FLAGS["atflags"][0]) if rest else "")


def _statx(c: Call, addr: int) -> str:
    data = c.mem.read(addr, 256)
    if data is None or len(data) < 256:
        return hex(addr)
    mask, blksize, attrs, nlink, uid, gid, mode = struct.unpack_from("<IIQIIIH", data, 0)
    ino, size, blocks, amask = struct.unpack_from("<QQQQ", data, 32)
    parts = [f"stx_mask={flags(mask, T.STATX_MASK)}", f"stx_attributes={flags(attrs, T.STATX_ATTRS)}",
             f"stx_mode={_file_mode(mode)}"]
    if not c.verbose:
        rmaj, rmin = struct.unpack_from("<II", data, 128)
        if mode & 0o170000 in (0o020000, 0o060000):
            parts.append(f"stx_rdev_major={rmaj}, stx_rdev_minor={rmin}")
        else:
            parts.append(f"stx_size={size}")
        return "{" + ", ".join(parts) + ", ...}"
    return "{" + ", ".join(parts) + ", ...}"


def _sysinfo(c: Call, addr: int) -> str:
    if not c.lp64:
        return hex(addr)
    data = c.mem.read(addr, 112)
    if data is None or len(data) < 112:
        return hex(addr)
    uptime, l1, l2, l3, total, free, shared, buf, tswap, fswap = struct.unpack_from("<q3Q6Q", data, 0)
    procs = struct.unpack_from("<H", data, 80)[0]
    thigh, fhigh, unit = struct.unpack_from("<QQI", data, 88)
    return (f"{{uptime={uptime}, loads=[{l1}, {l2}, {l3}], totalram={total}, freeram={free}, "
            f"sharedram={shared}, bufferram={buf}, totalswap={tswap}, freeswap={fswap}, "
            f"procs={procs}, totalhigh={thigh}, freehigh={fhigh}, mem_unit={unit}}}")


def _user_desc(c: Call, addr: int) -> str:
    data = c.mem.read(addr, 16)
    if data is None or len(data) < 16:
        return ptr(addr)
    entry, base, limit, bits = struct.unpack("<iIII", data)
    names = ("seg_32bit", "contents", "read_exec_only", "limit_in_pages", "seg_not_present", "useable")
    vals = [bits & 1, (bits >> 1) & 3, (bits >> 3) & 1, (bits >> 4) & 1, (bits >> 5) & 1, (bits >> 6) & 1]
    body = ", ".join(f"{n}={v}" for n, v in zip(names, vals))
    c.saved["user_desc"] = addr
    return f"{{entry_number={entry}, base_addr={base:#010x}, limit={limit:#08x}, {body}}}"


def _clone(c: Call) -> list[str]:
    a = c.args
    fl = a[0]
    out = [f"child_stack={ptr(a[1])}", f"flags={_clone_flags(fl)}"]
    if fl & 0x100000:  # CLONE_PARENT_SETTID
        out.append(f"parent_tid={ptr(a[2])}")
    if fl & 0x80000:  # CLONE_SETTLS
        out.append(f"tls={ptr(a[4])}")
    if fl & (0x1000000 | 0x200000):  # CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID
        out.append(f"child_tidptr={ptr(a[3])}")
    return out


def _clone3(c: Call) -> list[str]:
    a = c.args
    data = c.mem.read(a[0], min(a[1], 88)) if a[0] else None
    if data is None or len(data) < 64:
        return [ptr(a[0]), str(a[1])]
    (fl, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls) = struct.unpack_from("<8Q", data)
    parts = [f"flags={flags(fl, T.CLONE_FLAGS) if fl else '0'}"]
    if fl & 0x1000:
        parts.append(f"pidfd={ptr(pidfd)}")
    if fl & (0x1000000 | 0x200000):
        parts.append(f"child_tid={ptr(child_tid)}")
    if fl & 0x100000:
        parts.append(f"parent_tid={ptr(parent_tid)}")
    parts.append(f"exit_signal={signame(exit_signal) if exit_signal else 0}")
    parts += [f"stack={ptr(stack)}", f"stack_size={_hex(stack_size)}"]
    if fl & 0x80000:
        parts.append(f"tls={ptr(tls)}")
    c.saved["clone3"] = (fl, parent_tid, pidfd)
    return ["{" + ", ".join(parts) + "}"]


def clone3_exit(c: Call) -> str:
    """What strace adds after clone3's struct at exit: ` => {parent_tid=[N]}`."""
    saved = c.saved.get("clone3")
    if not saved or c.failed:
        return ""
    fl, parent_tid, pidfd = saved
    parts = []
    if fl & 0x1000 and pidfd:
        d = c.mem.read(pidfd, 4)
        if d and len(d) == 4:
            parts.append(f"pidfd=[{struct.unpack('<i', d)[0]}]")
    if fl & 0x100000 and parent_tid:
        d = c.mem.read(parent_tid, 4)
        if d and len(d) == 4:
            parts.append(f"parent_tid=[{struct.unpack('<i', d)[0]}]")
    return " => {" + ", ".join(parts) + "}" if parts else ""


def rt_sigreturn_arg(c: Call, sp: int) -> str:
    """rt_sigreturn's `{mask=[...]}`: the mask saved in the signal frame the stack pointer is
    at (its return address popped).  amd64: the ucontext is there, its uc_sigmask after flags,
    link, stack_t (24) and sigcontext (256): 296.  i386: sig, pinfo, puc and the 128-byte
    siginfo come first (140), then the ucontext's flags, link, stack_t (12) and sigcontext (88)."""
    off = 296 if c.lp64 else 140 + 4 + 4 + 12 + 88
    data = c.mem.read(sp + off, 8)
    if data is None or len(data) < 8:
        return ""
    return "{mask=" + sigset_text(int.from_bytes(data, "little"), 64) + "}"


#: Calls whose whole argument list one function prints (the operation decides the arguments).
WHOLE: dict[str, Callable[[Call], list[str]]] = {
    "futex": lambda c: _futex(c, 0),
    "fcntl": _fcntl,
    "fcntl64": _fcntl,
    "clone": _clone,
    "clone3": _clone3,
}

#: Kinds known only at the call's exit (output arguments).  (i386's stat64 and friends share
#: amd64's kinds only where the layout is the same; the others print as pointers.)
EXIT_KINDS = frozenset(k for k in DECODERS if k.startswith("o") and k not in ("oflags",)) | {"dents"}


def format_arg(c: Call, i: int) -> str | None:
    return DECODERS[c.kinds[i]](c, i)


def format_ret(c: Call, ret: int) -> str:
    """The text after `= ` (errors: `-1 ENOENT (No such file or directory)`)."""
    from .names import errname

    kind = T.RETURNS.get(c.name, "d")
    if kind == "?":
        return "?"
    if -4096 < ret < 0:
        return errname(-ret)
    if kind == "p":
        return hex(_ulong(c, ret))
    if kind == "o":
        return f"0{ret:o}".rjust(3, "0")
    if kind == "fd" and c.decode_fds:
        return _fd(c, ret)
    if c.name == "set_thread_area" and ret == 0 and "user_desc" in c.saved:
        d = c.mem.read(int(c.saved["user_desc"]), 4)  # type: ignore[arg-type]
        if d and len(d) == 4:
            return f"0 (entry_number={struct.unpack('<i', d)[0]})"
    if c.name in ("fcntl", "fcntl64"):
        cmd = s32(c.args[1])
        if cmd in (0, 1030) and c.decode_fds:  # F_DUPFD(_CLOEXEC): a descriptor
            return _fd(c, ret)
        if cmd == 1 and ret:  # F_GETFD
            return f"{ret:#x} (flags {flags(ret, ((1, 'FD_CLOEXEC'),))})"
        if cmd == 3:  # F_GETFL
            return f"{ret:#x} (flags {_oflags(ret)})"
    return str(ret)
