from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    """Give the role groups the permissions of MergeRecord, ImportJob and ImportRowError (config.roles)."""
    from config.roles import sync_role_permissions

    # Permissions are normally created after all migrations; make them now so the groups get them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_role_permissions(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0003_identity_customer_index_covered"),
        ("config", "0002_role_groups"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
