"""`GET metrics/` and `GET metrics/{name}/?start=&end=&…` (DESIGN.md "REST API contract")."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from config.api.fields import Day, Text
from okr import metrics


class MetricPeriodInput(serializers.Serializer):
    start = Day()
    end = Day()
    department = Text(max_length=100, required=False, allow_blank=True)
    channel = Text(max_length=100, required=False, allow_blank=True)
    owner = Text(max_length=100, required=False, allow_blank=True)
    campaign = Text(max_length=100, required=False, allow_blank=True)
    stage = Text(max_length=100, required=False, allow_blank=True)
    content = Text(max_length=100, required=False, allow_blank=True, help_text="A content item's id (content metrics).")
    journey = Text(max_length=100, required=False, allow_blank=True, help_text="A journey's id (content metrics).")
    model = Text(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Attribution model of channel_roi and cac: lead_source (the default), first_touch, last_touch, "
        "linear or position_based.",
    )
    tier = Text(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Loyalty tier of repurchase_rate and ltv (the customers' tier now): member, silver, gold, platinum, "
        "or none for customers outside the programme.",
    )

    def validate(self, attrs):
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": _("The end must be after the start.")})
        return attrs


class MetricOutput(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField()
    direction = serializers.CharField()
    filters = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()


class _EnvelopeSchema(AutoSchema):
    """The registry's list is one object (the list envelope with every metric), not an array of them."""

    def _is_list_view(self, serializer=None):
        return False


class MetricViewSet(viewsets.ViewSet):
    schema = _EnvelopeSchema()
    lookup_field = "name"
    lookup_value_regex = "[a-z_]+"

    @extend_schema(
        operation_id="v1_metrics_list",
        responses=inline_serializer(
            "MetricList",
            {
                "results": MetricOutput(many=True),
                "next": serializers.CharField(allow_null=True),
                "previous": serializers.CharField(allow_null=True),
            },
        ),
    )
    def list(self, request):
        return Response({"results": [m.as_dict() for m in metrics.REGISTRY.values()], "next": None, "previous": None})

    @extend_schema(
        parameters=[MetricPeriodInput],
        responses=OpenApiTypes.OBJECT,
        description="The metric's value for [start, end): `{metric, start, end, value, ...}`; value is null "
        "without data.",
    )
    def retrieve(self, request, name=None):
        metric = metrics.get(name)  # 404 before complaining about the period
        data = MetricPeriodInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        period = data.validated_data
        filters = {k: period[k] for k in metrics.FILTER_NAMES if k in period}
        return Response(metrics.compute(metric.name, start=period["start"], end=period["end"], filters=filters))
