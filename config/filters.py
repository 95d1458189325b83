"""Filter pieces every app's FilterSet shares.

Dates, times and ids in query strings follow the API's input rules (config.api.fields): a year outside
1900–2200, an offset beyond ±14:00 or an id that is not an integer is a 400 naming the filter, never a 500.
"""

from django import forms
from django.utils.translation import gettext_lazy as _
from django_filters import BooleanFilter, DateFilter, DateFromToRangeFilter, IsoDateTimeFilter, NumberFilter
from django_filters.fields import DateRangeField, IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.widgets import BooleanWidget
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


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, building and validating a form of only the filters a request names (a filter
    without a value filters nothing, and each form field costs more than the page's query): none at all for a
    list asked for by cursor, page size, search or ordering alone. A filter whose query parameters carry a
    suffix (`created_after`, `created_before`) counts as named by them."""

    NOT_FILTERS = frozenset({"cursor", "page_size", "format", api_settings.SEARCH_PARAM, api_settings.ORDERING_PARAM})

    def filter_queryset(self, request, queryset, view):
        if request.query_params.keys() <= self.NOT_FILTERS:
            return queryset
        return super().filter_queryset(request, queryset, view)

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            named = request.query_params.keys() - self.NOT_FILTERS
            filterset.filters = {
                name: f
                for name, f in filterset.filters.items()
                if name in named or any(param.startswith(f"{name}_") for param in named)
            }
        return filterset
