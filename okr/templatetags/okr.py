from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from config.money import format_money
from okr import charts, reports

register = template.Library()


@register.filter
def metric_value(value, metric) -> str:
    """A metric value as people read it: shares as percentages, money with the currency, the rest as numbers;
    None as "no data"."""
    if value is None:
        return _("no data")
    number = float(value)
    if metric is not None and metric.unit == "ratio":
        return f"{number_format(round(number * 100, 1), 1)} %"
    if metric is not None and metric.unit == "money":
        return format_money(value)
    if metric is not None and metric.unit == "nps":
        return f"{round(number):d}"
    return number_format(round(number, 2), 2 if number % 1 else 0)


@register.filter
def share(value) -> str:
    """A share 0–1 as a percentage, as the charts write it ("40 %", "33.3 %"); "—" for none."""
    if value is None or value == "":
        return "—"
    return charts.PERCENT.text(float(value))


@register.filter
def sample_note(count, noun: str) -> str:
    """`{{ row.responses|sample_note:"answers" }}`: "based on 12 answers — too few to rely on" when there are fewer
    than RELAY_MIN_SAMPLE of them (okr.reports.sample_note), else ""."""
    return reports.sample_note(count, noun)
