"""The metric registry (DESIGN.md "Metrics"): every board, report and API reads its numbers from here.

Each metric is computed for a period [start, end) of local dates and optional filters, by SQL aggregates
over the operational tables (leads.LeadStageChange, leads.Lead, customers.Order/ChannelSpend,
feedback.Complaint/NpsResponse), which this module only reads. A metric with no data is None, never 0.
Every computation runs a fixed number of queries whatever the amount of data.

Medians and percentiles: PostgreSQL's percentile_cont; on SQLite the rows are sorted in SQL and the one or
two rows around the wanted position are fetched with LIMIT/OFFSET, then interpolated like percentile_cont.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connections, transaction
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError
from config.roles import DEPARTMENTS
from customers.models import Channel, ChannelSpend, Customer, Order
from feedback import selectors as feedback_selectors
from feedback.models import Complaint
from leads.models import Lead, LeadStageChange
from leads.stages import PROGRESS, Stage

CYCLE_TIME_BENCHMARK_DAYS = 28

UP, DOWN = "up", "down"
UNIT_LABELS = {
    "score": _("score 0–100"),
    "ratio": _("share 0–1"),
    "days": _("days"),
    "hours": _("hours"),
    "nps": _("NPS −100…100"),
    "money": _("money"),
}


class UnknownMetric(DomainError):
    status, code = 404, "unknown_metric"


class InvalidMetricFilter(DomainError):
    status, code = 400, "invalid"


# --- SQL building blocks ------------------------------------------------------------------------------------------


class SecondsBetween(Func):
    """Seconds from the second datetime to the first (a − b), as a float, in SQL."""

    arity = 2
    output_field = FloatField()

    def as_sql(self, compiler, connection, **extra_context):  # PostgreSQL and the default
        return super().as_sql(
            compiler,
            connection,
            # date_part returns double precision directly; EXTRACT returns numeric (slow per row) since PG 14.
            template="date_part('epoch', %(expressions)s)",
            arg_joiner=" - ",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra_context,
        )


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate `percentile_cont(p) WITHIN GROUP (ORDER BY expr)`."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    output_field = FloatField()
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, percentile: float, **extra):
        if not 0 <= percentile <= 1:
            raise ValueError("percentile must be within 0..1")
        super().__init__(expression, percentile=repr(float(percentile)), **extra)


class _Sum(Func):
    """SUM without GROUP BY, for single-value subqueries (`Sum` would group by the outer reference)."""

    function = "SUM"


def _vendor(queryset) -> str:
    return connections[queryset.db].vendor


def _pg_fetch(select: str, inner, columns: str, tail: str = "", *, fence: bool = True) -> list[tuple]:
    """Run `SELECT <select> FROM (<inner queryset>) AS metric_rows(<columns>) <tail>` on PostgreSQL.

    The derived table evaluates each row's value once; aggregating the annotation directly would repeat its
    (correlated) expression in every aggregate and in the null filter. `OFFSET 0` keeps the planner from
    pulling the derived table up into the aggregate (which repeats the correlated subplan per aggregate);
    `fence=False` for plain column arithmetic, where the pulled-up plan can read rows in index order.
    """
    sql, params = inner.query.sql_with_params()
    if fence:
        sql = f"SELECT * FROM ({sql}) AS inner_rows OFFSET 0"  # nosec B608
    with connections[inner.db].cursor() as cursor:
        cursor.execute(f"SELECT {select} FROM ({sql}) AS metric_rows({columns}) {tail}", params)  # nosec B608
        return cursor.fetchall()


def percentiles(queryset, expression, ps: tuple[float, ...], *, inline: bool = False) -> dict:
    """`{"n", "mean", p: value...}` of `expression` over the rows of `queryset` (nulls ignored).

    PostgreSQL: one query; `inline` aggregates the annotation with PercentileCont directly (for cheap
    column arithmetic), otherwise through a derived table that evaluates a correlated expression once per row.
    SQLite: one aggregate query, then one LIMIT 2 OFFSET k query per percentile.
    """
    qs = queryset.annotate(_metric_v=expression)
    if _vendor(qs) == "postgresql" and inline:
        aggs = {f"p{i}": PercentileCont("_metric_v", p) for i, p in enumerate(ps)}
        row = qs.aggregate(n=Count("_metric_v"), mean=Avg("_metric_v"), **aggs)
        return {"n": row["n"], "mean": row["mean"], **{p: row[f"p{i}"] for i, p in enumerate(ps)}}
    if _vendor(qs) == "postgresql":
        wanted = ", ".join(f"percentile_cont({float(p)!r}) WITHIN GROUP (ORDER BY v)" for p in ps)
        (row,) = _pg_fetch(f"count(v), avg(v), {wanted}", qs.order_by().values("_metric_v"), "v")
        return {"n": row[0], "mean": row[1], **{p: row[2 + i] for i, p in enumerate(ps)}}
    qs = qs.filter(_metric_v__isnull=False)
    row = qs.aggregate(n=Count("_metric_v"), mean=Avg("_metric_v"))
    out = {"n": row["n"], "mean": row["mean"]}
    ordered = qs.order_by("_metric_v").values_list("_metric_v", flat=True)
    for p in ps:
        out[p] = _pick(ordered, row["n"], p)
    return out


def _pick(ordered_values, n: int, p: float) -> float | None:
    """percentile_cont from a sorted queryset: fetch only the (at most two) rows around position p·(n−1)."""
    if not n:
        return None
    position = p * (n - 1)
    low = math.floor(position)
    rows = list(ordered_values[low : low + 2])
    if len(rows) == 1 or position == low:
        return float(rows[0])
    return float(rows[0]) + (position - low) * (float(rows[1]) - float(rows[0]))


def medians_by_group(queryset, group_field: str, groups, expression) -> dict:
    """`{group: {"n", "median"}}` of `expression` over the rows of `queryset`, for each of `groups` that has rows.

    PostgreSQL: one query, a UNION ALL of one ordered-set aggregate per group, which the planner runs as a
    Parallel Append (each group sorted by its own worker: ~95 ms instead of ~190 ms for one GROUP BY over a
    quarter's ~490k stage exits). SQLite: one count query, then one OFFSET query per group.
    """
    qs = queryset.annotate(_metric_v=expression)
    if _vendor(qs) == "postgresql":
        parts, params = [], []
        for group in groups:
            sql, group_params = qs.filter(**{group_field: group}).order_by().values("_metric_v").query.sql_with_params()
            parts.append(
                f"SELECT %s::text, count(v), percentile_cont(0.5) WITHIN GROUP (ORDER BY v) "  # nosec B608
                f"FROM ({sql}) AS metric_rows(v)"
            )
            params += [str(group), *group_params]
        if not parts:
            return {}
        with connections[qs.db].cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            return {g: {"n": n, "median": median} for g, n, median in cursor.fetchall() if n}
    qs = qs.filter(_metric_v__isnull=False, **{f"{group_field}__in": list(groups)})
    out = {}
    for r in qs.values(group_field).annotate(n=Count("_metric_v")).order_by():
        ordered = qs.filter(**{group_field: r[group_field]}).order_by("_metric_v").values_list("_metric_v", flat=True)
        out[r[group_field]] = {"n": r["n"], "median": _pick(ordered, r["n"], 0.5)}
    return out


_PLAIN_PLANS: ContextVar[bool] = ContextVar("okr_plain_plans", default=False)


@contextmanager
def plain_plans(using: str = "default"):
    """On PostgreSQL, run the enclosed metric queries with JIT compilation off (`SET LOCAL`, so only inside
    this transaction): JIT costs ~250 ms of compile time per query on these plans and never pays back. Also
    give their sorts room (percentiles over a quarter's ~400,000 stage exits spill to disk at 4 MB)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or _PLAIN_PLANS.get():
        yield
        return
    token = _PLAIN_PLANS.set(True)
    try:
        with transaction.atomic(using=using):
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SET LOCAL work_mem = '64MB'")
            yield
    finally:
        _PLAIN_PLANS.reset(token)


# --- periods and filters ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # exclusive

    @property
    def start_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def end_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end, time.min))

    def q(self, field: str) -> Q:
        return Q(**{f"{field}__gte": self.start_at, f"{field}__lt": self.end_at})


FILTER_NAMES = ("department", "channel", "owner", "campaign", "stage")
LEAD_FILTERS = ("department", "channel", "owner", "campaign")


def _lead_q(filters: dict, prefix: str = "") -> Q:
    q = Q()
    if "channel" in filters:
        q &= Q(**{f"{prefix}source_channel__code": filters["channel"]})
    if "campaign" in filters:
        q &= Q(**{f"{prefix}campaign_id": filters["campaign"]})
    if "owner" in filters:
        q &= Q(**{f"{prefix}owner_id": filters["owner"]})
    if "department" in filters:
        # A lead belongs to its owner's department; a group name matches one row, so no duplicates.
        q &= Q(**{f"{prefix}owner__groups__name": filters["department"]})
    return q


def _round(value, places: int = 4):
    if value is None:
        return None
    return round(float(value), places)


def _money(value) -> str | None:
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# --- the metrics -------------------------------------------------------------------------------------------------
# Row counts over stage changes count `at` (never null), not the id: `at` is in the covering indexes, so
# PostgreSQL reads the index alone instead of visiting the table for each of ~100k rows (98 → 36 ms).


def lead_quality_score(period: Period, filters: dict) -> dict:
    """100 × accepted ÷ (accepted + rejected), over handoffs decided (handed_off → accepted/new) in the period."""
    row = LeadStageChange.objects.filter(
        period.q("at"),
        _lead_q(filters, "lead__"),
        from_stage=Stage.HANDED_OFF,
        to_stage__in=[Stage.ACCEPTED, Stage.NEW],
    ).aggregate(
        accepted=Count("at", filter=Q(to_stage=Stage.ACCEPTED)),
        rejected=Count("at", filter=Q(to_stage=Stage.NEW)),
    )
    decided = row["accepted"] + row["rejected"]
    value = _round(100 * row["accepted"] / decided, 2) if decided else None
    return {"value": value, "accepted": row["accepted"], "rejected": row["rejected"]}


def handoff_sla_rate(period: Period, filters: dict) -> dict:
    """Share of handoffs decided in the period whose decision came within RELAY_HANDOFF_SLA_HOURS of the handoff.

    A decision leaves handed_off, so its `entered_at` is the lead's latest handoff before it (no lookup).
    """
    sla_hours = settings.RELAY_HANDOFF_SLA_HOURS
    row = (
        LeadStageChange.objects.filter(
            period.q("at"),
            _lead_q(filters, "lead__"),
            from_stage=Stage.HANDED_OFF,
            to_stage__in=[Stage.ACCEPTED, Stage.NEW],
            entered_at__isnull=False,
        )
        .annotate(wait=SecondsBetween(F("at"), F("entered_at")))
        .aggregate(decided=Count("at"), within=Count("at", filter=Q(wait__lte=sla_hours * 3600)))
    )
    value = _round(row["within"] / row["decided"]) if row["decided"] else None
    return {"value": value, "decided": row["decided"], "within_sla": row["within"], "sla_hours": sla_hours}


def close_rate(period: Period, filters: dict) -> dict:
    """won ÷ (won + lost), over leads closed in the period."""
    row = LeadStageChange.objects.filter(
        period.q("at"), _lead_q(filters, "lead__"), to_stage__in=[Stage.WON, Stage.LOST]
    ).aggregate(won=Count("at", filter=Q(to_stage=Stage.WON)), lost=Count("at", filter=Q(to_stage=Stage.LOST)))
    closed = row["won"] + row["lost"]
    return {"value": _round(row["won"] / closed) if closed else None, "won": row["won"], "lost": row["lost"]}


def _first_handoff():
    return Subquery(
        LeadStageChange.objects.filter(lead=OuterRef("lead"), to_stage=Stage.HANDED_OFF).order_by("at").values("at")[:1]
    )


def won_changes(period: Period, filters: dict):
    return LeadStageChange.objects.filter(period.q("at"), _lead_q(filters, "lead__"), to_stage=Stage.WON)


def cycle_days_expression():
    """Days from a won change's lead's first handoff to the won change."""
    return SecondsBetween(F("at"), _first_handoff()) / Value(86400.0)


def cycle_time_days(period: Period, filters: dict) -> dict:
    """Median days from first handoff to won over leads won in the period; also mean and p90."""
    stats = percentiles(won_changes(period, filters), cycle_days_expression(), (0.5, 0.9))
    return {
        "value": _round(stats[0.5], 2),
        "mean": _round(stats["mean"], 2),
        "p90": _round(stats[0.9], 2),
        "leads": stats["n"],
        "benchmark_days": CYCLE_TIME_BENCHMARK_DAYS,
    }


EXITABLE_STAGES = (
    Stage.NEW,
    Stage.HANDED_OFF,
    Stage.ACCEPTED,
    Stage.CONTACTED,
    Stage.QUALIFIED,
    Stage.PROPOSAL,
    Stage.NEGOTIATION,
)


def time_in_stage_days(period: Period, filters: dict) -> dict:
    """Per stage, the median days between entering a stage and leaving it, over exits in the period.

    `value` is the bottleneck: the longest of those medians (`bottleneck_stage` names it), or the median of
    `stage` when that filter is given. A target like "no stage takes more than 3 days" reads it directly.
    """
    stages = filters.get("stage", EXITABLE_STAGES)  # the filter arrives cleaned as a one-stage tuple
    exits = LeadStageChange.objects.filter(
        period.q("at"),
        _lead_q(filters, "lead__"),
        entered_at__isnull=False,  # entered_at: when the lead entered from_stage (its previous change)
    )
    # Medians in seconds, turned into days afterwards (a median commutes with scaling).
    grouped = medians_by_group(exits, "from_stage", stages, SecondsBetween(F("at"), F("entered_at")))
    by_stage = [
        {"stage": stage.value, "median": _round(grouped[stage]["median"] / 86400, 2), "exits": grouped[stage]["n"]}
        for stage in EXITABLE_STAGES
        if stage in grouped
    ]
    bottleneck = max(by_stage, key=lambda row: row["median"], default=None)
    return {
        "value": bottleneck["median"] if bottleneck else None,
        "bottleneck_stage": bottleneck["stage"] if bottleneck else None,
        "by_stage": by_stage,
    }


def repurchase_rate(period: Period, filters: dict) -> dict:
    """Among customers with an order in the period, the share with 2+ orders in total by the period's end."""
    in_period = Order.objects.filter(period.q("ordered_at"))
    if "channel" in filters:
        in_period = in_period.filter(channel__code=filters["channel"])
    row = (
        Order.objects.filter(customer_id__in=in_period.values("customer_id"), ordered_at__lt=period.end_at)
        .values("customer_id")
        .annotate(orders=Count("pk"))
        .aggregate(customers=Count("customer_id"), repeat=Count("customer_id", filter=Q(orders__gte=2)))
    )
    value = _round(row["repeat"] / row["customers"]) if row["customers"] else None
    return {"value": value, "customers": row["customers"], "repeat_customers": row["repeat"]}


def nps(period: Period, filters: dict) -> dict:
    """% promoters (9–10) − % detractors (0–6) over responses answered in the period."""
    row = feedback_selectors.nps_counts(period.start_at, period.end_at)
    return {
        "value": feedback_selectors.nps_score(row),
        "responses": row["total"],
        "promoters": row["promoters"],
        "passives": row["passives"],
        "detractors": row["detractors"],
    }


def _complaint_q(filters: dict) -> Q:
    q = Q()
    if "owner" in filters:
        q &= Q(owner_id=filters["owner"])
    if "department" in filters:
        q &= Q(owner__groups__name=filters["department"])
    if "channel" in filters:
        q &= Q(channel__code=filters["channel"])
    return q


def complaint_resolution_hours(period: Period, filters: dict) -> dict:
    """Median hours from opened to resolved, over complaints resolved in the period."""
    resolved = Complaint.objects.filter(period.q("resolved_at"), _complaint_q(filters))
    hours = SecondsBetween(F("resolved_at"), F("opened_at")) / Value(3600.0)
    stats = percentiles(resolved, hours, (0.5,), inline=True)
    return {"value": _round(stats[0.5], 2), "mean": _round(stats["mean"], 2), "complaints": stats["n"]}


def complaint_rate(period: Period, filters: dict) -> dict:
    """Complaints opened in the period ÷ customers with an order in the period."""
    complaints = Complaint.objects.filter(period.q("opened_at")).count()
    customers = Order.objects.filter(period.q("ordered_at")).aggregate(n=Count("customer_id", distinct=True))["n"]
    value = _round(complaints / customers) if customers else None
    return {"value": value, "complaints": complaints, "customers": customers}


def _won_pairs(period: Period, filters: dict):
    """Distinct (channel, customer) pairs: a lead of the channel reached won in the period."""
    pairs = LeadStageChange.objects.filter(period.q("at"), to_stage=Stage.WON, lead__source_channel__isnull=False)
    if "channel" in filters:
        pairs = pairs.filter(lead__source_channel__code=filters["channel"])
    return pairs.order_by().values_list("lead__source_channel_id", "lead__customer_id").distinct()


def _cents(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _channel_won_revenue(period: Period, filters: dict) -> tuple[dict, int]:
    """`({channel_id: (customers won, revenue of their orders in the period)}, customers won over all channels)`.

    One query: the period's won changes (index leads_change_to_at) joined once to their leads give the
    distinct (channel, customer) pairs; the pairs are joined to the period's orders (an order counts once per
    channel that won its customer) and counted per channel, plus a row for all channels together.
    """
    pairs_sql, pairs_params = _won_pairs(period, filters).query.sql_with_params()
    orders = Order.objects.filter(period.q("ordered_at")).order_by().values_list("customer_id", "amount")
    orders_sql, orders_params = orders.query.sql_with_params()
    sql = f"""
        WITH won_pairs (channel_id, customer_id) AS ({pairs_sql}),
        period_orders (customer_id, amount) AS ({orders_sql})
        SELECT w.channel_id, COUNT(DISTINCT w.customer_id), SUM(o.amount)
        FROM won_pairs w LEFT JOIN period_orders o ON o.customer_id = w.customer_id
        GROUP BY w.channel_id
        UNION ALL
        SELECT NULL, COUNT(DISTINCT customer_id), NULL FROM won_pairs
    """  # nosec B608
    with connections[Order.objects.db].cursor() as cursor:
        cursor.execute(sql, (*pairs_params, *orders_params))
        rows = cursor.fetchall()
    per_channel = {channel_id: (won, _cents(revenue)) for channel_id, won, revenue in rows if channel_id is not None}
    total = next((won for channel_id, won, _revenue in rows if channel_id is None), 0)
    return per_channel, total


def _channel_figures(period: Period, filters: dict) -> tuple[list[dict], int]:
    """Per channel: spend booked in months starting in the period, customers won from the channel's leads in the
    period, and the revenue of those customers' orders placed in the period; and the customers won over all
    channels. Three queries (channels, spend, won and revenue)."""
    channels = Channel.objects.order_by("name", "pk")
    spend = ChannelSpend.objects.filter(month__gte=period.start, month__lt=period.end)
    if "channel" in filters:
        channels = channels.filter(code=filters["channel"])
        spend = spend.filter(channel__code=filters["channel"])
    costs = dict(spend.order_by().values("channel_id").annotate(total=Sum("amount")).values_list("channel_id", "total"))
    won_revenue, customers_won = _channel_won_revenue(period, filters)
    rows = []
    for channel in channels:  # one row per channel (a short, fixed list), not per data row
        won, revenue = won_revenue.get(channel.pk, (0, None))
        cost_value = costs.get(channel.pk)
        if cost_value is None and not won and revenue is None:
            continue
        revenue_value = Decimal(revenue or 0)
        cost_value = Decimal(cost_value) if cost_value is not None else None
        roi = (revenue_value - cost_value) / cost_value if cost_value else None
        cac = cost_value / won if cost_value is not None and won else None
        rows.append(
            {
                "channel": channel.code,
                "name": channel.name,
                "revenue": _money(revenue_value),
                "cost": _money(cost_value),
                "customers_won": won,
                "roi": _round(roi),
                "cac": _money(cac),
            }
        )
    return rows, customers_won


def channel_table(period: Period, filters: dict) -> list[dict]:
    """Per channel: spend, customers won, revenue of their orders in the period, ROI and CAC (see _channel_figures)."""
    return _channel_figures(period, filters)[0]


def channel_roi(period: Period, filters: dict) -> dict:
    """(revenue − cost) ÷ cost per channel; `value` for all listed channels together (null without spend)."""
    rows = channel_table(period, filters)
    cost = sum((Decimal(r["cost"]) for r in rows if r["cost"] is not None), Decimal(0))
    revenue = sum((Decimal(r["revenue"]) for r in rows if r["cost"] is not None), Decimal(0))
    value = _round((revenue - cost) / cost) if cost else None
    return {
        "value": value,
        "by_channel": [{k: r[k] for k in ("channel", "name", "revenue", "cost", "roi")} for r in rows],
    }


def cac(period: Period, filters: dict) -> dict:
    """Channel spend ÷ customers won from that channel in the period; `value` over all channels."""
    rows, customers = _channel_figures(period, filters)
    cost = sum((Decimal(r["cost"]) for r in rows if r["cost"] is not None), Decimal(0))
    value = float(_money(cost / customers)) if customers and any(r["cost"] is not None for r in rows) else None
    return {
        "value": value,
        "customers_won": customers,
        "by_channel": [{k: r[k] for k in ("channel", "name", "cost", "customers_won", "cac")} for r in rows],
    }


def ltv(period: Period, filters: dict) -> dict:
    """Mean total order amount to date of the customers whose first order falls in the period."""
    newcomers = (
        Order.objects.filter(period.q("ordered_at"))
        .exclude(Exists(Order.objects.filter(customer=OuterRef("customer"), ordered_at__lt=period.start_at)))
        .values("customer_id")
    )
    total = Order.objects.filter(customer=OuterRef("pk")).order_by().annotate(s=_Sum("amount")).values("s")[:1]
    row = (
        Customer.objects.filter(pk__in=newcomers)
        .annotate(total=Subquery(total))
        .aggregate(customers=Count("pk"), mean=Avg("total"))
    )
    return {"value": _round(row["mean"], 2) if row["customers"] else None, "customers": row["customers"]}


def funnel(period: Period, filters: dict) -> dict:
    """For leads created in the period: how many reached each stage (or a later one, since moves may skip),
    and the drop-off from each stage to the next. `value` is the conversion from created to won.

    Reads each lead's `furthest_stage` (kept by the state machine) through the (created_at, furthest_stage,
    stage) index: one grouped count, not a scan of every stage change.
    """
    reached_counts = dict(
        Lead.objects.filter(period.q("created_at"), _lead_q(filters))
        .order_by()
        .values("furthest_stage")
        .annotate(n=Count("created_at"))
        .values_list("furthest_stage", "n")
    )
    lost = Lead.objects.filter(period.q("created_at"), _lead_q(filters), stage=Stage.LOST).aggregate(
        n=Count("created_at")
    )["n"]
    stages, previous = [], None
    for index, stage in enumerate(PROGRESS):
        count = sum(reached_counts.get(s, 0) for s in PROGRESS[index:])
        drop = None if previous is None or not previous else _round(1 - count / previous)
        stages.append({"stage": stage.value, "count": count, "drop_off": drop})
        previous = count
    created = stages[0]["count"]
    return {
        "value": _round(stages[-1]["count"] / created) if created else None,
        "stages": stages,
        "lost": lost,
    }


# --- the registry ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str
    direction: str
    compute: Callable[[Period, dict], dict] = field(repr=False)
    filters: tuple[str, ...] = ()
    description: str = ""

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "label": str(self.label),
            "unit": self.unit,
            "direction": self.direction,
            "filters": list(self.filters),
            "description": str(self.description),
        }


REGISTRY: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "lead_quality_score",
            _("Lead quality score"),
            "score",
            UP,
            lead_quality_score,
            LEAD_FILTERS,
            _("100 × accepted ÷ (accepted + rejected), over handoffs decided in the period."),
        ),
        Metric(
            "handoff_sla_rate",
            _("Handoffs decided within SLA"),
            "ratio",
            UP,
            handoff_sla_rate,
            LEAD_FILTERS,
            _("Share of handoffs decided in the period within the acceptance SLA."),
        ),
        Metric(
            "close_rate",
            _("Close rate"),
            "ratio",
            UP,
            close_rate,
            LEAD_FILTERS,
            _("won ÷ (won + lost), over leads closed in the period."),
        ),
        Metric(
            "cycle_time_days",
            _("Cycle time (days)"),
            "days",
            DOWN,
            cycle_time_days,
            LEAD_FILTERS,
            _("Median days from first handoff to won, over leads won in the period (with mean and p90)."),
        ),
        Metric(
            "time_in_stage_days",
            _("Time in stage (days)"),
            "days",
            DOWN,
            time_in_stage_days,
            (*LEAD_FILTERS, "stage"),
            _(
                "Per stage, median days a lead spent in it, over stage exits in the period; the value is the "
                "slowest stage's median."
            ),
        ),
        Metric(
            "repurchase_rate",
            _("Repurchase rate"),
            "ratio",
            UP,
            repurchase_rate,
            ("channel",),
            _("Among customers with an order in the period, the share with 2 or more orders by the period's end."),
        ),
        Metric(
            "nps",
            _("NPS"),
            "nps",
            UP,
            nps,
            (),
            _("% promoters (9–10) − % detractors (0–6), over responses in the period."),
        ),
        Metric(
            "complaint_resolution_hours",
            _("Complaint resolution time (hours)"),
            "hours",
            DOWN,
            complaint_resolution_hours,
            ("department", "owner", "channel"),
            _("Median hours from opened to resolved, over complaints resolved in the period."),
        ),
        Metric(
            "complaint_rate",
            _("Complaint rate"),
            "ratio",
            DOWN,
            complaint_rate,
            (),
            _("Complaints opened in the period ÷ customers with an order in the period."),
        ),
        Metric(
            "channel_roi",
            _("Channel ROI"),
            "ratio",
            UP,
            channel_roi,
            ("channel",),
            _("(revenue − cost) ÷ cost per channel, for customers won from the channel's leads in the period."),
        ),
        Metric(
            "cac",
            _("Customer acquisition cost"),
            "money",
            DOWN,
            cac,
            ("channel",),
            _("Channel spend ÷ customers won from that channel in the period."),
        ),
        Metric(
            "ltv",
            _("Customer lifetime value"),
            "money",
            UP,
            ltv,
            (),
            _("Mean total order amount to date of customers whose first order falls in the period."),
        ),
        Metric(
            "funnel",
            _("Funnel conversion"),
            "ratio",
            UP,
            funnel,
            LEAD_FILTERS,
            _("Leads created in the period reaching each stage; the value is the share that was won."),
        ),
    )
}


def metric_choices() -> list[tuple[str, str]]:
    return [(m.name, m.label) for m in REGISTRY.values()]


def get(name: str) -> Metric:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownMetric(_("There is no metric with that name."), field="name") from None


def clean_filters(metric: Metric, raw: dict) -> dict:
    """Validate filter values (strings from a query string or JSON) into the shapes the metrics use.

    Raises InvalidMetricFilter naming the filter. Empty values are ignored.
    """
    from django.utils.translation import gettext

    cleaned: dict = {}
    for name, value in raw.items():
        if value in (None, ""):
            continue
        if name not in FILTER_NAMES:
            raise InvalidMetricFilter(gettext("Unknown filter."), field=name)
        if name not in metric.filters:
            raise InvalidMetricFilter(
                gettext("The metric %(metric)s cannot be filtered by %(filter)s.")
                % {"metric": metric.name, "filter": name},
                field=name,
            )
        if name in ("owner", "campaign"):
            try:
                cleaned[name] = int(value)
            except (TypeError, ValueError):
                raise InvalidMetricFilter(gettext("Enter a whole number."), field=name) from None
        elif name == "department":
            if value not in DEPARTMENTS:
                raise InvalidMetricFilter(gettext("Choose marketing, sales or service."), field=name)
            cleaned[name] = value
        elif name == "stage":
            if value not in EXITABLE_STAGES:
                raise InvalidMetricFilter(gettext("Choose an open stage."), field=name)
            cleaned[name] = (value,)
        else:
            cleaned[name] = str(value)
    return cleaned


def compute(name: str, *, start: date, end: date, filters: dict | None = None) -> dict:
    """`{"metric", "start", "end", "value", ...extra figures}` for the metric over [start, end).

    Raises UnknownMetric (404) and InvalidMetricFilter (400, field named).
    """
    from django.utils.translation import gettext

    metric = get(name)
    if end <= start:
        raise InvalidMetricFilter(gettext("The end must be after the start."), field="end")
    cleaned = clean_filters(metric, filters or {})
    with plain_plans():
        result = metric.compute(Period(start, end), cleaned)
    return {"metric": metric.name, "start": start.isoformat(), "end": end.isoformat(), **result}


def filters_key(filters: dict | None) -> tuple:
    """A hashable key for a (filters) dict, so equal bindings are computed once per request."""
    return tuple(sorted((k, str(v)) for k, v in (filters or {}).items() if v not in (None, "")))
