"""Page forms: shape only (required, type, length). The rules are in leads.services."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from config import roles
from config.api.fields import LONG_TEXT
from customers.models import Campaign, Channel
from leads.models import ActivityKind, LostReason, RejectReason
from leads.stages import MOVABLE, Stage

User = get_user_model()


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.get_username()


class TagsField(forms.CharField):
    """Comma-separated tag names."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", _("Separate tags with commas."))
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return [name.strip() for name in value.replace("，", ",").split(",") if name.strip()]

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value


class PackageForm(forms.Form):
    source_channel = forms.ModelChoiceField(
        queryset=Channel.objects.filter(is_active=True), required=False, label=_("Source channel")
    )
    campaign = forms.ModelChoiceField(queryset=Campaign.objects.all(), required=False, label=_("Campaign"))
    tags = TagsField(label=_("Tags"))
    interest = forms.CharField(max_length=300, required=False, label=_("Interest"))
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=LONG_TEXT, label=_("Handoff note")
    )


class LeadCreateForm(PackageForm):
    name = forms.CharField(max_length=200, required=False, label=_("Name"))
    phone = forms.CharField(max_length=50, required=False, label=_("Phone"))
    email = forms.CharField(max_length=254, required=False, label=_("Email"))
    wecom = forms.CharField(max_length=254, required=False, label=_("WeCom id"))
    wechat = forms.CharField(max_length=254, required=False, label=_("WeChat id"))
    member_card = forms.CharField(max_length=254, required=False, label=_("Member card"))
    company = forms.CharField(max_length=200, required=False, label=_("Company"))
    city = forms.CharField(max_length=100, required=False, label=_("City"))
    referred_by = UserChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"), required=False, label=_("Referred by")
    )

    field_order = ["name", "phone", "email", "wecom", "wechat", "member_card", "company", "city"]
    CONTACT_FIELDS = ("name", "phone", "email", "wecom", "wechat", "member_card", "company", "city")

    def contact(self) -> dict:
        return {k: self.cleaned_data[k] for k in self.CONTACT_FIELDS if self.cleaned_data.get(k)}

    def package(self) -> dict:
        return {
            k: self.cleaned_data[k] for k in ("source_channel", "campaign", "tags", "interest", "note", "referred_by")
        }


class LeadEditForm(PackageForm):
    referred_by = UserChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"), required=False, label=_("Referred by")
    )


class HandoffForm(PackageForm):
    assignee = UserChoiceField(
        queryset=roles.members(roles.SALES),
        required=False,
        label=_("Assignee"),
        empty_label=_("Sales queue (lead pool)"),
    )
    field_order = ["assignee"]


class RejectForm(forms.Form):
    reason = forms.ChoiceField(choices=RejectReason.choices, label=_("Reason"))
    reason_text = forms.CharField(max_length=300, required=False, label=_("Details (required for “Other”)"))


class MoveForm(forms.Form):
    stage = forms.ChoiceField(choices=[(s, Stage(s).label) for s in MOVABLE], label=_("Move to"))


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[(Stage.WON, Stage.WON.label), (Stage.LOST, Stage.LOST.label)], label=_("Outcome")
    )
    amount = forms.DecimalField(max_digits=14, decimal_places=2, required=False, label=_("Amount (won)"))
    reason = forms.ChoiceField(choices=[("", "—"), *LostReason.choices], required=False, label=_("Reason (lost)"))
    reason_text = forms.CharField(max_length=300, required=False, label=_("Details"))


class AssignForm(forms.Form):
    owner = UserChoiceField(queryset=roles.members(roles.SALES), label=_("Owner"))


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(choices=ActivityKind.choices, label=_("Kind"))
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=LONG_TEXT, label=_("What happened"))
