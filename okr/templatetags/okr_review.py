"""How the quarterly review writes its figures (okr.review.Figure): a value in its unit, and the change from the
previous quarter as an arrow with a sign, marked better or worse by the metric's direction."""

from django import template
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _

from config.money import format_money
from okr import charts

register = template.Library()

# Units a review figure comes in, besides the metric registry's (okr.charts.METRIC_UNITS).
_UNITS = {"count": charts.COUNT, "progress": charts.Unit(template="%(value)s %%", places=1)}


def _unit(unit: str) -> charts.Unit:
    return _UNITS.get(unit) or charts.unit_for(unit)


@register.filter
def review_value(value, unit: str) -> str:
    """`{{ figure.value|review_value:figure.unit }}`: "40 %", "31.5 d", "12", a sum of money; "no data" for None."""
    if value is None or value == "":
        return _("no data")
    if unit == "money":
        return format_money(value)
    return _unit(unit).text(float(value))


def _change_text(change: float, unit: str) -> str:
    size = abs(change)
    if unit in ("ratio", "progress"):  # shares and percentages change by percentage points
        scaled = size * 100 if unit == "ratio" else size
        return _("%(value)s pp") % {"value": number_format(round(scaled, 1), 1 if round(scaled, 1) % 1 else 0)}
    if unit == "money":
        return format_money(size)
    return _unit(unit).text(size)


@register.simple_tag
def change(figure) -> str:
    """`{% change figure %}`: "▲ +3.5 pp" against the previous quarter, green when better and red when worse (the
    word is there too, for print and screen readers); "–" when either quarter has no data."""
    delta = figure.change
    if delta is None:
        return format_html('<span class="change none" title="{}">–</span>', _("No comparison: a quarter has no data"))
    if delta == 0:
        return format_html('<span class="change same">= <span class="why">{}</span></span>', _("unchanged"))
    arrow, sign = ("▲", "+") if delta > 0 else ("▼", "−")
    css, word = ("better", _("better")) if figure.better else ("worse", _("worse"))
    return format_html(
        '<span class="change {}">{} {}{} <span class="why">{}</span></span>',
        css,
        arrow,
        sign,
        _change_text(delta, figure.unit),
        word,
    )
