from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("config", "0004_outbox_and_email_batches")]

    operations = [
        migrations.AddField(
            model_name="idempotencyrecord",
            name="response_headers",
            field=models.JSONField(blank=True, default=dict, verbose_name="response headers"),
        ),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="holder",
            field=models.CharField(blank=True, max_length=120, verbose_name="holder"),
        ),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="leased_until",
            field=models.DateTimeField(blank=True, null=True, verbose_name="leased until"),
        ),
    ]
