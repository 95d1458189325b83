from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from config.api.bulk import bulk_answer
from config.api.concurrency import ETagMixin
from config.api.fields import require_whole_object
from config.api.rows import RowsListMixin, by_ids
from config.errors import DomainError
from customers import imports, permissions, products, selectors, services
from customers.api import serializers as s
from customers.api.filters import (
    AccountTeamFilter,
    CampaignFilter,
    ChannelFilter,
    ChannelSpendFilter,
    CustomerFilter,
    OrderFilter,
    ProductFilter,
)
from customers.models import (
    AccountTeamMember,
    Campaign,
    Channel,
    ChannelSpend,
    Customer,
    ImportJob,
    MergeRecord,
    Order,
    Product,
)


class _ListReadUpdate(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """list, create, read, update; writes go through a service."""

    input_class = None
    output_class = None

    def get_serializer_class(self):
        return self.output_class

    def _input(self, partial=False):
        require_whole_object(self.request, self.input_class)
        data = self.input_class(data=self.request.data, partial=partial)
        data.is_valid(raise_exception=True)
        return data.validated_data


class CustomerViewSet(RowsListMixin, ETagMixin, _ListReadUpdate):
    """Customers: list/filter/search (cursor pages, no COUNT), create (identity match), read, update, merge."""

    list_fills = {"identities": by_ids(selectors.identities_by_customer), "url": by_ids(selectors.detail_urls)}

    filterset_class = CustomerFilter
    search_fields = []
    ordering_fields = []
    lookup_value_regex = r"\d+"
    output_class = s.CustomerOutput
    input_class = s.CustomerInput

    def get_queryset(self):
        if self.action == "list":
            return selectors.live_customers()
        return selectors.customer_base()

    @extend_schema(request=s.CustomerInput, responses={201: s.CustomerCreateOutput, 200: s.CustomerCreateOutput})
    def create(self, request):
        data = self._input()
        customer, matched = services.create_customer(
            by=request.user,
            name=data.get("name", ""),
            company=data.get("company", ""),
            city=data.get("city", ""),
            language=data.get("language", ""),
            identities=data.get("identities") or [],
            source_channel=data.get("source_channel"),
        )
        customer = selectors.customer_base().get(pk=customer.pk)
        customer.customer_matched = matched
        body = s.CustomerCreateOutput(customer).data
        return Response(body, status=status.HTTP_200_OK if matched else status.HTTP_201_CREATED)

    def _update(self, request, partial):
        data = self._input(partial=partial)
        customer = services.update_customer(
            customer=self.get_object(),
            by=request.user,
            name=data.get("name"),
            company=data.get("company"),
            city=data.get("city"),
            language=data.get("language"),
            identities=data.get("identities"),
        )
        return Response(s.CustomerOutput(selectors.customer_base().get(pk=customer.pk)).data)

    @extend_schema(request=s.CustomerInput, responses=s.CustomerOutput)
    def update(self, request, pk=None):
        return self._update(request, partial=False)

    @extend_schema(request=s.CustomerInput, responses=s.CustomerOutput)
    def partial_update(self, request, pk=None):
        return self._update(request, partial=True)

    @extend_schema(request=s.MergeInput, responses=s.CustomerOutput)
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Merge `duplicate` into this customer (managers only); `keep` chooses per profile field (name, company,
        city, language) whether the survivor's or the duplicate's value survives."""
        permissions.require(request.user, permissions.MERGE)
        survivor = self.get_object()
        data = s.MergeInput(data=request.data)
        data.is_valid(raise_exception=True)
        duplicate = Customer.objects.filter(pk=data.validated_data["duplicate"]).first()
        if duplicate is None:
            raise DomainError(_("No such customer."), field="duplicate", code="does_not_exist")
        record = services.merge_customers(
            survivor=survivor, duplicate=duplicate, by=request.user, keep=data.validated_data.get("keep")
        )
        body = dict(s.CustomerOutput(selectors.customer_base().get(pk=survivor.pk)).data)
        body["merge"] = s.MergeOutput(record).data
        return Response(body)

    @extend_schema(request=s.UndoMergeInput, responses=s.CustomerOutput)
    @action(detail=True, methods=["post"], url_path="undo-merge")
    def undo_merge(self, request, pk=None):
        """Undo a merge this customer took part in (managers, within RELAY_MERGE_UNDO_DAYS)."""
        permissions.require(request.user, permissions.UNDO_MERGE)
        customer = self.get_object()
        data = s.UndoMergeInput(data=request.data)
        data.is_valid(raise_exception=True)
        records = MergeRecord.objects.filter(undone_at__isnull=True)
        if "merge" in data.validated_data:
            record = records.filter(Q(survivor=customer) | Q(duplicate=customer), pk=data.validated_data["merge"])
        else:
            record = records.filter(duplicate=customer)
        record = record.order_by("-merged_at").first()
        if record is None:
            raise DomainError(_("No merge of this customer to undo."), field="merge", code="does_not_exist")
        record = services.undo_merge(record=record, by=request.user)
        body = dict(s.CustomerOutput(selectors.customer_base().get(pk=record.duplicate_id)).data)
        body["merge"] = s.MergeOutput(record).data
        return Response(body)

    @extend_schema(responses=s.TimelineOutput(many=True))
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        """Every department's events for the customer, newest first (`?limit=`, at most 500)."""
        customer = self.get_object()
        try:
            limit = max(1, min(int(request.query_params.get("limit", 200)), 500))
        except ValueError:
            raise DomainError(_("Enter a whole number."), field="limit") from None
        events = selectors.customer_timeline(customer_id=customer.pk, limit=limit)
        return Response({"results": s.TimelineOutput(events, many=True).data, "next": None, "previous": None})

    @extend_schema(responses=s.DataQualityOutput)
    @action(detail=False, methods=["get"], url_path="data-quality")
    def data_quality(self, request):
        try:
            limit = max(1, min(int(request.query_params.get("limit", 50)), 200))
        except ValueError:
            raise DomainError(_("Enter a whole number."), field="limit") from None
        return Response(s.DataQualityOutput(selectors.data_quality(limit=limit)).data)


class AccountTeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`customers/{id}/team/`: the customer's account team. POST `{"user", "role"}` adds a person, DELETE
    `team/{member_id}/` removes one (customers.permissions TEAM)."""

    serializer_class = s.TeamMemberOutput
    filterset_class = AccountTeamFilter

    def customer(self) -> Customer:
        if not hasattr(self, "_customer"):
            self._customer = get_object_or_404(
                Customer.objects.only("pk", "name", "merged_into_id"), pk=self.kwargs["customer_pk"]
            )
        return self._customer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no URL kwargs
            return AccountTeamMember.objects.none()
        return selectors.team_members().filter(customer=self.customer())

    @extend_schema(request=s.TeamMemberInput, responses={201: s.TeamMemberOutput})
    def create(self, request, *args, **kwargs):
        data = s.TeamMemberInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.add_team_member(customer=self.customer(), by=request.user, **data.validated_data)
        body = s.TeamMemberOutput(self.get_queryset().get(pk=member.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        services.remove_team_member(member=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _placed_result(placed: services.PlacedOrder) -> dict:
    """A written item's fields in the `orders/bulk/` answer."""
    return {
        "status": status.HTTP_201_CREATED if placed.created else status.HTTP_200_OK,
        "id": placed.order.pk,
        "customer": placed.order.customer_id,
        "customer_matched": placed.customer_matched,
    }


class OrderViewSet(RowsListMixin, ETagMixin, _ListReadUpdate):
    """Orders with their lines: list/filter (customer, channel, external_id, ordered_after/before, product SKU,
    cancelled), create (a customer id or a contact; lines), read, update, bulk create, cancel."""

    list_fills = {"lines": by_ids(selectors.order_lines)}
    filterset_class = OrderFilter
    queryset = Order.objects.select_related("channel")
    output_class = s.OrderOutput
    input_class = s.OrderInput

    @extend_schema(request=s.OrderInput, responses={201: s.OrderCreateOutput, 200: s.OrderCreateOutput})
    def create(self, request):
        """Create an order of a `customer` or of a `contact` (matched by identity, else a new customer) with
        optional `lines`; a resent `external_id` for the channel returns the existing order (200)."""
        data = self._input()
        placed = services.place_order(by=request.user, **data)
        body = s.OrderCreateOutput(placed.order, context={"customer_matched": placed.customer_matched}).data
        return Response(body, status=status.HTTP_201_CREATED if placed.created else status.HTTP_200_OK)

    @extend_schema(
        request=s.OrderInput(many=True),
        responses={207: s.OrderBulkResultOutput(many=True)},
        description='Up to 1,000 orders in one request: a JSON list of order-create payloads (or `{"items": [...]}`).'
        " Each item is recorded on its own, as `POST orders/` would (a contact matched by identity, lines checked,"
        " a known channel and external id answered with its order and status 200), and the answer (207) has one"
        " result per item, in order: `status` 201 with the order's `id`, `customer` and `customer_matched`, or the"
        " item's refusal in `errors`. A refused item is not written and does not stop the others. More than 1,000"
        " items is a 400 naming `items`; a user who may not create orders gets 403 for the whole request.",
    )
    @action(detail=False, methods=["post"], pagination_class=None, filterset_class=None)
    def bulk(self, request):
        return bulk_answer(
            request,
            item_input=s.OrderInput,
            write=lambda items: services.place_orders(by=request.user, items=items),
            describe=_placed_result,
        )

    @extend_schema(request=s.OrderCancelInput, responses=s.OrderOutput)
    @action(detail=True, methods=["post"], filterset_class=None)
    def cancel(self, request, pk=None):
        """Cancel the order with a `reason`: it then counts nowhere (RFM, metrics, affinity) and its points are
        reversed. Cancelling a cancelled order changes nothing and answers it as it was cancelled (200)."""
        permissions.require(request.user, permissions.ORDER_WRITE)
        data = s.OrderCancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        order, _cancelled = services.cancel_order(
            order=self.get_object(), by=request.user, reason=data.validated_data["reason"]
        )
        return Response(s.OrderOutput(order).data)

    def _update(self, request, partial):
        require_whole_object(request, s.OrderUpdateInput)
        data = s.OrderUpdateInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        order = services.update_order(order=self.get_object(), by=request.user, **data.validated_data)
        return Response(s.OrderOutput(order).data)

    @extend_schema(request=s.OrderUpdateInput, responses=s.OrderOutput)
    def update(self, request, pk=None):
        return self._update(request, partial=False)

    @extend_schema(request=s.OrderUpdateInput, responses=s.OrderOutput)
    def partial_update(self, request, pk=None):
        """Change an order; `lines`, when given, replaces its lines (their sum becomes the amount). A cancelled order
        is 409."""
        return self._update(request, partial=True)


class _ReferenceViewSet(ETagMixin, _ListReadUpdate):
    """Channels, campaigns and spend: one serializer for input and output; `save` is the service."""

    save = None
    instance_kwarg = ""

    def get_serializer_class(self):
        return self.output_class

    def create(self, request):
        data = self.output_class(data=request.data)
        data.is_valid(raise_exception=True)
        obj = type(self).save(by=request.user, **data.validated_data)
        return Response(self.output_class(obj).data, status=status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        require_whole_object(request, self.output_class)
        instance = self.get_object()
        data = self.output_class(instance, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        obj = type(self).save(by=request.user, **{self.instance_kwarg: instance}, **data.validated_data)
        return Response(self.output_class(obj).data)

    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)


class ProductViewSet(RowsListMixin, _ReferenceViewSet):
    """The product catalogue: everyone signed in reads it; sales and marketing managers and admins write it
    (customers.permissions PRODUCT_WRITE). A product that was sold cannot be deleted (409): set it inactive."""

    queryset = Product.objects.all()
    filterset_class = ProductFilter
    output_class = s.ProductSerializer
    save = staticmethod(products.save_product)
    instance_kwarg = "product"

    def destroy(self, request, pk=None):
        products.delete_product(product=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelViewSet(_ReferenceViewSet):
    queryset = Channel.objects.all()
    filterset_class = ChannelFilter
    output_class = s.ChannelSerializer
    save = staticmethod(services.save_channel)
    instance_kwarg = "channel"


class CampaignViewSet(_ReferenceViewSet):
    queryset = Campaign.objects.select_related("channel")
    filterset_class = CampaignFilter
    output_class = s.CampaignSerializer
    save = staticmethod(services.save_campaign)
    instance_kwarg = "campaign"


class ChannelSpendViewSet(_ReferenceViewSet):
    queryset = ChannelSpend.objects.select_related("channel")
    filterset_class = ChannelSpendFilter
    output_class = s.ChannelSpendSerializer
    save = staticmethod(services.save_channel_spend)
    instance_kwarg = "spend"


class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """CSV imports: POST a file (a dry run by default), GET status/progress/row errors, POST run/ for real."""

    queryset = ImportJob.objects.select_related("created_by")
    serializer_class = s.ImportJobOutput
    parser_classes = [MultiPartParser, FormParser]
    filterset_fields = ["kind", "status", "is_dry_run"]

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action == "retrieve":
            job = self.get_object()
            context["row_errors"] = list(job.row_errors.order_by("row_number", "pk")[:1000])
        return context

    @extend_schema(request=s.ImportInput, responses={202: s.ImportJobOutput})
    def create(self, request):
        data = s.ImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        job = imports.start_import(
            by=request.user,
            kind=data.validated_data["kind"],
            upload=data.validated_data["file"],
            dry_run=data.validated_data["dry_run"],
        )
        job.refresh_from_db()
        return Response(s.ImportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.ImportRunInput, responses={202: s.ImportJobOutput})
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        """Run the real import of a finished dry run."""
        job = imports.confirm_import(job=self.get_object(), by=request.user)
        job.refresh_from_db()
        return Response(s.ImportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: bytes})
    @action(detail=True, methods=["get"], url_path="errors.csv")
    def errors_csv(self, request, pk=None):
        job = get_object_or_404(ImportJob, pk=pk)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        imports.write_error_report(job, response)
        return response
