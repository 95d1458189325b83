"""A small shop whose product pairs are worked out by hand (tests of customers.affinity, its API, pages, journeys).

Minimum support 2. Lines of the window's orders that count, per live customer (N = 8 customers):

    c1 A B C    c2 A B    c3 A B D    c4 A C E    c5 B C E    c6 D    c7 A    c8 D

Left out: c7's B (an order 400 days old), c8's A and B (a cancelled order), c5's A (a cancelled order), the
tombstone's A and C (a customer merged into c6), c10's A (400 days old).

Buyers: A 5 (c1 c2 c3 c4 c7), B 4 (c1 c2 c3 c5), C 3 (c1 c4 c5), D 3 (c3 c6 c8), E 2 (c4 c5; E is
switched off).

Pairs (support): A-B 3, A-C 2, B-C 2, C-E 2 kept; A-D 1, B-D 1, A-E 1, B-E 1 under the minimum.

    pair   support  confidence      lift = confidence ÷ (buyers of Y ÷ 8)
    A → B  3        3/5 = 0.6       0.6 ÷ 4/8 = 1.2
    B → A  3        3/4 = 0.75      0.75 ÷ 5/8 = 1.2
    A → C  2        2/5 = 0.4       0.4 ÷ 3/8 = 16/15
    C → A  2        2/3             2/3 ÷ 5/8 = 16/15
    B → C  2        2/4 = 0.5       0.5 ÷ 3/8 = 4/3
    C → B  2        2/3             2/3 ÷ 4/8 = 4/3
    C → E  2        2/3             2/3 ÷ 2/8 = 8/3
    E → C  2        2/2 = 1         1 ÷ 3/8 = 8/3

Recommendations (bought = any order not cancelled, however old; E is switched off):

    c1 bought A B C: from C, E (switched off) → none
    c2 bought A B: C = max(A → C 0.4, B → C 0.5) = 0.5
    c4 bought A C E: B = max(A → B 0.6, C → B 2/3) = 2/3
    c5 bought B C E (its A was cancelled): A = max(B → A 0.75, C → A 2/3) = 0.75
    c6 bought D: none
    c7 bought A, and B long ago: C = max(A → C 0.4, B → C 0.5) = 0.5
    c10 bought A long ago: B 0.6, then C 0.4
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from customers.models import Customer, Product
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory

NOW = datetime.fromisoformat("2026-06-16T10:00:00+08:00")  # a Tuesday morning, outside the quiet hours
MIN_SUPPORT = 2

# (from, to): (support, confidence, lift)
EXPECTED = {
    ("A", "B"): (3, 0.6, 1.2),
    ("B", "A"): (3, 0.75, 1.2),
    ("A", "C"): (2, 0.4, 16 / 15),
    ("C", "A"): (2, 2 / 3, 16 / 15),
    ("B", "C"): (2, 0.5, 4 / 3),
    ("C", "B"): (2, 2 / 3, 4 / 3),
    ("C", "E"): (2, 2 / 3, 8 / 3),
    ("E", "C"): (2, 1.0, 8 / 3),
}
SKUS = {"A": "BABY-FOOD", "B": "TOY-CAR", "C": "KIDS-TEE", "D": "COFFEE", "E": "OLD-TOY"}


@dataclass
class Shop:
    products: dict[str, Product]
    customers: dict[str, Customer]

    def sku(self, letter: str) -> str:
        return self.products[letter].sku


def buy(customer, products, *, days_ago: float = 10, cancelled: bool = False):
    at = NOW - timedelta(days=days_ago)
    order = OrderFactory(
        customer=customer,
        ordered_at=at,
        amount=sum((p.price for p in products), Decimal("0")),
        cancelled_at=at + timedelta(hours=1) if cancelled else None,
        cancel_reason="changed their mind" if cancelled else "",
    )
    for product in products:
        OrderLineFactory(order=order, product=product)
    return order


def make_shop() -> Shop:
    p = {
        "A": ProductFactory(sku=SKUS["A"], name="Baby food", category="baby", price=Decimal("39.90")),
        "B": ProductFactory(sku=SKUS["B"], name="Toy car", category="toys", price=Decimal("129.00")),
        "C": ProductFactory(sku=SKUS["C"], name="Kids tee", category="clothes", price=Decimal("59.00")),
        "D": ProductFactory(sku=SKUS["D"], name="Coffee", category="grocery", price=Decimal("25.00")),
        "E": ProductFactory(sku=SKUS["E"], name="Old toy", category="toys", price=Decimal("10.00"), is_active=False),
    }
    c = {key: CustomerFactory(name=key) for key in ("c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c10")}
    buy(c["c1"], [p["A"], p["B"]], days_ago=20)
    buy(c["c1"], [p["C"]], days_ago=5)  # a pair across two orders counts
    buy(c["c2"], [p["A"], p["B"], p["A"]])  # the same product twice is one buyer
    buy(c["c3"], [p["A"], p["B"], p["D"]], days_ago=364)
    buy(c["c4"], [p["A"], p["C"], p["E"]])
    buy(c["c5"], [p["B"], p["C"], p["E"]])
    buy(c["c5"], [p["A"]], cancelled=True)
    buy(c["c6"], [p["D"]])
    buy(c["c7"], [p["A"]])
    buy(c["c7"], [p["B"]], days_ago=400)
    buy(c["c8"], [p["D"]])
    buy(c["c8"], [p["A"], p["B"]], cancelled=True)
    buy(c["c10"], [p["A"]], days_ago=400)
    tombstone = CustomerFactory(name="tombstone", merged_into=c["c6"], merged_at=NOW - timedelta(days=1))
    buy(tombstone, [p["A"], p["C"]])
    c["tombstone"] = tombstone
    return Shop(products=p, customers=c)
