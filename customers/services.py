"""Every write to customers, orders, channels and campaigns; pages, API, admin, imports and tasks call these.

Identity matching lives here once (`resolve_customer`): every entry point (form, API, CSV import, lead intake)
normalizes contact details through `customers.identity` and attaches to the existing customer on a match.
Order rules live here once too: `place_order` (a customer or a contact, lines and the amount they make), its bulk
form `place_orders`, `update_order` and `cancel_order`; products are customers.products'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, UniqueConstraint
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from config import audit, events, moments, outbox, roles, todo
from config.errors import Conflict, DomainError
from config.money import AMOUNT_LIMIT, format_money, parse_amount
from config.notifications import notify
from customers import affinity, loyalty, merging, permissions, products, segments
from customers.errors import InvalidIdentity, MergeRefused, UndoRefused
from customers.identity import contact_identities, normalize_or_raise
from customers.models import (
    AccountTeamMember,
    Campaign,
    Channel,
    ChannelSpend,
    Customer,
    CustomerIdentity,
    IdentityKind,
    MergeRecord,
    Order,
    OrderLine,
    PendingSegmentRefresh,
    Product,
    TeamRole,
)
from customers.selectors import account_team, customer_relations

# Which identity wins when one contact matches several customers: the most specific first.
_KIND_PRIORITY = {
    IdentityKind.EXTERNAL: -1,
    IdentityKind.MEMBER_CARD: 0,
    IdentityKind.WECOM: 1,
    IdentityKind.WECHAT: 2,
    IdentityKind.PHONE: 3,
    IdentityKind.EMAIL: 4,
}
MATCH_ORDER = sorted(_KIND_PRIORITY, key=_KIND_PRIORITY.get)


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
    before = list(customer.identities.values_list("pk", flat=True))
    CustomerIdentity.objects.bulk_create(rows, ignore_conflicts=True)
    added = list(customer.identities.exclude(pk__in=before))
    return audit.record_created(CustomerIdentity, added)  # bulk_create sends no post_save


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


def require_active_channel(channel: Channel | None, *, field: str = "source_channel") -> Channel | None:
    """New work is booked on active channels only (pages, API, admin and imports alike)."""
    if channel is not None and not channel.is_active:
        raise DomainError(
            _("The channel %(code)s is no longer active.") % {"code": channel.code}, field=field, code="inactive"
        )
    return channel


def _clean(value) -> str:
    return str(value or "").strip()


def clean_language(value, *, field: str = "language") -> str:
    """A preferred language: "" (not set) or one of settings.LANGUAGES; raises DomainError naming `field`."""
    value = _clean(value)
    if not value:
        return ""
    codes = {code.lower(): code for code, _name in settings.LANGUAGES}
    code = codes.get(value.lower().replace("_", "-"))
    if code is None:
        raise DomainError(
            _("Unknown language %(value)s; use one of %(codes)s.")
            % {"value": value, "codes": ", ".join(codes.values())},
            field=field,
            code="invalid_choice",
        )
    return code


@transaction.atomic
def resolve_customer(
    *, contact: dict, by, source_channel: Channel | str | None = None, field_prefix: str = ""
) -> tuple[Customer, bool]:
    """The customer for a contact (keys name, phone, email, wecom, wechat, member_card, company, city, language).

    Returns (customer, matched): matched is True when an identity matched an existing customer, whose missing
    identities and blank company/city are then filled in; otherwise a new customer is created.
    Raises InvalidIdentity (field "phone", "email", … with `field_prefix`) for an invalid phone or email, and
    DomainError(field="name") when the contact has neither a name nor an identity.
    """
    identities = contact_identities(contact, field_prefix=field_prefix)
    contact = {**contact, "language": clean_language(contact.get("language"), field=f"{field_prefix}language")}
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
                    language=contact["language"],
                    source_channel=channel,
                )
                added = CustomerIdentity.objects.bulk_create(
                    [CustomerIdentity(customer=customer, kind=k, value=v) for k, v in identities]
                )
                audit.record_created(CustomerIdentity, added)
        except IntegrityError:
            if attempt:
                raise
            continue
        return customer, False
    raise AssertionError("unreachable")


def _enrich(customer: Customer, contact: dict) -> None:
    """Fill blank company/city/language of a matched customer; never overwrite what someone typed."""
    changes = {}
    for field, limit in (("company", 200), ("city", 100), ("language", 10)):
        value = _clean(contact.get(field))[:limit]
        if value and not getattr(customer, field):
            changes[field] = value
    if changes:
        for field, value in changes.items():
            setattr(customer, field, value)
        customer.save(update_fields=[*changes, "updated_at"])  # a save, so the audit log records it


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
    language: str = "",
) -> tuple[Customer, bool]:
    """Create a customer, or return the existing one when an identity matches: (customer, matched).

    `language` is the preferred language ("" or a code of settings.LANGUAGES; DomainError(field="language")).
    A matched customer gets the company, city and language it lacks, never overwritten.
    """
    permissions.require(by, permissions.CREATE)
    normalized = normalize_identity_list(identities or [])
    language = clean_language(language)
    existing = find_match(normalized)
    if existing is not None:
        _enrich(existing, {"company": company, "city": city, "language": language})
        _attach_identities(existing, normalized)
        return existing, True
    if not _clean(name):
        raise DomainError(_("This field is required."), field="name", code="required")
    try:
        with transaction.atomic():
            customer = Customer.objects.create(
                name=_clean(name),
                company=_clean(company),
                city=_clean(city),
                language=language,
                source_channel=_channel(source_channel),
            )
            added = CustomerIdentity.objects.bulk_create(
                [CustomerIdentity(customer=customer, kind=k, value=v) for k, v in normalized]
            )
            audit.record_created(CustomerIdentity, added)
    except IntegrityError:
        existing = find_match(normalized)
        if existing is None:
            raise
        return existing, True
    return customer, False


def refuse_tombstone(customer: Customer) -> None:
    """Conflict(field "merged_into", code "merged") for a merged duplicate: its survivor is the one to change."""
    if customer.merged_into_id:
        raise Conflict(
            _("This customer was merged into customer #%(id)s; change that one.") % {"id": customer.merged_into_id},
            field="merged_into",
            code="merged",
        )


def refuse_taken_identities(customer: Customer | None, normalized: list[tuple[str, str]]) -> None:
    """Conflict(code "identity_taken", field identities[i].value) when an identity belongs to another customer."""
    for index, (kind, value) in enumerate(normalized):
        others = CustomerIdentity.objects.filter(kind=kind, value=value, source_system="")
        if customer is not None and customer.pk:
            others = others.exclude(customer=customer)
        owner = others.values_list("customer_id", flat=True).first()
        if owner is not None:
            raise Conflict(
                _("This identity belongs to customer #%(id)s; merge the two customers instead.") % {"id": owner},
                field=f"identities[{index}].value",
                code="identity_taken",
            )


@transaction.atomic
def update_customer(
    *,
    customer: Customer,
    by,
    name: str | None = None,
    company: str | None = None,
    city: str | None = None,
    identities: list[dict] | None = None,
    language: str | None = None,
) -> Customer:
    """Change a live customer. `identities`, when given, is the full list: missing ones are removed.

    `language` "" clears the preferred language; an unknown one raises DomainError(field="language").

    Raises PermissionDenied, and Conflict(code "identity_taken", field identities[i].value) when an identity
    belongs to another customer (merge them instead).
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    permissions.require(by, permissions.CHANGE, customer)
    refuse_tombstone(customer)
    fields = []
    for field, value in (("name", name), ("company", company), ("city", city)):
        if value is not None:
            if field == "name" and not _clean(value):
                raise DomainError(_("This field is required."), field="name", code="required")
            setattr(customer, field, _clean(value))
            fields.append(field)
    if language is not None:
        customer.language = clean_language(language)
        fields.append("language")
    if fields:
        customer.save(update_fields=[*fields, "updated_at"])
    if identities is not None:
        normalized = normalize_identity_list(identities)
        refuse_taken_identities(customer, normalized)
        wanted = set(normalized)
        current = {(i.kind, i.value): i.pk for i in customer.identities.filter(source_system="")}
        CustomerIdentity.objects.filter(pk__in=[pk for key, pk in current.items() if key not in wanted]).delete()
        _attach_identities(customer, [key for key in normalized if key not in current])
    return customer


# ---------------------------------------------------------------------------------------------------------------
# Orders


def _aware(value) -> datetime:
    if isinstance(value, str):
        parsed = parse_datetime(value) or parse_date(value)
        if parsed is None:
            raise DomainError(_("Enter a valid date/time."), field="ordered_at")
        value = parsed
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time(12, 0))
    moments.check(value, field="ordered_at")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


# An order's lines: at most this many, each of at most MAX_QUANTITY units.
MAX_LINES = 500
MAX_QUANTITY = 1_000_000


@dataclass(frozen=True)
class CheckedLine:
    """One order line as the rules accept it, not saved yet."""

    product: Product
    quantity: int
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class PlacedOrder:
    """What place_order did: the order, whether it is new (False: its channel and external id were known), and
    whether its customer was found by identity (True too for a given customer id and for a known order)."""

    order: Order
    created: bool
    customer_matched: bool


def parse_quantity(value, *, field: str = "quantity") -> int:
    """A whole number of units from 1 to MAX_QUANTITY ("3", 3 and 3.0 alike); DomainError naming `field`."""
    if isinstance(value, bool) or value is None or not str(value).strip():
        raise DomainError(_("Enter a whole number of at least 1."), field=field, code="required")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise DomainError(_("Enter a whole number."), field=field, code="invalid") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise DomainError(_("Enter a whole number."), field=field, code="invalid")
    if number < 1:
        raise DomainError(_("The quantity must be at least 1."), field=field, code="min_value")
    if number > MAX_QUANTITY:
        raise DomainError(
            _("The quantity must be at most %(limit)s.") % {"limit": f"{MAX_QUANTITY:,}"}, field=field, code="max_value"
        )
    return int(number)


def check_line(line: dict, catalogue: dict[str, Product], *, names: Callable[[str], str]) -> CheckedLine:
    """One line `{"product": sku, "quantity", "unit_price"}` (unit_price left out or blank: the product's price)
    against `catalogue` (SKU → product, as products.by_sku reads it). Touches no database.

    Raises DomainError naming `names(key)` for its key: product (blank, unknown or inactive SKU), quantity (not a
    whole number from 1 to MAX_QUANTITY), unit_price (negative, more than two decimals, too large)."""
    sku = products.clean_sku(line.get("product"), field=names("product"))
    product = catalogue.get(sku)
    if product is None:
        raise DomainError(
            _("No product has the SKU %(sku)s.") % {"sku": sku}, field=names("product"), code="does_not_exist"
        )
    if not product.is_active:
        raise DomainError(
            _("The product %(sku)s is no longer sold.") % {"sku": sku}, field=names("product"), code="inactive"
        )
    quantity = parse_quantity(line.get("quantity"), field=names("quantity"))
    price = line.get("unit_price")
    if price is None or (isinstance(price, str) and not price.strip()):
        unit_price = product.price
    else:
        unit_price = products.parse_price(price, field=names("unit_price"))
    return CheckedLine(product=product, quantity=quantity, unit_price=unit_price)


def check_lines(lines, *, field: str = "lines") -> list[CheckedLine]:
    """An order's lines (check_line each, the catalogue read in one query), in order.

    Raises DomainError naming `lines` (more than MAX_LINES) or the line's key as `lines[<i>].<key>`."""
    lines = list(lines or [])
    if len(lines) > MAX_LINES:
        raise DomainError(
            _("An order has at most %(limit)s lines.") % {"limit": MAX_LINES}, field=field, code="max_length"
        )
    catalogue = products.by_sku(str(line.get("product") or "").strip() for line in lines)
    return [
        check_line(line, catalogue, names=lambda key, index=index: f"{field}[{index}].{key}")
        for index, line in enumerate(lines)
    ]


def order_amount(amount, lines: list[CheckedLine]) -> Decimal:
    """An order's amount: the sum of quantity × unit price of its lines when it has any (an `amount` given as well
    must equal that sum), else `amount`. Raises DomainError(field="amount"; code "mismatch" for a disagreement)."""
    if not lines:
        return parse_amount(amount)
    total = sum((line.total for line in lines), Decimal("0.00")).quantize(Decimal("0.01"))
    if total >= AMOUNT_LIMIT:
        raise DomainError(
            _("The lines add up to more than %(limit)s.") % {"limit": f"{AMOUNT_LIMIT:,.0f}"},
            field="amount",
            code="max_value",
        )
    if amount is not None and not (isinstance(amount, str) and not amount.strip()):
        given = parse_amount(amount)
        if given != total:
            raise DomainError(
                _("The amount %(amount)s is not the sum of the lines, %(total)s; leave it out or correct it.")
                % {"amount": given, "total": total},
                field="amount",
                code="mismatch",
            )
    return total


def _known_order(channel: Channel | None, external_id: str) -> Order | None:
    if not external_id:
        return None
    return Order.objects.filter(channel=channel, external_id=external_id).first()


def _line_rows(order: Order, lines: list[CheckedLine]) -> None:
    OrderLine.objects.bulk_create(
        [
            OrderLine(order=order, product=line.product, quantity=line.quantity, unit_price=line.unit_price)
            for line in lines
        ]
    )


def place_order(
    *,
    by=None,
    customer: Customer | None = None,
    contact: dict | None = None,
    amount=None,
    ordered_at,
    channel: Channel | str | None = None,
    external_id: str = "",
    lines=None,
    now=None,
    recompute_tier: bool = True,
) -> PlacedOrder:
    """Record an order of `customer`, or of the customer its `contact` identities name (matched or created through
    resolve_customer, as lead intake does), with optional `lines` (check_lines) whose sum is its amount.

    An `external_id` already known for the channel returns that order unchanged (created False) and writes
    nothing, not even a customer. Nothing is written when anything is refused: the customer a contact would
    create, the order and its lines are one transaction. `by` None is Relay itself (demo, imports by the system).
    A new order refreshes the customer's segments, earns its points and places the customer in a tier
    (customers.loyalty; `recompute_tier=False` leaves the tier to the caller, as place_orders does once for all its
    customers), queues the affinity refresh when it has lines, and publishes `order.placed`.

    Raises PermissionDenied, DomainError naming contact (neither or both of customer and contact; a bad
    contact: "contact.<key>"), amount, ordered_at, channel or lines[<i>].<key>.
    """
    with transaction.atomic():
        if by is not None:
            permissions.require(by, permissions.ORDER_WRITE)
        if (customer is None) == (contact is None):
            raise DomainError(_("Give either a contact or an existing customer."), field="contact", code="required")
        channel = _channel(channel)
        checked = check_lines(lines)
        amount = order_amount(amount, checked)
        ordered_at = _aware(ordered_at)
        external_id = _clean(external_id)[:100]
        existing = _known_order(channel, external_id)
        if existing is not None:
            return PlacedOrder(existing, created=False, customer_matched=True)
        try:
            # A concurrent delivery of the same feed row may insert it first: the unique constraint stops this one,
            # the savepoint drops the customer its contact may have created, and the first one's order stands.
            with transaction.atomic():
                matched = True
                if contact is not None:
                    customer, matched = resolve_customer(
                        contact=contact, by=by, source_channel=channel, field_prefix="contact."
                    )
                customer = live_customer(customer)
                order = Order.objects.create(
                    customer=customer,
                    amount=amount,
                    ordered_at=ordered_at,
                    channel=channel,
                    external_id=external_id,
                    created_by=by if getattr(by, "pk", None) else None,
                )
                _line_rows(order, checked)
        except IntegrityError:
            existing = _known_order(channel, external_id)
            if existing is None:
                raise
            return PlacedOrder(existing, created=False, customer_matched=True)
        _after_new_order(order, customer=customer, lines=checked, by=by, now=now, recompute_tier=recompute_tier)
        return PlacedOrder(order, created=True, customer_matched=matched)


def _after_new_order(
    order: Order, *, customer: Customer, lines: list[CheckedLine], by, now, recompute_tier: bool
) -> None:
    now = now or timezone.now()
    queue_segment_refresh([customer.pk])
    loyalty.earn_for_order(order, now=now)
    if recompute_tier:
        loyalty.recompute_tiers([customer.pk], now=now)
    events.publish(
        "order.placed",
        event_id=f"customers.order.{order.pk}",
        order=order.pk,
        customer=customer.pk,
        amount=str(order.amount),
        ordered_at=order.ordered_at,
        channel=order.channel.code if order.channel else None,
        external_id=order.external_id,
        lines=[
            {"product": line.product.sku, "quantity": line.quantity, "unit_price": str(line.unit_price)}
            for line in lines
        ],
    )
    if lines:
        affinity.queue_affinity_refresh()
    _tell_team_of_large_order(order, customer=customer, by=by)


def place_orders(*, by, items: list[dict], now=None) -> list[PlacedOrder | DomainError]:
    """Bulk intake (`POST orders/bulk/`): `place_order(**item)` for each item, in order, each atomic on its own,
    so a refused item is never half-written and never undoes the others; two items with one contact get one
    customer.

    The tiers of the customers of the new orders are recomputed once, after the items (each item's tier
    recompute is a statement over the customer's year of orders: once per customer, not per order).

    Returns, per item, the PlacedOrder or the DomainError that refused it. Raises PermissionDenied before writing
    anything when `by` may not create orders."""
    permissions.require(by, permissions.ORDER_WRITE)
    now = now or timezone.now()
    results: list[PlacedOrder | DomainError] = []
    for item in items:
        try:
            results.append(place_order(by=by, now=now, recompute_tier=False, **item))
        except DomainError as error:
            results.append(error)
    placed = {r.order.customer_id for r in results if isinstance(r, PlacedOrder) and r.created}
    loyalty.recompute_tiers(sorted(placed), now=now)
    return results


def _tell_team_of_large_order(order: Order, *, customer: Customer, by) -> None:
    """An order of at least RELAY_LARGE_ORDER_AMOUNT tells the customer's account team once, each person once
    (whoever recorded it aside). CSV imports load history and tell no one, as they publish no `order.placed`."""
    if order.amount < Decimal(str(settings.RELAY_LARGE_ORDER_AMOUNT)):
        return
    by_pk = getattr(by, "pk", None)
    notify(
        recipients=[m.user for m in account_team(customer.pk) if m.user.is_active and m.user_id != by_pk],
        kind="customers.large_order",
        message=_("Large order #%(id)s from %(customer)s: %(amount)s.")
        % {"id": order.pk, "customer": customer.name, "amount": format_money(order.amount)},
        url=reverse("customers:customer-detail", args=[customer.pk]),
        dedupe_key=f"customers.order.{order.pk}.large",
        alert=False,
    )


def refuse_cancelled(order: Order) -> None:
    """Conflict(field "cancelled_at", code "cancelled") for a cancelled order: it stays as it was cancelled."""
    if order.cancelled_at:
        raise Conflict(
            _("Order #%(id)s was cancelled; it can no longer change.") % {"id": order.pk},
            field="cancelled_at",
            code="cancelled",
        )


def _lock_order(pk: int, *, also=()) -> Order:
    """Lock the order's customer (and the customers in `also`), then the order: parents first, as every writer of
    orders and points does (customers.loyalty locks the customer row), so an edit, a cancellation and a redemption
    of the same customer never wait on each other crosswise (a deadlock on PostgreSQL)."""
    while True:
        customer_id = Order.objects.filter(pk=pk).values_list("customer_id", flat=True).get()
        ids = sorted({customer_id, *also})
        list(Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
        order = Order.objects.select_for_update().get(pk=pk)
        if order.customer_id == customer_id:
            return order
        # Moved to another customer between the read and the lock: lock that one too.
        also = [*also, order.customer_id]


@transaction.atomic
def update_order(*, order: Order, by, **changes) -> Order:
    """Change an order: customer, amount, ordered_at, channel, external_id, and `lines` (the full list: it replaces
    the order's lines, and their sum becomes the amount; an empty list leaves an order without lines). The amount of
    an order with lines follows them: an `amount` that is not their sum is refused.

    Raises PermissionDenied, Conflict (field "cancelled_at": a cancelled order) and DomainError naming amount
    (code "mismatch"), ordered_at, channel, external_id (code "unique") or lines[<i>].<key>.
    """
    permissions.require(by, permissions.ORDER_WRITE)
    new_customer = live_customer(changes["customer"]) if "customer" in changes else None
    order = _lock_order(order.pk, also=[new_customer.pk] if new_customer else [])
    refuse_cancelled(order)
    old_customer = order.customer_id
    amount_before = order.amount
    new_lines = None
    if "lines" in changes:
        new_lines = check_lines(changes["lines"])
        if new_lines or "amount" in changes:
            order.amount = order_amount(changes.get("amount"), new_lines)
    elif "amount" in changes:
        current = [
            CheckedLine(product=line.product, quantity=line.quantity, unit_price=line.unit_price)
            for line in order.lines.select_related("product")
        ]
        order.amount = order_amount(changes["amount"], current)
    if "ordered_at" in changes:
        order.ordered_at = _aware(changes["ordered_at"])
    if "channel" in changes:
        order.channel = _channel(changes["channel"])
    if "external_id" in changes:
        order.external_id = _clean(changes["external_id"])[:100]
    if new_customer is not None:
        order.customer = new_customer
    if order.external_id and (
        Order.objects.filter(channel=order.channel, external_id=order.external_id).exclude(pk=order.pk).exists()
    ):
        raise DomainError(_("Another order of this channel has this external id."), field="external_id", code="unique")
    order.save()
    had_lines = order.lines.exists()
    if new_lines is not None:
        order.lines.all().delete()
        _line_rows(order, new_lines)
    if new_lines or (had_lines and (new_lines is not None or {"customer", "ordered_at"} & set(changes))):
        affinity.queue_affinity_refresh()  # the pairs count the customers of the window's lines
    ids = sorted({old_customer, order.customer_id})
    queue_segment_refresh(ids)
    if order.amount != amount_before:
        loyalty.correct_for_order(order, by=by)
    if {"amount", "lines", "customer", "ordered_at"} & set(changes):
        loyalty.recompute_tiers(ids)  # their trailing-12-month spend moved
    return order


CANCEL_REASON_LENGTH = Order._meta.get_field("cancel_reason").max_length


@transaction.atomic
def cancel_order(*, order: Order, by, reason: str, now=None) -> tuple[Order, bool]:
    """Cancel an order: (order, cancelled now). The order stays for the record, but counts nowhere from then on
    (RFM, lifecycle, metrics, affinity); its points are reversed and the customer's tier recomputed
    (customers.loyalty), its customer's segments refreshed, and `order.cancelled` published.

    Idempotent: a second cancel changes nothing and returns the order as it was cancelled (False), so a retried
    request or feed never reverses twice. `by` None is Relay itself.

    Raises PermissionDenied and DomainError(field "reason": blank, code "required", or too long).
    """
    if by is not None:
        permissions.require(by, permissions.ORDER_WRITE)
    reason = _clean(reason)
    if not reason:
        raise DomainError(_("Give the reason for the cancellation."), field="reason", code="required")
    if len(reason) > CANCEL_REASON_LENGTH:
        raise DomainError(
            _("Use at most %(limit)s characters.") % {"limit": CANCEL_REASON_LENGTH}, field="reason", code="max_length"
        )
    now = now or timezone.now()
    order = _lock_order(order.pk)
    if order.cancelled_at:
        return order, False
    order.cancelled_at = now
    order.cancel_reason = reason
    order.save(update_fields=["cancelled_at", "cancel_reason", "updated_at"])  # a save: the audit log records it
    queue_segment_refresh([order.customer_id])
    loyalty.reverse_for_order(order, now=now, by=by)
    loyalty.recompute_tiers([order.customer_id], now=now)
    if order.lines.exists():
        affinity.queue_affinity_refresh()
    events.publish(
        "order.cancelled",
        event_id=f"customers.order.{order.pk}.cancelled",
        order=order.pk,
        customer=order.customer_id,
        amount=str(order.amount),
        reason=reason,
        by=getattr(by, "pk", None),
        at=now,
    )
    return order, True


def queue_segment_refresh(customer_ids) -> None:
    """Mark customers for a lifecycle/RFM refresh, in the caller's transaction.

    A burst of writes queues one refresh: the pending marks accumulate in one table and one coalesced
    background message drains them after `RELAY_SEGMENTS_DEBOUNCE_SECONDS`.
    """
    ids = sorted({int(i) for i in customer_ids if i})
    if not ids:
        return
    PendingSegmentRefresh.objects.bulk_create(
        [PendingSegmentRefresh(customer_id=i) for i in ids], ignore_conflicts=True
    )
    outbox.enqueue(
        "customers.tasks.refresh_pending_segments",
        coalesce_key="customers:refresh-segments",
        delay=timedelta(seconds=settings.RELAY_SEGMENTS_DEBOUNCE_SECONDS),
    )


def queue_full_segment_recompute() -> None:
    outbox.enqueue("customers.tasks.recompute_segments", coalesce_key="customers:recompute-segments")


def refresh_pending_segments(*, now=None) -> int:
    """Recompute every pending customer in one pass; returns how many were pending."""
    with transaction.atomic():
        pending = PendingSegmentRefresh.objects.select_for_update(skip_locked=True)
        rows = list(pending.values_list("pk", "customer_id"))
        if not rows:
            return 0
        PendingSegmentRefresh.objects.filter(pk__in=[pk for pk, _c in rows]).delete()
        recompute_customer_segments(customer_ids=[c for _pk, c in rows], now=now)
    return len(rows)


# ---------------------------------------------------------------------------------------------------------------
# Derived lifecycle stage and RFM


@transaction.atomic
def recompute_customer_segments(*, customer_ids=None, now=None) -> int:
    """Recompute lifecycle stage and RFM (quintiles over the trailing 365 days) in SQL.

    `customer_ids` limits which rows are written (quintiles are still over every customer); None means all.
    Returns the number of rows changed. Announces each customer whose stage changed (`lifecycle.changed`) and each
    that entered an RFM segment (`segment.entered`), in one batch per kind after the SQL (journeys start on them).
    """

    now = now or timezone.now()
    ids = None if customer_ids is None else sorted({int(i) for i in customer_ids})
    stages = segments.recompute_lifecycle(ids)
    rewritten, entered = segments.recompute_rfm(ids, now=now)
    stamp = now.isoformat()
    events.publish_many(
        "lifecycle.changed",
        [
            (f"customers.lifecycle.{pk}.{stage}.{stamp}", {"customer": pk, "stage": stage, "at": now})
            for pk, stage in stages
        ],
    )
    events.publish_many(
        "segment.entered",
        [
            (f"customers.segment.{pk}.{segment}.{stamp}", {"customer": pk, "segment": segment, "at": now})
            for pk, segment in entered
        ],
    )
    return len(stages) + rewritten


# ---------------------------------------------------------------------------------------------------------------
# Merge and undo


# The key of MergeRecord.moved that lists the tasks about the duplicate (config.Task) the merge moved.
TASKS_MOVED = "config.task.about"


def _unique_clash(model, field: str, survivor_pk: int) -> Q | None:
    """The rows of a customer that a unique rule naming the customer forbids on the survivor (an unsubscribe from
    the same channel, an active enrolment in the same journey…): the survivor already has one with the same values.
    None when the model has no such rule."""
    rules = [(list(fields), None) for fields in model._meta.unique_together if field in fields]
    rules += [
        (list(c.fields), c.condition)
        for c in model._meta.constraints
        if isinstance(c, UniqueConstraint) and field in c.fields
    ]
    clash = None
    for fields, condition in rules:
        held = model._base_manager.filter(**{f"{field}_id": survivor_pk})
        if condition is not None:
            held = held.filter(condition)
        rule = Q(Exists(held.filter(**{name: OuterRef(name) for name in fields if name != field})))
        if condition is not None:
            rule &= condition
        clash = rule if clash is None else clash | rule
    return clash


def _lock_pair(first_pk: int, second_pk: int) -> dict[int, Customer]:
    # Lock in pk order so two merges of the same pair in opposite directions cannot deadlock.
    return {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[first_pk, second_pk]).order_by("pk")}


def refuse_merge(survivor: Customer, duplicate: Customer) -> None:
    """MergeRefused unless `duplicate` may merge into `survivor`: field "duplicate" for the same customer or an
    already merged duplicate, field "survivor" for a survivor that is itself merged (the preview asks too)."""
    if survivor.pk == duplicate.pk:
        raise MergeRefused(_("A customer cannot be merged into itself."), field="duplicate")
    if duplicate.merged_into_id:
        raise MergeRefused(
            _("Customer #%(id)s was already merged.") % {"id": duplicate.pk}, field="duplicate", code="already_merged"
        )
    if survivor.merged_into_id:
        raise MergeRefused(
            _("Customer #%(id)s was merged into another customer; merge into that one.") % {"id": survivor.pk},
            field="survivor",
            code="already_merged",
        )


def _clean_keep(keep: dict | None) -> dict[str, str]:
    """{"city": "duplicate", …} as given; DomainError(field "keep.<name>") for an unknown field or choice."""
    keep = dict(keep or {})
    for field, choice in keep.items():
        if field not in merging.CHOICE_FIELDS:
            raise DomainError(
                _("Choose among %(fields)s.") % {"fields": ", ".join(merging.CHOICE_FIELDS)},
                field=f"keep.{field}",
                code="invalid_choice",
            )
        if choice not in merging.KEEP_CHOICES:
            raise DomainError(
                _("Keep the survivor's or the duplicate's value."), field=f"keep.{field}", code="invalid_choice"
            )
    return keep


def _keep_values(survivor: Customer, duplicate: Customer, keep: dict[str, str]) -> dict:
    """Apply the chosen profile values to the survivor (defaults for fields not chosen); returns what was chosen,
    with the survivor's values before, for the MergeRecord."""
    choices = {**merging.default_choices(survivor, duplicate), **keep}
    chosen, changed = {}, []
    for field in merging.CHOICE_FIELDS:
        before, offered = getattr(survivor, field), getattr(duplicate, field)
        chosen[field] = {"kept": choices[field], "survivor": before, "duplicate": offered}
        if choices[field] == merging.DUPLICATE and offered != before:
            if field == "name" and not offered:
                raise DomainError(_("A customer needs a name; keep the survivor's."), field="keep.name")
            setattr(survivor, field, offered)
            changed.append(field)
    if changed:
        survivor.save(update_fields=[*changed, "updated_at"])
    return chosen


def _move_team(survivor: Customer, duplicate: Customer) -> list[int]:
    """Move the duplicate's account team members that do not collide with the survivor's team (merging.
    team_collision); the others stay on the tombstone, where an undo finds them. Returns the moved primary keys."""
    survivor_team = list(AccountTeamMember.objects.filter(customer_id=survivor.pk))
    moving = [
        m.pk
        for m in AccountTeamMember.objects.filter(customer_id=duplicate.pk).order_by("pk")
        if not merging.team_collision(m, survivor_team)
    ]
    AccountTeamMember.objects.filter(pk__in=moving).update(customer_id=survivor.pk)
    return moving


@transaction.atomic
def merge_customers(*, survivor: Customer, duplicate: Customer, by, keep: dict | None = None, now=None) -> MergeRecord:
    """Move everything of `duplicate` to `survivor` in one transaction; `duplicate` becomes a tombstone.

    `keep` chooses per profile field (name, company, city, language) whose value survives: "survivor" or
    "duplicate"; a field not given keeps the survivor's value when it has one, else the duplicate's. The record
    keeps what was chosen. The duplicate's account team joins the survivor's without duplicates, and the tasks
    about the duplicate become the survivor's (config.todo.move_tasks: an open next step stays when the survivor
    has one). The duplicate's points entries move too: both balances are their ledgers' sums again, and both
    customers' loyalty tiers are recomputed.

    Raises PermissionDenied (not a manager), MergeRefused (field "duplicate": same customer, or already merged;
    field "survivor": the survivor was merged) and DomainError (field "keep.<name>": an unknown field or choice).
    """
    permissions.require(by, permissions.MERGE)
    now = now or timezone.now()
    keep = _clean_keep(keep)
    refuse_merge(survivor, duplicate)
    locked = _lock_pair(survivor.pk, duplicate.pk)
    survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
    refuse_merge(survivor, duplicate)  # again under the locks: a concurrent merge may have won
    chosen = _keep_values(survivor, duplicate, keep)
    moved: dict[str, list[int]] = {}
    for model, field in customer_relations():
        if model is AccountTeamMember:
            continue  # moved by _move_team: the one-owner and one-role-per-person rules hold on the survivor
        # The FK rows are pinned: inserting a row that references the locked duplicate waits for this commit.
        rows = model._base_manager.filter(**{f"{field}_id": duplicate.pk})
        clash = _unique_clash(model, field, survivor.pk)
        if clash is not None:
            rows = rows.exclude(clash)  # stays on the tombstone: the survivor already holds its like
        pks = list(rows.values_list("pk", flat=True))
        if pks:
            rows.update(**{f"{field}_id": survivor.pk})
            audit.record_rows(model, pks, reason=audit.Reason.MERGE)  # an update sends no post_save
            moved[f"{model._meta.label_lower}.{field}"] = pks
    team = _move_team(survivor, duplicate)
    if team:
        moved[f"{AccountTeamMember._meta.label_lower}.customer"] = team
    # Tasks about the duplicate itself (tasks about its leads, complaints… follow those rows).
    tasks = todo.move_tasks(from_record=duplicate, to_record=survivor, now=now)
    if tasks:
        moved[TASKS_MOVED] = tasks
    duplicate.merged_into = survivor
    duplicate.merged_at = now
    duplicate.save(update_fields=["merged_into", "merged_at", "updated_at"])
    record = MergeRecord.objects.create(
        survivor=survivor,
        duplicate=duplicate,
        moved=moved,
        chosen=chosen,
        merged_by=by if getattr(by, "pk", None) else None,
        merged_at=now,
    )
    ids = [survivor.pk, duplicate.pk]
    loyalty.recompute_balances(ids)  # the duplicate's points entries moved with its other rows
    loyalty.recompute_tiers(ids, now=now)  # the survivor's spend now counts the duplicate's orders
    queue_segment_refresh(ids)
    events.publish(
        "customer.merged",
        event_id=f"customers.merge.{record.pk}",
        survivor=survivor.pk,
        duplicate=duplicate.pk,
        by=getattr(by, "pk", None),
        at=now,
    )
    return record


def _restore_values(survivor: Customer, chosen: dict) -> None:
    """Give the survivor back its own profile values where the duplicate's were kept and nobody changed them since."""
    changed = []
    for field in merging.CHOICE_FIELDS:
        choice = chosen.get(field) or {}
        if choice.get("kept") == merging.DUPLICATE and getattr(survivor, field) == choice.get("duplicate"):
            setattr(survivor, field, choice.get("survivor", ""))
            changed.append(field)
    if changed:
        survivor.save(update_fields=[*changed, "updated_at"])


def undo_deadline(record: MergeRecord):
    return record.merged_at + timedelta(days=settings.RELAY_MERGE_UNDO_DAYS)


@transaction.atomic
def undo_merge(*, record: MergeRecord, by, now=None) -> MergeRecord:
    """Move every row the merge moved back to the duplicate, and make it live again.

    The survivor gets back its own profile values where the merge kept the duplicate's (unless changed since).
    Raises PermissionDenied (not a manager), UndoRefused (already undone, older than
    RELAY_MERGE_UNDO_DAYS, or the survivor has since been merged itself) and Conflict (field "merge", code
    "negative_balance": the survivor spent points that would go back to the duplicate).
    """
    permissions.require(by, permissions.UNDO_MERGE)
    now = now or timezone.now()
    record = MergeRecord.objects.select_for_update().get(pk=record.pk)
    if record.undone_at:
        raise UndoRefused(_("This merge was already undone."), field="merge", code="already_undone")
    if now > undo_deadline(record):
        raise UndoRefused(
            _("A merge can be undone for %(days)s days only.") % {"days": settings.RELAY_MERGE_UNDO_DAYS},
            field="merge",
            code="undo_expired",
        )
    locked = _lock_pair(record.survivor_id, record.duplicate_id)
    survivor, duplicate = locked[record.survivor_id], locked[record.duplicate_id]
    if survivor.merged_into_id:
        raise UndoRefused(
            _("The surviving customer was merged again since; undo that merge first."),
            field="merge",
            code="survivor_merged",
        )
    for key, pks in (record.moved or {}).items():
        if key == TASKS_MOVED:  # no foreign key: a task names its record by content type and id
            todo.move_tasks(from_record=survivor, to_record=duplicate, ids=pks, now=now)
            continue
        label, field = key.rsplit(".", 1)
        model = apps.get_model(label)
        # Only rows still on the survivor go back: one moved on to a third customer since stays where it is.
        for start in range(0, len(pks), 500):
            model._base_manager.filter(pk__in=pks[start : start + 500], **{f"{field}_id": survivor.pk}).update(
                **{f"{field}_id": duplicate.pk}
            )
        audit.record_rows(model, pks, reason=audit.Reason.MERGE_UNDONE, where={f"{field}_id": duplicate.pk})
    _restore_values(survivor, record.chosen or {})
    duplicate.merged_into = None
    duplicate.merged_at = None
    duplicate.save(update_fields=["merged_into", "merged_at", "updated_at"])
    record.undone_at = now
    record.undone_by = by if getattr(by, "pk", None) else None
    record.save(update_fields=["undone_at", "undone_by"])
    ids = [survivor.pk, duplicate.pk]
    # The points entries went back with the other rows; refused when the survivor spent the duplicate's points.
    loyalty.recompute_balances(ids, field="merge")
    loyalty.recompute_tiers(ids, now=now)
    queue_segment_refresh(ids)
    return record


# ---------------------------------------------------------------------------------------------------------------
# Account teams


def check_team_member(*, customer: Customer, user, role: str, by, leaving=()) -> AccountTeamMember:
    """The member `by` would add (unsaved) once every rule holds; `leaving` are pks of members removed in the same
    change (the admin's inline), which no longer count.

    Raises Conflict (field "merged_into": a merged customer), DomainError (field "user": not an active person of
    marketing, sales or service; field "role": unknown, or another department's role), PermissionDenied
    (customers.permissions TEAM), Conflict (field "user", code "already_on_team"; field "role", code
    "account_owner_taken": one account owner per customer).
    """
    refuse_tombstone(customer)
    department = roles.department_of(user) if user is not None and user.is_active else None
    if department is None:
        raise DomainError(_("Choose an active person of marketing, sales or service."), field="user")
    if role not in TeamRole.values:
        raise DomainError(_("Choose a role of the account team."), field="role", code="invalid_choice")
    member = AccountTeamMember(
        customer=customer, user=user, role=role, added_by=by if getattr(by, "pk", None) else None
    )
    permissions.require(by, permissions.TEAM, member)
    if role != TeamRole.ACCOUNT_OWNER and role != department:
        raise DomainError(
            _("%(name)s works in %(department)s: choose that role, or account owner.")
            % {"name": user.get_full_name() or user.get_username(), "department": roles.DEPARTMENT_LABELS[department]},
            field="role",
            code="other_department",
        )
    if customer.pk:
        team = AccountTeamMember.objects.filter(customer_id=customer.pk).exclude(pk__in=list(leaving))
        if team.filter(user=user, role=role).exists():
            raise Conflict(_("This person already has this role on the team."), field="user", code="already_on_team")
        owner = team.filter(role=TeamRole.ACCOUNT_OWNER).select_related("user").first()
        if role == TeamRole.ACCOUNT_OWNER and owner is not None:
            raise Conflict(
                _("%(name)s is the account owner; remove them first.")
                % {"name": owner.user.get_full_name() or owner.user.get_username()},
                field="role",
                code="account_owner_taken",
            )
    return member


@transaction.atomic
def add_team_member(*, customer: Customer, user, role: str, by, now=None) -> AccountTeamMember:
    """Put `user` on the customer's account team in `role`; they are told unless they added themselves.

    Raises what check_team_member raises.
    """
    now = now or timezone.now()
    # The customer row serializes changes of its team; the unique constraints stand behind it (SQLite has no lock).
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    member = check_team_member(customer=customer, user=user, role=role, by=by)
    member.added_at = now
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError:
        check_team_member(customer=customer, user=user, role=role, by=by)  # names the rule a concurrent add broke
        raise
    if user.pk != getattr(by, "pk", None):
        notify(
            recipients=[user],
            kind="customers.account_team",
            message=_("You are now on the account team of %(customer)s (%(role)s).")
            % {"customer": customer.name, "role": member.get_role_display()},
            url=reverse("customers:customer-detail", args=[customer.pk]),
        )
    return member


@transaction.atomic
def remove_team_member(*, member: AccountTeamMember, by) -> None:
    """Take a member off the customer's account team; one already removed is left alone.

    Raises PermissionDenied (customers.permissions TEAM) and Conflict (field "merged_into": a merged customer).
    """
    customer = Customer.objects.select_for_update().get(pk=member.customer_id)
    member = AccountTeamMember.objects.select_related("user").filter(pk=member.pk, customer=customer).first()
    if member is None:
        return
    permissions.require(by, permissions.TEAM, member)
    refuse_tombstone(customer)
    member.delete()


# ---------------------------------------------------------------------------------------------------------------
# Channels, campaigns, channel spend


def _require_marketing(by) -> None:
    permissions.require(by, permissions.MARKETING_WRITE)


@transaction.atomic
def save_channel(*, by, channel: Channel | None = None, **fields) -> Channel:
    """Create or change a channel. Raises PermissionDenied, DomainError(field="code", code="unique")."""
    _require_marketing(by)
    channel = Channel.objects.select_for_update().get(pk=channel.pk) if channel else Channel()
    for name in ("code", "name", "is_active"):
        if name in fields:
            setattr(channel, name, fields[name])
    if Channel.objects.filter(code=channel.code).exclude(pk=channel.pk).exists():
        raise DomainError(_("A channel with this code exists."), field="code", code="unique")
    channel.save()
    return channel


@transaction.atomic
def save_campaign(*, by, campaign=None, **fields):
    """Create or change a campaign. Raises PermissionDenied, DomainError(field="ends_on")."""

    _require_marketing(by)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk) if campaign else Campaign()
    for name in ("name", "starts_on", "ends_on"):
        if name in fields:
            setattr(campaign, name, fields[name])
    if "budget" in fields:
        campaign.budget = None if fields["budget"] in (None, "") else parse_amount(fields["budget"], field="budget")
    if "channel" in fields:
        campaign.channel = _channel(fields["channel"])
    if campaign.starts_on and campaign.ends_on and campaign.ends_on < campaign.starts_on:
        raise DomainError(_("The campaign cannot end before it starts."), field="ends_on")
    campaign.save()
    return campaign


def parse_month(value) -> date:
    """ "YYYY-MM" (or a date) → the first day of that month; DomainError(field="month") otherwise."""
    if isinstance(value, date):
        return value.replace(day=1)
    try:
        year, month = str(value).strip().split("-")
        return date(int(year), int(month), 1)
    except (ValueError, TypeError):
        raise DomainError(_("Use the form YYYY-MM."), field="month") from None


@transaction.atomic
def save_channel_spend(*, by, spend=None, **fields):
    """Create or change a month's spend. Raises PermissionDenied, Conflict(field="month") for a booked month."""

    _require_marketing(by)
    spend = ChannelSpend.objects.select_for_update().get(pk=spend.pk) if spend else ChannelSpend()
    if "channel" in fields:
        spend.channel = _channel(fields["channel"])
    if "month" in fields:
        spend.month = parse_month(fields["month"])
    if "amount" in fields:
        spend.amount = parse_amount(fields["amount"])
    if ChannelSpend.objects.filter(channel=spend.channel, month=spend.month).exclude(pk=spend.pk).exists():
        raise Conflict(
            _("Spend for this channel and month is already booked; change that entry."), field="month", code="unique"
        )
    spend.save()
    return spend
