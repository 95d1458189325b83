from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission

from config import roles, webhooks
from config.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class IsManagerOrAdmin(BasePermission):
    """Webhook endpoints carry secrets: managers and admins only, reads included."""

    def has_permission(self, request, view):
        return roles.is_staff_member(request.user) and roles.is_manager(request.user)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "is_active", "secret", "created_at"]
        read_only_fields = ["secret", "created_at"]

    def validate_event_types(self, value):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise serializers.ValidationError("A list of event type names.")
        return value


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["at", "response_status", "error", "duration_ms"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    attempts_log = WebhookAttemptSerializer(source="attempt_log", many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "message_id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "error",
            "created_at",
            "attempts_log",
        ]


class WebhookEndpointViewSet(viewsets.ModelViewSet):
    serializer_class = WebhookEndpointSerializer
    permission_classes = [IsManagerOrAdmin]
    queryset = WebhookEndpoint.objects.all()

    def perform_create(self, serializer):
        serializer.save(secret=webhooks.new_secret(), created_by=self.request.user)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        queryset = endpoint.deliveries.prefetch_related("attempt_log").order_by("-pk")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
