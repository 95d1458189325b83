from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Customer
from customers.services import recompute_customer_segments
from leads.stages import Stage
from tests.factories import CustomerFactory, LeadFactory, OrderFactory

NOW = timezone.make_aware(datetime(2026, 6, 1, 12, 0))


def _orders(customer, count, *, latest_days_ago, amount="100.00"):
    for i in range(count):
        OrderFactory(customer=customer, amount=Decimal(amount), ordered_at=NOW - timedelta(days=latest_days_ago + i))


@pytest.mark.django_db
def test_rfm_quintiles_and_segments_match_hand_computed_values():
    a, b, c, d, e = CustomerFactory.create_batch(5)
    _orders(a, 1, latest_days_ago=1)  # one recent order: new
    _orders(b, 5, latest_days_ago=300)  # many orders long ago: at risk
    _orders(c, 2, latest_days_ago=200)
    _orders(d, 3, latest_days_ago=100)
    _orders(e, 4, latest_days_ago=10)
    old = CustomerFactory()
    OrderFactory(customer=old, ordered_at=NOW - timedelta(days=400))  # outside the 365-day window
    none = CustomerFactory()

    recompute_customer_segments(now=NOW)

    got = {
        x.pk: (x.rfm_r, x.rfm_f, x.rfm_m, x.rfm_segment, x.rfm_recency_days, x.rfm_frequency, x.rfm_monetary)
        for x in Customer.objects.all()
    }
    assert got[a.pk] == (5, 1, 1, "new", 1, 1, Decimal("100.00"))
    assert got[b.pk] == (1, 5, 5, "at_risk", 300, 5, Decimal("500.00"))
    assert got[c.pk] == (2, 2, 2, "hibernating", 200, 2, Decimal("200.00"))
    assert got[d.pk] == (3, 3, 3, "loyal", 100, 3, Decimal("300.00"))
    assert got[e.pk] == (4, 4, 4, "champions", 10, 4, Decimal("400.00"))
    assert got[old.pk][:4] == (None, None, None, "")
    assert got[none.pk][:4] == (None, None, None, "")


@pytest.mark.django_db
def test_ties_share_a_score_and_scores_reset_when_orders_leave_the_window():
    customers = CustomerFactory.create_batch(10)
    for i, customer in enumerate(customers):
        OrderFactory(customer=customer, amount=Decimal("50.00"), ordered_at=NOW - timedelta(days=i + 1))
    recompute_customer_segments(now=NOW)
    rows = list(Customer.objects.order_by("pk").values_list("rfm_r", "rfm_f", "rfm_m"))
    assert {f for _r, f, _m in rows} == {1} and {m for _r, _f, m in rows} == {1}
    assert sorted(r for r, _f, _m in rows) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    recompute_customer_segments(now=NOW + timedelta(days=400))
    assert not Customer.objects.exclude(rfm_r=None).exists()
    assert set(Customer.objects.values_list("rfm_segment", flat=True)) == {""}


@pytest.mark.django_db
def test_recompute_writes_only_changed_rows_and_is_idempotent():
    OrderFactory(ordered_at=NOW - timedelta(days=3))
    assert recompute_customer_segments(now=NOW) >= 1
    assert recompute_customer_segments(now=NOW) == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stages", "has_order", "expected"),
    [
        ([], False, "awareness"),
        ([Stage.LOST], False, "awareness"),
        ([Stage.NEW], False, "consideration"),
        ([Stage.HANDED_OFF, Stage.LOST], False, "consideration"),
        ([Stage.NEW, Stage.ACCEPTED], False, "decision"),
        ([Stage.NEGOTIATION], False, "decision"),
        ([Stage.WON], False, "loyalty"),
        ([Stage.NEW], True, "loyalty"),
    ],
)
def test_lifecycle_stage_is_derived(stages, has_order, expected):
    customer = CustomerFactory()
    for stage in stages:
        LeadFactory(customer=customer, stage=stage)
    if has_order:
        OrderFactory(customer=customer)
    recompute_customer_segments(now=NOW, customer_ids=[customer.pk])
    customer.refresh_from_db()
    assert customer.lifecycle_stage == expected


@pytest.mark.django_db
def test_customer_ids_limit_the_rows_written():
    a, b = CustomerFactory.create_batch(2)
    LeadFactory(customer=a, stage=Stage.NEW)
    LeadFactory(customer=b, stage=Stage.NEW)
    recompute_customer_segments(customer_ids=[a.pk])
    assert Customer.objects.get(pk=a.pk).lifecycle_stage == "consideration"
    assert Customer.objects.get(pk=b.pk).lifecycle_stage == "awareness"


def test_order_recomputes_are_coalesced_into_one_pass(api_as):
    """RFM quintiles cost a whole-table pass (~0.8 s at 100k): a burst of orders queues one refresh, not one each."""
    from config import outbox
    from config.models import OutboxMessage
    from customers import tasks
    from customers.models import PendingSegmentRefresh

    customers = [CustomerFactory() for _ in range(3)]
    api = api_as("sales")
    for i, customer in enumerate(customers):
        payload = {"customer": customer.pk, "amount": "10.00", "ordered_at": timezone.now().isoformat()}
        assert api.post("/api/v1/orders/", {**payload, "external_id": f"D-{i}"}, format="json").status_code == 201
    refreshes = OutboxMessage.objects.filter(task="customers.tasks.refresh_pending_segments")
    assert refreshes.count() == 1
    assert refreshes.get().run_after >= timezone.now() + timedelta(seconds=25)  # debounced
    assert set(PendingSegmentRefresh.objects.values_list("customer_id", flat=True)) == {c.pk for c in customers}
    outbox.sweep()  # hands the message over; tasks run inline in tests
    assert refreshes.get().status == "done"
    assert not PendingSegmentRefresh.objects.exists()
    for customer in customers:
        customer.refresh_from_db()
        assert customer.rfm_frequency == 1 and customer.lifecycle_stage == "loyalty"
    assert tasks.refresh_pending_segments() == 0
