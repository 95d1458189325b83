from celery import shared_task

from config.outbox import RETRYING
from config.queues import INTERACTIVE, MAINTENANCE
from customers import imports, services


@shared_task(queue=MAINTENANCE, **RETRYING)
def recompute_segments() -> int:
    """Beat and after imports: lifecycle stage and RFM of everyone; writes only rows whose values changed."""
    return services.recompute_customer_segments(customer_ids=None)


@shared_task(queue=MAINTENANCE, **RETRYING)
def refresh_pending_segments() -> int:
    """One recompute for every customer marked since the last one (queued once per burst of writes)."""
    return services.refresh_pending_segments()


@shared_task(queue=INTERACTIVE, **RETRYING)
def run_import(job_id: int) -> None:
    """Process an ImportJob (dry or real); `config.jobs.sweep_stalled` re-sends it when a worker dies."""
    imports.run_job(job_id)
