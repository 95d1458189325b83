"""Forms check shape and name fields; services apply the rules."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from config.errors import DomainError
from config.pickers import PickerWidget
from customers import merging, products
from customers.models import Campaign, Channel, ImportKind, Order, Product, TeamRole


class CustomerForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    language = forms.ChoiceField(
        label=_("Preferred language"),
        choices=[("", _("Not set")), *settings.LANGUAGES],
        required=False,
        help_text=_("Surveys and messages to this customer use it."),
    )
    phone = forms.CharField(label=_("Phone"), max_length=50, required=False)
    email = forms.CharField(label=_("Email"), max_length=254, required=False)
    wecom = forms.CharField(label=_("WeCom id"), max_length=100, required=False)
    wechat = forms.CharField(label=_("WeChat id"), max_length=100, required=False)
    member_card = forms.CharField(label=_("Member card"), max_length=100, required=False)

    IDENTITY_FIELDS = ("phone", "email", "wecom", "wechat", "member_card")

    def identities(self) -> list[dict]:
        return [
            {"kind": key, "value": self.cleaned_data[key]}
            for key in self.IDENTITY_FIELDS
            if self.cleaned_data.get(key, "").strip()
        ]

    @classmethod
    def initial_for(cls, customer) -> dict:
        initial = {
            "name": customer.name,
            "company": customer.company,
            "city": customer.city,
            "language": customer.language,
        }
        for identity in customer.identities.all():
            if identity.kind in cls.IDENTITY_FIELDS and identity.kind not in initial:
                initial[identity.kind] = identity.value
        return initial


class MergeForm(forms.Form):
    """Merge step 1: the duplicate, picked by typing."""

    duplicate = forms.IntegerField(label=_("Duplicate customer"), min_value=1, widget=PickerWidget("customers"))


_KEEP = [(merging.SURVIVOR, _("This customer's")), (merging.DUPLICATE, _("The duplicate's"))]


class MergeChoicesForm(forms.Form):
    """Merge step 3, sent from the preview with `confirm`: whose value survives, per merging.CHOICE_FIELDS (a field
    not sent gets the default, as in the API)."""

    name = forms.ChoiceField(label=_("Name"), choices=_KEEP, widget=forms.RadioSelect, required=False)
    company = forms.ChoiceField(label=_("Company"), choices=_KEEP, widget=forms.RadioSelect, required=False)
    city = forms.ChoiceField(label=_("City"), choices=_KEEP, widget=forms.RadioSelect, required=False)
    language = forms.ChoiceField(label=_("Preferred language"), choices=_KEEP, widget=forms.RadioSelect, required=False)

    def keep(self) -> dict[str, str]:
        return {field: self.cleaned_data[field] for field in merging.CHOICE_FIELDS if self.cleaned_data.get(field)}


class TeamMemberForm(forms.Form):
    """A person joins the customer's account team in a role (customers.services.add_team_member checks the rest)."""

    user = forms.IntegerField(label=_("Person"), min_value=1, widget=PickerWidget("staff"))
    role = forms.ChoiceField(label=_("Role"), choices=TeamRole.choices)


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportKind.choices)
    file = forms.FileField(label=_("CSV file"), help_text=_("UTF-8 (with or without BOM) or GB18030."))


class OrderForm(forms.Form):
    customer = forms.IntegerField(label=_("Customer"), min_value=1, widget=PickerWidget("customers"))
    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=14,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text=_("Leave it blank when you enter lines: the order's amount is their sum."),
    )
    ordered_at = forms.DateTimeField(label=_("Ordered at"))
    channel = forms.ModelChoiceField(
        label=_("Channel"), queryset=Channel.objects.all(), to_field_name="code", required=False
    )
    external_id = forms.CharField(label=_("External id"), max_length=100, required=False)


class ChannelForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = ["code", "name", "is_active"]


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "channel", "starts_on", "ends_on", "budget"]
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
        }


class ChannelSpendForm(forms.Form):
    channel = forms.ModelChoiceField(label=_("Channel"), queryset=Channel.objects.all(), to_field_name="code")
    month = forms.RegexField(label=_("Month"), regex=r"^\d{4}-\d{2}$", help_text=_("YYYY-MM"), max_length=7)
    amount = forms.DecimalField(label=_("Amount"), max_digits=14, decimal_places=2, min_value=0)


class OrderLineForm(forms.Form):
    """One line of the order form; a row left blank is no line (customers.services.check_lines checks the rest)."""

    product = forms.CharField(label=_("Product SKU"), max_length=64, required=False)
    quantity = forms.IntegerField(label=pgettext_lazy("order line", "Quantity"), min_value=1, required=False)
    unit_price = forms.DecimalField(
        label=_("Unit price"),
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text=_("Blank: the product's price."),
    )

    def line(self) -> dict | None:
        data = self.cleaned_data
        if not (data.get("product") or "").strip():
            return None
        return {"product": data["product"], "quantity": data.get("quantity"), "unit_price": data.get("unit_price")}


class BaseOrderLineFormSet(forms.BaseFormSet):
    def lines(self) -> list[dict]:
        """The filled rows, in order, as check_lines takes them."""
        return [line for line in (form.line() for form in self.forms) if line is not None]


OrderLineFormSet = forms.formset_factory(OrderLineForm, formset=BaseOrderLineFormSet, extra=3, max_num=100)


class CancelOrderForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the cancellation"),
        max_length=Order._meta.get_field("cancel_reason").max_length,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ProductForm(forms.ModelForm):
    """A product's fields; customers.products holds the rules (a taken SKU is its refusal, on the sku field)."""

    class Meta:
        model = Product
        fields = ["sku", "name", "category", "price", "is_active"]

    def clean_sku(self):
        return _product_rule(products.clean_sku, self.cleaned_data["sku"])

    def clean_price(self):
        return _product_rule(products.parse_price, self.cleaned_data["price"])

    def validate_unique(self):
        pass  # the service names a taken SKU on the sku field


def _product_rule(rule, value):
    """customers.products' rule for one field, its refusal as the field's error."""
    try:
        return rule(value)
    except DomainError as error:
        raise forms.ValidationError(error.message, code=error.code) from None


POINTS_CHANGE_LABELS = {"redeem": _("Redeem"), "adjust": pgettext_lazy("loyalty points", "Adjust")}


class PointsForm(forms.Form):
    """A redemption or an adjustment on the customer page; `kinds` are those the user may record
    (customers.loyalty checks the rest)."""

    kind = forms.ChoiceField(label=_("Change"), choices=[])
    points = forms.IntegerField(
        label=_("Points"), help_text=_("Redeem: the points that leave the balance. Adjust: + adds, − takes away.")
    )
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)

    def __init__(self, *args, kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(kind, POINTS_CHANGE_LABELS[kind]) for kind in kinds]
