"""config's wiring, imported once by ConfigAppConfig.ready(): role permissions follow each migrate."""

from django.apps import apps
from django.db.models.signals import post_migrate

from config import roles

post_migrate.connect(roles.sync_role_permissions_signal, sender=apps.get_app_config("config"))
