from django import forms
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
