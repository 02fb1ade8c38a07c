"""python-ptrace, unmodified, through lx (`lxbrand.python_ptrace`): its debugger, its strace.py
and its gdb.py, each compared with the same run on the host (issue 12 item 3).

The debugger sessions are tests/python_ptrace_scenarios.py, run as a separate process once with
python-ptrace as installed (the host's ptrace) and once with the adapter installed; their
transcripts name processes by role and addresses by symbol, so they must be equal.  Every child
process is started in its own session and its whole process group is killed by id afterwards.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ptrace = pytest.importorskip("ptrace", reason="python-ptrace is a test dependency (pip install -e .[test])")

from ptrace.binding import func as F  # noqa: E402
import ptrace.debugger.child as pchild  # noqa: E402
import ptrace.debugger.debugger as pdebugger  # noqa: E402
import ptrace.debugger.process as pprocess  # noqa: E402

import lxbrand.python_ptrace as lxpp  # noqa: E402

from .targets import PYPT  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = Path(sysconfig.get_path("scripts"))
STRACE_PY = SCRIPTS / "strace.py"
GDB_PY = SCRIPTS / "gdb.py"
TIMEOUT = 90


@pytest.fixture(scope="module")
def pypt(cbuild) -> tuple[str, int, int]:
    """(the PYPT target, address of `marker`, address of `shared`)."""
    exe = cbuild(PYPT, "-O0", "-static", "-no-pie", "-pthread", name="pypt")
    syms = {}
    for line in subprocess.run(["nm", str(exe)], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    return str(exe), syms["marker"], syms["shared"]


class Runner:
    """Runs commands in their own sessions; kills every process group it started."""

    def __init__(self) -> None:
        self.pgids: list[int] = []

    def __call__(self, args: list[str], stdin: bytes | None = None, cwd: str | None = None,
                 env: dict | None = None) -> subprocess.CompletedProcess:
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             cwd=cwd or str(REPO), env=env, start_new_session=True)
        self.pgids.append(p.pid)
        try:
            out, _ = p.communicate(stdin, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            out, _ = p.communicate(timeout=10)
            pytest.fail(f"{args} ran over {TIMEOUT} s:\n{out.decode(errors='replace')[-3000:]}")
        return subprocess.CompletedProcess(args, p.returncode, out.decode(errors="replace"), "")

    def kill(self) -> None:
        for pgid in self.pgids:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture
def run():
    r = Runner()
    yield r
    r.kill()


def _scenario(run, pypt, mode: str, name: str) -> list[str]:
    exe, marker, shared = pypt
    res = run([sys.executable, "-m", "tests.python_ptrace_scenarios", mode, name, exe, hex(marker), hex(shared)])
    lines = res.stdout.splitlines()
    assert res.returncode == 0 and lines[-1:] == ["done"], f"{mode} {name} failed:\n{res.stdout[-4000:]}"
    return lines


def _by_process(lines: list[str]) -> list[str]:
    """The lines of each process in order, processes one after the other: how the scheduler
    interleaved them is not python-ptrace's to say (stable sort on the role)."""
    return sorted(lines, key=lambda s: s.split()[0] if re.match(r"P\d+ ", s) else "")


# scenario -> (lines the lx run must contain, compare per process?)
SCENARIOS = {
    "launch": (["attached P0 stopped True", "ProcessExit P0 exit code=7 signum=None"], False),
    "breakpoint": (["patched cc rest True", "signal 5 ip-marker 1",
                    "removed True ip-marker 0 rdi 42 breakpoints 0", "ProcessExit exit code=7 signum=None"], False),
    "syscalls": (["getpid() = P0 (ADDR)", "write(1, 'hi\\n', 3) = 3",
                  "close(ADDR) = -9 EBADF (Bad file descriptor)", "ProcessExit exit code=5 signum=None"], False),
    "exec": (["execve(...) = 0", "ProcessExit exit code=6 signum=None"], False),
    "fork": (["P0 new process P1", "P1 exit code=4 signum=None", "P0 new process P2", "P2 exec",
              "P2 exit code=6 signum=None", "P0 exit code=3 signum=None"], True),
    "threads": (["P0 new thread P1", "P1 reads shared 0x1122334455667788", "P0 new thread P2",
                 "P2 reads shared 0x1122334455667789", "P1 exit code=0 signum=None",
                 "P2 exit code=0 signum=None", "P0 exit code=0 signum=None"], True),
    "fork-syscalls": (["P0 new P1", "P1 exit code=4 signum=None", "P0 new P2", "P2 execve(...) = 0",
                       "P2 exit code=6 signum=None", "P0 exit code=3 signum=None"], True),
    "raise": (["ProcessSignal SIGUSR1 si_code -6 from self True", "ProcessExit exit code=10 signum=None"], False),
    "suppress": (["ProcessSignal SIGUSR1 si_code -6 from self True", "ProcessExit exit code=11 signum=None"], False),
    "sent": (["ProcessSignal SIGUSR1 si_code 0 from debugger True", "ProcessExit exit code=None signum=10"], False),
    "attach": (["attached P0 was_attached False", "shared 0x1122334455667788 word 0x1122334455667788",
                "ProcessSignal SIGUSR2", "detached P0 in debugger 0", "runs True"], False),
}


# Wrong lx answers these sessions show, not fixed here (reported on issue 12):
KNOWN = {
    # An auto-attached (fork/vfork) tracee without TRACEEXEC, resumed with PTRACE_SYSCALL into
    # execve: Linux stops at execve's exit (SIGTRAP|0x80, rax 0) and then for the SIGTRAP exec
    # posts; lx shows only one stop, the exit shown as the exec SIGTRAP (is_exec_stop), so
    # python-ptrace takes the next entry for execve's exit: "execve(...) = -38 ENOSYS".
    "fork-syscalls": "lx: no syscall-exit stop of execve for an auto-attached tracee (issue 12)",
}


def _param(name: str):
    if name in KNOWN:
        return pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN[name], strict=True))
    return name


@pytest.mark.parametrize("name", [_param(n) for n in sorted(SCENARIOS)])
def test_debugger_session_as_on_host(run, pypt, name):
    """python-ptrace's PtraceDebugger through lx prints what it prints on the host."""
    must, per_process = SCENARIOS[name]
    lx = _scenario(run, pypt, "lx", name)
    host = _scenario(run, pypt, "host", name)
    if per_process:
        lx, host = _by_process(lx), _by_process(host)
    assert lx == host
    for line in must:  # and what the host printed is what the program does
        assert line in lx, (line, lx)


def test_errors_as_on_host(run, pypt):
    """Failures reach python-ptrace as on Linux: PtraceError with Linux's errno (ESRCH for a
    process we do not trace or that is gone, EIO for an unmapped word, EFAULT for a bad buffer,
    EINVAL for bad options), ChildProcessError from waitpid, EIO from readBytes."""
    lx = _scenario(run, pypt, "lx", "errors")
    host = _scenario(run, pypt, "host", "errors")
    assert lx == host
    def fact(label: str) -> str:
        return next(line for line in lx if line.startswith(label + " "))

    assert "errno 3" in fact("getregs untraced") and "errno 3" in fact("cont untraced")
    assert "errno 3" in fact("attach gone") and "errno 3" in fact("getregs exited")
    assert "errno 5" in fact("peek 0") and "errno 5" in fact("poke 0")
    assert "errno 14" in fact("getregs into 8") and "errno 22" in fact("setoptions bad")
    assert "errno 5" in fact("unknown request")
    assert "ChildProcessError errno 10" in fact("waitpid not a child")
    assert "Input/output error" in fact("readBytes 0")


# -- python-ptrace's own strace.py ---------------------------------------------------------------

def _strace(run, *args: str, lx: bool = True, cwd: str | None = None) -> tuple[str, int]:
    """python-ptrace's strace.py (from the wheel) on args: (its output, its exit code)."""
    pre = [sys.executable, "-m", "lxbrand.python_ptrace"] if lx else [sys.executable]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = run([*pre, str(STRACE_PY), *args], cwd=cwd, env=env)
    if lx:
        # (on the host, python-ptrace's /proc/PID/mem of a vfork child stays with the parent's
        # memory after the child's exec -- Linux binds the file to the mm it was opened on -- so
        # its reads of the child's strings fail with tracebacks; lx's `as` follows the exec)
        assert not re.search(r'File ".*/ptrace/', res.stdout), res.stdout[-4000:]  # its own errors
    return res.stdout, res.returncode


def _exit_lines(text: str) -> list[str]:
    pids: dict[str, str] = {}

    def role(m: re.Match) -> str:
        return pids.setdefault(m.group(0), f"P{len(pids)}")

    lines = [ln for ln in text.splitlines() if ln.startswith("***")]
    return sorted(re.sub(r"(?<=[Pp]rocess )\d+", role, ln) for ln in lines)


@pytest.mark.parametrize("attempt", [1, 2])
def test_strace_py_follow_forks_exit_codes(run, attempt):
    """strace.py -f on sh -c '/bin/sh -c "exit 4"; exit 3': the child exits with 4, the shell
    with 3, and strace.py itself exits with 3 -- as on the host."""
    cmd = ["-f", "--", "sh", "-c", '/bin/sh -c "exit 4"; exit 3']
    out, code = _strace(run, *cmd)
    hout, hcode = _strace(run, *cmd, lx=False)
    assert (code, hcode) == (3, 3), out[-3000:]
    assert re.search(r"^\*\*\* Process \d+ exited with code 4 \*\*\*$", out, re.M), out[-3000:]
    assert re.search(r"^\*\*\* Process \d+ exited with code 3 \*\*\*$", out, re.M), out[-3000:]
    assert _exit_lines(out) == _exit_lines(hout)


def _strace_code(run, tmp_path, code: str) -> str:
    _strace(run, "-o", str(tmp_path / "log"), "--", sys.executable, "-c", code, cwd=str(tmp_path))
    log = (tmp_path / "log").read_text(errors="replace")
    assert not re.match("^Traceback", log), log  # as python-ptrace's test_strace.py checks
    return log


# The checks of python-ptrace's tests/test_strace.py (not in the wheel), through lx.
def test_strace_py_basic(run, tmp_path):
    log = _strace_code(run, tmp_path, "pass")
    for name in ("exit", "mmap", "open"):
        assert re.search("^" + name, log, re.M), log[-3000:]


@pytest.mark.parametrize("ec", [0, 1])
def test_strace_py_exitcode(run, ec):
    _, code = _strace(run, "--", sys.executable, "-c", f"exit({ec})")
    assert code == ec


def test_strace_py_exitsignal(run):
    _, code = _strace(run, "--", sys.executable, "-c", f"import os; os.kill(os.getpid(), {int(signal.SIGQUIT)})")
    assert code == 128 + signal.SIGQUIT


@pytest.mark.parametrize("code,pattern", [
    ("import os; os.getcwd()", None),
    ("open(%a).close()" % __file__, r"^open(at)?\(.*test_compat_python_ptrace\.pyc?', O_RDONLY(\|O_CLOEXEC)?"),
    ("import os; os.chdir('directory')", r"^chdir\('directory'\)\s+= -2 ENOENT"),
    ("import os; os.rename('oldpath', 'newpath')", r"^rename\('oldpath', 'newpath'\)"),
    ("import os; os.link('oldpath', 'newpath')", r"^link\('oldpath', 'newpath'\)"),
    ("import os; os.symlink('target', 'linkpath')", r"^symlink\('target', 'linkpath'\)"),
    ("import socket; socket.socket(socket.AF_INET,socket.SOCK_STREAM).close()",
     r"^socket\(AF_INET, SOCK_STREAM(\|SOCK_CLOEXEC)?"),
], ids=["getcwd", "open", "chdir", "rename", "link", "symlink", "socket"])
def test_strace_py_syscall(run, tmp_path, code, pattern):
    log = _strace_code(run, tmp_path, code)
    if pattern is None:  # getcwd: the argument is the directory, read from the tracee
        m = re.search(r"^getcwd\((.*),", log, re.M)
        assert m and m.group(1) == repr(str(tmp_path)), log[-3000:]
    else:
        assert re.search(pattern, log, re.M), log[-3000:]


# -- python-ptrace's own gdb.py ------------------------------------------------------------------

def _gdb(run, command: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = run([sys.executable, "-m", "lxbrand.python_ptrace", str(GDB_PY), "--", sys.executable, "-c", "pass"],
              stdin=(command + "\n").encode(), env=env)
    assert res.returncode == 0, res.stdout[-3000:]
    out = res.stdout
    if out.startswith("(gdb) "):
        out = out[6:]
    pos = out.rfind("(gdb) ")
    if pos:
        out = out[:pos]
    assert "Traceback" not in out, out
    return out.rstrip()


# The checks of python-ptrace's tests/test_gdb.py (not in the wheel), through lx.
@pytest.mark.parametrize("command,patterns", [
    ("proc", [r"^Process ID: [0-9]+", r"^Process state: ", r"^Process environment: ",
              r"^User identifier: [0-9]+", r"^Group identifier: [0-9]+"]),
    ("print 1+2", [r"^Decimal: 3\n"]),
    ("where", [r"^CODE:"]),
    ("regs", [r"^\s+rip = 0x[0-9a-f]+"]),
    ("backtrace", []),
    ("maps", [r"^MAPS: "]),
    ("dbginfo", [r"^Debugger process ID: [0-9]+", r"^python-ptrace version [0-9]+\.[0-9]+", r"^Website: "]),
])
def test_gdb_py(run, command, patterns):
    out = _gdb(run, command)
    for p in patterns:
        assert re.search(p, out, re.M), (p, out)


# -- the adapter itself -------------------------------------------------------------------------

def _originals() -> tuple:
    return (F.ptrace, pdebugger.waitpid, pchild.waitpid, pprocess.__dict__.get("open"))


def test_install_uninstall_idempotent():
    """install() replaces python-ptrace's ptrace, both waitpids and the memory file's open;
    a second install() changes nothing; uninstall() puts back what was there (twice: no-op)."""
    assert not lxpp.is_installed()
    before = _originals()
    assert before[3] is None  # process.py uses the builtin open
    lxpp.install()
    try:
        now = _originals()
        assert now == (lxpp.lx_binding_ptrace, lxpp.lx_os_waitpid, lxpp.lx_os_waitpid, lxpp.lx_open)
        lxpp.install()
        assert _originals() == now
    finally:
        lxpp.uninstall()
    assert _originals() == before and not lxpp.is_installed()
    lxpp.uninstall()
    assert _originals() == before
    with lxpp.installed():
        with lxpp.installed():
            assert lxpp.is_installed()
        assert lxpp.is_installed()  # the inner block leaves the outer one's adapter in place
    assert _originals() == before and not lxpp.is_installed()


def test_adapter_errors_in_process():
    """The adapter's own answers, in this process: waitpid with no such child is
    ChildProcessError(ECHILD) as os.waitpid raises it; PtraceError carries ESRCH and the pid;
    /proc/PID/mem of a process we do not trace is EACCES (python-ptrace then falls back to
    PEEKTEXT, which says ESRCH); any other path is the builtin open."""
    import errno

    from ptrace import PtraceError

    with pytest.raises(ChildProcessError) as ei:
        lxpp.lx_os_waitpid(1, 0)
    assert ei.value.errno == errno.ECHILD
    with pytest.raises(PtraceError) as pe:
        lxpp.lx_binding_ptrace(F.PTRACE_CONT, 1, 0, 0)
    assert pe.value.errno == errno.ESRCH and pe.value.pid == 1
    with pytest.raises(PtraceError) as pe:
        lxpp.lx_binding_ptrace(F.PTRACE_PEEKDATA, 1, 0, 0, check_errno=True)
    assert pe.value.errno == errno.ESRCH
    with pytest.raises(PermissionError) as oe:
        lxpp.lx_open(f"/proc/{os.getppid()}/mem", "rb", 0)
    assert oe.value.errno == errno.EACCES
    with lxpp.lx_open(__file__, "rb") as f:
        assert f.read(3) == b'"""'


def test_runner_needs_a_script():
    res = subprocess.run([sys.executable, "-m", "lxbrand.python_ptrace"], capture_output=True, text=True,
                         cwd=str(REPO), timeout=60)
    assert res.returncode == 2 and "usage" in res.stderr
    res = subprocess.run([sys.executable, "-m", "lxbrand.python_ptrace", "no-such-script.py"],
                         capture_output=True, text=True, cwd=str(REPO), timeout=60)
    assert res.returncode == 2 and "no such script" in res.stderr
