"""Background work with a real worker process: urgent work first, and nothing lost when a worker dies."""

import signal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from config.celery import app
from config.models import Heartbeat, OutboxMessage
from customers.models import Customer, ImportJob
from tests import worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

MAINTENANCE_BACKLOG = 5000


def _customers_csv(rows: int) -> bytes:
    lines = ["name,company,city,phone"]
    lines += [f"Customer {i},ACME,Shanghai,+86139{i:08d}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _upload(api, rows: int, *, dry_run: bool):
    file = SimpleUploadedFile("customers.csv", _customers_csv(rows), content_type="text/csv")
    response = api.post("/api/v1/imports/", {"kind": "customers", "file": file, "dry_run": dry_run}, format="multipart")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def test_a_user_import_starts_within_5_seconds_behind_5000_maintenance_messages(tmp_path, api_as):
    api = api_as("marketing")
    app.loader.import_default_modules()
    sweep = app.tasks["config.tasks.sweep_stalled_jobs"]
    with worker.publishing_to(tmp_path):
        for _ in range(MAINTENANCE_BACKLOG):
            sweep.apply_async(queue="maintenance")
        with worker.running(tmp_path) as process:
            app.tasks["config.tasks.heartbeat"].apply_async(("up",))
            worker.wait_for(lambda: Heartbeat.objects.filter(name="up").exists(), worker=process, what="the worker")
            job_id = _upload(api, 20, dry_run=True)
            started = worker.wait_for(
                lambda: ImportJob.objects.filter(pk=job_id, heartbeat_at__isnull=False).exists(),
                timeout=30,
                worker=process,
                what="the import to start",
            )
            assert ImportJob.objects.get(pk=job_id).status in ("running", "done")
    assert started < 5, f"the import waited {started:.1f} s"


def test_an_import_whose_worker_is_killed_finishes_once_after_a_restart(tmp_path, api_as):
    rows = 40_000  # four batches: the kill lands between them
    api = api_as("marketing")
    with worker.publishing_to(tmp_path):
        first = worker.start(tmp_path)
        job_id = _upload(api, rows, dry_run=False)
        worker.wait_for(
            lambda: ImportJob.objects.filter(pk=job_id, rows_done__gt=0).exists(),
            timeout=120,
            worker=first,
            what=lambda: (
                f"the first batch: {ImportJob.objects.values().get(pk=job_id)} {list(OutboxMessage.objects.values())}"
            ),
        )
        worker.stop(first, sig=signal.SIGKILL)
        job = ImportJob.objects.get(pk=job_id)
        assert job.status == "running" and job.rows_done < rows  # killed mid-import

        with worker.running(tmp_path) as second:  # it catches up as it starts: the dead worker's work is rerun
            worker.wait_for(
                lambda: ImportJob.objects.filter(pk=job_id, status="done").exists(),
                timeout=120,
                worker=second,
                what="the import to finish",
            )
    job = ImportJob.objects.get(pk=job_id)
    assert (job.rows_done, job.created_count, job.failed_count, job.attempts) == (rows, rows, 0, 2)
    assert Customer.objects.count() == rows
    assert OutboxMessage.objects.get(task="customers.tasks.run_import").status == "done"
