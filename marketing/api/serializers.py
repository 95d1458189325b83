"""Input serializers check shape only (marketing.services own the rules); output serializers render."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from config.api.fields import MAX_ID, Id, Moment, Text
from customers.models import Customer
from leads.api.serializers import ContactInput, FieldErrorOutput
from marketing.models import CustomerEvent, Touchpoint, TouchpointKind


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


# ---------------------------------------------------------------- touchpoints


class IdValue(serializers.IntegerField):
    """An integer id, checked for shape only as config.api.fields.Id checks it (1.5, "1.5" and true are refused):
    the service looks up the ids of every item of a bulk request at once and names the one that does not exist."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and 0 < len(data) <= 19 and data.isascii() and data.isdigit():
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class TouchpointInput(serializers.Serializer):
    customer = IdValue(required=False, help_text=gettext_lazy("An existing customer's id; or give `contact`."))
    contact = EventContactInput(required=False)
    channel = Text(max_length=40, help_text=gettext_lazy("The code of an active channel."))
    campaign = IdValue(
        required=False,
        allow_null=True,
        default=None,
        help_text=gettext_lazy("The id of a campaign of that channel, or null."),
    )
    kind = serializers.ChoiceField(choices=TouchpointKind.choices)
    at = Moment(help_text=gettext_lazy("When the touch happened; not in the future."))
    external_id = Text(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text=gettext_lazy("The sender's id of the touch: sent again on the same channel, it is the same touch."),
    )

    def validate(self, attrs):
        if ("contact" in attrs) == ("customer" in attrs):
            raise serializers.ValidationError(
                {"contact": [_("Give either a contact or an existing customer id.")]}, code="required"
            )
        return attrs


class TouchpointOutput(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="customer_id")
    channel = serializers.SlugRelatedField(slug_field="code", read_only=True)
    campaign = serializers.IntegerField(source="campaign_id", allow_null=True)
    created_by = serializers.IntegerField(source="created_by_id", allow_null=True)

    class Meta:
        model = Touchpoint
        fields = ["id", "customer", "channel", "campaign", "kind", "at", "external_id", "created_at", "created_by"]
        read_only_fields = fields


class TouchpointCreateOutput(TouchpointOutput):
    customer_matched = serializers.BooleanField()

    class Meta(TouchpointOutput.Meta):
        fields = [*TouchpointOutput.Meta.fields, "customer_matched"]
        read_only_fields = fields


class TouchpointBulkResultOutput(EventBulkResultOutput):
    """One item's result: 201 with the new touchpoint's id, 200 with the id of the touchpoint a resend repeats, or
    the item's refusal."""
