"""Lead creation from marketing (page + API) and the handoff package."""

import pytest

from customers.models import Customer
from leads import services
from leads.errors import HandoffIncomplete, LeadRuleError
from leads.models import Lead
from leads.stages import Stage
from tests.factories import (
    CampaignFactory,
    ChannelFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    LeadFactory,
    lead_through,
    make_user,
)

pytestmark = pytest.mark.django_db


def test_api_create_with_a_new_contact(api_as):
    channel = ChannelFactory(code="douyin")
    campaign = CampaignFactory(channel=channel)
    referrer = make_user("service")
    api = api_as("marketing")
    response = api.post(
        "/api/v1/leads/",
        {
            "contact": {"name": "Li Lei", "phone": "138 1234 5678", "company": "Acme", "city": "Hangzhou"},
            "source_channel": "douyin",
            "campaign": campaign.pk,
            "tags": ["vip", "demo"],
            "interest": "Water purifier",
            "note": "Asked for a home visit.",
            "referred_by": referrer.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["stage"] == "new" and body["customer_matched"] is False and body["owner"] is None
    assert sorted(body["tags"]) == ["demo", "vip"]
    assert body["source_channel"] == "douyin" and body["referred_by"] == referrer.pk
    lead = Lead.objects.get(pk=body["id"])
    assert lead.created_by == api.user
    assert lead.customer.identities.get().value == "+8613812345678"
    assert lead.stage_changes.get().to_stage == Stage.NEW


def test_api_create_matches_an_existing_customer_by_identity(api_as):
    customer = CustomerFactory()
    CustomerIdentityFactory(customer=customer, kind="email", value="li@example.com")
    response = api_as("marketing").post(
        "/api/v1/leads/", {"contact": {"name": "Lei", "email": " LI@example.com "}}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["customer_matched"] is True
    assert response.json()["customer"] == customer.pk
    assert Customer.objects.count() == 1


def test_api_create_for_an_existing_customer_id(api_as):
    customer = CustomerFactory()
    response = api_as("marketing").post("/api/v1/leads/", {"customer": customer.pk}, format="json")
    assert response.status_code == 201 and response.json()["customer"] == customer.pk


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "contact"),
        ({"contact": {"name": "A"}, "customer": "EXISTING"}, "contact"),
        ({"contact": {"name": "A", "phone": "12"}}, "contact.phone"),
        ({"contact": {"name": "A"}, "source_channel": "nope"}, "source_channel"),
        ({"contact": {"name": "A"}, "tags": "notalist"}, "tags"),
    ],
)
def test_api_create_bad_input_names_the_field(api_as, payload, field):
    if payload.get("customer") == "EXISTING":
        payload = {**payload, "customer": CustomerFactory().pk}
    response = api_as("marketing").post("/api/v1/leads/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in [e["field"] for e in response.json()["errors"]]
    assert Lead.objects.count() == 0


def test_page_create(client_as):
    ChannelFactory(code="wechat-ads", name="WeChat ads")
    client = client_as("marketing")
    response = client.post(
        "/leads/new/",
        {"name": "Han Meimei", "email": "han@example.com", "source_channel": "", "tags": "vip, 新品", "interest": "X"},
    )
    lead = Lead.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/leads/{lead.pk}/"
    assert sorted(t.name for t in lead.tags.all()) == ["vip", "新品"]
    bad = client.post("/leads/new/", {"name": "Bad", "phone": "12"})
    assert bad.status_code == 422
    assert b'data-field="phone"' in bad.content


# --- the handoff package --------------------------------------------------------------------------------------


def test_handoff_refused_without_contact_method_and_channel_names_both():
    marketer = make_user("marketing")
    lead = LeadFactory(created_by=marketer, source_channel=None, contact=False)
    with pytest.raises(HandoffIncomplete) as refused:
        services.handoff_lead(lead=lead, by=marketer)
    assert refused.value.field == "contact"
    assert "contact method" in refused.value.message and "source channel" in refused.value.message
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW and not lead.stage_changes.exists()


def test_handoff_refused_without_source_channel_over_the_api(api_as):
    marketer = make_user("marketing")
    lead = LeadFactory(created_by=marketer, source_channel=None)
    response = api_as(user=marketer).post(f"/api/v1/leads/{lead.pk}/handoff/", {"assignee": None}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "handoff_incomplete"
    assert response.json()["errors"][0]["field"] == "source_channel"
    assert "source channel" in response.json()["detail"]


def test_handoff_may_complete_the_package_and_goes_to_the_assignee(api_as):
    marketer, seller = make_user("marketing"), make_user("sales")
    lead = LeadFactory(created_by=marketer, source_channel=None)
    ChannelFactory(code="store")
    response = api_as(user=marketer).post(
        f"/api/v1/leads/{lead.pk}/handoff/",
        {"assignee": seller.pk, "source_channel": "store", "tags": ["hot"], "interest": "Sofa", "note": "Call at 6"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["stage"], body["owner"], body["tags"], body["interest"]) == ("handed_off", seller.pk, ["hot"], "Sofa")
    assert seller.notifications.filter(kind="leads.handoff").count() == 1


def test_handoff_to_a_non_sales_user_is_refused():
    marketer = make_user("marketing")
    lead = LeadFactory(created_by=marketer)
    with pytest.raises(LeadRuleError) as refused:
        services.handoff_lead(lead=lead, by=marketer, assignee=make_user("service"))
    assert refused.value.field == "assignee"


def test_handoff_without_assignee_lands_in_the_pool():
    lead = lead_through(Stage.HANDED_OFF, pool=True)
    assert lead.owner is None and lead.stage == Stage.HANDED_OFF
    assert lead.first_handed_off_at == lead.handed_off_at


def test_handoff_page_shows_whats_missing_and_refuses(client_as):
    marketer = make_user("marketing")
    lead = LeadFactory(created_by=marketer, source_channel=None, contact=False)
    client = client_as(user=marketer)
    page = client.get(f"/leads/{lead.pk}/")
    assert b'data-testid="handoff-missing"' in page.content
    response = client.post(f"/leads/{lead.pk}/handoff/", {"seen_stage": "new", "handoff-assignee": ""})
    assert response.status_code == 422
    assert "contact method" in response.content.decode()
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW


@pytest.mark.parametrize(
    ("reason", "text", "ok"),
    [("no_budget", "", True), ("other", "", False), ("other", "Moved abroad", True), ("bogus", "", False)],
)
def test_reject_reasons_from_the_fixed_list(api_as, reason, text, ok):
    seller = make_user("sales")
    lead = lead_through(Stage.HANDED_OFF, owner=seller)
    response = api_as(user=seller).post(
        f"/api/v1/leads/{lead.pk}/reject/", {"reason": reason, "reason_text": text}, format="json"
    )
    lead.refresh_from_db()
    if ok:
        assert response.status_code == 200 and lead.stage == Stage.NEW and lead.reject_reason == reason
        assert lead.created_by.notifications.filter(kind="leads.rejected").count() == 1
    else:
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] in ("reason", "reason_text")
        assert lead.stage == Stage.HANDED_OFF


def test_sales_sees_the_package_and_customer_history_before_accepting(client_as):
    seller = make_user("sales")
    customer = CustomerFactory(name="Wang Fang")
    older = lead_through(Stage.LOST, customer=customer)
    lead = lead_through(Stage.HANDED_OFF, owner=seller, customer=customer, interest="Big TV", note="Prefers WeChat")
    page = client_as(user=seller).get(f"/leads/{lead.pk}/").content.decode()
    assert "Big TV" in page and "Prefers WeChat" in page
    assert f"/leads/{older.pk}/" in page  # the customer's earlier lead
    assert "+86138" in page  # the contact method
    assert "Accept" in page and "Reject" in page


def test_edit_before_handoff_only(client_as):
    marketer = make_user("marketing")
    lead = lead_through(Stage.NEW, marketer=marketer)
    client = client_as(user=marketer)
    response = client.post(
        f"/leads/{lead.pk}/edit/",
        {"interest": "New interest", "tags": "a, b", "source_channel": lead.source_channel_id},
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.interest == "New interest" and lead.tags.count() == 2
    services.handoff_lead(lead=lead, by=marketer)
    assert client.get(f"/leads/{lead.pk}/edit/").status_code == 403


def test_a_lead_on_an_inactive_channel_is_refused_by_the_api_as_by_the_page(api_as):
    ChannelFactory(code="old-expo", is_active=False)
    response = api_as("marketing").post(
        "/api/v1/leads/",
        {"contact": {"name": "Li", "phone": "13800000077"}, "source_channel": "old-expo"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["code"]) == (
        "source_channel",
        "inactive",
    )
    assert not Lead.objects.exists()
