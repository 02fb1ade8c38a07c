"""The BSD procfs view (seed 004) on real processes: the same debugging session as
test_bsd_ptrace's, driven through the text ctl file and the regs/dbregs/mem files, every ctl
verb's failure, and the status, map, note, notepg, file, rlimit, etype and curproc files."""

from __future__ import annotations

import errno
import os
import resource
import signal
import struct
import subprocess

import pytest

import native_proc.client as npc
from bsd import procfs
from bsd import ptrace as BP
from structs.bsd import REG

from .test_bsd_ptrace import WAIT, _as_nobody, _in_child, debuggee, read_line, spin  # noqa: F401 (fixtures)

REGS = REG["amd64"]


def err(fn, *args, **kw) -> int:
    with pytest.raises(OSError) as ei:
        fn(*args, **kw)
    return ei.value.errno


def ctl(pid: int, verb: str) -> int:
    with procfs.open(pid, "ctl") as c:
        return c.write(verb + "\n", timeout=WAIT) if verb == "wait" else c.write(verb + "\n")


def regs(pid: int) -> dict:
    with procfs.open(pid, "regs") as f:
        return REGS.parse(f.read())


def test_ctl_session(spin, debuggee):
    """attach, wait, a breakpoint written through mem, run, step, mem read, a watchpoint through
    dbregs, detach: the seed's sequence of ctl verbs."""
    _, sym = debuggee
    p = spin()
    pid = p.pid
    assert ctl(pid, "attach") == 7
    assert err(ctl, pid, "attach") == errno.EBUSY  # a second attach
    ctl(pid, "wait")
    assert regs(pid)["r_cs"] & 3 == 3
    with procfs.open(pid, "mem") as mem:
        mem.seek(sym["marker"])
        orig = mem.read(1)
        assert orig == b"\x55"
        mem.seek(sym["marker"])
        assert mem.write(b"\xcc") == 1
    ctl(pid, "run")
    ctl(pid, "wait")
    r = regs(pid)
    assert r["r_rip"] == sym["marker"] + 1  # at the int3
    with procfs.open(pid, "mem") as mem:
        mem.seek(sym["marker"])
        mem.write(orig)
        mem.seek(sym["buf"])
        assert mem.read(5) == b"hello"
    with procfs.open(pid, "regs") as f:
        f.write(REGS.build(dict(r, r_rip=sym["marker"])))
    ctl(pid, "step")
    ctl(pid, "wait")
    assert regs(pid)["r_rip"] == sym["marker"] + 1  # push %rbp, stepped
    with procfs.open(pid, "dbregs") as f:
        dr = [0] * 16
        dr[0], dr[7] = sym["watched"], 1 | (0b01 << 16) | (0b10 << 18)
        f.write(struct.pack("<16Q", *dr))
    ctl(pid, "run")
    ctl(pid, "wait")
    with procfs.open(pid, "dbregs") as f:
        got = struct.unpack("<16Q", f.read())
    assert got[0] == sym["watched"] and got[6] & 1  # B0: the watchpoint hit
    with procfs.open(pid, "dbregs") as f:
        f.write(bytes(128))
    ctl(pid, "detach")
    assert BP.tracee_of(pid) is None
    os.kill(pid, signal.SIGUSR1)
    assert read_line(p.stdout.fileno()) == b"usr1\n"  # running, untraced


def test_ctl_verb_errors(spin):
    p = spin()
    pid = p.pid
    assert err(ctl, pid, "wait") == errno.EINVAL  # not attached
    assert err(ctl, pid, "step") == errno.EBUSY  # not stopped under our control
    assert err(ctl, pid, "run") == errno.EBUSY
    assert err(ctl, pid, "bogus") == errno.EINVAL
    assert err(ctl, pid, "sigbogus") == errno.EINVAL
    assert err(ctl, pid, "thr") == errno.EINVAL  # SIGTHR: no Linux counterpart
    assert err(ctl, pid, "emt") == errno.EINVAL  # SIGEMT: Solaris-only
    assert err(ctl, "curproc", "attach") == errno.EINVAL  # yourself
    assert ctl(pid, "detach") == 7  # not traced: a painless no-op
    assert ctl(pid, "usr1") == 5  # not ours: just sent
    assert read_line(p.stdout.fileno()) == b"usr1\n"
    # a signal name to a stopped tracee: delivered as it runs on
    ctl(pid, "attach")
    ctl(pid, "wait")
    assert ctl(pid, "usr1") == 5
    assert read_line(p.stdout.fileno()) == b"usr1\n"
    assert err(ctl, pid, "step") == errno.EBUSY  # running again
    ctl(pid, "detach")
    assert err(procfs.open, 1 << 30, "ctl") == errno.ENOENT
    assert err(procfs.open, pid, "nosuchfile") == errno.ENOENT
    assert err(procfs.open, "self", "status") == errno.ENOENT  # BSD's name is curproc


def test_ctl_on_a_process_that_exits(spin):
    p = spin()
    ctl(p.pid, "attach")
    ctl(p.pid, "wait")
    c = procfs.open(p.pid, "ctl")
    note = procfs.open(p.pid, "note")
    p.kill()  # SIGKILL ends even a stopped process
    p.wait(timeout=WAIT)
    assert err(c.write, "wait", timeout=WAIT) == errno.ENOENT
    assert BP.tracee_of(p.pid) is None
    assert err(note.write, "usr1") == errno.ENOENT
    assert err(procfs.open, p.pid, "status") == errno.ENOENT


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_ctl_attach_eperm(spin):
    p = spin()

    def attach() -> None:
        _as_nobody()
        procfs.open(p.pid, "ctl").write("attach")

    def regs_of() -> None:
        _as_nobody()
        procfs.open(p.pid, "regs")

    assert _in_child(attach) == errno.EPERM
    assert _in_child(regs_of) == errno.EPERM


def test_register_files_need_a_stop(spin):
    p = spin()
    with procfs.open(p.pid, "regs") as f:
        assert err(f.read) == errno.EBUSY
    with procfs.open(p.pid, "fpregs") as f:
        assert err(f.read) == errno.EBUSY
    ctl(p.pid, "attach")
    ctl(p.pid, "wait")
    with procfs.open(p.pid, "fpregs") as f:
        fx = bytearray(f.read())
        assert len(fx) == 512
        fx[160:176] = b"\x11" * 16
        f.seek(0)
        f.write(bytes(fx))
        f.seek(0)
        assert f.read()[160:176] == b"\x11" * 16
    with procfs.open(p.pid, "fpregs", abi="i386") as f:
        assert len(f.read()) == 176
    with procfs.open(p.pid, "regs", abi="i386") as f:
        r32 = REG["i386"].parse(f.read())
    assert r32["r_eip"] == regs(p.pid)["r_rip"] & 0xFFFFFFFF
    with procfs.open(p.pid, "regs") as f:
        assert err(f.pwrite, b"\0" * 8, 176) == errno.EINVAL  # past the structure
        bad = dict(regs(p.pid))
        bad["r_rflags"] |= 0x3000
        assert err(f.write, REGS.build(bad)) == errno.EINVAL
    with procfs.open(p.pid, "mem") as mem:
        mem.seek(16)
        assert err(mem.read, 8) == errno.EFAULT
        mem.seek(1 << 47)
        assert mem.read(8) == b""  # nothing there: end of file
    ctl(p.pid, "detach")


def test_status_line(spin, debuggee):
    p = spin()
    with procfs.open(p.pid, "status") as f:
        line = f.read().decode()
    assert line.endswith("\n") and "\n" not in line[:-1]
    w = line.split()
    assert w[0] == "debuggee" and int(w[1]) == p.pid and int(w[2]) == os.getpid()
    assert int(w[3]) == os.getpgid(p.pid) and int(w[4]) == os.getsid(p.pid)
    assert w[6] in ("noflags", "ctty", "sldr", "ctty,sldr")
    start = int(w[7])
    assert abs(start - (os.stat(f"/proc/{p.pid}").st_mtime)) < 3600 * 24 * 365 * 60 and start > 10 ** 9
    assert all(x.isdigit() for x in w[8:13])
    assert int(w[14]) == os.geteuid() and int(w[15]) == os.getuid() and int(w[16]) == os.getgid()
    with procfs.open("curproc", "status") as f:
        assert int(f.read().split()[1]) == os.getpid()


def test_map(spin, debuggee):
    exe, _ = debuggee
    p = spin()
    with procfs.open(p.pid, "map") as f:
        lines = f.read().decode().splitlines()
    with open(f"/proc/{p.pid}/maps") as fh:
        host = [l.split()[0].split("-") for l in fh]
    assert [(int(l.split()[0], 16), int(l.split()[1], 16)) for l in lines] == [(int(a, 16), int(b, 16)) for a, b in host]
    text = next(l.split() for l in lines if l.endswith(exe) and l.split()[5] == "r-x")
    assert len(text) == 13 and text[11] == "vnode" and text[9] == "NCOW"
    assert any(l.split()[11] in ("default", "swap") and l.split()[9] == "COW" for l in lines)  # heap/stack


def test_note_and_notepg(debuggee):
    exe, _ = debuggee
    npc.ensure_procd()
    started: list[subprocess.Popen] = []
    try:
        a = subprocess.Popen([exe, "spin"], stdout=subprocess.PIPE, process_group=0)
        started.append(a)
        b = subprocess.Popen([exe, "spin"], stdout=subprocess.PIPE, process_group=a.pid)
        started.append(b)
        assert read_line(a.stdout.fileno()) == read_line(b.stdout.fileno()) == b"ready\n"
        with procfs.open(a.pid, "note") as f:
            f.write("usr1\n")
        assert read_line(a.stdout.fileno()) == b"usr1\n"
        with procfs.open(b.pid, "notepg") as f:
            f.write("usr1")
        assert read_line(a.stdout.fileno()) == b"usr1\n" and read_line(b.stdout.fileno()) == b"usr1\n"
        with procfs.open(a.pid, "note") as f:
            assert err(f.write, "nosuchsignal") == errno.EINVAL
    finally:
        for q in started:
            q.kill()
            q.wait(timeout=WAIT)


def test_file_rlimit_etype(spin, debuggee, tmp_path):
    exe, _ = debuggee
    p = spin()
    with procfs.open(p.pid, "file") as f:
        assert os.path.samestat(os.fstat(f.fileno()), os.stat(exe))
        assert f.read(4) == b"\x7fELF"
    with procfs.open(p.pid, "rlimit") as f:
        limits = {l.split()[0]: l.split()[1:] for l in f.read().decode().splitlines()}
    assert list(limits) == ["cpu", "fsize", "data", "stack", "core", "rss", "memlock", "nproc", "nofile",
                            "sbsize", "vmem"]
    cur, mx = resource.prlimit(p.pid, resource.RLIMIT_NOFILE)
    assert limits["nofile"] == [str(cur) if cur != resource.RLIM_INFINITY else "-1",
                                str(mx) if mx != resource.RLIM_INFINITY else "-1"]
    with procfs.open(p.pid, "etype") as f:
        assert f.read() == b"Linux ELF64\n"
    src = tmp_path / "loop32.c"
    src.write_text("#include <unistd.h>\nint main(void){write(1,\"ready\\n\",6);for(;;)pause();}\n")
    exe32 = tmp_path / "loop32"
    res = subprocess.run(["gcc", "-m32", "-o", str(exe32), str(src)], capture_output=True)
    if res.returncode:
        pytest.skip("gcc -m32 unavailable")
    q = subprocess.Popen([str(exe32)], stdout=subprocess.PIPE)
    try:
        assert read_line(q.stdout.fileno()) == b"ready\n"
        with procfs.open(q.pid, "etype") as f:
            assert f.read() == b"Linux ELF32\n"
    finally:
        q.kill()
        q.wait(timeout=WAIT)
