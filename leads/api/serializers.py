"""Input serializers check shape only (services own the rules); output serializers render the lead."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from config.api.fields import Code, Id, Text
from customers.models import Campaign, Channel, Customer
from leads.models import Activity, ActivityKind, Lead, LeadStageChange, LostReason, RejectReason, Tag
from leads.stages import Stage

User = get_user_model()


# --- input ---------------------------------------------------------------------------------------------------


class ContactInput(serializers.Serializer):
    name = Text(max_length=200, required=False, allow_blank=True)
    phone = Text(max_length=50, required=False, allow_blank=True)
    email = Text(max_length=254, required=False, allow_blank=True)
    wecom = Text(max_length=254, required=False, allow_blank=True)
    wechat = Text(max_length=254, required=False, allow_blank=True)
    member_card = Text(max_length=254, required=False, allow_blank=True)
    company = Text(max_length=200, required=False, allow_blank=True)
    city = Text(max_length=100, required=False, allow_blank=True)


class TagNames(serializers.ListField):
    child = Text(max_length=50)

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 50)
        super().__init__(**kwargs)


class PackageInput(serializers.Serializer):
    source_channel = Code(slug_field="code", queryset=Channel.objects.all(), required=False, allow_null=True)
    campaign = Id(queryset=Campaign.objects.all(), required=False, allow_null=True)
    tags = TagNames(required=False)
    interest = Text(max_length=300, required=False, allow_blank=True)
    note = Text(required=False, allow_blank=True)
    referred_by = Id(queryset=User.objects.filter(is_active=True), required=False, allow_null=True)


class DealValueInput(serializers.Serializer):
    # Money as a decimal string ("12500.00"); null clears it.
    deal_value = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True)


class LeadCreateInput(DealValueInput, PackageInput):
    contact = ContactInput(required=False)
    customer = Id(queryset=Customer.objects.all(), required=False)

    def validate(self, attrs):
        if ("contact" in attrs) == ("customer" in attrs):
            raise serializers.ValidationError(
                {"contact": [_("Give either a contact or an existing customer id.")]}, code="required"
            )
        return attrs


BULK_LIMIT = 1000


class LeadBulkInput(serializers.Serializer):
    """`leads/bulk/`: up to BULK_LIMIT lead-create payloads, each checked on its own (LeadCreateInput)."""

    items = serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=BULK_LIMIT)


class LeadUpdateInput(DealValueInput, PackageInput):
    pass


class HandoffInput(serializers.Serializer):
    assignee = Id(queryset=User.objects.all(), required=False, allow_null=True)
    source_channel = Code(slug_field="code", queryset=Channel.objects.all(), required=False, allow_null=True)
    campaign = Id(queryset=Campaign.objects.all(), required=False, allow_null=True)
    tags = TagNames(required=False)
    interest = Text(max_length=300, required=False, allow_blank=True)
    note = Text(required=False, allow_blank=True)


class EmptyInput(serializers.Serializer):
    pass


class RejectInput(serializers.Serializer):
    reason = serializers.ChoiceField(choices=RejectReason.choices)
    reason_text = Text(max_length=300, required=False, allow_blank=True, default="")


class MoveInput(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices)


class CloseInput(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[(Stage.WON, Stage.WON.label), (Stage.LOST, Stage.LOST.label)])
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    reason = serializers.ChoiceField(choices=LostReason.choices, required=False, allow_blank=True, default="")
    reason_text = Text(max_length=300, required=False, allow_blank=True, default="")


class AssignInput(serializers.Serializer):
    owner = Id(queryset=User.objects.all())


class TagInput(serializers.Serializer):
    name = Text(max_length=50)


class ActivityInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    body = Text()


# --- output --------------------------------------------------------------------------------------------------


class LeadOutput(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="customer_id")
    customer_name = serializers.CharField(source="customer.name")
    owner = serializers.IntegerField(source="owner_id", allow_null=True)
    created_by = serializers.IntegerField(source="created_by_id", allow_null=True)
    referred_by = serializers.IntegerField(source="referred_by_id", allow_null=True)
    source_channel = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    # Blank until the lead is rejected or lost.
    reject_reason = serializers.ChoiceField(choices=RejectReason.choices, allow_blank=True, read_only=True)
    lost_reason = serializers.ChoiceField(choices=LostReason.choices, allow_blank=True, read_only=True)
    campaign = serializers.IntegerField(source="campaign_id", allow_null=True)
    won_order = serializers.IntegerField(source="won_order_id", allow_null=True)
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Lead
        fields = [
            "id",
            "stage",
            "customer",
            "customer_name",
            "owner",
            "created_by",
            "referred_by",
            "source_channel",
            "campaign",
            "tags",
            "interest",
            "note",
            "is_high_intent",
            "reject_reason",
            "reject_reason_text",
            "lost_reason",
            "lost_reason_text",
            "deal_value",
            "won_amount",
            "won_order",
            "first_handed_off_at",
            "handed_off_at",
            "accepted_at",
            "contacted_at",
            "closed_at",
            "last_activity_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_tags(self, lead) -> list[str]:
        return [tag.name for tag in lead.tags.all()]  # prefetched


class LeadCreateOutput(LeadOutput):
    customer_matched = serializers.SerializerMethodField()

    class Meta(LeadOutput.Meta):
        fields = [*LeadOutput.Meta.fields, "customer_matched"]
        read_only_fields = fields

    def get_customer_matched(self, lead) -> bool:
        return bool(self.context.get("customer_matched"))


class FieldErrorOutput(serializers.Serializer):
    field = serializers.CharField(allow_null=True)
    code = serializers.CharField()
    message = serializers.CharField()


class BulkResultOutput(serializers.Serializer):
    """One item's result in a bulk answer: status 201 with the new lead's id, or the item's refusal."""

    index = serializers.IntegerField()
    status = serializers.IntegerField()
    id = serializers.IntegerField(allow_null=True)
    customer = serializers.IntegerField(allow_null=True)
    customer_matched = serializers.BooleanField(allow_null=True)
    errors = FieldErrorOutput(many=True)


class StageChangeOutput(serializers.ModelSerializer):
    by = serializers.IntegerField(source="by_id", allow_null=True)
    from_stage = serializers.ChoiceField(choices=Stage.choices, allow_blank=True, read_only=True)  # "" when created

    class Meta:
        model = LeadStageChange
        fields = ["from_stage", "to_stage", "at", "by", "reason"]
        read_only_fields = fields


class TagOutput(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name"]
        read_only_fields = fields


class ActivityOutput(serializers.ModelSerializer):
    by = serializers.IntegerField(source="by_id", allow_null=True)

    class Meta:
        model = Activity
        fields = ["id", "lead", "kind", "body", "by", "at"]
        read_only_fields = fields
