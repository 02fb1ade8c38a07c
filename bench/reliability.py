"""Reliability campaigns of issue 19, against a private procd: every figure must be zero.

A procd of the campaign's own (`native-proc serve` at NATIVE_PROC_SOCKET in a fresh 0700
directory; killed by pid and the directory removed at the end, even on failure) serves:

- ctl fuzz: random, well-formed-with-random-operands and mutated ctl writes on a few dozen
  real targets (running, and stopped by the fuzz itself), each target released by its last
  close (PR_RLC).  Counted: procd crashes (its pid gone or not answering), hangs (a write that
  did not return within its bound), procd's catch-all errors in its log, targets left stopped
  (still traced, or still stopped after SIGCONT) once released.  Messages that wait by design
  (PCWSTOP; PCTWSTOP but for 1..50 ms) and clearing PR_RLC (which asks to stay stopped) are
  not sent; a PCSTOP that waits on a job-control-stopped target (Solaris waits until SIGCONT)
  is ended with SIGCONT and counted apart, not as a hang.
- SIGKILL of procd and of the tracer at each kind of stop -- requested (PCSTOP / ATTACH),
  syscall entry and exit, breakpoint (int3), signal (SIGUSR2), watched (a write watchpoint) --
  with a /proc (native) tracer and with an lx tracer (lx_ptrace).  Counted: stops not reached,
  targets left in T/t or still traced, targets that died or did not run on, watched targets
  still trapping where procd must have disarmed (procd killed: its guardian; a /proc tracer
  killed: the last close clears watched areas), guardians that did not exit 0.
- scale: N targets (1,000; quick 200) opened, stopped, read and released; then, once they are
  killed, the records procd still keeps of them (its STATUS listing).  Also: left stopped.
- attach/detach: lx ATTACH/wait/DETACH cycles on one target; counted: monitors left (our
  children beyond those before), descriptors leaked here and in procd.
- another uid: a forked child as uid 65534 against a root procd others can reach and root's
  targets: each operation through procd must be refused exactly where the kernel refuses the
  same uid (ptrace attach, /proc/PID/mem), and allowed where it allows; STATUS must list none
  of root's processes, SHUTDOWN must be EPERM.  Counted: violations.
- leaked files: what the run left in its own $TMPDIR (a fresh 0700 directory: other work on
  the machine writes /tmp meanwhile), and what each cleanly stopped procd left beside its
  address's lock (its socket, its snapshot file).
- procd's catch-all errors ("unexpected error" in the log of every procd the run started).

One line per figure with its verdict (target 0); `run` returns how many figures missed, and
`python -m bench reliability` exits non-zero when any did.  Every loop is bounded in count and
time; every process started is killed by pid in a finally.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import native_proc.client as npc
from native_proc import host
from structs.codec import codec
from structs.ctl import CTL_OPERANDS, decode_ctl, encode_ctl, fltset, sigset, sysset
from structs.faults import FLT
from structs.procfs import PSTATUS
from structs.procfs_consts import PC, PCX, PR_FLAGS, WA
from structs.ptrace_consts import PTRACE
from structs.syscalls import NR64

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PR_RLC = int(PR_FLAGS.PR_RLC)
SOL_SIGUSR2 = 17
_WALL = 0x40000000
_U64 = (1 << 64) - 1
_WRITE_BOUND_S = 2.0  # a ctl write that takes longer is a hang
PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE = 36, 4
DR0, DR7 = 848, 848 + 7 * 8
DR7_W8 = 0x1 | (0b01 << 16) | (0b11 << 18)  # L0, write, 8 bytes

# Prints "ready <addr of counter> <addr of hits>"; SIGUSR2 and SIGTRAP are caught and counted in
# `hits` (a stop's signal given back on release is survived; the watched variable is `counter`,
# which the handler does not write); by mode: spin, syscalls (getpid in a loop), int3 (a
# breakpoint every 2^20 rounds), pause (blocked in pause()).
TARGET = r"""
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
volatile long counter, hits;
static void on_sig(int s) { (void)s; hits++; }
int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "spin";
    signal(SIGUSR2, on_sig);
    signal(SIGTRAP, on_sig);
    printf("ready %p %p\n", (void *)&counter, (void *)&hits);
    fflush(stdout);
    if (!strcmp(mode, "pause")) for (;;) pause();
    for (unsigned long i = 1;; i++) {
        counter++;
        if (!strcmp(mode, "syscalls")) syscall(SYS_getpid);
        if (!strcmp(mode, "int3") && !(i & 0xfffff)) __asm__ volatile("int3");
    }
}
"""


def ctl(*messages) -> bytes:
    return encode_ctl("amd64", list(messages))


def _until(cond: Callable[[], object], timeout: float) -> object:
    """cond()'s first true value within `timeout` seconds, else its last (false) one."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() > end:
            return v
        time.sleep(0.005)


def host_state(pid: int) -> tuple[str, int]:
    """(state letter, TracerPid) from the host's /proc; ("", 0) when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return "", 0
    state, tracer = "", 0
    for line in text.splitlines():
        if line.startswith("State:"):
            state = line.split()[1]
        elif line.startswith("TracerPid:"):
            tracer = int(line.split()[1])
    return state, tracer


def _counter(pid: int, addr: int) -> int | None:
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    except OSError:
        return None
    try:
        return int.from_bytes(os.pread(fd, 8, addr), "little")
    except OSError:
        return None
    finally:
        os.close(fd)


def _zombie_or_gone(pid: int) -> bool:
    return host_state(pid)[0] in ("", "Z", "X")


def _children() -> set[int]:
    me = os.getpid()
    out: set[int] = set()
    for tid in os.listdir(f"/proc/{me}/task"):
        try:
            with open(f"/proc/{me}/task/{tid}/children") as f:
                out |= {int(x) for x in f.read().split()}
        except OSError:
            pass
    return out


def _nfds(pid: int | str = "self") -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def within(seconds: float, fn: Callable[[], object]) -> tuple[bool, object]:
    """(returned in time, its value or exception): fn run in a daemon thread."""
    box: dict = {}

    def go() -> None:
        try:
            box["v"] = fn()
        except BaseException as ex:  # noqa: BLE001 - reported to the caller
            box["v"] = ex

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive(), box.get("v")


def _kill(pid: int) -> None:
    for sig in (signal.SIGCONT, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def _reap(pid: int, timeout: float = 10.0) -> int | None:
    """The wait status of child `pid` within `timeout` (None: not ours, or still running)."""
    end = time.monotonic() + timeout
    while True:
        try:
            done, st = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return st
        if time.monotonic() > end:
            return None
        time.sleep(0.005)


# -- the campaign's procd and targets -----------------------------------------------------------


class Procd:
    """`native-proc serve --socket DIR/procd.sock` as a subprocess; `public` makes it reachable
    by every uid (a 0755 directory, a 0777 socket), as a root procd in a shared place is."""

    def __init__(self, dir_: str, public: bool = False) -> None:
        self.dir = dir_
        self.path = os.path.join(dir_, "procd.sock")
        self.errpath = os.path.join(os.path.dirname(dir_), os.path.basename(dir_) + ".err")
        env = {k: v for k, v in os.environ.items() if k != npc.ENV}
        env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
        with open(self.errpath, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "native_proc.cli", "serve", "--socket", self.path],
                                         stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True,
                                         cwd=REPO, env=env)
        try:
            ready = select.select([self.proc.stdout], [], [], 30)[0]
            line = self.proc.stdout.readline().strip() if ready else ""
            if line != f"{npc.ENV}={self.path}":
                raise RuntimeError(f"procd did not start: {line!r} {self.log()}")
            if public:
                os.chmod(dir_, 0o755)
                os.chmod(self.path, 0o777)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        try:
            with open(self.errpath) as f:
                return f.read()
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def guardian(self) -> int | None:
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            return None
        return kids[0] if len(kids) == 1 else None

    def kill(self) -> bool:
        """SIGKILL, reaped; its guardian (handed to us as subreaper) reaped too: whether the
        guardian was there and exited 0 (it disarms what procd had armed, then leaves)."""
        gpid = _until(self.guardian, 2)
        host.prctl(PR_SET_CHILD_SUBREAPER, 1)
        try:
            self.proc.kill()
            self.proc.wait(timeout=10)
            st = _reap(int(gpid)) if gpid else None
            return st is not None and os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0
        finally:
            host.prctl(PR_SET_CHILD_SUBREAPER, 0)

    def leftovers(self) -> list[str]:
        """What a stopped procd left in its directory beyond the address's lock (which stays:
        a successor must lock the same file)."""
        try:
            names = os.listdir(self.dir)
        except OSError:
            return []
        return [os.path.join(self.dir, n) for n in names if not n.endswith(".lock")]

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


@contextlib.contextmanager
def using(path: str) -> Iterator[None]:
    """$NATIVE_PROC_SOCKET = path and a fresh client session (what lx uses too); restored after."""
    old_env, old_session = os.environ.get(npc.ENV), npc._session
    os.environ[npc.ENV] = path
    npc._session = npc._Session()
    try:
        yield
    finally:
        mine, npc._session = npc._session, old_session
        if mine.sock is not None:
            mine.sock.close()
        if old_env is None:
            os.environ.pop(npc.ENV, None)
        else:
            os.environ[npc.ENV] = old_env


@dataclass
class Target:
    proc: subprocess.Popen
    addr: int
    hits: int = 0  # the address of the count of signals caught

    @property
    def pid(self) -> int:
        return self.proc.pid


@dataclass
class Campaign:
    """The campaign's directory, compiled target, procd and every process started."""

    root: str
    exe: str
    procd: Procd | None = None
    targets: list[Target] = field(default_factory=list)
    others: list[int] = field(default_factory=list)  # forked tracers, uid probes

    def spawn(self, mode: str = "spin") -> Target:
        p = subprocess.Popen([self.exe, mode], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        t = Target(p, 0)
        self.targets.append(t)
        ready = select.select([p.stdout], [], [], 10)[0]
        line = p.stdout.readline().split() if ready else []
        p.stdout.close()
        if line[:1] != ["ready"]:
            raise RuntimeError(f"target {mode} did not start")
        t.addr, t.hits = int(line[1], 16), int(line[2], 16)
        return t

    def finish(self, t: Target) -> None:
        _kill(t.pid)
        try:
            t.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if t in self.targets:
            self.targets.remove(t)

    logged_errors: int = 0  # procd's catch-all errors, over every procd this campaign ran
    leaked: list[str] = field(default_factory=list)  # files a cleanly stopped procd left
    uid_answers: dict = field(default_factory=dict)  # other_uid's raw answers (kernel and procd)

    def restart_procd(self) -> Procd:
        if self.procd is not None:
            clean = self.procd.alive()  # a killed one leaves its socket to its successor
            self.procd.stop()
            self.logged_errors += self.procd.log().count("unexpected error")
            if clean:
                self.leaked += self.procd.leftovers()
        self.procd = Procd(os.path.join(self.root, "procd"))
        return self.procd


@contextlib.contextmanager
def campaign() -> Iterator[Campaign]:
    """A fresh 0700 directory with the target built and a procd serving there; everything
    killed by pid and the directory removed on the way out."""
    root = tempfile.mkdtemp(prefix="lxbrand-reliability-")
    c = None
    try:
        os.chmod(root, 0o700)
        src, exe = os.path.join(root, "target.c"), os.path.join(root, "target")
        with open(src, "w") as f:
            f.write(TARGET)
        subprocess.run(["gcc", "-O1", "-o", exe, src], check=True)
        c = Campaign(root, exe)
        c.restart_procd()
        with using(c.procd.path):
            yield c
    finally:
        if c is not None:
            for pid in c.others:
                _kill(pid)
                _reap(pid, 5)
            for t in list(c.targets):
                c.finish(t)
            if c.procd is not None:
                c.procd.stop()
                c.logged_errors += c.procd.log().count("unexpected error")
                c.leaked += c.procd.leftovers()
        shutil.rmtree(root, ignore_errors=True)


def _released(t: Target, timeout: float = 5.0) -> bool:
    """The target is untraced and, after a SIGCONT (a fuzzed SIGSTOP is a job-control stop
    Linux would leave too), not stopped: what 'run on' means when nothing controls it."""
    if _zombie_or_gone(t.pid):
        return True
    if not _until(lambda: host_state(t.pid)[1] == 0 or _zombie_or_gone(t.pid), timeout):
        return False
    try:
        os.kill(t.pid, signal.SIGCONT)
    except OSError:
        return True
    return bool(_until(lambda: host_state(t.pid)[0] not in ("t", "T"), 2.0))


# -- ctl fuzz ------------------------------------------------------------------------------------

_CODES = sorted({int(c) for c in PC} | {int(c) for c in PCX})
_WAITS = {int(PC.PCWSTOP)}


def _size(code: int) -> int | None:
    try:
        return CTL_OPERANDS["amd64"][code].sizeof()
    except Exception:  # noqa: BLE001 - a variable-size operand (PCSXREG, PCSCREDX, PCSPRIV)
        return None


_SIZES = {c: _size(c) for c in _CODES}
_LONGS = [0, 1, 2, 5, 9, 15, 17, 19, 0x10, 0x1F, 0x100000, 0x200000, 0x400000, 0x800000, 0x2000000, 0x4000000]


def _operand(rng: random.Random, code: int) -> bytes:
    n = _SIZES[code]
    if n is None:
        return rng.randbytes(rng.randrange(600))
    if n == 8:
        v = rng.choice([rng.randrange(-3, 80), rng.choice(_LONGS), rng.getrandbits(64)])
        return (v & _U64).to_bytes(8, "little")
    return rng.randbytes(n)


def _stream(messages: list[tuple[int, bytes]]) -> bytes:
    out = b""
    for code, operand in messages:
        out += b"\0" * (-len(out) % 8) + (code & _U64).to_bytes(8, "little") + operand
    return out


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        how = rng.randrange(4)
        if how == 0 and b:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif how == 1 and b:
            del b[rng.randrange(len(b)):]
        elif how == 2:
            b += rng.randbytes(rng.randrange(1, 24))
        elif b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b) or b"\0"


def fuzz_payload(rng: random.Random) -> bytes:
    """One ctl write: random bytes, arbitrary code words with random tails, whole messages
    with random operands (also after a PCSTOP, so handlers needing a stopped LWP run), or a
    mutation of whole messages."""
    def wellformed(k: int) -> list[tuple[int, bytes]]:
        return [(c, _operand(rng, c)) for c in (rng.choice(_CODES) for _ in range(k))]

    kind = rng.randrange(5)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 600))
    if kind == 1:
        return _stream([(rng.choice([rng.choice(_CODES), rng.getrandbits(64)]), rng.randbytes(rng.randrange(64)))
                        for _ in range(rng.randrange(1, 5))])
    if kind == 2:
        return _stream(wellformed(rng.randrange(1, 7)))
    if kind == 3:
        return _stream([(int(PC.PCSTOP), b"")] + wellformed(rng.randrange(1, 6)))
    return _mutate(rng, _stream(wellformed(rng.randrange(1, 5))))


def sendable(data: bytes) -> bool:
    """Not a message that waits by design (PCWSTOP, PCTWSTOP but for 1..50 ms: <= 0 waits
    forever, as on Solaris) nor one that clears
    PR_RLC (a controller asking to leave the target stopped), as procd will read the write."""
    msgs, _ = decode_ctl("amd64", data)
    for code, op in msgs:
        if code in _WAITS or (code == PC.PCTWSTOP and not (isinstance(op, int) and 0 < op <= 50)):
            return False
        if code == PC.PCUNSET and isinstance(op, int) and op & PR_RLC:
            return False
    return True


@dataclass
class FuzzFigures:
    writes: int = 0
    targets: int = 0
    crashes: int = 0
    hangs: int = 0
    errors_logged: int = 0
    left_stopped: int = 0
    seconds: float = 0.0
    hung: list[str] = field(default_factory=list)  # what each hanging write's messages were
    jobstop_waits: int = 0  # PCSTOP waits on a job-control-stopped target (Solaris waits too)


_PST = codec(PSTATUS["amd64"])
PR_JOBCONTROL = 5


def _job_stopped(t: Target) -> bool:
    """procd shows the target's representative LWP job-control stopped (bounded look)."""
    def why() -> int:
        with npc.open(f"{t.pid}/status") as s:
            return _PST.decode(s.read())["pr_lwp"]["pr_why"]

    ok, v = within(5, why)
    return ok and v == PR_JOBCONTROL


def _messages(data: bytes) -> str:
    msgs, err = decode_ctl("amd64", data)
    names = [PC(c).name if c in PC._value2member_map_ else hex(c) for c, _ in msgs]
    return " ".join(names) + (f" + {err}" if err else "")


def _procd_answers(c: Campaign) -> bool:
    if c.procd is None or not c.procd.alive():
        return False
    ok, v = within(10, lambda: npc.open(f"{os.getpid()}/status").close())
    return ok and not isinstance(v, BaseException)


def ctl_fuzz(c: Campaign, writes: int, ntargets: int, seed: int = 19, limit_s: float = 120.0) -> FuzzFigures:
    """`writes` fuzzed ctl writes spread over `ntargets` targets (a third started stopped by
    PCSTOP), each write bounded by _WRITE_BOUND_S; each target released by its last close and
    checked on the host."""
    rng = random.Random(seed)
    fig = FuzzFigures()
    t0 = time.monotonic()
    per = max(1, writes // ntargets)
    modes = ["spin", "syscalls", "pause", "int3"]
    for i in range(ntargets):
        if time.monotonic() - t0 > limit_s or fig.crashes:
            break
        t = c.spawn(modes[i % len(modes)])
        fig.targets += 1
        f = npc.open(f"{t.pid}/ctl", os.O_WRONLY)
        try:
            f.write(ctl((PC.PCSET, PR_RLC)) + (ctl((PC.PCSTOP, None)) if i % 3 == 0 else b""), timeout=_WRITE_BOUND_S)
            for _ in range(per):
                data = fuzz_payload(rng)
                for _ in range(20):  # bounded: almost every payload is sendable at once
                    if sendable(data):
                        break
                    data = fuzz_payload(rng)
                else:
                    continue
                fig.writes += 1
                try:
                    f.write(data, timeout=_WRITE_BOUND_S)
                except (TimeoutError, socket.timeout):
                    if _job_stopped(t):
                        # Solaris's PCSTOP waits for a job-control-stopped LWP until SIGCONT
                        # restarts it (its directive then stops it PR_REQUESTED): a wait by
                        # design, ended here so that the campaign goes on
                        fig.jobstop_waits += 1
                        os.kill(t.pid, signal.SIGCONT)
                        continue
                    fig.hangs += 1
                    fig.hung.append(f"{t.proc.args[1]} target: {_messages(data)} ({data.hex()})")
                except OSError:
                    pass  # an errno: the answer to bad input
                if not c.procd.alive():
                    break
                if _zombie_or_gone(t.pid):
                    break  # killed by the fuzz (PCKILL, PR_KLC): the rest on the next target
        finally:
            f.close()
        if not _procd_answers(c):
            fig.crashes += 1
            c.restart_procd()
            npc._session = npc._Session()
            os.environ[npc.ENV] = c.procd.path
            continue
        if not _released(t):
            fig.left_stopped += 1
        c.finish(t)
    while fig.writes < writes and time.monotonic() - t0 < limit_s and not fig.crashes:
        # the targets the fuzz killed early left writes over: one more target takes them
        sub = ctl_fuzz(c, writes - fig.writes, 1, seed=rng.getrandbits(32), limit_s=limit_s)
        for k in ("writes", "targets", "crashes", "hangs", "left_stopped", "hung", "jobstop_waits"):
            setattr(fig, k, getattr(fig, k) + getattr(sub, k))
        if sub.writes == 0:
            break
    fig.errors_logged = c.procd.log().count("unexpected error") if c.procd else 0
    fig.seconds = time.monotonic() - t0
    return fig


# -- SIGKILL of procd and of the tracer at each kind of stop ------------------------------------

KINDS = ("requested", "syscall-entry", "syscall-exit", "breakpoint", "signal", "watched")
_MODE = {"requested": "spin", "syscall-entry": "syscalls", "syscall-exit": "syscalls", "breakpoint": "int3",
         "signal": "spin", "watched": "spin"}


_HELD: list = []


def _native_stop(t: Target, kind: str) -> str:
    """In the tracer: take the target with /proc (PR_RLC, as a debugger does) and bring it to
    a stop of `kind`; its pr_why/pr_what as text."""
    getpid = sysset(NR64["getpid"])
    f = npc.open(f"{t.pid}/ctl", os.O_WRONLY)
    setup = {
        "requested": [(PC.PCSTOP, None)],
        "syscall-entry": [(PC.PCSTOP, None), (PC.PCSENTRY, getpid), (PC.PCRUN, 0), (PC.PCWSTOP, None)],
        "syscall-exit": [(PC.PCSTOP, None), (PC.PCSEXIT, getpid), (PC.PCRUN, 0), (PC.PCWSTOP, None)],
        "breakpoint": [(PC.PCSTOP, None), (PC.PCSFAULT, fltset(FLT.FLTBPT)), (PC.PCRUN, 0), (PC.PCWSTOP, None)],
        "signal": [(PC.PCSTRACE, sigset(SOL_SIGUSR2))],
        "watched": [(PC.PCSFAULT, fltset(FLT.FLTWATCH)), (PC.PCWATCH, {"pr_vaddr": t.addr, "pr_size": 8,
                                  "pr_wflags": int(WA.WA_WRITE | WA.WA_TRAPAFTER), "pr_pad": 0}),
                    (PC.PCWSTOP, None)],
    }[kind]
    _HELD.append(f)  # the tracer holds it until it is killed (a collected file is a last close)
    f.write(ctl((PC.PCSET, PR_RLC), *setup), timeout=10)
    if kind == "signal":
        os.kill(t.pid, signal.SIGUSR2)
        f.write(ctl((PC.PCWSTOP, None)), timeout=10)
    with npc.open(f"{t.pid}/status") as s:
        lwp = _PST.decode(s.read())["pr_lwp"]
    return f"why {lwp['pr_why']} what {lwp['pr_what']}"


def _lx_stop(t: Target, kind: str) -> str:
    """In the tracer: ATTACH with lx_ptrace and bring the target to a stop of `kind`; the
    wait status as text."""
    from lxbrand import lx_ptrace, lx_wait4

    def wait() -> int:
        r, st = lx_wait4(t.pid, _WALL)
        if r != t.pid or not os.WIFSTOPPED(st):
            raise RuntimeError(f"wait gave {r}, {st:#x}")
        return st

    if lx_ptrace(PTRACE.ATTACH, t.pid, 0, 0):
        raise RuntimeError("ATTACH failed")
    st = wait()
    if kind in ("syscall-entry", "syscall-exit"):
        for _ in range(1 if kind == "syscall-entry" else 2):
            lx_ptrace(PTRACE.SYSCALL, t.pid, 0, 0)
            st = wait()
    elif kind == "breakpoint":
        lx_ptrace(PTRACE.CONT, t.pid, 0, 0)
        st = wait()
    elif kind == "signal":
        lx_ptrace(PTRACE.CONT, t.pid, 0, 0)
        os.kill(t.pid, signal.SIGUSR2)
        st = wait()
    elif kind == "watched":
        if lx_ptrace(PTRACE.POKEUSER, t.pid, DR0, t.addr) or lx_ptrace(PTRACE.POKEUSER, t.pid, DR7, DR7_W8):
            raise RuntimeError("POKEUSER of the debug registers failed")
        lx_ptrace(PTRACE.CONT, t.pid, 0, 0)
        st = wait()
    return f"status {st:#x}"


def _fork_tracer(c: Campaign, t: Target, backend: str, kind: str) -> tuple[int, str]:
    """A forked tracer brings `t` to the stop, says so on a pipe, then sleeps (bounded) to be
    killed: (its pid, what it said)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(r)
            try:
                said = "ok " + (_lx_stop if backend == "lx" else _native_stop)(t, kind)
            except BaseException as ex:  # noqa: BLE001
                said = f"error {ex!r}"
            os.write(w, said.encode())
            time.sleep(60)
        finally:
            os._exit(0)
    c.others.append(pid)
    os.close(w)
    out = b""
    end = time.monotonic() + 20
    with os.fdopen(r, "rb", buffering=0) as f:
        while time.monotonic() < end and select.select([f], [], [], max(0.0, end - time.monotonic()))[0]:
            chunk = f.read(4096)
            out += chunk
            if not chunk or out:
                break
    return pid, out.decode() or "no answer"


@dataclass
class KillFigures:
    cases: int = 0
    not_stopped: list[str] = field(default_factory=list)  # set-up failed: not counted as a case
    left_stopped: list[str] = field(default_factory=list)
    not_running: list[str] = field(default_factory=list)
    watch_left_armed: list[str] = field(default_factory=list)  # a watched target still trapping
    guardians_unclean: list[str] = field(default_factory=list)


def kill_at_stops(c: Campaign, rounds: int = 1, backends=("native", "lx"), killers=("tracer", "procd"),
                  kinds=KINDS, limit_s: float = 120.0) -> KillFigures:
    """For each killer, backend and kind of stop (`rounds` times): a target is brought to that
    stop by a forked tracer, then the tracer or procd is SIGKILLed; the target must be let go
    by the host (untraced, not in T/t) and run on (its counter moves)."""
    fig = KillFigures()
    t0 = time.monotonic()
    for _ in range(rounds):
        for killer in killers:
            for backend in backends:
                for kind in kinds:
                    if time.monotonic() - t0 > limit_s:
                        return fig
                    name = f"{killer} killed, {backend} tracer, {kind} stop"
                    t = c.spawn(_MODE[kind])
                    tracer, said = _fork_tracer(c, t, backend, kind)
                    try:
                        if not said.startswith("ok") or host_state(t.pid)[0] != "t":
                            fig.not_stopped.append(f"{name}: {said} state {host_state(t.pid)}")
                            continue
                        fig.cases += 1
                        if killer == "procd" and not c.procd.kill():
                            fig.guardians_unclean.append(name)
                        _kill(tracer)
                        _reap(tracer)
                        c.others.remove(tracer)
                        if killer == "procd":
                            c.restart_procd()
                            npc._session = npc._Session()
                            os.environ[npc.ENV] = c.procd.path
                        if not _until(lambda: host_state(t.pid)[1] == 0
                                      and host_state(t.pid)[0] not in ("t", "T"), 5.0):
                            fig.left_stopped.append(f"{name}: {host_state(t.pid)}")
                            continue
                        before = _counter(t.pid, t.addr)
                        if before is None or not _until(lambda: (_counter(t.pid, t.addr) or 0) > before, 3.0):
                            fig.not_running.append(f"{name}: {host_state(t.pid)}, exit {t.proc.poll()}")
                        elif kind == "watched" and (killer == "procd" or backend == "native"):
                            # procd's guardian (procd killed) and the last close (Solaris clears
                            # watched areas) both disarm: no trap may reach the target after
                            hits = _counter(t.pid, t.hits)
                            time.sleep(0.1)
                            if _counter(t.pid, t.hits) != hits:
                                fig.watch_left_armed.append(name)
                    finally:
                        if tracer in c.others:
                            _kill(tracer)
                            _reap(tracer)
                            c.others.remove(tracer)
                        c.finish(t)
    return fig


# -- many targets ----------------------------------------------------------------------------------


@dataclass
class ScaleFigures:
    targets: int = 0
    failed: int = 0
    left_stopped: int = 0
    dead_records: int = 0
    seconds: float = 0.0


def _records() -> list[int]:
    return [int(line.split(":")[0]) for line in npc.procd_status().splitlines() if line[:1].isdigit()]


def many_targets(c: Campaign, n: int) -> ScaleFigures:
    """`n` targets (blocked in pause) each opened, stopped, its status read, released; then
    killed: procd must keep no record of any of them (and left none stopped)."""
    fig = ScaleFigures()
    ts = [c.spawn("pause") for _ in range(n)]
    fig.targets = len(ts)
    t0 = time.monotonic()
    for t in ts:
        try:
            with npc.open(f"{t.pid}/ctl", os.O_WRONLY) as f:
                f.write(ctl((PC.PCSET, PR_RLC), (PC.PCSTOP, None)), timeout=_WRITE_BOUND_S)
                with npc.open(f"{t.pid}/status") as s:
                    if len(s.read()) < 64:
                        fig.failed += 1
        except OSError:
            fig.failed += 1
    fig.seconds = time.monotonic() - t0
    fig.left_stopped = sum(not _released(t, 2.0) for t in ts)
    mine = {t.pid for t in ts}
    for t in ts:
        c.finish(t)
    # procd hears of the deaths from the host: bounded look until they are dropped
    left = _until(lambda: not (set(_records()) & mine), 5.0)
    fig.dead_records = 0 if left else len(set(_records()) & mine)
    return fig


# -- attach/detach cycles --------------------------------------------------------------------------


@dataclass
class AttachFigures:
    cycles: int = 0
    failed: int = 0
    monitors_leaked: int = 0
    fds_leaked: int = 0
    procd_fds_leaked: int = 0
    seconds: float = 0.0


def attach_cycles(c: Campaign, n: int, limit_s: float = 60.0) -> AttachFigures:
    """`n` lx ATTACH / wait / DETACH cycles on one running target (after one warm-up cycle):
    our children, our descriptors and procd's afterwards are as before."""
    from lxbrand import lx_ptrace, lx_wait4

    fig = AttachFigures()
    t = c.spawn("spin")

    def cycle() -> bool:
        if lx_ptrace(PTRACE.ATTACH, t.pid, 0, 0):
            return False
        r, st = lx_wait4(t.pid, _WALL)
        return r == t.pid and os.WIFSTOPPED(st) and lx_ptrace(PTRACE.DETACH, t.pid, 0, 0) == 0

    try:
        if not cycle():
            raise RuntimeError("the warm-up ATTACH/DETACH failed")
        settle = lambda: _until(lambda: _children() <= kids0 | {t.pid}, 3.0)  # noqa: E731
        kids0 = {k for k in _children() if host_state(k)[0] not in ("Z", "")}
        time.sleep(0.1)
        fds0, pfds0 = _nfds(), _nfds(c.procd.pid)
        t0 = time.monotonic()
        for _ in range(n):
            if time.monotonic() - t0 > limit_s:
                break
            fig.cycles += 1
            fig.failed += not cycle()
        fig.seconds = time.monotonic() - t0
        settle()
        _until(lambda: _nfds() <= fds0 and _nfds(c.procd.pid) <= pfds0, 3.0)
        fig.monitors_leaked = len(_children() - kids0 - {t.pid})
        fig.fds_leaked = max(0, _nfds() - fds0)
        fig.procd_fds_leaked = max(0, _nfds(c.procd.pid) - pfds0)
        if not _released(t):
            fig.failed += 1
    finally:
        c.finish(t)
    return fig


# -- another uid -----------------------------------------------------------------------------------

NOBODY = 65534


def _errname(fn: Callable[[], object]) -> str:
    try:
        fn()
        return "ok"
    except OSError as ex:
        return errno.errorcode.get(ex.errno, str(ex.errno))


def _as_nobody(fn: Callable[[], dict], timeout: float = 30) -> tuple[int, dict]:
    """fn run in a forked child as uid/gid 65534: (child pid, its JSON result)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            host.prctl(PR_SET_DUMPABLE, 1)  # as a process that exec'd as this uid is (setuid cleared it)
            try:
                res = fn()
            except BaseException as ex:  # noqa: BLE001
                res = {"error": repr(ex)}
            os.write(w, json.dumps(res).encode())
        finally:
            os._exit(0)
    os.close(w)
    out = b""
    end = time.monotonic() + timeout
    with os.fdopen(r, "rb", buffering=0) as f:
        while time.monotonic() < end and select.select([f], [], [], max(0.0, end - time.monotonic()))[0]:
            chunk = f.read(65536)
            if not chunk:
                break
            out += chunk
    _kill(pid)
    _reap(pid, 5)
    return pid, json.loads(out or b'{"error": "no answer"}')


def _kernel_allows(pid: int) -> str:
    """The kernel's answer to this uid for control of `pid`: opening /proc/PID/mem (a
    PTRACE_MODE_ATTACH check)."""
    return _errname(lambda: os.close(os.open(f"/proc/{pid}/mem", os.O_RDONLY)))


def _procd_answers_for(pid: int) -> dict[str, str]:
    def ctl_write() -> None:
        with npc.open(f"{pid}/ctl", os.O_WRONLY) as f:
            f.write(ctl((PC.PCNULL, None)), timeout=5)

    def as_read() -> None:
        with npc.open(f"{pid}/as") as f:
            f.pread(8, 0)

    def status_read() -> None:
        with npc.open(f"{pid}/status") as f:
            f.read()

    return {"ctl": _errname(ctl_write), "status": _errname(status_read), "as": _errname(as_read),
            "lwpctl": _errname(lambda: npc.open(f"{pid}/lwp/1/lwpctl", os.O_WRONLY).close())}


_DENIED = ("EACCES", "EPERM")


def _denied(answer: str) -> bool:
    return answer in _DENIED


def other_uid(c: Campaign) -> tuple[int, list[str]]:
    """uid 65534 against root's procd (a private one, then one others may reach) and root's
    targets: (checks made, violations).  A violation is an answer through procd or lx that
    grants what the kernel refuses this uid, or refuses what the kernel grants it; EIO for
    'as' at address 0 counts as granted (the file was opened)."""
    if os.getuid() != 0:
        return 0, []
    violations: list[str] = []
    checks = 0
    root_t = c.spawn("spin")
    private = c.procd.path
    # (not in the run's private $TMPDIR: uid 65534 must be able to reach it)
    pubroot = tempfile.mkdtemp(prefix="lxbrand-reliability-pub-", dir=_outer_tmp[-1] if _outer_tmp else None)
    pub = None
    try:
        os.chmod(pubroot, 0o755)
        pub = Procd(os.path.join(pubroot, "procd"), public=True)

        def probe_private() -> dict:
            with using(private):
                return {"connect": _errname(lambda: npc.open(f"{os.getpid()}/status").close())}

        def probe_public() -> dict:
            peer = subprocess.Popen(["sleep", "30"])
            try:
                with using(pub.path):
                    out = {}
                    for who, pid in (("root", root_t.pid), ("self", os.getpid()), ("peer", peer.pid)):
                        out[who] = {"kernel": _kernel_allows(pid),
                                    "host_attach": _errname(lambda: host.ptrace(PTRACE.ATTACH, pid, 0, 0))
                                    if who == "root" else "",
                                    **_procd_answers_for(pid)}
                    from lxbrand import lx_ptrace
                    out["root"]["lx_attach"] = errno.errorcode.get(-lx_ptrace(PTRACE.ATTACH, root_t.pid, 0, 0), "ok")
                    out["listing"] = [int(x.split(":")[0]) for x in npc.procd_status().splitlines() if x[:1].isdigit()]
                    out["tidmap"] = _errname(lambda: npc.tidmap(root_t.pid))
                    out["shutdown"] = _errname(npc.shutdown)
                    out["peer"]["pid"] = peer.pid
                    return out
            finally:
                peer.kill()
                peer.wait()

        # root's procd first looks at the target, so it has a record others must not see
        with using(pub.path):
            held = npc.open(f"{root_t.pid}/status")
            _, res = _as_nobody(probe_private)
            checks += 1
            if res.get("connect") not in _DENIED:
                violations.append(f"private procd reachable by uid {NOBODY}: {res}")
            _, res = _as_nobody(probe_public)
            held.close()
        c.uid_answers = res
        if "error" in res:
            violations.append(f"probe failed: {res['error']}")
            return checks + 1, violations
        for who in ("root", "self", "peer"):
            got = res[who]
            kernel_denies = _denied(got["kernel"])
            for what in ("ctl", "status", "as", "lwpctl"):
                checks += 1
                answer = got[what]
                if answer == "EIO" and what == "as":
                    answer = "ok"  # opened; nothing mapped at 0
                if _denied(answer) != kernel_denies:
                    violations.append(f"{who} {what}: procd {got[what]}, kernel {got['kernel']}")
        for what in ("host_attach", "lx_attach"):
            checks += 1
            if res["root"][what] != "EPERM":
                violations.append(f"root {what}: {res['root'][what]} (the kernel: EPERM)")
        checks += 3
        if set(res["listing"]) - {res["peer"]["pid"]}:
            violations.append(f"STATUS lists others' processes: {res['listing']}")
        if res["tidmap"] != "ESRCH":
            violations.append(f"TIDMAP of root's process: {res['tidmap']}")
        if res["shutdown"] != "EPERM" or not pub.alive():
            violations.append(f"SHUTDOWN: {res['shutdown']}, procd alive {pub.alive()}")
        return checks, violations
    finally:
        if pub is not None:
            pub.stop()
            c.leaked += pub.leftovers()
            c.logged_errors += pub.log().count("unexpected error")
        shutil.rmtree(pubroot, ignore_errors=True)
        c.finish(root_t)


# -- leaked files ----------------------------------------------------------------------------------


_outer_tmp: list[str] = []  # the temporary directory outside the run's private one


@contextlib.contextmanager
def private_tmpdir() -> Iterator[tuple[str, list[str]]]:
    """$TMPDIR (and tempfile's) pointed at a fresh 0700 directory for the run, so that what
    the run leaves there is the run's own (other work on the machine writes /tmp meanwhile):
    (the directory, the paths left in it, filled in on the way out); removed afterwards."""
    tmp = tempfile.mkdtemp(prefix="lxbrand-reliability-tmp-")
    left: list[str] = []
    old_env, old_tempdir = os.environ.get("TMPDIR"), tempfile.tempdir
    _outer_tmp.append(tempfile.gettempdir())
    os.environ["TMPDIR"], tempfile.tempdir = tmp, tmp
    try:
        yield tmp, left
    finally:
        _outer_tmp.pop()
        if old_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old_env
        tempfile.tempdir = old_tempdir
        for d, dirs, files in os.walk(tmp):
            left += [os.path.join(d, n) for n in dirs + files]
        shutil.rmtree(tmp, ignore_errors=True)


# -- the figures -----------------------------------------------------------------------------------


def _line(label: str, value: int, detail: str = "") -> bool:
    ok = value == 0
    print(f"  {label:<58} {value:6d}  (target 0: {'met' if ok else 'MISSED'}){detail}")
    return ok


def run(quick: bool) -> int:
    """Every campaign, one line per figure; the number of figures that missed their target."""
    if not shutil.which("gcc"):
        print("  (gcc missing: skipped)")
        return 0
    n_fuzz, n_targets, n_fuzzed, n_cycles, rounds = (10_000, 200, 24, 100, 1) if quick else (50_000, 1000, 96, 1000, 3)
    missed = 0
    with private_tmpdir() as (_, left), campaign() as c:
        f = ctl_fuzz(c, n_fuzz, n_fuzzed)
        print(f"  ctl fuzz: {f.writes} writes on {f.targets} targets in {f.seconds:.1f} s")
        missed += not _line("ctl fuzz: procd crashes", f.crashes)
        missed += not _line(f"ctl fuzz: hangs (a write over {_WRITE_BOUND_S:g} s)", f.hangs)
        missed += not _line("ctl fuzz: unexpected errors in procd's log", f.errors_logged)
        missed += not _line("ctl fuzz: targets left stopped after release", f.left_stopped)
        missed += not _line("ctl fuzz: writes short of the count asked", max(0, n_fuzz - f.writes))

        k = kill_at_stops(c, rounds)
        print(f"  SIGKILL at stops: {k.cases} cases ({rounds} x 2 killers x 2 tracers x {len(KINDS)} kinds)")
        missed += not _line("SIGKILL at stops: stops not reached (set-up failed)", len(k.not_stopped),
                            "".join(f"\n      {x}" for x in k.not_stopped))
        missed += not _line("SIGKILL at stops: targets left stopped", len(k.left_stopped),
                            "".join(f"\n      {x}" for x in k.left_stopped))
        missed += not _line("SIGKILL at stops: targets dead or not running on", len(k.not_running),
                            "".join(f"\n      {x}" for x in k.not_running))
        missed += not _line("SIGKILL at stops: watched targets still trapping", len(k.watch_left_armed),
                            "".join(f"\n      {x}" for x in k.watch_left_armed))
        missed += not _line("SIGKILL of procd: guardians not exited cleanly", len(k.guardians_unclean),
                            "".join(f"\n      {x}" for x in k.guardians_unclean))

        s = many_targets(c, n_targets)
        print(f"  {s.targets} targets opened, stopped, read, released in {s.seconds:.2f} s")
        missed += not _line(f"{s.targets} targets: failed", s.failed)
        missed += not _line(f"{s.targets} targets: left stopped", s.left_stopped)
        missed += not _line(f"{s.targets} targets: records of dead processes kept", s.dead_records)

        a = attach_cycles(c, n_cycles)
        print(f"  {a.cycles} lx ATTACH/DETACH cycles in {a.seconds:.2f} s")
        missed += not _line("attach/detach: failed cycles", a.failed)
        missed += not _line("attach/detach: monitors leaked", a.monitors_leaked)
        missed += not _line("attach/detach: descriptors leaked (here)", a.fds_leaked)
        missed += not _line("attach/detach: descriptors leaked (procd)", a.procd_fds_leaked)

        if os.getuid() == 0:
            checks, v = other_uid(c)
            print(f"  uid {NOBODY}: {checks} checks against the kernel's answers")
            missed += not _line(f"uid {NOBODY}: violations", len(v), "".join(f"\n      {x}" for x in v))
        else:
            print(f"  uid {NOBODY}: skipped (needs root)")
        crashed = 0 if c.procd.alive() else 1
        missed += not _line("procd gone at the end", crashed)
    missed += not _line("procd: unexpected errors logged (every procd of the run)", c.logged_errors)
    leaked = sorted(set(left) | set(c.leaked))
    missed += not _line("leaked files (temp dirs, sockets, snapshots)", len(leaked),
                        "".join(f"\n      {x}" for x in leaked))
    return missed


if __name__ == "__main__":
    sys.exit(1 if run("--quick" in sys.argv or os.environ.get("BENCH_QUICK") == "1") else 0)
