"""Backfill LeadStageChange.entered_at: the `at` of the lead's previous change (ordered by at, id), in SQL.

The first change of a lead keeps null. One UPDATE with a window function; runs on PostgreSQL and SQLite
(3.33+: UPDATE ... FROM). The reverse empties the column again.
"""

from django.db import migrations

BACKFILL_SQL = """
UPDATE leads_leadstagechange
SET entered_at = previous.entered_at
FROM (
    SELECT id, LAG(at) OVER (PARTITION BY lead_id ORDER BY at, id) AS entered_at
    FROM leads_leadstagechange
) AS previous
WHERE leads_leadstagechange.id = previous.id
  AND previous.entered_at IS NOT NULL
  AND (leads_leadstagechange.entered_at IS NULL OR leads_leadstagechange.entered_at <> previous.entered_at)
"""

CLEAR_SQL = "UPDATE leads_leadstagechange SET entered_at = NULL WHERE entered_at IS NOT NULL"


def backfill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BACKFILL_SQL)


def clear(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CLEAR_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0003_stage_change_entered_at"),
    ]

    operations = [
        migrations.RunPython(backfill, clear, elidable=False),
    ]
