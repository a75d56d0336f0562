"""The OpenAPI schema of the accounts endpoints generates cleanly and says the right things."""

from __future__ import annotations

import yaml
from django.core.management import call_command


def generate(tmp_path) -> dict:
    target = tmp_path / "schema.yaml"
    call_command(
        "spectacular",
        "--urlconf",
        "apps.accounts.tests.urls",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(target),
    )
    return yaml.safe_load(target.read_text())


def test_schema_has_no_warnings_and_documents_the_odd_answers(tmp_path):
    schema = generate(tmp_path)
    paths = schema["paths"]

    assert {
        "/api/v1/auth/token/",
        "/api/v1/auth/token/refresh/",
        "/api/v1/auth/logout/",
        "/api/v1/me/",
        "/api/v1/me/password/",
        "/api/v1/tokens/",
        "/api/v1/tokens/{id}/",
        "/api/v1/users/",
        "/api/v1/users/{id}/",
    } <= set(paths)

    login = paths["/api/v1/auth/token/"]["post"]
    assert login.get("security", [{}]) == [{}]  # no authentication needed
    assert "TokenPair" in str(login["responses"]["200"])
    assert {"401", "429"} <= set(login["responses"])

    created = paths["/api/v1/tokens/"]["post"]["responses"]["201"]
    assert "ApiTokenCreated" in str(created)
    components = schema["components"]["schemas"]
    assert "token" in components["ApiTokenCreated"]["properties"]
    assert "token" not in components["ApiToken"]["properties"]
    assert "digest" not in components["ApiToken"]["properties"]
    assert "password" not in components["User"]["properties"]
    assert "password" in components["UserRequest"]["properties"]
    assert "ApiToken" in schema["components"]["securitySchemes"]
