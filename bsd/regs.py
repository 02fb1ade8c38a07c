"""FreeBSD `struct reg`, `struct fpreg` and `struct dbreg` over an LWP's /proc status.

The registers come from the illumos gregset in `lwpstatus_t.pr_reg` (amd64 view for every
target, ARCHITECTURE item 3) and go back through PCSREG; FP state is the fxsave image in
`pr_fpreg` (FreeBSD's amd64 `struct fpreg` *is* that image; the i386 one is the fsave image,
converted both ways); debug registers are a per-tracee shadow whose enabled slots become PCWATCH
areas, as lxbrand's debug registers do.  Checks are FreeBSD's set_regs/set_dbregs (EINVAL).
"""

from __future__ import annotations

import errno
import struct

from structs.bsd import DBREG, FPREG, REG, REG_NAMES, VM_MAXUSER_ADDRESS
from structs.codec import codec
from structs.fields import memberof
from structs.procfs import LWPSTATUS, PRFPREGSET, PRGREGSET
from structs.procfs_consts import PC, WA
from structs.regs import ILLUMOS_REG_INDEX

__all__ = ["get_reg", "set_reg", "get_fpreg", "set_fpreg", "get_dbreg", "dbreg_areas",
           "watch_messages", "dr6_for", "DR6_RESERVED", "SIZE"]

_LWP = LWPSTATUS["amd64"]
_OFF_REG = memberof(_LWP, "pr_reg")[0]
_OFF_FP = memberof(_LWP, "pr_fpreg")[0]
_GREGS = codec(PRGREGSET["amd64"]).struct
_FPSET = codec(PRFPREGSET["amd64"])
_REG = {abi: codec(REG[abi]).struct for abi in REG}


def _formats(fmt: str) -> list[str]:
    """'<15q2H' -> one struct code per field (padding 'x' dropped)."""
    out, n = [], ""
    for ch in fmt.lstrip("<>=!@"):
        if ch.isdigit():
            n += ch
            continue
        if ch != "x":
            out += [ch] * int(n or 1)
        n = ""
    return out


_FMTS = {abi: _formats(s.format) for abi, s in _REG.items()}
SIZE = {"reg": {a: s.size for a, s in _REG.items()},
        "fpreg": {a: FPREG[a].sizeof() for a in FPREG}, "dbreg": {a: DBREG[a].sizeof() for a in DBREG}}
_G = ILLUMOS_REG_INDEX["amd64"]
_U64 = (1 << 64) - 1
# struct reg member -> illumos REG_* (None: no such register on Linux, reads 0)
_TO_G = {"r_rflags": "REG_RFL", "r_eflags": "REG_RFL", "r_eip": "REG_RIP", "r_esp": "REG_RSP", "r_isp": None}
for _n in ("rdi", "rsi", "rbp", "rbx", "rdx", "rcx", "rax"):
    _TO_G["r_e" + _n[1:]] = "REG_" + _n.upper()


def _gname(member: str) -> str | None:
    if member in _TO_G:
        return _TO_G[member]
    return "REG_" + member[2:].upper()


_MAP = {abi: tuple((i, _G[g] if g else None) for i, g in enumerate(map(_gname, names)))
        for abi, names in REG_NAMES.items()}
# PSL_USERCHANGE (FreeBSD x86 psl.h): C PF AF Z N T D V NT AC ID, the flags a debugger may change
_PSL_USERCHANGE = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x4000 | 0x40000 | 0x200000


def gregs_of(snap: bytes) -> list[int]:
    return list(_GREGS.unpack_from(snap, _OFF_REG))


def get_reg(snap: bytes, abi: str) -> bytes:
    """The stopped LWP's `struct reg` for a caller of `abi` (i386: the low 32 bits)."""
    g = gregs_of(snap)
    s = _REG[abi]
    vals = []
    for (i, gi), fmt in zip(_MAP[abi], _FMTS[abi], strict=True):
        v = g[gi] if gi is not None else 0
        bits = struct.calcsize("<" + fmt) * 8
        v &= (1 << bits) - 1
        if fmt.islower() and v >> (bits - 1):
            v -= 1 << bits
        vals.append(v)
    return s.pack(*vals)


def set_reg(snap: bytes, abi: str, data: bytes) -> list[int]:
    """The gregset PCSREG should write for `struct reg` bytes `data`, or EINVAL as FreeBSD's
    set_regs: a flags change outside PSL_USERCHANGE, or a %cs whose RPL is not 3."""
    g = gregs_of(snap)
    new = list(g)
    vals = _REG[abi].unpack(data)
    for (i, gi), v in zip(_MAP[abi], vals):
        if gi is None or REG_NAMES[abi][i] in ("r_trapno", "r_err"):
            continue  # not writable state (FreeBSD ignores them too)
        if abi == "i386":
            v &= 0xFFFFFFFF  # a 32-bit caller writes the low halves; the upper ones are zeroed
        new[gi] = v - (1 << 64) if v & _U64 and (v & _U64) >> 63 else v & _U64
    old_fl, new_fl = g[_G["REG_RFL"]] & _U64, new[_G["REG_RFL"]] & _U64
    if (old_fl ^ new_fl) & ~_PSL_USERCHANGE:
        raise OSError(errno.EINVAL, "rflags change outside PSL_USERCHANGE")
    if new[_G["REG_CS"]] & 3 != 3:
        raise OSError(errno.EINVAL, "%cs is not a user selector")
    return new


# -- FP ---------------------------------------------------------------------------------------


def fxsave(snap: bytes) -> bytes:
    return snap[_OFF_FP:_OFF_FP + 512]


def get_fpreg(snap: bytes, abi: str) -> bytes:
    """amd64: the fxsave image; i386: the fsave image (env, 8 x 80-bit), ex_sw 0, padding."""
    fx = fxsave(snap)
    if abi == "amd64":
        return fx
    return _fsave(fx) + bytes(4 + 64)


def set_fpreg(snap: bytes, abi: str, data: bytes) -> dict:
    """The PCSFPREG operand for `struct fpreg` bytes `data` (i386: fsave merged into fxsave)."""
    cur = snap[_OFF_FP:_OFF_FP + _FPSET.size]
    fx = data[:512] if abi == "amd64" else _fxsr(data[:108], cur[:512])
    return _FPSET.decode(fx + cur[512:])


def _fsave(fx: bytes) -> bytes:
    """fxsave -> the 108-byte fsave image: the tag word is rebuilt from the abridged tag and each
    register's class (empty 3, special 2, zero 1, valid 0), as FreeBSD's npx code does."""
    cwd, swd, ftw, fop, fip, fcs, foo, fos = struct.unpack_from("<HHBxHIHxxIHxx", fx)
    top = (swd >> 11) & 7
    twd = 0
    for phys in range(8):
        st = (phys - top) % 8
        reg = fx[32 + 16 * st:32 + 16 * st + 10]
        if not ftw >> phys & 1:
            tag = 3
        else:
            exp = int.from_bytes(reg[8:10], "little") & 0x7FFF
            mant = int.from_bytes(reg[:8], "little")
            tag = 2 if exp == 0x7FFF else ((1 if mant == 0 else 2) if exp == 0 else (0 if mant >> 63 else 2))
        twd |= tag << (2 * phys)
    head = struct.pack("<7I", cwd | 0xFFFF0000, swd | 0xFFFF0000, twd | 0xFFFF0000, fip,
                       fcs | (fop & 0x7FF) << 16, foo, fos | 0xFFFF0000)
    return head + b"".join(fx[32 + 16 * i:32 + 16 * i + 10] for i in range(8))


def _fxsr(env: bytes, fx: bytes) -> bytes:
    """The fsave image `env` written into fxsave `fx` (MXCSR and the SSE registers stay)."""
    cwd, swd, twd, fip, fcs_op, foo, fos = struct.unpack_from("<7I", env)
    ftw = 0
    for i in range(8):
        if (twd >> (2 * i)) & 3 != 3:
            ftw |= 1 << i
    out = bytearray(fx)
    struct.pack_into("<HHBxHIHxxIHxx", out, 0, cwd & 0xFFFF, swd & 0xFFFF, ftw, (fcs_op >> 16) & 0x7FF,
                     fip, fcs_op & 0xFFFF, foo, fos & 0xFFFF)
    for i in range(8):
        out[32 + 16 * i:32 + 16 * i + 10] = env[28 + 10 * i:38 + 10 * i]
    return bytes(out)


# -- debug registers --------------------------------------------------------------------------

DR6_RESERVED = 0xFFFF0FF0  # DBREG_DR6_RESERVED1: the DR6 bits that read as ones
_DR6_BS = 0x4000  # DBREG_DR6_BS: single step
# DR7 R/W field -> watch flags (00 execute, 01 write, 11 read/write; 10 is I/O: EINVAL)
_RW = {0b00: int(WA.WA_EXEC), 0b01: int(WA.WA_WRITE | WA.WA_TRAPAFTER),
       0b11: int(WA.WA_READ | WA.WA_WRITE | WA.WA_TRAPAFTER)}
_LEN = {0b00: 1, 0b01: 2, 0b11: 4, 0b10: 8}


def get_dbreg(dr: list[int], abi: str) -> bytes:
    n = 16 if abi == "amd64" else 8
    vals = [(dr[i] if i < 8 and i not in (4, 5) else 0) for i in range(n)]
    return struct.pack(f"<{n}{'Q' if abi == 'amd64' else 'I'}", *vals)


def parse_dbreg(data: bytes, abi: str) -> list[int]:
    n = 16 if abi == "amd64" else 8
    return list(struct.unpack(f"<{n}{'Q' if abi == 'amd64' else 'I'}", data[:8 * n if abi == 'amd64' else 4 * n]))[:8]


def dbreg_areas(dr: list[int], abi: str) -> list[tuple[int, int, int]]:
    """(vaddr, size, wflags) of each slot DR7 enables, or EINVAL as FreeBSD's set_dbregs: upper
    halves of DR6/DR7 set, an I/O breakpoint, an 8-byte one on i386, an address outside user
    space; and what x86 cannot watch (an execute breakpoint longer than 1)."""
    dr7 = dr[7]
    if dr7 >> 32 or dr[6] >> 32:
        raise OSError(errno.EINVAL, "reserved upper bits of DR6/DR7 set")
    out = []
    for i in range(4):
        if not dr7 >> (2 * i) & 3:
            continue
        rw, ln = dr7 >> (16 + 4 * i) & 3, dr7 >> (18 + 4 * i) & 3
        if rw == 0b10 or (abi == "i386" and ln == 0b10) or (rw == 0 and ln != 0):
            raise OSError(errno.EINVAL, f"DR7 slot {i}: unsupported access or length")
        if dr[i] >= VM_MAXUSER_ADDRESS:
            raise OSError(errno.EINVAL, f"DR{i} outside user space")
        out.append((dr[i], _LEN[ln], _RW[rw]))
    return out


def watch_messages(old: list[tuple[int, int, int]], new: list[tuple[int, int, int]]) -> list:
    """ctl messages that take the watched areas from `old` to `new`."""
    msgs = [(PC.PCWATCH, {"pr_vaddr": a, "pr_size": 0, "pr_wflags": 0, "pr_pad": 0}) for a, _, _ in old]
    return msgs + [(PC.PCWATCH, {"pr_vaddr": a, "pr_size": n, "pr_wflags": f, "pr_pad": 0}) for a, n, f in new]


_TRAP_TRACE, _WATCH_CODES = 2, frozenset({3, 4, 5})  # Solaris TRAP_TRACE; TRAP_RWATCH/WWATCH/XWATCH


def dr6_for(dr: list[int], si_code: int, si_addr: int) -> int | None:
    """DR6 as the CPU leaves it for a SIGTRAP stop with this Solaris si_code/si_addr (None: the
    trap was no debug exception, DR6 keeps its value)."""
    if si_code == _TRAP_TRACE:
        return DR6_RESERVED | _DR6_BS
    if si_code not in _WATCH_CODES:
        return None
    dr6 = DR6_RESERVED
    for i in range(4):
        if dr[7] >> (2 * i) & 3 and dr[i] <= si_addr < dr[i] + _LEN[dr[7] >> (18 + 4 * i) & 3]:
            dr6 |= 1 << i
    return dr6
