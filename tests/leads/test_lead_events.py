"""Each lead event is published once, where it happens, to the endpoints subscribed to it (DESIGN.md webhooks)."""

import pytest

from leads import services
from leads.stages import Stage
from tests.factories import lead_through, make_user
from tests.webhook_events import endpoints_for, sent

pytestmark = pytest.mark.django_db


def _only(endpoint, event_type) -> dict:
    deliveries = sent(endpoint)
    assert [t for t, _data in deliveries] == [event_type]
    return deliveries[0][1]


def test_a_handoff_publishes_lead_handed_off():
    marketer, seller = make_user("marketing"), make_user("sales")
    lead = lead_through(Stage.NEW, marketer=marketer)
    wanted, others = endpoints_for("lead.handed_off")
    services.handoff_lead(lead=lead, by=marketer, assignee=seller)
    data = _only(wanted, "lead.handed_off")
    assert (data["lead"], data["customer"], data["assignee"], data["by"]) == (
        lead.pk,
        lead.customer_id,
        seller.pk,
        marketer.pk,
    )
    assert sent(others, "lead.handed_off") == []


@pytest.mark.parametrize("pool", [False, True], ids=["accept", "claim"])
def test_accepting_or_claiming_publishes_lead_accepted(pool):
    seller = make_user("sales")
    lead = lead_through(Stage.HANDED_OFF, owner=None if pool else seller, pool=pool)
    wanted, others = endpoints_for("lead.accepted")
    if pool:
        services.claim_lead(lead=lead, by=seller)
    else:
        services.accept_lead(lead=lead, by=seller)
    data = _only(wanted, "lead.accepted")
    assert (data["lead"], data["owner"], data["by"]) == (lead.pk, seller.pk, seller.pk)
    assert sent(others, "lead.accepted") == []


def test_a_rejection_publishes_lead_rejected():
    seller = make_user("sales")
    lead = lead_through(Stage.HANDED_OFF, owner=seller)
    wanted, others = endpoints_for("lead.rejected")
    services.reject_lead(lead=lead, by=seller, reason="no_budget")
    data = _only(wanted, "lead.rejected")
    assert (data["lead"], data["reason"], data["by"]) == (lead.pk, "no_budget", seller.pk)
    assert sent(others, "lead.rejected") == []


def test_a_lead_handed_off_again_after_a_rejection_is_a_second_event():
    marketer, seller = make_user("marketing"), make_user("sales")
    lead = lead_through(Stage.HANDED_OFF, marketer=marketer, owner=seller)
    wanted, _others = endpoints_for("lead.handed_off")
    lead = services.reject_lead(lead=lead, by=seller, reason="no_budget")
    lead = services.handoff_lead(lead=lead, by=marketer, assignee=seller)
    assert len(sent(wanted)) == 1
    lead = services.reject_lead(lead=lead, by=seller, reason="not_reachable")
    services.handoff_lead(lead=lead, by=marketer, assignee=seller)
    assert len(sent(wanted)) == 2


def test_a_move_publishes_lead_stage_changed():
    seller = make_user("sales")
    lead = lead_through(Stage.ACCEPTED, owner=seller)
    wanted, others = endpoints_for("lead.stage_changed")
    services.move_lead(lead=lead, by=seller, stage=Stage.CONTACTED)
    data = _only(wanted, "lead.stage_changed")
    assert (data["lead"], data["from_stage"], data["to_stage"]) == (lead.pk, "accepted", "contacted")
    assert sent(others, "lead.stage_changed") == []


def test_closing_won_publishes_lead_won():
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    wanted, others = endpoints_for("lead.won")
    services.close_lead(lead=lead, by=seller, outcome=Stage.WON, amount="1200.00")
    data = _only(wanted, "lead.won")
    assert (data["lead"], data["amount"]) == (lead.pk, "1200.00")
    assert sent(others, "lead.won") == []


def test_closing_lost_publishes_lead_lost():
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    wanted, others = endpoints_for("lead.lost")
    services.close_lead(lead=lead, by=seller, outcome=Stage.LOST, reason="price")
    data = _only(wanted, "lead.lost")
    assert (data["lead"], data["reason"], data["by"]) == (lead.pk, "price", seller.pk)
    assert sent(others, "lead.lost") == []
