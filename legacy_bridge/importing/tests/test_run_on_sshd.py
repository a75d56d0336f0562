"""An imported key credential logs in to a real sshd target and runs an imported job through
the product (the runs API, the real Celery worker)."""

from __future__ import annotations

import pytest

from legacy_bridge.importing.tests.seed import seed
from tests.fixtures import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


def test_imported_job_runs_on_imported_target_with_imported_key(
    legacy, run_import, admin_api, sshd, celery_worker
):
    seed(legacy, ssh_server=sshd)
    report = run_import(only=("users", "targets", "jobs"))
    assert report.tables["target_credentials"].counts["credentials created"] == 3
    jobs = {j["name"]: j for j in ok(admin_api.get("/api/v1/jobs/"))["results"]}
    run = ok(admin_api.post("/api/v1/runs/", {"job": jobs["deploy"]["id"]}, format="json"), 201)

    def finished():
        data = ok(admin_api.get(f"/api/v1/runs/{run['id']}/"))
        return data if data["status"] in ("succeeded", "failed", "canceled", "timed_out") else None

    done = wait_for(finished, timeout=60, interval=0.2, what="the imported job's run")
    targets = ok(admin_api.get(f"/api/v1/runs/{run['id']}/targets/"))["results"]
    assert done["status"] == "succeeded", (done, targets)
    [target] = targets
    assert target["target_name"] == "web"
    assert [s["status"] for s in target["steps"]] == ["succeeded", "succeeded"]
    output = ok(admin_api.get(f"/api/v1/runs/{run['id']}/targets/{target['target_id']}/output/"))
    text = {(c["step"], c["stream"]): c["text"] for c in output["chunks"]}
    # the legacy command ran exactly as it was written, braces and all
    assert text[(1, "stdout")] == "hello-from-legacy {{ not a template }}\n"
    assert text[(2, "stdout")].endswith("done\n")
    # accept-new: the host key seen at that first login is now trusted for the target
    methods = ok(admin_api.get(f"/api/v1/targets/{target['target_id']}/"))["connection_methods"]
    keys = ok(admin_api.get(f"/api/v1/targets/{target['target_id']}/host-keys/"))
    assert methods[0]["host"] == sshd.host
    keys = keys["results"] if isinstance(keys, dict) else keys
    assert [k["state"] for k in keys] == ["trusted"]
