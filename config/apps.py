from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ConfigAppConfig(AppConfig):
    """Cross-cutting pieces: roles, notifications, background jobs, idempotency, webhooks."""

    name = "config"
    label = "config"
    verbose_name = _("Relay platform")

    def ready(self):
        from config import roles

        post_migrate.connect(roles.sync_role_permissions_signal, sender=self)
