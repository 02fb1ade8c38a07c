"""The smaller proc tools: pcred, psig, pwdx, pstop, prun, pwait, pargs, penv, pfiles, ptime
(illumos pcred(1), psig(1), pwdx(1), pstop(1), prun(1), pwait(1), pargs(1), pfiles(1), ptime(1))."""

from __future__ import annotations

import getopt
import os
import resource
import select
import shlex
import stat
import struct
import time
from typing import Callable, TextIO

from structs.codec import codec
from structs.ctl import encode_ctl
from structs.procfs import PRCRED, PRUSAGE, PSINFO, SIGACTION
from structs.procfs_consts import PC, PR_FLAGS

from .. import client
from .common import GrabError, each_lwp, grab, grab_error, members, parse_arg, psargs, read_file, set_words, \
    signame, lwp_in_set, lwps_of

__all__ = ["pcred", "psig", "pwdx", "pstop", "prun", "pwait", "pargs", "penv", "pfiles", "ptime"]

_CRED = codec(PRCRED["amd64"])
_SIGACT = codec(SIGACTION["amd64"])
_USAGE = codec(PRUSAGE["amd64"])
_PSI = codec(PSINFO["amd64"])


def _opts(argv: list[str], spec: str, err: TextIO, usage: str) -> tuple[set[str], list[str]] | None:
    try:
        opts, args = getopt.getopt(argv, spec)
    except getopt.GetoptError:
        err.write(usage)
        return None
    if not args:
        err.write(usage)
        return None
    return {o for o, _ in opts}, args


def _each(args: list[str], err: TextIO, tool: str, verb: str, fn: Callable[[str], None]) -> int:
    rc = 0
    for a in args:
        try:
            fn(a)
        except GrabError as e:
            err.write(f"{tool}: cannot {verb} {a}: {e}\n")
            rc += 1
    return min(rc, 255)


# -- pcred -------------------------------------------------------------------------------------


def pcred(argv: list[str], out: TextIO, err: TextIO) -> int:
    """pcred [-a] pid ...: effective, real and saved ids, and the supplementary groups."""
    got = _opts(argv, "a", err, "usage:\tpcred [-a] { pid | core } ...\n  (report or modify process credentials)\n")
    if got is None:
        return 2
    opts, args = got
    all_ = "-a" in opts

    def one(a: str) -> None:
        g = grab(a)
        try:
            raw = read_file(g.pid, "cred")
        except OSError as e:
            raise GrabError(grab_error(e, g.pid)) from None
        c = _CRED.decode(raw[:_CRED.size])
        groups = [c["pr_groups"][0]] + list(struct.unpack_from(f"<{max(c['pr_ngroups'] - 1, 0)}I", raw, _CRED.size))
        groups = groups[:c["pr_ngroups"]]
        line = f"{g.pid}:\t"
        if not all_ and c["pr_euid"] == c["pr_ruid"] == c["pr_suid"]:
            line += f"e/r/suid={c['pr_euid']}  "
        else:
            line += f"euid={c['pr_euid']} ruid={c['pr_ruid']} suid={c['pr_suid']}  "
        if not all_ and c["pr_egid"] == c["pr_rgid"] == c["pr_sgid"]:
            line += f"e/r/sgid={c['pr_egid']}"
        else:
            line += f"egid={c['pr_egid']} rgid={c['pr_rgid']} sgid={c['pr_sgid']}"
        out.write(line + "\n")
        if groups and (all_ or len(groups) != 1 or groups[0] != c["pr_rgid"]):
            out.write("\tgroups:" + "".join(f" {x}" for x in groups) + "\n")

    return _each(args, err, "pcred", "examine", one)


# -- psig --------------------------------------------------------------------------------------

# Solaris sa_flags (sys/signal.h).
_SA_ONSTACK, _SA_RESETHAND, _SA_RESTART, _SA_SIGINFO, _SA_NODEFER = 0x1, 0x2, 0x4, 0x8, 0x10
_SA_NOCLDWAIT, _SA_NOCLDSTOP = 0x10000, 0x20000
_SIGCLD = 18


def _sigflags(sig: int, flags: int) -> str:
    mask = _SA_ONSTACK | _SA_RESETHAND | _SA_RESTART | _SA_SIGINFO | _SA_NODEFER
    if sig == _SIGCLD:
        mask |= _SA_NOCLDSTOP | _SA_NOCLDWAIT
    s = f",0x{flags & ~mask:x}," if flags & ~mask else ""
    if not s and flags == 0:
        return ""
    for bit, name in ((_SA_RESTART, "RESTART"), (_SA_RESETHAND, "RESETHAND"), (_SA_ONSTACK, "ONSTACK"),
                      (_SA_SIGINFO, "SIGINFO"), (_SA_NODEFER, "NODEFER")):
        if flags & bit:
            s += "," + name
    if sig == _SIGCLD:
        if flags & _SA_NOCLDWAIT:
            s += ",NOCLDWAIT"
        if flags & _SA_NOCLDSTOP:
            s += ",NOCLDSTOP"
    return "\t" + s[1:] if s else ""


def psig(argv: list[str], out: TextIO, err: TextIO) -> int:
    """psig [-n] pid ...: each signal's disposition, flags and mask."""
    usage = "usage:\tpsig [-n] pid ...\n  (report process signal actions)\n"
    got = _opts(argv, "an", err, usage)
    if got is None:
        return 2
    opts, args = got
    all_flag = "-a" in opts

    def one(a: str) -> None:
        g = grab(a)
        try:
            raw = read_file(g.pid, "sigact")
        except OSError as e:
            raise GrabError(grab_error(e, g.pid)) from None
        hold = (1 << 128) - 1
        for _lwpid, ls in each_lwp(g):
            w = set_words(ls["pr_lwphold"], 4)
            hold &= sum(x << (32 * i) for i, x in enumerate(w))
        lines = [f"{g.pid}:\t{psargs(g)}"]
        for sig in range(1, len(raw) // _SIGACT.size + 1):
            sa = _SIGACT.decode(raw[(sig - 1) * _SIGACT.size:sig * _SIGACT.size])
            line = f"{signame(sig, False)}\t"
            if hold >> (sig - 1) & 1:
                line += "blocked,"
            h = sa["sa_handler"]
            caught = h not in (0, 1)
            line += "default" if h == 0 else "ignored" if h == 1 else "caught"
            if caught or all_flag:
                line += f"\t0x{h:<8x}"
                line += _sigflags(sig, sa["sa_flags"]) or "\t0"
                mask = members(set_words(sa["sa_mask"], 4))
                if mask:
                    line += "\t" + ",".join(signame(s, False) for s in mask)
            elif sig == _SIGCLD:
                f = _sigflags(sig, sa["sa_flags"] & (_SA_NOCLDWAIT | _SA_NOCLDSTOP))
                if f:
                    line += "\t\t" + f.lstrip("\t")
            lines.append(line)
        out.write("\n".join(lines) + "\n")

    return _each(args, err, "psig", "examine", one)


# -- pwdx --------------------------------------------------------------------------------------


def pwdx(argv: list[str], out: TextIO, err: TextIO) -> int:
    """pwdx pid ...: the current working directory of each process."""
    if not argv:
        err.write("usage:\tpwdx pid ...\n  (show process working directory)\n")
        return 2
    rc = 0
    for a in argv:
        try:
            pid, _ = parse_arg(a)
            read_file(pid, "psinfo")
        except GrabError as e:
            err.write(f"pwdx: cannot examine {a}: {e}\n")
            rc += 1
            continue
        except OSError as e:
            err.write(f"pwdx: cannot examine {a}: {grab_error(e, pid)}\n")
            rc += 1
            continue
        try:
            cwd = read_file(pid, "path/cwd").decode(errors="replace")
        except OSError as e:
            err.write(f"pwdx: cannot resolve cwd for {a}: {os.strerror(e.errno or 0)}\n")
            rc += 1
            continue
        out.write(f"{pid}:\t{cwd}\n")
    return rc


# -- pstop / prun ------------------------------------------------------------------------------


def _control(a: str, lwp_msg: Callable[[dict], list], proc_msgs: list, tool: str, err: TextIO) -> None:
    pid, lwps = parse_arg(a)
    if pid == os.getpid():
        raise GrabError("attempt to grab self")
    try:
        ctl = client.open(f"{pid}/ctl", os.O_WRONLY)
    except OSError as e:
        raise GrabError(grab_error(e, pid)) from None
    try:
        if lwps is None:
            ctl.write(encode_ctl("amd64", proc_msgs))
        else:
            n = 0
            for lwpid in lwps_of(pid):
                if not lwp_in_set(lwps, lwpid):
                    continue
                try:
                    with client.open(f"{pid}/lwp/{lwpid}/lwpstatus") as f:
                        from .common import _LST
                        ls = _LST.decode(f.read())
                    msgs = lwp_msg(ls)
                    if msgs:
                        with client.open(f"{pid}/lwp/{lwpid}/lwpctl", os.O_WRONLY) as lc:
                            lc.write(encode_ctl("amd64", msgs))
                    n += 1
                except FileNotFoundError:
                    continue  # exited meanwhile: not an error unless nothing matched
            if n == 0:
                raise GrabError("no matching LWPs found")
        # What the tool did stays after it closes (as Punsetflags(PR_RLC) before Pfree).
        ctl.write(encode_ctl("amd64", [(PC.PCUNSET, int(PR_FLAGS.PR_RLC))]))
    except OSError as e:
        raise GrabError(grab_error(e, pid)) from None
    finally:
        ctl.close()


def pstop(argv: list[str], out: TextIO, err: TextIO) -> int:
    """pstop pid[/lwps] ...: stop each process or LWP with a /proc request (PCDSTOP)."""
    if not argv:
        err.write("usage:\tpstop pid[/lwps] ...\n  (stop processes or lwps with /proc request)\n")
        return 2
    return _each(argv, err, "pstop", "control",
                 lambda a: _control(a, lambda ls: [(PC.PCDSTOP, None)], [(PC.PCDSTOP, None)], "pstop", err))


def _run_msgs(ls: dict) -> list:
    return [(PC.PCRUN, 0)] if ls["pr_flags"] & PR_FLAGS.PR_STOPPED else []


def prun(argv: list[str], out: TextIO, err: TextIO) -> int:
    """prun pid[/lwps] ...: set running each process or LWP stopped by /proc (pstop's undo)."""
    if not argv:
        err.write("usage:\tprun pid[/lwps] ...\n  (set stopped processes or lwps running)\n")
        return 2

    def one(a: str) -> None:
        pid, lwps = parse_arg(a)
        spec = a if lwps is not None else f"{pid}/1-"
        _control(spec, _run_msgs, [], "prun", err)

    return _each(argv, err, "prun", "control", one)


# -- pwait -------------------------------------------------------------------------------------


def pwait(argv: list[str], out: TextIO, err: TextIO) -> int:
    """pwait [-v] pid ...: wait until each process terminates; -v reports each termination."""
    got = _opts(argv, "v", err, "usage:\tpwait [-v] pid ...\n  (wait for processes to terminate)\n  "
                "-v: verbose; report terminations to standard output\n")
    if got is None:
        return 2
    opts, args = got
    verbose = "-v" in opts
    fds: dict[int, int] = {}
    rc = 0
    for a in args:
        try:
            pid, _ = parse_arg(a)
            read_file(pid, "psinfo")
            fds[os.pidfd_open(pid)] = pid
        except GrabError as e:
            err.write(f"pwait: cannot examine {a}: {e}\n")
            rc += 1
        except OSError as e:
            err.write(f"pwait: cannot examine {a}: {grab_error(e, pid)}\n")
            rc += 1
    while fds:
        ready, _, _ = select.select(list(fds), [], [])
        for fd in ready:
            pid = fds.pop(fd)
            if verbose:
                try:
                    wstat = _PSI.decode(read_file(pid, "psinfo"))["pr_wstat"]
                    out.write(f"{pid}: terminated, wait status 0x{wstat & 0xFFFF:04x}\n")
                except OSError:
                    out.write(f"{pid}: terminated\n")
                out.flush()
            os.close(fd)
    return rc


# -- pargs / penv ------------------------------------------------------------------------------


def _vector(pid: int, addr: int, count: int | None, word: int) -> list[str]:
    """NUL-terminated strings at the pointers of the vector at `addr` (count, or until NULL)."""
    out = []
    with client.open(f"{pid}/as") as mem:
        i = 0
        while (count is None or i < count) and i < 4096:
            raw = mem.pread(word, addr + i * word)
            if len(raw) < word:
                break
            ptr = int.from_bytes(raw, "little")
            if ptr == 0:
                break
            s = b""
            while len(s) < 1 << 20:
                chunk = mem.pread(256, ptr + len(s))
                if not chunk:
                    break
                nul = chunk.find(b"\0")
                if nul >= 0:
                    s += chunk[:nul]
                    break
                s += chunk
            out.append(s.decode(errors="backslashreplace"))
            i += 1
    return out


def _pargs(argv: list[str], out: TextIO, err: TextIO, default_env: bool) -> int:
    name = "penv" if default_env else "pargs"
    got = _opts(argv, "aelx", err, f"usage:\t{name} [-aelx] pid ...\n  (show process arguments and environment)\n")
    if got is None:
        return 2
    opts, args = got
    show_args = "-a" in opts or not ("-e" in opts or default_env)
    show_env = "-e" in opts or "-a" in opts or default_env

    def one(a: str) -> None:
        g = grab(a)
        word = 8 if g.is64 else 4
        ps = g.psinfo
        try:
            argv_ = _vector(g.pid, ps["pr_argv"], ps["pr_argc"], word) if ps["pr_argv"] else []
            envp = _vector(g.pid, ps["pr_envp"], None, word) if show_env and ps["pr_envp"] else []
        except OSError as e:
            raise GrabError(grab_error(e, g.pid)) from None
        if "-l" in opts:
            out.write(" ".join(shlex.quote(x) for x in argv_) + "\n")
            return
        lines = [f"{g.pid}:\t{psargs(g)}"]
        if show_args:
            lines += [f"argv[{i}]: {s}" for i, s in enumerate(argv_)]
        if show_env:
            if show_args:
                lines.append("")
            lines += [f"envp[{i}]: {s}" for i, s in enumerate(envp)]
        out.write("\n".join(lines) + "\n")

    return _each(args, err, name, "examine", one)


def pargs(argv: list[str], out: TextIO, err: TextIO) -> int:
    """pargs [-ael] pid ...: the arguments (-e: the environment, -a: both, -l: one command line)."""
    return _pargs(argv, out, err, False)


def penv(argv: list[str], out: TextIO, err: TextIO) -> int:
    """penv pid ...: the environment (pargs -e)."""
    return _pargs(argv, out, err, True)


# -- pfiles ------------------------------------------------------------------------------------

_FTYPES = ((stat.S_ISCHR, "S_IFCHR"), (stat.S_ISBLK, "S_IFBLK"), (stat.S_ISDIR, "S_IFDIR"),
           (stat.S_ISREG, "S_IFREG"), (stat.S_ISFIFO, "S_IFIFO"), (stat.S_ISSOCK, "S_IFSOCK"),
           (stat.S_ISLNK, "S_IFLNK"))


def pfiles(argv: list[str], out: TextIO, err: TextIO) -> int:
    """pfiles pid ...: each open descriptor's type, mode, device, inode, owner and path."""
    got = _opts(argv, "n", err, "usage:\tpfiles [-n] pid ...\n  (report open files of each process)\n")
    if got is None:
        return 2
    _, args = got

    def one(a: str) -> None:
        g = grab(a)
        lines = [f"{g.pid}:\t{psargs(g)}"]
        try:
            soft, _hard = resource.prlimit(g.pid, resource.RLIMIT_NOFILE)
            lines.append(f"  Current rlimit: {soft} file descriptors")
        except OSError:
            pass
        for name in sorted(client.listdir(f"{g.pid}/fd"), key=int):
            try:
                target = read_file(g.pid, f"fd/{name}").decode()
                path = read_file(g.pid, f"path/{name}").decode(errors="replace")
                st = os.stat(target)
            except OSError:
                continue  # closed meanwhile
            kind = next((n for f, n in _FTYPES if f(st.st_mode)), f"0x{stat.S_IFMT(st.st_mode):x}")
            line = (f"{int(name):4d}: {kind} mode:0{stat.S_IMODE(st.st_mode):03o} dev:{os.major(st.st_dev)},"
                    f"{os.minor(st.st_dev)} ino:{st.st_ino} uid:{st.st_uid} gid:{st.st_gid}")
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                line += f" rdev:{os.major(st.st_rdev)},{os.minor(st.st_rdev)}"
            else:
                line += f" size:{st.st_size}"
            lines.append(line)
            if path.startswith("/"):
                lines.append(f"      {path}")
        out.write("\n".join(lines) + "\n")

    return _each(args, err, "pfiles", "examine", one)


# -- ptime -------------------------------------------------------------------------------------


def _hr_min_sec(sec: int) -> str:
    if sec >= 3600:
        return f"{sec // 3600}:{sec % 3600 // 60:02d}:{sec % 60:02d}"
    if sec >= 60:
        return f"{sec // 60}:{sec % 60:02d}"
    return str(sec)


def ptime(argv: list[str], out: TextIO, err: TextIO) -> int:
    """ptime command [arg ...]: run the command, then report its real, user and system time from
    its /proc usage file, read while it is a zombie (so nothing is lost to the reaping)."""
    if not argv:
        err.write("usage:\tptime command [ arg ... ]\n       ptime -p pid ...\n")
        return 2
    if argv[0] == "-p":
        rc = 0
        for a in argv[1:]:
            try:
                g = grab(a)
                u = _USAGE.decode(read_file(g.pid, "usage"))
            except (GrabError, OSError) as e:
                err.write(f"ptime: cannot examine {a}: {e if isinstance(e, GrabError) else grab_error(e, 0)}\n")
                rc += 1
                continue
            err.write(f"{g.pid}:\t{psargs(g)}\n")
            r = u["pr_tstamp"]["tv_sec"] * 10**9 + u["pr_tstamp"]["tv_nsec"] - (
                u["pr_create"]["tv_sec"] * 10**9 + u["pr_create"]["tv_nsec"])
            u["pr_rtime"] = {"tv_sec": r // 10**9, "tv_nsec": r % 10**9}
            _report(u, err)
        return rc
    start = time.monotonic_ns()
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ)
    except OSError as e:
        err.write(f"ptime: command not found: {argv[0]}\n" if isinstance(e, FileNotFoundError) else
                  f"ptime: cannot run {argv[0]}: {e.strerror}\n")
        return 1
    # The command is our child: its times come with its exit status (procd does not open
    # zombies, so its usage file is gone by then).
    _, status, ru = os.wait4(pid, 0)
    real = time.monotonic_ns() - start

    def ts(sec: float) -> dict:
        ns = int(round(sec * 1e9))
        return {"tv_sec": ns // 1_000_000_000, "tv_nsec": ns % 1_000_000_000}

    _report({"pr_rtime": ts(real / 1e9), "pr_utime": ts(ru.ru_utime), "pr_stime": ts(ru.ru_stime)}, err)
    return os.waitstatus_to_exitcode(status) & 0xFF


def _report(u: dict, err: TextIO) -> None:
    err.write("\n")
    for label, key in (("real", "pr_rtime"), ("user", "pr_utime"), ("sys", "pr_stime")):
        t = u[key]
        err.write(f"{label:<4} {_hr_min_sec(t['tv_sec']):>8}.{t['tv_nsec']:09d}\n")
