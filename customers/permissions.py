"""Who may do what with customers (DESIGN.md "Roles"), built on config.roles.

Everyone signed in (staff member) reads. Marketing, sales and service create and edit customers.
Only managers (and admins) merge and undo merges. Marketing, managers and admins import.
Orders (create, change, cancel; DESIGN.md "sales and service create orders"): sales, service, managers, admins.
Products (the commerce catalogue; everyone reads it): sales managers, marketing managers and admins write it —
sales sells from it and marketing promotes it, so their managers keep it; service and staff without a manager
role do not. Channels, campaigns, channel spend: marketing, managers, admins.
Loyalty points: any department's staff redeem them, managers (of any department) adjust them with a reason;
admins set the tiers' thresholds.

Account teams (`TEAM`, the object an AccountTeamMember, saved or about to be): a department's manager adds and
removes the people of their department in any role (account owner too), an admin anyone; a staff member adds
and removes only themselves, in their own department's role. Without a member (or with the customer), TEAM asks
whether the user may use the team form at all (every staff member may, for themselves).
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from config import roles
from customers.models import AccountTeamMember

VIEW = "view"
CREATE = "create"
CHANGE = "change"
MERGE = "merge"
UNDO_MERGE = "undo_merge"
IMPORT = "import"
EXPORT = "export"
ORDER_WRITE = "order_write"
PRODUCT_WRITE = "product_write"  # create, change, delete products
MARKETING_WRITE = "marketing_write"  # channels, campaigns, channel spend
TEAM = "team"  # add or remove an account team member
POINTS_REDEEM = "points_redeem"  # a customer's loyalty points: any department's staff
POINTS_ADJUST = "points_adjust"  # a correction with a reason: any department's manager
LOYALTY_TIERS = "loyalty_tiers"  # the tiers' thresholds: admins only (DESIGN.md "Roles")

ACTIONS = (VIEW, CREATE, CHANGE, MERGE, UNDO_MERGE, IMPORT, EXPORT, ORDER_WRITE, PRODUCT_WRITE, MARKETING_WRITE, TEAM)
ACTIONS += (POINTS_REDEEM, POINTS_ADJUST, LOYALTY_TIERS)


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
        return manager or department in (roles.SALES, roles.SERVICE)
    if action == PRODUCT_WRITE:
        return manager and department in (roles.SALES, roles.MARKETING)
    if action == MARKETING_WRITE:
        return manager or department == roles.MARKETING
    if action == POINTS_REDEEM:
        return department is not None
    if action == POINTS_ADJUST:
        return manager
    if action == LOYALTY_TIERS:
        return False  # admins, who passed above
    if action == TEAM:
        if not isinstance(obj, AccountTeamMember):  # the team form of a customer page
            return department is not None
        return _may_change_team_member(user, department, obj)
    raise ValueError(f"unknown action {action!r}")


def member_department(member) -> str | None:
    """The department of an account team member's person: annotated by selectors.account_team (no query per
    row), else read from the person's groups."""
    if hasattr(member, "member_department"):
        return member.member_department
    return roles.department_of(member.user)


def _may_change_team_member(user, department: str | None, member) -> bool:
    if roles.is_manager_of(user, member_department(member)):
        return True
    return member.user_id == user.pk and department is not None and member.role == department


def require(user, action: str, obj=None) -> None:
    if not can(user, action, obj):
        raise PermissionDenied(_("You are not allowed to do this with customers."))


def allowed_actions(user, obj=None) -> frozenset[str]:
    """For templates: the actions this user may take (one groups query, cached on the user)."""
    return frozenset(a for a in ACTIONS if can(user, a, obj))
