from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    """Wired to customers in leads/subscriptions.py (imported by config's ready())."""

    name = "leads"
    verbose_name = _("Leads")
