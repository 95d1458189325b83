"""Who may do what with customers (DESIGN.md "Roles"), built on config.roles.

Everyone signed in (staff member) reads. Marketing, sales and service create and edit customers.
Only managers (and admins) merge and undo merges. Marketing, managers and admins import.
Orders: sales, managers, admins. Channels, campaigns, channel spend: marketing, managers, admins.
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from config import roles

VIEW = "view"
CREATE = "create"
CHANGE = "change"
MERGE = "merge"
UNDO_MERGE = "undo_merge"
IMPORT = "import"
EXPORT = "export"
ORDER_WRITE = "order_write"
MARKETING_WRITE = "marketing_write"  # channels, campaigns, channel spend

ACTIONS = (VIEW, CREATE, CHANGE, MERGE, UNDO_MERGE, IMPORT, EXPORT, ORDER_WRITE, MARKETING_WRITE)


def can(user, action: str, obj=None) -> bool:
    if not roles.is_staff_member(user):
        return False
    if getattr(user, "is_superuser", False):
        return True
    department = roles.department_of(user)
    manager = roles.is_manager(user)
    if action in (VIEW, EXPORT):
        return True
    if action in (CREATE, CHANGE):
        return department is not None
    if action in (MERGE, UNDO_MERGE):
        return manager
    if action == IMPORT:
        # The import pages; each kind is then checked like creating its rows (customers.imports).
        return department is not None
    if action == ORDER_WRITE:
        return manager or department == roles.SALES
    if action == MARKETING_WRITE:
        return manager or department == roles.MARKETING
    raise ValueError(f"unknown action {action!r}")


def require(user, action: str, obj=None) -> None:
    if not can(user, action, obj):
        raise PermissionDenied(_("You are not allowed to do this with customers."))


def allowed_actions(user, obj=None) -> frozenset[str]:
    """For templates: the actions this user may take (one groups query, cached on the user)."""
    return frozenset(a for a in ACTIONS if can(user, a, obj))
