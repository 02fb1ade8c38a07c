"""`native-proc`: serve, status (pflags-style) and shutdown, against real stopped targets."""

from __future__ import annotations

import io
import os
import signal
import stat


import native_proc.client as npc
from native_proc.cli import main
from structs.codec import codec
from structs.ctl import encode_ctl, fltset, sigset, sysset
from structs.faults import FLT
from structs.procfs import LWPSTATUS
from structs.procfs_consts import PC, PR_FLAGS, PR_WHY
from structs.regs import ILLUMOS_REG_INDEX
from structs.syscalls import NR64

from .procd_helpers import Served, until, using_procd

LWPST = codec(LWPSTATUS["amd64"])
RIP = ILLUMOS_REG_INDEX["amd64"]["REG_RIP"]
SIGUSR1_S = 16
PR_RLC = 0x200000


def ctl(*messages) -> bytes:
    return encode_ctl("amd64", list(messages))


def status(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    rc = main(["status", *argv], out=out)
    return rc, out.getvalue()


def test_status_of_a_syscall_entry_stop(spawn):
    p, _ = spawn("syscalls")
    getpid = NR64["getpid"]
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSTRACE, sigset(SIGUSR1_S)), (PC.PCSFAULT, fltset(FLT.FLTBPT)),
                    (PC.PCSTOP, None), (PC.PCSENTRY, sysset(getpid)), (PC.PCSEXIT, sysset(getpid, NR64["write"])),
                    (PC.PCRUN, 0), (PC.PCWSTOP, None)), timeout=10)
        rc, text = status(str(p.pid))
        with npc.open(f"{p.pid}/lwp/1/lwpstatus") as f:
            rip = LWPST.decode(f.read())["pr_reg"][RIP]
    assert rc == 0
    lines = text.splitlines()
    assert lines[0].startswith(f"{p.pid}:\t") and lines[0].endswith(" syscalls")
    # pflags -r (illumos pflags.c): flag names without PR_, sets as words, why/what on a line
    # of its own, registers as "%rip = 0x..." in two columns.
    assert lines[1] == "\tdata model = _LP64  flags = RLC"
    assert "\tflttrace = 0x00000004" in lines  # FLTBPT is fault 3
    assert "\tsigtrace = 0x00008000 0x00000000" in lines and "\t    USR1" in lines
    assert any(x.startswith("\tentryset = ") for x in lines) and any(x.startswith("\texitset  = ") for x in lines)
    assert " /1:\tflags = STOPPED|ISTOP  getpid()" in lines
    assert "\twhy = PR_SYSENTRY  what = getpid" in lines
    assert f"  %rip = 0x{rip & (1 << 64) - 1:016X}" in text
    for name in ("%rax", "%rsp", "%gsbase"):  # every illumos register is shown
        assert name in text


def test_status_of_signalled_and_faulted_stops(spawn):
    p, _ = spawn()
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSTRACE, sigset(SIGUSR1_S))))
        os.kill(p.pid, signal.SIGUSR1)
        c.write(ctl((PC.PCWSTOP, None)), timeout=10)
        rc, text = status(str(p.pid))
        assert rc == 0
        assert "\twhy = PR_SIGNALLED  what = SIGUSR1" in text.splitlines()
        assert "\tcursig = SIGUSR1" in text.splitlines()
        c.write(ctl((PC.PCRUN, 0x1)))  # PRCSIG: SIGUSR1 would kill it
    q, _ = spawn("int3")
    with npc.open(f"{q.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSFAULT, fltset(FLT.FLTBPT)), (PC.PCWSTOP, None)), timeout=10)
        rc, text = status(str(q.pid))
        assert "\twhy = PR_FAULTED  what = FLTBPT" in text.splitlines()
        assert "%rip" in text
        c.write(ctl((PC.PCRUN, 0x2)))  # PRCFAULT


def test_status_of_a_requested_stop_and_a_running_process(spawn):
    p, _ = spawn()
    rc, text = status(str(p.pid))
    assert rc == 0
    assert "\tdata model = _LP64" in text.splitlines()
    assert "why =" not in text and "%rip" not in text  # running: no why/what, no registers
    assert "\tNot stopped, can't show registers" in text.splitlines()
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSTOP, None)), timeout=10)
        rc, text = status(str(p.pid))
        assert " /1:\tflags = STOPPED|ISTOP" in text.splitlines()
        assert "\twhy = PR_REQUESTED" in text.splitlines()
    until(lambda: "why =" not in status(str(p.pid))[1], what="run-on-last-close")


def test_status_errors(capsys):
    rc, text = status("999999999")
    assert rc == 1 and text == ""
    assert capsys.readouterr().err == "native-proc status: cannot examine 999999999: no such process\n"


def test_decoders():
    from native_proc.ptools.pflags import prflags

    assert prflags(0) == "0"
    assert prflags(int(PR_FLAGS.PR_STOPPED | PR_FLAGS.PR_ISTOP | PR_FLAGS.PR_KLC)) == "STOPPED|ISTOP|KLC"
    assert prflags(0x80000000 | int(PR_FLAGS.PR_STOPPED)) == "0x80000000|STOPPED"


def test_serve_listing_and_shutdown(tmp_path, spawn):
    srv = Served(tmp_path)
    try:
        d = os.stat(srv.dir)
        assert stat.S_IMODE(d.st_mode) == 0o700  # the socket is private to its user
        p, _ = spawn()
        with srv.active():
            c = npc.open(f"{p.pid}/ctl", os.O_WRONLY)
            c.write(ctl((PC.PCSTOP, None)), timeout=10)  # no PR_RLC: a serve procd keeps it
            c.close()
            rc, text = status()
            assert rc == 0 and text.startswith(f"{p.pid}:\t") and "\twhy = PR_REQUESTED" in text.splitlines()
            assert text == status(str(p.pid))[1]  # every controlled process, as pflags -r shows it
            assert main(["serve", "--socket", srv.path]) == 1  # one procd per socket
            out = io.StringIO()
            assert main(["shutdown"], out=out) == 0
        srv.proc.wait(timeout=15)
        assert srv.proc.returncode == 0, srv.log()
        # shutdown releases everything: the target runs on, untraced
        until(lambda: ps_state(p.pid) == ("R", 0) or ps_state(p.pid) == ("S", 0), what="released target")
        assert "Traceback" not in srv.log()
    finally:
        srv.stop()


def ps_state(pid: int) -> tuple[str, int]:
    from .procd_helpers import host_state

    return host_state(pid)


def test_shutdown_without_a_procd(tmp_path, capsys):
    with using_procd(str(tmp_path / "nothing.sock")):
        assert main(["shutdown"]) == 1
        assert main(["status"]) == 1
    assert "no procd" in capsys.readouterr().err
