"""Purchase affinity (customers.affinity): support, confidence and lift against the hand-computed fixture, what
the window leaves out, the table rewritten whole, and the refresh debounced after order changes and nightly."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import transaction

from config import outbox
from config.models import JobStatus, OutboxMessage
from customers import affinity, services, tasks
from customers.models import AffinityPair
from tests.customers.affinity_fixture import EXPECTED, MIN_SUPPORT, NOW, SKUS, buy, make_shop
from tests.factories import CustomerFactory, ProductFactory, make_user
from tests.races import at_once

pytestmark = pytest.mark.django_db

LETTER = {sku: letter for letter, sku in SKUS.items()}


@pytest.fixture
def shop(settings):
    settings.RELAY_AFFINITY_MIN_SUPPORT = MIN_SUPPORT
    return make_shop()


def _table() -> dict:
    rows = AffinityPair.objects.values_list("from_product__sku", "to_product__sku", "support", "confidence", "lift")
    return {(LETTER[x], LETTER[y]): (support, confidence, lift) for x, y, support, confidence, lift in rows}


def test_support_confidence_and_lift_match_the_hand_computed_pairs(shop):
    assert affinity.refresh_affinity(now=NOW) == len(EXPECTED)
    table = _table()
    assert set(table) == set(EXPECTED)  # A-D, B-D, A-E and B-E (support 1) are under the minimum
    for pair, (support, confidence, lift) in EXPECTED.items():
        assert table[pair][0] == support, pair
        assert table[pair][1] == pytest.approx(confidence, rel=1e-12), pair
        assert table[pair][2] == pytest.approx(lift, rel=1e-12), pair
    assert set(AffinityPair.objects.values_list("computed_at", flat=True)) == {NOW}


def test_the_minimum_support_is_a_setting(shop, settings):
    settings.RELAY_AFFINITY_MIN_SUPPORT = 3
    affinity.refresh_affinity(now=NOW)
    assert set(_table()) == {("A", "B"), ("B", "A")}
    settings.RELAY_AFFINITY_MIN_SUPPORT = 1  # every pair bought together at least once
    affinity.refresh_affinity(now=NOW)
    table = _table()
    assert len(table) == 16 and table[("A", "D")] == (1, pytest.approx(1 / 5), pytest.approx((1 / 5) / (3 / 8)))


def test_the_default_minimum_is_five():
    assert django_settings.RELAY_AFFINITY_MIN_SUPPORT == 5


def test_cancelling_an_order_takes_its_lines_out_at_the_next_refresh(shop):
    affinity.refresh_affinity(now=NOW)
    c3_order = shop.customers["c3"].orders.get()
    c3_order.cancelled_at = NOW
    c3_order.save(update_fields=["cancelled_at"])
    affinity.refresh_affinity(now=NOW)
    # Without c3 (A B D): N = 7, A 4, B 3; A-B 2 (c1 c2).
    table = _table()
    assert table[("A", "B")] == (2, pytest.approx(2 / 4), pytest.approx((2 / 4) / (3 / 7)))
    assert table[("B", "A")] == (2, pytest.approx(2 / 3), pytest.approx((2 / 3) / (4 / 7)))


def test_the_window_is_the_365_days_before_now(shop):
    # 400 days on, every order (the newest is 5 days before NOW) has left the window.
    affinity.refresh_affinity(now=NOW + timedelta(days=400))
    assert AffinityPair.objects.count() == 0
    # 2 days on, c3's order (364 days before NOW) has left it: N = 7, A 4, B 3, A-B 2 (c1 c2).
    affinity.refresh_affinity(now=NOW + timedelta(days=2))
    assert _table()[("A", "B")] == (2, pytest.approx(2 / 4), pytest.approx((2 / 4) / (3 / 7)))


def test_an_order_exactly_365_days_old_is_in_and_one_at_now_is_not(settings):
    settings.RELAY_AFFINITY_MIN_SUPPORT = 1
    x, y, z = ProductFactory(), ProductFactory(), ProductFactory()
    edge, late = CustomerFactory(), CustomerFactory()
    buy(edge, [x, y], days_ago=365)
    buy(late, [x, z], days_ago=0)
    affinity.refresh_affinity(now=NOW)
    assert set(AffinityPair.objects.values_list("from_product", "to_product")) == {(x.pk, y.pk), (y.pk, x.pk)}


def test_a_merge_moves_the_duplicates_orders_to_the_survivor_who_counts_once(shop):
    # c2 (A B) is merged into c6 (D): c6 has bought A B D, and c2 is a tombstone.
    manager = make_user("sales_manager")
    services.merge_customers(survivor=shop.customers["c6"], duplicate=shop.customers["c2"], by=manager, now=NOW)
    affinity.refresh_affinity(now=NOW)
    # Customers: c1 A B C, c3 A B D, c4 A C E, c5 B C E, c6 A B D, c7 A, c8 D → N = 7, A 5, B 4, D 3; A-D 2, B-D 2.
    table = _table()
    assert table[("A", "B")] == (3, pytest.approx(3 / 5), pytest.approx((3 / 5) / (4 / 7)))
    assert table[("A", "D")] == (2, pytest.approx(2 / 5), pytest.approx((2 / 5) / (3 / 7)))
    assert table[("D", "B")] == (2, pytest.approx(2 / 3), pytest.approx((2 / 3) / (4 / 7)))


def test_a_refresh_rewrites_the_whole_table_and_twice_is_the_same(shop):
    stale = ProductFactory(sku="GONE")
    AffinityPair.objects.create(
        from_product=stale, to_product=shop.products["A"], support=9, confidence=1, lift=9, computed_at=NOW
    )
    affinity.refresh_affinity(now=NOW)
    first = _table()
    assert affinity.refresh_affinity(now=NOW) == len(EXPECTED)
    assert _table() == first and not AffinityPair.objects.filter(from_product=stale).exists()


def test_no_orders_no_pairs():
    assert affinity.refresh_affinity(now=NOW) == 0


# ---------------------------------------------------------------- when it runs


def _pending():
    return OutboxMessage.objects.filter(task="customers.tasks.refresh_affinity", status=JobStatus.QUEUED)


def test_a_burst_of_order_changes_queues_one_refresh_within_a_minute(shop, django_capture_on_commit_callbacks):
    with time_machine.travel(NOW, tick=False):
        for _ in range(3):  # three order writes, each in its own transaction
            with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
                affinity.queue_affinity_refresh()
    message = _pending().get()
    assert message.coalesce_key == affinity.COALESCE_KEY
    assert timedelta(0) < message.run_after - NOW <= timedelta(minutes=1)
    assert AffinityPair.objects.count() == 0
    with time_machine.travel(message.run_after, tick=False):
        assert outbox.run(message.pk)
    assert _table().keys() == EXPECTED.keys()
    assert set(AffinityPair.objects.values_list("computed_at", flat=True)) == {message.run_after}


def test_a_change_after_the_refresh_started_queues_another(shop):
    with time_machine.travel(NOW, tick=False):
        affinity.queue_affinity_refresh()
        first = _pending().get()
        OutboxMessage.objects.filter(pk=first.pk).update(status=JobStatus.RUNNING)  # a worker took it
        affinity.queue_affinity_refresh()
    assert _pending().exclude(pk=first.pk).count() == 1


def test_the_nightly_beat_runs_the_refresh_task(shop):
    entries = [
        e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "customers.tasks.refresh_affinity"
    ]
    assert len(entries) == 1 and entries[0]["schedule"].hour == {2}
    with time_machine.travel(NOW, tick=False):
        assert tasks.refresh_affinity.apply().get() == len(EXPECTED)
        assert tasks.refresh_affinity.apply().get() == len(EXPECTED)  # run twice, one table
    assert AffinityPair.objects.count() == len(EXPECTED)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_refreshes_at_once_take_turns_and_readers_never_see_a_half_table(settings):
    settings.RELAY_AFFINITY_MIN_SUPPORT = MIN_SUPPORT
    make_shop()
    affinity.refresh_affinity(now=NOW)

    def refresh():
        affinity.refresh_affinity(now=NOW)

    def read():
        return [AffinityPair.objects.count() for _ in range(20)]

    first, second, seen = at_once(refresh, refresh, read)
    assert first is None and second is None, (first, second)
    assert set(seen) == {len(EXPECTED)}
    assert _table().keys() == EXPECTED.keys()


# ---------------------------------------------------------------- end to end


def test_orders_through_the_api_refresh_the_pairs_and_a_cancellation_takes_them_out(
    api_as, settings, django_capture_on_commit_callbacks
):
    """Two customers buy a stroller and a car seat through `orders/`; the refresh each order queues runs (eager
    Celery ignores the debounce's countdown) and `affinity/` answers the pair; cancelling one order takes it out."""
    settings.RELAY_AFFINITY_MIN_SUPPORT = 2
    stroller, seat = ProductFactory(sku="STROLLER", price="999.00"), ProductFactory(sku="CAR-SEAT", price="599.00")
    api = api_as("sales")
    orders = []
    with time_machine.travel(NOW, tick=False):
        for customer in (CustomerFactory(), CustomerFactory()):
            body = {
                "customer": customer.pk,
                "ordered_at": (NOW - timedelta(days=1)).isoformat(),
                "lines": [{"product": "STROLLER", "quantity": 1}, {"product": "CAR-SEAT", "quantity": 1}],
            }
            with django_capture_on_commit_callbacks(execute=True):
                response = api.post("/api/v1/orders/", body, format="json")
            assert response.status_code == 201, response.json()
            orders.append(response.json()["id"])
        rows = api.get("/api/v1/affinity/").json()["results"]
        # N = 2, both bought both: support 2, confidence 2/2, lift 1 ÷ (2/2) = 1.
        assert {(r["from"], r["to"], r["support"], r["confidence"], r["lift"]) for r in rows} == {
            ("CAR-SEAT", "STROLLER", 2, 1.0, 1.0),
            ("STROLLER", "CAR-SEAT", 2, 1.0, 1.0),
        }
        with django_capture_on_commit_callbacks(execute=True):
            cancelled = api.post(f"/api/v1/orders/{orders[0]}/cancel/", {"reason": "returned"}, format="json")
        assert cancelled.status_code == 200, cancelled.json()
        assert api.get("/api/v1/affinity/").json()["results"] == []
    assert not AffinityPair.objects.filter(from_product__in=[stroller, seat]).exists()
