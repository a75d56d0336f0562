"""`python -m bench [name ...]`: run the benchmarks (all by default)."""

from __future__ import annotations

import sys

from bench import health, outbox

BENCHMARKS = {"outbox": outbox.main, "health": health.main}

if __name__ == "__main__":
    names = sys.argv[1:] or list(BENCHMARKS)
    for name in names:
        BENCHMARKS[name]()
