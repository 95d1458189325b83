"""Refusals of lead rules; each carries a stable code and names its field (see config.errors)."""

from config.errors import Conflict, DomainError, ObjectChanged
from leads.stages import InvalidTransition

__all__ = ["HandoffIncomplete", "InvalidTransition", "LeadChanged", "LeadRuleError", "PoolConflict"]


class LeadRuleError(DomainError):
    """Bad input for a lead rule (missing reason, amount, a non-sales assignee …)."""

    status, code = 400, "invalid"


class HandoffIncomplete(DomainError):
    status, code = 400, "handoff_incomplete"


class LeadChanged(ObjectChanged):
    """Someone else changed the lead between the user's read and this write."""

    status, code = 409, "lead_changed"


class PoolConflict(Conflict):
    """A pool claim that lost the race, or a former owner inside the reclaim cooldown."""

    status, code = 409, "pool_conflict"
