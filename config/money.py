"""Parsing money and other decimals typed by people or sent by integrations: one set of bounds everywhere.

Amounts fit the `DecimalField(max_digits=14, decimal_places=2)` columns they land in.
"""

from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from config.errors import DomainError

AMOUNT_LIMIT = Decimal("1e12")  # 12 digits before the point, 2 after: max_digits=14
_CURRENCY_SIGNS = ("¥", "￥")


def parse_number(value, *, field: str, places: int, limit: Decimal) -> Decimal:
    """A finite decimal with at most `places` decimals and |value| < limit; DomainError naming `field`."""
    text = str(value).strip()
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        raise DomainError(_("Enter a number."), field=field) from None
    if not number.is_finite() or abs(number) >= limit:
        raise DomainError(_("Enter a number below %(limit)s.") % {"limit": f"{limit:,.0f}"}, field=field)
    if number.as_tuple().exponent < -places:
        raise DomainError(_("Use at most %(places)s decimals.") % {"places": places}, field=field)
    return number


def parse_amount(value, *, field: str = "amount", positive: bool = False) -> Decimal:
    """Money: 0 ≤ amount < 10¹² (above zero when `positive`), at most two decimals.

    Takes what people paste from spreadsheets too: thousands separators and a leading ¥.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DomainError(_("Enter an amount."), field=field)
    if isinstance(value, bool):  # True is an int in Python, never an amount
        raise DomainError(_("Enter a number."), field=field)
    text = str(value).strip().replace(",", "")
    for sign in _CURRENCY_SIGNS:
        text = text.removeprefix(sign)
    amount = parse_number(text, field=field, places=2, limit=AMOUNT_LIMIT)
    if amount < 0 or (positive and amount == 0):
        message = _("The amount must be more than zero.") if positive else _("The amount may not be negative.")
        raise DomainError(message, field=field)
    return amount.quantize(Decimal("0.01"))
