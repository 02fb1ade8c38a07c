"""`lxbrand trace` (lxbrand/trace.py) on real programs, run as `python -m lxbrand.cli trace`."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lxbrand.replay.strace_log import parse_lines
from lxbrand.trace import ENUMS, FLAGS, FORMAT, quote
from lxbrand.tracefmt.decode import DECODERS, WHOLE, Call
from structs.syscalls import SYSCALL_NUMBERS

from .targets import LOOP

REPO = Path(__file__).resolve().parent.parent
TRACE = [sys.executable, "-m", "lxbrand.cli", "trace"]

# write, a failing open, a signal to itself with a handler, exit(3) (4 if the handler never ran);
# then a long buffer with escapes, and a read; `killme` dies by SIGTERM, `int3` traps itself.
TARGET = r"""
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static volatile int got;
static void on_sig(int s) { got = s; }
int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    signal(SIGUSR1, on_sig);
    signal(SIGTRAP, on_sig);
    write(1, "hello\n", 6);
    open("/nonexistent", O_RDONLY);
    kill(getpid(), SIGUSR1);
    if (got != SIGUSR1) exit(4);
    if (!strcmp(mode, "buffers")) {
        char buf[64];
        int out = open("/dev/null", O_WRONLY), in = open("/dev/zero", O_RDONLY);
        write(out, "tab\there\001\0023 and a rather long tail of text", 40);
        read(in, buf, sizeof buf);
    }
    if (!strcmp(mode, "killme")) kill(getpid(), SIGTERM);
    if (!strcmp(mode, "int3")) { got = 0; __asm__ volatile("int3"); if (got != SIGTRAP) exit(5); }
    if (!strcmp(mode, "exec")) execl("/bin/true", "true", (char *)0);
    exit(3);
}
"""


def run_trace(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*TRACE, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def unpad(line: str) -> str:
    """A trace line without the padding that aligns results to column 40."""
    return re.sub(r"\) +(= )", r") \1", line)


def lines_of(path: Path) -> list[str]:
    return [unpad(line) for line in path.read_text().splitlines()]


def check_parses(lines: list[str]) -> None:
    """Every call and exit line is strace's format, as the replay parser reads strace logs.
    (`--- SIGxxx ---` without siginfo and `Process N attached` are not in its grammar.)"""
    calls = [line for line in lines if not line.startswith(("--- ", "Process "))]
    res = parse_lines(calls)
    assert not res.errors, res.errors
    assert len(res.records) == len(calls)


@pytest.fixture
def target(cbuild):
    return str(cbuild(TARGET, "-O0", name="trace_target"))


def test_true(tmp_path):
    out = tmp_path / "t.txt"
    res = run_trace("-o", str(out), "--", "/bin/true")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""  # -o: nothing on stderr
    lines = lines_of(out)
    assert re.fullmatch(r'execve\("/bin/true", \["/bin/true"\], 0x[0-9a-f]+ /\* \d+ vars \*/\) = 0', lines[0])
    assert "exit_group(0) = ?" in lines
    assert lines[-2:] == ["exit_group(0) = ?", "+++ exited with 0 +++"]
    assert any(re.fullmatch(r"brk\(NULL\) = 0x[0-9a-f]+", line) for line in lines)
    assert any(line.startswith('openat(AT_FDCWD, "/') for line in lines)  # the dynamic loader
    check_parses(lines)


def test_default_output_is_stderr():
    res = run_trace("--", "/bin/true")
    assert res.returncode == 0
    assert res.stdout == ""
    assert res.stderr.startswith('execve("/bin/true"')
    assert res.stderr.endswith("+++ exited with 0 +++\n")
    # results aligned to column 40 as strace aligns them, a space after longer calls
    assert "\nclose(3)                                = 0\n" in res.stderr
    assert re.search(r"\nrseq\(0x[0-9a-f]+, 0x20, 0, 0x53053053\) = 0\n", res.stderr)


def test_c_target(tmp_path, target):
    out = tmp_path / "t.txt"
    res = run_trace("-o", str(out), "--", target)
    assert res.stdout == "hello\n"
    assert res.returncode == 3, res.stderr  # the tracee's exit code; 4 if SIGUSR1 was lost
    lines = lines_of(out)
    pid = int(re.search(r"^getpid\(\) = (\d+)$", "\n".join(lines), re.M).group(1))
    i = lines.index('write(1, "hello\\n", 6) = 6')
    assert lines[i:i + 5] == [
        'write(1, "hello\\n", 6) = 6',
        'openat(AT_FDCWD, "/nonexistent", O_RDONLY) = -1 ENOENT (No such file or directory)',
        f"getpid() = {pid}",
        f"kill({pid}, SIGUSR1) = 0",
        f"--- SIGUSR1 {{si_signo=SIGUSR1, si_code=SI_USER, si_pid={pid}, si_uid={os.getuid()}}} ---",
    ]
    assert lines[i + 5].startswith("rt_sigreturn(")  # the handler ran and returned
    assert lines[-2:] == ["exit_group(3) = ?", "+++ exited with 3 +++"]
    assert lines[0].startswith(f'execve("{target}", ["{target[:32]}"...], 0x')  # argv: -s applies
    assert any(line.startswith("rt_sigaction(SIGUSR1, {sa_handler=0x") for line in lines)
    check_parses(lines)


def test_buffers_truncated_and_escaped(tmp_path, target):
    out = tmp_path / "t.txt"
    res = run_trace("-o", str(out), "--", target, "buffers")
    assert res.returncode == 3, res.stderr
    text = "\n".join(lines_of(out)) + "\n"
    assert 'openat(AT_FDCWD, "/dev/null", O_WRONLY) = 3\n' in text
    assert 'openat(AT_FDCWD, "/dev/zero", O_RDONLY) = 4\n' in text
    # -s 32: 32 bytes, then ...; \001 before a digit keeps three octal digits, \2 before 3 too
    assert 'write(3, "tab\\there\\1\\0023 and a rather long ta"..., 40) = 40\n' in text
    assert 'read(4, "' + "\\0" * 32 + '"..., 64) = 64\n' in text  # decoded at exit, from the result
    res = run_trace("-o", str(out), "-s", "4", "--", target, "buffers")
    assert 'write(3, "tab\\t"..., 40) = 40' in lines_of(out)


def test_killed_by_signal(tmp_path, target):
    out = tmp_path / "t.txt"
    res = run_trace("-o", str(out), "--", target, "killme")
    assert res.returncode == -signal.SIGTERM  # strace's way: it dies by the tracee's signal
    lines = lines_of(out)
    assert lines[-2] == f"--- SIGTERM {{si_signo=SIGTERM, si_code=SI_USER, si_pid={lines[-3][5:].split(',')[0]}, si_uid={os.getuid()}}} ---"
    assert lines[-1] == "+++ killed by SIGTERM +++"
    assert re.fullmatch(r"kill\(\d+, SIGTERM\) = 0", lines[-3])


def test_int3_sigtrap_is_a_signal(tmp_path, target):
    """A SIGTRAP stop that is no syscall stop (orig_rax -1) is shown and delivered."""
    out = tmp_path / "t.txt"
    res = run_trace("-o", str(out), "--", target, "int3")
    assert res.returncode == 3, res.stderr  # 5 if the handler never saw its SIGTRAP
    lines = lines_of(out)
    traps = [i for i, line in enumerate(lines) if line.startswith("--- SIGTRAP ")]
    assert len(traps) == 1
    assert lines[traps[0]] == "--- SIGTRAP {si_signo=SIGTRAP, si_code=SI_KERNEL} ---"
    assert lines[traps[0] + 1].startswith("rt_sigreturn({mask=[]})")


def test_exec_again(tmp_path, target):
    """The trap a successful execve leaves is swallowed; the new image is traced on."""
    out = tmp_path / "t.txt"
    res = run_trace("-o", str(out), "--", target, "exec")
    assert res.returncode == 0, res.stderr
    lines = lines_of(out)
    assert 'execve("/bin/true", ["true"], ' in "\n".join(lines)
    assert not any(line.startswith("--- SIGTRAP") for line in lines)
    assert lines[-2:] == ["exit_group(0) = ?", "+++ exited with 0 +++"]


def test_strings_after_exec_again(tmp_path, target):
    out = tmp_path / "t.txt"
    run_trace("-o", str(out), "--", target, "exec")
    text = "\n".join(lines_of(out))
    after = text[text.index('execve("/bin/true"'):]
    assert 'access("/etc/ld.so.preload", R_OK)' in after


def test_usage_errors(tmp_path):
    res = run_trace("--bogus", "--", "/bin/true")
    assert res.returncode == 2 and res.stderr.startswith("usage: lxbrand trace ")  # trace's usage
    assert "unrecognized arguments: --bogus" in res.stderr
    for bad in ("trace=nosuchcall", "trace=%nosuchclass", "signal=SIGNOPE", "status=maybe", "foo=bar"):
        res = run_trace("-e", bad, "--", "/bin/true")
        assert res.returncode == 2 and res.stderr.startswith("usage: lxbrand trace "), bad
        assert "invalid" in res.stderr, res.stderr
    res = run_trace("-ffff", "--", "/bin/true")
    assert res.returncode == 2
    res = run_trace("-o", str(tmp_path / "no" / "such" / "dir"), "--", "/bin/true")
    assert res.returncode == 1 and "can't open" in res.stderr
    res = run_trace()
    assert res.returncode == 2 and "either -p PID or a command" in res.stderr
    res = run_trace("-p", "1", "--", "/bin/true")
    assert res.returncode == 2
    res = run_trace("--", "/nonexistent/program")
    assert res.returncode == 1 and "Can't stat '/nonexistent/program'" in res.stderr
    res = run_trace("-p", "999999999")
    assert res.returncode == 1 and "PTRACE_ATTACH" in res.stderr and "No such process" in res.stderr


# -- -p ---------------------------------------------------------------------------------------


def _state(pid: int) -> tuple[str, int]:
    with open(f"/proc/{pid}/status") as f:
        st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    return st["State"][0], int(st["TracerPid"])


def _processes_of(tracer: subprocess.Popen) -> list[int]:
    """Processes left over from the tracer (its monitor forks share its command line)."""
    want = "\0".join(tracer.args).encode()
    left = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if f.read().rstrip(b"\0") == want:
                        left.append(int(d))
            except OSError:
                pass
    return left


@pytest.fixture
def looping(cbuild):
    """looping(mode) -> a running LOOP target (tests/targets.py) that printed its ready line."""
    exe = str(cbuild(LOOP, "-O0", name="loop"))
    procs: list[subprocess.Popen] = []

    def start(mode: str) -> subprocess.Popen:
        p = subprocess.Popen([exe, mode], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout.readline().startswith("ready")
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait()
        p.stdout.close()


def _attach_and_interrupt(tmp_path: Path, pid: int, ready: str) -> tuple[subprocess.Popen, list[str], str]:
    out = tmp_path / "t.txt"
    tracer = subprocess.Popen([*TRACE, "-o", str(out), "-p", str(pid)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out.exists() and ready in "\n".join(lines_of(out)) + "\n"):
            assert tracer.poll() is None, tracer.communicate()
            assert time.monotonic() < deadline, "the tracer never got there"
            time.sleep(0.05)
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=60)
        assert tracer.returncode == 0, err
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.communicate()
    return tracer, lines_of(out), err


def test_attach_syscall_loop_and_detach_on_sigint(tmp_path, looping):
    target = looping("syscalls")
    pid = target.pid
    tracer, lines, err = _attach_and_interrupt(tmp_path, pid, f"getpid() = {pid}\ngetpid() = {pid}\n")
    # strace's messages go to stderr, not into the trace
    assert err == f"lxbrand trace: Process {pid} attached\nlxbrand trace: Process {pid} detached\n"
    assert lines.count(f"getpid() = {pid}") >= 2
    check_parses([line for line in lines if "<detached ...>" not in line])
    time.sleep(0.2)
    assert target.poll() is None  # still running ...
    state, tracer_pid = _state(pid)
    assert tracer_pid == 0 and state in "RS"  # ... untraced, and not left stopped
    assert _processes_of(tracer) == []  # no monitor left behind


def test_attach_without_syscalls_still_detaches(tmp_path, looping):
    """A tracee that makes no system calls is stopped (SIGSTOP) to be detached."""
    target = looping("spin")
    pid = target.pid
    out = tmp_path / "t.txt"
    tracer = subprocess.Popen([*TRACE, "-o", str(out), "-p", str(pid)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        first = tracer.stderr.readline()
        assert first == f"lxbrand trace: Process {pid} attached\n", first
        assert time.monotonic() < deadline
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=60)
        assert tracer.returncode == 0, err
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.communicate()
    assert err == f"lxbrand trace: Process {pid} detached\n"
    assert out.read_text() == ""
    time.sleep(0.2)
    assert target.poll() is None
    assert _state(pid) == ("R", 0)
    assert _processes_of(tracer) == []


# -- the tables and formatting (no tracee) ------------------------------------------------------


def test_format_table_is_consistent():
    names = set(SYSCALL_NUMBERS["amd64"]) | set(SYSCALL_NUMBERS["i386"])
    for name, kinds in FORMAT.items():
        assert name in names, name
        assert len(kinds) <= 6
        assert kinds or name in WHOLE or name in ("rt_sigreturn", "sigreturn") or name in (
            "getpid getppid gettid getuid geteuid getgid getegid getpgrp setsid sched_yield pause fork "
            "vfork sync restart_syscall munlockall vhangup inotify_init getuid32 geteuid32 getgid32 "
            "getegid32".split()), name
        for i, kind in enumerate(kinds):
            assert kind in DECODERS, (name, kind)
            if kind == "ibuf":
                assert i + 1 < len(kinds), name  # its length is the next argument

    class NoMemory:
        def read(self, addr, n):
            return None

        def read_str(self, addr, limit):
            return None

        def fd_path(self, fd):
            return None

    # every decoder gives text (or None to leave its argument out) for any value, even where the
    # memory cannot be read, before and after the call returned
    for kind in DECODERS:
        for ret in (None, 0, -2, 5):
            for v in (0, 1, 0x7FFF0000, (1 << 64) - 1):
                c = Call("x", (v, 0o101, 2, 3, 4, 5), (kind,) * 6, NoMemory(), ret=ret)
                t = DECODERS[kind](c, 1)
                assert t is None or isinstance(t, str), (kind, v)
    assert set(FLAGS) | set(ENUMS) <= set(DECODERS)


def test_quote():
    assert quote(b"hello\n") == '"hello\\n"'
    assert quote(b'a"b\\c\t\r\v\f') == '"a\\"b\\\\c\\t\\r\\v\\f"'
    assert quote(b"\x00\x01x\x7f\xff") == '"\\0\\1x\\177\\377"'
    assert quote(b"\x001\x018") == '"\\0001\\18"'  # an octal digit after: three digits
    assert quote(b"abc", truncated=True) == '"abc"...'
