"""native_proc against real processes: open files, control messages, stops, and their errors."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time

import pytest

import native_proc.client as npc
from structs.codec import codec
from structs.ctl import encode_ctl, fltset, sigset, sysset
from structs.faults import FLT
from structs.procfs import LWPSTATUS, PSTATUS
from structs.procfs_consts import PC, PCRUN_FLAGS, PCX, PR_FLAGS, PR_WHY
from structs.regs import ILLUMOS_REG_INDEX
from structs.syscalls import NR64, SYSCALL_NUMBERS


LWPST = codec(LWPSTATUS["amd64"])
PST = codec(PSTATUS["amd64"])
RIP = ILLUMOS_REG_INDEX["amd64"]["REG_RIP"]
SIGUSR1_S = 16  # Solaris numbering


def ctl(*messages) -> bytes:
    return encode_ctl("amd64", list(messages))


def lwpstatus(pid: int, lwpid: int = 1) -> dict:
    with npc.open(f"{pid}/lwp/{lwpid}/lwpstatus") as f:
        return LWPST.decode(f.read())


def controlled(pid: int, flags: int = 0x200000):
    """An O_WRONLY ctl with run-on-last-close set, so a failing test leaves nothing stopped."""
    f = npc.open(f"{pid}/ctl", os.O_WRONLY)
    f.write(ctl((PC.PCSET, flags)))
    return f


def test_status_of_a_running_process(spawn):
    p, _ = spawn()
    with npc.open(f"/proc/{p.pid}/status") as f:
        st = PST.decode(f.read())
    assert st["pr_pid"] == p.pid and st["pr_ppid"] == os.getpid()
    assert st["pr_nlwp"] == 1 and st["pr_dmodel"] == 2
    assert not st["pr_flags"] & PR_FLAGS.PR_STOPPED
    assert npc.listdir(f"{p.pid}/lwp") == ["1"]


def test_pcstop_then_pcrun(spawn):
    p, counter = spawn()
    with controlled(p.pid) as c:
        c.write(ctl((PC.PCSTOP, None)))
        st = lwpstatus(p.pid)
        assert st["pr_flags"] & (PR_FLAGS.PR_STOPPED | PR_FLAGS.PR_ISTOP) == PR_FLAGS.PR_STOPPED | PR_FLAGS.PR_ISTOP
        assert st["pr_why"] == PR_WHY.PR_REQUESTED and st["pr_what"] == 0
        assert st["pr_reg"][RIP] != 0
        with npc.open(f"{p.pid}/as") as a:
            before = int.from_bytes(a.pread(8, counter), "little")
            time.sleep(0.05)
            assert int.from_bytes(a.pread(8, counter), "little") == before  # really stopped
            c.write(ctl((PC.PCRUN, 0)))
            time.sleep(0.05)
            assert int.from_bytes(a.pread(8, counter), "little") > before
        assert not lwpstatus(p.pid)["pr_flags"] & PR_FLAGS.PR_STOPPED


def test_syscall_entry_and_exit_stops(spawn):
    p, _ = spawn("syscalls")
    getpid = NR64["getpid"]
    with controlled(p.pid) as c:
        c.write(ctl((PC.PCSTOP, None), (PC.PCSENTRY, sysset(getpid)), (PC.PCSEXIT, sysset(getpid)),
                    (PC.PCRUN, 0), (PC.PCWSTOP, None)))
        st = lwpstatus(p.pid)
        assert (st["pr_why"], st["pr_what"], st["pr_syscall"]) == (PR_WHY.PR_SYSENTRY, getpid, getpid)
        c.write(ctl((PC.PCRUN, 0), (PC.PCWSTOP, None)))
        st = lwpstatus(p.pid)
        assert (st["pr_why"], st["pr_what"]) == (PR_WHY.PR_SYSEXIT, getpid)
        assert st["pr_rval1"] == p.pid and st["pr_errno"] == 0


def test_abort_at_entry_gives_eintr(spawn):
    p, _ = spawn("syscalls")
    getpid = NR64["getpid"]
    with controlled(p.pid) as c:
        c.write(ctl((PC.PCSTOP, None), (PC.PCSENTRY, sysset(getpid)), (PC.PCSEXIT, sysset(getpid)),
                    (PC.PCRUN, 0), (PC.PCWSTOP, None)))
        c.write(ctl((PC.PCRUN, PCRUN_FLAGS.PRSABORT), (PC.PCWSTOP, None)))
        st = lwpstatus(p.pid)
        assert (st["pr_why"], st["pr_errno"]) == (PR_WHY.PR_SYSEXIT, errno.EINTR)


def test_traced_signal_stops_and_can_be_cleared(spawn):
    p, _ = spawn()
    with controlled(p.pid) as c:
        c.write(ctl((PC.PCSTRACE, sigset(SIGUSR1_S))))
        os.kill(p.pid, signal.SIGUSR1)
        c.write(ctl((PC.PCWSTOP, None)))
        st = lwpstatus(p.pid)
        assert (st["pr_why"], st["pr_what"], st["pr_cursig"]) == (PR_WHY.PR_SIGNALLED, SIGUSR1_S, SIGUSR1_S)
        assert st["pr_info"]["si_signo"] == SIGUSR1_S
        c.write(ctl((PC.PCRUN, PCRUN_FLAGS.PRCSIG)))
        time.sleep(0.05)
        assert p.poll() is None  # SIGUSR1 would have killed it


def test_untraced_signal_is_delivered_without_a_stop(spawn):
    p, counter = spawn()
    with controlled(p.pid) as c:
        c.write(ctl((PC.PCSTRACE, sigset(SIGUSR1_S))))
        os.kill(p.pid, signal.SIGUSR2)  # the handler adds 1000
        time.sleep(0.1)
        assert not lwpstatus(p.pid)["pr_flags"] & PR_FLAGS.PR_STOPPED
        assert p.poll() is None


def test_breakpoint_fault_stop(spawn):
    p, _ = spawn("int3")
    with controlled(p.pid) as c:
        c.write(ctl((PC.PCSFAULT, fltset(FLT.FLTBPT)), (PC.PCWSTOP, None)))
        st = lwpstatus(p.pid)
        assert (st["pr_why"], st["pr_what"]) == (PR_WHY.PR_FAULTED, FLT.FLTBPT)
        assert st["pr_info"]["si_signo"] == 5
        c.write(ctl((PC.PCRUN, PCRUN_FLAGS.PRCFAULT)))  # discard it: the program goes on
        time.sleep(0.05)
        assert p.poll() is None


def test_segv_fault_becomes_its_signal(spawn):
    p, _ = spawn("segv")
    with controlled(p.pid) as c:
        c.write(ctl((PC.PCSFAULT, fltset(FLT.FLTBOUNDS)), (PC.PCWSTOP, None)))
        st = lwpstatus(p.pid)
        assert (st["pr_why"], st["pr_what"]) == (PR_WHY.PR_FAULTED, FLT.FLTBOUNDS)
        c.write(ctl((PC.PCRUN, 0)))  # not cleared: SIGSEGV is posted and kills it
        assert p.wait(timeout=10) == -signal.SIGSEGV


def test_pctwstop_times_out_without_error(spawn):
    p, _ = spawn()
    with controlled(p.pid) as c:
        t0 = time.monotonic()
        c.write(ctl((PC.PCTWSTOP, 100)))
        assert 0.09 <= time.monotonic() - t0 < 5
        assert not lwpstatus(p.pid)["pr_flags"] & PR_FLAGS.PR_STOPPED


def test_run_on_last_close_resumes(spawn):
    p, counter = spawn()
    c = controlled(p.pid)
    c.write(ctl((PC.PCSTOP, None)))
    c.close()
    time.sleep(0.05)
    assert not lwpstatus(p.pid)["pr_flags"] & PR_FLAGS.PR_STOPPED


# -- failures --------------------------------------------------------------------------------


def test_open_errors(spawn):
    p, _ = spawn()
    with pytest.raises(FileNotFoundError):
        npc.open("999999999/status")
    with pytest.raises(FileNotFoundError):
        npc.open(f"{p.pid}/lwp/7/lwpstatus")
    with pytest.raises(FileNotFoundError):
        npc.open(f"{p.pid}/nosuchfile")
    with pytest.raises(PermissionError):
        npc.open(f"{p.pid}/status", os.O_WRONLY)
    with pytest.raises(PermissionError):
        npc.open(f"{p.pid}/ctl", os.O_RDONLY)


def test_exclusive_open_is_advisory(spawn):
    p, _ = spawn()
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY | os.O_EXCL):
        with pytest.raises(OSError) as ei:
            npc.open(f"{p.pid}/ctl", os.O_WRONLY | os.O_EXCL)
        assert ei.value.errno == errno.EBUSY
        npc.open(f"{p.pid}/ctl", os.O_WRONLY).close()  # a plain writer is still allowed


def test_bad_messages(spawn):
    p, _ = spawn()
    with controlled(p.pid) as c:
        for bad in (ctl((PC.PCNULL, None)) + (999).to_bytes(8, "little"),  # unknown code
                    ctl((PC.PCRUN, 0))[:12],  # truncated operand
                    b"\x01\x00\x00"):  # shorter than a command word
            with pytest.raises(OSError) as ei:
                c.write(bad)
            assert ei.value.errno == errno.EINVAL
        with pytest.raises(OSError) as ei:
            c.write(ctl((PC.PCRUN, 0)))  # running
        assert ei.value.errno == errno.EBUSY
        with pytest.raises(OSError) as ei:
            c.write(ctl((PC.PCKILL, 0)))
        assert ei.value.errno == errno.EINVAL
        with pytest.raises(OSError) as ei:
            c.write(ctl((PC.PCKILL, 7)))  # SIGEMT: Solaris-only
        assert ei.value.errno == errno.EINVAL
        with pytest.raises(OSError) as ei:
            c.write(ctl((PC.PCSET, 0x1)))  # not a mode bit
        assert ei.value.errno == errno.EINVAL
        # messages before a failing one stay in effect
        with pytest.raises(OSError):
            c.write(ctl((PC.PCSTOP, None), (PC.PCRUN, 0x100)))
        assert lwpstatus(p.pid)["pr_why"] == PR_WHY.PR_REQUESTED
        with pytest.raises(OSError) as ei:
            c.write(ctl((PC.PCRUN, 0x100)))
        assert ei.value.errno == errno.EINVAL
        with pytest.raises(OSError) as ei:
            c.read(8)
        assert ei.value.errno == errno.EINVAL


def test_messages_to_an_exited_process(spawn):
    p, _ = spawn()
    c = controlled(p.pid)
    p.kill()
    p.wait(timeout=10)
    time.sleep(0.05)
    with pytest.raises(FileNotFoundError):
        c.write(ctl((PC.PCNULL, None)))
    c.close()


def test_pcwstop_on_exit_gives_enoent(spawn):
    p, _ = spawn()
    with controlled(p.pid) as c:
        subprocess.Popen(["sh", "-c", f"sleep 0.2; kill -9 {p.pid}"]).wait
        with pytest.raises(FileNotFoundError):
            c.write(ctl((PC.PCWSTOP, None)))


def test_descriptor_survives_fork(spawn):
    """A child blocks in PCWSTOP on an inherited descriptor while the parent makes it stop."""
    p, _ = spawn()
    c = controlled(p.pid)
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(r)
            c.write(ctl((PC.PCWSTOP, None)))
            os.write(w, b"S")
        finally:
            os._exit(0)
    os.close(w)
    time.sleep(0.2)
    c.write(ctl((PC.PCDSTOP, None)))  # the parent talks at the same time as the child waits
    assert os.read(r, 1) == b"S"
    os.waitpid(child, 0)
    assert lwpstatus(p.pid)["pr_why"] == PR_WHY.PR_REQUESTED
    c.close()


# -- more control messages ------------------------------------------------------------------------

from structs.procfs import PRFPREGSET  # noqa: E402

FPC = codec(PRFPREGSET["amd64"])


def test_pcssig_delivers_at_resume(spawn):
    p, counter = spawn()
    with controlled(p.pid) as c, npc.open(f"{p.pid}/as") as a:
        c.write(ctl((PC.PCSTOP, None)))
        info = {"si_signo": 17, "si_code": 0, "si_errno": 0, "si_pad": 0, "__data": bytes(240)}  # SIGUSR2
        c.write(ctl((PC.PCSSIG, info)))
        assert lwpstatus(p.pid)["pr_cursig"] == 17
        before = int.from_bytes(a.pread(8, counter), "little")
        c.write(ctl((PC.PCRUN, 0)))
        time.sleep(0.1)
        assert int.from_bytes(a.pread(8, counter), "little") >= before + 1000  # the handler ran
        with pytest.raises(OSError) as ei:
            c.write(ctl((PC.PCSSIG, {**info, "si_signo": 74})))
        assert ei.value.errno == errno.EINVAL


def test_pcshold_sets_the_mask(spawn):
    p, _ = spawn()
    with controlled(p.pid) as c:
        c.write(ctl((PC.PCSHOLD, sigset(SIGUSR1_S, 9, 23))))  # SIGKILL, SIGSTOP silently dropped
        def blocked():
            with open(f"/proc/{p.pid}/status") as f:
                return next(int(l.split()[1], 16) for l in f if l.startswith("SigBlk:"))
        deadline = time.monotonic() + 5
        while blocked() != 1 << (signal.SIGUSR1 - 1) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert blocked() == 1 << (signal.SIGUSR1 - 1)
        os.kill(p.pid, signal.SIGUSR1)  # held: stays pending, the process lives
        time.sleep(0.05)
        assert p.poll() is None
        assert int.from_bytes(lwpstatus(p.pid)["pr_lwppend"]["__sigbits"], "little") in (0, 1 << 15)


def test_pcunkill_discards_a_pending_signal(spawn):
    p, _ = spawn()
    with controlled(p.pid) as c:
        c.write(ctl((PC.PCSHOLD, sigset(SIGUSR1_S))))
        time.sleep(0.05)
        os.kill(p.pid, signal.SIGUSR1)
        time.sleep(0.05)
        c.write(ctl((PC.PCUNKILL, SIGUSR1_S), (PC.PCSHOLD, sigset())))  # unblock: delivery is dropped
        time.sleep(0.1)
        assert p.poll() is None
        with pytest.raises(OSError) as ei:
            c.write(ctl((PC.PCUNKILL, 9)))
        assert ei.value.errno == errno.EINVAL


def test_pcsreg_pcsvaddr_pcsfpreg(spawn):
    p, _ = spawn()
    with controlled(p.pid) as c:
        c.write(ctl((PC.PCSTOP, None)))
        st = lwpstatus(p.pid)
        regs = st["pr_reg"]
        rbx = ILLUMOS_REG_INDEX["amd64"]["REG_RBX"]
        regs[rbx] = 0x1234_5678
        c.write(ctl((PC.PCSREG, regs)))  # prgregset_t: greg_t[28]
        assert lwpstatus(p.pid)["pr_reg"][rbx] == 0x1234_5678
        rip = regs[RIP]
        c.write(ctl((PC.PCSVADDR, rip)))
        assert lwpstatus(p.pid)["pr_reg"][RIP] == rip
        fp = st["pr_fpreg"]
        raw = bytearray(FPC.encode(fp))
        raw[24:28] = (0x1F80 | 0x40).to_bytes(4, "little")  # mxcsr with DAZ
        c.write(ctl((PC.PCSFPREG, FPC.decode(bytes(raw)))))
        assert FPC.encode(lwpstatus(p.pid)["pr_fpreg"])[24:28] == raw[24:28]
    # registers need a stopped LWP
    with controlled(p.pid) as c:
        with pytest.raises(OSError) as ei:
            c.write(ctl((PC.PCSVADDR, rip)))
        assert ei.value.errno == errno.EBUSY


def test_single_step_fault(spawn):
    p, _ = spawn()
    with controlled(p.pid) as c:
        c.write(ctl((PC.PCSTOP, None), (PC.PCSFAULT, fltset(FLT.FLTTRACE))))
        rip = lwpstatus(p.pid)["pr_reg"][RIP]
        c.write(ctl((PC.PCRUN, PCRUN_FLAGS.PRSTEP), (PC.PCWSTOP, None)))
        st = lwpstatus(p.pid)
        assert (st["pr_why"], st["pr_what"]) == (PR_WHY.PR_FAULTED, FLT.FLTTRACE)
        assert st["pr_reg"][RIP] != rip
        c.write(ctl((PC.PCRUN, PCRUN_FLAGS.PRCFAULT)))


def test_change_syscall_at_entry(spawn):
    p, _ = spawn("syscalls")
    getpid, getppid = NR64["getpid"], SYSCALL_NUMBERS["amd64"]["getppid"]
    with controlled(p.pid) as c:
        c.write(ctl((PC.PCSTOP, None), (PC.PCSENTRY, sysset(getpid)), (PC.PCSEXIT, sysset(getppid)),
                    (PC.PCRUN, 0), (PC.PCWSTOP, None)))
        # the exit set is matched against the call actually made
        c.write(ctl((PCX.PCXSETSYSNUM, getppid), (PC.PCRUN, 0), (PC.PCWSTOP, None)))
        st = lwpstatus(p.pid)
        assert (st["pr_why"], st["pr_what"], st["pr_rval1"]) == (PR_WHY.PR_SYSEXIT, getppid, os.getpid())
        c.write(ctl((PC.PCSENTRY, sysset()), (PC.PCSEXIT, sysset()), (PC.PCRUN, 0), (PC.PCSTOP, None)))
        with pytest.raises(OSError) as ei:
            c.write(ctl((PCX.PCXSETSYSNUM, getppid)))  # not at a system call stop
        assert ei.value.errno == errno.EBUSY


def test_pckill_to_one_lwp_and_klc(spawn):
    p, _ = spawn()
    c = npc.open(f"{p.pid}/lwp/1/lwpctl", os.O_WRONLY)
    c.write(ctl((PC.PCSET, 0x400000)))  # PR_KLC: the last close kills
    c.close()
    assert p.wait(timeout=10) == -signal.SIGKILL


def test_messages_not_offered_yet_say_so(spawn):
    p, _ = spawn()
    with controlled(p.pid) as c:
        with pytest.raises(OSError) as ei:
            c.write(ctl((PC.PCREAD, {"pio_base": 0, "pio_len": 0, "pio_offset": 0})))
        assert ei.value.errno == errno.ENOTSUP


def test_every_file_of_the_tree(spawn):
    """Each file reads through procd with the size its Solaris layout has (amd64 reader)."""
    from structs import procfs as S

    p, _ = spawn()
    assert str(p.pid) in npc.listdir("")
    assert set(npc.listdir(f"{p.pid}")) >= {"as", "ctl", "status", "psinfo", "map", "watch", "cred",
                                            "sigact", "auxv", "lwp"}
    assert npc.listdir(f"{p.pid}/lwp/1") == ["lwpctl", "lwpsigqueue", "lwpsinfo", "lwpstatus", "lwpusage", "xregs"]
    with pytest.raises(FileNotFoundError):
        npc.listdir(f"{p.pid}/lwp/9")
    sizes = {"status": S.PSTATUS, "psinfo": S.PSINFO, "lwp/1/lwpsinfo": S.LWPSINFO,
             "lwp/1/lwpstatus": S.LWPSTATUS}
    for name, schema in sizes.items():
        with npc.open(f"{p.pid}/{name}") as f:
            assert len(f.read()) == schema["amd64"].sizeof(), name
    with npc.open(f"{p.pid}/psinfo") as f:
        ps = codec(S.PSINFO["amd64"]).decode(f.read())
    assert ps["pr_pid"] == p.pid and ps["pr_fname"].startswith(b"loop-")
    for name, schema in (("map", S.PRMAP), ("auxv", S.AUXV), ("sigact", S.SIGACTION)):
        with npc.open(f"{p.pid}/{name}") as f:
            data = f.read()
        assert data and len(data) % schema["amd64"].sizeof() == 0, name
    with npc.open(f"{p.pid}/cred") as f:
        cred = codec(S.PRCRED["amd64"]).decode(f.read()[:32])
    assert cred["pr_ruid"] == os.getuid()
    with npc.open(f"{p.pid}/watch") as f:
        assert f.read() == b""  # no watched areas


def test_pckill_and_pcnice(spawn):
    p, _ = spawn()
    with controlled(p.pid) as c:
        c.write(ctl((PC.PCNICE, 3)))
        assert os.getpriority(os.PRIO_PROCESS, p.pid) == 3
        c.write(ctl((PC.PCKILL, 15)))  # Solaris SIGTERM
        assert p.wait(timeout=10) == -signal.SIGTERM
