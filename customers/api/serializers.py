"""Input serializers check shape and name fields; output serializers render. Neither saves."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from config import moments
from config.api.fields import MAX_ID, Code, Id, ModelInput, Moment, Text
from config.errors import DomainError
from customers import merging
from customers.models import (
    AccountTeamMember,
    Campaign,
    Channel,
    ChannelSpend,
    Customer,
    CustomerIdentity,
    IdentityKind,
    ImportJob,
    ImportKind,
    Order,
    Product,
    TeamRole,
)
from customers.selectors import member_name, order_lines
from customers.services import MAX_LINES, MAX_QUANTITY, parse_month


class IdentityInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=IdentityKind.choices)
    value = Text(max_length=254)


class CustomerInput(serializers.Serializer):
    name = Text(max_length=200, required=False, allow_blank=True)
    company = Text(max_length=200, required=False, allow_blank=True)
    city = Text(max_length=100, required=False, allow_blank=True)
    language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False, allow_blank=True)
    identities = IdentityInput(many=True, required=False)
    source_channel = Code(slug_field="code", queryset=Channel.objects.all(), required=False, allow_null=True)


class IdentityOutput(serializers.ModelSerializer):
    class Meta:
        model = CustomerIdentity
        fields = ["kind", "value", "is_valid"]


class RfmOutput(serializers.Serializer):
    r = serializers.IntegerField(source="rfm_r", allow_null=True)
    f = serializers.IntegerField(source="rfm_f", allow_null=True)
    m = serializers.IntegerField(source="rfm_m", allow_null=True)
    segment = serializers.CharField(source="rfm_segment")
    recency_days = serializers.IntegerField(source="rfm_recency_days", allow_null=True)
    frequency = serializers.IntegerField(source="rfm_frequency")
    monetary = serializers.DecimalField(source="rfm_monetary", max_digits=14, decimal_places=2)


class CustomerOutput(serializers.ModelSerializer):
    identities = IdentityOutput(many=True, read_only=True)
    source_channel = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    rfm = RfmOutput(source="*", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "company",
            "city",
            "language",
            "source_channel",
            "identities",
            "lifecycle_stage",
            "rfm",
            "loyalty_tier",
            "member_since",
            "points_balance",
            "merged_into",
            "merged_at",
            "created_at",
            "updated_at",
            "url",
        ]

    def get_url(self, customer) -> str:
        return reverse("customers:customer-detail", args=[customer.pk])


class CustomerCreateOutput(CustomerOutput):
    customer_matched = serializers.BooleanField()

    class Meta(CustomerOutput.Meta):
        fields = [*CustomerOutput.Meta.fields, "customer_matched"]


class MergeKeepInput(serializers.Serializer):
    """Whose profile value survives the merge, per field; a field left out keeps the survivor's value when it has
    one, else the duplicate's."""

    name = serializers.ChoiceField(choices=merging.KEEP_CHOICES, required=False)
    company = serializers.ChoiceField(choices=merging.KEEP_CHOICES, required=False)
    city = serializers.ChoiceField(choices=merging.KEEP_CHOICES, required=False)
    language = serializers.ChoiceField(choices=merging.KEEP_CHOICES, required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                message = _("Choose among %(fields)s.") % {"fields": ", ".join(merging.CHOICE_FIELDS)}
                raise serializers.ValidationError({key: [ErrorDetail(message, code="invalid")] for key in unknown})
        return super().to_internal_value(data)


class MergeInput(serializers.Serializer):
    duplicate = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    keep = MergeKeepInput(required=False)


class UndoMergeInput(serializers.Serializer):
    merge = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class MergeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    survivor = serializers.IntegerField(source="survivor_id")
    duplicate = serializers.IntegerField(source="duplicate_id")
    moved = serializers.DictField(child=serializers.ListField(child=serializers.IntegerField()))
    chosen = serializers.DictField(child=serializers.DictField(child=serializers.CharField(allow_blank=True)))
    merged_at = serializers.DateTimeField()
    undone_at = serializers.DateTimeField(allow_null=True)


class TeamMemberInput(serializers.Serializer):
    user = Id(queryset=get_user_model().objects.all())
    role = serializers.ChoiceField(choices=TeamRole.choices)


class TeamMemberOutput(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()
    username = serializers.CharField(source="user.username")
    department = serializers.CharField(source="member_department", allow_null=True)

    class Meta:
        model = AccountTeamMember
        fields = ["id", "customer", "user", "name", "username", "role", "department", "added_at", "added_by"]

    def get_name(self, member) -> str:
        return member_name(member)


class TimelineOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    department = serializers.CharField()
    kind = serializers.CharField()
    text = serializers.CharField()
    url = serializers.CharField()
    actor = serializers.CharField()


class BriefCustomer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    company = serializers.CharField()
    city = serializers.CharField()


class InvalidIdentityOutput(serializers.Serializer):
    customer = BriefCustomer()
    kind = serializers.CharField()
    value = serializers.CharField()


class DuplicateGroupOutput(serializers.Serializer):
    reason = serializers.CharField()
    key = serializers.CharField()
    customers = BriefCustomer(many=True)


class DataQualityOutput(serializers.Serializer):
    no_contact = BriefCustomer(many=True)
    invalid = InvalidIdentityOutput(many=True)
    duplicates = DuplicateGroupOutput(many=True)


class OrderContactInput(serializers.Serializer):
    """The buyer by contact identities, matched as lead intake does (a new person becomes a new customer); any
    other key is refused by name."""

    name = Text(max_length=200, required=False, allow_blank=True)
    phone = Text(max_length=50, required=False, allow_blank=True)
    email = Text(max_length=254, required=False, allow_blank=True)
    wecom = Text(max_length=254, required=False, allow_blank=True)
    wechat = Text(max_length=254, required=False, allow_blank=True)
    member_card = Text(max_length=254, required=False, allow_blank=True)
    company = Text(max_length=200, required=False, allow_blank=True)
    city = Text(max_length=100, required=False, allow_blank=True)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                message = _("Unknown contact field; use %(fields)s.") % {"fields": ", ".join(self.fields)}
                raise serializers.ValidationError({key: [ErrorDetail(message, code="invalid")] for key in unknown})
        return super().to_internal_value(data)


class OrderLineInput(serializers.Serializer):
    product = Text(max_length=64, help_text=gettext_lazy("The product's SKU (an active product)."))
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    unit_price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        help_text=gettext_lazy("Left out or null: the product's price."),
    )


class OrderLinesInput(serializers.ListSerializer):
    child = OrderLineInput()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", MAX_LINES)
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail
            if isinstance(detail, dict) and detail and all(isinstance(key, int) for key in detail):
                # Each line's errors in its position, so problem details name `lines[<i>].<key>` as the service does.
                raise serializers.ValidationError([detail.get(i, {}) for i in range(len(data))]) from None
            raise


class OrderInput(serializers.Serializer):
    """An order of an existing `customer` or of a `contact` (exactly one of them). With `lines`, the amount is their
    sum: `amount` may be left out, and when given must equal it."""

    customer = Id(queryset=Customer.objects.all(), required=False)
    contact = OrderContactInput(required=False)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True)
    ordered_at = Moment()
    channel = Code(slug_field="code", queryset=Channel.objects.all(), required=False, allow_null=True)
    external_id = Text(max_length=100, required=False, allow_blank=True, default="")
    lines = OrderLinesInput(required=False)

    def validate(self, attrs):
        if ("contact" in attrs) == ("customer" in attrs):
            raise serializers.ValidationError(
                {"contact": [_("Give either a contact or an existing customer id.")]}, code="required"
            )
        if not attrs.get("lines") and attrs.get("amount") is None:
            message = _("Give the amount, or the order's lines.")
            raise serializers.ValidationError({"amount": [message]}, code="required")
        return attrs


class OrderUpdateInput(serializers.Serializer):
    """A change of an order; `lines`, when given, is the full list (it replaces the order's lines)."""

    customer = Id(queryset=Customer.objects.all(), required=False)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    ordered_at = Moment(required=False)
    channel = Code(slug_field="code", queryset=Channel.objects.all(), required=False, allow_null=True)
    external_id = Text(max_length=100, required=False, allow_blank=True)
    lines = OrderLinesInput(required=False)


class OrderLineOutput(serializers.Serializer):
    product = serializers.CharField(help_text=gettext_lazy("The product's SKU."))
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=14, decimal_places=2, help_text=gettext_lazy("quantity × unit price"))


class OrderOutput(serializers.ModelSerializer):
    channel = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    lines = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "customer",
            "amount",
            "ordered_at",
            "channel",
            "external_id",
            "lines",
            "cancelled_at",
            "cancel_reason",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(OrderLineOutput(many=True))
    def get_lines(self, order) -> list[dict]:
        return order_lines([order.pk])[order.pk]


class OrderCreateOutput(OrderOutput):
    customer_matched = serializers.SerializerMethodField()

    class Meta(OrderOutput.Meta):
        fields = [*OrderOutput.Meta.fields, "customer_matched"]

    def get_customer_matched(self, order) -> bool:
        return self.context["customer_matched"]


class OrderCancelInput(serializers.Serializer):
    reason = Text(max_length=300, help_text=gettext_lazy("Why the order is cancelled (required)."))


class ItemErrorOutput(serializers.Serializer):
    field = serializers.CharField(allow_null=True)
    code = serializers.CharField()
    message = serializers.CharField()


class OrderBulkResultOutput(serializers.Serializer):
    """One item's result in `orders/bulk/`: status 201 with the new order's id, 200 for an order already known by
    its channel and external id, or the item's refusal in `errors`."""

    index = serializers.IntegerField()
    status = serializers.IntegerField()
    id = serializers.IntegerField(allow_null=True)
    customer = serializers.IntegerField(allow_null=True)
    customer_matched = serializers.BooleanField(allow_null=True)
    errors = ItemErrorOutput(many=True)


class ProductSerializer(ModelInput):
    """A product, in and out: `{"sku", "name", "category", "price", "is_active"}`."""

    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "category", "price", "is_active", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"sku": {"validators": []}}


class ChannelSerializer(ModelInput):
    class Meta:
        model = Channel
        fields = ["id", "code", "name", "is_active"]
        extra_kwargs = {"code": {"validators": []}}


class CampaignSerializer(ModelInput):
    channel = Code(slug_field="code", queryset=Channel.objects.all())

    class Meta:
        model = Campaign
        fields = ["id", "name", "channel", "starts_on", "ends_on", "budget", "created_at"]
        read_only_fields = ["created_at"]


@extend_schema_field({"type": "string", "pattern": "^\\d{4}-\\d{2}$", "example": "2026-03"})
class MonthField(serializers.Field):
    default_error_messages = {"invalid": "Use the form YYYY-MM."}

    def to_representation(self, value):
        return value.strftime("%Y-%m")

    def to_internal_value(self, data):

        try:
            month = parse_month(data)
        except DomainError:
            self.fail("invalid")
        moments.validate(month)
        return month


class ChannelSpendSerializer(ModelInput):
    channel = Code(slug_field="code", queryset=Channel.objects.all())
    month = MonthField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)

    class Meta:
        model = ChannelSpend
        fields = ["id", "channel", "month", "amount"]
        validators = []


class ImportInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ImportKind.choices)
    file = serializers.FileField()
    dry_run = serializers.BooleanField(required=False, default=True)


class ImportRunInput(serializers.Serializer):
    pass


class ImportRowErrorOutput(serializers.Serializer):
    row = serializers.IntegerField(source="row_number")
    column = serializers.CharField()
    reason = serializers.CharField()


class ImportJobOutput(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    errors = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "original_name",
            "is_dry_run",
            "status",
            "encoding",
            "total_rows",
            "rows_done",
            "percent",
            "created_count",
            "updated_count",
            "failed_count",
            "source_job",
            "created_at",
            "finished_at",
            "error",
            "errors",
        ]

    def get_errors(self, job) -> list[dict]:
        rows = self.context.get("row_errors")
        if rows is None:
            return []
        return ImportRowErrorOutput(rows, many=True).data
