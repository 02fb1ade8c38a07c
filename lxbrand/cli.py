"""The `lxbrand` command.

`lxbrand demo [CMD ...]`: start CMD (default `/bin/echo hello from a traced process`) under PTRACE_TRACEME through the host
binding, stop it at its exec, and print its registers decoded through the `structs` schemas,
in Linux user_regs_struct order and in the illumos gregset order procd will speak.

`lxbrand trace [OPTIONS] [--] CMD [ARGS...]` / `lxbrand trace [OPTIONS] -p PID`: strace over
lx_ptrace (lxbrand/trace.py; options -c -e -f -ff -o -q -s -T -t -v -x -y -z -Z as strace's):
one line per system call to stderr or FILE; exits with the command's status; with -p, Ctrl-C
(SIGINT) detaches and exits 0.

`lxbrand --version` prints the installed version.

`lxbrand conform [--json FILE] [-k PATTERN] [-v]`: the differential conformance suite
(lxbrand/conform): a table of scenario, verdict, first difference, and the summary line
`N passed, M failed, K declared`; exits non-zero on any failure.

`lxbrand replay DIR... [--backend host|lx] [--no-host-oracle] [--json FILE]`: replay recorded
debugger sessions (lxbrand/replay/session.py; a DIR may also be a directory of sessions) and
compare every call with the recording, lx judged by the host replaying the same session; a table
per session and the closing line `N passed, M failed` (exit status 1 when a session failed).

`lxbrand record [OPTIONS] (--gdb|--strace) [DEBUGGER ARGS] -- PROG [ARGS]`: record a real gdb or
strace session on this machine in the same format (lxbrand/replay/record.py).
"""

from __future__ import annotations

import argparse
import os
import sys

from native_proc import host
from structs.codec import codec
from structs.ptrace_consts import PTRACE
from structs.regs import ILLUMOS_REGS, LINUX_TO_ILLUMOS
from structs.signals import LinuxSig, ltos, solaris_name
from structs.user_area import USER_REGS


#: what `lxbrand demo` starts when given no command
DEMO_DEFAULT = ("/bin/echo", "hello from a traced process")


def demo(cmd: list[str]) -> int:
    """Run `cmd` under PTRACE_TRACEME, print its registers at the exec stop, let it finish.
    A command that cannot be executed is one message (exit status 127), not a traceback."""
    regs_codec = codec(USER_REGS["amd64"])
    r, w = os.pipe2(os.O_CLOEXEC)  # the child's exec failure, as errno text; EOF on success
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            host.ptrace(PTRACE.TRACEME, 0)
            os.execvp(cmd[0], cmd)
        except OSError as e:
            os.write(w, (e.strerror or str(e)).encode())
        finally:
            os._exit(127)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        failure = f.read().decode(errors="replace")
    _, status = host.wait4(pid)
    if failure:
        print(f"lxbrand demo: cannot execute {cmd[0]}: {failure}", file=sys.stderr)
        return 127
    if not (os.WIFSTOPPED(status) and os.WSTOPSIG(status) == LinuxSig.SIGTRAP):
        print(f"lxbrand demo: unexpected first stop: status {status:#x}", file=sys.stderr)
        if os.WIFSTOPPED(status):
            host.kill(pid, LinuxSig.SIGKILL)
            host.wait4(pid)
        return 1
    buf = bytearray(regs_codec.size)
    host.ptrace(PTRACE.GETREGS, pid, 0, buf)
    regs = regs_codec.decode(buf)
    sig = os.WSTOPSIG(status)
    print(f"pid {pid} stopped at exec of {' '.join(cmd)}: status {status:#06x} "
          f"(Linux signal {sig}, Solaris {solaris_name(ltos(sig))} = {ltos(sig)})")
    print("Linux user_regs_struct:")
    names = [n for n in regs if not n.startswith("_")]
    for i in range(0, len(names), 3):
        print("   " + "  ".join(f"{n:>8} {regs[n]:#018x}" for n in names[i:i + 3]))
    print("illumos gregset (REG_* order):")
    greg = [0] * len(ILLUMOS_REGS["amd64"])
    for name, idx in LINUX_TO_ILLUMOS["amd64"].items():
        if idx is not None:
            greg[idx] = regs[name]
    for i in range(0, len(greg), 3):
        print("   " + "  ".join(f"{ILLUMOS_REGS['amd64'][j]:>10} {greg[j]:#018x}" for j in range(i, min(i + 3, len(greg)))))
    host.ptrace(PTRACE.CONT, pid, 0, 0)
    _, status = host.wait4(pid)
    print(f"resumed; exit status {os.WEXITSTATUS(status) if os.WIFEXITED(status) else status:#x}")
    return 0


def _version() -> str:
    import native_proc

    return f"lxbrand {native_proc.__version__}"


def trace_parser() -> argparse.ArgumentParser:
    """`lxbrand trace`'s own parser: its usage is what a bad option shows."""
    t = argparse.ArgumentParser(
        prog="lxbrand trace",
        usage="lxbrand trace [-cfqTtvxyzZ] [-e EXPR]... [-o FILE] [-s STRSIZE] (-p PID | [--] CMD [ARGS ...])",
        description="strace over lx_ptrace: one line per system call of CMD (or of process PID), "
                    "as strace 6.1 prints it, to stderr or FILE.")
    t.add_argument("-o", dest="output", metavar="FILE",
                   help="write the trace to FILE (default: stderr); with -ff, to FILE.PID per process")
    t.add_argument("-p", dest="pid", type=int, metavar="PID", help="attach to a running process")
    t.add_argument("-s", dest="strsize", type=int, default=32, metavar="STRSIZE",
                   help="the longest string printed (default 32)")
    t.add_argument("-f", dest="follow", action="count", default=0,
                   help="follow forks, vforks and clones (-ff with -o: one file per process)")
    t.add_argument("-e", dest="exprs", action="append", default=[], metavar="EXPR",
                   help="trace=SET (names, %%file, %%process, %%network, %%signal, %%memory, %%desc, "
                        "%%ipc, /regex, !negation), signal=SET, status=SET")
    t.add_argument("-c", dest="summary", action="store_true",
                   help="count time, calls and errors per call; print a summary table at the end")
    t.add_argument("-T", dest="syscall_times", action="store_true", help="show the time spent in each call")
    t.add_argument("-t", dest="timestamps", action="count", default=0,
                   help="prefix lines with the time of day (-tt: with microseconds, -ttt: epoch seconds)")
    t.add_argument("-y", dest="decode_fds", action="store_true", help="print the paths of file descriptors")
    t.add_argument("-v", dest="verbose", action="store_true", help="print structures and environments unabbreviated")
    t.add_argument("-x", dest="xflag", action="count", default=0,
                   help="print non-ASCII strings in hex (-xx: every string)")
    t.add_argument("-z", dest="successful", action="store_true", help="print only calls that succeeded")
    t.add_argument("-Z", dest="failed", action="store_true", help="print only calls that failed")
    t.add_argument("-q", dest="quiet", action="count", default=0,
                   help="no attach/detach/personality messages (-qq: no exit status lines either)")
    t.add_argument("command", nargs=argparse.REMAINDER, help="program and arguments to start")
    return t


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["trace"]:
        # trace has its own parser: its errors show its usage, not the top-level one.
        t = trace_parser()
        return trace_main(t, t.parse_args(argv[1:]))
    if argv[:1] == ["record"]:
        return record_main(argv[1:])
    if argv[:1] == ["run"]:
        return run_main(argv[1:])
    p = argparse.ArgumentParser(prog="lxbrand")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="print a real traced process's registers through the schemas")
    d.add_argument("command", nargs=argparse.REMAINDER,
                   help=f"program to start (default: {' '.join(DEMO_DEFAULT)})")
    sub.add_parser("trace", help="strace a command or a running process through lx_ptrace "
                                 "(`lxbrand trace --help` for its options)", add_help=False)
    sub.add_parser("record", help="record a real gdb or strace session on this machine "
                                  "(`lxbrand record --help` for its forms)", add_help=False)
    sub.add_parser("run", help="run an unmodified debugger on lx_ptrace: lxbrand run -- strace -f ls "
                               "(`lxbrand run --help`)", add_help=False)
    c = sub.add_parser("conform", help="differential conformance: every scenario through the host's ptrace and lx_ptrace")
    c.add_argument("--json", dest="json", metavar="FILE", help="also write the full report (both logs) as JSON")
    c.add_argument("-k", dest="pattern", metavar="PATTERN", help="only scenarios whose name contains PATTERN (or matches it as a glob)")
    c.add_argument("-v", dest="verbose", action="store_true", help="print both observation logs of each failure")
    r = sub.add_parser("replay", help="replay recorded debugger sessions and compare every call")
    r.add_argument("dirs", nargs="+", metavar="DIR", help="session directories (meta.json, trace.strace)")
    r.add_argument("--backend", choices=["host", "lx"], default="lx",
                   help="replay through lx_ptrace (default) or through the host's ptrace")
    r.add_argument("--no-host-oracle", dest="host_oracle", action="store_false",
                   help="lx only: do not replay each session through the host alongside (then lx is "
                        "judged against the recording alone)")
    r.add_argument("--json", metavar="FILE", help="write every compared call to FILE as JSON")
    r.add_argument("--first", type=int, default=5, metavar="N", help="differing calls shown per session")
    r.add_argument("--timeout", type=float, default=5.0, metavar="S",
                   help="how long to wait for a recorded event (default 5 s)")
    args = p.parse_args(argv)
    if args.cmd == "replay":
        return replay_main(args)
    if args.cmd == "demo":
        return demo(args.command or list(DEMO_DEFAULT))
    if args.cmd == "conform":
        from .conform.runner import main as conform_main

        if args.json and not _writable("lxbrand conform", args.json):
            return 2
        return conform_main(args.pattern, args.json, verbose=args.verbose)
    return 2


RUN_USAGE = """\
usage: lxbrand run [--] DEBUGGER [ARGS...]

Runs an unmodified debugger (strace, gdb, or any program that traces with ptrace and waitpid)
with lxbrand's preload library: its ptrace, waitpid/wait4/wait/wait3/waitid and
syscall(SYS_ptrace/SYS_wait4/SYS_waitid) calls are answered by lx_ptrace and the lx waits inside
its own process.  The library is compiled with gcc on first use into ~/.cache/lxbrand.

  lxbrand run -- strace -f sh -c 'ls | wc -l'
  lxbrand run -- gdb -batch -ex 'break main' -ex run -ex bt ./prog
"""


def run_main(argv: list[str]) -> int:
    """`lxbrand run`: exec the debugger on lx; 2 for a usage error, 1 when it cannot start."""
    from .run import RunError, run

    if argv[:1] in (["-h"], ["--help"]):
        print(RUN_USAGE, end="")
        return 0
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print(RUN_USAGE, end="", file=sys.stderr)
        return 2
    try:
        return run(argv)
    except (RunError, OSError) as e:
        print(f"lxbrand run: {e}", file=sys.stderr)
        return 1


def _writable(prog: str, path: str) -> bool:
    """Whether `path` can be written (checked before a long run, leaving nothing behind);
    says why not on stderr."""
    existed = os.path.lexists(path)
    try:
        open(path, "a").close()
        if not existed:
            os.unlink(path)
        return True
    except OSError as e:
        print(f"{prog}: can't write {path}: {e.strerror}", file=sys.stderr)
        return False


RECORD_USAGE = """\
usage: lxbrand record [-o DIR] [--env NAME=VALUE]... [--timeout S] [--interrupt-after S] [--attach]
                      (--gdb | --strace) [DEBUGGER ARGS...] -- PROG [ARGS...]

Record a real gdb or strace session on this machine, in the shared traces' format (trace.strace,
meta.json, the target binary, debugger.out), for `lxbrand replay`.  The debugger's own arguments
go between --gdb/--strace and --; the program and its arguments after --.

  lxbrand record --gdb -ex 'break main' -ex run -ex finish -- ./prog
  lxbrand record --strace -f -- ./forker 3
  lxbrand record --attach --interrupt-after 1 --strace -- ./loop   (the debugger gets -p PID)

options:
  -o DIR               the session directory (default: ./DEBUGGER-PROG)
  --env NAME=VALUE     add to the target's environment (e.g. GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2)
  --timeout S          give up when the debugger has not finished after S seconds (default 60)
  --interrupt-after S  send SIGINT to the debugger after S seconds (ends `strace -p`)
  --attach             start PROG first and have the debugger attach to it
"""


def record_main(argv: list[str]) -> int:
    """`lxbrand record`: parse the record options, the debugger and its arguments, and the
    program; record; print where the session went."""
    from .replay.record import Recording, RecordError, record

    def usage_error(msg: str) -> int:
        print(RECORD_USAGE + f"lxbrand record: error: {msg}", file=sys.stderr)
        return 2

    if argv[:1] in (["-h"], ["--help"]):
        print(RECORD_USAGE, end="")
        return 0
    opts: dict = {"env": [], "attach": False}
    i = 0
    takes = {"-o": "out", "--env": "env", "--timeout": "timeout", "--interrupt-after": "interrupt_after"}
    while i < len(argv) and argv[i] not in ("--gdb", "--strace"):
        a = argv[i]
        if a == "--attach":
            opts["attach"] = True
            i += 1
            continue
        if a in takes and i + 1 < len(argv):
            key, val = takes[a], argv[i + 1]
            if key == "env":
                opts["env"].append(val)
            elif key in ("timeout", "interrupt_after"):
                try:
                    opts[key] = float(val)
                except ValueError:
                    return usage_error(f"{a} wants a number of seconds, not {val!r}")
            else:
                opts[key] = val
            i += 2
            continue
        return usage_error(f"unexpected {a!r} (the debugger comes first: --gdb or --strace)")
    if i == len(argv):
        return usage_error("say which debugger records: --gdb or --strace")
    debugger = argv[i][2:]
    rest = argv[i + 1:]
    if "--" not in rest:
        return usage_error("put -- between the debugger's arguments and the program")
    k = rest.index("--")
    dargs, prog = rest[:k], rest[k + 1:]
    if not prog:
        return usage_error("no program given after --")
    try:
        out = record(Recording(debugger=debugger, args=dargs, program=prog[0], program_args=prog[1:],
                               out=opts.get("out"), attach=opts["attach"], env=opts["env"],
                               timeout=opts.get("timeout", 60.0),
                               interrupt_after=opts.get("interrupt_after")))
    except RecordError as e:
        print(f"lxbrand record: {e}", file=sys.stderr)
        return 1
    n = sum(1 for _ in open(out / "trace.strace", errors="replace"))
    print(f"recorded {n} lines into {out}")
    return 0


def _session_dirs(args: list[str]) -> tuple[list[str], list[str]]:
    """The session directories named by `args` (a session directory, or a directory holding
    sessions, such as ../shared/traces), and the entries that are neither."""
    found, other = [], []
    for d in args:
        if os.path.isfile(os.path.join(d, "meta.json")) or (
                os.path.isdir(d) and not os.access(d, os.R_OK | os.X_OK)):
            found.append(d)  # an unreadable directory: its replay says why it cannot be read
            continue
        inside = sorted(os.path.join(d, e) for e in (os.listdir(d) if os.path.isdir(d)
                                                     and os.access(d, os.R_OK | os.X_OK) else [])
                        if os.path.isfile(os.path.join(d, e, "meta.json")))
        if inside:
            found += inside
        else:
            other.append(d)
    return found, other


def replay_main(args: argparse.Namespace) -> int:
    import json

    from .replay.session import SessionReport, format_report, replay_session, report_json

    def progress(name: str, done: int, total: int) -> None:
        print(f"  {name}: {done}/{total} calls", file=sys.stderr, flush=True)

    reports = []
    dirs, other = _session_dirs(args.dirs)
    if other:
        print(f"lxbrand replay: skipped {len(other)} entr{'y' if len(other) == 1 else 'ies'} that "
              f"hold no session (no meta.json): {', '.join(other)}", file=sys.stderr)
    if args.json:
        try:  # an unwritable report file is said before any replay runs
            open(args.json, "a").close()
        except OSError as e:
            print(f"lxbrand replay: --json {args.json}: {e.strerror}", file=sys.stderr)
            return 2
    for d in dirs:
        name = os.path.basename(os.path.normpath(d))
        try:
            rep = replay_session(d, args.backend, timeout=args.timeout, progress=progress,
                                 host_oracle=args.host_oracle)
        except Exception as e:  # one session never aborts the run: its error is its verdict
            rep = SessionReport(name, args.backend, errors=[f"{type(e).__name__}: {e}"])
        reports.append(rep)
        print(format_report(rep, first=args.first), flush=True)
    if args.json:
        try:
            with open(args.json, "w") as f:
                json.dump(report_json(reports), f, indent=1)
        except OSError as e:
            print(f"lxbrand replay: --json {args.json}: {e.strerror}", file=sys.stderr)
            return 2
    passed = sum(r.passed for r in reports)
    print(f"{passed} passed, {len(reports) - passed} failed")
    return 0 if reports and passed == len(reports) else 1


def trace_main(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from .trace import Options, parse_expr, trace
    from .tracefmt.classes import ExprError

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if (args.pid is None) == (not command):
        parser.error("give either -p PID or a command to start")
    if args.strsize < 0:
        parser.error("-s must not be negative")
    if args.follow > 2 or args.timestamps > 3 or args.xflag > 2 or args.quiet > 3:
        parser.error("an option is repeated more often than it has levels (-ff, -ttt, -xx, -qq at most)")
    opts = Options(strsize=args.strsize, follow=args.follow, summary=args.summary,
                   syscall_times=args.syscall_times, timestamps=args.timestamps,
                   decode_fds=args.decode_fds, verbose=args.verbose, xflag=args.xflag,
                   quiet=min(args.quiet, 2))
    for e in args.exprs:
        try:
            parse_expr(opts, e)
        except ExprError as err:
            parser.error(f"-e {e}: {err}")
    if args.successful and args.failed:
        opts.status = frozenset()
    elif args.successful:
        opts.status = frozenset({"successful"})
    elif args.failed:
        opts.status = frozenset({"failed"})
    from native_proc.rendezvous import ProcdError

    from . import ensure_procd

    try:
        ensure_procd()  # a procd that cannot be reached is one message here, not in the child
    except ProcdError as e:
        print(f"lxbrand trace: {e}", file=sys.stderr)
        return 1
    out = sys.stderr
    if args.output is not None:
        opts.output = args.output
        target = args.output if args.follow < 2 else os.path.dirname(os.path.abspath(args.output))
        try:
            if args.follow < 2:
                open(target, "a").close()
            elif not os.access(target, os.W_OK):
                raise PermissionError(13, "Permission denied")
        except OSError as e:
            print(f"lxbrand trace: can't open {args.output}: {e.strerror}", file=sys.stderr)
            return 1
    return trace(command or None, args.pid, out, opts, reraise=True, msg=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
