"""The live host as the oracle for the lx backend.

The recording decides what is run and is still compared, but whether lx is right about a call is
decided by the host backend replaying the same session in the same run on the same machine: a
difference from the recording that the host shows too (same field, same live value) comes from
the machine (its CPU, its kernel build, its files), not from the translation, and is reported as
kind "machine" with the host's evidence.  A difference the host does not show stays against lx.
"""

from __future__ import annotations

from typing import Any

from .session import CallResult, Diff, SessionReport, _as_bytes


def _addr(field: str) -> int | None:
    if field.startswith("data@"):
        try:
            return int(field[5:], 16)
        except ValueError:
            return None
    return None


def _host_bytes(h: CallResult) -> dict[int, int]:
    """address -> the host's live byte, where the host's result differed from the recording."""
    out: dict[int, int] = {}
    for d in h.diffs:
        a = _addr(d.field)
        if a is None:
            continue
        for i, b in enumerate(_as_bytes_safe(d.live)):
            out[a + i] = b
    return out


def _pids_as_host(live: bytes, a: int, pids: dict[int, int]) -> bytes:
    """lx's live bytes at address `a` with each aligned 4-byte lx pid replaced by the host run's
    pid of the same recorded process (the two runs' processes have different pids)."""
    b = bytearray(live)
    for k in range((-a) % 4, len(b) - 3, 4):
        v = int.from_bytes(b[k:k + 4], "little")
        if v in pids:
            b[k:k + 4] = pids[v].to_bytes(4, "little")
    return bytes(b)


def _same_as_host(d: Diff, h: CallResult, hbytes: dict[int, int], pids: dict[int, int]) -> Diff | None:
    """The host's diff that shows the same live value as lx's `d`, or None."""
    a = _addr(d.field)
    if a is not None and isinstance(d.live, (bytes, bytearray, int)):
        live = _pids_as_host(_as_bytes_safe(d.live), a, pids)
        if live and all(hbytes.get(a + i) == b for i, b in enumerate(live)):
            return next((x for x in h.diffs if _addr(x.field) is not None
                         and _addr(x.field) <= a < _addr(x.field) + len(_as_bytes_safe(x.live))), h.diffs[0])
        return None
    for x in h.diffs:
        if x.field == d.field and (_eq(x.live, d.live) or pids.get(d.live) == x.live):
            return x
    return None


def _as_bytes_safe(v: Any) -> bytes:
    try:
        return _as_bytes(v)
    except (TypeError, ValueError):
        return b""


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, (bytes, bytearray)) or isinstance(b, (bytes, bytearray)):
        return _as_bytes_safe(a) == _as_bytes_safe(b)
    return a == b


def judge_by_host(lx: SessionReport, host: SessionReport) -> SessionReport:
    """Re-judge lx's report against the host's replay of the same session (changes `lx` in place
    and returns it): each unexplained difference that the host shows too becomes "machine".
    Afterwards `lx.oracle` holds the counts: calls where lx and the host disagree (lx differed
    where the host did not, or with another value) and calls where lx matched the recording
    while the host did not."""
    by_line = {r.lineno: r for r in host.results if r.lineno}
    disagree = lx_only_matched = machine = 0
    pids = {v: host.pidmap[k] for k, v in lx.pidmap.items() if k in host.pidmap}
    for r in lx.results:
        if r.status == "skipped":
            continue
        h = by_line.get(r.lineno)
        if h is None:
            if r.status == "differed":
                disagree += 1
            continue
        hb = _host_bytes(h)
        changed = False
        for d in r.diffs:
            if d.kind != "unexplained":
                continue
            x = _same_as_host(d, h, hb, pids)
            if x is None:
                d.reason = (d.reason + "; " if d.reason else "") + (
                    "the host backend did not show this difference in this run" if not h.diffs
                    else "the host backend showed another value in this run")
                continue
            d.kind = "machine"
            d.reason = (f"the host backend shows it too in this run ({x.kind}"
                        f"{': ' + x.reason if x.reason else ''}): this machine, not lx")
            changed = True
        if changed:
            machine += 1
        r.settle()
        if r.status == "differed":
            disagree += 1
        elif r.status == "matched" and h.status == "differed":
            lx_only_matched += 1
    lx.oracle = {"host_backend": host.backend, "disagree": disagree, "machine_calls": machine,
                 "lx_matched_where_host_differed": lx_only_matched,
                 "host_differed": host.count("differed"), "host_errors": list(host.errors)}
    return lx


__all__ = ["judge_by_host"]
