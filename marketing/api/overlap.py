"""`GET channels/overlap/?start=&end=&channel=…` and `GET channels/{code}/exclusion-list/?start=&end=` (DESIGN.md
"REST API contract"). Thin views over marketing.overlap: the query string's shape is checked here, the limits (20
channels, two years, unknown codes) there, each refusal a problem naming its field.

The overlap: rates and shares are fractions 0–1, money decimal strings, null where there is no data. The exclusion
list: `text/csv` with the columns `type,sha256` (phone or email, the SHA-256 hex of the normalized value), for
marketing's managers and admins only; its headers carry the customers it covers, the hashes and the estimated
spend saved.
"""

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from config import spreadsheet
from config.api.fields import Day, Text
from marketing import overlap, permissions
from marketing.models import TouchpointKind

EXPORT = "overlap.export"
# The exclusion list's figures, as response headers (and on the overlap page beside each download).
CUSTOMERS_HEADER = "Relay-Exclusion-Customers"
HASHES_HEADER = "Relay-Exclusion-Hashes"
SAVED_HEADER = "Relay-Spend-Saved"


class PeriodInput(serializers.Serializer):
    start = Day(help_text=_("First local day of the period."))
    end = Day(help_text=_("The day after the period's last (exclusive); at most two years after the start."))


class OverlapInput(PeriodInput):
    channel = serializers.ListField(
        child=Text(max_length=1000),  # a comma list of up to 20 codes
        required=False,
        max_length=200,
        help_text=_(
            "Channel codes, repeated or comma-separated; at most 20. Default: every channel with a touchpoint or "
            "spend in the period."
        ),
    )
    campaign = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text=_("Only the people this campaign touched in the period (its audience), on every channel."),
    )
    kind = serializers.ChoiceField(choices=TouchpointKind.choices, required=False, help_text=_("Only this touch kind."))


class ChannelOverlapOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    reach = serializers.IntegerField(help_text=_("Distinct customers the channel touched."))
    exclusive = serializers.IntegerField(help_text=_("Of them, customers no other listed channel touched."))
    duplicate = serializers.IntegerField(help_text=_("reach − exclusive."))
    touches = serializers.IntegerField()
    frequency = serializers.FloatField(allow_null=True, help_text=_("touches ÷ reach."))
    spend = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        allow_null=True,
        help_text=_("Spend booked in months that start in the period."),
    )
    wasted_spend = serializers.DecimalField(
        max_digits=16, decimal_places=2, allow_null=True, help_text=_("spend × duplicate ÷ reach.")
    )


class MatrixCellOutput(serializers.Serializer):
    channel = serializers.CharField()
    both = serializers.IntegerField(help_text=_("Customers the row's channel and this one both touched."))
    share = serializers.FloatField(allow_null=True, help_text=_("both ÷ the row channel's reach."))


class MatrixRowOutput(serializers.Serializer):
    channel = serializers.CharField()
    cells = MatrixCellOutput(many=True)


class OverlapTotalsOutput(serializers.Serializer):
    reached = serializers.IntegerField()
    multi_channel = serializers.IntegerField(help_text=_("Customers touched by two or more listed channels."))
    duplicate_reach_rate = serializers.FloatField(allow_null=True)
    touches = serializers.IntegerField()
    frequency = serializers.FloatField(allow_null=True)
    spend = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    wasted_spend = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)


class OverlapOutput(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    campaign = serializers.IntegerField(allow_null=True)
    kind = serializers.CharField(allow_null=True)
    channels = ChannelOverlapOutput(many=True)
    matrix = MatrixRowOutput(many=True)
    totals = OverlapTotalsOutput()


class ChannelOverlapView(APIView):
    """Every staff member reads the overlap (config.api.permissions.IsStaffMember, the default)."""

    @extend_schema(
        operation_id="v1_channels_overlap",
        parameters=[OverlapInput],
        responses=OverlapOutput,
        description="Per channel reach, exclusive and duplicate reach, touches, frequency, spend and wasted spend; "
        "the pairwise matrix; the duplicate reach rate and wasted spend of the period.",
    )
    def get(self, request):
        data = OverlapInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        query = data.validated_data
        figures = overlap.channel_overlap(
            start=query["start"],
            end=query["end"],
            channels=query.get("channel"),
            campaign=query.get("campaign"),
            kind=query.get("kind"),
        )
        return Response(OverlapOutput(figures).data)


def exclusion_csv(found: overlap.ExclusionList) -> HttpResponse:
    """The exclusion list as the download the page and the API give: plain ASCII CSV (no byte order mark: ad
    platforms read the header row literally), its figures in the headers."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="exclusion-{found.channel}-{found.start.isoformat()}-{found.end.isoformat()}.csv"'
    )
    response[CUSTOMERS_HEADER] = str(found.customers)
    response[HASHES_HEADER] = str(len(found.rows))
    response[SAVED_HEADER] = found.spend_saved or ""
    writer = spreadsheet.writer(response)
    writer.writerow(["type", "sha256"])
    writer.writerows(found.rows)
    return response


def _header(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200], required=True, description=description
    )


class ExclusionListView(APIView):
    @extend_schema(
        operation_id="v1_channels_exclusion_list",
        parameters=[
            PeriodInput,
            OpenApiParameter("code", OpenApiTypes.STR, OpenApiParameter.PATH, description="The channel's code."),
            _header(CUSTOMERS_HEADER, "Customers with at least one hash in the file."),
            _header(HASHES_HEADER, "Rows of the file (each hash once)."),
            _header(SAVED_HEADER, "The channel's wasted spend in the period; empty without spend or reach."),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR,
                description="CSV `type,sha256`: the hashed phones (E.164) and emails (trimmed, lower-case) of the "
                "customers other channels reached in the period.",
            )
        },
        description="Marketing managers and admins only; the figures are in the response headers.",
    )
    def get(self, request, code: str):
        if not permissions.can(request.user, EXPORT):
            raise PermissionDenied(_("Only marketing managers and admins download exclusion lists."))
        data = PeriodInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        found = overlap.exclusion_list(channel=code, start=data.validated_data["start"], end=data.validated_data["end"])
        return exclusion_csv(found)
