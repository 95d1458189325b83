"""A merge moves the duplicate's points entries to the survivor and recomputes both balances and tiers; undoing it
moves them back, unless the survivor spent them since."""

import pytest

from customers import loyalty, services
from customers.models import MergeRecord, PointsEntry
from tests.customers.loyalty_support import at, balance, frozen_clock
from tests.factories import CustomerFactory, OrderFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(settings):
    yield from frozen_clock(settings)


def member(name: str, amount: str):
    customer = CustomerFactory(name=name)
    loyalty.earn_for_order(OrderFactory(customer=customer, amount=amount, ordered_at=at("2026-02-01 10:00")))
    loyalty.recompute_tiers([customer.pk])
    return customer


def test_merging_moves_the_points_and_recomputes_balance_and_tier(clock, api_as):
    survivor, duplicate = member("Survivor", "3000.00"), member("Duplicate", "2500.00")
    moved = list(PointsEntry.objects.filter(customer=duplicate).values_list("pk", flat=True))
    response = api_as("sales_manager").post(
        f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["points_balance"], response.json()["loyalty_tier"]) == (5500, "silver")  # 3,000 + 2,500
    assert set(PointsEntry.objects.filter(customer=survivor).values_list("pk", flat=True)) >= set(moved)
    duplicate.refresh_from_db()
    assert (duplicate.points_balance, duplicate.loyalty_tier, duplicate.member_since) == (0, "", None)
    assert balance(survivor) == 5500


def test_undoing_a_merge_gives_the_points_back(clock):
    manager = make_user("service_manager")
    survivor, duplicate = member("Survivor", "100.00"), member("Duplicate", "40.00")
    record = services.merge_customers(survivor=survivor, duplicate=duplicate, by=manager)
    services.undo_merge(record=record, by=manager)
    assert (balance(survivor), balance(duplicate)) == (100, 40)
    duplicate.refresh_from_db()
    assert (duplicate.loyalty_tier, duplicate.member_since) == ("member", at("2026-02-01 10:00"))


def test_an_undo_that_would_leave_a_negative_balance_is_refused(clock, api_as):
    manager = make_user("service_manager")
    survivor, duplicate = member("Survivor", "100.00"), member("Duplicate", "40.00")
    record = services.merge_customers(survivor=survivor, duplicate=duplicate, by=manager)
    loyalty.redeem(customer=survivor, points=120, by=manager)  # spends 20 of the duplicate's 40
    response = api_as("service_manager").post(
        f"/api/v1/customers/{duplicate.pk}/undo-merge/", {"merge": record.pk}, format="json"
    )
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["errors"][0]["field"]) == ("negative_balance", "merge")
    assert MergeRecord.objects.get(pk=record.pk).undone_at is None
    assert (balance(survivor), balance(duplicate)) == (20, 0)
