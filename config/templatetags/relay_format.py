"""`{% load relay_format %}`: amounts and numbers as the active language writes them.

Dates need no tag: `{{ value|date }}` is the language's one date format and `{{ value|date:"DATETIME_FORMAT" }}`
its one date-time format, in the local time zone (config/formats/). Ids stay digits with Django's
`{% load l10n %}{{ lead.pk|unlocalize }}`: numbers are grouped in thousands everywhere else.
"""

from decimal import InvalidOperation

from django import template

from config.money import format_money, format_number

register = template.Library()

_NONE = "—"


@register.filter
def money(value) -> str:
    """`{{ order.amount|money }}` → "CNY 1,234,567.50" (en), "¥1,234,567.50" (zh-hans); "—" for no amount."""
    if value is None or value == "":
        return _NONE
    try:
        return format_money(value)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)


@register.filter
def number(value, places=None) -> str:
    """`{{ days|number:1 }}` → "1,234.5": grouped in thousands, rounded to `places` decimals if given; "—" for none."""
    if value is None or value == "":
        return _NONE
    try:
        return format_number(value, places=None if places is None else int(places))
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
