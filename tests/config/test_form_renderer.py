"""config.forms.FormRenderer builds selects and inputs in Python; the markup must be Django's own."""

from datetime import date

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates

from config.forms import FormRenderer


class Everything(forms.Form):
    name = forms.CharField(initial='Tom & "Jerry" <b>', widget=forms.TextInput(attrs={"autofocus": True}))
    empty = forms.CharField(required=False)
    hidden = forms.CharField(widget=forms.HiddenInput, initial="x")
    count = forms.IntegerField(initial=3, min_value=0)
    day = forms.DateField(initial=date(2026, 12, 4), widget=forms.DateInput(attrs={"type": "date", "disabled": False}))
    mail = forms.EmailField(required=False)
    stage = forms.ChoiceField(choices=[("", "Any"), ("won", "Won <yes>"), ("lost", "Lost")], initial="won")
    stages = forms.MultipleChoiceField(choices=[("a", "A"), ("b", "B"), ("c", "C")], initial=["a", "c"])
    grouped = forms.ChoiceField(
        choices=[("", "—"), ("Fruit", [("apple", "Apple"), ("pear", "Pear")]), ("Veg", [("kale", "Kale")])],
        initial="pear",
    )
    yes_no = forms.NullBooleanField(initial=True)
    note = forms.CharField(widget=forms.Textarea, initial="<script>")


@pytest.mark.parametrize("bound", [False, True])
def test_fast_widgets_render_what_django_templates_render(bound):
    data = {"name": "a'b", "count": "-1", "stage": "lost", "stages": ["b"], "grouped": "kale", "yes_no": "false"}
    fast = Everything(data if bound else None, renderer=FormRenderer())
    plain = Everything(data if bound else None, renderer=DjangoTemplates())

    for name in Everything.base_fields:
        assert str(fast[name]).strip() == str(plain[name]).strip(), name
    assert str(fast).strip() == str(plain).strip()
