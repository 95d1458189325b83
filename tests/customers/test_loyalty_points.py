"""Points through the ways they move: orders earn them (API), cancellations take back what is left (API),
staff redeem and managers adjust them (API), and the nightly task expires what was not spent, oldest first.
Every figure is worked out by hand in the comments."""

from datetime import datetime

import pytest
from django.utils import timezone

from customers import loyalty, tasks
from customers.models import Order, PointsEntry
from tests.customers.loyalty_support import NOW, at, balance, cancel, frozen_clock, ledger, place
from tests.factories import CustomerFactory, OrderFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(settings):
    yield from frozen_clock(settings)


def points(api, customer, kind: str, n: int, reason: str = ""):
    return api.post(
        f"/api/v1/customers/{customer.pk}/points/", {"kind": kind, "points": n, "reason": reason}, format="json"
    )


def test_an_order_earns_the_floor_of_its_amount_once(clock, api_as):
    sales = api_as("sales")
    customer = CustomerFactory()
    first = place(sales, customer, "250.75", at("2026-03-01 12:00"), external_id="SHOP-1")
    place(sales, customer, "250.75", at("2026-03-01 12:00"), external_id="SHOP-1")  # the feed resends it
    entry = PointsEntry.objects.get(customer=customer)
    # floor(250.75 × 1) = 250, dated at the order, expiring 12 months after it
    assert (entry.kind, entry.points, entry.order_id) == ("earn", 250, first["id"])
    assert (entry.at, entry.expires_at) == (at("2026-03-01 12:00"), at("2027-03-01 12:00"))
    assert balance(customer) == 250
    assert loyalty.earn_for_order(Order.objects.get(pk=first["id"])) is None  # a retry writes nothing
    assert ledger(customer) == [("earn", 250)]


def test_the_rate_and_the_expiry_follow_the_settings(clock, api_as, settings):
    settings.RELAY_POINTS_PER_UNIT = 1.5
    settings.RELAY_POINTS_EXPIRE_MONTHS = 1
    customer = CustomerFactory()
    place(api_as("sales"), customer, "99.99", at("2026-01-31 18:00"))
    entry = PointsEntry.objects.get(customer=customer)
    # floor(99.99 × 1.5 = 149.985) = 149; 31 January + 1 month is the last day of February
    assert (entry.points, entry.expires_at) == (149, at("2026-02-28 18:00"))
    settings.RELAY_POINTS_EXPIRE_MONTHS = 0
    place(api_as("sales"), customer, "0.50", at("2026-03-02 18:00"))  # floor(0.75) = 0: no entry
    place(api_as("sales"), customer, "10.00", at("2026-03-03 18:00"))
    assert list(PointsEntry.objects.filter(customer=customer).values_list("points", "expires_at")) == [
        (15, None),  # never expires
        (149, at("2026-02-28 18:00")),
    ]


def test_cancelling_an_unspent_order_takes_all_its_points_back_once(clock, api_as):
    sales = api_as("sales")
    customer = CustomerFactory()
    place(sales, customer, "80.00", at("2026-03-01 10:00"))
    order = place(sales, customer, "300.00", at("2026-03-02 10:00"))
    assert balance(customer) == 380
    assert cancel(sales, order["id"]).status_code == 200
    assert cancel(sales, order["id"]).status_code == 200  # cancelling again changes nothing
    assert ledger(customer) == [("earn", 80), ("earn", 300), ("reverse", -300)]
    reverse = PointsEntry.objects.get(customer=customer, kind="reverse")
    assert (reverse.order_id, reverse.at, reverse.reason) == (order["id"], NOW, f"Order #{order['id']} cancelled")
    assert reverse.created_by == sales.user
    assert balance(customer) == 80


def test_cancelling_a_spent_order_takes_back_only_what_is_left(clock, api_as):
    sales = api_as("sales")
    customer = CustomerFactory()
    order = place(sales, customer, "300.00", at("2026-03-02 10:00"))
    assert points(sales, customer, "redeem", 120, "Voucher").status_code == 201
    cancel(sales, order["id"])
    # 300 earned, 120 redeemed: 180 are left to take back, and the balance stops at 0
    assert ledger(customer) == [("earn", 300), ("redeem", -120), ("reverse", -180)]
    assert PointsEntry.objects.get(kind="reverse").reason == (
        f"Order #{order['id']} cancelled: 300 points earned, 180 taken back, 120 already spent"
    )
    assert balance(customer) == 0


def test_a_cancelled_order_earns_nothing(clock):
    order = OrderFactory(amount="500.00", ordered_at=NOW, cancelled_at=NOW, cancel_reason="Test")
    assert loyalty.earn_for_order(order) is None
    assert loyalty.reverse_for_order(order) is None  # it earned nothing, so nothing to take back
    assert not PointsEntry.objects.exists()


def test_a_redemption_over_the_balance_is_refused_naming_points(clock, api_as):
    customer = CustomerFactory()
    place(api_as("sales"), customer, "100.00", at("2026-03-01 10:00"))
    response = points(api_as("service"), customer, "redeem", 101)
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["errors"][0]["field"]) == ("insufficient_points", "points")
    assert ledger(customer) == [("earn", 100)] and balance(customer) == 100
    answer = points(api_as("service"), customer, "redeem", 100)
    assert answer.status_code == 201
    assert answer.json()["balance"] == 0 and answer.json()["entry"]["points"] == -100


def test_an_adjustment_needs_a_reason_and_a_manager(clock, api_as):
    customer = CustomerFactory()
    place(api_as("sales"), customer, "100.00", at("2026-03-01 10:00"))
    refused = points(api_as("sales_manager"), customer, "adjust", 50, "  ")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "reason"
    assert points(api_as("sales"), customer, "adjust", 50, "Goodwill").status_code == 403
    below = points(api_as("service_manager"), customer, "adjust", -101, "Correction")
    assert below.status_code == 409 and below.json()["errors"][0]["field"] == "points"
    assert points(api_as("service_manager"), customer, "adjust", 50, "Goodwill").status_code == 201
    assert points(api_as("marketing_manager"), customer, "adjust", -30, "Duplicate gift").status_code == 201
    assert ledger(customer) == [("earn", 100), ("adjust", 50), ("adjust", -30)]
    assert balance(customer) == 120


def test_points_expire_oldest_first_once_a_night(clock, api_as):
    sales = api_as("sales")
    customer, untouched = CustomerFactory(), CustomerFactory()
    clock.move_to(at("2025-07-01 10:00"))
    place(sales, customer, "100.00", at("2025-01-15 10:00"))  # expires 2026-01-15
    place(sales, customer, "50.00", at("2025-06-01 10:00"))  # expires 2026-06-01
    place(sales, untouched, "70.00", at("2025-06-20 10:00"))  # expires 2026-06-20
    assert points(sales, customer, "redeem", 120).status_code == 201  # spends the 100, then 20 of the 50
    clock.move_to(at("2026-02-01 10:00"))
    place(sales, customer, "200.00", at("2026-02-01 09:00"))  # expires 2027-02-01
    assert balance(customer) == 230

    clock.move_to(NOW)  # the 100 expired, but the 120 spent them: max(0, 100 − 120) = 0
    assert tasks.expire_points() == 0
    assert balance(customer) == 230

    clock.move_to(at("2026-06-02 02:05"))  # the 50 expired too: 150 − 120 = 30 of them were never spent
    assert tasks.expire_points() == 1
    assert tasks.expire_points() == 0  # the same night again: nothing more
    expired = PointsEntry.objects.get(kind="expire")
    assert (expired.customer_id, expired.points, expired.at, expired.order_id) == (
        customer.pk,
        -30,
        timezone.now(),
        None,
    )
    assert balance(customer) == 200 and balance(untouched) == 70

    clock.move_to(at("2027-02-02 02:05"))  # everything expired: 350 − (120 + 30) = 200; untouched: 70 − 0
    assert tasks.expire_points() == 2
    assert ledger(customer) == [
        ("earn", 100),
        ("earn", 50),
        ("redeem", -120),
        ("earn", 200),
        ("expire", -30),
        ("expire", -200),
    ]
    assert balance(customer) == 0 and balance(untouched) == 0


def test_an_adjustment_never_expires_and_debits_count_once(clock):
    manager = make_user("sales_manager")
    customer = CustomerFactory()
    loyalty.earn_for_order(OrderFactory(customer=customer, amount="40.00", ordered_at=at("2025-01-01 10:00")))
    loyalty.adjust(customer=customer, points=25, reason="Birthday", by=manager, now=at("2025-02-01 10:00"))
    loyalty.reverse_for_order(
        OrderFactory(customer=customer, amount="1.00", ordered_at=at("2025-01-02 10:00")), now=NOW
    )  # earned nothing: no entry
    # 40 earned and expired, no debit: 40 expire; the 25 stay
    assert loyalty.expire_points(now=NOW) == 1
    assert ledger(customer)[-1] == ("expire", -40) and balance(customer) == 25
    assert loyalty.expire_points(now=datetime.fromisoformat("2030-01-01T00:00:00+08:00")) == 0
    assert balance(customer) == 25


def test_points_change_only_through_the_ledger(clock):
    """The balance is the ledger's sum after every kind of change."""
    manager = make_user("service_manager")
    customer = CustomerFactory()
    loyalty.earn_for_orders(
        [OrderFactory(customer=customer, amount=a, ordered_at=at("2025-05-01 10:00")).pk for a in ("10", "20.9")]
    )
    loyalty.redeem(customer=customer, points=5, by=manager)
    loyalty.adjust(customer=customer, points=-1, reason="Typo", by=manager)
    loyalty.expire_points(now=at("2026-05-02 00:00"))
    # earned 10 + 20, debits 5 + 1: 24 expire
    assert ledger(customer) == [("earn", 10), ("earn", 20), ("redeem", -5), ("adjust", -1), ("expire", -24)]
    assert balance(customer) == sum(p for _k, p in ledger(customer)) == 0


def test_a_corrected_amount_corrects_the_points_and_a_cancel_takes_back_the_total(clock, api_as):
    sales = api_as("sales")
    customer = CustomerFactory()
    order = place(sales, customer, "300.00", at("2026-03-02 10:00"))
    assert sales.patch(f"/api/v1/orders/{order['id']}/", {"amount": "120.50"}, format="json").status_code == 200
    # earned 300 for 300.00; 120.50 earns floor(120.50) = 120, so 180 come back out
    assert ledger(customer) == [("earn", 300), ("adjust", -180)]
    assert balance(customer) == 120
    assert sales.patch(f"/api/v1/orders/{order['id']}/", {"amount": "150.00"}, format="json").status_code == 200
    assert ledger(customer) == [("earn", 300), ("adjust", -180), ("adjust", 30)]
    correction = PointsEntry.objects.filter(customer=customer, kind="adjust").last()
    assert (correction.order_id, correction.created_by) == (order["id"], sales.user)
    cancel(sales, order["id"])
    assert ledger(customer)[-1] == ("reverse", -150)  # what the order credited in all: 300 − 180 + 30
    assert balance(customer) == 0
