"""The proc tools (`native-proc pflags` ...) on real processes, their layout line by line against
illumos: the pmap(1) manual's examples (EXAMPLES 1 and 2) column for column on a 32-bit target,
and, where the manual shows no example (pflags, pcred, psig, pwdx, pargs, ptime), the lines the
tools' printf formats in illumos-gate usr/src/cmd/ptools produce, written out below."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys

import pytest

import native_proc.client as npc
from native_proc.ptools import TOOLS
from structs.codec import codec
from structs.ctl import encode_ctl, sysset
from structs.procfs import LWPSTATUS
from structs.procfs_consts import PC
from structs.regs import ILLUMOS_REG_INDEX
from structs.syscalls import NR64

from .procd_helpers import Served, host_state, until

LWPST = codec(LWPSTATUS["amd64"])
RIP = ILLUMOS_REG_INDEX["amd64"]["REG_RIP"]
PR_RLC = 0x200000
SLEEPER = "#include <unistd.h>\nint main(void){ for (;;) pause(); }\n"


def run(tool: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = TOOLS[tool](list(argv), out, err)
    return rc, out.getvalue(), err.getvalue()


def ctl(*messages) -> bytes:
    return encode_ctl("amd64", list(messages))


@pytest.fixture
def started():
    """started(argv, **popen) -> Popen; every process is killed and reaped afterwards."""
    procs = []

    def start(argv, **kw):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kw)
        procs.append(p)
        until(lambda: host_state(p.pid)[0] == "S", timeout=10, what=f"{argv[0]} asleep")
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)


# -- pflags --------------------------------------------------------------------------------------

# pflags.c: "%d:\t%.70s", "\tdata model = %s[  flags = %s]", " /%d:\tflags = %s[|ASLEEP][  %s(0x%lx,...)]",
# "\twhy = %s[  what = %s]", the 2-column "  %s = 0x%.16lX" registers, and a closing empty line.
PFLAGS_HEAD = re.compile(r"\d+:\t.{0,70}")
PFLAGS_MODEL = re.compile(r"\tdata model = _(LP64|ILP32)(  flags = [A-Z|]+)?")
PFLAGS_LWP = re.compile(r" /\d+:\tflags = ([A-Z|]+|0)(  [a-z_0-9]+\((0x[0-9a-f]+(,0x[0-9a-f]+)*)?\))?")
PFLAGS_REGS = re.compile(r"(  [ %][%a-z0-9]+ = 0x[0-9A-F]{16}){1,2}")


def test_pflags_of_a_sleeping_process(started):
    p = started(["sleep", "100"])
    rc, out, err = run("pflags", str(p.pid))
    assert rc == 0 and err == ""
    lines = out.split("\n")
    assert lines[0] == f"{p.pid}:\tsleep 100" and PFLAGS_HEAD.fullmatch(lines[0])
    assert lines[1] == "\tdata model = _LP64" and PFLAGS_MODEL.fullmatch(lines[1])
    # The example: a 4-argument call shows 4 arguments, from rdi rsi rdx r10.
    m = re.fullmatch(r" /1:\tflags = ASLEEP  clock_nanosleep\(0x0,0x0,(0x[0-9a-f]+),(0x[0-9a-f]+)\)", lines[2])
    assert m and PFLAGS_LWP.fullmatch(lines[2]), lines[2]
    assert lines[3:] == ["", ""]  # the closing empty line, then the end


def test_pflags_r_of_a_stopped_process(started):
    p = started(["sleep", "100"])
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSTOP, None)), timeout=10)
        with npc.open(f"{p.pid}/lwp/1/lwpstatus") as f:
            rip = LWPST.decode(f.read())["pr_reg"][RIP]
        rc, out, err = run("pflags", "-r", str(p.pid))
        plain = run("pflags", str(p.pid))[1]
    assert rc == 0 and err == ""
    lines = out.split("\n")
    assert lines[1] == "\tdata model = _LP64  flags = RLC"
    assert PFLAGS_LWP.fullmatch(lines[2]) and lines[2].startswith(" /1:\tflags = STOPPED|ISTOP  clock_nanosleep(")
    assert lines[3] == "\twhy = PR_REQUESTED"
    regs = lines[4:18]
    assert all(PFLAGS_REGS.fullmatch(r) for r in regs), regs
    assert regs[0] == regs[0].replace("%r15", "%r15") and regs[0].startswith("  %r15 = 0x")
    assert f"  %rip = 0x{rip & (1 << 64) - 1:016X}" in regs[8]
    assert regs[13].startswith("  %fsbase = 0x") and "%gsbase" in regs[13]
    assert lines[18:] == ["", ""]
    assert "%rip" not in plain  # registers only with -r


def test_pflags_traced_sets_and_event_stop(spawn):
    p, _ = spawn("syscalls")
    getpid = NR64["getpid"]
    with npc.open(f"{p.pid}/ctl", os.O_WRONLY) as c:
        c.write(ctl((PC.PCSET, PR_RLC), (PC.PCSTOP, None), (PC.PCSENTRY, sysset(getpid)), (PC.PCRUN, 0),
                    (PC.PCWSTOP, None)), timeout=10)
        rc, out, _ = run("pflags", str(p.pid))
    lines = out.split("\n")
    word, bit = divmod(getpid, 32)
    words = [1 << bit if i == word else 0 for i in range(8)]
    assert lines[2] == "\tentryset = " + " ".join(f"0x{w:08x}" for w in words[:4])
    assert lines[3] == "\t           " + " ".join(f"0x{w:08x}" for w in words[4:])
    assert lines[4] == " /1:\tflags = STOPPED|ISTOP  getpid()"
    assert lines[5] == "\twhy = PR_SYSENTRY  what = getpid"


def test_pflags_errors_and_lwp_sets(started):
    p = started(["sleep", "100"])
    rc, out, err = run("pflags", "999999999", str(p.pid), f"{p.pid}/2-5", f"{p.pid}/x")
    assert rc == 2
    assert err.splitlines() == ["pflags: cannot examine 999999999: no such process",
                                f"pflags: cannot examine {p.pid}/x: bad lwp specification"]
    assert out.count(f"{p.pid}:\tsleep 100") == 2
    assert out.endswith("\tdata model = _LP64\nNo matching lwps found\n")
    rc, _, err = run("pflags")
    assert rc == 2 and err.startswith("usage:\tpflags [-r] { pid | core }[/lwps] ...")


# -- pmap ------------------------------------------------------------------------------------------

# pmap(1) EXAMPLES 1 and 2 (a 32-bit process): one line of each kind.
MAN_PMAP = ["00010000    192K r-x--  /usr/bin/ksh", "00042000     40K rwx--    [ heap ]",
            "FFBFC000     16K rw---    [ stack ]", " total     1880K"]
MAN_PMAP_X = [" Address  Kbytes     RSS    Anon  Locked Mode   Mapped File",
              "00010000       8       8       -       - r-x--  maps",
              "00022000   20344   16248   16248       - rwx--    [ heap ]",
              "-------- ------- ------- ------- -------",
              "total Kb   50464   42264   18888   16384"]


def _ends(line: str) -> list[int]:
    return [m.end() for m in re.finditer(r"\S+", line)]


def _same_columns(ours: str, man: str, fixed: int, shift: int = 0) -> None:
    """The first `fixed` fields end in the same columns (right-aligned numbers), the rest start
    where the manual's do; `shift` columns later after the first field when asked."""
    a, b = _ends(ours), _ends(man)
    b = b[:1] + [x + shift for x in b[1:]]
    assert a[:fixed] == b[:fixed], (ours, man)
    starts = lambda s: [m.start() for m in re.finditer(r"\S+", s)]  # noqa: E731
    assert starts(ours)[fixed:fixed + 1] == [x + shift for x in starts(man)[fixed:fixed + 1]], (ours, man)


@pytest.fixture
def sleeper32(cbuild, started):
    try:
        exe = cbuild(SLEEPER, "-m32", "-O0", name="sleeper32")
    except RuntimeError as e:
        pytest.skip(f"gcc -m32 does not work here: {e}")
    return started([str(exe)])


def test_pmap_columns_match_the_manual_on_a_32bit_process(sleeper32):
    pid = sleeper32.pid
    rc, out, err = run("pmap", str(pid))
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert re.fullmatch(rf"{pid}:\t.*sleeper32-\w+", lines[0])
    body = lines[1:-1]
    assert body and all(re.fullmatch(r"[0-9A-F]{8} +\d+K [r-][w-][x-][s-][R-] ( .*)?", x) for x in body), body
    # Example 1 was made when an _ILP32 size column was 7 wide; pmap.c's size_width is now 8
    # (as in Example 2), so sizes and what follows sit one column further right.
    named = next(x for x in body if "sleeper32" in x)
    _same_columns(named, MAN_PMAP[0], 2, shift=1)
    stack = next(x for x in body if x.endswith("[ stack ]"))
    _same_columns(stack, MAN_PMAP[2], 3, shift=1)
    _same_columns(lines[-1], MAN_PMAP[3], 2, shift=1)
    total = sum(int(x.split()[1][:-1]) for x in body)
    assert lines[-1] == f" total  {total:>8}K"  # " %stotal  %*luK"

    rc, out, err = run("pmap", "-x", str(pid))
    lines = out.splitlines()
    assert lines[1] == MAN_PMAP_X[0]
    assert lines[-2] == MAN_PMAP_X[3]
    _same_columns(lines[-1], MAN_PMAP_X[4], 6)
    rows = lines[2:-2]
    for x in rows:
        assert re.fullmatch(r"[0-9A-F]{8}( +(\d+|-)){4} [r-][w-][x-][s-][R-] ( .*)?", x), x
        _same_columns(x, MAN_PMAP_X[1], 5)
    rss = sum(int(x.split()[2]) for x in rows if x.split()[2] != "-")
    assert lines[-1].split()[3] == str(rss)


def test_pmap_64bit_widths_and_errors(started):
    p = started(["sleep", "100"])
    rc, out, _ = run("pmap", "-x", str(p.pid), "999999999")
    lines = out.splitlines()
    # pmap.c: 16-wide addresses and 11-wide sizes for an _LP64 process.
    assert lines[1] == f"{'Address':>16}{'Kbytes':>11}{'RSS':>11}{'Anon':>11}{'Locked':>11} Mode   Mapped File"
    assert lines[-2] == "-" * 16 + (" " + "-" * 10) * 4
    assert re.fullmatch(r" {8}total Kb( +(\d+|-)){4}", lines[-1])
    assert any(x.endswith("  [ stack ]") for x in lines)
    assert rc == 1
    rc, out, err = run("pmap", "999999999")
    assert err == "pmap: cannot examine 999999999: no such process\n" and out == ""


# -- pcred, psig, pwdx, pargs/penv, pfiles -----------------------------------------------------------


def test_pcred(started):
    p = started(["sleep", "100"])
    rc, out, _ = run("pcred", str(p.pid))
    u, g = os.getuid(), os.getgid()
    assert rc == 0 and out.splitlines()[0] == f"{p.pid}:\te/r/suid={u}  e/r/sgid={g}"
    rc, out, _ = run("pcred", "-a", str(p.pid))
    assert out.splitlines()[0] == f"{p.pid}:\teuid={u} ruid={u} suid={u}  egid={g} rgid={g} sgid={g}"
    groups = os.getgroups()
    if groups:
        assert out.splitlines()[1] == "\tgroups:" + "".join(f" {x}" for x in groups)
    assert run("pcred", "999999999")[2] == "pcred: cannot examine 999999999: no such process\n"


def test_psig(started):
    p = started(["sleep", "100"], preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    rc, out, _ = run("psig", str(p.pid))
    lines = out.splitlines()
    assert rc == 0 and lines[0] == f"{p.pid}:\tsleep 100"
    assert len(lines) == 1 + 73  # one line per Solaris signal, 1 .. 73
    assert lines[1] == "HUP\tdefault" and lines[2] == "INT\tignored"
    assert lines[18] == "CLD\tdefault" and lines[22] == "POLL\tdefault"  # sig2str's names
    assert lines[42] == "RTMIN\tdefault" and lines[73] == "RTMAX\tdefault"


def test_pwdx_and_pargs_penv(started, tmp_path):
    p = started(["sleep", "100"], cwd=tmp_path, env={"H6_MARK": "x y", "PATH": os.environ["PATH"]})
    assert run("pwdx", str(p.pid), "999999999") == (
        1, f"{p.pid}:\t{tmp_path}\n", "pwdx: cannot examine 999999999: no such process\n")
    rc, out, _ = run("pargs", str(p.pid))
    assert out.splitlines() == [f"{p.pid}:\tsleep 100", "argv[0]: sleep", "argv[1]: 100"]
    rc, out, _ = run("penv", str(p.pid))
    assert out.splitlines() == [f"{p.pid}:\tsleep 100", "envp[0]: H6_MARK=x y", f"envp[1]: PATH={os.environ['PATH']}"]
    rc, out, _ = run("pargs", "-a", str(p.pid))
    assert out.splitlines()[3:5] == ["", "envp[0]: H6_MARK=x y"]
    assert run("pargs", "-l", str(p.pid))[1] == "sleep 100\n"


def test_pfiles(started, tmp_path):
    f = tmp_path / "held"
    f.write_text("abc")
    with open(f) as fh:
        p = started(["sleep", "100"], stdin_fd=None) if False else started(["sleep", "100"], stdout=fh)
    rc, out, _ = run("pfiles", str(p.pid))
    lines = out.splitlines()
    assert lines[0] == f"{p.pid}:\tsleep 100" and lines[1].startswith("  Current rlimit: ")
    i = lines.index(next(x for x in lines if x.startswith("   1: ")))
    assert re.fullmatch(r"   1: S_IFREG mode:0\d{3} dev:\d+,\d+ ino:\d+ uid:\d+ gid:\d+ size:3", lines[i])
    assert lines[i + 1] == f"      {f}"


# -- pstop / prun / pwait / ptime ----------------------------------------------------------------------


def test_pstop_prun_through_a_served_procd(started, tmp_path):
    served = Served(tmp_path)
    try:
        with served.active():
            p = started(["sleep", "100"])
            assert run("pstop", str(p.pid)) == (0, "", "")
            until(lambda: host_state(p.pid)[0] == "t", what="the requested stop")
            out = run("pflags", str(p.pid))[1]
            assert "\twhy = PR_REQUESTED" in out.splitlines()
            assert run("prun", str(p.pid)) == (0, "", "")
            until(lambda: host_state(p.pid)[0] == "S", what="set running again")
            assert run("pstop", f"{p.pid}/3") == (1, "", f"pstop: cannot control {p.pid}/3: no matching LWPs found\n")
            assert run("prun", "999999999")[2] == "prun: cannot control 999999999: no such process\n"
    finally:
        served.stop()


def test_pwait_and_ptime(started):
    p = started(["sleep", "0.5"])
    rc, out, err = run("pwait", "-v", str(p.pid), "999999999")
    assert err == "pwait: cannot examine 999999999: no such process\n"
    assert re.fullmatch(rf"{p.pid}: terminated(, wait status 0x[0-9a-f]{{4}})?\n", out)
    rc, out, err = run("ptime", sys.executable, "-c", "import time; time.sleep(0.2)")
    lines = err.split("\n")
    assert rc == 0 and lines[0] == ""
    for label, line in zip(("real", "user", "sys "), lines[1:4]):  # ptime.c: "%-4s %8s.%.9u"
        assert re.fullmatch(rf"{label} +\d+\.\d{{9}}", line) and len(line) == 23, line
    assert float(lines[1].split()[1]) >= 0.2
