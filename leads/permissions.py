"""Who may do what with leads (DESIGN.md "Roles"), built on config.roles.

Permissions answer "may this person act on this lead at all" (role, department, ownership).
Whether the lead's stage allows the move is the state machine's business (leads.stages.NEXT):
a refusal here is a 403, a refusal there a 409.

* everyone signed in reads leads and adds notes;
* marketing creates leads, and edits and hands off the ones it created while they are new
  (the marketing manager: every lead in a marketing stage);
* sales accepts, rejects, moves, closes and flags the leads it owns, sets their next step, and claims pool
  leads (the sales manager: every sales lead, plus assigning and reassigning owners);
* the deal value is marketing's estimate while it may edit the lead, then the owner's (or the sales
  manager's) while the lead is open in sales;
* an admin (superuser) may do everything.
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from config import roles
from leads.stages import MARKETING_STAGES, SALES_OPEN_STAGES

VIEW = "view"
CREATE = "create"
EDIT = "edit"
HANDOFF = "handoff"
ACCEPT = "accept"
REJECT = "reject"
CLAIM = "claim"
MOVE = "move"
CLOSE = "close"
FLAG_HIGH_INTENT = "flag_high_intent"
ASSIGN = "assign"
ADD_ACTIVITY = "add_activity"
NEXT_STEP = "next_step"
CREATE_TAG = "create_tag"
DELETE = "delete"
SET_DEAL_VALUE = "set_deal_value"

ACTIONS = (
    VIEW,
    CREATE,
    EDIT,
    HANDOFF,
    ACCEPT,
    REJECT,
    CLAIM,
    MOVE,
    CLOSE,
    FLAG_HIGH_INTENT,
    ASSIGN,
    ADD_ACTIVITY,
    NEXT_STEP,
    CREATE_TAG,
    DELETE,
    SET_DEAL_VALUE,
)
# Sales actions an owner (or a sales manager) takes on a lead.
_OWNER_ACTIONS = frozenset({ACCEPT, REJECT, MOVE, CLOSE, FLAG_HIGH_INTENT, NEXT_STEP})


def _marketing_may_work(user, lead) -> bool:
    if roles.is_manager_of(user, roles.MARKETING):
        return True
    return roles.department_of(user) == roles.MARKETING and lead is not None and lead.created_by_id == user.pk


def _sales_may_work(user, lead) -> bool:
    if roles.is_manager_of(user, roles.SALES):
        return True
    return roles.department_of(user) == roles.SALES and lead is not None and lead.owner_id == user.pk


def can(user, action: str, lead=None) -> bool:
    if action not in ACTIONS:
        raise ValueError(f"unknown lead action {action!r}")
    if not roles.is_staff_member(user):
        return False
    if getattr(user, "is_superuser", False):
        return True
    department = roles.department_of(user)
    if action in (VIEW, ADD_ACTIVITY):
        return True
    if action == CREATE:
        return department == roles.MARKETING
    if action == CREATE_TAG:
        return department in (roles.MARKETING, roles.SALES)
    if action == EDIT:
        # Marketing edits only before handoff; after that the package is what sales received.
        return lead is not None and lead.stage in MARKETING_STAGES and _marketing_may_work(user, lead)
    if action == HANDOFF:
        # Without a lead: whether they hand off leads at all (the lead list's bulk handoff), each lead then checked.
        return _marketing_may_work(user, lead) if lead is not None else department == roles.MARKETING
    if action == SET_DEAL_VALUE:
        if lead is not None and lead.stage in MARKETING_STAGES:
            return _marketing_may_work(user, lead)
        return lead is not None and lead.stage in SALES_OPEN_STAGES and _sales_may_work(user, lead)
    if action == CLAIM:
        return department == roles.SALES
    if action == ASSIGN:
        return roles.is_manager_of(user, roles.SALES)
    if action in _OWNER_ACTIONS:
        return _sales_may_work(user, lead)
    return False  # DELETE: admins only


def require(user, action: str, lead=None) -> None:
    if not can(user, action, lead):
        raise PermissionDenied(_("Your role does not allow this action on this lead."))
