"""Page conventions every app's views share: the staff gate, a service refusal shown on its form field, and the
status of a page re-rendered with that refusal (STYLE.md "Services", "Templates, htmx, i18n")."""

import functools
import re
from collections.abc import Callable, Mapping

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from config import roles
from config.errors import DomainError

STAFF_ONLY = _("These pages are for staff of marketing, sales and service.")


def staff_required(view=None, *, message=STAFF_ONLY):
    """Signed in (else the login page) and a staff member, a department's or an admin (else the 403 page).

    `@staff_required` or `@staff_required(message=_("…"))`, the reason the 403 page gives. Object-level rules stay
    with each app's `permissions.require()`."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if not roles.is_staff_member(request.user):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorate(view) if view is not None else decorate


FieldMap = Callable[[str], str | None] | Mapping[str, str | None] | None
_INDEX = re.compile(r"\[\d+\]")


def form_error(form, error: DomainError, field_map: FieldMap = None) -> None:
    """Attach a service refusal to the form field its `field` names, or to the whole form when it has none.

    `field_map` turns the service's field path into the form's field name, as a mapping or a callable (the customer
    form maps "identities[2].value" to the field of that identity's kind). Without one, or when the mapped name is
    not a field, the last part of a dotted path is tried ("contact.phone" → "phone", "items[0].qty" → "qty")."""
    name = error.field or ""
    if callable(field_map):
        name = field_map(name) or ""
    elif field_map is not None:
        name = field_map.get(name, name) or ""
    if name not in form.fields:
        name = _INDEX.sub("", name.rsplit(".", 1)[-1])
    form.add_error(name if name in form.fields else None, error.message)


def error_status(request, error: DomainError) -> int:
    """The status of a page re-rendered with a service refusal shown in place: one rule for every app.

    The refusal's own status (`DomainError.status`: 409 conflict, 410 gone, 412 stale); a rule error about a
    submitted form (400) is a form error, 422 as every form error is. htmx swaps 2xx and 422 only (base.html), so
    an htmx request gets 422 whatever the refusal: otherwise the message would never show."""
    if getattr(request, "htmx", False):
        return 422
    if error.status == 400 and request.method == "POST":
        return 422
    return error.status
