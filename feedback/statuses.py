"""Complaint status machine (DESIGN.md "Service loop"): the only transition table."""

from django.utils.translation import gettext as _

from feedback.errors import InvalidTransition
from feedback.models import ComplaintStatus as Status

# open → in_progress → resolved → closed; a resolved or closed complaint may be reopened.
NEXT: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset({Status.IN_PROGRESS}),
    Status.IN_PROGRESS: frozenset({Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.OPEN}),
    Status.CLOSED: frozenset({Status.OPEN}),
}
# States where the SLA clocks run and the customer can be waited on.
ACTIVE = frozenset({Status.OPEN, Status.IN_PROGRESS})


def allowed(current: str) -> list[str]:
    """Targets reachable from `current`, in the order the page draws them."""
    return [s for s in Status.values if s in NEXT[current]]


def ensure_allowed(current: str, to: str) -> None:
    if to not in Status.values or to not in NEXT[current]:
        raise InvalidTransition(
            _("A complaint that is %(current)s cannot move to %(to)s.")
            % {"current": Status(current).label, "to": Status(to).label if to in Status.values else to},
            field="status",
        )
