"""The client address recorded for events and login throttling."""

from __future__ import annotations

import ipaddress

import pytest
from django.test import RequestFactory

from opsconductor.observability.middleware import client_ip

GATEWAY = "10.0.0.5"


@pytest.fixture
def request_from():
    def make(remote: str, forwarded: str | None = None):
        headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
        return RequestFactory().get("/", REMOTE_ADDR=remote, **headers)

    return make


def test_without_trusted_proxies_a_forged_header_is_ignored(settings, request_from):
    settings.TRUSTED_PROXIES = []
    assert client_ip(request_from("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


def test_behind_a_trusted_gateway_the_client_is_the_rightmost_untrusted_hop(settings, request_from):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/24")]
    assert client_ip(request_from(GATEWAY, "198.51.100.7")) == "198.51.100.7"
    # The client wrote "1.2.3.4" itself; the gateway appended the address it really saw.
    assert client_ip(request_from(GATEWAY, "1.2.3.4, 198.51.100.7")) == "198.51.100.7"
    # Two trusted hops in a row.
    assert client_ip(request_from(GATEWAY, "198.51.100.7, 10.0.0.9")) == "198.51.100.7"


def test_a_direct_client_cannot_pretend_to_be_proxied(settings, request_from):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/24")]
    assert client_ip(request_from("203.0.113.9", "198.51.100.7")) == "203.0.113.9"
