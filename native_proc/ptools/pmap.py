"""pmap [-x] pid ...: the address space map of each process (illumos pmap(1)); -x adds the
resident, anonymous and locked sizes of each mapping from /proc/<pid>/xmap."""

from __future__ import annotations

import getopt
from typing import TextIO

from structs.codec import codec
from structs.procfs import PRMAP, PRXMAP
from structs.procfs_consts import MA

from .common import GrabError, grab, psargs, read_file

__all__ = ["main", "mflags"]

_MAP = codec(PRMAP["amd64"])
_XMAP = codec(PRXMAP["amd64"])



def mflags(arg: int) -> str:
    """rwxsR and '*' (MA_RESERVED1) or ' ': six characters."""
    return "".join((
        "r" if arg & MA.MA_READ else "-",
        "w" if arg & MA.MA_WRITE else "-",
        "x" if arg & MA.MA_EXEC else "-",
        "s" if arg & MA.MA_SHARED else "-",
        "R" if arg & MA.MA_NORESERVE else "-",
        "*" if arg & MA.MA_RESERVED1 else " ",
    ))


def _entries(data: bytes, c) -> list[dict]:
    return [c.decode(data[i:i + c.size]) for i in range(0, len(data) - c.size + 1, c.size)]


def _name(m: dict, execname: str | None) -> str | None:
    """make_name, then anon_name: the mapped object, or the bracketed kind of anonymous memory."""
    fl = m["pr_mflags"]
    mapname = m["pr_mapname"].split(b"\0", 1)[0].decode(errors="replace")
    if not fl & MA.MA_ANON or not fl & MA.MA_BREAK:
        if mapname == "a.out" and execname:
            return execname
        if mapname:
            return mapname
    if not fl & MA.MA_ANON:
        return None
    if fl & MA.MA_SHM:
        return "  [ shmid=null ]" if m["pr_shmid"] == -1 else f"  [ shmid=0x{m['pr_shmid']:x} ]"
    if fl & MA.MA_STACK:
        return "  [ stack ]"
    if fl & MA.MA_BREAK:
        return "  [ heap ]"
    return "  [ anon ]"


def _printk(value: int, width: int) -> str:
    return (" " * (width - 1) + "-") if value == 0 else f" {value:>{width - 1}}"


def _execname(pid: int) -> str | None:
    try:
        return read_file(pid, "path/a.out").decode(errors="replace")
    except OSError:
        return None


def report(arg: str, xflag: bool = False) -> str:
    g = grab(arg)
    aw, sw = (16, 11) if g.is64 else (8, 8)
    bar = "-" * 10 if aw == 16 else "-" * 7
    out = [f"{g.pid}:\t{psargs(g)}"]
    execname = _execname(g.pid)
    if not xflag:
        total = 0
        for m in _entries(read_file(g.pid, "map"), _MAP):
            size = (m["pr_size"] + 1023) // 1024
            name = _name(m, execname)
            if name is not None:
                out.append(f"{m['pr_vaddr']:0{aw}X} {size:>{sw - 1}}K {mflags(m['pr_mflags']):<6} {name}")
            else:
                out.append(f"{m['pr_vaddr']:0{aw}X} {size:>{sw - 1}}K {mflags(m['pr_mflags'])}")
            total += size
        out.append(f" {' ' * 8 if aw == 16 else ''}total  {total:>{sw}}K")
        return "\n".join(out) + "\n"
    out.append(f"{'Address':>{aw}}{'Kbytes':>{sw}}{'RSS':>{sw}}{'Anon':>{sw}}{'Locked':>{sw}} Mode   Mapped File")
    tot = [0, 0, 0, 0]
    rows: list[list] = []  # merged runs: [vaddr, size, offset, mflags, name, rss, anon, locked]
    for m in _entries(read_file(g.pid, "xmap"), _XMAP):
        name = _name(m, execname)
        if name is not None and "/" in name and not name.startswith("  ["):
            name = name.rsplit("/", 1)[1]
        kper = m["pr_pagesize"] // 1024
        anon = m["pr_anon"] if not m["pr_mflags"] & MA.MA_SHARED else 0
        vals = [(m["pr_size"] + 1023) // 1024, m["pr_rss"] * kper, anon * kper, m["pr_locked"] * kper]
        tot = [a + b for a, b in zip(tot, vals)]
        p = rows[-1] if rows else None
        if (p is not None and p[0] + p[1] == m["pr_vaddr"] and p[3] == m["pr_mflags"]
                and (p[3] & MA.MA_ISM or p[2] + p[1] == m["pr_offset"]) and p[4] == name):
            p[1] += m["pr_size"]
            p[5] += vals[1]
            p[6] += vals[2]
            p[7] += vals[3]
        else:
            rows.append([m["pr_vaddr"], m["pr_size"], m["pr_offset"], m["pr_mflags"], name, *vals[1:]])
    for vaddr, size, _off, fl, name, rss, anon, locked in rows:
        line = f"{vaddr:0{aw}X}" + _printk((size + 1023) // 1024, sw) + _printk(rss, sw) + _printk(anon, sw) \
            + _printk(locked, sw)
        line += f" {mflags(fl):<6} {name}" if name is not None else f" {mflags(fl)}"
        out.append(line)
    out.append(("-" if aw == 8 else "------") + bar + (" " + bar) * 4)
    out.append(f"{' ' * 8 if aw == 16 else ''}total Kb" + "".join(_printk(v, sw) for v in tot))
    return "\n".join(out) + "\n"


def main(argv: list[str], out: TextIO, err: TextIO) -> int:
    try:
        opts, args = getopt.getopt(argv, "x")
    except getopt.GetoptError:
        opts, args = [("?", "")], []
    if not args or any(o == "?" for o, _ in opts):
        err.write("usage:\tpmap [-x] { pid | core } ...\n  (report process address maps)\n"
                  "  -x: show resident/anon/locked mapping details\n")
        return 2
    rc = 0
    for a in args:
        try:
            out.write(report(a, any(o == "-x" for o, _ in opts)))
        except GrabError as e:
            err.write(f"pmap: cannot examine {a}: {e}\n")
            rc += 1
        except OSError as e:
            err.write(f"pmap: cannot examine {a}: lost control of process\n")
            rc += 1
    return rc
