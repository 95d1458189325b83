"""The quarterly process review (DESIGN.md "Everyday work" → Quarterly process review): a quarter's figures, each
against the previous quarter's, for the review page and `GET /api/v1/reviews/{quarter}/`; and its notes.

Read-only. Every figure comes from the metric registry (okr.metrics) or the owning app's selectors, never
recomputed here: the OKR outcomes are the board's key result rows, the funnel, cycle time, reasons, NPS and
channel ROI are registry metrics, complaint categories, complaint SLA and detractor themes are feedback
selectors. Both quarters are computed in one metrics.batch(), so the review costs a fixed number of queries
whatever the data (tests/okr/test_review.py counts them at two sizes).

Duplicate reach is the registry's `duplicate_reach_rate` (marketing.overlap: customers touched by two or more
channels in the quarter ÷ customers touched); were it ever left out of the registry, the review would say it is not
measured yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from config import moments
from config.errors import DomainError
from config.roles import DEPARTMENT_LABELS
from feedback import selectors as feedback_selectors
from leads.stages import Stage
from okr import metrics, selectors
from okr.models import ReviewNote

DUPLICATE_REACH = "duplicate_reach_rate"
UP, DOWN = metrics.UP, metrics.DOWN
# The quarters the review page offers in its selector: this one and this many before it.
QUARTERS_OFFERED = 8


class InvalidQuarter(DomainError):
    status, code = 400, "invalid"


# --- quarters ----------------------------------------------------------------------------------------------------


def clean_quarter(value: str, *, today: date | None = None) -> str:
    """The quarter as given when it names one that has started by `today` (default: today), like "2026Q3".

    Raises InvalidQuarter(field=quarter)."""
    if not isinstance(value, str) or not selectors.is_quarter(value):
        raise InvalidQuarter(gettext("Write the quarter like 2026Q4."), field="quarter")
    if not moments.EARLIEST_YEAR <= int(value[:4]) <= moments.LATEST_YEAR:  # year 0000 is no date at all
        raise InvalidQuarter(
            gettext("Use a year from %(earliest)s to %(latest)s.")
            % {"earliest": moments.EARLIEST_YEAR, "latest": moments.LATEST_YEAR},
            field="quarter",
            code="year_out_of_range",
        )
    if value > selectors.quarter_of(today or timezone.localdate()):  # "YYYYQn" sort like the quarters they name
        raise InvalidQuarter(gettext("This quarter has not started yet."), field="quarter")
    return value


def last_closed_quarter() -> str:
    return selectors.shift_quarter(selectors.current_quarter(), -1)


def offered_quarters(showing: str) -> list[str]:
    """The quarters of the page's selector, newest first: this one (in progress), the ones before it, and the one
    showing when it is older."""
    current = selectors.current_quarter()
    quarters = [selectors.shift_quarter(current, -step) for step in range(QUARTERS_OFFERED + 1)]
    return quarters if showing in quarters else [*quarters, showing]


# --- a figure against the previous quarter -----------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A quarter's value and the previous quarter's, in a metric unit ("ratio", "days", "count", "nps", "score",
    "money", or "progress" for 0–100 %), read with the metric's direction (up: higher is better)."""

    value: float | None
    previous: float | None
    unit: str
    direction: str

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return round(float(self.value) - float(self.previous), 4)

    @property
    def better(self) -> bool | None:
        """Whether the change is an improvement: None without one (no data, or no change)."""
        change = self.change
        if not change:
            return None
        return (change > 0) == (self.direction == UP)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- the review -------------------------------------------------------------------------------------------------


def review(quarter: str) -> dict:
    """The review of `quarter` (a quarter that has started, see clean_quarter) against the quarter before it:

    `{quarter, start, end (exclusive), previous_quarter, okr, funnel, cycle_time, reasons, complaints, nps,
    channels, duplicate_reach, notes}`. Queries: per quarter the key results and one per distinct metric part, the
    complaint, SLA and theme counts; and the notes with their tasks.
    """
    previous = selectors.shift_quarter(quarter, -1)
    start, end = selectors.quarter_bounds(quarter)
    now = timezone.now()
    with metrics.batch():
        current_figures, previous_figures = _figures(quarter, now), _figures(previous, now)
        okr = _okr(quarter, previous)
    return {
        "quarter": quarter,
        "start": start,
        "end": end,
        "last_day": end - timedelta(days=1),
        "previous_quarter": previous,
        "okr": okr,
        "funnel": _funnel(current_figures["funnel"], previous_figures["funnel"]),
        "cycle_time": _cycle_time(current_figures["cycle_time"], previous_figures["cycle_time"]),
        "reasons": {
            kind: _reasons(current_figures[kind], previous_figures[kind], metrics.REGISTRY[f"{kind}_reasons"])
            for kind in ("reject", "lost")
        },
        "complaints": _complaints(current_figures, previous_figures),
        "nps": _nps(current_figures, previous_figures),
        "channels": _channels(current_figures["channel_roi"], previous_figures["channel_roi"]),
        "duplicate_reach": _duplicate_reach(current_figures["duplicate_reach"], previous_figures["duplicate_reach"]),
        "notes": list(review_notes(quarter)),
    }


def _figures(quarter: str, now) -> dict:
    """One quarter's raw figures: the registry's metrics and the feedback counts."""
    start, end = selectors.quarter_bounds(quarter)
    period = metrics.Period(start, end)

    def metric(name: str) -> dict | None:
        return metrics.compute(name, start=start, end=end) if name in metrics.REGISTRY else None

    return {
        "funnel": metric("funnel"),
        "cycle_time": metric("cycle_time_days"),
        "reject": metric("reject_reasons"),
        "lost": metric("lost_reasons"),
        "nps": metric("nps"),
        "channel_roi": metric("channel_roi"),
        "duplicate_reach": metric(DUPLICATE_REACH),
        "categories": feedback_selectors.complaint_counts_by_category(period.start_at, period.end_at),
        "sla": feedback_selectors.complaint_sla_counts(period.start_at, period.end_at, now=now),
        "themes": feedback_selectors.detractor_themes(period.start_at, period.end_at),
    }


# --- OKR outcomes ------------------------------------------------------------------------------------------------


def _reached(row) -> bool:
    return row.progress is not None and row.progress >= 100


def _summary(rows: list) -> dict:
    progresses = [row.progress for row in rows if row.progress is not None]
    return {
        "key_results": len(rows),
        "reached": sum(1 for row in rows if _reached(row)),
        "mean_progress": round(sum(progresses) / len(progresses), 1) if progresses else None,
    }


def _okr(quarter: str, previous: str) -> list[dict]:
    """Per department: the quarter's objectives, each key result's final value (the quarter so far while it runs)
    against its target with its progress, and what the same metric binding gave the quarter before; with how many
    key results reached their target and the mean progress, against the previous quarter's key results."""
    previous_start, previous_end = selectors.quarter_bounds(previous)
    value = selectors.metric_value_cache()
    before = {d["code"]: d["rows"] for d in selectors.home_key_results(previous, None)}
    out = []
    for department in selectors.home_key_results(quarter, None):
        objectives: dict[int, dict] = {}
        for row in department["rows"]:
            kr = row.key_result
            objective = objectives.setdefault(
                kr.objective_id,
                {
                    "id": kr.objective_id,
                    "title": kr.objective.title,
                    "owner": kr.objective.owner.get_full_name() or kr.objective.owner.username,
                    "key_results": [],
                },
            )
            found = value(kr.metric, kr.metric_filters or {}, previous_start, previous_end) if kr.metric else None
            objective["key_results"].append(
                {
                    "id": kr.pk,
                    "title": kr.title,
                    "metric": kr.metric,
                    "metric_label": str(row.metric.label) if row.metric else "",
                    "baseline": float(kr.baseline),
                    "target": float(kr.target),
                    "direction": kr.direction,
                    "progress": row.progress,
                    "is_reached": _reached(row),
                    "value": Figure(
                        row.current,
                        found["value"] if found else None,
                        row.metric.unit if row.metric else "score",
                        kr.direction,
                    ),
                }
            )
        now_summary, before_summary = _summary(department["rows"]), _summary(before.get(department["code"], []))
        out.append(
            {
                "department": department["code"],
                "label": str(department["label"]),
                "objectives": list(objectives.values()),
                **now_summary,
                "previous": before_summary,
                "progress": Figure(now_summary["mean_progress"], before_summary["mean_progress"], "progress", UP),
            }
        )
    return out


# --- the funnel --------------------------------------------------------------------------------------------------


def worst_step(stages: list[dict]) -> dict | None:
    """The step between consecutive stages that loses the largest share of leads: `{from, to, drop}` (the first
    of equal ones), None when no step has leads to lose."""
    worst = None
    for before, stage in zip(stages, stages[1:], strict=False):
        drop = stage["drop_off"]
        if drop is not None and (worst is None or drop > worst["drop"]):
            worst = {"from": before["stage"], "to": stage["stage"], "drop": drop}
    return worst


def _funnel(current: dict, previous: dict) -> dict:
    labels = dict(Stage.choices)
    before = {s["stage"]: s for s in previous["stages"]}
    stages = [
        {
            **stage,
            "label": labels[stage["stage"]],
            "previous_count": before[stage["stage"]]["count"],
            "previous_drop_off": before[stage["stage"]]["drop_off"],
        }
        for stage in current["stages"]
    ]
    worst, worst_before = worst_step(current["stages"]), worst_step(previous["stages"])
    if worst is not None:
        # The same step in the previous quarter, to tell whether this quarter's worst step got worse.
        worst = {
            **worst,
            "from_label": labels[worst["from"]],
            "to_label": labels[worst["to"]],
            "previous_drop": before[worst["to"]]["drop_off"],
        }
        worst["figure"] = Figure(worst["drop"], worst["previous_drop"], "ratio", DOWN)
    if worst_before is not None:
        worst_before = {
            **worst_before,
            "from_label": labels[worst_before["from"]],
            "to_label": labels[worst_before["to"]],
        }
    return {
        "conversion": Figure(current["value"], previous["value"], "ratio", metrics.REGISTRY["funnel"].direction),
        "created": Figure(current["sample_size"], previous["sample_size"], "count", UP),
        "lost": Figure(current["lost"], previous["lost"], "count", DOWN),
        "stages": stages,
        "worst_step": worst,
        "previous_worst_step": worst_before,
    }


# --- cycle time --------------------------------------------------------------------------------------------------


def _cycle_time(current: dict, previous: dict) -> dict:
    direction = metrics.REGISTRY["cycle_time_days"].direction
    benchmark = current["benchmark_days"]
    median = current["value"]
    return {
        "median": Figure(median, previous["value"], "days", direction),
        "mean": Figure(current["mean"], previous["mean"], "days", direction),
        "p90": Figure(current["p90"], previous["p90"], "days", direction),
        "leads": Figure(current["leads"], previous["leads"], "count", UP),
        "benchmark_days": benchmark,
        # Days over the benchmark (negative: under it), None without wins.
        "over_benchmark": None if median is None else round(median - benchmark, 2),
    }


# --- reasons -----------------------------------------------------------------------------------------------------


def _reasons(current: dict, previous: dict, metric: metrics.Metric) -> dict:
    """Each reason given in either quarter, most frequent this quarter first (then the previous quarter's)."""
    now_rows = {r["reason"]: r for r in current["by_reason"]}
    before_rows = {r["reason"]: r for r in previous["by_reason"]}
    codes = sorted(
        {*now_rows, *before_rows},
        key=lambda code: (-now_rows.get(code, {}).get("count", 0), -before_rows.get(code, {}).get("count", 0), code),
    )
    rows = []
    for code in codes:
        now_row, before_row = now_rows.get(code), before_rows.get(code)
        rows.append(
            {
                "reason": code,
                "label": (now_row or before_row)["label"],
                "share": now_row["share"] if now_row else None,
                "previous_share": before_row["share"] if before_row else None,
                "count": Figure(
                    now_row["count"] if now_row else 0, before_row["count"] if before_row else 0, "count", DOWN
                ),
            }
        )
    return {"total": Figure(current["sample_size"], previous["sample_size"], "count", metric.direction), "rows": rows}


# --- complaints and NPS -----------------------------------------------------------------------------------------


def _complaints(current: dict, previous: dict) -> dict:
    before = {row["category"]: row for row in previous["categories"]}
    rows = [
        {
            "category": row["category"],
            "label": row["label"],
            "count": Figure(row["count"], before.get(row["category"], {}).get("count", 0), "count", DOWN),
        }
        for row in current["categories"]
    ]
    shown = {row["category"] for row in rows}
    rows += [  # categories complained about only the quarter before
        {"category": row["category"], "label": row["label"], "count": Figure(0, row["count"], "count", DOWN)}
        for row in previous["categories"]
        if row["category"] not in shown
    ]
    sla, sla_before = current["sla"], previous["sla"]
    return {
        "total": Figure(
            sum(r["count"] for r in current["categories"]),
            sum(r["count"] for r in previous["categories"]),
            "count",
            DOWN,
        ),
        "by_category": rows,
        "first_response_sla_rate": Figure(
            _rate(sla["first_response_met"], sla["first_response_due"]),
            _rate(sla_before["first_response_met"], sla_before["first_response_due"]),
            "ratio",
            UP,
        ),
        "resolution_sla_rate": Figure(
            _rate(sla["resolution_met"], sla["resolution_due"]),
            _rate(sla_before["resolution_met"], sla_before["resolution_due"]),
            "ratio",
            UP,
        ),
        "first_response_due": sla["first_response_due"],
        "first_response_met": sla["first_response_met"],
        "resolution_due": sla["resolution_due"],
        "resolution_met": sla["resolution_met"],
    }


def _nps(current: dict, previous: dict) -> dict:
    now, before = current["nps"], previous["nps"]
    themes_before = {row["tag"]: row["count"] for row in previous["themes"]}
    themes = [
        {
            "theme": row["tag"],
            "label": row["label"],
            "share": _rate(row["count"], now["detractors"]),
            "count": Figure(row["count"], themes_before.get(row["tag"], 0), "count", DOWN),
        }
        for row in current["themes"]
    ]
    return {
        "value": Figure(now["value"], before["value"], "nps", metrics.REGISTRY["nps"].direction),
        "responses": Figure(now["sample_size"], before["sample_size"], "count", UP),
        "promoters": now["promoters"],
        "passives": now["passives"],
        "detractors": Figure(now["detractors"], before["detractors"], "count", DOWN),
        "detractor_themes": themes,
    }


# --- channels ------------------------------------------------------------------------------------------------------


def _channels(current: dict, previous: dict) -> dict:
    direction = metrics.REGISTRY["channel_roi"].direction
    before = {row["channel"]: row for row in previous["by_channel"]}
    rows = []
    for row in current["by_channel"]:
        old = before.get(row["channel"], {})
        rows.append(_channel_row(row, old, direction))
    shown = {row["channel"] for row in rows}
    rows += [
        _channel_row({"channel": r["channel"], "name": r["name"]}, r, direction)
        for r in previous["by_channel"]
        if r["channel"] not in shown
    ]
    return {"roi": Figure(current["value"], previous["value"], "ratio", direction), "rows": rows}


def _channel_row(row: dict, old: dict, direction: str) -> dict:
    return {
        "channel": row["channel"],
        "name": row["name"],
        "revenue": row.get("revenue"),
        "cost": row.get("cost"),
        "previous_revenue": old.get("revenue"),
        "previous_cost": old.get("cost"),
        "roi": Figure(row.get("roi"), old.get("roi"), "ratio", direction),
    }


def _duplicate_reach(current: dict | None, previous: dict | None) -> dict:
    """Measured once the registry has the metric; until then `rate` is None and the page says so."""
    metric = metrics.REGISTRY.get(DUPLICATE_REACH)
    if metric is None or current is None or previous is None:
        return {"is_measured": False, "rate": None}
    return {"is_measured": True, "rate": Figure(current["value"], previous["value"], metric.unit, metric.direction)}


# --- notes ---------------------------------------------------------------------------------------------------------


def review_notes(quarter: str) -> QuerySet[ReviewNote]:
    """The quarter's findings and actions per department, oldest first, with who wrote them and each action's
    task and its assignee (one query)."""
    return (
        ReviewNote.objects.filter(quarter=quarter)
        .select_related("created_by", "task", "task__assignee")
        .order_by("department", "created_at", "pk")
    )


def note_labels(ids: list[int]) -> dict[int, str]:
    """{id: "2026Q3 review · Sales · action"} for the tasks an action became (config.about), one query."""
    kinds = {"finding": gettext("finding"), "action": gettext("action")}
    rows = ReviewNote.objects.filter(pk__in=ids).values_list("pk", "quarter", "department", "kind")
    return {
        pk: gettext("%(quarter)s review · %(department)s · %(kind)s")
        % {"quarter": quarter, "department": DEPARTMENT_LABELS.get(department, department), "kind": kinds[kind]}
        for pk, quarter, department, kind in rows
    }


def note_url(pk: int) -> str:
    return reverse("okr:review-note", args=[pk])
