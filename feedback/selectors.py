"""Reads of the service loop, shaped for one screen each; every list costs a fixed number of queries."""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Prefetch, QuerySet
from django.db.models.functions import TruncMonth
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from config.timeline import TimelineEvent
from customers.models import Customer
from customers.selectors import detail_rows
from feedback import statuses
from feedback.models import (
    NPS_BUCKETS,
    ChangeKind,
    Complaint,
    ComplaintStatusChange,
    FollowUpTask,
    Insight,
    NpsCategory,
    NpsInvitation,
    NpsResponse,
)


def complaints() -> QuerySet[Complaint]:
    """Complaint rows with what a list renders (customer, owner, channel) in the same query."""
    return Complaint.objects.select_related("customer", "owner", "channel").order_by("-opened_at", "-pk")


def my_complaints(user) -> QuerySet[Complaint]:
    return complaints().filter(owner=user, status__in=statuses.ACTIVE).order_by("resolution_due_at", "pk")


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


def nps_responses() -> QuerySet[NpsResponse]:
    return NpsResponse.objects.select_related("customer", "entered_by", "follow_up").order_by("-answered_at", "-pk")


def nps_invitations() -> QuerySet[NpsInvitation]:
    return NpsInvitation.objects.select_related("customer").order_by("-created_at", "-pk")


def follow_ups() -> QuerySet[FollowUpTask]:
    return FollowUpTask.objects.select_related("customer", "owner", "nps_response", "lead").order_by("due_at", "pk")


def follow_up_detail(*, pk: int) -> FollowUpTask:
    return FollowUpTask.objects.select_related("customer", "owner", "nps_response", "lead", "done_by").get(pk=pk)


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


def timeline_events(customer_id: int, limit: int = 200) -> list[TimelineEvent]:
    """The service department's events of a customer, newest first: complaints and their history,
    NPS answers, follow-ups and insights routed to marketing. Five queries whatever the history length."""
    changes = (
        ComplaintStatusChange.objects.filter(complaint__customer_id=customer_id)
        .select_related("by", "complaint")
        .order_by("-at", "-pk")[:limit]
    )
    answers = NpsResponse.objects.filter(customer_id=customer_id).order_by("-answered_at", "-pk")[:limit]
    tasks = (
        FollowUpTask.objects.filter(customer_id=customer_id).select_related("done_by").order_by("-created_at")[:limit]
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
        url = reverse("feedback:follow-up-detail", args=[t.pk])
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
