"""`journeys/`, `journeys/{id}/activate/`, `pause/` and `enrolments/` (DESIGN.md "REST API contract"): thin views
over marketing.journeys. Everyone signed in reads; marketing drafts and edits; its managers activate and pause."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from config.api.concurrency import ETagMixin
from config.api.fields import require_whole_object
from config.api.pagination import StablePagination
from marketing import journeys
from marketing.api import journey_serializers as s
from marketing.api.filters import EnrolmentFilter, JourneyFilter
from marketing.api.permissions import MarketingPermission
from marketing.models import EnrolmentStatus, Journey


class EnrolmentPagination(StablePagination):
    ordering = "-pk"  # newest first: marketing_enrol_journey_idx


class JourneyViewSet(ETagMixin, viewsets.ModelViewSet):
    """Journeys, newest first, each with its live steps and enrolment counts; filters: status, q (in the name)."""

    permission_classes = [MarketingPermission]
    write_actions = {
        "create": "journey.create",
        "update": "journey.change",
        "partial_update": "journey.change",
        "destroy": "journey.change",
        "activate": "journey.activate",
        "pause": "journey.pause",
    }
    serializer_class = s.JourneyOutput
    filterset_class = JourneyFilter
    ordering_fields = ["id"]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if self.action in ("list", "retrieve"):
            return journeys.journeys()
        return Journey.objects.all()  # a write or the enrolments: the answer is read afresh (_answer)

    def _answer(self, journey, code=status.HTTP_200_OK) -> Response:
        return Response(s.JourneyOutput(journeys.journeys().get(pk=journey.pk)).data, status=code)

    @extend_schema(request=s.JourneyInput, responses={201: s.JourneyOutput})
    def create(self, request, *args, **kwargs):
        data = s.JourneyInput(data=request.data)
        data.is_valid(raise_exception=True)
        journey = journeys.create_journey(by=request.user, **data.validated_data)
        return self._answer(journey, status.HTTP_201_CREATED)

    @extend_schema(request=s.JourneyUpdateInput, responses=s.JourneyOutput)
    def update(self, request, *args, **kwargs):
        """Change the journey; `steps` is the whole new list (an item with an `id` keeps that step, a step left out
        is removed: enrolments that have not reached it skip it)."""
        journey = self.get_object()
        require_whole_object(request, s.JourneyUpdateInput)
        data = s.JourneyUpdateInput(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        journey = journeys.update_journey(journey=journey, by=request.user, **data.validated_data)
        return self._answer(journey)

    @extend_schema(request=s.JourneyUpdateInput, responses=s.JourneyOutput)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(responses={204: None})
    def destroy(self, request, *args, **kwargs):
        """Delete a journey that never ran (409 `in_use` once it was activated: pause it instead)."""
        journeys.delete_journey(journey=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=s.JourneyOutput)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """Start or resume the journey (marketing managers): 409 `invalid_transition` when already active."""
        return self._answer(journeys.activate_journey(journey=self.get_object(), by=request.user))

    @extend_schema(request=None, responses=s.JourneyOutput)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Hold the journey and its enrolments (marketing managers): 409 `invalid_transition` unless active."""
        return self._answer(journeys.pause_journey(journey=self.get_object(), by=request.user))

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=EnrolmentStatus.values, description="Only enrolments in this status."),
            OpenApiParameter("customer", int, description="Only this customer's enrolments."),
            OpenApiParameter("cursor", str, description="The page (from `next` or `previous`)."),
            OpenApiParameter("page_size", int, description="Up to 200 (default 50)."),
        ],
        responses=s.EnrolmentOutput(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=EnrolmentPagination, filterset_class=None)
    def enrolments(self, request, pk=None):
        """The journey's enrolments, newest first, each with its step log (oldest step first): the runs, what each
        did and the message or task it made. A fixed number of queries per page."""
        journey = self.get_object()
        filterset = EnrolmentFilter(request.GET, queryset=journeys.enrolments(journey.pk), request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(s.EnrolmentOutput(page, many=True).data)
