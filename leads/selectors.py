"""Reads shaped for one screen each. Fixed query counts: no query per row, column or card."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Window,
    prefetch_related_objects,
)
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from config import roles
from config.timeline import TimelineEvent
from customers.selectors import detail_rows
from leads import permissions, stages
from leads.models import Activity, Lead, LeadStageChange, LostReason, RejectReason, Tag
from leads.stages import BOARD_STAGES, CLOSED_STAGES, MOVABLE, NEXT, PIPELINE, Stage

BOARD_PAGE_SIZE = 20
QUEUE_SECTION_SIZE = 25


def lead_rows(now: datetime | None = None) -> QuerySet[Lead]:
    """Leads as list rows and board cards: every rendered relation joined, tags in one prefetch."""
    breached = stages.sla_breached(now or timezone.now())
    return (
        Lead.objects.select_related("customer", "owner", "source_channel", "campaign")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.only("id", "name")))
        .annotate(sla_breached=ExpressionWrapper(breached, output_field=BooleanField()))
        .order_by("-created_at", "-pk")
    )


# What a lead list row shows (templates/leads/_lead_table.html), read as `.values()`: no model instances.
ROW_COLUMNS = (
    "pk",
    "stage",
    "is_high_intent",
    "sla_breached",
    "owner_id",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
    "customer_id",
    "customer__name",
    "customer__company",
    "source_channel__name",
    "campaign__name",
    "created_at",
)


def row_values(queryset: QuerySet[Lead]) -> QuerySet:
    """`lead_rows()` (filtered, ordered) as the plain rows a lead table shows; finish them with `dress_rows`."""
    return queryset.prefetch_related(None).values(*ROW_COLUMNS)


_PK = 987654321  # stands for each row's id in a link reversed once per page


def dress_rows(rows: list[dict]) -> list[dict]:
    """Add what a table row shows beyond its columns: its link, the stage label, tags (one query), pool, owner's
    name and the local creation day. Worked out here once per page, not per cell in the template."""
    tags = tag_names_by_lead([row["pk"] for row in rows]) if rows else {}
    labels = {stage: str(label) for stage, label in Stage.choices}  # translated once, not once per row
    link = reverse("leads:lead-detail", args=[_PK]).replace(str(_PK), "{}")
    for row in rows:
        row["url"] = link.format(row["pk"])
        row["created_on"] = timezone.localtime(row["created_at"]).date()
        row["stage_label"] = labels[row["stage"]]
        row["tags"] = tags[row["pk"]]
        row["in_pool"] = stages.in_pool(row["stage"], row["owner_id"])
        full_name = f"{row['owner__first_name']} {row['owner__last_name']}".strip()
        row["owner_name"] = full_name or row["owner__username"]
    return rows


def tag_names_by_lead(lead_ids: list[int]) -> dict[int, list[str]]:
    """Each lead's tag names in name order (as `lead.tags.all()` lists them), in one query."""
    names: dict[int, list[str]] = {pk: [] for pk in lead_ids}
    links = Lead.tags.through.objects.filter(lead_id__in=lead_ids).order_by("tag__name")
    for lead_id, name in links.values_list("lead_id", "tag__name"):
        names[lead_id].append(name)
    return names


def _lead_label(lead: Lead) -> str:
    interest = f" · {lead.interest}" if lead.interest else ""
    return f"#{lead.pk} · {lead.customer.name}{interest} · {lead.get_stage_display()}"


def pick_leads(typed: str, limit: int) -> list[tuple[int, str]]:
    """Leads by number, the customer's name or the interest, newest first (the lead pickers)."""
    match = Q(customer__name__icontains=typed) | Q(interest__icontains=typed)
    if typed.lstrip("#").isdigit():
        match |= Q(pk=int(typed.lstrip("#")))
    leads = Lead.objects.filter(match).select_related("customer").order_by("-created_at", "-pk")[:limit]
    return [(lead.pk, _lead_label(lead)) for lead in leads]


def lead_label(pk: int) -> str | None:
    lead = Lead.objects.filter(pk=pk).select_related("customer").first()
    return _lead_label(lead) if lead else None


# --- board ---------------------------------------------------------------------------------------------------


@dataclass
class BoardColumn:
    stage: str
    label: str
    count: int
    cards: list
    next_cursor: str = ""


def _cursor(lead: Lead) -> str:
    return f"{lead.created_at.isoformat()}|{lead.pk}"


def _parse_cursor(cursor: str) -> tuple[datetime, int] | None:
    stamp, _sep, pk = (cursor or "").partition("|")
    at = parse_datetime(stamp) if stamp else None
    return (at, int(pk)) if at and pk.isdigit() else None


def _newest_ids_per_stage(qs: QuerySet[Lead], stages, per_column: int) -> list[int]:
    """The newest `per_column` lead ids of each stage, in one query whatever the table size."""
    base = qs.order_by("-created_at", "-pk").values_list("pk", flat=True)
    if connection.features.supports_slicing_ordering_in_compound:
        # PostgreSQL: one index range scan (stage, -created_at) per column, glued with UNION ALL.
        parts = [base.filter(stage=stage)[:per_column] for stage in stages]
        return list(parts[0].union(*parts[1:], all=True)) if parts else []
    ranked = (
        qs.filter(stage__in=stages)
        .annotate(rank=Window(RowNumber(), partition_by=F("stage"), order_by=[F("created_at").desc(), F("pk").desc()]))
        .filter(rank__lte=per_column)
        .values_list("pk", flat=True)
    )
    return list(ranked)


def board(qs: QuerySet[Lead], *, per_column: int = BOARD_PAGE_SIZE, stages=BOARD_STAGES) -> list[BoardColumn]:
    """Board columns for the (filtered) lead queryset: counts by one GROUP BY, newest cards per column.

    Four queries in all (counts, card ids, cards, tags), at 300 leads as at 300,000.
    """
    counts = dict(qs.order_by().values_list("stage").annotate(n=Count("pk")).values_list("stage", "n"))
    wanted = [s for s in stages if counts.get(s)]
    ids = _newest_ids_per_stage(qs, wanted, per_column) if wanted else []
    by_stage: dict[str, list[Lead]] = {s: [] for s in stages}
    if ids:
        for lead in qs.filter(pk__in=ids).order_by("-created_at", "-pk"):
            by_stage[lead.stage].append(lead)
    columns = []
    for stage in stages:
        cards = by_stage[stage]
        count = counts.get(stage, 0)
        cursor = _cursor(cards[-1]) if cards and count > len(cards) else ""
        columns.append(BoardColumn(stage=stage, label=Stage(stage).label, count=count, cards=cards, next_cursor=cursor))
    return columns


def board_column_page(qs: QuerySet[Lead], *, stage: str, cursor: str, per_column: int = BOARD_PAGE_SIZE):
    """The next cards of one column after `cursor` (keyset on created_at, pk): (cards, next_cursor)."""
    qs = qs.filter(stage=stage).order_by("-created_at", "-pk")
    after = _parse_cursor(cursor)
    if after:
        at, pk = after
        qs = qs.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    cards = list(qs[: per_column + 1])
    more = len(cards) > per_column
    cards = cards[:per_column]
    return cards, (_cursor(cards[-1]) if more and cards else "")


def move_targets(user, lead: Lead) -> list[str]:
    """Stages this user may move this lead to from the board (move only; close needs a form)."""
    if lead.stage not in PIPELINE or not permissions.can(user, permissions.MOVE, lead):
        return []
    return [s for s in MOVABLE if s in NEXT[lead.stage]]


# --- the lead page -------------------------------------------------------------------------------------------


def lead_detail(*, pk: int) -> Lead:
    """One lead with everything its page and its API answer render (a fixed number of queries)."""
    return (
        Lead.objects.select_related(
            "customer",
            "owner",
            "created_by",
            "referred_by",
            "source_channel",
            "campaign",
            "won_order",
            "reclaim_blocked_user",
        )
        .prefetch_related(
            Prefetch("tags", queryset=Tag.objects.only("id", "name")),
            Prefetch("stage_changes", queryset=LeadStageChange.objects.select_related("by").order_by("at", "pk")),
            Prefetch("activities", queryset=Activity.objects.select_related("by").order_by("-at", "-pk")),
            "customer__identities",
        )
        .get(pk=pk)
    )


def lead_answer(lead: Lead) -> Lead:
    """What the API answers after a write: the written lead as its service left it (customer and channel read
    with it) and its tags (1 query)."""
    prefetch_related_objects([lead], Prefetch("tags", queryset=Tag.objects.only("id", "name")))
    return lead


def customer_history(lead: Lead, *, limit: int = 20) -> dict:
    """What sales sees before accepting: the customer's other leads and orders (two queries)."""
    other_leads = list(
        Lead.objects.filter(customer_id=lead.customer_id)
        .exclude(pk=lead.pk)
        .select_related("owner", "source_channel")
        .order_by("-created_at", "-pk")[:limit]
    )
    orders = list(lead.customer.orders.select_related("channel").order_by("-ordered_at", "-pk")[:limit])
    return {"leads": other_leads, "orders": orders}


@dataclass
class StagePeriod:
    stage: str
    label: str
    start: datetime
    end: datetime | None  # None: the lead is still in it (or it is final)
    by: object
    duration: timedelta | None

    @property
    def days(self) -> float | None:
        return None if self.duration is None else round(self.duration.total_seconds() / 86400, 1)


def stage_periods(changes: list[LeadStageChange], *, now: datetime | None = None) -> list[StagePeriod]:
    """Each stay in a stage, oldest first; an open lead's current stay runs until `now`."""
    now = now or timezone.now()
    periods = []
    for index, change in enumerate(changes):
        end = changes[index + 1].at if index + 1 < len(changes) else None
        final = change.to_stage in CLOSED_STAGES
        duration = None if final else (end or now) - change.at
        periods.append(
            StagePeriod(
                stage=change.to_stage,
                label=Stage(change.to_stage).label,
                start=change.at,
                end=end,
                by=change.by,
                duration=duration,
            )
        )
    return periods


def time_in_stage(changes: list[LeadStageChange], *, now: datetime | None = None) -> dict[str, timedelta]:
    """Total time per stage (a stage entered twice, e.g. after a backward move, adds up)."""
    totals: dict[str, timedelta] = {}
    for period in stage_periods(changes, now=now):
        if period.duration is not None:
            totals[period.stage] = totals.get(period.stage, timedelta()) + period.duration
    return totals


@dataclass
class CycleTime:
    duration: timedelta
    is_final: bool  # True once won; otherwise the time so far since the first handoff

    @property
    def days(self) -> float:
        return round(self.duration.total_seconds() / 86400, 1)


def cycle_time(changes: list[LeadStageChange], *, now: datetime | None = None) -> CycleTime | None:
    """From the first handoff to won (DESIGN.md cycle_time_days); for an open lead, the time so far.

    None before the first handoff and for a lost lead.
    """
    now = now or timezone.now()
    first = next((c.at for c in changes if c.to_stage == Stage.HANDED_OFF), None)
    if first is None:
        return None
    won = next((c.at for c in changes if c.to_stage == Stage.WON), None)
    if won is not None:
        return CycleTime(duration=won - first, is_final=True)
    if any(c.to_stage == Stage.LOST for c in changes):
        return None
    return CycleTime(duration=now - first, is_final=False)


def allowed_actions(user, lead: Lead) -> frozenset[str]:
    """Actions to draw on the lead page: permission (can) and the state machine (NEXT) both agree."""
    checks = {action: stages.may_start(action, lead.stage) for action in stages.ACTION_STAGES}
    pooled = stages.in_pool(lead.stage, lead.owner_id)
    checks[permissions.ACCEPT] &= not pooled
    checks[permissions.CLAIM] &= pooled
    checks[permissions.FLAG_HIGH_INTENT] &= not lead.is_high_intent
    checks[permissions.EDIT] = checks[permissions.ADD_ACTIVITY] = True
    return frozenset(action for action, ok in checks.items() if ok and permissions.can(user, action, lead))


# --- my queue ------------------------------------------------------------------------------------------------


@dataclass
class QueueSection:
    key: str
    title: str
    leads: list
    more_url: str = ""


def my_queue(user, *, now: datetime | None = None) -> list[QueueSection]:
    """The work waiting for this user, per role. Two queries per section, a fixed number of sections."""
    department = roles.department_of(user)
    is_admin = bool(getattr(user, "is_superuser", False))
    rows = lead_rows(now)
    list_url = reverse("leads:lead-list")
    sections: list[tuple[str, str, QuerySet, str]] = []
    if department == roles.MARKETING or is_admin:
        mine = Q() if roles.is_manager_of(user, roles.MARKETING) else Q(created_by=user)
        new = rows.filter(mine, stage=Stage.NEW)
        sections.append(("to_hand_off", _("To hand off"), new.filter(reject_reason=""), f"{list_url}?stage=new"))
        # The latest rejection first (the reject stamps updated_at), not buried under older rejected leads.
        rejected = new.exclude(reject_reason="").order_by("-updated_at", "-pk")
        sections.append(("rejected", _("Rejected, to nurture"), rejected, f"{list_url}?stage=new"))
    if department == roles.SALES or is_admin:
        manager = roles.is_manager_of(user, roles.SALES)
        mine = Q(owner__isnull=False) if manager else Q(owner=user)
        sections.append(
            (
                "awaiting_decision",
                _("Handoffs awaiting your decision"),
                rows.filter(mine, stage=Stage.HANDED_OFF).order_by("handed_off_at", "pk"),
                f"{list_url}?stage=handed_off" + ("" if manager else "&mine=true"),
            )
        )
        sections.append(
            (
                "pool",
                _("Lead pool"),
                rows.filter(stages.POOL).order_by("handed_off_at", "pk"),
                reverse("leads:pool"),
            )
        )
        sections.append(
            (
                "pipeline",
                _("Your pipeline"),
                # A seller sees their stalest leads first (few rows: the owner index); a manager sees the
                # team's newest, which the primary key index answers without sorting the whole pipeline.
                rows.filter(mine, stage__in=PIPELINE).order_by(
                    *(("-pk",) if manager else (F("last_activity_at").asc(nulls_first=True), "pk"))
                ),
                f"{list_url}?" + "&".join(f"stage={s}" for s in PIPELINE) + ("" if manager else "&mine=true"),
            )
        )
    return [
        QueueSection(key=key, title=title, leads=dress_rows(list(row_values(qs)[:QUEUE_SECTION_SIZE])), more_url=url)
        for key, title, qs, url in sections
    ]


def pool(now: datetime | None = None) -> QuerySet[Lead]:
    return lead_rows(now).filter(stages.POOL).order_by("handed_off_at", "pk")


# --- referral credit ---------------------------------------------------------------------------------------


def referral_credit(*, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """Per employee who brought leads (created in [start, end)): how many, how many won, won revenue.

    One aggregate query, highest revenue first: `[{"user_id", "username", "referred", "won", "won_amount"}]`.
    """
    qs = Lead.objects.filter(referred_by__isnull=False)
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lt=end)
    rows = (
        qs.order_by()
        .values("referred_by_id", "referred_by__username")
        .annotate(
            referred=Count("pk"),
            won=Count("pk", filter=Q(stage=Stage.WON)),
            won_amount=Sum("won_amount", filter=Q(stage=Stage.WON)),
        )
        .order_by(F("won_amount").desc(nulls_last=True), "-referred", "referred_by_id")
    )
    return [
        {
            "user_id": r["referred_by_id"],
            "username": r["referred_by__username"],
            "referred": r["referred"],
            "won": r["won"],
            "won_amount": r["won_amount"] or Decimal("0"),
        }
        for r in rows
    ]


# --- customer 360 timeline -----------------------------------------------------------------------------------


def _reason(change: LeadStageChange, choices) -> str:
    """The stored reason ("code" or "code: text") with the code's label."""
    code, _sep, text = change.reason.partition(": ")
    label = str(choices(code).label) if code in choices.values else code
    return f"{label}: {text}" if text else label


def _change_text(change: LeadStageChange) -> str:
    params = {"id": change.lead_id, "stage": Stage(change.to_stage).label}
    if not change.from_stage:
        return _("Lead #%(id)s created") % params
    if change.to_stage == Stage.HANDED_OFF and change.by_id is None:
        return _("Lead #%(id)s returned to the pool (no activity)") % params
    if change.to_stage == Stage.HANDED_OFF:
        return _("Lead #%(id)s handed off to sales") % params
    if change.from_stage == Stage.HANDED_OFF and change.to_stage == Stage.NEW:
        return _("Lead #%(id)s rejected by sales (%(reason)s)") % {**params, "reason": _reason(change, RejectReason)}
    if change.to_stage == Stage.LOST:
        return _("Lead #%(id)s lost (%(reason)s)") % {**params, "reason": _reason(change, LostReason)}
    return _("Lead #%(id)s moved to %(stage)s") % params


def _change_department(change: LeadStageChange) -> str:
    if change.by_id is None and change.from_stage:
        return ""  # the system recycled it
    if change.to_stage in (Stage.NEW, Stage.HANDED_OFF) and change.from_stage != Stage.HANDED_OFF:
        return "marketing"
    return "sales"


def timeline_events(customer_id: int, limit: int = 200) -> list[TimelineEvent]:
    """Stage changes and activities of the customer's leads, newest first (two queries)."""
    changes = (
        LeadStageChange.objects.filter(lead__customer_id=customer_id)
        .select_related("by")
        .order_by("-at", "-pk")[:limit]
    )
    activities = (
        Activity.objects.filter(lead__customer_id=customer_id).select_related("by").order_by("-at", "-pk")[:limit]
    )
    events = [
        TimelineEvent(
            at=c.at,
            department=_change_department(c),
            kind="lead.created" if not c.from_stage else "lead.stage_changed",
            text=_change_text(c),
            url=reverse("leads:lead-detail", args=[c.lead_id]),
            actor=c.by.get_username() if c.by else "",
        )
        for c in changes
    ]
    events += [
        TimelineEvent(
            at=a.at,
            department="sales",
            kind=f"lead.activity.{a.kind}",
            text=f"{a.get_kind_display()}: {a.body[:200]}",
            url=reverse("leads:lead-detail", args=[a.lead_id]),
            actor=a.by.get_username() if a.by else "",
        )
        for a in activities
    ]
    return sorted(events, key=lambda e: e.at, reverse=True)[:limit]


def attach_customer_leads(customer) -> None:
    """The customer 360's leads, newest first, with tags and owners (2 queries); more than the page shows link to
    the lead list filtered to the customer."""
    rows, customer.all_leads_url = detail_rows(
        Lead.objects.filter(customer_id=customer.pk)
        .select_related("owner", "source_channel", "campaign")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.only("id", "name")))
        .order_by("-created_at", "-pk"),
        reverse("leads:lead-list"),
        customer.pk,
    )
    customer.lead_rows = rows
