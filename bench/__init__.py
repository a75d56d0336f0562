"""Benchmarks: run by hand (`make bench`), print their figures; results go to docs/benchmarks.md."""
