"""The DRF permission every marketing viewset uses: reads for every staff member, writes by role."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from config import roles
from marketing import permissions


class MarketingPermission(BasePermission):
    """`write_actions` on the view maps a view action (create, bulk, activate…) to the marketing.permissions
    action it needs; a write not listed is refused. The services check again (and per object)."""

    def has_permission(self, request, view):
        if not roles.is_staff_member(request.user):
            return False
        if request.method in SAFE_METHODS:
            return True
        action = getattr(view, "write_actions", {}).get(view.action, "")
        return bool(action) and permissions.can(request.user, action)
