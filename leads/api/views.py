"""`/api/v1/leads/` and `/api/v1/tags/` (DESIGN.md "REST API contract"). Thin: parse, call a service, answer."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from config.api.bulk import bulk_answer
from config.api.concurrency import ETagMixin, etag_for
from config.api.fields import require_whole_object
from config.api.pagination import StablePagination
from config.api.rows import RowsListMixin, by_ids
from leads import selectors, services
from leads.api import serializers as s
from leads.api.filters import ActivityFilter, LeadFilter
from leads.models import Activity, Lead, LeadStageChange, Tag


def _lead_result(outcome: tuple[Lead, bool]) -> dict:
    lead, matched = outcome
    return {"id": lead.pk, "customer": lead.customer_id, "customer_matched": matched}


class HistoryPagination(StablePagination):
    ordering = ("at", "pk")  # oldest first
    page_size = 200


class ActivityPagination(StablePagination):
    ordering = ("-at", "-pk")  # newest first


class LeadViewSet(RowsListMixin, ETagMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Leads. Transitions answer the lead; an invalid one is 409 `invalid_transition`, a stale If-Match 412."""

    serializer_class = s.LeadOutput
    list_fills = {"tags": by_ids(selectors.tag_names_by_lead)}
    filterset_class = LeadFilter
    ordering_fields = ["id"]

    def get_queryset(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return selectors.lead_rows()
        # A write only needs the row for its 404 and If-Match; the service locks and reads it again.
        return Lead.objects.all()

    def handle_exception(self, exc):
        if isinstance(exc, Lead.DoesNotExist):  # a transition's service read the lead (see _target)
            exc = NotFound(_("No such lead."))
        return super().handle_exception(exc)

    def _target(self) -> Lead | int:
        """The lead a transition acts on. With If-Match, the read it is checked against (the service checks the
        stage again under its lock); without, only the id: the service reads the lead once, under its lock."""
        if self.request.headers.get("If-Match", "").strip() not in ("", "*"):
            return self.get_object()
        try:
            return int(self.kwargs["pk"])
        except ValueError:
            raise NotFound(_("No such lead.")) from None

    def _answer(self, lead, *, status_code=status.HTTP_200_OK, serializer=s.LeadOutput, context=None):
        fresh = selectors.lead_answer(lead)
        response = Response(serializer(fresh, context=context or {}).data, status=status_code)
        response["ETag"] = etag_for(fresh)
        return response

    @extend_schema(request=s.LeadCreateInput, responses={201: s.LeadCreateOutput})
    def create(self, request):
        data = s.LeadCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        lead, matched = services.create_lead(by=request.user, **data.validated_data)
        return self._answer(
            lead,
            status_code=status.HTTP_201_CREATED,
            serializer=s.LeadCreateOutput,
            context={"customer_matched": matched},
        )

    @extend_schema(request=s.LeadUpdateInput, responses=s.LeadOutput)
    def update(self, request, pk=None, partial=False):
        require_whole_object(request, s.LeadUpdateInput)
        data = s.LeadUpdateInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        read = self.get_object()  # If-Match is checked against this read; the service re-checks it under the lock
        lead = services.update_lead(
            lead=read, by=request.user, expected_updated_at=read.updated_at, **data.validated_data
        )
        return self._answer(lead)

    @extend_schema(request=s.LeadUpdateInput, responses=s.LeadOutput)
    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @extend_schema(request=s.HandoffInput, responses=s.LeadOutput)
    @action(detail=True, methods=["post"])
    def handoff(self, request, pk=None):
        data = s.HandoffInput(data=request.data)
        data.is_valid(raise_exception=True)
        lead = services.handoff_lead(lead=self._target(), by=request.user, **data.validated_data)
        return self._answer(lead)

    @extend_schema(request=s.EmptyInput, responses=s.LeadOutput)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._answer(services.accept_lead(lead=self._target(), by=request.user))

    @extend_schema(request=s.EmptyInput, responses=s.LeadOutput)
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        return self._answer(services.claim_lead(lead=self._target(), by=request.user))

    @extend_schema(request=s.RejectInput, responses=s.LeadOutput)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        data = s.RejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(services.reject_lead(lead=self._target(), by=request.user, **data.validated_data))

    @extend_schema(request=s.MoveInput, responses=s.LeadOutput)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        data = s.MoveInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(services.move_lead(lead=self._target(), by=request.user, **data.validated_data))

    @extend_schema(request=s.CloseInput, responses=s.LeadOutput)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        data = s.CloseInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(services.close_lead(lead=self._target(), by=request.user, **data.validated_data))

    @extend_schema(request=s.EmptyInput, responses=s.LeadOutput)
    @action(detail=True, methods=["post"], url_path="flag-high-intent")
    def flag_high_intent(self, request, pk=None):
        return self._answer(services.flag_high_intent(lead=self._target(), by=request.user))

    @extend_schema(request=s.AssignInput, responses=s.LeadOutput)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        data = s.AssignInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(services.assign_lead(lead=self._target(), by=request.user, **data.validated_data))

    @extend_schema(methods=["GET"], responses=s.ActivityOutput(many=True))
    @extend_schema(methods=["POST"], request=s.ActivityInput, responses={201: s.ActivityOutput})
    @action(detail=True, methods=["get", "post"], pagination_class=ActivityPagination, filterset_class=None)
    def activities(self, request, pk=None):
        """GET: the lead's notes, calls, meetings and emails, newest first. POST: add one."""
        if request.method == "GET":
            lead = self.get_object()
            paginator = ActivityPagination()
            page = paginator.paginate_queryset(Activity.objects.filter(lead=lead), request, view=self)
            return paginator.get_paginated_response(s.ActivityOutput(page, many=True).data)
        data = s.ActivityInput(data=request.data)
        data.is_valid(raise_exception=True)
        activity = services.add_activity(lead=self._target(), by=request.user, **data.validated_data)
        return Response(s.ActivityOutput(activity).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.LeadCreateInput(many=True),
        responses={207: s.BulkResultOutput(many=True)},
        description='Up to 1,000 leads in one request: a JSON list of lead-create payloads (or `{"items": [...]}`).'
        " Each item is created on its own, as `POST leads/` would (contacts matched by identity), and the answer"
        " (207) has one result per item, in order: `status` 201 with the lead's `id`, or the item's refusal in"
        " `errors`. A refused item is not written and does not stop the others. More than 1,000 items is a 400;"
        " a user who may not create leads gets 403 for the whole request.",
    )
    @action(detail=False, methods=["post"], pagination_class=None)
    def bulk(self, request):
        return bulk_answer(
            request,
            envelope=s.LeadBulkInput,
            item_input=s.LeadCreateInput,
            write=lambda items: services.create_leads(by=request.user, items=items),
            describe=_lead_result,
        )

    @extend_schema(responses=s.StageChangeOutput(many=True))
    @action(detail=True, methods=["get"], pagination_class=HistoryPagination, filterset_class=None)
    def history(self, request, pk=None):
        lead = self.get_object()
        changes = LeadStageChange.objects.filter(lead=lead)
        paginator = HistoryPagination()
        page = paginator.paginate_queryset(changes, request, view=self)
        return paginator.get_paginated_response(s.StageChangeOutput(page, many=True).data)


class TagViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.TagOutput
    search_fields = ["name"]
    ordering_fields = ["id"]
    queryset = Tag.objects.all()

    @extend_schema(request=s.TagInput, responses={201: s.TagOutput})
    def create(self, request):
        data = s.TagInput(data=request.data)
        data.is_valid(raise_exception=True)
        tag = services.create_tag(by=request.user, **data.validated_data)
        return Response(s.TagOutput(tag).data, status=status.HTTP_201_CREATED)


class ActivityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Notes, calls, meetings and emails on every lead, newest first; filters: lead, kind, by, at_after, at_before.
    Add one with POST leads/{id}/activities/."""

    serializer_class = s.ActivityOutput
    filterset_class = ActivityFilter
    pagination_class = ActivityPagination
    ordering_fields = ["id"]
    queryset = Activity.objects.all()
