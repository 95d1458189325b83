from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from config import roles, webhooks
from config.api.concurrency import ETagMixin
from config.api.fields import require_whole_object
from config.events import EVENT_TYPES
from config.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class IsAdmin(BasePermission):
    """Endpoints carry secrets and decide where Relay's data goes: admins only, reads included (as in the admin)."""

    def has_permission(self, request, view):
        return roles.is_admin(request.user)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    """DESIGN.md payload `{"url", "events", "is_active"}`. The secret is write-only: it is in no answer but the
    creation's and a rotation's (WebhookEndpointWithSecret)."""

    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        source="event_types",
        required=False,
        help_text="Event types to receive; empty: every event.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "is_active", "created_at", "previous_secret_expires_at"]
        read_only_fields = ["created_at", "previous_secret_expires_at"]

    def validate_events(self, value):
        return list(dict.fromkeys(value))  # each once, in the order given


class WebhookEndpointWithSecret(WebhookEndpointSerializer):
    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = [*WebhookEndpointSerializer.Meta.read_only_fields, "secret"]


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


class WebhookEndpointViewSet(ETagMixin, viewsets.ModelViewSet):
    serializer_class = WebhookEndpointSerializer
    permission_classes = [IsAdmin]
    queryset = WebhookEndpoint.objects.all()

    def update(self, request, *args, **kwargs):
        require_whole_object(request, self.get_serializer_class())
        return super().update(request, *args, **kwargs)

    @extend_schema(responses={201: WebhookEndpointWithSecret})
    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = data.save(secret=webhooks.new_secret(), created_by=request.user)
        return Response(WebhookEndpointWithSecret(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=WebhookEndpointWithSecret)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new secret, answered once; the old one keeps signing alongside it for the grace period."""
        endpoint = webhooks.rotate_secret(endpoint=self.get_object(), by=request.user)
        return Response(WebhookEndpointWithSecret(endpoint).data)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        queryset = endpoint.deliveries.prefetch_related("attempt_log").order_by("-pk")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
