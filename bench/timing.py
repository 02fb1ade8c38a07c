"""Per-call timing: best of several repeats, so a busy CI core inflates figures less."""

from __future__ import annotations

import time
from typing import Callable


def per_call_us(fn: Callable[[], object], number: int, repeat: int = 5) -> float:
    """Best-of-`repeat` microseconds per call of `fn` over `number` calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, time.perf_counter() - t0)
    return best / number * 1e6


def report(label: str, us: float, target_us: float | None = None) -> None:
    """One aligned line: figure, and the target with a verdict when there is one."""
    verdict = ""
    if target_us is not None:
        verdict = f"  (target <= {target_us:g} us: {'met' if us <= target_us else 'MISSED'})"
    print(f"  {label:<52} {us:9.2f} us{verdict}")
