"""procd's safety (issue 3 "Safety and bad input", ARCHITECTURE items 17, 18, 26):

- procd killed with SIGKILL: every controlled process runs on, and the guardian clears the debug
  registers of watched ones, so a hit after procd's death does not kill them with SIGTRAP;
- random bytes written to ctl never kill procd (hypothesis; fresh target per example, a timeout on
  every write, run-on-last-close set first);
- credentials: another uid cannot reach a private procd, and procd refuses it another user's
  process (EACCES) while it may open its own;
- a client that dies while blocked in PCWSTOP: procd cancels the wait and serves on;
- nothing is left stopped afterwards, checked on the host's /proc, not through procd.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import native_proc.client as npc
from native_proc import host
from native_proc.guardian import Guardian
from structs import ptrace_consts as T
from structs.codec import codec
from structs.ctl import CTL_OPERANDS, decode_ctl, encode_ctl, sysset
from structs.procfs import PSTATUS
from structs.procfs_consts import PC, PCX, WA, PR_FLAGS
from structs.syscalls import NR64

from .procd_helpers import Served, counter, host_state, reap, stopped_processes, subreaper, until
from .targets import LOOP

PST = codec(PSTATUS["amd64"])
PR_RLC = int(PR_FLAGS.PR_RLC)
_WALL = 0x40000000
DR0, DR7 = 848, 848 + 7 * 8
DR7_W8 = 0x1 | (0b01 << 16) | (0b11 << 18)  # L0, write, 8 bytes

# Waits for a line on stdin, then writes the watched variable and says so.
WATCHME = r"""
#include <stdio.h>
volatile long watched;
int main(void) {
    char buf[16];
    printf("ready %p\n", (void *)&watched);
    fflush(stdout);
    if (!fgets(buf, sizeof buf, stdin)) return 2;
    watched = 42;
    printf("wrote %ld\n", watched);
    fflush(stdout);
    return 0;
}
"""


def ctl(*messages) -> bytes:
    return encode_ctl("amd64", list(messages))


def start(exe, *args: str, stdin: bool = False) -> tuple[subprocess.Popen, int]:
    p = subprocess.Popen([str(exe), *args], stdout=subprocess.PIPE, text=True,
                         stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)
    line = p.stdout.readline().split()
    assert line[0] == "ready"
    return p, int(line[1], 16)


def finish(*procs: subprocess.Popen) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)


def within(seconds: float, fn):
    """Run fn in a thread: its result, or a failure if it does not return in time (a hung procd)."""
    box: dict = {}

    def run() -> None:
        try:
            box["v"] = fn()
        except BaseException as ex:  # noqa: BLE001
            box["e"] = ex

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        raise AssertionError(f"procd did not answer within {seconds} s")
    if "e" in box:
        raise box["e"]
    return box.get("v")


def procd_answers(pid: int | None = None) -> dict:
    """A status read through procd (of `pid`, default ourselves), bounded in time."""
    pid = pid or os.getpid()

    def read() -> dict:
        with npc.open(f"{pid}/status") as f:
            return PST.decode(f.read())

    return within(10, read)


def arm_dr7(pid: int, addr: int) -> None:
    """Become the target's tracer, point DR0 at addr (8-byte write watch), enable it in DR7, detach."""
    host.ptrace(T.PTRACE_SEIZE, pid, 0, 0)
    host.ptrace(T.PTRACE_INTERRUPT, pid, 0, 0)
    _, st = os.waitpid(pid, _WALL)
    assert os.WIFSTOPPED(st)
    host.ptrace(T.PTRACE_POKEUSER, pid, DR0, addr)
    host.ptrace(T.PTRACE_POKEUSER, pid, DR7, DR7_W8)
    assert host.peek(T.PTRACE_PEEKUSER, pid, DR7) & 0xFFFFFFFF == DR7_W8
    host.ptrace(T.PTRACE_DETACH, pid, 0, 0)


def read_dr7(pid: int) -> int:
    host.ptrace(T.PTRACE_SEIZE, pid, 0, 0)
    host.ptrace(T.PTRACE_INTERRUPT, pid, 0, 0)
    os.waitpid(pid, _WALL)
    try:
        return host.peek(T.PTRACE_PEEKUSER, pid, DR7) & 0xFFFFFFFF
    finally:
        host.ptrace(T.PTRACE_DETACH, pid, 0, 0)


def kill_procd(srv: Served) -> int:
    """SIGKILL procd; reap its guardian (an orphan, handed to us as subreaper): its wait status."""
    gpid = srv.guardian_pid()
    with subreaper():
        srv.proc.kill()
        srv.proc.wait(timeout=10)
        return reap(gpid)


@pytest.fixture(scope="module")
def loop_exe(cbuild):
    return cbuild(LOOP, "-O0", name="loop")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    srv = Served(tmp_path_factory.mktemp("served"))
    yield srv
    srv.stop()


@pytest.fixture(scope="session", autouse=True)
def nothing_left_stopped_at_session_end(cbuild):
    """Procd-independent: after the whole session, no target of ours (a compiled test program or
    a child of this process) is left stopped."""
    yield
    root, me = str(cbuild.root), os.getpid()
    left = stopped_processes(lambda pid, exe, ppid: exe.startswith(root) or ppid == me)
    assert not left, f"left stopped after the session: {left}"


# -- procd killed -----------------------------------------------------------------------------


def test_procd_killed_targets_run_on(tmp_path, loop_exe):
    srv = Served(tmp_path)
    a, a_ctr = start(loop_exe, "spin")
    b, b_ctr = start(loop_exe, "syscalls")
    c, _ = start(loop_exe, "spin")
    try:
        with srv.active():
            ca = npc.open(f"{a.pid}/ctl", os.O_WRONLY)
            ca.write(ctl((PC.PCSTOP, None)), timeout=10)
            cb = npc.open(f"{b.pid}/ctl", os.O_WRONLY)
            cb.write(ctl((PC.PCSTOP, None), (PC.PCSENTRY, sysset(NR64["getpid"])), (PC.PCRUN, 0),
                         (PC.PCWSTOP, None)), timeout=10)
            cc = npc.open(f"{c.pid}/ctl", os.O_WRONLY)
            cc.write(ctl((PC.PCSTRACE, {"__sigbits": (1 << 15).to_bytes(16, "little")})), timeout=10)
            before = counter(a.pid, a_ctr), counter(b.pid, b_ctr)
            time.sleep(0.05)
            assert (counter(a.pid, a_ctr), counter(b.pid, b_ctr)) == before  # really stopped
            assert host_state(a.pid) == ("t", srv.pid)
            assert kill_procd(srv) == 0  # the guardian had nothing to disarm and exited cleanly
            for f in (ca, cb, cc):
                f.close()
        for p in (a, b, c):
            until(lambda p=p: host_state(p.pid)[1] == 0 and host_state(p.pid)[0] in ("R", "S"),
                  what=f"{p.pid} running untraced")
        time.sleep(0.05)
        assert counter(a.pid, a_ctr) > before[0] and counter(b.pid, b_ctr) > before[1]
        assert a.poll() is None and b.poll() is None and c.poll() is None
    finally:
        finish(a, b, c)
        srv.stop()


def test_armed_debug_register_kills_without_a_guardian(cbuild):
    """The hazard itself (control for the next test): DR7 left armed by a tracer that went away."""
    exe = cbuild(WATCHME, "-O0", name="watchme")
    p, addr = start(exe, stdin=True)
    try:
        arm_dr7(p.pid, addr)
        p.stdin.write("go\n")
        p.stdin.flush()
        assert p.wait(timeout=10) == -signal.SIGTRAP
    finally:
        finish(p)


def test_guardian_disarms_when_procd_is_killed(tmp_path, cbuild):
    exe = cbuild(WATCHME, "-O0", name="watchme")
    p, addr = start(exe, stdin=True)
    srv = None
    try:
        arm_dr7(p.pid, addr)
        srv = Served(tmp_path, armed=[p.pid])  # procd told its guardian: p has armed areas
        with srv.active():
            procd_answers()  # the loop runs, so the guardian has been started
        assert kill_procd(srv) == 0
        assert read_dr7(p.pid) == 0
        p.stdin.write("go\n")
        p.stdin.flush()
        assert p.stdout.readline() == "wrote 42\n"
        assert p.wait(timeout=10) == 0
    finally:
        finish(p)
        if srv is not None:
            srv.stop()


def test_guardian_restarts_and_disarms_on_a_clean_close(cbuild):
    """Guardian alone: a killed guardian is replaced at the next armed(); closing procd's end of
    the pipe (procd's clean exit) disarms the last set too."""
    exe = cbuild(WATCHME, "-O0", name="watchme")
    p, addr = start(exe, stdin=True)
    g = Guardian()
    try:
        arm_dr7(p.pid, addr)
        g.start()
        first = g.pid
        os.kill(first, signal.SIGKILL)
        assert os.WIFSIGNALED(reap(first))
        g.armed({p.pid})  # the write fails, a new guardian is started and told the set
        assert g.pid not in (0, first)
        second = g.pid
        g.stop(timeout=10)
        assert host_state(second) == ("", 0)  # exited and reaped
        assert read_dr7(p.pid) == 0
        p.stdin.write("go\n")
        p.stdin.flush()
        assert p.stdout.readline() == "wrote 42\n"
        assert p.wait(timeout=10) == 0
    finally:
        g.close()
        finish(p)


def test_pcwatch_target_survives_procd_kill(tmp_path, cbuild):
    """Item 17 end to end: a PCWATCH area armed through procd, procd SIGKILLed, then the hit."""
    exe = cbuild(WATCHME, "-O0", name="watchme")
    p, addr = start(exe, stdin=True)
    srv = Served(tmp_path)
    try:
        with srv.active():
            c = npc.open(f"{p.pid}/ctl", os.O_WRONLY)
            area = {"pr_vaddr": addr, "pr_size": 8, "pr_wflags": int(WA.WA_WRITE | WA.WA_TRAPAFTER), "pr_pad": 0}
            try:
                c.write(ctl((PC.PCWATCH, area)), timeout=10)
            except OSError as ex:
                pytest.skip(f"PCWATCH not available: {ex}")
            assert kill_procd(srv) == 0
            c.close()
        p.stdin.write("go\n")
        p.stdin.flush()
        assert p.stdout.readline() == "wrote 42\n", "the watched write killed the target (DR7 left armed)"
        assert p.wait(timeout=10) == 0
    finally:
        finish(p)
        srv.stop()


def test_guardian_is_not_controlled_and_holds_nothing(tmp_path):
    srv = Served(tmp_path)
    try:
        gpid = srv.guardian_pid()

        def fds() -> dict[int, str]:
            out = {}
            for f in os.listdir(f"/proc/{gpid}/fd"):
                try:
                    out[int(f)] = os.readlink(f"/proc/{gpid}/fd/{f}")
                except FileNotFoundError:
                    pass  # closed between the listing and the look (it is closing them now)
            return out

        # Once set up (just after the fork it still holds procd's): stdin/stdout on /dev/null,
        # stderr, and its pipe from procd; no socket, no procd file.
        until(lambda: len(fds()) == 4, what="the guardian closed what it inherited")
        held = fds()
        assert held[0] == held[1] == "/dev/null", held
        assert [t for fd, t in held.items() if fd > 2 and t.startswith("pipe:")], held
        assert not any(t.startswith("socket:") for t in held.values()), held
        with srv.active():
            assert npc.procd_status() == ""  # procd controls nothing, the guardian included
    finally:
        srv.stop()
    assert srv.proc.returncode == 0, srv.log()
    assert host_state(gpid) == ("", 0)  # reaped by procd on its way out: no zombie


# -- bad input --------------------------------------------------------------------------------

_CODES = sorted({int(c) for c in PC} | {int(c) for c in PCX})


def _operand_size(code: int) -> int | None:
    try:
        return CTL_OPERANDS["amd64"][code].sizeof()
    except Exception:  # noqa: BLE001 - a variable-size operand (PCSXREG, PCSCREDX, PCSPRIV)
        return None


_SIZES = {c: _operand_size(c) for c in _CODES}
_U64 = (1 << 64) - 1
# 'long' operands: mostly values a handler looks at twice (flags, signals, small counts).
_long = st.one_of(st.integers(-3, 80), st.sampled_from([0x100000, 0x200000, 0x400000, 0x800000, 0x2000000,
                                                         0x4000000, 0x1F, 0x10, 0x08, 0x04]),
                  st.integers(0, _U64)).map(lambda v: (v & _U64).to_bytes(8, "little"))


def _operand(code: int) -> st.SearchStrategy[bytes]:
    n = _SIZES[code]
    if n is None:
        return st.binary(max_size=600)
    return _long if n == 8 else st.binary(min_size=n, max_size=n)


def _stream(messages: list[tuple[int, bytes]]) -> bytes:
    out = b""
    for code, operand in messages:
        out += b"\0" * (-len(out) % 8) + (code & _U64).to_bytes(8, "little") + operand
    return out


# Whole messages with random operands of the right size (also after a PCSTOP, so the handlers
# that need a stopped LWP run), arbitrary code words with random tails, and plain random bytes.
_wellformed = st.sampled_from(_CODES).flatmap(lambda c: _operand(c).map(lambda op: (c, op)))
_anything = st.tuples(st.one_of(st.sampled_from(_CODES), st.integers(0, _U64)), st.binary(max_size=1100))
_payload = st.one_of(
    st.binary(min_size=1, max_size=600),
    st.lists(_anything, min_size=1, max_size=4).map(_stream),
    st.lists(_wellformed, min_size=1, max_size=6).map(_stream),
    st.lists(_wellformed, min_size=1, max_size=6).map(lambda ms: _stream([(PC.PCSTOP, b"")] + ms)),
)


def _unsets_rlc(data: bytes) -> bool:
    msgs, _ = decode_ctl("amd64", data)
    return any(code == PC.PCUNSET and isinstance(op, int) and op & PR_RLC for code, op in msgs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_payload)
def test_random_ctl_bytes_never_kill_procd(served, loop_exe, data):
    p, _ = start(loop_exe, "spin")
    try:
        with served.active():
            c = within(10, lambda: npc.open(f"{p.pid}/ctl", os.O_WRONLY))
            c.write(ctl((PC.PCSET, PR_RLC)), timeout=2)
            try:
                c.write(data, timeout=2)
            except OSError:
                pass  # an errno, or our timeout (a blocking message): both fine
            c.close()
            assert served.alive(), served.log()
            assert procd_answers()["pr_pid"] == os.getpid()
            if p.poll() is None and not _unsets_rlc(data):
                # run-on-last-close: procd lets go of the target (it may stay job-control stopped
                # if the bytes sent it SIGSTOP, but no longer traced)
                until(lambda: host_state(p.pid)[1] == 0, what="target released by run-on-last-close")
    finally:
        finish(p)
    assert served.alive(), served.log()


def test_fuzzing_left_no_errors_in_procd_log(served):
    """Bad input is answered with an errno; anything that reached procd's catch-all is a bug."""
    assert "unexpected error" not in served.log(), served.log()


# -- credentials ------------------------------------------------------------------------------


def as_nobody(fn) -> dict:
    """Run fn in a forked child that drops to uid/gid 65534; its JSON result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            res = fn()
        except BaseException as ex:  # noqa: BLE001
            res = {"error": repr(ex)}
        try:
            os.write(w, json.dumps(res).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        out = f.read()
    os.waitpid(pid, 0)
    return json.loads(out)


def _attempt(path: str, flags: int = os.O_RDONLY) -> str:
    try:
        npc.open(path, flags).close()
        return "ok"
    except OSError as ex:
        return errno.errorcode.get(ex.errno, str(ex.errno))


def test_private_socket_refuses_other_users(served, loop_exe):
    p, _ = start(loop_exe)
    try:
        with served.active():
            res = as_nobody(lambda: {"own": _attempt(f"{os.getpid()}/status")})
        assert res == {"own": "EACCES"}  # cannot even connect: the socket is private (0700)
    finally:
        finish(p)


def test_credentials_checked_per_client(tmp_path, loop_exe):
    """A procd whose socket is reachable by everyone still applies the /proc rules per client."""
    sockdir = Path(tempfile.mkdtemp(prefix="native-proc-cred-"))  # /tmp itself is searchable
    srv = Served(tmp_path, sockdir=sockdir / "procd")
    root_target, _ = start(loop_exe)
    try:
        os.chmod(sockdir, 0o755)
        os.chmod(srv.dir, 0o755)
        os.chmod(srv.path, 0o777)

        def probe() -> dict:
            peer = subprocess.Popen(["sleep", "30"])  # another process of our (new) uid
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                s.connect(srv.path)  # procd itself answers below, not the file system
                s.close()
                return {
                    "root_status": _attempt(f"{root_target.pid}/status"),
                    "root_ctl": _attempt(f"{root_target.pid}/ctl", os.O_WRONLY),
                    "root_lwp": _attempt(f"{root_target.pid}/lwp/1/lwpstatus"),
                    "own_status": _attempt(f"{os.getpid()}/status"),
                    "peer_status": _attempt(f"{peer.pid}/status"),
                    "peer_ctl": _attempt(f"{peer.pid}/ctl", os.O_WRONLY),
                }
            finally:
                peer.kill()
                peer.wait()

        with srv.active():
            res = as_nobody(probe)
            assert res == {"root_status": "EACCES", "root_ctl": "EACCES", "root_lwp": "EACCES",
                           "own_status": "ok", "peer_status": "ok", "peer_ctl": "ok"}, res
            assert procd_answers(root_target.pid)["pr_pid"] == root_target.pid  # root still may
    finally:
        finish(root_target)
        srv.stop()
        shutil.rmtree(sockdir, ignore_errors=True)


# -- a client that dies while blocked ---------------------------------------------------------


@pytest.mark.parametrize("inherited", [False, True], ids=["own-descriptor", "inherited-descriptor"])
def test_client_dying_in_pcwstop(served, loop_exe, inherited):
    p, ctr = start(loop_exe, "spin")
    try:
        with served.active():
            mine = npc.open(f"{p.pid}/ctl", os.O_WRONLY)
            mine.write(ctl((PC.PCSET, PR_RLC)), timeout=5)
            child = os.fork()
            if child == 0:
                try:
                    f = mine if inherited else npc.open(f"{p.pid}/ctl", os.O_WRONLY)
                    f.write(ctl((PC.PCWSTOP, None)))  # blocks: nobody stops the target
                finally:
                    os._exit(0)
            time.sleep(0.3)
            os.kill(child, signal.SIGKILL)
            assert os.waitpid(child, 0)[1] == signal.SIGKILL
            time.sleep(0.1)
            assert served.alive(), served.log()
            assert procd_answers(p.pid)["pr_pid"] == p.pid
            # The cancelled wait must not be woken (nor answered) when the target now stops.
            mine.write(ctl((PC.PCSTOP, None)), timeout=5)
            assert host_state(p.pid)[0] == "t"
            mine.write(ctl((PC.PCRUN, 0)), timeout=5)
            assert procd_answers()["pr_pid"] == os.getpid()
            mine.close()
        until(lambda: host_state(p.pid) in (("R", 0), ("S", 0)), what="released target")
        before = counter(p.pid, ctr)
        until(lambda: counter(p.pid, ctr) > before, what="target running")
        assert served.alive() and "unexpected error" not in served.log(), served.log()
    finally:
        finish(p)


# -- leftovers ---------------------------------------------------------------------------------


def test_nothing_left_stopped_by_this_module(cbuild):
    # (the embedded procd of an ordinary client exits with its last client; this one survives
    # the module's own procds being killed)
    assert procd_answers()["pr_pid"] == os.getpid()
    root = str(cbuild.root)
    left = stopped_processes(lambda pid, exe, ppid: exe.startswith(root))
    assert not left, left
