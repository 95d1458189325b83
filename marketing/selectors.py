"""Marketing reads shaped for one screen, metric or API list."""

from datetime import datetime

from django.db.models import Count, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from config.timeline import TimelineEvent
from customers.models import Channel
from marketing import event_types, sending
from marketing.models import (
    ActivationWindow,
    ContentItem,
    ContentVariant,
    CustomerEvent,
    Message,
    MessageChannel,
    MessageStatus,
    Touchpoint,
    TouchpointKind,
)

# ---------------------------------------------------------------- customer events


def customer_events():
    """Every customer event, newest first, with its customer (the events page)."""
    return CustomerEvent.objects.select_related("customer").order_by("-at", "-pk")


def event_list_url(customer_id: int) -> str:
    return f"{reverse('marketing:event-list')}?{urlencode({'customer': customer_id})}"


def timeline_events(customer_id: int, limit: int = 200) -> list[TimelineEvent]:
    """Marketing's entries on the customer timeline, newest first: the customer's events and each missed
    activation. Two queries whatever the history length."""
    url = event_list_url(customer_id)
    rows = (
        CustomerEvent.objects.filter(customer_id=customer_id)
        .order_by("-at", "-pk")
        .values_list("type", "at", "source")[:limit]
    )
    entries = [
        TimelineEvent(
            at=at,
            department="marketing",
            kind=f"event.{kind}",
            text=_("%(event)s (from %(source)s)") % {"event": event_types.label(kind), "source": source},
            url=url,
        )
        for kind, at, source in rows
    ]
    missed = (
        ActivationWindow.objects.filter(customer_id=customer_id, missed_at__isnull=False)
        .order_by("-missed_at", "-pk")
        .values_list("missed_at", flat=True)[:limit]
    )
    entries += [
        TimelineEvent(
            at=at,
            department="marketing",
            kind="activation.missed",
            text=_("Did not activate within the activation window"),
            url=url,
        )
        for at in missed
    ]
    return entries


# ---------------------------------------------------------------- activation


def activation_counts(start: datetime, end: datetime, *, channel: str | None = None) -> dict[str, int]:
    """Customers who signed up in [start, end) and how many of them activated within a sign-up's window
    (`activated_at` is only stamped for an `activated` event inside it). One SQL aggregate; `channel` keeps the
    customers of that source channel."""
    windows = ActivationWindow.objects.filter(signed_up_at__gte=start, signed_up_at__lt=end)
    if channel:
        windows = windows.filter(customer__source_channel__code=channel)
    return windows.aggregate(
        signed_up=Count("customer_id", distinct=True),
        activated=Count("customer_id", distinct=True, filter=Q(activated_at__isnull=False)),
    )


# ---------------------------------------------------------------- content


def content_items() -> QuerySet[ContentItem]:
    """Content items as lists show them, newest first, each with how many variants it has (`variant_count`)."""
    return ContentItem.objects.annotate(variant_count=Count("variants")).order_by("-created_at", "-pk")


def content_with_variants() -> QuerySet[ContentItem]:
    """Content items with their variants (key order) in one more query: the API's list and reads."""
    return ContentItem.objects.prefetch_related(
        Prefetch("variants", queryset=ContentVariant.objects.order_by("key", "pk"))
    ).order_by("-created_at", "-pk")


def content_detail(*, pk: int) -> ContentItem:
    """The content page: the item with its variants in key order, each with its message counts and rates over all
    time (`counts`, see `rates`), and the item's (`totals`). Three queries."""
    item = content_with_variants().select_related("created_by").get(pk=pk)
    per_variant = {
        row["variant_id"]: row
        for row in _sent(Message.objects.filter(item_id=pk)).values("variant_id").annotate(**_COUNTS).order_by()
    }
    totals = dict.fromkeys(_COUNTS, 0)
    for variant in item.variants.all():
        counts = {name: per_variant.get(variant.pk, {}).get(name, 0) for name in _COUNTS}
        variant.counts = rates(counts)
        totals = {name: totals[name] + counts[name] for name in _COUNTS}
    item.totals = rates(totals)
    return item


# ---------------------------------------------------------------- messages


MESSAGE_CHANNELS = tuple(MessageChannel.values)  # what the content metrics' `channel` filter takes


def message_channel_choices() -> list[tuple[str, str]]:
    return list(MessageChannel.choices)


def messages() -> QuerySet[Message]:
    """Messages as the messages page shows them (customer, content, variant and journey joined), newest first."""
    return Message.objects.select_related("customer", "item", "variant", "journey").order_by("-created_at", "-pk")


_COUNTS = {
    "sent": Count("pk"),
    "opened": Count("pk", filter=Q(opened_at__isnull=False)),
    "clicked": Count("pk", filter=Q(clicked_at__isnull=False)),
    "converted": Count("pk", filter=Q(converted_at__isnull=False)),
}


def _sent(queryset):
    return queryset.filter(status=MessageStatus.SENT)


def message_counts(
    start: datetime, end: datetime, *, content: int | None = None, journey: int | None = None, channel: str = ""
) -> dict[str, int]:
    """Messages sent in [start, end) (optionally of one content item, journey or channel): `sent`, and how many of
    them were `opened`, `clicked` and `converted`. One SQL aggregate; the content metrics (okr.metrics) read it."""
    sent = _sent(Message.objects.filter(sent_at__gte=start, sent_at__lt=end))
    if content is not None:
        sent = sent.filter(item_id=content)
    if journey is not None:
        sent = sent.filter(journey_id=journey)
    if channel:
        sent = sent.filter(channel=channel)
    return sent.aggregate(**_COUNTS)


def rates(counts: dict[str, int]) -> dict:
    """`counts` (message_counts) plus `open_rate`, `click_rate` and `conversion_rate`: opened, clicked and converted
    ÷ sent, 0–1, None without sends. The one definition the content metrics and the content page use."""
    sent = counts["sent"]
    return {
        **counts,
        "open_rate": counts["opened"] / sent if sent else None,
        "click_rate": counts["clicked"] / sent if sent else None,
        "conversion_rate": counts["converted"] / sent if sent else None,
    }


def message_list_url(customer_id: int) -> str:
    return f"{reverse('marketing:message-list')}?{urlencode({'customer': customer_id})}"


def message_timeline_events(customer_id: int, limit: int = 200) -> list[TimelineEvent]:
    """The customer's messages on their timeline, newest first: each sent, queued or skipped, and each first open,
    click and conversion. One query whatever the history length."""
    url = message_list_url(customer_id)
    rows = (
        Message.objects.filter(customer_id=customer_id)
        .order_by("-created_at", "-pk")
        .values_list(
            "channel",
            "status",
            "skip_reason",
            "created_at",
            "scheduled_for",
            "sent_at",
            "opened_at",
            "clicked_at",
            "converted_at",
            "variant__title",
        )[:limit]
    )
    channels = dict(MessageChannel.choices)
    entries = []
    for channel, status, reason, created_at, scheduled_for, sent_at, opened_at, clicked_at, converted_at, title in rows:
        names = {"channel": channels.get(channel, channel), "title": title}
        if status == MessageStatus.SENT:
            entries.append((sent_at, "message.sent", _("%(channel)s sent: %(title)s") % names))
        elif status == MessageStatus.QUEUED:
            text = _("%(channel)s waiting for the quiet hours to end (%(until)s): %(title)s") % {
                **names,
                "until": date_format(timezone.localtime(scheduled_for), "DATETIME_FORMAT"),
            }
            entries.append((created_at, "message.queued", text))
        elif status == MessageStatus.SKIPPED:
            reason = sending.SKIP_REASONS.get(reason, reason)
            text = _("%(channel)s not sent (%(reason)s): %(title)s") % {**names, "reason": reason}
            entries.append((created_at, "message.skipped", text))
        else:
            entries.append((created_at, "message.failed", _("%(channel)s failed: %(title)s") % names))
        for at, kind, text in (
            (opened_at, "message.opened", _("Opened: %(title)s")),
            (clicked_at, "message.clicked", _("Clicked a link in: %(title)s")),
            (converted_at, "message.converted", _("Converted after: %(title)s")),
        ):
            if at is not None:
                entries.append((at, kind, text % names))
    return [
        TimelineEvent(at=at, department="marketing", kind=kind, text=text, url=url)
        for at, kind, text in entries
        if at is not None
    ]


# ---------------------------------------------------------------- touchpoints


def touchpoints() -> QuerySet[Touchpoint]:
    """Touchpoints as the touchpoints page shows them (customer, channel and campaign joined), newest first."""
    return Touchpoint.objects.select_related("customer", "channel", "campaign").order_by("-at", "-pk")


def channel_choices() -> list[tuple[str, str]]:
    """Every channel as (code, name), by name: the touchpoints page's channel filter."""
    return list(Channel.objects.order_by("name", "code").values_list("code", "name"))


def touchpoint_list_url(customer_id: int) -> str:
    return f"{reverse('marketing:touchpoint-list')}?{urlencode({'customer': customer_id})}"


def touchpoint_timeline_events(customer_id: int, limit: int = 200) -> list[TimelineEvent]:
    """The customer's touchpoints on their timeline, newest first: each a kind on a channel (and campaign). One
    query whatever the history length."""
    url = touchpoint_list_url(customer_id)
    rows = (
        Touchpoint.objects.filter(customer_id=customer_id)
        .order_by("-at", "-pk")
        .values_list("kind", "at", "channel__name", "campaign__name")[:limit]
    )
    kinds = dict(TouchpointKind.choices)
    entries = []
    for kind, at, channel, campaign in rows:
        names = {"kind": kinds.get(kind, kind), "channel": channel, "campaign": campaign}
        if campaign:
            text = _("%(kind)s on %(channel)s (campaign %(campaign)s)") % names
        else:
            text = _("%(kind)s on %(channel)s") % names
        entries.append(TimelineEvent(at=at, department="marketing", kind=f"touchpoint.{kind}", text=text, url=url))
    return entries
