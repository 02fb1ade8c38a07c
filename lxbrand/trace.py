"""`lxbrand trace`: an strace written only against `lx_ptrace` and the lx waits.

It is the project's main job: the Linux side of a tracer, driving the Linux personality the way
strace drives a Linux kernel.  Nothing here calls host ptrace or native_proc (not even a set-up
call: the child's PTRACE_TRACEME and our waits find the same procd by themselves); descriptor paths for -y are read from
/proc/PID/fd as strace reads them.  How lines look is `lxbrand/tracefmt/` (strace 6.1's format).

* `Tracer.start(argv)` forks; the child does PTRACE_TRACEME and execs; the tracer waits for the
  exec SIGTRAP and prints the execve line from what that stop shows (argv/envp on the new stack).
  `Tracer.attach(pid)` does PTRACE_ATTACH and consumes the SIGSTOP attach stop.
* Every tracee gets PTRACE_O_TRACESYSGOOD, so syscall stops are SIGTRAP|0x80; entry and exit
  alternate per process (`_Proc.in_syscall`).  With -f also TRACEFORK/VFORK/CLONE: new tracees
  are attached by the kernel (here: lx_ptrace's auto-attach) and start with a SIGSTOP stop that
  is swallowed; one may report before its parent's event stop, so unknown pids are adopted.
* A call's line is written as strace writes it: at entry up to the first argument known only at
  exit, the rest at exit.  When another tracee's line comes in between, the open line is ended
  with ` <unfinished ...>` and the exit later prints `<... NAME resumed>REST`.
* The i386 personality (CS 0x23) is announced as strace does and decoded with the i386 table.
* Signal-delivery stops print `--- SIGxxx {siginfo} ---` (PTRACE_GETSIGINFO) and pass the signal
  on.  The end of a tracee prints `+++ exited with N +++` / `+++ killed by SIGxxx +++`.
* Attached tracees are detached on `request_detach()` (the CLI's SIGINT/SIGTERM/SIGHUP/SIGQUIT
  handler): PTRACE_DETACH needs a stopped tracee, so the tracee is sent SIGSTOP, the loop runs on
  to that SIGSTOP's delivery stop, and detaches there with signal 0; a call it was blocked in
  (interrupted by the SIGSTOP) is printed as strace does, `<detached ...>`.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import struct
import time
from dataclasses import dataclass, field
from typing import TextIO

import lxbrand
from lxbrand import lx_ptrace, lx_wait4
from structs.ptrace_consts import PTRACE, PTRACE_O
from structs.regs import LINUX_REG_INDEX
from structs.syscalls import SYSCALLS

from .tracefmt import classes
from .tracefmt.decode import (EXIT_KINDS, WHOLE, Call, clone3_exit, format_arg, format_ret,
                              rt_sigreturn_arg, s32, s64)
from .tracefmt.names import SIGNUMS, signame
from .tracefmt.quoting import quote
from .tracefmt.siginfo import format_siginfo
from .tracefmt.summary import Counts, table
from .tracefmt.tables import ENUMS, FLAGS, FORMAT, RETURNS

__all__ = ["Tracer", "Options", "FORMAT", "RETURNS", "FLAGS", "ENUMS", "TraceError", "quote",
           "exit_code", "trace"]

_REGS = struct.Struct("<27Q")
_IDX = LINUX_REG_INDEX["amd64"]
_ARGS64 = tuple(_IDX[n] for n in ("rdi", "rsi", "rdx", "r10", "r8", "r9"))
_ARGS32 = tuple(_IDX[n] for n in ("rbx", "rcx", "rdx", "rsi", "rdi", "rbp"))
_RAX, _ORIG, _RSP, _CS = _IDX["rax"], _IDX["orig_rax"], _IDX["rsp"], _IDX["cs"]
_CS32 = 0x23  # the compat code segment: the tracee runs i386 code
_ENOSYS = -errno.ENOSYS
_SIGTRAP, _SIGSTOP = int(signal.SIGTRAP), int(signal.SIGSTOP)
_SYSGOOD = _SIGTRAP | 0x80
_RESTARTS = frozenset((512, 513, 514, 516))  # ERESTART*: a signal interrupted the call
_NAMES = {"amd64": SYSCALLS["amd64"], "i386": SYSCALLS["i386"]}
_EXECVE = {abi: {nr for nr, n in names.items() if n in ("execve", "execveat")}
           for abi, names in _NAMES.items()}
_ALL_NAMES = frozenset(_NAMES["amd64"].values()) | frozenset(_NAMES["i386"].values())
_COLUMN = 40  # strace's -a default: results are aligned to this column


def exit_code(status: int) -> int:
    """The exit code a tracer reports for a tracee's Linux wait status (128+sig when killed)."""
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return 1


class TraceError(Exception):
    """The tracer could not start or attach (the message says why, strace style)."""


@dataclass
class Options:
    """strace's options, as `lxbrand trace` takes them."""

    strsize: int = 32  # -s
    follow: int = 0  # -f: 1; -ff: 2 (with -o: one file per process, FILE.PID)
    output: str | None = None  # -o FILE (None: the `out` stream given to Tracer)
    trace: frozenset[str] | None = None  # -e trace= (None: every call)
    signals: frozenset[int] | None = None  # -e signal= (None: every signal)
    status: frozenset[str] | None = None  # -e status= / -z / -Z (None: every call)
    summary: bool = False  # -c: the summary table instead of the trace
    syscall_times: bool = False  # -T
    timestamps: int = 0  # -t: 1, -tt: 2, -ttt: 3
    decode_fds: bool = False  # -y
    verbose: bool = False  # -v
    xflag: int = 0  # -x: 1, -xx: 2
    quiet: int = 0  # -q: 1 (no attach/detach/personality messages), -qq: 2 (no exit lines)


class _Out:
    """One output file and the line left open in it (strace's `printing_tcp`)."""

    def __init__(self, f: TextIO, own: bool = False) -> None:
        self.f = f
        self.own = own
        self.open: _Proc | None = None

    def write(self, text: str) -> None:
        self.f.write(text)
        self.f.flush()


@dataclass(eq=False)
class _Proc:
    """What the tracer keeps per tracee."""

    pid: int
    attached: bool = False  # by PTRACE_ATTACH (detached at the end), not started by us
    in_syscall: bool = False  # between its entry and exit stops
    nr: int = -1
    name: str = ""
    call: Call | None = None
    abi: str = "amd64"
    announced: str = "amd64"  # the personality last announced for it
    shown: bool = False  # this call's line is being printed (selected by -e trace=)
    split: int = 0  # arguments [0, split) were printed at entry
    head: str = ""  # the text of the open line (prefix and entry part)
    interrupted: bool = False  # its open line was ended with <unfinished ...>
    t_entry: float = 0.0  # monotonic time of the entry stop (for -T and -c)
    exec_trap: bool = False  # a successful execve's legacy SIGTRAP is still to come
    ready: bool = False  # past its attach stop: a detach may stop it with SIGSTOP
    stop_sent: bool = False  # we sent it SIGSTOP to detach at its delivery stop
    pending: int = 0  # the signal to resume it with first
    fresh: bool = False  # auto-attached by -f: its first SIGSTOP stop is swallowed
    after_exec: bool = False  # execve's exit was printed at its SIGTRAP: skip its exit stop
    out: _Out | None = None
    extra: dict = field(default_factory=dict)


class Tracer:
    """An strace over lx_ptrace: `start(argv)` or `attach(pid)`, then `run()`.

    `out` receives the trace lines (unless `opts.output` names a file); `msg` receives the
    tracer's own messages (attach/detach, errors), as strace writes them to stderr."""

    def __init__(self, out: TextIO, opts: Options | int | None = None, msg: TextIO | None = None) -> None:
        if isinstance(opts, int):  # the old signature: Tracer(out, strsize)
            opts = Options(strsize=opts)
        self.opts = opts or Options()
        self.msg = msg or out
        self.procs: dict[int, _Proc] = {}
        self.child = 0  # the pid we started: its wait status is `status`
        self.status: int | None = None
        self.detach_requested = False
        self.counts: dict[str, Counts] = {}
        self._t_exec = 0.0
        self._regs = bytearray(_REGS.size)
        self._word = bytearray(8)
        self._siginfo = bytearray(128)
        self._base = _Out(out)
        self._files: dict[int, _Out] = {}
        if self.opts.output and self.opts.follow < 2:
            self._base = _Out(open(self.opts.output, "w"), own=True)

    # -- output ---------------------------------------------------------------------------------

    @property
    def strsize(self) -> int:
        return self.opts.strsize

    def _out_of(self, p: _Proc) -> _Out:
        if p.out is None:
            if self.opts.follow >= 2 and self.opts.output:
                p.out = self._files.get(p.pid) or _Out(open(f"{self.opts.output}.{p.pid}", "w"), own=True)
                self._files[p.pid] = p.out
            else:
                p.out = self._base
        return p.out

    def _prefix(self, p: _Proc) -> str:
        o = self.opts
        pre = ""
        if o.follow == 1 and o.output:
            pre = f"{p.pid:<5d} "
        elif o.follow and not o.output and len(self.procs) > 1:
            pre = f"[pid {p.pid:5d}] "
        if o.timestamps:
            now = time.time()
            if o.timestamps >= 3:
                pre += f"{now:.6f} "
            else:
                lt = time.localtime(now)
                pre += time.strftime("%H:%M:%S", lt)
                pre += f".{int(now * 1e6) % 1000000:06d} " if o.timestamps == 2 else " "
        return pre

    def _interrupt(self, out: _Out, suffix: str = " <unfinished ...>") -> None:
        """End the line left open in `out` (another tracee's line comes first)."""
        q = out.open
        if q is not None:
            out.write(q.head + suffix + "\n")
            q.interrupted = True
            q.head = ""
            out.open = None

    def line(self, p: _Proc | None, text: str) -> None:
        """A whole line for tracee `p` (its pid prefix and timestamp in front)."""
        if self.opts.summary:
            return
        out = self._out_of(p) if p is not None else self._base
        self._interrupt(out)
        out.write((self._prefix(p) if p is not None else "") + text + "\n")

    def emit(self, text: str) -> None:
        """A line of the tracer's own (no prefix), into the trace."""
        self.line(None, text)

    def message(self, text: str, prefix: bool = True) -> None:
        """A message of the tracer's own, to stderr as strace's `strace: ...` lines."""
        for out in (self._base, *self._files.values()):
            if out.f is self.msg:
                self._interrupt(out)
        self.msg.write(f"lxbrand trace: {text}\n" if prefix else text + "\n")
        self.msg.flush()

    def close(self) -> None:
        for out in (self._base, *self._files.values()):
            self._interrupt(out)
            if out.own:
                out.f.close()

    # -- tracee memory and registers -----------------------------------------------------------

    def getregs(self, pid: int) -> tuple[int, ...] | None:
        if lx_ptrace(PTRACE.GETREGS, pid, 0, self._regs) != 0:
            return None
        return _REGS.unpack(self._regs)

    def peek(self, pid: int, addr: int) -> bytes | None:
        """One word of the tracee (PTRACE_PEEKDATA), or None where it is not mapped."""
        if addr < 0 or addr >= 1 << 64 or lx_ptrace(PTRACE.PEEKDATA, pid, addr, self._word) != 0:
            return None
        return bytes(self._word)

    def read_mem(self, pid: int, addr: int, n: int) -> bytes | None:
        """`n` bytes at `addr` by aligned PEEKDATA words (None if the first is unreadable; short
        if the memory ends early)."""
        if n <= 0:
            return b""
        base = addr & ~7
        out = bytearray()
        for a in range(base, addr + n, 8):
            w = self.peek(pid, a)
            if w is None:
                if a == base:
                    return None
                break
            out += w
        return bytes(out[addr - base:addr - base + n])

    def read_str(self, pid: int, addr: int, limit: int) -> tuple[bytes, bool] | None:
        """The NUL-terminated string at `addr`, at most `limit` bytes: (bytes, truncated)."""
        base = addr & ~7
        out = bytearray()
        a = base
        while True:
            w = self.peek(pid, a)
            if w is None:
                if a == base:
                    return None
                return bytes(out[addr - base:]), False
            out += w
            a += 8
            s = out[addr - base:]
            nul = s.find(0)
            if nul >= 0:
                return (bytes(s[:limit]), True) if nul > limit else (bytes(s[:nul]), False)
            if len(s) > limit:
                return bytes(s[:limit]), True

    def _memory(self, pid: int) -> "_Mem":
        return _Mem(self, pid)

    # -- calls ---------------------------------------------------------------------------------

    def _call(self, p: _Proc, name: str, args: tuple[int, ...]) -> Call:
        o = self.opts
        kinds = FORMAT.get(name)
        if kinds is None:
            kinds = ("x",) * 6
        return Call(name, args, kinds, self._memory(p.pid), lp64=p.abi == "amd64", strsize=o.strsize,
                    xflag=o.xflag, verbose=o.verbose, decode_fds=o.decode_fds)

    def _args_text(self, c: Call, lo: int, hi: int) -> list[str]:
        if c.name in WHOLE:
            return WHOLE[c.name](c)[lo:hi] if lo == 0 else []
        out = []
        for i in range(lo, min(hi, len(c.kinds))):
            t = format_arg(c, i)
            if t is not None:
                out.append(t)
        return out

    def _announce(self, p: _Proc) -> None:
        if p.abi != p.announced:
            p.announced = p.abi
            if self.opts.quiet < 1:  # strace's message, on stderr (not in the trace)
                bits = 32 if p.abi == "i386" else 64
                self.message(f"[ Process PID={p.pid} runs in {bits} bit mode. ]", prefix=False)

    def _entry(self, p: _Proc, regs: tuple[int, ...]) -> None:
        p.abi = "i386" if regs[_CS] == _CS32 else "amd64"
        if p.abi == "i386":
            nr = s32(regs[_ORIG])
            args = tuple(regs[r] & 0xFFFFFFFF for r in _ARGS32)
        else:
            nr = s64(regs[_ORIG])
            args = tuple(regs[r] for r in _ARGS64)
        p.in_syscall, p.nr, p.exec_trap, p.interrupted = True, nr, False, False
        p.name = _NAMES[p.abi].get(nr, f"syscall_{nr:#x}")
        p.t_entry = time.monotonic()
        o = self.opts
        p.shown = o.trace is None or p.name in o.trace
        if not p.shown:
            p.call = None
            return
        self._announce(p)
        c = p.call = self._call(p, p.name, args)
        if o.summary:
            return
        if c.name in WHOLE:  # every argument is known at entry
            p.split = 6
            p.head = f"{self._prefix(p)}{c.name}({', '.join(self._args_text(c, 0, 6))}"
        elif c.name in ("rt_sigreturn", "sigreturn"):
            p.split = 6
            sp = regs[_RSP] & (0xFFFFFFFF if p.abi == "i386" else (1 << 64) - 1)
            p.head = f"{self._prefix(p)}{c.name}({rt_sigreturn_arg(c, sp)}"
        else:
            split = next((i for i, k in enumerate(c.kinds) if k in EXIT_KINDS), len(c.kinds))
            head = self._args_text(c, 0, split)
            p.split = split
            text = ", ".join(head)
            if split < len(c.kinds) and head:
                text += ", "
            p.head = f"{self._prefix(p)}{c.name}({text}"
        if o.status is not None:
            return  # the line is held until its status is known
        out = self._out_of(p)
        if out.open is not p:
            self._interrupt(out)
            out.open = p

    def _exit(self, p: _Proc, ret: int | None, detached: bool = False) -> None:
        """Print p's pending call; `ret` None: it never returned (`= ?`)."""
        p.in_syscall = False
        p.exec_trap = p.nr in _EXECVE[p.abi] and ret == 0
        c = p.call
        if not p.shown or c is None:
            return
        elapsed = time.monotonic() - p.t_entry
        if self.opts.summary:
            if ret is None:
                return  # strace counts only calls that returned (not exit, exit_group)
            cnt = self.counts.get(c.name)
            if cnt is None:
                cnt = self.counts[c.name] = Counts(p.nr)
            cnt.calls += 1
            cnt.seconds += elapsed
            if ret is not None and -4096 < ret < 0:
                cnt.errors += 1
            return
        if p.abi == "i386" and ret is not None:
            ret = s32(ret)
        c.ret = ret
        status = ("detached" if detached else "unfinished" if ret is None
                  else "failed" if -4096 < ret < 0 else "successful")
        if self.opts.status is not None and status not in self.opts.status:
            return
        out = self._out_of(p)
        if detached:
            if out.open is p:
                self._interrupt(out, " <detached ...>")
            else:
                self.line(p, f"<... {c.name} resumed> <detached ...>")
            return
        rest = ", ".join(self._args_text(c, p.split, 6))
        if c.name == "clone3":  # its struct was printed at entry, what the kernel filled in now
            rest += f"{clone3_exit(c)}, {c.args[1]}"
        if ret is None:
            tail = "?"
        else:
            tail = format_ret(c, ret)
        if self.opts.syscall_times and ret is not None:
            tail += f" <{elapsed:.6f}>"
        if out.open is p or (self.opts.status is not None and not p.interrupted):
            body = p.head + rest + ")"
            out.open = None
        else:
            self._interrupt(out)
            body = f"{self._prefix(p)}<... {c.name} resumed>{rest})"
        body = body.ljust(_COLUMN) if len(body) < _COLUMN else body + " "
        out.write(f"{body}= {tail}\n")
        p.head = ""

    def _signal(self, p: _Proc, sig: int) -> None:
        o = self.opts
        if o.summary or (o.signals is not None and sig not in o.signals):
            return
        info = ""
        if lx_ptrace(PTRACE.GETSIGINFO, p.pid, 0, self._siginfo) == 0:
            info = " " + format_siginfo(bytes(self._siginfo))
        self.line(p, f"--- {signame(sig)}{info} ---")

    def _stop(self, p: _Proc, status: int) -> int | None:
        """Handle one stop; the signal to resume with, or None when p was detached."""
        sig = os.WSTOPSIG(status)
        event = status >> 16
        if event:
            if sig == _SIGTRAP and event in (1, 2, 3):  # FORK, VFORK, CLONE: a new tracee
                msg = bytearray(8)
                if lx_ptrace(PTRACE.GETEVENTMSG, p.pid, 0, msg) == 0:
                    self._adopt(int.from_bytes(msg, "little"))
            return 0
        if sig == _SYSGOOD:
            regs = self.getregs(p.pid)
            if regs is None:
                return 0  # gone meanwhile: the wait will tell
            compat = regs[_CS] == _CS32
            rax = s32(regs[_RAX]) if compat else s64(regs[_RAX])
            orig = s32(regs[_ORIG]) if compat else s64(regs[_ORIG])
            if p.after_exec and not p.in_syscall and rax != _ENOSYS:
                p.after_exec = False  # execve's own exit stop, after its SIGTRAP
                return 0
            p.after_exec = False
            if p.in_syscall and rax == _ENOSYS and orig != p.nr:
                self._exit(p, None)  # its exit was never seen: this is the next entry
            if p.in_syscall:
                if p.stop_sent and -rax in _RESTARTS:
                    self._exit(p, rax, detached=True)  # the SIGSTOP we sent broke its call
                else:
                    self._exit(p, rax)
            elif rax == _ENOSYS:
                self._entry(p, regs)
            # else: the exit of a call entered before we attached: nothing to print
            return 0
        if p.fresh and sig == _SIGSTOP:
            p.fresh = False  # an auto-attached tracee's first stop
            return 0
        if sig == _SIGSTOP and p.stop_sent:
            self._detach(p)
            return None
        if sig == _SIGTRAP and p.exec_trap:  # the SIGTRAP a successful execve sends
            p.exec_trap = False
            return 0
        if sig == _SIGTRAP and p.in_syscall and p.nr in _EXECVE[p.abi]:
            code = -1
            if lx_ptrace(PTRACE.GETSIGINFO, p.pid, 0, self._siginfo) == 0:
                code = struct.unpack_from("<i", self._siginfo, 8)[0]
            if code in (_SIGTRAP, _SYSGOOD):
                # execve's exit stop reported without TRACESYSGOOD's 0x80 (lx_ptrace does so
                # after an exec): a syscall stop all the same, as its si_code says.
                self._exit(p, 0)
                return 0
            # lx_ptrace reports a traced execve's end as two plain SIGTRAP stops (SI_USER)
            # where Linux gives the exit stop (SIGTRAP|0x80) and then the legacy SIGTRAP: the
            # first ends the call, the second is swallowed as the legacy trap; an exit stop
            # that still comes prints nothing (after_exec).
            self._exit(p, 0)
            p.after_exec = True
            return 0
        self._signal(p, sig)
        return sig

    def _adopt(self, pid: int) -> _Proc:
        """A tracee the kernel attached for -f: it is stopped (SIGSTOP) or about to be, and the
        wait reports that first stop, where it is resumed."""
        p = self.procs.get(pid)
        if p is None:
            p = self.procs[pid] = _Proc(pid, fresh=True)
            if self.opts.quiet < 1:
                self.message(f"Process {pid} attached")
        return p

    def _gone(self, p: _Proc, status: int) -> None:
        if p.in_syscall:
            self._exit(p, None)
        if not self.opts.summary:
            if os.WIFEXITED(status):
                if self.opts.quiet < 2:  # -qq hides normal exits only, as strace's does
                    self.line(p, f"+++ exited with {os.WEXITSTATUS(status)} +++")
            else:
                core = " (core dumped)" if status & 0x80 else ""
                self.line(p, f"+++ killed by {signame(os.WTERMSIG(status))}{core} +++")
        out = p.out
        if out is not None and out.open is p:
            out.open = None
        if p.pid == self.child:
            self.status = status
        del self.procs[p.pid]

    def _detach(self, p: _Proc) -> None:
        rc = lx_ptrace(PTRACE.DETACH, p.pid, 0, 0)
        if rc == 0:
            if self.opts.quiet < 1:
                self.message(f"Process {p.pid} detached")
        else:
            self.message(f"detach {p.pid}: {os.strerror(-rc)}")
        del self.procs[p.pid]

    # -- starting ------------------------------------------------------------------------------

    def _setoptions(self, pid: int) -> None:
        opts = PTRACE_O.TRACESYSGOOD
        if self.opts.follow:
            opts |= PTRACE_O.TRACEFORK | PTRACE_O.TRACEVFORK | PTRACE_O.TRACECLONE
        rc = lx_ptrace(PTRACE.SETOPTIONS, pid, 0, int(opts))
        if rc != 0:
            raise TraceError(f"ptrace(PTRACE_SETOPTIONS, {pid}): {os.strerror(-rc)}")

    def start(self, argv: list[str]) -> int:
        """Fork and exec `argv` under PTRACE_TRACEME; prints the execve line; returns the pid."""
        path = argv[0] if "/" in argv[0] else shutil.which(argv[0])
        if path is None or not os.path.exists(path):
            raise TraceError(f"Can't stat '{argv[0]}': No such file or directory")
        self._t_exec = time.monotonic()  # -T of the execve line: from the fork to its stop
        pid = os.fork()
        if pid == 0:  # the child
            try:
                # Python ignores SIGPIPE and SIGXFSZ; an ignored signal stays ignored across
                # exec, and the command must start with the dispositions it was given.
                for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP,
                          signal.SIGPIPE, signal.SIGXFSZ):
                    signal.signal(s, signal.SIG_DFL)
                rc = lx_ptrace(PTRACE.TRACEME, 0)
                if rc != 0:
                    os.write(2, f"lxbrand trace: PTRACE_TRACEME: {os.strerror(-rc)}\n".encode())
                    os._exit(126)
                os.execv(path, argv)  # the environment it was given, untouched
            except OSError as e:
                os.write(2, f"lxbrand trace: exec: {e.strerror}\n".encode())
            finally:
                os._exit(127)
        self.child = pid
        p = self.procs[pid] = _Proc(pid)
        rpid, status = lx_wait4(pid)
        if rpid != pid:
            raise TraceError(f"wait4({pid}): {os.strerror(-rpid) if rpid < 0 else 'unexpected'}")
        if not os.WIFSTOPPED(status):
            self._gone(p, status)  # it never reached exec
            return pid
        self._setoptions(pid)
        regs = self.getregs(pid)
        if os.WSTOPSIG(status) == _SIGTRAP and regs is not None:
            self._exec_line(p, path, regs)
        return pid

    def _exec_line(self, p: _Proc, path: str, regs: tuple[int, ...]) -> None:
        """The execve line from the exec stop: argv and envp as they lie on the new stack."""
        abi = "i386" if regs[_CS] == _CS32 else "amd64"
        o = self.opts
        name = "execve"
        if o.trace is not None and name not in o.trace:
            return
        if o.summary:
            cnt = self.counts.setdefault(name, Counts(59))
            cnt.calls += 1
            return
        c = Call(name, (), (), self._memory(p.pid), lp64=abi == "amd64", strsize=o.strsize,
                 xflag=o.xflag, verbose=o.verbose)
        sp = regs[_RSP] & (0xFFFFFFFF if abi == "i386" else (1 << 64) - 1)
        w = c.word
        raw = self.read_mem(p.pid, sp, w)
        argc = int.from_bytes(raw, "little") if raw and len(raw) == w else -1
        from .tracefmt.decode import DECODERS

        if 0 <= argc < 1 << 16:
            c.args = (0, sp + w, sp + w * (argc + 2))
            argv = DECODERS["argv"](c, 1)
            envp = DECODERS["envp"](c, 2)
        else:
            argv = envp = "?"
        if o.status is not None and "successful" not in o.status:
            return
        body = f"{self._prefix(p)}execve({quote(os.fsencode(path), False, o.xflag)}, {argv}, {envp})"
        body = body.ljust(_COLUMN) if len(body) < _COLUMN else body + " "
        took = f" <{time.monotonic() - self._t_exec:.6f}>" if o.syscall_times else ""
        out = self._out_of(p)
        self._interrupt(out)
        out.write(f"{body}= 0{took}\n")
        if abi == "i386":
            p.abi = "i386"
            self._announce(p)

    def attach(self, pid: int) -> None:
        """PTRACE_ATTACH and consume its SIGSTOP stop; says `Process N attached` on stderr."""
        rc = lx_ptrace(PTRACE.ATTACH, pid)
        if rc != 0:
            raise TraceError(f"attach: ptrace(PTRACE_ATTACH, {pid}): {os.strerror(-rc)}")
        p = self.procs[pid] = _Proc(pid, attached=True)
        rpid, status = lx_wait4(pid)
        if rpid != pid or not os.WIFSTOPPED(status):
            if rpid == pid:
                self._gone(p, status)
                return
            self.procs.pop(pid, None)
            raise TraceError(f"attach: wait4({pid}): {os.strerror(-rpid) if rpid < 0 else 'unexpected'}")
        self._setoptions(pid)
        if self.opts.quiet < 1:
            self.message(f"Process {pid} attached")
        sig = os.WSTOPSIG(status)
        p.pending = 0 if sig == _SIGSTOP else sig
        p.ready = True  # from here on a detach request stops it with SIGSTOP ...
        if self.detach_requested and not p.stop_sent:
            self._detach(p)  # ... one that came before is carried out now, at this stop

    # -- the loop ------------------------------------------------------------------------------

    def request_detach(self, *_: object) -> None:
        """Detach every attached tracee at its next stop (safe in a signal handler): each is sent
        SIGSTOP, whose delivery stop is where the loop detaches it."""
        if self.detach_requested:
            return
        self.detach_requested = True
        for p in list(self.procs.values()):
            if p.attached and p.ready and not p.stop_sent:
                p.stop_sent = True
                try:
                    os.kill(p.pid, signal.SIGSTOP)
                except ProcessLookupError:
                    pass

    def run(self) -> int | None:
        """Trace until no tracee is left; returns the started child's wait status (None for -p)."""
        for p in list(self.procs.values()):
            self._resume(p, p.pending)
        wall = 0x40000000  # __WALL: clone children and threads too
        while self.procs:
            if self.opts.follow:
                rpid, status = lx_wait4(-1, wall)
            else:
                pid = next(iter(self.procs))
                rpid, status = lx_wait4(pid, wall)
            if rpid < 0:
                if rpid == -errno.EINTR:
                    continue
                self.message(f"wait4: {os.strerror(-rpid)}")
                if rpid == -errno.ECHILD:
                    break
                continue
            p = self.procs.get(rpid)
            if p is None:
                if not self.opts.follow:
                    continue
                p = self._adopt(rpid)  # reported before its parent's event stop
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                self._gone(p, status)
                continue
            if not os.WIFSTOPPED(status):
                continue
            sig = self._stop(p, status)
            if sig is not None:
                self._resume(p, sig)
        if self.opts.summary:
            self._summary()
        return self.status

    def _summary(self) -> None:
        out = self._base
        out.write(table(self.counts))

    def _resume(self, p: _Proc, sig: int) -> None:
        rc = lx_ptrace(PTRACE.SYSCALL, p.pid, 0, sig)
        if rc != 0 and rc != -errno.ESRCH:
            self.message(f"ptrace(PTRACE_SYSCALL, {p.pid}): {os.strerror(-rc)}")

    def cleanup(self) -> None:
        """After an error: detach what we attached (if stopped), kill and reap what we started."""
        for p in list(self.procs.values()):
            if p.attached:
                if lx_ptrace(PTRACE.DETACH, p.pid, 0, 0) != 0:
                    lx_ptrace(PTRACE.KILL, p.pid)  # running: at least let its monitor go
            else:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                lx_wait4(p.pid, 0x40000000)
            self.procs.pop(p.pid, None)


class _Mem:
    """The tracee memory a decoder reads (PEEKDATA), and its descriptors' paths (-y)."""

    def __init__(self, tracer: Tracer, pid: int) -> None:
        self.t = tracer
        self.pid = pid

    def read(self, addr: int, n: int) -> bytes | None:
        return self.t.read_mem(self.pid, addr, n)

    def read_str(self, addr: int, limit: int) -> tuple[bytes, bool] | None:
        return self.t.read_str(self.pid, addr, limit)

    def fd_path(self, fd: int) -> str | None:
        """fd's path as /proc shows it (-100, AT_FDCWD: the working directory)."""
        try:
            return os.readlink(f"/proc/{self.pid}/cwd" if fd == -100 else f"/proc/{self.pid}/fd/{fd}")
        except OSError:
            return None


def parse_expr(opts: Options, expr: str) -> None:
    """Apply one `-e` expression (trace=, signal=, status=; a bare list means trace=) to opts;
    raises classes.ExprError with strace's wording."""
    key, sep, value = expr.partition("=")
    if not sep:
        key, value = "trace", expr
    key = {"t": "trace", "s": "signal", "signals": "signal"}.get(key, key)
    if key == "trace":
        opts.trace = classes.parse_trace(value, _ALL_NAMES)
    elif key == "signal":
        opts.signals = classes.parse_signals(value, SIGNUMS)
    elif key == "status":
        opts.status = classes.parse_status(value)
    else:
        raise classes.ExprError(f"invalid -e qualifier '{key}'")


def trace(argv: list[str] | None, pid: int | None, out: TextIO, strsize: int | Options = 32,
          reraise: bool = False, msg: TextIO | None = None) -> int:
    """Run a whole trace (the CLI's `trace`): returns the exit code strace would.

    With `argv`: the started command's exit code; if it was killed by a signal, `reraise` kills
    this process with the same signal (as strace does, without a core), else 128+N is returned.
    SIGTERM and SIGHUP are passed on to the command, SIGINT and SIGQUIT ignored (a terminal
    sends them to it too).  With `pid`: 0 after a detach (on SIGINT, SIGTERM, SIGHUP, SIGQUIT)
    or the tracee's end."""
    opts = strsize if isinstance(strsize, Options) else Options(strsize=strsize)
    t = Tracer(out, opts, msg=msg)
    sigs = (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP)
    old = {s: signal.getsignal(s) for s in sigs}
    try:
        if pid is not None:
            for s in sigs:
                signal.signal(s, t.request_detach)
            t.attach(pid)
        else:
            assert argv
            child = t.start(argv)

            def forward(signum: int, _frame: object) -> None:
                try:
                    os.kill(child, signum)
                except ProcessLookupError:
                    pass

            for s in sigs:
                signal.signal(s, forward if s in (signal.SIGTERM, signal.SIGHUP) else signal.SIG_IGN)
        status = t.run()
    except TraceError as e:
        t.message(str(e))
        t.cleanup()
        t.close()
        return 1
    except BaseException:
        t.cleanup()
        t.close()
        raise
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    t.close()
    if status is None:
        return 0
    if reraise and os.WIFSIGNALED(status):
        _die_by(os.WTERMSIG(status))
    return exit_code(status)


def _die_by(sig: int) -> None:
    """Kill this process with `sig` as the tracee was (no core file); returns if it survives."""
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        os.kill(os.getpid(), sig)
    except (OSError, ValueError):
        pass
