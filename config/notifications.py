"""In-app notifications (and their emails): the one way Relay tells a person something."""

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import ngettext

from config import events, outbox
from config.models import Notification


def notify(
    *,
    recipients: Iterable,
    kind: str,
    message: str,
    url: str = "",
    dedupe_key: str = "",
    email: bool = True,
    alert: bool = True,
) -> int:
    """Notify each recipient once per `dedupe_key`; returns how many new notifications were made.

    With a `dedupe_key` (an alert a periodic check may raise again) integrations hear it as `alert.raised`
    (with the `kind`) unless `alert` is False. One-off notifications of a single event need no key.

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
        Notification(
            recipient_id=pk,
            kind=kind,
            message=str(message)[:500],
            url=url,
            dedupe_key=dedupe_key,
            wants_email=email,
        )
        for pk in users
    ]
    # A concurrent run may insert the same (recipient, dedupe_key) between the read above and here: the unique
    # constraint keeps one row, and this call may count it too; the alert and the email are deduplicated anyway.
    created = Notification.objects.bulk_create(rows, ignore_conflicts=bool(dedupe_key))
    if alert and dedupe_key and created:
        events.publish(
            "alert.raised",
            event_id=dedupe_key,
            kind=kind,
            message=str(message),
            url=url,
            recipients=sorted(u.get_username() for u in users.values()),
        )
    if email and created:
        outbox.enqueue(
            "config.tasks.email_pending_notifications",
            coalesce_key="notifications:email",
            delay=timedelta(seconds=settings.RELAY_NOTIFICATION_EMAIL_DELAY_SECONDS),
        )
    return len(created)


def email_pending(*, limit: int = 5000) -> int:
    """Email each recipient one message listing their notifications not yet emailed; returns emails sent.

    The rows are claimed (`emailed_at`) before sending, so a second run sends nothing twice.
    """
    with transaction.atomic():
        pending = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(wants_email=True, emailed_at__isnull=True)
            .order_by("recipient_id", "pk")
            .values_list("pk", "recipient_id", "message", "url")[:limit]
        )
        if not pending:
            return 0
        Notification.objects.filter(pk__in=[row[0] for row in pending]).update(emailed_at=timezone.now())
    by_recipient: dict[int, list[tuple[str, str]]] = {}
    for _pk, recipient_id, message, url in pending:
        by_recipient.setdefault(recipient_id, []).append((message, url))
    User = get_user_model()
    addresses = dict(
        User.objects.filter(pk__in=by_recipient, is_active=True).exclude(email="").values_list("pk", "email")
    )
    emails = []
    for recipient_id, items in by_recipient.items():
        if recipient_id not in addresses:
            continue
        subject = (
            items[0][0][:100]
            if len(items) == 1
            else ngettext("%(count)d new Relay notification", "%(count)d new Relay notifications", len(items))
            % {"count": len(items)}
        )
        body = "\n\n".join(
            f"{message}\n{settings.RELAY_SURVEY_BASE_URL}{url}" if url else message for message, url in items
        )
        emails.append((subject, body, None, [addresses[recipient_id]]))
    return send_mass_mail(emails, fail_silently=True)


def unread_count(user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def inbox(user) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).order_by("-created_at", "-pk")


def mark_read(*, user, notification_id: int | None = None) -> int:
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_id is not None:
        qs = qs.filter(pk=notification_id)
    return qs.update(read_at=timezone.now())
