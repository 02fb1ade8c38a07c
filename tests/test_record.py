"""Sessions recorded here, now, with the real gdb and strace (`lxbrand record`), replayed through
the host and through lx (issue 13): the replay tests do not depend on the machine where
../shared/traces was made.

Each session is recorded once per test session (module fixture).  For each: the host's replay
names every difference from the recording, and lx, judged by the host replaying the same
session in the same run, disagrees with it in no call.  A session recorded with ld.so held to
another glibc-hwcaps level (GLIBC_TUNABLES) is replayed without it, as a recording from another
CPU would be; a session whose shared library is rebuilt between recording and replay stands for
a machine with another build of a library.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lxbrand.cli import main as lxbrand_main
from lxbrand.replay.record import Recording, RecordError, record, target_dir
from lxbrand.replay.session import SessionReport, decode_regs, encode_regs, replay_session

pytestmark = pytest.mark.skipif(shutil.which("gdb") is None or shutil.which("strace") is None,
                                reason="gdb and strace are needed to record (./dev installs them)")

HELLO = r"""
#include <stdio.h>
int counter = 0;
int add(int a, int b) { return a + b; }
int main(void) {
    for (int i = 0; i < 3; i++) counter = add(counter, i);
    printf("counter=%d\n", counter);
    return 0;
}
"""

# One worker at a time (each joined before the next starts): when gdb stops every thread at a
# breakpoint the others are blocked in pthread_join, so the recording's order of stops is the
# order of every replay.
THREADS = r"""
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int hits = 0;
static pid_t main_tid;
static char line[128];
static int polls;
void work(long k) { hits += (int)k; }
/* Is the main thread asleep in pthread_join's futex (/proc/self/task/TID/syscall starts with
   "202 ")?  No stdio (malloc's random tcache key would land in registers) and no state on the
   stack that depends on how often it was asked: the replay must see the recording's memory. */
static __attribute__((noinline)) int main_in_futex(void) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)main_tid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    int n = read(fd, line, sizeof line - 1);
    close(fd);
    return n > 4 && !strncmp(line, "202 ", 4);
}
static void *worker(void *arg) {
    /* always one sleep before each look (and at most 5 s): however many rounds it takes, the
       last calls before work() are the same, and so is what they leave in registers and stack */
    polls = 0;
    do usleep(1000); while (!main_in_futex() && ++polls < 5000);
    work((long)arg);
    return 0;
}
int main(void) {
    main_tid = (pid_t)syscall(SYS_gettid);
    for (long i = 1; i <= 2; i++) { pthread_t t; pthread_create(&t, 0, worker, (void *)i); pthread_join(t, 0); }
    printf("hits=%d\n", hits);
    return 0;
}
"""

FORKER = r"""
#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>
int main(void) {
    pid_t p = fork();
    if (p == 0) { execl("/bin/true", "true", (char *)0); _exit(127); }
    int st; waitpid(p, &st, 0);
    pid_t q = vfork();
    if (q == 0) _exit(3);
    waitpid(q, &st, 0);
    printf("children done %d\n", WEXITSTATUS(st));
    return 0;
}
"""

# Attached to while it loops; it keeps no state that changes between iterations, so the
# memory an attaching debugger reads is the same whenever it attaches.
LOOP = r"""
#include <time.h>
#include <unistd.h>
int main(void) {
    struct timespec ts = {0, 20 * 1000 * 1000};
    for (;;) { getppid(); nanosleep(&ts, 0); }
}
"""

LIB_V1 = r"""
const char foo_name[] = "foo, the first build";
int foo(int x) { return x + 1; }
"""
LIB_V2 = r"""
const char foo_name[] = "foo, a second build with a longer name";
static int helper(int x) { return x * 3; }
int foo(int x) { return helper(x) + 2; }
"""
LIB_MAIN = r"""
#include <stdio.h>
extern const char foo_name[];
int foo(int);
int main(void) { printf("%s %d\n", foo_name, foo(1)); return 0; }
"""

GDB_FINISH = ["-ex", "break add", "-ex", "run", "-ex", "info registers rip", "-ex", "p a", "-ex", "finish",
              "-ex", "continue", "-ex", "continue", "-ex", "continue"]
# which sessions to record: name -> (program source key, Recording fields)
SESSIONS = {
    "gdb-break-finish": ("hello", dict(debugger="gdb", args=GDB_FINISH)),
    "gdb-hw-watch": ("hello", dict(debugger="gdb", args=["-ex", "break main", "-ex", "run", "-ex", "watch counter",
                                                         "-ex", "continue", "-ex", "continue", "-ex", "continue",
                                                         "-ex", "continue"])),
    "gdb-threads": ("threads", dict(debugger="gdb", args=["-ex", "break work", "-ex", "run", "-ex", "info threads",
                                                          "-ex", "thread apply all bt", "-ex", "continue",
                                                          "-ex", "thread apply all bt", "-ex", "continue"])),
    "gdb-follow-fork": ("forker", dict(debugger="gdb", args=["-ex", "set follow-fork-mode child", "-ex", "run"])),
    "gdb-attach": ("loop", dict(debugger="gdb", attach=True, args=["-ex", "info registers rip", "-ex", "bt",
                                                                   "-ex", "detach"])),
    "strace-forks": ("forker", dict(debugger="strace", args=["-f"])),
    "strace-attach": ("loop", dict(debugger="strace", attach=True, interrupt_after=0.5, args=[])),
    "strace-stack": ("hello", dict(debugger="strace", args=["-k"])),  # GETREGSET with a short iov
    # the filter strace installs in its child before exec, and its seccomp-order probe
    # a 32-bit tracee: its canary, pointer guard and AT_RANDOM are 4-byte words, ld.so's TSC
    # reading lies in two 32-bit registers
    "gdb-break-finish-32": ("hello32", dict(debugger="gdb", args=GDB_FINISH)),
    "strace-32": ("hello32", dict(debugger="strace", args=["-f"])),
    "strace-seccomp": ("forker", dict(debugger="strace", args=["-f", "--seccomp-bpf", "-e",
                                                              "trace=clone,wait4,write,exit_group"])),
}
SOURCES = {"hello": HELLO, "threads": THREADS, "forker": FORKER, "loop": LOOP}


@pytest.fixture(scope="module")
def programs(cbuild) -> dict[str, Path]:
    # -z now: no lazy binding, whose resolver leaves pointers in r10/r11 on a symbol's first call
    # only -- a thread that polls once or twice would otherwise stop with other registers
    built = {k: cbuild(src, "-g", "-O0", "-pthread", "-Wl,-z,now", name=f"rec{k}") for k, src in SOURCES.items()}
    built["hello32"] = cbuild(HELLO, "-m32", "-g", "-O0", "-Wl,-z,now", name="rechello32")
    return built


@pytest.fixture(scope="module")
def recorded(programs, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("recorded")
    return {name: record(Recording(program=str(programs[prog]), out=root / name, **kw))
            for name, (prog, kw) in SESSIONS.items()}


@pytest.fixture(scope="module")
def host_reports(recorded) -> dict[str, SessionReport]:
    return {name: replay_session(d, "host") for name, d in recorded.items()}


def _differed(rep: SessionReport) -> list[str]:
    return [r.text() for r in rep.results if r.status == "differed"]


def _all_named(rep: SessionReport) -> None:
    assert not rep.errors, rep.errors
    assert rep.passed, "\n".join(_differed(rep)[:5])
    for r in rep.results:
        for d in r.diffs:
            assert d.kind != "unexplained" and d.reason, r.text()


@pytest.mark.parametrize("name", list(SESSIONS))
def test_recorded_session_has_the_shared_format(recorded, name):
    d = recorded[name]
    meta = json.loads((d / "meta.json").read_text())
    assert meta["recorded_by"] == "lxbrand record" and meta["kernel"] == os.uname().release
    assert meta["mode"] == ("attach" if SESSIONS[name][1].get("attach") else "launch")
    assert meta["target"]["path"].startswith(str(target_dir())) and meta["target"]["aslr"] is False
    assert (d / os.path.basename(meta["target"]["path"])).is_file()
    assert (d / "debugger.out").read_text()
    assert "ptrace(" in (d / "trace.strace").read_text()
    if meta["mode"] == "attach":
        assert isinstance(meta["recorded_pid_of_attached_target"], int)


def test_debugger_output_is_the_real_debuggers(recorded):
    assert "Value returned is $2 = 0" in (recorded["gdb-break-finish"] / "debugger.out").read_text()
    assert "Hardware watchpoint 2: counter" in (recorded["gdb-hw-watch"] / "debugger.out").read_text()
    assert "exited normally" in (recorded["gdb-follow-fork"] / "debugger.out").read_text()
    assert "+++ exited with 0 +++" in (recorded["strace-forks"] / "debugger.out").read_text()
    # (strace says "<detached ...>" after a call only when the interrupt landed inside one)
    assert re.search(r"strace: Process \d+ detached", (recorded["strace-attach"] / "debugger.out").read_text())


@pytest.mark.parametrize("name", list(SESSIONS))
def test_host_replay_names_every_difference(host_reports, name):
    rep = host_reports[name]
    _all_named(rep)
    assert rep.replayed > 50 and rep.count("matched") > 0.8 * rep.replayed


LX_KNOWN = {"gdb-threads": "lx holds an exiting traced thread at its EXIT event until a wait on -1 or on "
                          "the thread takes it; the replay waits for the leader, whose pthread_join then "
                          "never returns (declared: conform event/thread-exit-leader-wait)"}


# Open lx bugs seen only in some runs (non-strict: the session passes in most runs).
LX_INTERMITTENT = {"gdb-follow-fork": "in some runs (about 1 in 4 under load) lx never reports the followed "
                                      "child's exit to wait4(-1, WNOHANG|__WALL); probably its real parent, detached "
                                      "by gdb, can reap it first on the host, where Linux holds the parent's "
                                      "notification until the tracer has reaped the child (docs/limitations.md)",
                  "strace-seccomp": "a traced child resumed from a reported EXIT event exits on the host at once: "
                                    "its traced real parent (running freely between seccomp stops) gets its SIGCHLD "
                                    "before the tracer has reaped the child, where Linux holds it (most runs; "
                                    "docs/limitations.md)"}


def _lx_mark(n: str):
    if n in LX_KNOWN:
        # not strict: it passed once in a loaded CI run (the leader's join can win the race)
        return pytest.param(n, marks=pytest.mark.xfail(reason=LX_KNOWN[n], strict=False))
    if n in LX_INTERMITTENT:
        return pytest.param(n, marks=pytest.mark.xfail(reason=LX_INTERMITTENT[n], strict=False))
    return n


@pytest.mark.parametrize("name", [_lx_mark(n) for n in SESSIONS])
def test_lx_agrees_with_the_host_on_every_call(recorded, host_reports, name):
    """Issue 13's verdict: lx judged by the host replaying the same session in the same run."""
    lx = replay_session(recorded[name], "lx", host_oracle=host_reports[name])
    assert lx.oracle["disagree"] == 0, "\n".join(_differed(lx)[:5])
    _all_named(lx)
    kinds = {d.kind for r in lx.results for d in r.diffs}
    assert not kinds & {"not-implemented", "consequence"}


def test_lx_disagreeing_with_the_host_is_counted(recorded, host_reports):
    """The oracle is not a rubber stamp: a backend that answers one GETREGS wrongly (rip off by
    one, a real lx_ptrace underneath) disagrees with the host in that call."""
    from lxbrand.replay.backends import get_backend

    b = get_backend("lx")
    real = b.ptrace
    state = {"done": False}

    def wrong(req, pid, addr, data):
        r = real(req, pid, addr, data)
        if req == 12 and r == 0 and not state["done"]:  # PTRACE_GETREGS
            state["done"] = True
            from native_proc import host

            buf = host.ffi.buffer(host.ffi.cast("char *", data), 216)
            regs = decode_regs(bytes(buf))
            regs["rip"] += 1
            buf[:] = encode_regs(regs)
        return r

    b.ptrace = wrong
    lx = replay_session(recorded["gdb-break-finish"], b, host_oracle=host_reports["gdb-break-finish"])
    assert state["done"] and lx.oracle["disagree"] >= 1 and not lx.passed


def test_another_hwcaps_level_is_named_machine(programs, tmp_path):
    """Recorded with ld.so held to x86-64-v2 (as on a CPU without AVX2), replayed without: the
    host's replay names each difference, and lx still agrees with the host."""
    d = record(Recording(debugger="gdb", args=GDB_FINISH, program=str(programs["hello"]), out=tmp_path / "v2",
                         env=["GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2"]))
    meta = json.loads((d / "meta.json").read_text())
    assert "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2" in meta["target"]["env"]
    meta["target"]["env"] = [e for e in meta["target"]["env"] if not e.startswith("GLIBC_TUNABLES=")]
    (d / "meta.json").write_text(json.dumps(meta))
    host = replay_session(d, "host")
    _all_named(host)
    lx = replay_session(d, "lx", host_oracle=host)
    assert lx.oracle["disagree"] == 0, "\n".join(_differed(lx)[:5])
    _all_named(lx)


def test_another_build_of_a_library_is_named_machine(cbuild, tmp_path):
    """A library rebuilt between recording and replay (a machine with another libc6, say): what
    the debugger read of its file differs, so the memory of its mapping is named "machine" with
    the line that shows it -- and nothing else is excused."""
    lib = tmp_path / "libfoo.so"
    subprocess.run(["gcc", "-g", "-shared", "-fPIC", "-o", str(lib), "-x", "c", "-"], input=LIB_V1, text=True,
                   check=True)
    main = tmp_path / "usesfoo"
    subprocess.run(["gcc", "-g", "-O0", "-o", str(main), "-x", "c", "-", f"-L{tmp_path}", "-lfoo",
                    f"-Wl,-rpath,{tmp_path}"], input=LIB_MAIN, text=True, check=True)
    d = record(Recording(debugger="gdb", program=str(main), out=tmp_path / "s",
                         args=["-ex", "break foo", "-ex", "run", "-ex", "p foo_name", "-ex", "x/8xb foo",
                               "-ex", "continue"]))
    assert "foo, the first build" in (d / "debugger.out").read_text()
    same = replay_session(d, "host")
    _all_named(same)
    assert not [x for r in same.results for x in r.diffs if "another build" in (x.reason or "")]
    subprocess.run(["gcc", "-g", "-shared", "-fPIC", "-o", str(lib), "-x", "c", "-"], input=LIB_V2, text=True,
                   check=True)
    rep = replay_session(d, "host")
    named = [x for r in rep.results for x in r.diffs if x.kind == "machine"]
    assert any(f"{lib} is another build here" in x.reason for x in named), [x.reason for x in named][:5]


def test_short_getregset_iov_decodes_the_fields_it_holds():
    regs = {n: i + 1 for i, n in enumerate(("r15", "r14", "r13"))}
    buf = encode_regs(regs)[:184]
    got = decode_regs(buf)
    assert len(got) == 23 and got["r15"] == 1 and got["r13"] == 3 and got["gs_base"] == 0 and "ds" not in got
    assert decode_regs(b"") == {} and decode_regs(encode_regs(regs)[:20]) == {"r15": 1, "r14": 2}


# -- failures ---------------------------------------------------------------------------------------


def test_record_refuses_an_unknown_debugger_or_program(programs, tmp_path):
    with pytest.raises(RecordError, match="gdb or strace"):
        record(Recording(debugger="lldb", args=[], program=str(programs["hello"]), out=tmp_path / "x"))
    with pytest.raises(RecordError, match="no such program"):
        record(Recording(debugger="strace", args=[], program=str(tmp_path / "missing"), out=tmp_path / "y"))


def test_record_gives_up_on_a_debugger_that_never_ends(programs, tmp_path):
    """Bounded: a debugger still running after --timeout is killed (with its inferior) and the
    error says so; nothing is left behind."""
    with pytest.raises(RecordError, match="did not finish within 1 s"):
        record(Recording(debugger="strace", args=[], program=str(programs["loop"]), out=tmp_path / "z", timeout=1.0))
    left = subprocess.run(["pgrep", "-f", str(target_dir() / os.path.basename(programs["loop"]))],
                          capture_output=True, text=True).stdout.split()
    assert not left


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a directory another user's")
def test_target_directory_of_another_user_is_refused():
    d = Path("/tmp/lxtrace-987654")
    d.mkdir(mode=0o700, exist_ok=True)
    try:
        os.chown(d, 65534, 65534)
        with pytest.raises(RecordError, match="belongs to uid 65534"):
            target_dir(987654)
        os.chown(d, 0, 0)
        os.chmod(d, 0o777)
        with pytest.raises(RecordError, match="writable by others"):
            target_dir(987654)
        assert os.stat(d).st_mode & 0o777 == 0o777  # refused, not changed
    finally:
        d.rmdir()


@pytest.mark.parametrize("argv, msg", [
    (["record"], "say which debugger"),
    (["record", "--gdb", "-ex", "run", "prog"], "put -- between"),
    (["record", "--strace", "--"], "no program given"),
    (["record", "--timeout", "soon", "--strace", "--", "true"], "wants a number of seconds"),
    (["record", "prog"], "unexpected 'prog'"),
])
def test_record_usage_errors(capsys, argv, msg):
    assert lxbrand_main(argv) == 2
    assert msg in capsys.readouterr().err


def test_record_cli(programs, tmp_path, capsys):
    rc = lxbrand_main(["record", "-o", str(tmp_path / "cli"), "--strace", "--", str(programs["hello"])])
    assert rc == 0 and f"into {tmp_path / 'cli'}" in capsys.readouterr().out
    assert lxbrand_main(["replay", str(tmp_path)]) == 0  # a directory holding sessions
    assert "1 passed, 0 failed" in capsys.readouterr().out


def test_record_cli_with_a_relative_directory(programs, tmp_path, capsys, monkeypatch):
    """`-o DIR` relative to where lxbrand runs, though the debugger runs in the target's
    directory (a relative path once named a file there, and strace could not open it)."""
    monkeypatch.chdir(tmp_path)
    rc = lxbrand_main(["record", "-o", "rel", "--strace", "--", str(programs["hello"])])
    assert rc == 0, capsys.readouterr()
    assert (tmp_path / "rel" / "trace.strace").stat().st_size > 0


# -- the replay runs only what the user owns (issue 19 item 1) and says what is wrong (item 11) ----


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make files another user's")
def test_replay_never_runs_a_planted_helper(tmp_path, monkeypatch):
    """The stand-in helper's directory must be ours and closed to others; a helper someone else
    placed in it is not run but rebuilt."""
    import tempfile

    from lxbrand.replay import session as R

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(R, "_helper_path", None)
    d = tmp_path / f"lxbrand-replay-{os.getuid()}"
    d.mkdir(mode=0o700)
    os.chown(d, 65534, 65534)
    with pytest.raises(RuntimeError, match="belongs to uid 65534"):
        R.build_helper()
    os.chown(d, 0, 0)
    os.chmod(d, 0o777)
    with pytest.raises(RuntimeError, match="writable by others"):
        R.build_helper()
    assert os.stat(d).st_mode & 0o777 == 0o777  # refused, never chmodded
    os.chmod(d, 0o700)
    key = R.hashlib.sha1(R.HELPER_SOURCE.encode()).hexdigest()[:12]
    planted = d / f"standin-{key}"
    planted.write_text("#!/bin/sh\ntouch planted-ran\n")
    os.chmod(planted, 0o755)
    os.chown(planted, 65534, 65534)
    exe = R.build_helper()
    st = os.stat(exe)
    assert exe == str(planted) and st.st_uid == 0 and planted.read_bytes()[:4] == b"\x7fELF"


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a directory another user's")
def test_replay_refuses_a_target_directory_of_another_user(recorded, tmp_path):
    from lxbrand.replay.session import install_target, load_session

    s = load_session(recorded["gdb-break-finish"])
    other = tmp_path / "theirs"
    other.mkdir(mode=0o755)
    os.chown(other, 65534, 65534)
    name = os.path.basename(s.meta.path)
    s.meta.path = str(other / name)
    with pytest.raises(RuntimeError, match="belongs to uid 65534"):
        install_target(s)
    assert not (other / name).exists()


@pytest.mark.parametrize("meta, msg", [
    ("{}", 'no "target" object'), ('{"target": 5}', 'no "target" object'),
    ("[1, 2, 3]", "not a JSON object"), ("{", "not JSON"),
    ('{"target": {"path": "/bin/true", "argv": "x"}}', "target.argv is not a JSON list"),
])
def test_replay_of_a_bad_meta_json_says_what_is_wrong(tmp_path, capsys, meta, msg):
    d = tmp_path / "s"
    d.mkdir()
    (d / "meta.json").write_text(meta)
    (d / "trace.strace").write_text("ptrace(PTRACE_TRACEME) = 0\n")
    assert lxbrand_main(["replay", "--backend", "host", str(d)]) == 1
    out = capsys.readouterr().out
    assert f"ERROR: ValueError: meta.json: {msg}" in out and "0 passed, 1 failed" in out


def test_replay_of_an_empty_trace_is_not_a_pass(recorded, tmp_path, capsys):
    d = tmp_path / "empty"
    shutil.copytree(recorded["strace-forks"], d)
    (d / "trace.strace").write_text("")
    assert lxbrand_main(["replay", "--backend", "host", str(d)]) == 1
    assert "no recorded calls" in capsys.readouterr().out


def test_replay_json_to_an_unwritable_path_is_a_message(recorded, capsys):
    assert lxbrand_main(["replay", "--json", "/proc/version/x.json", str(recorded["strace-forks"])]) == 2
    assert "lxbrand replay: --json /proc/version/x.json:" in capsys.readouterr().err


def test_replay_skips_what_holds_no_session_in_one_line(recorded, tmp_path, capsys):
    (tmp_path / "README.md").write_text("not a session")
    (tmp_path / "empty-dir").mkdir()
    rc = lxbrand_main(["replay", "--backend", "host", str(recorded["strace-forks"]), str(tmp_path / "README.md"),
                       str(tmp_path / "empty-dir")])
    err = capsys.readouterr().err
    said = [ln for ln in err.splitlines() if ln.startswith("lxbrand replay:")]
    assert rc == 0 and len(said) == 1 and "skipped 2 entries that hold no session" in said[0]
