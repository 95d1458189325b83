"""Filter pieces every app's FilterSet shares."""

from django.utils.translation import gettext_lazy as _
from django_filters import BooleanFilter
from django_filters.widgets import BooleanWidget


class AnyYesNoWidget(BooleanWidget):
    """true/false in the query string (as the API documents), shown as Any / Yes / No on pages."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("", _("Any")), ("true", _("Yes")), ("false", _("No"))]


class YesNoFilter(BooleanFilter):
    """A yes/no filter whose empty choice reads "Any" rather than django-filter's "Unknown"."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", AnyYesNoWidget)
        super().__init__(*args, **kwargs)
