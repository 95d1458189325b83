"""Which customer event types exist: the built-in ones (models.EventType) and "custom:<name>" with a sane name
(lower-case letters, digits, "_", "-", "."), 80 characters in all. Journeys check their event triggers here too."""

import re

from marketing.models import EventType

CUSTOM_PREFIX = "custom:"
_CUSTOM = re.compile(r"custom:[a-z0-9][a-z0-9_.-]{0,72}")


def is_event_type(value) -> bool:
    return isinstance(value, str) and (value in EventType.values or _CUSTOM.fullmatch(value) is not None)


def label(value: str) -> str:
    """What people read for a type: the built-in type's translated label, else the custom name."""
    if value in EventType.values:
        return str(EventType(value).label)
    return value.removeprefix(CUSTOM_PREFIX)
