"""`GET reviews/{quarter}/`: the quarterly process review as JSON (DESIGN.md "REST API contract"), and
`POST reviews/{quarter}/notes/`: a manager's finding or action (an action becomes a task).

Every figure is the quarter's, with the previous quarter's beside it (`previous`, `previous_*`); rates and shares
are fractions 0–1, money decimal strings, null where a quarter has no data. Shapes only: okr.review reads,
okr.services writes.
"""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api.fields import LONG_TEXT, Id, Moment, Text
from config.roles import DEPARTMENT_LABELS
from okr import permissions, review, services
from okr.models import ReviewNoteKind

User = get_user_model()


def _number(source: str | None = None, **kwargs) -> serializers.FloatField:
    """A figure that is null where a quarter has no data."""
    if source is not None:
        kwargs["source"] = source
    return serializers.FloatField(allow_null=True, **kwargs)


# --- OKR outcomes ------------------------------------------------------------------------------------------------


class ReviewKeyResultOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    metric = serializers.CharField(help_text="The metric it is bound to; empty for a manual key result.")
    direction = serializers.CharField()
    baseline = serializers.FloatField()
    target = serializers.FloatField()
    value = _number("value.value", help_text="The final value (the quarter so far while it runs).")
    previous_value = _number("value.previous", help_text="The same metric binding over the previous quarter.")
    progress = _number(help_text="0–100 from baseline to target.")
    is_reached = serializers.BooleanField()


class ReviewObjectiveOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    owner = serializers.CharField()
    key_results = ReviewKeyResultOutput(many=True)


class ReviewOkrSummaryOutput(serializers.Serializer):
    key_results = serializers.IntegerField()
    reached = serializers.IntegerField()
    mean_progress = _number()


class ReviewDepartmentOutput(ReviewOkrSummaryOutput):
    department = serializers.ChoiceField(choices=list(DEPARTMENT_LABELS.items()))
    label = serializers.CharField()
    objectives = ReviewObjectiveOutput(many=True)
    previous = ReviewOkrSummaryOutput()


# --- the funnel --------------------------------------------------------------------------------------------------


class ReviewFunnelStageOutput(serializers.Serializer):
    stage = serializers.CharField()
    count = serializers.IntegerField()
    drop_off = _number()
    previous_count = serializers.IntegerField()
    previous_drop_off = _number()


class ReviewStepOutput(serializers.Serializer):
    """`{"from", "to", "drop"}`: the step between two consecutive stages that loses the largest share."""

    to = serializers.CharField()
    drop = serializers.FloatField()

    def get_fields(self):
        return {"from": serializers.CharField(), **super().get_fields()}  # "from" is no Python name


class ReviewWorstStepOutput(ReviewStepOutput):
    previous_drop = _number(help_text="The same step's drop in the previous quarter.")


class ReviewFunnelPreviousOutput(serializers.Serializer):
    value = _number("conversion.previous")
    sample_size = serializers.IntegerField(source="created.previous")
    lost = serializers.IntegerField(source="lost.previous")
    worst_step = ReviewStepOutput(source="previous_worst_step", allow_null=True)


class ReviewFunnelOutput(serializers.Serializer):
    value = _number("conversion.value", help_text="Created to won.")
    sample_size = serializers.IntegerField(source="created.value", help_text="Leads created in the quarter.")
    lost = serializers.IntegerField(source="lost.value")
    stages = ReviewFunnelStageOutput(many=True)
    worst_step = ReviewWorstStepOutput(allow_null=True)
    previous = ReviewFunnelPreviousOutput(source="*")


# --- cycle time, reasons, complaints, NPS, channels ----------------------------------------------------------------


class ReviewCycleTimePreviousOutput(serializers.Serializer):
    median = _number("median.previous")
    mean = _number("mean.previous")
    p90 = _number("p90.previous")
    leads = serializers.IntegerField(source="leads.previous")


class ReviewCycleTimeOutput(serializers.Serializer):
    median = _number("median.value")
    mean = _number("mean.value")
    p90 = _number("p90.value")
    leads = serializers.IntegerField(source="leads.value", help_text="Leads won in the quarter.")
    benchmark_days = serializers.IntegerField()
    over_benchmark = _number(help_text="Median minus the benchmark, in days.")
    previous = ReviewCycleTimePreviousOutput(source="*")


class ReviewReasonOutput(serializers.Serializer):
    reason = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField(source="count.value")
    share = _number()
    previous_count = serializers.IntegerField(source="count.previous")
    previous_share = _number()


class ReviewReasonTotalsOutput(serializers.Serializer):
    reject = serializers.IntegerField(source="reject.total.previous")
    lost = serializers.IntegerField(source="lost.total.previous")


class ReviewReasonsOutput(serializers.Serializer):
    reject = ReviewReasonOutput(source="reject.rows", many=True, help_text="Most frequent first.")
    lost = ReviewReasonOutput(source="lost.rows", many=True, help_text="Most frequent first.")
    reject_total = serializers.IntegerField(source="reject.total.value")
    lost_total = serializers.IntegerField(source="lost.total.value")
    previous = ReviewReasonTotalsOutput(source="*")


class ReviewComplaintCategoryOutput(serializers.Serializer):
    category = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField(source="count.value")
    previous_count = serializers.IntegerField(source="count.previous")


class ReviewComplaintsPreviousOutput(serializers.Serializer):
    total = serializers.IntegerField(source="total.previous")
    first_response_sla_rate = _number("first_response_sla_rate.previous")
    resolution_sla_rate = _number("resolution_sla_rate.previous")


class ReviewComplaintsOutput(serializers.Serializer):
    total = serializers.IntegerField(source="total.value", help_text="Complaints opened in the quarter.")
    by_category = ReviewComplaintCategoryOutput(many=True)
    first_response_sla_rate = _number(
        "first_response_sla_rate.value", help_text="Share of the first responses due in the quarter given on time."
    )
    resolution_sla_rate = _number(
        "resolution_sla_rate.value", help_text="Share of the resolutions due in the quarter done on time."
    )
    first_response_due = serializers.IntegerField()
    first_response_met = serializers.IntegerField()
    resolution_due = serializers.IntegerField()
    resolution_met = serializers.IntegerField()
    previous = ReviewComplaintsPreviousOutput(source="*")


class ReviewThemeOutput(serializers.Serializer):
    theme = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField(source="count.value")
    share = _number(help_text="Of the quarter's detractors.")
    previous_count = serializers.IntegerField(source="count.previous")


class ReviewNpsPreviousOutput(serializers.Serializer):
    value = serializers.IntegerField(source="value.previous", allow_null=True)
    sample_size = serializers.IntegerField(source="responses.previous")
    detractors = serializers.IntegerField(source="detractors.previous")


class ReviewNpsOutput(serializers.Serializer):
    value = serializers.IntegerField(source="value.value", allow_null=True)
    sample_size = serializers.IntegerField(source="responses.value")
    promoters = serializers.IntegerField()
    passives = serializers.IntegerField()
    detractors = serializers.IntegerField(source="detractors.value")
    detractor_themes = ReviewThemeOutput(many=True, help_text="Insight tags of the detractors' answers, most first.")
    previous = ReviewNpsPreviousOutput(source="*")


class ReviewChannelOutput(serializers.Serializer):
    channel = serializers.CharField()
    name = serializers.CharField()
    roi = _number("roi.value")
    previous_roi = _number("roi.previous")
    revenue = serializers.CharField(allow_null=True)
    cost = serializers.CharField(allow_null=True)
    previous_revenue = serializers.CharField(allow_null=True)
    previous_cost = serializers.CharField(allow_null=True)


class ReviewComparisonOutput(serializers.Serializer):
    value = _number()
    previous = _number()


class ReviewDuplicateReachOutput(serializers.Serializer):
    is_measured = serializers.BooleanField(help_text="False until the metric registry measures duplicate reach.")
    value = _number("rate.value")
    previous = _number("rate.previous")


# --- notes ---------------------------------------------------------------------------------------------------------


class ReviewNoteTaskOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField(source="display_title")
    assignee = serializers.IntegerField(source="assignee_id", allow_null=True)
    department = serializers.CharField(help_text="The queue it sits in, or its assignee's department.")
    due_at = serializers.DateTimeField(allow_null=True)
    is_done = serializers.SerializerMethodField()
    done_at = serializers.DateTimeField(allow_null=True)

    def get_is_done(self, task) -> bool:
        return task.done_at is not None


class ReviewNoteOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ReviewNoteKind.choices)
    department = serializers.ChoiceField(choices=list(DEPARTMENT_LABELS.items()))
    text = serializers.CharField()
    created_by = serializers.IntegerField(source="created_by_id", allow_null=True)
    created_at = serializers.DateTimeField()
    task = ReviewNoteTaskOutput(allow_null=True, help_text="The task an action became; null for a finding.")


class ReviewNoteInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReviewNoteKind.choices)
    department = serializers.ChoiceField(choices=list(DEPARTMENT_LABELS.items()))
    text = Text(max_length=LONG_TEXT)
    assignee = Id(
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="An action's assignee; null or absent: the department's queue.",
    )
    due_at = Moment(required=False, allow_null=True, help_text="Required for an action.")


# --- the review --------------------------------------------------------------------------------------------------


class ReviewOutput(serializers.Serializer):
    quarter = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField(help_text="Exclusive: the first day of the next quarter.")
    previous_quarter = serializers.CharField()
    okr = ReviewDepartmentOutput(many=True)
    funnel = ReviewFunnelOutput()
    cycle_time = ReviewCycleTimeOutput()
    reasons = ReviewReasonsOutput()
    complaints = ReviewComplaintsOutput()
    nps = ReviewNpsOutput()
    channels = ReviewChannelOutput(source="channels.rows", many=True)
    channel_roi = ReviewComparisonOutput(source="channels.roi", help_text="ROI of all channels together.")
    duplicate_reach_rate = _number("duplicate_reach.rate.value", help_text="Null until measured, or without data.")
    duplicate_reach = ReviewDuplicateReachOutput()
    notes = ReviewNoteOutput(many=True)


QUARTER = OpenApiParameter(
    "quarter",
    str,
    OpenApiParameter.PATH,
    pattern=r"^\d{4}Q[1-4]$",
    description="A quarter that has started, like 2026Q3.",
)


class ReviewViewSet(viewsets.ViewSet):
    """`reviews/{quarter}/`: every signed-in staff member reads a review; its notes are added by managers."""

    lookup_field = "quarter"
    lookup_value_regex = "[^/]+"  # a malformed quarter is the view's 400 naming it, not the resolver's 404

    @extend_schema(
        parameters=[QUARTER],
        responses=ReviewOutput,
        description="The quarterly process review of a quarter that has started (`2026Q3`), each figure against "
        "the previous quarter. A malformed or future quarter is a 400 naming `quarter`.",
    )
    def retrieve(self, request, quarter=None):
        quarter = review.clean_quarter(quarter)
        return Response(ReviewOutput(review.review(quarter)).data)

    @extend_schema(parameters=[QUARTER], request=ReviewNoteInput, responses={201: ReviewNoteOutput})
    @action(detail=True, methods=["post"])
    def notes(self, request, quarter=None):
        """Add a finding or an action to a department's review (its manager, or an admin). An action needs `due_at`
        and becomes a task for `assignee`, or for the department's queue."""
        permissions.require(request.user, "add_review_note")  # refuse a non-manager before reading the body
        quarter = review.clean_quarter(quarter)
        data = ReviewNoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.add_review_note(by=request.user, quarter=quarter, **data.validated_data)
        note = review.review_notes(quarter).get(pk=note.pk)
        return Response(ReviewNoteOutput(note).data, status=status.HTTP_201_CREATED)
