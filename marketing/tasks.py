"""Celery tasks of marketing: each makes one service call and may run twice harmlessly."""

from celery import shared_task

from config.outbox import RETRYING
from config.queues import INTERACTIVE, MAINTENANCE
from marketing import journeys, sending, services


@shared_task(queue=MAINTENANCE, **RETRYING)
def raise_missed_activations() -> int:
    """Beat: `activation.missed` once per sign-up whose window passed without activation."""
    return services.raise_missed_activations()


@shared_task(queue=INTERACTIVE, **RETRYING)
def deliver_email(message_id: int) -> bool:
    """Hand one sent email message to the email backend (marketing.sending.deliver_email, under its row lock)."""
    return sending.deliver_email(message_id=message_id)


@shared_task(queue=MAINTENANCE, **RETRYING)
def release_queued_messages() -> int:
    """Beat: send (or skip) the messages the quiet hours held, now that they are over."""
    return sending.release_queued_messages()


@shared_task(queue=INTERACTIVE, **RETRYING)
def advance_enrolment(enrolment_id: int) -> str:
    """Run an enrolment's due steps (marketing.journeys.advance_enrolment): each step once, however often this runs."""
    return journeys.advance_enrolment(enrolment_id=enrolment_id)


@shared_task(queue=MAINTENANCE, **RETRYING)
def run_due_enrolments() -> int:
    """Beat: queue the enrolments whose wait is over (each once)."""
    return journeys.run_due_enrolments()
