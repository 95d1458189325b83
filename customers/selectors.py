"""Reads shaped for one screen or endpoint; every list here costs a fixed number of queries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import Group
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Lower, Replace, Right, Trim
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from config import roles, search, todo
from config.api.fields import MAX_ID
from config.models import Task
from config.money import format_money
from config.timeline import TimelineEvent
from customers import affinity, merging
from customers.identity import normalize_email, normalize_phone
from customers.models import (
    AccountTeamMember,
    Campaign,
    Customer,
    CustomerIdentity,
    IdentityKind,
    ImportJob,
    MergeRecord,
    Order,
    OrderLine,
    PointsEntry,
    Product,
    TeamRole,
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


def customer_labels(ids: list[int]) -> dict[int, str]:
    """What a task list says a customer is (config.about): the picker's label, for many customers in one query."""
    customers = Customer.objects.filter(pk__in=ids).only("pk", "name", "company", "city")
    return {customer.pk: _customer_label(customer) for customer in customers}


def pick_campaigns(typed: str, limit: int) -> list[tuple[int, str]]:
    campaigns = Campaign.objects.filter(name__icontains=typed).select_related("channel").order_by("name", "pk")
    return [(c.pk, f"{c.name} · {c.channel}") for c in campaigns[:limit]]


def campaign_label(pk: int) -> str | None:
    campaign = Campaign.objects.filter(pk=pk).only("pk", "name").first()
    return campaign.name if campaign else None


def _order_label(order: Order) -> str:
    reference = f" · {order.external_id}" if order.external_id else ""
    day = date_format(timezone.localtime(order.ordered_at))
    return f"#{order.pk}{reference} · {order.customer.name} · {format_money(order.amount)} · {day}"


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
    """The customer 360: identities, orders and the account team here; leads, complaints and NPS answers from
    their apps (8 queries)."""
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
    customer.team = account_team(customer_id=pk)
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
# Account teams

_ROLE_ORDER = {role: index for index, role in enumerate(TeamRole.values)}  # the account owner first


def team_members():
    """Members with their person and the person's department (a subquery, so permissions never query per row)."""
    department = Group.objects.filter(user=OuterRef("user_id"), name__in=roles.DEPARTMENTS).order_by("name")
    return AccountTeamMember.objects.select_related("user").annotate(
        member_department=Subquery(department.values("name")[:1])
    )


def _sorted_team(members) -> list[AccountTeamMember]:
    return sorted(members, key=lambda m: (_ROLE_ORDER.get(m.role, 99), member_name(m).lower(), m.pk))


def member_name(member: AccountTeamMember) -> str:
    return member.user.get_full_name() or member.user.get_username()


def account_team(customer_id: int) -> list[AccountTeamMember]:
    """The customer's account team, the account owner first, each with `user` and `member_department` (one query).

    Apps above customers tell these people of the customer's complaints and detractor answers."""
    return _sorted_team(team_members().filter(customer_id=customer_id))


# ---------------------------------------------------------------------------------------------------------------
# Merge preview


def customer_relations() -> list[tuple[type, str]]:
    """(model, FK field name) of every model pointing at Customer, discovered from the model graph.

    Later apps' models are included automatically. The tombstone link itself (Customer.merged_into) and the
    merge records are not "belongings" of a customer and never move.
    """
    out = []
    for rel in Customer._meta.related_objects:
        if not (rel.one_to_many or rel.one_to_one) or rel.related_model in (Customer, MergeRecord):
            continue
        out.append((rel.related_model, rel.field.name))
    return out


@dataclass
class BelongingCount:
    """How many rows of one kind each side has; the duplicate's all move to the survivor."""

    label: str
    survivor: int
    duplicate: int

    @property
    def after(self) -> int:
        return self.survivor + self.duplicate


@dataclass
class IdentityMove:
    """One of the duplicate's identities; identity values are unique, so each moves. `same_kind` are the survivor's
    identities of the same kind (and source system): the survivor then keeps both."""

    identity: CustomerIdentity
    same_kind: list[CustomerIdentity]


@dataclass
class TeamMove:
    """One of the duplicate's team members: it moves unless `collision` (merging.ALREADY_ON_TEAM or OWNER_TAKEN)."""

    member: AccountTeamMember
    collision: str


@dataclass
class MergePreview:
    survivor: Customer
    duplicate: Customer
    counts: list[BelongingCount]
    identities: list[IdentityMove]
    survivor_team: list[AccountTeamMember]
    team: list[TeamMove]


def _counted_relations() -> list[tuple[type, str]]:
    # Identities and team members are shown one by one instead of counted.
    return [(m, f) for m, f in customer_relations() if m not in (CustomerIdentity, AccountTeamMember)]


def merge_preview(*, survivor_id: int, duplicate_id: int) -> MergePreview:
    """Both customers side by side with what of the duplicate would move (3 queries, whatever either holds):
    the two customers with a count per related model and of the tasks about them (one subquery each), their
    identities, their teams.

    Raises Customer.DoesNotExist when either is missing."""
    relations = _counted_relations()
    counts = {
        f"belongings_{index}": Coalesce(
            Subquery(
                model._base_manager.filter(**{field: OuterRef("pk")})
                .order_by()
                .values(field)
                .annotate(n=Count("pk"))
                .values("n")[:1]
            ),
            0,
        )
        for index, (model, field) in enumerate(relations)
    }
    counts["tasks_about"] = todo.count_about("customer")  # tasks about the customer itself (config.todo.move_tasks)
    identities = Prefetch("identities", queryset=CustomerIdentity.objects.order_by("kind", "source_system", "value"))
    both = {
        c.pk: c
        for c in Customer.objects.filter(pk__in=[survivor_id, duplicate_id])
        .select_related("source_channel")
        .prefetch_related(identities)
        .annotate(**counts)
    }
    if survivor_id not in both or duplicate_id not in both:
        raise Customer.DoesNotExist
    survivor, duplicate = both[survivor_id], both[duplicate_id]
    teams: dict[int, list[AccountTeamMember]] = {survivor_id: [], duplicate_id: []}
    for member in team_members().filter(customer_id__in=[survivor_id, duplicate_id]):
        teams[member.customer_id].append(member)
    survivor_team, duplicate_team = _sorted_team(teams[survivor_id]), _sorted_team(teams[duplicate_id])
    kept = survivor.identities.all()
    return MergePreview(
        survivor=survivor,
        duplicate=duplicate,
        counts=[
            BelongingCount(
                label=capfirst(model._meta.verbose_name_plural),
                survivor=getattr(survivor, f"belongings_{index}"),
                duplicate=getattr(duplicate, f"belongings_{index}"),
            )
            for index, (model, _field) in enumerate(relations)
        ]
        + [
            BelongingCount(
                label=capfirst(Task._meta.verbose_name_plural),
                survivor=survivor.tasks_about,
                duplicate=duplicate.tasks_about,
            )
        ],
        identities=[
            IdentityMove(
                identity=identity,
                same_kind=[i for i in kept if (i.kind, i.source_system) == (identity.kind, identity.source_system)],
            )
            for identity in duplicate.identities.all()
        ],
        survivor_team=survivor_team,
        team=[TeamMove(member, merging.team_collision(member, survivor_team)) for member in duplicate_team],
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
                % {
                    "id": order.pk,
                    "amount": format_money(order.amount),
                    "channel": order.channel.name if order.channel else "",
                },
                url=url,
            )
        )
        if order.cancelled_at:
            events.append(
                TimelineEvent(
                    at=order.cancelled_at,
                    department="sales",
                    kind="order.cancelled",
                    text=_("Order #%(id)s cancelled: %(reason)s") % {"id": order.pk, "reason": order.cancel_reason},
                    url=reverse("customers:order-detail", args=[order.pk]),
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


# --- the top bar's search (config.search) and the list exports --------------------------------------------------

_PK = 987654321  # stands for each row's id in a link reversed once per list


# Identities typed exactly as stored once normalized (customers.identity): phones and emails however they are
# written; WeCom and WeChat ids and member cards as typed (trimmed); external ids of any source system.
_AS_TYPED_KINDS = (IdentityKind.WECOM, IdentityKind.WECHAT, IdentityKind.MEMBER_CARD)


def _identity_match(text: str) -> Q:
    """The identities whose value is `text`, each on the unique (kind, source_system, value) index."""
    match = Q(kind__in=_AS_TYPED_KINDS, source_system="", value=text) | Q(kind=IdentityKind.EXTERNAL, value=text)
    phone, email = normalize_phone(text), normalize_email(text)
    if phone:
        match |= Q(kind=IdentityKind.PHONE, source_system="", value=phone)
    if email:
        match |= Q(kind=IdentityKind.EMAIL, source_system="", value=email)
    return match


def search_customers(text: str, limit: int) -> list[search.Hit]:
    """The global search's customers (config.search): a name or company that holds `text`, or any identity whose
    normalized value is it (a phone in any spelling, an email in any case, a WeChat id, a member card), or the
    customer number. Exact identity matches first, then by name; merged-away customers never. One query."""
    identities = CustomerIdentity.objects.filter(_identity_match(text)).values("customer_id")
    found = [
        Customer.objects.filter(search.text_match("name", text)).values("pk"),
        Customer.objects.filter(search.text_match("company", text)).values("pk"),
        identities,
    ]
    number = text.removeprefix("#")
    if number.isdigit() and int(number) <= MAX_ID:
        found.append(Customer.objects.filter(pk=int(number)).values("pk"))
    exact = Case(When(pk__in=identities, then=Value(0)), default=Value(1), output_field=IntegerField())
    customers = (
        Customer.objects.filter(pk__in=search.any_of(*found), merged_into__isnull=True)
        .annotate(exact=exact)
        .only("pk", "name", "company", "city")
        .order_by("exact", "name", "pk")[:limit]
    )
    link = reverse("customers:customer-detail", args=[_PK]).replace(str(_PK), "{}")
    return [
        search.Hit(
            title=customer.name,
            detail=" · ".join(part for part in (customer.company, customer.city) if part),
            url=link.format(customer.pk),
        )
        for customer in customers
    ]


def _local(moment) -> str:
    return timezone.localtime(moment).isoformat() if moment else ""


ORDER_EXPORT_HEADER = ["id", "customer_id", "customer", "amount", "ordered_at", "channel", "external_id"]


def order_export_rows(queryset):
    """Orders (filtered, ordered) as CSV rows in ORDER_EXPORT_HEADER's order: one query, read in chunks."""
    columns = ("pk", "customer_id", "customer__name", "amount", "ordered_at", "channel__code", "external_id")
    for pk, customer_id, name, amount, at, channel, external_id in queryset.values_list(*columns).iterator(2000):
        yield [pk, customer_id, name, amount, _local(at), channel or "", external_id]


CAMPAIGN_EXPORT_HEADER = ["id", "name", "channel", "starts_on", "ends_on", "budget"]


def campaign_export_rows(queryset):
    """Campaigns (filtered, ordered) as CSV rows in CAMPAIGN_EXPORT_HEADER's order: one query, read in chunks."""
    columns = ("pk", "name", "channel__code", "starts_on", "ends_on", "budget")
    for pk, name, channel, starts, ends, budget in queryset.values_list(*columns).iterator(2000):
        yield [pk, name, channel, starts or "", ends or "", "" if budget is None else budget]


SPEND_EXPORT_HEADER = ["id", "channel", "channel_name", "month", "amount"]


def spend_export_rows(queryset):
    """Channel spend (filtered, ordered) as CSV rows in SPEND_EXPORT_HEADER's order: one query, read in chunks."""
    rows = queryset.values_list("pk", "channel__code", "channel__name", "month", "amount")
    for pk, channel, name, month, amount in rows.iterator(2000):
        yield [pk, channel, name, month.strftime("%Y-%m"), amount]


# --- orders and products ----------------------------------------------------------------------------------------

_CENT = Decimal("0.01")


def _money_text(value: Decimal) -> str:
    """A decimal as the API writes money (DRF's DecimalField): two decimals, never an exponent."""
    return f"{value.quantize(_CENT):f}"


def order_lines(order_ids: list[int]) -> dict[int, list[dict]]:
    """Each order's lines as the API shows them ({"product": sku, "name", "quantity", "unit_price", "total"}), in
    the order they were given, in one query."""
    found: dict[int, list[dict]] = {pk: [] for pk in order_ids}
    rows = OrderLine.objects.filter(order_id__in=order_ids).order_by("order_id", "pk")
    for order_id, sku, name, quantity, unit_price in rows.values_list(
        "order_id", "product__sku", "product__name", "quantity", "unit_price"
    ):
        found[order_id].append(
            {
                "product": sku,
                "name": name,
                "quantity": quantity,
                "unit_price": _money_text(unit_price),
                "total": _money_text(quantity * unit_price),
            }
        )
    return found


def order_detail(*, pk: int) -> Order:
    """The order page: the order with its customer, channel and who recorded it, and its lines with their products
    (2 queries). Raises Order.DoesNotExist."""
    order = Order.objects.select_related("customer", "channel", "created_by").get(pk=pk)
    order.line_rows = list(OrderLine.objects.filter(order_id=pk).select_related("product").order_by("pk"))
    for line in order.line_rows:
        line.total = line.quantity * line.unit_price
    return order


def product_sales(*, product_id: int) -> dict:
    """What a product sold over orders not cancelled: units, revenue, orders and customers (one query)."""
    lines = OrderLine.objects.filter(product_id=product_id, order__cancelled_at__isnull=True)
    totals = lines.aggregate(
        units=Sum("quantity"),
        revenue=Sum(F("quantity") * F("unit_price"), output_field=DecimalField(max_digits=20, decimal_places=2)),
        orders=Count("order_id", distinct=True),
        customers=Count("order__customer_id", distinct=True),
    )
    return {
        "units": totals["units"] or 0,
        "revenue": totals["revenue"] or Decimal("0.00"),
        "orders": totals["orders"],
        "customers": totals["customers"],
    }


def product_detail(*, pk: int) -> Product:
    """The product page: the product, its sales (product_sales) and its lines of the latest recorded orders with
    their customers, capped at DETAIL_LIST_SIZE with the link to the orders of this SKU when there are more (3 queries).
    Raises Product.DoesNotExist."""
    product = Product.objects.get(pk=pk)
    product.sales = product_sales(product_id=pk)
    lines = list(
        OrderLine.objects.filter(product_id=pk)
        .select_related("order", "order__customer")
        .order_by("-order_id", "-pk")[: DETAIL_LIST_SIZE + 1]  # customers_line_product_idx (product, order)
    )
    for line in lines:
        line.total = line.quantity * line.unit_price
    product.recent_lines = lines[:DETAIL_LIST_SIZE]
    product.all_orders_url = (
        f"{reverse('customers:order-list')}?{urlencode({'product': product.sku})}"
        if len(lines) > DETAIL_LIST_SIZE
        else ""
    )
    return product


# --- loyalty ------------------------------------------------------------------------------------------------------

LOYALTY_PANEL_ENTRIES = 10


def points_ledger(customer_id: int):
    """A customer's points entries, newest first, with who recorded each (one query per page)."""
    return PointsEntry.objects.filter(customer_id=customer_id).select_related("created_by").order_by("-at", "-pk")


def attach_loyalty(customer: Customer) -> None:
    """The 360's loyalty panel: the newest points entries (one query); the tier, balance and member since are on
    the customer's row."""
    customer.recent_points = list(points_ledger(customer.pk)[:LOYALTY_PANEL_ENTRIES])


# --- recommendations ----------------------------------------------------------------------------------------------


def attach_recommendations(customer: Customer) -> None:
    """The 360's "Recommended next" panel: customers.affinity.recommendations (one query)."""
    customer.recommended = affinity.recommendations(customer.pk)
