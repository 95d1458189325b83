"""`content/`, `content/{id}/variants/` and `messages/` (DESIGN.md "REST API contract"): thin views over
marketing.services, marketing.sending and marketing.selectors. Marketing writes content; every staff member reads."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from config.api.concurrency import ETagMixin
from config.api.fields import require_whole_object
from config.api.pagination import StablePagination
from config.api.rows import RowsListMixin
from marketing import selectors, services
from marketing.api import content_serializers as s
from marketing.api.filters import ContentFilter, MessageFilter
from marketing.api.permissions import MarketingPermission
from marketing.models import ContentItem, ContentVariant

_WRITES = {
    "create": "content.create",
    "update": "content.change",
    "partial_update": "content.change",
    "destroy": "content.change",
}


class ContentViewSet(ETagMixin, viewsets.ModelViewSet):
    """Content items, newest first; filters: stage, language, is_active, q (in the title)."""

    permission_classes = [MarketingPermission]
    write_actions = _WRITES
    serializer_class = s.ContentOutput
    filterset_class = ContentFilter
    ordering_fields = ["id"]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.content_with_variants()

    @extend_schema(request=s.ContentInput, responses={201: s.ContentOutput})
    def create(self, request, *args, **kwargs):
        data = s.ContentInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = services.create_content(by=request.user, **data.validated_data)
        return Response(s.ContentOutput(self.get_queryset().get(pk=item.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ContentUpdateInput, responses=s.ContentOutput)
    def update(self, request, *args, **kwargs):
        item = self.get_object()
        require_whole_object(request, s.ContentUpdateInput)
        data = s.ContentUpdateInput(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        item = services.update_content(item=item, by=request.user, **data.validated_data)
        return Response(s.ContentOutput(self.get_queryset().get(pk=item.pk)).data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(responses={204: None})
    def destroy(self, request, *args, **kwargs):
        """Delete content no message, journey step or experiment refers to (409 `in_use`: switch it off)."""
        services.delete_content(item=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VariantPagination(StablePagination):
    ordering = "key"  # A, B, C…


_CONTENT_ID = OpenApiParameter("content_pk", int, OpenApiParameter.PATH, description="The content item's id.")


@extend_schema_view(
    list=extend_schema(parameters=[_CONTENT_ID]),
    retrieve=extend_schema(parameters=[_CONTENT_ID]),
)
class VariantViewSet(viewsets.ModelViewSet):
    """An item's variants in key order (A, B, …); a new one takes the first free key."""

    permission_classes = [MarketingPermission]
    write_actions = _WRITES | {"create": "content.change"}
    serializer_class = s.VariantOutput
    pagination_class = VariantPagination
    filter_backends = []  # the item in the path is the filter
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def item(self) -> ContentItem:
        try:
            return ContentItem.objects.get(pk=self.kwargs["content_pk"])
        except (ContentItem.DoesNotExist, ValueError):
            raise Http404 from None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ContentVariant.objects.none()
        return ContentVariant.objects.filter(item=self.item()).order_by("key", "pk")

    @extend_schema(parameters=[_CONTENT_ID], request=s.VariantInput, responses={201: s.VariantOutput})
    def create(self, request, *args, **kwargs):
        item = self.item()
        data = s.VariantInput(data=request.data)
        data.is_valid(raise_exception=True)
        variant = services.create_variant(item=item, by=request.user, **data.validated_data)
        return Response(s.VariantOutput(variant).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[_CONTENT_ID], request=s.VariantUpdateInput, responses=s.VariantOutput)
    def update(self, request, *args, **kwargs):
        variant = self.get_object()
        require_whole_object(request, s.VariantUpdateInput)
        data = s.VariantUpdateInput(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        variant = services.update_variant(variant=variant, by=request.user, **data.validated_data)
        return Response(s.VariantOutput(variant).data)

    @extend_schema(parameters=[_CONTENT_ID], request=s.VariantUpdateInput, responses=s.VariantOutput)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(parameters=[_CONTENT_ID], responses={204: None})
    def destroy(self, request, *args, **kwargs):
        """Delete a variant no message was sent with (409 `in_use` otherwise)."""
        services.delete_variant(variant=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageViewSet(RowsListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Messages, newest first (or `?ordering=sent` / `-sent`); filters: customer, journey, content, experiment,
    status, channel, sent_after, sent_before. Messages are written by sends (journeys, experiments), never here."""

    permission_classes = [MarketingPermission]
    serializer_class = s.MessageOutput
    filterset_class = MessageFilter
    ordering_fields = ["id"]

    def get_queryset(self):
        return selectors.messages()
