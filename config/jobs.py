"""Helpers for TrackedJob rows: claim, beat, finish, and the sweep that revives stalled ones."""

from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config import outbox
from config.models import JobStatus, TrackedJob

MAX_ATTEMPTS = 5


def tracked_job_models() -> list[type[TrackedJob]]:
    return [m for m in apps.get_models() if issubclass(m, TrackedJob) and m.resume_task]


def claim(model: type[TrackedJob], pk: int) -> TrackedJob | None:
    """Mark a queued or stalled job running for this worker; None if another has it or it is done."""
    now = timezone.now()
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=pk).first()
        if job is None or job.status in (JobStatus.DONE, JobStatus.FAILED):
            return None
        if job.status == JobStatus.RUNNING and outbox.holder_is_alive(job.claimed_by, job.heartbeat_at, now):
            return None
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.heartbeat_at = now
        job.claimed_by = outbox.worker_id()
        job.save(update_fields=["status", "attempts", "heartbeat_at", "claimed_by"])
    return job


def release(job: TrackedJob) -> None:
    """Give a claimed job back (its run raised), so the retry of its message can claim it at once."""
    type(job).objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(status=JobStatus.QUEUED, claimed_by="")


def beat(job: TrackedJob, **fields) -> None:
    fields["heartbeat_at"] = timezone.now()
    type(job).objects.filter(pk=job.pk).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)


def finish(job: TrackedJob, *, error: str = "", **fields) -> None:
    beat(job, status=JobStatus.FAILED if error else JobStatus.DONE, finished_at=timezone.now(), error=error, **fields)


def sweep_stalled(now=None) -> int:
    """Re-enqueue jobs whose worker went silent; give up after MAX_ATTEMPTS."""
    now = now or timezone.now()
    stall = now - timedelta(minutes=settings.RELAY_JOB_STALL_MINUTES)
    revived = 0
    for model in tracked_job_models():
        # A running job whose worker died or went quiet, or a queued one whose message never arrived.
        running = model.objects.filter(status=JobStatus.RUNNING).only("pk", "claimed_by", "heartbeat_at")
        dead = [job.pk for job in running if not outbox.holder_is_alive(job.claimed_by, job.heartbeat_at, now)]
        stalled = model.objects.filter(pk__in=dead) | model.objects.filter(
            status=JobStatus.QUEUED, heartbeat_at__isnull=True, created_at__lt=stall
        )
        for job in stalled.only("pk", "attempts"):
            if job.attempts >= MAX_ATTEMPTS:
                model.objects.filter(pk=job.pk).update(
                    status=JobStatus.FAILED, finished_at=now, error="gave up after repeated stalls"
                )
                continue
            outbox.enqueue(model.resume_task, job.pk, coalesce_key=f"resume:{model._meta.label}:{job.pk}")
            revived += 1
    return revived
