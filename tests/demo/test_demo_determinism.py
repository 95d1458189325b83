"""`seed_demo` makes the same demo on every run: a second run adds nothing, and `--reset` rebuilds the same
pipeline, tasks, touchpoints, shop and marketing (ids are new, so rows are compared by what they say)."""

import pytest

from config.models import Task
from customers.models import AffinityPair, Customer, Order, OrderLine, PointsEntry, Product
from leads.models import Lead
from marketing import experiments
from marketing.models import ActivationWindow, ContentItem, CustomerEvent, Experiment, Journey, Message, Touchpoint
from tests.demo.support import demo_counts, seed

pytestmark = pytest.mark.django_db


def _sorted(rows) -> list:
    return sorted(rows, key=lambda row: tuple("" if value is None else value for value in row))


def _snapshot() -> dict:
    return {
        "deal values": list(Lead.objects.order_by("pk").values_list("deal_value", "won_amount")),
        # Tasks about a record name it by id, which a reset renews.
        "tasks": list(Task.objects.order_by("pk").values_list("kind", "title", "due_at", "assignee__username")),
        "touchpoints": _sorted(
            Touchpoint.objects.values_list("customer__name", "channel__code", "campaign__name", "kind", "at")
        ),
        "products": sorted(Product.objects.values_list("sku", "name", "category", "price", "is_active")),
        "lines": sorted(
            OrderLine.objects.values_list(
                "order__customer__name", "order__ordered_at", "product__sku", "quantity", "unit_price"
            )
        ),
        "cancelled": sorted(Order.objects.exclude(cancelled_at=None).values_list("ordered_at", "cancelled_at")),
        "points": sorted(PointsEntry.objects.values_list("customer__name", "kind", "points", "at", "reason")),
        "tiers": sorted(Customer.objects.values_list("name", "created_at", "loyalty_tier", "points_balance")),
        "pairs": sorted(AffinityPair.objects.values_list("from_product__sku", "to_product__sku", "support")),
        "content": sorted(ContentItem.objects.values_list("title", "stage", "language", "tags", "urls")),
        "variants": sorted(ContentItem.objects.values_list("title", "variants__key", "variants__title")),
        "journeys": sorted(Journey.objects.values_list("name", "trigger", "goal", "status", "steps__kind")),
        "events": sorted(CustomerEvent.objects.values_list("customer__name", "type", "at", "source", "properties")),
        "windows": sorted(
            ActivationWindow.objects.values_list("customer__name", "signed_up_at", "activated_at", "missed_at")
        ),
        # Who gets which variant hashes the item's and the customer's ids, which a reset renews: the same people
        # on the same channels at the same times, and the same verdict.
        "messages": sorted(
            Message.objects.filter(experiment__isnull=False).values_list("customer__name", "channel", "sent_at")
        ),
        "verdict": experiments.results(Experiment.objects.get()).verdict,
    }


def test_a_second_run_adds_nothing_and_a_reset_makes_the_same_demo(settings):
    settings.RELAY_POINTS_PER_UNIT = 1
    settings.RELAY_POINTS_EXPIRE_MONTHS = 12
    settings.RELAY_AFFINITY_MIN_SUPPORT = 5
    seed()
    counts, first = demo_counts(), _snapshot()
    seed()
    assert demo_counts() == counts
    seed(reset=True)
    assert demo_counts() == counts
    again = _snapshot()
    assert [part for part in first if again[part] != first[part]] == []
