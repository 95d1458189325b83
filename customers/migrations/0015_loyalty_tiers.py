"""The four loyalty tiers with their default thresholds of trailing-12-month spend (admins edit them)."""

from decimal import Decimal

from django.db import migrations

from config.search import SearchIndex

DEFAULT_THRESHOLDS = (
    ("member", Decimal("0")),
    ("silver", Decimal("5000")),
    ("gold", Decimal("20000")),
    ("platinum", Decimal("50000")),
)


def create_tiers(apps, schema_editor):
    tier = apps.get_model("customers", "LoyaltyTier")
    for code, threshold in DEFAULT_THRESHOLDS:
        tier.objects.get_or_create(code=code, defaults={"threshold": threshold})


class Migration(migrations.Migration):
    dependencies = [("customers", "0014_commerce")]

    operations = [
        migrations.RunPython(create_tiers, migrations.RunPython.noop),
        # 0014's new customer columns made SQLite rebuild the table, which drops indexes the model state does not
        # know: the search indexes of 0012 come back (a no-op on PostgreSQL, where they stayed).
        SearchIndex(table="customers_customer", column="name", name="customers_customer_name_srch"),
        SearchIndex(table="customers_customer", column="company", name="customers_customer_co_srch"),
    ]
