"""Search-as-you-type pickers: a form field chooses a record by typing part of its name, never its id.

Each kind is registered once by the app that owns its records (`register` in the app's `subscriptions`
module); `PickerWidget(kind)` draws the search box and the options as radio buttons (they work without
JavaScript once shown), and `/pick/<kind>/` answers the options for what was typed (htmx, one query).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

MIN_CHARS = 1
LIMIT = 10


@dataclass(frozen=True)
class Picker:
    search: Callable[[str, int], list[tuple[int, str]]]  # (typed text, limit) -> [(id, label)]
    label: Callable[[int], str | None]  # id -> label, None when there is no such record


_pickers: dict[str, Picker] = {}


def register(kind: str, *, search, label) -> None:
    _pickers[kind] = Picker(search=search, label=label)


def get(kind: str) -> Picker | None:
    return _pickers.get(kind)


class PickerWidget(forms.Widget):
    """A record chosen by typing: the current choice (if any), "Any", and the matches of the typed text."""

    template_name = "widgets/picker.html"

    def __init__(self, kind: str, attrs=None):
        super().__init__(attrs)
        self.kind = kind

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        chosen = None
        value = value[0] if isinstance(value, list | tuple) and value else value
        if value not in (None, ""):
            try:
                pk = int(str(value))
            except ValueError:
                pk = None
            label = get(self.kind).label(pk) if pk is not None else None
            chosen = {"value": pk, "label": label or _("#%(id)s (not found)") % {"id": value}}
        context["widget"].update(
            chosen=chosen,
            source=reverse("pick", args=[self.kind]),
            placeholder=_("Type to search"),
        )
        return context
