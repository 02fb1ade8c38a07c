"""Run every benchmark module and print its figures; exit 1 when a module's `run` returns a
true value (bench.reliability: the number of figures that missed their target of 0)."""

from __future__ import annotations

import importlib
import os
import sys

MODULES = ["bench.codec", "bench.procfs", "bench.lx", "bench.waits", "bench.replay", "bench.debuggers",
           "bench.reliability"]


def main() -> int:
    quick = os.environ.get("BENCH_QUICK") == "1" or "--quick" in sys.argv
    only = [a for a in sys.argv[1:] if not a.startswith("-")]
    failed = []
    for name in MODULES:
        if only and not any(o in name for o in only):
            continue
        mod = importlib.import_module(name)
        print(f"== {name} ({'quick' if quick else 'full'})")
        if mod.run(quick):
            failed.append(name)
    if failed:
        print(f"== missed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
