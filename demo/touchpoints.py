"""The demo's touchpoints (DESIGN.md "Channels: touchpoints, overlap, attribution"), written by `seed_demo` with the
marketing part (demo/marketing.py) once customers and leads exist.

What the channel integrations of a team advertising on WeChat, Douyin, Xiaohongshu, its website, its stores and
trade shows would have posted over the last half year, and what Relay writes itself:

* each lead with a source channel is a `visit` of its customer on that channel when the lead was created, in the
  lead's campaign, with external id "lead:<id>": the touch marketing.touchpoints writes for a lead created through
  the services (these leads are written in bulk, so the demo writes it the same way);
* most customers are reached on a home set of channels: their own source channel, and for some one to three more
  (so about a third of the customers reached are on two or more channels, counting their leads' visits), each
  touch of a kind that fits its channel (impressions and clicks on the ad platforms, visits and clicks on the
  website, scans and visits in stores and at trade shows, messages on WeChat), 60 % of them in a campaign of the
  channel running that day;
* a customer who won a deal was first reached before the lead came in (an ad impression or click in the weeks
  before), and nurtured between the lead and the win (a WeChat message, a website visit, a store visit), so the
  first touch, the last touch and the lead's source often differ: the attribution models tell different stories.

Deterministic for a seed and `now` (rows are read in primary-key order and drawn from one seeded generator), and
written with bulk_create.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from django.utils import timezone

from customers.models import Campaign, Channel, Customer
from leads.models import Lead
from leads.stages import Stage
from marketing.models import Touchpoint, TouchpointKind

DAYS = 182  # the half year the leads of the demo span
REACHED_SHARE = 0.9  # of the customers without a lead, reached by the channels' ads at all
# Besides its own channel, a reached customer's home set has 0 (most), 1, 2 or 3 more channels.
EXTRA_CHANNELS = ((0, 93), (1, 5), (2, 2))
MEAN_TOUCHES = 3.0  # background touches per reached customer (a long tail), besides a won deal's path
MAX_TOUCHES = 15
WEIGHTS = {"wechat": 26, "douyin": 18, "xiaohongshu": 14, "website": 16, "store": 12, "trade_show": 8}
KINDS = {
    "wechat": ((TouchpointKind.IMPRESSION, 5), (TouchpointKind.CLICK, 2), (TouchpointKind.MESSAGE, 3)),
    "douyin": ((TouchpointKind.IMPRESSION, 8), (TouchpointKind.CLICK, 2)),
    "xiaohongshu": ((TouchpointKind.IMPRESSION, 7), (TouchpointKind.CLICK, 3)),
    "website": ((TouchpointKind.VISIT, 7), (TouchpointKind.CLICK, 3)),
    "store": ((TouchpointKind.SCAN, 6), (TouchpointKind.VISIT, 4)),
    "trade_show": ((TouchpointKind.SCAN, 5), (TouchpointKind.VISIT, 5)),
}
# Where people first see an offer, and where a deal is followed up, by the kind each channel does that with.
AWARENESS = {"douyin": TouchpointKind.IMPRESSION, "xiaohongshu": TouchpointKind.IMPRESSION}
NURTURE = {
    "wechat": TouchpointKind.MESSAGE,
    "website": TouchpointKind.VISIT,
    "store": TouchpointKind.VISIT,
    "trade_show": TouchpointKind.VISIT,
}
CAMPAIGN_SHARE = 0.6


def seed_touchpoints(*, seed: int, now: datetime) -> int:
    """Write the demo's touchpoints (see the module docstring); returns how many."""
    rng = random.Random(f"{seed}-touchpoints")  # nosec B311 - demo data, not security
    channels = dict(Channel.objects.filter(is_active=True).values_list("code", "pk"))
    codes = [code for code in WEIGHTS if code in channels]
    if not codes:
        return 0
    code_of = {pk: code for code, pk in channels.items()}
    campaigns: dict[int, list[tuple[int, date | None, date | None]]] = {}
    for pk, channel_id, starts, ends in Campaign.objects.order_by("pk").values_list(
        "pk", "channel_id", "starts_on", "ends_on"
    ):
        campaigns.setdefault(channel_id, []).append((pk, starts, ends))
    leads: dict[int, list[tuple]] = {}
    for lead in Lead.objects.order_by("pk").values_list(
        "pk", "customer_id", "source_channel_id", "campaign_id", "created_at", "stage", "closed_at"
    ):
        leads.setdefault(lead[1], []).append(lead)

    writer = _Writer(rng, now, channels, campaigns)
    since = now - timedelta(days=DAYS)
    customers = Customer.objects.filter(merged_into__isnull=True).order_by("pk")
    for customer_id, created_at, source_id in customers.values_list("pk", "created_at", "source_channel_id"):
        own = leads.get(customer_id, [])
        for lead_id, _customer, lead_source, campaign_id, lead_at, _stage, _closed in own:
            if lead_source in code_of:  # Relay's own touch for the lead, as marketing.touchpoints writes it
                writer.lead_visit(customer_id, lead_id, lead_source, campaign_id, lead_at)
        if not own and rng.random() >= REACHED_SHARE:
            continue
        sources = [code_of.get(lead[2]) for lead in own if code_of.get(lead[2]) in WEIGHTS]
        usual = max(sources, key=sources.count) if sources else code_of.get(source_id)  # the first of the most
        home = _home(rng, usual, codes)
        start = max(created_at, since)
        if start < now:
            touches = min(MAX_TOUCHES, 1 + round(rng.expovariate(1 / MEAN_TOUCHES)))
            shares = [2.0, *[1.0] * (len(home) - 1)]  # most touches on the customer's own channel
            for _touch in range(touches):
                code = rng.choices(home, shares)[0]
                writer.touch(customer_id, code, _kind(rng, code), start + (now - start) * rng.random())
        for _lead_id, _customer, _source, _campaign, lead_at, stage, closed_at in own:
            if stage == Stage.WON and closed_at is not None and closed_at >= since:
                _path_to_win(rng, writer, customer_id, home, lead_at, closed_at)
    Touchpoint.objects.bulk_create(writer.rows, batch_size=1000)
    return len(writer.rows)


def _home(rng: random.Random, own: str | None, codes: list[str]) -> list[str]:
    """The channels that reach a customer: `own` (the channel their leads came from most, else their own source
    channel; a weighted draw for a referral or none) first, then a few more for some, drawn by the channels'
    weights."""
    left = list(codes)
    first = own if own in left else rng.choices(left, [WEIGHTS[c] for c in left])[0]
    home = [first]
    left.remove(first)
    extra = rng.choices([k for k, _w in EXTRA_CHANNELS], [w for _k, w in EXTRA_CHANNELS])[0]
    for _i in range(min(extra, len(left))):
        code = rng.choices(left, [WEIGHTS[c] for c in left])[0]
        home.append(code)
        left.remove(code)
    return home


def _kind(rng: random.Random, code: str) -> str:
    kinds = KINDS[code]
    return rng.choices([k for k, _w in kinds], [w for _k, w in kinds])[0]


def _path_to_win(rng, writer: _Writer, customer_id: int, home: list[str], lead_at, won_at) -> None:
    """How a won customer got there: seen on an ad platform of their home set weeks before the lead (when they
    have one), then followed up between the lead and the win on a channel of their home set that nurtures."""
    seen = [code for code in home if code in AWARENESS]
    if seen and rng.random() < 0.8:
        code = rng.choice(seen)
        writer.touch(customer_id, code, AWARENESS[code], lead_at - timedelta(days=rng.uniform(5, 45)))
    followed = [code for code in home if code in NURTURE]
    for _touch in range(rng.choice((0, 1, 1, 2)) if followed else 0):
        code = rng.choice(followed)
        writer.touch(customer_id, code, NURTURE[code], lead_at + (won_at - lead_at) * rng.uniform(0.2, 0.95))


class _Writer:
    """Collects unsaved Touchpoint rows; integration touches get an external id of their own, as a feed sends."""

    def __init__(self, rng: random.Random, now: datetime, channels: dict[str, int], campaigns: dict):
        self.rng, self.now, self.channels, self.campaigns = rng, now, channels, campaigns
        self.rows: list[Touchpoint] = []

    def lead_visit(self, customer_id: int, lead_id: int, channel_id: int, campaign_id, at: datetime) -> None:
        running = {pk for pk, _starts, _ends in self.campaigns.get(channel_id, ())}
        self.rows.append(
            Touchpoint(
                customer_id=customer_id,
                channel_id=channel_id,
                campaign_id=campaign_id if campaign_id in running else None,  # a campaign of the lead's channel
                kind=TouchpointKind.VISIT,
                at=at,
                external_id=f"lead:{lead_id}",
                created_at=at,
            )
        )

    def touch(self, customer_id: int, code: str, kind: str, at: datetime) -> None:
        if at >= self.now:
            return
        channel_id = self.channels[code]
        campaign = None
        if self.rng.random() < CAMPAIGN_SHARE:
            day = timezone.localdate(at)
            found = [pk for pk, starts, ends in self.campaigns.get(channel_id, ()) if _runs(starts, ends, day)]
            campaign = self.rng.choice(found) if found else None
        self.rows.append(
            Touchpoint(
                customer_id=customer_id,
                channel_id=channel_id,
                campaign_id=campaign,
                kind=kind,
                at=at,
                external_id=f"demo-{code}-{len(self.rows) + 1:07d}",
                created_at=at,
            )
        )


def _runs(starts: date | None, ends: date | None, day: date) -> bool:
    return (starts is None or starts <= day) and (ends is None or day <= ends)
