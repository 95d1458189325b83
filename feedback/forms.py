"""Page forms: they check shape and name the field; services decide and save."""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from config import roles
from config.api.fields import LONG_TEXT
from config.filters import DayField
from config.pickers import PickerWidget
from customers.models import Channel, Customer, Order
from feedback.models import ComplaintCategory, ComplaintStatus, InsightTag, Severity
from leads.models import Lead

User = get_user_model()


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.username


class ComplaintForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.filter(merged_into__isnull=True),
        widget=forms.HiddenInput,
        label=_("Customer"),
        error_messages={"required": _("Find and choose the customer.")},
    )
    category = forms.ChoiceField(choices=ComplaintCategory.choices, label=_("Category"))
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.MEDIUM, label=_("Severity"))
    channel = forms.ModelChoiceField(
        queryset=Channel.objects.filter(is_active=True), required=False, label=_("Channel"), to_field_name="code"
    )
    owner = UserChoiceField(queryset=roles.members(roles.SERVICE), required=False, label=_("Owner"))
    order = forms.ModelChoiceField(
        queryset=Order.objects.all(), required=False, widget=PickerWidget("orders"), label=_("Order (optional)")
    )
    lead = forms.ModelChoiceField(
        queryset=Lead.objects.all(), required=False, widget=PickerWidget("leads"), label=_("Lead (optional)")
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), max_length=LONG_TEXT, label=_("Description")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = roles.members(roles.SERVICE)


class TransitionForm(forms.Form):
    status = forms.ChoiceField(choices=ComplaintStatus.choices, label=_("Status"))
    resolution = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=LONG_TEXT, label=_("Resolution")
    )


class PauseForm(forms.Form):
    waiting = forms.BooleanField(required=False, label=_("Waiting on customer"))
    note = forms.CharField(required=False, max_length=500, label=_("Note"))


class AssignForm(forms.Form):
    owner = UserChoiceField(queryset=roles.members(roles.SERVICE), required=False, label=_("Owner"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = roles.members(roles.SERVICE)


class InsightForm(forms.Form):
    tag = forms.ChoiceField(choices=InsightTag.choices, label=_("Tag"))
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=LONG_TEXT,
        label=_("What marketing should know"),
    )


class NpsResponseForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.filter(merged_into__isnull=True),
        widget=forms.HiddenInput,
        label=_("Customer"),
        error_messages={"required": _("Find and choose the customer.")},
    )
    score = forms.IntegerField(min_value=0, max_value=10, label=_("Score (0–10)"))
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=LONG_TEXT, label=_("Comment")
    )


def survey_language_choices():
    return [("", _("The customer's language")), *settings.LANGUAGES]


class InvitationForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.filter(merged_into__isnull=True),
        widget=forms.HiddenInput,
        required=False,
        label=_("Customer"),
    )
    language = forms.ChoiceField(
        choices=survey_language_choices, required=False, initial="", label=_("Language of the survey")
    )


class BulkInvitationForm(forms.Form):
    """Invite every customer matching these filters (at most RELAY_NPS_BULK_LIMIT)."""

    ordered_after = DayField(
        required=False, label=_("Ordered on or after"), widget=forms.DateInput(attrs={"type": "date"})
    )
    city = forms.CharField(required=False, max_length=100, label=_("City"))
    not_surveyed_days = forms.IntegerField(
        required=False, min_value=1, initial=90, label=_("Not invited in the last … days")
    )
    language = forms.ChoiceField(
        choices=survey_language_choices, required=False, initial="", label=_("Language of the survey")
    )


class SurveyForm(forms.Form):
    score = forms.TypedChoiceField(
        choices=[(i, str(i)) for i in range(11)], coerce=int, widget=forms.RadioSelect, label=_("Score")
    )
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=2000,
        label=_("Anything you'd like to add?"),
    )
