"""Report tables built on the metric registry: funnel, channel ROI/CAC, cycle-time distribution, NPS by month,
reject and lost reasons, time in stage; the period presets every report offers and the sample-size note."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from customers.models import LoyaltyTierCode
from feedback import selectors as feedback_selectors
from okr import metrics, selectors
from okr.metrics import Period

# Cycle-time buckets in days: [low, high); the last is open-ended.
CYCLE_BUCKETS = ((0, 7), (7, 14), (14, 21), (21, 28), (28, 35), (35, 42), (42, 56), (56, 90), (90, None))


def funnel(period: Period, filters: dict) -> dict:
    return metrics.funnel(period, filters)


def channels(period: Period, filters: dict) -> list[dict]:
    """Per channel under the filters' attribution model (`model`, lead source by default)."""
    return metrics.channel_table(period, filters)


def channel_comparison(period: Period, filters: dict) -> dict:
    """ROI and CAC of each channel under every attribution model, side by side (metrics.channel_comparison: one
    credits query for all models). `models`: `{model, label, roi, cac, customers_won}` with the figures of all
    listed channels together; `channels`: `{channel, name, cells}` with one `{model, roi, cac, customers_won}`
    per model, in the models' order (None where the channel has no spend or credit under that model)."""
    found = metrics.channel_comparison(period, filters)
    names: dict[str, str] = {}
    by_model = []
    for entry in found:
        rows = {row["channel"]: row for row in entry["rows"]}
        names.update((code, row["name"]) for code, row in rows.items())
        by_model.append((entry["model"], rows))
    channels = [
        {
            "channel": code,
            "name": name,
            "cells": [{"model": model, **_cell(rows.get(code))} for model, rows in by_model],
        }
        for code, name in sorted(names.items(), key=lambda item: (item[1], item[0]))
    ]
    models = [{k: entry[k] for k in ("model", "label", "roi", "cac", "customers_won")} for entry in found]
    return {"models": models, "channels": channels}


def _cell(row: dict | None) -> dict:
    if row is None:
        return {"roi": None, "cac": None, "customers_won": None}
    return {"roi": row["roi"], "cac": row["cac"], "customers_won": row["customers_won"]}


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


def reasons(period: Period, filters: dict) -> dict:
    """Reject and lost reasons for the period, with the close rate the losses weigh on (the same lead filters)."""
    return {
        "reject": metrics.reject_reasons(period, filters),
        "lost": metrics.lost_reasons(period, filters),
        "close_rate": metrics.close_rate(period, filters),
    }


def reason_rows(data: dict) -> list[list]:
    """reasons() as flat rows for a spreadsheet: kind, breakdown (reason, month, channel, owner), the group's key
    and name, the reason code and how many; groups without any of a reason are left out."""
    rows = []
    for kind in ("reject", "lost"):
        found = data[kind]
        rows += [[kind, "reason", r["reason"], r["label"], r["reason"], r["count"]] for r in found["by_reason"]]
        for breakdown in ("month", "channel", "owner"):
            for entry in found[f"by_{breakdown}"]:
                key = entry[breakdown]
                name = entry.get("name", key)  # a month is its own name
                rows += [
                    [kind, breakdown, "" if key is None else key, name, cell["reason"], cell["count"]]
                    for cell in entry["reasons"]
                    if cell["count"]
                ]
    return rows


def time_in_stage(period: Period, filters: dict) -> dict:
    """Per stage: exits in the period, mean, median and p90 days (the time_in_stage_days metric)."""
    return metrics.time_in_stage_days(period, filters)


# --- loyalty ---------------------------------------------------------------------------------------------------

# The report's rows: each tier, highest first, then the customers who are not members (the metrics' tier filter).
TIER_ROWS = (
    *((code, label) for code, label in reversed(LoyaltyTierCode.choices)),
    (metrics.NOT_A_MEMBER, _("Not a member")),
)


def loyalty(period: Period) -> dict:
    """The loyalty report: active members (the loyalty_members_active metric), and the repurchase_rate and ltv
    metrics for everyone and per current loyalty tier (their `tier` filter): 3 + 2 × 5 queries."""
    return {
        "members": metrics.loyalty_members_active(period, {}),
        "repurchase": metrics.repurchase_rate(period, {}),
        "ltv": metrics.ltv(period, {}),
        "by_tier": [
            {
                "tier": tier,
                "label": label,
                "repurchase": metrics.repurchase_rate(period, {"tier": tier}),
                "ltv": metrics.ltv(period, {"tier": tier}),
            }
            for tier, label in TIER_ROWS
        ],
    }


def loyalty_rows(data: dict) -> list[list]:
    """loyalty() as CSV rows: tier, customers with an order, repeat customers, repurchase rate, newcomers, LTV."""
    rows = []
    for row in data["by_tier"]:
        repurchase, ltv = row["repurchase"], row["ltv"]
        rows.append(
            [
                row["tier"],
                repurchase["customers"],
                repurchase["repeat_customers"],
                "" if repurchase["value"] is None else repurchase["value"],
                ltv["customers"],
                "" if ltv["value"] is None else ltv["value"],
            ]
        )
    return rows


# --- date presets --------------------------------------------------------------------------------------------

PRESETS = (
    ("this_month", _("This month")),
    ("this_quarter", _("This quarter")),
    ("last_quarter", _("Last quarter")),
    ("last_30_days", _("Last 30 days")),
    ("this_year", _("This year")),
)


def date_presets(today: date) -> list[dict]:
    """The periods every report offers, from today's local date: `{key, label, start, end}` with `end` exclusive
    like every period (this quarter on 2026-11-15: 2026-10-01 to 2027-01-01, i.e. up to 31 December). The last
    30 days end with today."""
    month = today.replace(day=1)
    quarter = selectors.quarter_of(today)
    bounds = {
        "this_month": (month, (month + timedelta(days=32)).replace(day=1)),
        "this_quarter": selectors.quarter_bounds(quarter),
        "last_quarter": selectors.quarter_bounds(selectors.shift_quarter(quarter, -1)),
        "last_30_days": (today - timedelta(days=29), today + timedelta(days=1)),
        "this_year": (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
    }
    return [{"key": key, "label": label, "start": bounds[key][0], "end": bounds[key][1]} for key, label in PRESETS]


# --- sample size ---------------------------------------------------------------------------------------------

# One message per kind of observation (okr.metrics.Metric.sample_noun), each with its plural forms.
SAMPLE_NOTES = {
    "answers": ngettext_lazy(
        "based on %(n)s answer — too few to rely on", "based on %(n)s answers — too few to rely on", "n"
    ),
    "leads": ngettext_lazy(
        "based on %(n)s lead — too few to rely on", "based on %(n)s leads — too few to rely on", "n"
    ),
    "handoffs": ngettext_lazy(
        "based on %(n)s handoff — too few to rely on", "based on %(n)s handoffs — too few to rely on", "n"
    ),
    "exits": ngettext_lazy(
        "based on %(n)s stage exit — too few to rely on", "based on %(n)s stage exits — too few to rely on", "n"
    ),
    "complaints": ngettext_lazy(
        "based on %(n)s complaint — too few to rely on", "based on %(n)s complaints — too few to rely on", "n"
    ),
    "customers": ngettext_lazy(
        "based on %(n)s customer — too few to rely on", "based on %(n)s customers — too few to rely on", "n"
    ),
    "messages": ngettext_lazy(
        "based on %(n)s message — too few to rely on", "based on %(n)s messages — too few to rely on", "n"
    ),
}


def too_few(count: int | None) -> bool:
    """Some observations, but fewer than RELAY_MIN_SAMPLE (none at all reads as "no data" instead)."""
    return bool(count) and count < settings.RELAY_MIN_SAMPLE


def sample_note(count: int | None, noun: str) -> str:
    """The note under a value from too few observations ("based on 12 answers — too few to rely on"), else ""."""
    if not too_few(count) or noun not in SAMPLE_NOTES:
        return ""
    return SAMPLE_NOTES[noun] % {"n": count}
