from celery import shared_task
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import OperationalError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from config import jobs
from config.models import Heartbeat, Notification


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True)
def heartbeat(name: str = "worker") -> None:
    """Proves the beat → broker → worker → database path; visible in the admin and /healthz."""
    now = timezone.now()
    updated = Heartbeat.objects.filter(name=name).update(beats=F("beats") + 1, last_beat_at=now)
    if not updated:
        Heartbeat.objects.get_or_create(name=name, defaults={"beats": 1, "last_beat_at": now})


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True)
def email_notifications(notification_ids: list[int]) -> None:
    """Email each notification once: `emailed_at` is claimed under lock before sending."""
    for pk in notification_ids:
        with transaction.atomic():
            notification = (
                Notification.objects.select_for_update()
                .select_related("recipient")
                .filter(pk=pk, emailed_at__isnull=True)
                .first()
            )
            if notification is None:
                continue
            notification.emailed_at = timezone.now()
            notification.save(update_fields=["emailed_at"])
        recipient = notification.recipient
        if recipient.email:
            send_mail(
                subject=notification.message[:100],
                message=notification.message,
                from_email=None,
                recipient_list=[recipient.email],
                fail_silently=True,
            )


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
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


@shared_task
def sweep_stalled_jobs() -> int:
    return jobs.sweep_stalled()


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True)
def deliver_webhook(delivery_id: int) -> str | None:
    from config import webhooks

    return webhooks.deliver(delivery_id)


@shared_task
def retry_due_webhooks() -> int:
    from config import webhooks

    ids = webhooks.due_delivery_ids()
    for pk in ids:
        deliver_webhook.delay(pk)
    return len(ids)
