"""Every write of marketing.

Customer events (`record_event`, `record_events`) are the one way an event enters Relay. After writing one it
publishes, through config.events (the journeys subscribe here, webhooks hear it too):

    "customer.event"     data {event: id, customer: id, type: "signed_up" | … | "custom:<name>", at: datetime}
                         once per new event (a resend of the same source and external id publishes nothing);
    "activation.missed"  data {customer: id, signed_up_at: datetime, window: ActivationWindow id}
                         once per sign-up whose RELAY_ACTIVATION_WINDOW_HOURS passed without an `activated` event
                         (`raise_missed_activations`, the beat task).
"""

import json
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from config import events, roles
from config.api.fields import LONG_TEXT
from config.errors import DomainError
from config.notifications import notify
from customers import services as customer_services
from customers.models import Customer, TeamRole
from customers.selectors import account_team
from marketing import event_types, permissions, tracking
from marketing.errors import ContentInUse, InvalidEvent
from marketing.models import (
    ActivationWindow,
    ContentItem,
    ContentStage,
    ContentVariant,
    CustomerEvent,
    EventType,
    Experiment,
    JourneyStep,
    Message,
    StepKind,
)

PROPERTIES_MAX_CHARS = 10_000  # an event's properties as JSON; a page view's URL and referrer fit many times


@dataclass(frozen=True)
class RecordedEvent:
    event: CustomerEvent
    created: bool  # False: a resend (same source and external id) answered with the event recorded before
    customer_matched: bool  # the customer existed (by id, or a contact matched by identity)


def _existing(source: str, external_id: str) -> CustomerEvent | None:
    if not external_id:
        return None
    return CustomerEvent.objects.filter(source=source, external_id=external_id).first()


def _check_event(*, type, at, source: str, properties, now) -> None:
    if not event_types.is_event_type(type):
        raise InvalidEvent(
            _(
                "Unknown event type: use signed_up, activated, page_view, form_submitted, purchase or "
                "custom:<name> (lower-case letters, digits, _ - .)."
            ),
            field="type",
        )
    if at is None:
        raise InvalidEvent(_("Give the time the event happened."), field="at", code="required")
    if at > now + timedelta(seconds=settings.RELAY_EVENT_CLOCK_SKEW_SECONDS):
        raise InvalidEvent(_("The event's time is in the future."), field="at")
    if not (source or "").strip():
        raise InvalidEvent(_("Name the event's source."), field="source", code="required")
    if not isinstance(properties, dict):
        raise InvalidEvent(_("Properties must be a JSON object."), field="properties")
    if len(json.dumps(properties, ensure_ascii=False, default=str)) > PROPERTIES_MAX_CHARS:
        raise InvalidEvent(
            _("Properties are limited to %(limit)s characters of JSON.") % {"limit": PROPERTIES_MAX_CHARS},
            field="properties",
        )


@transaction.atomic
def record_event(
    *,
    by,
    type: str,
    at,
    source: str,
    external_id: str = "",
    properties: dict | None = None,
    customer: Customer | None = None,
    contact: dict | None = None,
    now=None,
) -> RecordedEvent:
    """Record what a customer did, given by `customer` or by `contact` identities (matched as lead intake does;
    a new person becomes a new customer). A `signed_up` event opens an activation window; an `activated` one
    within a window closes it. Publishes "customer.event" for a new event.

    A resend (same `source` and non-blank `external_id`) returns the event recorded before, writing nothing.
    `by` None is Relay itself (the demo, an import run by the system).

    Raises PermissionDenied, InvalidEvent (field type, at, source, properties, contact/customer) and whatever
    customers.services.resolve_customer raises for a bad contact (field "contact.<key>").
    """
    if by is not None:
        permissions.require(by, "event.create")
    now = now or timezone.now()
    properties = {} if properties is None else properties
    source, external_id = (source or "").strip(), (external_id or "").strip()
    _check_event(type=type, at=at, source=source, properties=properties, now=now)
    if (contact is None) == (customer is None):
        raise InvalidEvent(_("Give either a contact or an existing customer."), field="contact", code="required")
    existing = _existing(source, external_id)
    if existing is not None:
        return RecordedEvent(existing, created=False, customer_matched=True)
    try:
        # A concurrent delivery of the same event may insert it first: the unique constraint stops this one,
        # the savepoint drops the customer it may have created, and the first one's event is the answer.
        with transaction.atomic():
            matched = True
            if contact is not None:
                customer, matched = customer_services.resolve_customer(contact=contact, by=by, field_prefix="contact.")
            elif customer.merged_into_id:
                customer = customer.merged_into
            event = CustomerEvent.objects.create(
                customer=customer,
                type=type,
                at=at,
                source=source,
                external_id=external_id,
                properties=properties,
                created_at=now,
                created_by=by if getattr(by, "pk", None) else None,
            )
    except IntegrityError:
        existing = _existing(source, external_id)
        if existing is None:
            raise
        return RecordedEvent(existing, created=False, customer_matched=True)
    if type == EventType.SIGNED_UP:
        _open_activation_window(event)
    elif type == EventType.ACTIVATED:
        _stamp_activation(event)
    events.publish(
        "customer.event",
        event_id=f"marketing.event.{event.pk}",
        event=event.pk,
        customer=event.customer_id,
        type=event.type,
        at=event.at,
    )
    return RecordedEvent(event, created=True, customer_matched=matched)


def record_events(*, by, items: list[dict], now=None) -> list[RecordedEvent | DomainError]:
    """Bulk intake (`POST events/bulk/`): `record_event(**item)` for each item, in order, each atomic on its own,
    so a refused item is never half-written and never undoes the others.

    Returns, per item, the RecordedEvent or the DomainError that refused it. Raises PermissionDenied before
    writing anything when `by` may not record events.
    """
    permissions.require(by, "event.create")
    now = now or timezone.now()
    results = []
    for item in items:
        try:
            results.append(record_event(by=by, now=now, **item))
        except DomainError as error:
            results.append(error)
    return results


# ---------------------------------------------------------------- activation window


def activation_window() -> timedelta:
    return timedelta(hours=settings.RELAY_ACTIVATION_WINDOW_HOURS)


def _open_activation_window(event: CustomerEvent) -> ActivationWindow:
    """A sign-up's window; already closed when the customer's `activated` event arrived first (feeds are not
    always in order)."""
    due_at = event.at + activation_window()
    activated_at = (
        CustomerEvent.objects.filter(
            customer_id=event.customer_id, type=EventType.ACTIVATED, at__gte=event.at, at__lte=due_at
        )
        .order_by("at")
        .values_list("at", flat=True)
        .first()
    )
    return ActivationWindow.objects.create(
        customer_id=event.customer_id,
        signed_up_event=event,
        signed_up_at=event.at,
        due_at=due_at,
        activated_at=activated_at,
    )


def _stamp_activation(event: CustomerEvent) -> int:
    """Close the customer's windows this activation falls in (the first activation stands). A late-delivered
    activation still counts for the metric even when the missed alert already went out."""
    return ActivationWindow.objects.filter(
        customer_id=event.customer_id, signed_up_at__lte=event.at, due_at__gte=event.at, activated_at__isnull=True
    ).update(activated_at=event.at)


def raise_missed_activations(*, now=None) -> int:
    """Beat: each sign-up whose window passed without activation raises `activation.missed` exactly once —
    missed_at is stamped by a conditional UPDATE, so a second run (or a concurrent one) finds nothing to do.
    Tells marketing's managers and the customer's marketing team member. Returns how many were raised."""
    now = now or timezone.now()
    due = ActivationWindow.objects.filter(missed_at__isnull=True, activated_at__isnull=True, due_at__lte=now)
    return sum(_raise_missed(pk, now=now) for pk in list(due.order_by("due_at", "pk").values_list("pk", flat=True)))


@transaction.atomic
def _raise_missed(pk: int, *, now) -> int:
    stamped = ActivationWindow.objects.filter(
        pk=pk, missed_at__isnull=True, activated_at__isnull=True, due_at__lte=now
    ).update(missed_at=now)
    if not stamped:
        return 0
    window = ActivationWindow.objects.select_related("customer").get(pk=pk)
    team = [m.user for m in account_team(window.customer_id) if m.role == TeamRole.MARKETING]
    notify(
        recipients=[*roles.members(roles.MARKETING, managers_only=True), *team],
        kind="marketing.activation_missed",
        message=ngettext(
            "%(customer)s has not activated within %(hours)s hour of signing up.",
            "%(customer)s has not activated within %(hours)s hours of signing up.",
            settings.RELAY_ACTIVATION_WINDOW_HOURS,
        )
        % {"customer": window.customer.name, "hours": settings.RELAY_ACTIVATION_WINDOW_HOURS},
        url=reverse("customers:customer-detail", args=[window.customer_id]),
        dedupe_key=f"marketing.activation_missed.{window.pk}",
    )
    events.publish(
        "activation.missed",
        event_id=f"marketing.activation_missed.{window.pk}",
        customer=window.customer_id,
        signed_up_at=window.signed_up_at,
        window=window.pk,
    )
    return 1


# ---------------------------------------------------------------- content

CONTENT_FIELDS = ("title", "stage", "language", "tags", "urls", "is_active")
VARIANT_FIELDS = ("title", "cover_url", "body")
MAX_TAGS, MAX_TAG_LENGTH, MAX_URLS = 20, 50, 50
VARIANT_KEYS = tuple(chr(code) for code in range(ord("A"), ord("Z") + 1))


def _clean_text(value, field: str, *, max_length: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise DomainError(_("This field is required."), field=field, code="required")
    if len(text) > max_length:
        raise DomainError(_("At most %(limit)s characters.") % {"limit": max_length}, field=field, code="max_length")
    return text


def _clean_tags(values) -> list[str]:
    if not isinstance(values, list | tuple):
        raise DomainError(_("Tags must be a list of words."), field="tags")
    tags: list[str] = []
    for index, value in enumerate(values):
        tag = _clean_text(value, f"tags[{index}]", max_length=MAX_TAG_LENGTH)
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise DomainError(_("At most %(limit)s tags.") % {"limit": MAX_TAGS}, field="tags", code="max_length")
    return tags


def _clean_urls(values) -> list[str]:
    """The allowed link targets, each an absolute http(s) URL, stored in one spelling (tracking.normalize_url) so
    the click redirect compares them exactly."""
    if not isinstance(values, list | tuple):
        raise DomainError(_("Give the allowed links as a list of URLs."), field="urls")
    urls: list[str] = []
    for index, value in enumerate(values):
        url = tracking.normalize_url(value)
        if url is None:
            raise DomainError(
                _("Enter an absolute http or https URL, such as https://example.com/offer."), field=f"urls[{index}]"
            )
        if url not in urls:
            urls.append(url)
    if len(urls) > MAX_URLS:
        raise DomainError(_("At most %(limit)s links.") % {"limit": MAX_URLS}, field="urls", code="max_length")
    return urls


def clean_content(values: dict) -> dict:
    """The content fields given, checked. Raises DomainError naming the first bad one."""
    cleaned = {}
    if "title" in values:
        cleaned["title"] = _clean_text(values["title"], "title", max_length=200)
    if "stage" in values:
        if values["stage"] not in ContentStage.values:
            raise DomainError(_("Choose awareness, consideration, decision or loyalty."), field="stage")
        cleaned["stage"] = values["stage"]
    if "language" in values:
        if values["language"] not in dict(settings.LANGUAGES):
            raise DomainError(_("Choose a language Relay speaks."), field="language")
        cleaned["language"] = values["language"]
    if "tags" in values:
        cleaned["tags"] = _clean_tags(values["tags"])
    if "urls" in values:
        cleaned["urls"] = _clean_urls(values["urls"])
    if "is_active" in values:
        if not isinstance(values["is_active"], bool):
            raise DomainError(_("Give true or false."), field="is_active")
        cleaned["is_active"] = values["is_active"]
    return cleaned


@transaction.atomic
def create_content(
    *,
    by,
    title: str,
    stage: str,
    language: str = "en",
    tags=(),
    urls=(),
    is_active: bool = True,
    now=None,
) -> ContentItem:
    """A content item for a lifecycle stage, with its tags and the links its messages may carry (variants are
    added with `create_variant`). Raises PermissionDenied, DomainError (field title, stage, language, tags,
    tags[i], urls, urls[i], is_active)."""
    permissions.require(by, "content.create")
    now = now or timezone.now()
    values = clean_content(
        {"title": title, "stage": stage, "language": language, "tags": list(tags), "urls": list(urls)}
        | {"is_active": is_active}
    )
    return ContentItem.objects.create(**values, created_by=by, created_at=now)


@transaction.atomic
def update_content(*, item: ContentItem, by, **fields) -> ContentItem:
    """Change the fields given (CONTENT_FIELDS). Links removed from `urls` stop redirecting, also in messages
    already sent. Raises PermissionDenied, DomainError as create_content, and for an unknown field."""
    item = ContentItem.objects.select_for_update().get(pk=item.pk)
    permissions.require(by, "content.change", item)
    unknown = set(fields) - set(CONTENT_FIELDS)
    if unknown:
        raise DomainError(_("This field cannot be changed here."), field=sorted(unknown)[0])
    for name, value in clean_content(fields).items():
        setattr(item, name, value)
    item.save()
    return item


def _refusing_use(item_id: int, *, variant_id: int | None = None) -> None:
    """Raise ContentInUse when messages, a journey's send step or an experiment refer to the item (or variant)."""
    if variant_id is not None:
        if Message.objects.filter(variant_id=variant_id).exists():
            raise ContentInUse(_("Messages were sent with this variant; it cannot be deleted."), field=None)
        if Experiment.objects.filter(winner_id=variant_id).exists():
            raise ContentInUse(_("This variant won its experiment; it cannot be deleted."), field=None)
        return
    if Message.objects.filter(item_id=item_id).exists():
        raise ContentInUse(_("Messages were sent with this content; switch it off instead."), field=None)
    if JourneyStep.objects.filter(kind=StepKind.SEND, is_removed=False, config__content=item_id).exists():
        raise ContentInUse(_("A journey sends this content; switch it off instead."), field=None)
    if Experiment.objects.filter(item_id=item_id).exists():
        raise ContentInUse(_("This content has an experiment; switch it off instead."), field=None)


@transaction.atomic
def delete_content(*, item: ContentItem, by) -> None:
    """Delete content nothing refers to yet. Raises PermissionDenied, ContentInUse."""
    item = ContentItem.objects.select_for_update().get(pk=item.pk)
    permissions.require(by, "content.change", item)
    _refusing_use(item.pk)
    item.delete()


def clean_variant(values: dict) -> dict:
    """The variant fields given, checked. Raises DomainError naming the first bad one."""
    cleaned = {}
    if "title" in values:
        cleaned["title"] = _clean_text(values["title"], "title", max_length=200)
    if "body" in values:
        cleaned["body"] = _clean_text(values["body"], "body", max_length=LONG_TEXT)
    if "cover_url" in values:
        raw = values["cover_url"] or ""
        cover = tracking.normalize_url(raw) if raw else ""
        if cover is None or len(cover) > 200:
            raise DomainError(_("Enter an absolute http or https URL of an image, or nothing."), field="cover_url")
        cleaned["cover_url"] = cover
    return cleaned


@transaction.atomic
def create_variant(*, item: ContentItem, by, title: str, body: str, cover_url: str = "", now=None) -> ContentVariant:
    """A variant of the item under the first free key ("A", "B", …). Raises PermissionDenied, DomainError (field
    title, body, cover_url, and variants when all 26 keys are taken)."""
    item = ContentItem.objects.select_for_update().get(pk=item.pk)  # one new key at a time
    permissions.require(by, "content.change", item)
    values = clean_variant({"title": title, "body": body, "cover_url": cover_url})
    taken = set(item.variants.values_list("key", flat=True))
    key = next((k for k in VARIANT_KEYS if k not in taken), None)
    if key is None:
        raise DomainError(_("An item has at most %(limit)s variants.") % {"limit": len(VARIANT_KEYS)}, field="variants")
    return ContentVariant.objects.create(item=item, key=key, created_at=now or timezone.now(), **values)


@transaction.atomic
def update_variant(*, variant: ContentVariant, by, **fields) -> ContentVariant:
    """Change the fields given (VARIANT_FIELDS). Raises PermissionDenied, DomainError as create_variant, and for an
    unknown field."""
    ContentItem.objects.select_for_update().filter(pk=variant.item_id).first()  # the parent first
    variant = ContentVariant.objects.select_for_update().get(pk=variant.pk)
    permissions.require(by, "content.change", variant.item)
    unknown = set(fields) - set(VARIANT_FIELDS)
    if unknown:
        raise DomainError(_("This field cannot be changed here."), field=sorted(unknown)[0])
    for name, value in clean_variant(fields).items():
        setattr(variant, name, value)
    variant.save()
    ContentItem.objects.filter(pk=variant.item_id).update(updated_at=timezone.now())  # the item's version moves
    return variant


@transaction.atomic
def delete_variant(*, variant: ContentVariant, by) -> None:
    """Delete a variant no message was sent with. Raises PermissionDenied, ContentInUse."""
    ContentItem.objects.select_for_update().filter(pk=variant.item_id).first()
    variant = ContentVariant.objects.select_for_update().get(pk=variant.pk)
    permissions.require(by, "content.change", variant.item)
    _refusing_use(variant.item_id, variant_id=variant.pk)
    variant.delete()
    ContentItem.objects.filter(pk=variant.item_id).update(updated_at=timezone.now())
