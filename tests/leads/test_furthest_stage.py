import importlib

import pytest
from django.db import connection

from leads import services
from leads.models import Lead
from leads.stages import Stage
from tests.factories import LeadStageChangeFactory, lead_through

pytestmark = pytest.mark.django_db

backfill = importlib.import_module("leads.migrations.0007_backfill_lead_furthest_stage")


def test_transitions_remember_the_furthest_stage_even_after_moving_back():
    lead = lead_through(Stage.PROPOSAL)
    assert lead.furthest_stage == Stage.PROPOSAL
    lead = services.move_lead(lead=lead, by=lead.owner, stage=Stage.CONTACTED)
    lead = services.close_lead(lead=lead, by=lead.owner, outcome=Stage.LOST, reason="price")
    lead.refresh_from_db()
    assert (lead.stage, lead.furthest_stage) == (Stage.LOST, Stage.PROPOSAL)


def test_won_is_the_furthest_a_lead_gets():
    lead = lead_through(Stage.WON)
    lead.refresh_from_db()
    assert lead.furthest_stage == Stage.WON


def test_a_rejected_lead_keeps_handed_off_as_its_furthest_stage():
    lead = lead_through(Stage.HANDED_OFF)
    lead = services.reject_lead(lead=lead, by=lead.owner or lead.created_by, reason="no_need", reason_text="")
    lead.refresh_from_db()
    assert (lead.stage, lead.furthest_stage) == (Stage.NEW, Stage.HANDED_OFF)


def test_the_backfill_reads_history_and_falls_back_to_the_current_stage():
    moved_back = lead_through(Stage.NEGOTIATION)
    services.move_lead(lead=moved_back, by=moved_back.owner, stage=Stage.QUALIFIED)
    lost = lead_through(Stage.LOST)
    without_history = Lead.objects.create(customer=moved_back.customer, stage=Stage.ACCEPTED)
    LeadStageChangeFactory(lead=lead_through(Stage.NEW), from_stage="new", to_stage="handed_off")
    Lead.objects.update(furthest_stage=Stage.NEW)

    with connection.cursor() as cursor:
        for sql in backfill.FORWARD:
            cursor.execute(sql)

    furthest = dict(Lead.objects.values_list("pk", "furthest_stage"))
    assert furthest[moved_back.pk] == Stage.NEGOTIATION
    assert furthest[lost.pk] == Stage.ACCEPTED  # lead_through closes it lost straight from accepted
    assert furthest[without_history.pk] == Stage.ACCEPTED
