from celery import shared_task

from config.outbox import RETRYING
from config.queues import INTERACTIVE, MAINTENANCE
from customers import affinity, imports, loyalty, services


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


@shared_task(queue=MAINTENANCE, **RETRYING)
def refresh_affinity() -> int:
    """Beat (nightly) and after order changes (coalesced, customers.affinity.queue_affinity_refresh): the product
    pairs rewritten from the trailing 365 days' orders; a second run rewrites the same table."""
    return affinity.refresh_affinity()


@shared_task(queue=MAINTENANCE, **RETRYING)
def expire_points() -> int:
    """Beat (nightly): points past their expiry leave the balances; a second run the same night writes nothing."""
    return loyalty.expire_points()


@shared_task(queue=MAINTENANCE, **RETRYING)
def recompute_tiers() -> int:
    """Beat (nightly, as trailing spend moves with the days) and after a threshold change: everyone's membership
    and loyalty tier; writes only rows that change."""
    return len(loyalty.recompute_tiers(None))
