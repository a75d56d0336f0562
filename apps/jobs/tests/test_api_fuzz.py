"""Malformed job definitions of every kind are 400s with the error shape, never 500s."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from apps.jobs.models import Job

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
step = st.fixed_dictionaries(
    {"name": st.text(max_size=12), "kind": st.sampled_from(["command", "script", "upload", "x"])},
    optional={
        "command": json_values, "interpreter": json_values, "script": json_values,
        "timeout_seconds": json_values, "os_family": json_values, "env": json_values,
        "mode": json_values, "path": json_values, "content": json_values,
    },
)  # fmt: skip
parameter = st.fixed_dictionaries(
    {"name": st.text(max_size=12), "type": st.sampled_from(["string", "integer", "boolean", "choice", "secret", "target_selector", "x"])},
    optional={"default": json_values, "choices": json_values, "pattern": json_values, "minimum": json_values, "maximum": json_values, "required": json_values},
)  # fmt: skip
definitions = st.fixed_dictionaries(
    {},
    optional={
        "name": json_values | st.text(max_size=20), "description": json_values,
        "labels": json_values, "default_selector": json_values, "policy": json_values,
        "parameters": st.lists(parameter, max_size=3) | json_values,
        "steps": st.lists(step, max_size=3) | json_values,
    },
) | json_values  # fmt: skip


@pytest.mark.django_db(databases=["default", "jobs", "targets"])
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=definitions)
def test_any_body_is_a_201_or_a_clean_400(django_user_model, body):
    user, _ = django_user_model.objects.get_or_create(
        username="fuzzer", defaults={"role": "manager"}
    )
    client = APIClient()
    client.force_authenticate(user)
    before = Job.objects.count()
    response = client.post("/api/v1/jobs/", body, format="json")
    assert response.status_code in (201, 400), (response.status_code, body)
    if response.status_code == 400:
        assert response.json()["error"]["code"] in (
            "validation_error",
            "bad_request",
            "parse_error",
        )
        assert Job.objects.count() == before
