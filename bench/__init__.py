"""Benchmarks: run with `./dev bench` (BENCH_QUICK=1 for the short CI run). They print figures;
they never fail a build on a number."""
