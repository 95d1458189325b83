from django.conf import settings
from rest_framework.permissions import BasePermission

from config import roles


class IsStaffMember(BasePermission):
    """Signed in, and in a department or an admin. Object rules are in each app's permissions.py."""

    def has_permission(self, request, view):
        return roles.is_staff_member(request.user)


class ApiDocsAccess(IsStaffMember):
    """The schema and the docs: staff members only, everyone when RELAY_PUBLIC_API_DOCS is on."""

    def has_permission(self, request, view):
        return settings.RELAY_PUBLIC_API_DOCS or super().has_permission(request, view)
