import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """A version on every row the API lets people change, for its ETag (existing rows: the migration's time)."""

    dependencies = [("customers", "0008_import_job_claimed_by")]

    operations = [
        migrations.AddField(
            model_name="channel",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now, verbose_name="updated at"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="campaign",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now, verbose_name="updated at"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="channelspend",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now, verbose_name="updated at"),
            preserve_default=False,
        ),
    ]
