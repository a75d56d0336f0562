"""Legacy ``execution_number``s: 1, 2, 3 ... per job, stable (docs/legacy-bridge.md, "Jobs").

The legacy UI names an execution by its job and number (``/jobs/4/executions/2``). A run keeps
the number it was first shown with, for good:

- an **imported** execution keeps its legacy number (the importer writes it with the run);
- a **run of the new system** gets the job's next number (one above the highest the job has)
  the first time an adapter shows the job's runs; runs not numbered yet are numbered in the
  order they were created.

Rows are never deleted and numbers never change. Two requests numbering the same job at once
are settled by the unique (job, number) constraint: the loser reads the winner's numbers and
tries again.
"""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.db.models import Max

from legacy_bridge.models import ExecutionNumber

DB = "default"
IMPORTED = "imported"
ALLOCATED = "allocated"
ATTEMPTS = 5


def _known(job_id: uuid.UUID) -> dict[uuid.UUID, int]:
    return dict(
        ExecutionNumber.objects.using(DB).filter(job_id=job_id).values_list("run_id", "number")
    )


def numbers_of_job(job_id: uuid.UUID, run_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The number of each run of ``run_ids`` (the job's runs, oldest first), numbering the
    ones that have none yet after the job's highest number."""
    known = _known(job_id)
    for _ in range(ATTEMPTS):
        missing = [run_id for run_id in run_ids if run_id not in known]
        if not missing:
            break
        try:
            with transaction.atomic(using=DB):
                top = (
                    ExecutionNumber.objects.using(DB)
                    .filter(job_id=job_id)
                    .aggregate(top=Max("number"))["top"]
                    or 0
                )
                ExecutionNumber.objects.using(DB).bulk_create(
                    ExecutionNumber(job_id=job_id, run_id=run_id, number=top + i, source=ALLOCATED)
                    for i, run_id in enumerate(missing, start=1)
                )
        except IntegrityError:
            pass  # numbered concurrently: read what the other request wrote, and go on
        known = _known(job_id)
    return {run_id: known[run_id] for run_id in run_ids if run_id in known}


def numbers_of_jobs(runs: dict[uuid.UUID, list[uuid.UUID]]) -> dict[uuid.UUID, int]:
    """``numbers_of_job`` for several jobs (``{job: its runs, oldest first}``): one query when
    every run has its number already (a list of jobs), the numbering of the others as there."""
    known = dict(
        ExecutionNumber.objects.using(DB)
        .filter(job_id__in=list(runs))
        .values_list("run_id", "number")
    )
    numbers: dict[uuid.UUID, int] = {}
    for job_id, run_ids in runs.items():
        if all(run_id in known for run_id in run_ids):
            numbers.update((run_id, known[run_id]) for run_id in run_ids)
        else:
            numbers.update(numbers_of_job(job_id, run_ids))
    return numbers


def record_imported(job_id: uuid.UUID, run_id: uuid.UUID, number: int) -> bool:
    """Keep a legacy execution's number for its imported run (the importer). False when the
    run has a number already or the job's number is taken (by a run of the new system shown
    before the import: the imported run is numbered after the others when first shown)."""
    if not isinstance(number, int) or number < 1:
        return False
    created = ExecutionNumber.objects.using(DB).bulk_create(
        [ExecutionNumber(job_id=job_id, run_id=run_id, number=number, source=IMPORTED)],
        ignore_conflicts=True,
    )
    return (
        bool(created)
        and ExecutionNumber.objects.using(DB).filter(run_id=run_id, number=number).exists()
    )
