"""customer.merged and order.placed are published once, where they happen (DESIGN.md webhooks)."""

import pytest
from django.utils import timezone

from customers import services
from tests.factories import ChannelFactory, CustomerFactory, make_user
from tests.webhook_events import endpoints_for, sent

pytestmark = pytest.mark.django_db


def test_a_merge_publishes_customer_merged():
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    manager = make_user("sales_manager")
    wanted, others = endpoints_for("customer.merged")
    services.merge_customers(survivor=survivor, duplicate=duplicate, by=manager)
    [(event_type, data)] = sent(wanted)
    assert event_type == "customer.merged"
    assert (data["survivor"], data["duplicate"], data["by"]) == (survivor.pk, duplicate.pk, manager.pk)
    assert sent(others, "customer.merged") == []


def test_a_new_order_publishes_order_placed_once_even_when_the_feed_resends_it():
    customer, channel, seller = CustomerFactory(), ChannelFactory(), make_user("sales")
    wanted, others = endpoints_for("order.placed")
    for _ in range(2):
        order = services.place_order(
            customer=customer, amount="99.50", ordered_at=timezone.now(), channel=channel, external_id="A-1", by=seller
        ).order
    [(event_type, data)] = sent(wanted)
    assert event_type == "order.placed"
    assert (data["order"], data["customer"], data["amount"], data["channel"], data["external_id"]) == (
        order.pk,
        customer.pk,
        "99.50",
        channel.code,
        "A-1",
    )
    assert sent(others, "order.placed") == []


def test_an_upserted_order_publishes_only_when_new():
    customer = CustomerFactory()
    wanted, _others = endpoints_for("order.placed")
    created = services.place_order(customer=customer, amount="10.00", ordered_at=timezone.now()).created
    assert created and len(sent(wanted)) == 1
    services.place_order(customer=customer, amount="11.00", ordered_at=timezone.now())
    assert len(sent(wanted)) == 2
