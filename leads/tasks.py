"""Celery beat jobs of leads: one service call each; safe to run twice or concurrently."""

from celery import shared_task
from django.db import OperationalError

from leads import services


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True)
def check_lead_slas() -> int:
    return services.check_lead_slas()


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True)
def recycle_stale_leads() -> int:
    return services.recycle_stale_leads()
