"""In-app notifications (and their emails): the one way Relay tells a person something."""

from collections.abc import Iterable
from functools import partial

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from config.models import Notification


def notify(
    *, recipients: Iterable, kind: str, message: str, url: str = "", dedupe_key: str = "", email: bool = True
) -> int:
    """Notify each recipient once per `dedupe_key`; returns how many new notifications were made.

    The partial unique constraint on (recipient, dedupe_key) keeps repeated or concurrent runs
    of an alert check from notifying twice.
    """
    users = {u.pk: u for u in recipients if u is not None}
    if not users:
        return 0
    if dedupe_key:
        already = set(
            Notification.objects.filter(recipient_id__in=users, dedupe_key=dedupe_key).values_list(
                "recipient_id", flat=True
            )
        )
        users = {pk: u for pk, u in users.items() if pk not in already}
    rows = [
        Notification(recipient_id=pk, kind=kind, message=str(message)[:500], url=url, dedupe_key=dedupe_key)
        for pk in users
    ]
    created = Notification.objects.bulk_create(rows, ignore_conflicts=bool(dedupe_key))
    if dedupe_key:
        # ignore_conflicts leaves pks unset; fetch the rows this call actually owns.
        created = list(
            Notification.objects.filter(recipient_id__in=users, dedupe_key=dedupe_key, emailed_at__isnull=True)
        )
    if dedupe_key and created:
        from config import webhooks

        webhooks.publish(
            event_type=f"alert.{kind}",
            data={"message": str(message), "url": url, "recipients": sorted(u.get_username() for u in users.values())},
            event_id=dedupe_key,
        )
    if email and created:
        from config import tasks

        ids = [n.pk for n in created]
        transaction.on_commit(partial(tasks.email_notifications.delay, ids))
    return len(created)


def unread_count(user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def inbox(user) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).order_by("-created_at", "-pk")


def mark_read(*, user, notification_id: int | None = None) -> int:
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_id is not None:
        qs = qs.filter(pk=notification_id)
    return qs.update(read_at=timezone.now())
