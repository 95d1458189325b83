"""Reads of the service loop, shaped for one screen each; every list costs a fixed number of queries."""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import TruncMonth
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from config import home, roles, search, todo
from config.api.fields import MAX_ID
from config.models import Task, TaskKind
from config.timeline import TimelineEvent
from customers.models import Customer
from customers.selectors import detail_rows
from feedback import statuses
from feedback.models import (
    NPS_BUCKETS,
    ChangeKind,
    Complaint,
    ComplaintCategory,
    ComplaintStatusChange,
    Insight,
    InsightTag,
    NpsCategory,
    NpsInvitation,
    NpsResponse,
    nps_category,
)
from leads.models import Lead


def complaints() -> QuerySet[Complaint]:
    """Complaint rows with what a list renders (customer, owner, channel) in the same query."""
    return Complaint.objects.select_related("customer", "owner", "channel").order_by("-opened_at", "-pk")


def my_complaints(user) -> QuerySet[Complaint]:
    return complaints().filter(owner=user, status__in=statuses.ACTIVE).order_by("resolution_due_at", "pk")


HOME_ROWS = 8


def home_complaints(user, *, now: datetime | None = None) -> dict | None:
    """The home page's service panel: the user's open complaints (a service manager's or an admin's: the
    department's), the next due first, each with its SLA state, plus open, overdue, unassigned and resolved this
    week. None (no panel) outside service. Two queries."""
    if not roles.in_department(user, roles.SERVICE):
        return None
    now = now or timezone.now()
    manager = roles.is_manager_of(user, roles.SERVICE)
    active = Q(status__in=statuses.ACTIVE)
    mine = active if manager else active & Q(owner=user)
    week = home.week_start(now)
    numbers = Complaint.objects.filter(active | Q(resolved_at__gte=week)).aggregate(
        open=Count("pk", filter=mine),
        overdue=Count("pk", filter=mine & statuses.complaint_overdue(now)),
        unassigned=Count("pk", filter=active & Q(owner__isnull=True)),
        resolved_this_week=Count("pk", filter=Q(resolved_at__gte=week) & (Q() if manager else Q(owner=user)) & ~active),
    )
    # The next due time: the first response while none was given, then the resolution.
    next_due = Case(
        When(first_response_at__isnull=True, then=F("first_response_due_at")), default=F("resolution_due_at")
    )
    rows = (
        complaints()
        .filter(mine)
        .annotate(
            next_due_at=next_due,
            is_overdue=ExpressionWrapper(statuses.complaint_overdue(now), output_field=BooleanField()),
        )
        .order_by(F("next_due_at").asc(nulls_last=True), "pk")
    )
    return {"manager": manager, "now": now, "rows": list(rows[:HOME_ROWS]), **numbers}


def complaint_detail(*, pk: int) -> Complaint:
    return (
        Complaint.objects.select_related("customer", "owner", "channel", "order", "lead", "created_by")
        .prefetch_related(
            Prefetch(
                "status_changes", queryset=ComplaintStatusChange.objects.select_related("by").order_by("at", "pk")
            ),
            Prefetch("insights", queryset=Insight.objects.select_related("created_by").order_by("-created_at")),
        )
        .get(pk=pk)
    )


# Service follow-ups are tasks of these kinds (config.Task), about the won lead or the detractor answer.
FOLLOW_UP_KINDS = (TaskKind.ONBOARDING, TaskKind.DETRACTOR)


def nps_responses() -> QuerySet[NpsResponse]:
    """NPS answers with their customer, and their detractor follow-up's id and done time (`follow_up_id`,
    `follow_up_done_at`, null without one) in the same query."""
    # Through NpsResponse.tasks: the content type is looked up when the query runs, not when it is built.
    follow_up = Task.objects.filter(kind=TaskKind.DETRACTOR, nps_response=OuterRef("pk"))
    return (
        NpsResponse.objects.select_related("customer", "entered_by")
        .annotate(
            follow_up_id=Subquery(follow_up.values("pk")[:1]),
            follow_up_done_at=Subquery(follow_up.values("done_at")[:1]),
        )
        .order_by("-answered_at", "-pk")
    )


def nps_invitations() -> QuerySet[NpsInvitation]:
    return NpsInvitation.objects.select_related("customer").order_by("-created_at", "-pk")


def complaint_labels(ids: list[int]) -> dict[int, str]:
    """What a task list says a complaint is (config.about): its number and customer. One query."""
    rows = Complaint.objects.filter(pk__in=ids).values_list("pk", "customer__name")
    return {pk: _("Complaint #%(id)s · %(customer)s") % {"id": pk, "customer": name} for pk, name in rows}


def nps_labels(ids: list[int]) -> dict[int, str]:
    """What a task list says an NPS answer is (config.about): its score and customer. One query."""
    rows = NpsResponse.objects.filter(pk__in=ids).values_list("pk", "score", "customer__name")
    return {pk: _("NPS %(score)s · %(customer)s") % {"score": score, "customer": name} for pk, score, name in rows}


def follow_ups() -> QuerySet[Task]:
    """The service follow-ups (onboarding and detractor tasks) with their people, the soonest due first."""
    return todo.tasks().filter(kind__in=FOLLOW_UP_KINDS).order_by("due_at", "pk")


def insights() -> QuerySet[Insight]:
    return Insight.objects.select_related(
        "customer", "complaint", "nps_response", "created_by", "acknowledged_by"
    ).order_by("-created_at", "-pk")


def _bucket_counts() -> dict[str, Count]:
    return {
        "promoters": Count("pk", filter=NPS_BUCKETS[NpsCategory.PROMOTER]),
        "passives": Count("pk", filter=NPS_BUCKETS[NpsCategory.PASSIVE]),
        "detractors": Count("pk", filter=NPS_BUCKETS[NpsCategory.DETRACTOR]),
    }


def nps_counts(start: datetime, end: datetime, **filters) -> dict[str, int]:
    """Answers in [start, end): total, promoters (9–10), passives (7–8), detractors (0–6). One SQL aggregate.

    `filters` are NpsResponse lookups (e.g. customer__source_channel__code="web").
    """
    return NpsResponse.objects.filter(answered_at__gte=start, answered_at__lt=end, **filters).aggregate(
        total=Count("pk"),
        **_bucket_counts(),
    )


def nps_counts_by_month(start: datetime, end: datetime) -> list[dict]:
    """nps_counts() per calendar month of [start, end), oldest first, as rows with a `month` date. One query."""
    return list(
        NpsResponse.objects.filter(answered_at__gte=start, answered_at__lt=end)
        .annotate(month=TruncMonth("answered_at"))
        .values("month")
        .annotate(
            total=Count("pk"),
            **_bucket_counts(),
        )
        .order_by("month")
    )


def nps_score(counts: dict[str, int]) -> int | None:
    """NPS from nps_counts(): % promoters − % detractors, an integer −100…100 rounded half away from zero;
    None without answers. The one definition: the `nps` metric, the reports and the NPS page use it."""
    if not counts["total"]:
        return None
    exact = Decimal(100 * (counts["promoters"] - counts["detractors"])) / Decimal(counts["total"])
    return int(exact.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def complaint_counts_by_category(start: datetime, end: datetime) -> list[dict]:
    """Complaints opened in [start, end) per category: `{category, label, count}`, most first (ties in the category
    list's order), categories with complaints only. One grouped count."""
    counts = dict(
        Complaint.objects.filter(opened_at__gte=start, opened_at__lt=end)
        .order_by()
        .values("category")
        .annotate(n=Count("pk"))
        .values_list("category", "n")
    )
    rows = [
        {"category": code, "label": str(label), "count": counts[code]}
        for code, label in ComplaintCategory.choices
        if counts.get(code)
    ]
    return sorted(rows, key=lambda row: -row["count"])  # stable: ties keep the list's order


def complaint_sla_counts(start: datetime, end: datetime, *, now: datetime) -> dict[str, int]:
    """The complaints whose first-response (resolution) due time falls in [start, end), as far as decided at `now`:

    * `first_response_due`: answered, or due before `now` without an answer (still open: not decided yet);
    * `first_response_met`: answered by the due time;
    * `resolution_due`, `resolution_met`: the same for the resolution (a reopened complaint is due again).

    One aggregate over the due-time indexes.
    """
    first_due = Q(first_response_due_at__gte=start, first_response_due_at__lt=end)
    resolution_due = Q(resolution_due_at__gte=start, resolution_due_at__lt=end)
    return Complaint.objects.filter(first_due | resolution_due).aggregate(
        first_response_due=Count(
            "pk", filter=first_due & (Q(first_response_at__isnull=False) | Q(first_response_due_at__lt=now))
        ),
        first_response_met=Count("pk", filter=first_due & Q(first_response_at__lte=F("first_response_due_at"))),
        resolution_due=Count(
            "pk", filter=resolution_due & (Q(resolved_at__isnull=False) | Q(resolution_due_at__lt=now))
        ),
        resolution_met=Count("pk", filter=resolution_due & Q(resolved_at__lte=F("resolution_due_at"))),
    )


def detractor_themes(start: datetime, end: datetime) -> list[dict]:
    """What detractors (0–6) who answered in [start, end) complained about: the insight tags routed from their
    answers, `{tag, label, count}` with `count` the answers with that tag, most first (ties in the tag list's
    order). One grouped count."""
    detractors = NpsResponse.objects.filter(
        NPS_BUCKETS[NpsCategory.DETRACTOR], answered_at__gte=start, answered_at__lt=end
    ).values("pk")
    counts = dict(
        Insight.objects.filter(nps_response__in=detractors)
        .order_by()
        .values("tag")
        .annotate(n=Count("nps_response", distinct=True))
        .values_list("tag", "n")
    )
    rows = [
        {"tag": code, "label": str(label), "count": counts[code]}
        for code, label in InsightTag.choices
        if counts.get(code)
    ]
    return sorted(rows, key=lambda row: -row["count"])


def timeline_events(customer_id: int, limit: int = 200) -> list[TimelineEvent]:
    """The service department's events of a customer, newest first: complaints and their history,
    NPS answers, follow-ups and insights routed to marketing. Five queries whatever the history length."""
    changes = (
        ComplaintStatusChange.objects.filter(complaint__customer_id=customer_id)
        .select_related("by", "complaint")
        .order_by("-at", "-pk")[:limit]
    )
    answers = NpsResponse.objects.filter(customer_id=customer_id).order_by("-answered_at", "-pk")[:limit]
    about_customer = (
        todo.about_filter("lead", Lead.objects.filter(customer_id=customer_id).values("pk"))
        | todo.about_filter("nps_response", NpsResponse.objects.filter(customer_id=customer_id).values("pk"))
        | todo.about_filter("customer", [customer_id])
    )
    tasks = (
        Task.objects.filter(about_customer, kind__in=FOLLOW_UP_KINDS)
        .select_related("done_by")
        .order_by("-created_at", "-pk")[:limit]
    )
    routed = (
        Insight.objects.filter(customer_id=customer_id).select_related("created_by").order_by("-created_at")[:limit]
    )
    events: list[TimelineEvent] = []
    for change in changes:
        c = change.complaint
        url = reverse("feedback:complaint-detail", args=[c.pk])
        actor = _actor(change.by)
        if change.kind == ChangeKind.STATUS and not change.from_status:
            kind = "complaint.opened"
            text = _("Complaint #%(id)s opened (%(category)s, %(severity)s)") % {
                "id": c.pk,
                "category": c.get_category_display(),
                "severity": c.get_severity_display(),
            }
        elif change.kind == ChangeKind.STATUS:
            kind = "complaint.status_changed"
            text = _("Complaint #%(id)s: %(from)s → %(to)s") % {
                "id": c.pk,
                "from": change.get_from_status_display(),
                "to": change.get_to_status_display(),
            }
        else:
            kind = f"complaint.{change.kind}"
            text = _("Complaint #%(id)s: %(what)s") % {"id": c.pk, "what": change.get_kind_display()}
        events.append(TimelineEvent(at=change.at, department="service", kind=kind, text=text, url=url, actor=actor))
    for r in answers:
        events.append(
            TimelineEvent(
                at=r.answered_at,
                department="service",
                kind="nps.answered",
                text=_("NPS answer %(score)s (%(category)s)") % {"score": r.score, "category": _category_label(r)},
            )
        )
    for t in tasks:
        url = todo.task_url(t)
        events.append(
            TimelineEvent(
                at=t.created_at,
                department="service",
                kind=f"follow_up.{t.kind}.opened",
                text=_("%(kind)s opened") % {"kind": t.get_kind_display()},
                url=url,
            )
        )
        if t.done_at:
            events.append(
                TimelineEvent(
                    at=t.done_at,
                    department="service",
                    kind=f"follow_up.{t.kind}.done",
                    text=_("%(kind)s done: %(outcome)s") % {"kind": t.get_kind_display(), "outcome": t.outcome[:200]},
                    url=url,
                    actor=_actor(t.done_by),
                )
            )
    for i in routed:
        events.append(
            TimelineEvent(
                at=i.created_at,
                department="service",
                kind="insight.routed",
                text=_("Insight for marketing (%(tag)s): %(note)s")
                % {"tag": i.get_tag_display(), "note": i.note[:200]},
                url=reverse("feedback:insight-list"),
                actor=_actor(i.created_by),
            )
        )
    return sorted(events, key=lambda e: e.at, reverse=True)[:limit]


def _actor(user) -> str:
    return (user.get_full_name() or user.username) if user else ""


def _category_label(response: NpsResponse) -> str:
    return {"promoter": _("promoter"), "passive": _("passive"), "detractor": _("detractor")}[response.category]


def invitation_candidates(
    *, ordered_after=None, city: str = "", not_surveyed_days: int | None = None, limit: int = 1000
):
    """Customers with an email address matching the bulk-invitation filters, at most `limit`."""
    from datetime import datetime, time, timedelta

    qs = Customer.objects.filter(merged_into__isnull=True, identities__kind="email", identities__is_valid=True)
    if ordered_after:
        start = timezone.make_aware(datetime.combine(ordered_after, time.min))
        qs = qs.filter(orders__ordered_at__gte=start)
    if city:
        qs = qs.filter(city__iexact=city.strip())
    if not_surveyed_days:
        since = timezone.now() - timedelta(days=not_surveyed_days)
        qs = qs.exclude(nps_invitations__created_at__gte=since)
    return list(qs.distinct().only("pk").order_by("pk")[:limit])


def attach_customer_feedback(customer) -> None:
    """The customer 360's newest complaints and NPS answers, each linking to its full list when capped (2 queries)."""
    customer.recent_complaints, customer.all_complaints_url = detail_rows(
        Complaint.objects.filter(customer_id=customer.pk).order_by("-opened_at", "-pk"),
        reverse("feedback:complaint-list"),
        customer.pk,
    )
    customer.recent_nps, customer.all_nps_url = detail_rows(
        NpsResponse.objects.filter(customer_id=customer.pk).order_by("-answered_at", "-pk"),
        reverse("feedback:nps-list"),
        customer.pk,
    )


# --- the top bar's search (config.search) and the list exports --------------------------------------------------

_PK = 987654321  # stands for each row's id in a link reversed once per list


def search_complaints(text: str, limit: int) -> list[search.Hit]:
    """The global search's complaints (config.search): by number, the customer's name, or how the description
    starts; newest first, one query."""
    customers = Customer.objects.filter(search.text_match("name", text)).values("pk")
    found = [
        Complaint.objects.filter(customer_id__in=customers).values("pk"),
        Complaint.objects.filter(search.text_match("description", text, prefix=True)).values("pk"),
    ]
    number = text.removeprefix("#")
    if number.isdigit() and int(number) <= MAX_ID:
        found.append(Complaint.objects.filter(pk=int(number)).values("pk"))
    complaints = (
        Complaint.objects.filter(pk__in=search.any_of(*found))
        .select_related("customer")
        .only("pk", "status", "description", "customer__name")
        .order_by("-opened_at", "-pk")[:limit]
    )
    link = reverse("feedback:complaint-detail", args=[_PK]).replace(str(_PK), "{}")
    return [
        search.Hit(
            title=_("Complaint #%(id)s · %(customer)s") % {"id": complaint.pk, "customer": complaint.customer.name},
            detail=f"{complaint.get_status_display()} · {complaint.description[:80]}",
            url=link.format(complaint.pk),
        )
        for complaint in complaints
    ]


def _local(moment) -> str:
    return timezone.localtime(moment).isoformat() if moment else ""


COMPLAINT_EXPORT_HEADER = [
    "id",
    "customer_id",
    "customer",
    "category",
    "severity",
    "status",
    "owner",
    "channel",
    "opened_at",
    "first_response_due_at",
    "first_response_at",
    "resolution_due_at",
    "resolved_at",
    "description",
]


def complaint_export_rows(queryset):
    """Complaints (filtered, ordered) as CSV rows in COMPLAINT_EXPORT_HEADER's order: one query, read in chunks."""
    columns = (
        "pk",
        "customer_id",
        "customer__name",
        "category",
        "severity",
        "status",
        "owner__username",
        "channel__code",
        "opened_at",
        "first_response_due_at",
        "first_response_at",
        "resolution_due_at",
        "resolved_at",
        "description",
    )
    for row in queryset.values_list(*columns).iterator(chunk_size=2000):
        pk, customer_id, name, category, severity, status, owner, channel, *moments, description = row
        yield (
            [pk, customer_id, name, category, severity, status, owner or "", channel or ""]
            + [_local(moment) for moment in moments]
            + [description]
        )


NPS_EXPORT_HEADER = ["id", "customer_id", "customer", "score", "category", "comment", "source", "answered_at"]


def nps_export_rows(queryset):
    """NPS answers (filtered, ordered) as CSV rows in NPS_EXPORT_HEADER's order: one query, read in chunks."""
    columns = ("pk", "customer_id", "customer__name", "score", "comment", "source", "answered_at")
    for pk, customer_id, name, score, comment, source, at in queryset.values_list(*columns).iterator(2000):
        yield [pk, customer_id, name, score, nps_category(score), comment, source, _local(at)]
