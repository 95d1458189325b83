"""Won creates the first Order and the service onboarding task; lost needs a reason; high intent; activities."""

from decimal import Decimal

import pytest

from config.errors import DomainError
from config.models import Notification, Task
from customers.models import Order
from leads import services
from leads.stages import Stage
from tests.factories import lead_through, make_user

pytestmark = pytest.mark.django_db


def test_won_creates_the_order_and_the_onboarding_task(api_as, django_capture_on_commit_callbacks):
    seller = make_user("sales")
    lead = lead_through(Stage.NEGOTIATION, owner=seller)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(user=seller).post(
            f"/api/v1/leads/{lead.pk}/close/", {"outcome": "won", "amount": "1234.50"}, format="json"
        )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["stage"] == "won" and body["won_amount"] == "1234.50"
    order = Order.objects.get()
    assert (order.customer_id, order.amount, order.channel_id) == (
        lead.customer_id,
        Decimal("1234.50"),
        lead.source_channel_id,
    )
    assert body["won_order"] == order.pk
    task = Task.objects.get()
    assert (task.kind, task.about, task.department) == ("onboarding", lead, "service")
    lead.customer.refresh_from_db()
    assert lead.customer.lifecycle_stage == "loyalty"


@pytest.mark.parametrize("amount", [None, "", "0", "-5", "abc"])
def test_won_needs_a_positive_amount_and_changes_nothing(amount):
    seller = make_user("sales")
    lead = lead_through(Stage.PROPOSAL, owner=seller)
    with pytest.raises(DomainError) as refused:
        services.close_lead(lead=lead, by=seller, outcome=Stage.WON, amount=amount)
    assert (refused.value.field, refused.value.status) == ("amount", 400)
    lead.refresh_from_db()
    assert lead.stage == Stage.PROPOSAL
    assert not Order.objects.exists() and not Task.objects.exists()


def test_lost_needs_a_reason():
    seller = make_user("sales")
    lead = lead_through(Stage.QUALIFIED, owner=seller)
    with pytest.raises(services.LeadRuleError):
        services.close_lead(lead=lead, by=seller, outcome=Stage.LOST, reason="")
    lead = services.close_lead(lead=lead, by=seller, outcome=Stage.LOST, reason="other", reason_text="Budget frozen")
    assert (lead.stage, lead.lost_reason, lead.lost_reason_text) == (Stage.LOST, "other", "Budget frozen")
    assert not Order.objects.exists()


def test_page_close_won(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.PROPOSAL, owner=seller)
    client = client_as(user=seller)
    missing = client.post(f"/leads/{lead.pk}/close/", {"seen_stage": "proposal", "close-outcome": "won"})
    assert missing.status_code == 422 and b'data-field="amount"' in missing.content
    done = client.post(
        f"/leads/{lead.pk}/close/", {"seen_stage": "proposal", "close-outcome": "won", "close-amount": "88.00"}
    )
    assert done.status_code == 302
    lead.refresh_from_db()
    assert lead.stage == Stage.WON and lead.won_order.amount == Decimal("88.00")


def test_flag_high_intent_tells_the_creator_and_marketing_managers_once(api_as):
    marketer, manager, seller = make_user("marketing"), make_user("marketing_manager"), make_user("sales")
    lead = lead_through(Stage.CONTACTED, marketer=marketer, owner=seller)
    api = api_as(user=seller)
    for _ in range(2):
        response = api.post(f"/api/v1/leads/{lead.pk}/flag-high-intent/", {}, format="json")
        assert response.status_code == 200 and response.json()["is_high_intent"] is True
    notes = Notification.objects.filter(kind="leads.high_intent")
    assert sorted(notes.values_list("recipient_id", flat=True)) == sorted([marketer.pk, manager.pk])


def test_referral_credit_is_kept(api_as):
    referrer = make_user("service")
    response = api_as("marketing").post(
        "/api/v1/leads/",
        {"contact": {"name": "Zhao", "phone": "13900001111"}, "referred_by": referrer.pk},
        format="json",
    )
    assert response.json()["referred_by"] == referrer.pk


def test_first_call_on_an_accepted_lead_moves_it_to_contacted(api_as):
    seller = make_user("sales")
    lead = lead_through(Stage.ACCEPTED, owner=seller)
    response = api_as(user=seller).post(
        f"/api/v1/leads/{lead.pk}/activities/", {"kind": "call", "body": "Talked 10 minutes"}, format="json"
    )
    assert response.status_code == 201
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED and lead.contacted_at is not None
    assert lead.last_activity_at == response.json()["at"] or lead.last_activity_at is not None
    assert lead.stage_changes.last().to_stage == Stage.CONTACTED


def test_a_note_by_someone_else_does_not_move_the_lead(client_as):
    lead = lead_through(Stage.ACCEPTED)
    client = client_as("service")
    response = client.post(f"/leads/{lead.pk}/activity/", {"activity-kind": "call", "activity-body": "Customer called"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.stage == Stage.ACCEPTED and lead.activities.count() == 1


def test_referral_credit_per_employee():
    from leads import selectors

    referrer, other = make_user("service"), make_user("marketing")
    won = lead_through(Stage.NEGOTIATION, referred_by=referrer)
    services.close_lead(lead=won, by=won.owner, outcome=Stage.WON, amount="300.00")
    lead_through(Stage.LOST, referred_by=referrer)
    lead_through(Stage.NEW, referred_by=other)
    lead_through(Stage.NEW)
    assert selectors.referral_credit() == [
        {
            "user_id": referrer.pk,
            "username": referrer.username,
            "referred": 2,
            "won": 1,
            "won_amount": Decimal("300.00"),
        },
        {"user_id": other.pk, "username": other.username, "referred": 1, "won": 0, "won_amount": Decimal("0")},
    ]
