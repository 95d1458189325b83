from django import forms
from django.forms.renderers import TemplatesSetting
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config import tokens


class ApiTokenForm(forms.Form):
    days = forms.TypedChoiceField(label=_("Valid for"), coerce=int, initial=30)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["days"].choices = [
            (days, ngettext("%(count)d day", "%(count)d days", days) % {"count": days}) for days in tokens.LIFETIME_DAYS
        ]


_WIDGETS = "django/forms/widgets/"
_OPTION = _WIDGETS + "select_option.html"
_INPUTS = frozenset(
    f"{_WIDGETS}{kind}.html"
    for kind in ("input", "text", "number", "email", "url", "password", "hidden", "date", "datetime", "time")
    + ("search", "tel", "color")
)


def _attrs(attrs: dict):
    """django/forms/widgets/attrs.html: `True` is a bare attribute, `False` none."""
    return format_html_join(
        "",
        "{}",
        (
            (format_html(" {}", k) if v is True else format_html(' {}="{}"', k, v),)
            for k, v in attrs.items()
            if v is not False
        ),
    )


def _input(widget: dict):
    value = "" if widget["value"] is None else format_html(' value="{}"', widget["value"])
    return format_html(
        '<input type="{}" name="{}"{}{}>', widget["type"], widget["name"], value, _attrs(widget["attrs"])
    )


def _select(widget: dict):
    parts = [format_html('<select name="{}"{}>', widget["name"], _attrs(widget["attrs"]))]
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            parts.append(format_html('\n  <optgroup label="{}">', group_name))
        parts.extend(
            format_html('\n  <option value="{}"{}>{}</option>\n', o["value"], _attrs(o["attrs"]), o["label"])
            for o in options
        )
        if group_name:
            parts.append(mark_safe("\n  </optgroup>"))  # nosec B308 - a constant
    parts.append(mark_safe("\n</select>"))  # nosec B308 - a constant
    return mark_safe("".join(parts))  # nosec B308 B703 - every part is escaped by format_html


class FormRenderer(TemplatesSetting):
    """Django's renderer over the project's templates (so a widget may have its own), with selects and text-like
    inputs built in Python: the same markup as Django's widget templates, without an include per option (a filter
    form's selects cost more than the page's query)."""

    def render(self, template_name, context, request=None):
        widget = context.get("widget")
        if template_name in _INPUTS:
            return _input(widget)
        if template_name == _WIDGETS + "select.html" and all(
            o["template_name"] == _OPTION for _name, options, _index in widget["optgroups"] for o in options
        ):
            return _select(widget)
        return super().render(template_name, context, request)
