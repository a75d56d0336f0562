"""The committed bundle and API client match their sources: ``make test`` (Python only) fails
when someone changed the console, or the API, without rebuilding what is committed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opsconductor.console.sources import BUNDLE, ROOT, recorded_sha256, source_files, sources_sha256

# independent of how the databases are laid out: once, in make test
pytestmark = pytest.mark.once

REPO = ROOT.parent
SNAPSHOT = ROOT / "src" / "api" / "openapi.json"


def test_the_bundle_was_built_from_the_committed_sources():
    recorded = recorded_sha256()
    assert recorded is not None, (
        f"{BUNDLE / 'build-info.json'} is missing: build the console with `make console`"
    )
    assert recorded == sources_sha256(), (
        "The console's bundle (opsconductor/console/bundle/) was not rebuilt after its sources "
        "(console/) changed: run `make console` and commit opsconductor/console/bundle/."
    )


def test_the_hash_covers_every_source_and_changes_with_any(tmp_path: Path):
    for name in source_files():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / name).read_bytes())
    assert sources_sha256(tmp_path) == sources_sha256()
    assert "src/main.tsx" in source_files() and "package-lock.json" in source_files()
    assert not any(name.startswith("node_modules/") for name in source_files())
    (tmp_path / "src" / "main.tsx").write_text("// changed\n", encoding="utf-8")
    assert sources_sha256(tmp_path) != sources_sha256()


def schema_env(var_dir: Path) -> dict:
    """What `make console-api` generates the schema with: the default settings on the embedded
    database, whatever databases this machine's environment names (a field's range in the
    schema follows the database backend's)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("DATABASE_URL")
        and key not in {"DJANGO_SETTINGS_MODULE", "OPSCONDUCTOR_ENV"}
    }
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "OPSCONDUCTOR_VAR_DIR": str(var_dir),
    }


def test_the_committed_openapi_snapshot_is_the_api_of_now(tmp_path: Path):
    generated = tmp_path / "openapi.json"
    subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--format", "openapi-json",
         "--file", str(generated)],
        cwd=REPO, env=schema_env(tmp_path), check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert json.loads(SNAPSHOT.read_text()) == json.loads(generated.read_text()), (
        "console/src/api/openapi.json is not the API of now (an endpoint or serializer changed): "
        "run `make console-api` (regenerates openapi.json, and schema.d.ts when node is "
        "installed), rebuild with `make console` and commit both."
    )
