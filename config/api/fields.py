"""The input fields every API serializer uses, so bad input is a 400 naming the field (DESIGN.md "Payloads").

- `Text`: a string, never a number or a boolean turned into one, and never longer than its documented maximum
  (`LONG_TEXT` for notes, descriptions, comments and bodies).
- `Id`: an integer id (or its digits in a form); 1.5, "1.5" and true are refused, not rounded to customer 1.
- `Moment` and `Day`: ISO 8601 within config.moments' range (years 1900–2200, offsets within ±14:00).
- `ModelInput`: a ModelSerializer whose generated fields are these.
"""

from datetime import datetime

from django.db import models
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from config import moments

LONG_TEXT = 10_000  # characters: notes, descriptions, comments, bodies
MAX_ID = 2**63 - 1  # BigAutoField


class Text(serializers.CharField):
    """DRF's CharField turns 123 into "123"; this one refuses anything but a string."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", LONG_TEXT)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Slug(Text, serializers.SlugField):
    pass


class Code(serializers.SlugRelatedField):
    """A related object by its code (a channel's, say): only a short string is looked up, never a number, a
    list or text with a NUL byte the database cannot even compare."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or "\x00" in data or len(data) > 100:
            self.fail("invalid")
        return super().to_internal_value(data)


class Id(serializers.PrimaryKeyRelatedField):
    """A related object by its integer id."""

    def to_internal_value(self, data):
        if isinstance(data, str) and 0 < len(data) <= 19 and data.isascii() and data.isdigit():
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 1 <= data <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class Moment(serializers.DateTimeField):
    def to_internal_value(self, value):
        parsed = value
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value)
            except ValueError:
                parsed = None
        if isinstance(parsed, datetime):
            moments.validate(parsed)  # with the offset as sent, before DRF converts it
        return super().to_internal_value(value)


class Day(serializers.DateField):
    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        moments.validate(day)
        return day


class ModelInput(serializers.ModelSerializer):
    """A ModelSerializer that takes input: its generated fields are the strict ones above."""

    serializer_related_field = Id
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: Text,
        models.TextField: Text,
        models.SlugField: Slug,
        models.DateTimeField: Moment,
        models.DateField: Day,
    }


def require_whole_object(request, serializer_class) -> None:
    """PUT replaces the object, so every writable field must be sent; PATCH changes only the fields it sends.
    Raises a 400 naming each missing field."""
    if request.method != "PUT":
        return
    data = request.data if hasattr(request.data, "keys") else {}
    missing = [name for name, field in serializer_class().fields.items() if not field.read_only and name not in data]
    if missing:
        message = _("PUT replaces the whole object: send this field too, or change some fields with PATCH.")
        raise serializers.ValidationError({name: [ErrorDetail(message, code="required")] for name in missing})
