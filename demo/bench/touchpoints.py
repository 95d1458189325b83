"""The benchmark's touchpoints (issue 17): 2 million at `--scale 1` over the bench customers, for the channel overlap
page and the duplicate reach and wasted spend metrics.

Six channels touch people (WeChat, Douyin, Xiaohongshu, website, store, trade show; referrals touch nobody).
Each reached customer has a home set of one to four channels, picked by the channels' weights, so about a third
of the customers reached over the half year are on two or more channels (fewer within one month, as in real
data). Touches per customer follow a long tail (mean 20), spread over the last 182 days, each of a kind that
fits its channel, and on one of the channel's campaigns running that day for 60 % of them.

Deterministic for a seed; rows come in chunks of dicts keyed by attname with explicit ids, for COPY (PostgreSQL)
or bulk_create (SQLite).
"""

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from django.db.models import Max
from django.utils import timezone

from marketing.models import Touchpoint, TouchpointKind

FULL_TOUCHPOINTS = 2_000_000
DAYS = 182
MEAN_TOUCHES = 20
REACHED_SHARE = 0.92  # customers with at least one touch
# How many channels a reached customer's home set has: 1 (64 %), 2 (24 %), 3 (9 %) or 4 (3 %).
CHANNEL_COUNTS = ((1, 64), (2, 24), (3, 9), (4, 3))
WEIGHTS = {"wechat": 26, "douyin": 18, "xiaohongshu": 14, "website": 16, "store": 12, "trade_show": 8}
KINDS = {
    "wechat": ((TouchpointKind.IMPRESSION, 5), (TouchpointKind.CLICK, 2), (TouchpointKind.MESSAGE, 3)),
    "douyin": ((TouchpointKind.IMPRESSION, 8), (TouchpointKind.CLICK, 2)),
    "xiaohongshu": ((TouchpointKind.IMPRESSION, 7), (TouchpointKind.CLICK, 3)),
    "website": ((TouchpointKind.VISIT, 7), (TouchpointKind.CLICK, 3)),
    "store": ((TouchpointKind.SCAN, 6), (TouchpointKind.VISIT, 4)),
    "trade_show": ((TouchpointKind.SCAN, 5), (TouchpointKind.VISIT, 5)),
}
CAMPAIGN_SHARE = 0.6


def touchpoint_chunks(
    *,
    seed: int,
    now: datetime,
    total: int,
    customer_ids: list[int],
    channels: dict[str, int],
    campaigns: dict[int, list[tuple[int, date, date]]],
    chunk: int = 50_000,
) -> Iterator[list[dict]]:
    """Lists of at most `chunk` touchpoint rows, `total` in all, over `customer_ids` (see the module docstring)."""
    rng = random.Random(f"{seed}-touchpoints")  # nosec B311 - benchmark data, not security
    codes = [code for code in WEIGHTS if code in channels]
    if not codes or not customer_ids or total <= 0:
        return
    weights = [WEIGHTS[code] for code in codes]
    kinds = {code: ([k for k, _w in KINDS[code]], [w for _k, w in KINDS[code]]) for code in codes}
    next_id = (Touchpoint.objects.aggregate(m=Max("pk"))["m"] or 0) + 1
    start = timezone.localtime(now - timedelta(days=DAYS))  # local wall time: each touch's date is its .date()
    span = DAYS * 86400.0
    created_at = timezone.now()
    reached = [pk for pk in customer_ids if rng.random() < REACHED_SHARE] or customer_ids[:1]
    mean = total / len(reached)
    rows: list[dict] = []
    written = 0
    for index, customer_id in enumerate(reached):
        remaining_customers = len(reached) - index
        if remaining_customers == 1:
            n = total - written
        else:
            # A long tail (most customers see a few touches, some many), held to what is left to write.
            n = min(total - written, max(1, round(rng.expovariate(1 / mean))))
        if n <= 0:
            break
        k = rng.choices([c for c, _w in CHANNEL_COUNTS], [w for _c, w in CHANNEL_COUNTS])[0]
        home = _pick(rng, codes, weights, min(k, len(codes)))
        shares = [rng.random() + 0.2 for _code in home]
        for _touch in range(n):
            code = rng.choices(home, shares)[0]
            channel_id = channels[code]
            local_moment = start + timedelta(seconds=rng.random() * span)  # aware, in the local zone
            rows.append(
                {
                    "id": next_id,
                    "customer_id": customer_id,
                    "channel_id": channel_id,
                    "campaign_id": _campaign(rng, campaigns.get(channel_id, ()), local_moment.date()),
                    "kind": rng.choices(*kinds[code])[0],
                    "at": local_moment,
                    "external_id": "",
                    "created_at": created_at,
                    "created_by_id": None,
                }
            )
            next_id += 1
            if len(rows) >= chunk:
                yield rows
                rows = []
        written += n
    if rows:
        yield rows


def _pick(rng: random.Random, codes: list[str], weights: list[int], k: int) -> list[str]:
    """k distinct channel codes, drawn by weight without replacement."""
    codes, weights = list(codes), list(weights)
    picked = []
    for _i in range(k):
        code = rng.choices(codes, weights)[0]
        position = codes.index(code)
        picked.append(codes.pop(position))
        weights.pop(position)
    return picked


def _campaign(rng: random.Random, running: tuple | list, day: date) -> int | None:
    if rng.random() >= CAMPAIGN_SHARE:
        return None
    found = [pk for pk, starts, ends in running if starts <= day <= ends]
    return rng.choice(found) if found else None
