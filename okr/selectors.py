"""Reads shaped for the OKR board, the API and the snapshot task."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Prefetch, Subquery
from django.utils import timezone

from config.errors import DomainError
from config.roles import DEPARTMENT_LABELS, DEPARTMENTS
from leads import selectors as lead_selectors
from okr import metrics
from okr.models import CheckIn, Direction, KeyResult, MetricSnapshot, Objective

QUARTER_RE = re.compile(r"^(\d{4})Q([1-4])$")


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def current_quarter() -> str:
    return quarter_of(timezone.localdate())


def is_quarter(value: str) -> bool:
    return bool(QUARTER_RE.match(value or ""))


def quarter_bounds(quarter: str) -> tuple[date, date]:
    """[first day, first day of the next quarter) of e.g. "2026Q4"; ValueError when malformed."""
    match = QUARTER_RE.match(quarter or "")
    if not match:
        raise ValueError(quarter)
    year, q = int(match[1]), int(match[2])
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, end


def shift_quarter(quarter: str, steps: int) -> str:
    year, q = int(quarter[:4]), int(quarter[5])
    index = year * 4 + (q - 1) + steps
    return f"{index // 4}Q{index % 4 + 1}"


def progress(*, baseline, target, current, direction: str) -> float | None:
    """Progress 0–100 % from baseline to target; for lower-is-better, (baseline − current) ÷ (baseline − target)."""
    if current is None or baseline is None or target is None:
        return None
    baseline, target, current = (Decimal(str(v)) for v in (baseline, target, current))
    if direction == Direction.DOWN:
        done, span = baseline - current, baseline - target
        reached = current <= target
    else:
        done, span = current - baseline, target - baseline
        reached = current >= target
    if span == 0:
        return 100.0 if reached else 0.0
    return float(max(Decimal(0), min(Decimal(100), 100 * done / span)).quantize(Decimal("0.1")))


@dataclass
class KeyResultRow:
    key_result: KeyResult
    metric: metrics.Metric | None
    current: float | None
    progress: float | None
    confidence: int | None = None
    checked_in_at: object = None
    comment: str = ""
    trend: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def is_manual(self) -> bool:
        return self.metric is None


def metric_value_cache():
    """Memo of metric results per (metric, filters, start, end): each distinct binding is computed once."""
    cache: dict[tuple, dict | None] = {}

    def value(name: str, filters: dict, start: date, end: date) -> dict | None:
        key = (name, metrics.filters_key(filters), start, end)
        if key not in cache:
            try:
                cache[key] = metrics.compute(name, start=start, end=end, filters=filters)
            except DomainError:
                cache[key] = None  # a binding that no longer validates shows as "no data"
        return cache[key]

    return value


def key_result_current(key_result: KeyResult, value, *, until: date | None = None) -> tuple[float | None, dict]:
    """The live value of a key result over its objective's quarter (cut at `until`, exclusive, if earlier)."""
    if not key_result.metric:
        current = key_result.manual_value
        return (float(current) if current is not None else None), {}
    start, end = quarter_bounds(key_result.objective.quarter)
    if until is not None:
        end = min(end, until)
    if end <= start:
        return None, {}
    result = value(key_result.metric, key_result.metric_filters or {}, start, end)
    if result is None:
        return None, {}
    return result["value"], result


def key_results_with_check_in():
    latest = CheckIn.objects.filter(key_result=OuterRef("pk")).order_by("-at", "-pk")
    return KeyResult.objects.select_related("objective", "objective__owner").annotate(
        confidence=Subquery(latest.values("confidence")[:1]),
        checked_in_at=Subquery(latest.values("at")[:1]),
        last_comment=Subquery(latest.values("comment")[:1]),
    )


def key_result_rows(key_results, *, value=None) -> list[KeyResultRow]:
    value = value or metric_value_cache()
    rows = []
    for kr in key_results:
        current, result = key_result_current(kr, value)
        metric = metrics.REGISTRY.get(kr.metric) if kr.metric else None
        extra = {k: v for k, v in result.items() if k not in ("metric", "start", "end", "value")}
        snapshots = getattr(kr, "quarter_snapshots", None)
        rows.append(
            KeyResultRow(
                key_result=kr,
                metric=metric,
                current=current,
                progress=progress(baseline=kr.baseline, target=kr.target, current=current, direction=kr.direction),
                confidence=getattr(kr, "confidence", None),
                checked_in_at=getattr(kr, "checked_in_at", None),
                comment=getattr(kr, "last_comment", None) or "",
                trend=[(s.date, float(s.value) if s.value is not None else None) for s in snapshots or []],
                extra=extra,
            )
        )
    return rows


def board(quarter: str) -> dict:
    """Every department's objectives for a quarter, each key result with its live value, progress, latest
    confidence and snapshot trend. Queries: objectives, key results, snapshots, one per distinct metric part
    (see metrics.batch), the referrals and their names.
    """
    start, end = quarter_bounds(quarter)
    snapshots = (
        MetricSnapshot.objects.filter(date__gte=start, date__lt=end)
        .order_by("date")
        .only("key_result_id", "date", "value")
    )
    objectives = list(
        Objective.objects.filter(quarter=quarter)
        .select_related("owner")
        .prefetch_related(
            Prefetch(
                "key_results",
                queryset=key_results_with_check_in().prefetch_related(
                    Prefetch("snapshots", queryset=snapshots, to_attr="quarter_snapshots")
                ),
            )
        )
        .order_by("department", "pk")
    )
    # One batch: each distinct binding (metric, filters, quarter) is computed once, bindings that share a part
    # (lead quality and handoff SLA read the same handoff decisions) share its query, and the stage-change
    # metrics take the quarter's closed days from the cache and read only today's rows.
    with metrics.batch():
        departments = _board_departments(objectives, metric_value_cache())
    return {
        "quarter": quarter,
        "start": start,
        "end": end,
        "departments": departments,
        "referrals": referrals(metrics.Period(start, end)),
    }


def referrals(period: metrics.Period) -> list[dict]:
    """DESIGN.md "The board shows referrals and won revenue per employee": leads created in the period per
    employee who brought them (one aggregate), with the employee's name and department (one more query)."""
    rows = lead_selectors.referral_credit(start=period.start_at, end=period.end_at)
    if not rows:
        return rows
    names, departments = {}, {}
    users = get_user_model().objects.filter(pk__in=[r["user_id"] for r in rows])
    for user in users.values("pk", "first_name", "last_name", "groups__name"):  # a row per (user, group)
        names[user["pk"]] = f"{user['first_name']} {user['last_name']}".strip()
        if user["groups__name"] in DEPARTMENT_LABELS:
            departments[user["pk"]] = DEPARTMENT_LABELS[user["groups__name"]]
    for row in rows:
        row["name"] = names.get(row["user_id"]) or row["username"]
        row["department"] = departments.get(row["user_id"], "")
    return rows


def _board_departments(objectives: list, value) -> list[dict]:
    departments = []
    for code in DEPARTMENTS:
        items = []
        for objective in (o for o in objectives if o.department == code):
            krs = list(objective.key_results.all())
            for kr in krs:
                kr.objective = objective  # share the already-loaded objective and owner
            items.append({"objective": objective, "rows": key_result_rows(krs, value=value)})
        departments.append({"code": code, "label": DEPARTMENT_LABELS[code], "objectives": items})
    return departments


def home_key_results(quarter: str, department: str | None) -> list[dict]:
    """The home page's compact board: the quarter's key results of one department (every department's when
    None), each with its live value and progress as the board computes them, per department in board order.
    Queries: the key results with their objectives and latest check-in (one), one per distinct metric part."""
    key_results = key_results_with_check_in().filter(objective__quarter=quarter)
    if department is not None:
        key_results = key_results.filter(objective__department=department)
    with metrics.batch():
        rows = key_result_rows(key_results.order_by("objective__department", "objective_id", "pk"))
    return [
        {
            "code": code,
            "label": DEPARTMENT_LABELS[code],
            "rows": [r for r in rows if r.key_result.objective.department == code],
        }
        for code in DEPARTMENTS
        if department in (None, code)
    ]


def key_result_row(pk: int) -> KeyResultRow:
    """One key result as the board shows it (for the htmx check-in swap)."""
    kr = key_results_with_check_in().get(pk=pk)
    start, end = quarter_bounds(kr.objective.quarter)
    kr.quarter_snapshots = list(kr.snapshots.filter(date__gte=start, date__lt=end).order_by("date"))
    with metrics.batch():
        return key_result_rows([kr])[0]
