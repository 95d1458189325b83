"""Who may do what in the service loop (DESIGN.md "Roles").

Everyone signed in reads. Service staff manage complaints and NPS; a service user acts on the complaints
they own or that nobody owns yet; the service manager (and an admin) acts on all and reassigns owners.
Marketing acknowledges the insights routed to it. Everything else is refused. Follow-ups are tasks: who works
them is config.todo's rule.
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from config import roles

READ = "view"
# Actions on the department as a whole (no object needed).
_SERVICE_ACTIONS = frozenset(
    {
        "complaint.create",
        "nps.create",
        "invitation.create",
        "insight.create",
    }
)
# Actions on one owned record.
_OWNED_ACTIONS = frozenset({"complaint.change", "complaint.transition", "complaint.pause"})


def _is_service_manager(user) -> bool:
    return roles.is_manager_of(user, roles.SERVICE)


def can(user, action: str, obj=None) -> bool:
    if not roles.is_staff_member(user):
        return False
    if action == READ:
        return True
    if action == "insight.acknowledge":
        return roles.in_department(user, roles.MARKETING)
    if not roles.in_department(user, roles.SERVICE):
        return False
    if _is_service_manager(user):
        return True
    if action in _SERVICE_ACTIONS:
        return True
    if action in _OWNED_ACTIONS:
        owner_id = getattr(obj, "owner_id", None) if obj is not None else None
        return owner_id is None or owner_id == user.pk
    if action == "complaint.assign":
        # A service user may take an unowned complaint for themselves; reassigning is the manager's.
        return obj is not None and obj.owner_id is None
    return False


def require(user, action: str, obj=None) -> None:
    if not can(user, action, obj):
        raise PermissionDenied(_("Your role does not permit this action."))


def allowed_actions(user, obj=None, actions: tuple[str, ...] = ()) -> set[str]:
    return {a for a in actions if can(user, a, obj)}
