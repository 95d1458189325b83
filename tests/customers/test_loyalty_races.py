"""Concurrent redemptions against one balance: the customer's row lock lets exactly one of two 60-point
redemptions through a balance of 100, and the balance stays the ledger's sum (PostgreSQL: SQLite has no row locks)."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from config.errors import Conflict
from customers import loyalty, services
from customers.models import Customer, Order, PointsEntry
from tests.customers.loyalty_support import at
from tests.factories import CustomerFactory, OrderFactory, make_user
from tests.races import race


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_redemptions_of_60_from_100_let_exactly_one_through(settings):
    settings.RELAY_POINTS_PER_UNIT = 1.0
    customer = CustomerFactory()
    loyalty.earn_for_order(OrderFactory(customer=customer, amount="100.00"))
    staff = [make_user("sales"), make_user("service")]
    lock = threading.Lock()

    def redeem():
        with lock:
            by = staff.pop()
        return loyalty.redeem(customer=customer, points=60, reason="Race", by=by)

    results, errors = race(redeem)
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], Conflict) and errors[0].field == "points"
    assert Customer.objects.get(pk=customer.pk).points_balance == 40
    assert sorted(PointsEntry.objects.filter(customer=customer).values_list("points", flat=True)) == [-60, 100]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_expiry_and_a_redemption_at_once_never_overdraw(settings):
    """The nightly expiry locks before it reads the ledger: whichever goes second sees the first's entry."""
    settings.RELAY_POINTS_PER_UNIT = 1.0
    settings.RELAY_POINTS_EXPIRE_MONTHS = 1
    customer = CustomerFactory()
    order = OrderFactory(customer=customer, amount="100.00", ordered_at=at("2026-01-01 10:00"))
    loyalty.earn_for_order(order, now=order.ordered_at)
    sales = make_user("sales")
    jobs = iter(
        [
            lambda: loyalty.expire_points(now=at("2026-03-01 10:00")),
            lambda: loyalty.redeem(customer=customer, points=60, by=sales),
        ]
    )
    lock = threading.Lock()

    def run():
        with lock:
            job = next(jobs)
        return job()

    results, errors = race(run)
    assert all(isinstance(error, Conflict) for error in errors)
    balance = Customer.objects.get(pk=customer.pk).points_balance
    ledger = list(PointsEntry.objects.filter(customer=customer).values_list("kind", "points"))
    assert balance == sum(points for _kind, points in ledger) >= 0
    # either the expiry ran first (all 100 expire, the redemption is refused) or the redemption did (60 redeemed,
    # the 40 left expire)
    assert sorted(ledger) in (
        sorted([("earn", 100), ("expire", -100)]),
        sorted([("earn", 100), ("redeem", -60), ("expire", -40)]),
    )


def _waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_amount_edit_waiting_for_the_customer_holds_no_lock_on_the_order(settings):
    """A cancellation and a redemption lock the customer, then the order; an edit that locked the order first and
    then waited for the customer could deadlock with them. While another transaction holds the customer, the edit
    waits before touching the order, and goes through once the customer is free."""
    settings.RELAY_POINTS_PER_UNIT = 1.0
    customer = CustomerFactory()
    order = OrderFactory(customer=customer, amount="100.00")
    loyalty.earn_for_order(order)
    sales = make_user("sales")
    holding, release = threading.Event(), threading.Event()
    errors = []

    def hold_the_customer():
        try:
            with transaction.atomic():
                Customer.objects.select_for_update().get(pk=customer.pk)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def edit():
        try:
            services.update_order(order=order, by=sales, amount=Decimal("80.00"))
        except Exception as error:  # collected for the assertion below
            errors.append(error)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_customer)
    holder.start()
    assert holding.wait(10)
    editor = threading.Thread(target=edit)
    editor.start()
    try:
        deadline = time.monotonic() + 10
        while _waiting_for_a_lock() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        with transaction.atomic():
            Order.objects.select_for_update(nowait=True).get(pk=order.pk)  # raises if the edit holds the order
    finally:
        release.set()
        holder.join()
        editor.join()
    assert not errors
    assert Order.objects.get(pk=order.pk).amount == Decimal("80.00")
    assert Customer.objects.get(pk=customer.pk).points_balance == 80
