from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from django.views.decorators.http import require_POST

from config import spreadsheet
from config.errors import DomainError
from config.pages import error_status, form_error, staff_required
from leads.stages import Stage
from okr import charts, metrics, permissions, reports, selectors, services
from okr.forms import (
    ChannelPeriodForm,
    CheckInForm,
    KeyResultForm,
    LeadPeriodForm,
    LoyaltyPeriodForm,
    ObjectiveForm,
    PeriodForm,
)
from okr.metrics import Period
from okr.models import KeyResult, Objective


def _decorate(rows, user) -> None:
    """Add what the template draws: the trend chart, whether this user may check in and whether this week's
    check-in is done (no queries)."""
    week_start, _week_end = services.week_bounds(timezone.now())
    for row in rows:
        row.checked_in_this_week = row.checked_in_at is not None and row.checked_in_at >= week_start
        row.chart = charts.trend_line(
            row.trend,
            unit=charts.unit_for(row.metric.unit if row.metric else None),
            title=_("Daily value this quarter"),
            target=float(row.key_result.target),
            target_label=_("Target"),
        )
        row.can_check_in = permissions.can(user, "check_in", row.key_result)
        row.can_edit = permissions.can(user, "change_key_result", row.key_result)


@staff_required
def board(request):
    quarter = request.GET.get("quarter") or selectors.current_quarter()
    if not selectors.is_quarter(quarter):
        quarter = selectors.current_quarter()
    data = selectors.board(quarter)
    for department in data["departments"]:
        department["can_add"] = permissions.can(request.user, "add_objective", department["code"])
        for item in department["objectives"]:
            item["can_edit"] = permissions.can(request.user, "change_objective", item["objective"])
            _decorate(item["rows"], request.user)
    context = {
        **data,
        "previous_quarter": selectors.shift_quarter(quarter, -1),
        "next_quarter": selectors.shift_quarter(quarter, 1),
        "check_in_form": CheckInForm(),
    }
    return render(request, "okr/board.html", context)


def _key_result_card(request, pk: int, form=None, status: int = 200):
    row = selectors.key_result_row(pk)
    _decorate([row], request.user)
    response = render(
        request, "okr/_key_result.html", {"row": row, "check_in_form": form or CheckInForm()}, status=status
    )
    response["Vary"] = "HX-Request"
    return response


@staff_required
@require_POST
def check_in(request, pk: int):
    key_result = get_object_or_404(KeyResult.objects.select_related("objective"), pk=pk)
    permissions.require(request.user, "check_in", key_result)
    form = CheckInForm(request.POST)
    if form.is_valid():
        try:
            services.add_check_in(key_result=key_result, by=request.user, **form.cleaned_data)
        except DomainError as error:
            form_error(form, error)
    if not form.is_valid():
        if request.htmx:
            return _key_result_card(request, pk, form, status=422)
        return redirect(f"{_board_url(key_result.objective.quarter)}#kr-{pk}")
    if request.htmx:
        return _key_result_card(request, pk)
    return redirect(f"{_board_url(key_result.objective.quarter)}#kr-{pk}")


def _board_url(quarter: str) -> str:
    from django.urls import reverse

    return f"{reverse('okr:board')}?quarter={quarter}"


def _apply(request, form, call) -> int:
    """Run a service call with the form's data: 0 when done, else the page's status with the refusal attached to
    the named field."""
    try:
        call()
    except DomainError as error:
        form_error(form, error)
        return error_status(request, error)
    return 0


@staff_required
def objective_form(request, pk: int | None = None):
    objective = get_object_or_404(Objective, pk=pk) if pk else None
    if objective:
        permissions.require(request.user, "change_objective", objective)
        initial = {
            "department": objective.department,
            "quarter": objective.quarter,
            "owner": objective.owner_id,
            "title": objective.title,
        }
    else:
        department = request.GET.get("department") or request.POST.get("department")
        if not permissions.can(request.user, "add_objective", department or None):
            raise PermissionDenied(_("Only the department's manager may add its objectives."))
        initial = {
            "department": department,
            "quarter": request.GET.get("quarter") or selectors.current_quarter(),
            "owner": request.user.pk,
        }
    form = ObjectiveForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            if objective:
                status = _apply(
                    request, form, lambda: services.update_objective(objective=objective, by=request.user, **data)
                )
            else:
                status = _apply(request, form, lambda: services.create_objective(by=request.user, **data))
            if not status:
                return redirect(_board_url(data["quarter"]))
    return render(request, "okr/objective_form.html", {"form": form, "objective": objective}, status=status)


@staff_required
def key_result_form(request, objective_pk: int | None = None, pk: int | None = None):
    key_result = get_object_or_404(KeyResult.objects.select_related("objective"), pk=pk) if pk else None
    objective = key_result.objective if key_result else get_object_or_404(Objective, pk=objective_pk)
    if key_result:
        permissions.require(request.user, "change_key_result", key_result)
        initial = {
            "title": key_result.title,
            "metric": key_result.metric,
            "baseline": key_result.baseline,
            "target": key_result.target,
            "direction": key_result.direction,
            "manual_value": key_result.manual_value,
            **(key_result.metric_filters or {}),
        }
    else:
        permissions.require(request.user, "add_key_result", objective)
        initial = {}
    form = KeyResultForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            kwargs = form.service_kwargs()
            if key_result:
                status = _apply(
                    request, form, lambda: services.update_key_result(key_result=key_result, by=request.user, **kwargs)
                )
            else:
                status = _apply(
                    request, form, lambda: services.create_key_result(objective=objective, by=request.user, **kwargs)
                )
            if not status:
                return redirect(_board_url(objective.quarter))
    context = {"form": form, "objective": objective, "key_result": key_result}
    return render(request, "okr/key_result_form.html", context, status=status)


def _confirm_delete(request, *, obj, quarter: str, message: str, delete):
    """GET: ask; POST: delete through the service and go back to the quarter's board."""
    if request.method == "POST":
        delete()
        messages.success(request, _("Deleted “%(title)s”.") % {"title": obj.title})
        return redirect(_board_url(quarter))
    context = {"object": obj, "message": message, "cancel_url": _board_url(quarter)}
    return render(request, "okr/confirm_delete.html", context)


@staff_required
def objective_delete(request, pk: int):
    objective = get_object_or_404(Objective.objects.annotate(key_result_count=Count("key_results")), pk=pk)
    permissions.require(request.user, "delete_objective", objective)
    message = ngettext(
        "Delete the objective “%(title)s” and its %(count)d key result, with its check-ins and snapshots?",
        "Delete the objective “%(title)s” and its %(count)d key results, with their check-ins and snapshots?",
        objective.key_result_count,
    ) % {"title": objective.title, "count": objective.key_result_count}
    return _confirm_delete(
        request,
        obj=objective,
        quarter=objective.quarter,
        message=message,
        delete=lambda: services.delete_objective(objective=objective, by=request.user),
    )


@staff_required
def key_result_delete(request, pk: int):
    key_result = get_object_or_404(KeyResult.objects.select_related("objective"), pk=pk)
    permissions.require(request.user, "delete_key_result", key_result)
    message = _("Delete the key result “%(title)s” with its check-ins and snapshots?") % {"title": key_result.title}
    return _confirm_delete(
        request,
        obj=key_result,
        quarter=key_result.objective.quarter,
        message=message,
        delete=lambda: services.delete_key_result(key_result=key_result, by=request.user),
    )


# --- reports --------------------------------------------------------------------------------------------------


def _period(request, form_class=PeriodForm):
    form = form_class(request.GET)
    if form.is_valid():
        data = form.cleaned_data
        filters = {name: data[name] for name in ("channel", "owner", "campaign") if data.get(name) not in (None, "")}
        return form, Period(data["start"], data["end"]), filters
    return form, None, {}


def _csv(filename: str, header: list[str], rows: list[list]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = spreadsheet.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def _presets(request, form) -> list[dict]:
    """The period presets as links that keep the other filters; the one showing is marked."""
    showing = (form.data.get("start"), form.data.get("end"))
    out = []
    for preset in reports.date_presets(timezone.localdate()):
        query = request.GET.copy()
        query.pop("format", None)
        query["start"], query["end"] = preset["start"].isoformat(), preset["end"].isoformat()
        out.append(
            {
                **preset,
                "last_day": preset["end"] - timedelta(days=1),
                "url": f"?{query.urlencode()}",
                "active": showing == (query["start"], query["end"]),
            }
        )
    return out


def _report(request, template: str, context: dict, status: int = 200):
    context = {"reports_nav": REPORTS, "presets": _presets(request, context["form"]), **context}
    return render(request, template, context, status=status)


def _lead_report(request, template: str, metric: str):
    """The form, period and cleaned filters of a lead report, or the page showing why not (400, field named)."""
    form, period, filters = _period(request, LeadPeriodForm)
    if period is None:
        return form, None, None, _report(request, template, {"form": form}, status=400)
    try:
        cleaned = metrics.clean_filters(metrics.REGISTRY[metric], filters)
    except DomainError as error:
        form_error(form, error)
        return form, None, None, _report(request, template, {"form": form}, status=error_status(request, error))
    return form, period, cleaned, None


@staff_required
def reports_index(request):
    return redirect("okr:report-funnel")


@staff_required
def report_funnel(request):
    form, period, filters, refused = _lead_report(request, "okr/report_funnel.html", "funnel")
    if refused:
        return refused
    data = reports.funnel(period, filters)
    labels = dict(Stage.choices)
    for stage in data["stages"]:
        stage["label"] = labels[stage["stage"]]
    if request.GET.get("format") == "csv":
        return _csv(
            f"funnel-{period.start}-{period.end}.csv",
            ["stage", "count", "drop_off"],
            [[s["stage"], s["count"], "" if s["drop_off"] is None else s["drop_off"]] for s in data["stages"]],
        )
    top = max((s["count"] for s in data["stages"]), default=0) or 1
    for stage in data["stages"]:
        stage["width"] = round(100 * stage["count"] / top, 1)
    return _report(request, "okr/report_funnel.html", {"form": form, "data": data, "period": period})


@staff_required
def report_channels(request):
    form, period, filters = _period(request, ChannelPeriodForm)
    if period is None:
        return _report(request, "okr/report_channels.html", {"form": form}, status=400)
    model = form.cleaned_data["model"]
    filters = {**filters, "model": model}
    with metrics.batch():  # the comparison credits every model in one query; the chosen model's table reuses it
        comparison = reports.channel_comparison(period, filters)
        rows = reports.channels(period, filters)
    if request.GET.get("format") == "csv":
        return _csv(
            f"channels-{model}-{period.start}-{period.end}.csv",
            ["channel", "name", "cost", "revenue", "customers_won", "roi", "cac", "model"],
            [
                [
                    r["channel"],
                    r["name"],
                    r["cost"] or "",
                    r["revenue"],
                    r["customers_won"],
                    "" if r["roi"] is None else r["roi"],
                    r["cac"] or "",
                    model,
                ]
                for r in rows
            ],
        )
    for entry in comparison["models"]:  # each model's heading switches the page to it, keeping the other filters
        query = request.GET.copy()
        query.pop("format", None)
        query["model"] = entry["model"]
        entry.update(url=f"?{query.urlencode()}", active=entry["model"] == model)
    context = {
        "form": form,
        "rows": rows,
        "period": period,
        "model_label": metrics.ATTRIBUTION_MODEL_LABELS[model],
        "comparison": comparison,
        "lookback_days": settings.RELAY_ATTRIBUTION_LOOKBACK_DAYS,
    }
    return _report(request, "okr/report_channels.html", context)


@staff_required
def report_cycle_time(request):
    form, period, filters, refused = _lead_report(request, "okr/report_cycle_time.html", "cycle_time_days")
    if refused:
        return refused
    data = reports.cycle_time_distribution(period, filters)
    for bucket in data["buckets"]:
        bucket["label"] = f"{bucket['low']}–{bucket['high']}" if bucket["high"] else f"{bucket['low']}+"
    if request.GET.get("format") == "csv":
        return _csv(
            f"cycle-time-{period.start}-{period.end}.csv",
            ["from_days", "to_days", "leads"],
            [[b["low"], b["high"] if b["high"] else "", b["count"]] for b in data["buckets"]],
        )
    benchmark = metrics.CYCLE_TIME_BENCHMARK_DAYS
    position = next(i for i, (low, high) in enumerate(reports.CYCLE_BUCKETS) if high is None or benchmark < high)
    chart = charts.bar_chart(
        [charts.Bar(b["label"], b["count"]) for b in data["buckets"]],
        title=_("Leads won per cycle time"),
        unit=charts.COUNT,
        integer=True,
        y_title=_("Leads won"),
        x_title=_("Days from first handoff to won"),
        line_at=position,
        line_label=_("Benchmark %(days)s days") % {"days": benchmark},
    )
    context = {"form": form, "data": data, "period": period, "chart": chart, "benchmark": benchmark}
    return _report(request, "okr/report_cycle_time.html", context)


@staff_required
def report_nps(request):
    form, period, _filters = _period(request)
    if period is None:
        return _report(request, "okr/report_nps.html", {"form": form}, status=400)
    rows = reports.nps_by_month(period)
    if request.GET.get("format") == "csv":
        return _csv(
            f"nps-{period.start}-{period.end}.csv",
            ["month", "responses", "promoters", "detractors", "nps"],
            [[r["month"], r["responses"], r["promoters"], r["detractors"], r["nps"]] for r in rows],
        )
    for row in rows:
        row["note"] = reports.sample_note(row["responses"], "answers")
    points = [
        charts.Point(
            r["month"],
            r["nps"],
            detail=ngettext("%(n)s answer", "%(n)s answers", r["responses"]) % {"n": r["responses"]},
            faint=bool(r["note"]),
        )
        for r in rows
    ]
    chart = charts.line_chart(
        points,
        title=_("NPS by month"),
        unit=charts.NPS,
        y_title=_("NPS"),
        low=-100,
        high=100,
        note=_("hollow points: fewer than %(n)s answers") % {"n": settings.RELAY_MIN_SAMPLE}
        if any(r["note"] for r in rows)
        else "",
    )
    total = metrics.nps(period, {})
    context = {"form": form, "rows": rows, "period": period, "chart": chart, "total": total}
    return _report(request, "okr/report_nps.html", context)


def _reason_section(kind: str, data: dict, title: str) -> dict:
    """One kind of reasons as the page shows it: the charts by reason and by month, the tables' columns."""
    noun = metrics.REGISTRY[f"{kind}_reasons"].sample_noun
    note = reports.sample_note(data["sample_size"], noun)
    by_reason = charts.hbar_chart(
        [charts.Bar(r["label"], r["count"], detail=charts.PERCENT.text(r["share"])) for r in data["by_reason"]],
        title=title,
        unit=charts.COUNT,
        x_title=_("How many"),
    )
    months = [m["month"] for m in data["by_month"]]
    series = [
        (r["label"], [m["reasons"][i]["count"] for m in data["by_month"]]) for i, r in enumerate(data["by_reason"])
    ]
    by_month = charts.stacked_bar_chart(
        months, series, title=_("%(title)s by month") % {"title": title}, unit=charts.COUNT, y_title=_("How many")
    )
    return {
        "kind": kind,
        "title": title,
        "data": data,
        "note": note,
        "by_reason_chart": by_reason,
        "by_month_chart": by_month,
    }


@staff_required
def report_reasons(request):
    form, period, filters, refused = _lead_report(request, "okr/report_reasons.html", "reject_reasons")
    if refused:
        return refused
    with metrics.batch():
        data = reports.reasons(period, filters)
    if request.GET.get("format") == "csv":
        return _csv(
            f"reasons-{period.start}-{period.end}.csv",
            ["kind", "breakdown", "key", "name", "reason", "count"],
            reports.reason_rows(data),
        )
    sections = [
        _reason_section("reject", data["reject"], _("Reject reasons")),
        _reason_section("lost", data["lost"], _("Lost reasons")),
    ]
    close = data["close_rate"]
    context = {
        "form": form,
        "period": period,
        "sections": sections,
        "close_rate": close,
        "close_rate_note": reports.sample_note(close["sample_size"], metrics.REGISTRY["close_rate"].sample_noun),
    }
    return _report(request, "okr/report_reasons.html", context)


@staff_required
def report_time_in_stage(request):
    form, period, filters, refused = _lead_report(request, "okr/report_time_in_stage.html", "time_in_stage_days")
    if refused:
        return refused
    with metrics.batch():
        data = reports.time_in_stage(period, filters)
    if request.GET.get("format") == "csv":
        return _csv(
            f"time-in-stage-{period.start}-{period.end}.csv",
            ["stage", "exits", "mean_days", "median_days", "p90_days"],
            [[r["stage"], r["exits"], r["mean"], r["median"], r["p90"]] for r in data["by_stage"]],
        )
    labels = dict(Stage.choices)
    noun = metrics.REGISTRY["time_in_stage_days"].sample_noun
    for row in data["by_stage"]:
        row["label"] = labels[row["stage"]]
        row["note"] = reports.sample_note(row["exits"], noun)
    bars = [
        charts.Bar(
            row["label"],
            row["median"],
            detail=ngettext("median · %(n)s exit", "median · %(n)s exits", row["exits"]) % {"n": row["exits"]},
            marker=row["p90"],
            marker_label=_("p90"),
            faint=bool(row["note"]),
        )
        for row in data["by_stage"]
    ]
    chart = charts.bar_chart(
        bars,
        title=_("Median days in each stage, with the p90"),
        unit=charts.DAYS,
        y_title=_("Days"),
        x_title=_("Stage left in the period"),
        note=_("bars: median; line across a bar: p90; pale bars: fewer than %(n)s exits")
        % {"n": settings.RELAY_MIN_SAMPLE},
    )
    context = {"form": form, "period": period, "data": data, "chart": chart}
    return _report(request, "okr/report_time_in_stage.html", context)


@staff_required
def report_loyalty(request):
    """Active loyalty members, and repurchase rate and LTV per current loyalty tier."""
    form, period, _filters = _period(request, LoyaltyPeriodForm)
    if period is None:
        return _report(request, "okr/report_loyalty.html", {"form": form}, status=400)
    with metrics.batch():
        data = reports.loyalty(period)
    if request.GET.get("format") == "csv":
        return _csv(
            f"loyalty-{period.start}-{period.end}.csv",
            ["tier", "customers_ordering", "repeat_customers", "repurchase_rate", "newcomers", "ltv"],
            reports.loyalty_rows(data),
        )
    context = {
        "form": form,
        "period": period,
        "data": data,
        "members_metric": metrics.REGISTRY["loyalty_members_active"],
        "repurchase_metric": metrics.REGISTRY["repurchase_rate"],
        "ltv_metric": metrics.REGISTRY["ltv"],
    }
    return _report(request, "okr/report_loyalty.html", context)


REPORTS = (
    ("okr:report-funnel", gettext_lazy("Funnel")),
    ("okr:report-channels", gettext_lazy("Channel ROI and CAC")),
    ("okr:report-cycle-time", gettext_lazy("Cycle time")),
    ("okr:report-time-in-stage", gettext_lazy("Time in stage")),
    ("okr:report-reasons", gettext_lazy("Reject and lost reasons")),
    ("okr:report-nps", gettext_lazy("NPS trend")),
    ("okr:report-loyalty", pgettext_lazy("loyalty programme", "Loyalty")),
)
