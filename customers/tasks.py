from celery import shared_task
from django.db import OperationalError


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True)
def recompute_segments(customer_ids: list[int] | None = None) -> int:
    """Lifecycle stage and RFM; idempotent (it writes only rows whose values changed)."""
    from customers import services

    return services.recompute_customer_segments(customer_ids=customer_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True)
def run_import(job_id: int) -> None:
    """Process an ImportJob (dry or real); `config.jobs.sweep_stalled` re-sends it when a worker dies."""
    from customers import imports

    imports.run_job(job_id)
