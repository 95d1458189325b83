"""Keyset (seek) pagination for pages: the last page costs what the first does, and no COUNT(*) runs."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.utils.http import urlencode

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


@dataclass
class KeysetPage:
    """One page of a keyset (seek) pagination: no OFFSET, no COUNT(*). Iterating the page iterates its rows."""

    rows: list
    next_after: int | str | None
    previous_before: int | str | None
    size: int

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)


class KeysetOrder:
    """A page order: `"-pk"`, `"pk"`, a model field (`"due_at"`, `"-opened_at"`) or an annotation of the queryset
    (`"-sort_stage"`, a stage's place in the pipeline), ties broken by pk the same way.

    Nulls come last in reading order. A cursor is the row's pk when ordering by pk, else "<value>,<pk>" (the pk
    alone for a null value). Keep an index on the field: the seek is a range scan on it."""

    def __init__(self, queryset, order: str):
        model = queryset.model
        self.descending = order.startswith("-")
        name = order.removeprefix("-")
        self.field, self.name = None, name
        if name in queryset.query.annotations:
            self.field = queryset.query.annotations[name].output_field
        elif name not in ("pk", model._meta.pk.name):
            self.field = model._meta.get_field(name)
            self.name = self.field.attname

    def order_by(self, *, backwards: bool = False) -> list:
        descending = self.descending != backwards
        pk = "-pk" if descending else "pk"
        if self.field is None:
            return [pk]
        # Only a nullable field gets NULLS FIRST/LAST: on a NOT NULL one it could keep PostgreSQL off the index.
        nulls = ({"nulls_first": True} if backwards else {"nulls_last": True}) if self.field.null else {}
        column = F(self.name)
        return [column.desc(**nulls) if descending else column.asc(**nulls), pk]

    def cursor(self, row) -> int | str:
        """The cursor of a model instance, or of a `.values()` row holding "pk" (and the order's field)."""
        plain = isinstance(row, dict)
        pk = row["pk"] if plain else row.pk
        if self.field is None:
            return pk
        value = row[self.name] if plain else getattr(row, self.name)
        if value is None:
            return str(pk)
        return f"{value.isoformat() if hasattr(value, 'isoformat') else value},{pk}"

    def seek(self, cursor, *, backwards: bool = False) -> Q:
        """The rows after the cursor's row in reading order (before it, `backwards`). ValueError or
        ValidationError when the cursor is malformed."""
        beyond = "lt" if self.descending != backwards else "gt"
        if self.field is None:
            return Q(**{f"pk__{beyond}": int(cursor)})
        raw, comma, pk = str(cursor).rpartition(",")
        value, pk, name = (self.field.to_python(raw) if comma else None), int(pk), self.name
        if value is None:  # the cursor's row is among the nulls, which come last
            among_nulls = Q(**{f"{name}__isnull": True, f"pk__{beyond}": pk})
            return Q(**{f"{name}__isnull": False}) | among_nulls if backwards else among_nulls
        seek = Q(**{f"{name}__{beyond}": value}) | Q(**{name: value, f"pk__{beyond}": pk})
        if self.field.null and not backwards:
            seek |= Q(**{f"{name}__isnull": True})
        return seek


def keyset_page(queryset, *, after=None, before=None, size=DEFAULT_PAGE_SIZE, order: str = "-pk") -> KeysetPage:
    """The page of `queryset` in `order` (newest first by default) after the cursor `after`, or before `before`.

    Raises ValueError or ValidationError on a malformed cursor or size."""
    size = max(1, min(int(size or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    key = KeysetOrder(queryset, order)
    if before:
        backwards = queryset.filter(key.seek(before, backwards=True)).order_by(*key.order_by(backwards=True))
        rows = list(backwards[: size + 1])
        has_more_before = len(rows) > size
        rows = list(reversed(rows[:size]))
        next_after = key.cursor(rows[-1]) if rows else None
        previous_before = key.cursor(rows[0]) if rows and has_more_before else None
        return KeysetPage(rows, next_after, previous_before, size)
    if after:
        queryset = queryset.filter(key.seek(after))
    rows = list(queryset.order_by(*key.order_by())[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    next_after = key.cursor(rows[-1]) if rows and has_more else None
    previous_before = key.cursor(rows[0]) if rows and after else None
    return KeysetPage(rows, next_after, previous_before, size)


def querystring_without_paging(request) -> str:
    """The request's filters as a query string, without the keys that pick a page."""
    params = request.GET.copy()
    for key in ("page", "after", "before"):
        params.pop(key, None)
    return params.urlencode()


def keyset_page_for(request, queryset, *, order: str = "-pk", size: int = DEFAULT_PAGE_SIZE) -> tuple[KeysetPage, dict]:
    """The page a list view's request asks for (`after`, `before`, `size`, else `size` rows), and the template's
    paging context for `_keyset_paging.html`: `querystring` (the filters), `next_url` and `previous_url`.
    A malformed cursor shows the first page. `order` as keyset_page's."""
    try:
        page = keyset_page(
            queryset,
            after=request.GET.get("after"),
            before=request.GET.get("before"),
            size=request.GET.get("size") or size,
            order=order,
        )
    except (ValueError, ValidationError):
        page = keyset_page(queryset, size=size, order=order)
    filters = querystring_without_paging(request)
    base = f"{request.path}?{filters}&" if filters else f"{request.path}?"
    return page, {
        "querystring": filters,
        "next_url": f"{base}{urlencode({'after': page.next_after})}" if page.next_after else "",
        "previous_url": f"{base}{urlencode({'before': page.previous_before})}" if page.previous_before else "",
    }
