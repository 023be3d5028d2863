"""Benchmarks: each bench_*.py prints its figures. Targets live here, never as timed assertions in tests."""
