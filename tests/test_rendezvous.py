"""One procd per user, found without a handshake (issue 12, item 1): a tracer that forks before
its first lx call, a TRACEME child with another environment, two clients starting at once, the
idle exit, the tracer's death, and the address's safety checks.

Each case runs its tracer as a fresh interpreter (a process that has never spoken to procd), so
nothing the test process did before can help it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from native_proc import rendezvous

from .procd_helpers import REPO, kill_and_reap, until

def _env(socket_path: str | None) -> dict[str, str]:
    """The test's environment without any procd address, or with an explicit one."""
    env = {k: v for k, v in os.environ.items() if k != rendezvous.ENV}
    env["PYTHONPATH"] = str(REPO)
    if socket_path is not None:
        env[rendezvous.ENV] = socket_path
    return env


def _state(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as f:
            return {k: v.strip() for k, v in (line.split(":", 1) for line in f if ":" in line)}
    except OSError:
        return {}


def _procd_pids(path: str) -> list[int]:
    """Pids of procds serving `path` (their command line names it; a procd's guardian, its
    forked child, has the same command line and is left out)."""
    found = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"native_proc.procd" in argv and path.encode() in argv:
            found[int(d)] = int(_state(int(d)).get("PPid", "0"))
    return sorted(pid for pid, ppid in found.items() if ppid not in found)


@pytest.fixture
def procs():
    """Pids the test started, killed (SIGKILL) at the end whatever happened."""
    started: list[int] = []
    yield started
    kill_and_reap(started)


@pytest.fixture
def private_address(tmp_path):
    """An explicit procd address of this test's own; its procd (if any) killed at the end."""
    path = str(tmp_path / "np" / "procd.sock")
    yield path
    for pid in _procd_pids(path):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


FORK_FIRST = textwrap.dedent("""
    import json, os, sys
    import lxbrand
    from structs.ptrace_consts import PTRACE
    pid = os.fork()
    if pid == 0:
        if sys.argv[1] == "clear-env":
            os.environ.clear()  # a program may give its child another environment
        rc = lxbrand.lx_ptrace(PTRACE.TRACEME, 0, 0, 0)
        if rc:
            os._exit(90)
        os.execv("/bin/sh", ["sh", "-c", 'test -z "$NATIVE_PROC_SOCKET" && exit 7; exit 8'])
    first = lxbrand.lx_waitpid(pid, 0)      # the tracer's first lx call, after the fork
    cont = lxbrand.lx_ptrace(PTRACE.CONT, pid, 0, 0)
    last = lxbrand.lx_waitpid(pid, 0)
    print(json.dumps({"pid": pid, "first": first[1], "cont": cont, "last": list(last),
                      "env_set": "NATIVE_PROC_SOCKET" in os.environ}))
""")


@pytest.mark.parametrize("child_env", ["same-env", "clear-env"])
def test_tracer_that_forks_before_its_first_call(child_env):
    """fork, TRACEME in the child, only then lx_waitpid in the parent: the exec SIGTRAP stop
    (0x57f), then the real exit status; the program sees no procd variable in its environment,
    and none is added to the tracer's.  With the child's environment cleared they still meet:
    the address depends on the uid only.  Uses the user's real, well-known address."""
    out = subprocess.run([sys.executable, "-c", FORK_FIRST, child_env], env=_env(None),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["first"] == 0x57F, r
    assert r["cont"] == 0, r
    assert r["last"] == [r["pid"], 7 << 8], r  # exit 7: $NATIVE_PROC_SOCKET was empty in the program
    assert r["env_set"] is False


def test_two_clients_starting_at_once_get_one_procd(private_address, procs):
    """Six fresh clients started together on an address where no procd runs: all six speak to
    the same procd (the pid SO_PEERCRED gives), and only one procd serves the address."""
    probe = textwrap.dedent("""
        import socket, struct
        import native_proc.client as npc
        npc.ensure_procd()
        pid, _, _ = struct.unpack("3i", npc._session.sock.getsockopt(socket.SOL_SOCKET,
                                                                        socket.SO_PEERCRED, 12))
        print(pid, flush=True)
        sys.stdin.read()  # stay a client until the test has looked
    """)
    probe = "import sys\n" + probe
    ps = [subprocess.Popen([sys.executable, "-c", probe], env=_env(private_address), stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
    procs.extend(p.pid for p in ps)
    served_by = {int(p.stdout.readline() or 0) for p in ps}
    assert len(served_by) == 1 and 0 not in served_by, [p.stderr.read() for p in ps if p.poll()]
    assert _procd_pids(private_address) == list(served_by)
    for p in ps:
        p.stdin.close()
        p.wait(timeout=30)


def _holder(address: str, procs: list[int]) -> subprocess.Popen:
    """A client process that has joined procd and stays until its stdin is closed."""
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, native_proc.client as npc; npc.ensure_procd();"
                               " print('up', flush=True); sys.stdin.read()"],
                              env=_env(address), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    procs.append(holder.pid)
    assert holder.stdout.readline().strip() == "up"
    return holder


def test_idle_procd_exits_when_its_directory_was_removed(private_address, procs):
    """An idle procd whose address directory was removed under it (a tmp dir cleaned up, say)
    can no longer be found nor take the address's lock: it still leaves after its grace."""
    holder = _holder(private_address, procs)
    [pid] = _procd_pids(private_address)
    shutil.rmtree(os.path.dirname(private_address))
    holder.stdin.close()
    holder.wait(timeout=30)
    until(lambda: _state(pid).get("State", "Z").startswith(("Z", "X")),  # gone, or a zombie at most
          timeout=rendezvous.GRACE + 10, what="procd's idle exit")


def test_idle_procd_exits_after_its_grace(private_address, procs):
    """A procd a client started stays while a client lives (past the grace), is gone with its
    socket and snapshot files a little after its last client has gone (rendezvous.GRACE), and
    the next client starts a new one at the same address."""
    holder = _holder(private_address, procs)
    [first] = _procd_pids(private_address)
    time.sleep(rendezvous.GRACE + 1)
    assert _procd_pids(private_address) == [first]
    holder.stdin.close()
    holder.wait(timeout=30)
    until(lambda: not _procd_pids(private_address), timeout=rendezvous.GRACE + 10, what="procd's idle exit")
    assert not os.path.exists(private_address)
    assert not os.path.exists(private_address + ".snap")
    again = _holder(private_address, procs)
    [second] = _procd_pids(private_address)
    assert second != first
    again.stdin.close()
    again.wait(timeout=30)


TRACER = textwrap.dedent("""
    import os, sys, time
    import lxbrand
    from structs.ptrace_consts import PTRACE
    pid = os.fork()
    if pid == 0:
        if sys.argv[2] == "lx":
            lxbrand.lx_ptrace(PTRACE.TRACEME, 0, 0, 0)
        else:
            import ctypes
            ctypes.CDLL(None, use_errno=True).ptrace(0, 0, 0, 0)
        os.execv("/bin/sleep", ["sleep", "30"])
    if sys.argv[1] == "wait":
        if sys.argv[2] == "lx":
            lxbrand.lx_waitpid(pid, 0)
        else:
            os.waitpid(pid, 0)
    print(pid, flush=True)
    time.sleep(60)
""")


def _orphan_after_tracer_death(mode: str, backend: str, procs: list[int]) -> str:
    """Start a tracer (TRACEME child sleeping at its exec stop), SIGKILL the tracer once the
    child is stopped, and say what became of the child: 'running', 'died' or 'stopped'."""
    tracer = subprocess.Popen([sys.executable, "-c", TRACER, mode, backend], env=_env(None),
                              stdout=subprocess.PIPE, text=True)
    procs.append(tracer.pid)
    kid = int(tracer.stdout.readline())
    procs.append(kid)
    until(lambda: _state(kid).get("State", "").startswith("t"), timeout=30, what="the exec stop")
    tracer.kill()
    tracer.wait(timeout=30)
    # Let go, the child may still be on its way to the signal that kills it: watch it a while.
    deadline = time.monotonic() + 10
    free_since = None
    while time.monotonic() < deadline:
        st = _state(kid)
        if not st or st["State"].startswith(("Z", "X")):
            return "died"
        if st["TracerPid"] == "0":
            free_since = free_since or time.monotonic()
            if time.monotonic() - free_since > 1.0:
                return "stopped" if st["State"].startswith(("T", "t")) else "running"
        time.sleep(0.02)
    return "stopped"


@pytest.mark.parametrize("mode", ["wait", pytest.param("nowait", marks=pytest.mark.xfail(
    strict=False, reason="seen once in the whole suite: a TRACEME child whose tracer died before "
    "waiting sometimes runs on under lx where Linux delivers the exec SIGTRAP; not yet found"))])
def test_tracer_killed_leaves_nothing_stopped(mode, procs):
    """SIGKILL of a TRACEME tracer: the child is let go exactly as Linux lets it go: after the
    tracer waited for the exec stop it runs on (the wait took the SIGTRAP); before, the SIGTRAP
    is still due and kills it.  Never left stopped, in either case."""
    host = _orphan_after_tracer_death(mode, "host", procs)
    lx = _orphan_after_tracer_death(mode, "lx", procs)
    assert host == ("running" if mode == "wait" else "died")
    assert lx == host


def test_unsafe_directories_are_refused(tmp_path):
    """The address's directory must be ours alone: a symbolic link or another user's directory
    is refused with a message; group/other permission bits are taken away."""
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    with pytest.raises(rendezvous.ProcdError, match="not a directory"):
        rendezvous.private_dir(str(link))
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o777)
    os.chmod(loose, 0o777)
    rendezvous.private_dir(str(loose))
    assert (loose.stat().st_mode & 0o777) == 0o700
    if os.getuid() == 0:
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o700)
        os.chown(theirs, 65534, 65534)
        with pytest.raises(rendezvous.ProcdError, match="belongs to uid 65534"):
            rendezvous.private_dir(str(theirs))


def test_a_socket_served_by_another_user_is_refused(tmp_path, procs):
    """What listens at the address must run as us (or root): another user's listener is never
    spoken to (ProcdError naming its uid).  Needs root to be another user."""
    if os.getuid() != 0:
        pytest.skip("needs root to listen as another user")
    # An abstract address: nobody needs a directory it may write.
    path = f"\0lxbrand-test-other-{os.getpid()}"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.bind(path)
            s.listen(4)
            os.write(w, b"up")
            time.sleep(30)
        finally:
            os._exit(0)
    procs.append(pid)
    os.close(w)
    assert os.read(r, 2) == b"up"
    os.close(r)
    with pytest.raises(rendezvous.ProcdError, match="runs as uid 65534"):
        rendezvous.dial(path)


def test_nobody_listening_is_named(tmp_path):
    """dial() of an address where nothing listens: FileNotFoundError, nothing started."""
    with pytest.raises(FileNotFoundError):
        rendezvous.dial(str(tmp_path / "none.sock"))
    assert not any(Path(tmp_path).iterdir())


def test_the_lock_is_exclusive(tmp_path):
    """While one holder has the address's lock, another non-blocking taker is told so, and a
    blocking one gives up after its bound with a message."""
    path = str(tmp_path / "x.sock")
    with rendezvous.locked(path) as a:
        assert a is True
        with rendezvous.locked(path, blocking=False) as b:
            assert b is False
        code = ("import sys; from native_proc import rendezvous as r\n"
                "try:\n  r.locked(sys.argv[1], wait=0.3).__enter__()\nexcept r.ProcdError as e: print(e)")
        out = subprocess.run([sys.executable, "-c", code, path], env=_env(None), capture_output=True,
                             text=True, timeout=30)
        assert "stayed locked" in out.stdout, out
    with rendezvous.locked(path, blocking=False) as c:
        assert c is True


def test_native_proc_status_finds_the_users_procd(private_address, procs):
    """`native-proc status` speaks to the procd clients found (no variable was ever exported):
    a holder keeps it up and a process it controls is listed."""
    holder = _holder(private_address, procs)
    out = subprocess.run([sys.executable, "-m", "native_proc.cli", "status"], env=_env(private_address),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "controls nothing" in out.stdout
    holder.stdin.close()
    holder.wait(timeout=30)


def test_procd_holds_none_of_the_starting_clients_files(private_address):
    """A program whose output is a pipe sees its end when it exits, not when the procd it
    started does: procd's stdout is /dev/null and its stderr a log beside its socket."""
    probe = "import native_proc.client as npc; npc.ensure_procd(); print('done')"
    out = subprocess.run([sys.executable, "-c", probe], env=_env(private_address), capture_output=True,
                         text=True, timeout=60)
    # Had procd kept our pipes, run() would have returned only once procd had exited.
    [procd] = _procd_pids(private_address)
    assert out.stdout == "done\n"
    assert os.readlink(f"/proc/{procd}/fd/1") == "/dev/null"
    assert os.readlink(f"/proc/{procd}/fd/2") == rendezvous.log_path(private_address)
