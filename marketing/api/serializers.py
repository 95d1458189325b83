"""Input serializers check shape only (marketing.services own the rules); output serializers render."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from config.api.fields import Id, Moment, Text
from customers.models import Customer
from leads.api.serializers import ContactInput, FieldErrorOutput
from marketing.models import CustomerEvent

BULK_LIMIT = 1000


class EventContactInput(ContactInput):
    """A person by contact identities, matched as lead intake does; any other key is refused by name."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                message = _("Unknown identity kind; use %(kinds)s.") % {"kinds": ", ".join(self.fields)}
                raise serializers.ValidationError({key: [ErrorDetail(message, code="invalid")] for key in unknown})
        return super().to_internal_value(data)


class EventInput(serializers.Serializer):
    customer = Id(queryset=Customer.objects.all(), required=False)
    contact = EventContactInput(required=False)
    type = Text(
        max_length=80,
        help_text=gettext_lazy("signed_up, activated, page_view, form_submitted, purchase or custom:<name>."),
    )
    at = Moment()
    source = Text(max_length=50)
    external_id = Text(max_length=200, required=False, allow_blank=True, default="")
    properties = serializers.DictField(required=False, default=dict)

    def validate(self, attrs):
        if ("contact" in attrs) == ("customer" in attrs):
            raise serializers.ValidationError(
                {"contact": [_("Give either a contact or an existing customer id.")]}, code="required"
            )
        return attrs


class EventBulkInput(serializers.Serializer):
    """`events/bulk/`: up to BULK_LIMIT event payloads, each checked on its own (EventInput)."""

    items = serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=BULK_LIMIT)


class EventOutput(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="customer_id")
    created_by = serializers.IntegerField(source="created_by_id", allow_null=True)

    class Meta:
        model = CustomerEvent
        fields = ["id", "customer", "type", "at", "source", "external_id", "properties", "created_at", "created_by"]
        read_only_fields = fields


class EventCreateOutput(EventOutput):
    customer_matched = serializers.BooleanField()

    class Meta(EventOutput.Meta):
        fields = [*EventOutput.Meta.fields, "customer_matched"]
        read_only_fields = fields


class EventBulkResultOutput(serializers.Serializer):
    """One item's result: 201 with the new event's id, 200 with the id of the event a resend repeats, or the
    item's refusal."""

    index = serializers.IntegerField()
    status = serializers.IntegerField()
    id = serializers.IntegerField(allow_null=True)
    customer = serializers.IntegerField(allow_null=True)
    customer_matched = serializers.BooleanField(allow_null=True)
    errors = FieldErrorOutput(many=True)
