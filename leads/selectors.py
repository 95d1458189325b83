"""Reads shaped for one screen each. Fixed query counts: no query per row, column or card."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import (
    Aggregate,
    BooleanField,
    Case,
    CharField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce, RowNumber, TruncMonth
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from config import home, roles, search
from config.api.fields import MAX_ID
from config.timeline import TimelineEvent
from customers.models import Customer
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
    "updated_at",
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
        row["updated_on"] = timezone.localtime(row["updated_at"]).date()
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


def lead_labels(ids: list[int]) -> dict[int, str]:
    """What a task list says a lead is (config.about): the picker's label, for many leads in one query."""
    leads = Lead.objects.filter(pk__in=ids).select_related("customer").only("interest", "stage", "customer__name")
    return {lead.pk: _lead_label(lead) for lead in leads}


def search_leads(text: str, limit: int) -> list[search.Hit]:
    """The global search's leads (config.search): by number, the customer's name or the interest, newest first;
    one query."""
    customers = Customer.objects.filter(search.text_match("name", text)).values("pk")
    found = [
        Lead.objects.filter(customer_id__in=customers).values("pk"),
        Lead.objects.filter(search.text_match("interest", text)).values("pk"),
    ]
    number = text.removeprefix("#")
    if number.isdigit() and int(number) <= MAX_ID:
        found.append(Lead.objects.filter(pk=int(number)).values("pk"))
    leads = (
        Lead.objects.filter(pk__in=search.any_of(*found))
        .select_related("customer")
        .only("pk", "stage", "interest", "customer__name")
        .order_by("-created_at", "-pk")[:limit]
    )
    link = reverse("leads:lead-detail", args=[_PK]).replace(str(_PK), "{}")
    return [
        search.Hit(
            title=_("Lead #%(id)s · %(customer)s") % {"id": lead.pk, "customer": lead.customer.name},
            detail=" · ".join(part for part in (lead.interest[:80], str(lead.get_stage_display())) if part),
            url=link.format(lead.pk),
        )
        for lead in leads
    ]


# The lead list's CSV (leads:lead-export): one row per lead, in the page's filters and order.
EXPORT_HEADER = [
    "id",
    "customer_id",
    "customer",
    "company",
    "stage",
    "owner",
    "source_channel",
    "campaign",
    "tags",
    "interest",
    "high_intent",
    "sla_breached",
    "created_at",
    "updated_at",
]


class _TagNames(Aggregate):
    """A lead's tag names, comma-separated in one cell (GROUP_CONCAT on SQLite, STRING_AGG on PostgreSQL)."""

    function = "GROUP_CONCAT"
    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="STRING_AGG", template="%(function)s(%(expressions)s, ', ')")

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="%(function)s(%(expressions)s, ', ')")


def export_rows(queryset: QuerySet[Lead]):
    """The (filtered, ordered) leads as CSV rows in EXPORT_HEADER's order: one query however many leads (tags as
    a subquery per row, not a prefetch per chunk), read in chunks."""
    tags = (
        Lead.tags.through.objects.filter(lead_id=OuterRef("pk"))
        .order_by()
        .values("lead_id")
        .annotate(names=_TagNames("tag__name"))
        .values("names")
    )
    labels = {stage: str(label) for stage, label in Stage.choices}
    rows = queryset.prefetch_related(None).annotate(tag_names=Subquery(tags, output_field=CharField()))
    columns = (
        "pk",
        "customer_id",
        "customer__name",
        "customer__company",
        "stage",
        "owner__username",
        "source_channel__code",
        "campaign__name",
        "tag_names",
        "interest",
        "is_high_intent",
        "sla_breached",
        "created_at",
        "updated_at",
    )
    for row in rows.values_list(*columns).iterator(chunk_size=2000):
        (pk, customer_id, name, company, stage, owner, channel, campaign, tag_names, interest, high, late, at, up) = row
        yield [
            pk,
            customer_id,
            name,
            company,
            labels[stage],
            owner or "",
            channel or "",
            campaign or "",
            tag_names or "",
            interest,
            "yes" if high else "no",
            "yes" if late else "no",
            timezone.localtime(at).isoformat(),
            timezone.localtime(up).isoformat(),
        ]


# --- board ---------------------------------------------------------------------------------------------------

# Each column shows the leads newest in their stage first, so a card just moved (or closed) tops its new column.
# A lead without stage_entered_at (none since the 0008 backfill) counts from its creation. The lead table indexes
# this very order (leads_lead_board_idx), so each column is one index range scan.
BOARD_ORDER = (F("board_since").desc(), F("pk").desc())


def board_since():
    return Coalesce(F("stage_entered_at"), F("created_at"))


_SUMS = DecimalField(max_digits=20, decimal_places=2)
_CENT = Decimal("0.01")


def board_value():
    """What a card is worth on the board: its won amount once won, else its deal value (None: not estimated)."""
    return Coalesce(F("won_amount"), F("deal_value"), output_field=DecimalField(max_digits=14, decimal_places=2))


@dataclass(frozen=True)
class DealValue:
    """A lead's worth on its page, as the board counts it: `value` (its won amount once won, else its deal value;
    None when not estimated) and `weighted`, the value times its stage's win probability (`percent`)."""

    value: Decimal | None
    percent: int
    weighted: Decimal | None


def deal_value(lead: Lead) -> DealValue:
    """One lead's board_value() and weighted value (board_sums for a single card), without a query."""
    value = lead.won_amount if lead.won_amount is not None else lead.deal_value
    percent = stages.WIN_PROBABILITY[lead.stage]
    weighted = None if value is None else (value * percent / 100).quantize(_CENT, rounding=ROUND_HALF_UP)
    return DealValue(value=value, percent=percent, weighted=weighted)


def _win_percent():
    """The lead's stage's win probability (leads.stages.WIN_PROBABILITY), as SQL."""
    whens = [When(stage=stage, then=Value(percent)) for stage, percent in stages.WIN_PROBABILITY.items()]
    return Case(*whens, default=Value(0), output_field=IntegerField())


@dataclass
class BoardColumn:
    stage: str
    label: str
    count: int
    cards: list
    next_cursor: str = ""
    total: Decimal | None = None  # the column's deal values (won amounts in won); None when no card has one
    weighted: Decimal | None = None  # total × the stage's win probability
    probability: int = 0  # percent


def board_sums(qs: QuerySet[Lead]) -> dict[str, dict]:
    """Per stage of the (filtered) leads: count, total value and weighted value, in one GROUP BY query.

    The weighted sum is Σ value × percent in SQL (exact: whole percents of cents) and is scaled to money here.
    """
    rows = (
        qs.order_by()
        .values("stage")
        .annotate(
            n=Count("pk"),
            total=Sum(board_value(), output_field=_SUMS),
            weighted=Sum(board_value() * _win_percent(), output_field=_SUMS),
        )
    )
    sums = {}
    for row in rows:
        weighted = row["weighted"]
        if weighted is not None:
            weighted = (Decimal(weighted) / 100).quantize(_CENT, rounding=ROUND_HALF_UP)
        sums[row["stage"]] = {"count": row["n"], "total": row["total"], "weighted": weighted}
    return sums


def _column(stage: str, sums: dict, cards: list, next_cursor: str = "") -> BoardColumn:
    found = sums.get(stage, {})
    return BoardColumn(
        stage=stage,
        label=Stage(stage).label,
        count=found.get("count", 0),
        cards=cards,
        next_cursor=next_cursor,
        total=found.get("total"),
        weighted=found.get("weighted"),
        probability=stages.WIN_PROBABILITY[stage],
    )


def board_heads(qs: QuerySet[Lead], *, stages) -> list[BoardColumn]:
    """The headers (count, total, weighted) of some columns without their cards: one query."""
    sums = board_sums(qs.filter(stage__in=stages))
    return [_column(stage, sums, []) for stage in stages]


def _cursor(lead: Lead) -> str:
    return f"{lead.board_since.isoformat()}|{lead.pk}"


def _parse_cursor(cursor: str) -> tuple[datetime, int] | None:
    """(board_since, pk) of the last card shown; None for no cursor or a malformed one."""
    stamp, _sep, pk = (cursor or "").partition("|")
    try:
        at = parse_datetime(stamp) if stamp else None
    except ValueError:  # well formed but no date, e.g. month 13
        return None
    return (at, int(pk)) if at and pk.isdigit() else None


def _newest_ids_per_stage(qs: QuerySet[Lead], stages, per_column: int) -> list[int]:
    """The first `per_column` lead ids of each stage in BOARD_ORDER, in one query whatever the table size."""
    base = qs.annotate(board_since=board_since()).order_by(*BOARD_ORDER).values_list("pk", flat=True)
    if connection.features.supports_slicing_ordering_in_compound:
        # PostgreSQL: one index range scan (leads_lead_board_idx) per column, glued with UNION ALL.
        parts = [base.filter(stage=stage)[:per_column] for stage in stages]
        return list(parts[0].union(*parts[1:], all=True)) if parts else []
    ranked = (
        qs.filter(stage__in=stages)
        .annotate(board_since=board_since())
        .annotate(rank=Window(RowNumber(), partition_by=F("stage"), order_by=list(BOARD_ORDER)))
        .filter(rank__lte=per_column)
        .values_list("pk", flat=True)
    )
    return list(ranked)


def _cards(qs: QuerySet[Lead]) -> QuerySet[Lead]:
    """Cards: `lead_rows()` plus who created the lead (a new lead's card names them) and its value, board order."""
    return (
        qs.select_related("created_by")
        .annotate(board_value=board_value(), board_since=board_since())
        .order_by(*BOARD_ORDER)
    )


def board(qs: QuerySet[Lead], *, per_column: int = BOARD_PAGE_SIZE, stages=BOARD_STAGES) -> list[BoardColumn]:
    """Board columns for the (filtered) lead queryset: counts and sums by one GROUP BY, first cards per column.

    Four queries in all (sums, card ids, cards, tags), at 300 leads as at 300,000.
    """
    sums = board_sums(qs)
    wanted = [s for s in stages if s in sums]
    ids = _newest_ids_per_stage(qs, wanted, per_column) if wanted else []
    by_stage: dict[str, list[Lead]] = {s: [] for s in stages}
    if ids:
        for lead in _cards(qs.filter(pk__in=ids)):
            by_stage[lead.stage].append(lead)
    columns = []
    for stage in stages:
        cards = by_stage[stage]
        more = sums.get(stage, {}).get("count", 0) > len(cards)
        columns.append(_column(stage, sums, cards, _cursor(cards[-1]) if cards and more else ""))
    return columns


def board_column_page(qs: QuerySet[Lead], *, stage: str, cursor: str, per_column: int = BOARD_PAGE_SIZE):
    """The next cards of one column after `cursor` (keyset on BOARD_ORDER): (cards, next_cursor)."""
    qs = _cards(qs.filter(stage=stage))
    after = _parse_cursor(cursor)
    if after:
        at, pk = after
        qs = qs.filter(Q(board_since__lt=at) | Q(board_since=at, pk__lt=pk))
    cards = list(qs[: per_column + 1])
    more = len(cards) > per_column
    cards = cards[:per_column]
    return cards, (_cursor(cards[-1]) if more and cards else "")


def board_card(qs: QuerySet[Lead], *, pk: int) -> Lead | None:
    """One card as the board draws it (None when the board's filter leaves it out): two queries."""
    return _cards(qs.filter(pk=pk)).first()


def board_lead(*, pk: int) -> Lead:
    """The lead a board action starts from (its stage, deal value and customer's name): one query."""
    return Lead.objects.select_related("customer").get(pk=pk)


def move_targets(user, lead: Lead) -> list[str]:
    """Stages this user may move this lead to from the board (move only; won and lost are `close_targets`)."""
    if lead.stage not in PIPELINE or not permissions.can(user, permissions.MOVE, lead):
        return []
    return [s for s in MOVABLE if s in NEXT[lead.stage]]


def close_targets(user, lead: Lead) -> list[str]:
    """Won and lost, when this user may close this lead now (the board's dialog asks the amount or the reason)."""
    if not stages.may_start("close", lead.stage) or not permissions.can(user, permissions.CLOSE, lead):
        return []
    return [s for s in CLOSED_STAGES if s in NEXT[lead.stage]]


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
    # The section the page pages through (keyset on this order) instead of showing its first rows only.
    page_order: str = ""
    rows: QuerySet | None = None


def my_queue(user, *, now: datetime | None = None) -> list[QueueSection]:
    """The work waiting for this user, per role. Two queries per section, a fixed number of sections.

    The handoffs awaiting the user's decision come newest first and are paged by the view (`page_order`, `rows`),
    so a fresh handoff is always on the first page however many older ones wait; the other sections show their
    first QUEUE_SECTION_SIZE rows and link to the full list.
    """
    department = roles.department_of(user)
    is_admin = bool(getattr(user, "is_superuser", False))
    rows = lead_rows(now)
    list_url = reverse("leads:lead-list")
    sections: list[tuple[str, str, QuerySet, str, str]] = []
    if department == roles.MARKETING or is_admin:
        mine = Q() if roles.is_manager_of(user, roles.MARKETING) else Q(created_by=user)
        new = rows.filter(mine, stage=Stage.NEW)
        sections.append(("to_hand_off", _("To hand off"), new.filter(reject_reason=""), f"{list_url}?stage=new", ""))
        # The latest rejection first (the reject stamps updated_at), not buried under older rejected leads.
        rejected = new.exclude(reject_reason="").order_by("-updated_at", "-pk")
        sections.append(("rejected", _("Rejected, to nurture"), rejected, f"{list_url}?stage=new", ""))
    if department == roles.SALES or is_admin:
        manager = roles.is_manager_of(user, roles.SALES)
        mine = Q(owner__isnull=False) if manager else Q(owner=user)
        sections.append(
            (
                "awaiting_decision",
                _("Handoffs awaiting your decision"),
                rows.filter(mine, stage=Stage.HANDED_OFF),
                f"{list_url}?stage=handed_off" + ("" if manager else "&mine=true"),
                "-handed_off_at",  # the newest handoff first, paged
            )
        )
        sections.append(
            (
                "pool",
                _("Lead pool"),
                # The newest arrivals here; the pool page lists the one waiting longest first, for claiming.
                rows.filter(stages.POOL).order_by("-handed_off_at", "-pk"),
                reverse("leads:pool"),
                "",
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
                "",
            )
        )
    return [
        QueueSection(
            key=key,
            title=title,
            leads=[],
            more_url=url,
            page_order=order,
            rows=row_values(qs).values(*ROW_COLUMNS, order.lstrip("-")),  # the page's cursor reads its order
        )
        if order
        else QueueSection(
            key=key, title=title, leads=dress_rows(list(row_values(qs)[:QUEUE_SECTION_SIZE])), more_url=url
        )
        for key, title, qs, url, order in sections
    ]


# --- the home page's panel (config.home, registered in leads/subscriptions.py) -------------------------------

HOME_ROWS = 8
_HOME_COLUMNS = (
    "pk",
    "stage",
    "is_high_intent",
    "sla_breached",
    "interest",
    "reject_reason",
    "owner_id",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
    "customer__name",
    "customer__company",
    "handed_off_at",
    "created_at",
    "stage_entered_at",
)


def _home_rows(qs: QuerySet[Lead]) -> list[dict]:
    """The first HOME_ROWS of `qs` (lead_rows, filtered and ordered) as panel rows, in one query: the customer's
    name linking to the lead, stage, owner, reject reason and, while handed off, when the acceptance SLA is due."""
    link = reverse("leads:lead-detail", args=[_PK]).replace(str(_PK), "{}")
    stage_labels = {stage: str(label) for stage, label in Stage.choices}
    reasons = {code: str(label) for code, label in RejectReason.choices}
    rows = list(qs.prefetch_related(None).values(*_HOME_COLUMNS)[:HOME_ROWS])
    for row in rows:
        row["url"] = link.format(row["pk"])
        row["stage_label"] = stage_labels[row["stage"]]
        row["reject_label"] = reasons.get(row["reject_reason"], "")
        row["in_pool"] = stages.in_pool(row["stage"], row["owner_id"])
        full_name = f"{row['owner__first_name']} {row['owner__last_name']}".strip()
        row["owner_name"] = full_name or row["owner__username"] or ""
        handed_off = row["stage"] == Stage.HANDED_OFF and row["handed_off_at"]
        row["sla_due_at"] = stages.handoff_sla_due(row["handed_off_at"]) if handed_off else None
    return rows


def home_sales(user, *, now: datetime | None = None) -> dict:
    """A seller's handoffs awaiting a decision (theirs and the pool's; a manager: the department's), newest first
    with their acceptance SLA, plus a few numbers: open leads by stage, accepted this week, breaches. Two queries."""
    now = now or timezone.now()
    manager = roles.is_manager_of(user, roles.SALES)
    mine = Q(owner__isnull=False) if manager else Q(owner=user)
    awaiting = Q(stage=Stage.HANDED_OFF) if manager else Q(stage=Stage.HANDED_OFF) & (Q(owner=user) | stages.POOL)
    week = home.week_start(now)
    numbers = Lead.objects.filter(mine | awaiting).aggregate(
        awaiting=Count("pk", filter=awaiting),
        awaiting_breached=Count("pk", filter=awaiting & stages.handoff_sla_breached(now)),
        not_contacted=Count("pk", filter=mine & stages.contact_sla_breached(now)),
        accepted_this_week=Count("pk", filter=mine & Q(accepted_at__gte=week)),
        won_this_week=Count("pk", filter=mine & Q(stage=Stage.WON, closed_at__gte=week)),
        **{f"in_{stage}": Count("pk", filter=mine & Q(stage=stage)) for stage in PIPELINE},
    )
    list_url = reverse("leads:lead-list")
    by_stage = [
        {
            "stage": stage,
            "label": Stage(stage).label,
            "count": numbers[f"in_{stage}"],
            "url": f"{list_url}?stage={stage}" + ("" if manager else "&mine=true"),
        }
        for stage in PIPELINE
    ]
    return {
        "manager": manager,
        "rows": _home_rows(lead_rows(now).filter(awaiting).order_by("-handed_off_at", "-pk")),
        "awaiting": numbers["awaiting"],
        "awaiting_breached": numbers["awaiting_breached"],
        "not_contacted": numbers["not_contacted"],
        "accepted_this_week": numbers["accepted_this_week"],
        "won_this_week": numbers["won_this_week"],
        "open_pipeline": sum(row["count"] for row in by_stage),
        "by_stage": by_stage,
    }


def home_marketing(user, *, now: datetime | None = None) -> dict:
    """A marketer's leads to hand off and rejected ones to nurture, and the ones sales flagged high intent (a
    manager: the department's), newest first, plus this week's handoffs and accepts. Four queries."""
    now = now or timezone.now()
    manager = roles.is_manager_of(user, roles.MARKETING)
    mine = Q() if manager else Q(created_by=user)
    to_hand_off = Q(stage=Stage.NEW, reject_reason="")
    rejected = Q(stage=Stage.NEW) & ~Q(reject_reason="")
    high_intent = Q(is_high_intent=True, stage__in=stages.SALES_OPEN_STAGES)
    week = home.week_start(now)
    numbers = Lead.objects.filter(mine).aggregate(
        to_hand_off=Count("pk", filter=to_hand_off),
        rejected=Count("pk", filter=rejected),
        high_intent=Count("pk", filter=high_intent),
        handed_off_this_week=Count("pk", filter=Q(handed_off_at__gte=week)),
        accepted_this_week=Count("pk", filter=Q(accepted_at__gte=week)),
    )
    rows = lead_rows(now).filter(mine)
    return {
        "manager": manager,
        **numbers,
        "to_hand_off_rows": _home_rows(rows.filter(to_hand_off).order_by("-created_at", "-pk")),
        # The latest rejection first: a rejected lead entered `new` again when sales turned it down.
        "rejected_rows": _home_rows(rows.filter(rejected).order_by("-stage_entered_at", "-pk")),
        "high_intent_rows": _home_rows(rows.filter(high_intent).order_by("-updated_at", "-pk")),
    }


def home_queue(user, *, now: datetime | None = None) -> dict | None:
    """The home page's lead panel: the sales part for sales, the marketing part for marketing, both for an admin;
    None (no panel) for anyone else."""
    department = roles.department_of(user)
    is_admin = bool(getattr(user, "is_superuser", False))
    sales = home_sales(user, now=now) if department == roles.SALES or is_admin else None
    marketing = home_marketing(user, now=now) if department == roles.MARKETING or is_admin else None
    if sales is None and marketing is None:
        return None
    return {"sales": sales, "marketing": marketing}


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


# --- reject and lost reasons (the reasons report and the okr metrics over them) ---------------------------------

UNKNOWN_REASON = "unknown"  # a change saved without a reason code (written around the services)
REASON_GROUPS = ("month", "channel", "owner")


def _reason_kind(kind: str) -> tuple[Q, type, str]:
    """The stage changes of a kind ("reject" or "lost"), its reason choices, and the person a change counts for.

    A rejection clears the lead's owner, so it counts for who sent it back (`by`); a lost lead keeps its owner
    (lost is final), as close_rate's owner filter reads it."""
    if kind == "reject":
        return Q(from_stage=Stage.HANDED_OFF, to_stage=Stage.NEW), RejectReason, "by"
    return Q(to_stage=Stage.LOST), LostReason, "lead__owner"


def reason_choices(kind: str) -> list[tuple[str, str]]:
    """(code, label) of a kind's reasons in the order of the fixed list, and the one for a missing code."""
    return [*((code, str(label)) for code, label in _reason_kind(kind)[1].choices), (UNKNOWN_REASON, _("Not recorded"))]


def reason_code(choices) -> Case:
    """A stage change's reason code, in SQL: services._transition stores "code" or "code: text"."""
    return Case(
        *[When(Q(reason=code) | Q(reason__startswith=f"{code}:"), then=Value(code)) for code in choices.values],
        default=Value(UNKNOWN_REASON),
        output_field=CharField(),
    )


def reason_counts(
    kind: str,
    *,
    start: datetime,
    end: datetime,
    group: str,
    channel: str | None = None,
    campaign: int | None = None,
    owner: int | None = None,
    department: str | None = None,
) -> list[dict]:
    """Rejections (handed_off → new) or losses (→ lost) in [start, end), counted per reason code and `group`:
    "month" (the local calendar month), "channel" (the lead's source channel) or "owner" (see _reason_kind).
    Filters: the lead's source channel code and campaign, the owner's id and department. One GROUP BY query,
    served by the (to_stage, at) index.

    Rows `{"reason", "count", "key", "label"}`: key and label are the month ("2026-03") twice, the channel's code
    and name, or the person's id and name; None and "" when the lead has no channel or the change no person.
    """
    changes, choices, person = _reason_kind(kind)
    qs = LeadStageChange.objects.filter(changes, at__gte=start, at__lt=end)
    if channel:
        qs = qs.filter(lead__source_channel__code=channel)
    if campaign:
        qs = qs.filter(lead__campaign_id=campaign)
    if owner:
        qs = qs.filter(**{f"{person}_id": owner})
    if department:  # a person is in one department group: no duplicate rows
        qs = qs.filter(**{f"{person}__groups__name": department})
    qs = qs.annotate(reason_code=reason_code(choices)).order_by()
    if group == "month":
        rows = qs.annotate(month=TruncMonth("at")).values("month", "reason_code").annotate(n=Count("pk"))
        out = []
        for r in rows:  # one row per (month, reason)
            month = timezone.localtime(r["month"]).strftime("%Y-%m")
            out.append({"reason": r["reason_code"], "count": r["n"], "key": month, "label": month})
        return out
    if group == "channel":
        rows = qs.values("lead__source_channel__code", "lead__source_channel__name", "reason_code").annotate(
            n=Count("pk")
        )
        return [
            {
                "reason": r["reason_code"],
                "count": r["n"],
                "key": r["lead__source_channel__code"],
                "label": r["lead__source_channel__name"] or "",
            }
            for r in rows
        ]
    names = (f"{person}_id", f"{person}__first_name", f"{person}__last_name", f"{person}__username")
    rows = qs.values(*names, "reason_code").annotate(n=Count("pk"))
    return [
        {
            "reason": r["reason_code"],
            "count": r["n"],
            "key": r[names[0]],
            "label": f"{r[names[1]] or ''} {r[names[2]] or ''}".strip() or (r[names[3]] or ""),
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
