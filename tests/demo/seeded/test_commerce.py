"""The demo's shop (demo/commerce.py): a catalogue of about 60 products, lines on every order adding up to its amount,
a few cancelled orders with their points taken back, a loyalty ledger that never dips below zero with members in
every tier, and affinity pairs where baby food leads to toys; the same on every run.

Each figure is checked against what the test computes itself from the rows (spend, tiers, points, support,
confidence, lift), not against the code that wrote them."""

import math
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from customers import affinity, loyalty
from customers.models import (
    AffinityPair,
    Customer,
    CustomerIdentity,
    LoyaltyTier,
    Order,
    OrderLine,
    PointsEntry,
    Product,
)
from demo import commerce
from leads.models import Lead
from tests.demo.support import NOW

pytestmark = pytest.mark.django_db

BABY_FOOD, TOYS, GEAR = "Baby food", "Toys", "Strollers & car seats"


def test_the_demo_shop_sells_a_catalogue_on_every_order_with_points_tiers_and_affinity(client_as):
    """Every part reads the one demo of this package (tests/demo/seeded/conftest.py)."""
    _catalogue()
    _every_order_has_lines_adding_up_to_its_amount()
    _a_few_orders_are_cancelled_with_their_points_taken_back()
    _points_follow_the_orders_and_never_dip_below_zero()
    _every_tier_has_members_by_their_spend()
    _baby_food_leads_to_toys()
    _a_member_page_shows_tier_points_and_recommendations(client_as)


def _catalogue():
    products = list(Product.objects.all())
    assert 55 <= len(products) <= 65
    assert len({p.sku for p in products}) == len(products)
    by_category = Counter(p.category for p in products)
    assert 5 <= len(by_category) <= 6 and min(by_category.values()) >= 8, by_category
    assert {BABY_FOOD, TOYS, "Children's clothing"} <= set(by_category)
    assert all(p.name and p.price > 0 for p in products)
    assert {p.sku for p in products if not p.is_active} == commerce.DISCONTINUED
    # A discontinued product sells only in old orders (and so never in the affinity window).
    old = NOW - timedelta(days=commerce.DISCONTINUED_DAYS)
    assert not OrderLine.objects.filter(product__is_active=False, order__ordered_at__gte=old).exists()
    assert OrderLine.objects.filter(product__is_active=False).exists()


def _every_order_has_lines_adding_up_to_its_amount():
    lines = defaultdict(list)
    for order_id, quantity, unit_price, list_price in OrderLine.objects.values_list(
        "order_id", "quantity", "unit_price", "product__price"
    ):
        lines[order_id].append((quantity, unit_price, list_price))
    orders = dict(Order.objects.values_list("pk", "amount"))
    assert len(orders) == 525  # the demo's 7 orders per 4 customers, as before it had lines
    for pk, amount in orders.items():
        assert 1 <= len(lines[pk]) <= 4, pk
        assert sum(q * unit for q, unit, _list in lines[pk]) == amount, pk
        # Prices read like a shop's: the list price less a discount or a little over it, never a stray figure.
        assert all(Decimal("0.6") <= unit / list_price <= Decimal("1.3") for _q, unit, list_price in lines[pk]), pk
    assert Counter(len(v) for v in lines.values()).keys() == {1, 2, 3, 4}
    # The won leads' orders are bulk orders: still their won amount, many items each.
    for lead in Lead.objects.filter(won_order__isnull=False).select_related("won_order"):
        assert lead.won_order.amount == lead.won_amount
        assert sum(q for q, _u, _l in lines[lead.won_order_id]) >= 10, lead.pk


def _a_few_orders_are_cancelled_with_their_points_taken_back():
    cancelled = Order.objects.filter(cancelled_at__isnull=False)
    assert 3 <= cancelled.count() <= 15  # 1.5 % of the shop's ~400 orders
    won = set(Lead.objects.filter(won_order__isnull=False).values_list("won_order_id", flat=True))
    for order in cancelled:
        assert order.cancel_reason and order.ordered_at < order.cancelled_at < NOW
        assert order.pk not in won  # a won lead's order stays: the lead says it was won
        entries = {e.kind: e for e in order.points_entries.all()}
        assert entries["earn"].points == math.floor(order.amount)
        assert (entries["reverse"].points, entries["reverse"].at) == (-entries["earn"].points, order.cancelled_at)


def _points_follow_the_orders_and_never_dip_below_zero():
    entries = list(PointsEntry.objects.order_by("customer_id", "at", "pk"))
    kinds = Counter(e.kind for e in entries)
    assert kinds["earn"] == Order.objects.count()
    assert kinds["reverse"] == Order.objects.exclude(cancelled_at=None).count()
    assert kinds["redeem"] >= 3 and kinds["adjust"] >= 3 and kinds["expire"] >= 3, kinds
    amounts = dict(Order.objects.values_list("pk", "amount"))
    running: dict[int, int] = defaultdict(int)
    for entry in entries:
        running[entry.customer_id] += entry.points
        assert running[entry.customer_id] >= 0, entry  # at every moment of the history, not only at the end
        assert entry.at <= NOW
        if entry.kind == "earn":
            assert entry.points == math.floor(amounts[entry.order_id])
            assert entry.expires_at == loyalty.add_months(entry.order.ordered_at, 12)
        if entry.kind == "adjust":
            assert entry.reason and entry.created_by.groups.filter(name="manager").exists()
        if entry.kind == "redeem":
            assert entry.points < 0 and entry.created_by is not None
    balances = dict(Customer.objects.values_list("pk", "points_balance"))
    assert {pk: balances[pk] for pk in running} == dict(running)
    # The nightly expiry ran every night as the beat would have: its last run finds nothing more.
    last_run = commerce.last_expiry_run(NOW)
    assert last_run <= NOW < last_run + timedelta(days=1)
    assert all(timezone.localtime(e.at).time() == commerce.EXPIRY_RUN for e in entries if e.kind == "expire")
    assert loyalty.expire_points(now=last_run) == 0


def _every_tier_has_members_by_their_spend():
    since = loyalty.add_months(NOW, -12)
    spend: dict[int, Decimal] = defaultdict(Decimal)
    first_order: dict[int, datetime] = {}
    for customer_id, amount, at in Order.objects.filter(cancelled_at=None).values_list(
        "customer_id", "amount", "ordered_at"
    ):
        first_order[customer_id] = min(at, first_order.get(customer_id, at))
        if at >= since:
            spend[customer_id] += amount
    cards = dict(CustomerIdentity.objects.filter(kind="member_card").values_list("customer_id", "created_at"))
    thresholds = sorted(LoyaltyTier.objects.values_list("threshold", "code"))
    assert [code for _t, code in thresholds] == ["member", "silver", "gold", "platinum"]
    for customer in Customer.objects.all():
        joined = [at for at in (first_order.get(customer.pk), cards.get(customer.pk)) if at is not None]
        expected = ""
        if joined:
            expected = [code for threshold, code in thresholds if spend[customer.pk] >= threshold][-1]
        assert (customer.loyalty_tier, customer.member_since) == (expected, min(joined, default=None)), customer.pk
    tiers = Counter(Customer.objects.values_list("loyalty_tier", flat=True))
    assert all(tiers[code] >= 3 for code in ("member", "silver", "gold", "platinum")), tiers
    assert tiers[""] > 0  # people who never ordered and hold no card are no members


def _baby_food_leads_to_toys():
    # The pairs as the test counts them from the lines of the trailing 365 days' orders that were not cancelled.
    bought: dict[int, set[int]] = defaultdict(set)
    for customer_id, product_id in OrderLine.objects.filter(
        order__cancelled_at=None, order__ordered_at__gte=NOW - timedelta(days=365), order__ordered_at__lt=NOW
    ).values_list("order__customer_id", "product_id"):
        bought[customer_id].add(product_id)
    buyers = Counter(p for products in bought.values() for p in products)
    together = Counter((x, y) for products in bought.values() for x in products for y in products if x != y)
    expected = {
        (x, y): (n, n / buyers[x], n / buyers[x] / (buyers[y] / len(bought)))
        for (x, y), n in together.items()
        if n >= 5
    }
    stored = {
        (p.from_product_id, p.to_product_id): (p.support, p.confidence, p.lift) for p in AffinityPair.objects.all()
    }
    assert stored.keys() == expected.keys() and stored
    for pair, (support, confidence, lift) in expected.items():
        assert stored[pair][0] == support
        assert stored[pair][1:] == (pytest.approx(confidence), pytest.approx(lift)), pair
    category = dict(Product.objects.values_list("pk", "category"))

    def lifts(to_category):
        return [v[2] for (x, y), v in expected.items() if category[x] == BABY_FOOD and category[y] == to_category]

    to_toys = lifts(TOYS)
    assert len(to_toys) >= 5 and max(to_toys) > 2.5, sorted(to_toys)
    assert sum(to_toys) / len(to_toys) > 1.5
    # Built in, not a by-product of busy customers: baby food buyers are no more likely than others to buy gear.
    to_gear = lifts(GEAR)
    assert sum(to_gear) / max(1, len(to_gear)) < sum(to_toys) / len(to_toys) - 0.5


def _a_member_page_shows_tier_points_and_recommendations(client_as):
    customer = Customer.objects.filter(loyalty_tier="platinum", points_balance__gt=0).order_by("pk").first()
    recommended = affinity.recommendations(customer.pk)
    assert recommended
    html = client_as("marketing").get(reverse("customers:customer-detail", args=[customer.pk])).content.decode()
    assert "Platinum" in html and f"{customer.points_balance:,}".replace(",", "") in html.replace(",", "")
    assert recommended[0].name in html


def test_lines_are_priced_to_the_cent_from_the_list_prices():
    """The rounding goes to a line of one, else to a quantity that divides what is left, else a few cents move to
    another line; when none of that works the basket gets a line of one (price() says None)."""
    purée, ducks = commerce.Item(1, "A", "Baby food", 4500, "", 0), commerce.Item(2, "B", "Toys", 6900, "", 0)
    assert commerce.price([(purée, 3)], 13500) == [(purée, 3, 4500)]
    # 150.00 for a list total of 159.00: 45.00 × 150/159 = 42.45 each, the ducks take the rest, 65.10.
    assert commerce.price([(purée, 2), (ducks, 1)], 15000) == [(purée, 2, 4245), (ducks, 1, 6510)]
    # 273.01 for 273.00: three purées can't share the odd cent, so the ducks cost 69.02 and the purées 44.99.
    assert commerce.price([(purée, 3), (ducks, 2)], 27301) == [(ducks, 2, 6902), (purée, 3, 4499)]
    assert commerce.price([(purée, 3)], 13537) is None  # 135.37 is no multiple of 3 cents
    assert commerce.price([(purée, 2), (ducks, 2)], 22801) is None  # nor is an odd amount of two pairs
    # Quantities move one at a time, the best step first, while the list total nears 260.00: 114.00 → 183.00 (a
    # second duck) → 252.00 (a third); a fourth duck (321.00) or a second purée (297.00) would be further off.
    assert commerce.fit([(purée, 1), (ducks, 1)], 26000) == [(purée, 1), (ducks, 3)]
