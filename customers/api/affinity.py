"""`affinity/` and `customers/{id}/recommendations/` (DESIGN.md "Payloads": affinity rows and recommendations):
the product pairs customers.affinity computes, and a customer's recommendations from them. Everyone signed in
reads; nothing here writes (the pairs are refreshed after order changes and nightly)."""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import DomainError
from config.filters import FilterBackend
from customers import affinity
from customers.models import AffinityPair, Customer

MAX_RECOMMENDATIONS = 50


class AffinityFilter(filters.FilterSet):
    """`from` and `to` (SKUs), `category` (of the product bought), `min_support`, `min_lift`."""

    from_sku = filters.CharFilter(field_name="from_product__sku", label=gettext_lazy("Bought (SKU)"))
    to = filters.CharFilter(field_name="to_product__sku", label=gettext_lazy("Also bought (SKU)"))
    category = filters.CharFilter(field_name="from_product__category", label=gettext_lazy("Category bought"))
    min_support = filters.NumberFilter(
        field_name="support", lookup_expr="gte", min_value=0, label=gettext_lazy("Support at least")
    )
    min_lift = filters.NumberFilter(
        field_name="lift", lookup_expr="gte", min_value=0, label=gettext_lazy("Lift at least")
    )

    class Meta:
        model = AffinityPair
        fields = ["from_sku", "to", "category", "min_support", "min_lift"]

    @classmethod
    def get_filters(cls):
        found = super().get_filters()
        found["from"] = found.pop("from_sku")  # "from" is no Python name
        return found


class AffinityOutput(serializers.Serializer):
    """`{"from": sku, "to": sku, "support", "confidence", "lift"}`, with both products' names and when it was
    computed."""

    to = serializers.CharField(source="to_product.sku", help_text="The product also bought (SKU).")
    support = serializers.IntegerField(help_text="Customers who bought both in the trailing 365 days.")
    confidence = serializers.FloatField(help_text="0–1: the share of the buyers of `from` who bought `to`.")
    lift = serializers.FloatField(help_text="Confidence ÷ the share of all buyers who bought `to`.")
    from_name = serializers.CharField(source="from_product.name")
    from_category = serializers.CharField(source="from_product.category")
    to_name = serializers.CharField(source="to_product.name")
    to_category = serializers.CharField(source="to_product.category")
    computed_at = serializers.DateTimeField()

    def get_fields(self):
        bought = serializers.CharField(source="from_product.sku", help_text="The product bought (SKU).")
        return {"from": bought, **super().get_fields()}  # "from" is no Python name


class RecommendationOutput(serializers.Serializer):
    product = serializers.CharField(source="sku", help_text="The product's SKU.")
    confidence = serializers.FloatField(help_text="The highest confidence from a product the customer bought.")
    name = serializers.CharField()
    category = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)


class RecommendationsOutput(serializers.Serializer):
    results = RecommendationOutput(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class AffinityViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Product pairs, highest confidence first (cursor pages on confidence and id)."""

    serializer_class = AffinityOutput
    filterset_class = AffinityFilter
    filter_backends = [FilterBackend]  # the filters above; no search, one order
    ordering = ("-confidence",)
    ordering_fields: list[str] = []

    def get_queryset(self):
        return affinity.pairs()


class RecommendationsView(APIView):
    """`customers/{id}/recommendations/`: the products the customer is likeliest to buy next, best first
    (`?limit=`, 1–50, default 5)."""

    @extend_schema(
        operation_id="customers_recommendations",
        parameters=[OpenApiParameter("limit", int, description="How many, 1–50 (default 5).")],
        responses=RecommendationsOutput,
    )
    def get(self, request, customer_pk: int):
        customer = get_object_or_404(Customer.objects.only("pk"), pk=customer_pk)
        raw = request.query_params.get("limit", "5")
        try:
            limit = int(raw)
        except ValueError:
            raise DomainError(_("Enter a whole number."), field="limit") from None
        if not 1 <= limit <= MAX_RECOMMENDATIONS:
            raise DomainError(_("Ask for 1 to %(max)s recommendations.") % {"max": MAX_RECOMMENDATIONS}, field="limit")
        rows = affinity.recommendations(customer.pk, limit=limit)
        return Response({"results": RecommendationOutput(rows, many=True).data, "next": None, "previous": None})
