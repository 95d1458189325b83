"""Every write to customers, orders, channels and campaigns; pages, API, admin, imports and tasks call these.

Identity matching lives here once (`resolve_customer`): every entry point (form, API, CSV import, lead intake)
normalizes contact details through `customers.identity` and attaches to the existing customer on a match.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import DomainError
from customers import permissions
from customers.errors import InvalidIdentity
from customers.identity import contact_identities, normalize_or_raise
from customers.models import Channel, Customer, CustomerIdentity, IdentityKind, Order

# Which identity wins when one contact matches several customers: the most specific first.
_KIND_PRIORITY = {
    IdentityKind.MEMBER_CARD: 0,
    IdentityKind.WECOM: 1,
    IdentityKind.WECHAT: 2,
    IdentityKind.PHONE: 3,
    IdentityKind.EMAIL: 4,
    IdentityKind.EXTERNAL: 5,
}


# ---------------------------------------------------------------------------------------------------------------
# Identity matching


def live_customer(customer: Customer) -> Customer:
    """Follow a tombstone's merged_into chain to the live survivor."""
    seen = set()
    while customer.merged_into_id and customer.pk not in seen:
        seen.add(customer.pk)
        customer = Customer.objects.get(pk=customer.merged_into_id)
    return customer


def find_match(identities: list[tuple[str, str]], *, source_system: str = "") -> Customer | None:
    """The live customer owning one of these normalized identities (most specific kind wins), or None."""
    if not identities:
        return None
    condition = Q()
    for kind, value in identities:
        condition |= Q(kind=kind, value=value, source_system=source_system if kind == IdentityKind.EXTERNAL else "")
    found = list(CustomerIdentity.objects.filter(condition).select_related("customer"))
    if not found:
        return None
    found.sort(key=lambda i: (_KIND_PRIORITY.get(i.kind, 9), i.customer_id))
    return live_customer(found[0].customer)


def _attach_identities(customer: Customer, identities: list[tuple[str, str]], *, source_system: str = "") -> int:
    """Add the identities the customer does not have yet; ones that belong to someone else are left alone."""
    rows = [
        CustomerIdentity(
            customer=customer,
            kind=kind,
            value=value,
            source_system=source_system if kind == IdentityKind.EXTERNAL else "",
        )
        for kind, value in identities
    ]
    if not rows:
        return 0
    before = customer.identities.count()
    CustomerIdentity.objects.bulk_create(rows, ignore_conflicts=True)
    return customer.identities.count() - before


def _channel(channel: Channel | str | int | None) -> Channel | None:
    if channel is None or channel == "":
        return None
    if isinstance(channel, Channel):
        return channel
    if isinstance(channel, int):
        return Channel.objects.get(pk=channel)
    found = Channel.objects.filter(code=str(channel).strip()).first()
    if found is None:
        raise DomainError(_("Unknown channel %(code)s.") % {"code": channel}, field="channel", code="unknown_channel")
    return found


def _clean(value) -> str:
    return str(value or "").strip()


@transaction.atomic
def resolve_customer(
    *, contact: dict, by, source_channel: Channel | str | None = None, field_prefix: str = ""
) -> tuple[Customer, bool]:
    """The customer for a contact (keys name, phone, email, wecom, wechat, member_card, company, city).

    Returns (customer, matched): matched is True when an identity matched an existing customer, whose missing
    identities and blank company/city are then filled in; otherwise a new customer is created.
    Raises InvalidIdentity (field "phone", "email", … with `field_prefix`) for an invalid phone or email, and
    DomainError(field="name") when the contact has neither a name nor an identity.
    """
    identities = contact_identities(contact, field_prefix=field_prefix)
    if by is not None:
        permissions.require(by, permissions.CREATE)
    channel = _channel(source_channel)
    for attempt in range(2):
        existing = find_match(identities)
        if existing is not None:
            _enrich(existing, contact)
            _attach_identities(existing, identities)
            return existing, True
        name = _clean(contact.get("name")) or (identities[0][1] if identities else "")
        if not name:
            raise DomainError(_("Give a name or a contact method."), field=f"{field_prefix}name", code="required")
        try:
            # A concurrent request may insert the same identity: the unique constraint stops the second, which
            # then finds the first one's customer on the retry.
            with transaction.atomic():
                customer = Customer.objects.create(
                    name=name[:200],
                    company=_clean(contact.get("company"))[:200],
                    city=_clean(contact.get("city"))[:100],
                    source_channel=channel,
                )
                CustomerIdentity.objects.bulk_create(
                    [CustomerIdentity(customer=customer, kind=k, value=v) for k, v in identities]
                )
        except IntegrityError:
            if attempt:
                raise
            continue
        return customer, False
    raise AssertionError("unreachable")


def _enrich(customer: Customer, contact: dict) -> None:
    """Fill blank company/city of a matched customer; never overwrite what someone typed."""
    changes = {}
    for field, limit in (("company", 200), ("city", 100)):
        value = _clean(contact.get(field))[:limit]
        if value and not getattr(customer, field):
            changes[field] = value
    if changes:
        Customer.objects.filter(pk=customer.pk).update(**changes, updated_at=timezone.now())
        for field, value in changes.items():
            setattr(customer, field, value)


def normalize_identity_list(identities: list[dict], *, field: str = "identities") -> list[tuple[str, str]]:
    """[{"kind", "value"}] from the API or a form → [(kind, normalized value)]; names the bad item's field."""
    out = []
    for index, item in enumerate(identities or []):
        kind = item.get("kind")
        if kind not in IdentityKind.values:
            raise InvalidIdentity(_("Unknown identity kind."), field=f"{field}[{index}].kind")
        out.append((kind, normalize_or_raise(kind, item.get("value", ""), field=f"{field}[{index}].value")))
    return out


@transaction.atomic
def create_customer(
    *,
    by,
    name: str,
    company: str = "",
    city: str = "",
    identities: list[dict] | None = None,
    source_channel: Channel | str | None = None,
) -> tuple[Customer, bool]:
    """Create a customer, or return the existing one when an identity matches: (customer, matched)."""
    permissions.require(by, permissions.CREATE)
    normalized = normalize_identity_list(identities or [])
    existing = find_match(normalized)
    if existing is not None:
        _enrich(existing, {"company": company, "city": city})
        _attach_identities(existing, normalized)
        return existing, True
    if not _clean(name):
        raise DomainError(_("This field is required."), field="name", code="required")
    try:
        with transaction.atomic():
            customer = Customer.objects.create(
                name=_clean(name), company=_clean(company), city=_clean(city), source_channel=_channel(source_channel)
            )
            CustomerIdentity.objects.bulk_create(
                [CustomerIdentity(customer=customer, kind=k, value=v) for k, v in normalized]
            )
    except IntegrityError:
        existing = find_match(normalized)
        if existing is None:
            raise
        return existing, True
    return customer, False


@transaction.atomic
def update_customer(
    *,
    customer: Customer,
    by,
    name: str | None = None,
    company: str | None = None,
    city: str | None = None,
    identities: list[dict] | None = None,
) -> Customer:
    """Change a live customer. `identities`, when given, is the full list: missing ones are removed.

    Raises PermissionDenied, and Conflict(code "identity_taken", field identities[i].value) when an identity
    belongs to another customer (merge them instead).
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    permissions.require(by, permissions.CHANGE, customer)
    fields = []
    for field, value in (("name", name), ("company", company), ("city", city)):
        if value is not None:
            if field == "name" and not _clean(value):
                raise DomainError(_("This field is required."), field="name", code="required")
            setattr(customer, field, _clean(value))
            fields.append(field)
    if fields:
        customer.save(update_fields=[*fields, "updated_at"])
    if identities is not None:
        normalized = normalize_identity_list(identities)
        for index, (kind, value) in enumerate(normalized):
            owner = (
                CustomerIdentity.objects.filter(kind=kind, value=value, source_system="")
                .exclude(customer=customer)
                .values_list("customer_id", flat=True)
                .first()
            )
            if owner is not None:
                from config.errors import Conflict

                raise Conflict(
                    _("This identity belongs to customer #%(id)s; merge the two customers instead.") % {"id": owner},
                    field=f"identities[{index}].value",
                    code="identity_taken",
                )
        wanted = set(normalized)
        current = {(i.kind, i.value): i.pk for i in customer.identities.filter(source_system="")}
        CustomerIdentity.objects.filter(pk__in=[pk for key, pk in current.items() if key not in wanted]).delete()
        _attach_identities(customer, [key for key in normalized if key not in current])
    return customer


@transaction.atomic
def add_identity(*, customer: Customer, by, kind: str, value: str, source_system: str = "") -> CustomerIdentity:
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    permissions.require(by, permissions.CHANGE, customer)
    normalized = normalize_or_raise(kind, value, field="value")
    existing = CustomerIdentity.objects.filter(kind=kind, value=normalized, source_system=source_system).first()
    if existing is not None:
        if existing.customer_id != customer.pk:
            from config.errors import Conflict

            raise Conflict(
                _("This identity belongs to customer #%(id)s; merge the two customers instead.")
                % {"id": existing.customer_id},
                field="value",
                code="identity_taken",
            )
        return existing
    return CustomerIdentity.objects.create(customer=customer, kind=kind, value=normalized, source_system=source_system)


# ---------------------------------------------------------------------------------------------------------------
# Orders


def _aware(value) -> datetime:
    if isinstance(value, str):
        from django.utils.dateparse import parse_date, parse_datetime

        parsed = parse_datetime(value) or parse_date(value)
        if parsed is None:
            raise DomainError(_("Enter a valid date/time."), field="ordered_at")
        value = parsed
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time(12, 0))
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _amount(value) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DomainError(_("Enter a number."), field="amount") from None
    if not amount.is_finite() or amount < 0:
        raise DomainError(_("The amount may not be negative."), field="amount")
    if amount.as_tuple().exponent < -2 or amount >= Decimal("1e12"):
        raise DomainError(_("Use at most 2 decimals and 12 digits."), field="amount")
    return amount.quantize(Decimal("0.01"))


def upsert_order(
    *,
    customer: Customer,
    amount,
    ordered_at,
    channel: Channel | str | None = None,
    external_id: str = "",
    by=None,
) -> tuple[Order, bool]:
    """(order, created). An `external_id` already known for the channel returns that order unchanged.

    Raises PermissionDenied, DomainError(field amount|ordered_at|channel).
    """
    with transaction.atomic():
        if by is not None:
            permissions.require(by, permissions.ORDER_WRITE)
        channel = _channel(channel)
        amount = _amount(amount)
        ordered_at = _aware(ordered_at)
        external_id = _clean(external_id)[:100]
        customer = live_customer(customer)
        if external_id:
            existing = Order.objects.filter(channel=channel, external_id=external_id).first()
            if existing is not None:
                return existing, False
        try:
            with transaction.atomic():
                order = Order.objects.create(
                    customer=customer,
                    amount=amount,
                    ordered_at=ordered_at,
                    channel=channel,
                    external_id=external_id,
                    created_by=by if getattr(by, "pk", None) else None,
                )
        except IntegrityError:
            # Two deliveries of the same feed row raced; the first one's order stands.
            if not external_id:
                raise
            return Order.objects.get(channel=channel, external_id=external_id), False
        transaction.on_commit(lambda: _queue_recompute([customer.pk]))
        return order, True


def create_order(
    *,
    customer: Customer,
    amount,
    ordered_at,
    channel: Channel | str | None = None,
    external_id: str = "",
    by=None,
) -> Order:
    """Create an order (a resent `external_id` for the same channel returns the existing order)."""
    order, _created = upsert_order(
        customer=customer, amount=amount, ordered_at=ordered_at, channel=channel, external_id=external_id, by=by
    )
    return order


@transaction.atomic
def update_order(*, order: Order, by, **changes) -> Order:
    order = Order.objects.select_for_update().get(pk=order.pk)
    permissions.require(by, permissions.ORDER_WRITE)
    old_customer = order.customer_id
    if "amount" in changes:
        order.amount = _amount(changes["amount"])
    if "ordered_at" in changes:
        order.ordered_at = _aware(changes["ordered_at"])
    if "channel" in changes:
        order.channel = _channel(changes["channel"])
    if "external_id" in changes:
        order.external_id = _clean(changes["external_id"])[:100]
    if "customer" in changes:
        order.customer = live_customer(changes["customer"])
    if order.external_id and (
        Order.objects.filter(channel=order.channel, external_id=order.external_id).exclude(pk=order.pk).exists()
    ):
        raise DomainError(_("Another order of this channel has this external id."), field="external_id", code="unique")
    order.save()
    ids = sorted({old_customer, order.customer_id})
    transaction.on_commit(lambda: _queue_recompute(ids))
    return order


def _queue_recompute(customer_ids: list[int] | None) -> None:
    from customers import tasks

    tasks.recompute_segments.delay(customer_ids)


# ---------------------------------------------------------------------------------------------------------------
# Derived lifecycle stage and RFM


@transaction.atomic
def recompute_customer_segments(*, customer_ids=None, now=None) -> int:
    """Recompute lifecycle stage and RFM (quintiles over the trailing 365 days) in SQL.

    `customer_ids` limits which rows are written (quintiles are still over every customer); None means all.
    Returns the number of rows changed.
    """
    from customers import segments

    now = now or timezone.now()
    ids = None if customer_ids is None else sorted({int(i) for i in customer_ids})
    return segments.recompute_lifecycle(ids) + segments.recompute_rfm(ids, now=now)
