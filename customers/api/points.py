"""`/api/v1/customers/{id}/points/` (DESIGN.md "Points"): GET the balance, tier and ledger; POST a redemption or an
adjustment. Thin: the rules are customers.loyalty's."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from config.api.fields import Text
from config.api.pagination import StablePagination
from customers import loyalty, selectors
from customers.loyalty import CHANGE_KINDS, POINTS_LIMIT
from customers.models import Customer, LoyaltyTierCode, PointsEntry


class PointsEntryOutput(serializers.ModelSerializer):
    by = serializers.SlugRelatedField(source="created_by", slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = PointsEntry
        fields = ["id", "kind", "points", "reason", "at", "order", "expires_at", "by"]


class PointsOutput(serializers.Serializer):
    customer = serializers.IntegerField()
    balance = serializers.IntegerField()
    tier = serializers.ChoiceField(choices=[("", ""), *LoyaltyTierCode.choices])
    member_since = serializers.DateTimeField(allow_null=True)
    entries = PointsEntryOutput(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class PointsInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[(kind.value, kind.label) for kind in CHANGE_KINDS])
    points = serializers.IntegerField(min_value=-(POINTS_LIMIT - 1), max_value=POINTS_LIMIT - 1)
    reason = Text(max_length=300, required=False, allow_blank=True, default="")


class PointsChangeOutput(serializers.Serializer):
    entry = PointsEntryOutput()
    balance = serializers.IntegerField()
    tier = serializers.ChoiceField(choices=[("", ""), *LoyaltyTierCode.choices])


class PointsPagination(StablePagination):
    ordering = ("-at", "-pk")  # newest first


class CustomerPointsView(GenericAPIView):
    """A customer's points. GET: `balance`, `tier` ("" for a non-member), `member_since` and `entries`, newest
    first, in cursor pages (`next`/`previous`). POST `{"kind": "redeem", "points": n > 0, "reason"}` (any
    department's staff) or `{"kind": "adjust", "points": ±n, "reason": required}` (managers): 201 with the entry and
    the new balance; more than the balance is 409 `insufficient_points` naming `points`."""

    serializer_class = PointsEntryOutput
    pagination_class = PointsPagination
    filter_backends: list = []

    def customer(self) -> Customer:
        fields = ("pk", "name", "points_balance", "loyalty_tier", "member_since", "merged_into_id")
        return get_object_or_404(Customer.objects.only(*fields), pk=self.kwargs["customer_pk"])

    @extend_schema(responses=PointsOutput)
    def get(self, request, customer_pk):
        customer = self.customer()
        page = self.paginate_queryset(selectors.points_ledger(customer.pk))
        body = {
            "customer": customer.pk,
            "balance": customer.points_balance,
            "tier": customer.loyalty_tier,
            "member_since": customer.member_since,
            "entries": page,
            "next": self.paginator.get_next_link(),
            "previous": self.paginator.get_previous_link(),
        }
        return Response(PointsOutput(body).data)

    @extend_schema(request=PointsInput, responses={201: PointsChangeOutput})
    def post(self, request, customer_pk):
        data = PointsInput(data=request.data)
        data.is_valid(raise_exception=True)
        entry = loyalty.change_points(customer=self.customer(), by=request.user, **data.validated_data)
        body = {"entry": entry, "balance": entry.customer.points_balance, "tier": entry.customer.loyalty_tier}
        return Response(PointsChangeOutput(body).data, status=status.HTTP_201_CREATED)
