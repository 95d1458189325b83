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
