"""Celery beat jobs of leads: one service call each; safe to run twice or concurrently."""

from celery import shared_task

from config.outbox import RETRYING
from config.queues import MAINTENANCE
from leads import services


@shared_task(queue=MAINTENANCE, **RETRYING)
def check_lead_slas() -> int:
    return services.check_lead_slas()


@shared_task(queue=MAINTENANCE, **RETRYING)
def recycle_stale_leads() -> int:
    return services.recycle_stale_leads()
