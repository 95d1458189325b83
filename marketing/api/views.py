"""Marketing's REST API (DESIGN.md "REST API contract"): thin views over marketing.selectors and services."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api.bulk import bulk_answer
from config.api.pagination import StablePagination
from config.api.rows import RowsListMixin
from marketing import services, touchpoints
from marketing.api import serializers as s
from marketing.api.filters import CustomerEventFilter, TouchpointFilter
from marketing.api.permissions import MarketingPermission
from marketing.models import CustomerEvent, Touchpoint
from marketing.services import RecordedEvent
from marketing.touchpoints import RecordedTouchpoint


class EventPagination(StablePagination):
    ordering = ("-at", "-pk")  # newest first, on marketing_event_at_idx


class CustomerEventViewSet(RowsListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """What customers did, newest first; filters: customer, type, source, at_after, at_before. Integrations post
    one event, or up to 1,000 with `bulk/`."""

    permission_classes = [MarketingPermission]
    write_actions = {"create": "event.create", "bulk": "event.create"}
    serializer_class = s.EventOutput
    filterset_class = CustomerEventFilter
    pagination_class = EventPagination
    ordering_fields = ["id"]
    queryset = CustomerEvent.objects.all()

    @extend_schema(
        request=s.EventInput,
        responses={201: s.EventCreateOutput, 200: s.EventCreateOutput},
        description="Record one customer event. The customer is `customer` (an id) or `contact` (identities, matched"
        " as lead intake does; a new person becomes a new customer). A resend with the same `source` and"
        " `external_id` answers 200 with the event recorded before and writes nothing.",
    )
    def create(self, request):
        data = s.EventInput(data=request.data)
        data.is_valid(raise_exception=True)
        recorded = services.record_event(by=request.user, **data.validated_data)
        body = {**s.EventOutput(recorded.event).data, "customer_matched": recorded.customer_matched}
        return Response(body, status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK)

    @extend_schema(
        request=s.EventInput(many=True),
        responses={207: s.EventBulkResultOutput(many=True)},
        description='Up to 1,000 events in one request: a JSON list of event payloads (or `{"items": [...]}`). Each'
        " item is recorded on its own, as `POST events/` would, and the answer (207) has one result per item, in"
        " order: `status` 201 with the new event's `id`, 200 with the id of the event a resend repeats, or the"
        " item's refusal in `errors`. A refused item is not written and does not stop the others. More than"
        " 1,000 items is a 400; a user who may not record events gets 403 for the whole request.",
    )
    @action(detail=False, methods=["post"], pagination_class=None, filterset_class=None)
    def bulk(self, request):
        return bulk_answer(
            request,
            item_input=s.EventInput,
            write=lambda items: services.record_events(by=request.user, items=items),
            describe=_event_result,
        )


def _event_result(recorded: RecordedEvent) -> dict:
    return {
        "status": status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK,
        "id": recorded.event.pk,
        "customer": recorded.event.customer_id,
        "customer_matched": recorded.customer_matched,
    }


class TouchpointPagination(StablePagination):
    ordering = ("-at", "-pk")  # newest first, on marketing_touch_list_idx


class TouchpointViewSet(RowsListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Touches of customers with channels and campaigns, newest first; filters: customer, channel (a code),
    campaign, kind, at_after, at_before. Integrations post one touchpoint, or up to 1,000 with `bulk/`."""

    permission_classes = [MarketingPermission]
    write_actions = {"create": touchpoints.CREATE, "bulk": touchpoints.CREATE}
    serializer_class = s.TouchpointOutput
    filterset_class = TouchpointFilter
    pagination_class = TouchpointPagination
    ordering_fields = ["id"]
    queryset = Touchpoint.objects.select_related("channel")

    @extend_schema(
        request=s.TouchpointInput,
        responses={201: s.TouchpointCreateOutput, 200: s.TouchpointCreateOutput},
        description="Record one touch of a customer with a channel (an ad impression, a click, a visit, a store"
        " scan, a message), perhaps in one of its campaigns. The customer is `customer` (an id) or `contact`"
        " (identities, matched as lead intake does; a new person becomes a new customer). A resend with the same"
        " `channel` and `external_id` answers 200 with the touchpoint recorded before and writes nothing.",
    )
    def create(self, request):
        data = s.TouchpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        recorded = touchpoints.record_touchpoint(by=request.user, **data.validated_data)
        body = {**s.TouchpointOutput(recorded.touchpoint).data, "customer_matched": recorded.customer_matched}
        return Response(body, status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK)

    @extend_schema(
        request=s.TouchpointInput(many=True),
        responses={207: s.TouchpointBulkResultOutput(many=True)},
        description='Up to 1,000 touchpoints in one request: a JSON list of touchpoint payloads (or `{"items":'
        " [...]}`). Each item is recorded on its own, as `POST touchpoints/` would, and the answer (207) has one"
        " result per item, in order: `status` 201 with the new touchpoint's `id`, 200 with the id of the"
        " touchpoint a resend repeats, or the item's refusal in `errors`. A refused item is not written and does"
        " not stop the others. More than 1,000 items is a 400; a user who may not record touchpoints gets 403 for"
        " the whole request.",
    )
    @action(detail=False, methods=["post"], pagination_class=None, filterset_class=None)
    def bulk(self, request):
        return bulk_answer(
            request,
            item_input=s.TouchpointInput,
            write=lambda items: touchpoints.record_touchpoints(by=request.user, items=items),
            describe=_touchpoint_result,
        )


def _touchpoint_result(recorded: RecordedTouchpoint) -> dict:
    return {
        "status": status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK,
        "id": recorded.touchpoint.pk,
        "customer": recorded.touchpoint.customer_id,
        "customer_matched": recorded.customer_matched,
    }
