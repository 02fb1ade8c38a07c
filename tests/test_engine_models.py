"""Data models: 32-bit targets seen by LP64 readers, and ILP32 readers/writers (ARCHITECTURE
item 3: the reader's data model chooses the layout)."""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

import native_proc.client as npc
from structs.codec import codec
from structs.ctl import encode_ctl
from structs.procfs import LWPSTATUS, PSTATUS
from structs.procfs_consts import PC, PR_MODEL_ILP32, PR_MODEL_LP64, PR_WHY
from structs.regs import ILLUMOS_REG_INDEX

from .targets import LOOP

R64, R32 = ILLUMOS_REG_INDEX["amd64"], ILLUMOS_REG_INDEX["i386"]
PR_RLC = 0x200000


@pytest.fixture
def target(cbuild):
    procs = []

    def start(bits: int):
        exe = cbuild(LOOP, "-O0", f"-m{bits}", name=f"loop{bits}")
        p = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout.readline().startswith("ready")
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait()


def stopped(pid: int, writer_model: str = "amd64"):
    model = PR_MODEL_LP64 if writer_model == "amd64" else PR_MODEL_ILP32
    c = npc.open(f"{pid}/ctl", os.O_WRONLY, model=model)
    c.write(encode_ctl(writer_model, [(PC.PCSET, PR_RLC), (PC.PCSTOP, None)]))
    return c


def test_32bit_target_through_an_lp64_reader(target):
    p = target(32)
    with stopped(p.pid):
        with npc.open(f"{p.pid}/status") as f:
            st = codec(PSTATUS["amd64"]).decode(f.read())
        assert st["pr_dmodel"] == PR_MODEL_ILP32
        regs = st["pr_lwp"]["pr_reg"]
        assert regs[R64["REG_CS"]] == 0x23
        assert 0 < regs[R64["REG_RIP"]] < 1 << 32 and 0 <= regs[R64["REG_RSP"]] < 1 << 32  # i386 registers, widened


def test_ilp32_reader_gets_i386_layouts(target):
    p = target(32)
    with stopped(p.pid):
        with npc.open(f"{p.pid}/lwp/1/lwpstatus") as f:
            rip = codec(LWPSTATUS["amd64"]).decode(f.read())["pr_reg"][R64["REG_RIP"]]
        with npc.open(f"{p.pid}/lwp/1/lwpstatus", model=PR_MODEL_ILP32) as f:
            data = f.read()
        assert len(data) == 800
        st = codec(LWPSTATUS["i386"]).decode(data)
        assert st["pr_why"] == PR_WHY.PR_REQUESTED
        assert st["pr_reg"][R32["EIP"]] & 0xFFFFFFFF == rip  # greg_t is a signed int on i386
        assert st["pr_reg"][R32["CS"]] == 0x23
        with npc.open(f"{p.pid}/status", model=PR_MODEL_ILP32) as f:
            assert len(f.read()) == 1136


def test_ilp32_writer_sets_registers_of_a_32bit_target(target):
    p = target(32)
    with stopped(p.pid, "i386") as c:
        with npc.open(f"{p.pid}/lwp/1/lwpstatus", model=PR_MODEL_ILP32) as f:
            regs = codec(LWPSTATUS["i386"]).decode(f.read())["pr_reg"]
        regs[R32["EBX"]] = -2
        c.write(encode_ctl("i386", [(PC.PCSREG, regs)]))
        with npc.open(f"{p.pid}/lwp/1/lwpstatus") as f:
            assert codec(LWPSTATUS["amd64"]).decode(f.read())["pr_reg"][R64["REG_RBX"]] == 0xFFFFFFFE


def test_ilp32_writer_on_64bit_target_overflows(target):
    p = target(64)
    with stopped(p.pid, "i386") as c:
        for msg in ((PC.PCSREG, [0] * 19), (PC.PCSVADDR, 0x1000),
                    (PC.PCSSIG, {"si_signo": 16, "si_code": 0, "si_errno": 0, "__data": bytes(116)})):
            with pytest.raises(OSError) as ei:
                c.write(encode_ctl("i386", [msg]))
            assert ei.value.errno == errno.EOVERFLOW
        c.write(encode_ctl("i386", [(PC.PCRUN, 0)]))  # the rest works
