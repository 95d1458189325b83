"""In-app notifications (and their emails): the one way Relay tells a person something."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import Count, F, Max, QuerySet, Window
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config import events, outbox
from config.models import Notification

# The label people read for each notification kind. config imports no app: each app registers its kinds from its
# subscriptions module (register_kind); a kind nobody registered shows as its code.
_KIND_LABELS: dict[str, object] = {"webhooks.endpoint_gone": _("Webhook endpoint gone")}
LATEST_PER_KIND = 3  # the newest unread notifications the bell and the inbox show of each kind


def register_kind(kind: str, label) -> None:
    """Name a notification kind (a lazy translation) for the bell, the inbox and the emails."""
    _KIND_LABELS[kind] = label


def kind_label(kind: str) -> str:
    return str(_KIND_LABELS.get(kind, kind))


def kind_choices() -> list[tuple[str, str]]:
    """Every registered kind with its label, by label (what a chat bot may forward: config.bots)."""
    return sorted(((kind, str(label)) for kind, label in _KIND_LABELS.items()), key=lambda choice: choice[1])


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
            dedupe_key=dedupe_key,  # chat bots (config.bots) send each alert once, as webhooks do per event_id
        )
    if email and created:
        outbox.enqueue(
            "config.tasks.email_pending_notifications",
            coalesce_key="notifications:email",
            delay=timedelta(seconds=settings.RELAY_NOTIFICATION_EMAIL_DELAY_SECONDS),
        )
    return len(created)


def email_pending(*, limit: int = 5000) -> int:
    """Email each recipient ONE message listing their notifications not yet emailed, grouped by kind; returns
    emails sent. Alerts raised together (a beat run, a bulk handoff) thus reach a person as one digest.

    The rows are claimed (`emailed_at`) before sending, so a second run sends nothing twice.
    """
    with transaction.atomic():
        pending = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(wants_email=True, emailed_at__isnull=True)
            .order_by("recipient_id", "pk")
            .values_list("pk", "recipient_id", "kind", "message", "url")[:limit]
        )
        if not pending:
            return 0
        Notification.objects.filter(pk__in=[row[0] for row in pending]).update(emailed_at=timezone.now())
    by_recipient: dict[int, list[tuple[int, str, str, str]]] = {}
    for pk, recipient_id, kind, message, url in pending:
        by_recipient.setdefault(recipient_id, []).append((pk, kind, message, url))
    User = get_user_model()
    addresses = dict(
        User.objects.filter(pk__in=by_recipient, is_active=True).exclude(email="").values_list("pk", "email")
    )
    emails = []
    for recipient_id, items in by_recipient.items():
        if recipient_id not in addresses:
            continue
        subject = (
            items[0][2][:100]
            if len(items) == 1
            else ngettext("%(count)d new Relay notification", "%(count)d new Relay notifications", len(items))
            % {"count": len(items)}
        )
        emails.append((subject, _digest_body(items), None, [addresses[recipient_id]]))
    return send_mass_mail(emails, fail_silently=True)


def _digest_body(items: list[tuple[int, str, str, str]]) -> str:
    """The notifications of one email grouped by kind (kinds in the order they first came), each with its link."""
    by_kind: dict[str, list[tuple[int, str, str]]] = {}
    for pk, kind, message, url in items:
        by_kind.setdefault(kind, []).append((pk, message, url))
    sections = []
    for kind, entries in by_kind.items():
        lines = [f"{kind_label(kind)} ({len(entries)})"]
        for pk, message, url in entries:
            lines.append(f"- {message}")
            if url:  # through the inbox, so following the link marks the notification read
                lines.append(f"  {settings.RELAY_SURVEY_BASE_URL}{reverse('notification-open', args=[pk])}")
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


def unread_count(user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def inbox(user, *, kind: str = "") -> QuerySet[Notification]:
    """The user's notifications (of one kind, if given), newest first."""
    qs = Notification.objects.filter(recipient=user)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-created_at", "-pk")


@dataclass
class KindGroup:
    """A user's unread notifications of one kind: how many, and the newest few."""

    kind: str
    label: str
    count: int
    latest_at: datetime
    latest: list = field(default_factory=list)


def unread_by_kind(user, *, per_kind: int = LATEST_PER_KIND) -> list[KindGroup]:
    """The user's unread notifications grouped by kind, the kind with the newest one first, each with its count
    and its `per_kind` newest notifications. One query, however many notifications are unread."""
    newest_first = [F("created_at").desc(), F("pk").desc()]
    rows = (
        Notification.objects.filter(recipient=user, read_at__isnull=True)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("kind")], order_by=newest_first),
            kind_count=Window(Count("pk"), partition_by=[F("kind")]),
            kind_latest_at=Window(Max("created_at"), partition_by=[F("kind")]),
        )
        .filter(rank__lte=per_kind)
        .order_by("-kind_latest_at", "kind", "rank")
    )
    groups: dict[str, KindGroup] = {}
    for row in rows:
        group = groups.get(row.kind)
        if group is None:
            group = groups[row.kind] = KindGroup(
                kind=row.kind, label=kind_label(row.kind), count=row.kind_count, latest_at=row.kind_latest_at
            )
        group.latest.append(row)
    return list(groups.values())


def mark_read(*, user, notification_id: int | None = None, kind: str = "") -> int:
    """Mark the user's unread notifications read: one (`notification_id`), all of a `kind`, or all."""
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_id is not None:
        qs = qs.filter(pk=notification_id)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.update(read_at=timezone.now())


def open_notification(*, user, notification_id: int) -> Notification:
    """The user's own notification, marked read (once: reading it again keeps the first time).

    Raises Notification.DoesNotExist for anyone else's notification.
    """
    notification = Notification.objects.get(pk=notification_id, recipient=user)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
    return notification
