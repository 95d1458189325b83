"""`/api/v1/events/` and `events/bulk/` (DESIGN.md "Customer events", "REST API contract", Payloads "Event"):
events by customer id or by contact identities, a resend recognised by (source, external id), refusals naming
their field, every role, and a list whose query count does not grow."""

from datetime import datetime, timedelta

import pytest
import time_machine

from customers.models import Customer, CustomerIdentity
from marketing.models import ActivationWindow, CustomerEvent
from tests.conftest import ROLES
from tests.factories import ChannelFactory, CustomerEventFactory, CustomerFactory
from tests.webhook_events import endpoints_for, sent

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")
URL, BULK = "/api/v1/events/", "/api/v1/events/bulk/"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _event(**extra) -> dict:
    return {"type": "page_view", "at": "2026-03-10T09:30:00+08:00", "source": "web", **extra}


def test_an_event_for_a_customer_id_is_recorded_announced_and_answered_201(api_as):
    wanted, others = endpoints_for("customer.event")
    customer = CustomerFactory()
    api = api_as("marketing")
    response = api.post(
        URL,
        _event(customer=customer.pk, external_id="pv-1", properties={"url": "https://shop.example.com/filters"}),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    event = CustomerEvent.objects.get()
    assert body == {
        "id": event.pk,
        "customer": customer.pk,
        "type": "page_view",
        "at": "2026-03-10T09:30:00+08:00",
        "source": "web",
        "external_id": "pv-1",
        "properties": {"url": "https://shop.example.com/filters"},
        "created_at": "2026-03-10T10:00:00+08:00",
        "created_by": api.user.pk,
        "customer_matched": True,
    }
    assert sent(wanted) == [
        (
            "customer.event",
            {"event": event.pk, "customer": customer.pk, "type": "page_view", "at": "2026-03-10T09:30:00+08:00"},
        )
    ]
    assert sent(others) == []
    assert not ActivationWindow.objects.exists()  # only a sign-up opens one


def test_a_contact_is_matched_by_identity_and_a_new_person_becomes_a_customer(api_as):
    api = api_as("marketing")
    first = api.post(
        URL, _event(type="signed_up", contact={"name": "Wang Fang", "phone": "138 1234 5678"}), format="json"
    )
    again = api.post(URL, _event(contact={"phone": "+86 138-1234-5678"}), format="json")
    other = api.post(URL, _event(contact={"email": "li.na@example.com"}), format="json")
    assert [r.status_code for r in (first, again, other)] == [201, 201, 201]
    assert (first.json()["customer_matched"], again.json()["customer_matched"]) == (False, True)
    assert first.json()["customer"] == again.json()["customer"] != other.json()["customer"]
    assert other.json()["customer_matched"] is False
    assert Customer.objects.get(pk=first.json()["customer"]).name == "Wang Fang"
    assert Customer.objects.count() == 2 and CustomerEvent.objects.count() == 3


def test_a_resend_with_the_same_source_and_external_id_answers_200_and_writes_nothing(api_as):
    wanted, _others = endpoints_for("customer.event")
    api = api_as("marketing")
    payload = _event(type="signed_up", external_id="signup-77", contact={"name": "Zhao Lei", "phone": "13900000077"})
    first = api.post(URL, payload, format="json")
    # The same event again, even with another contact: the first one's answer, no new customer.
    resend = api.post(URL, {**payload, "contact": {"phone": "13900000078"}}, format="json")
    assert (first.status_code, resend.status_code) == (201, 200)
    assert resend.json()["id"] == first.json()["id"] and resend.json()["customer"] == first.json()["customer"]
    assert CustomerEvent.objects.count() == 1 and ActivationWindow.objects.count() == 1
    assert Customer.objects.count() == 1
    assert len(sent(wanted)) == 1
    # another source may use the same id; a blank external id never deduplicates
    assert api.post(URL, {**payload, "source": "app"}, format="json").status_code == 201
    no_id = _event(customer=first.json()["customer"])
    assert [api.post(URL, no_id, format="json").status_code for _ in range(2)] == [201, 201]
    assert CustomerEvent.objects.count() == 4


def test_a_merged_customer_id_records_on_the_survivor(api_as):
    survivor = CustomerFactory()
    duplicate = CustomerFactory(merged_into=survivor, merged_at=NOW)
    response = api_as("marketing").post(URL, _event(customer=duplicate.pk), format="json")
    assert response.json()["customer"] == survivor.pk


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_event(type="clicked_ad"), "type"),
        (_event(type="custom:"), "type"),
        (_event(type="custom:Has Spaces"), "type"),
        (_event(type="custom:" + "x" * 74), "type"),
        (_event(type=7), "type"),
        (_event(contact={"name": "Wu", "fax": "010-1234"}), "contact.fax"),
        (_event(contact={"phone": "12"}), "contact.phone"),
        (_event(contact={}), "contact.name"),
        (_event(), "contact"),
        (_event(), "customer"),  # an id that does not exist
        (_event(at="2026-03-10T10:06:00+08:00"), "at"),  # six minutes ahead: beyond the five allowed
        (_event(at="tomorrow"), "at"),
        (_event(at=None), "at"),
        (_event(source=""), "source"),
        (_event(source="s" * 51), "source"),
        (_event(external_id="e" * 201), "external_id"),
        (_event(properties=["a"]), "properties"),
        (_event(properties={"blob": "x" * 10_001}), "properties"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api_as, payload, field):
    existing = CustomerFactory()
    if "contact" not in payload and field not in ("contact", "customer"):
        payload = {"customer": existing.pk, **payload}
    if field == "customer":
        payload = {**payload, "customer": 999_999}
    response = api_as("marketing").post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field
    assert not CustomerEvent.objects.exists()
    assert Customer.objects.count() == 1  # only the fixture's; no customer from a refused contact


def test_custom_types_and_a_clock_a_little_fast_are_accepted(api_as):
    customer = CustomerFactory()
    api = api_as("marketing")
    for kind in ("custom:webinar_attended", "custom:trial.extended-2", "form_submitted", "purchase", "activated"):
        assert api.post(URL, _event(customer=customer.pk, type=kind), format="json").status_code == 201
    ahead = _event(customer=customer.pk, at="2026-03-10T10:04:59+08:00")  # the sender's clock runs fast
    assert api.post(URL, ahead, format="json").status_code == 201
    assert CustomerEvent.objects.count() == 6


@pytest.mark.parametrize("role", ROLES)
def test_marketing_records_events_and_everyone_reads_them(api_as, role):
    customer = CustomerFactory()
    CustomerEventFactory(customer=customer)
    api = api_as(role)
    allowed = role in ("marketing", "marketing_manager", "admin")
    created = api.post(URL, _event(customer=customer.pk), format="json")
    assert created.status_code == (201 if allowed else 403)
    bulk = api.post(BULK, [_event(customer=customer.pk)], format="json")
    assert bulk.status_code == (207 if allowed else 403)
    assert CustomerEvent.objects.count() == (3 if allowed else 1)
    listed = api.get(URL)
    assert listed.status_code == 200 and len(listed.json()["results"]) == CustomerEvent.objects.count()
    one = CustomerEvent.objects.first()
    assert api.get(f"{URL}{one.pk}/").json()["id"] == one.pk


def test_anonymous_is_refused(client):
    assert client.get(URL).status_code in (401, 403)
    assert client.post(URL, {}, content_type="application/json").status_code in (401, 403)


def test_the_list_filters_by_customer_type_source_and_time(api_as):
    web = ChannelFactory(code="web")
    ana, bo = CustomerFactory(source_channel=web), CustomerFactory()
    at = datetime.fromisoformat("2026-03-01T12:00:00+08:00")
    e1 = CustomerEventFactory(customer=ana, type="signed_up", source="web", at=at)
    e2 = CustomerEventFactory(customer=ana, type="page_view", source="app", at=at + timedelta(days=1))
    e3 = CustomerEventFactory(customer=bo, type="page_view", source="web", at=at + timedelta(days=2))
    api = api_as("sales")

    def ids(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [e3.pk, e2.pk, e1.pk]  # newest first
    assert ids(customer=ana.pk) == [e2.pk, e1.pk]
    assert ids(type="page_view") == [e3.pk, e2.pk]
    assert ids(source="web") == [e3.pk, e1.pk]
    assert ids(at_after="2026-03-02T12:00:00+08:00", at_before="2026-03-03T12:00:00+08:00") == [e2.pk]
    bad = api.get(URL, {"customer": "abc"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "customer"


def test_the_list_pages_newest_first_without_repeats(api_as):
    customer = CustomerFactory()
    at = datetime.fromisoformat("2026-03-01T12:00:00+08:00")
    made = [CustomerEventFactory(customer=customer, at=at + timedelta(minutes=i // 2)) for i in range(7)]
    api = api_as("marketing")
    seen, url = [], f"{URL}?page_size=3"
    while url:
        body = api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    expected = [e.pk for e in sorted(made, key=lambda e: (e.at, e.pk), reverse=True)]
    assert seen == expected


@pytest.mark.parametrize("n", [1, 30])
def test_the_list_queries_do_not_grow(api_as, django_assert_max_num_queries, n):
    api = api_as("marketing")
    CustomerEventFactory.create_batch(n)
    with django_assert_max_num_queries(3):  # user's groups, rows (+ the cursor's look-ahead in the same query)
        response = api.get(URL)
    assert len(response.json()["results"]) == n


# ---------------------------------------------------------------- bulk


def test_bulk_answers_207_in_order_writing_each_good_item_and_none_of_the_bad(api_as):
    existing = CustomerFactory()
    CustomerEventFactory(customer=existing, source="web", external_id="seen-1")
    items = [
        _event(customer=existing.pk, type="signed_up", external_id="b-1"),
        _event(customer=1.5),  # shape: refused by the serializer
        _event(contact={"name": "New Person", "phone": "13900000011"}, type="activated"),
        _event(customer=existing.pk, type="bogus"),  # refused by the service
        _event(customer=existing.pk, external_id="seen-1"),  # a resend
        "not an object",
        _event(contact={"phone": "13900000012", "fax": "1"}),
        _event(contact={"name": "Bad Phone", "phone": "12"}),
    ]
    response = api_as("marketing").post(BULK, items, format="json")
    assert response.status_code == 207, response.content
    results = response.json()
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["status"] for r in results] == [201, 400, 201, 400, 200, 400, 400, 400]
    assert [r["errors"][0]["field"] for r in results if r["errors"]] == [
        "customer",
        "type",
        None,
        "contact.fax",
        "contact.phone",
    ]
    assert all(r["id"] is None for r in results if r["status"] == 400)
    new = CustomerEvent.objects.exclude(external_id="seen-1").order_by("pk")
    assert [e.pk for e in new] == [results[0]["id"], results[2]["id"]]
    assert results[4]["id"] == CustomerEvent.objects.get(external_id="seen-1").pk
    assert (results[2]["customer_matched"], results[0]["customer_matched"]) == (False, True)
    assert ActivationWindow.objects.get().customer == existing  # the good sign-up opened its window
    assert not CustomerIdentity.objects.filter(value__in=["+8613900000012"]).exists()


def test_bulk_of_more_than_1000_items_is_a_400_naming_items_and_writes_nothing(api_as):
    customer = CustomerFactory()
    response = api_as("marketing").post(BULK, [_event(customer=customer.pk)] * 1001, format="json")
    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("items", "max_length")]
    assert not CustomerEvent.objects.exists()


def test_bulk_of_1000_items_is_accepted(api_as):
    customer = CustomerFactory()
    response = api_as("marketing").post(BULK, {"items": [_event(customer=customer.pk)] * 1000}, format="json")
    assert response.status_code == 207
    assert CustomerEvent.objects.count() == 1000


@pytest.mark.parametrize("body", [[], {}, {"items": "x"}, 5])
def test_a_bulk_body_that_is_not_a_list_of_items_is_a_400(api_as, body):
    assert api_as("marketing").post(BULK, body, format="json").status_code == 400


def test_events_are_in_the_schema(api_as):
    paths = api_as("sales").get("/api/schema/", {"format": "json"}).json()["paths"]
    assert "207" in paths["/api/v1/events/bulk/"]["post"]["responses"]
    assert {"200", "201"} <= set(paths["/api/v1/events/"]["post"]["responses"])
