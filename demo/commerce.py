"""The shop behind the demo's orders (`manage.py seed_demo`, after the customers, leads and orders are written).

The demo's customers buy from a mother-and-baby retail chain: its stores, web shop, WeChat mini-program and Douyin
shop take the everyday orders (a few hundred yuan), and sales wins bulk orders from kindergartens, clinics and
companies buying gifts (the won leads' orders). This module gives that chain

* a catalogue of CATALOGUE's products in six categories (two of them discontinued, sold only long ago);
* lines on every demo order (1–4) that add up to the order's amount to the cent: the amounts the demo already has
  stay, so its boards, RFM and tests keep their figures; each line's unit price is the list price times what the
  order paid over its list total (bulk orders about BULK_DISCOUNT), one line taking the rounding;
* built-in purchase patterns for the affinity page: each customer shops for a child of an age (infant or toddler)
  as a parent, a gift buyer or a gear buyer; a parent who bought baby food comes back for toys and children's
  clothes (FOLLOW_UP), mostly made for the child's age, so "baby food → toys" pairs show a lift well above 1;
* a few cancelled orders (CANCELLED_SHARE of the shop's orders, with a reason);
* the loyalty history, through customers.loyalty: every order's points (set-based), the cancelled orders' points
  taken back when they were cancelled, some redemptions at the till and a few managers' adjustments, the nightly
  expiry as the beat would have run it, then everyone's tier and membership; the won bulk orders put companies in
  the gold and platinum tiers, the shop's regulars in silver;
* the affinity pairs, refreshed from all of that (customers.affinity).

Deterministic: seeded `random.Random` streams over the orders read in (customer, time) order, and the demo's fixed
`now`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from customers import affinity, loyalty
from customers.models import Customer, Order, OrderLine, PointsEntry, PointsKind, Product
from demo.data import D, wait
from leads.models import Lead

BABY_FOOD, TOYS, CLOTHES = "Baby food", "Toys", "Children's clothing"
CARE, FEEDING, GEAR = "Diapers & care", "Feeding & nursery", "Strollers & car seats"
INFANT, TODDLER, ANY_AGE = "infant", "toddler", ""

# sku, name, category, list price (CNY), the child's age it suits; within a category the best sellers come first.
CATALOGUE: list[tuple[str, str, str, str, str]] = [
    ("BF-001", "Stage 1 infant formula, 800 g", BABY_FOOD, "328.00", INFANT),
    ("BF-002", "Stage 2 follow-on formula, 800 g", BABY_FOOD, "308.00", INFANT),
    ("BF-003", "Stage 3 toddler milk, 800 g", BABY_FOOD, "268.00", TODDLER),
    ("BF-004", "Organic rice cereal, 250 g", BABY_FOOD, "58.00", INFANT),
    ("BF-005", "Apple and pear purée, 6 × 90 g", BABY_FOOD, "45.00", INFANT),
    ("BF-006", "Toddler noodles, 6 packs", BABY_FOOD, "49.00", TODDLER),
    ("BF-007", "Carrot and sweet potato purée, 6 × 90 g", BABY_FOOD, "45.00", INFANT),
    ("BF-008", "Freeze-dried yoghurt melts, 20 g", BABY_FOOD, "35.00", TODDLER),
    ("BF-009", "Teething rusks, 100 g", BABY_FOOD, "32.00", INFANT),
    ("BF-010", "Mini rice puffs, 40 g", BABY_FOOD, "26.00", TODDLER),
    ("TOY-001", "Rainbow rattle set", TOYS, "69.00", INFANT),
    ("TOY-002", "Building blocks, 80 pieces", TOYS, "159.00", TODDLER),
    ("TOY-003", "Soft cloth book", TOYS, "49.00", INFANT),
    ("TOY-004", "Push-along walker", TOYS, "299.00", TODDLER),
    ("TOY-005", "Activity gym play mat", TOYS, "399.00", INFANT),
    ("TOY-006", "Shape sorter cube", TOYS, "99.00", TODDLER),
    ("TOY-007", "Wooden stacking rings", TOYS, "89.00", INFANT),
    ("TOY-008", "Balance bike", TOYS, "459.00", TODDLER),
    ("TOY-009", "Musical bath ducks", TOYS, "59.00", ANY_AGE),
    ("TOY-010", "Plush bunny", TOYS, "79.00", ANY_AGE),
    ("CL-001", "Organic cotton bodysuits, 3-pack", CLOTHES, "129.00", INFANT),
    ("CL-002", "Toddler jeans", CLOTHES, "119.00", TODDLER),
    ("CL-003", "Sleepsuit with feet", CLOTHES, "99.00", INFANT),
    ("CL-004", "First-walker shoes", CLOTHES, "199.00", TODDLER),
    ("CL-005", "Knitted cardigan", CLOTHES, "159.00", INFANT),
    ("CL-006", "Pyjama set", CLOTHES, "109.00", TODDLER),
    ("CL-007", "Cotton socks, 5 pairs", CLOTHES, "39.00", ANY_AGE),
    ("CL-008", "Fleece-lined jacket", CLOTHES, "259.00", TODDLER),
    ("CL-009", "Sun hat", CLOTHES, "59.00", ANY_AGE),
    ("CL-010", "Winter snowsuit", CLOTHES, "399.00", INFANT),
    ("DC-001", "Newborn diapers, 84 count", CARE, "139.00", INFANT),
    ("DC-002", "Diapers size M, 64 count", CARE, "129.00", INFANT),
    ("DC-003", "Sensitive baby wipes, 6 × 80", CARE, "69.00", ANY_AGE),
    ("DC-004", "Pull-up pants size L, 44 count", CARE, "119.00", TODDLER),
    ("DC-005", "Baby wash and shampoo, 400 ml", CARE, "79.00", ANY_AGE),
    ("DC-006", "Diaper rash cream, 60 g", CARE, "59.00", INFANT),
    ("DC-007", "Baby lotion, 200 ml", CARE, "69.00", ANY_AGE),
    ("DC-008", "Baby sunscreen SPF 50, 50 ml", CARE, "99.00", TODDLER),
    ("DC-009", "Hooded bath towel", CARE, "89.00", ANY_AGE),
    ("DC-010", "Baby nail clipper set", CARE, "39.00", ANY_AGE),
    ("FN-001", "Anti-colic bottle, 240 ml", FEEDING, "129.00", INFANT),
    ("FN-002", "Suction bowl and spoon set", FEEDING, "89.00", TODDLER),
    ("FN-003", "Bottle steriliser and dryer", FEEDING, "599.00", INFANT),
    ("FN-004", "Silicone bibs, 2-pack", FEEDING, "59.00", ANY_AGE),
    ("FN-005", "Sippy cup with handles", FEEDING, "69.00", TODDLER),
    ("FN-006", "Bottle warmer", FEEDING, "259.00", INFANT),
    ("FN-007", "Baby monitor with camera", FEEDING, "699.00", ANY_AGE),
    ("FN-008", "High chair", FEEDING, "799.00", TODDLER),
    ("FN-009", "Electric breast pump", FEEDING, "899.00", INFANT),
    ("FN-010", "Night light with white noise", FEEDING, "199.00", ANY_AGE),
    ("GO-001", "Lightweight travel stroller", GEAR, "1599.00", TODDLER),
    ("GO-002", "Infant car seat, 0–13 kg", GEAR, "1899.00", INFANT),
    ("GO-003", "Baby carrier", GEAR, "499.00", INFANT),
    ("GO-004", "Changing backpack", GEAR, "329.00", ANY_AGE),
    ("GO-005", "Convertible car seat, 0–25 kg", GEAR, "2699.00", TODDLER),
    ("GO-006", "All-terrain pram", GEAR, "3299.00", INFANT),
    ("GO-007", "Car seat installation service", GEAR, "199.00", ANY_AGE),
    ("GO-008", "Stroller rain cover", GEAR, "129.00", ANY_AGE),
    ("GO-009", "Portable travel cot", GEAR, "899.00", ANY_AGE),
    ("GO-010", "Stroller organiser bag", GEAR, "99.00", ANY_AGE),
    # Discontinued: sold only before DISCONTINUED_DAYS ago, inactive since.
    ("BF-011", "Goat milk formula, 800 g (old recipe)", BABY_FOOD, "358.00", INFANT),
    ("TOY-011", "Wind-up caterpillar", TOYS, "39.00", ANY_AGE),
]
DISCONTINUED = {"BF-011", "TOY-011"}
DISCONTINUED_DAYS = 400

# What each kind of shopper puts in the basket: weights per category, line by line.
PERSONAS = {
    "parent": ({BABY_FOOD: 45, CARE: 30, FEEDING: 15, GEAR: 6, TOYS: 2, CLOTHES: 2}, 60),
    "gifter": ({TOYS: 40, CLOTHES: 35, CARE: 15, FEEDING: 10}, 15),
    "gear": ({GEAR: 35, FEEDING: 30, CARE: 25, CLOTHES: 5, TOYS: 5}, 25),
}
CHILD_AGES = [(INFANT, 55), (TODDLER, 45)]
AGE_MATCH, AGE_MISMATCH = 3.0, 0.3  # weight of a product made for the child's age, and of one for the other age
# After an order with baby food, each later order of the customer carries a toy and clothes at these rates.
FOLLOW_UP = {TOYS: 0.8, CLOTHES: 0.6}
RETAIL_LINES = ([1, 2, 3, 4], [30, 35, 22, 13])
BULK_LINES = ([2, 3, 4], [35, 40, 25])
BULK_DISCOUNT = Decimal("0.85")  # what a won bulk order pays of the list price (its lines carry it)
MIN_LINE_CENTS = 50_00  # an order of less than this per line has fewer lines
CANCELLED_SHARE = 0.015  # of the shop's orders (not the won leads' orders: the lead says it was won)
CANCEL_REASONS = [
    "Customer changed their mind before dispatch.",
    "Out of stock at the store; refunded.",
    "Duplicate order from the mini-program.",
    "客户下错单,已退款。",
    "地址无法配送,取消订单。",
]
# Redemptions at the till: a share of the customers with a later order redeem part of what they had then.
REDEEMING_SHARE = 0.12
REDEEM_SHARE = (0.2, 0.6)  # of the points they had, in hundreds
REDEEM_REASONS = ["Voucher at checkout", "积分抵现", "Redeemed for a gift pack", "积分兑换婴儿湿巾礼盒"]
# Managers' corrections: (points, reason); a negative one only where the points are there to take.
ADJUSTMENTS = [
    (300, "Goodwill for the late delivery"),
    (500, "门店会员日活动补录积分"),
    (200, "Points for a product review"),
    (1000, "Apology for the damaged stroller"),
    (150, "补录线下门店消费积分"),
    (-200, "Points earned twice on a retried store feed"),
]
STAFF = ("service", "service2", "sales", "sales2")  # the demo users who cancel orders and redeem points at the till
MANAGERS = ("service_manager", "sales_manager")  # and who adjust points
EXPIRY_RUN = time(2, 5)  # when the beat runs customers.tasks.expire_points each night (local time)


@dataclass(frozen=True)
class Item:
    pk: int
    sku: str
    category: str
    cents: int
    age: str
    rank: int  # its place among its category's best sellers


@dataclass
class Shopper:
    persona: str
    age: str
    fed: bool = False  # bought baby food on an earlier order


def ensure_catalogue() -> list[Item]:
    """CATALOGUE's products (kept as they are if a person created or edited them already)."""
    have = set(Product.objects.filter(sku__in=[row[0] for row in CATALOGUE]).values_list("sku", flat=True))
    Product.objects.bulk_create(
        [
            Product(sku=sku, name=name, category=category, price=Decimal(price), is_active=sku not in DISCONTINUED)
            for sku, name, category, price, _age in CATALOGUE
            if sku not in have
        ]
    )
    stored = {
        sku: (pk, category, price, is_active)
        for pk, sku, category, price, is_active in Product.objects.filter(
            sku__in=[row[0] for row in CATALOGUE]
        ).values_list("pk", "sku", "category", "price", "is_active")
    }
    ranks: dict[str, int] = defaultdict(int)
    items = []
    for sku, _name, _category, _price, age in CATALOGUE:  # in CATALOGUE's order: the best sellers first
        pk, category, price, is_active = stored[sku]
        if price > 0 and (is_active or sku in DISCONTINUED):  # not what somebody took off sale or gives away
            items.append(Item(pk, sku, category, int(price * 100), age, ranks[category]))
            ranks[category] += 1
    return items


def seed_commerce(*, seed: int, now: datetime, users: dict) -> dict[str, int]:
    """The catalogue, the lines of every demo order, a few cancellations, the points and tiers, the affinity pairs.

    `users`: the demo users by username (ensure_demo_users): staff redeem points, managers adjust them."""
    items = ensure_catalogue()
    orders = list(
        Order.objects.filter(lines__isnull=True, cancelled_at__isnull=True)
        .order_by("customer_id", "ordered_at", "pk")
        .values_list("pk", "customer_id", "amount", "ordered_at")
    )
    bulk = set(Lead.objects.filter(won_order__isnull=False).values_list("won_order_id", flat=True))
    lines = write_lines(random.Random(f"{seed}-lines"), items, orders, bulk, now)  # nosec B311 - demo data
    earned = loyalty.earn_for_orders([pk for pk, *_rest in orders], now=now)
    rng = random.Random(f"{seed}-loyalty")  # nosec B311
    staff = [users[name] for name in STAFF]
    cancelled = cancel_some(rng, [(pk, at) for pk, _c, _a, at in orders if pk not in bulk], now, staff=staff)
    changed = redeem_and_adjust(rng, orders, cancelled, now, staff=staff, managers=[users[name] for name in MANAGERS])
    expired = write_expiry(now=now)
    members = len(loyalty.recompute_tiers(None, now=now))
    return {
        "product": len(items),
        "order line": lines,
        "cancelled order": len(cancelled),
        "points entry": earned + len(cancelled) + changed + expired,
        "member": members,
        "affinity pair": affinity.refresh_affinity(now=now),
    }


def write_lines(rng: random.Random, items: list[Item], orders, bulk: set[int], now: datetime) -> int:
    """1–4 lines for each of `orders` [(id, customer id, amount, ordered_at)], in (customer, time) order: what a
    customer bought before shapes what they buy next. `bulk`: the won leads' orders."""
    if not items:
        return 0  # somebody took the whole catalogue off sale
    basket = Basket(rng, items, now)
    rows: list[tuple[int, int, int, Decimal]] = []
    shoppers: dict[int, Shopper] = {}
    for order_id, customer_id, amount, ordered_at in orders:
        shopper = shoppers.get(customer_id)
        if shopper is None:
            shopper = shoppers[customer_id] = basket.shopper()
        planned = basket.lines(shopper, int(amount * 100), ordered_at, is_bulk=order_id in bulk)
        rows += [(order_id, item.pk, quantity, Decimal(cents).scaleb(-2)) for item, quantity, cents in planned]
        shopper.fed = shopper.fed or any(item.category == BABY_FOOD for item, _q, _c in planned)
    # A plain INSERT: bulk_create's per-field preparation would cost more than planning the lines.
    table, quote = OrderLine._meta.db_table, connection.ops.quote_name
    fields = ("order", "product", "quantity", "unit_price")
    columns = ", ".join(quote(OrderLine._meta.get_field(name).column) for name in fields)
    sql = f"INSERT INTO {quote(table)} ({columns}) VALUES (%s, %s, %s, %s)"  # nosec B608 - names only, values as parameters
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(sql, rows[start : start + 5000])
    return len(rows)


class Basket:
    """What a shopper buys on one order, priced so the lines add up to the order's amount."""

    def __init__(self, rng: random.Random, items: list[Item], now: datetime):
        self.rng = rng
        self.discontinued_before = now - DISCONTINUED_DAYS * D
        # What is on sale (all of CATALOGUE before the discontinued products went, the rest after), by category.
        self.on_sale: dict[bool, dict[str | None, list[Item]]] = {}
        for old in (True, False):
            selling = [item for item in items if old or item.sku not in DISCONTINUED]
            self.on_sale[old] = {None: selling}
            for item in selling:
                self.on_sale[old].setdefault(item.category, []).append(item)

    def shopper(self) -> Shopper:
        rng = self.rng
        persona = rng.choices(list(PERSONAS), [weight for _mix, weight in PERSONAS.values()])[0]
        return Shopper(persona, rng.choices([a for a, _w in CHILD_AGES], [w for _a, w in CHILD_AGES])[0])

    def lines(self, shopper: Shopper, cents: int, at: datetime, *, is_bulk: bool) -> list[tuple[Item, int, int]]:
        """[(item, quantity, unit price in cents)] adding up to `cents` exactly."""
        rng = self.rng
        counts, weights = BULK_LINES if is_bulk else RETAIL_LINES
        n = min(rng.choices(counts, weights)[0], max(1, cents // MIN_LINE_CENTS))
        categories = [c for c in (TOYS, CLOTHES) if shopper.fed and rng.random() < FOLLOW_UP[c]][:n]
        mix = PERSONAS[shopper.persona][0]
        while len(categories) < n:
            categories.append(rng.choices(list(mix), list(mix.values()))[0])
        shares = [rng.uniform(0.6, 1.4) for _ in categories]
        discount = BULK_DISCOUNT if is_bulk else Decimal(1)
        picked: list[tuple[Item, float]] = []
        for category, share in zip(categories, shares, strict=True):
            item = self._pick(shopper, category, cents * share / sum(shares), at, exclude={i.pk for i, _s in picked})
            if item is not None:
                picked.append((item, share))
        if not picked:  # nothing of its categories within the budget: what the budget buys
            picked = [(self._add_on(cents * 1.25, at, exclude=set()), 1.0)]
        # What a line could not find (nothing of its category within its budget) goes to the lines that did.
        listed = cents / float(discount)  # what the basket is worth at list prices
        total = sum(share for _item, share in picked)
        plan = fit([(item, max(1, round(listed * share / total / item.cents))) for item, share in picked], listed)
        short = listed - sum(item.cents * quantity for item, quantity in plan)
        if short > listed / 5 and len(plan) < max(counts):  # one of a dear item falls well short: add a smaller one
            plan.append((self._add_on(short, at, exclude={i.pk for i, _q in plan}), 1))
        priced = price(plan, cents)
        if priced is None:  # no line of one, and no quantity near the plan's divides the rest: add a line of one
            if len(plan) == max(counts):
                plan.remove(min(plan, key=lambda line: line[0].cents * line[1]))
            add_on = self._add_on(listed / (len(plan) + 1), at, exclude={i.pk for i, _q in plan})
            priced = price(fit(plan, listed - add_on.cents) + [(add_on, 1)], cents)
            # A line of one takes any remainder above zero: only an order of nothing gets here, a gift of one item.
            priced = priced or [(add_on, 1, cents)]
        return priced

    def _add_on(self, budget: float, at: datetime, exclude: set[int]) -> Item:
        """The dearest product within `budget` (cents) not in the basket yet, else the cheapest."""
        on_sale = [i for i in self._on_sale(at) if i.pk not in exclude]
        affordable = [i for i in on_sale if i.cents <= budget]
        return max(affordable, key=lambda i: (i.cents, -i.pk)) if affordable else min(on_sale, key=lambda i: i.cents)

    def _on_sale(self, at: datetime, category: str | None = None) -> list[Item]:
        return self.on_sale[at < self.discontinued_before].get(category, [])

    def _pick(self, shopper: Shopper, category: str, budget: float, at: datetime, exclude: set[int]) -> Item | None:
        """A product of `category` a shopper with `budget` (cents) would take: not far above the budget, the best
        sellers and the child's age first."""
        candidates = [i for i in self._on_sale(at, category) if i.pk not in exclude]
        affordable = [i for i in candidates if i.cents <= budget * 1.25]
        if not affordable:
            return None
        worth_it = [i for i in affordable if i.cents * 8 >= budget] or affordable
        weights = []
        for item in worth_it:
            suits = 1.0 if item.age == ANY_AGE else AGE_MATCH if item.age == shopper.age else AGE_MISMATCH
            weights.append(suits / (1 + item.rank) ** 0.7)
        return self.rng.choices(worth_it, weights)[0]


def fit(plan: list[tuple[Item, int]], listed: float) -> list[tuple[Item, int]]:
    """`plan` with its quantities moved one at a time while that brings its list total nearer `listed`."""
    quantities = [quantity for _item, quantity in plan]
    total = sum(item.cents * quantity for item, quantity in plan)

    def off(worth: int) -> float:
        return max(worth / listed, listed / worth) if listed > 0 else worth

    while True:
        moves = [
            (off(total + step * item.cents), i, step)
            for i, (item, _q) in enumerate(plan)
            for step in (-1, 1)
            if quantities[i] + step > 0
        ]
        best = min(moves, default=None)
        if best is None or best[0] >= off(total):
            return [(item, quantity) for (item, _q), quantity in zip(plan, quantities, strict=True)]
        _off, i, step = best
        quantities[i] += step
        total += step * plan[i][0].cents


def price(plan: list[tuple[Item, int]], cents: int) -> list[tuple[Item, int, int]] | None:
    """Unit prices (cents) for `plan` [(item, quantity)] so that the lines add up to `cents`: each line at its list
    price times the order's factor (what it paid over the list total), one line taking the rounding. That line's
    quantity may move to one that divides what is left, or another line's price by a few cents; None when no
    such line is near its planned quantity (the caller adds a line of one)."""
    listed = sum(item.cents * quantity for item, quantity in plan)
    units = [(2 * item.cents * cents + listed) // (2 * listed) for item, _q in plan]  # rounded half up
    # The line taking the rounding: a single item first (any remainder divides 1), else the largest quantity.
    order = sorted(range(len(plan)), key=lambda i: (plan[i][1] != 1, -plan[i][1], i))
    for last in order:
        item, quantity = plan[last]
        rest = cents - sum(units[i] * q for i, (_item, q) in enumerate(plan) if i != last)
        for q in sorted(range(-(-quantity * 9 // 10), quantity * 11 // 10 + 1), key=lambda q: (abs(q - quantity), q)):
            if rest > 0 and rest % q == 0:
                return _lines(plan, units, last, q, rest // q)
        for other, (_item, other_q) in enumerate(plan):
            if other == last:
                continue
            for nudge in range(min(quantity, units[other] // 50 + 1)):  # a few cents at most, each under 2 %
                if (rest - nudge * other_q) % quantity == 0 and rest - nudge * other_q > 0:
                    units[other] += nudge
                    return _lines(plan, units, last, quantity, (rest - nudge * other_q) // quantity)
    return None


def _lines(plan, units, last, quantity, unit) -> list[tuple[Item, int, int]]:
    lines = [(item, q, units[i]) for i, (item, q) in enumerate(plan) if i != last]
    return [*lines, (plan[last][0], quantity, unit)]


def cancel_some(rng: random.Random, orders: list[tuple[int, datetime]], now: datetime, *, staff) -> dict[int, datetime]:
    """Cancel CANCELLED_SHARE of `orders` [(id, ordered_at)] a few hours to days after they were placed, and take
    their points back then (customers.loyalty, by one of `staff`). Returns {order id: cancelled_at}."""
    chosen = sorted(rng.sample(orders, round(len(orders) * CANCELLED_SHARE))) if orders else []
    cancelled = []
    for pk, ordered_at in chosen:
        at = min(ordered_at + wait(rng, 20), now - timedelta(minutes=5))
        if at > ordered_at:
            cancelled.append(Order(pk=pk, cancelled_at=at, cancel_reason=rng.choice(CANCEL_REASONS), updated_at=at))
    Order.objects.bulk_update(cancelled, ["cancelled_at", "cancel_reason", "updated_at"], batch_size=500)
    for order in cancelled:
        loyalty.reverse_for_order(order, now=order.cancelled_at, by=rng.choice(staff))
    return {order.pk: order.cancelled_at for order in cancelled}


def redeem_and_adjust(
    rng: random.Random, orders, cancelled: dict[int, datetime], now: datetime, *, staff, managers
) -> int:
    """Redemptions at the till (REDEEMING_SHARE of the customers with a later order, when they placed it) and the
    managers' ADJUSTMENTS, through customers.loyalty as `staff` and `managers` record them. Each takes no more than
    the customer had at the time: the points of their earlier orders that were not cancelled, less what they spent
    before."""
    history: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for pk, customer_id, amount, ordered_at in orders:
        if pk not in cancelled:
            history[customer_id].append((ordered_at, loyalty.points_for(amount)))
    repeat = [customer_id for customer_id, placed in history.items() if len(placed) >= 2]
    redeeming = sorted(rng.sample(repeat, round(len(repeat) * REDEEMING_SHARE)))
    adjusted = sorted(rng.sample(sorted(history), min(len(ADJUSTMENTS), len(history))))
    written = 0
    for customer_id in redeeming:
        placed = history[customer_id]
        at, _points = placed[rng.randrange(1, len(placed))]  # at the till, placing a later order
        had = sum(points for ordered_at, points in placed if ordered_at < at)
        points = int(had * rng.uniform(*REDEEM_SHARE)) // 100 * 100
        if points > 0:
            customer = Customer(pk=customer_id)
            loyalty.redeem(
                customer=customer, points=points, reason=rng.choice(REDEEM_REASONS), by=rng.choice(staff), now=at
            )
            written += 1
            placed.append((at, -points))
    for customer_id, (points, reason) in zip(adjusted, ADJUSTMENTS, strict=False):
        placed = history[customer_id]
        at = max(ordered_at for ordered_at, _p in placed) + wait(rng, 48)
        if at >= now or sum(p for _at, p in placed) + points < 0:
            continue
        loyalty.adjust(customer=Customer(pk=customer_id), points=points, reason=reason, by=rng.choice(managers), now=at)
        written += 1
    return written


def write_expiry(*, now: datetime) -> int:
    """The nightly expiry up to `now`, as the beat runs customers.loyalty.expire_points at EXPIRY_RUN, written in
    bulk (a query a night would be most of the demo's build time) by its rule: each night, for each customer,
    max(0, Σ earned points expired by then − Σ of every debit in the ledger, earlier nights' expiries included).
    Afterwards expire_points at the last night's run finds nothing more. Returns the entries written."""
    earned: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    debited: dict[int, int] = defaultdict(int)
    for customer_id, points, expires_at in (
        PointsEntry.objects.filter(customer__merged_into__isnull=True)
        .filter(Q(points__lt=0) | Q(kind=PointsKind.EARN, expires_at__lte=now))
        .values_list("customer_id", "points", "expires_at")
    ):
        if points < 0:
            debited[customer_id] -= points
        else:
            earned[customer_id].append((expires_at, points))
    reason = gettext("Points past their expiry date")  # as expire_points words it
    entries = []
    for customer_id in sorted(earned):
        expired = 0
        for night, points in _by_night(earned[customer_id]):
            if night > now:
                break
            expired += points
            due = expired - debited[customer_id]
            if due > 0:
                entries.append(
                    PointsEntry(customer_id=customer_id, kind=PointsKind.EXPIRE, points=-due, reason=reason, at=night)
                )
                debited[customer_id] += due
    PointsEntry.objects.bulk_create(entries, batch_size=2000)
    loyalty.recompute_balances({entry.customer_id for entry in entries})
    return len(entries)


def last_expiry_run(now: datetime) -> datetime:
    """The last nightly expiry run at or before `now`."""
    night = timezone.make_aware(datetime.combine(timezone.localdate(now), EXPIRY_RUN), timezone.get_current_timezone())
    return night if night <= now else night - D


def _by_night(earned: list[tuple[datetime, int]]) -> list[tuple[datetime, int]]:
    """[(a nightly run, the points it is the first run to find expired)], oldest first."""
    nights: dict[datetime, int] = defaultdict(int)
    for expires_at, points in earned:
        night = last_expiry_run(expires_at)
        nights[night if night == expires_at else night + D] += points
    return sorted(nights.items())
