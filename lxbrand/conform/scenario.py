"""Scenarios and their observation logs.

A scenario is a function `(backend, targets) -> None`, registered with `@scenario("group/name")`,
written once against the backend interface (backend.py).  It records what a debugger would observe
through `backend.obs`, an `Obs`: every entry is a short line of text, and two runs agree when their
lines are equal.  Nothing is dropped silently: values that legitimately differ between runs are
named in the log (`obs.regs(..., volatile=...)` records which registers it did not compare), and
pids, which differ between runs by nature, are written as names wherever they appear as a wait
result, a register, a word or an event message: the target is `<pid>`, the scenario process
`<tracer>`, and every other pid or tid the scenario learns (GETEVENTMSG, a wait result, a tid a
thread stored) gets a name of its kind numbered in the order it was learned (`<child1>`,
`<thread1>` ...; `Obs.learn`).  Names depend only on the order of events, which the scenarios
keep deterministic (they wait for specific pids).

`Dbg` is a small debugger on top of a backend that records as it goes; most scenarios use it.
"""

from __future__ import annotations

import errno
import os
import signal
import struct
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from structs.ptrace_consts import PTRACE

# -- bounded waits -------------------------------------------------------------------------------
# An expected event takes milliseconds on an idle machine; on a busy 2-core CI box (other jobs,
# two `yes` loops) a runnable tracee can wait seconds for a CPU.  Every wait for an event that
# must come is bounded, but generously, and LXBRAND_WAIT_SCALE multiplies the bounds (a slow CI).
# The bound is only spent when the event never comes, so a generous one costs nothing when the
# judged side is right.


def wait_scale() -> float:
    """The factor LXBRAND_WAIT_SCALE asks for (default 1; a bad value is 1, never a crash)."""
    try:
        v = float(os.environ.get("LXBRAND_WAIT_SCALE", "") or 1.0)
    except ValueError:
        return 1.0
    return v if v > 0 else 1.0


def bound(seconds: float) -> float:
    """`seconds` (the idle-machine bound, already generous) scaled for this run."""
    return seconds * wait_scale()


def waited_text(timeout: float, started: float, pid: int | None = None) -> str:
    """'within 15 s (waited 15.0 s, load average 3.1; <pid> is T (tracing stop), tracer 123)':
    what a failure message says of a wait, with the host's view of the awaited process."""
    import time

    try:
        load = f", load average {os.getloadavg()[0]:.1f}"
    except OSError:
        load = ""
    return f"within {timeout:g} s (waited {time.monotonic() - started:.2f} s{load}{host_view(pid)})"


def host_view(pid: int | None) -> str:
    """'; the process is T (tracing stop), tracer 123': the host's State and TracerPid of `pid`,
    so that a missing report can be told from a process that never stopped."""
    if pid is None or pid <= 0:
        return ""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError as e:
        return f"; the process is gone ({e.strerror})"
    return (f"; the process is {fields.get('State', '?').strip()}, "
            f"tracer {fields.get('TracerPid', '?').strip()}, we are {os.getpid()}, pending "
            f"{fields.get('SigPnd', '?').strip()}/{fields.get('ShdPnd', '?').strip()}, "
            f"blocked {fields.get('SigBlk', '?').strip()})")

__all__ = ["Obs", "scenario", "SCENARIOS", "Scenario", "Dbg", "REG_NAMES", "status_text", "errname",
           "signame"]

_PID_REGS = frozenset({"rax", "rdi", "rsi", "eax", "ebx", "ecx"})
REG_NAMES = ("r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax "
             "rip cs eflags rsp ss fs_base gs_base ds es fs gs").split()
_REGS = struct.Struct("<27Q")
_REQ_NAMES = {int(v): k for k, v in PTRACE.__members__.items()}


def errname(ret: int) -> str:
    """0 -> "0"; -5 -> "-EIO"; anything else as a number."""
    if ret < 0 and -ret in errno.errorcode:
        return "-" + errno.errorcode[-ret]
    return str(ret)


def signame(sig: int) -> str:
    if 32 <= sig <= 64:
        return f"SIG{sig}" if sig < 34 else f"SIGRTMIN+{sig - 34}" if sig < 64 else "SIGRTMAX"
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def status_text(status: int) -> str:
    """A wait status as words: "stopped SIGTRAP", "exited 0", "signaled SIGKILL (core)" ..."""
    if os.WIFSTOPPED(status):
        sig = os.WSTOPSIG(status)
        text = f"stopped {signame(sig & 0x7F)}" + ("|0x80" if sig & 0x80 else "")
        if status >> 16:
            text += f" event {status >> 16}"
        return text
    if os.WIFEXITED(status):
        return f"exited {os.WEXITSTATUS(status)}"
    if os.WIFSIGNALED(status):
        return f"signaled {signame(os.WTERMSIG(status))}" + (" (core)" if os.WCOREDUMP(status) else "")
    if os.WIFCONTINUED(status):
        return "continued"
    return f"status {status:#x}"


class Obs:
    """The observation log of one run of one scenario."""

    def __init__(self) -> None:
        self.entries: list[str] = []
        self.pids: dict[int, str] = {}
        self._kinds: dict[str, int] = {}

    def alias(self, pid: int, name: str = "<pid>") -> None:
        """Write `pid` as `name` wherever it appears (pids differ between runs by nature)."""
        self.pids[pid] = name

    def learn(self, pid: int, kind: str = "child") -> str:
        """Name a pid/tid the scenario has just learned: `<kind1>`, `<kind2>` ... in the order
        learned (per kind).  A pid that already has a name keeps it; a value that cannot be a
        pid (<= 0) gets no name and is written as the number, so a wrong answer still shows."""
        if pid in self.pids:
            return self.pids[pid]
        if not isinstance(pid, int) or pid <= 0:
            return str(pid)
        self._kinds[kind] = self._kinds.get(kind, 0) + 1
        name = f"<{kind}{self._kinds[kind]}>"
        self.pids[pid] = name
        return name

    def _v(self, v: Any) -> str:
        if isinstance(v, int) and not isinstance(v, bool):
            if v in self.pids:
                return self.pids[v]
            return self._num(v)
        return repr(v)

    @staticmethod
    def _num(v: Any) -> str:
        if isinstance(v, int) and not isinstance(v, bool):
            return hex(v) if abs(v) > 9 else str(v)
        return repr(v)

    def note(self, text: str) -> None:
        self.entries.append(text)

    def call(self, name: str, ret: int) -> None:
        self.entries.append(f"{name} -> {errname(ret)}")

    def status(self, status: int, label: str = "status") -> None:
        self.entries.append(f"{label}: {status_text(status)}")

    def wait(self, ret: int, status: int, label: str = "wait") -> None:
        """A wait's answer; a pid seen here for the first time is learned as `<childN>`."""
        if ret > 0:
            self.entries.append(f"{label} -> {self.learn(ret)} {status_text(status)}")
        elif ret == 0:
            self.entries.append(f"{label} -> 0 (nothing)")
        else:
            self.entries.append(f"{label} -> {errname(ret)}")

    def value(self, name: str, v: Any) -> None:
        self.entries.append(f"{name} = {self._v(v)}")

    def bytes(self, name: str, b: bytes | None) -> None:
        self.entries.append(f"{name} = {b.hex() if b is not None else None}")

    def regs(self, regs: dict[str, int] | None, volatile: Iterable[str] = (), label: str = "regs") -> None:
        """Record a register set; the `volatile` names are listed as not compared (never dropped)."""
        if regs is None:
            self.entries.append(f"{label} = None")
            return
        vol = sorted(set(volatile) & set(regs))
        # Only registers that can carry a pid (a call's result and first arguments) are named:
        # another register that happens to equal a pid (an fd of 1000 ...) stays a number.
        body = " ".join(f"{k}={self._v(v) if k in _PID_REGS else self._num(v)}"
                        for k, v in regs.items() if k not in vol)
        self.entries.append(f"{label}: {body}" + (f" [not compared: {','.join(vol)}]" if vol else ""))

    def error(self, exc: BaseException) -> None:
        self.entries.append(f"exception: {type(exc).__name__}: {exc}")


@dataclass
class Scenario:
    name: str
    fn: Callable[[Any, Any], None]
    doc: str = ""

    @property
    def group(self) -> str:
        return self.name.split("/", 1)[0]


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Callable], Callable]:
    """Register a scenario under "group/name"."""

    def deco(fn: Callable) -> Callable:
        if name in SCENARIOS:
            raise ValueError(f"scenario {name} registered twice")
        SCENARIOS[name] = Scenario(name, fn, (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return deco


# -- a recording debugger -------------------------------------------------------------------------


def s64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


@dataclass
class Dbg:
    """A debugger over `backend` that writes what it sees into `backend.obs`."""

    b: Any
    targets: Any
    obs: Obs = field(init=False)

    def __post_init__(self) -> None:
        self.obs = self.b.obs
        self.obs.alias(os.getpid(), "<tracer>")

    # starting
    def traceme(self, mode: str = "idle", to_a: bool = True, prog: str = "conf", name: str = "<pid>") -> int:
        """A TRACEME target (program `prog`) in `mode`, named `name` in the log, stopped at its
        exec (recorded) and, with to_a, run on to checkpoint A (recorded)."""
        pid = self.b.spawn_traceme(self.targets.argv(mode, prog))
        self.obs.alias(pid, name)
        st = self.b.last_spawn_status
        self.obs.note(f"exec stop: {status_text(st) if st is not None else 'no stop reported'}")
        if to_a:
            self.cont(pid)
            self.wait(pid)
        return pid

    def plain(self, mode: str = "attachee", prog: str = "conf", name: str = "<pid>", settle: bool = True) -> int:
        """An untraced child running `prog` `mode`, named `name`; with settle, once it sleeps."""
        pid = self.b.spawn_plain(self.targets.argv(mode, prog), settle=settle)
        self.obs.alias(pid, name)
        return pid

    def learn(self, pid: int, kind: str = "child") -> str:
        """Name a pid/tid learned from the tracee (Obs.learn) and have the backend reap it at
        cleanup (a traced thread or an auto-attached child is ours to wait for)."""
        if isinstance(pid, int) and pid > 0:
            self.b.adopt(pid)
        return self.obs.learn(pid, kind)

    # requests
    def pt(self, req: int, pid: int, addr: Any = 0, data: Any = 0, label: str | None = None) -> int:
        r = self.b.ptrace(req, pid, addr, data)
        self.obs.call(label or f"{_REQ_NAMES.get(req, req)}({self._a(addr)}, {self._a(data)})", r)
        return r

    def _a(self, v: Any) -> str:
        if isinstance(v, int):
            return self.obs._v(v)
        return f"buf[{len(v)}]" if hasattr(v, "__len__") else type(v).__name__

    def peek(self, req: int, pid: int, addr: int, label: str | None = None) -> int | None:
        r, w = self.b.peek(req, pid, addr)
        name = label or f"{_REQ_NAMES.get(req, req)}({self.obs._v(addr)})"
        text = "" if w is None else f" word={self.obs.pids.get(w) or f'{w:#018x}'}"
        self.obs.entries.append(f"{name} -> {errname(r)}{text}")
        return w

    def peekdata(self, pid: int, addr: int, label: str | None = None) -> int | None:
        return self.peek(PTRACE.PEEKDATA, pid, addr, label)

    def peekuser(self, pid: int, off: int, label: str | None = None) -> int | None:
        return self.peek(PTRACE.PEEKUSER, pid, off, label or f"PEEKUSER({off})")

    def pokeuser(self, pid: int, off: int, value: int, label: str | None = None) -> int:
        return self.pt(PTRACE.POKEUSER, pid, off, value, label or f"POKEUSER({off}, {value:#x})")

    def getregs(self, pid: int, record: bool = False, volatile: Iterable[str] = ()) -> dict[str, int] | None:
        buf = bytearray(_REGS.size)
        r = self.b.ptrace(PTRACE.GETREGS, pid, 0, buf)
        if r != 0:
            self.obs.call("GETREGS", r)
            return None
        regs = dict(zip(REG_NAMES, _REGS.unpack(buf)))
        if record:
            self.obs.regs(regs, volatile)
        return regs

    def setregs(self, pid: int, regs: dict[str, int], label: str = "SETREGS") -> int:
        buf = bytearray(_REGS.pack(*(regs[n] & ((1 << 64) - 1) for n in REG_NAMES)))
        return self.pt(PTRACE.SETREGS, pid, 0, buf, label)

    def cont(self, pid: int, sig: int = 0, req: int = PTRACE.CONT) -> int:
        name = _REQ_NAMES.get(req, req)
        return self.pt(req, pid, 0, sig, f"{name}({signame(sig) if sig else 0})")

    def step(self, pid: int, sig: int = 0) -> int:
        return self.cont(pid, sig, PTRACE.SINGLESTEP)

    def syscall(self, pid: int, sig: int = 0) -> int:
        return self.cont(pid, sig, PTRACE.SYSCALL)

    def wait(self, pid: int, options: int = 0, timeout: float | None = None) -> int:
        """wait4, recorded; the status, or -1.  With `timeout`, poll with WNOHANG for at most that
        long (for waits that would block forever if the judged side diverged) and record the same
        line a blocking wait would, or "nothing" when the time ran out."""
        if timeout is None:
            ret, status = self.b.wait4(pid, options)
        else:
            import time

            deadline = time.monotonic() + timeout
            while True:
                ret, status = self.b.wait4(pid, options | 1)
                if ret != 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.002)
        self.obs.wait(ret, status)
        if ret > 0:  # a traced pid is ours to reap at cleanup; a dead one must not be signalled
            (self.b.disown if os.WIFEXITED(status) or os.WIFSIGNALED(status) else self.b.adopt)(ret)
        return status if ret == pid or (pid == -1 and ret > 0) else -1

    def run_to_b(self, pid: int) -> int:
        """From checkpoint A (or anywhere), CONT to the next stop, recorded."""
        self.cont(pid)
        return self.wait(pid)

    def finish(self, pid: int) -> None:
        """From checkpoint B: continue to the exit, recorded."""
        self.cont(pid)
        self.wait(pid)

    def sym(self, name: str, prog: str = "conf") -> int:
        return self.targets.sym(name, prog)
