"""What every list page shares: column headers that sort (`?sort=`), the person's saved views and the CSV export
link, each keeping the page's filters.

A list is registered once by the app that owns it (`register` in the app's `subscriptions` module): its key (what
a saved view remembers) and the URL name of its page. Its sorts are the `ordering` SortFilter of its FilterSet
(config.filters), so the page's `?sort=`, its CSV export and the API's `?ordering=` take the same keys; a key the
list does not have shows the list in its default order (a page never fails on a stale bookmark).
"""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.http import urlencode

from config import saved_views
from config.filters import sort_filter_of
from config.pagination import KeysetOrder, querystring_without_paging

SORT_PARAM = "sort"

_lists: dict[str, str] = {}  # list key -> URL name of its page


def register(key: str, url_name: str) -> None:
    _lists[key] = url_name


def url_of(key: str) -> str | None:
    """The page of a registered list, None for an unknown key."""
    return reverse(_lists[key]) if key in _lists else None


@dataclass(frozen=True)
class Column:
    """A table column: its header, and the sort key it sorts by ("" when it does not sort). `descending`: the
    first click sorts newest, largest or latest first (dates, amounts), else A to Z."""

    label: str
    key: str = ""
    descending: bool = False


@dataclass(frozen=True)
class Sorting:
    key: str
    descending: bool
    order: str  # for config.pagination: "-updated_at", "sort_stage"
    param: str = ""  # as the request asked it ("-created"); "" for the default order


def sorted_rows(request, filterset_class, queryset, *, default: str):
    """The rows ready for the order the request's `?sort=` asks (the list's `default`, e.g. "-created", when it
    names no sort of this list) and that order."""
    sort = sort_filter_of(filterset_class)
    asked = sort.parse(request.GET.get(SORT_PARAM))
    key, descending = asked or sort.parse(default)
    queryset, order = sort.apply(queryset, key, descending)
    param = f"{'-' if descending else ''}{key}" if asked else ""
    return queryset, Sorting(key=key, descending=descending, order=order, param=param)


def in_order(queryset, sorting: Sorting):
    """The whole result in the page's order, ties broken by pk as the pages break them (CSV exports)."""
    return queryset.order_by(*KeysetOrder(queryset, sorting.order).order_by())


def headers(request, sorting: Sorting, columns: list[Column]) -> list[dict]:
    """Each column's header for templates/_sort_header.html: its label and, when it sorts, the link that sorts by
    it (the other way round when it is the current sort), with the page's filters and from the first page."""
    params = request.GET.copy()
    for name in ("after", "before", "page", SORT_PARAM):
        params.pop(name, None)
    base = params.urlencode()
    out = []
    for column in columns:
        header = {"label": column.label, "url": "", "state": ""}
        if column.key:
            current = column.key == sorting.key
            descending = not sorting.descending if current else column.descending
            param = f"{'-' if descending else ''}{column.key}"
            header["url"] = "?" + (f"{base}&" if base else "") + urlencode({SORT_PARAM: param})
            header["state"] = ("descending" if sorting.descending else "ascending") if current else ""
        out.append(header)
    return out


def list_context(request, *, key: str, sorting: Sorting, columns: list[Column], export_url: str = "") -> dict:
    """The template context a list page's tools need: the sortable headers, the current sort for the filter form
    to keep, the person's saved views of this list (one query) and the export link with the page's filters and
    sort."""
    query = querystring_without_paging(request)
    return {
        "headers": headers(request, sorting, columns),
        "sort_param": sorting.param,
        "list_key": key,
        "list_query": query,
        "saved_views": list(saved_views.views_of(request.user, key)),
        "export_url": f"{export_url}?{query}" if export_url and query else export_url,
    }
