"""The `-c` summary table, in strace's layout (sorted by time, then by call number)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Counts", "table"]


@dataclass
class Counts:
    """One call's totals: calls, errors and seconds spent between its entry and exit stops."""

    nr: int
    calls: int = 0
    errors: int = 0
    seconds: float = 0.0


_RULE = "------ ----------- ----------- --------- --------- ----------------"


def table(counts: dict[str, Counts]) -> str:
    """The summary text (with a trailing newline), as `strace -c` prints it."""
    rows = sorted(counts.items(), key=lambda kv: (-kv[1].seconds, kv[1].nr))
    total_s = sum(c.seconds for c in counts.values())
    total_calls = sum(c.calls for c in counts.values())
    total_err = sum(c.errors for c in counts.values())
    lines = ["% time     seconds  usecs/call     calls    errors syscall", _RULE]

    def row(pct: float, secs: float, calls: int, errors: int, name: str) -> str:
        usecs = int(secs * 1e6 / calls) if calls else 0
        err = str(errors) if errors else ""
        return f"{pct:6.2f} {secs:11.6f} {usecs:11d} {calls:9d} {err:>9} {name}"

    for name, c in rows:
        pct = 100.0 * c.seconds / total_s if total_s else 0.0
        lines.append(row(pct, c.seconds, c.calls, c.errors, name))
    lines.append(_RULE)
    lines.append(row(100.0, total_s, total_calls, total_err, "total"))
    return "\n".join(lines) + "\n"
