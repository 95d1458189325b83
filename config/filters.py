"""Filter pieces every app's FilterSet shares.

Dates, times and ids in query strings follow the API's input rules (config.api.fields): a year outside
1900–2200, an offset beyond ±14:00 or an id that is not an integer is a 400 naming the filter, never a 500.
"""

from django import forms
from django.db.models import Expression
from django.utils.translation import gettext_lazy as _
from django_filters import (
    BooleanFilter,
    DateFilter,
    DateFromToRangeFilter,
    IsoDateTimeFilter,
    NumberFilter,
    OrderingFilter,
)
from django_filters.fields import DateRangeField, IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.widgets import BooleanWidget
from rest_framework.filters import OrderingFilter as DrfOrderingFilter
from rest_framework.settings import api_settings

from config import moments
from config.api.fields import MAX_ID


class AnyYesNoWidget(BooleanWidget):
    """true/false in the query string (as the API documents), shown as Any / Yes / No on pages."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("", _("Any")), ("true", _("Yes")), ("false", _("No"))]


class YesNoFilter(BooleanFilter):
    """A yes/no filter whose empty choice reads "Any" rather than django-filter's "Unknown"."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", AnyYesNoWidget)
        super().__init__(*args, **kwargs)


class MomentField(IsoDateTimeField):
    def to_python(self, value):
        moment = super().to_python(value)  # keeps the offset as sent
        if moment is not None:
            moments.validate(moment)
        return moment


class DayField(forms.DateField):
    def to_python(self, value):
        day = super().to_python(value)
        if day is not None:
            moments.validate(day)
        return day


class DayRangeField(DateRangeField):
    def compress(self, data_list):
        for day in data_list or ():
            if day:
                moments.validate(day)
        return super().compress(data_list)


class MomentFilter(IsoDateTimeFilter):
    """An ISO 8601 time (`ordered_after=2026-03-01T00:00:00+08:00`)."""

    field_class = MomentField


class DayFilter(DateFilter):
    field_class = DayField


class DayRangeFilter(DateFromToRangeFilter):
    """`<name>_after` / `<name>_before` dates, each day whole in the current zone."""

    field_class = DayRangeField


class IdFilter(NumberFilter):
    """A record by its integer id (`customer=12`): 1.5 is refused, not read as customer 1."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


SORT = "ordering"  # the FilterSet filter that holds a list's sorts (the API's ?ordering=)


class SortFilter(OrderingFilter):
    """A list's sortable columns, declared once on its FilterSet as `ordering`: the API's `?ordering=<key>`
    (ascending) or `-<key>` (descending) and the page's `?sort=` (config.lists) take the same keys.

    `columns` maps each key to a model field, or to an expression for an order no column holds (a stage in
    pipeline order), annotated as `sort_<key>`. One key at a time, the primary key breaking ties, so keyset and
    cursor pages stay exact; an index on each field keeps the seek a range scan. Hidden on pages' filter forms:
    the column headers sort there."""

    def __init__(self, *, columns: dict[str, str | Expression], labels: dict | None = None, **kwargs):
        self.columns = columns
        fields = {self._name(key): key for key in columns}
        field_labels = {self._name(key): label for key, label in (labels or {}).items()}
        kwargs.setdefault("label", _("Sort"))
        kwargs.setdefault("help_text", _("One key at a time; a leading minus sorts descending."))
        kwargs.setdefault("widget", forms.HiddenInput)
        super().__init__(fields=fields, field_labels=field_labels, **kwargs)

        class OneKeyField(self.field_class):  # django-filter's comma-separated field, held to one key
            def clean(self, value):
                keys = super().clean(value)
                if keys and len(keys) > 1:
                    raise forms.ValidationError(_("Sort by one key at a time."), code="invalid")
                return keys

        self.field_class = OneKeyField

    def _name(self, key: str) -> str:
        target = self.columns[key]
        return f"sort_{key}" if isinstance(target, Expression) else target

    def parse(self, param) -> tuple[str, bool] | None:
        """`"-updated"` → `("updated", True)`; None for anything that is not one key of this list."""
        param = str(param or "").strip()
        key = param.removeprefix("-")
        return (key, param.startswith("-")) if key in self.columns else None

    def order(self, key: str, descending: bool) -> str:
        """The order for config.pagination (`"-updated_at"`, `"sort_stage"`), ties to be broken by pk."""
        return f"{'-' if descending else ''}{self._name(key)}"

    def apply(self, queryset, key: str, descending: bool):
        """The queryset ready to be ordered by `key` (its expression annotated, once) and `order()`."""
        name, target = self._name(key), self.columns[key]
        if isinstance(target, Expression) and name not in queryset.query.annotations:
            queryset = queryset.annotate(**{name: target})
        return queryset, self.order(key, descending)

    def filter(self, qs, value):
        parsed = self.parse(value[0]) if value else None
        if parsed is None:
            return qs
        qs, order = self.apply(qs, *parsed)
        return qs.order_by(order, "-pk" if order.startswith("-") else "pk")


def sort_filter_of(filterset_class) -> SortFilter | None:
    """The SortFilter of a FilterSet class (its `ordering`), None when it has none."""
    sort = filterset_class.base_filters.get(SORT) if filterset_class is not None else None
    return sort if isinstance(sort, SortFilter) else None


def _view_sort(view) -> SortFilter | None:
    return sort_filter_of(getattr(view, "filterset_class", None))


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, building and validating a form of only the filters a request names (a filter
    without a value filters nothing, and each form field costs more than the page's query): none at all for a
    list asked for by cursor, page size, search or ordering alone. A filter whose query parameters carry a
    suffix (`created_after`, `created_before`) counts as named by them.

    `?ordering=` on a list whose FilterSet has a SortFilter is that filter's (an unknown key is a 400 naming
    `ordering`), and the cursor pages follow it (`get_ordering`); elsewhere it is DRF's OrderingFilter's, over
    the view's `ordering_fields`."""

    NOT_FILTERS = frozenset({"cursor", "page_size", "format", api_settings.SEARCH_PARAM, api_settings.ORDERING_PARAM})

    def _not_filters(self, view) -> frozenset[str]:
        return self.NOT_FILTERS - {SORT} if _view_sort(view) is not None else self.NOT_FILTERS

    def filter_queryset(self, request, queryset, view):
        if request.query_params.keys() <= self._not_filters(view):
            return queryset
        return super().filter_queryset(request, queryset, view)

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            named = request.query_params.keys() - self._not_filters(view)
            filterset.filters = {
                name: f
                for name, f in filterset.filters.items()
                if name in named or any(param.startswith(f"{name}_") for param in named)
            }
        return filterset

    def get_ordering(self, request, queryset, view):
        """The order of the cursor pages (StablePagination asks the first backend that has this method)."""
        sort = _view_sort(view)
        if sort is None:
            return OrderingBackend().get_ordering(request, queryset, view)
        parsed = sort.parse(request.query_params.get(SORT))
        if parsed is None:
            return None  # the paginator's own order
        return (sort.order(*parsed),)  # filter_queryset annotated an expression's value already


class OrderingBackend(DrfOrderingFilter):
    """DRF's `?ordering=` over a view's `ordering_fields`, for the lists whose FilterSet has no SortFilter: where it
    has one, that filter validates, applies and documents `?ordering=` (with its keys) instead."""

    def filter_queryset(self, request, queryset, view):
        if _view_sort(view) is not None:
            return queryset
        return super().filter_queryset(request, queryset, view)

    def get_schema_operation_parameters(self, view):
        return [] if _view_sort(view) is not None else super().get_schema_operation_parameters(view)
