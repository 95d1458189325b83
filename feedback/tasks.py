"""Celery tasks of the service loop: each makes one service call and may run twice harmlessly."""

from celery import shared_task

from config.outbox import RETRYING
from config.queues import INTERACTIVE, MAINTENANCE
from feedback import services


@shared_task(queue=INTERACTIVE, **RETRYING)
def send_nps_invitations(invitation_ids: list[int]) -> int:
    """Email each invitation once (sent_at is checked under lock)."""
    return sum(services.send_nps_invitation(invitation_id=pk) for pk in invitation_ids)


@shared_task(queue=INTERACTIVE, **RETRYING)
def open_detractor_follow_up(response_id: int) -> None:
    services.open_detractor_follow_up(response_id=response_id)


@shared_task(queue=MAINTENANCE, **RETRYING)
def check_service_slas() -> dict[str, int]:
    """Beat: complaint SLA breaches, each alerted once (overdue follow-ups are tasks: config.tasks alerts them)."""
    return services.check_service_slas()
