"""Saved views: a person's named filters and sort of a list page, theirs alone (config.lists draws them)."""

from django.db import transaction
from django.http import QueryDict
from django.utils.translation import gettext as _

from config.errors import DomainError
from config.models import SavedView

# What picks a page, not a view: a saved view always opens on the first page.
_NOT_SAVED = ("after", "before", "page", "csrfmiddlewaretoken")
MAX_QUERY = SavedView._meta.get_field("query_string").max_length
MAX_NAME = SavedView._meta.get_field("name").max_length


def views_of(user, list_key: str):
    """The person's saved views of one list, by name (one query)."""
    return SavedView.objects.filter(user=user, list_key=list_key).only("pk", "name", "query_string")


def _clean_query(query_string: str) -> str:
    params = QueryDict(query_string or "", mutable=True)
    for name in _NOT_SAVED:
        params.pop(name, None)
    return params.urlencode()


@transaction.atomic
def save_view(*, by, list_key: str, name: str, query_string: str) -> SavedView:
    """Save the list's filters and sort under `name` for `by`; a name they already use for that list is
    replaced. Raises DomainError naming `name` (empty or too long) or `query_string` (too long)."""
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Name the view."), field="name", code="required")
    if len(name) > MAX_NAME:
        raise DomainError(_("Use at most %(max)s characters.") % {"max": MAX_NAME}, field="name", code="max_length")
    query = _clean_query(query_string)
    if len(query) > MAX_QUERY:
        raise DomainError(_("These filters are too long to save."), field="query_string", code="max_length")
    view, _created = SavedView.objects.update_or_create(
        user=by, list_key=list_key, name=name, defaults={"query_string": query}
    )
    return view


@transaction.atomic
def delete_view(*, by, view: SavedView) -> None:
    """Delete one of `by`'s own views (another person's is never found: the caller looks it up among `by`'s)."""
    SavedView.objects.filter(pk=view.pk, user=by).delete()
