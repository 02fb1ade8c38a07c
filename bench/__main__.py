"""Run every benchmark module and print its figures."""

from __future__ import annotations

import importlib
import os
import sys

MODULES = ["bench.codec", "bench.procfs", "bench.lx", "bench.waits", "bench.replay", "bench.debuggers"]


def main() -> int:
    quick = os.environ.get("BENCH_QUICK") == "1" or "--quick" in sys.argv
    only = [a for a in sys.argv[1:] if not a.startswith("-")]
    for name in MODULES:
        if only and not any(o in name for o in only):
            continue
        mod = importlib.import_module(name)
        print(f"== {name} ({'quick' if quick else 'full'})")
        mod.run(quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
