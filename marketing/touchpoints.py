"""Touchpoints entering Relay (DESIGN.md "Channels: touchpoints, overlap, attribution"): every contact of a customer
with a channel or campaign — an ad impression, a click, a visit, a store scan, a message.

They come in three ways, with the same rules:

* integrations post them (`record_touchpoint`, `record_touchpoints`: `POST touchpoints/` and `touchpoints/bulk/`);
  the customer is given by id or by contact identities, matched through customers.services.resolve_customer (a
  new person becomes a new customer, first known through the touchpoint's channel);
* a CSV file of kind "touchpoints" through the import pipeline (customers.imports; `import_reference`,
  `parse_import_row` and `import_touchpoints` are its hooks, registered in marketing/subscriptions.py);
* Relay writes its own (`record_own_touchpoint`): a `visit` on a new lead's source channel ("lead:<id>") and a
  `message` on the channel of a message sent ("message:<id>").

A touch is identified by its channel and a non-blank external id: sent again, it is the same touchpoint, never a
second row (the model's unique constraint holds it under concurrency too).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import DomainError
from customers import imports
from customers import services as customer_services
from customers.models import Campaign, Channel, Customer
from marketing import permissions
from marketing.models import Touchpoint, TouchpointKind

CREATE = "touchpoint.create"
EXTERNAL_ID_MAX = 200  # Touchpoint.external_id
IMPORT_COLUMNS = ("customer_id", "channel", "campaign", "kind", "at", "external_id")
IMPORT_REQUIRED = ("channel", "kind", "at")
IN_CHUNKS = 900  # ids per IN (…): SQLite's limit on query parameters


@dataclass(frozen=True)
class RecordedTouchpoint:
    touchpoint: Touchpoint
    created: bool  # False: a resend (same channel and external id) answered with the touchpoint recorded before
    customer_matched: bool  # the customer existed (by id, or a contact matched by identity)


def _pk(value):
    return getattr(value, "pk", value)


def _unknown_kind() -> str:
    return _("Unknown kind: use impression, click, visit, scan or message.")


def _latest(now: datetime) -> datetime:
    """The latest time a touch may carry: a sender's clock may run a little fast."""
    return now + timedelta(seconds=settings.RELAY_EVENT_CLOCK_SKEW_SECONDS)


class _References:
    """What the items name, read once for all of them: their channels by code, campaigns and customers by id, and
    the touchpoints already recorded under their (channel, external id). Four queries at most, whatever the
    number of items."""

    def __init__(self, items: list[dict]):
        codes = {item.get("channel") for item in items if isinstance(item.get("channel"), str)}
        self.channels = {c.code: c for c in Channel.objects.filter(code__in=sorted(codes))} if codes else {}
        campaign_ids = {_pk(item.get("campaign")) for item in items} - {None}
        self.campaigns = (
            dict(Campaign.objects.filter(pk__in=sorted(campaign_ids)).values_list("pk", "channel_id"))
            if campaign_ids
            else {}
        )
        customer_ids = {_pk(item.get("customer")) for item in items} - {None}
        self.customers = {
            pk: merged_into or pk
            for pk, merged_into in Customer.objects.filter(pk__in=sorted(customer_ids)).values_list(
                "pk", "merged_into_id"
            )
        }
        keys = {
            (self.channels[item["channel"]].pk, (item.get("external_id") or "").strip())
            for item in items
            if item.get("channel") in self.channels and (item.get("external_id") or "").strip()
        }
        self.existing: dict[tuple[int, str], Touchpoint] = {}
        if keys:
            # `external_id <> ''` spelled out: PostgreSQL then reads the partial unique index however long the
            # list (it proves the index's condition from an IN list of at most 100 values only).
            found = (
                Touchpoint.objects.select_related("channel")
                .filter(channel_id__in=sorted({c for c, _e in keys}), external_id__in=sorted({e for _c, e in keys}))
                .exclude(external_id="")
            )
            self.existing = {(t.channel_id, t.external_id): t for t in found if (t.channel_id, t.external_id) in keys}


def _record_one(
    *,
    refs: _References,
    by,
    now: datetime,
    channel: str,
    kind: str,
    at: datetime | None,
    customer=None,
    contact: dict | None = None,
    campaign=None,
    external_id: str = "",
) -> RecordedTouchpoint:
    found = refs.channels.get(channel) if isinstance(channel, str) else None
    if found is None:
        raise DomainError(
            _("No channel has the code %(code)s.") % {"code": channel}, field="channel", code="does_not_exist"
        )
    channel = customer_services.require_active_channel(found, field="channel")
    if kind not in TouchpointKind.values:
        raise DomainError(_unknown_kind(), field="kind")
    campaign_id = _pk(campaign)
    if campaign_id is not None:
        if campaign_id not in refs.campaigns:
            raise DomainError(
                _("No campaign has the id %(id)s.") % {"id": campaign_id}, field="campaign", code="does_not_exist"
            )
        if refs.campaigns[campaign_id] != channel.pk:
            raise DomainError(
                _("This campaign runs on another channel than %(code)s.") % {"code": channel.code},
                field="campaign",
                code="other_channel",
            )
    if at is None:
        raise DomainError(_("Give the time of the touch."), field="at", code="required")
    if at > _latest(now):
        raise DomainError(_("The touch's time is in the future."), field="at")
    external_id = (external_id or "").strip()
    if len(external_id) > EXTERNAL_ID_MAX:
        raise DomainError(
            _("At most %(limit)s characters.") % {"limit": EXTERNAL_ID_MAX}, field="external_id", code="max_length"
        )
    if (contact is None) == (customer is None):
        raise DomainError(_("Give either a contact or an existing customer."), field="contact", code="required")
    customer_id = None
    if customer is not None:
        customer_id = refs.customers.get(_pk(customer))
        if customer_id is None:
            raise DomainError(
                _("No customer has the id %(id)s.") % {"id": _pk(customer)}, field="customer", code="does_not_exist"
            )
    key = (channel.pk, external_id)
    if external_id and key in refs.existing:
        return RecordedTouchpoint(refs.existing[key], created=False, customer_matched=True)
    try:
        # A concurrent delivery of the same touch may insert it first: the unique constraint stops this one, the
        # savepoint drops the customer it may have created, and the first one's touchpoint is the answer.
        with transaction.atomic():
            matched = True
            if contact is not None:
                person, matched = customer_services.resolve_customer(
                    contact=contact, by=by, source_channel=channel, field_prefix="contact."
                )
                customer_id = person.pk
            touchpoint = Touchpoint.objects.create(
                customer_id=customer_id,
                channel=channel,
                campaign_id=campaign_id,
                kind=kind,
                at=at,
                external_id=external_id,
                created_at=now,
                created_by=by if getattr(by, "pk", None) else None,
            )
    except IntegrityError:
        existing = Touchpoint.objects.select_related("channel").filter(channel=channel, external_id=external_id).first()
        if not external_id or existing is None:
            raise
        refs.existing[key] = existing
        return RecordedTouchpoint(existing, created=False, customer_matched=True)
    if external_id:
        refs.existing[key] = touchpoint  # the same touch again later in the request is a resend
    return RecordedTouchpoint(touchpoint, created=True, customer_matched=matched)


def record_touchpoints(*, by, items: list[dict], now=None) -> list[RecordedTouchpoint | DomainError]:
    """Record each item (the keyword arguments of `record_touchpoint`), in order, each in its own savepoint, so a
    refused item is never half-written and never undoes the others. The channels, campaigns, customers and earlier
    touchpoints the items name are read once for all of them. `by` None is Relay itself.

    Returns, per item, the RecordedTouchpoint or the DomainError that refused it. Raises PermissionDenied before
    writing anything when `by` may not record touchpoints.
    """
    if by is not None:
        permissions.require(by, CREATE)
    now = now or timezone.now()
    results: list[RecordedTouchpoint | DomainError] = []
    with transaction.atomic():
        refs = _References(items)
        for item in items:
            try:
                results.append(_record_one(refs=refs, by=by, now=now, **item))
            except DomainError as error:
                results.append(error)
    return results


def record_touchpoint(
    *,
    by,
    channel: str,
    kind: str,
    at,
    customer: Customer | int | None = None,
    contact: dict | None = None,
    campaign: Campaign | int | None = None,
    external_id: str = "",
    now=None,
) -> RecordedTouchpoint:
    """Record one touch of a customer (`customer`, an existing one or its id, or `contact` identities) with the
    channel of code `channel`, perhaps in one of its campaigns. A merged customer's touch is its survivor's.

    A resend (same channel and non-blank `external_id`) returns the touchpoint recorded before, writing nothing.

    Raises PermissionDenied, DomainError (field channel: unknown or inactive; kind; campaign: unknown or of
    another channel; at: missing or in the future beyond RELAY_EVENT_CLOCK_SKEW_SECONDS; external_id; customer:
    unknown; contact: neither or both of customer and contact) and whatever customers.services.resolve_customer
    raises for a bad contact (field "contact.<key>").
    """
    item = {
        "channel": channel,
        "kind": kind,
        "at": at,
        "customer": customer,
        "contact": contact,
        "campaign": campaign,
        "external_id": external_id,
    }
    outcome = record_touchpoints(by=by, items=[item], now=now)[0]
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def record_own_touchpoint(
    *, customer_id: int, channel_code: str, kind: str, at: datetime, external_id: str, campaign_id: int | None = None
) -> Touchpoint | None:
    """Relay's own touch (a lead's source channel, a message sent), in the caller's transaction: on the active
    channel of `channel_code`, None when there is none. A campaign of another channel is left out. Once per
    (channel, external id): a second call returns the first touchpoint. One query, then the insert."""
    campaign_ok = Exists(Campaign.objects.filter(pk=campaign_id or 0, channel_id=OuterRef("pk")))
    channel = (
        Channel.objects.filter(code=channel_code, is_active=True)
        .annotate(campaign_ok=campaign_ok)
        .values_list("pk", "campaign_ok")
        .first()
    )
    if channel is None:
        return None
    channel_id, campaign_ok = channel
    try:
        with transaction.atomic():
            return Touchpoint.objects.create(
                customer_id=customer_id,
                channel_id=channel_id,
                campaign_id=campaign_id if campaign_ok else None,
                kind=kind,
                at=at,
                external_id=external_id,
            )
    except IntegrityError:
        existing = Touchpoint.objects.filter(channel_id=channel_id, external_id=external_id).first()
        if existing is None:
            raise
        return existing


def lead_created(
    *, lead: int, customer: int, source_channel: str | None = None, campaign: int | None = None, at=None, **_event
) -> None:
    """`lead.created`: a lead with a source channel is a `visit` of its customer on that channel (in the lead's
    campaign when it runs there), at the lead's creation, once per lead ("lead:<id>")."""
    if not source_channel:
        return
    record_own_touchpoint(
        customer_id=customer,
        channel_code=source_channel,
        kind=TouchpointKind.VISIT,
        at=at if isinstance(at, datetime) else timezone.now(),
        external_id=f"lead:{lead}",
        campaign_id=campaign,
    )


def message_sent(message) -> Touchpoint | None:
    """A message just marked sent is a `message` touch on the channel whose code is the message's channel (email,
    sms, wechat, wecom), when Relay has such a channel; once per message ("message:<id>")."""
    return record_own_touchpoint(
        customer_id=message.customer_id,
        channel_code=message.channel,
        kind=TouchpointKind.MESSAGE,
        at=message.sent_at,
        external_id=f"message:{message.pk}",
    )


# ---------------------------------------------------------------- the CSV import (customers.imports)


@dataclass(frozen=True)
class ImportReference:
    channels: dict[str, int]  # active channels: code → id
    inactive: frozenset[str]  # codes of switched-off channels
    campaigns: dict[int, int]  # campaign id → its channel's id
    latest: datetime  # a row's time may not be later


def import_reference() -> ImportReference:
    """What a touchpoints file's rows are checked against, read once per job (three queries)."""
    channels = dict(Channel.objects.values_list("code", "is_active"))
    return ImportReference(
        channels=dict(Channel.objects.filter(is_active=True).values_list("code", "pk")),
        inactive=frozenset(code for code, active in channels.items() if not active),
        campaigns=dict(Campaign.objects.values_list("pk", "channel_id")),
        latest=_latest(timezone.now()),
    )


def parse_import_row(cell, errors: list, reference: ImportReference) -> dict:
    """A touchpoints file's row (columns channel, campaign, kind, at, external_id; the customer is the row's contact
    or `customer_id`) by the rules of `record_touchpoint`; each bad cell appends (column, reason) to `errors`."""
    data: dict = {}
    code = cell("channel")
    if not code:
        errors.append(("channel", _("This field is required.")))
    elif code in reference.inactive:
        errors.append(("channel", _("The channel %(code)s is no longer active.") % {"code": code}))
    elif code not in reference.channels:
        errors.append(("channel", _("Unknown channel %(code)s.") % {"code": code}))
    data["channel_id"] = reference.channels.get(code)
    kind = cell("kind").lower()
    if not kind:
        errors.append(("kind", _("This field is required.")))
    elif kind not in TouchpointKind.values:
        errors.append(("kind", _unknown_kind()))
    data["kind"] = kind
    campaign = cell("campaign")
    data["campaign_id"] = None
    if campaign:
        campaign_id = int(campaign) if campaign.isascii() and campaign.isdigit() else None
        if campaign_id not in reference.campaigns:
            errors.append(("campaign", _("No campaign has the id %(id)s.") % {"id": campaign}))
        elif data["channel_id"] is not None and reference.campaigns[campaign_id] != data["channel_id"]:
            errors.append(("campaign", _("This campaign runs on another channel than %(code)s.") % {"code": code}))
        else:
            data["campaign_id"] = campaign_id
    text = cell("at")
    data["at"] = imports.parse_moment(text, errors, column="at") if text else None
    if not text:
        errors.append(("at", _("This field is required.")))
    elif data["at"] is not None and data["at"] > reference.latest:
        errors.append(("at", _("The touch's time is in the future.")))
    external_id = cell("external_id")
    if len(external_id) > EXTERNAL_ID_MAX:
        errors.append(("external_id", _("At most %(limit)s characters.") % {"limit": EXTERNAL_ID_MAX}))
    data["external_id"] = external_id
    return data


def _import_key(row) -> tuple:
    """What makes an imported row the touch an earlier one (in the database or the file) already is: its channel
    and external id, or without one, the same customer, channel, campaign, kind and time."""
    data = row.data
    if data["external_id"]:
        return ("ext", data["channel_id"], data["external_id"])
    customer_ref = row.customer_id if row.customer_id is not None else ("new", row.group)
    return ("same", customer_ref, data["channel_id"], data["campaign_id"], data["kind"], data["at"])


def import_touchpoints(rows, *, dry_run: bool, seen: dict, by) -> tuple[int, int]:
    """Write a batch of a touchpoints file (customers already resolved) in bulk: a touchpoint per row unless it is
    one already recorded or earlier in the file (`_import_key`); those count as updated. Runs inside the import
    batch's transaction; a dry run writes nothing. Returns (created, updated)."""
    existing: set = set()
    by_channel: dict[int, set[str]] = {}
    for row in rows:
        if row.data["external_id"]:
            by_channel.setdefault(row.data["channel_id"], set()).add(row.data["external_id"])
    for channel_id, external_ids in by_channel.items():
        ordered = sorted(external_ids)
        for start in range(0, len(ordered), IN_CHUNKS):
            found = Touchpoint.objects.filter(
                channel_id=channel_id, external_id__in=ordered[start : start + IN_CHUNKS]
            ).exclude(external_id="")  # the partial unique index's condition (see _References)
            existing |= {("ext", channel_id, e) for e in found.values_list("external_id", flat=True)}
    plain = sorted({r.customer_id for r in rows if r.customer_id is not None and not r.data["external_id"]})
    for start in range(0, len(plain), IN_CHUNKS):
        for values in Touchpoint.objects.filter(
            customer_id__in=plain[start : start + IN_CHUNKS], external_id=""
        ).values_list("customer_id", "channel_id", "campaign_id", "kind", "at"):
            existing.add(("same", *values))
    created = updated = 0
    touchpoints = []
    for row in rows:
        key = _import_key(row)
        if key in existing or key in seen:
            updated += 1
            continue
        seen[key] = True
        created += 1
        if not dry_run:
            touchpoints.append(
                Touchpoint(
                    customer_id=row.customer_id,
                    channel_id=row.data["channel_id"],
                    campaign_id=row.data["campaign_id"],
                    kind=row.data["kind"],
                    at=row.data["at"],
                    external_id=row.data["external_id"],
                    created_by=by,
                )
            )
    # A touch an integration posted since the check above is left alone: the constraint skips it.
    Touchpoint.objects.bulk_create(touchpoints, batch_size=500, ignore_conflicts=True)
    return created, updated


def may_import(user) -> bool:
    return permissions.can(user, CREATE)


IMPORT_RULES = imports.ImportKindRules(
    may_import=may_import,
    apply=import_touchpoints,
    columns=IMPORT_COLUMNS,
    required=IMPORT_REQUIRED,
    by_customer_id=True,
    load=import_reference,
    parse=parse_import_row,
)
