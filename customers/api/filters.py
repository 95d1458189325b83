"""One FilterSet per list, shared by the pages and the API."""

from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from config.filters import DayFilter, IdFilter, MomentFilter, SortFilter, YesNoFilter
from config.pickers import PickerWidget
from customers.identity import normalize_email, normalize_phone
from customers.models import (
    AccountTeamMember,
    Campaign,
    Channel,
    ChannelSpend,
    Customer,
    CustomerIdentity,
    LifecycleStage,
    Order,
    OrderLine,
    Product,
    RfmSegment,
    TeamRole,
)


class CustomerFilter(filters.FilterSet):
    q = filters.CharFilter(method="search", label=_("Search"))
    lifecycle = filters.ChoiceFilter(field_name="lifecycle_stage", choices=LifecycleStage.choices, label=_("Lifecycle"))
    segment = filters.ChoiceFilter(
        field_name="rfm_segment", choices=[c for c in RfmSegment.choices if c[0]], label=_("Segment")
    )
    tag = filters.CharFilter(method="with_tag", label=_("Lead tag"))
    channel = filters.CharFilter(method="from_channel", label=_("Channel"))
    city = filters.CharFilter(field_name="city", lookup_expr="iexact", label=_("City"))
    # The list's sorts (the page's ?sort=, the API's ?ordering=), each on an index of the customer table.
    ordering = SortFilter(
        columns={"id": "id", "name": "name", "company": "company", "city": "city", "created": "created_at"},
        labels={
            "id": _("Number"),
            "name": _("Name"),
            "company": _("Company"),
            "city": _("City"),
            "created": _("Created"),
        },
    )

    class Meta:
        model = Customer
        fields = ["q", "lifecycle", "segment", "tag", "channel", "city"]

    def search(self, queryset, name, value):
        """Name, company, or an identity: phones and emails are normalized first, so any spelling finds them."""
        value = value.strip()
        if not value:
            return queryset
        exact = {n for n in (normalize_phone(value), normalize_email(value)) if n}
        if exact:
            # A phone or an email: an exact, indexed identity match (any spelling normalizes the same).
            identity = CustomerIdentity.objects.filter(customer_id=OuterRef("pk"), value__in=exact)
        else:
            identity = CustomerIdentity.objects.filter(customer_id=OuterRef("pk")).filter(
                Q(value=value) | Q(value__icontains=value)
            )
        return queryset.filter(Q(name__icontains=value) | Q(company__icontains=value) | Exists(identity))

    def with_tag(self, queryset, name, value):
        if not value.strip():
            return queryset
        return queryset.filter(Exists(_their_leads().filter(tags__name=value.strip())))

    def from_channel(self, queryset, name, value):
        """Customers whose source channel, or the source channel of one of their leads, is this code."""
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(source_channel__code=value) | Exists(_their_leads().filter(source_channel__code=value))
        )


def _their_leads():
    """The outer customer's leads, through the reverse relation the leads app adds (customers cannot import it)."""
    return Customer._meta.get_field("leads").related_model.objects.filter(customer_id=OuterRef("pk"))


class OrderFilter(filters.FilterSet):
    customer = IdFilter(field_name="customer_id", label=_("Customer"), widget=PickerWidget("customers"))
    channel = filters.CharFilter(field_name="channel__code", label=_("Channel code"))
    external_id = filters.CharFilter(field_name="external_id", label=_("External id"))
    ordered_after = MomentFilter(field_name="ordered_at", lookup_expr="gte")
    ordered_before = MomentFilter(field_name="ordered_at", lookup_expr="lt")
    product = filters.CharFilter(method="with_product", label=_("Product SKU"))
    cancelled = YesNoFilter(field_name="cancelled_at", lookup_expr="isnull", exclude=True, label=_("Cancelled"))
    # On the order table's indexes: ordered_at, amount (customers_order_amount_idx).
    ordering = SortFilter(
        columns={"id": "id", "ordered": "ordered_at", "amount": "amount"},
        labels={"id": _("Number"), "ordered": _("Ordered at"), "amount": _("Amount")},
    )

    class Meta:
        model = Order
        fields = ["customer", "channel", "external_id", "ordered_after", "ordered_before", "product", "cancelled"]

    def with_product(self, queryset, name, value):
        """Orders with a line of this SKU (customers_line_product_idx: product, order)."""
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Exists(OrderLine.objects.filter(order_id=OuterRef("pk"), product__sku=value)))


def _categories():
    """The category filter's choices on pages: the catalogue's categories (read when the form renders)."""
    names = Product.objects.order_by("category").values_list("category", flat=True).distinct()
    return [("", _("Any")), *((name, name) for name in names)]


class ProductFilter(filters.FilterSet):
    q = filters.CharFilter(method="search", label=_("Search"))
    sku = filters.CharFilter(field_name="sku", label=_("SKU"))
    # Any text in the API; a choice of the catalogue's categories on pages.
    category = filters.CharFilter(field_name="category", label=_("Category"), widget=forms.Select(choices=_categories))
    is_active = YesNoFilter(field_name="is_active", label=_("Active"))
    # A catalogue is small (hundreds to a few thousand rows): sku is unique and (category, name) indexed; name and
    # price sort without an index of their own.
    ordering = SortFilter(
        columns={"sku": "sku", "name": "name", "category": "category", "price": "price"},
        labels={"sku": _("SKU"), "name": _("Name"), "category": _("Category"), "price": _("Price")},
    )

    class Meta:
        model = Product
        fields = ["q", "sku", "category", "is_active"]

    def search(self, queryset, name, value):
        """Part of the name or of the SKU."""
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(sku__icontains=value))


class ChannelFilter(filters.FilterSet):
    class Meta:
        model = Channel
        fields = ["code", "is_active"]


class CampaignFilter(filters.FilterSet):
    channel = filters.CharFilter(field_name="channel__code", label=_("Channel code"))
    # Campaigns are few (hundreds): these sort without an index of their own.
    ordering = SortFilter(
        columns={"name": "name", "starts": "starts_on", "ends": "ends_on", "budget": "budget"},
        labels={"name": _("Name"), "starts": _("Starts on"), "ends": _("Ends on"), "budget": _("Budget")},
    )

    class Meta:
        model = Campaign
        fields = ["channel"]


class ChannelSpendFilter(filters.FilterSet):
    channel = filters.CharFilter(field_name="channel__code", label=_("Channel code"))
    month_from = DayFilter(field_name="month", lookup_expr="gte")
    month_to = DayFilter(field_name="month", lookup_expr="lte")
    # A row per channel and month: few rows, month indexed (customers_spend_month_idx).
    ordering = SortFilter(
        columns={"month": "month", "amount": "amount"}, labels={"month": _("Month"), "amount": _("Amount")}
    )

    class Meta:
        model = ChannelSpend
        fields = ["channel", "month_from", "month_to"]


class AccountTeamFilter(filters.FilterSet):
    role = filters.ChoiceFilter(choices=TeamRole.choices, label=_("Role"))
    user = IdFilter(field_name="user_id", label=_("Person"))

    class Meta:
        model = AccountTeamMember
        fields = ["role", "user"]
