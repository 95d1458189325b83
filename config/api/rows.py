"""List answers built from `.values()` rows, converted by the output serializer's own fields.

A ModelSerializer over model instances costs several times the query itself for a page of 200 rows (an
instance per row and per joined relation, then a field lookup per cell). Lists read the columns the serializer
names as plain rows instead, and only cells whose representation differs from the stored value (times,
decimals, dates) go through the serializer field's `to_representation`. The serializer stays the one
definition of the shape: the plan is derived from it, and tests compare both paths on the same rows.

What a row cannot carry (a list of related rows, a computed value) comes from a *fill*: given the page's rows,
one query (or none) for the whole page, returning `{pk: value}`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.http import Http404
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.settings import api_settings

from config.api.concurrency import etag_of

# Fields whose representation of a stored value is the value itself.
_AS_STORED = (
    serializers.IntegerField,
    serializers.CharField,
    serializers.BooleanField,
    serializers.ChoiceField,
    serializers.SlugRelatedField,
    serializers.PrimaryKeyRelatedField,
    serializers.JSONField,
)

Fill = Callable[[list[dict]], dict]  # the page's rows -> {pk: value}


def by_ids(fetch: Callable[[list[int]], dict]) -> Fill:
    """A fill from a selector that takes the page's primary keys."""

    def fill(rows: list[dict]) -> dict:
        return fetch([row["pk"] for row in rows])

    return fill


@dataclass(frozen=True)
class _Column:
    name: str
    lookup: str | None  # None: the value comes from a fill
    convert: Callable | None = None
    nested: tuple[_Column, ...] = ()


def _lookup(field) -> str:
    source = field.source.replace(".", "__")
    if isinstance(field, serializers.SlugRelatedField):
        return f"{source}__{field.slug_field}"
    return source


class _Moment:
    """DRF's ISO 8601 representation of an aware datetime, with the time zone read once per page, not per cell."""


def _converter(field) -> Callable | type[_Moment] | None:
    if isinstance(field, _AS_STORED):
        return None
    if (
        type(field) is serializers.DateTimeField
        and getattr(field, "format", api_settings.DATETIME_FORMAT).lower() == ISO_8601
        and not hasattr(field, "timezone")
    ):
        return _Moment
    return field.to_representation


def _moment_in(zone) -> Callable:
    def represent(value):
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return represent


def _columns(serializer, fills: Iterable[str]) -> tuple[_Column, ...]:
    columns = []
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        if name in fills:
            columns.append(_Column(name, None))
        elif isinstance(field, serializers.BaseSerializer):
            if field.source != "*" or isinstance(field, serializers.ListSerializer):
                raise TypeError(f"{type(serializer).__name__}.{name}: a nested list needs a fill")
            columns.append(_Column(name, "", nested=_columns(field, ())))
        elif isinstance(field, (serializers.SerializerMethodField, serializers.ManyRelatedField)):
            raise TypeError(f"{type(serializer).__name__}.{name}: a computed field needs a fill")
        else:
            columns.append(_Column(name, _lookup(field), _converter(field)))
    return tuple(columns)


@cache
def _plan(serializer_class, fills: frozenset[str]) -> tuple[_Column, ...]:
    return _columns(serializer_class(), fills)


def _lookups(columns: tuple[_Column, ...]) -> list[str]:
    found = []
    for column in columns:
        if column.nested:
            found.extend(_lookups(column.nested))
        elif column.lookup:
            found.append(column.lookup)
    return found


def _build(row: dict, columns: tuple[_Column, ...], filled: dict, pk, moment: Callable) -> dict:
    out = {}
    for column in columns:
        if column.nested:
            out[column.name] = _build(row, column.nested, filled, pk, moment)
        elif column.lookup is None:
            out[column.name] = filled[column.name].get(pk)
        else:
            value = row[column.lookup]
            if value is not None and column.convert is not None:
                value = moment(value) if column.convert is _Moment else column.convert(value)
            out[column.name] = value
    return out


def rows_queryset(queryset, serializer_class, *, fills: dict[str, Fill], extra: Iterable[str] = ()):
    """`queryset` as `.values()` dicts holding every column `serializer_class` shows, plus pk and `extra`."""
    columns = _plan(serializer_class, frozenset(fills))
    names = dict.fromkeys(["pk", *extra, *_lookups(columns)])  # each once, in order
    return queryset.prefetch_related(None).select_related(None).values(*names)


def render_rows(page: list[dict], serializer_class, *, fills: dict[str, Fill]) -> list[dict]:
    """The serializer's representation of each `.values()` row of `page`, in order."""
    columns = _plan(serializer_class, frozenset(fills))
    filled = {name: (fill(page) if page else {}) for name, fill in fills.items()}
    moment = _moment_in(timezone.get_current_timezone())
    return [_build(row, columns, filled, row["pk"], moment) for row in page]


class RowsListMixin:
    """`list()` and reads of one object answered from `.values()` rows (see module docstring); put it before
    ETagMixin. Set `list_fills` for what rows lack."""

    list_fills: dict[str, Fill] = {}

    def list(self, request, *args, **kwargs):
        serializer_class = self.get_serializer_class()
        fills = self.list_fills
        queryset = self.filter_queryset(self.get_queryset())
        ordering = self.paginator.get_ordering(request, queryset, self) if self.paginator else ()
        # The cursor reads each row's position from the row itself.
        positions = [name.lstrip("-") for name in ordering if name.lstrip("-") != "pk"]
        rows = rows_queryset(queryset, serializer_class, fills=fills, extra=positions)
        page = self.paginate_queryset(rows)
        data = render_rows(page if page is not None else list(rows), serializer_class, fills=fills)
        if page is not None:
            return self.get_paginated_response(data)
        return Response(data)

    def read_one(self) -> tuple[dict, str]:
        """ETagMixin's read from a row, when no permission of the view decides per object (else the instance)."""
        if not all(
            type(p).has_object_permission is BasePermission.has_object_permission for p in self.get_permissions()
        ):
            return super().read_one()
        serializer_class = self.get_serializer_class()
        queryset = self.filter_queryset(self.get_queryset())
        model = queryset.model
        try:
            model._meta.get_field("updated_at")
            stamp = ["updated_at"]
        except FieldDoesNotExist:
            stamp = []
        lookup = {self.lookup_field: self.kwargs[self.lookup_url_kwarg or self.lookup_field]}
        try:  # as DRF's get_object_or_404: a malformed id is not found
            rows = list(
                rows_queryset(queryset.filter(**lookup), serializer_class, fills=self.list_fills, extra=stamp)[:1]
            )
        except (TypeError, ValueError, ValidationError):
            raise Http404 from None
        if not rows:
            raise Http404
        row = rows[0]
        return render_rows(rows, serializer_class, fills=self.list_fills)[0], etag_of(
            model, row["pk"], row.get("updated_at")
        )
