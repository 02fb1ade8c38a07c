"""`native-proc`: run a procd by hand, and look at processes through it (pflags(1)-style).

    native-proc serve [--socket PATH]   run a procd in the foreground; prints the socket to use
    native-proc status PID...           pflags -r PID... (illumos pflags(1) with registers)
    native-proc status                  the same for every process the procd controls
    native-proc pflags|pmap|pcred|psig|pwdx|pstop|prun|pwait|pargs|penv|pfiles|ptime ...
                                        the illumos proc tools (native_proc.ptools)
    native-proc mount DIR [-f]          serve native_proc's tree at DIR (FUSE); umount DIR
    native-proc shutdown                ask the procd to release everything and exit

Which procd: $NATIVE_PROC_SOCKET, else the user's well-known one, /tmp/native-proc-<uid>/procd.sock,
the same every client finds (native_proc/rendezvous.py); `status PID` with none running starts
one there, which exits once it has had no client for a moment.
A `serve` procd keeps Solaris semantics (a client that goes away leaves what it set, unless
PR_RLC/PR_KLC); it releases everything (run-on-last-close) when it is shut down or gets
SIGTERM/SIGINT/SIGHUP.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from typing import TextIO

from . import client, rendezvous

__all__ = ["main", "default_socket"]


def default_socket() -> str:
    """$NATIVE_PROC_SOCKET, else the user's well-known address (rendezvous.default_path)."""
    return rendezvous.address()[0]


def _listening(path: str) -> bool:
    try:
        rendezvous.dial(path).close()
        return True
    except (OSError, rendezvous.ProcdError):
        return False


# -- serve -----------------------------------------------------------------------------------


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    from .procd import Procd

    if args.socket:
        path, explicit = os.path.abspath(args.socket), True
    else:
        path, explicit = rendezvous.address()
    try:
        # Checked before anything is created: no directory or lock file is left for a path
        # that cannot be served, and nothing but a stale socket is ever replaced.
        rendezvous.check_path(path)
        if explicit:
            rendezvous.user_dir(os.path.dirname(path))  # never re-moded: it may be /tmp
        else:
            rendezvous.private_dir(os.path.dirname(path))
        # Under the address's lock: a client starting a procd at the same moment finds ours.
        with rendezvous.locked(path):
            if _listening(path):
                print(f"native-proc: a procd already listens on {path}", file=sys.stderr)
                return 1
            procd = Procd(path, embedded=False)
            procd.catch_stop_signals()  # the address is announced below: a SIGTERM is a clean stop
    except (OSError, rendezvous.ProcdError) as e:
        print(f"native-proc serve: {e}", file=sys.stderr)
        return 1
    print(f"{client.ENV}={path}", file=out)
    print(f"procd {os.getpid()} serving; export {client.ENV}={path} to use it", file=out)
    out.flush()
    procd.run(None)
    return 0


# -- status ----------------------------------------------------------------------------------


def _use_default_procd() -> bool:
    """Whether the procd clients would speak to ($NATIVE_PROC_SOCKET, else the user's) listens."""
    return _listening(default_socket())


def _status(args: argparse.Namespace, out: TextIO) -> int:
    """`status PID...` is `pflags -r PID...`; `status` alone reports so every process the
    procd controls."""
    from .ptools import pflags

    if not args.pid:
        if not _use_default_procd():
            print("native-proc: no procd is running (set $NATIVE_PROC_SOCKET or run `native-proc serve`)",
                  file=sys.stderr)
            return 1
        pids = [line.split(":", 1)[0] for line in client.procd_status().splitlines()
                if line[:1].isdigit()]
        if not pids:
            out.write("procd controls nothing\n")
            return 0
    else:
        _use_default_procd()
        pids = [str(p) for p in args.pid]
    rc = 0
    for pid in pids:
        try:
            out.write(pflags.report(pid, rflag=True))
        except pflags.GrabError as e:
            print(f"native-proc status: cannot examine {pid}: {e}", file=sys.stderr)
            rc = 1
    return rc


def _shutdown(args: argparse.Namespace, out: TextIO) -> int:
    if not _use_default_procd():
        print("native-proc: no procd is running", file=sys.stderr)
        return 1
    try:
        client.shutdown()
    except OSError as ex:
        if ex.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise
        print("native-proc: no procd is running", file=sys.stderr)
        return 1
    print(f"procd at {default_socket()} is shutting down", file=out)
    return 0


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    p = argparse.ArgumentParser(prog="native-proc", description="A Solaris-style /proc over Linux processes.")
    import native_proc

    p.add_argument("--version", action="version", version=f"%(prog)s {native_proc.__version__}")
    p.add_argument("--socket", help=f"procd socket (default: ${client.ENV} or {rendezvous.default_path()})")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run a procd in the foreground")
    s.add_argument("--socket", dest="serve_socket", metavar="PATH")
    st = sub.add_parser("status", help="pflags-style report of processes (none: what procd controls)")
    st.add_argument("pid", type=int, nargs="*")
    sub.add_parser("shutdown", help="release everything and stop the procd")
    from .ptools import TOOLS

    for name in TOOLS:
        t = sub.add_parser(name, help=f"illumos {name}(1) over native_proc", add_help=False)
        t.add_argument("args", nargs=argparse.REMAINDER)
    m = sub.add_parser("mount", help="serve native_proc's tree at DIR through FUSE (a client of procd)")
    m.add_argument("dir")
    m.add_argument("-f", "--foreground", action="store_true", help="stay in the foreground")
    u = sub.add_parser("umount", help="unmount a `native-proc mount` and let it release what it held")
    u.add_argument("dir")
    if argv is None:
        argv = sys.argv[1:]
    # A tool's own options (pflags -r, pmap -x, truss -f ...) are the tool's, not ours.
    i = next((k for k, a in enumerate(argv) if not a.startswith("-")), len(argv))
    if i < len(argv) and argv[i] in TOOLS:
        if argv[:i]:
            p.parse_args(argv[:i] + ["status"])  # --socket only
            ns = p.parse_args(argv[:i] + ["status"])
            if ns.socket:
                os.environ[client.ENV] = os.path.abspath(ns.socket)
        _use_default_procd()
        return TOOLS[argv[i]](argv[i + 1:], out, sys.stderr)
    args = p.parse_args(argv)
    if args.cmd == "serve":
        args.socket = args.serve_socket or args.socket
        return _serve(args, out)
    if args.socket:
        os.environ[client.ENV] = os.path.abspath(args.socket)
    if args.cmd == "status":
        return _status(args, out)
    if args.cmd in ("mount", "umount"):
        from . import mount

        _use_default_procd()
        return mount.main(args.cmd, args.dir, getattr(args, "foreground", False), out)
    return _shutdown(args, out)


if __name__ == "__main__":
    sys.exit(main())
