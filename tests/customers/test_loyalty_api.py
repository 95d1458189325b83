"""`/api/v1/customers/{id}/points/` (DESIGN.md "Points") for every role, its pages of entries and its query
count, and the loyalty fields of the customer API."""

import pytest

from customers import loyalty, services
from customers.models import PointsEntry
from tests.customers.loyalty_support import NOW, at, balance, frozen_clock
from tests.factories import CustomerFactory, OrderFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(settings):
    yield from frozen_clock(settings)


ROLES = ["marketing", "sales", "service", "marketing_manager", "sales_manager", "service_manager", "admin"]
MANAGERS = {"marketing_manager", "sales_manager", "service_manager", "admin"}


def url(customer) -> str:
    return f"/api/v1/customers/{customer.pk}/points/"


def member(amount="500.00", ordered_at=None, **fields):
    """A customer whose order earned its points, with their tier computed (through customers.loyalty)."""
    customer = CustomerFactory(**fields)
    order = OrderFactory(customer=customer, amount=amount, ordered_at=ordered_at or at("2026-03-01 10:00"))
    loyalty.earn_for_order(order)
    loyalty.recompute_tiers([customer.pk])
    return customer, order


def test_get_answers_balance_tier_and_entries_newest_first(clock, api_as):
    customer, order = member("5200.40")
    manager = make_user("sales_manager")
    loyalty.redeem(customer=customer, points=200, reason="Voucher", by=manager)
    body = api_as("service").get(url(customer)).json()
    assert (body["customer"], body["balance"], body["tier"]) == (customer.pk, 5000, "silver")
    assert body["member_since"] == "2026-03-01T10:00:00+08:00"
    assert [(e["kind"], e["points"], e["reason"], e["order"], e["by"]) for e in body["entries"]] == [
        ("redeem", -200, "Voucher", None, manager.username),
        ("earn", 5200, f"Order #{order.pk}", order.pk, None),
    ]
    assert body["entries"][1]["at"] == "2026-03-01T10:00:00+08:00"
    assert body["entries"][1]["expires_at"] == "2027-03-01T10:00:00+08:00"
    assert (body["next"], body["previous"]) == (None, None)


def test_entries_come_in_cursor_pages(clock, api_as):
    customer, _order = member("100.00")
    manager = make_user("service_manager")
    for n in range(1, 6):
        loyalty.adjust(customer=customer, points=n, reason=f"Gift {n}", by=manager, now=at(f"2026-03-0{n} 12:00"))
    api = api_as("marketing")
    first = api.get(url(customer), {"page_size": 4}).json()
    assert [e["reason"] for e in first["entries"]] == ["Gift 5", "Gift 4", "Gift 3", "Gift 2"]
    second = api.get(first["next"]).json()
    assert [e["reason"] for e in second["entries"]] == ["Gift 1", f"Order #{_order.pk}"]
    assert second["next"] is None and second["previous"]
    assert second["balance"] == 115  # 100 + 1 + 2 + 3 + 4 + 5


@pytest.mark.parametrize("n", [1, 40])
def test_the_ledger_costs_the_same_queries_however_long(clock, api_as, django_assert_max_num_queries, n):
    customer, _order = member("10.00")
    manager = make_user("sales_manager")
    PointsEntry.objects.bulk_create(
        [PointsEntry(customer=customer, kind="adjust", points=1, reason="x", at=NOW, created_by=manager)] * n
    )
    api = api_as("sales")
    with django_assert_max_num_queries(3):  # the user's groups, the customer, the page of entries
        response = api.get(url(customer), {"page_size": 200})
    assert len(response.json()["entries"]) == n + 1


@pytest.mark.parametrize("role", ROLES)
def test_every_department_redeems_and_managers_adjust(clock, api_as, role):
    customer, _order = member("300.00")
    api = api_as(role)
    redeemed = api.post(url(customer), {"kind": "redeem", "points": 60, "reason": "Coupon"}, format="json")
    assert redeemed.status_code == 201
    assert redeemed.json()["balance"] == 240 and redeemed.json()["tier"] == "member"
    assert redeemed.json()["entry"]["kind"] == "redeem" and redeemed.json()["entry"]["by"] == api.user.username
    adjusted = api.post(url(customer), {"kind": "adjust", "points": -40, "reason": "Wrong order"}, format="json")
    assert adjusted.status_code == (201 if role in MANAGERS else 403)
    assert balance(customer) == (200 if role in MANAGERS else 240)


def test_anonymous_and_people_outside_the_departments_are_refused(clock, client, api_as):
    customer, _order = member()
    assert client.get(url(customer)).status_code in (401, 403)
    assert client.post(url(customer), {"kind": "redeem", "points": 1}).status_code in (401, 403)
    outsider = api_as("sales", user=make_user("sales"))
    outsider.user.groups.clear()
    outsider.user._relay_groups = None
    assert outsider.post(url(customer), {"kind": "redeem", "points": 1}, format="json").status_code == 403
    assert balance(customer) == 500


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "redeem", "points": 0}, "points"),
        ({"kind": "redeem", "points": -5}, "points"),
        ({"kind": "redeem", "points": "lots"}, "points"),
        ({"kind": "redeem", "points": 1.5}, "points"),
        ({"kind": "redeem", "points": 10**12}, "points"),
        ({"kind": "redeem"}, "points"),
        ({"kind": "adjust", "points": 0, "reason": "None"}, "points"),
        ({"kind": "adjust", "points": 5}, "reason"),
        ({"kind": "earn", "points": 5}, "kind"),
        ({"kind": "expire", "points": 5}, "kind"),
        ({"kind": "redeem", "points": 5, "reason": "x" * 301}, "reason"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(clock, api_as, payload, field):
    customer, _order = member()
    response = api_as("sales_manager").post(url(customer), payload, format="json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == field
    assert PointsEntry.objects.filter(customer=customer).count() == 1


def test_unknown_and_merged_customers(clock, api_as):
    api = api_as("sales_manager")
    assert api.get("/api/v1/customers/999999/points/").status_code == 404
    assert (
        api.post("/api/v1/customers/999999/points/", {"kind": "redeem", "points": 1}, format="json").status_code == 404
    )
    survivor, _order = member()
    duplicate, _other = member("80.00")
    services.merge_customers(survivor=survivor, duplicate=duplicate, by=make_user("sales_manager"))
    response = api.post(url(duplicate), {"kind": "redeem", "points": 1}, format="json")
    assert response.status_code == 409 and response.json()["errors"][0]["field"] == "merged_into"
    assert api.get(url(duplicate)).json()["balance"] == 0  # its entries moved to the survivor
    assert api.get(url(survivor)).json()["balance"] == 580


def test_the_customer_api_carries_tier_balance_and_membership(clock, api_as):
    customer, _order = member("20000.00")
    api = api_as("marketing")
    body = api.get(f"/api/v1/customers/{customer.pk}/").json()
    assert (body["loyalty_tier"], body["points_balance"], body["member_since"]) == (
        "gold",
        20000,
        "2026-03-01T10:00:00+08:00",
    )
    listed = api.get("/api/v1/customers/").json()["results"]
    assert [(c["loyalty_tier"], c["points_balance"]) for c in listed if c["id"] == customer.pk] == [("gold", 20000)]
