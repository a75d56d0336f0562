"""Ansible stdout callback of the benchmark: when each host's result arrives, and how it ended.

Loaded by ansible (never imported by the product) from the ``callback_plugins`` directory that
bench/ansible_side.py writes into its ansible.cfg. Appends one JSON object per line to the file
named by ``BENCH_TIMING_FILE``, flushed at once, so a run that dies still leaves what it saw:

    {"event": "start", "mono": ..., "wall": ...}
    {"event": "result", "host": "target-0001", "status": "ok", "rc": 0, "mono": ..., "wall": ...}
    {"event": "end", "mono": ..., "wall": ...}

``mono`` is ``time.monotonic()`` (CLOCK_MONOTONIC, the same clock in every process of the
machine, so the benchmark compares it with its own), ``wall`` is ``time.time()``. ``status`` is
"ok", "failed" or "unreachable". Prints nothing else: the terminal output of a few hundred hosts
is not what is measured.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: bench_timing
    type: stdout
    short_description: per-host result times for the OpsConductor benchmark (JSON lines)
    description:
        - Writes one JSON line per host result to the file named by BENCH_TIMING_FILE.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "bench_timing"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        path = os.environ.get("BENCH_TIMING_FILE")
        self._out = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115, PTH123
        self._counts = {"ok": 0, "failed": 0, "unreachable": 0}

    def _write(self, record):
        record["mono"] = time.monotonic()
        record["wall"] = time.time()
        if self._out is not None:
            self._out.write(json.dumps(record) + "\n")
            self._out.flush()

    def _result(self, result, status):
        # ansible-core 2.19 passes CallbackTaskResult (.host/.result); older ones TaskResult.
        host = getattr(result, "host", None) or result._host
        data = getattr(result, "result", None)
        if data is None:
            data = result._result
        self._counts[status] += 1
        record = {"event": "result", "host": host.get_name(), "status": status}
        record["rc"] = data.get("rc")
        if status != "ok":
            record["msg"] = str(data.get("msg") or data.get("stderr") or "")[:500]
        self._write(record)

    def v2_playbook_on_start(self, playbook):
        self._write({"event": "start"})

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self._write({"event": "end", **self._counts})
        if self._out is not None:
            self._out.close()
            self._out = None
