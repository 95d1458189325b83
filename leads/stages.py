"""Lead stages and the transition table (DESIGN.md "Lead lifecycle"). Only services apply it."""

from django.db import models
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


def ensure_allowed(current: str, to: str, *, from_stages=None) -> None:
    """Raise InvalidTransition unless NEXT allows current → to (and, for an action that starts only in some
    stages, e.g. handoff from new while recycling also reaches handed_off, current is one of `from_stages`)."""
    if to not in NEXT[current] or (from_stages is not None and current not in from_stages):
        raise InvalidTransition(
            _("A lead in stage “%(current)s” cannot move to “%(to)s”.")
            % {"current": Stage(current).label, "to": Stage(to).label},
            field="stage",
        )
