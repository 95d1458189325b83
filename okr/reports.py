"""Report tables built on the metric registry: funnel, channel ROI/CAC, cycle-time distribution, NPS by month."""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, Q, Value, When

from feedback import selectors as feedback_selectors
from okr import metrics
from okr.metrics import Period

# Cycle-time buckets in days: [low, high); the last is open-ended.
CYCLE_BUCKETS = ((0, 7), (7, 14), (14, 21), (21, 28), (28, 35), (35, 42), (42, 56), (56, 90), (90, None))


def funnel(period: Period, filters: dict) -> dict:
    return metrics.funnel(period, filters)


def channels(period: Period, filters: dict) -> list[dict]:
    return metrics.channel_table(period, filters)


def cycle_time_distribution(period: Period, filters: dict) -> dict:
    """Leads won in the period per cycle-time bucket (bucketed and counted in SQL), with median/mean/p90."""
    days = metrics.cycle_days_expression()
    bucket = Case(
        *[
            When(Q(days__lt=high) if high else Q(days__gte=low), then=Value(i))
            for i, (low, high) in enumerate(CYCLE_BUCKETS)
        ],
        output_field=IntegerField(),
    )
    rows = (
        metrics.won_changes(period, filters)
        .annotate(days=days)
        .filter(days__isnull=False)
        .annotate(bucket=bucket)
        .values("bucket")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {r["bucket"]: r["n"] for r in rows}
    buckets = [{"low": low, "high": high, "count": counts.get(i, 0)} for i, (low, high) in enumerate(CYCLE_BUCKETS)]
    stats = metrics.cycle_time_days(period, filters)
    return {"buckets": buckets, **stats}


def nps_by_month(period: Period) -> list[dict]:
    """NPS per calendar month of the period, from counts grouped in SQL."""
    rows = feedback_selectors.nps_counts_by_month(period.start_at, period.end_at)
    return [
        {
            "month": r["month"].strftime("%Y-%m"),
            "responses": r["total"],
            "promoters": r["promoters"],
            "detractors": r["detractors"],
            "nps": feedback_selectors.nps_score(r),
        }
        for r in rows
    ]
