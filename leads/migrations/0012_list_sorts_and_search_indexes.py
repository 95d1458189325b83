# The lead list's sorts (last changed; stage in pipeline order, leads.stages.stage_rank) and the index the top
# bar's search (config.search) matches interests with: pg_trgm GIN on PostgreSQL, NOCASE on SQLite.

from django.db import migrations, models

from config.search import SearchIndex


class Migration(migrations.Migration):

    dependencies = [
        ("leads", "0011_lead_deal_value_and_board_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["updated_at"], name="leads_lead_updated_idx"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                models.Case(
                    models.When(stage="new", then=models.Value(0)),
                    models.When(stage="handed_off", then=models.Value(1)),
                    models.When(stage="accepted", then=models.Value(2)),
                    models.When(stage="contacted", then=models.Value(3)),
                    models.When(stage="qualified", then=models.Value(4)),
                    models.When(stage="proposal", then=models.Value(5)),
                    models.When(stage="negotiation", then=models.Value(6)),
                    models.When(stage="won", then=models.Value(7)),
                    models.When(stage="lost", then=models.Value(8)),
                    output_field=models.IntegerField(),
                ),
                models.F("id"),
                name="leads_lead_stage_rank_idx",
            ),
        ),
        SearchIndex(table="leads_lead", column="interest", name="leads_lead_interest_srch"),
    ]
