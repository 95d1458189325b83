import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """A version on every row the API lets people change, for its ETag (existing rows: the migration's time)."""

    dependencies = [("feedback", "0002_service_loop_sla_pause_insights")]

    operations = [
        migrations.AddField(
            model_name="followuptask",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now, verbose_name="updated at"),
            preserve_default=False,
        ),
    ]
