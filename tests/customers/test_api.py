from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Customer, Order
from leads.stages import Stage
from tests.factories import (
    CampaignFactory,
    ChannelFactory,
    ChannelSpendFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    LeadFactory,
    OrderFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["marketing", "sales", "service", "sales_manager", "admin"])
def test_create_then_same_person_matches(api_as, role):
    api = api_as(role)
    payload = {
        "name": "Li Na",
        "company": "ACME",
        "city": "Shanghai",
        "identities": [{"kind": "phone", "value": "138 1234 5678"}, {"kind": "email", "value": " Li@Example.com"}],
    }
    first = api.post("/api/v1/customers/", payload, format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["customer_matched"] is False
    assert {(i["kind"], i["value"]) for i in body["identities"]} == {
        ("phone", "+8613812345678"),
        ("email", "li@example.com"),
    }
    assert body["lifecycle_stage"] == "awareness"
    assert set(body["rfm"]) >= {"r", "f", "m", "segment"} and body["merged_into"] is None
    again = api.post(
        "/api/v1/customers/",
        {"name": "Nina", "identities": [{"kind": "phone", "value": "+86-138-1234-5678"}]},
        format="json",
    )
    assert again.status_code == 200
    assert again.json()["customer_matched"] is True and again.json()["id"] == body["id"]
    assert Customer.objects.count() == 1


def test_invalid_identity_is_400_naming_the_field(api_as):
    response = api_as("marketing").post(
        "/api/v1/customers/",
        {"name": "X", "identities": [{"kind": "phone", "value": "123"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "identities[0].value"
    assert not Customer.objects.exists()


def test_update_and_identity_taken_conflict(api_as):
    a = CustomerIdentityFactory(kind="email", value="a@example.com").customer
    b = CustomerFactory()
    api = api_as("service")
    ok = api.patch(f"/api/v1/customers/{b.pk}/", {"city": "Hangzhou"}, format="json")
    assert ok.status_code == 200 and ok.json()["city"] == "Hangzhou"
    taken = api.patch(
        f"/api/v1/customers/{b.pk}/", {"identities": [{"kind": "email", "value": "A@example.com"}]}, format="json"
    )
    assert taken.status_code == 409 and taken.json()["code"] == "identity_taken"
    assert a.identities.count() == 1


def test_read_has_etag_and_stale_write_is_412(api_as):
    customer = CustomerFactory()
    api = api_as("sales")
    read = api.get(f"/api/v1/customers/{customer.pk}/")
    assert read.status_code == 200 and read["ETag"]
    Customer.objects.filter(pk=customer.pk).update(updated_at=timezone.now() + timedelta(seconds=5))
    stale = api.patch(f"/api/v1/customers/{customer.pk}/", {"city": "X"}, format="json", HTTP_IF_MATCH=read["ETag"])
    assert stale.status_code == 412


def test_list_filters_and_cursor_pages(api_as):
    wechat = ChannelFactory(code="wechat")
    tagged = CustomerFactory(city="Shanghai", lifecycle_stage="decision", rfm_segment="champions")
    LeadFactory(customer=tagged, source_channel=wechat, stage=Stage.ACCEPTED).tags.add(TagFactory(name="expo"))
    CustomerFactory.create_batch(4, city="Beijing")
    CustomerIdentityFactory(customer=tagged, kind="phone", value="+8613900000000")
    api = api_as("marketing")

    def ids(query):
        response = api.get(f"/api/v1/customers/?{query}")
        assert response.status_code == 200, response.content
        return [c["id"] for c in response.json()["results"]]

    assert ids("tag=expo") == [tagged.pk]
    assert ids("channel=wechat") == [tagged.pk]
    assert ids("city=shanghai") == [tagged.pk]
    assert ids("lifecycle=decision") == [tagged.pk]
    assert ids("segment=champions") == [tagged.pk]
    assert ids("q=139 0000 0000") == [tagged.pk]
    assert ids("q=" + tagged.name[:5]).count(tagged.pk) == 1
    page = api.get("/api/v1/customers/?page_size=2").json()
    assert len(page["results"]) == 2 and page["next"] and page["previous"] is None
    second = api.get(page["next"]).json()
    assert not set(c["id"] for c in second["results"]) & set(c["id"] for c in page["results"])


def test_tombstones_are_not_listed_but_resolve(api_as):
    survivor = CustomerFactory()
    tomb = CustomerFactory(merged_into=survivor)
    api = api_as("sales")
    listed = [c["id"] for c in api.get("/api/v1/customers/").json()["results"]]
    assert tomb.pk not in listed
    assert api.get(f"/api/v1/customers/{tomb.pk}/").json()["merged_into"] == survivor.pk
    assert api.patch(f"/api/v1/customers/{tomb.pk}/", {"city": "X"}, format="json").status_code == 409


@pytest.mark.parametrize("n", [1, 40])
def test_customer_list_queries_do_not_grow(api_as, django_assert_max_num_queries, n):
    api = api_as("sales")
    for customer in CustomerFactory.create_batch(n):
        CustomerIdentityFactory(customer=customer)
    with django_assert_max_num_queries(4):  # groups, customers (cursor, no COUNT), identities
        response = api.get("/api/v1/customers/?page_size=200")
    assert response.status_code == 200 and len(response.json()["results"]) == n


def test_timeline_merges_every_department_newest_first(api_as):
    from tests.factories import ComplaintFactory, LeadStageChangeFactory, NpsResponseFactory

    customer = CustomerFactory()
    now = timezone.now()
    OrderFactory(customer=customer, ordered_at=now - timedelta(days=3))
    LeadStageChangeFactory(lead=LeadFactory(customer=customer), at=now - timedelta(days=2))
    ComplaintFactory(customer=customer, opened_at=now - timedelta(days=1))
    NpsResponseFactory(customer=customer, answered_at=now - timedelta(hours=1))
    events = api_as("service").get(f"/api/v1/customers/{customer.pk}/timeline/").json()["results"]
    kinds = [e["kind"] for e in events]
    assert {"order.placed", "lead.stage_changed", "nps.answered", "customer.created"} <= set(kinds)
    times = [e["at"] for e in events]
    assert times == sorted(times, reverse=True)


def test_data_quality_endpoint(api_as):
    CustomerFactory(name="No Contact", company="")
    a = CustomerFactory(name="Wang Wei", company="ACME")
    b = CustomerFactory(name="wang  wei", company="acme ")
    CustomerIdentityFactory(customer=a, kind="phone", value="+8613700000000")
    CustomerIdentityFactory(customer=b, kind="phone", value="137-0000-0000", is_valid=False)
    body = api_as("marketing").get("/api/v1/customers/data-quality/").json()
    assert "No Contact" in {c["name"] for c in body["no_contact"]}
    assert {i["value"] for i in body["invalid"]} == {"137-0000-0000"}
    reasons = {g["reason"]: {c["id"] for c in g["customers"]} for g in body["duplicates"]}
    assert reasons["phone"] == {a.pk, b.pk}
    assert reasons["name_company"] == {a.pk, b.pk}


def test_orders_create_resend_update_and_roles(api_as):
    customer = CustomerFactory()
    ChannelFactory(code="tmall")
    payload = {
        "customer": customer.pk,
        "amount": "199.00",
        "ordered_at": "2026-03-01T10:00:00+08:00",
        "channel": "tmall",
        "external_id": "T-1",
    }
    api = api_as("sales")
    first = api.post("/api/v1/orders/", payload, format="json")
    assert first.status_code == 201, first.content
    resend = api.post("/api/v1/orders/", payload, format="json")
    assert resend.status_code == 200 and resend.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1
    patched = api.patch(f"/api/v1/orders/{first.json()['id']}/", {"amount": "150.00"}, format="json")
    assert patched.status_code == 200 and patched.json()["amount"] == "150.00"
    # DESIGN.md "Roles": sales and service create orders; marketing does not.
    assert api_as("service").post("/api/v1/orders/", payload | {"external_id": "T-2"}, format="json").status_code == 201
    assert (
        api_as("marketing").post("/api/v1/orders/", payload | {"external_id": "T-4"}, format="json").status_code == 403
    )
    bad = api.post("/api/v1/orders/", payload | {"amount": "-1", "external_id": "T-3"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "amount"
    assert api_as("marketing").get("/api/v1/orders/").json()["results"][0]["channel"] == "tmall"


def test_channels_campaigns_spend(api_as):
    api = api_as("marketing")
    channel = api.post("/api/v1/channels/", {"code": "douyin", "name": "Douyin"}, format="json")
    assert channel.status_code == 201
    dup = api.post("/api/v1/channels/", {"code": "douyin", "name": "Again"}, format="json")
    assert dup.status_code == 400 and dup.json()["errors"][0]["field"] == "code"
    campaign = api.post("/api/v1/campaigns/", {"name": "618", "channel": "douyin"}, format="json")
    assert campaign.status_code == 201
    negative = api.post("/api/v1/campaigns/", {"name": "11.11", "channel": "douyin", "budget": "-5"}, format="json")
    assert negative.status_code == 400 and negative.json()["errors"][0]["field"] == "budget"
    spend = api.post(
        "/api/v1/channel-spend/", {"channel": "douyin", "month": "2026-03", "amount": "5000"}, format="json"
    )
    assert spend.status_code == 201 and spend.json()["month"] == "2026-03"
    again = api.post("/api/v1/channel-spend/", {"channel": "douyin", "month": "2026-03", "amount": "1"}, format="json")
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "month"
    bad = api.post("/api/v1/channel-spend/", {"channel": "douyin", "month": "March", "amount": "1"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "month"
    upd = api.patch(f"/api/v1/channel-spend/{spend.json()['id']}/", {"amount": "6000.00"}, format="json")
    assert upd.status_code == 200 and upd.json()["amount"] == "6000.00"
    for role in ("sales", "service"):
        assert api_as(role).post("/api/v1/channels/", {"code": "x", "name": "X"}, format="json").status_code == 403
        assert api_as(role).get("/api/v1/channel-spend/").status_code == 200
    assert (
        api_as("sales_manager").post("/api/v1/channels/", {"code": "y", "name": "Y"}, format="json").status_code == 201
    )
    CampaignFactory()
    ChannelSpendFactory()


def test_anonymous_is_refused(client):
    assert client.get("/api/v1/customers/").status_code in (401, 403)


def test_data_quality_groups_without_joining_every_identity_to_its_customer(api_as):
    """The duplicate search anti-joins the few tombstones (1.0 s -> 0.3 s at 100,000 customers on PostgreSQL)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    a, b, tomb = CustomerFactory(), CustomerFactory(), CustomerFactory()
    CustomerIdentityFactory(customer=a, kind="email", value="a@example.com")
    CustomerIdentityFactory(customer=b, kind="email", value=" A@example.com")
    tomb.merged_into = a
    tomb.save(update_fields=["merged_into"])
    CustomerIdentityFactory(customer=tomb, kind="email", value="a@EXAMPLE.com")
    api = api_as("marketing")
    with CaptureQueriesContext(connection) as ctx:
        body = api.get("/api/v1/customers/data-quality/").json()
    groups = [{c["id"] for c in g["customers"]} for g in body["duplicates"] if g["reason"] == "email"]
    assert groups == [{a.pk, b.pk}]
    grouping = [q["sql"] for q in ctx.captured_queries if "GROUP BY" in q["sql"]]
    assert grouping and not any("INNER JOIN" in sql or "COUNT(DISTINCT" in sql for sql in grouping)
