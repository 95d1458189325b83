"""`POST /api/v1/leads/bulk/` (DESIGN.md "REST API contract"): up to 1,000 items, 207 with one result per item in
order, each good item written, each bad one reported and not written."""

import pytest

from customers.models import Customer, CustomerIdentity
from leads.models import Lead, LeadStageChange
from tests.conftest import ROLES
from tests.factories import ChannelFactory, CustomerFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/leads/bulk/"


def _lead(phone: str, **extra) -> dict:
    return {"contact": {"name": f"Contact {phone}", "phone": phone}, **extra}


def test_mixed_items_answer_207_in_order_and_only_good_ones_are_written(api_as):
    ChannelFactory(code="douyin")
    ChannelFactory(code="closed", is_active=False)
    existing = CustomerFactory()
    items = [
        _lead("13900000001", source_channel="douyin", tags=["vip"], note="Called twice."),
        {"customer": 1.5},  # shape: refused by the serializer
        _lead("12"),  # a phone number the identity service refuses
        _lead("13900000002", source_channel="closed"),  # an inactive channel: refused by the service
        {"customer": existing.pk, "interest": "Filters"},
        "not an object",
        _lead("13900000003", note="x" * 10_001),
    ]
    response = api_as("marketing").post(URL, items, format="json")
    assert response.status_code == 207, response.content
    results = response.json()
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["status"] for r in results] == [201, 400, 400, 400, 201, 400, 400]
    assert [r["errors"][0]["field"] for r in results if r["errors"]] == [
        "customer",
        "contact.phone",
        "source_channel",
        None,
        "note",
    ]
    assert all(r["id"] is None for r in results if r["status"] != 201)
    created = Lead.objects.order_by("pk")
    assert [lead.pk for lead in created] == [results[0]["id"], results[4]["id"]]
    assert results[4]["customer"] == existing.pk and results[4]["customer_matched"] is True
    first = created[0]
    assert (first.source_channel.code, first.note, [t.name for t in first.tags.all()]) == (
        "douyin",
        "Called twice.",
        ["vip"],
    )
    assert LeadStageChange.objects.filter(to_stage="new").count() == 2  # each created lead starts its history
    # The refused items left nothing behind: no customer for 13900000002 or 13900000003.
    assert not CustomerIdentity.objects.filter(value__in=["+8613900000002", "+8613900000003"]).exists()


def test_items_with_one_phone_are_one_customer(api_as):
    items = [_lead("138 1234 5678"), _lead("+86 138-1234-5678"), _lead("13812345679")]
    results = api_as("marketing").post(URL, {"items": items}, format="json").json()
    assert [r["status"] for r in results] == [201, 201, 201]
    assert [r["customer_matched"] for r in results] == [False, True, False]
    assert results[0]["customer"] == results[1]["customer"] != results[2]["customer"]
    assert Customer.objects.count() == 2 and Lead.objects.count() == 3


def test_more_than_1000_items_is_a_400_and_writes_nothing(api_as):
    response = api_as("marketing").post(URL, [_lead("13900000001")] * 1001, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("items", "max_length")]
    assert not Lead.objects.exists()


@pytest.mark.parametrize("body", [[], {}, {"items": "x"}, 5])
def test_a_body_that_is_not_a_list_of_items_is_a_400(api_as, body):
    response = api_as("marketing").post(URL, body, format="json")
    assert response.status_code == 400, response.content


@pytest.mark.parametrize("role", ROLES)
def test_only_those_who_create_leads_may_send_them_in_bulk(api_as, role):
    allowed = role in ("marketing", "marketing_manager", "admin")
    response = api_as(role).post(URL, [_lead("13900000001"), _lead("13900000002")], format="json")
    assert response.status_code == (207 if allowed else 403), response.content
    assert Lead.objects.count() == (2 if allowed else 0)
    assert Customer.objects.count() == (2 if allowed else 0)


def test_bulk_is_in_the_schema(api_as):
    paths = api_as("sales").get("/api/schema/", {"format": "json"}).json()["paths"]
    assert "207" in paths["/api/v1/leads/bulk/"]["post"]["responses"]
