"""`/api/v1/touchpoints/` and `touchpoints/bulk/` (DESIGN.md "Channels: touchpoints", "REST API contract", Payloads
"Touchpoint"): touches by customer id or by contact identities, a resend recognised by (channel, external id),
refusals naming their field, every role, and lists and bulk requests whose query counts do not grow per row."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer, CustomerIdentity
from marketing.models import Touchpoint
from tests.conftest import ROLES
from tests.factories import CampaignFactory, ChannelFactory, CustomerFactory, TouchpointFactory

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")
URL, BULK = "/api/v1/touchpoints/", "/api/v1/touchpoints/bulk/"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def douyin(db):
    return ChannelFactory(code="douyin", name="Douyin")


def _touch(**extra) -> dict:
    return {"channel": "douyin", "kind": "click", "at": "2026-03-10T09:30:00+08:00", **extra}


def test_a_touchpoint_for_a_customer_id_is_recorded_and_answered_201(api_as, douyin):
    customer = CustomerFactory()
    campaign = CampaignFactory(channel=douyin)
    api = api_as("marketing")
    response = api.post(URL, _touch(customer=customer.pk, campaign=campaign.pk, external_id="dy-1"), format="json")
    assert response.status_code == 201, response.content
    touchpoint = Touchpoint.objects.get()
    assert response.json() == {
        "id": touchpoint.pk,
        "customer": customer.pk,
        "channel": "douyin",
        "campaign": campaign.pk,
        "kind": "click",
        "at": "2026-03-10T09:30:00+08:00",
        "external_id": "dy-1",
        "created_at": "2026-03-10T10:00:00+08:00",
        "created_by": api.user.pk,
        "customer_matched": True,
    }
    assert (touchpoint.customer, touchpoint.channel, touchpoint.campaign) == (customer, douyin, campaign)
    assert api.get(f"{URL}{touchpoint.pk}/").json() == {
        key: value for key, value in response.json().items() if key != "customer_matched"
    }


def test_a_contact_is_matched_by_identity_and_a_new_person_becomes_a_customer_of_the_channel(api_as, douyin):
    api = api_as("marketing")
    first = api.post(URL, _touch(contact={"name": "Wang Fang", "phone": "138 1234 5678"}), format="json")
    again = api.post(URL, _touch(kind="visit", contact={"phone": "+86 138-1234-5678"}), format="json")
    other = api.post(URL, _touch(contact={"email": "li.na@example.com"}), format="json")
    assert [r.status_code for r in (first, again, other)] == [201, 201, 201]
    assert [r.json()["customer_matched"] for r in (first, again, other)] == [False, True, False]
    assert first.json()["customer"] == again.json()["customer"] != other.json()["customer"]
    wang = Customer.objects.get(pk=first.json()["customer"])
    assert (wang.name, wang.source_channel) == ("Wang Fang", douyin)  # first known through the touch's channel
    assert Customer.objects.count() == 2 and Touchpoint.objects.count() == 3


def test_a_resend_with_the_same_channel_and_external_id_answers_200_and_writes_nothing(api_as, douyin):
    ChannelFactory(code="wechat")
    api = api_as("marketing")
    payload = _touch(external_id="imp-77", contact={"name": "Zhao Lei", "phone": "13900000077"})
    first = api.post(URL, payload, format="json")
    # The same touch again, even with another contact: the first one's answer, no new customer.
    resend = api.post(URL, {**payload, "contact": {"phone": "13900000078"}}, format="json")
    assert (first.status_code, resend.status_code) == (201, 200)
    assert resend.json()["id"] == first.json()["id"] and resend.json()["customer"] == first.json()["customer"]
    assert resend.json()["customer_matched"] is True
    assert Touchpoint.objects.count() == 1 and Customer.objects.count() == 1
    # another channel may use the same id; a blank external id never deduplicates
    assert api.post(URL, {**payload, "channel": "wechat"}, format="json").status_code == 201
    no_id = _touch(customer=first.json()["customer"])
    assert [api.post(URL, no_id, format="json").status_code for _ in range(2)] == [201, 201]
    assert Touchpoint.objects.count() == 4


def test_a_merged_customer_id_records_on_the_survivor(api_as, douyin):
    survivor = CustomerFactory()
    duplicate = CustomerFactory(merged_into=survivor, merged_at=NOW)
    response = api_as("marketing").post(URL, _touch(customer=duplicate.pk), format="json")
    assert response.status_code == 201
    assert response.json()["customer"] == survivor.pk
    assert Touchpoint.objects.get().customer == survivor


EXISTING, ELSEWHERE = "<the fixture's customer>", "<a campaign of another channel>"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_touch(customer=EXISTING, channel="tiktok"), "channel"),  # no such channel
        (_touch(customer=EXISTING, channel="retired"), "channel"),  # switched off
        (_touch(customer=EXISTING, channel=7), "channel"),
        (_touch(customer=EXISTING, channel="c" * 41), "channel"),
        (_touch(customer=EXISTING, kind="view"), "kind"),
        (_touch(customer=EXISTING, kind=None), "kind"),
        (_touch(customer=EXISTING, campaign=999_999), "campaign"),
        (_touch(customer=EXISTING, campaign=ELSEWHERE), "campaign"),
        (_touch(customer=EXISTING, campaign=1.5), "campaign"),
        (_touch(customer=EXISTING, at="2026-03-10T10:06:00+08:00"), "at"),  # six minutes ahead: beyond five
        (_touch(customer=EXISTING, at="tomorrow"), "at"),
        (_touch(customer=EXISTING, at=None), "at"),
        ({"customer": EXISTING, "channel": "douyin", "kind": "click"}, "at"),
        (_touch(customer=EXISTING, external_id="e" * 201), "external_id"),
        (_touch(), "contact"),  # neither a customer nor a contact
        (_touch(customer=EXISTING, contact={"phone": "13900000001"}), "contact"),  # both
        (_touch(customer=999_999), "customer"),  # an id that does not exist
        (_touch(customer=1.5), "customer"),
        (_touch(customer=True), "customer"),
        (_touch(contact={"name": "Wu", "fax": "010-1234"}), "contact.fax"),
        (_touch(contact={"phone": "12"}), "contact.phone"),
        (_touch(contact={}), "contact.name"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api_as, douyin, payload, field):
    ChannelFactory(code="retired", is_active=False)
    existing = CustomerFactory()
    if payload.get("customer") == EXISTING:
        payload = {**payload, "customer": existing.pk}
    if payload.get("campaign") == ELSEWHERE:
        payload = {**payload, "campaign": CampaignFactory(channel=ChannelFactory(code="wechat")).pk}
    response = api_as("marketing").post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field
    assert not Touchpoint.objects.exists()
    assert Customer.objects.count() == 1  # only the fixture's; no customer from a refused contact


def test_every_kind_a_campaign_of_the_channel_and_a_clock_a_little_fast_are_accepted(api_as, douyin):
    customer = CustomerFactory()
    campaign = CampaignFactory(channel=douyin)
    api = api_as("marketing")
    for kind in ("impression", "click", "visit", "scan", "message"):
        response = api.post(URL, _touch(customer=customer.pk, kind=kind, campaign=campaign.pk), format="json")
        assert response.status_code == 201, response.content
    ahead = _touch(customer=customer.pk, at="2026-03-10T10:04:59+08:00")  # the sender's clock runs fast
    assert api.post(URL, ahead, format="json").status_code == 201
    assert api.post(URL, _touch(customer=customer.pk, campaign=None), format="json").status_code == 201
    assert Touchpoint.objects.count() == 7
    assert set(Touchpoint.objects.values_list("kind", flat=True)) == {"impression", "click", "visit", "scan", "message"}


@pytest.mark.parametrize("role", ROLES)
def test_marketing_records_touchpoints_and_everyone_reads_them(api_as, douyin, role):
    customer = CustomerFactory()
    TouchpointFactory(customer=customer, channel=douyin)
    api = api_as(role)
    allowed = role in ("marketing", "marketing_manager", "admin")
    created = api.post(URL, _touch(customer=customer.pk), format="json")
    assert created.status_code == (201 if allowed else 403)
    bulk = api.post(BULK, [_touch(customer=customer.pk)], format="json")
    assert bulk.status_code == (207 if allowed else 403)
    assert Touchpoint.objects.count() == (3 if allowed else 1)
    listed = api.get(URL)
    assert listed.status_code == 200 and len(listed.json()["results"]) == Touchpoint.objects.count()
    one = Touchpoint.objects.first()
    assert api.get(f"{URL}{one.pk}/").json()["id"] == one.pk


def test_anonymous_is_refused(client):
    assert client.get(URL).status_code in (401, 403)
    assert client.post(URL, {}, content_type="application/json").status_code in (401, 403)
    assert client.post(BULK, [], content_type="application/json").status_code in (401, 403)


def test_the_list_filters_by_customer_channel_campaign_kind_and_time(api_as, douyin):
    wechat = ChannelFactory(code="wechat")
    campaign = CampaignFactory(channel=douyin)
    ana, bo = CustomerFactory(), CustomerFactory()
    at = datetime.fromisoformat("2026-03-01T12:00:00+08:00")
    t1 = TouchpointFactory(customer=ana, channel=douyin, campaign=campaign, kind="impression", at=at)
    t2 = TouchpointFactory(customer=ana, channel=wechat, kind="click", at=at + timedelta(days=1))
    t3 = TouchpointFactory(customer=bo, channel=douyin, kind="click", at=at + timedelta(days=2))
    api = api_as("sales")

    def ids(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [t3.pk, t2.pk, t1.pk]  # newest first
    assert ids(customer=ana.pk) == [t2.pk, t1.pk]
    assert ids(channel="douyin") == [t3.pk, t1.pk]
    assert ids(campaign=campaign.pk) == [t1.pk]
    assert ids(kind="click") == [t3.pk, t2.pk]
    assert ids(channel="douyin", kind="click") == [t3.pk]
    assert ids(at_after="2026-03-02T12:00:00+08:00", at_before="2026-03-03T12:00:00+08:00") == [t2.pk]
    assert ids(channel="nowhere") == []
    for name, value in (("customer", "abc"), ("campaign", "1.5"), ("kind", "view"), ("at_after", "soon")):
        bad = api.get(URL, {name: value})
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == name


def test_the_list_pages_newest_first_without_repeats(api_as, douyin):
    customer = CustomerFactory()
    at = datetime.fromisoformat("2026-03-01T12:00:00+08:00")
    made = [TouchpointFactory(customer=customer, channel=douyin, at=at + timedelta(minutes=i // 2)) for i in range(7)]
    api = api_as("marketing")
    seen, url = [], f"{URL}?page_size=3"
    while url:
        body = api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == [t.pk for t in sorted(made, key=lambda t: (t.at, t.pk), reverse=True)]


@pytest.mark.parametrize("n", [2, 30])
def test_the_list_queries_do_not_grow(api_as, django_assert_max_num_queries, douyin, n):
    api = api_as("marketing")
    TouchpointFactory.create_batch(n, channel=douyin, campaign=CampaignFactory(channel=douyin))
    with django_assert_max_num_queries(3):  # user's groups, rows with their channel codes (+ the look-ahead row)
        response = api.get(URL)
    assert len(response.json()["results"]) == n
    assert {row["channel"] for row in response.json()["results"]} == {"douyin"}


# ---------------------------------------------------------------- bulk


def test_bulk_answers_207_in_order_writing_each_good_item_and_none_of_the_bad(api_as, douyin):
    existing = CustomerFactory()
    TouchpointFactory(customer=existing, channel=douyin, external_id="seen-1")
    items = [
        _touch(customer=existing.pk, external_id="b-1"),
        _touch(customer=1.5),  # shape: refused by the serializer
        _touch(contact={"name": "New Person", "phone": "13900000011"}, kind="scan"),
        _touch(customer=existing.pk, channel="tiktok"),  # refused by the service
        _touch(customer=existing.pk, external_id="seen-1"),  # a resend of a stored touch
        "not an object",
        _touch(contact={"phone": "13900000012", "fax": "1"}),
        _touch(contact={"name": "Bad Phone", "phone": "12"}),
        _touch(customer=existing.pk, external_id="b-1", kind="visit"),  # a resend of item 0
        _touch(customer=999_999),
    ]
    response = api_as("marketing").post(BULK, items, format="json")
    assert response.status_code == 207, response.content
    results = response.json()
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["status"] for r in results] == [201, 400, 201, 400, 200, 400, 400, 400, 200, 400]
    assert [r["errors"][0]["field"] for r in results if r["errors"]] == [
        "customer",
        "channel",
        None,
        "contact.fax",
        "contact.phone",
        "customer",
    ]
    assert all(r["id"] is None and r["customer"] is None for r in results if r["status"] == 400)
    new = Touchpoint.objects.exclude(external_id="seen-1").order_by("pk")
    assert [t.pk for t in new] == [results[0]["id"], results[2]["id"]]
    assert results[4]["id"] == Touchpoint.objects.get(external_id="seen-1").pk
    assert results[8]["id"] == results[0]["id"] and Touchpoint.objects.get(pk=results[0]["id"]).kind == "click"
    assert [results[i]["customer_matched"] for i in (0, 2, 4, 8)] == [True, False, True, True]
    assert results[2]["customer"] == Customer.objects.get(name="New Person").pk
    assert not CustomerIdentity.objects.filter(value="+8613900000012").exists()


def test_bulk_of_more_than_1000_items_is_a_400_naming_items_and_writes_nothing(api_as, douyin):
    customer = CustomerFactory()
    response = api_as("marketing").post(BULK, [_touch(customer=customer.pk)] * 1001, format="json")
    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("items", "max_length")]
    assert not Touchpoint.objects.exists()


def test_bulk_of_1000_items_is_accepted(api_as, douyin):
    customer = CustomerFactory()
    items = [_touch(customer=customer.pk, external_id=f"i-{i}") for i in range(1000)]
    response = api_as("marketing").post(BULK, {"items": items}, format="json")
    assert response.status_code == 207
    assert Touchpoint.objects.count() == 1000


@pytest.mark.parametrize("body", [[], {}, {"items": "x"}, 5])
def test_a_bulk_body_that_is_not_a_list_of_items_is_a_400(api_as, body):
    assert api_as("marketing").post(BULK, body, format="json").status_code == 400


def _bulk_queries(api, customers, campaign, n: int, tag: str) -> int:
    items = [
        _touch(customer=customers[i % len(customers)].pk, campaign=campaign.pk, external_id=f"{tag}-{i}")
        for i in range(n)
    ]
    with CaptureQueriesContext(connection) as queries:
        response = api.post(BULK, items, format="json")
    assert response.status_code == 207 and {r["status"] for r in response.json()} == {201}
    return len(queries)


def test_a_bulk_request_reads_its_references_once_and_writes_each_item_in_three_statements(api_as, douyin):
    api = api_as("marketing")
    customers = CustomerFactory.create_batch(5)
    campaign = CampaignFactory(channel=douyin)
    one = _bulk_queries(api, customers, campaign, 1, "one")
    fifty = _bulk_queries(api, customers, campaign, 50, "fifty")
    # Channels, campaigns, customers and earlier touchpoints are read once; each further item costs its savepoint,
    # its INSERT and the savepoint's release, nothing more.
    assert fifty - one <= 49 * 3, (one, fifty)
    assert Touchpoint.objects.count() == 51


def test_touchpoints_are_in_the_schema(api_as):
    paths = api_as("sales").get("/api/schema/", {"format": "json"}).json()["paths"]
    assert "207" in paths["/api/v1/touchpoints/bulk/"]["post"]["responses"]
    assert {"200", "201"} <= set(paths["/api/v1/touchpoints/"]["post"]["responses"])
    assert "/api/v1/touchpoints/{id}/" in paths
