from datetime import date

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from okr import services


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True)
def snapshot_key_results(day: str | None = None) -> int:
    """Daily (beat): one MetricSnapshot per key result of the current quarter; re-running updates the same rows."""
    return services.snapshot_key_results(day=date.fromisoformat(day) if day else timezone.localdate())


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True)
def backfill_snapshots(quarter: str) -> int:
    return services.backfill_snapshots(quarter=quarter)
