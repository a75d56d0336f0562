"""The gateway tests skip where nginx is missing, but fail in CI: CI must prove the gateway."""

from __future__ import annotations

import pytest

from tests.deploy import gateway


@pytest.fixture
def no_nginx(monkeypatch, tmp_path):
    monkeypatch.setattr(gateway.shutil, "which", lambda name: None)
    return (str(tmp_path / "no-nginx-here"),)


def test_missing_nginx_skips_with_the_reason_outside_ci(monkeypatch, no_nginx):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y nginx"):
        gateway.nginx_binary(no_nginx)


def test_missing_nginx_fails_in_ci(monkeypatch, no_nginx):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the gateway tests"):
        gateway.nginx_binary(no_nginx)


def test_an_installed_nginx_is_found_where_debian_puts_it(monkeypatch, tmp_path):
    binary = tmp_path / "nginx"
    binary.write_text("")
    monkeypatch.setattr(gateway.shutil, "which", lambda name: None)
    assert gateway.nginx_binary((str(binary),)) == str(binary)
