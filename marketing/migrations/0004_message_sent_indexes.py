# The content metrics read messages by sent time (and channel); the messages list sorts by it.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("marketing", "0003_journey_history_and_step_run_task"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["sent_at"], name="marketing_message_sent_idx"),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["channel", "sent_at"], name="marketing_message_channel_idx"),
        ),
    ]
