"""Experiment pages: the list (with the form that starts one), and the results page with its chart, the test's
p-value, a plain verdict and the manager's declare button. Thin views over marketing.experiments."""

import math
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from config.errors import DomainError
from config.pages import error_status, form_error, staff_required
from config.pagination import keyset_page_for
from marketing import experiments, permissions
from marketing.api.experiments import ExperimentFilter
from marketing.models import ContentVariant, Experiment, ExperimentGoal, ExperimentStatus

# ---------------------------------------------------------------- forms


class ItemChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return _("%(title)s (%(count)s variants)") % {"title": obj.title, "count": obj.variant_count}


class ExperimentForm(forms.Form):
    item = ItemChoice(
        label=gettext_lazy("Content"),
        queryset=experiments.items_ready_for_experiment(),
        help_text=gettext_lazy("Active content with two or more variants and no experiment yet."),
    )
    goal = forms.ChoiceField(label=gettext_lazy("Goal"), choices=ExperimentGoal.choices)


class DeclareForm(forms.Form):
    variant = forms.ModelChoiceField(queryset=ContentVariant.objects.all(), widget=forms.HiddenInput)


# ---------------------------------------------------------------- the chart


def percent(value: float | None, places: int = 1) -> str:
    """A share 0–1 as a percentage ("12.5 %"); "—" for none."""
    if value is None:
        return "—"
    return _("%(value)s %%") % {"value": number_format(round(value * 100, places), places)}


def _nice_top(value: float) -> float:
    """The axis end: the smallest of 1, 2, 2.5, 5 × 10^k at or above `value`, capped at 100 %."""
    if value <= 0:
        return 0.01
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value - 1e-12:
            return min(step * magnitude, 1.0)
    return 1.0


ROW, BAR, CAP, LEFT, RIGHT, TOP, WIDTH = 34, 18, 6, 28, 64, 6, 480  # viewBox units (static/css/experiments.css)


def _line(css: str, x1: float, x2: float, y1: float, y2: float) -> SafeString:
    return format_html('<line class="{}" x1="{}" x2="{}" y1="{}" y2="{}"/>', css, x1, x2, y1, y2)


def _text(css: str, x: float, y: float, text: str, anchor: str = "start") -> SafeString:
    return format_html('<text class="{}" x="{}" y="{}" text-anchor="{}">{}</text>', css, x, y, anchor, text)


def _tip(variant: experiments.VariantResult, rate, interval) -> str:
    if interval is None:
        return _("Variant %(key)s: no sends yet") % {"key": variant.key}
    return _("Variant %(key)s: %(rate)s (95 %% interval %(low)s – %(high)s), %(sent)s sends") % {
        "key": variant.key,
        "rate": percent(rate),
        "low": percent(interval.low),
        "high": percent(interval.high),
        "sent": number_format(variant.sent, force_grouping=True),
    }


def results_chart(found: experiments.Results) -> SafeString:
    """An inline SVG: one horizontal bar per variant, its rate on the goal, with the 95 % Wilson interval drawn as
    an error bar, and its exact figures in a tooltip. Classes only (the Content-Security-Policy refuses style
    attributes): static/css/experiments.css colours them."""
    rows = [(v, found.goal_rate(v), found.goal_interval(v)) for v in found.variants]
    top = _nice_top(max([interval.high for _v, _rate, interval in rows if interval] or [0.0]))
    plot = WIDTH - LEFT - RIGHT
    axis_y = TOP + ROW * len(rows)

    def x(value: float) -> float:
        return round(LEFT + plot * min(value / top, 1.0), 1)

    parts = []
    for tick in (top * i / 4 for i in range(5)):
        parts.append(_line("xp-grid", x(tick), x(tick), TOP, axis_y))
        parts.append(_text("xp-tick", x(tick), axis_y + 18, percent(tick, 1 if top < 0.1 else 0), "middle"))
    parts.append(_line("xp-axis", LEFT, WIDTH - RIGHT, axis_y, axis_y))
    best_id = found.best.variant if found.best else None
    for index, (variant, rate, interval) in enumerate(rows):
        middle = TOP + ROW * index + ROW / 2
        state = (
            "winner" if variant.variant == found.experiment.winner_id else "best" if variant.variant == best_id else ""
        )
        row = [_text("xp-key", LEFT - 8, middle + 5, variant.key, "end")]
        if interval is None:
            row.append(_text("xp-value", LEFT + 4, middle + 5, "—"))
        else:
            low, high = x(interval.low), x(interval.high)
            row += [
                format_html(
                    '<rect class="xp-bar {}" x="{}" y="{}" width="{}" height="{}"/>',
                    state,
                    LEFT,
                    middle - BAR / 2,
                    round(x(rate) - LEFT, 1),
                    BAR,
                ),
                _line("xp-err", low, high, middle, middle),
                _line("xp-err", low, low, middle - CAP, middle + CAP),
                _line("xp-err", high, high, middle - CAP, middle + CAP),
                _text("xp-value", WIDTH - RIGHT + 8, middle + 5, percent(rate)),
            ]
        parts.append(
            format_html(
                '<g class="xp-row" data-key="{}"><title>{}</title>{}</g>',
                variant.key,
                _tip(variant, rate, interval),
                format_html_join("", "{}", ((part,) for part in row)),
            )
        )
    title = _("%(goal)s per variant, with its 95 %% Wilson interval") % {
        "goal": str(experiments.GOAL_RATE_LABELS[found.goal]).capitalize()
    }
    return format_html(
        '<svg class="xp-chart" viewBox="0 0 {} {}" role="img" aria-label="{}" data-testid="results-chart">'
        "<title>{}</title>{}</svg>",
        WIDTH,
        axis_y + 28,
        title,
        title,
        format_html_join("", "{}", ((part,) for part in parts)),
    )


# ---------------------------------------------------------------- what the page shows


@dataclass(frozen=True)
class Cell:
    count: int
    rate: str
    interval: str


@dataclass(frozen=True)
class Row:
    variant: experiments.VariantResult
    cells: list[Cell]
    is_best: bool
    is_winner: bool


def _cell(count: int, rate: float | None, interval: experiments.Interval | None) -> Cell:
    return Cell(
        count=count,
        rate=percent(rate),
        interval=f"{percent(interval.low)} – {percent(interval.high)}" if interval else "",
    )


def _test_text(found: experiments.Results) -> str:
    goal = experiments.GOAL_RATE_LABELS[found.goal]
    if found.p_value is None:
        return _("No test on %(goal)s yet.") % {"goal": goal}
    if found.test == experiments.Z_TEST:
        return _("Two-proportion z-test on %(goal)s: z = %(z)s, p = %(p)s.") % {
            "goal": goal,
            "z": number_format(round(found.z, 3), 3),
            "p": experiments.format_p(found.p_value),
        }
    return _("Chi-squared test on %(goal)s (%(dof)s degrees of freedom): χ² = %(chi2)s, p = %(p)s.") % {
        "goal": goal,
        "dof": found.dof,
        "chi2": number_format(round(found.chi2, 3), 3),
        "p": experiments.format_p(found.p_value),
    }


def _results_context(request, experiment: Experiment, **extra) -> dict:
    found = experiments.results(experiment)
    user = request.user
    best_id = found.best.variant if found.best else None
    rows = [
        Row(
            variant=v,
            cells=[
                _cell(v.opened, v.open_rate, v.open_rate_interval),
                _cell(v.clicked, v.click_rate, v.click_rate_interval),
                _cell(v.converted, v.conversion_rate, v.conversion_rate_interval),
            ],
            is_best=v.variant == best_id,
            is_winner=v.variant == experiment.winner_id,
        )
        for v in found.variants
    ]
    running = experiment.status == ExperimentStatus.RUNNING
    return {
        "experiment": experiment,
        "results": found,
        "rows": rows,
        "chart": results_chart(found),
        "test_text": _test_text(found),
        "verdict": experiments.verdict_text(found),
        "p_value": experiments.format_p(found.p_value) if found.p_value is not None else "—",
        "goal_rate": experiments.GOAL_RATE_LABELS[found.goal],
        "may_declare": running and permissions.can(user, "experiment.declare", experiment),
        "may_stop": running and permissions.can(user, "experiment.change", experiment),
        "declare_error": extra.pop("declare_error", ""),
        "stop_error": extra.pop("stop_error", ""),
        **extra,
    }


def _render_results(request, pk: int, status: int = 200, **extra):
    experiment = get_object_or_404(experiments.experiments(), pk=pk)
    template = "marketing/_experiment_results.html" if request.htmx else "marketing/experiment_detail.html"
    response = render(request, template, _results_context(request, experiment, **extra), status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


# ---------------------------------------------------------------- views


@staff_required
@require_GET
def experiment_list(request):
    """Every experiment, the latest started first, filtered as the API's `experiments/` is; marketing also sees the
    form that starts one. htmx swaps the rows alone."""
    base = experiments.experiments()
    filterset = ExperimentFilter(request.GET or None, queryset=base, request=request)
    qs = filterset.qs if filterset.is_bound and filterset.is_valid() else base
    page, paging = keyset_page_for(request, qs, order="-started_at")
    may_create = permissions.can(request.user, "experiment.create")
    context = {
        "page": page,
        **paging,
        "filter": filterset,
        "statuses": ExperimentStatus.choices,
        "form": ExperimentForm() if may_create else None,
    }
    template = "marketing/_experiment_rows.html" if request.htmx else "marketing/experiment_list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_required
@require_POST
def experiment_create(request):
    permissions.require(request.user, "experiment.create")
    form = ExperimentForm(request.POST)
    if form.is_valid():
        try:
            experiment = experiments.create_experiment(by=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
            status = error_status(request, exc)
        else:
            messages.success(request, _("Experiment started."))
            return redirect("marketing:experiment-detail", pk=experiment.pk)
    else:
        status = 422
    base = experiments.experiments()
    page, paging = keyset_page_for(request, base, order="-started_at")
    context = {"page": page, **paging, "filter": ExperimentFilter(queryset=base), "statuses": ExperimentStatus.choices}
    return render(request, "marketing/experiment_list.html", {**context, "form": form}, status=status)


@staff_required
@require_GET
def experiment_detail(request, pk: int):
    return _render_results(request, pk)


@staff_required
@require_POST
def experiment_declare(request, pk: int):
    experiment = get_object_or_404(Experiment, pk=pk)
    permissions.require(request.user, "experiment.declare", experiment)
    form = DeclareForm(request.POST)
    if not form.is_valid():
        return _render_results(request, pk, status=422, declare_error=_("Choose the winning variant."))
    try:
        experiments.declare_winner(experiment=experiment, by=request.user, variant=form.cleaned_data["variant"])
    except DomainError as exc:
        return _render_results(request, pk, status=error_status(request, exc), declare_error=exc.message)
    if not request.htmx:
        messages.success(request, _("Winner declared: every send of this content uses it now."))
        return redirect("marketing:experiment-detail", pk=pk)
    return _render_results(request, pk)


@staff_required
@require_POST
def experiment_stop(request, pk: int):
    experiment = get_object_or_404(Experiment, pk=pk)
    permissions.require(request.user, "experiment.change", experiment)
    try:
        experiments.update_experiment(experiment=experiment, by=request.user, status=ExperimentStatus.FINISHED)
    except DomainError as exc:
        return _render_results(request, pk, status=error_status(request, exc), stop_error=exc.message)
    if not request.htmx:
        return redirect("marketing:experiment-detail", pk=pk)
    return _render_results(request, pk)
