"""The metric registry (DESIGN.md "Metrics"): every board, report and API reads its numbers from here.

Each metric is computed for a period [start, end) of local dates and optional filters, by SQL aggregates
over the operational tables (leads.LeadStageChange, leads.Lead, customers.Order/ChannelSpend,
feedback.Complaint/NpsResponse), which this module only reads. A metric with no data is None, never 0.
Every computation runs a fixed number of queries whatever the amount of data.

Medians and percentiles: PostgreSQL's percentile_cont; on SQLite the rows are sorted in SQL and the one or
two rows around the wanted position are fetched (LIMIT/OFFSET, or per group a ROW_NUMBER() window ranking), then
interpolated like percentile_cont.

Closed days are computed once (see "Closed days" below): the metrics over stage changes keep what they found
for the days before today in the cache and read only today's rows on the next call, with the same result as
computing the whole period again (tests/okr/test_closed_days.py).
"""

from __future__ import annotations

import math
import uuid
from array import array
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import connections, transaction
from django.db.models import (
    Aggregate,
    Avg,
    Count,
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
from customers import loyalty
from customers.models import Channel, ChannelSpend, LoyaltyTierCode, Order
from feedback import selectors as feedback_selectors
from feedback.models import Complaint
from leads import selectors as lead_selectors
from leads.models import Lead, LeadStageChange
from leads.stages import PROGRESS, Stage
from marketing import overlap as marketing_overlap
from marketing import selectors as marketing_selectors
from marketing.models import Touchpoint

CYCLE_TIME_BENCHMARK_DAYS = 28

UP, DOWN = "up", "down"
UNIT_LABELS = {
    "score": _("score 0–100"),
    "ratio": _("share 0–1"),
    "days": _("days"),
    "hours": _("hours"),
    "nps": _("NPS −100…100"),
    "money": _("money"),
    "count": _("count"),
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


def stats_by_group(queryset, group_field: str, groups, expression, ps: tuple[float, ...]) -> dict:
    """`{group: {"n", "mean", p: value...}}` of `expression` over the rows of `queryset`, for each of `groups`
    that has rows (nulls ignored); percentiles interpolated like percentile_cont. One query on either database.

    PostgreSQL: a UNION ALL of one ordered-set aggregate per group, which the planner runs as a Parallel Append
    (each group sorted by its own worker: ~95 ms instead of ~190 ms for one GROUP BY over a quarter's ~490k stage
    exits). SQLite (no percentile_cont): the rows are ranked within their group by a window function and only
    the (at most two) rows around each wanted position p·(n−1) come back, then are interpolated as above.
    """
    qs = queryset.annotate(_metric_v=expression)
    if _vendor(qs) == "postgresql":
        wanted = ", ".join(f"percentile_cont({float(p)!r}) WITHIN GROUP (ORDER BY v)" for p in ps)
        parts, params = [], []
        for group in groups:
            sql, group_params = qs.filter(**{group_field: group}).order_by().values("_metric_v").query.sql_with_params()
            parts.append(f"SELECT %s::text, count(v), avg(v), {wanted} FROM ({sql}) AS metric_rows(v)")  # nosec B608
            params += [str(group), *group_params]
        if not parts:
            return {}
        with connections[qs.db].cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            return {
                row[0]: {"n": row[1], "mean": row[2], **{p: row[3 + i] for i, p in enumerate(ps)}}
                for row in cursor.fetchall()
                if row[1]
            }
    rows = qs.filter(_metric_v__isnull=False, **{f"{group_field}__in": list(groups)}).order_by()
    sql, params = rows.values_list(group_field, "_metric_v").query.sql_with_params()
    # CAST(… AS INTEGER) truncates, which is floor() for the non-negative p·(n−1), in the same double arithmetic
    # as _interpolate below and PostgreSQL's percentile_cont.
    near = " OR ".join(
        f"r = CAST({float(p)!r} * (n - 1) AS INTEGER) OR r = CAST({float(p)!r} * (n - 1) AS INTEGER) + 1" for p in ps
    )
    ranked = f"""
        WITH metric_rows (g, v) AS ({sql}),
        ranked AS (
            SELECT g, v, ROW_NUMBER() OVER (PARTITION BY g ORDER BY v) - 1 AS r,
                   COUNT(*) OVER (PARTITION BY g) AS n, AVG(v) OVER (PARTITION BY g) AS mean
            FROM metric_rows
        )
        SELECT g, n, mean, r, v FROM ranked WHERE {near}
    """  # nosec B608
    found: dict = {}
    with connections[qs.db].cursor() as cursor:
        cursor.execute(ranked, params)
        for group, n, mean, rank, value in cursor.fetchall():
            found.setdefault(group, {"n": n, "mean": mean, "ranks": {}})["ranks"][rank] = value
    return {
        group: {"n": row["n"], "mean": row["mean"], **{p: _interpolate(row["ranks"], row["n"], p) for p in ps}}
        for group, row in found.items()
    }


def _interpolate(ranks: dict[int, float], n: int, p: float) -> float:
    """percentile_cont(p) from the values at the ranks (from 0) around p·(n−1)."""
    position = p * (n - 1)
    low = math.floor(position)
    if position == low:
        return float(ranks[low])
    return float(ranks[low]) + (position - low) * (float(ranks[low + 1]) - float(ranks[low]))


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
                cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
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


FILTER_NAMES = ("department", "channel", "owner", "campaign", "stage", "content", "journey", "model", "tier")
NOT_A_MEMBER = "none"  # the tier filter's value for customers outside the loyalty programme
TIER_FILTER_VALUES = (*LoyaltyTierCode.values, NOT_A_MEMBER)


def _in_tier(orders, filters: dict):
    """Orders of the customers in the `tier` filter's loyalty tier (their tier now), when it is given."""
    if "tier" not in filters:
        return orders
    tier = "" if filters["tier"] == NOT_A_MEMBER else filters["tier"]
    return orders.filter(customer__loyalty_tier=tier)


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


# --- closed days -------------------------------------------------------------------------------------------------
# The metrics over stage changes (lead quality, handoff SLA, close rate, cycle time, time in stage) split their
# period at the start of today (local time). What they found for the days before today (counts, or the sorted
# values a percentile needs) is kept in the cache; later calls read only today's rows and add them. Without
# filters only: the lead filters (owner, department, channel, campaign) follow the lead's current owner and
# source, which move after the fact (reassignment, recycling), so filtered bindings are always computed whole.
#
# Stage changes are appended with the time they happen, so closed days do not change through the services.
# Late-arriving data for a closed day (a stage change saved with an earlier time, a change edited or deleted,
# a lead deleted) starts a new generation (okr/subscriptions.py): every remembered figure is recomputed on its
# next use. The cache key also carries the day the closed part ends, so each new day starts afresh, and every
# entry expires after CLOSED_DAYS_SECONDS: rows written around the ORM (raw SQL loads, other processes on a
# process-local cache) are seen within that time, or at once after forget_closed_days().

CLOSED_DAYS_SECONDS = 3600
# Percentiles keep the closed days' values within this many ranks of the wanted position: enough for a day of
# new rows per group; more than that (or none kept) and the period is computed whole in SQL.
CLOSED_DAYS_MARGIN = 20_000
_GENERATION_KEY = "okr:metrics:generation"


@dataclass
class _Batch:
    """Metrics computed together: one `today`, one cache generation, each part (counts, values) once."""

    today: date
    reuse: bool = True
    generation: str | None = None
    parts: dict = field(default_factory=dict)


_BATCH: ContextVar[_Batch | None] = ContextVar("okr_metric_batch", default=None)


@contextmanager
def batch(*, reuse_closed_days: bool = True, using: str = "default"):
    """Compute the enclosed metrics together: the bindings that share a part (the same stage-change counts, say)
    run its query once, closed days come from the cache (unless `reuse_closed_days` is False), and the queries
    run with plain plans. Nested batches join the outer one."""
    if _BATCH.get() is not None:
        yield
        return
    token = _BATCH.set(_Batch(today=timezone.localdate(), reuse=reuse_closed_days))
    try:
        with plain_plans(using):
            yield
    finally:
        _BATCH.reset(token)


def _current_batch() -> _Batch:
    return _BATCH.get() or _Batch(today=timezone.localdate())


def forget_closed_days() -> None:
    """Start a new generation: every figure kept for closed days is recomputed on its next use."""
    cache.set(_GENERATION_KEY, uuid.uuid4().hex, None)


def _forget_now_and_on_commit() -> None:
    forget_closed_days()
    # Again after the commit: a reader that computed between the first call and the commit kept the old rows.
    transaction.on_commit(forget_closed_days)


def stage_change_saved(sender, instance, created: bool, **kwargs) -> None:
    """post_save of a stage change (okr/subscriptions.py): one dated before today, or an edit, reaches closed
    days."""
    if not created or timezone.localdate(instance.at) < timezone.localdate():
        _forget_now_and_on_commit()


def stage_change_deleted(sender, instance, **kwargs) -> None:
    """post_delete of a stage change (a lead's deletion deletes its history)."""
    _forget_now_and_on_commit()


def _generation(run: _Batch) -> str:
    if run.generation is None:
        token = cache.get(_GENERATION_KEY)
        if token is None:
            cache.add(_GENERATION_KEY, uuid.uuid4().hex, None)
            token = cache.get(_GENERATION_KEY)
        run.generation = token
    return run.generation


def _split(period: Period, run: _Batch) -> tuple[Period | None, Period | None]:
    """(closed days, today and after) of the period; either may be None."""
    if period.end <= run.today:
        return period, None
    if period.start >= run.today:
        return None, period
    return Period(period.start, run.today), Period(run.today, period.end)


def _closed_key(run: _Batch, name: str, closed: Period, extra: tuple) -> str:
    # Entries hold only builtins (dicts, tuples, arrays), so a deploy never meets a pickle of an older class;
    # the 1 changes with their shape.
    parts = [name, "1", closed.start.isoformat(), closed.end.isoformat(), *map(str, extra), _generation(run)]
    return "okr:metrics:" + ":".join(parts)


def _memo(run: _Batch, key: tuple, make: Callable[[], object]):
    if key not in run.parts:
        run.parts[key] = make()
    return run.parts[key]


def _counts(name: str, period: Period, filters: dict, rows, conditions: dict[str, Q], extra: tuple = ()) -> dict:
    """`{name: count}` of the stage changes `rows(period)` meeting each condition, in one query.

    Unfiltered, the closed days' counts come from the cache and the query reads only today's rows; when they
    are not there yet, the same query counts the closed days apart and keeps them.
    """
    run = _current_batch()

    def make() -> dict:
        closed, open_ = _split(period, run) if run.reuse and not filters else (None, period)
        if closed is None:
            return rows(period).aggregate(**{k: Count("at", filter=c) for k, c in conditions.items()})
        key = _closed_key(run, name, closed, extra)
        kept = cache.get(key)
        if kept is None:
            cut = Q(at__lt=closed.end_at)
            found = rows(period).aggregate(
                **{f"closed_{k}": Count("at", filter=c & cut) for k, c in conditions.items()},
                **{f"open_{k}": Count("at", filter=c & ~cut) for k, c in conditions.items()},
            )
            kept = {k: found[f"closed_{k}"] for k in conditions}
            cache.set(key, kept, CLOSED_DAYS_SECONDS)
            return {k: kept[k] + found[f"open_{k}"] for k in conditions}
        if open_ is None:
            return dict(kept)
        today = rows(open_).aggregate(**{k: Count("at", filter=c) for k, c in conditions.items()})
        return {k: kept[k] + today[k] for k in conditions}

    return _memo(run, (name, period, filters_key(filters), extra), make)


class _OutsideKept(Exception):
    """The wanted rank lies outside the closed days' values kept in the cache."""


class Kept(NamedTuple):
    """The closed days' values of one group: how many (`n`), their sum, and the sorted values at ranks
    [lo, lo + len(values)) — those within CLOSED_DAYS_MARGIN of the percentiles the metric reads."""

    n: int
    total: float
    lo: int
    values: array

    @classmethod
    def of(cls, values: list[float], ps: tuple[float, ...]) -> Kept:
        values.sort()
        n = len(values)
        lo = max(0, math.floor(min(ps) * (n - 1)) - CLOSED_DAYS_MARGIN) if n else 0
        hi = min(n, math.ceil(max(ps) * (n - 1)) + CLOSED_DAYS_MARGIN + 2)
        return cls(n=n, total=math.fsum(values), lo=lo, values=array("d", values[lo:hi]))


def _kth_of_two(a, b, k: int) -> float:
    """The k-th smallest (from 0) of two sorted sequences together, by bisection on how many come from `b`."""
    low, high = max(0, k + 1 - len(a)), min(len(b), k + 1)
    while low < high:
        taken = (low + high) // 2
        from_a = k + 1 - taken
        if from_a > 0 and taken < len(b) and b[taken] < a[from_a - 1]:
            low = taken + 1
        else:
            high = taken
    from_a = k + 1 - low
    candidates = ([a[from_a - 1]] if from_a > 0 else []) + ([b[low - 1]] if low > 0 else [])
    return max(candidates)


def _rank(kept: Kept | None, today: list[float], rank: int) -> float:
    """The value at `rank` (from 0) among the kept closed days' values and today's (sorted) values."""
    if kept is None:
        return today[rank]
    end = kept.lo + len(kept.values)
    # The first rank + 1 values hold t closed ones, rank + 1 − len(today) ≤ t ≤ rank + 1, and the answer is the
    # larger of the t-th closed value and a value of today: the kept window must hold closed ranks t − 1 to t.
    if (kept.lo > 0 and kept.lo > rank - len(today)) or (end < kept.n and end < rank + 1):
        raise _OutsideKept
    return _kth_of_two(kept.values, today, rank - kept.lo)


def _merged_percentile(kept: Kept | None, today: list[float], p: float) -> float | None:
    """percentile_cont(p) over the closed days' values and today's, interpolated as PostgreSQL does."""
    n = (kept.n if kept else 0) + len(today)
    if not n:
        return None
    position = p * (n - 1)
    low = math.floor(position)
    first = _rank(kept, today, low)
    if position == low:
        return first
    return first + (position - low) * (_rank(kept, today, low + 1) - first)


def _merged_stats(kept: Kept | None, today: list[float], ps: tuple[float, ...]) -> dict:
    """Like percentiles(): `{"n", "mean", p: value...}`; raises _OutsideKept."""
    n = (kept.n if kept else 0) + len(today)
    total = (kept.total if kept else 0.0) + math.fsum(today)
    return {"n": n, "mean": total / n if n else None, **{p: _merged_percentile(kept, today, p) for p in ps}}


def _values(name: str, period: Period, rows, expression, ps: tuple[float, ...], groups=(None,), group_field=None):
    """`{group: (Kept of the closed days or None, sorted values of today and after)}` of `expression` over the
    rows `rows(period)` (nulls left out), or None when the period has no closed day to reuse.

    One query for today's rows; when the closed days are not in the cache yet, one more per group to keep them.
    """
    run = _current_batch()
    closed, open_ = _split(period, run) if run.reuse else (None, period)
    if closed is None:
        return None

    def fetch(part: Period, **where) -> list[tuple]:
        columns = [group_field] if group_field else []
        qs = rows(part).filter(**where).annotate(_metric_v=expression).order_by().values_list(*columns, "_metric_v")
        sql, params = qs.query.sql_with_params()
        with connections[qs.db].cursor() as cursor:  # tuples straight from the driver: no model layer per row
            cursor.execute(sql, params)
            return cursor.fetchall()

    def make():
        key = _closed_key(run, name, closed, ps)
        kept = cache.get(key)
        if kept is None:
            kept = {}
            for group in groups:
                values = [row[-1] for row in fetch(closed, **({group_field: group} if group_field else {}))]
                values = [v for v in values if v is not None]
                if values:
                    kept[group] = Kept.of(values, ps)
            cache.set(key, {group: tuple(k) for group, k in kept.items()}, CLOSED_DAYS_SECONDS)
        else:
            kept = {group: Kept(*k) for group, k in kept.items()}
        today: dict = {}
        for row in fetch(open_) if open_ else ():
            if row[-1] is not None:
                today.setdefault(row[0] if group_field else None, []).append(row[-1])
        return {g: (kept.get(g), sorted(today.get(g, ()))) for g in {*kept, *today}}

    return _memo(run, (name, period, ps), make)


# --- the metrics -------------------------------------------------------------------------------------------------
# Row counts over stage changes count `at` (never null), not the id: `at` is in the covering indexes, so
# PostgreSQL reads the index alone instead of visiting the table for each of ~100k rows (98 → 36 ms).


def _decisions(period: Period, filters: dict) -> dict:
    """Handoffs decided (handed_off → accepted/new) in the period: accepted, rejected, and those with a known
    handoff time (`decided`) of which `within` the acceptance SLA. Read from the covering index
    leads_change_exit_idx; shared by lead_quality_score and handoff_sla_rate.

    A decision leaves handed_off, so its `entered_at` is the lead's latest handoff before it (no lookup).
    """
    sla_hours = settings.RELAY_HANDOFF_SLA_HOURS

    def rows(part: Period):
        return LeadStageChange.objects.filter(
            part.q("at"),
            _lead_q(filters, "lead__"),
            from_stage=Stage.HANDED_OFF,
            to_stage__in=[Stage.ACCEPTED, Stage.NEW],
        ).annotate(wait=SecondsBetween(F("at"), F("entered_at")))

    known = Q(entered_at__isnull=False)
    conditions = {
        "accepted": Q(to_stage=Stage.ACCEPTED),
        "rejected": Q(to_stage=Stage.NEW),
        "decided": known,
        "within": known & Q(wait__lte=sla_hours * 3600),
    }
    return _counts("decisions", period, filters, rows, conditions, extra=(sla_hours,))


def lead_quality_score(period: Period, filters: dict) -> dict:
    """100 × accepted ÷ (accepted + rejected), over handoffs decided (handed_off → accepted/new) in the period."""
    row = _decisions(period, filters)
    decided = row["accepted"] + row["rejected"]
    value = _round(100 * row["accepted"] / decided, 2) if decided else None
    return {"value": value, "accepted": row["accepted"], "rejected": row["rejected"], "sample_size": decided}


def handoff_sla_rate(period: Period, filters: dict) -> dict:
    """Share of handoffs decided in the period whose decision came within RELAY_HANDOFF_SLA_HOURS of the handoff."""
    row = _decisions(period, filters)
    value = _round(row["within"] / row["decided"]) if row["decided"] else None
    return {
        "value": value,
        "decided": row["decided"],
        "within_sla": row["within"],
        "sla_hours": settings.RELAY_HANDOFF_SLA_HOURS,
        "sample_size": row["decided"],
    }


def close_rate(period: Period, filters: dict) -> dict:
    """won ÷ (won + lost), over leads closed in the period."""

    def rows(part: Period):
        return LeadStageChange.objects.filter(
            part.q("at"), _lead_q(filters, "lead__"), to_stage__in=[Stage.WON, Stage.LOST]
        )

    row = _counts("closes", period, filters, rows, {"won": Q(to_stage=Stage.WON), "lost": Q(to_stage=Stage.LOST)})
    closed = row["won"] + row["lost"]
    return {
        "value": _round(row["won"] / closed) if closed else None,
        "won": row["won"],
        "lost": row["lost"],
        "sample_size": closed,
    }


def _first_handoff():
    return Subquery(
        LeadStageChange.objects.filter(lead=OuterRef("lead"), to_stage=Stage.HANDED_OFF).order_by("at").values("at")[:1]
    )


def won_changes(period: Period, filters: dict):
    return LeadStageChange.objects.filter(period.q("at"), _lead_q(filters, "lead__"), to_stage=Stage.WON)


def cycle_days_expression():
    """Days from a won change's lead's first handoff to the won change (one probe of leads_change_lead_to_at_idx
    per won change: bounded by the period's wins, whatever the history)."""
    return SecondsBetween(F("at"), _first_handoff()) / Value(86400.0)


CYCLE_PERCENTILES = (0.5, 0.9)


def cycle_time_days(period: Period, filters: dict) -> dict:
    """Median days from first handoff to won over leads won in the period; also mean and p90."""
    stats = None
    if not filters:
        kept = _values("cycle", period, lambda part: won_changes(part, {}), cycle_days_expression(), CYCLE_PERCENTILES)
        if kept is not None:
            closed, today = kept.get(None, (None, []))
            try:
                stats = _merged_stats(closed, today, CYCLE_PERCENTILES)
            except _OutsideKept:
                stats = None
    if stats is None:
        stats = percentiles(won_changes(period, filters), cycle_days_expression(), CYCLE_PERCENTILES)
    return {
        "value": _round(stats[0.5], 2),
        "mean": _round(stats["mean"], 2),
        "p90": _round(stats[0.9], 2),
        "leads": stats["n"],
        "benchmark_days": CYCLE_TIME_BENCHMARK_DAYS,
        "sample_size": stats["n"],
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


def _stage_exits(period: Period, filters: dict):
    return LeadStageChange.objects.filter(
        period.q("at"),
        _lead_q(filters, "lead__"),
        entered_at__isnull=False,  # entered_at: when the lead entered from_stage (its previous change)
    )


TIME_IN_STAGE_PERCENTILES = (0.5, 0.9)


def _exit_stats(period: Period, filters: dict, stages) -> dict:
    """`{stage: {"n", "mean", 0.5: median, 0.9: p90}}` in seconds over the exits in the period; closed days reused
    when unfiltered."""
    seconds = SecondsBetween(F("at"), F("entered_at"))
    ps = TIME_IN_STAGE_PERCENTILES
    if not any(name in filters for name in LEAD_FILTERS):
        kept = _values(
            "exits",
            period,
            lambda part: _stage_exits(part, {}).filter(from_stage__in=EXITABLE_STAGES),
            seconds,
            ps,
            groups=EXITABLE_STAGES,
            group_field="from_stage",
        )
        if kept is not None:
            try:
                return {
                    stage: _merged_stats(closed, today, ps)
                    for stage, (closed, today) in kept.items()
                    if stage in stages
                }
            except _OutsideKept:
                pass
    return stats_by_group(_stage_exits(period, filters), "from_stage", stages, seconds, ps)


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else _round(seconds / 86400, 2)


def time_in_stage_days(period: Period, filters: dict) -> dict:
    """Per stage, the days between entering a stage and leaving it, over exits in the period: how many exits,
    their mean, median and p90 (percentile_cont).

    `value` is the bottleneck: the longest of the medians (`bottleneck_stage` names it), or the median of
    `stage` when that filter is given. A target like "no stage takes more than 3 days" reads it directly;
    `sample_size` is the number of exits behind it.
    """
    stages = filters.get("stage", EXITABLE_STAGES)  # the filter arrives cleaned as a one-stage tuple
    # Figures in seconds, turned into days afterwards (means and percentiles commute with scaling).
    grouped = _exit_stats(period, filters, stages)
    by_stage = [
        {
            "stage": stage.value,
            "median": _days(grouped[stage][0.5]),
            "exits": grouped[stage]["n"],
            "mean": _days(grouped[stage]["mean"]),
            "p90": _days(grouped[stage][0.9]),
        }
        for stage in EXITABLE_STAGES
        if stage in grouped and grouped[stage]["n"]
    ]
    bottleneck = max(by_stage, key=lambda row: row["median"], default=None)
    return {
        "value": bottleneck["median"] if bottleneck else None,
        "bottleneck_stage": bottleneck["stage"] if bottleneck else None,
        "sample_size": bottleneck["exits"] if bottleneck else 0,
        "by_stage": by_stage,
    }


def _order_sql(connection) -> dict:
    """Quoted names for hand-written order sub-queries, and `first_order`: the first order time of the customer
    `p.customer_id` (a MIN that reads one entry of customers_order_cust_at_idx; PostgreSQL may turn an EXISTS
    into a hash of every earlier order instead). Cancelled orders count nowhere (`placed`)."""
    meta, quote = Order._meta, connection.ops.quote_name
    names = {
        "orders": quote(meta.db_table),
        "customer": quote(meta.get_field("customer").column),
        "ordered_at": quote(meta.get_field("ordered_at").column),
        "amount": quote(meta.get_field("amount").column),
    }
    names["placed"] = f"o.{quote(meta.get_field('cancelled_at').column)} IS NULL"
    names["first_order"] = (
        f"SELECT MIN(o.{names['ordered_at']}) FROM {names['orders']} o WHERE o.{names['customer']} = p.customer_id"  # nosec B608
        f" AND {names['placed']}"
    )
    return names


def repurchase_rate(period: Period, filters: dict) -> dict:
    """Among customers with an order in the period, the share with 2+ orders in total by the period's end.

    One query over the period's orders grouped by customer: two orders in the period make a repeat customer;
    with one, the customer's first order tells whether it ordered before the period (one index probe). Orders
    outside the period are never scanned.
    """
    orders = _in_tier(Order.objects.filter(period.q("ordered_at"), cancelled_at__isnull=True), filters)
    per_customer = orders.order_by().values("customer_id").annotate(orders=Count("pk"))
    if "channel" in filters:  # customers with an order of that channel in the period; all their orders count
        per_customer = per_customer.annotate(in_channel=Count("pk", filter=Q(channel__code=filters["channel"]))).filter(
            in_channel__gt=0
        )
    inner, params = per_customer.values_list("customer_id", "orders").query.sql_with_params()
    connection = connections[per_customer.db]
    names = _order_sql(connection)
    sql = f"""
        WITH per_customer (customer_id, orders) AS ({inner})
        SELECT COUNT(*), COUNT(*) FILTER (WHERE p.orders >= 2 OR ({names["first_order"]}) < %s)
        FROM per_customer p
    """  # nosec B608
    with connection.cursor() as cursor:
        cursor.execute(sql, (*params, connection.ops.adapt_datetimefield_value(period.start_at)))
        customers, repeat = cursor.fetchone()
    value = _round(repeat / customers) if customers else None
    return {"value": value, "customers": customers, "repeat_customers": repeat, "sample_size": customers}


def nps(period: Period, filters: dict) -> dict:
    """% promoters (9–10) − % detractors (0–6) over responses answered in the period."""
    row = feedback_selectors.nps_counts(period.start_at, period.end_at)
    return {
        "value": feedback_selectors.nps_score(row),
        "responses": row["total"],
        "promoters": row["promoters"],
        "passives": row["passives"],
        "detractors": row["detractors"],
        "sample_size": row["total"],
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
    return {
        "value": _round(stats[0.5], 2),
        "mean": _round(stats["mean"], 2),
        "complaints": stats["n"],
        "sample_size": stats["n"],
    }


def complaint_rate(period: Period, filters: dict) -> dict:
    """Complaints opened in the period ÷ customers with an order in the period."""
    complaints = Complaint.objects.filter(period.q("opened_at")).count()
    orders = Order.objects.filter(period.q("ordered_at"), cancelled_at__isnull=True)
    customers = orders.aggregate(n=Count("customer_id", distinct=True))["n"]
    value = _round(complaints / customers) if customers else None
    return {"value": value, "complaints": complaints, "customers": customers, "sample_size": customers}


def loyalty_members_active(period: Period, filters: dict) -> dict:
    """Members with an order in the period ÷ members at the period's end (customers.loyalty.member_counts)."""
    row = loyalty.member_counts(period.start_at, period.end_at)
    members, active = row["members"], row["active"]
    value = _round(active / members) if members else None
    return {"value": value, "members": members, "active_members": active, "sample_size": members}


def activation_rate(period: Period, filters: dict) -> dict:
    """Among customers who signed up in the period, the share with an `activated` event within the activation
    window (RELAY_ACTIVATION_WINDOW_HOURS after the sign-up)."""
    row = marketing_selectors.activation_counts(period.start_at, period.end_at, channel=filters.get("channel"))
    signed_up, activated = row["signed_up"], row["activated"]
    value = _round(activated / signed_up) if signed_up else None
    return {"value": value, "signed_up": signed_up, "activated": activated, "sample_size": signed_up}


MESSAGE_FILTERS = ("content", "journey", "channel")  # channel: the message's (email, sms, wechat, wecom)
MESSAGE_METRICS = frozenset({"content_open_rate", "content_click_rate", "content_conversion_rate"})


def _message_rate(period: Period, filters: dict, rate: str) -> dict:
    """A rate over the messages sent in the period (marketing.selectors.rates: opened, clicked or converted ÷
    sent), with the counts."""
    counts = marketing_selectors.message_counts(
        period.start_at,
        period.end_at,
        content=filters.get("content"),
        journey=filters.get("journey"),
        channel=filters.get("channel", ""),
    )
    value = marketing_selectors.rates(counts)[rate]
    return {"value": _round(value), **counts, "sample_size": counts["sent"]}


def content_open_rate(period: Period, filters: dict) -> dict:
    """Over messages sent in the period: opened ÷ sent."""
    return _message_rate(period, filters, "open_rate")


def content_click_rate(period: Period, filters: dict) -> dict:
    """Over messages sent in the period: clicked ÷ sent."""
    return _message_rate(period, filters, "click_rate")


def content_conversion_rate(period: Period, filters: dict) -> dict:
    """Over messages sent in the period: converted (a lead, an order or the journey's goal soon after) ÷ sent."""
    return _message_rate(period, filters, "conversion_rate")


# --- channels: attribution, ROI and CAC ---------------------------------------------------------------------------
# DESIGN.md "Attribution": each customer won in the period (a lead of theirs won in it) is credited to channels with
# credits that sum to 1, so revenue and customers are counted once however many channels reached them. The models:
# lead_source splits the credit equally among the source channels of the customer's leads won in the period; the
# touch models read the customer's touchpoints in the RELAY_ATTRIBUTION_LOOKBACK_DAYS up to (and at) their first
# win in the period, ordered by time then id, and a customer without any falls back to the lead_source credits.

LEAD_SOURCE = "lead_source"
CHANNEL_FILTERS = ("channel", "model")
ATTRIBUTION_MODELS = (LEAD_SOURCE, "first_touch", "last_touch", "linear", "position_based")
ATTRIBUTION_MODEL_LABELS = {
    LEAD_SOURCE: _("Lead source"),
    "first_touch": _("First touch"),
    "last_touch": _("Last touch"),
    "linear": _("Linear"),
    "position_based": _("Position-based (40/20/40)"),
}
# A touch model's credit to one channel of a customer whose `n` touches in the lookback (ordered by time, then id)
# hold `k` on that channel, `first` (1 or 0) the first of them and `last` the last.
_TOUCH_CREDITS = {
    "first_touch": "1.0 * first",
    "last_touch": "1.0 * last",
    "linear": "1.0 * k / n",
    "position_based": (
        "CASE WHEN n = 1 THEN 1.0 WHEN n = 2 THEN 0.5 * k"
        " ELSE 0.4 * first + 0.4 * last + 0.2 * (k - first - last) / (n - 2) END"
    ),
}


def attribution_model_choices() -> list[tuple[str, str]]:
    return list(ATTRIBUTION_MODEL_LABELS.items())


def _won_leads_sql(period: Period, connection) -> tuple[str, tuple]:
    """SQL of (customer, source channel or null, won at) for each lead won in the period.

    The period's wins come from leads_change_to_at_lead_idx alone; each one's lead is then read by its primary
    key. On PostgreSQL a LATERAL probe keeps it that way: a join would hash the whole lead table.
    """
    won = LeadStageChange.objects.filter(period.q("at"), to_stage=Stage.WON).order_by()
    if connection.vendor != "postgresql":
        return won.values_list("lead__customer_id", "lead__source_channel_id", "at").query.sql_with_params()
    won_sql, won_params = won.values_list("lead_id", "at").query.sql_with_params()
    quote = connection.ops.quote_name
    lead = Lead._meta
    source, customer = (quote(lead.get_field(name).column) for name in ("source_channel", "customer"))
    sql = f"""
        SELECT l.customer_id, l.channel_id, w.won_at
        FROM ({won_sql}) AS w (lead_id, won_at)
        CROSS JOIN LATERAL (
            SELECT {customer} AS customer_id, {source} AS channel_id FROM {quote(lead.db_table)}
            WHERE {quote(lead.pk.column)} = w.lead_id
            OFFSET 0
        ) l
    """  # nosec B608
    return sql, won_params


def _touch_credits_sql(models: tuple[str, ...], connection) -> tuple[str, tuple]:
    """SQL of (customer, channel, one credit per model) for each customer of `won (customer_id, won_at)` and each
    channel of their touchpoints in the lookback up to and at the win (lead_source's column is 0).

    The touches are numbered per customer (one streaming window over them), then counted per customer and channel;
    only those few rows see the per-customer count. Each customer's touches come from one range read of
    marketing_touch_cust_idx, in time order: on PostgreSQL a LATERAL probe per customer taken in customer order, so
    the numbering sorts only each customer's few touches (a join would hash every touchpoint).
    """
    quote = connection.ops.quote_name
    meta = Touchpoint._meta
    table = quote(meta.db_table)
    customer, channel, at, pk = (quote(meta.get_field(f).column) for f in ("customer", "channel", "at", "id"))
    days = settings.RELAY_ATTRIBUTION_LOOKBACK_DAYS
    if connection.vendor == "postgresql":
        touches = f"""
            (SELECT customer_id, won_at FROM won ORDER BY customer_id) w
            CROSS JOIN LATERAL (
                SELECT {channel} AS channel_id, {at} AS at, {pk} AS id FROM {table}
                WHERE {customer} = w.customer_id AND {at} >= w.won_at - %s AND {at} <= w.won_at
                OFFSET 0
            ) tp
        """  # nosec B608
        params: tuple = (timedelta(days=days),)
    else:  # SQLite keeps datetimes as ISO text in UTC; the bound is written the same way, to the second.
        touches = f"""
            won w JOIN (SELECT {customer} AS customer_id, {channel} AS channel_id, {at} AS at, {pk} AS id
                        FROM {table}) tp
                ON tp.customer_id = w.customer_id AND tp.at <= w.won_at
                AND tp.at >= strftime('%%Y-%%m-%%d %%H:%%M:%%S', w.won_at, %s)
        """  # nosec B608
        params = (f"-{days} days",)
    credits = ", ".join("0.0" if m == LEAD_SOURCE else _TOUCH_CREDITS[m] for m in models)
    sql = f"""
        SELECT customer_id, channel_id, {credits} FROM (
            SELECT customer_id, channel_id, k, first, CASE WHEN last_rn = n THEN 1 ELSE 0 END AS last, n FROM (
                SELECT customer_id, channel_id, k, first, last_rn, MAX(last_rn) OVER (PARTITION BY customer_id) AS n
                FROM (
                    SELECT customer_id, channel_id, COUNT(*) AS k, MAX(CASE WHEN rn = 1 THEN 1 ELSE 0 END) AS first,
                        MAX(rn) AS last_rn
                    FROM (
                        SELECT w.customer_id, tp.channel_id,
                            ROW_NUMBER() OVER (PARTITION BY w.customer_id ORDER BY tp.at, tp.id) AS rn
                        FROM {touches}
                    ) numbered
                    GROUP BY customer_id, channel_id
                ) per_channel
            ) counted
        ) flagged
    """  # nosec B608
    return sql, params


def _attribution_sql(period: Period, models: tuple[str, ...], connection) -> tuple[str, tuple]:
    """One query: per channel, for each of `models`, Σ credit (customers won; rows of kind 0) and Σ credit × the
    customer's orders in the period (revenue; rows of kind 1)."""
    won_sql, won_params = _won_leads_sql(period, connection)
    orders = (
        Order.objects.filter(period.q("ordered_at"), cancelled_at__isnull=True)
        .order_by()
        .values_list("customer_id", "amount")
    )
    orders_sql, orders_params = orders.query.sql_with_params()
    columns = ", ".join(f"c{i}" for i in range(len(models)))
    ctes = [
        f"won_leads (customer_id, channel_id, at) AS ({won_sql})",
        "sources (customer_id, channel_id, credit) AS ("
        " SELECT customer_id, channel_id, 1.0 / COUNT(*) OVER (PARTITION BY customer_id)"
        " FROM (SELECT DISTINCT customer_id, channel_id FROM won_leads WHERE channel_id IS NOT NULL) pairs)",
    ]
    params = [*won_params]
    if any(model != LEAD_SOURCE for model in models):
        touch_sql, touch_params = _touch_credits_sql(models, connection)
        ctes += [
            "won (customer_id, won_at) AS (SELECT customer_id, MIN(at) FROM won_leads GROUP BY customer_id)",
            f"touch_credits (customer_id, channel_id, {columns}) AS ({touch_sql})",
        ]
        params += touch_params
        fallback = "CASE WHEN touched.customer_id IS NULL THEN s.credit ELSE 0.0 END"
        from_sources = ", ".join("s.credit" if m == LEAD_SOURCE else fallback for m in models)
        ctes.append(
            f"credits (customer_id, channel_id, {columns}) AS ("  # nosec B608 - identifiers and fixed SQL only
            f" SELECT s.customer_id, s.channel_id, {from_sources} FROM sources s"
            " LEFT JOIN (SELECT DISTINCT customer_id FROM touch_credits) touched ON touched.customer_id = s.customer_id"
            f" UNION ALL SELECT customer_id, channel_id, {columns} FROM touch_credits)"
        )
    else:
        ctes.append(
            f"credits (customer_id, channel_id, {columns}) AS (SELECT customer_id, channel_id, credit FROM sources)"  # nosec B608
        )
    ctes.append(f"period_orders (customer_id, amount) AS ({orders_sql})")
    params += orders_params
    # The credits are summed apart from the revenue: joined to the orders, a customer's credit repeats per order.
    # The join hashes the period's orders once (probing them per customer costs more).
    credited = ", ".join(f"SUM(c{i}), NULL" for i in range(len(models)))
    revenue = ", ".join(f"NULL, SUM(c.c{i} * o.amount)" for i in range(len(models)))
    sums = f"""
        SELECT 0, channel_id, {credited} FROM credits GROUP BY channel_id
        UNION ALL
        SELECT 1, c.channel_id, {revenue} FROM credits c JOIN period_orders o ON o.customer_id = c.customer_id
        GROUP BY c.channel_id
    """  # nosec B608
    sql = "WITH " + ",\n".join(ctes) + sums
    return sql, tuple(params)


def _decimal(value) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def _cents(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _attributed(period: Period, models: tuple[str, ...]) -> dict[str, dict[int, tuple[Decimal, Decimal]]]:
    """`{model: {channel_id: (customers won, revenue)}}` for the period, in one query, once per batch (a batch
    that computed every model answers any of them from that)."""
    run = _current_batch()
    every = ("attribution", period, ATTRIBUTION_MODELS)
    if every in run.parts:
        return run.parts[every]

    def make():
        connection = connections[Order.objects.db]
        sql, params = _attribution_sql(period, models, connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        found: dict[str, dict[int, list[Decimal]]] = {model: {} for model in models}
        for kind, channel_id, *sums in rows:
            for i, model in enumerate(models):
                entry = found[model].setdefault(channel_id, [Decimal(0), Decimal(0)])
                entry[kind] = _decimal(sums[2 * i + kind])
        return {model: {pk: (won, revenue) for pk, (won, revenue) in found[model].items()} for model in models}

    return _memo(run, ("attribution", period, models), make)


def _channels_and_spend(period: Period, filters: dict) -> tuple[list[tuple[int, str, str]], dict[int, Decimal]]:
    """The channels (all, or the `channel` filter's) by name, and their spend booked in months starting in the
    period: two queries, once per batch."""

    def make():
        channels = Channel.objects.order_by("name", "pk")
        spend = ChannelSpend.objects.filter(month__gte=period.start, month__lt=period.end)
        if "channel" in filters:
            channels = channels.filter(code=filters["channel"])
            spend = spend.filter(channel__code=filters["channel"])
        costs = spend.order_by().values("channel_id").annotate(total=Sum("amount")).values_list("channel_id", "total")
        return list(channels.values_list("pk", "code", "name")), {pk: Decimal(total) for pk, total in costs}

    return _memo(_current_batch(), ("channel-spend", period, filters.get("channel")), make)


def _customers(value: Decimal) -> int | float:
    """Customers won as a number: whole when whole, else to four places (credits are fractions)."""
    rounded = round(float(value), 4)
    return int(rounded) if rounded.is_integer() else rounded


def _channel_rows(channels, costs: dict, credited: dict) -> tuple[list[dict], Decimal]:
    """Per channel with spend or credit: cost, credited customers and revenue, ROI and CAC; and the credited
    customers of the listed channels together (no queries)."""
    rows, customers = [], Decimal(0)
    for pk, code, name in channels:  # one row per channel (a short, fixed list), not per data row
        won, revenue = credited.get(pk, (Decimal(0), Decimal(0)))
        cost = costs.get(pk)
        if cost is None and not won and not revenue:
            continue
        customers += won
        revenue = _cents(revenue)
        roi = (revenue - cost) / cost if cost else None
        cac = cost / won if cost is not None and won else None
        rows.append(
            {
                "channel": code,
                "name": name,
                "revenue": _money(revenue),
                "cost": _money(cost),
                "customers_won": _customers(won),
                "roi": _round(roi),
                "cac": _money(cac),
            }
        )
    return rows, customers


def _model(filters: dict) -> str:
    return filters.get("model") or LEAD_SOURCE


def _channel_figures(period: Period, filters: dict) -> tuple[list[dict], Decimal]:
    """Per channel under the filters' attribution model (see _channel_rows): three queries (channels, spend, credits
    with revenue), shared by channel_roi and cac in a batch."""
    model = _model(filters)
    return _channel_rows(*_channels_and_spend(period, filters), _attributed(period, (model,))[model])


def _overall_roi(rows: list[dict]) -> float | None:
    """(revenue − cost) ÷ cost of the channels with spend together; null without spend."""
    cost = sum((Decimal(r["cost"]) for r in rows if r["cost"] is not None), Decimal(0))
    revenue = sum((Decimal(r["revenue"]) for r in rows if r["cost"] is not None), Decimal(0))
    return _round((revenue - cost) / cost) if cost else None


def _overall_cac(rows: list[dict], customers: Decimal) -> float | None:
    """All the listed channels' spend ÷ their credited customers (the distinct customers won, unfiltered)."""
    if not customers or not any(r["cost"] is not None for r in rows):
        return None
    cost = sum((Decimal(r["cost"]) for r in rows if r["cost"] is not None), Decimal(0))
    return float(_money(cost / customers))


def channel_table(period: Period, filters: dict) -> list[dict]:
    """Per channel: spend, customers won, revenue of their orders in the period, ROI and CAC under the filters'
    attribution model (see _channel_figures)."""
    return _channel_figures(period, filters)[0]


def channel_comparison(period: Period, filters: dict) -> list[dict]:
    """Every attribution model side by side: `{model, label, rows (as channel_table), roi, cac, customers_won}`,
    from one credits query for all models (and the channels and spend: three queries in all, once per batch)."""
    channels, costs = _channels_and_spend(period, filters)
    attributed = _attributed(period, ATTRIBUTION_MODELS)
    out = []
    for model in ATTRIBUTION_MODELS:
        rows, customers = _channel_rows(channels, costs, attributed[model])
        out.append(
            {
                "model": model,
                "label": ATTRIBUTION_MODEL_LABELS[model],
                "rows": rows,
                "roi": _overall_roi(rows),
                "cac": _overall_cac(rows, customers),
                "customers_won": _customers(customers),
            }
        )
    return out


def channel_roi(period: Period, filters: dict) -> dict:
    """(revenue − cost) ÷ cost per channel; `value` for all listed channels together (null without spend)."""
    rows = channel_table(period, filters)
    return {
        "value": _overall_roi(rows),
        "model": _model(filters),
        "by_channel": [{k: r[k] for k in ("channel", "name", "revenue", "cost", "roi")} for r in rows],
    }


def cac(period: Period, filters: dict) -> dict:
    """Channel spend ÷ customers won (credited) per channel in the period; `value` over all listed channels: their
    spend ÷ their credited customers, which without a channel filter are the distinct customers won."""
    rows, customers = _channel_figures(period, filters)
    return {
        "value": _overall_cac(rows, customers),
        "model": _model(filters),
        "customers_won": _customers(customers),
        "sample_size": math.ceil(round(customers, 4)),
        "by_channel": [{k: r[k] for k in ("channel", "name", "cost", "customers_won", "cac")} for r in rows],
    }


def ltv(period: Period, filters: dict) -> dict:
    """Mean total order amount to date of the customers whose first order falls in the period.

    One query over the period's orders grouped by customer: per customer, one index probe for its first order
    (before the period: not a newcomer), and for newcomers one more for orders placed after the period (none
    yet for the current one). Earlier history is never scanned.
    """
    orders = _in_tier(Order.objects.filter(period.q("ordered_at"), cancelled_at__isnull=True), filters)
    per_customer = orders.order_by().values("customer_id")
    inner, params = (
        per_customer.annotate(amount=Sum("amount")).values_list("customer_id", "amount").query.sql_with_params()
    )
    connection = connections[per_customer.db]
    names = _order_sql(connection)
    # OFFSET 0: PostgreSQL would otherwise pull the per-customer row up into both aggregates and probe twice.
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    sql = f"""
        WITH per_customer (customer_id, amount) AS ({inner})
        SELECT COUNT(total), AVG(total) FROM (
            SELECT CASE
                WHEN ({names["first_order"]}) < %s THEN NULL
                ELSE p.amount + COALESCE((
                    SELECT SUM(o.{names["amount"]}) FROM {names["orders"]} o
                    WHERE o.{names["customer"]} = p.customer_id AND o.{names["ordered_at"]} >= %s
                    AND {names["placed"]}
                ), 0)
            END AS total
            FROM per_customer p{fence}
        ) newcomers
    """  # nosec B608
    start_at, end_at = (connection.ops.adapt_datetimefield_value(v) for v in (period.start_at, period.end_at))
    with connection.cursor() as cursor:
        cursor.execute(sql, (*params, start_at, end_at))
        customers, mean = cursor.fetchone()
    return {"value": _round(mean, 2) if customers else None, "customers": customers, "sample_size": customers}


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
        "sample_size": created,
    }


def _months(period: Period) -> list[str]:
    """The calendar months ("2026-03") the period touches, oldest first."""
    months, day = [], period.start.replace(day=1)
    while day < period.end:
        months.append(day.strftime("%Y-%m"))
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def _reasons(kind: str, period: Period, filters: dict) -> dict:
    """Rejections or losses in the period (lead_selectors.reason_counts, one GROUP BY query per breakdown):

    * `value`: how many (null without any), also `sample_size`;
    * `by_reason`: `{reason, label, count, share}`, most frequent first, reasons that occurred only;
    * `by_month`: every month of the period, `{month, count, reasons}`;
    * `by_channel`: `{channel, name, count, share, reasons}` per source channel, `by_owner`: `{owner, name,
      count, share, reasons}` per person, most first; `reasons` lists `{reason, count}` in `by_reason`'s order.
    """
    wanted = {name: filters[name] for name in LEAD_FILTERS if name in filters}
    found = {
        group: lead_selectors.reason_counts(kind, start=period.start_at, end=period.end_at, group=group, **wanted)
        for group in lead_selectors.REASON_GROUPS
    }
    labels = dict(lead_selectors.reason_choices(kind))
    totals: dict[str, int] = {}
    for row in found["month"]:  # every change falls in exactly one month: the months add up to the reasons
        totals[row["reason"]] = totals.get(row["reason"], 0) + row["count"]
    total = sum(totals.values())
    # Most frequent first; Python's sort is stable, so ties keep the fixed list's order.
    order = sorted((code for code in labels if totals.get(code)), key=lambda code: -totals[code])

    def share(count: int) -> float | None:
        return _round(count / total) if total else None

    def grouped(rows: list[dict]) -> dict:
        out: dict = {}
        for row in rows:  # one row per (group, reason): a handful per group, never per change
            entry = out.setdefault(row["key"], {"key": row["key"], "label": row["label"], "count": 0, "cells": {}})
            entry["count"] += row["count"]
            entry["cells"][row["reason"]] = row["count"]
        return out

    def cells(entry: dict | None) -> list[dict]:
        return [{"reason": code, "count": (entry or {}).get("cells", {}).get(code, 0)} for code in order]

    def ranked(rows: list[dict], key: str) -> list[dict]:
        # Most first, then by name; leads without a channel (changes without a person) last.
        entries = sorted(
            grouped(rows).values(), key=lambda e: (-e["count"], e["key"] is None, e["label"], str(e["key"]))
        )
        return [
            {key: e["key"], "name": e["label"], "count": e["count"], "share": share(e["count"]), "reasons": cells(e)}
            for e in entries
        ]

    months = grouped(found["month"])
    return {
        "value": total or None,
        "sample_size": total,
        "by_reason": [
            {"reason": code, "label": labels[code], "count": totals[code], "share": share(totals[code])}
            for code in order
        ],
        "by_month": [
            {"month": month, "count": months.get(month, {}).get("count", 0), "reasons": cells(months.get(month))}
            for month in _months(period)
        ],
        "by_channel": ranked(found["channel"], "channel"),
        "by_owner": ranked(found["owner"], "owner"),
    }


def reject_reasons(period: Period, filters: dict) -> dict:
    """Handoffs sales sent back to marketing in the period, per reject reason, month, source channel and the
    person who rejected them."""
    return _reasons("reject", period, filters)


def lost_reasons(period: Period, filters: dict) -> dict:
    """Leads closed as lost in the period, per lost reason, month, source channel and owner."""
    return _reasons("lost", period, filters)


# --- channel overlap ---------------------------------------------------------------------------------------------


def _overlap(period: Period, filters: dict) -> dict:
    """marketing.overlap's figures for every channel with touches or spend in the period (the campaign's audience
    with `campaign`), once per batch for both overlap metrics. The batch has already set the plans (plain_plans)."""
    run = _current_batch()
    return _memo(
        run,
        ("overlap", period, filters_key(filters)),
        lambda: marketing_overlap.channel_overlap(
            start=period.start,
            end=period.end,
            campaign=filters.get("campaign"),
            with_touches=False,
            max_channels=marketing_overlap.METRIC_MAX_CHANNELS,
            tune_plans=False,
        ),
    )


def duplicate_reach_rate(period: Period, filters: dict) -> dict:
    """Customers touched by two or more channels in the period ÷ customers touched in the period."""
    totals = _overlap(period, filters)["totals"]
    return {
        "value": totals["duplicate_reach_rate"],
        "reached": totals["reached"],
        "multi_channel": totals["multi_channel"],
        "sample_size": totals["reached"],
    }


def wasted_spend(period: Period, filters: dict) -> dict:
    """Σ over channels of spend × (the channel's duplicate reach ÷ its reach): spend that reached people other
    channels also reached; null without spend on a channel that reached someone."""
    figures = _overlap(period, filters)
    totals = figures["totals"]
    return {
        "value": None if totals["wasted_spend"] is None else float(totals["wasted_spend"]),
        "spend": totals["spend"],
        "reached": totals["reached"],
        "sample_size": totals["reached"],
        "by_channel": [
            {k: row[k] for k in ("channel", "name", "reach", "duplicate", "spend", "wasted_spend")}
            for row in ({**r, "channel": r["code"]} for r in figures["channels"])
        ],
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
    # What `sample_size` counts, for the note under a value from too few of them (okr.reports.sample_note).
    sample_noun: str = ""

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
            sample_noun="handoffs",
        ),
        Metric(
            "handoff_sla_rate",
            _("Handoffs decided within SLA"),
            "ratio",
            UP,
            handoff_sla_rate,
            LEAD_FILTERS,
            _("Share of handoffs decided in the period within the acceptance SLA."),
            sample_noun="handoffs",
        ),
        Metric(
            "close_rate",
            _("Close rate"),
            "ratio",
            UP,
            close_rate,
            LEAD_FILTERS,
            _("won ÷ (won + lost), over leads closed in the period."),
            sample_noun="leads",
        ),
        Metric(
            "cycle_time_days",
            _("Cycle time (days)"),
            "days",
            DOWN,
            cycle_time_days,
            LEAD_FILTERS,
            _("Median days from first handoff to won, over leads won in the period (with mean and p90)."),
            sample_noun="leads",
        ),
        Metric(
            "time_in_stage_days",
            _("Time in stage (days)"),
            "days",
            DOWN,
            time_in_stage_days,
            (*LEAD_FILTERS, "stage"),
            _(
                "Per stage, median days a lead spent in it (with the count, mean and p90), over stage exits in "
                "the period; the value is the slowest stage's median."
            ),
            sample_noun="exits",
        ),
        Metric(
            "repurchase_rate",
            _("Repurchase rate"),
            "ratio",
            UP,
            repurchase_rate,
            ("channel", "tier"),
            _("Among customers with an order in the period, the share with 2 or more orders by the period's end."),
            sample_noun="customers",
        ),
        Metric(
            "nps",
            _("NPS"),
            "nps",
            UP,
            nps,
            (),
            _("% promoters (9–10) − % detractors (0–6), over responses in the period."),
            sample_noun="answers",
        ),
        Metric(
            "complaint_resolution_hours",
            _("Complaint resolution time (hours)"),
            "hours",
            DOWN,
            complaint_resolution_hours,
            ("department", "owner", "channel"),
            _("Median hours from opened to resolved, over complaints resolved in the period."),
            sample_noun="complaints",
        ),
        Metric(
            "complaint_rate",
            _("Complaint rate"),
            "ratio",
            DOWN,
            complaint_rate,
            (),
            _("Complaints opened in the period ÷ customers with an order in the period."),
            sample_noun="customers",
        ),
        Metric(
            "activation_rate",
            _("Activation rate"),
            "ratio",
            UP,
            activation_rate,
            ("channel",),
            _(
                "Among customers who signed up in the period, the share with an activated event within the "
                "activation window."
            ),
            sample_noun="customers",
        ),
        Metric(
            "content_open_rate",
            _("Content open rate"),
            "ratio",
            UP,
            content_open_rate,
            MESSAGE_FILTERS,
            _("Over messages sent in the period: opened ÷ sent."),
            sample_noun="messages",
        ),
        Metric(
            "content_click_rate",
            _("Content click rate"),
            "ratio",
            UP,
            content_click_rate,
            MESSAGE_FILTERS,
            _("Over messages sent in the period: clicked ÷ sent."),
            sample_noun="messages",
        ),
        Metric(
            "content_conversion_rate",
            _("Content conversion rate"),
            "ratio",
            UP,
            content_conversion_rate,
            MESSAGE_FILTERS,
            _(
                "Over messages sent in the period: converted ÷ sent (a lead, an order or the journey's goal within "
                "the attribution days)."
            ),
            sample_noun="messages",
        ),
        Metric(
            "channel_roi",
            _("Channel ROI"),
            "ratio",
            UP,
            channel_roi,
            CHANNEL_FILTERS,
            _(
                "(revenue − cost) ÷ cost per channel, for customers won in the period, credited to channels by the "
                "attribution model (lead source by default)."
            ),
        ),
        Metric(
            "cac",
            _("Customer acquisition cost"),
            "money",
            DOWN,
            cac,
            CHANNEL_FILTERS,
            _(
                "Channel spend ÷ customers won in the period credited to that channel by the attribution model "
                "(lead source by default)."
            ),
            sample_noun="customers",
        ),
        Metric(
            "ltv",
            _("Customer lifetime value"),
            "money",
            UP,
            ltv,
            ("tier",),
            _("Mean total order amount to date of customers whose first order falls in the period."),
            sample_noun="customers",
        ),
        Metric(
            "loyalty_members_active",
            _("Active loyalty members"),
            "ratio",
            UP,
            loyalty_members_active,
            (),
            _("Members with an order in the period ÷ members at the period's end."),
            sample_noun="customers",
        ),
        Metric(
            "funnel",
            _("Funnel conversion"),
            "ratio",
            UP,
            funnel,
            LEAD_FILTERS,
            _("Leads created in the period reaching each stage; the value is the share that was won."),
            sample_noun="leads",
        ),
        Metric(
            "reject_reasons",
            _("Reject reasons"),
            "count",
            DOWN,
            reject_reasons,
            LEAD_FILTERS,
            _(
                "Handoffs sales rejected in the period, with the count and share of each reason, per month, source "
                "channel and the person who rejected them; the value is how many."
            ),
            sample_noun="handoffs",
        ),
        Metric(
            "lost_reasons",
            _("Lost reasons"),
            "count",
            DOWN,
            lost_reasons,
            LEAD_FILTERS,
            _(
                "Leads closed as lost in the period, with the count and share of each reason, per month, source "
                "channel and owner; the value is how many."
            ),
            sample_noun="leads",
        ),
        Metric(
            "duplicate_reach_rate",
            _("Duplicate reach rate"),
            "ratio",
            DOWN,
            duplicate_reach_rate,
            ("campaign",),
            _(
                "Customers touched by two or more channels in the period ÷ customers touched in the period (with a "
                "campaign: among the people it reached)."
            ),
            sample_noun="customers",
        ),
        Metric(
            "wasted_spend",
            _("Wasted spend"),
            "money",
            DOWN,
            wasted_spend,
            ("campaign",),
            _(
                "Σ over channels of spend × (the channel's duplicate reach ÷ its reach): spend that reached people "
                "other channels also reached (with a campaign: its channel's, among the people it reached)."
            ),
            sample_noun="customers",
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
        if name in ("owner", "campaign", "content", "journey"):
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
        elif name == "tier":
            if value not in TIER_FILTER_VALUES:
                raise InvalidMetricFilter(gettext("Choose member, silver, gold, platinum or none."), field=name)
            cleaned[name] = value
        elif name == "model":
            if value not in ATTRIBUTION_MODELS:
                raise InvalidMetricFilter(
                    gettext("Choose lead_source, first_touch, last_touch, linear or position_based."), field=name
                )
            cleaned[name] = value
        elif name == "channel" and metric.name in MESSAGE_METRICS:
            if value not in marketing_selectors.MESSAGE_CHANNELS:
                raise InvalidMetricFilter(gettext("Choose email, sms, wechat or wecom."), field=name)
            cleaned[name] = value
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
    with batch():
        result = metric.compute(Period(start, end), cleaned)
    return {"metric": metric.name, "start": start.isoformat(), "end": end.isoformat(), **result}


def filters_key(filters: dict | None) -> tuple:
    """A hashable key for a (filters) dict, so equal bindings are computed once per request."""
    return tuple(sorted((k, str(v)) for k, v in (filters or {}).items() if v not in (None, "")))
