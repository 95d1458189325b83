"""LeadStageChange.entered_at: when the lead entered the stage a change leaves (the previous change's `at`)."""

import importlib
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from leads import services
from leads.models import LeadStageChange
from leads.stages import Stage
from tests.factories import LeadFactory, LeadStageChangeFactory, lead_through, make_user

pytestmark = pytest.mark.django_db

backfill_migration = importlib.import_module("leads.migrations.0004_backfill_stage_change_entered_at")

T0 = timezone.make_aware(datetime(2026, 3, 2, 9, 0))


def _rows(lead):
    return list(
        LeadStageChange.objects.filter(lead=lead).order_by("at", "pk").values_list("to_stage", "at", "entered_at")
    )


def test_transitions_record_when_the_lead_entered_the_stage_it_leaves():
    owner = make_user("sales")
    lead = lead_through(Stage.ACCEPTED, owner=owner, now=T0)
    lead = services.move_lead(lead=lead, by=owner, stage=Stage.CONTACTED, now=T0 + timedelta(days=1))
    lead = services.move_lead(lead=lead, by=owner, stage=Stage.QUALIFIED, now=T0 + timedelta(days=3, hours=5))
    services.move_lead(lead=lead, by=owner, stage=Stage.CONTACTED, now=T0 + timedelta(days=4))

    rows = _rows(lead)
    assert [r[0] for r in rows] == ["new", "handed_off", "accepted", "contacted", "qualified", "contacted"]
    assert rows[0][2] is None  # creation: the first row
    for previous, row in zip(rows, rows[1:], strict=False):
        assert row[2] == previous[1]
    assert rows[-1][2] == T0 + timedelta(days=3, hours=5)  # it entered qualified then


def test_the_backfill_sets_the_previous_change_and_its_reverse_clears_it():
    lead, other = LeadFactory(), LeadFactory()
    steps = [
        ("", "new", T0),
        ("new", "handed_off", T0 + timedelta(hours=2)),
        ("handed_off", "new", T0 + timedelta(days=1)),
    ]
    # Written without entered_at (as before the column), out of order, with a same-instant tie broken by id.
    made = [
        LeadStageChangeFactory(lead=lead, from_stage=f, to_stage=t, at=at, entered_at=None)
        for f, t, at in reversed(steps)
    ]
    tie = LeadStageChangeFactory(lead=lead, from_stage="new", to_stage="handed_off", at=steps[2][2], entered_at=None)
    LeadStageChangeFactory(lead=other, from_stage="new", to_stage="handed_off", at=T0, entered_at=None)
    assert not LeadStageChange.objects.filter(entered_at__isnull=False).exists()

    editor = SimpleNamespace(connection=connection)
    backfill_migration.backfill(None, editor)

    by_pk = dict(LeadStageChange.objects.values_list("pk", "entered_at"))
    first, handoff, rejected = reversed(made)
    assert by_pk[first.pk] is None
    assert by_pk[handoff.pk] == steps[0][2]
    assert by_pk[rejected.pk] == steps[1][2]
    assert by_pk[tie.pk] == steps[2][2]  # same `at` as the rejection, later id: the rejection came first
    assert LeadStageChange.objects.get(lead=other).entered_at is None  # another lead's history is separate

    backfill_migration.backfill(None, editor)  # idempotent
    assert dict(LeadStageChange.objects.values_list("pk", "entered_at")) == by_pk

    backfill_migration.clear(None, editor)
    assert not LeadStageChange.objects.filter(entered_at__isnull=False).exists()
