from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketingConfig(AppConfig):
    """Wired to the apps below it in marketing/subscriptions.py (config's ready() imports every app's
    `subscriptions` module once all models are loaded, as for leads and feedback)."""

    name = "marketing"
    verbose_name = _("Marketing")
