"""`experiments/` (DESIGN.md "REST API contract"): CRUD, `results/` per variant with Wilson intervals, the test on
the goal and its p-value, and `declare/` of a winner. Thin views over marketing.experiments."""

import django_filters as filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api.concurrency import ETagMixin
from config.api.fields import Id
from config.api.rows import RowsListMixin
from config.filters import IdFilter
from marketing import experiments
from marketing.api.permissions import MarketingPermission
from marketing.models import ContentItem, ContentVariant, ExperimentGoal, ExperimentStatus


class ExperimentFilter(filters.FilterSet):
    """The experiments list's filters: the page and the API use this one."""

    item = IdFilter(field_name="item_id", label=_("Content"))
    status = filters.ChoiceFilter(choices=ExperimentStatus.choices, label=_("Status"))
    goal = filters.ChoiceFilter(choices=ExperimentGoal.choices, label=_("Goal"))


# ---------------------------------------------------------------- serializers


class ExperimentInput(serializers.Serializer):
    item = Id(queryset=ContentItem.objects.all(), help_text=_("A content item with two or more variants."))
    goal = serializers.ChoiceField(choices=ExperimentGoal.choices)


class ExperimentUpdateInput(serializers.Serializer):
    goal = serializers.ChoiceField(choices=ExperimentGoal.choices, required=False)
    status = serializers.ChoiceField(
        choices=ExperimentStatus.choices,
        required=False,
        help_text=_('"finished" stops the experiment without a winner; a finished experiment no longer changes.'),
    )


class DeclareInput(serializers.Serializer):
    variant = Id(queryset=ContentVariant.objects.all(), help_text=_("The id of the winning variant."))


class ExperimentOutput(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    item = serializers.IntegerField(source="item_id", read_only=True)
    item_title = serializers.CharField(source="item.title", read_only=True)
    goal = serializers.ChoiceField(choices=ExperimentGoal.choices, read_only=True)
    status = serializers.ChoiceField(choices=ExperimentStatus.choices, read_only=True)
    started_at = serializers.DateTimeField(read_only=True)
    winner = serializers.IntegerField(source="winner_id", read_only=True, allow_null=True)
    winner_key = serializers.CharField(source="winner.key", read_only=True, allow_null=True)
    declared_by = serializers.IntegerField(source="declared_by_id", read_only=True, allow_null=True)
    declared_at = serializers.DateTimeField(read_only=True, allow_null=True)
    updated_at = serializers.DateTimeField(read_only=True)


class IntervalOutput(serializers.Serializer):
    low = serializers.FloatField(read_only=True)
    high = serializers.FloatField(read_only=True)


class VariantResultOutput(serializers.Serializer):
    """Rates are fractions 0–1 of the sent messages, null without sends; each with its 95 % Wilson interval."""

    variant = serializers.IntegerField(read_only=True)
    key = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)
    sent = serializers.IntegerField(read_only=True)
    opened = serializers.IntegerField(read_only=True)
    clicked = serializers.IntegerField(read_only=True)
    converted = serializers.IntegerField(read_only=True)
    open_rate = serializers.FloatField(read_only=True, allow_null=True)
    open_rate_interval = IntervalOutput(read_only=True, allow_null=True)
    click_rate = serializers.FloatField(read_only=True, allow_null=True)
    click_rate_interval = IntervalOutput(read_only=True, allow_null=True)
    conversion_rate = serializers.FloatField(read_only=True, allow_null=True)
    conversion_rate_interval = IntervalOutput(read_only=True, allow_null=True)


class ResultsOutput(serializers.Serializer):
    experiment = serializers.IntegerField(source="experiment.pk", read_only=True)
    item = serializers.IntegerField(source="experiment.item_id", read_only=True)
    goal = serializers.ChoiceField(source="experiment.goal", choices=ExperimentGoal.choices, read_only=True)
    status = serializers.ChoiceField(source="experiment.status", choices=ExperimentStatus.choices, read_only=True)
    started_at = serializers.DateTimeField(source="experiment.started_at", read_only=True)
    variants = VariantResultOutput(many=True, read_only=True)
    test = serializers.ChoiceField(
        choices=[experiments.Z_TEST, experiments.CHI_SQUARED],
        read_only=True,
        help_text=_("A two-proportion z-test for two variants, a chi-squared test for three or more, on the goal."),
    )
    z = serializers.FloatField(read_only=True, allow_null=True, help_text=_("The z-test's statistic."))
    chi2 = serializers.FloatField(read_only=True, allow_null=True, help_text=_("The chi-squared statistic."))
    dof = serializers.IntegerField(read_only=True, allow_null=True, help_text=_("The chi-squared degrees of freedom."))
    p_value = serializers.FloatField(
        read_only=True, allow_null=True, help_text=_("Two-sided; null while no test is possible.")
    )
    min_sample = serializers.IntegerField(read_only=True, help_text=_("Sends every variant needs for a winner."))
    best = serializers.CharField(source="best.key", read_only=True, allow_null=True)
    can_declare = serializers.BooleanField(read_only=True)
    verdict = serializers.ChoiceField(
        choices=[
            experiments.DECLARED,
            experiments.STOPPED,
            experiments.NO_SENDS,
            experiments.TOO_FEW_SENDS,
            experiments.NO_TEST,
            experiments.NOT_SIGNIFICANT,
            experiments.TIED,
            experiments.SIGNIFICANT,
        ],
        read_only=True,
    )
    winner = serializers.IntegerField(source="experiment.winner_id", read_only=True, allow_null=True)
    winner_key = serializers.CharField(source="experiment.winner.key", read_only=True, allow_null=True)
    declared_at = serializers.DateTimeField(source="experiment.declared_at", read_only=True, allow_null=True)


# ---------------------------------------------------------------- views


class ExperimentViewSet(RowsListMixin, ETagMixin, viewsets.ModelViewSet):
    """A/B tests of content variants, the latest started first; filters: item, status, goal. Everyone on the staff
    reads; marketing creates, changes and deletes; marketing managers declare winners."""

    permission_classes = [MarketingPermission]
    serializer_class = ExperimentOutput
    filterset_class = ExperimentFilter
    ordering_fields = ["id"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    write_actions = {
        "create": "experiment.create",
        "partial_update": "experiment.change",
        "destroy": "experiment.change",
        "declare": "experiment.declare",
    }

    def get_queryset(self):
        return experiments.experiments()

    @extend_schema(request=ExperimentInput, responses={201: ExperimentOutput})
    def create(self, request, *args, **kwargs):
        data = ExperimentInput(data=request.data)
        data.is_valid(raise_exception=True)
        experiment = experiments.create_experiment(by=request.user, **data.validated_data)
        return Response(
            ExperimentOutput(experiments.experiment_detail(pk=experiment.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=ExperimentUpdateInput, responses=ExperimentOutput)
    def partial_update(self, request, *args, **kwargs):
        data = ExperimentUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        experiment = experiments.update_experiment(experiment=self.get_object(), by=request.user, **data.validated_data)
        return Response(ExperimentOutput(experiments.experiment_detail(pk=experiment.pk)).data)

    def destroy(self, request, *args, **kwargs):
        experiments.delete_experiment(experiment=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=ResultsOutput, filters=False)
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def results(self, request, pk=None):
        """Per variant: sent, opened, clicked, converted, the three rates with 95 % Wilson intervals; the test on
        the goal (z and p for two variants, chi2 and p for more), the minimum sample, whether a winner may be
        declared, and the winner. Two queries whatever the number of messages."""
        return Response(ResultsOutput(experiments.results(self.get_object())).data)

    @extend_schema(request=DeclareInput, responses=ExperimentOutput)
    @action(detail=True, methods=["post"], pagination_class=None, filterset_class=None)
    def declare(self, request, pk=None):
        """Declare the winning variant (marketing managers): refused (409 naming `variant`) unless p < 0.05, every
        variant has the minimum sample of sends, and the variant has the best rate on the goal."""
        data = DeclareInput(data=request.data)
        data.is_valid(raise_exception=True)
        experiment = experiments.declare_winner(experiment=self.get_object(), by=request.user, **data.validated_data)
        return Response(ExperimentOutput(experiments.experiment_detail(pk=experiment.pk)).data)
