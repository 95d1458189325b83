from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class ConfigAppConfig(AppConfig):
    """Cross-cutting pieces: roles, notifications, background jobs, idempotency, webhooks."""

    name = "config"
    label = "config"
    verbose_name = _("Relay platform")

    def ready(self):
        # Each app's `subscriptions` module wires it to the apps below it (events, registries, checks) with
        # plain module-level imports, now that every model is loaded.
        autodiscover_modules("subscriptions")
