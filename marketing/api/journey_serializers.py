"""Input and output shapes of `journeys/` (DESIGN.md "Payloads": Journey). They check shape and never save. The
trigger, audience and steps are taken as JSON (documented by the serializers below) and checked by
marketing.journeys, whose rules the pages and the admin use too: each refusal names its field the same way
everywhere, `trigger.type`, `audience.channel`, `steps[1].kind`, `steps[0].content`."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api.fields import Text
from marketing import journeys
from marketing.models import Enrolment, Journey, StepKind, StepRun


@extend_schema_field(OpenApiTypes.ANY)
class AnyValue(serializers.JSONField):
    """A value marketing.journeys checks (a send step's content is an item's id or "stage")."""


class TriggerInput(serializers.Serializer):
    type = Text(
        max_length=80,
        help_text="A customer event type (signed_up, activated, page_view, form_submitted, purchase, custom:<name>) "
        "or one of: " + ", ".join(journeys.DOMAIN_TRIGGERS),
    )
    stage = Text(required=False, max_length=20, help_text="lifecycle.changed: to this lifecycle stage")
    segment = Text(required=False, max_length=20, help_text="segment.entered: this RFM segment")
    tag = Text(required=False, max_length=50, help_text="lead.tagged: this tag")
    tier = Text(required=False, max_length=20, help_text="tier.changed: to this loyalty tier")


class AudienceInput(serializers.Serializer):
    stage = serializers.ListField(child=Text(max_length=20), required=False, help_text="lifecycle stages")
    segment = serializers.ListField(child=Text(max_length=20), required=False, help_text="RFM segments")
    channel = serializers.ListField(child=Text(max_length=100), required=False, help_text="source channel codes")
    tags = serializers.ListField(child=Text(max_length=50), required=False, help_text="tags on any of their leads")
    tier = serializers.ListField(child=Text(max_length=20), required=False, help_text="loyalty tiers")


class StepInput(serializers.Serializer):
    """One step; which fields apply depends on `kind` (marketing.journeys.STEP_FIELDS)."""

    id = serializers.IntegerField(required=False, help_text="Keep this existing step (its kind stays).")
    kind = serializers.ChoiceField(choices=StepKind.choices)
    hours = AnyValue(required=False, help_text="wait: hours, above 0")
    content = AnyValue(required=False, help_text='send: a content item id, or "stage" for the customer\'s stage')
    channel = Text(required=False, max_length=10, help_text="send: email, sms, wechat or wecom")
    recommend = serializers.BooleanField(
        required=False, help_text="send: append the customer's top product recommendations (names and prices)"
    )
    title = Text(required=False, max_length=200, help_text="task: its title")
    due_hours = AnyValue(required=False, help_text="task: due this many hours after the step runs")
    assignee = Text(required=False, max_length=20, help_text='task: "owner" or a department')
    tag = Text(required=False, max_length=50, help_text="tag: added to the customer's lead")
    role = Text(required=False, max_length=30, help_text='notify: "owner", a department or "<department>_manager"')
    message = Text(required=False, allow_blank=True, max_length=300, help_text="notify: what they read")


@extend_schema_field(TriggerInput)
class TriggerField(serializers.JSONField):
    """The trigger object; marketing.journeys checks it (refusals name `trigger.<key>`)."""


@extend_schema_field(AudienceInput)
class AudienceField(serializers.JSONField):
    """The audience object; marketing.journeys checks it (an unknown filter is refused, naming `audience.<key>`)."""


@extend_schema_field(StepInput(many=True))
class StepsField(serializers.JSONField):
    """The steps in order; marketing.journeys checks each (refusals name `steps[<index>].<field>`)."""


class JourneyInput(serializers.Serializer):
    name = Text(max_length=200)
    trigger = TriggerField()
    audience = AudienceField(required=False)
    steps = StepsField(required=False)
    goal = Text(required=False, allow_blank=True, max_length=80, help_text="The event type that converts.")
    reentry = serializers.BooleanField(required=False, default=False)


class JourneyUpdateInput(JourneyInput):
    name = Text(max_length=200, required=False)
    trigger = TriggerField(required=False)
    reentry = serializers.BooleanField(required=False)


class StepOutput(serializers.Serializer):
    """A live step: its id, place and kind, with its settings beside them as in the payload."""

    id = serializers.IntegerField()
    position = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=StepKind.choices)
    hours = AnyValue(required=False)
    content = AnyValue(required=False)
    channel = serializers.CharField(required=False)
    recommend = serializers.BooleanField(required=False)
    title = serializers.CharField(required=False)
    due_hours = AnyValue(required=False)
    assignee = serializers.CharField(required=False)
    tag = serializers.CharField(required=False)
    role = serializers.CharField(required=False)
    message = serializers.CharField(required=False)

    def to_representation(self, instance):
        return {"id": instance.pk, "position": instance.position, "kind": instance.kind, **instance.config}


class CountsOutput(serializers.Serializer):
    entered = serializers.IntegerField()
    active = serializers.IntegerField()
    converted = serializers.IntegerField()
    completed = serializers.IntegerField()
    exited = serializers.IntegerField()


class JourneyOutput(serializers.ModelSerializer):
    trigger = AnyValue()
    audience = AnyValue()
    steps = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()

    class Meta:
        model = Journey
        fields = [
            "id",
            "name",
            "status",
            "trigger",
            "audience",
            "steps",
            "goal",
            "reentry",
            "counts",
            "created_by",
            "created_at",
            "updated_at",
            "activated_at",
        ]

    @extend_schema_field(StepOutput(many=True))
    def get_steps(self, journey):
        return StepOutput(journey.live_steps, many=True).data

    @extend_schema_field(CountsOutput)
    def get_counts(self, journey):
        return {name: getattr(journey, name) for name in journeys.COUNTS}


class StepRunOutput(serializers.ModelSerializer):
    position = serializers.IntegerField(source="step.position")
    kind = serializers.CharField(source="step.kind")
    message = serializers.SerializerMethodField()

    class Meta:
        model = StepRun
        fields = ["id", "step", "position", "kind", "status", "started_at", "finished_at", "note", "message", "task"]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_message(self, run):
        message = getattr(run, "message", None)
        return message.pk if message is not None else None


class EnrolmentOutput(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name")
    runs = StepRunOutput(many=True, read_only=True)

    class Meta:
        model = Enrolment
        fields = [
            "id",
            "journey",
            "customer",
            "customer_name",
            "status",
            "next_position",
            "next_run_at",
            "entered_at",
            "ended_at",
            "trigger_key",
            "runs",
        ]
