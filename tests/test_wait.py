"""native_proc.waitid: host events of ordinary children and CLD_TRAPPED for PR_PTRACE ones."""

from __future__ import annotations

import errno
import os
import signal
import subprocess

import pytest

import native_proc.client as npc
from structs.codec import codec
from structs.ctl import encode_ctl
from structs.procfs import SIGINFO, SIGINFO_VIEWS
from structs.procfs_consts import PC, SOLARIS_P, SOLARIS_W

from .targets import LOOP

SI = codec(SIGINFO["amd64"])
CLD = codec(SIGINFO_VIEWS["amd64"]["cld"])
PR_PTRACE, PR_RLC = 0x4000000, 0x200000
CLD_EXITED, CLD_KILLED, CLD_TRAPPED = 1, 2, 4


def decode(info: bytes) -> tuple[int, int, int, int]:
    d = SI.decode(info)
    c = CLD.decode(d["__data"])
    return d["si_signo"], d["si_code"], c["si_pid"], c["pdata"]["si_status"]


@pytest.fixture
def child(cbuild):
    exe = cbuild(LOOP, "-O0", name="loop")
    procs = []

    def start():
        p = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout.readline().startswith("ready")
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_trapped_stop_reported_once_to_the_parent(child):
    p = child()
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(encode_ctl("amd64", [(PC.PCSET, PR_PTRACE | PR_RLC),
                                     (PC.PCSTRACE, {"__sigbits": (1 << 15).to_bytes(16, "little")})]))
        os.kill(p.pid, signal.SIGUSR1)
        info = npc.waitid(SOLARIS_P.P_PID, p.pid, SOLARIS_W.WTRAPPED, timeout=10)
        assert decode(info) == (18, CLD_TRAPPED, p.pid, 16)  # SIGCHLD, Solaris SIGUSR1
        assert npc.waitid(SOLARIS_P.P_PID, p.pid, SOLARIS_W.WTRAPPED | SOLARIS_W.WNOHANG) is None
        c.write(encode_ctl("amd64", [(PC.PCRUN, 1), (PC.PCSTOP, None)]))  # a requested stop: SIGTRAP
        info = npc.waitid(SOLARIS_P.P_ALL, 0, SOLARIS_W.WTRAPPED | SOLARIS_W.WNOWAIT, timeout=10)
        assert decode(info)[1:] == (CLD_TRAPPED, p.pid, 5)
        assert decode(npc.waitid(SOLARIS_P.P_PID, p.pid, SOLARIS_W.WTRAPPED, timeout=10))[3] == 5  # still there
        p.kill()
        info = npc.waitid(SOLARIS_P.P_PID, p.pid, SOLARIS_W.WEXITED | SOLARIS_W.WTRAPPED, timeout=10)
        assert decode(info)[1:] == (CLD_KILLED, p.pid, 9)
        p.returncode = -9  # reaped through waitid


def test_ordinary_child_exit_and_blocking_wait():
    p = subprocess.Popen(["sh", "-c", "sleep 0.2; exit 7"])
    info = npc.waitid(SOLARIS_P.P_PID, p.pid, SOLARIS_W.WEXITED, timeout=10)
    assert decode(info)[1:] == (CLD_EXITED, p.pid, 7)
    p.returncode = 7


def test_waitid_errors():
    with pytest.raises(ChildProcessError):
        npc.waitid(SOLARIS_P.P_PID, 1, SOLARIS_W.WEXITED | SOLARIS_W.WNOHANG)
    for idtype, opts in ((SOLARIS_P.P_ALL, 0), (SOLARIS_P.P_ALL, 0x8000), (SOLARIS_P.P_UID, SOLARIS_W.WEXITED)):
        with pytest.raises(OSError) as ei:
            npc.waitid(idtype, 0, opts)
        assert ei.value.errno == errno.EINVAL
