from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OKRConfig(AppConfig):
    name = "okr"
    verbose_name = _("OKRs")
