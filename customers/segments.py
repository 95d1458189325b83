"""Lifecycle stage and RFM scores, computed set-based in the database (window functions, UPDATE … FROM).

Runs on PostgreSQL and SQLite (>= 3.33). One call rewrites only the rows whose values changed, so a
recompute of 100,000 customers is a handful of statements, not 100,000 saves.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection

from customers.models import Customer, LifecycleStage, Order

WINDOW_DAYS = 365

# Segment rules, checked in this order (scores are quintiles 1–5, 5 best; freq is the raw order count).
SEGMENT_SQL = """
    CASE
        WHEN r >= 4 AND f >= 4 THEN 'champions'
        WHEN r >= 4 AND freq = 1 THEN 'new'
        WHEN r >= 3 AND f >= 3 THEN 'loyal'
        WHEN r >= 3 THEN 'potential'
        WHEN f >= 3 OR m >= 4 THEN 'at_risk'
        ELSE 'hibernating'
    END
"""


@dataclass(frozen=True)
class LifecycleEvidence:
    """A customer is at least at `stage` when `exists_sql` (over alias `c`, the customer) is true.

    customers knows only its own evidence (an order means loyalty); apps above it register theirs in
    their AppConfig.ready() (leads: a won lead, an open lead in a decision or consideration stage).
    """

    stage: str
    exists_sql: str
    params: tuple = ()


_evidence: list[LifecycleEvidence] = []

# Most advanced first: the first stage with evidence wins.
_STAGE_ORDER = [LifecycleStage.LOYALTY, LifecycleStage.DECISION, LifecycleStage.CONSIDERATION]


def register_lifecycle_evidence(evidence: LifecycleEvidence) -> None:
    if evidence not in _evidence:
        _evidence.append(evidence)


def _own_evidence() -> list[LifecycleEvidence]:
    order_t = Order._meta.db_table
    # A cancelled order is no evidence: the customer bought nothing.
    placed = f"EXISTS (SELECT 1 FROM {order_t} o WHERE o.customer_id = c.id AND o.cancelled_at IS NULL)"  # nosec B608
    return [LifecycleEvidence(LifecycleStage.LOYALTY, placed)]


def _id_filter(column: str, customer_ids, params: list) -> str:
    if customer_ids is None:
        return ""
    ids = [int(i) for i in customer_ids]
    if not ids:
        return " AND 1 = 0"
    params.extend(ids)
    return f" AND {column} IN ({', '.join(['%s'] * len(ids))})"


def _rowcount(cursor) -> int:
    # SQLite reports -1 for an UPDATE that starts with WITH; its changes() has the real count.
    if cursor.rowcount >= 0:
        return cursor.rowcount
    cursor.execute("SELECT changes()")
    return cursor.fetchone()[0]


def recompute_lifecycle(customer_ids=None) -> list[tuple[int, str]]:
    """Rewrite the stage of the customers whose evidence moved them; returns (customer id, new stage) of each, in
    the UPDATE's own RETURNING (no second scan), so the caller can announce exactly these changes."""
    customer_t = Customer._meta.db_table
    evidence = [*_own_evidence(), *_evidence]
    params: list = []
    whens = []
    for stage in _STAGE_ORDER:
        found = [e for e in evidence if e.stage == stage]
        if found:
            whens.append(f"WHEN {' OR '.join(e.exists_sql for e in found)} THEN '{stage}'")
            for e in found:
                params.extend(e.params)
    stage_case = f"CASE {' '.join(whens)} ELSE '{LifecycleStage.AWARENESS}' END"
    where = "c.merged_into_id IS NULL" + _id_filter("c.id", customer_ids, params)
    sql = f"""
        WITH s AS (SELECT c.id AS id, {stage_case} AS stage FROM {customer_t} c WHERE {where})
        UPDATE {customer_t} SET lifecycle_stage = s.stage
        FROM s WHERE {customer_t}.id = s.id AND {customer_t}.lifecycle_stage <> s.stage
        RETURNING {customer_t}.id, {customer_t}.lifecycle_stage
    """  # nosec B608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(pk), stage) for pk, stage in cursor.fetchall()]


def recompute_rfm(customer_ids=None, *, now) -> tuple[int, list[tuple[int, str]]]:
    """Rewrite the RFM scores that changed; returns (rows rewritten, [(customer id, segment entered)]). Cancelled
    orders count nowhere: an order's amount is the sum of its lines, so R, F and M read orders alone.

    Recency moves every day, so most rewrites keep their segment: the segments before the UPDATE are read first
    (one indexed scan of the rows in scope) and compared with what its RETURNING reports (SQLite's RETURNING cannot
    see the old values). A customer whose orders left the window leaves their segment and enters none."""
    customer_t = Customer._meta.db_table
    order_t = Order._meta.db_table
    since = now - timedelta(days=WINDOW_DAYS)
    ops = connection.ops
    now_p, since_p = ops.adapt_datetimefield_value(now), ops.adapt_datetimefield_value(since)
    if connection.vendor == "postgresql":
        recency = "CAST(FLOOR(EXTRACT(EPOCH FROM (CAST(%s AS timestamptz) - last_at)) / 86400) AS integer)"
    else:
        recency = "CAST(julianday(%s) - julianday(last_at) AS integer)"
    # Quintiles over every live customer with an order in the window; ties share the lowest tile, so
    # two customers with the same order count always get the same F score.
    params: list = [since_p, now_p, now_p]
    update_filter = _id_filter(f"{customer_t}.id", customer_ids, params)
    scored = f"""
        WITH stats AS (
            SELECT o.customer_id AS id, MAX(o.ordered_at) AS last_at, COUNT(*) AS freq, SUM(o.amount) AS total
            FROM {order_t} o JOIN {customer_t} c ON c.id = o.customer_id
            WHERE c.merged_into_id IS NULL AND o.ordered_at >= %s AND o.ordered_at < %s AND o.cancelled_at IS NULL
            GROUP BY o.customer_id
        ), tiles AS (
            SELECT id, last_at, freq, total,
                NTILE(5) OVER (ORDER BY last_at, id) AS r_tile,
                NTILE(5) OVER (ORDER BY freq, id) AS f_tile,
                NTILE(5) OVER (ORDER BY total, id) AS m_tile
            FROM stats
        ), scores AS (
            SELECT id, last_at, freq, total,
                MIN(r_tile) OVER (PARTITION BY last_at) AS r,
                MIN(f_tile) OVER (PARTITION BY freq) AS f,
                MIN(m_tile) OVER (PARTITION BY total) AS m
            FROM tiles
        ), final AS (
            SELECT id, {recency} AS recency_days, freq, total, r, f, m, {SEGMENT_SQL} AS segment FROM scores
        )
    """  # nosec B608
    set_sql = f"""
        UPDATE {customer_t} SET rfm_recency_days = final.recency_days, rfm_frequency = final.freq,
            rfm_monetary = final.total, rfm_r = final.r, rfm_f = final.f, rfm_m = final.m,
            rfm_segment = final.segment
        FROM final
        WHERE {customer_t}.id = final.id {update_filter} AND (
            {customer_t}.rfm_r IS NULL OR {customer_t}.rfm_r <> final.r OR {customer_t}.rfm_f <> final.f
            OR {customer_t}.rfm_m <> final.m OR {customer_t}.rfm_segment <> final.segment
            OR {customer_t}.rfm_frequency <> final.freq OR {customer_t}.rfm_monetary <> final.total
            OR {customer_t}.rfm_recency_days IS NULL OR {customer_t}.rfm_recency_days <> final.recency_days)
        RETURNING {customer_t}.id, {customer_t}.rfm_segment
    """  # nosec B608
    # Customers whose orders all left the window (or were moved by a merge) lose their scores.
    reset_params: list = [since_p, now_p]
    reset_filter = _id_filter("id", customer_ids, reset_params)
    reset_sql = f"""
        UPDATE {customer_t} SET rfm_recency_days = NULL, rfm_frequency = 0, rfm_monetary = 0,
            rfm_r = NULL, rfm_f = NULL, rfm_m = NULL, rfm_segment = ''
        WHERE (rfm_r IS NOT NULL OR rfm_segment <> '' OR merged_into_id IS NOT NULL AND rfm_frequency <> 0)
          AND (merged_into_id IS NOT NULL OR NOT EXISTS (
              SELECT 1 FROM {order_t} o WHERE o.customer_id = {customer_t}.id
              AND o.ordered_at >= %s AND o.ordered_at < %s AND o.cancelled_at IS NULL)) {reset_filter}
    """  # nosec B608
    before = Customer.objects.filter(merged_into__isnull=True)
    if customer_ids is not None:
        before = before.filter(pk__in=[int(i) for i in customer_ids])
    segment_before = dict(before.values_list("pk", "rfm_segment").iterator(chunk_size=5000))
    with connection.cursor() as cursor:
        cursor.execute(scored + set_sql, params)
        rewritten = cursor.fetchall()
        cursor.execute(reset_sql, reset_params)
        reset = _rowcount(cursor)
    entered = [(int(pk), segment) for pk, segment in rewritten if segment and segment_before.get(pk) != segment]
    return len(rewritten) + reset, entered
