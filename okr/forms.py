from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from config import roles
from config.api.fields import LONG_TEXT
from config.filters import DayField
from config.pickers import PickerWidget
from config.task_forms import DueField
from customers.models import Channel, LoyaltyTierCode
from leads.stages import Stage
from marketing import selectors as marketing_selectors
from okr import metrics, selectors
from okr.models import Direction, ReviewNoteKind

User = get_user_model()


def _channel_choices() -> list[tuple[str, str]]:
    """Channels by name (the value is the code metrics filter on): a typed code that matches none is refused, not
    read as an all-zero report."""
    return [("", "—"), *Channel.objects.order_by("name").values_list("code", "name")]


class PeriodForm(forms.Form):
    start = DayField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = DayField(label=_("Until (exclusive)"), widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.ChoiceField(label=_("Channel"), required=False)

    def __init__(self, data=None, **kwargs):
        start, end = selectors.quarter_bounds(selectors.current_quarter())
        data = {"start": start.isoformat(), "end": end.isoformat(), **(data.dict() if data is not None else {})}
        super().__init__(data, **kwargs)
        if "channel" in self.fields:
            self.fields["channel"].choices = _channel_choices()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("start") and cleaned.get("end") and cleaned["end"] <= cleaned["start"]:
            self.add_error("end", _("The end must be after the start."))
        return cleaned


class ChannelPeriodForm(PeriodForm):
    """The channel report's filters: the period, a channel, and the attribution model its ROI and CAC credit by."""

    model = forms.ChoiceField(
        label=_("Attribution model"),
        required=False,
        choices=metrics.attribution_model_choices(),
    )

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        if not self.data.get("model"):  # the default shows as chosen, and "Show" sends it on
            self.data = {**self.data, "model": metrics.LEAD_SOURCE}


class LoyaltyPeriodForm(PeriodForm):
    """The loyalty report's period: its figures are over every channel."""

    channel = None


class LeadPeriodForm(PeriodForm):
    """The lead reports' filters: the period and the source channel, plus the owner and the campaign by name."""

    owner = forms.IntegerField(label=_("Owner"), required=False, min_value=1, widget=PickerWidget("staff"))
    campaign = forms.IntegerField(label=_("Campaign"), required=False, min_value=1, widget=PickerWidget("campaigns"))


class ObjectiveForm(forms.Form):
    department = forms.ChoiceField(label=_("Department"), choices=list(roles.DEPARTMENT_LABELS.items()))
    quarter = forms.CharField(label=_("Quarter"), max_length=7, help_text=_("For example 2026Q4."))
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none())
    title = forms.CharField(label=_("Title"), max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = roles.members()


class KeyResultForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    metric = forms.ChoiceField(
        label=_("Metric"),
        required=False,
        choices=[("", _("Manual (typed value)")), *metrics.metric_choices()],
        help_text=_("A bound key result is computed live from operational data."),
    )
    department = forms.ChoiceField(
        label=_("Filter: department"), required=False, choices=[("", "—"), *roles.DEPARTMENT_LABELS.items()]
    )
    channel = forms.ChoiceField(label=_("Filter: channel"), required=False)
    owner = forms.IntegerField(label=_("Filter: owner"), required=False, widget=PickerWidget("staff"))
    campaign = forms.IntegerField(label=_("Filter: campaign"), required=False, widget=PickerWidget("campaigns"))
    stage = forms.ChoiceField(
        label=_("Filter: stage"),
        required=False,
        choices=[("", "—"), *((s.value, s.label) for s in Stage if s.value in metrics.EXITABLE_STAGES)],
    )
    content = forms.IntegerField(
        label=_("Filter: content"), required=False, min_value=1, help_text=_("A content item's number.")
    )
    journey = forms.IntegerField(
        label=_("Filter: journey"), required=False, min_value=1, help_text=_("A journey's number.")
    )
    model = forms.ChoiceField(
        label=_("Filter: attribution model"),
        required=False,
        choices=[("", "—"), *metrics.attribution_model_choices()],
        help_text=_("Channel ROI and CAC only; lead source when empty."),
    )
    baseline = forms.DecimalField(label=_("Baseline"), max_digits=14, decimal_places=4)
    target = forms.DecimalField(label=_("Target"), max_digits=14, decimal_places=4)
    direction = forms.ChoiceField(label=_("Direction"), choices=Direction.choices, initial=Direction.UP)
    manual_value = forms.DecimalField(
        label=_("Current value (manual key results only)"), max_digits=14, decimal_places=4, required=False
    )

    tier = forms.ChoiceField(
        label=_("Filter: loyalty tier"),
        required=False,
        choices=[("", "—"), *LoyaltyTierCode.choices, (metrics.NOT_A_MEMBER, _("Not a member"))],
        help_text=_("Repurchase rate and LTV only: customers in this tier now."),
    )

    FILTER_FIELDS = ("department", "channel", "owner", "campaign", "stage", "content", "journey", "model", "tier")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The content metrics filter on the message's channel (email, sms, …), the others on the sales channel.
        self.fields["channel"].choices = [
            *_channel_choices(),
            (_("Message channels (content metrics)"), list(marketing_selectors.message_channel_choices())),
        ]

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "title": data["title"],
            "metric": data["metric"],
            "metric_filters": {f: data[f] for f in self.FILTER_FIELDS if data.get(f) not in (None, "")},
            "baseline": data["baseline"],
            "target": data["target"],
            "direction": data["direction"],
            "manual_value": data["manual_value"],
        }


class CheckInForm(forms.Form):
    confidence = forms.IntegerField(label=_("Confidence (0–10)"), min_value=0, max_value=10)
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=LONG_TEXT, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReviewNoteForm(forms.Form):
    """A finding or an action of the quarterly review, for a department the user may add to (okr.permissions);
    an action is a task for a person picked by name, or for the department's queue."""

    kind = forms.ChoiceField(
        label=_("Kind"), choices=ReviewNoteKind.choices, initial=ReviewNoteKind.FINDING, widget=forms.RadioSelect
    )
    department = forms.ChoiceField(label=_("Department"))
    text = forms.CharField(label=_("Text"), max_length=LONG_TEXT, widget=forms.Textarea(attrs={"rows": 3}))
    assignee = forms.ModelChoiceField(
        label=_("Action for"),
        queryset=User.objects.filter(is_active=True),
        required=False,
        widget=PickerWidget("staff"),
        help_text=_("Leave empty for the department's queue."),
    )
    due_at = DueField(label=_("Action due"))

    def __init__(self, *args, departments: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [(code, roles.DEPARTMENT_LABELS[code]) for code in departments]
        if len(departments) == 1:
            self.fields["department"].initial = departments[0]
