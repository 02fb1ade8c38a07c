"""Scenarios of the i386 caller (group "user32"): a 32-bit debugger's PEEKUSER/POKEUSER across the
whole i386 `struct user` (registers, i387, padding, debug registers, out of range, misaligned),
GETREGS/SETREGS, GETFPREGS/SETFPREGS (the fsave image) and GETFPXREGS/SETFPXREGS (requests 18/19),
on a 32-bit target and, where the kernel's compat path allows it, on a 64-bit one.

The reference must be a real 32-bit tracer, since the kernel takes the compat path only for a
32-bit caller: the host side runs `tracer32` (targets.py, gcc -m32 -static) with the scenario's
command list; it forks and TRACEMEs the target and prints one raw line per call.  The lx side
starts the same target through the lx backend and makes the same calls through
`lx_ptrace(..., abi="i386")`, printing the same raw lines.  Both sides' lines are then rendered
into the Obs by one function (`_record`), so the two logs differ only where the calls' answers do.
Values that may legitimately differ between runs are listed per scenario as not compared
(`volatile`), never dropped.

Every scenario is written as a command list (see TRACER32 in targets.py for the commands).

`PENDING` (decorator `@pending`) is where a scenario goes whose lx log differs from the kernel's
and is not fixed yet: not registered, its docstring naming the difference; run them with
`runner.run(list(PENDING.values()))`.  Empty at present: the six written that way were fixed in
lxbrand and are registered.
"""

from __future__ import annotations

import struct
import subprocess
from typing import Any, Iterable

from structs.fields import field_at
from structs.ptrace_consts import PTRACE
from structs.regs import LINUX_USER_REGS
from structs.user_area import USER

from .backend import TARGET_ENV, LxBackend
from .scenario import Scenario, errname, scenario, signame, status_text

__all__ = ["run32", "render", "PENDING"]

_WALL = 0x40000000
PENDING: dict[str, Scenario] = {}


def pending(name: str):
    """Like @scenario, but into PENDING: a scenario lx does not pass yet (see the module doc)."""

    def deco(fn):
        if name in PENDING:
            raise ValueError(f"pending scenario {name} defined twice")
        PENDING[name] = Scenario(name, fn, (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return deco
REGS32 = LINUX_USER_REGS["i386"]  # ebx ecx edx esi edi ebp eax xds xes xfs xgs orig_eax eip xcs eflags esp xss
IDX = {n: i for i, n in enumerate(REGS32)}
_USER = USER["i386"]
SIZEOF_USER = _USER.sizeof()  # 284
DR0 = 252  # offsetof(struct user, u_debugreg)
TARGET = {"32": "user32", "64": "user32-64"}


# -- the two sides --------------------------------------------------------------------------------


def _host_lines(b: Any, targets: Any, prog: str, mode: str, cmds: list[str]) -> list[str]:
    """The kernel's answers, through the 32-bit tracer program."""
    res = subprocess.run([targets.path("tracer32"), targets.path(prog), mode, *cmds],
                         capture_output=True, text=True, timeout=15, env=dict(TARGET_ENV))
    lines = res.stdout.splitlines()
    if res.returncode != 0 or res.stderr:
        lines.append(f"tracer32 exit {res.returncode} {res.stderr.strip()!r}")
    return lines


def _lx_lines(b: Any, targets: Any, prog: str, mode: str, cmds: list[str]) -> list[str]:
    """The same commands through lx_ptrace(abi="i386"), printed as tracer32 prints them."""
    lx = b._lx

    def pt(req: int, pid: int, addr: Any = 0, data: Any = 0) -> int:
        return lx.lx_ptrace(req, pid, addr, data, abi="i386")

    pid = b.spawn_traceme([targets.path(prog), mode])
    st = b.last_spawn_status
    out = [f"pid {pid}", f"exec 0x{st:x}" if st is not None else "exec 0x-1"]
    for c in cmds:
        name, *args = c.split(":")
        a = [int(x, 16) for x in args]
        if name == "wait":
            ret, st = b.wait4(pid, _WALL)
            out.append(f"wait 0x{st:x}" if ret == pid else f"wait {ret}")
        elif name == "cont":
            sig = a[0] if a else 0
            out.append(f"cont 0x{sig:x} {pt(PTRACE.CONT, pid, 0, sig)}")
        elif name == "kill":
            out.append(f"kill {pt(PTRACE.KILL, pid)}")
        elif name == "peekuser":
            buf = bytearray(4)
            r = pt(PTRACE.PEEKUSER, pid, a[0], buf)
            out.append(f"peekuser 0x{a[0]:x} {r} " + (f"0x{int.from_bytes(buf, 'little'):x}" if r == 0 else "-"))
        elif name == "pokeuser":
            out.append(f"pokeuser 0x{a[0]:x} 0x{a[1]:x} {pt(PTRACE.POKEUSER, pid, a[0], a[1])}")
        elif name == "getregs":
            buf = bytearray(b"\xaa" * 68)
            r = pt(PTRACE.GETREGS, pid, 0, buf)
            out.append(f"getregs {r} " + " ".join(f"0x{w:x}" for w in struct.unpack("<17I", buf)))
        elif name == "setregs":
            buf = bytearray(68)
            r = pt(PTRACE.GETREGS, pid, 0, buf)
            if r == 0 and a[0] < 17:
                buf[4 * a[0]:4 * a[0] + 4] = a[1].to_bytes(4, "little")
                r = pt(PTRACE.SETREGS, pid, 0, buf)
            out.append(f"setregs 0x{a[0]:x} 0x{a[1]:x} {r}")
        elif name in ("getfpregs", "getfpxregs"):
            n = 108 if name == "getfpregs" else 512
            buf = bytearray(b"\xaa" * n)
            r = pt(PTRACE.GETFPREGS if n == 108 else 18, pid, 0, buf)
            out.append(f"{name} {r} {buf.hex()}")
        elif name in ("setfpregs", "setfpxregs"):
            n = 108 if name == "setfpregs" else 512
            buf = bytearray(n)
            r = pt(PTRACE.GETFPREGS if n == 108 else 18, pid, 0, buf)
            if r == 0 and a[0] + 4 <= n:
                buf[a[0]:a[0] + 4] = a[1].to_bytes(4, "little")
                r = pt(PTRACE.SETFPREGS if n == 108 else 19, pid, 0, buf)
            out.append(f"{name} 0x{a[0]:x} 0x{a[1]:x} {r}")
        else:
            out.append(f"? {c}")
    return out


def run32(b: Any, targets: Any, prog: str, mode: str, cmds: list[str]) -> list[str]:
    """The raw lines of `cmds` made by an i386 caller on a fresh TRACEME target `prog mode`:
    the kernel's (through tracer32) on the reference backend, lx_ptrace's on the lx backend."""
    side = _lx_lines if isinstance(b, LxBackend) else _host_lines
    return side(b, targets, prog, mode, cmds)


# -- rendering ------------------------------------------------------------------------------------


def member(off: int) -> str:
    """The i386 struct user member at byte `off` ("regs.eip", "u_debugreg[7]", "out of range")."""
    if off >= SIZEOF_USER:
        return "beyond struct user"
    leaf = field_at(_USER, off - off % 4)
    name = leaf.path if leaf is not None else "padding"
    return name + (f"+{off % 4}" if off % 4 else "")


_FSAVE = struct.Struct("<7I80s")
_FSAVE_NAMES = ("cwd", "swd", "twd", "fip", "fcs", "foo", "fos")
_FXSAVE = struct.Struct("<HHBBHIIII II 128s 128s 224s")


def _fsave_fields(raw: bytes) -> dict[str, Any]:
    *words, st = _FSAVE.unpack(raw)
    out: dict[str, Any] = dict(zip(_FSAVE_NAMES, words))
    for i in range(8):
        out[f"st{i}"] = st[10 * i:10 * i + 10].hex()
    return out


def _fxsave_fields(raw: bytes) -> dict[str, Any]:
    cwd, swd, ftw, pad1, fop, fip, fcs, foo, fos, mxcsr, mask, st, xmm, rest = _FXSAVE.unpack(raw)
    out: dict[str, Any] = {"cwd": cwd, "swd": swd, "ftw": ftw, "pad5": pad1, "fop": fop, "fip": fip,
                           "fcs": fcs, "foo": foo, "fos": fos, "mxcsr": mxcsr, "mxcsr_mask": mask}
    for i in range(8):
        out[f"st{i}"] = st[16 * i:16 * i + 16].hex()
    for i in range(8):
        out[f"xmm{i}"] = xmm[16 * i:16 * i + 16].hex()
    for o in range(0, 224, 16):  # xmm8..15 slots (unused by an i386 image) and the reserved tail
        out[f"b{288 + o}"] = rest[o:o + 16].hex()
    return out


def _fields_line(label: str, fields: dict[str, Any], volatile: Iterable[str]) -> str:
    vol = sorted(set(volatile) & set(fields))
    body = " ".join(f"{k}={v if isinstance(v, str) else hex(v)}" for k, v in fields.items() if k not in vol)
    return f"{label}: {body}" + (f" [not compared: {','.join(vol)}]" if vol else "")


def render(line: str, obs: Any, volatile: Iterable[str] = ()) -> None:
    """One raw line of either side into the Obs, normalized (errno names, status words, member
    names, register and FP fields named; `volatile` fields listed as not compared)."""
    w = line.split()
    kind = w[0] if w else ""
    try:
        if kind == "pid":
            obs.alias(int(w[1]))
            obs.note("tracer: i386 caller, target <pid>")
        elif kind == "exec":
            st = int(w[1], 16)
            obs.note(f"exec stop: {status_text(st) if st >= 0 else 'no stop reported'}")
        elif kind == "wait":
            obs.note(f"wait -> {status_text(int(w[1], 16))}" if w[1].startswith("0x") else f"wait -> {errname(int(w[1]))}")
        elif kind == "cont":
            sig = int(w[1], 16)
            obs.call(f"CONT({signame(sig) if sig else 0})", int(w[2]))
        elif kind == "kill":
            obs.call("KILL", int(w[1]))
        elif kind == "peekuser":
            off, r = int(w[1], 16), int(w[2])
            obs.note(f"PEEKUSER({off} {member(off)}) -> {errname(r)}" + (f" word={w[3]}" if r == 0 else ""))
        elif kind == "pokeuser":
            off, val, r = int(w[1], 16), int(w[2], 16), int(w[3])
            obs.note(f"POKEUSER({off} {member(off)}, {val:#x}) -> {errname(r)}")
        elif kind == "getregs":
            r = int(w[1])
            if r != 0:
                obs.call("GETREGS", r)
            else:
                obs.note(_fields_line("GETREGS", dict(zip(REGS32, (int(x, 16) for x in w[2:]))), volatile))
        elif kind == "setregs":
            i, val, r = int(w[1], 16), int(w[2], 16), int(w[3])
            obs.note(f"SETREGS({REGS32[i] if i < 17 else i}={val:#x}) -> {errname(r)}")
        elif kind in ("getfpregs", "getfpxregs"):
            r = int(w[1])
            label = "GETFPREGS" if kind == "getfpregs" else "GETFPXREGS"
            if r != 0:
                obs.call(label, r)
            else:
                raw = bytes.fromhex(w[2])
                fields = _fsave_fields(raw) if kind == "getfpregs" else _fxsave_fields(raw)
                obs.note(_fields_line(label, fields, volatile))
        elif kind in ("setfpregs", "setfpxregs"):
            off, val, r = int(w[1], 16), int(w[2], 16), int(w[3])
            obs.note(f"{'SETFPREGS' if kind == 'setfpregs' else 'SETFPXREGS'}(word at {off} = {val:#x}) -> {errname(r)}")
        else:
            obs.note(f"unexpected line: {line}")
    except (IndexError, ValueError):
        obs.note(f"unparsed line: {line}")


def play(b: Any, t: Any, cmds: list[str], bits: str = "32", mode: str = "idle",
         volatile: Iterable[str] = ()) -> None:
    """Run `cmds` as an i386 caller on a fresh `bits`-bit target and record every answer."""
    vol = tuple(volatile)
    for line in run32(b, t, TARGET[bits], mode, cmds):
        render(line, b.obs, vol)


# -- command builders -----------------------------------------------------------------------------

TO_A = ["cont", "wait"]  # from the exec stop to checkpoint A (the int3 SIGTRAP)


def peek(*offs: int) -> list[str]:
    return [f"peekuser:{o:x}" for o in offs]


def poke(off: int, val: int) -> str:
    return f"pokeuser:{off:x}:{val & 0xFFFFFFFF:x}"


def setreg(name: str, val: int) -> str:
    return f"setregs:{IDX[name]:x}:{val & 0xFFFFFFFF:x}"


def poke_peek(off: int, val: int) -> list[str]:
    return [poke(off, val), f"peekuser:{off:x}"]


# Outside struct user, and misaligned offsets outside u_debugreg: the kernel's compat getreg32 /
# putreg32 answer EIO for `regno > sizeof(struct user32) || regno & 3` (284 itself reads 0).
OUTSIDE = [SIZEOF_USER + 4, 0x1000, 0x7FFFFFFC, 0xFFFFFFFC, 1, 2, 3, 49, 70, 250, 283, 285]


# -- the scenarios --------------------------------------------------------------------------------


@scenario("user32/peekuser-sweep")
def peekuser_sweep(b, t):
    """i386 caller, 32-bit target: PEEKUSER at every 4-byte offset of struct user (0..280) at the
    exec stop and at checkpoint A, then beyond it and misaligned (EIO)"""
    play(b, t, peek(*range(0, SIZEOF_USER, 4)) + TO_A + peek(*range(0, SIZEOF_USER, 4)) + peek(*OUTSIDE))


@scenario("user32/peekuser-sweep-64")
def peekuser_sweep_64(b, t):
    """i386 caller, 64-bit target (the compat path's low 32 bits): PEEKUSER at every 4-byte
    offset of the i386 struct user at checkpoint A, then beyond it and misaligned"""
    play(b, t, TO_A + peek(*range(0, SIZEOF_USER, 4)) + peek(*OUTSIDE), bits="64")


_REG_POKES = (("ebx", 0x11111111), ("ecx", 0x22222222), ("edx", 0xDEADBEEF), ("esi", 0x80000000),
              ("edi", 0), ("ebp", 0x12345678), ("eax", 0xFFFFFFFF), ("orig_eax", 0xFFFFFFFF),
              ("esp", 0xBFFF0000), ("eflags", 0xFFFFFFFF), ("eflags", 0), ("eflags", 0x202),
              ("xds", 0), ("xds", 0x2B), ("xds", 0x28), ("xds", 0x1002B), ("xes", 0x23), ("xfs", 0x2B),
              ("xgs", 0x63), ("xgs", 0x60), ("xcs", 0), ("xcs", 0x33), ("xcs", 0x20), ("xcs", 0x23),
              ("xss", 0), ("xss", 0x2B), ("eip", 0x8048000))


def _pokeuser_regs() -> list[str]:
    cmds = list(TO_A)
    for name, val in _REG_POKES:
        cmds += poke_peek(4 * IDX[name], val)
    return cmds + ["getregs", "kill", "wait"]


@scenario("user32/pokeuser-regs")
def pokeuser_regs(b, t):
    """i386 caller, 32-bit target: POKEUSER of general registers, selectors (valid, RPL 0, null
    cs/ss, above 16 bits), eflags (all bits, none), orig_eax -1 and eip, each read back; GETREGS"""
    play(b, t, _pokeuser_regs())


@scenario("user32/pokeuser-regs-64")
def pokeuser_regs_64(b, t):
    """i386 caller, 64-bit target: the same POKEUSER sequence through the compat putreg32"""
    play(b, t, _pokeuser_regs(), bits="64")


@scenario("user32/pokeuser-other")
def pokeuser_other(b, t):
    """i386 caller: POKEUSER where no register is (u_fpvalid, the i387 image, the a.out words,
    u_comm: ignored, read back as 0), beyond struct user and misaligned (EIO)"""
    cmds = list(TO_A)
    for off in (68, 72, 76, 100, 176, 180, 196, 216, 220, 248, SIZEOF_USER + 4, 0x1000, 2, 70, 250):
        cmds += poke_peek(off, 0x5A5A5A5A)
    play(b, t, cmds + ["getregs", "cont", "wait"])


def _debugregs(counter: int, addresses: Iterable[int]) -> list[str]:
    cmds = list(TO_A) + peek(*(DR0 + 4 * n for n in range(8)))
    for addr in addresses:
        cmds += poke_peek(DR0 + 4, addr)
    cmds += [poke(DR0 + 16, 1), poke(DR0 + 20, 1), *poke_peek(DR0 + 24, 0xFFFF0FF0), poke(DR0 + 24, 0)]
    # DR7 with slot 0 on &counter: execute len 1, I/O (EINVAL), write len 4, len 8, len 2, rw len 4,
    # rw len 8, a reserved bit, GE/LE and the high bits, nothing; then a write watch that fires at
    # the body's `counter += 3`, DR6 and eip after it, then checkpoint B with DR7 off
    cmds.append(poke(DR0, counter))
    for dr7 in (0x00000001, 0x00020001, 0x000D0001, 0x00090001, 0x00050001, 0x000F0001, 0x000B0001,
                0x00000400, 0x0000FF00, 0):
        cmds += poke_peek(DR0 + 28, dr7)
    return cmds + [*poke_peek(DR0 + 28, 0x000D0001), "cont", "wait", f"peekuser:{DR0 + 24:x}", "peekuser:30",
                   poke(DR0 + 28, 0), "cont", "wait", f"peekuser:{DR0 + 24:x}", "cont", "wait"]


_DR_ADDRS = (0, 0x1000, 0xBFFFFFFC, 0xC0000000, 0xFFFFD000, 0xFFFFDFFC, 0xFFFFE000)


@scenario("user32/debugregs")
def debugregs32(b, t):
    """i386 caller, 32-bit target: u_debugreg at 252: all eight read, DR0..3 addresses up to
    0xffffe000, DR4/DR5 (EIO), DR6, each DR7 type/length (I/O: EINVAL), a write watch that fires"""
    c = t.sym("counter", "user32")
    play(b, t, _debugregs(c, (c, *_DR_ADDRS)), mode="count")


@scenario("user32/debugregs-64")
def debugregs64(b, t):
    """i386 caller, 64-bit target: the same debug register sequence through the compat path"""
    c = t.sym("counter", "user32-64")
    play(b, t, _debugregs(c, (c, *_DR_ADDRS)), bits="64", mode="count")


def _regs_round_trip() -> list[str]:
    return (["getregs"] + TO_A + ["getregs", setreg("eax", 0x1234), setreg("ebx", 0xFFFFFFFF),
                                  setreg("eflags", 0xFFFFFFFF), "getregs", setreg("xcs", 0x28),
                                  "getregs", setreg("xds", 0x28), setreg("xss", 0), "getregs",
                                  setreg("orig_eax", 0xFFFFFFFF), setreg("xfs", 0), setreg("xgs", 0),
                                  "getregs", "cont", "wait"])


@scenario("user32/getregs-setregs")
def getregs_setregs(b, t):
    """i386 caller, 32-bit target: GETREGS at the exec stop and at A, SETREGS round trips (eax,
    ebx, eflags all bits), bad selectors (cs RPL 0, ds RPL 0, null ss), orig_eax -1, fs/gs 0"""
    play(b, t, _regs_round_trip())


@scenario("user32/getregs-setregs-64")
def getregs_setregs_64(b, t):
    """i386 caller, 64-bit target: the same GETREGS/SETREGS sequence (the low 32 bits)"""
    play(b, t, _regs_round_trip(), bits="64")


def _fpx() -> list[str]:
    return (["getfpxregs"] + TO_A
            + ["getfpxregs",
               "setfpxregs:18:9fc0", "getfpxregs",    # mxcsr (valid bits)
               "setfpxregs:18:ffffffff",              # mxcsr with reserved bits
               "setfpxregs:a0:cafef00d",              # xmm0's first word
               "setfpxregs:20:12345678", "getfpxregs",  # st0's mantissa
               "cont", "wait"])


@scenario("user32/fpxregs")
def fpxregs32(b, t):
    """i386 caller, 32-bit target: GETFPXREGS (request 18) at the exec stop and at A (x87 stack
    1, pi, log2(10); xmm0..7 known), SETFPXREGS (19) of mxcsr (reserved bits refused), xmm0, st0"""
    play(b, t, _fpx())


@scenario("user32/fpxregs-64")
def fpxregs64(b, t):
    """i386 caller, 64-bit target: requests 18/19 through the compat path"""
    play(b, t, _fpx(), bits="64")


# -- pending: lx differs from the kernel today (not registered; see the module doc) ----------------


@scenario("user32/user-end-284")
def user_end_284(b, t):
    """PEEKUSER/POKEUSER at 284 (= sizeof(struct user32)): the kernel's compat getreg32/putreg32
    refuse only `regno > sizeof(struct user32)`, so 284 reads 0 and a write is ignored (0); lx: EIO"""
    play(b, t, TO_A + peek(SIZEOF_USER) + poke_peek(SIZEOF_USER, 0x5A5A5A5A))


@scenario("user32/debugreg-misaligned")
def debugreg_misaligned(b, t):
    """Misaligned offsets 253..280 inside u_debugreg: the kernel's case range (252 ... 280) takes
    them as DR((off-252)/4): PEEKUSER(253) reads DR0, POKEUSER(254) writes DR0; lx: EIO"""
    play(b, t, TO_A + peek(253, 254, 255, 279) + poke_peek(254, 0x5A5A5A5A) + peek(252, 253)
         + poke_peek(277, 0xFFFF0FF1) + peek(276))


@scenario("user32/pokeuser-orig-eax")
def pokeuser_orig_eax(b, t):
    """POKEUSER orig_eax at a signal (int3) stop: the kernel keeps the value (PEEKUSER and GETREGS
    show 0x14); lx keeps only -1 outside a system call"""
    play(b, t, TO_A + poke_peek(44, 20) + ["getregs", "cont", "wait"])


@scenario("user32/debugreg-high-addresses")
def debugreg_high_addresses(b, t):
    """DR0..3 at 0xfffff000 and 0xfffffffc: the kernel checks breakpoint addresses against the
    64-bit TASK_SIZE_MAX even for a compat caller, so every 32-bit value is accepted; lx: EINVAL"""
    for bits in ("32", "64"):
        play(b, t, TO_A + poke_peek(DR0 + 4, 0xFFFFF000) + poke_peek(DR0 + 8, 0xFFFFFFFC), bits=bits)


@scenario("user32/fpregs-fsave")
def fpregs_fsave(b, t):
    """GETFPREGS (the 108-byte fsave image): the kernel's convert_from_fxsr sets fcs to the task's
    cs (0x23, 0x33 on a 64-bit target) and fos to its ds | 0xffff0000; lx gives fcs 0, fos 0xffff0000"""
    for bits in ("32", "64"):
        play(b, t, ["getfpregs"] + TO_A + ["getfpregs"], bits=bits)


@scenario("user32/setfpregs")
def setfpregs(b, t):
    """SETFPREGS from the i386 caller (the fsave image): the kernel takes it (cwd, twd all empty:
    GETFPXREGS then shows ftw 0); lx: EIO ("not supported yet")"""
    play(b, t, TO_A + ["setfpregs:0:37f", "setfpregs:8:ffff", "getfpxregs", "setfpregs:0:27f",
                       "getfpxregs", "cont", "wait"])
