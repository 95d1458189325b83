"""The channel overlap page (`/marketing/channels/overlap/`) and the exclusion-list download: thin views over
marketing.overlap. Every staff member reads the page; marketing's managers and admins also download each
channel's exclusion list (the same CSV as the API's)."""

from datetime import date, timedelta

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from config.errors import DomainError
from config.filters import DayField
from config.pages import error_status, form_error, staff_required
from config.pickers import PickerWidget
from customers.models import Channel
from marketing import overlap, overlap_chart, permissions
from marketing.api.overlap import EXPORT, exclusion_csv
from marketing.errors import ChannelNotFound
from marketing.models import TouchpointKind

# --- the form ----------------------------------------------------------------------------------------------------


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def date_presets(today: date) -> list[dict]:
    """The periods the page offers, from today's local date: `{key, label, start, end}`, `end` exclusive."""
    month, quarter = _month_start(today), _quarter_start(today)
    last_month = _month_start(month - timedelta(days=1))
    last_quarter = _quarter_start(quarter - timedelta(days=1))
    next_quarter = _next_month(_next_month(_next_month(quarter)))
    return [
        {"key": "this_month", "label": _("This month"), "start": month, "end": _next_month(month)},
        {"key": "last_month", "label": _("Last month"), "start": last_month, "end": month},
        {"key": "this_quarter", "label": _("This quarter"), "start": quarter, "end": next_quarter},
        {"key": "last_quarter", "label": _("Last quarter"), "start": last_quarter, "end": quarter},
        {
            "key": "last_30_days",
            "label": _("Last 30 days"),
            "start": today - timedelta(days=29),
            "end": today + timedelta(days=1),
        },
    ]


class OverlapForm(forms.Form):
    """The page's filters; the period defaults to this month. The limits (20 channels, two years) are
    marketing.overlap's, shown on the field they name."""

    start = DayField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = DayField(label=gettext_lazy("Until (exclusive)"), widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.MultipleChoiceField(
        label=gettext_lazy("Channels"),
        required=False,
        help_text=gettext_lazy("None chosen: every channel with touches or spend in the period."),
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    campaign = forms.IntegerField(
        label=gettext_lazy("Campaign"),
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        widget=PickerWidget("campaigns"),
        help_text=gettext_lazy("Only the people this campaign reached, on every channel."),
    )
    kind = forms.ChoiceField(label=gettext_lazy("Touch kind"), required=False)

    def __init__(self, data, *, channels: list[tuple[str, str]], today: date):
        month = _month_start(today)
        values = {"start": month.isoformat(), "end": _next_month(month).isoformat()}
        if data is not None:
            values.update({key: data.get(key) for key in data if key != "channel"})
            values["channel"] = [code for value in data.getlist("channel") for code in value.split(",") if code]
        super().__init__(values)
        self.fields["channel"].choices = channels
        self.fields["kind"].choices = [("", _("Any")), *TouchpointKind.choices]


def _presets(request, form: OverlapForm, today: date) -> list[dict]:
    """The period presets as links that keep the other filters; the one showing is marked."""
    showing = (form.data.get("start"), form.data.get("end"))
    out = []
    for preset in date_presets(today):
        query = request.GET.copy()
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


# --- the page ----------------------------------------------------------------------------------------------------


def _decorate(figures: dict) -> None:
    """What the template shows beside the figures (no queries): shares as percentages, and for the exclusion
    lists the customers other listed channels reached."""
    reached = figures["totals"]["reached"]
    for row in figures["channels"]:
        row["duplicate_share"] = overlap_chart.percent(row["duplicate"] / row["reach"] if row["reach"] else None)
        row["reached_elsewhere"] = reached - row["exclusive"]
    figures["totals"]["rate_text"] = overlap_chart.percent(figures["totals"]["duplicate_reach_rate"])


@staff_required
@require_GET
def channel_overlap(request):
    """Reach, exclusive and duplicate reach per channel, the heat map and the totals for the chosen period;
    a refused filter is shown on its field (400)."""
    today = timezone.localdate()
    channels = list(Channel.objects.order_by("name", "pk").values_list("code", "name"))
    form = OverlapForm(request.GET if request.GET else None, channels=channels, today=today)
    context = {
        "form": form,
        "presets": _presets(request, form, today),
        "can_export": permissions.can(request.user, EXPORT),
    }
    if not form.is_valid():
        return render(request, "marketing/overlap.html", context, status=400)
    data = form.cleaned_data
    try:
        figures = overlap.channel_overlap(
            start=data["start"],
            end=data["end"],
            channels=data["channel"],
            campaign=data["campaign"],
            kind=data["kind"] or None,
        )
    except DomainError as error:
        form_error(form, error)
        return render(request, "marketing/overlap.html", context, status=error_status(request, error))
    _decorate(figures)
    context.update(overlap=figures, heat_map=overlap_chart.heat_map(figures), last_day=data["end"] - timedelta(days=1))
    return render(request, "marketing/overlap.html", context)


class PeriodForm(forms.Form):
    start = DayField()
    end = DayField()


@staff_required
@require_GET
def exclusion_list(request, code: str):
    """A channel's exclusion list as CSV (marketing.overlap.exclusion_list): marketing's managers and admins only."""
    if not permissions.can(request.user, EXPORT):
        raise PermissionDenied(_("Only marketing managers and admins download exclusion lists."))
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Choose the period's start and end."), content_type="text/plain; charset=utf-8")
    try:
        found = overlap.exclusion_list(channel=code, start=form.cleaned_data["start"], end=form.cleaned_data["end"])
    except ChannelNotFound as error:
        raise Http404(error.message) from None
    except DomainError as error:
        return HttpResponseBadRequest(error.message, content_type="text/plain; charset=utf-8")
    return exclusion_csv(found)
