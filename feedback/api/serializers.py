"""Input and output shapes of the feedback API (DESIGN.md "Payloads"); they check shape, never save."""

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import serializers

from config.api.fields import Code, Id, Text
from customers.models import Channel, Customer, Order
from feedback.models import (
    Complaint,
    ComplaintCategory,
    ComplaintStatus,
    ComplaintStatusChange,
    Insight,
    InsightTag,
    NpsInvitation,
    NpsResponse,
    Severity,
)
from leads.models import Lead

User = get_user_model()


class ComplaintInput(serializers.Serializer):
    customer = Id(queryset=Customer.objects.all())
    category = serializers.ChoiceField(choices=ComplaintCategory.choices)
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.MEDIUM)
    channel = Code(slug_field="code", queryset=Channel.objects.all(), required=False, allow_null=True)
    description = Text()
    order = Id(queryset=Order.objects.all(), required=False, allow_null=True)
    lead = Id(queryset=Lead.objects.all(), required=False, allow_null=True)
    owner = Id(queryset=User.objects.all(), required=False, allow_null=True)


class ComplaintUpdateInput(serializers.Serializer):
    category = serializers.ChoiceField(choices=ComplaintCategory.choices, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    channel = Code(slug_field="code", queryset=Channel.objects.all(), required=False, allow_null=True)
    description = Text(required=False)
    order = Id(queryset=Order.objects.all(), required=False, allow_null=True)
    lead = Id(queryset=Lead.objects.all(), required=False, allow_null=True)
    owner = Id(queryset=User.objects.all(), required=False, allow_null=True)


class TransitionInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=ComplaintStatus.choices)
    resolution = Text(required=False, allow_blank=True, default="")


class WaitingInput(serializers.Serializer):
    waiting = serializers.BooleanField()
    note = Text(required=False, allow_blank=True, default="", max_length=500)


class ComplaintOutput(serializers.ModelSerializer):
    channel = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    waiting_on_customer = serializers.BooleanField(source="is_waiting_on_customer", read_only=True)

    class Meta:
        model = Complaint
        fields = [
            "id",
            "customer",
            "order",
            "lead",
            "category",
            "severity",
            "channel",
            "owner",
            "status",
            "description",
            "resolution",
            "opened_at",
            "first_response_at",
            "first_response_due_at",
            "resolved_at",
            "resolution_due_at",
            "closed_at",
            "waiting_on_customer",
            "waiting_since",
            "updated_at",
        ]
        read_only_fields = fields


class StatusChangeOutput(serializers.ModelSerializer):
    # Blank where the change is not a move between statuses (the first one, a pause).
    from_status = serializers.ChoiceField(choices=ComplaintStatus.choices, allow_blank=True, read_only=True)
    to_status = serializers.ChoiceField(choices=ComplaintStatus.choices, allow_blank=True, read_only=True)

    class Meta:
        model = ComplaintStatusChange
        fields = ["kind", "from_status", "to_status", "at", "by", "note"]
        read_only_fields = fields


class NpsResponseInput(serializers.Serializer):
    customer = Id(queryset=Customer.objects.all())
    score = serializers.IntegerField(min_value=0, max_value=10)
    comment = Text(required=False, allow_blank=True, default="")


class NpsResponseOutput(serializers.ModelSerializer):
    category = serializers.CharField(read_only=True)
    # The id of its detractor follow-up (a task: `tasks/{id}/`), null without one.
    follow_up = serializers.IntegerField(source="follow_up_id", read_only=True, allow_null=True)

    class Meta:
        model = NpsResponse
        fields = ["id", "customer", "score", "comment", "category", "source", "answered_at", "follow_up"]
        read_only_fields = fields


class NpsInvitationInput(serializers.Serializer):
    customer = Id(queryset=Customer.objects.all(), required=False)
    customers = serializers.ListField(child=Id(queryset=Customer.objects.all()), required=False, max_length=1000)
    # Blank: each customer's own language (feedback.services.customer_languages).
    language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if not attrs.get("customer") and not attrs.get("customers"):
            raise serializers.ValidationError({"customer": ["Give a customer or a list of customers."]})
        return attrs


class NpsInvitationOutput(serializers.ModelSerializer):
    """The token is never exposed: the link goes to the customer's email only."""

    email = serializers.CharField(read_only=True)  # blank for an invitation made without one

    class Meta:
        model = NpsInvitation
        fields = ["id", "customer", "email", "language", "created_at", "sent_at", "expires_at", "answered_at"]
        read_only_fields = fields


class InsightInput(serializers.Serializer):
    complaint = Id(queryset=Complaint.objects.all(), required=False, allow_null=True)
    nps_response = Id(queryset=NpsResponse.objects.all(), required=False, allow_null=True)
    tag = serializers.ChoiceField(choices=InsightTag.choices)
    note = Text(required=False, allow_blank=True, default="")


class InsightOutput(serializers.ModelSerializer):
    class Meta:
        model = Insight
        fields = ["id", "customer", "complaint", "nps_response", "lead", "tag", "note", "created_at", "acknowledged_at"]
        read_only_fields = fields
