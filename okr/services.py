"""Every write to objectives, key results, check-ins, metric snapshots and quarterly review notes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config import roles, todo
from config.api.fields import LONG_TEXT
from config.errors import DomainError
from config.models import TaskKind
from config.money import parse_number
from okr import metrics, permissions, review, selectors
from okr.models import CheckIn, Direction, KeyResult, MetricSnapshot, Objective, ReviewNote, ReviewNoteKind

OBJECTIVE_FIELDS = ("department", "quarter", "owner", "title")
KEY_RESULT_FIELDS = ("title", "metric", "metric_filters", "baseline", "target", "direction", "manual_value")


class InvalidOkr(DomainError):
    status, code = 400, "invalid"


def _clean_objective(*, department, quarter, owner, title) -> None:
    if department not in roles.DEPARTMENTS:
        raise InvalidOkr(_("Choose marketing, sales or service."), field="department")
    if not selectors.is_quarter(quarter):
        raise InvalidOkr(_("Write the quarter like 2026Q4."), field="quarter")
    if owner is None or not (owner.is_superuser or roles.department_of(owner) == department):
        raise InvalidOkr(_("The owner must be a member of the objective's department."), field="owner")
    if not (title or "").strip():
        raise InvalidOkr(_("Give the objective a title."), field="title")


@transaction.atomic
def create_objective(*, by, department: str, quarter: str, owner, title: str) -> Objective:
    permissions.require(by, "add_objective", department)
    _clean_objective(department=department, quarter=quarter, owner=owner, title=title)
    return Objective.objects.create(department=department, quarter=quarter, owner=owner, title=title.strip())


@transaction.atomic
def update_objective(*, objective: Objective, by, **changes) -> Objective:
    objective = Objective.objects.select_for_update().get(pk=objective.pk)
    permissions.require(by, "change_objective", objective)
    values = {name: changes.get(name, getattr(objective, name)) for name in OBJECTIVE_FIELDS}
    if values["department"] != objective.department:
        permissions.require(by, "add_objective", values["department"])
    _clean_objective(**values)
    for name, value in values.items():
        setattr(objective, name, value)
    objective.save()
    return objective


@transaction.atomic
def delete_objective(*, objective: Objective, by) -> None:
    objective = Objective.objects.select_for_update().get(pk=objective.pk)
    permissions.require(by, "delete_objective", objective)
    objective.delete()


def _decimal(value, field: str, *, required: bool = True) -> Decimal | None:
    if value in (None, ""):
        if required:
            raise InvalidOkr(_("Enter a number."), field=field)
        return None
    try:
        return parse_number(value, field=field, places=4, limit=Decimal("1e10"))
    except DomainError as error:
        raise InvalidOkr(error.message, field=field) from None


def _clean_key_result(values: dict) -> dict:
    if not (values["title"] or "").strip():
        raise InvalidOkr(_("Give the key result a title."), field="title")
    values["title"] = values["title"].strip()
    values["baseline"] = _decimal(values["baseline"], "baseline")
    values["target"] = _decimal(values["target"], "target")
    values["manual_value"] = _decimal(values["manual_value"], "manual_value", required=False)
    if values["direction"] not in Direction.values:
        raise InvalidOkr(_("Choose up or down."), field="direction")
    name = values["metric"] or ""
    filters = values["metric_filters"] or {}
    if not isinstance(filters, dict):
        raise InvalidOkr(_("Filters must be an object."), field="metric_filters")
    if name:
        if name not in metrics.REGISTRY:
            raise InvalidOkr(_("There is no metric with that name."), field="metric")
        try:
            cleaned = metrics.clean_filters(metrics.REGISTRY[name], filters)
        except metrics.InvalidMetricFilter as error:
            raise InvalidOkr(error.message, field="metric_filters") from None
        # Store the filters as given (strings/ints), without empty values; stage is stored as its code.
        values["metric_filters"] = {k: (v[0] if isinstance(v, tuple) else v) for k, v in cleaned.items()}
        values["manual_value"] = None  # a bound key result is computed, never typed
    else:
        values["metric_filters"] = {}
    values["metric"] = name
    return values


@transaction.atomic
def create_key_result(
    *,
    by,
    objective: Objective,
    title: str,
    baseline,
    target,
    metric: str = "",
    metric_filters: dict | None = None,
    direction: str | None = None,
    manual_value=None,
) -> KeyResult:
    objective = Objective.objects.select_for_update().get(pk=objective.pk)
    permissions.require(by, "add_key_result", objective)
    if direction is None:
        direction = metrics.REGISTRY[metric].direction if metric in metrics.REGISTRY else Direction.UP
    values = _clean_key_result(
        {
            "title": title,
            "metric": metric,
            "metric_filters": metric_filters,
            "baseline": baseline,
            "target": target,
            "direction": direction,
            "manual_value": manual_value,
        }
    )
    return KeyResult.objects.create(objective=objective, **values)


@transaction.atomic
def update_key_result(*, key_result: KeyResult, by, **changes) -> KeyResult:
    key_result = KeyResult.objects.select_for_update().select_related("objective").get(pk=key_result.pk)
    permissions.require(by, "change_key_result", key_result)
    if "objective" in changes and changes["objective"].pk != key_result.objective_id:
        permissions.require(by, "add_key_result", changes["objective"])
        key_result.objective = changes["objective"]
    values = _clean_key_result({name: changes.get(name, getattr(key_result, name)) for name in KEY_RESULT_FIELDS})
    for name, value in values.items():
        setattr(key_result, name, value)
    key_result.save()
    return key_result


@transaction.atomic
def delete_key_result(*, key_result: KeyResult, by) -> None:
    key_result = KeyResult.objects.select_for_update().select_related("objective").get(pk=key_result.pk)
    permissions.require(by, "delete_key_result", key_result)
    key_result.delete()


def _clean_check_in(confidence, comment) -> tuple[int, str]:
    try:
        confidence = int(confidence)
    except (TypeError, ValueError):
        raise InvalidOkr(_("Confidence is a whole number from 0 to 10."), field="confidence") from None
    if not 0 <= confidence <= 10:
        raise InvalidOkr(_("Confidence is a whole number from 0 to 10."), field="confidence")
    return confidence, (comment or "").strip()


def week_bounds(now) -> tuple:
    """[Monday 00:00, next Monday 00:00) local time of the ISO week that contains `now`."""
    monday = timezone.localtime(now).date() - timedelta(days=timezone.localtime(now).weekday())
    start = timezone.make_aware(datetime.combine(monday, time.min))
    return start, timezone.make_aware(datetime.combine(monday + timedelta(days=7), time.min))


@transaction.atomic
def add_check_in(*, key_result: KeyResult, by, confidence, comment: str = "", now=None) -> CheckIn:
    """Record the weekly check-in; the key result's current value is stored with it as seen at that moment.

    One check-in per key result and ISO week (Monday to Sunday, local time): checking in again the same week
    updates that week's check-in (`check_in.created` is False) instead of adding another. The key result's row
    lock serializes concurrent check-ins.
    """
    key_result = KeyResult.objects.select_for_update().select_related("objective").get(pk=key_result.pk)
    permissions.require(by, "check_in", key_result)
    confidence, comment = _clean_check_in(confidence, comment)
    now = now or timezone.now()
    current, _extra = selectors.key_result_current(key_result, selectors.metric_value_cache())
    values = {
        "by": by,
        "at": now,
        "confidence": confidence,
        "comment": comment,
        "value": Decimal(str(round(current, 4))) if current is not None else None,
    }
    start, end = week_bounds(now)
    this_week = key_result.check_ins.filter(at__gte=start, at__lt=end).order_by("-at", "-pk").first()
    if this_week is None:
        check_in = CheckIn.objects.create(key_result=key_result, **values)
        check_in.created = True
        return check_in
    for name, value in values.items():
        setattr(this_week, name, value)
    this_week.save(update_fields=[*values, "updated_at"])
    this_week.created = False
    return this_week


@transaction.atomic
def update_check_in(*, check_in: CheckIn, by, **changes) -> CheckIn:
    check_in = CheckIn.objects.select_for_update().select_related("key_result__objective").get(pk=check_in.pk)
    permissions.require(by, "change_check_in", check_in)
    check_in.confidence, check_in.comment = _clean_check_in(
        changes.get("confidence", check_in.confidence), changes.get("comment", check_in.comment)
    )
    check_in.save(update_fields=["confidence", "comment", "updated_at"])
    return check_in


@transaction.atomic
def delete_check_in(*, check_in: CheckIn, by) -> None:
    check_in = CheckIn.objects.select_for_update().select_related("key_result__objective").get(pk=check_in.pk)
    permissions.require(by, "delete_check_in", check_in)
    check_in.delete()


def _snapshot_value(value) -> Decimal | None:
    return Decimal(str(round(value, 4))) if value is not None else None


def snapshot_key_results(*, day: date) -> int:
    """Store each key result's value as of the end of `day` (its quarter so far), once per key result and day.

    Idempotent: a second run the same day updates the same rows (unique key_result + date).
    """
    quarter = selectors.quarter_of(day)
    key_results = list(KeyResult.objects.filter(objective__quarter=quarter).select_related("objective"))
    # Stored for good, so computed whole from the tables (not from the closed days the board keeps in the
    # cache), once per distinct binding and part.
    with metrics.batch(reuse_closed_days=False):
        value = selectors.metric_value_cache()
        currents = [selectors.key_result_current(kr, value, until=day + timedelta(days=1))[0] for kr in key_results]
    for kr, current in zip(key_results, currents, strict=True):
        MetricSnapshot.objects.update_or_create(key_result=kr, date=day, defaults={"value": _snapshot_value(current)})
    return len(key_results)


def backfill_snapshots(*, quarter: str, today: date | None = None) -> int:
    """Snapshots for every day of a quarter up to today; each distinct metric binding computed once per day."""
    start, end = selectors.quarter_bounds(quarter)
    today = today or timezone.localdate()
    stored, day = 0, start
    while day < end and day <= today:
        stored += snapshot_key_results(day=day)
        day += timedelta(days=1)
    return stored


# --- the quarterly process review --------------------------------------------------------------------------------


@transaction.atomic
def add_review_note(
    *,
    by,
    quarter: str,
    department: str,
    kind: str,
    text: str,
    assignee=None,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> ReviewNote:
    """A finding or an action in a department's review of a quarter that has started. An action becomes a task
    (config.todo, kind review_action, about the note) due at `due_at`, for `assignee` or, without one, for the
    department's queue; the note keeps the task.

    Raises PermissionDenied (not that department's manager, nor an admin), InvalidOkr(field=department|kind|text|
    due_at), review.InvalidQuarter(field=quarter), and config.todo's refusals (DomainError, field=assignee).
    """
    now = now or timezone.now()
    permissions.require(by, "add_review_note")  # a manager, of some department, or an admin
    if department not in roles.DEPARTMENTS:
        raise InvalidOkr(_("Choose marketing, sales or service."), field="department")
    permissions.require(by, "add_review_note", department)
    review.clean_quarter(quarter, today=timezone.localdate(now))
    if kind not in ReviewNoteKind.values:
        raise InvalidOkr(_("Choose a finding or an action."), field="kind")
    text = (text or "").strip()
    if not text:
        raise InvalidOkr(_("Write the finding or the action."), field="text")
    if len(text) > LONG_TEXT:
        raise InvalidOkr(_("Write at most %(count)s characters.") % {"count": LONG_TEXT}, field="text")
    if kind == ReviewNoteKind.ACTION and due_at is None:
        raise InvalidOkr(_("An action needs a due date."), field="due_at")
    note = ReviewNote.objects.create(
        quarter=quarter, department=department, kind=kind, text=text, created_by=by, created_at=now
    )
    if kind == ReviewNoteKind.ACTION:
        first_line = text.splitlines()[0].strip()
        title = first_line if len(first_line) <= todo.TITLE_MAX else first_line[: todo.TITLE_MAX - 1] + "…"
        note.task = todo.create_task(
            by=by,
            title=title,
            kind=TaskKind.REVIEW_ACTION,
            notes=text if title != text else "",
            due_at=due_at,
            assignee=assignee,
            # A person of any department (managers place tasks anywhere), else the department's own queue.
            department="" if assignee is not None else department,
            about_record=note,
            now=now,
        )
        note.save(update_fields=["task"])
    return note
