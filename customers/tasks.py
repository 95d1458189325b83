from celery import shared_task
from django.db import OperationalError


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True)
def recompute_segments(customer_ids: list[int] | None = None) -> int:
    """Lifecycle stage and RFM; idempotent (it writes only rows whose values changed).

    None (the schedule, imports) recomputes everyone now; a list of ids (one order, one lead move) is
    debounced: queued and recomputed with the others pending, by `refresh_pending_segments`.
    """
    from customers import services

    if customer_ids is None:
        return services.recompute_customer_segments(customer_ids=None)
    services.queue_segment_refresh(customer_ids)
    return 0


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True)
def refresh_pending_segments() -> int:
    """One recompute for every customer queued since the last one; reschedules itself if more arrived."""
    from django.conf import settings

    from customers import services
    from customers.models import PendingSegmentRefresh

    done = services.refresh_pending_segments()
    if done and PendingSegmentRefresh.objects.exists():
        refresh_pending_segments.apply_async(countdown=settings.RELAY_SEGMENTS_DEBOUNCE_SECONDS)
    return done


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True)
def run_import(job_id: int) -> None:
    """Process an ImportJob (dry or real); `config.jobs.sweep_stalled` re-sends it when a worker dies."""
    from customers import imports

    imports.run_job(job_id)
