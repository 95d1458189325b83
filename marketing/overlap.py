"""Channel overlap (DESIGN.md "Channels: touchpoints, overlap, attribution"): for a period of local dates and a set
of channels, each channel's reach, exclusive and duplicate reach, touches and frequency, spend and wasted spend; the
pairwise matrix; and the totals behind the metrics `duplicate_reach_rate` and `wasted_spend`. Also the exclusion
list of a channel: hashed phones and emails of the customers other channels reached.

Definitions, for touchpoints with `at` in [start, end) (local dates, each day whole in the current zone):

* reach: distinct customers touched by the channel; exclusive: those no other listed channel touched; duplicate:
  reach − exclusive; touches: its touchpoints; frequency: touches ÷ reach.
* spend: ChannelSpend whose month starts in the period; wasted spend: spend × duplicate ÷ reach (none without
  reach).
* matrix: per ordered pair (row, column), the customers both touched, and share = both ÷ the row's reach.
* totals: customers reached, customers on two or more listed channels, duplicate reach rate (that ÷ reached; null
  when nobody was reached), wasted spend (the channels' sum; null when no channel with spend reached anyone).

Filters: `kind` keeps touchpoints of that kind. `campaign` narrows the people to the campaign's audience: the
customers with a touch of that campaign in the period; every listed channel's touches of those customers count
(so the duplicate reach rate says how much of the campaign's audience other channels reached too). Spend is booked
per channel, so under a campaign filter only the campaign's own channel shows spend (its channel's spend stands for
the campaign's) and other channels' spend and wasted spend are null.

The figures come from one SQL aggregate whatever the data: per customer a bit mask of the channels that touched them
(BIT_OR of a power of two per channel on PostgreSQL, SUM(DISTINCT …) on SQLite), grouped by mask with a count, plus
the touches per channel; Python then walks the distinct masks (at most one per customer, a few dozen in practice).
On PostgreSQL the aggregate reads the covering index (at, channel, customer) alone and runs with `work_mem` raised
for its transaction, so its hash tables (one entry per customer reached) stay in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

from django.db import connections, transaction
from django.db.models import (
    Aggregate,
    BigIntegerField,
    Case,
    Count,
    Exists,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Campaign, Channel, ChannelSpend, CustomerIdentity, IdentityKind
from marketing.errors import ChannelNotFound, InvalidOverlap
from marketing.models import Touchpoint, TouchpointKind

MAX_CHANNELS = 20  # what a person or an integration may ask to see side by side
# The metrics take every channel active in the period, however many: one bit each in a 64-bit mask.
METRIC_MAX_CHANNELS = 62
MAX_YEARS = 2
# The aggregate's hash table holds one entry per customer reached (11 MB for 74,000 in a bench month, EXPLAIN
# ANALYZE): at PostgreSQL's default 4 MB it spills to disk in batches.
WORK_MEM = "64MB"
CENT = Decimal("0.01")


# --- periods and input ------------------------------------------------------------------------------------------


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start, end) of local dates as aware datetimes: midnight in the current zone, as the metrics count days."""
    return (
        timezone.make_aware(datetime.combine(start, time.min)),
        timezone.make_aware(datetime.combine(end, time.min)),
    )


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def clean_period(start: date, end: date) -> None:
    """Raises InvalidOverlap naming `end`: an end not after the start, or a period longer than two years."""
    if end <= start:
        raise InvalidOverlap(_("The end must be after the start."), field="end")
    if end > _years_later(start, MAX_YEARS):
        raise InvalidOverlap(
            _("Choose a period of at most %(years)s years.") % {"years": MAX_YEARS}, field="end", code="too_long"
        )


def clean_codes(codes: Iterable[str] | None) -> list[str]:
    """The channel codes as given (comma lists split, blanks and repeats dropped, order kept); more than
    MAX_CHANNELS raises InvalidOverlap naming `channel`."""
    found: dict[str, None] = {}
    for value in codes or ():
        for code in str(value).split(","):
            if code.strip():
                found.setdefault(code.strip(), None)
    if len(found) > MAX_CHANNELS:
        raise InvalidOverlap(_too_many(), field="channel", code="too_many")
    return list(found)


def _too_many() -> str:
    return _("Choose at most %(max)s channels.") % {"max": MAX_CHANNELS}


def _round(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(float(value), places)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


# --- the aggregate ----------------------------------------------------------------------------------------------


class ChannelMask(Aggregate):
    """The bitwise OR of a power of two per row: BIT_OR on PostgreSQL; on SQLite the sum of the distinct powers of
    two, which is the same number."""

    function = "BIT_OR"
    name = "ChannelMask"
    output_field = BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, function="SUM", template="%(function)s(DISTINCT %(expressions)s)", **extra_context
        )


@contextmanager
def _plans(using: str, tune: bool) -> Iterator[None]:
    """On PostgreSQL, run the enclosed queries with `work_mem` raised and JIT off (`SET LOCAL`: this transaction
    only; as for okr.metrics.plain_plans, compiling never pays back on these plans). `tune=False` when the caller's
    transaction has done so already (okr.metrics.batch)."""
    connection = connections[using]
    if not tune or connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'; SET LOCAL jit = off")
        yield


def _period_touches(start_at: datetime, end_at: datetime, kind: str | None):
    rows = Touchpoint.objects.filter(at__gte=start_at, at__lt=end_at)
    return rows.filter(kind=kind) if kind else rows


def _masks(
    *,
    start_at: datetime,
    end_at: datetime,
    bits: dict[int, int],
    other_bit: int | None = None,
    kind: str | None = None,
    campaign: int | None = None,
    with_touches: bool = True,
) -> tuple[dict[int, int], dict[int, int]]:
    """`({mask: customers}, {channel id: touches})` over the period's touchpoints in one query.

    `bits` gives each channel its power of two; with `other_bit`, every other channel's touch counts as that bit
    (the exclusion list's "any other channel"), else only the channels of `bits` are read. The per-customer masks are
    grouped by mask in SQL, so at most one row per distinct mask comes back; the touches per channel come from the
    same statement (UNION ALL), only when `with_touches`.
    """
    rows = _period_touches(start_at, end_at, kind)
    if other_bit is None:
        rows = rows.filter(channel_id__in=list(bits))
    if campaign is not None:
        audience = _period_touches(start_at, end_at, kind).filter(campaign_id=campaign).values("customer_id")
        rows = rows.filter(customer_id__in=audience)
    bit = Case(
        *[When(channel_id=pk, then=Value(value)) for pk, value in bits.items()],
        default=Value(other_bit) if other_bit is not None else None,
        output_field=BigIntegerField(),
    )
    per_customer = rows.order_by().values("customer_id").annotate(mask=ChannelMask(bit))
    mask_sql, params = per_customer.query.sql_with_params()
    sql = f"SELECT 0, per_customer.mask, COUNT(*) FROM ({mask_sql}) per_customer GROUP BY per_customer.mask"  # nosec B608
    if with_touches:
        per_channel = rows.order_by().values("channel_id").annotate(n=Count("*"))
        touch_sql, touch_params = per_channel.query.sql_with_params()
        sql += f" UNION ALL SELECT 1, per_channel.channel_id, per_channel.n FROM ({touch_sql}) per_channel"  # nosec B608
        params = (*params, *touch_params)
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    masks = {int(key): n for part, key, n in found if part == 0 and key is not None}
    touches = {int(key): n for part, key, n in found if part == 1}
    return masks, touches


# --- the overlap ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Listed:
    pk: int
    code: str
    name: str
    spend: Decimal | None


def _spend_subquery(start: date, end: date) -> Subquery:
    booked = ChannelSpend.objects.filter(channel=OuterRef("pk"), month__gte=start, month__lt=end)
    return Subquery(booked.order_by().values("channel").annotate(total=Sum("amount")).values("total"))


def _campaign_channel(campaign: int) -> int:
    channel_id = Campaign.objects.filter(pk=campaign).values_list("channel_id", flat=True).first()
    if channel_id is None:
        raise InvalidOverlap(_("There is no campaign with that id."), field="campaign", code="does_not_exist")
    return channel_id


def _listed_channels(
    start: date, end: date, codes: list[str], kind: str | None, campaign_channel: int | None, limit: int
) -> list[_Listed]:
    """The channels of the overlap, by name, with their spend (one query): those named by `codes`, else every
    channel with a touchpoint (of `kind`) or spend in the period; plus a campaign's own channel. More than `limit`
    raises InvalidOverlap naming `channel`."""
    channels = Channel.objects.annotate(booked=_spend_subquery(start, end)).order_by("name", "pk")
    also = Q(pk=campaign_channel) if campaign_channel is not None else Q()
    if codes:
        found = list(channels.filter(Q(code__in=codes) | also).values_list("pk", "code", "name", "booked"))
        unknown = [code for code in codes if code not in {row[1] for row in found}]
        if unknown:
            raise InvalidOverlap(
                _("There is no channel with the code %(codes)s.") % {"codes": ", ".join(unknown)},
                field="channel",
                code="does_not_exist",
            )
    else:
        start_at, end_at = period_bounds(start, end)
        touched = _period_touches(start_at, end_at, kind).filter(channel=OuterRef("pk"))
        spent = ChannelSpend.objects.filter(channel=OuterRef("pk"), month__gte=start, month__lt=end)
        active = Q(Exists(touched)) | Q(Exists(spent)) | also
        found = list(channels.filter(active).values_list("pk", "code", "name", "booked")[: limit + 1])
        if len(found) > limit:
            raise InvalidOverlap(
                _("More than %(max)s channels reached people or spent in this period: choose up to %(max)s.")
                % {"max": limit},
                field="channel",
                code="too_many",
            )
    if len(found) > limit:
        raise InvalidOverlap(_too_many(), field="channel", code="too_many")
    return [_Listed(pk, code, name, spend) for pk, code, name, spend in found]


def channel_overlap(
    *,
    start: date,
    end: date,
    channels: Iterable[str] | None = None,
    campaign: int | None = None,
    kind: str | None = None,
    with_touches: bool = True,
    max_channels: int = MAX_CHANNELS,
    tune_plans: bool = True,
    using: str = "default",
) -> dict:
    """The overlap of `channels` (codes; default: every channel with a touchpoint or spend in the period) over
    [start, end) of local dates, as the module docstring defines it:

    `{"start", "end", "campaign", "kind", "channels": [{"code", "name", "reach", "exclusive", "duplicate",
    "touches", "frequency", "spend", "wasted_spend"}], "matrix": [{"channel", "cells": [{"channel", "both",
    "share"}]}], "totals": {"reached", "multi_channel", "duplicate_reach_rate", "touches", "frequency", "spend",
    "wasted_spend"}}`; money as decimal strings, shares 0–1 rounded to 4 places, frequency to 2. Channels by name;
    the matrix's rows and cells in the same order (a row's own cell is its reach, share 1). Without `with_touches`
    (the metrics) touches and frequency are None and the aggregate reads the touchpoints once instead of twice.
    `max_channels`: the metrics raise it to METRIC_MAX_CHANNELS, so a busy period is still measured.

    Queries: the channels with their spend, one aggregate (module docstring), and with `campaign` the campaign;
    on PostgreSQL with `tune_plans` also the SET LOCAL of `_plans` (and its savepoint inside a transaction).

    Raises InvalidOverlap: `end` (not after the start, longer than two years), `channel` (more than `max_channels`,
    an unknown code), `kind` (not a touch kind), `campaign` (no such campaign).
    """
    clean_period(start, end)
    codes = clean_codes(channels)
    if kind and kind not in TouchpointKind.values:
        raise InvalidOverlap(_("Choose impression, click, visit, scan or message."), field="kind")
    campaign_channel = _campaign_channel(campaign) if campaign is not None else None
    listed = _listed_channels(start, end, codes, kind or None, campaign_channel, min(max_channels, METRIC_MAX_CHANNELS))
    bits = {row.pk: 1 << index for index, row in enumerate(listed)}
    masks: dict[int, int] = {}
    touches: dict[int, int] = {}
    if listed:
        start_at, end_at = period_bounds(start, end)
        with _plans(using, tune_plans):
            masks, touches = _masks(
                start_at=start_at,
                end_at=end_at,
                bits=bits,
                kind=kind or None,
                campaign=campaign,
                with_touches=with_touches,
            )
    figures = _figures(listed, bits, masks, touches if with_touches else None, campaign_channel)
    return {"start": start, "end": end, "campaign": campaign, "kind": kind or None, **figures}


def _figures(
    listed: list[_Listed],
    bits: dict[int, int],
    masks: dict[int, int],
    touches: dict[int, int] | None,
    campaign_channel: int | None,
) -> dict:
    """The figures from the masks' counts (no queries); touches and frequency None when `touches` is."""
    reach = dict.fromkeys(bits, 0)
    exclusive = dict.fromkeys(bits, 0)
    both: dict[tuple[int, int], int] = {}
    reached = multi = 0
    for mask, customers in masks.items():
        members = [pk for pk, bit in bits.items() if mask & bit]
        reached += customers
        if len(members) == 1:
            exclusive[members[0]] += customers
        elif members:
            multi += customers
        for a in members:
            reach[a] += customers
            for b in members:
                if a != b:
                    both[a, b] = both.get((a, b), 0) + customers

    rows, spends, wasted_all = [], [], []
    for channel in listed:
        r, t = reach[channel.pk], None if touches is None else touches.get(channel.pk, 0)
        duplicate = r - exclusive[channel.pk]
        spend = channel.spend if campaign_channel in (None, channel.pk) else None
        wasted = _money(Decimal(spend) * duplicate / r) if spend is not None and r else None
        if spend is not None:
            spends.append(Decimal(spend))
        if wasted is not None:
            wasted_all.append(Decimal(wasted))
        rows.append(
            {
                "code": channel.code,
                "name": channel.name,
                "reach": r,
                "exclusive": exclusive[channel.pk],
                "duplicate": duplicate,
                "touches": t,
                "frequency": _round(t / r, 2) if r and t is not None else None,
                "spend": _money(spend),
                "wasted_spend": wasted,
            }
        )
    matrix = []
    for row in listed:
        own = reach[row.pk]
        cells = []
        for column in listed:
            count = own if column.pk == row.pk else both.get((row.pk, column.pk), 0)
            cells.append({"channel": column.code, "both": count, "share": _round(count / own) if own else None})
        matrix.append({"channel": row.code, "cells": cells})
    total_touches = None if touches is None else sum(touches.get(channel.pk, 0) for channel in listed)
    totals = {
        "reached": reached,
        "multi_channel": multi,
        "duplicate_reach_rate": _round(multi / reached) if reached else None,
        "touches": total_touches,
        "frequency": _round(total_touches / reached, 2) if reached and total_touches is not None else None,
        "spend": _money(sum(spends, Decimal(0))) if spends else None,
        "wasted_spend": _money(sum(wasted_all, Decimal(0))) if wasted_all else None,
    }
    return {"channels": rows, "matrix": matrix, "totals": totals}


# --- exclusion lists --------------------------------------------------------------------------------------------

HASHED_KINDS = (IdentityKind.PHONE, IdentityKind.EMAIL)


def identity_hash(kind: str, value: str) -> str:
    """SHA-256 hex of an identity as ad platforms' customer-match uploads take it: the phone in E.164 (as
    customers store it), the email trimmed and lower-cased."""
    text = value.strip().lower() if kind == IdentityKind.EMAIL else value.strip()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ExclusionList:
    channel: str
    name: str
    start: date
    end: date
    customers: int  # customers with at least one hashed identity in `rows`
    reached_elsewhere: int  # customers other channels reached in the period (with or without a phone or email)
    spend_saved: str | None  # the channel's wasted spend in the period
    rows: list[tuple[str, str]]  # (kind, sha256 hex), sorted, each once


def exclusion_list(*, channel: str, start: date, end: date, tune_plans: bool = True, using: str = "default"):
    """The exclusion list of `channel` for [start, end): the hashed phones and emails (identity_hash) of the live
    customers (merged tombstones left out) that any other channel touched in the period, with how many customers
    that is and the estimated spend saved, i.e. the channel's wasted spend: its spend × the customers it shared
    with other channels ÷ its reach.

    Queries: the channel with its spend, one aggregate of the channel against all others, the identities.
    Raises ChannelNotFound (404, `code`) and InvalidOverlap (`end`, as channel_overlap).
    """
    clean_period(start, end)
    found = (
        Channel.objects.annotate(booked=_spend_subquery(start, end))
        .filter(code=channel)
        .values_list("pk", "code", "name", "booked")
        .first()
    )
    if found is None:
        raise ChannelNotFound(_("There is no channel with that code."), field="code")
    pk, code, name, spend = found
    start_at, end_at = period_bounds(start, end)
    with _plans(using, tune_plans):
        masks, _touches = _masks(start_at=start_at, end_at=end_at, bits={pk: 1}, other_bit=2, with_touches=False)
    only_here, elsewhere, shared = masks.get(1, 0), masks.get(2, 0), masks.get(3, 0)
    reach = only_here + shared
    saved = _money(Decimal(spend) * shared / reach) if spend is not None and reach else None
    others = _period_touches(start_at, end_at, None).exclude(channel_id=pk).values("customer_id")
    identities = (
        CustomerIdentity.objects.filter(
            kind__in=HASHED_KINDS, is_valid=True, customer__merged_into__isnull=True, customer_id__in=others
        )
        .order_by()  # the hashes are sorted instead: the file's order says nothing about the values
        .values_list("customer_id", "kind", "value")
    )
    hashed: set[tuple[str, str]] = set()
    customers: set[int] = set()
    for customer_id, kind, value in identities.iterator(chunk_size=5000):
        if value.strip():
            hashed.add((kind, identity_hash(kind, value)))
            customers.add(customer_id)
    return ExclusionList(
        channel=code,
        name=name,
        start=start,
        end=end,
        customers=len(customers),
        reached_elsewhere=elsewhere + shared,
        spend_saved=saved,
        rows=sorted(hashed),
    )
