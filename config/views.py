from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config import notifications, outbox, roles
from config.pagination import keyset_page_for


@login_required
def home(request):
    department = roles.department_of(request.user)
    return render(request, "home.html", {"department_label": roles.DEPARTMENT_LABELS.get(department)})


@login_required
def notification_list(request):
    """The user's own inbox (any signed-in user has one), newest first: created_at follows pk."""
    page, paging = keyset_page_for(request, notifications.inbox(request.user), size=30)
    return render(request, "notifications.html", {"page": page, **paging})


@login_required
@require_POST
def notifications_mark_read(request):
    raw = request.POST.get("id")
    notifications.mark_read(user=request.user, notification_id=int(raw) if raw and raw.isdigit() else None)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "notifications"  # never bounce to another site
    return redirect(target)


def healthz(request):
    """For load balancers and monitors: 503 when the database, the worker or the interactive queue lags."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    health = outbox.health()
    return JsonResponse(health, status=200 if health["ok"] else 503)


@login_required
def status(request):
    if not request.user.is_staff:
        raise PermissionDenied(_("Only staff can see the system status."))
    health = outbox.health()
    return render(request, "status.html", {"health": health}, status=200 if health["ok"] else 503)


def permission_denied(request, exception=None):
    return render(request, "403.html", {"reason": str(exception or "")}, status=403)
