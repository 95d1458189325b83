"""Floors: what the measured views would cost if they did nothing but read the same rows.

Each floor answers JSON built from `.values_list()` rows of the same queryset, filter, order, position and
columns as the view it stands beside, behind the same middleware and for the same signed-in user (a session, or
an API token as the API takes it). Nothing here renders a template, builds a model instance or runs a
serializer. The write floors do the essential INSERT/UPDATE of a write with the ORM and nothing else (no
validation, no service rules, no events), so the load's floor keeps the same 80/20 mix.

Mounted only by the benchmark (demo/bench/urls.py); never part of the product.
"""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import wraps

from django.db import transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Q
from django.http import Http404, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import AuthenticationFailed

from config import roles
from config.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from config.tokens import TokenAuthentication
from customers.api.views import CustomerViewSet, OrderViewSet
from customers.models import Channel, Customer, CustomerIdentity, IdentityKind, Order
from feedback.api.views import ComplaintViewSet
from feedback.models import Complaint, NpsResponse
from leads import stages
from leads.api.views import LeadViewSet
from leads.models import Activity, Lead, LeadStageChange
from leads.stages import Stage
from marketing.models import Touchpoint

_tokens = TokenAuthentication()


def _signed_in(request):
    """The session's user, else the API token's (authenticated as the API does), else None."""
    if request.user.is_authenticated:
        return request.user
    try:
        found = _tokens.authenticate(request)
    except AuthenticationFailed:
        return None
    return found[0] if found else None


def floor(view):
    """A floor view: staff only, like the views it stands beside; CSRF-exempt like the token-authenticated API."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        user = _signed_in(request)
        if user is None:
            return JsonResponse({"detail": "sign in"}, status=401)
        if not roles.is_staff_member(user):
            return JsonResponse({"detail": "staff only"}, status=403)
        request.user = user
        return view(request, *args, **kwargs)

    return wrapped


def rows(queryset, columns: list[tuple[str, str]]) -> list[dict]:
    """`[{name: value}]` for (name, lookup) columns: one query, tuples zipped into dicts."""
    names = [name for name, _lookup in columns]
    return [dict(zip(names, row, strict=True)) for row in queryset.values_list(*[lookup for _n, lookup in columns])]


def _by_parent(queryset, parent: str, columns: list[tuple[str, str]], ids) -> dict:
    """A to-many relation of some parents in one query: `{parent id: [row, ...]}`."""
    grouped: dict = {}
    for row in rows(queryset.filter(**{f"{parent}__in": ids}), [("_parent", parent), *columns]):
        grouped.setdefault(row.pop("_parent"), []).append(row)
    return grouped


def _tags(lead_ids) -> dict:
    """Tag names per lead (the API's `tags`), in one query over the through table."""
    grouped: dict = {}
    through = Lead.tags.through.objects.filter(lead_id__in=lead_ids).order_by("pk")
    for lead_id, name in through.values_list("lead_id", "tag__name"):
        grouped.setdefault(lead_id, []).append(name)
    return grouped


# --- API lists ---------------------------------------------------------------------------------------------


def ordering_of(viewset) -> tuple[str, ...]:
    """The order of a cursor-paginated API list: its paginator's `ordering`, as DRF applies it."""
    ordering = viewset.pagination_class.ordering
    return (ordering,) if isinstance(ordering, str) else tuple(ordering)


def _lead_rows(queryset) -> list[dict]:
    found = rows(queryset, LEAD_COLUMNS)
    tags = _tags([r["id"] for r in found])
    for r in found:
        r["tags"] = tags.get(r["id"], [])
    return found


def _customer_rows(queryset) -> list[dict]:
    found = rows(queryset, CUSTOMER_COLUMNS)
    identities = _by_parent(
        CustomerIdentity.objects.order_by("pk"),
        "customer_id",
        [("kind", "kind"), ("value", "value"), ("is_valid", "is_valid")],
        [r["id"] for r in found],
    )
    url = reverse("customers:customer-detail", args=[0]).replace("/0/", "/{}/")
    for r in found:
        r["identities"] = identities.get(r["id"], [])
        r["rfm"] = {key: r.pop(f"rfm_{key}") for key in RFM_KEYS}
        r["url"] = url.format(r["id"])
    return found


def _complaint_rows(queryset) -> list[dict]:
    found = rows(queryset, COMPLAINT_COLUMNS)
    for r in found:
        r["waiting_on_customer"] = r["waiting_since"] is not None
    return found


LEAD_COLUMNS = [
    ("id", "id"),
    ("stage", "stage"),
    ("customer", "customer_id"),
    ("customer_name", "customer__name"),
    ("owner", "owner_id"),
    ("created_by", "created_by_id"),
    ("referred_by", "referred_by_id"),
    ("source_channel", "source_channel__code"),
    ("campaign", "campaign_id"),
    *[
        (name, name)
        for name in (
            "interest",
            "note",
            "is_high_intent",
            "reject_reason",
            "reject_reason_text",
            "lost_reason",
            "lost_reason_text",
            "deal_value",
            "won_amount",
        )
    ],
    ("won_order", "won_order_id"),
    *[
        (name, name)
        for name in (
            "first_handed_off_at",
            "handed_off_at",
            "accepted_at",
            "contacted_at",
            "closed_at",
            "last_activity_at",
            "created_at",
            "updated_at",
        )
    ],
]
RFM_KEYS = ("r", "f", "m", "segment", "recency_days", "frequency", "monetary")
CUSTOMER_COLUMNS = [
    *[(name, name) for name in ("id", "name", "company", "city", "language")],
    ("source_channel", "source_channel__code"),
    ("lifecycle_stage", "lifecycle_stage"),
    *[(f"rfm_{key}", f"rfm_{key}") for key in RFM_KEYS],
    ("merged_into", "merged_into_id"),
    *[(name, name) for name in ("merged_at", "created_at", "updated_at")],
]
ORDER_COLUMNS = [
    ("id", "id"),
    ("customer", "customer_id"),
    ("amount", "amount"),
    ("ordered_at", "ordered_at"),
    ("channel", "channel__code"),
    *[(name, name) for name in ("external_id", "created_at", "updated_at")],
]
COMPLAINT_COLUMNS = [
    ("id", "id"),
    ("customer", "customer_id"),
    ("order", "order_id"),
    ("lead", "lead_id"),
    ("category", "category"),
    ("severity", "severity"),
    ("channel", "channel__code"),
    ("owner", "owner_id"),
    *[
        (name, name)
        for name in (
            "status",
            "description",
            "resolution",
            "opened_at",
            "first_response_at",
            "first_response_due_at",
            "resolved_at",
            "resolution_due_at",
            "closed_at",
            "waiting_since",
            "updated_at",
        )
    ],
]


@dataclass
class ApiFloor:
    """An API list's floor: the list's rows (`base`, the view's filter) in its paginator's order."""

    base: object  # () -> QuerySet, the rows the API list serves
    render: object  # QuerySet -> list[dict] with the API's keys
    viewset: type
    ordering: tuple = field(init=False)

    def __post_init__(self):
        self.ordering = ordering_of(self.viewset)

    def page(self, *, size: int, position: str | None = None, **filters) -> list[dict]:
        """The `size` rows after `position` (a value of the first ordering field, as DRF's cursor holds it)."""
        queryset = self.base().filter(**filters)
        if position is not None:
            first = self.ordering[0]
            beyond = "lt" if first.startswith("-") else "gt"
            queryset = queryset.filter(**{f"{first.lstrip('-')}__{beyond}": position})
        return self.render(queryset.order_by(*self.ordering)[:size])


API_FLOORS = {
    "leads": ApiFloor(lambda: Lead.objects.all(), _lead_rows, LeadViewSet),
    "customers": ApiFloor(lambda: Customer.objects.filter(merged_into__isnull=True), _customer_rows, CustomerViewSet),
    "orders": ApiFloor(lambda: Order.objects.all(), lambda qs: rows(qs, ORDER_COLUMNS), OrderViewSet),
    "complaints": ApiFloor(lambda: Complaint.objects.all(), _complaint_rows, ComplaintViewSet),
}


def _page_size(request, default: int) -> int:
    try:
        return max(1, min(int(request.GET.get("page_size") or default), MAX_PAGE_SIZE))
    except ValueError:
        return default


def _list_answer(request, name: str) -> JsonResponse:
    filters = {}
    if name == "leads" and request.GET.get("stage"):  # as `GET /api/v1/leads/?stage=` filters
        filters["stage__in"] = request.GET.getlist("stage")
    found = API_FLOORS[name].page(size=_page_size(request, 50), position=request.GET.get("position"), **filters)
    return JsonResponse({"results": found, "next": None})


@floor
def api_list(request, name: str):
    """`?page_size=&position=`: the page after `position` (DRF's cursor position) in the list's order."""
    return _list_answer(request, name)


@floor
def lead_collection(request):
    """GET: the leads list's floor. POST (the load's lead create): a customer with an email identity, the lead and
    its first stage change, inserted in one transaction; no identity matching, validation, tags or events."""
    if request.method != "POST":
        return _list_answer(request, "leads")
    body = json.loads(request.body or b"{}")
    contact = body.get("contact") or {}
    channel = Channel.objects.filter(code=body.get("source_channel") or "").values_list("pk", flat=True).first()
    now = timezone.now()
    with transaction.atomic():
        customer = Customer.objects.create(name=contact.get("name") or "", source_channel_id=channel)
        if contact.get("email"):
            CustomerIdentity.objects.create(customer=customer, kind=IdentityKind.EMAIL, value=contact["email"].lower())
        lead = Lead.objects.create(
            customer=customer, stage_entered_at=now, created_by=request.user, source_channel_id=channel
        )
        LeadStageChange.objects.create(lead=lead, from_stage="", to_stage=Stage.NEW, at=now, by=request.user)
    return JsonResponse({"id": lead.pk, "stage": lead.stage, "customer": customer.pk, "owner": None}, status=201)


@floor
def lead_item(request, pk: int):
    found = _lead_rows(Lead.objects.filter(pk=pk))
    if not found:
        raise Http404
    return JsonResponse(found[0])


@floor
def lead_activity(request, pk: int):
    """POST (the load's activity): the activity row and the lead's last_activity_at, in one transaction."""
    body = json.loads(request.body or b"{}")
    now = timezone.now()
    with transaction.atomic():
        if not Lead.objects.filter(pk=pk).update(last_activity_at=now, updated_at=now):
            raise Http404
        activity = Activity.objects.create(
            lead_id=pk, kind=body.get("kind") or "note", body=body.get("body") or "", by=request.user, at=now
        )
    return JsonResponse({"id": activity.pk, "kind": activity.kind, "body": activity.body, "at": now}, status=201)


@floor
def customer_item(request, pk: int):
    found = _customer_rows(Customer.objects.filter(pk=pk))
    if not found:
        raise Http404
    return JsonResponse(found[0])


@floor
def trivial(request):
    """The cheapest JSON answer behind the middleware: a reference beside metrics and boards."""
    return JsonResponse({"ok": True})


@floor
def overlap(request):
    """The channel overlap's floor: the period's touchpoints counted per channel, one `.values()` aggregate over
    the same rows of the same index (at, channel, customer) that the overlap reads, with no per-customer work."""
    start, end = (date.fromisoformat(request.GET[name]) for name in ("start", "end"))
    start_at, end_at = (timezone.make_aware(datetime.combine(day, time.min)) for day in (start, end))
    touches = Touchpoint.objects.filter(at__gte=start_at, at__lt=end_at).order_by().values("channel_id")
    return JsonResponse({"channels": list(touches.annotate(touches=Count("*")).values_list("channel_id", "touches"))})


# --- list pages ----------------------------------------------------------------------------------------------


def _person(prefix: str) -> list[tuple[str, str]]:
    return [(f"{prefix}_{part}", f"{prefix}__{part}") for part in ("first_name", "last_name", "username")]


@dataclass
class PageFloor:
    """A keyset-paged list page's rows as JSON: the page's queryset, order and cursor (config.pagination)."""

    base: object  # () -> QuerySet
    order: str  # "-pk" or "[-]field", ties broken by pk the same way
    columns: list
    to_many: object = None  # list[dict] -> None, adds the to-many columns (tags, identities)

    def seek(self, queryset, after: str):
        """The rows after the cursor `after` in the page's order (config.pagination's cursor: pk, or "value,pk")."""
        beyond = "lt" if self.order.startswith("-") else "gt"
        name = self.order.lstrip("-")
        if name == "pk":
            return queryset.filter(**{f"pk__{beyond}": int(after)})
        raw, _comma, pk = after.rpartition(",")
        value = queryset.model._meta.get_field(name).to_python(raw)
        return queryset.filter(Q(**{f"{name}__{beyond}": value}) | Q(**{name: value, f"pk__{beyond}": int(pk)}))

    def order_by(self) -> list[str]:
        if self.order.lstrip("-") == "pk":
            return [self.order]
        return [self.order, "-pk" if self.order.startswith("-") else "pk"]

    def page(self, *, after: str | None, size: int = DEFAULT_PAGE_SIZE) -> list[dict]:
        queryset = self.base()
        if after:
            queryset = self.seek(queryset, after)
        found = rows(queryset.order_by(*self.order_by())[:size], self.columns)
        if self.to_many:
            self.to_many(found)
        return found

    def cursor(self, row: dict) -> str:
        """The page's own cursor format for a row holding `id` and, for a field order, that field."""
        name = self.order.lstrip("-")
        if name == "pk":
            return str(row["id"])
        return f"{row[name].isoformat()},{row['id']}"


def _lead_page_rows(queryset):
    breached = stages.sla_breached(timezone.now())
    return queryset.annotate(sla_breached=ExpressionWrapper(breached, output_field=BooleanField()))


def _add_tags(found: list[dict]) -> None:
    tags = _tags([r["id"] for r in found])
    for r in found:
        r["tags"] = tags.get(r["id"], [])


def _add_identities(found: list[dict]) -> None:
    identities = _by_parent(
        CustomerIdentity.objects.order_by("pk"),
        "customer_id",
        [("value", "value"), ("is_valid", "is_valid")],
        [r["id"] for r in found],
    )
    for r in found:
        r["identities"] = identities.get(r["id"], [])


PAGE_FLOORS = {
    # /leads/: number, customer and company, stage, high intent, SLA breached, owner (or pool), channel and
    # campaign, tags, created.
    "leads": PageFloor(
        lambda: _lead_page_rows(Lead.objects.all()),
        "-pk",
        [
            ("id", "id"),
            ("customer_name", "customer__name"),
            ("customer_company", "customer__company"),
            ("stage", "stage"),
            ("is_high_intent", "is_high_intent"),
            ("sla_breached", "sla_breached"),
            ("owner", "owner_id"),
            *_person("owner"),
            ("channel", "source_channel__name"),
            ("campaign", "campaign__name"),
            ("created_at", "created_at"),
        ],
        _add_tags,
    ),
    # /customers/: name, company, city, identities, lifecycle stage, RFM segment and scores.
    "customers": PageFloor(
        lambda: Customer.objects.filter(merged_into__isnull=True),
        "-pk",
        [
            *[(name, name) for name in ("id", "name", "company", "city", "lifecycle_stage", "rfm_segment")],
            *[(name, name) for name in ("rfm_r", "rfm_f", "rfm_m")],
        ],
        _add_identities,
    ),
    # /feedback/complaints/: number, customer, category, severity, status and waiting, owner, both due times.
    "complaints": PageFloor(
        lambda: Complaint.objects.all(),
        "-opened_at",
        [
            ("id", "id"),
            ("customer_name", "customer__name"),
            *[(name, name) for name in ("category", "severity", "status", "waiting_since", "opened_at")],
            ("owner", "owner_id"),
            *_person("owner"),
            *[(name, name) for name in ("first_response_due_at", "first_response_at")],
            *[(name, name) for name in ("resolution_due_at", "resolved_at")],
        ],
    ),
}


@floor
def page_list(request, name: str):
    spec = PAGE_FLOORS.get(name)
    if spec is None:
        raise Http404
    return JsonResponse({"rows": spec.page(after=request.GET.get("after") or None)})


# --- detail pages --------------------------------------------------------------------------------------------

DETAIL_ROWS = 100  # customers.selectors.DETAIL_LIST_SIZE: rows per list on the customer 360
HISTORY_ROWS = 20  # leads.selectors.customer_history's limit


@floor
def lead_page(request, pk: int):
    """/leads/<pk>/: the lead with its customer, owner, channel and campaign, tags, the whole stage history and
    every activity (with who), the customer's identities, other leads and orders."""
    found = rows(
        _lead_page_rows(Lead.objects.filter(pk=pk)),
        [
            *LEAD_COLUMNS,
            ("customer_company", "customer__company"),
            ("customer_city", "customer__city"),
            *_person("owner"),
            *_person("created_by"),
            ("channel_name", "source_channel__name"),
            ("campaign_name", "campaign__name"),
            ("sla_breached", "sla_breached"),
        ],
    )
    if not found:
        raise Http404
    lead = found[0]
    lead["tags"] = _tags([pk]).get(pk, [])
    by = [("by", "by_id"), *_person("by")]
    lead["stage_changes"] = rows(
        LeadStageChange.objects.filter(lead_id=pk).order_by("at", "pk"),
        [("from_stage", "from_stage"), ("to_stage", "to_stage"), ("at", "at"), *by],
    )
    lead["activities"] = rows(
        Activity.objects.filter(lead_id=pk).order_by("-at", "-pk"),
        [("id", "id"), ("kind", "kind"), ("body", "body"), ("at", "at"), *by],
    )
    customer = lead["customer"]
    lead["identities"] = rows(
        CustomerIdentity.objects.filter(customer_id=customer).order_by("pk"),
        [("kind", "kind"), ("value", "value"), ("is_valid", "is_valid")],
    )
    lead["other_leads"] = rows(
        Lead.objects.filter(customer_id=customer).exclude(pk=pk).order_by("-created_at", "-pk")[:HISTORY_ROWS],
        [
            ("id", "id"),
            ("stage", "stage"),
            ("created_at", "created_at"),
            *_person("owner"),
            ("channel", "source_channel__name"),
        ],
    )
    lead["orders"] = rows(
        Order.objects.filter(customer_id=customer).order_by("-ordered_at", "-pk")[:HISTORY_ROWS],
        [("id", "id"), ("amount", "amount"), ("ordered_at", "ordered_at"), ("channel", "channel__name")],
    )
    return JsonResponse(lead)


@floor
def customer_page(request, pk: int):
    """/customers/<pk>/ (the 360): the customer, its identities, the newest 100 orders, leads (with tags),
    complaints and NPS answers, and the newest 100 stage changes of its leads (the timeline's bulk)."""
    found = rows(
        Customer.objects.filter(pk=pk),
        [*CUSTOMER_COLUMNS, ("channel_name", "source_channel__name")],
    )
    if not found:
        raise Http404
    customer = found[0]
    customer["identities"] = rows(
        CustomerIdentity.objects.filter(customer_id=pk).order_by("kind", "value"),
        [("kind", "kind"), ("value", "value"), ("is_valid", "is_valid"), ("created_at", "created_at")],
    )
    customer["orders"] = rows(
        Order.objects.filter(customer_id=pk).order_by("-ordered_at", "-pk")[:DETAIL_ROWS],
        [("id", "id"), ("amount", "amount"), ("ordered_at", "ordered_at"), ("channel", "channel__name")],
    )
    customer["leads"] = rows(
        Lead.objects.filter(customer_id=pk).order_by("-created_at", "-pk")[:DETAIL_ROWS],
        [
            *[(name, name) for name in ("id", "stage", "created_at", "closed_at", "won_amount")],
            *_person("owner"),
            ("channel", "source_channel__name"),
            ("campaign", "campaign__name"),
        ],
    )
    _add_tags(customer["leads"])
    customer["complaints"] = rows(
        Complaint.objects.filter(customer_id=pk).order_by("-opened_at", "-pk")[:DETAIL_ROWS],
        [(name, name) for name in ("id", "category", "severity", "status", "opened_at", "resolved_at")],
    )
    customer["nps"] = rows(
        NpsResponse.objects.filter(customer_id=pk).order_by("-answered_at", "-pk")[:DETAIL_ROWS],
        [(name, name) for name in ("id", "score", "comment", "answered_at")],
    )
    customer["timeline"] = rows(
        LeadStageChange.objects.filter(lead__customer_id=pk).order_by("-at", "-pk")[:DETAIL_ROWS],
        [("lead", "lead_id"), ("from_stage", "from_stage"), ("to_stage", "to_stage"), ("at", "at"), *_person("by")],
    )
    return JsonResponse(customer)
