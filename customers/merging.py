"""The rules a merge and its preview share, once: which profile values survive by default, and which of the
duplicate's account team members move. No queries here; services.merge_customers applies these under its row
locks and selectors.merge_preview shows them before the manager confirms."""

from __future__ import annotations

from customers.models import TeamRole

SURVIVOR, DUPLICATE = "survivor", "duplicate"
KEEP_CHOICES = (SURVIVOR, DUPLICATE)

# The profile values a manager chooses between; the others (source channel, dates, derived segments) stay the
# survivor's.
CHOICE_FIELDS = ("name", "company", "city", "language")

# Why a duplicate's team member stays on the tombstone instead of moving (undo then finds it there).
ALREADY_ON_TEAM = "already_on_team"
OWNER_TAKEN = "owner_taken"


def default_choices(survivor, duplicate) -> dict[str, str]:
    """Per choice field: the survivor's value when it has one, else the duplicate's."""
    return {
        field: SURVIVOR if getattr(survivor, field) or not getattr(duplicate, field) else DUPLICATE
        for field in CHOICE_FIELDS
    }


def team_collision(member, survivor_members) -> str:
    """ "" when the duplicate's `member` moves to the survivor's team, else why it cannot: the survivor already has
    that person in that role, or already has an account owner (one per customer). The duplicate's own members obey
    the same constraints, so checking each against the survivor's team alone is enough."""
    for other in survivor_members:
        if other.user_id == member.user_id and other.role == member.role:
            return ALREADY_ON_TEAM
    if member.role == TeamRole.ACCOUNT_OWNER and any(o.role == TeamRole.ACCOUNT_OWNER for o in survivor_members):
        return OWNER_TAKEN
    return ""
