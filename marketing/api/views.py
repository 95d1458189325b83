"""Marketing's REST API (DESIGN.md "REST API contract"): thin views over marketing.selectors and services."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api.pagination import StablePagination
from config.api.problems import flatten_errors
from config.api.rows import RowsListMixin
from config.errors import DomainError
from marketing import services
from marketing.api import serializers as s
from marketing.api.filters import CustomerEventFilter
from marketing.api.permissions import MarketingPermission
from marketing.models import CustomerEvent


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
        body = request.data
        envelope = s.EventBulkInput(data={"items": body} if isinstance(body, list) else body)
        envelope.is_valid(raise_exception=True)
        results, valid = [], []
        for index, item in enumerate(envelope.validated_data["items"]):
            data = s.EventInput(data=item)
            refused = not data.is_valid()
            results.append(
                {
                    "index": index,
                    "status": status.HTTP_400_BAD_REQUEST if refused else status.HTTP_201_CREATED,
                    "id": None,
                    "customer": None,
                    "customer_matched": None,
                    "errors": flatten_errors(data.errors) if refused else [],
                }
            )
            if not refused:
                valid.append((index, data.validated_data))
        outcomes = services.record_events(by=request.user, items=[item for _index, item in valid])
        for (index, _item), outcome in zip(valid, outcomes, strict=True):
            if isinstance(outcome, DomainError):
                error = {"field": outcome.field, "code": outcome.code, "message": outcome.message}
                results[index].update(status=outcome.status, errors=[error])
            else:
                results[index].update(
                    status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
                    id=outcome.event.pk,
                    customer=outcome.event.customer_id,
                    customer_matched=outcome.customer_matched,
                )
        return Response(results, status=status.HTTP_207_MULTI_STATUS)
