from celery import shared_task
from celery.signals import worker_ready
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import OperationalError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from config import bots, jobs, notifications, outbox, todo, tokens, webhooks
from config.models import Heartbeat, Notification
from config.queues import INTERACTIVE, MAINTENANCE


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_outbox_message(message_id: int) -> bool:
    """Every background message a write stored; claimed under lock, so a second delivery does nothing."""
    return outbox.run(message_id)


@shared_task(queue=INTERACTIVE)
def sweep_outbox() -> dict[str, int]:
    """Beat, and each worker as it starts: hand over what the broker missed, rerun what a dead worker held."""
    return outbox.sweep()


@worker_ready.connect
def _catch_up_on_start(**_kwargs) -> None:
    sweep_outbox.apply_async(retry=False)
    heartbeat.apply_async(retry=False)  # /healthz is green as soon as a worker runs, not a minute later


@shared_task(queue=INTERACTIVE, autoretry_for=(OperationalError,), retry_backoff=True)
def heartbeat(name: str = "worker") -> None:
    """Proves the beat → broker → worker → database path; visible in the admin and /healthz."""
    now = timezone.now()
    updated = Heartbeat.objects.filter(name=name).update(beats=F("beats") + 1, last_beat_at=now)
    if not updated:
        Heartbeat.objects.get_or_create(name=name, defaults={"beats": 1, "last_beat_at": now})


@shared_task(queue=INTERACTIVE)
def email_pending_notifications() -> int:
    """One email per recipient for every notification waiting to be emailed (queued once per burst)."""
    return notifications.email_pending()


@shared_task(queue=MAINTENANCE, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def send_notification_digests() -> int:
    """Morning email to each person with unread notifications."""
    User = get_user_model()
    users = User.objects.filter(is_active=True, notifications__read_at__isnull=True).exclude(email="").distinct()
    sent = 0
    for user in users.iterator():
        count = Notification.objects.filter(recipient=user, read_at__isnull=True).count()
        subject = ngettext(
            "You have %(count)d unread Relay notification",
            "You have %(count)d unread Relay notifications",
            count,
        ) % {"count": count}
        send_mail(subject, _("Open Relay to read them."), None, [user.email], fail_silently=True)
        sent += 1
    return sent


@shared_task(queue=MAINTENANCE)
def sweep_stalled_jobs() -> int:
    return jobs.sweep_stalled()


@shared_task(queue=MAINTENANCE)
def sweep_expired_tokens() -> int:
    return tokens.sweep_expired_tokens()


@shared_task(queue=INTERACTIVE)
def deliver_webhook(delivery_id: int) -> str | None:
    return webhooks.deliver(delivery_id)


@shared_task(queue=MAINTENANCE)
def retry_due_webhooks() -> int:
    ids = webhooks.due_delivery_ids()
    with transaction.atomic():
        outbox.enqueue_many(deliver_webhook, [[pk] for pk in ids])
    return len(ids)


@shared_task(queue=INTERACTIVE)
def deliver_bot_message(delivery_id: int) -> str | None:
    return bots.deliver(delivery_id)


@shared_task(queue=MAINTENANCE)
def retry_due_bot_messages() -> int:
    ids = bots.due_delivery_ids()
    with transaction.atomic():
        outbox.enqueue_many(deliver_bot_message, [[pk] for pk in ids])
    return len(ids)


@shared_task(queue=MAINTENANCE, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def remind_due_tasks() -> int:
    """Beat: each task due within RELAY_TASK_REMIND_MINUTES reminds its assignee (or queue) once."""
    return todo.remind_due_tasks()


@shared_task(queue=MAINTENANCE, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def alert_overdue_tasks() -> int:
    """Beat: each task past its due time alerts once."""
    return todo.alert_overdue_tasks()
