"""Reads shaped for one screen or endpoint; every list here costs a fixed number of queries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Exists, F, Max, Min, OuterRef, Prefetch, Q, Value
from django.db.models.functions import Lower, Replace, Right, Trim
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from config.timeline import TimelineEvent
from customers.identity import normalize_email, normalize_phone
from customers.models import (
    Campaign,
    Customer,
    CustomerIdentity,
    IdentityKind,
    ImportJob,
    MergeRecord,
    Order,
)


def customer_base():
    """Customers as lists show them: the source channel joined, identities in one extra query."""
    return Customer.objects.select_related("source_channel", "merged_into").prefetch_related(
        Prefetch("identities", queryset=CustomerIdentity.objects.only("id", "customer_id", "kind", "value", "is_valid"))
    )


def live_customers():
    return customer_base().filter(merged_into__isnull=True)


def customer_search(q: str, limit: int = 10) -> list[Customer]:
    """Live customers matching a phone, an email or part of a name or company (the customer pickers)."""
    q = (q or "").strip()
    if len(q) < 2:
        return []
    match = Q(name__icontains=q) | Q(company__icontains=q)
    values = {v for v in (normalize_phone(q), normalize_email(q)) if v}
    if values:
        match |= Q(identities__value__in=values)
    if q.isdigit():
        match |= Q(pk=int(q))
    return list(
        Customer.objects.filter(match, merged_into__isnull=True)
        .distinct()
        .only("pk", "name", "company", "city")
        .order_by("name", "pk")[:limit]
    )


def _customer_label(customer: Customer) -> str:
    return " · ".join(part for part in (customer.name, customer.company, customer.city) if part) + f" #{customer.pk}"


def pick_customers(typed: str, limit: int) -> list[tuple[int, str]]:
    return [(c.pk, _customer_label(c)) for c in customer_search(typed, limit)]


def customer_label(pk: int) -> str | None:
    customer = Customer.objects.filter(pk=pk).only("pk", "name", "company", "city").first()
    return _customer_label(customer) if customer else None


def pick_campaigns(typed: str, limit: int) -> list[tuple[int, str]]:
    campaigns = Campaign.objects.filter(name__icontains=typed).select_related("channel").order_by("name", "pk")
    return [(c.pk, f"{c.name} · {c.channel}") for c in campaigns[:limit]]


def campaign_label(pk: int) -> str | None:
    campaign = Campaign.objects.filter(pk=pk).only("pk", "name").first()
    return campaign.name if campaign else None


def _order_label(order: Order) -> str:
    reference = f" · {order.external_id}" if order.external_id else ""
    return f"#{order.pk}{reference} · {order.customer.name} · {order.amount} · {order.ordered_at:%Y-%m-%d}"


def pick_orders(typed: str, limit: int) -> list[tuple[int, str]]:
    """Orders by number, external id or the customer's name, newest first."""
    match = Q(external_id__iexact=typed) | Q(customer__name__icontains=typed)
    if typed.lstrip("#").isdigit():
        match |= Q(pk=int(typed.lstrip("#")))
    orders = Order.objects.filter(match).select_related("customer").order_by("-ordered_at", "-pk")[:limit]
    return [(order.pk, _order_label(order)) for order in orders]


def order_label(pk: int) -> str | None:
    order = Order.objects.filter(pk=pk).select_related("customer").first()
    return _order_label(order) if order else None


def identities_by_customer(customer_ids: list[int]) -> dict[int, list[dict]]:
    """Each customer's identities as `customer.identities.all()` orders them, in one query."""
    found: dict[int, list[dict]] = {pk: [] for pk in customer_ids}
    rows = CustomerIdentity.objects.filter(customer_id__in=customer_ids).order_by("kind", "value")
    for customer_id, kind, value, is_valid in rows.values_list("customer_id", "kind", "value", "is_valid"):
        found[customer_id].append({"kind": kind, "value": value, "is_valid": is_valid})
    return found


def detail_urls(customer_ids: list[int]) -> dict[int, str]:
    return {pk: reverse("customers:customer-detail", args=[pk]) for pk in customer_ids}


# Apps above customers add their parts of the 360 page and the timeline (registered in their AppConfig.ready()).
_detail_parts: list[Callable[[Customer], None]] = []
_timeline_sources: list[Callable[[int, int], list[TimelineEvent]]] = []


# Rows per list on the customer 360; a longer list links to its full, keyset-paged page (detail_rows).
DETAIL_LIST_SIZE = 100


def detail_rows(queryset, list_url: str, customer_id: int) -> tuple[list, str]:
    """A 360 sub-list: its first DETAIL_LIST_SIZE rows, and the URL of the full list filtered to the customer
    ("show all") when there are more, else "". One query."""
    rows = list(queryset[: DETAIL_LIST_SIZE + 1])
    more = f"{list_url}?{urlencode({'customer': customer_id})}" if len(rows) > DETAIL_LIST_SIZE else ""
    return rows[:DETAIL_LIST_SIZE], more


def register_detail_part(attach: Callable[[Customer], None]) -> None:
    """`attach(customer)` sets the attributes its part of the 360 page renders, in a fixed number of queries;
    a list it attaches is capped with detail_rows, which gives the "show all" link to its keyset-paged page."""
    if attach not in _detail_parts:
        _detail_parts.append(attach)


def register_timeline_source(events: Callable[[int, int], list[TimelineEvent]]) -> None:
    """`events(customer_id, limit)` returns that app's timeline events of the customer."""
    if events not in _timeline_sources:
        _timeline_sources.append(events)


def customer_detail(*, pk: int) -> Customer:
    """The customer 360: identities and orders here; leads, complaints and NPS answers from their apps (7 queries)."""
    customer = (
        Customer.objects.select_related("source_channel", "merged_into")
        .prefetch_related(Prefetch("identities", queryset=CustomerIdentity.objects.order_by("kind", "value")))
        .get(pk=pk)
    )
    # The newest; a single customer, so a plain query costs what a prefetch would.
    customer.recent_orders, customer.all_orders_url = detail_rows(
        Order.objects.filter(customer_id=pk).select_related("channel").order_by("-ordered_at", "-pk"),
        reverse("customers:order-list"),
        pk,
    )
    for attach in _detail_parts:
        attach(customer)
    return customer


def merge_records(*, customer_id: int, limit: int = 20) -> list[MergeRecord]:
    return list(
        MergeRecord.objects.filter(Q(survivor_id=customer_id) | Q(duplicate_id=customer_id))
        .select_related("survivor", "duplicate", "merged_by", "undone_by")
        .order_by("-merged_at", "-pk")[:limit]
    )


# ---------------------------------------------------------------------------------------------------------------
# Timeline


def _own_events(customer_id: int, limit: int, *, customer=None, merges=None) -> list[TimelineEvent]:
    customer = customer or Customer.objects.only("pk", "name", "created_at").get(pk=customer_id)
    url = reverse("customers:customer-detail", args=[customer_id])
    events = [TimelineEvent(at=customer.created_at, department="", kind="customer.created", text=_("Customer created"))]
    for identity in CustomerIdentity.objects.filter(customer_id=customer_id).order_by("-created_at")[:limit]:
        events.append(
            TimelineEvent(
                at=identity.created_at,
                department="",
                kind="customer.identity_added",
                text=_("%(kind)s added: %(value)s") % {"kind": identity.get_kind_display(), "value": identity.value},
            )
        )
    for order in (
        Order.objects.filter(customer_id=customer_id).select_related("channel").order_by("-ordered_at")[:limit]
    ):
        events.append(
            TimelineEvent(
                at=order.ordered_at,
                department="sales",
                kind="order.placed",
                text=_("Order #%(id)s: %(amount)s %(channel)s")
                % {"id": order.pk, "amount": order.amount, "channel": order.channel.name if order.channel else ""},
                url=url,
            )
        )
    for record in merges if merges is not None else merge_records(customer_id=customer_id, limit=limit):
        other = record.duplicate if record.survivor_id == customer_id else record.survivor
        text = (
            _("Customer #%(id)s (%(name)s) merged into this customer")
            if record.survivor_id == customer_id
            else _("Merged into customer #%(id)s (%(name)s)")
        ) % {"id": other.pk, "name": other.name}
        events.append(
            TimelineEvent(
                at=record.merged_at,
                department="",
                kind="customer.merged",
                text=text,
                url=reverse("customers:customer-detail", args=[other.pk]),
                actor=record.merged_by.get_username() if record.merged_by else "",
            )
        )
        if record.undone_at:
            events.append(
                TimelineEvent(
                    at=record.undone_at,
                    department="",
                    kind="customer.merge_undone",
                    text=_("Merge with customer #%(id)s undone") % {"id": other.pk},
                    url=reverse("customers:customer-detail", args=[other.pk]),
                    actor=record.undone_by.get_username() if record.undone_by else "",
                )
            )
    return events


def customer_timeline(*, customer_id: int, limit: int = 200, customer=None, merges=None) -> list[TimelineEvent]:
    """Every department's events for the customer, newest first.

    `customer` and `merges` (already loaded by the 360 page) save their queries.
    """
    events = _own_events(customer_id, limit, customer=customer, merges=merges)
    for source in _timeline_sources:
        events += source(customer_id, limit)
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:limit]


# ---------------------------------------------------------------------------------------------------------------
# Data quality


def _phone_key(expression):
    """The last 11 digits of a phone value, ignoring spaces, dashes, brackets and a plus sign."""
    for char in (" ", "-", "(", ")", "+", "."):
        expression = Replace(expression, Value(char), Value(""))
    return Right(expression, 11)


@dataclass
class DuplicateGroup:
    reason: str  # phone | email | name_company
    key: str
    customers: list


def _groups(reason: str, base, key_expr, limit: int) -> list[DuplicateGroup]:
    keyed = base.annotate(dq_key=key_expr)
    # MIN <> MAX instead of COUNT(DISTINCT) > 1: the same groups, but the database may hash instead of sort.
    owner = "customer_id" if base.model is CustomerIdentity else "pk"
    keys = list(
        keyed.values("dq_key")
        .annotate(lo=Min(owner), hi=Max(owner))
        .filter(~Q(lo=F("hi")))
        .order_by("dq_key")
        .values_list("dq_key", flat=True)[:limit]
    )
    if not keys:
        return []
    if base.model is CustomerIdentity:
        pairs = list(keyed.filter(dq_key__in=keys).values_list("dq_key", "customer_id"))
        ids = {cid for _k, cid in pairs}
        customers = {c.pk: c for c in Customer.objects.filter(pk__in=ids).only("pk", "name", "company", "city")}
        by_key: dict[str, list] = {}
        for key, cid in pairs:
            if customers[cid] not in by_key.setdefault(key, []):
                by_key[key].append(customers[cid])
    else:
        by_key = {}
        for customer in keyed.filter(dq_key__in=keys).only("pk", "name", "company", "city").order_by("pk"):
            by_key.setdefault(customer.dq_key, []).append(customer)
    return [
        DuplicateGroup(reason, key, sorted(by_key[key], key=lambda c: c.pk)) for key in keys if len(by_key[key]) > 1
    ]


def data_quality(*, limit: int = 50) -> dict:
    """Customers with no contact method, invalid identities, and suspected duplicate groups (8 queries)."""
    # An anti-join on the (few) tombstones instead of joining every identity to its customer: 1.0 s -> 0.3 s
    # at 100,000 customers on PostgreSQL.
    live_identities = CustomerIdentity.objects.filter(
        ~Exists(Customer.objects.filter(pk=OuterRef("customer_id"), merged_into__isnull=False))
    )
    no_contact_q = live_customers().filter(
        ~Exists(CustomerIdentity.objects.filter(customer_id=OuterRef("pk"))),
    )
    invalid_q = (
        live_identities.filter(
            Q(is_valid=False)
            | Q(kind=IdentityKind.PHONE) & ~Q(value__startswith="+")
            | Q(kind=IdentityKind.EMAIL) & ~Q(value__contains="@")
        )
        .select_related("customer")
        .order_by("-customer_id", "pk")
    )
    duplicates = _groups(
        "phone", live_identities.filter(kind=IdentityKind.PHONE), _phone_key("value"), limit
    ) + _groups("email", live_identities.filter(kind=IdentityKind.EMAIL), Lower(Trim("value")), limit)
    named = Customer.objects.filter(merged_into__isnull=True).exclude(company="")
    name_key = Lower(Replace(Replace(Trim("name"), Value(" "), Value("")), Value("·"), Value("")))
    from django.db.models.functions import Concat

    duplicates += _groups("name_company", named, Concat(name_key, Value("|"), Lower(Trim("company"))), limit)
    return {
        "no_contact": list(no_contact_q.order_by("-pk")[:limit]),
        "invalid": list(invalid_q[:limit]),
        "duplicates": duplicates[: limit * 3],
    }


def import_jobs():
    """Import jobs with who started them; the page keyset-pages them newest first (created_at follows pk)."""
    return ImportJob.objects.select_related("created_by").order_by("-created_at", "-pk")
