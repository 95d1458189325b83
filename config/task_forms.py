"""The task pages' forms: they check shape and name the field; config.todo decides and saves."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from config import roles
from config.api.fields import LONG_TEXT
from config.pickers import PickerWidget
from config.todo import TITLE_MAX

User = get_user_model()


class DueField(forms.DateTimeField):
    """A due time typed in the browser's date-time picker, read in the current time zone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Due"))
        kwargs.setdefault("input_formats", ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"])
        super().__init__(**kwargs)


def department_choices():
    return [("", _("— (a person)")), *((code, roles.DEPARTMENT_LABELS[code]) for code in roles.DEPARTMENTS)]


class TaskForm(forms.Form):
    """A task for a person (blank: yourself) or for a department's queue (a department and no person)."""

    title = forms.CharField(max_length=TITLE_MAX, label=_("Title"))
    due_at = DueField()
    assignee = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        widget=PickerWidget("staff"),
        label=_("For"),
        help_text=_("Leave empty for yourself, or for a department's queue below."),
    )
    department = forms.ChoiceField(choices=department_choices, required=False, label=_("Department's queue"))
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=LONG_TEXT, label=_("Notes")
    )

    def placement(self, user) -> dict:
        """The service's `assignee` and `department`: the person chosen, else the queue chosen, else yourself."""
        assignee, department = self.cleaned_data.get("assignee"), self.cleaned_data.get("department") or ""
        if assignee is None and not department:
            assignee = user
        return {"assignee": assignee, "department": department}


class DoneForm(forms.Form):
    outcome = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=LONG_TEXT, label=_("What was done")
    )
