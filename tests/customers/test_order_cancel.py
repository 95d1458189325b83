"""Cancelling an order (`POST orders/{id}/cancel/ {"reason"}`, the order page's confirm form, the admin action):
idempotent (a second cancel answers the order as it was cancelled, 200, and does nothing), a reason is required, the
points it earned are reversed, `order.cancelled` is published once, and from then on the order counts nowhere: RFM,
the lifecycle stage, the order-based metrics and the customer page's totals."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from config.errors import DomainError
from config.models import OutboxMessage
from customers.models import Order, PendingSegmentRefresh, PointsEntry
from customers.services import cancel_order, recompute_customer_segments
from tests.conftest import ROLES
from tests.factories import (
    ChannelFactory,
    ChannelSpendFactory,
    ComplaintFactory,
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    make_user,
)
from tests.okr.conftest import history
from tests.webhook_events import endpoints_for, sent

pytestmark = pytest.mark.django_db
NOW = datetime.fromisoformat("2026-03-20T10:00:00+08:00")
URL = "/api/v1/orders/"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _placed(api, customer, amount="250.00", **extra):
    body = {"customer": customer.pk, "amount": amount, "ordered_at": "2026-03-10T12:00:00+08:00", **extra}
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["id"])


def _cancel(api, order, reason="Returned in full"):
    return api.post(f"{URL}{order.pk}/cancel/", {"reason": reason}, format="json")


def test_cancel_sets_the_reason_reverses_points_and_publishes_once(api_as, django_capture_on_commit_callbacks):
    wanted, _others = endpoints_for("order.cancelled")
    api = api_as("sales")
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        order = _placed(api, customer)  # 250.00 earns floor(250 × 1) = 250 points
    customer.refresh_from_db()
    assert (customer.points_balance, customer.rfm_frequency, customer.lifecycle_stage) == (250, 1, "loyalty")
    with django_capture_on_commit_callbacks(execute=True):
        first = _cancel(api, order)
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["cancel_reason"] == "Returned in full"
    assert datetime.fromisoformat(body["cancelled_at"]) == NOW
    customer.refresh_from_db()
    # The queued segment refresh ran: RFM and the lifecycle stage no longer see the order.
    assert (customer.points_balance, customer.rfm_frequency, customer.lifecycle_stage) == (0, 0, "awareness")
    assert list(PointsEntry.objects.filter(order=order).order_by("pk").values_list("kind", "points")) == [
        ("earn", 250),
        ("reverse", -250),
    ]
    [(kind, data)] = sent(wanted)
    assert kind == "order.cancelled"
    assert (data["order"], data["customer"], data["amount"], data["reason"]) == (
        order.pk,
        customer.pk,
        "250.00",
        "Returned in full",
    )

    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(NOW + timedelta(hours=1)):
        again = _cancel(api, order, reason="Another reason")
    assert again.status_code == 200 and again.json() == {**body, "updated_at": again.json()["updated_at"]}
    assert again.json()["updated_at"] == body["updated_at"]  # nothing was written
    assert PointsEntry.objects.filter(order=order, kind="reverse").count() == 1
    assert len(sent(wanted)) == 1


def test_a_cancel_without_a_reason_is_400_naming_reason(api_as):
    api = api_as("sales")
    order = _placed(api, CustomerFactory())
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": 42}, {"reason": "x" * 301}):
        response = api.post(f"{URL}{order.pk}/cancel/", body, format="json")
        assert response.status_code == 400, body
        assert [e["field"] for e in response.json()["errors"]] == ["reason"]
    order.refresh_from_db()
    assert order.cancelled_at is None and PointsEntry.objects.filter(kind="reverse").count() == 0


def test_the_service_requires_a_reason_too():
    order = OrderFactory()
    with pytest.raises(DomainError) as refused:
        cancel_order(order=order, by=None, reason="  ")
    assert (refused.value.field, refused.value.code) == ("reason", "required")


@pytest.mark.parametrize("role", ROLES)
def test_who_may_cancel(api_as, role):
    order = OrderFactory()
    response = _cancel(api_as(role), order)
    allowed = role != "marketing"  # sales, service, managers and admins write orders
    assert response.status_code == (200 if allowed else 403)
    order.refresh_from_db()
    assert (order.cancelled_at is not None) is allowed


def test_anonymous_cannot_cancel(client):
    order = OrderFactory()
    assert client.post(f"{URL}{order.pk}/cancel/", {"reason": "x"}).status_code in (401, 403)
    assert client.post(reverse("customers:order-cancel", args=[order.pk]), {"reason": "x"}).status_code == 302


def test_a_cancelled_order_cannot_change(api_as):
    api = api_as("sales")
    order = _placed(api, CustomerFactory())
    _cancel(api, order)
    response = api.patch(f"{URL}{order.pk}/", {"amount": "1.00"}, format="json")
    assert response.status_code == 409 and response.json()["errors"][0]["field"] == "cancelled_at"
    assert Order.objects.get(pk=order.pk).amount == Decimal("250.00")


def test_cancel_queues_the_segment_refresh(api_as):
    api = api_as("service")
    order = _placed(api, CustomerFactory())
    PendingSegmentRefresh.objects.all().delete()
    _cancel(api, order)
    assert list(PendingSegmentRefresh.objects.values_list("customer_id", flat=True)) == [order.customer_id]


def test_cancelling_an_order_with_lines_queues_the_affinity_refresh(api_as):
    api = api_as("sales")
    product = ProductFactory(price=Decimal("10.00"))
    order = _placed(api, CustomerFactory(), amount=None, lines=[{"product": product.sku, "quantity": 3}])
    OutboxMessage.objects.filter(task="customers.tasks.refresh_affinity").delete()
    _cancel(api, order)
    assert OutboxMessage.objects.filter(task="customers.tasks.refresh_affinity").count() == 1
    plain = _placed(api, CustomerFactory())
    OutboxMessage.objects.filter(task="customers.tasks.refresh_affinity").delete()
    _cancel(api, plain)
    assert not OutboxMessage.objects.filter(task="customers.tasks.refresh_affinity").exists()


# --- a cancelled order counts nowhere -------------------------------------------------------------------------


def test_rfm_and_the_lifecycle_leave_a_cancelled_order_out():
    kept, gone = CustomerFactory(), CustomerFactory()
    OrderFactory(customer=kept, amount=Decimal("100.00"), ordered_at=NOW - timedelta(days=3))
    extra = OrderFactory(customer=kept, amount=Decimal("300.00"), ordered_at=NOW - timedelta(days=1))
    only = OrderFactory(customer=gone, amount=Decimal("80.00"), ordered_at=NOW - timedelta(days=2))
    recompute_customer_segments(now=NOW)
    kept.refresh_from_db()
    assert (kept.rfm_frequency, kept.rfm_monetary, kept.rfm_recency_days) == (2, Decimal("400.00"), 1)
    cancel_order(order=extra, by=None, reason="Fraud")
    cancel_order(order=only, by=None, reason="Duplicate")
    recompute_customer_segments(now=NOW)
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert (kept.rfm_frequency, kept.rfm_monetary, kept.rfm_recency_days) == (1, Decimal("100.00"), 3)
    assert kept.lifecycle_stage == "loyalty"
    assert (gone.rfm_frequency, gone.rfm_segment, gone.rfm_r) == (0, "", None)
    assert gone.lifecycle_stage == "awareness"  # a cancelled order is no evidence of a purchase


def test_the_customer_page_totals_leave_a_cancelled_order_out(client_as):
    customer = CustomerFactory()
    OrderFactory(customer=customer, amount=Decimal("120.00"), ordered_at=NOW - timedelta(days=5))
    cancelled = OrderFactory(customer=customer, amount=Decimal("999.00"), ordered_at=NOW - timedelta(days=2))
    cancel_order(order=cancelled, by=None, reason="Out of stock")
    recompute_customer_segments(now=NOW)
    html = client_as("service").get(reverse("customers:customer-detail", args=[customer.pk])).content.decode()
    assert "last order 5 days ago · 1 orders · CNY\xa0120.00 in 365 days" in html
    assert 'data-testid="order-cancelled"' in html  # still listed, marked
    assert f"Order #{cancelled.pk} cancelled: Out of stock" in html  # and on the timeline


START, END = date(2026, 3, 1), date(2026, 4, 1)


def _at(day: int) -> datetime:
    return timezone.make_aware(datetime(2026, 3, day, 12, 0))


def _metric(api, name, **filters):
    response = api.get(f"/api/v1/metrics/{name}/", {"start": START.isoformat(), "end": END.isoformat(), **filters})
    assert response.status_code == 200, response.content
    return response.json()


def test_order_metrics_leave_cancelled_orders_out(api_as):
    a, b, c = CustomerFactory.create_batch(3)
    OrderFactory(customer=a, amount=Decimal("100.00"), ordered_at=_at(2))
    a_second = OrderFactory(customer=a, amount=Decimal("50.00"), ordered_at=_at(5))
    OrderFactory(customer=b, amount=Decimal("70.00"), ordered_at=_at(3))
    b_earlier = OrderFactory(customer=b, amount=Decimal("30.00"), ordered_at=_at(1) - timedelta(days=40))
    c_only = OrderFactory(customer=c, amount=Decimal("900.00"), ordered_at=_at(6))
    ComplaintFactory(customer=a, opened_at=_at(10))
    ComplaintFactory(customer=b, opened_at=_at(11))
    api = api_as("marketing")
    # Before: a repeats (2 in the period), b repeats (ordered before), c does not: 2 of 3.
    assert _metric(api, "repurchase_rate")["value"] == pytest.approx(2 / 3, abs=1e-4)
    assert _metric(api, "complaint_rate")["value"] == pytest.approx(2 / 3, abs=1e-4)
    assert _metric(api, "ltv")["value"] == pytest.approx((150 + 900) / 2)  # a and c first ordered in March
    for order in (a_second, b_earlier, c_only):
        cancel_order(order=order, by=None, reason="Cancelled by the shop")
    # After: a has one order, b's earlier one is gone (March is its first), c has none left.
    repurchase = _metric(api, "repurchase_rate")
    assert (repurchase["value"], repurchase["customers"], repurchase["repeat_customers"]) == (0.0, 2, 0)
    complaints = _metric(api, "complaint_rate")
    assert (complaints["value"], complaints["customers"]) == (1.0, 2)  # 2 complaints ÷ a and b
    ltv = _metric(api, "ltv")
    assert (ltv["value"], ltv["customers"]) == ((100 + 70) / 2, 2)  # a 100, b 70 (its first order now in March)


def test_ltv_leaves_out_cancelled_orders_after_the_period(api_as):
    a = CustomerFactory()
    OrderFactory(customer=a, amount=Decimal("100.00"), ordered_at=_at(2))
    later = OrderFactory(customer=a, amount=Decimal("40.00"), ordered_at=_at(2) + timedelta(days=40))
    api = api_as("sales")
    assert _metric(api, "ltv")["value"] == 140.0
    cancel_order(order=later, by=None, reason="Returned")
    assert _metric(api, "ltv")["value"] == 100.0


def test_channel_revenue_leaves_cancelled_orders_out(api_as):
    web = ChannelFactory(code="web", name="Web")
    ChannelSpendFactory(channel=web, month=START, amount=Decimal("1000"))
    won = CustomerFactory()
    history(("negotiation", "won", _at(3)), customer=won, source_channel=web)
    OrderFactory(customer=won, amount=Decimal("1500.00"), ordered_at=_at(4))
    refund = OrderFactory(customer=won, amount=Decimal("500.00"), ordered_at=_at(8))
    api = api_as("marketing_manager")
    assert _metric(api, "channel_roi")["by_channel"][0]["revenue"] == "2000.00"
    cancel_order(order=refund, by=None, reason="Refunded")
    roi = _metric(api, "channel_roi")
    assert roi["by_channel"][0]["revenue"] == "1500.00"
    assert roi["value"] == 0.5  # (1500 − 1000) ÷ 1000


# --- the order page and the admin ------------------------------------------------------------------------------


def test_the_order_page_confirms_then_cancels(client_as):
    order = OrderFactory(amount=Decimal("88.00"))
    client = client_as("service")
    page = client.get(reverse("customers:order-detail", args=[order.pk])).content.decode()
    assert reverse("customers:order-cancel", args=[order.pk]) in page
    confirm = client.get(reverse("customers:order-cancel", args=[order.pk]))
    assert confirm.status_code == 200 and "This cannot be undone." in confirm.content.decode()
    blank = client.post(reverse("customers:order-cancel", args=[order.pk]), {"reason": ""})
    assert blank.status_code == 422 and "reason" in blank.context["form"].errors
    done = client.post(reverse("customers:order-cancel", args=[order.pk]), {"reason": "Wrong size"})
    assert done.status_code == 302 and done.url == reverse("customers:order-detail", args=[order.pk])
    order.refresh_from_db()
    assert (order.cancel_reason, order.cancelled_at) == ("Wrong size", NOW)
    after = client.get(done.url).content.decode()
    assert 'data-testid="cancelled"' in after and "Wrong size" in after
    assert reverse("customers:order-cancel", args=[order.pk]) not in after  # no second button
    again = client.get(reverse("customers:order-cancel", args=[order.pk]))
    assert again.status_code == 302  # back to the order, which says it is cancelled


def test_marketing_sees_no_cancel_button_and_is_refused(client_as):
    order = OrderFactory()
    client = client_as("marketing")
    page = client.get(reverse("customers:order-detail", args=[order.pk])).content.decode()
    assert reverse("customers:order-cancel", args=[order.pk]) not in page
    assert client.post(reverse("customers:order-cancel", args=[order.pk]), {"reason": "x"}).status_code == 403
    assert Order.objects.get(pk=order.pk).cancelled_at is None


def test_the_admin_action_asks_for_a_reason_and_cancels_in_one_go(client_as):
    first, second = OrderFactory(), OrderFactory()
    already = OrderFactory()
    cancel_order(order=already, by=None, reason="Earlier reason")
    client = client_as("sales_manager")
    url = reverse("admin:customers_order_changelist")
    selected = {"action": "cancel_orders", "_selected_action": [first.pk, second.pk, already.pk]}
    ask = client.post(url, selected)
    assert ask.status_code == 200 and "Reason for the cancellation" in ask.content.decode()
    assert Order.objects.filter(cancelled_at__isnull=False).count() == 1
    blank = client.post(url, {**selected, "apply": "1", "reason": ""})
    assert blank.status_code == 200 and Order.objects.filter(cancelled_at__isnull=False).count() == 1
    done = client.post(url, {**selected, "apply": "1", "reason": "Warehouse fire"})
    assert done.status_code == 302
    reasons = dict(Order.objects.values_list("pk", "cancel_reason"))
    assert reasons == {first.pk: "Warehouse fire", second.pk: "Warehouse fire", already.pk: "Earlier reason"}


def test_the_admin_action_is_not_offered_to_marketing(client_as):
    OrderFactory()
    page = client_as("marketing").get(reverse("admin:customers_order_changelist"))
    assert page.status_code == 200 and "cancel_orders" not in page.content.decode()


def test_a_cancelled_order_is_read_only_in_the_admin(client_as):
    order = OrderFactory()
    cancel_order(order=order, by=make_user("sales"), reason="Gone")
    client = client_as("sales")
    page = client.get(reverse("admin:customers_order_change", args=[order.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
