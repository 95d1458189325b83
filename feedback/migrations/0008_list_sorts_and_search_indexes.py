# The complaint list's sort by severity (feedback.models.severity_rank), the NPS list's by score, and the index
# the top bar's search (config.search) matches complaint descriptions with: pg_trgm GIN on PostgreSQL, NOCASE on
# SQLite.

from django.db import migrations, models

from config.search import SearchIndex


class Migration(migrations.Migration):

    dependencies = [
        ("feedback", "0007_delete_followuptask"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(
                models.Case(
                    models.When(severity="low", then=models.Value(0)),
                    models.When(severity="medium", then=models.Value(1)),
                    models.When(severity="high", then=models.Value(2)),
                    models.When(severity="critical", then=models.Value(3)),
                    output_field=models.IntegerField(),
                ),
                models.F("id"),
                name="feedback_complaint_sev_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="npsresponse",
            index=models.Index(fields=["score", "id"], name="feedback_nps_score_idx"),
        ),
        SearchIndex(table="feedback_complaint", column="description", name="feedback_complaint_desc_srch"),
    ]
