"""Cycle time and time in stage per lead, against hand-computed fixtures."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads import selectors, services
from leads.stages import Stage
from tests.factories import lead_through, make_user

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def _story(t0):
    """day 0 created, 1 handed off, 2 accepted, 2.5 contacted, 5 qualified, 6 back to contacted, 8 proposal, 11 won."""
    marketer, seller = make_user("marketing"), make_user("sales")
    lead = lead_through(Stage.NEW, marketer=marketer, now=t0)
    lead = services.handoff_lead(lead=lead, by=marketer, assignee=seller, now=t0 + 1 * DAY)
    lead = services.accept_lead(lead=lead, by=seller, now=t0 + 2 * DAY)
    lead = services.move_lead(lead=lead, by=seller, stage=Stage.CONTACTED, now=t0 + 2.5 * DAY)
    lead = services.move_lead(lead=lead, by=seller, stage=Stage.QUALIFIED, now=t0 + 5 * DAY)
    lead = services.move_lead(lead=lead, by=seller, stage=Stage.CONTACTED, now=t0 + 6 * DAY)
    lead = services.move_lead(lead=lead, by=seller, stage=Stage.PROPOSAL, now=t0 + 8 * DAY)
    return lead, seller


def test_won_lead_cycle_time_and_time_in_stage(client_as):
    t0 = timezone.now() - 30 * DAY
    lead, seller = _story(t0)
    services.close_lead(lead=lead, by=seller, outcome=Stage.WON, amount="10.00", now=t0 + 11 * DAY)
    changes = list(lead.stage_changes.order_by("at", "pk"))
    cycle = selectors.cycle_time(changes)
    assert cycle.is_final and cycle.duration == 10 * DAY and cycle.days == 10.0
    assert selectors.time_in_stage(changes) == {
        Stage.NEW: 1 * DAY,
        Stage.HANDED_OFF: 1 * DAY,
        Stage.ACCEPTED: 0.5 * DAY,
        Stage.CONTACTED: 4.5 * DAY,  # 2.5 days, then 2 more after the backward move
        Stage.QUALIFIED: 1 * DAY,
        Stage.PROPOSAL: 3 * DAY,
    }
    page = client_as(user=seller).get(f"/leads/{lead.pk}/").content.decode()
    assert "Cycle time (first handoff to won): 10.0 days" in page


def test_open_lead_shows_time_so_far_and_its_current_stage_running():
    t0 = timezone.now() - 10 * DAY
    lead, _seller = _story(t0)
    now = t0 + 9.5 * DAY
    changes = list(lead.stage_changes.order_by("at", "pk"))
    cycle = selectors.cycle_time(changes, now=now)
    assert not cycle.is_final and cycle.duration == 8.5 * DAY
    periods = selectors.stage_periods(changes, now=now)
    assert (periods[-1].stage, periods[-1].end, periods[-1].duration) == (Stage.PROPOSAL, None, 1.5 * DAY)


def test_recycled_and_rejected_leads_count_from_the_first_handoff():
    t0 = timezone.now() - 60 * DAY
    marketer, seller = make_user("marketing"), make_user("sales")
    lead = lead_through(Stage.NEW, marketer=marketer, now=t0)
    lead = services.handoff_lead(lead=lead, by=marketer, assignee=seller, now=t0 + 2 * DAY)
    lead = services.reject_lead(lead=lead, by=seller, reason="not_reachable", now=t0 + 3 * DAY)
    lead = services.handoff_lead(lead=lead, by=marketer, assignee=seller, now=t0 + 10 * DAY)
    lead = services.accept_lead(lead=lead, by=seller, now=t0 + 11 * DAY)
    lead = services.close_lead(lead=lead, by=seller, outcome=Stage.WON, amount="5.00", now=t0 + 20 * DAY)
    changes = list(lead.stage_changes.order_by("at", "pk"))
    assert selectors.cycle_time(changes).duration == 18 * DAY
    assert selectors.time_in_stage(changes)[Stage.NEW] == 2 * DAY + 7 * DAY
    assert lead.first_handed_off_at == t0 + 2 * DAY and lead.handed_off_at == t0 + 10 * DAY


def test_no_cycle_time_before_handoff_or_when_lost():
    lead = lead_through(Stage.NEW)
    assert selectors.cycle_time(list(lead.stage_changes.all())) is None
    lost = lead_through(Stage.LOST)
    assert selectors.cycle_time(list(lost.stage_changes.all())) is None
