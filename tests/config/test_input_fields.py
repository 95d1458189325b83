"""Every API input field is one of config.api.fields' strict ones (DESIGN.md "Payloads": ids are integers, times
ISO 8601 within range, text a string of a documented maximum length), so no serializer quietly takes 1.5 for
customer 1, the year 1 or a number for a name."""

import importlib
import inspect

import pytest
from rest_framework import serializers

from config.api import fields

MODULES = [
    "customers.api.serializers",
    "leads.api.serializers",
    "feedback.api.serializers",
    "okr.api.serializers",
    "okr.api.metrics",
    "config.api.users",
]


def _serializers():
    for name in MODULES:
        module = importlib.import_module(name)
        for _attr, cls in inspect.getmembers(module, inspect.isclass):
            takes_input = cls.__name__.endswith("Input") or issubclass(cls, fields.ModelInput)
            if issubclass(cls, serializers.Serializer) and cls.__module__ == name and takes_input:
                yield cls


def _writable(serializer, prefix=""):
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        path = f"{prefix}{name}"
        yield path, field
        if isinstance(field, serializers.ListSerializer):
            yield from _writable(field.child, f"{path}[].")
        elif isinstance(field, serializers.Serializer):
            yield from _writable(field, f"{path}.")
        elif isinstance(field, serializers.ListField | serializers.DictField):
            yield f"{path}[]", field.child
        elif isinstance(field, serializers.ManyRelatedField):
            yield f"{path}[]", field.child_relation


def _loose(field) -> str | None:
    if isinstance(field, serializers.CharField) and not isinstance(field, fields.Text):
        return "a CharField that takes numbers for text (use config.api.fields.Text)"
    if isinstance(field, fields.Text) and field.max_length is None:
        return "text without a maximum length"
    if isinstance(field, serializers.DateTimeField) and not isinstance(field, fields.Moment):
        return "a DateTimeField without the 1900–2200 / ±14:00 range (use Moment)"
    if isinstance(field, serializers.DateField) and not isinstance(field, fields.Day):
        return "a DateField without the 1900–2200 range (use Day)"
    if isinstance(field, serializers.PrimaryKeyRelatedField) and not isinstance(field, fields.Id):
        return "a PrimaryKeyRelatedField that takes 1.5 for 1 (use Id)"
    return None


@pytest.mark.django_db
def test_every_input_field_is_strict():
    inputs = list(_serializers())
    assert {"LeadCreateInput", "OrderInput", "CampaignSerializer", "MetricPeriodInput"} <= {c.__name__ for c in inputs}
    loose = [
        f"{cls.__module__}.{cls.__name__}.{path}: {problem}"
        for cls in inputs
        for path, field in _writable(cls())
        if (problem := _loose(field))
    ]
    assert not loose, "\n".join(loose)
