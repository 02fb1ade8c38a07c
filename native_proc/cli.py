"""`native-proc`: run a procd by hand, and look at processes through it (pflags(1)-style).

    native-proc serve [--socket PATH]   run a procd in the foreground; prints the socket to use
    native-proc status PID...           pflags-style report: flags, traced sets, per LWP
                                        flags and why/what, pr_cursig, registers when stopped
    native-proc status                  what the procd controls (its own listing)
    native-proc shutdown                ask the procd to release everything and exit

Which procd: $NATIVE_PROC_SOCKET, else the default `serve` socket
/tmp/native-proc-<uid>/procd.sock when one is listening there; `status PID` with neither
starts a private (embedded) procd, which sees the process as nobody controls it.
A `serve` procd keeps Solaris semantics (a client that goes away leaves what it set, unless
PR_RLC/PR_KLC); it releases everything (run-on-last-close) when it is shut down or gets
SIGTERM/SIGINT/SIGHUP.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import stat
import sys
from typing import Iterable, TextIO

from structs.codec import codec
from structs.faults import FLT_NAMES
from structs.procfs import LWPSTATUS, PSINFO, PSTATUS
from structs.procfs_consts import PR_FLAGS, PR_MODEL, PR_WHY
from structs.regs import ILLUMOS_REGS
from structs.signals import solaris_name
from structs.syscalls import syscall_name

from . import client

__all__ = ["main", "default_socket", "report"]

_PST = codec(PSTATUS["amd64"])
_LST = codec(LWPSTATUS["amd64"])
_PSI = codec(PSINFO["amd64"])
#: pr_flags bits that describe an LWP's state; the rest are process flags and modes.
_LWP_BITS = 0x00000FFF
_MODEL = {int(PR_MODEL.PR_MODEL_ILP32): ("_ILP32", "i386"), int(PR_MODEL.PR_MODEL_LP64): ("_LP64", "amd64")}


def default_socket() -> str:
    """$NATIVE_PROC_SOCKET, else /tmp/native-proc-<uid>/procd.sock."""
    return os.environ.get(client.ENV) or os.path.join(f"/tmp/native-proc-{os.getuid()}", "procd.sock")


def _listening(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _private_dir(d: str) -> None:
    """The socket's directory: ours, mode 0700 (the socket is private to its user)."""
    os.makedirs(d, mode=0o700, exist_ok=True)
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise SystemExit(f"native-proc: {d} is not a directory owned by uid {os.getuid()}")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(d, 0o700)


# -- serve -----------------------------------------------------------------------------------


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    from .procd import Procd

    path = os.path.abspath(args.socket or default_socket())
    _private_dir(os.path.dirname(path))
    if _listening(path):
        print(f"native-proc: a procd already listens on {path}", file=sys.stderr)
        return 1
    procd = Procd(path, embedded=False)
    print(f"{client.ENV}={path}", file=out)
    print(f"procd {os.getpid()} serving; export {client.ENV}={path} to use it", file=out)
    out.flush()
    procd.run(None)
    return 0


# -- status ----------------------------------------------------------------------------------


def _use_default_procd() -> bool:
    """Whether the named procd ($NATIVE_PROC_SOCKET, else the default `serve` socket) listens;
    the default one is then named in $NATIVE_PROC_SOCKET."""
    path = default_socket()
    if _listening(path):
        os.environ[client.ENV] = path
        return True
    return False


def flag_names(flags: int) -> str:
    """pr_flags by name ("PR_STOPPED|PR_ISTOP|PR_RLC"), unknown bits in hex, "0" for none."""
    names = [f.name for f in PR_FLAGS if f.value & flags and f.name]
    rest = flags & ~sum(f.value for f in PR_FLAGS)
    if rest:
        names.append(f"{rest:#x}")
    return "|".join(names) or "0"


def _members(words: Iterable[int], base: int) -> list[int]:
    out = []
    for i, w in enumerate(words):
        for b in range(32):
            if w >> b & 1:
                out.append(32 * i + b + base)
    return out


def _sigset_members(s: dict) -> list[int]:
    raw = s["__sigbits"]
    if isinstance(raw, (bytes, bytearray)):
        words = [int.from_bytes(raw[i:i + 4], "little") for i in range(0, len(raw), 4)]
    else:
        words = list(raw)
    return _members(words, 1)


def why_what(why: int, what: int, abi: str) -> str:
    """The bracketed why/what of an LWP ("[ PR_SYSENTRY getpid ]"), "" when it is not stopped."""
    if not why:
        return ""
    try:
        name = PR_WHY(why).name
    except ValueError:
        name = f"why={why}"
    if why in (PR_WHY.PR_SIGNALLED, PR_WHY.PR_JOBCONTROL):
        detail = solaris_name(what)
    elif why in (PR_WHY.PR_SYSENTRY, PR_WHY.PR_SYSEXIT):
        detail = syscall_name(abi, what)
    elif why == PR_WHY.PR_FAULTED:
        detail = FLT_NAMES.get(what, str(what))
    else:
        detail = str(what) if what else ""
    return f"[ {name} {detail} ]" if detail else f"[ {name} ]"


def _regs(values: list[int], out: list[str]) -> None:
    names = ILLUMOS_REGS["amd64"]
    cells = [f"{n:<10} = 0x{v & ((1 << 64) - 1):016x}" for n, v in zip(names, values)]
    for i in range(0, len(cells), 3):
        out.append("\t" + "  ".join(cells[i:i + 3]))


def report(pid: int) -> str:
    """The pflags-style report of `pid`, read through the client library."""
    with client.open(f"{pid}/status") as f:
        ps = _PST.decode(f.read())
    try:
        with client.open(f"{pid}/psinfo") as f:
            args = _PSI.decode(f.read())["pr_psargs"].split(b"\0", 1)[0].decode(errors="replace")
    except OSError:
        args = ""
    model, abi = _MODEL.get(ps["pr_dmodel"], (f"model {ps['pr_dmodel']}", "amd64"))
    lines = [f"{pid}:\t{args}".rstrip(),
             f"\tdata model = {model}  flags = {flag_names(ps['pr_flags'] & ~_LWP_BITS)}"]
    sigs = _sigset_members(ps["pr_sigtrace"])
    if sigs:
        lines.append("\tsigtrace = " + " ".join(solaris_name(s) for s in sigs))
    flts = _members(ps["pr_flttrace"]["word"], 1)
    if flts:
        lines.append("\tflttrace = " + " ".join(FLT_NAMES.get(f, str(f)) for f in flts))
    for key in ("sysentry", "sysexit"):
        nrs = _members(ps[f"pr_{key}"]["word"], 0)  # sysset_t is 0-based on host numbers
        if nrs:
            lines.append(f"\t{key} = " + " ".join(syscall_name(abi, n) for n in nrs))
    for name in sorted(client.listdir(f"{pid}/lwp"), key=int):
        try:
            with client.open(f"{pid}/lwp/{name}/lwpstatus") as f:
                ls = _LST.decode(f.read())
        except FileNotFoundError:
            continue  # the LWP exited meanwhile
        fl = ls["pr_flags"]
        head = f" /{ls['pr_lwpid']}:\tflags = {flag_names(fl & _LWP_BITS)}"
        ww = why_what(ls["pr_why"], ls["pr_what"], abi)
        lines.append(f"{head}  {ww}" if ww else head)
        if ls["pr_cursig"]:
            lines.append(f"\tcursig = {solaris_name(ls['pr_cursig'])}")
        if ls["pr_nsysarg"] and fl & PR_FLAGS.PR_STOPPED:
            sysargs = ", ".join(f"{a & ((1 << 64) - 1):#x}" for a in ls["pr_sysarg"][:ls["pr_nsysarg"]])
            lines.append(f"\tsyscall = {syscall_name(abi, ls['pr_syscall'])}({sysargs})")
        if fl & PR_FLAGS.PR_STOPPED and not fl & PR_FLAGS.PR_PCINVAL:
            _regs(list(ls["pr_reg"]), lines)
    return "\n".join(lines) + "\n"


def _status(args: argparse.Namespace, out: TextIO) -> int:
    if not args.pid:
        if not _use_default_procd():
            print("native-proc: no procd is running (set $NATIVE_PROC_SOCKET or run `native-proc serve`)",
                  file=sys.stderr)
            return 1
        text = client.procd_status()
        out.write(text + ("\n" if text and not text.endswith("\n") else ""))
        if not text:
            out.write("procd controls nothing\n")
        return 0
    _use_default_procd()
    rc = 0
    for pid in args.pid:
        try:
            out.write(report(pid))
        except OSError as ex:
            print(f"native-proc: {pid}: {os.strerror(ex.errno) if ex.errno else ex}", file=sys.stderr)
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
    print(f"procd at {os.environ.get(client.ENV)} is shutting down", file=out)
    return 0


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    p = argparse.ArgumentParser(prog="native-proc", description="A Solaris-style /proc over Linux processes.")
    import native_proc

    p.add_argument("--version", action="version", version=f"%(prog)s {native_proc.__version__}")
    p.add_argument("--socket", help=f"procd socket (default: ${client.ENV} or /tmp/native-proc-<uid>/procd.sock)")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run a procd in the foreground")
    s.add_argument("--socket", dest="serve_socket", metavar="PATH")
    st = sub.add_parser("status", help="pflags-style report of processes (none: what procd controls)")
    st.add_argument("pid", type=int, nargs="*")
    sub.add_parser("shutdown", help="release everything and stop the procd")
    args = p.parse_args(argv)
    if args.cmd == "serve":
        args.socket = args.serve_socket or args.socket
        return _serve(args, out)
    if args.socket:
        os.environ[client.ENV] = os.path.abspath(args.socket)
    if args.cmd == "status":
        return _status(args, out)
    return _shutdown(args, out)


if __name__ == "__main__":
    sys.exit(main())
