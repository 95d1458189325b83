"""Keyset (seek) pagination for pages: the last page costs what the first does, and no COUNT(*) runs."""

from dataclasses import dataclass

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


@dataclass
class KeysetPage:
    """One page of a keyset (seek) pagination by descending pk: no OFFSET, no COUNT(*)."""

    rows: list
    next_after: int | None
    previous_before: int | None
    size: int


def keyset_page(queryset, *, after=None, before=None, size=DEFAULT_PAGE_SIZE) -> KeysetPage:
    size = max(1, min(int(size or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    if before:
        rows = list(queryset.filter(pk__gt=int(before)).order_by("pk")[: size + 1])
        has_more_before = len(rows) > size
        rows = list(reversed(rows[:size]))
        next_after = rows[-1].pk if rows else None
        previous_before = rows[0].pk if rows and has_more_before else None
        return KeysetPage(rows, next_after, previous_before, size)
    if after:
        queryset = queryset.filter(pk__lt=int(after))
    rows = list(queryset.order_by("-pk")[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    next_after = rows[-1].pk if rows and has_more else None
    previous_before = rows[0].pk if rows and after else None
    return KeysetPage(rows, next_after, previous_before, size)


def querystring_without_paging(request) -> str:
    """The request's filters as a query string, without the keys that pick a page."""
    params = request.GET.copy()
    for key in ("page", "after", "before"):
        params.pop(key, None)
    return params.urlencode()


def keyset_page_for(request, queryset) -> tuple[KeysetPage, dict]:
    """The page a list view's request asks for (`after`, `before`, `size`), and the template's paging context:
    `querystring` (the filters), `next_url` and `previous_url`. A malformed cursor shows the first page."""
    try:
        page = keyset_page(
            queryset, after=request.GET.get("after"), before=request.GET.get("before"), size=request.GET.get("size")
        )
    except ValueError:
        page = keyset_page(queryset)
    filters = querystring_without_paging(request)
    base = f"{request.path}?{filters}&" if filters else f"{request.path}?"
    return page, {
        "querystring": filters,
        "next_url": f"{base}after={page.next_after}" if page.next_after else "",
        "previous_url": f"{base}before={page.previous_before}" if page.previous_before else "",
    }
