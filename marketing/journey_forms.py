"""The journey builder's forms: they check shape and turn the page's fields into the journey payload; the rules are
marketing.journeys' (its refusals name payload fields, which `field_for` maps back to these form fields)."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import Channel, LifecycleStage, RfmSegment
from marketing import event_types, journeys
from marketing.models import ContentItem, EventType, MessageChannel, StepKind

CUSTOM = "custom"  # the choice that takes a custom event's name from the text field beside it
_SEGMENTS = [(value, label) for value, label in RfmSegment.choices if value]
_INDEX = re.compile(r"\[\d+\]")


def _event_choices(blank_label=None) -> list:
    choices = [("", blank_label)] if blank_label is not None else []
    return [
        *choices,
        (_("Customer events"), list(EventType.choices)),
        (_("Relay events"), list(journeys.TRIGGER_LABELS.items())),
        (CUSTOM, _("Custom event (name it below)")),
    ]


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _pick_event(choice: str, custom: str) -> str:
    if choice == CUSTOM:
        return f"{event_types.CUSTOM_PREFIX}{custom.strip()}" if custom.strip() else ""
    return choice or ""


def _event_initial(value: str) -> tuple[str, str]:
    if value.startswith(event_types.CUSTOM_PREFIX):
        return CUSTOM, value.removeprefix(event_types.CUSTOM_PREFIX)
    return value, ""


class JourneyForm(forms.Form):
    """A journey's settings: name, trigger, audience, goal, re-entry (its steps are edited one by one)."""

    name = forms.CharField(label=_("Name"), max_length=200)
    trigger_type = forms.ChoiceField(label=_("Starts when"), choices=_event_choices())
    trigger_custom = forms.CharField(label=_("Custom event name"), max_length=73, required=False)
    trigger_stage = forms.ChoiceField(
        label=_("To the stage"),
        required=False,
        choices=[("", _("any stage"))] + list(LifecycleStage.choices),
        help_text=_("For “Lifecycle stage changes”."),
    )
    trigger_segment = forms.ChoiceField(
        label=_("Into the segment"),
        required=False,
        choices=[("", _("any segment"))] + _SEGMENTS,
        help_text=_("For “Customer enters an RFM segment”."),
    )
    trigger_tag = forms.CharField(
        label=_("The tag"), max_length=50, required=False, help_text=_("For “A lead gets a tag”; empty: any tag.")
    )
    trigger_tier = forms.CharField(
        label=_("To the tier"), max_length=20, required=False, help_text=_("For “Loyalty tier changes”.")
    )
    audience_stage = forms.MultipleChoiceField(
        label=_("Lifecycle stages"), required=False, choices=LifecycleStage.choices, widget=forms.CheckboxSelectMultiple
    )
    audience_segment = forms.MultipleChoiceField(
        label=_("RFM segments"), required=False, choices=_SEGMENTS, widget=forms.CheckboxSelectMultiple
    )
    audience_channel = forms.MultipleChoiceField(
        label=_("Source channels"), required=False, widget=forms.CheckboxSelectMultiple
    )
    audience_tags = forms.CharField(
        label=_("Lead tags"), required=False, max_length=500, help_text=_("Comma-separated; any of them.")
    )
    audience_tier = forms.CharField(
        label=_("Loyalty tiers"), required=False, max_length=200, help_text=_("Comma-separated; any of them.")
    )
    goal = forms.ChoiceField(label=_("Goal"), required=False, choices=_event_choices(_("no goal")))
    goal_custom = forms.CharField(label=_("Custom goal event name"), max_length=73, required=False)
    reentry = forms.BooleanField(label=_("A customer may enter again after leaving"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["audience_channel"].choices = list(Channel.objects.order_by("name").values_list("code", "name"))

    @staticmethod
    def initial_of(journey) -> dict:
        trigger = dict(journey.trigger)
        trigger_type, trigger_custom = _event_initial(trigger.get("type", ""))
        goal, goal_custom = _event_initial(journey.goal)
        audience = journey.audience
        return {
            "name": journey.name,
            "trigger_type": trigger_type,
            "trigger_custom": trigger_custom,
            **{f"trigger_{key}": trigger.get(key, "") for key in ("stage", "segment", "tag", "tier")},
            "audience_stage": audience.get("stage", []),
            "audience_segment": audience.get("segment", []),
            "audience_channel": audience.get("channel", []),
            "audience_tags": ", ".join(audience.get("tags", [])),
            "audience_tier": ", ".join(audience.get("tier", [])),
            "goal": goal,
            "goal_custom": goal_custom,
            "reentry": journey.reentry,
        }

    def definition(self) -> dict:
        """The service's keyword arguments: name, trigger, audience, goal, reentry."""
        data = self.cleaned_data
        trigger = {"type": _pick_event(data["trigger_type"], data["trigger_custom"])}
        for key in journeys.DOMAIN_TRIGGERS.get(trigger["type"], ()):
            if data.get(f"trigger_{key}"):
                trigger[key] = data[f"trigger_{key}"]
        audience = {
            "stage": data["audience_stage"],
            "segment": data["audience_segment"],
            "channel": data["audience_channel"],
            "tags": _split(data["audience_tags"]),
            "tier": _split(data["audience_tier"]),
        }
        return {
            "name": data["name"],
            "trigger": trigger,
            "audience": {key: value for key, value in audience.items() if value},
            "goal": _pick_event(data["goal"], data["goal_custom"]),
            "reentry": data["reentry"],
        }

    @staticmethod
    def field_for(path: str) -> str:
        """The form field of a service refusal's field: "trigger.type" → trigger_type, "audience.tags[1]" →
        audience_tags; a custom event's name refused shows on its text field."""
        return _INDEX.sub("", path).replace(".", "_")


class StepForm(forms.Form):
    """One step of one kind (the page shows a form per kind); only the kind's own fields are sent on."""

    kind = forms.ChoiceField(choices=StepKind.choices, widget=forms.HiddenInput)
    position = forms.TypedChoiceField(label=_("Where"), coerce=int, required=False, empty_value=None)
    hours = forms.FloatField(label=_("Hours"), required=False)
    content = forms.ChoiceField(label=_("Content"), required=False)
    channel = forms.ChoiceField(label=_("Channel"), required=False, choices=MessageChannel.choices)
    recommend = forms.BooleanField(
        label=_("Add the customer's product recommendations"),
        required=False,
        help_text=_("The names and prices of the products they are likeliest to buy next, when there are any."),
    )
    title = forms.CharField(label=_("Task title"), required=False, max_length=200)
    due_hours = forms.FloatField(label=_("Due in (hours)"), required=False)
    assignee = forms.ChoiceField(label=_("For"), required=False)
    tag = forms.CharField(label=_("Tag"), required=False, max_length=50)
    role = forms.ChoiceField(label=_("Notify"), required=False)
    message = forms.CharField(label=_("Message"), required=False, max_length=300)

    def __init__(self, *args, kind: str, step_count: int, content_choices: list, **kwargs):
        kwargs.setdefault("auto_id", f"id_{kind}_%s")
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("kind", kind)
        super().__init__(*args, **kwargs)
        self.kind_value = kind
        self.fields["position"].choices = [("", _("at the end"))] + [
            (index, _("before step %(number)s") % {"number": index + 1}) for index in range(step_count)
        ]
        self.fields["content"].choices = [
            (journeys.STAGE_CONTENT, _("the content written for the customer's stage")),
            *content_choices,
        ]
        self.fields["assignee"].choices = [(value, journeys.role_label(value)) for value in journeys.ASSIGNEES]
        self.fields["role"].choices = [(role, journeys.role_label(role)) for role in journeys.NOTIFY_ROLES]

    def own_fields(self) -> list:
        """The bound fields this kind's form shows."""
        return [self[name] for name in journeys.STEP_FIELDS[self.kind_value]]

    def step(self) -> dict:
        data = self.cleaned_data
        step = {"kind": data["kind"]}
        for name in journeys.STEP_FIELDS[data["kind"]]:
            value = data.get(name)
            if value in (None, "") or value is False:
                continue
            if name == "content" and value != journeys.STAGE_CONTENT:
                value = int(value)
            step[name] = value
        return step


def content_choices() -> list[tuple[int, str]]:
    """The active content items a send step may pick, newest first (one query)."""
    return list(ContentItem.objects.filter(is_active=True).order_by("-created_at", "-pk").values_list("pk", "title"))
