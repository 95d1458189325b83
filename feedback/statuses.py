"""Complaint status machine (DESIGN.md "Service loop"): the only transition table."""

from datetime import datetime

from django.db.models import Q
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


# Overdue (DESIGN.md "Service loop"): an active complaint not waiting on the customer, past a due time it has
# not met; a follow-up not done by its due time. Lists, filters and the SLA alerts all use these.
def first_response_overdue(now: datetime) -> Q:
    return Q(
        status__in=ACTIVE, waiting_since__isnull=True, first_response_at__isnull=True, first_response_due_at__lt=now
    )


def resolution_overdue(now: datetime) -> Q:
    return Q(status__in=ACTIVE, waiting_since__isnull=True, resolution_due_at__lt=now)


def complaint_overdue(now: datetime) -> Q:
    return first_response_overdue(now) | resolution_overdue(now)


def follow_up_overdue(now: datetime) -> Q:
    return Q(done_at__isnull=True, due_at__lt=now)
