"""`POST /api/v1/orders/bulk/` (DESIGN.md "REST API contract"): up to 1,000 orders, 207 with one result per item in
order `{"index", "status", "id", "customer", "customer_matched", "errors"}`; each good item written, each bad one
reported and not written (not even the customer its contact would have created)."""

from decimal import Decimal

import pytest

from customers.models import Customer, CustomerIdentity, Order, OrderLine
from tests.conftest import ROLES
from tests.factories import ChannelFactory, CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders/bulk/"
AT = "2026-03-01T10:00:00+08:00"


def _by_contact(phone: str, **extra) -> dict:
    return {"contact": {"name": f"Buyer {phone}", "phone": phone}, "ordered_at": AT, **extra}


def test_mixed_items_answer_207_in_order_and_only_good_ones_are_written(api_as):
    ChannelFactory(code="tmall")
    ProductFactory(sku="MILK-1", price=Decimal("120.00"))
    ProductFactory(sku="OLD-1", is_active=False)
    existing = CustomerFactory()
    items = [
        _by_contact("13900000001", lines=[{"product": "MILK-1", "quantity": 2}], channel="tmall", external_id="T-1"),
        {"customer": 1.5, "amount": "1.00", "ordered_at": AT},  # shape: refused by the serializer
        _by_contact("13900000002", lines=[{"product": "OLD-1", "quantity": 1}]),  # refused by the service
        {"customer": existing.pk, "amount": "88.00", "ordered_at": AT},
        "not an object",
        _by_contact("12", amount="5.00"),  # a phone number the identity service refuses
        _by_contact("13900000003", lines=[{"product": "MILK-1", "quantity": 1}], amount="99.00"),  # disagrees
        _by_contact("13900000001", lines=[{"product": "MILK-1", "quantity": 2}], channel="tmall", external_id="T-1"),
        {"ordered_at": AT, "amount": "1.00"},  # neither customer nor contact
    ]
    response = api_as("service").post(URL, items, format="json")
    assert response.status_code == 207, response.content
    results = response.json()
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["status"] for r in results] == [201, 400, 400, 201, 400, 400, 400, 200, 400]
    assert [(r["errors"][0]["field"], r["errors"][0]["code"]) for r in results if r["errors"]] == [
        ("customer", "incorrect_type"),
        ("lines[0].product", "inactive"),
        (None, "invalid"),
        ("contact.phone", "invalid_identity"),
        ("amount", "mismatch"),
        ("contact", "required"),
    ]
    assert all(r["id"] is None and r["customer"] is None for r in results if r["status"] == 400)
    first, known = results[0], results[3]
    assert first["customer_matched"] is False and known == {
        "index": 3,
        "status": 201,
        "id": known["id"],
        "customer": existing.pk,
        "customer_matched": True,
        "errors": [],
    }
    assert results[7]["id"] == first["id"] and results[7]["customer_matched"] is True  # the resend
    assert sorted(Order.objects.values_list("pk", flat=True)) == sorted([first["id"], known["id"]])
    assert Order.objects.get(pk=first["id"]).amount == Decimal("240.00")
    assert OrderLine.objects.count() == 1
    # The refused items left nothing behind: no customer for 13900000002 or 13900000003.
    assert not CustomerIdentity.objects.filter(value__in=["+8613900000002", "+8613900000003"]).exists()
    assert Customer.objects.count() == 2  # the existing one and the buyer of item 0


def test_items_with_one_contact_are_one_customer(api_as):
    items = [
        _by_contact("138 1234 5678", amount="10.00"),
        _by_contact("+86 138-1234-5678", amount="20.00"),
        _by_contact("13812345679", amount="30.00"),
    ]
    results = api_as("sales").post(URL, {"items": items}, format="json").json()
    assert [r["customer_matched"] for r in results] == [False, True, False]
    assert results[0]["customer"] == results[1]["customer"] != results[2]["customer"]
    assert Customer.objects.count() == 2 and Order.objects.count() == 3


def test_1000_items_pass_and_1001_are_a_400_naming_items(api_as):
    customer = CustomerFactory()
    api = api_as("sales")
    item = {"customer": customer.pk, "amount": "1.00", "ordered_at": AT}
    too_many = api.post(URL, [item] * 1001, format="json")
    assert too_many.status_code == 400
    assert [e["field"] for e in too_many.json()["errors"]] == ["items"]
    assert not Order.objects.exists()
    empty = api.post(URL, [], format="json")
    assert empty.status_code == 400 and [e["field"] for e in empty.json()["errors"]] == ["items"]
    full = api.post(URL, [item] * 1000, format="json")
    assert full.status_code == 207 and {r["status"] for r in full.json()} == {201}
    assert Order.objects.count() == 1000


@pytest.mark.parametrize("role", ROLES)
def test_who_may_post_in_bulk(api_as, role):
    customer = CustomerFactory()
    response = api_as(role).post(URL, [{"customer": customer.pk, "amount": "1.00", "ordered_at": AT}], format="json")
    allowed = role != "marketing"
    assert response.status_code == (207 if allowed else 403)
    assert Order.objects.exists() is allowed


def test_anonymous_is_refused(client):
    assert client.post(URL, [], content_type="application/json").status_code in (401, 403)


@pytest.mark.parametrize("n", [2, 40])
def test_the_request_costs_a_bounded_number_of_queries_per_item(api_as, django_assert_max_num_queries, n):
    """Each order is its own transaction (a savepoint): the customer and catalogue lookups, the order, its audit row
    and lines, the segment refresh mark, the points earned and the tier, and what hears `order.placed` — about 26
    queries, the same for every item however many there are."""
    customer = CustomerFactory()
    ProductFactory(sku="S-1")
    api = api_as("sales")
    items = [
        {"customer": customer.pk, "ordered_at": AT, "lines": [{"product": "S-1", "quantity": 1}]} for _ in range(n)
    ]
    with django_assert_max_num_queries(4 + 30 * n):
        response = api.post(URL, items, format="json")
    assert response.status_code == 207 and Order.objects.count() == n


def test_the_customers_of_a_bulk_are_placed_in_their_tiers(api_as):
    """Default thresholds: member from 0, silver from 5,000, gold from 20,000 of trailing-12-month spend."""
    items = [
        _by_contact("13900000011", amount="3000.00"),
        _by_contact("13900000011", amount="2500.00"),  # 5,500.00 together: silver
        _by_contact("13900000012", amount="10.00"),  # a member
        _by_contact("13900000013", amount="-1"),  # refused: no customer, no tier
    ]
    results = api_as("sales").post(URL, items, format="json").json()
    tiers = dict(Customer.objects.values_list("pk", "loyalty_tier"))
    assert (tiers[results[0]["customer"]], tiers[results[2]["customer"]]) == ("silver", "member")
    assert len(tiers) == 2
