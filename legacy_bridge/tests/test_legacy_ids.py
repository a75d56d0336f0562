"""Stable legacy ids (docs/legacy-bridge.md, "Legacy ids"): imported objects keep theirs, new
ones get ids from the bridge's own range on first exposure, and no id is ever handed out twice,
even to concurrent first exposures."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connections

from legacy_bridge import legacy_ids
from legacy_bridge.importing.models import ImportedRecord
from legacy_bridge.models import LegacyId


@pytest.mark.django_db
def test_imported_objects_keep_their_legacy_ids_and_new_ones_start_at_the_floor(settings):
    settings.LEGACY_ID_FLOOR = 1_000_000_000
    imported, created = uuid.uuid4(), uuid.uuid4()
    ImportedRecord.objects.create(
        legacy_table="universal_targets", legacy_id="7", new_id=imported, fingerprint="x"
    )
    ids = legacy_ids.legacy_ids_for("targets", [imported, created])
    assert ids == {imported: 7, created: 1_000_000_000}
    # both ways, and the same answer every time (now from the registry)
    assert legacy_ids.new_id_for("targets", 7) == imported
    assert legacy_ids.new_id_for("targets", 1_000_000_000) == created
    assert legacy_ids.legacy_id_for("targets", created) == 1_000_000_000
    assert LegacyId.objects.filter(kind="targets").count() == 2
    # kinds are separate id spaces, as the legacy tables were
    assert legacy_ids.new_id_for("users", 7) is None
    assert legacy_ids.legacy_id_for("users", uuid.uuid4()) == 1_000_000_000


@pytest.mark.django_db
def test_a_legacy_id_names_the_imported_object_before_any_read_of_it():
    imported = uuid.uuid4()
    ImportedRecord.objects.create(
        legacy_table="users", legacy_id="3", new_id=imported, fingerprint="x"
    )
    assert legacy_ids.new_id_for("users", 3) == imported
    assert legacy_ids.new_id_for("users", 4) is None


@pytest.mark.django_db
def test_ids_are_never_reused_and_the_floor_only_moves_them_up(settings):
    settings.LEGACY_ID_FLOOR = 5_000
    first = legacy_ids.legacy_id_for("jobs", uuid.uuid4())
    second = legacy_ids.legacy_id_for("jobs", uuid.uuid4())
    assert (first, second) == (5_000, 5_001)
    # the object behind the first id is deleted: its id keeps naming it (a 404 later), and the
    # next object gets a new one
    assert legacy_ids.legacy_id_for("jobs", uuid.uuid4()) == 5_002
    settings.LEGACY_ID_FLOOR = 1_000  # lowered by mistake: ids still only grow
    assert legacy_ids.legacy_id_for("jobs", uuid.uuid4()) == 5_003
    settings.LEGACY_ID_FLOOR = 9_000  # raised: the next id jumps to it
    assert legacy_ids.legacy_id_for("jobs", uuid.uuid4()) == 9_000


@pytest.mark.django_db
def test_registering_a_taken_id_or_object_is_refused():
    one, other = uuid.uuid4(), uuid.uuid4()
    legacy_ids.register("methods", 1, one)
    legacy_ids.register("methods", 1, one)  # the same pair again: fine
    with pytest.raises(ValueError, match="taken"):
        legacy_ids.register("methods", 1, other)
    with pytest.raises(ValueError, match="taken"):
        legacy_ids.register("methods", 2, one)
    with pytest.raises(ValueError, match="unknown legacy id kind"):
        legacy_ids.legacy_id_for("gadgets", one)


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_exposures_agree_and_never_share_an_id(settings):
    settings.LEGACY_ID_FLOOR = 1_000_000_000
    shared = [uuid.uuid4() for _ in range(30)]
    answers: list[dict] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def expose() -> None:
        try:
            own = [uuid.uuid4() for _ in range(10)]
            start.wait()
            answers.append(legacy_ids.legacy_ids_for("targets", shared + own))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=expose) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(answers) == 8
    # every thread got the same id for each shared object
    for object_id in shared:
        assert len({answer[object_id] for answer in answers}) == 1
    rows = list(LegacyId.objects.filter(kind="targets").values_list("legacy_id", "new_id"))
    assert len(rows) == 30 + 8 * 10
    assert len({legacy_id for legacy_id, _ in rows}) == len(rows)
    assert all(1_000_000_000 <= legacy_id < 2**53 for legacy_id, _ in rows)
