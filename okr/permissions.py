"""Who may do what with OKRs (DESIGN.md "Roles"): everyone signed in reads every board; a department's
manager (and an admin) edits that department's objectives and key results; an objective's owner checks in."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from config import roles

EDIT_ACTIONS = frozenset(
    {
        "add_objective",
        "change_objective",
        "delete_objective",
        "add_key_result",
        "change_key_result",
        "delete_key_result",
    }
)


def _department(obj) -> str | None:
    """The department an objective, key result or check-in belongs to (or a department code itself)."""
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "department"):
        return obj.department
    if hasattr(obj, "objective"):
        return obj.objective.department
    return obj.key_result.objective.department


def can(user, action: str, obj=None) -> bool:
    if not roles.is_staff_member(user):
        return False
    if action == "view":
        return True
    department = _department(obj)
    if action in EDIT_ACTIONS:
        # Without an object (admin changelist, "new" buttons): any manager may try; the object decides.
        return roles.is_manager(user) if department is None else roles.is_manager_of(user, department)
    if action == "check_in":
        if department is None:
            return True
        key_result = obj if hasattr(obj, "objective") else None
        owner_id = key_result.objective.owner_id if key_result is not None else None
        return roles.is_manager_of(user, department) or owner_id == user.pk
    if action == "add_review_note":
        # A finding or an action of the quarterly review: a department's manager for its department, an admin for
        # any; without a department (the review page's form), any manager.
        return roles.is_manager(user) if department is None else roles.is_manager_of(user, department)
    if action in ("change_check_in", "delete_check_in"):
        if department is None:
            return roles.is_manager(user)
        return roles.is_manager_of(user, department) or obj.by_id == user.pk
    return False


def require(user, action: str, obj=None) -> None:
    if not can(user, action, obj):
        if action == "add_review_note":
            raise PermissionDenied(_("Only a department's manager adds its review findings and actions."))
        raise PermissionDenied(_("Only the department's manager (or the objective's owner) may do this."))
