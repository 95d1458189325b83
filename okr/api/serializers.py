from django.contrib.auth import get_user_model
from rest_framework import serializers

from config.api.fields import Id, Text
from okr import selectors
from okr.models import CheckIn, Direction, KeyResult, Objective

User = get_user_model()


class ObjectiveInput(serializers.Serializer):
    department = Text(max_length=20)
    quarter = Text(max_length=20)
    owner = Id(queryset=User.objects.filter(is_active=True))
    title = Text(max_length=200)


class ObjectiveOutput(serializers.ModelSerializer):
    key_results = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Objective
        fields = ["id", "department", "quarter", "owner", "title", "key_results", "created_at", "updated_at"]


class KeyResultInput(serializers.Serializer):
    objective = Id(queryset=Objective.objects.all())
    title = Text(max_length=200)
    metric = Text(max_length=50, required=False, allow_blank=True, default="")
    metric_filters = serializers.DictField(required=False, default=dict)
    baseline = serializers.DecimalField(max_digits=14, decimal_places=4)
    target = serializers.DecimalField(max_digits=14, decimal_places=4)
    direction = serializers.ChoiceField(choices=Direction.choices, required=False)
    manual_value = serializers.DecimalField(max_digits=14, decimal_places=4, required=False, allow_null=True)


class KeyResultOutput(serializers.ModelSerializer):
    current = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    confidence = serializers.SerializerMethodField()

    class Meta:
        model = KeyResult
        fields = [
            "id",
            "objective",
            "title",
            "metric",
            "metric_filters",
            "baseline",
            "target",
            "direction",
            "manual_value",
            "current",
            "progress",
            "confidence",
            "created_at",
            "updated_at",
        ]

    def _current(self, kr) -> float | None:
        if not hasattr(kr, "_current"):
            # The context's cache computes each distinct metric binding once per request.
            value = self.context.setdefault("metric_value", selectors.metric_value_cache())
            kr._current = selectors.key_result_current(kr, value)[0]
        return kr._current

    def get_current(self, kr) -> float | None:
        return self._current(kr)

    def get_progress(self, kr) -> float | None:
        return selectors.progress(
            baseline=kr.baseline, target=kr.target, current=self._current(kr), direction=kr.direction
        )

    def get_confidence(self, kr) -> int | None:
        return getattr(kr, "confidence", None)


class CheckInInput(serializers.Serializer):
    confidence = serializers.IntegerField(min_value=0, max_value=10)
    comment = Text(required=False, allow_blank=True, default="")


class CheckInOutput(serializers.ModelSerializer):
    class Meta:
        model = CheckIn
        fields = ["id", "key_result", "by", "at", "confidence", "value", "comment"]
