from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    """Wired to leads and customers in feedback/subscriptions.py (imported by config's ready())."""

    name = "feedback"
    verbose_name = _("Feedback")
