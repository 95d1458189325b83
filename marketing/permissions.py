"""Who may do what in marketing (DESIGN.md "Roles").

Everyone signed in reads. Marketing owns customer events, touchpoints, content, journeys, messages and
experiments; its managers (and an admin) also activate and pause journeys, declare experiment winners and
download channels' exclusion lists. Everything else is refused.
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from config import roles

READ = "view"
# What any member of marketing may do.
_MARKETING_ACTIONS = frozenset(
    {
        "event.create",
        "touchpoint.create",
        "content.create",
        "content.change",
        "journey.create",
        "journey.change",
        "message.send",
        "experiment.create",
        "experiment.change",
    }
)
# What only marketing's managers (and admins) may do.
_MANAGER_ACTIONS = frozenset({"journey.activate", "journey.pause", "experiment.declare", "overlap.export"})


def can(user, action: str, obj=None) -> bool:
    if not roles.is_staff_member(user):
        return False
    if action == READ:
        return True
    if not roles.in_department(user, roles.MARKETING):
        return False
    if action in _MANAGER_ACTIONS:
        return roles.is_manager_of(user, roles.MARKETING)
    return action in _MARKETING_ACTIONS


def require(user, action: str, obj=None) -> None:
    if not can(user, action, obj):
        raise PermissionDenied(_("Your role does not permit this action."))


def allowed_actions(user, obj=None, actions: tuple[str, ...] = ()) -> set[str]:
    return {a for a in actions if can(user, a, obj)}
