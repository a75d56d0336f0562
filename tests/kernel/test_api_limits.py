"""Units of the API's input limits: the parsers' checks, the date-time rule, gunicorn's error
answer (the requests themselves: test_hostile_input.py)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from rest_framework.exceptions import ValidationError

from opsconductor.api.datetimes import OFFSET_REASON, RANGE_REASON, datetime_problem
from opsconductor.api.errors import RequestTooLarge
from opsconductor.api.parsers import JSONParser, check_tree, read_body
from opsconductor.web_server import error_response


def _fields(excinfo) -> dict:
    return excinfo.value.detail


def test_check_tree_names_every_field_holding_a_nul():
    data = {"a": "ok", "b": ["x", {"c": "y\x00"}], "d\x00": 1}
    with pytest.raises(ValidationError) as excinfo:
        check_tree(data)
    assert set(_fields(excinfo)) == {"b.1.c", "d\\u0000"}


def test_check_tree_counts_levels_of_containers_only(settings):
    settings.API_MAX_NESTING_DEPTH = 3
    assert check_tree({"a": [{"b": "deep enough"}]})  # three levels
    with pytest.raises(ValidationError) as excinfo:
        check_tree({"a": [{"b": []}]})
    assert "3 levels" in str(_fields(excinfo)["body"][0])


def test_check_tree_stops_at_the_value_budget(settings):
    settings.API_MAX_BODY_VALUES = 100
    shared = list(range(10))
    check_tree([shared] * 8)  # 89 values
    with pytest.raises(ValidationError) as excinfo:
        check_tree([shared] * 10)
    assert "body" in _fields(excinfo)


def test_read_body_reads_no_more_than_the_limit_plus_one_byte():
    stream = io.BytesIO(b"x" * 1000)
    with pytest.raises(RequestTooLarge):
        read_body(stream, limit=100)
    assert stream.tell() == 101
    assert read_body(io.BytesIO(b"x" * 100), limit=100) == b"x" * 100


def test_the_json_parser_refuses_what_python_cannot_parse_as_too_deep():
    with pytest.raises(ValidationError) as excinfo:
        JSONParser().parse(io.BytesIO(b"[" * 200_000 + b"]" * 200_000))
    assert "body" in _fields(excinfo)
    assert JSONParser().parse(io.BytesIO(b'{"a": [1, "\\u00e9"]}')) == {"a": [1, "\u00e9"]}


@pytest.mark.parametrize(
    "value, problem",
    [
        (datetime(2026, 1, 1, tzinfo=UTC), None),
        (datetime(2026, 1, 1), None),
        (datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=15, minutes=59))), None),
        (datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=16))), OFFSET_REASON),
        (datetime(2026, 1, 1, tzinfo=timezone(-timedelta(hours=23))), OFFSET_REASON),
        (datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=5))), RANGE_REASON),
        (datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=5))), RANGE_REASON),
    ],
)
def test_datetime_problem(value, problem):
    assert datetime_problem(value) == problem


def test_gunicorns_error_answer_is_the_apis_error_shape():
    raw = error_response(414, "URI Too Long")
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 414 URI Too Long"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    error = json.loads(body)["error"]
    assert error["code"] == "uri_too_long"
    assert error["request_id"] == headers["X-Request-ID"]
