"""pflags [-r] pid[/lwps] ...: the /proc tracing flags, pending and held signals and other
/proc status of each process and LWP (illumos pflags(1))."""

from __future__ import annotations

import getopt
from typing import TextIO

from structs.faults import FLT_NAMES
from structs.procfs_consts import PR_FLAGS as F
from structs.procfs_consts import PR_WHY
from structs.syscall_args import nargs
from structs.syscalls import syscall_name

from .common import GrabError, each_lwp, grab, members, psargs, set_words, signame

__all__ = ["main", "prflags", "report", "GrabError"]

_LWPFLAGS = (F.PR_STOPPED | F.PR_ISTOP | F.PR_DSTOP | F.PR_ASLEEP | F.PR_PCINVAL | F.PR_STEP | F.PR_ASLWP
             | F.PR_AGENT | F.PR_DETACH | F.PR_DAEMON)
_PROCFLAGS = (F.PR_ISSYS | F.PR_VFORKP | F.PR_ORPHAN | F.PR_FORK | F.PR_RLC | F.PR_KLC | F.PR_ASYNC
              | F.PR_BPTADJ | F.PR_MSACCT | F.PR_MSFORK | F.PR_PTRACE)
# The order pflags prints them in (ASLEEP is printed with the system call instead).
_ORDER = ("STOPPED", "ISTOP", "DSTOP", "PCINVAL", "STEP", "AGENT", "ISSYS", "VFORKP", "ORPHAN", "FORK",
          "RLC", "KLC", "ASYNC", "BPTADJ", "MSACCT", "MSFORK", "PTRACE")

_REGS64 = ("%r15", "%r14", "%r13", "%r12", "%r11", "%r10", " %r9", " %r8",
           "%rdi", "%rsi", "%rbp", "%rbx", "%rdx", "%rcx", "%rax", "%trapno",
           "%err", "%rip", " %cs", "%rfl", "%rsp", " %ss", " %fs", " %gs",
           " %es", " %ds", "%fsbase", "%gsbase")
_REGS32 = (" %gs", " %fs", " %es", " %ds", "%edi", "%esi", "%ebp", "%esp",
           "%ebx", "%edx", "%ecx", "%eax", "%trapno", "%err", "%eip", " %cs",
           "%efl", "%uesp", " %ss")
# prgregset_n_to_32: the i386 register of each slot, as an index into the amd64 prgregset_t.
# %esp is left 0, as prgregset_n_to_32 leaves it (%uesp holds the stack pointer).
_N_TO_32 = (23, 22, 24, 25, 8, 9, 10, None, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21)


def prflags(arg: int) -> str:
    """pflags's prflags(): names joined by "|", unknown bits first in hex, "0" for none."""
    if arg == 0:
        return "0"
    allflags = int(_LWPFLAGS | _PROCFLAGS)
    parts = [f"0x{arg & ~allflags:x}"] if arg & ~allflags else []
    if arg & F.PR_DAEMON:
        parts.append("DAEMON")
    elif arg & F.PR_DETACH:
        parts.append("DETACH")
    parts += [n for n in _ORDER if arg & F[f"PR_{n}"]]
    return "|".join(parts)


def shown_args(ls: dict, name: str) -> int:
    """How many of pr_sysarg to print: pr_nsysarg, except that native_proc keeps it at least 1
    inside a call (Linux's read is call 0), so a call without arguments shows none."""
    return min(ls["pr_nsysarg"], nargs(name))


def _what(why: int, what: int, abi: str) -> str:
    if why in (PR_WHY.PR_SIGNALLED, PR_WHY.PR_JOBCONTROL):
        return signame(what)
    if why in (PR_WHY.PR_SYSENTRY, PR_WHY.PR_SYSEXIT):
        return syscall_name(abi, what)
    if why == PR_WHY.PR_FAULTED:
        return FLT_NAMES.get(what, str(what))
    return str(what)


def _why(why: int) -> str:
    try:
        return PR_WHY(why).name
    except ValueError:
        return str(why)


def _dumpregs(reg: list[int], is64: bool) -> list[str]:
    if not is64:
        r32 = [0 if i is None else reg[i] & 0xFFFFFFFF for i in _N_TO_32]
        cells = [f"  {n} = 0x{v:08X}" for n, v in zip(_REGS32, r32)]
        cols = 4
    else:
        cells = [f"  {n} = 0x{v & (1 << 64) - 1:016X}" for n, v in zip(_REGS64, reg)]
        cols = 2
    return ["".join(cells[i:i + cols]) for i in range(0, len(cells), cols)]


def report(arg: str, rflag: bool = False) -> str:
    """pflags's report of one pid[/lwps] argument (GrabError when it cannot be examined)."""
    g = grab(arg)
    st, abi = g.status, g.abi
    out = [f"{g.pid}:\t{psargs(g)}"]
    line = f"\tdata model = {'_LP64' if g.is64 else '_ILP32'}"
    flags = st["pr_flags"] & _PROCFLAGS
    if flags:
        line += f"  flags = {prflags(flags)}"
    out.append(line)
    flt = set_words(st["pr_flttrace"], 4)
    if flt[0]:
        out.append(f"\tflttrace = 0x{flt[0]:08x}")
    sig = set_words(st["pr_sigtrace"], 4)
    if sig[0] | sig[1]:
        names = "|".join(signame(s, False) for s in members(sig))
        out.append(f"\tsigtrace = 0x{sig[0]:08x} 0x{sig[1]:08x}\n\t    {names}")
    for key, label in (("pr_sysentry", "entryset = "), ("pr_sysexit", "exitset  = ")):
        w = set_words(st[key], 16)
        if any(w[:8]):
            out.append(f"\t{label}" + " ".join(f"0x{x:08x}" for x in w[:4]) + "\n\t           "
                       + " ".join(f"0x{x:08x}" for x in w[4:8]))
    pend = set_words(st["pr_sigpend"], 4)
    if pend[0] | pend[1]:
        out.append(f"\tsigpend = 0x{pend[0]:08x},0x{pend[1]:08x}")
    count = 0
    for lwpid, ls in each_lwp(g):
        count += 1
        lf = ls["pr_flags"] & _LWPFLAGS
        if not lf & F.PR_STOPPED:
            lf &= ~F.PR_PCINVAL  # noise for a running LWP
        line = f" /{lwpid}:\tflags = {prflags(lf & ~F.PR_ASLEEP)}" if lf & ~F.PR_ASLEEP else f" /{lwpid}:\tflags = "
        if lf & F.PR_ASLEEP:
            line += ("|" if lf & ~F.PR_ASLEEP else "") + "ASLEEP"
        elif not lf:
            line += "0"
        # Linux's read is call 0: pr_nsysarg, not pr_syscall, says "in a call" here.
        if ls["pr_nsysarg"] and not st["pr_flags"] & F.PR_ISSYS:
            name = syscall_name(abi, ls["pr_syscall"])
            args = ",".join(f"0x{a & (1 << 64) - 1:x}" for a in ls["pr_sysarg"][:shown_args(ls, name)])
            line += f"  {name}({args})"
        out.append(line)
        if lf & F.PR_STOPPED:
            line = f"\twhy = {_why(ls['pr_why'])}"
            if ls["pr_why"] not in (PR_WHY.PR_REQUESTED, PR_WHY.PR_SUSPENDED):
                line += f"  what = {_what(ls['pr_why'], ls['pr_what'], abi)}"
            out.append(line)
        hold = set_words(ls["pr_lwphold"], 4)
        lpend = set_words(ls["pr_lwppend"], 4)
        cursig = ls["pr_cursig"]
        cells = []
        if hold[0] | hold[1]:
            cells.append(f"sigmask = 0x{hold[0]:08x},0x{hold[1]:08x}")
        if lpend[0] | lpend[1]:
            cells.append(f"lwppend = 0x{lpend[0]:08x},0x{lpend[1]:08x}")
        if cursig:
            cells.append(f"cursig = {signame(cursig)}")
        if cells:
            out.append("\t" + "  ".join(cells))
        if rflag:
            if st["pr_flags"] & F.PR_STOPPED:
                out += _dumpregs(list(ls["pr_reg"]), g.is64)
            else:
                out.append("\tNot stopped, can't show registers")
    tail = "" if count else "No matching lwps found"
    return "\n".join(out) + "\n" + tail + "\n"


def main(argv: list[str], out: TextIO, err: TextIO) -> int:
    try:
        opts, args = getopt.getopt(argv, "r")
    except getopt.GetoptError:
        opts, args = [("?", "")], []
    if not args or any(o == "?" for o, _ in opts):
        err.write("usage:\tpflags [-r] { pid | core }[/lwps] ...\n  (report process status flags)\n"
                  "  -r : report registers\n")
        return 2
    rflag = any(o == "-r" for o, _ in opts)
    rc = 0
    for a in args:
        try:
            out.write(report(a, rflag))
        except GrabError as e:
            err.write(f"pflags: cannot examine {a}: {e}\n")
            rc += 1
    return rc
