"""Purchase affinity (DESIGN.md "Commerce"): which products the same customers buy, and what to recommend next.

`refresh_affinity` rewrites the AffinityPair table in SQL, on PostgreSQL and SQLite alike, from the lines of the
trailing 365 days' orders that were not cancelled, of live customers (a merged duplicate's orders already belong
to its survivor). Per product, the distinct customers who bought it; for each ordered pair X → Y of different
products bought by the same customer (in one order or in two):

* support: the customers who bought both;
* confidence: support ÷ the customers who bought X;
* lift: confidence ÷ (the customers who bought Y ÷ the customers with any line in the window), how many times as
  likely a buyer of X is to buy Y as any customer;

keeping the pairs with support ≥ RELAY_AFFINITY_MIN_SUPPORT. Order writes call `queue_affinity_refresh`, which
coalesces a burst of them into one refresh within a minute; the beat refreshes nightly too.

A customer's recommendations are the active products they have not bought, ranked by the highest confidence
from any product they bought.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from config import outbox
from customers.models import AffinityPair, Customer, Order, OrderLine, Product

WINDOW_DAYS = 365
# A burst of order writes waits this long for the writes that follow, then refreshes once (well within a minute).
DEBOUNCE = timedelta(seconds=30)
COALESCE_KEY = "customers:refresh-affinity"


def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "pair": quote(AffinityPair._meta.db_table),
        "line": quote(OrderLine._meta.db_table),
        "order": quote(Order._meta.db_table),
        "customer": quote(Customer._meta.db_table),
    }


# Only table names are interpolated; the window, the minimum support and the time are parameters. Each unordered
# pair is counted once (x < y: half the rows of the self-join) and written in both directions. (Measured at 600,000
# lines on PostgreSQL: a temporary table of `bought`, analyzed, instead of the CTE made the planner hash-join it
# to itself but cost more in writing it than the join saved; more work_mem did not help either.)
_REFRESH_SQL = """
WITH bought AS (
    SELECT DISTINCT o.customer_id AS customer_id, l.product_id AS product_id
    FROM {line} l
    JOIN {order} o ON o.id = l.order_id
    JOIN {customer} c ON c.id = o.customer_id
    WHERE o.cancelled_at IS NULL AND c.merged_into_id IS NULL AND o.ordered_at >= %s AND o.ordered_at < %s
),
buyers AS (
    SELECT product_id, COUNT(*) AS n FROM bought GROUP BY product_id
),
everyone AS (
    SELECT COUNT(DISTINCT customer_id) AS n FROM bought
),
together AS (
    SELECT a.product_id AS x, b.product_id AS y, COUNT(*) AS support
    FROM bought a JOIN bought b ON b.customer_id = a.customer_id AND b.product_id > a.product_id
    GROUP BY a.product_id, b.product_id
    HAVING COUNT(*) >= %s
),
directed AS (
    SELECT x AS from_id, y AS to_id, support FROM together
    UNION ALL
    SELECT y AS from_id, x AS to_id, support FROM together
)
INSERT INTO {pair} (from_product_id, to_product_id, support, confidence, lift, computed_at)
SELECT d.from_id, d.to_id, d.support,
       CAST(d.support AS FLOAT) / bx.n,
       CAST(d.support AS FLOAT) * e.n / (CAST(bx.n AS FLOAT) * b_y.n),
       %s
FROM directed d
JOIN buyers bx ON bx.product_id = d.from_id
JOIN buyers b_y ON b_y.product_id = d.to_id
CROSS JOIN everyone e
"""


def refresh_affinity(*, now: datetime | None = None, days: int = WINDOW_DAYS) -> int:
    """Rewrite the whole AffinityPair table from the orders of [now − 365 days, now); returns the pairs written.
    (`days` widens the window for the benchmark alone.)

    One transaction: readers see the old table until the new one is committed. Two refreshes at once take turns
    (on PostgreSQL a table lock that readers do not wait for; SQLite serializes writers itself)."""
    now = now or timezone.now()
    ops = connection.ops
    params = [
        ops.adapt_datetimefield_value(now - timedelta(days=days)),
        ops.adapt_datetimefield_value(now),
        max(1, settings.RELAY_AFFINITY_MIN_SUPPORT),
        ops.adapt_datetimefield_value(now),
    ]
    tables = _tables()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # SHARE ROW EXCLUSIVE conflicts with itself and with writes, not with reads (ACCESS SHARE).
            cursor.execute(f"LOCK TABLE {tables['pair']} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(f"DELETE FROM {tables['pair']}")  # nosec B608
        cursor.execute(_REFRESH_SQL.format(**tables), params)  # nosec B608
        if cursor.rowcount >= 0:
            return cursor.rowcount
        cursor.execute("SELECT changes()")  # SQLite reports -1 for an INSERT that starts with WITH
        return cursor.fetchone()[0]


def queue_affinity_refresh() -> None:
    """Ask for a refresh after an order change (lines written, an order cancelled or moved), in the writer's
    transaction: the message waits DEBOUNCE, and the writes of a burst all land in the one pending message."""
    outbox.enqueue("customers.tasks.refresh_affinity", coalesce_key=COALESCE_KEY, delay=DEBOUNCE)


def bought_products(customer_id: int):
    """The ids of the products in the customer's orders that were not cancelled (a subquery)."""
    return OrderLine.objects.filter(order__customer_id=customer_id, order__cancelled_at__isnull=True).values(
        "product_id"
    )


def recommendations(customer_id: int, limit: int = 5) -> list[Product]:
    """The active products the customer has not bought, each with `confidence`: the highest confidence of a pair
    from a product they bought; best first (ties by name). One query. "Bought" is any order not cancelled, however
    old: the pairs come from the trailing year, but what someone has bought they need not be offered again."""
    bought = bought_products(customer_id)
    return list(
        Product.objects.filter(is_active=True, affinity_to__from_product_id__in=bought)
        .exclude(pk__in=bought)
        .annotate(confidence=Max("affinity_to__confidence"))
        .order_by("-confidence", "name", "pk")[:limit]
    )


def pairs():
    """Affinity rows with both products (the API's `affinity/`)."""
    return AffinityPair.objects.select_related("from_product", "to_product")


def strongest_pairs(*, category: str = "", per_category: int = 10) -> list[AffinityPair]:
    """The `per_category` pairs of highest lift from each category of the product bought (from `category` alone
    when given), by category, then lift; each with `rank`. One query."""
    rows = pairs()
    if category:
        rows = rows.filter(from_product__category=category)
    ranked = rows.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("from_product__category")],
            order_by=[F("lift").desc(), F("support").desc(), F("pk").asc()],
        )
    )
    return list(ranked.filter(rank__lte=per_category).order_by("from_product__category", "rank"))


def last_refreshed_at() -> datetime | None:
    """When the pairs now in the table were computed (None: no pairs yet). A refresh writes every row with the
    same time, so any one row tells it (no scan of the table for a MAX)."""
    return AffinityPair.objects.order_by().values_list("computed_at", flat=True).first()


def categories() -> list[str]:
    """The product categories, for the page's filter."""
    return list(Product.objects.order_by("category").values_list("category", flat=True).distinct())
