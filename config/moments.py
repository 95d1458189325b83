"""The range of times and dates Relay takes from people and integrations: one rule for the API, filters and imports.

Years 1900–2200 only, and UTC offsets within ±14:00 in whole minutes (every real zone's). Year 1 or +18:30 would
parse, then overflow when converted to UTC or filtered on, and render in local mean time (+08:05:43).
"""

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from config.errors import DomainError

EARLIEST_YEAR, LATEST_YEAR = 1900, 2200
MAX_OFFSET = timedelta(hours=14)


def refusal(value: date | datetime) -> tuple[str, str] | None:
    """(code, message) when `value` is out of range, else None. An aware datetime is judged with the offset it
    was given in, before any conversion."""
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        message = _("Use a year from %(earliest)s to %(latest)s.") % {"earliest": EARLIEST_YEAR, "latest": LATEST_YEAR}
        return "year_out_of_range", message
    offset = value.utcoffset() if isinstance(value, datetime) else None
    if offset is not None and (abs(offset) > MAX_OFFSET or offset.seconds % 60 or offset.microseconds):
        return "offset_out_of_range", _("Use a UTC offset from -14:00 to +14:00, in whole minutes.")
    return None


def validate(value) -> None:
    """A form or serializer field's check: ValidationError (code year_out_of_range or offset_out_of_range), which
    DRF serializers and django-filter both report on the field."""
    refused = refusal(value)
    if refused is not None:
        code, message = refused
        raise ValidationError(message, code=code)


def check(value, *, field: str):
    """`value` when it is in range; DomainError naming `field` otherwise."""
    refused = refusal(value)
    if refused is not None:
        code, message = refused
        raise DomainError(message, field=field, code=code)
    return value
