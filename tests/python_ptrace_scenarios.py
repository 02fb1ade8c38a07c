"""python-ptrace debugger sessions, each run twice by tests/test_compat_python_ptrace.py: on the
host (python-ptrace as installed) and through lx (`lxbrand.python_ptrace.install()`).

    python -m tests.python_ptrace_scenarios host|lx SCENARIO EXE [MARKER SHARED]

prints what the session saw, one line per fact, with processes named by role (P0 the program,
P1... in the order python-ptrace announced them) and addresses relative to the target's
symbols, so that the two runs print the same text exactly when lx answers as Linux does.
EXE is the PYPT target of tests/targets.py; MARKER and SHARED are the addresses of its
`marker` and `shared` symbols.  Every loop is bounded; a session that runs out of steps says so.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

MODE, SCENARIO, EXE = sys.argv[1], sys.argv[2], sys.argv[3]
MARKER = int(sys.argv[4], 0) if len(sys.argv) > 4 else 0
SHARED = int(sys.argv[5], 0) if len(sys.argv) > 5 else 0

if MODE == "lx":
    import lxbrand.python_ptrace as lxpp

    lxpp.install()
    if SCENARIO not in ("errors",):
        # Issue 12 item 1: until procd is found at a well-known address, the tracer must reach
        # procd before createChild forks the child that will PTRACE_TRACEME.
        import lxbrand

        lxbrand.ensure_procd()

from ptrace import PtraceError  # noqa: E402
from ptrace.binding import func as F  # noqa: E402
from ptrace.debugger import (NewProcessEvent, ProcessExecution, ProcessExit,  # noqa: E402
                             ProcessSignal, PtraceDebugger)
from ptrace.debugger.child import createChild  # noqa: E402
from ptrace.debugger.process_error import ProcessError  # noqa: E402
from ptrace.func_call import FunctionCallOptions  # noqa: E402

MAX_EVENTS = 3000
names: dict[int, str] = {}
started: list[int] = []


def name(pid: int) -> str:
    if pid not in names:
        names[pid] = f"P{len(names)}"
    return names[pid]


def out(*words: object) -> None:
    print(*words, flush=True)


def exit_text(e: ProcessExit) -> str:
    return f"exit code={e.exitcode} signum={e.signum}"


def launch(dbg: PtraceDebugger, *args: str):
    pid = createChild([EXE, *args], no_stdout=True)
    started.append(pid)
    name(pid)
    return dbg.addProcess(pid, is_attached=True)


def s_launch(dbg: PtraceDebugger) -> None:
    proc = launch(dbg, "bp")
    out("attached", name(proc.pid), "stopped", proc.is_stopped)
    maps = [m for m in proc.readMappings() if proc.getInstrPointer() in m]
    out("ip in", os.path.basename(maps[0].pathname) if maps else None)
    proc.cont()
    e = dbg.waitProcessEvent()
    out(type(e).__name__, name(e.process.pid), exit_text(e))


def s_breakpoint(dbg: PtraceDebugger) -> None:
    proc = launch(dbg, "bp")
    original = proc.readBytes(MARKER, 8)
    bp = proc.createBreakpoint(MARKER)
    out("patched", proc.readBytes(MARKER, 1).hex(), "rest", proc.readBytes(MARKER + 1, 7) == original[1:])
    proc.cont()
    e = dbg.waitSignals(signal.SIGTRAP)
    out("signal", e.signum, "ip-marker", proc.getInstrPointer() - MARKER)
    bp.desinstall(set_ip=True)
    out("removed", proc.readBytes(MARKER, 8) == original, "ip-marker", proc.getInstrPointer() - MARKER,
        "rdi", proc.getreg("rdi"), "breakpoints", len(proc.breakpoints))
    # single-step through marker's first instructions: each SIGTRAP one instruction on
    for _ in range(6):
        proc.singleStep()
        e = dbg.waitSignals(signal.SIGTRAP)
        out("step", e.signum, "ip-marker", proc.getInstrPointer() - MARKER)
    proc.cont()
    e = dbg.waitProcessEvent()
    out(type(e).__name__, exit_text(e))


def _norm(text: str) -> str:
    # addresses, and numbers big enough to be one, vary from run to run (ASLR, brk); pids
    # (getpid's result) are named by role
    for pid, role in names.items():
        text = re.sub(rf"\b{pid}\b", role, text)
    text = re.sub(r"0x[0-9a-f]{6,}", "ADDR", text)
    return re.sub(r"\b\d{6,}\b", "ADDR", text)


def s_syscalls(dbg: PtraceDebugger, mode: str = "calls") -> None:
    proc = launch(dbg, mode)
    opts = FunctionCallOptions(write_types=False, write_argname=False, string_max_length=64)
    proc.syscall()
    for _ in range(MAX_EVENTS):
        try:
            e = dbg.waitSyscall()
        except ProcessExit as e:
            out(type(e).__name__, exit_text(e))
            return
        except ProcessSignal as e:  # exec's SIGTRAP (no traceExec), not a system call stop
            out(type(e).__name__, e.name)
            e.process.syscall(e.signum)
            continue
        sc = e.process.syscall_state.event(opts)
        if sc is not None and sc.result is not None and sc.name == "execve":
            # its environment is the debugger's, which lx's procd discovery still adds to
            # (issue 12 item 1): the result is what matters here
            out(f"execve(...) = {sc.result_text}")
        elif sc is not None and sc.result is not None:
            out(_norm(f"{sc.format()} = {sc.result_text}"))
        elif sc is not None and sc.name == "exit_group":
            out(_norm(f"{sc.format()} (entered)"))
        e.process.syscall()
    out("too many events")


def _follow(dbg: PtraceDebugger, syscalls: bool = False) -> None:
    """Run every process until all have exited, printing each one's events (one line each,
    prefixed by the process's role: the interleaving of processes is the scheduler's)."""
    for proc in list(dbg):
        proc.syscall() if syscalls else proc.cont()
    for _ in range(MAX_EVENTS):
        if not dbg:
            return
        try:
            e = dbg.waitProcessEvent()
        except ProcessExit as e:  # pragma: no cover - waitProcessEvent returns it
            out(name(e.process.pid), exit_text(e))
            continue
        p = e.process
        if isinstance(e, ProcessExit):
            out(name(p.pid), exit_text(e))
            continue
        if isinstance(e, NewProcessEvent):
            out(name(p.parent.pid), "new", "thread" if p.is_thread else "process", name(p.pid))
            p.cont()
            p.parent.cont()
            continue
        if isinstance(e, ProcessExecution):
            out(name(p.pid), "exec")
            p.cont()
            continue
        if isinstance(e, ProcessSignal):
            out(name(p.pid), "signal", e.name)
            if SHARED and e.signum == signal.SIGTRAP:
                out(name(p.pid), "shared", hex(int.from_bytes(p.readBytes(SHARED, 8), "little")))
            p.cont(e.signum if e.signum != signal.SIGTRAP else 0)
            continue
        out(name(p.pid), "event", type(e).__name__)
        p.cont()
    out("too many events")


def s_fork(dbg: PtraceDebugger) -> None:
    dbg.traceFork()
    dbg.traceExec()
    launch(dbg, "fork")
    _follow(dbg)


def s_fork_syscalls(dbg: PtraceDebugger) -> None:
    """strace.py -f's loop (no traceExec) over the fork target, printing per process its new
    processes, signals, execve results and exits."""
    dbg.traceFork()
    opts = FunctionCallOptions(write_types=False, write_argname=False)
    launch(dbg, "fork").syscall()
    for _ in range(MAX_EVENTS):
        if not dbg:
            return
        try:
            e = dbg.waitSyscall()
        except ProcessExit as e:
            out(name(e.process.pid), exit_text(e))
            continue
        except ProcessSignal as e:
            out(name(e.process.pid), "signal", e.name)
            e.process.syscall(e.signum)
            continue
        except NewProcessEvent as e:
            out(name(e.process.parent.pid), "new", name(e.process.pid))
            e.process.syscall()
            e.process.parent.syscall()
            continue
        sc = e.process.syscall_state.event(opts)
        if sc is not None and sc.result is not None and sc.name == "execve":
            out(name(e.process.pid), f"execve(...) = {sc.result_text}")
        e.process.syscall()
    out("too many events")


def s_threads(dbg: PtraceDebugger) -> None:
    dbg.traceClone()
    proc = launch(dbg, "threads")
    out("shared", hex(int.from_bytes(proc.readBytes(SHARED, 8), "little")))
    for proc in list(dbg):
        proc.cont()
    for _ in range(MAX_EVENTS):
        if not dbg:
            return
        e = dbg.waitProcessEvent()
        p = e.process
        if isinstance(e, NewProcessEvent):
            out(name(p.parent.pid), "new", "thread" if p.is_thread else "process", name(p.pid))
            # memory read through the new thread's own id: the thread group's memory
            out(name(p.pid), "reads shared", hex(int.from_bytes(p.readBytes(SHARED, 8), "little")))
            p.cont()
            p.parent.cont()
        elif isinstance(e, ProcessExit):
            out(name(p.pid), exit_text(e))
        else:
            out(name(p.pid), type(e).__name__, getattr(e, "name", ""))
            p.cont()
    out("too many events")


def s_raise(dbg: PtraceDebugger, deliver: bool = True) -> None:
    proc = launch(dbg, "raise")
    proc.cont()
    e = dbg.waitSignals(signal.SIGUSR1)
    info = proc.getsiginfo()
    out(type(e).__name__, e.name, "si_code", info.si_code, "from self", info._sifields._sigchld.pid == proc.pid)
    proc.cont(e.signum if deliver else 0)
    e = dbg.waitProcessEvent()
    out(type(e).__name__, exit_text(e))


def s_sent(dbg: PtraceDebugger) -> None:
    proc = launch(dbg, "bp")
    proc.kill(signal.SIGUSR1)  # the debugger's own kill(2), while the child sits at exec
    proc.cont()
    e = dbg.waitSignals(signal.SIGUSR1)
    info = proc.getsiginfo()
    out(type(e).__name__, e.name, "si_code", info.si_code, "from debugger", info._sifields._sigchld.pid == os.getpid())
    proc.cont(e.signum)  # SIGUSR1's default action: the program dies of it
    e = dbg.waitProcessEvent()
    out(type(e).__name__, exit_text(e))


def s_attach(dbg: PtraceDebugger) -> None:
    child = subprocess.Popen([EXE, "spin"], stdout=subprocess.PIPE, text=True)
    started.append(child.pid)
    assert child.stdout.readline().strip() == "ready"
    name(child.pid)
    proc = dbg.addProcess(child.pid, is_attached=False)
    out("attached", name(proc.pid), "was_attached", proc.was_attached)
    a = proc.readBytes(SHARED, 8)
    b = proc.readWord(SHARED)
    out("shared", hex(int.from_bytes(a, "little")), "word", hex(b))
    # run it, then catch it again at a signal the debugger sends
    proc.cont()
    time.sleep(0.1)
    proc.kill(signal.SIGUSR2)  # its default action would kill it: the debugger suppresses it
    e = dbg.waitSignals(signal.SIGUSR2)
    out(type(e).__name__, e.name)
    proc.detach()
    out("detached", name(proc.pid), "in debugger", len(dbg))
    # detached and running on its own: no longer stopped, no longer a tracee
    state = ""
    for _ in range(50):
        with open(f"/proc/{child.pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        if state in ("R", "S"):
            break
        time.sleep(0.02)
    out("runs", state in ("R", "S"))
    child.kill()
    child.wait(timeout=10)


def _err(label: str, fn, *args) -> None:
    try:
        fn(*args)
    except PtraceError as e:
        text = str(e).replace(str(e.pid), "PID") if e.pid else str(e)
        out(label, type(e).__name__, "errno", e.errno, "pid", name(e.pid) if e.pid else None,
            "|", _norm(text))
    except OSError as e:
        out(label, type(e).__name__, "errno", e.errno)
    else:
        out(label, "no error")


def s_errors(dbg: PtraceDebugger) -> None:
    if MODE == "lx":
        import lxbrand

        lxbrand.ensure_procd()  # issue 12 item 1, as above
    # a process of ours that nobody traces
    bystander = subprocess.Popen(["sleep", "30"])
    started.append(bystander.pid)
    name(bystander.pid)
    _err("getregs untraced", F.ptrace_getregs, bystander.pid)
    _err("cont untraced", F.ptrace_cont, bystander.pid)
    _err("detach untraced", F.ptrace_detach, bystander.pid)
    # a pid that does not exist (a reaped child's)
    gone = subprocess.Popen(["true"])
    gone.wait()
    name(gone.pid)
    _err("attach gone", F.ptrace_attach, gone.pid)
    try:
        dbg.addProcess(gone.pid, is_attached=False)
    except PtraceError as e:
        out("addProcess gone", type(e).__name__, "errno", e.errno)
    import ptrace.debugger.debugger as D

    _err("waitpid running", D.waitpid, -1, os.WNOHANG)
    _err("waitpid not a child", D.waitpid, 1, 0)
    proc = launch(dbg, "bp")
    _err("peek 0", F.ptrace_peekdata, proc.pid, 0)
    _err("poke 0", F.ptrace_pokedata, proc.pid, 0, 1)
    _err("peek kernel", F.ptrace_peekdata, proc.pid, 0xFFFFFFFFFF600000 - (1 << 40))
    _err("getregs into 8", F.ptrace, F.PTRACE_GETREGS, proc.pid, 0, 8)
    _err("setoptions bad", F.ptrace_setoptions, proc.pid, 0x80000000)
    _err("unknown request", F.ptrace, 0x7777, proc.pid, 0, 0)
    try:
        proc.readBytes(0, 8)
    except ProcessError as e:
        out("readBytes 0", type(e).__name__, "|", _norm(str(e).replace(str(proc.pid), "PID")))
    out("readBytes marker", proc.readBytes(MARKER, 4).hex())
    proc.cont()
    e = dbg.waitProcessEvent()
    out(type(e).__name__, exit_text(e))
    _err("getregs exited", F.ptrace_getregs, proc.pid)
    bystander.kill()
    bystander.wait(timeout=10)


SCENARIOS = {
    "launch": s_launch, "breakpoint": s_breakpoint, "syscalls": s_syscalls, "fork": s_fork,
    "threads": s_threads, "raise": s_raise, "suppress": lambda d: s_raise(d, deliver=False),
    "exec": lambda d: s_syscalls(d, "exec"), "fork-syscalls": s_fork_syscalls, "sent": s_sent, "attach": s_attach, "errors": s_errors,
}


def main() -> None:
    dbg = PtraceDebugger()
    try:
        SCENARIOS[SCENARIO](dbg)
    finally:
        try:
            dbg.quit()
        finally:
            for pid in started:  # whatever is left of what we started
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
    out("done")


if __name__ == "__main__":
    main()
