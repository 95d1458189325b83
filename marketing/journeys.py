"""Journeys, marketing automation (DESIGN.md "Marketing: events, journeys, content, experiments"): every rule about
them, every write, and the engine that runs them.

A journey is a trigger, an optional audience, ordered steps, an optional goal and a re-entry rule:

    {"name": "Welcome", "trigger": {"type": "signed_up"}, "audience": {"stage": ["awareness"]},
     "steps": [{"kind": "send", "content": 12, "channel": "email"}, {"kind": "wait", "hours": 48},
               {"kind": "task", "title": "Call them", "due_hours": 24, "assignee": "owner"}],
     "goal": "activated", "reentry": false}

`clean_definition` is the one check of that shape (API, pages and admin all come through the services here), and
each refusal names its field: `trigger.type`, `steps[1].kind`, `steps[0].content`, `steps[2].hours`.

Triggers. Lower apps announce through config.events; marketing/subscriptions.py hands every trigger event to `hear`
(a batch subscriber: a segment recompute announcing thousands of customers costs a few queries). `hear` ends the
matching customers' enrolments of journeys whose goal the event is (converted), then enrols them in the active
journeys the event starts whose audience they are in, in the publisher's transaction; the steps run after commit.
A customer enters a journey once unless it allows re-entry: an enrolment's `trigger_key` is unique per journey, and
is the customer alone for a journey without re-entry, so a redelivered event, or two racing ones, enrol once.

The engine. `advance_enrolment` runs an enrolment's steps in order until a wait, the end, a paused journey or the
goal stops it. Each step runs at most once per enrolment however often the task is delivered, even when a worker
dies mid-step: the StepRun (unique per enrolment and step) is claimed and committed first, then the step's effect is
made under the enrolment's row lock, keyed by that run (the message's `step_run`, the run's `task`, a notification's
dedupe key, a tag already there), and the run is finished in the same transaction as the effect. A wait stores when
the enrolment is due (`next_run_at`); the beat task `run_due_enrolments` queues the due ones, so waits survive
restarts. A paused journey holds its enrolments; activating it again lets them go on where they were.

Editing an active journey never strands an enrolment: a removed step stays as a row marked removed (the engine
skips it); adding or moving steps renumbers the live ones and moves every active enrolment's place with them
(`_restructure`), all in one transaction.
"""

import hashlib
import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config import audit, outbox, roles, todo
from config.errors import Conflict, DomainError
from config.notifications import notify
from customers.models import Channel, Customer, LifecycleStage, LoyaltyTierCode, RfmSegment
from leads import services as lead_services
from leads.models import Lead
from leads.stages import CLOSED_STAGES
from marketing import event_types, permissions, sending
from marketing.errors import InvalidTransition, JourneyLoop
from marketing.models import (
    ContentItem,
    ContentVariant,
    Enrolment,
    EnrolmentStatus,
    Journey,
    JourneyStatus,
    JourneyStep,
    MessageChannel,
    MessageStatus,
    StepKind,
    StepRun,
    StepRunStatus,
)

# ---------------------------------------------------------------------------------------------------------------
# The vocabulary

# The triggers other than a customer event type ("signed_up", "custom:webinar"…), each with the options it takes.
DOMAIN_TRIGGERS: dict[str, tuple[str, ...]] = {
    "lead.flagged_high_intent": (),
    "lead.tagged": ("tag",),
    "lifecycle.changed": ("stage",),
    "segment.entered": ("segment",),
    "order.placed": (),
    "nps.detractor": (),
    "activation.missed": (),
    "tier.changed": ("tier",),
}
TRIGGER_LABELS = {
    "lead.flagged_high_intent": gettext_lazy("Sales flags a lead high intent"),
    "lead.tagged": gettext_lazy("A lead gets a tag"),
    "lifecycle.changed": gettext_lazy("Lifecycle stage changes"),
    "segment.entered": gettext_lazy("Customer enters an RFM segment"),
    "order.placed": gettext_lazy("Order placed"),
    "nps.detractor": gettext_lazy("Detractor NPS answer"),
    "activation.missed": gettext_lazy("Activation missed"),
    "tier.changed": gettext_lazy("Loyalty tier changes"),
}
# The events marketing/subscriptions.py hands to `hear`: each domain trigger, and every customer event.
CUSTOMER_EVENT = "customer.event"
HEARD_EVENTS = (CUSTOMER_EVENT, *DOMAIN_TRIGGERS)

AUDIENCE_KEYS = ("stage", "segment", "channel", "tags", "tier")
ASSIGNEES = ("owner", *roles.DEPARTMENTS)
NOTIFY_ROLES = ("owner", *roles.DEPARTMENTS, *(f"{d}_manager" for d in roles.DEPARTMENTS))
# The queue an "owner" task goes to when the customer has no open lead with an owner: owners are sales people.
OWNERLESS_QUEUE = roles.SALES
# A send step's content: an item's id, or STAGE_CONTENT for the active item written for the customer's stage.
STAGE_CONTENT = "stage"
STEP_FIELDS = {
    StepKind.WAIT: ("hours",),
    StepKind.SEND: ("content", "channel", "recommend"),  # recommend: the customer's top products appended
    StepKind.TASK: ("title", "due_hours", "assignee"),
    StepKind.TAG: ("tag",),
    StepKind.NOTIFY: ("role", "message"),
}
MAX_STEPS = 50
MAX_HOURS = 24 * 366  # a wait or a task's due time: at most a year
NAME_MAX, TITLE_MAX, TAG_MAX, NOTE_MAX, MESSAGE_MAX = 200, 200, 50, 2000, 300
TRIGGER_KEY_MAX = 200
MAX_STEPS_PER_RUN = 100  # one task call runs at most this many steps, then queues itself again
DUE_BATCH = 500

FINISHED_RUNS = (StepRunStatus.DONE, StepRunStatus.SKIPPED, StepRunStatus.FAILED)
ENDED = (EnrolmentStatus.CONVERTED, EnrolmentStatus.COMPLETED, EnrolmentStatus.EXITED)


def is_trigger_type(value) -> bool:
    return isinstance(value, str) and (value in DOMAIN_TRIGGERS or event_types.is_event_type(value))


def trigger_label(value: str) -> str:
    if value in TRIGGER_LABELS:
        return str(TRIGGER_LABELS[value])
    return event_types.label(value)


def step_summary(kind: str, config: dict, titles: dict | None = None) -> str:
    """One line saying what a step does, for the builder page (`titles`: content titles by id)."""
    if kind == StepKind.WAIT:
        return _("Wait %(hours)s h") % {"hours": config.get("hours")}
    if kind == StepKind.SEND:
        content = config.get("content")
        if content == STAGE_CONTENT:
            what = _("the content for the customer's stage")
        else:
            what = f"“{(titles or {}).get(content, '')}” (#{content})" if (titles or {}).get(content) else f"#{content}"
        if config.get("recommend"):
            return _("Send %(content)s by %(channel)s, with the customer's product recommendations") % {
                "content": what,
                "channel": config.get("channel"),
            }
        return _("Send %(content)s by %(channel)s") % {"content": what, "channel": config.get("channel")}
    if kind == StepKind.TASK:
        return _("Task “%(title)s” for %(assignee)s, due in %(hours)s h") % {
            "title": config.get("title"),
            "assignee": role_label(config.get("assignee", "")),
            "hours": config.get("due_hours"),
        }
    if kind == StepKind.TAG:
        return _("Tag “%(tag)s”") % {"tag": config.get("tag")}
    return _("Notify %(role)s") % {"role": role_label(config.get("role", ""))}


AUDIENCE_LABELS = {
    "stage": gettext_lazy("Lifecycle stages"),
    "segment": gettext_lazy("RFM segments"),
    "channel": gettext_lazy("Source channels"),
    "tags": gettext_lazy("Lead tags"),
    "tier": gettext_lazy("Loyalty tiers"),
}


def _value_label(key: str, value: str) -> str:
    if key == "stage" and value in LifecycleStage.values:
        return str(LifecycleStage(value).label)
    if key == "segment" and value in RfmSegment.values:
        return str(RfmSegment(value).label)
    return value


def trigger_summary(trigger: dict) -> str:
    """What starts the journey, as people read it: "Lifecycle stage changes → Decision"."""
    text = trigger_label(trigger.get("type", ""))
    for key in DOMAIN_TRIGGERS.get(trigger.get("type", ""), ()):
        if trigger.get(key):
            text = f"{text} → {_value_label(key, trigger[key])}"
    return text


def audience_summary(audience: dict) -> list[tuple[str, str]]:
    """Each audience filter as (what, which): ("Lifecycle stages", "Awareness, Decision")."""
    return [
        (str(AUDIENCE_LABELS.get(key, key)), ", ".join(_value_label(key, value) for value in values))
        for key, values in audience.items()
    ]


def role_label(role: str) -> str:
    """Who a task or a notification goes to, as people read it: "owner", a department, "<department>_manager"."""
    if role == "owner":
        return str(_("the customer's lead owner"))
    department = role.removesuffix("_manager")
    label = str(roles.DEPARTMENT_LABELS.get(department, department))
    return _("%(department)s managers") % {"department": label} if role.endswith("_manager") else label


# ---------------------------------------------------------------------------------------------------------------
# Checking a definition


def _text(value, *, field: str, max_length: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise DomainError(_("Enter text."), field=field)
    value = value.strip()
    if required and not value:
        raise DomainError(_("This field is required."), field=field, code="required")
    if len(value) > max_length:
        raise DomainError(_("At most %(limit)s characters.") % {"limit": max_length}, field=field, code="max_length")
    return value


def _hours(value, *, field: str, allow_zero: bool) -> int | float:
    """A number of hours: more than 0 (or at least 0), at most MAX_HOURS; whole numbers stay whole."""
    if value is None:
        raise DomainError(_("Give a number of hours."), field=field, code="required")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DomainError(_("Give a number of hours."), field=field)
    if value < 0 or (value == 0 and not allow_zero):
        raise DomainError(
            _("Give a number of hours of at least 0.") if allow_zero else _("Give a number of hours above 0."),
            field=field,
            code="min_value",
        )
    if value > MAX_HOURS:
        raise DomainError(_("At most %(hours)s hours.") % {"hours": MAX_HOURS}, field=field, code="max_value")
    return int(value) if float(value).is_integer() else float(value)


def _choice(value, choices, *, field: str, message: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise DomainError(message, field=field, code="invalid_choice" if value is not None else "required")
    return value


def _values(value, *, field: str, choices=None, max_length: int = 50) -> list[str]:
    """An audience value: one string or a list of them (any of them matches)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise DomainError(_("Give one value or a list of values."), field=field)
    cleaned = []
    for index, item in enumerate(items):
        at = f"{field}[{index}]" if not isinstance(value, str) else field
        item = _text(item, field=at, max_length=max_length)
        if choices is not None and item not in choices:
            raise DomainError(
                _("“%(value)s” is not one of: %(choices)s.") % {"value": item, "choices": ", ".join(choices)},
                field=at,
                code="invalid_choice",
            )
        if item not in cleaned:
            cleaned.append(item)
    return cleaned


def clean_trigger(trigger) -> dict:
    """{"type": …, options}: a customer event type or one of DOMAIN_TRIGGERS with the options it takes."""
    if not isinstance(trigger, dict):
        raise DomainError(_("The trigger is an object with a type."), field="trigger")
    kind = trigger.get("type")
    if kind is None:
        raise DomainError(_("Choose what starts the journey."), field="trigger.type", code="required")
    if not is_trigger_type(kind):
        raise DomainError(
            _(
                "Unknown trigger: use a customer event type (signed_up, activated, page_view, form_submitted, "
                "purchase, custom:<name>) or one of %(types)s."
            )
            % {"types": ", ".join(DOMAIN_TRIGGERS)},
            field="trigger.type",
            code="invalid_choice",
        )
    allowed = DOMAIN_TRIGGERS.get(kind, ())
    cleaned = {"type": kind}
    for key, value in trigger.items():
        if key == "type" or value in (None, ""):
            continue
        field = f"trigger.{key}"
        if key not in allowed:
            raise DomainError(_("This trigger takes no option “%(key)s”.") % {"key": key}, field=field)
        if key == "stage":
            cleaned[key] = _choice(value, LifecycleStage.values, field=field, message=_("Choose a lifecycle stage."))
        elif key == "segment":
            cleaned[key] = _choice(value, _segments(), field=field, message=_("Choose an RFM segment."))
        elif key == "tag":
            cleaned[key] = _text(value, field=field, max_length=TAG_MAX)
        else:  # tier (customers.loyalty): member, silver, gold or platinum
            cleaned[key] = _choice(value, LoyaltyTierCode.values, field=field, message=_("Choose a loyalty tier."))
    return cleaned


def _segments() -> list[str]:
    return [value for value in RfmSegment.values if value]


def clean_audience(audience) -> dict:
    """Who may enter, all of the given filters at once (each any of its values): lifecycle `stage`, RFM `segment`,
    `channel` (the customer's source channel code), `tags` (on any of the customer's leads), loyalty `tier`."""
    if audience in (None, ""):
        return {}
    if not isinstance(audience, dict):
        raise DomainError(_("The audience is an object of filters."), field="audience")
    cleaned = {}
    for key, value in audience.items():
        field = f"audience.{key}"
        if key not in AUDIENCE_KEYS:
            raise DomainError(
                _("Unknown audience filter: use %(keys)s.") % {"keys": ", ".join(AUDIENCE_KEYS)}, field=field
            )
        if value in (None, "", []):
            continue
        if key == "stage":
            cleaned[key] = _values(value, field=field, choices=LifecycleStage.values)
        elif key == "segment":
            cleaned[key] = _values(value, field=field, choices=_segments())
        elif key == "channel":
            codes = _values(value, field=field, max_length=100)
            known = set(Channel.objects.filter(code__in=codes).values_list("code", flat=True))
            unknown = [code for code in codes if code not in known]
            if unknown:
                raise DomainError(
                    _("There is no channel “%(code)s”.") % {"code": unknown[0]}, field=field, code="does_not_exist"
                )
            cleaned[key] = codes
        elif key == "tags":
            cleaned[key] = _values(value, field=field, max_length=TAG_MAX)
        else:
            cleaned[key] = _values(value, field=field, choices=LoyaltyTierCode.values)
    return cleaned


def clean_goal(goal, *, trigger: dict) -> str:
    """The event that ends an enrolment as converted: any type a journey can start on, but not its own trigger."""
    if goal in (None, ""):
        return ""
    if not is_trigger_type(goal):
        raise DomainError(
            _("Unknown goal: use a customer event type (activated, purchase, custom:<name>…) or %(types)s.")
            % {"types": ", ".join(DOMAIN_TRIGGERS)},
            field="goal",
            code="invalid_choice",
        )
    if goal == trigger.get("type"):
        raise DomainError(_("The goal cannot be the event that starts the journey."), field="goal")
    return goal


def _clean_step(item, index: int) -> dict:
    """One step of the payload: {"kind", its fields, and optionally the "id" of a step it keeps}."""
    at = f"steps[{index}]"
    if not isinstance(item, dict):
        raise DomainError(_("Each step is an object with a kind."), field=at)
    kind = item.get("kind")
    if kind is None:
        raise DomainError(_("Choose the step's kind."), field=f"{at}.kind", code="required")
    if not isinstance(kind, str) or kind not in StepKind.values:
        raise DomainError(
            _("Unknown step kind: use %(kinds)s.") % {"kinds": ", ".join(StepKind.values)},
            field=f"{at}.kind",
            code="invalid_choice",
        )
    for key in item:
        if key not in ("kind", "id", "position", *STEP_FIELDS[kind]):
            raise DomainError(
                _("A %(kind)s step has no field “%(key)s”.") % {"kind": kind, "key": key}, field=f"{at}.{key}"
            )
    step_id = item.get("id")
    if step_id is not None and (isinstance(step_id, bool) or not isinstance(step_id, int)):
        raise DomainError(_("A step's id is a whole number."), field=f"{at}.id")
    if kind == StepKind.WAIT:
        config = {"hours": _hours(item.get("hours"), field=f"{at}.hours", allow_zero=False)}
    elif kind == StepKind.SEND:
        content = item.get("content")
        if content is None or content == "":
            raise DomainError(_("Choose the content to send."), field=f"{at}.content", code="required")
        if content != STAGE_CONTENT and (isinstance(content, bool) or not isinstance(content, int)):
            raise DomainError(
                _("Give a content item's id, or “stage” for the content of the customer's stage."),
                field=f"{at}.content",
            )
        channel = _choice(
            item.get("channel"),
            MessageChannel.values,
            field=f"{at}.channel",
            message=_("Choose a channel: %(channels)s.") % {"channels": ", ".join(MessageChannel.values)},
        )
        config = {"content": content, "channel": channel}
        recommend = item.get("recommend", False)
        if not isinstance(recommend, bool):
            raise DomainError(
                _("Give true or false: whether to add the customer's recommendations."), field=f"{at}.recommend"
            )
        if recommend:  # sending.recommendation_text appends the customer's recommendations to the message
            config["recommend"] = True
    elif kind == StepKind.TASK:
        config = {
            "title": _text(item.get("title"), field=f"{at}.title", max_length=TITLE_MAX),
            "due_hours": _hours(item.get("due_hours"), field=f"{at}.due_hours", allow_zero=True),
            "assignee": _choice(
                item.get("assignee"),
                ASSIGNEES,
                field=f"{at}.assignee",
                message=_("Give the task to “owner” or to a department: %(departments)s.")
                % {"departments": ", ".join(roles.DEPARTMENTS)},
            ),
        }
    elif kind == StepKind.TAG:
        config = {"tag": _text(item.get("tag"), field=f"{at}.tag", max_length=TAG_MAX)}
    else:
        config = {
            "role": _choice(
                item.get("role"),
                NOTIFY_ROLES,
                field=f"{at}.role",
                message=_("Notify one of: %(roles)s.") % {"roles": ", ".join(NOTIFY_ROLES)},
            )
        }
        message = _text(item.get("message"), field=f"{at}.message", max_length=MESSAGE_MAX, required=False)
        if message:
            config["message"] = message
    return {"id": step_id, "kind": kind, "config": config}


def clean_steps(steps) -> list[dict]:
    """The payload's steps in order, each checked (`_clean_step`); the content they send exists and is switched on
    (one query for all)."""
    if steps is None:
        return []
    if not isinstance(steps, list):
        raise DomainError(_("Steps are a list."), field="steps")
    if len(steps) > MAX_STEPS:
        raise DomainError(_("A journey has at most %(count)s steps.") % {"count": MAX_STEPS}, field="steps")
    cleaned = [_clean_step(item, index) for index, item in enumerate(steps)]
    check_content(cleaned)
    return cleaned


def check_content(steps: list[dict]) -> None:
    """Every send step's content exists and is switched on. Raises DomainError(field=steps[i].content)."""
    ids = {s["config"]["content"] for s in steps if s["kind"] == StepKind.SEND}
    ids.discard(STAGE_CONTENT)
    active = dict(ContentItem.objects.filter(pk__in=ids).values_list("pk", "is_active"))
    for index, step in enumerate(steps):
        content = step["config"].get("content") if step["kind"] == StepKind.SEND else None
        if content is None or content == STAGE_CONTENT:
            continue
        if content not in active:
            raise DomainError(
                _("There is no content item #%(id)s.") % {"id": content},
                field=f"steps[{index}].content",
                code="does_not_exist",
            )
        if not active[content]:
            raise DomainError(
                _("Content item #%(id)s is switched off.") % {"id": content},
                field=f"steps[{index}].content",
                code="inactive",
            )


def clean_definition(*, trigger, audience, steps, goal) -> dict:
    """The whole payload checked; {"trigger", "audience", "steps", "goal"} cleaned. Raises DomainError naming the
    first bad field."""
    trigger = clean_trigger(trigger)
    return {
        "trigger": trigger,
        "audience": clean_audience(audience),
        "goal": clean_goal(goal, trigger=trigger),
        "steps": clean_steps(steps),
    }


# ---------------------------------------------------------------------------------------------------------------
# Loops: a journey whose steps start itself again, directly or through other active journeys


def _tags_emitted(steps: Iterable[dict]) -> list[tuple[int, str]]:
    """(index, tag) of each step that can start a journey: a tag step announces `lead.tagged` (sends, tasks and
    notifications start none)."""
    return [(index, s["config"]["tag"]) for index, s in enumerate(steps) if s["kind"] == StepKind.TAG]


def _starts_on_tag(trigger: dict, tag: str) -> bool:
    if trigger.get("type") != "lead.tagged":
        return False
    wanted = trigger.get("tag")
    return not wanted or wanted.casefold() == tag.casefold()


def check_loop(*, journey_pk: int | None, trigger: dict, steps: list[dict]) -> None:
    """Refuse a definition whose steps would start the journey again, itself or through a chain of active journeys
    (A's step starts B, whose step starts A). Raises JourneyLoop naming the step (field steps[i].tag)."""
    emitted = _tags_emitted(steps)
    if not emitted:
        return
    others = {
        pk: {"name": other_name, "trigger": other_trigger, "tags": []}
        for pk, other_name, other_trigger in Journey.objects.filter(status=JourneyStatus.ACTIVE)
        .exclude(pk=journey_pk)
        .values_list("pk", "name", "trigger")
    }
    tag_steps = JourneyStep.objects.filter(journey_id__in=others, kind=StepKind.TAG, is_removed=False)
    for journey_id, config in tag_steps.values_list("journey_id", "config"):
        others[journey_id]["tags"].append(config.get("tag", ""))
    for index, tag in emitted:
        if _starts_on_tag(trigger, tag):
            raise JourneyLoop(
                _("Step %(number)s tags “%(tag)s”, which starts this journey again.")
                % {"number": index + 1, "tag": tag},
                field=f"steps[{index}].tag",
            )
        # Breadth first through the active journeys this tag starts; reaching our trigger closes a loop.
        frontier = [(pk, [others[pk]["name"]]) for pk in others if _starts_on_tag(others[pk]["trigger"], tag)]
        seen = {pk for pk, _path in frontier}
        while frontier:
            pk, path = frontier.pop(0)
            for other_tag in others[pk]["tags"]:
                if _starts_on_tag(trigger, other_tag):
                    raise JourneyLoop(
                        _("Step %(number)s tags “%(tag)s”, which starts %(chain)s, which starts this journey again.")
                        % {"number": index + 1, "tag": tag, "chain": " → ".join(f"“{p}”" for p in path)},
                        field=f"steps[{index}].tag",
                    )
                for nxt in others:
                    if nxt not in seen and _starts_on_tag(others[nxt]["trigger"], other_tag):
                        seen.add(nxt)
                        frontier.append((nxt, [*path, others[nxt]["name"]]))


# ---------------------------------------------------------------------------------------------------------------
# Writes: journeys and their steps


def _lock(journey: Journey | int) -> Journey:
    return Journey.objects.select_for_update().get(pk=getattr(journey, "pk", journey))


def _live_steps(journey_pk: int) -> list[JourneyStep]:
    return list(JourneyStep.objects.filter(journey_id=journey_pk, is_removed=False).order_by("position", "pk"))


def _step_dicts(steps: Iterable[JourneyStep]) -> list[dict]:
    return [{"id": s.pk, "kind": s.kind, "config": s.config} for s in steps]


@transaction.atomic
def create_journey(
    *, by, name, trigger, audience=None, steps=None, goal="", reentry: bool = False, now=None
) -> Journey:
    """A draft journey with its steps, all or nothing. Raises PermissionDenied, DomainError naming the field
    (name, trigger.*, audience.*, goal, steps[i].*), JourneyLoop."""
    permissions.require(by, "journey.create")
    now = now or timezone.now()
    name = _text(name, field="name", max_length=NAME_MAX)
    cleaned = clean_definition(trigger=trigger, audience=audience, steps=steps, goal=goal)
    for index, step in enumerate(cleaned["steps"]):
        if step["id"] is not None:
            raise DomainError(_("A new journey has no steps to keep yet."), field=f"steps[{index}].id")
    check_loop(journey_pk=None, trigger=cleaned["trigger"], steps=cleaned["steps"])
    journey = Journey.objects.create(
        name=name,
        trigger=cleaned["trigger"],
        audience=cleaned["audience"],
        goal=cleaned["goal"],
        reentry=bool(reentry),
        created_by=by,
        created_at=now,
    )
    rows = JourneyStep.objects.bulk_create(
        [
            JourneyStep(journey=journey, position=position, kind=step["kind"], config=step["config"])
            for position, step in enumerate(cleaned["steps"])
        ]
    )
    audit.record_created(JourneyStep, rows)
    return journey


JOURNEY_FIELDS = ("name", "trigger", "audience", "goal", "reentry", "steps")


@transaction.atomic
def update_journey(*, journey: Journey, by, now=None, **fields) -> Journey:
    """Change any of name, trigger, audience, goal, reentry and steps, in any status. `steps` is the whole new list
    in order: an item with the `id` of a live step keeps that step (its kind stays; its settings may change), one
    without is a new step, a live step left out is removed (`_restructure`). Raises PermissionDenied, DomainError
    naming the field, JourneyLoop."""
    journey = _lock(journey)
    permissions.require(by, "journey.change", journey)
    now = now or timezone.now()
    unknown = set(fields) - set(JOURNEY_FIELDS)
    if unknown:
        raise DomainError(_("This field cannot be changed here."), field=sorted(unknown)[0])
    if "name" in fields:
        journey.name = _text(fields["name"], field="name", max_length=NAME_MAX)
    if "trigger" in fields:
        journey.trigger = clean_trigger(fields["trigger"])
    if "audience" in fields:
        journey.audience = clean_audience(fields["audience"])
    if "goal" in fields or "trigger" in fields:
        journey.goal = clean_goal(fields.get("goal", journey.goal), trigger=journey.trigger)
    if "reentry" in fields:
        journey.reentry = bool(fields["reentry"])
    live = _live_steps(journey.pk)
    if "steps" in fields:
        new_steps = clean_steps(fields["steps"])
        order = _steps_in_order(journey, new_steps, live)
        check_loop(journey_pk=journey.pk, trigger=journey.trigger, steps=_step_dicts(order))
        _restructure(journey, order, live=live)
    elif "trigger" in fields:
        check_loop(journey_pk=journey.pk, trigger=journey.trigger, steps=_step_dicts(live))
    journey.save()
    return journey


def _steps_in_order(journey: Journey, new_steps: list[dict], live: list[JourneyStep]) -> list[JourneyStep]:
    """The journey's steps in the payload's order, unsaved: a kept step as a copy with its new settings (the `live`
    rows keep what the database holds), a new one without a pk."""
    by_id = {s.pk: s for s in live}
    seen: set[int] = set()
    order = []
    for index, step in enumerate(new_steps):
        if step["id"] is None:
            order.append(JourneyStep(journey=journey, kind=step["kind"], config=step["config"], position=0))
            continue
        kept = by_id.get(step["id"])
        if kept is None or step["id"] in seen:
            raise DomainError(
                _("Step #%(id)s is not a step of this journey.") % {"id": step["id"]},
                field=f"steps[{index}].id",
                code="does_not_exist",
            )
        if kept.kind != step["kind"]:
            raise DomainError(_("A step keeps its kind: remove it and add a new one."), field=f"steps[{index}].kind")
        seen.add(kept.pk)
        order.append(
            JourneyStep(pk=kept.pk, journey=journey, kind=kept.kind, config=step["config"], position=kept.position)
        )
    return order


def _restructure(journey: Journey, order: list[JourneyStep], *, live: list[JourneyStep]) -> None:
    """Make `order` the journey's live steps (saving new ones and changed settings), remove the live steps it
    leaves out, number the live ones 0…n-1 and move every active enrolment's place along, in the caller's
    transaction (the journey is locked).

    A removed step of a journey that never ran is deleted; once the journey was activated it stays, marked removed,
    so runs and enrolments that point at it keep their history (the engine skips it).

    An enrolment's place (`next_position`) is the first step it has not reached. After the change it is right after
    the last step it had passed that now comes before the first step it had not reached (or right after the last
    one it passed when none of those is left; the start when it passed none): a step added behind the enrolment is
    not run, one added ahead of it is, and the steps it already ran are skipped by their runs wherever they moved."""
    kept_ids = {s.pk for s in order if s.pk}
    removed = [s for s in live if s.pk not in kept_ids]
    before = {s.pk: (s.position, s.config) for s in live}
    removed_positions = list(
        JourneyStep.objects.filter(journey=journey, is_removed=True).values_list("position", flat=True)
    )
    for step in removed:
        if journey.activated_at is None:
            step.delete()
        else:
            step.is_removed = True
            step.save(update_fields=["is_removed"])
    moved = []
    for position, step in enumerate(order):
        if step.pk is None:
            step.position = position
            step.save()
        elif before[step.pk] != (position, step.config):
            step.position = position
            moved.append(step)
    if moved:
        JourneyStep.objects.bulk_update(moved, ["position", "config"])
        audit.record_rows(JourneyStep, [s.pk for s in moved])
    new_position = {s.pk: index for index, s in enumerate(order)}
    # Every place an enrolment can hold, not only those held now: the engine may move one on (in the old numbering)
    # until this UPDATE reaches its row, which it then waits for.
    top = max([*(position for position, _config in before.values()), *removed_positions], default=-1) + 1
    mapping = {}
    for place in range(top + 1):
        ahead = [new_position[pk] for pk, (old, _c) in before.items() if old >= place and pk in new_position]
        passed = [new_position[pk] for pk, (old, _c) in before.items() if old < place and pk in new_position]
        if ahead:  # right after the last passed step before the first one not reached
            behind = [position for position in passed if position < min(ahead)]
            moved_to = max(behind) + 1 if behind else 0
        else:
            moved_to = max(passed) + 1 if passed else 0
        if moved_to != place:
            mapping[place] = moved_to
    if mapping:
        # One UPDATE maps every old place at once (the old numbers and the new overlap, so one by one would not do);
        # a place past the last step is the end, as `top` is.
        whens = [When(next_position=old, then=Value(new)) for old, new in mapping.items()]
        if top in mapping:
            whens.append(When(next_position__gt=top, then=Value(mapping[top])))
        Enrolment.objects.filter(journey=journey, status=EnrolmentStatus.ACTIVE).filter(
            Q(next_position__in=list(mapping)) | Q(next_position__gt=top)
        ).update(next_position=Case(*whens, default=F("next_position"), output_field=IntegerField()))


@transaction.atomic
def add_step(*, journey: Journey, by, step: dict, position: int | None = None, now=None) -> JourneyStep:
    """Add one step (the builder page's form per kind) at `position` (default: the end). Raises PermissionDenied,
    DomainError naming the step's field (steps[0].*), JourneyLoop."""
    journey = _lock(journey)
    permissions.require(by, "journey.change", journey)
    cleaned = clean_steps([step])[0]
    cleaned["id"] = None
    live = _live_steps(journey.pk)
    at = len(live) if position is None else max(0, min(int(position), len(live)))
    new = JourneyStep(journey=journey, kind=cleaned["kind"], config=cleaned["config"], position=0)
    order = [*live[:at], new, *live[at:]]
    check_loop(journey_pk=journey.pk, trigger=journey.trigger, steps=_step_dicts(order))
    _restructure(journey, order, live=live)
    journey.save(update_fields=["updated_at"])
    return new


@transaction.atomic
def move_step(*, step: JourneyStep, by, offset: int, now=None) -> JourneyStep:
    """Move a live step up (offset -1) or down (+1) among the live steps; at either end nothing moves."""
    journey = _lock(step.journey_id)
    permissions.require(by, "journey.change", journey)
    live = _live_steps(journey.pk)
    index = next((i for i, s in enumerate(live) if s.pk == step.pk), None)
    if index is None:
        raise DomainError(_("This step was removed."), field="step", code="removed")
    target = max(0, min(index + int(offset), len(live) - 1))
    if target == index:
        return live[index]
    order = list(live)
    order.insert(target, order.pop(index))
    _restructure(journey, order, live=live)
    journey.save(update_fields=["updated_at"])
    return order[target]


@transaction.atomic
def remove_step(*, step: JourneyStep, by, now=None) -> None:
    """Remove a live step: enrolments that have not reached it skip it, none is stranded."""
    journey = _lock(step.journey_id)
    permissions.require(by, "journey.change", journey)
    live = _live_steps(journey.pk)
    if step.pk not in {s.pk for s in live}:
        raise DomainError(_("This step was removed."), field="step", code="removed")
    _restructure(journey, [s for s in live if s.pk != step.pk], live=live)
    journey.save(update_fields=["updated_at"])


@transaction.atomic
def delete_journey(*, journey: Journey, by) -> None:
    """Delete a journey that never ran. Raises PermissionDenied, Conflict (409 in_use): pause it instead."""
    journey = _lock(journey)
    permissions.require(by, "journey.change", journey)
    if journey.activated_at is not None:
        raise Conflict(_("This journey has run; pause it instead of deleting it."), field=None, code="in_use")
    journey.delete()


@transaction.atomic
def activate_journey(*, journey: Journey, by, now=None) -> Journey:
    """Start (or resume) a draft or paused journey: from now on its trigger enrols customers, and the enrolments a
    pause held go on. Raises PermissionDenied (marketing managers), InvalidTransition (409) when already active,
    DomainError(field=steps / steps[i].content) for a journey without steps or with content switched off since,
    JourneyLoop when another active journey now closes a loop with it."""
    journey = _lock(journey)
    permissions.require(by, "journey.activate", journey)
    now = now or timezone.now()
    if journey.status == JourneyStatus.ACTIVE:
        raise InvalidTransition(_("This journey is already active."), field="status")
    live = _step_dicts(_live_steps(journey.pk))
    if not live:
        raise DomainError(_("Add at least one step before activating the journey."), field="steps", code="required")
    check_content(live)
    check_loop(journey_pk=journey.pk, trigger=journey.trigger, steps=live)
    resumed = journey.status == JourneyStatus.PAUSED
    journey.status = JourneyStatus.ACTIVE
    journey.activated_at = journey.activated_at or now
    journey.save(update_fields=["status", "activated_at", "updated_at"])
    if resumed:
        # The enrolments the pause held (a step was due) become due now; those still waiting keep their time.
        Enrolment.objects.filter(journey=journey, status=EnrolmentStatus.ACTIVE, next_run_at__isnull=True).update(
            next_run_at=now
        )
        outbox.enqueue("marketing.tasks.run_due_enrolments", coalesce_key="marketing:run-due-enrolments", now=now)
    return journey


@transaction.atomic
def pause_journey(*, journey: Journey, by, now=None) -> Journey:
    """Hold an active journey: no one enters, no step runs, until it is activated again. Raises PermissionDenied
    (marketing managers), InvalidTransition (409) unless active."""
    journey = _lock(journey)
    permissions.require(by, "journey.pause", journey)
    if journey.status != JourneyStatus.ACTIVE:
        raise InvalidTransition(_("Only an active journey can be paused."), field="status")
    journey.status = JourneyStatus.PAUSED
    journey.save(update_fields=["status", "updated_at"])
    return journey


# ---------------------------------------------------------------------------------------------------------------
# Triggers and goals


def _key(customer: int, ref: str) -> str:
    key = f"{customer}:{ref}"
    if len(key) > TRIGGER_KEY_MAX:
        key = f"{customer}:{hashlib.sha256(ref.encode()).hexdigest()}"
    return key


def _stamp(value) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value or "")


def _heard(event_type: str, data: dict) -> tuple[str, int, str, dict]:
    """(journey trigger type, customer, what it was, its options) of a published event's data."""
    customer = int(data["customer"])
    if event_type == CUSTOMER_EVENT:
        return data["type"], customer, f"event.{data['event']}", {}
    if event_type == "lead.flagged_high_intent":
        return event_type, customer, f"lead.{data['lead']}.high_intent", {}
    if event_type == "lead.tagged":
        return (
            event_type,
            customer,
            f"lead.{data['lead']}.tag.{data['tag']}.{_stamp(data.get('at'))}",
            {"tag": data["tag"]},
        )
    if event_type == "lifecycle.changed":
        return event_type, customer, f"stage.{data['stage']}.{_stamp(data.get('at'))}", {"stage": data["stage"]}
    if event_type == "segment.entered":
        return (
            event_type,
            customer,
            f"segment.{data['segment']}.{_stamp(data.get('at'))}",
            {"segment": data["segment"]},
        )
    if event_type == "order.placed":
        return event_type, customer, f"order.{data['order']}", {}
    if event_type == "nps.detractor":
        return event_type, customer, f"nps.{data['response']}", {}
    if event_type == "activation.missed":
        return event_type, customer, f"activation.{data['window']}", {}
    tier = data.get("tier") or ""
    return event_type, customer, f"tier.{tier}.{_stamp(data.get('at'))}", {"tier": tier}


def _options_match(trigger: dict, options: dict) -> bool:
    for key, value in options.items():
        wanted = trigger.get(key)
        if wanted and str(wanted).casefold() != str(value).casefold():
            return False
    return True


def audience_filter(audience: dict) -> Q:
    """The customers a journey's audience admits, as one condition on Customer."""
    condition = Q()
    if audience.get("stage"):
        condition &= Q(lifecycle_stage__in=audience["stage"])
    if audience.get("segment"):
        condition &= Q(rfm_segment__in=audience["segment"])
    if audience.get("channel"):
        condition &= Q(source_channel__code__in=audience["channel"])
    if audience.get("tags"):
        named = Q()
        for tag in audience["tags"]:
            named |= Q(tags__name__iexact=tag)
        condition &= Q(Exists(Lead.objects.filter(named, customer_id=OuterRef("pk"))))
    if audience.get("tier"):
        condition &= Q(loyalty_tier__in=audience["tier"])
    return condition


def hear(event_type: str, items: list[dict], *, now=None) -> list[int]:
    """A batch of one published event type (config.events.subscribe_batch): convert the enrolments whose journey's
    goal it is, then enrol the customers in the active journeys it starts. Runs in the publisher's transaction; each
    new enrolment's first steps are queued for after commit. Returns the new enrolments' ids."""
    now = now or timezone.now()
    heard = [_heard(event_type, data) for data in items]
    types = {kind for kind, _customer, _ref, _options in heard}
    listening = list(
        Journey.objects.filter(status__in=[JourneyStatus.ACTIVE, JourneyStatus.PAUSED])
        .filter(Q(trigger__type__in=list(types)) | Q(goal__in=list(types)))
        .values("pk", "trigger", "audience", "goal", "reentry", "status")
    )
    if not listening:
        return []
    for journey in listening:
        if journey["goal"] in types:
            reached = {customer for kind, customer, _ref, _options in heard if kind == journey["goal"]}
            _convert(journey["pk"], reached, now=now)
    created = []
    for journey in listening:
        if journey["status"] != JourneyStatus.ACTIVE:
            continue
        wanted = [
            (customer, ref)
            for kind, customer, ref, options in heard
            if kind == journey["trigger"].get("type") and _options_match(journey["trigger"], options)
        ]
        if wanted:
            created += _enrol(journey, wanted, now=now)
    if created:
        outbox.enqueue_many("marketing.tasks.advance_enrolment", [[pk] for pk in created], now=now)
    return created


def _convert(journey_pk: int, customers: set[int], *, now) -> int:
    return Enrolment.objects.filter(
        journey_id=journey_pk, customer_id__in=customers, status=EnrolmentStatus.ACTIVE
    ).update(status=EnrolmentStatus.CONVERTED, ended_at=now, next_run_at=None)


def _enrol(journey: dict, wanted: list[tuple[int, str]], *, now) -> list[int]:
    """Enrol the audience among `wanted` (customer, what triggered) once each; returns the new enrolments' ids.

    Without re-entry the key is the customer alone, so they enter once ever (racing deliveries included); with it
    the key is the trigger, so the same event delivered twice enrols once, and the partial unique constraint keeps
    one active enrolment per customer. Inserted with ON CONFLICT DO NOTHING: no error breaks the publisher's
    transaction."""
    customers = {customer for customer, _ref in wanted}
    admitted = customers
    if journey["audience"]:  # without one, everyone the event names (a merged-away customer exits at the first step)
        admitted = set(
            Customer.objects.filter(
                audience_filter(journey["audience"]), pk__in=customers, merged_into__isnull=True
            ).values_list("pk", flat=True)
        )
    previous = list(
        Enrolment.objects.filter(journey_id=journey["pk"], customer_id__in=admitted).values_list(
            "customer_id", "status", "trigger_key"
        )
    )
    known = {key for _customer, _status, key in previous}
    if journey["reentry"]:  # (a new set either way: it shrinks below)
        admitted = admitted - {c for c, status, _key in previous if status == EnrolmentStatus.ACTIVE}
    else:
        admitted = admitted - {c for c, _status, _key in previous}
    rows: list[Enrolment] = []
    for customer, ref in wanted:
        key = _key(customer, ref if journey["reentry"] else "once")
        if customer in admitted and key not in known:  # the first trigger of a customer in the batch enrols them
            admitted.discard(customer)
            rows.append(Enrolment(journey_id=journey["pk"], customer_id=customer, trigger_key=key, entered_at=now))
    if not rows:
        return []
    Enrolment.objects.bulk_create(rows, ignore_conflicts=True)
    # A racing delivery may have inserted one of these keys first: its enrolment is queued twice, harmlessly.
    return list(
        Enrolment.objects.filter(journey_id=journey["pk"], trigger_key__in=[row.trigger_key for row in rows])
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# ---------------------------------------------------------------------------------------------------------------
# The engine


def customer_owner(customer_id: int):
    """The owner of the customer's most recent open lead that has one (an active user), else None."""
    lead = (
        Lead.objects.filter(customer_id=customer_id, owner__isnull=False, owner__is_active=True)
        .exclude(stage__in=CLOSED_STAGES)
        .select_related("owner")
        .order_by("-created_at", "-pk")
        .first()
    )
    return lead.owner if lead else None


def stage_content(customer: Customer) -> ContentItem | None:
    """The active content item written for the customer's lifecycle stage that has a variant: the newest in their
    language, else the newest in any."""
    language = customer.language or ""
    return (
        ContentItem.objects.filter(
            Exists(ContentVariant.objects.filter(item_id=OuterRef("pk"))),
            stage=customer.lifecycle_stage,
            is_active=True,
        )
        .annotate(in_language=Case(When(language=language, then=Value(0)), default=Value(1)))
        .order_by("in_language", "-created_at", "-pk")
        .first()
    )


def _lock_enrolment(enrolment_id: int) -> Enrolment | None:
    """The enrolment locked after its customer (parents first: a send locks the customer too)."""
    owner = Enrolment.objects.filter(pk=enrolment_id).values("customer_id")
    if not list(Customer.objects.select_for_update().filter(pk=Subquery(owner)).values_list("pk", flat=True)):
        return None
    return (
        Enrolment.objects.select_for_update(of=("self",))
        .select_related("journey", "customer")
        .filter(pk=enrolment_id)
        .first()
    )


def _end(enrolment: Enrolment, status: str, now) -> None:
    enrolment.status, enrolment.ended_at, enrolment.next_run_at = status, now, None
    enrolment.save(update_fields=["status", "ended_at", "next_run_at", "next_position"])


def _live_steps_from(journey_id: int, position: int) -> QuerySet[JourneyStep]:
    return JourneyStep.objects.filter(journey_id=journey_id, is_removed=False, position__gte=position).order_by(
        "position", "pk"
    )


def _claim(enrolment_id: int, now) -> tuple[str, int | None]:
    """Phase one: under the enrolment's lock, find its next step and claim its run (committed before any effect).
    ("ran", run id) to execute; ("ran", None) when it only moved past a step already run; else why it stopped."""
    with transaction.atomic():
        enrolment = _lock_enrolment(enrolment_id)
        if enrolment is None or enrolment.status != EnrolmentStatus.ACTIVE:
            return "ended", None
        if enrolment.journey.status != JourneyStatus.ACTIVE:
            return "held", None
        if enrolment.next_run_at is not None and enrolment.next_run_at > now:
            return "waiting", None
        if enrolment.customer.merged_into_id:
            _end(enrolment, EnrolmentStatus.EXITED, now)
            return "ended", None
        step = _live_steps_from(enrolment.journey_id, enrolment.next_position).first()
        if step is None:
            _end(enrolment, EnrolmentStatus.COMPLETED, now)
            return "completed", None
        run = StepRun.objects.filter(enrolment=enrolment, step=step).first()
        if run is not None and run.status in FINISHED_RUNS:
            # Run before the journey's steps were moved: never again.
            enrolment.next_position, enrolment.next_run_at = step.position + 1, None
            enrolment.save(update_fields=["next_position", "next_run_at"])
            return "ran", None
        if run is None:
            run = StepRun.objects.create(enrolment=enrolment, step=step, started_at=now)
        # else: claimed by a worker that died before finishing it (or one finishing it right now): the effect is
        # keyed by the run, so the second phase makes it at most once either way.
        return "ran", run.pk


def _execute(enrolment_id: int, run_id: int, now) -> str:
    """Phase two: the claimed run's effect and its end, in one transaction under the enrolment's lock."""
    with transaction.atomic():
        enrolment = _lock_enrolment(enrolment_id)
        run = StepRun.objects.select_for_update(of=("self",)).select_related("step").get(pk=run_id)
        if enrolment is None or enrolment.status != EnrolmentStatus.ACTIVE or run.status in FINISHED_RUNS:
            return "ran"  # finished by a concurrent delivery, or the enrolment ended meanwhile
        step = run.step
        try:
            with transaction.atomic():  # a refused effect leaves nothing half-written
                status, note = _EFFECTS[step.kind](enrolment, step, run, now)
        except DomainError as refusal:
            status, note = StepRunStatus.FAILED, refusal.message
        run.status, run.finished_at = status, now
        run.note = " ".join(part for part in (run.note, note) if part)[:NOTE_MAX]
        run.save(update_fields=["status", "finished_at", "note", "task"])
        enrolment.next_position = step.position + 1
        if step.kind == StepKind.WAIT and status == StepRunStatus.DONE:
            enrolment.next_run_at = run.started_at + timedelta(hours=step.config["hours"])
        else:
            enrolment.next_run_at = None
        # After its last step (unless that is a wait still running) the enrolment ends, in the same transaction.
        finished_wait = enrolment.next_run_at is None or enrolment.next_run_at <= now
        if finished_wait and not _live_steps_from(enrolment.journey_id, enrolment.next_position).exists():
            _end(enrolment, EnrolmentStatus.COMPLETED, now)
            return "completed"
        enrolment.save(update_fields=["next_position", "next_run_at"])
        return "waiting" if enrolment.next_run_at and enrolment.next_run_at > now else "ran"


def _wait(enrolment, step, run, now) -> tuple[str, str]:
    until = run.started_at + timedelta(hours=step.config["hours"])
    return StepRunStatus.DONE, _("Until %(time)s.") % {"time": timezone.localtime(until).strftime("%Y-%m-%d %H:%M")}


def _send(enrolment, step, run, now) -> tuple[str, str]:
    content = step.config["content"]
    if content == STAGE_CONTENT:
        item = stage_content(enrolment.customer)
        if item is None:
            return StepRunStatus.SKIPPED, _("No active content for the customer's stage.")
    else:
        item = ContentItem.objects.filter(pk=content).first()
        if item is None:
            return StepRunStatus.SKIPPED, _("The content was deleted.")
    message = sending.send_message(
        customer=enrolment.customer,
        item=item,
        channel=step.config["channel"],
        journey=enrolment.journey,
        enrolment=enrolment,
        step_run=run,
        now=now,
    )
    if message.status == MessageStatus.SKIPPED:
        reason = sending.SKIP_REASONS.get(message.skip_reason, message.skip_reason)
        return StepRunStatus.SKIPPED, _("Message #%(id)s skipped: %(reason)s.") % {"id": message.pk, "reason": reason}
    return StepRunStatus.DONE, _("Message #%(id)s %(status)s.") % {
        "id": message.pk,
        "status": message.get_status_display().lower(),
    }


def _task(enrolment, step, run, now) -> tuple[str, str]:
    if run.task_id is None:  # the run holds the task it opened: a rerun opens none
        assignee, department = None, step.config["assignee"]
        if department == "owner":
            assignee = customer_owner(enrolment.customer_id)
            department = OWNERLESS_QUEUE
        run.task = todo.open_task(
            title=step.config["title"],
            assignee=assignee,
            department=department,
            due_at=now + timedelta(hours=step.config["due_hours"]),
            notes=_("From the journey “%(journey)s”.") % {"journey": enrolment.journey.name},
            about_record=("customer", enrolment.customer_id),
            now=now,
        )
    return StepRunStatus.DONE, _("Task #%(id)s.") % {"id": run.task_id}


def _tag(enrolment, step, run, now) -> tuple[str, str]:
    lead = lead_services.tag_customer_lead(customer_id=enrolment.customer_id, name=step.config["tag"], now=now)
    if lead is None:
        return StepRunStatus.SKIPPED, _("The customer has no lead to tag.")
    return StepRunStatus.DONE, _("Lead #%(id)s tagged.") % {"id": lead.pk}


def _notify(enrolment, step, run, now) -> tuple[str, str]:
    role = step.config["role"]
    if role == "owner":
        recipients = [owner] if (owner := customer_owner(enrolment.customer_id)) else []
    elif role.endswith("_manager"):
        recipients = list(roles.members(role.removesuffix("_manager"), managers_only=True))
    else:
        recipients = list(roles.members(role))
    if not recipients:
        return StepRunStatus.SKIPPED, _("Nobody to notify.")
    text = step.config.get("message") or _("Journey “%(journey)s”: %(customer)s reached step %(number)s.") % {
        "journey": enrolment.journey.name,
        "customer": enrolment.customer.name,
        "number": step.position + 1,
    }
    notify(
        recipients=recipients,
        kind="marketing.journey",
        message=text,
        url=reverse("customers:customer-detail", args=[enrolment.customer_id]),
        dedupe_key=f"marketing.journey.run.{run.pk}",  # a rerun of the step notifies no one again
        alert=False,
    )
    return StepRunStatus.DONE, _("%(count)s notified.") % {"count": len(recipients)}


_EFFECTS = {
    StepKind.WAIT: _wait,
    StepKind.SEND: _send,
    StepKind.TASK: _task,
    StepKind.TAG: _tag,
    StepKind.NOTIFY: _notify,
}


def advance_enrolment(*, enrolment_id: int, now=None) -> str:
    """Run the enrolment's steps from its place until one waits, the journey is paused, it ends or MAX_STEPS_PER_RUN
    steps ran (then it queues itself again). Safe to call twice, or concurrently: every step runs once. Returns why
    it stopped: "waiting", "held", "completed", "ended" or "queued"."""
    for _step in range(MAX_STEPS_PER_RUN):
        moment = now or timezone.now()
        outcome, run_id = _claim(enrolment_id, moment)
        if outcome == "ran" and run_id is not None:
            outcome = _execute(enrolment_id, run_id, moment)
        if outcome != "ran":
            return outcome
    with transaction.atomic():
        outbox.enqueue("marketing.tasks.advance_enrolment", enrolment_id, now=now)
    return "queued"


def run_due_enrolments(*, now=None) -> int:
    """Beat: queue every active enrolment of an active journey whose wait is over (or that a resumed journey
    released), each once: its due time is cleared as it is queued, under a skip-locked claim, so a second beat
    finds nothing to do. Returns how many were queued."""
    now = now or timezone.now()
    queued = 0
    while True:
        with transaction.atomic():
            due = list(
                Enrolment.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=EnrolmentStatus.ACTIVE, next_run_at__lte=now, journey__status=JourneyStatus.ACTIVE)
                .order_by("next_run_at", "pk")
                .values_list("pk", flat=True)[:DUE_BATCH]
            )
            if not due:
                return queued
            Enrolment.objects.filter(pk__in=due).update(next_run_at=None)
            outbox.enqueue_many("marketing.tasks.advance_enrolment", [[pk] for pk in due], now=now)
        queued += len(due)


# ---------------------------------------------------------------------------------------------------------------
# Reads


COUNTS = {
    "entered": Count("enrolments"),
    "active": Count("enrolments", filter=Q(enrolments__status=EnrolmentStatus.ACTIVE)),
    "converted": Count("enrolments", filter=Q(enrolments__status=EnrolmentStatus.CONVERTED)),
    "completed": Count("enrolments", filter=Q(enrolments__status=EnrolmentStatus.COMPLETED)),
    "exited": Count("enrolments", filter=Q(enrolments__status=EnrolmentStatus.EXITED)),
}


def live_steps_prefetch() -> Prefetch:
    return Prefetch(
        "steps", queryset=JourneyStep.objects.filter(is_removed=False).order_by("position", "pk"), to_attr="live_steps"
    )


def journey_rows() -> QuerySet[Journey]:
    """The journey list: each journey with its enrolment counts, in one aggregate query, newest first."""
    return Journey.objects.annotate(**COUNTS).order_by("-created_at", "-pk")


def journeys() -> QuerySet[Journey]:
    """Journeys, newest first, each with its enrolment counts (one aggregate query) and its live steps (one more)."""
    return (
        Journey.objects.select_related("created_by")
        .annotate(**COUNTS)
        .prefetch_related(live_steps_prefetch())
        .order_by("-created_at", "-pk")
    )


def enrolments(journey_pk: int) -> QuerySet[Enrolment]:
    """A journey's enrolments, newest first, each with its customer and its step log (runs oldest first, with the
    step and the message they sent): three queries per page whatever its size."""
    return (
        Enrolment.objects.filter(journey_id=journey_pk)
        .select_related("customer")
        .prefetch_related(
            Prefetch(
                "runs",
                queryset=StepRun.objects.select_related("step", "message", "task").order_by("started_at", "pk"),
            )
        )
        .order_by("-pk")
    )
