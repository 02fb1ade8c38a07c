"""`lxbrand record`: record a real gdb or strace session on this machine, in the format of the
shared traces (``trace.strace``, ``meta.json``, the target binary, ``debugger.out``).

The debugger runs under the host's strace, which writes down every tracing call the debugger
makes and the kernel's answer (``-e trace=`` the calls the replayer re-issues; ``-s 4096 -x -y``
so buffers and paths are whole).  The debugger's children are not traced by the recorder, so the
debugger can trace them.  The target is copied to a directory of the recording user's own
(``/tmp/lxtrace-<uid>/``, mode 0700, owner checked) and started there with a fixed environment and
address-space randomisation off, so that a replay can start it again at the same addresses.

Three forms (the debugger's own arguments go between ``--gdb``/``--strace`` and ``--``):

    lxbrand record --gdb -ex 'break main' -ex run -- PROG ARGS
    lxbrand record --strace -f -- PROG ARGS
    lxbrand record --attach --strace -- PROG ARGS      (PROG started first; the debugger gets -p)
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .machine import recorder_facts
from ..tools import own_dir

#: the calls the replayer re-issues (and the debugger's process creation, to tell children apart)
TRACED_CALLS = ("ptrace,wait4,waitid,pread64,pwrite64,process_vm_readv,process_vm_writev,"
                "kill,tgkill,tkill,clone,clone3,fork,vfork")
DEBUGGERS = {"gdb": "gdb", "strace": "strace"}  # debugger -> its Debian package


class RecordError(Exception):
    """A recording that cannot be made (a missing tool, a bad directory, a target that did not
    start); the message says which."""


def target_dir(uid: int | None = None) -> Path:
    """This user's directory for recorded targets: ``/tmp/lxtrace-<uid>``, created mode 0700;
    refused (RecordError) when it is a symbolic link, another user's, or writable by others --
    a target is run from there, so nobody else may put a program in it."""
    d = Path(f"/tmp/lxtrace-{os.getuid() if uid is None else uid}")
    try:
        return own_dir(d)
    except RuntimeError as e:
        raise RecordError(str(e)) from None


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RecordError(f"{name} is needed to record (Debian package {package}: apt-get install {package})")
    return path


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.splitlines()[0] if out else "unknown"


@dataclass
class Recording:
    """What to record.  `debugger` is "gdb" or "strace"; `args` its own arguments; `program`
    and `program_args` the target; `attach`: start the target first and give the debugger its
    pid; `env`: extra NAME=VALUE entries for the target's (and the debugger's) environment;
    `interrupt_after`: send SIGINT to the debugger after that many seconds (ends `strace -p`)."""

    debugger: str
    args: list[str]
    program: str
    program_args: list[str] = field(default_factory=list)
    out: Path | None = None
    attach: bool = False
    env: list[str] = field(default_factory=list)
    timeout: float = 60.0
    interrupt_after: float | None = None
    settle: float = 0.3


def _env(home: Path, extra: list[str]) -> list[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C"}
    for e in extra:
        if "=" not in e:
            raise RecordError(f"--env wants NAME=VALUE, not {e!r}")
        k, v = e.split("=", 1)
        base[k] = v
    return [f"{k}={v}" for k, v in base.items()]


def _debugger_argv(rec: Recording, target: str, pid: int | None) -> list[str]:
    if rec.debugger == "gdb":
        # gdb adds LINES and COLUMNS to its inferior's environment; the recording's target must
        # see exactly meta.json's environment, so they are unset (as record.sh does).
        head = ["gdb", "-nx", "-batch", "-ex", "set startup-with-shell off",
                "-ex", "unset environment LINES", "-ex", "unset environment COLUMNS", *rec.args]
        return head + (["-p", str(pid)] if pid is not None else ["--args", target, *rec.program_args])
    return ["strace", *rec.args] + (["-p", str(pid)] if pid is not None else [target, *rec.program_args])


def _wait_exec(pid: int, target: str, timeout: float) -> None:
    """Bounded: until process `pid` runs `target` (its exec done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.readlink(f"/proc/{pid}/exe") == os.path.realpath(target):
                return
        except OSError:
            pass
        time.sleep(0.01)
    raise RecordError(f"the target {target} (pid {pid}) did not start within {timeout:.0f} s")


def _tracer_of(pid: int, timeout: float) -> int | None:
    """Bounded: the pid that traces `pid` once one does (TracerPid in /proc/PID/status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/status") as f:
                tracer = next(int(x.split()[1]) for x in f if x.startswith("TracerPid:"))
        except (OSError, StopIteration, ValueError):
            return None
        if tracer:
            return tracer
        time.sleep(0.005)
    return None


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def record(rec: Recording) -> Path:
    """Record one session; the session directory (RecordError when it cannot be made).  The
    recorder, the debugger, the target and anything they started are ended by pid before this
    returns, whatever happens."""
    if rec.debugger not in DEBUGGERS:
        raise RecordError(f"the debugger is gdb or strace, not {rec.debugger!r}")
    _tool("strace", "strace")
    _tool(rec.debugger, DEBUGGERS[rec.debugger])
    _tool("setarch", "util-linux")
    src = Path(rec.program)
    if not src.is_file():
        found = shutil.which(rec.program)
        if found is None:
            raise RecordError(f"{rec.program}: no such program")
        src = Path(found)
    name = src.name
    # Absolute: the debugger runs in the target's directory, and a relative -o named a file there.
    out = (Path(rec.out) if rec.out is not None else Path.cwd() / f"{rec.debugger}-{name}").absolute()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RecordError(f"cannot create {out}: {e.strerror}") from None
    tdir = target_dir()
    target = tdir / name
    tmp = tdir / f".{name}.{os.getpid()}"
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
    shutil.copyfile(src, out / name)
    os.chmod(out / name, 0o755)
    env = _env(tdir, rec.env)
    envd = dict(e.split("=", 1) for e in env)
    started: list[subprocess.Popen] = []
    tpid = None
    try:
        if rec.attach:
            tout = open(out / "target.out", "wb")
            t = subprocess.Popen(["setarch", "-R", str(target), *rec.program_args], env=envd, cwd=tdir,
                                 stdin=subprocess.DEVNULL, stdout=tout, stderr=subprocess.STDOUT)
            tout.close()
            started.append(t)
            tpid = t.pid
            _wait_exec(tpid, str(target), 10.0)
            time.sleep(rec.settle)  # let it reach its steady state, as record.sh does
        dbg = _debugger_argv(rec, str(target), tpid)
        cmd = ["setarch", "-R", "strace", "-o", str(out / "trace.strace"), "-s", "4096", "-x", "-y",
               "-e", f"trace={TRACED_CALLS}", *dbg]
        with open(out / "debugger.out", "wb") as dout:
            r = subprocess.Popen(cmd, env=envd, cwd=tdir, stdin=subprocess.DEVNULL, stdout=dout,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        started.append(r)
        dpid = None  # the debugger is the recorder's child (written down for the replayer)
        deadline = time.monotonic() + 5.0
        while dpid is None and r.poll() is None and time.monotonic() < deadline:
            kids = _children(r.pid)
            dpid = kids[0] if kids else None
            if dpid is None:
                time.sleep(0.002)
        if tpid is not None:
            # the interrupt is timed from the attach (a SIGINT that reached the debugger before it
            # set its handler would be lost); the tracer of the target is the debugger
            dpid = _tracer_of(tpid, 10.0) or dpid
        if rec.interrupt_after is not None:
            time.sleep(rec.interrupt_after)
            if dpid is not None:
                try:
                    os.kill(dpid, signal.SIGINT)
                except OSError:
                    pass
        try:
            r.wait(timeout=rec.timeout)
        except subprocess.TimeoutExpired:
            raise RecordError(f"the debugger did not finish within {rec.timeout:.0f} s "
                              f"({' '.join(dbg)}); see {out / 'debugger.out'}") from None
        if rec.attach and started[0].poll() is None:
            started[0].kill()
        meta = {
            "mode": "attach" if rec.attach else "launch",
            "debugger": dbg,
            "target": {"path": str(target), "argv": [str(target), *rec.program_args], "cwd": str(tdir),
                       "env": env, "aslr": False},
            "recorded_pid_of_attached_target": tpid,
            "recorded_pid_of_debugger": dpid,
            "recorded_pid_of_target_parent": os.getpid() if rec.attach else None,
            "kernel": platform.release(), "arch": platform.machine(),
            "strace": _version(["strace", "-V"]), "gdb": _version(["gdb", "--version"]),
            "recorded_by": "lxbrand record",
            "machine": recorder_facts(envd, str(target)),
        }
        (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        return out
    finally:
        for p in reversed(started):
            if p.poll() is None:
                try:
                    if p.pid == tpid:
                        p.kill()
                    else:  # the recorder leads a session: the debugger and its inferiors go too
                        os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass


__all__ = ["Recording", "RecordError", "record", "target_dir", "TRACED_CALLS"]
