from datetime import date

from celery import shared_task
from django.utils import timezone

from config.outbox import RETRYING
from config.queues import MAINTENANCE
from okr import services


@shared_task(queue=MAINTENANCE, **RETRYING)
def snapshot_key_results(day: str | None = None) -> int:
    """Daily (beat): one MetricSnapshot per key result of the current quarter; re-running updates the same rows."""
    return services.snapshot_key_results(day=date.fromisoformat(day) if day else timezone.localdate())


@shared_task(queue=MAINTENANCE, **RETRYING)
def backfill_snapshots(quarter: str) -> int:
    return services.backfill_snapshots(quarter=quarter)
