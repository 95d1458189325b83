# The order list's sort by amount, and the indexes the top bar's search (config.search) matches customers' names
# and companies with: pg_trgm GIN on PostgreSQL, NOCASE on SQLite (config.search.SearchIndex; no model state).

from django.db import migrations, models

from config.search import SearchIndex


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0011_account_team_and_merge_choices"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["amount"], name="customers_order_amount_idx"),
        ),
        SearchIndex(table="customers_customer", column="name", name="customers_customer_name_srch"),
        SearchIndex(table="customers_customer", column="company", name="customers_customer_co_srch"),
    ]
