"""Fixtures shared by the kernel's tests."""

from __future__ import annotations

import io
import json
import logging

import pytest

from opsconductor.observability.logging import JsonFormatter, RequestContextFilter


@pytest.fixture
def json_log():
    """The JSON log lines written while the test runs (root logger at INFO), parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)
