"""Page forms: shape only (required, type, length). The rules are in leads.services."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from config import roles
from config.api.fields import LONG_TEXT, MAX_ID
from config.pagination import MAX_PAGE_SIZE
from config.pickers import PickerWidget
from config.task_forms import DueField
from config.todo import TITLE_MAX
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


def deal_value_field():
    return forms.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        required=False,
        label=_("Deal value"),
        help_text=_("What the deal is expected to bring; the pipeline board sums it per stage."),
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
    deal_value = deal_value_field()

    field_order = ["name", "phone", "email", "wecom", "wechat", "member_card", "company", "city"]
    CONTACT_FIELDS = ("name", "phone", "email", "wecom", "wechat", "member_card", "company", "city")

    def contact(self) -> dict:
        return {k: self.cleaned_data[k] for k in self.CONTACT_FIELDS if self.cleaned_data.get(k)}

    def package(self) -> dict:
        return {
            k: self.cleaned_data[k]
            for k in ("source_channel", "campaign", "tags", "interest", "note", "referred_by", "deal_value")
        }


class LeadEditForm(PackageForm):
    referred_by = UserChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"), required=False, label=_("Referred by")
    )
    deal_value = deal_value_field()


class DealValueForm(forms.Form):
    """Sales edits the deal value of a lead it works; the package stays as marketing handed it off."""

    deal_value = deal_value_field()


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


class NextStepForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX, label=_("Next step"))
    due_at = DueField()


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(choices=ActivityKind.choices, label=_("Kind"))
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=LONG_TEXT, label=_("What happened"))


class LeadIdsField(forms.Field):
    """Lead ids from repeated inputs (`lead=3&lead=7`), at most one page's worth."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        ids = []
        for raw in value or ():
            if not str(raw).isdigit() or int(raw) > MAX_ID:
                raise forms.ValidationError(_("Pick leads from the list."), code="invalid")
            ids.append(int(raw))
        if len(ids) > MAX_PAGE_SIZE:
            raise forms.ValidationError(
                _("Act on at most %(max)s leads at once.") % {"max": MAX_PAGE_SIZE}, code="max_length"
            )
        return ids


class BulkForm(forms.Form):
    """The lead list's bulk actions: the leads ticked (or every lead shown on the page) and whom they go to."""

    HANDOFF, ASSIGN = "handoff", "assign"

    action = forms.ChoiceField(choices=[(HANDOFF, _("Hand off")), (ASSIGN, _("Assign owner"))])
    lead = LeadIdsField(required=False)
    on_page = LeadIdsField(required=False)
    all_on_page = forms.BooleanField(required=False, label=_("Every lead on this page"))
    assignee = forms.ModelChoiceField(
        queryset=roles.members(roles.SALES),
        required=False,
        label=_("To"),
        help_text=_("A sales person, or nobody: the sales queue."),
        widget=PickerWidget("sales-owners"),
    )
    owner = forms.ModelChoiceField(
        queryset=roles.members(roles.SALES), required=False, label=_("New owner"), widget=PickerWidget("sales-owners")
    )

    def clean(self):
        data = super().clean()
        data["lead_ids"] = data.get("on_page") if data.get("all_on_page") else data.get("lead")
        if not data["lead_ids"] and "lead" not in self.errors and "on_page" not in self.errors:
            self.add_error("lead", _("Tick the leads to act on."))
        if data.get("action") == self.ASSIGN and data.get("owner") is None and "owner" not in self.errors:
            self.add_error("owner", _("Choose the new owner."))
        return data
