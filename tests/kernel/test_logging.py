"""Every log line carries the request id; production logs are one JSON object per line."""

from __future__ import annotations

import logging

import pytest


@pytest.mark.django_db(databases="__all__")
def test_a_refused_request_is_logged_as_json_with_its_request_id(client, json_log):
    response = client.get("/api/v1/me/")
    assert response.status_code == 401

    lines = [line for line in json_log() if line["logger"] == "django.request"]
    assert lines, "django.request logged nothing"
    assert lines[-1]["request_id"] == response["X-Request-ID"]
    assert lines[-1]["level"] == "WARNING"
    assert "/api/v1/me/" in lines[-1]["message"]


def test_log_lines_inside_a_bound_context_carry_its_id(json_log):
    from opsconductor.observability.context import bound

    with bound(request_id="req-abcdef123456"):
        logging.getLogger("opsconductor.test").info("inside", extra={"target": "web-1"})
    logging.getLogger("opsconductor.test").info("outside")

    inside, outside = (line for line in json_log() if line["logger"] == "opsconductor.test")
    assert inside["request_id"] == "req-abcdef123456"
    assert inside["target"] == "web-1"
    assert outside["request_id"] == "-"
