from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def metric_value(value, metric) -> str:
    """A metric value as people read it: shares as percentages, the rest as numbers; None as "no data"."""
    if value is None:
        return _("no data")
    number = float(value)
    if metric is not None and metric.unit == "ratio":
        return f"{number_format(round(number * 100, 1), 1)} %"
    if metric is not None and metric.unit == "nps":
        return f"{round(number):d}"
    return number_format(round(number, 2), 2 if number % 1 else 0)
