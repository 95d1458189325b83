"""`GET audit/?object=<app.model>:<id>`: the change log of one record, newest first (config/audit.py)."""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, viewsets

from config import audit


@extend_schema_field(OpenApiTypes.ANY)
class FieldValue(serializers.Field):
    """A field's value as JSON: a string, number, boolean, list, id or null; times ISO 8601, money a string."""

    def to_representation(self, value):
        return audit.plain(value)


class AuditAuthor(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AuditChange(serializers.Serializer):
    field = serializers.CharField(help_text="The field's name, as in the record's own payloads.")
    old = FieldValue(help_text="The value before (null at creation).")
    new = FieldValue(help_text="The value after (null at deletion).")


class AuditEntryOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The version's id.")
    at = serializers.DateTimeField()
    by = AuditAuthor(allow_null=True, help_text="Who made the change; null for the system and background tasks.")
    entry_point = serializers.ChoiceField(choices=audit.EntryPoint.choices)
    action = serializers.ChoiceField(choices=sorted(audit.ACTION_LABELS))
    reason = serializers.CharField(help_text="What a bulk change was part of (a merge), else empty.")
    changes = AuditChange(many=True)


class AuditViewSet(viewsets.GenericViewSet):
    """Managers read their department's records' history, admins every record's (config/audit.py READERS)."""

    serializer_class = AuditEntryOutput
    filter_backends = []  # `object` names the record; nothing else filters

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "object",
                str,
                required=True,
                description="The record, `<app>.<model>:<id>`: leads.lead, customers.customer, "
                "customers.customeridentity, customers.order, feedback.complaint, okr.objective, okr.keyresult or "
                "config.webhookendpoint. A deleted record's history can still be read.",
            )
        ],
        responses=AuditEntryOutput(many=True),
    )
    def list(self, request):
        model, pk = audit.resolve(request.query_params.get("object"))
        audit.require_read(request.user, model, pk)
        page = self.paginate_queryset(audit.history_rows(model, pk))
        if not page and not request.query_params.get("cursor") and not audit.record_exists(model, pk):
            raise audit.AuditObjectMissing(_("There is no such record, and none was ever recorded."), field="object")
        entries = audit.entries(page, older=audit.older_row(model, page))
        return self.get_paginated_response(AuditEntryOutput(entries, many=True).data)
