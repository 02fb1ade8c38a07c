"""x86 debug registers emulated on /proc watchpoints: the seed's setup_watchpoints and set_dr6.

Each tracee has a shadow DR0-DR7.  Writing DR7 turns the enabled slots into PCWATCH areas
(DR0-3 hold the addresses); DR6 is synthesised when a SIGTRAP stop is reported, from the
stop's siginfo: the hit slot's B bit for a watchpoint, BS after a single step.
"""

from __future__ import annotations

import errno

from structs.procfs_consts import PC, WA
from structs.ptrace_consts import DR_STEP

DR6_RESERVED = 0xFFFF0FF0  # the bits of DR6 that read as ones
_TASK_SIZE_MAX = 0x7FFFFFFFF000
# DR7 RW field -> watch flags (01 write, 11 read/write, 00 instruction; 10 is I/O: invalid)
_RW_FLAGS = {0b00: int(WA.WA_EXEC), 0b01: int(WA.WA_WRITE | WA.WA_TRAPAFTER),
             0b11: int(WA.WA_READ | WA.WA_WRITE | WA.WA_TRAPAFTER)}
_LEN_BYTES = {0b00: 1, 0b01: 2, 0b11: 4, 0b10: 8}
_SOLARIS_TRAP_TRACE = 2
_SOLARIS_WATCH_CODES = frozenset({3, 4, 5})  # TRAP_RWATCH, TRAP_WWATCH, TRAP_XWATCH


def new_shadow() -> list[int]:
    return [0, 0, 0, 0, 0, 0, DR6_RESERVED, 0]


def check_address(addr: int, word: int) -> None:
    """Linux refuses a breakpoint address outside user space with EINVAL, changing nothing;
    it checks against the 64-bit TASK_SIZE_MAX for a compat caller too, so every 32-bit
    address passes."""
    if addr >= _TASK_SIZE_MAX:
        raise OSError(errno.EINVAL, "debug register address outside user space")


def areas(dr: list[int], dr7: int) -> list[tuple[int, int, int]]:
    """(vaddr, size, wflags) for every slot DR7 enables; EINVAL for what x86 cannot do."""
    out = []
    for i in range(4):
        if not dr7 >> (2 * i) & 3:
            continue
        rw = dr7 >> (16 + 4 * i) & 3
        ln = dr7 >> (18 + 4 * i) & 3
        if rw not in _RW_FLAGS or (rw == 0 and ln != 0):
            raise OSError(errno.EINVAL, f"DR7 slot {i}: unsupported type/length")
        out.append((dr[i], _LEN_BYTES[ln], _RW_FLAGS[rw]))
    return out


def watch_messages(old: list[tuple[int, int, int]], new: list[tuple[int, int, int]]) -> list:
    """ctl messages taking the process's watched areas from `old` to `new`."""
    msgs = [(PC.PCWATCH, {"pr_vaddr": a, "pr_size": 0, "pr_wflags": 0, "pr_pad": 0}) for a, _, _ in old]
    msgs += [(PC.PCWATCH, {"pr_vaddr": a, "pr_size": n, "pr_wflags": f, "pr_pad": 0}) for a, n, f in new]
    return msgs


def dr6_for(dr: list[int], si_code: int, si_addr: int, stepping: bool) -> int | None:
    """DR6 as the hardware would leave it for a SIGTRAP stop with this (Solaris) siginfo, or
    None when the trap was no debug exception (int3, a kill): DR6 keeps what it had."""
    if si_code != _SOLARIS_TRAP_TRACE and si_code not in _SOLARIS_WATCH_CODES:
        return None
    dr6 = DR6_RESERVED
    if si_code == _SOLARIS_TRAP_TRACE:
        return dr6 | DR_STEP
    if si_code in _SOLARIS_WATCH_CODES:
        for vaddr, size, i in ((dr[i], _LEN_BYTES[dr[7] >> (18 + 4 * i) & 3], i) for i in range(4)):
            if dr[7] >> (2 * i) & 3 and vaddr <= si_addr < vaddr + size:
                dr6 |= 1 << i
        if stepping:
            dr6 |= DR_STEP
    return dr6
