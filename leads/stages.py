"""Lead stages, the transition table and the stage rules (DESIGN.md "Lead lifecycle").

Services apply them; selectors, filters and pages read them; nothing else restates them.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Case, IntegerField, Q, Value, When
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from config.errors import DomainError


class Stage(models.TextChoices):
    NEW = "new", pgettext_lazy("lead stage", "New")
    HANDED_OFF = "handed_off", _("Handed off")
    ACCEPTED = "accepted", _("Accepted")
    CONTACTED = "contacted", _("Contacted")
    QUALIFIED = "qualified", _("Qualified")
    PROPOSAL = "proposal", _("Proposal")
    NEGOTIATION = "negotiation", _("Negotiation")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class InvalidTransition(DomainError):
    status, code = 409, "invalid_transition"


PIPELINE = (Stage.ACCEPTED, Stage.CONTACTED, Stage.QUALIFIED, Stage.PROPOSAL, Stage.NEGOTIATION)
MOVABLE = (Stage.CONTACTED, Stage.QUALIFIED, Stage.PROPOSAL, Stage.NEGOTIATION)
OPEN_STAGES = (Stage.NEW, Stage.HANDED_OFF, *PIPELINE)
CLOSED_STAGES = (Stage.WON, Stage.LOST)
MARKETING_STAGES = (Stage.NEW,)
# Stages in which sales holds the lead (pool or owner), open or closed.
SALES_STAGES = (Stage.HANDED_OFF, *PIPELINE, *CLOSED_STAGES)
# Board columns, in pipeline order.
BOARD_STAGES = (Stage.NEW, Stage.HANDED_OFF, *PIPELINE, *CLOSED_STAGES)


def stage_rank() -> Case:
    """A lead's stage as its place in pipeline order (BOARD_STAGES: new 0 … lost 8), for lists sorted by stage;
    the lead table indexes this very expression (leads_lead_stage_rank_idx)."""
    return Case(
        *[When(stage=stage.value, then=Value(rank)) for rank, stage in enumerate(BOARD_STAGES)],
        output_field=IntegerField(),
    )


# The chance, in whole percent, that a lead in each stage ends won: the board weighs each column's deal value by
# it (the weighted pipeline). New leads are marketing's and count for nothing yet; won is certain, lost is gone.
WIN_PROBABILITY: dict[str, int] = {
    Stage.NEW: 0,
    Stage.HANDED_OFF: 5,
    Stage.ACCEPTED: 10,
    Stage.CONTACTED: 20,
    Stage.QUALIFIED: 40,
    Stage.PROPOSAL: 60,
    Stage.NEGOTIATION: 80,
    Stage.WON: 100,
    Stage.LOST: 0,
}

# How far a lead can get, in order (the funnel); lost is a way out, not progress.
PROGRESS = (Stage.NEW, Stage.HANDED_OFF, *PIPELINE, Stage.WON)


def further(current: str, reached: str) -> str:
    """The later of two stages in PROGRESS; reaching lost (or moving back) never lowers it."""
    if reached not in PROGRESS:
        return current
    return reached if PROGRESS.index(reached) > PROGRESS.index(current) else current


NEXT: dict[str, frozenset[str]] = {
    Stage.NEW: frozenset({Stage.HANDED_OFF}),
    Stage.HANDED_OFF: frozenset({Stage.ACCEPTED, Stage.NEW}),
    **{
        stage: frozenset(
            {*(s for s in MOVABLE if s != stage), Stage.WON, Stage.LOST, Stage.HANDED_OFF}
        )  # handed_off: recycled to the pool (system only, see services.recycle_stale_leads)
        for stage in PIPELINE
    },
    Stage.WON: frozenset(),
    Stage.LOST: frozenset(),
}


def stage_stamps(lead: Mapping, to: str, at: datetime, *, by_person: bool) -> dict:
    """The lead fields a move to `to` at `at` sets, given the lead's current values (a Lead's __dict__ or the
    demo's rows). leads.services applies it to locked leads; the demo builds its history with it."""
    stamps = {
        "stage": to,
        "furthest_stage": further(lead.get("furthest_stage") or Stage.NEW, to),
        "stage_entered_at": at,
    }
    if to == Stage.HANDED_OFF:
        stamps["handed_off_at"] = at
        stamps["first_handed_off_at"] = lead.get("first_handed_off_at") or at
    elif to == Stage.ACCEPTED:
        stamps["accepted_at"] = at
    elif to == Stage.CONTACTED:
        stamps["contacted_at"] = lead.get("contacted_at") or at
    elif to in CLOSED_STAGES:
        stamps["closed_at"] = at
    if by_person:  # the system's own moves (recycling) are not activity
        stamps["last_activity_at"] = at
    return stamps


# Where each lead action may start. Services refuse it anywhere else (409) and pages draw its button only here.
SALES_OPEN_STAGES = (Stage.HANDED_OFF, *PIPELINE)
ACTION_STAGES: dict[str, tuple[str, ...]] = {
    "handoff": (Stage.NEW,),
    "accept": (Stage.HANDED_OFF,),
    "claim": (Stage.HANDED_OFF,),
    "reject": (Stage.HANDED_OFF,),
    "assign": SALES_OPEN_STAGES,
    "flag_high_intent": SALES_OPEN_STAGES,
    "next_step": SALES_OPEN_STAGES,
    "move": PIPELINE,
    "close": PIPELINE,
}


def may_start(action: str, stage: str) -> bool:
    return stage in ACTION_STAGES[action]


def ensure_action(action: str, stage: str, message=None) -> None:
    """Raise InvalidTransition unless `action` may start in `stage` (ACTION_STAGES)."""
    if not may_start(action, stage):
        raise InvalidTransition(
            message
            or _("A lead in stage “%(current)s” cannot be %(action)s.")
            % {"current": Stage(stage).label, "action": ACTION_LABELS[action]},
            field="stage",
        )


ACTION_LABELS = {
    "handoff": _("handed off"),
    "accept": _("accepted"),
    "claim": _("claimed"),
    "reject": _("rejected"),
    "assign": _("assigned"),
    "flag_high_intent": _("flagged high intent"),
    "next_step": _("given a next step"),
    "move": _("moved"),
    "close": _("closed"),
}


def ensure_allowed(current: str, to: str) -> None:
    """Raise InvalidTransition unless NEXT allows current → to."""
    if to not in NEXT[current]:
        raise InvalidTransition(
            _("A lead in stage “%(current)s” cannot move to “%(to)s”.")
            % {"current": Stage(current).label, "to": Stage(to).label},
            field="stage",
        )


# The pool: handed off to the sales queue, nobody owns it yet.
POOL = Q(stage=Stage.HANDED_OFF, owner__isnull=True)


def in_pool(stage: str, owner_id) -> bool:
    return stage == Stage.HANDED_OFF and owner_id is None


# SLA breaches: a handoff undecided for RELAY_HANDOFF_SLA_HOURS, an accepted lead not contacted for
# RELAY_CONTACT_SLA_HOURS.
def handoff_sla_breached(now: datetime) -> Q:
    return Q(stage=Stage.HANDED_OFF, handed_off_at__lt=now - timedelta(hours=settings.RELAY_HANDOFF_SLA_HOURS))


def handoff_sla_due(handed_off_at: datetime) -> datetime:
    """When a handoff made at `handed_off_at` breaches the acceptance SLA (handoff_sla_breached from then on)."""
    return handed_off_at + timedelta(hours=settings.RELAY_HANDOFF_SLA_HOURS)


def contact_sla_breached(now: datetime) -> Q:
    return Q(stage=Stage.ACCEPTED, accepted_at__lt=now - timedelta(hours=settings.RELAY_CONTACT_SLA_HOURS))


def sla_breached(now: datetime) -> Q:
    return handoff_sla_breached(now) | contact_sla_breached(now)
