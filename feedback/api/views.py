"""Feedback API: thin viewsets over feedback.services and feedback.selectors."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from config import roles
from config.api.concurrency import ETagMixin
from config.api.fields import require_whole_object
from config.api.rows import RowsListMixin
from config.errors import DomainError
from feedback import permissions, selectors, services
from feedback.api import serializers as s
from feedback.api.filters import (
    ComplaintFilter,
    InsightFilter,
    NpsInvitationFilter,
    NpsResponseFilter,
)
from feedback.models import NpsSource


class FeedbackPermission(BasePermission):
    """Reads for every staff member; writes by role (object rules are checked again in the services).

    `write_actions` maps a view action to the department-level permission; `object_actions` to the one
    checked on the record (a service user acts on their own or unowned complaints).
    """

    def has_permission(self, request, view):
        if not roles.is_staff_member(request.user):
            return False
        if request.method in SAFE_METHODS:
            return True
        action = getattr(view, "write_actions", {}).get(view.action, "")
        return bool(action) and permissions.can(request.user, action)

    def has_object_permission(self, request, view, obj):
        if request.method in SAFE_METHODS:
            return True
        action = getattr(view, "object_actions", {}).get(view.action, "")
        return bool(action) and permissions.can(request.user, action, obj)


def _waiting_on_customer(rows: list[dict]) -> dict[int, bool]:
    return {row["pk"]: row["waiting_since"] is not None for row in rows}


class ComplaintViewSet(RowsListMixin, ETagMixin, viewsets.ModelViewSet):
    permission_classes = [FeedbackPermission]
    list_fills = {"waiting_on_customer": _waiting_on_customer}
    filterset_class = ComplaintFilter
    ordering_fields = ["id"]
    search_fields = []
    http_method_names = ["get", "post", "patch", "put", "head", "options"]
    write_actions = {
        "create": "complaint.create",
        "update": "complaint.create",
        "partial_update": "complaint.create",
        "transition": "complaint.create",
        "waiting": "complaint.create",
    }
    object_actions = {
        "update": "complaint.change",
        "partial_update": "complaint.change",
        "transition": "complaint.transition",
        "waiting": "complaint.pause",
    }

    def get_queryset(self):
        return selectors.complaints()

    def get_serializer_class(self):
        return s.ComplaintOutput

    @extend_schema(request=s.ComplaintInput, responses={201: s.ComplaintOutput})
    def create(self, request, *args, **kwargs):
        data = s.ComplaintInput(data=request.data)
        data.is_valid(raise_exception=True)
        complaint = services.create_complaint(by=request.user, **data.validated_data)
        return Response(s.ComplaintOutput(complaint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ComplaintUpdateInput, responses=s.ComplaintOutput)
    def update(self, request, *args, **kwargs):
        complaint = self.get_object()
        require_whole_object(request, s.ComplaintUpdateInput)
        data = s.ComplaintUpdateInput(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "owner" in fields:
            owner = fields.pop("owner")
            complaint = services.assign_complaint(complaint=complaint, by=request.user, owner=owner)
        if fields:
            complaint = services.update_complaint(complaint=complaint, by=request.user, **fields)
        return Response(s.ComplaintOutput(selectors.complaints().get(pk=complaint.pk)).data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(request=s.TransitionInput, responses=s.ComplaintOutput)
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        data = s.TransitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        complaint = services.transition_complaint(complaint=self.get_object(), by=request.user, **data.validated_data)
        return Response(s.ComplaintOutput(selectors.complaints().get(pk=complaint.pk)).data)

    @extend_schema(request=s.WaitingInput, responses=s.ComplaintOutput)
    @action(detail=True, methods=["post"], url_path="waiting-on-customer")
    def waiting(self, request, pk=None):
        data = s.WaitingInput(data=request.data)
        data.is_valid(raise_exception=True)
        complaint = services.set_waiting_on_customer(
            complaint=self.get_object(), by=request.user, **data.validated_data
        )
        return Response(s.ComplaintOutput(selectors.complaints().get(pk=complaint.pk)).data)

    @extend_schema(responses=s.StatusChangeOutput(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def history(self, request, pk=None):
        complaint = self.get_object()
        changes = complaint.status_changes.order_by("at", "pk")
        return Response(s.StatusChangeOutput(changes, many=True).data)


class NpsResponseViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    permission_classes = [FeedbackPermission]
    filterset_class = NpsResponseFilter
    serializer_class = s.NpsResponseOutput
    ordering_fields = ["id"]
    write_actions = {"create": "nps.create"}

    def get_queryset(self):
        return selectors.nps_responses()

    @extend_schema(request=s.NpsResponseInput, responses={201: s.NpsResponseOutput})
    def create(self, request, *args, **kwargs):
        data = s.NpsResponseInput(data=request.data)
        data.is_valid(raise_exception=True)
        response = services.record_nps_response(by=request.user, source=NpsSource.API, **data.validated_data)
        return Response(s.NpsResponseOutput(selectors.nps_responses().get(pk=response.pk)).data, status=201)


class NpsInvitationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    permission_classes = [FeedbackPermission]
    filterset_class = NpsInvitationFilter
    serializer_class = s.NpsInvitationOutput
    ordering_fields = ["id"]
    write_actions = {"create": "invitation.create"}

    def get_queryset(self):
        return selectors.nps_invitations()

    @extend_schema(request=s.NpsInvitationInput, responses={201: s.NpsInvitationOutput(many=True)})
    def create(self, request, *args, **kwargs):
        """Queue survey emails for one customer or a list; customers without an email are skipped."""
        data = s.NpsInvitationInput(data=request.data)
        data.is_valid(raise_exception=True)
        customers = data.validated_data.get("customers") or [data.validated_data["customer"]]
        made = services.create_invitations(
            by=request.user, customers=customers, language=data.validated_data["language"]
        )
        if not made:
            raise DomainError(
                _("None of these customers has a valid email address."), field="customer", code="no_email"
            )
        return Response(s.NpsInvitationOutput(made, many=True).data, status=201)


class InsightViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    permission_classes = [FeedbackPermission]
    filterset_class = InsightFilter
    serializer_class = s.InsightOutput
    ordering_fields = ["id"]
    write_actions = {"create": "insight.create", "acknowledge": "insight.acknowledge"}
    object_actions = {"acknowledge": "insight.acknowledge"}

    def get_queryset(self):
        return selectors.insights()

    @extend_schema(request=s.InsightInput, responses={201: s.InsightOutput})
    def create(self, request, *args, **kwargs):
        data = s.InsightInput(data=request.data)
        data.is_valid(raise_exception=True)
        insight = services.route_insight(by=request.user, **data.validated_data)
        return Response(s.InsightOutput(insight).data, status=201)

    @extend_schema(request=None, responses=s.InsightOutput)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        insight = services.acknowledge_insight(insight=self.get_object(), by=request.user)
        return Response(s.InsightOutput(insight).data)
