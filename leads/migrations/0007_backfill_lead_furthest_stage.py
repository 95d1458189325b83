from django.db import migrations

# leads.stages.PROGRESS as it stood when this migration was written.
PROGRESS = ("new", "handed_off", "accepted", "contacted", "qualified", "proposal", "negotiation", "won")

# rank(stage) as SQL (valid on PostgreSQL and SQLite).
_RANK = "CASE {col} " + " ".join(f"WHEN '{stage}' THEN {rank}" for rank, stage in enumerate(PROGRESS)) + " ELSE -1 END"

FORWARD = [
    # The furthest stage any change brought the lead to …
    f"""
    UPDATE leads_lead SET furthest_stage = COALESCE((
        SELECT c.to_stage FROM leads_leadstagechange c
        WHERE c.lead_id = leads_lead.id AND c.to_stage <> 'lost'
        ORDER BY {_RANK.format(col="c.to_stage")} DESC LIMIT 1
    ), 'new')
    """,
    # … or its current stage, for leads whose history is shorter (made before history existed).
    f"""
    UPDATE leads_lead SET furthest_stage = stage
    WHERE stage <> 'lost' AND {_RANK.format(col="stage")} > {_RANK.format(col="furthest_stage")}
    """,
]


def backfill(apps, schema_editor):
    for sql in FORWARD:
        schema_editor.execute(sql)


def reset(apps, schema_editor):
    schema_editor.execute("UPDATE leads_lead SET furthest_stage = 'new'")


class Migration(migrations.Migration):
    dependencies = [("leads", "0006_lead_furthest_stage")]

    operations = [migrations.RunPython(backfill, reset)]
