"""config's wiring, imported once by ConfigAppConfig.ready(): role permissions follow each migrate; webhook endpoint
changes end the "no endpoints" cache."""

from django.apps import apps
from django.db.models.signals import post_delete, post_migrate, post_save

from config import roles, webhooks
from config.models import WebhookEndpoint

post_migrate.connect(roles.sync_role_permissions_signal, sender=apps.get_app_config("config"))
post_save.connect(webhooks.forget_endpoints, sender=WebhookEndpoint)
post_delete.connect(webhooks.forget_endpoints, sender=WebhookEndpoint)
