"""Money and other decimals: read as people type them or integrations send them (one set of bounds everywhere),
and written on pages the one way each language writes them (`format_money`, `format_number`).

Amounts fit the `DecimalField(max_digits=14, decimal_places=2)` columns they land in. Relay keeps one currency,
settings.RELAY_CURRENCY (an ISO 4217 code, CNY by default); the API sends amounts as plain decimal strings
("1234567.50") and pages show them with the currency:

* English: the ISO code, a no-break space, the amount grouped in thousands: "CNY 1,234,567.50";
* Simplified Chinese: the symbol of its home currency, else the code: "¥1,234,567.50" (for CNY);
* always two decimals (rounded half up); a negative amount leads with the sign: "-CNY 12.00", "-¥12.00".
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from config.errors import DomainError

AMOUNT_LIMIT = Decimal("1e12")  # 12 digits before the point, 2 after: max_digits=14
_CURRENCY_SIGNS = ("¥", "￥")

# A language writes its home currency by symbol; any other currency by its code, which no reader mistakes
# ("¥" alone is also the yen, "$" any dollar).
_HOME_SYMBOLS = {"zh-hans": {"CNY": "¥"}}


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


def _decimal(value, places: int) -> Decimal:
    """`value` (Decimal, int, float or numeric text) rounded half up to `places` decimals; -0 becomes 0."""
    number = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return number + 0  # Decimal("-0.00") + 0 is Decimal("0.00")


def format_number(value, *, places: int | None = None) -> str:
    """A number as the active language writes it, grouped in thousands, with `places` decimals when given."""
    number = _decimal(value, places) if places is not None else value
    return number_format(number, decimal_pos=places, use_l10n=True, force_grouping=True)


def format_money(amount) -> str:
    """An amount in settings.RELAY_CURRENCY as the active language writes it: "CNY 1,234,567.50" in English,
    "¥1,234,567.50" in Chinese (see the module docstring). Raises InvalidOperation for text that is no number."""
    currency = settings.RELAY_CURRENCY
    value = _decimal(amount, 2)
    digits = format_number(abs(value), places=2)
    sign = "-" if value < 0 else ""
    symbol = _HOME_SYMBOLS.get((get_language() or "").lower(), {}).get(currency)
    if symbol:
        return f"{sign}{symbol}{digits}"
    return f"{sign}{currency}\u00a0{digits}"
