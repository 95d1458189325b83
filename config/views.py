import math
import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from config import lists, notifications, outbox, pickers, roles, saved_views, tokens
from config import search as global_search
from config.api.problems import problem, problem_json, request_limit_problem
from config.errors import DomainError
from config.forms import ApiTokenForm
from config.home import panels_for
from config.models import Notification, SavedView
from config.pages import staff_required
from config.pagination import keyset_page_for


@login_required
def home(request):
    """The person's own start page: the panels the apps registered (config.home) that have something for them."""
    department = roles.department_of(request.user)
    context = {"department_label": roles.DEPARTMENT_LABELS.get(department), "panels": panels_for(request)}
    return render(request, "home.html", context)


def _unread_groups(request) -> list:
    """The user's unread notifications by kind; their total is also the bell's count (no second query)."""
    groups = notifications.unread_by_kind(request.user)
    request.relay_unread_notifications = sum(group.count for group in groups)
    return groups


@login_required
def notification_list(request):
    """The user's own inbox (any signed-in user has one): the unread grouped by kind, then every notification
    (of the kind picked, if any) newest first: created_at follows pk."""
    kind = request.GET.get("kind", "")[:50]
    groups = _unread_groups(request)
    page, paging = keyset_page_for(request, notifications.inbox(request.user, kind=kind), size=30)
    context = {"page": page, **paging, "groups": groups, "kind": kind, "kind_label": notifications.kind_label(kind)}
    return render(request, "notifications.html", context)


@login_required
@require_GET
def notification_menu(request):
    """htmx: the bell's dropdown, the unread notifications grouped by kind with the newest few of each."""
    return render(request, "_notification_menu.html", {"groups": _unread_groups(request)})


@login_required
@require_http_methods(["GET", "POST"])
def notification_open(request, pk: int):
    """Mark one of the user's own notifications read and go where it points (on this site only); anyone else's
    notification is a 404."""
    try:
        notification = notifications.open_notification(user=request.user, notification_id=pk)
    except Notification.DoesNotExist:
        raise Http404(_("No such notification.")) from None
    target = notification.url
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "notifications"  # never bounce to another site
    return redirect(target)


@login_required
@require_POST
def notifications_mark_read(request):
    """Mark one notification (`id`), every unread one of a `kind`, or all unread read."""
    raw = request.POST.get("id")
    notifications.mark_read(
        user=request.user,
        notification_id=int(raw) if raw and raw.isdigit() else None,
        kind=request.POST.get("kind", "")[:50],
    )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "notifications"  # never bounce to another site
    return redirect(target)


def login_locked_out(request, *_):
    """The login page's answer once a username is locked out from this address (settings AXES_LOCKOUT_CALLABLE;
    django-axes also passes the page's own answer and the credentials)."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(request, "registration/locked_out.html", {"minutes": math.ceil(seconds / 60)}, status=429)
    response["Retry-After"] = str(seconds)
    return response


@login_required
@never_cache  # the answer to a POST carries the new token
def api_tokens(request):
    """The user's own API tokens. A new token is shown in the answer that makes it, and never again."""
    form = ApiTokenForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        token, plain = tokens.issue_token(user=request.user, days=form.cleaned_data["days"])
        created = {"token": plain, "expiry": token.expiry}
        form = ApiTokenForm()
    context = {"form": form, "tokens": tokens.tokens_of(request.user), "created": created, "now": timezone.now()}
    return render(request, "api_tokens.html", context, status=422 if form.errors else 200)


@login_required
@require_POST
def api_token_revoke(request):
    """Only the owner's own tokens are found here: anyone else's is a 404 (admins revoke those in the admin)."""
    token = get_object_or_404(tokens.tokens_of(request.user), digest=request.POST.get("token", ""))
    tokens.revoke_token(token=token, by=request.user)
    messages.success(request, _("Token revoked: requests with it are refused from now on."))
    return redirect("api-tokens")


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


def bad_request(request, exception=None):
    """Django's 400 for a request it could not read, e.g. a body over the limit read by a middleware before DRF:
    problem details under /api/ (413 for the body), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        body = request_limit_problem(exception) or problem(400, detail=_("The request failed."), code="bad_request")
        return problem_json(body)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    return render(request, "403.html", {"reason": str(exception or "")}, status=403)


_FIELD_NAME = re.compile(r"[\w-]{1,64}")


@staff_required
def pick(request, kind: str):
    """htmx: the options of a picker (config.pickers) for the typed text, as radio buttons named `field`."""
    picker = pickers.get(kind)
    field = request.GET.get("field", "")
    if picker is None:
        raise Http404(_("No such picker."))
    if not _FIELD_NAME.fullmatch(field):
        return HttpResponseBadRequest(_("Name the form field the options are for."))
    typed = request.GET.get("pick", "").strip()[:100]
    options = picker.search(typed, pickers.LIMIT) if len(typed) >= pickers.MIN_CHARS else []
    return render(request, "_picker_options.html", {"options": options, "field": field, "q": typed})


# --- global search (config.search) and saved views (config.lists) -----------------------------------------------


@staff_required
@require_GET
@vary_on_headers("HX-Request")
def search(request):
    """The top bar's search: customers, leads and complaints matching `q` (one query per kind). htmx asks for the
    dropdown under the box; without JavaScript the box submits here and gets the whole results page."""
    typed = request.GET.get("q", "")
    dropdown = bool(request.htmx)
    groups = global_search.search(typed, limit=global_search.MENU_LIMIT if dropdown else global_search.LIMIT)
    context = {"q": global_search.clean(typed), "typed": typed.strip(), "groups": groups, "dropdown": dropdown}
    return render(request, "_search_results.html" if dropdown else "search.html", context)


def _back_to_list(list_key: str, query: str = ""):
    url = lists.url_of(list_key)
    return redirect(f"{url}?{query}" if query else url)


@staff_required
@require_POST
def saved_view_create(request):
    """Save the list's current filters and sort under a name, for the person alone; back to the list showing it."""
    list_key = request.POST.get("list_key", "")
    if lists.url_of(list_key) is None:
        raise Http404(_("No such list."))
    query = request.POST.get("query_string", "")
    try:
        view = saved_views.save_view(
            by=request.user, list_key=list_key, name=request.POST.get("name", ""), query_string=query
        )
    except DomainError as error:
        messages.error(request, error.message)
        return _back_to_list(list_key, query)
    messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    return _back_to_list(list_key, view.query_string)


@staff_required
@require_POST
def saved_view_delete(request, pk: int):
    """Delete one of the person's own views; anyone else's is a 404."""
    view = get_object_or_404(SavedView, pk=pk, user=request.user)
    saved_views.delete_view(by=request.user, view=view)
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return _back_to_list(view.list_key) if lists.url_of(view.list_key) else redirect("home")
