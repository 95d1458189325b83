"""A small channel overlap for November 2026 (local dates, Asia/Shanghai), with every figure computed by hand.

Channels by name: Douyin (douyin), Trade fair (fair), WeChat (wechat), Website (web); Store (store) was only
touched in October. Spend booked for November: WeChat 3000, Douyin 2000, Trade fair 500 (no touches), Website
1000; October's WeChat 9999 and December's Douyin 7777 fall outside.

Touches in November (customer: channels, touches):

    A  wechat ×2 (impression, click), douyin ×1 (impression), web ×1 (visit)   three channels
    B  wechat ×1 (click), douyin ×2 (impressions)                               two
    C  wechat ×3 (impressions)                                                   one
    D  douyin ×1 (click)                                                          one
    H  douyin ×1 (impression) at 1 November 00:00 sharp (the period's start)     one
    E  web ×2 (visits)                                                            one
    F  web ×1 (visit, campaign "Website November"), wechat ×1 (message)           two
    X  wechat ×1 (impression); Y, merged into X through the API, douyin ×1 (click)  X: two

Outside the period: G on WeChat at 31 October 23:59:59 and on Douyin at 1 December 00:00; a Store visit in October.

Reached 8 (A B C D H E F X), on two or more channels 4 (A B F X): duplicate reach rate 0.5.

    channel   reach  exclusive  duplicate  touches  frequency  spend    wasted spend
    Douyin    5      2 (D H)    3          6        1.2        2000.00  2000 × 3/5 = 1200.00
    Trade f.  0      0          0          0        —          500.00   —  (no reach)
    WeChat    5      1 (C)      4          8        1.6        3000.00  3000 × 4/5 = 2400.00
    Website   3      1 (E)      2          4        1.33       1000.00  1000 × 2/3 = 666.67

Totals: touches 18 (2.25 per customer), spend 6500.00, wasted 4266.67. Matrix: Douyin–WeChat 3 (A B X), Douyin–
Website 1 (A), WeChat–Website 2 (A F).

Identities (for the exclusion lists): A phone +8613800000001 and email a@example.com; B the same phone from the POS
(one hash) and " B@Example.COM " as stored by an old import (hashed as b@example.com); C phone +8613800000003 and an
invalid phone; D phone +8613800000004; E only a WeChat id; F email f@example.com; X x@example.com and Y's
y@example.com (moved by the merge).
"""

from datetime import date, datetime
from decimal import Decimal

from customers.models import IdentityKind
from marketing.models import TouchpointKind
from tests.factories import (
    CampaignFactory,
    ChannelFactory,
    ChannelSpendFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    TouchpointFactory,
)

START, END = date(2026, 11, 1), date(2026, 12, 1)
NOW = datetime.fromisoformat("2026-12-10T10:00:00+08:00")
IMPRESSION, CLICK, VISIT, MESSAGE = (
    TouchpointKind.IMPRESSION,
    TouchpointKind.CLICK,
    TouchpointKind.VISIT,
    TouchpointKind.MESSAGE,
)


def at(text: str) -> datetime:
    """A local time in 2026 given as "MM-DD HH:MM[:SS]"."""
    return datetime.fromisoformat(f"2026-{text}+08:00")


def build(api_as) -> dict:
    """The fixture above; returns the channels, the campaign and the customers by letter."""
    douyin = ChannelFactory(code="douyin", name="Douyin")
    fair = ChannelFactory(code="fair", name="Trade fair")
    wechat = ChannelFactory(code="wechat", name="WeChat")
    web = ChannelFactory(code="web", name="Website")
    store = ChannelFactory(code="store", name="Store")
    november = date(2026, 11, 1)
    for channel, amount in ((wechat, "3000.00"), (douyin, "2000.00"), (fair, "500.00"), (web, "1000.00")):
        ChannelSpendFactory(channel=channel, month=november, amount=Decimal(amount))
    ChannelSpendFactory(channel=wechat, month=date(2026, 10, 1), amount=Decimal("9999.00"))
    ChannelSpendFactory(channel=douyin, month=date(2026, 12, 1), amount=Decimal("7777.00"))
    campaign = CampaignFactory(channel=web, name="Website November")

    people = {letter: CustomerFactory(name=f"Customer {letter}") for letter in "ABCDEFGHXY"}

    def touch(letter, channel, kind, when, **extra):
        TouchpointFactory(customer=people[letter], channel=channel, kind=kind, at=at(when), **extra)

    touch("A", wechat, IMPRESSION, "11-02T10:00")
    touch("A", wechat, CLICK, "11-03T10:00")
    touch("A", douyin, IMPRESSION, "11-04T10:00")
    touch("A", web, VISIT, "11-05T10:00")
    touch("B", wechat, CLICK, "11-06T10:00")
    touch("B", douyin, IMPRESSION, "11-07T10:00")
    touch("B", douyin, IMPRESSION, "11-08T10:00")
    for day in ("09", "10", "11"):
        touch("C", wechat, IMPRESSION, f"11-{day}T10:00")
    touch("D", douyin, CLICK, "11-12T10:00")
    touch("H", douyin, IMPRESSION, "11-01T00:00:00")
    touch("E", web, VISIT, "11-13T10:00")
    touch("E", web, VISIT, "11-14T10:00")
    touch("F", web, VISIT, "11-15T10:00", campaign=campaign)
    touch("F", wechat, MESSAGE, "11-16T10:00")
    touch("X", wechat, IMPRESSION, "11-17T10:00")
    touch("Y", douyin, CLICK, "11-18T10:00")
    touch("G", wechat, IMPRESSION, "10-31T23:59:59")
    touch("G", douyin, IMPRESSION, "12-01T00:00:00")
    touch("G", store, VISIT, "10-15T10:00")

    phone, email, wechat_id = IdentityKind.PHONE, IdentityKind.EMAIL, IdentityKind.WECHAT
    for letter, kind, value, extra in (
        ("A", phone, "+8613800000001", {}),
        ("A", email, "a@example.com", {}),
        ("B", phone, "+8613800000001", {"source_system": "pos"}),
        ("B", email, " B@Example.COM ", {}),
        ("C", phone, "+8613800000003", {}),
        ("C", phone, "12345", {"is_valid": False, "source_system": "old"}),
        ("D", phone, "+8613800000004", {}),
        ("E", wechat_id, "wx-e", {}),
        ("F", email, "f@example.com", {}),
        ("X", email, "x@example.com", {}),
        ("Y", email, "y@example.com", {}),
    ):
        CustomerIdentityFactory(customer=people[letter], kind=kind, value=value, **extra)

    merged = api_as("sales_manager").post(
        f"/api/v1/customers/{people['X'].pk}/merge/", {"duplicate": people["Y"].pk}, format="json"
    )
    assert merged.status_code == 200, merged.content
    return {
        "channels": {"douyin": douyin, "fair": fair, "wechat": wechat, "web": web, "store": store},
        "campaign": campaign,
        "people": people,
    }


# The expected figures of the whole fixture (no filter), as the API answers them.
CHANNELS = [
    {
        "code": "douyin",
        "name": "Douyin",
        "reach": 5,
        "exclusive": 2,
        "duplicate": 3,
        "touches": 6,
        "frequency": 1.2,
        "spend": "2000.00",
        "wasted_spend": "1200.00",
    },
    {
        "code": "fair",
        "name": "Trade fair",
        "reach": 0,
        "exclusive": 0,
        "duplicate": 0,
        "touches": 0,
        "frequency": None,
        "spend": "500.00",
        "wasted_spend": None,
    },
    {
        "code": "wechat",
        "name": "WeChat",
        "reach": 5,
        "exclusive": 1,
        "duplicate": 4,
        "touches": 8,
        "frequency": 1.6,
        "spend": "3000.00",
        "wasted_spend": "2400.00",
    },
    {
        "code": "web",
        "name": "Website",
        "reach": 3,
        "exclusive": 1,
        "duplicate": 2,
        "touches": 4,
        "frequency": 1.33,
        "spend": "1000.00",
        "wasted_spend": "666.67",
    },
]
# Rows and cells in the channels' order (Douyin, Trade fair, WeChat, Website): (both, share of the row's reach).
MATRIX = {
    "douyin": [(5, 1.0), (0, 0.0), (3, 0.6), (1, 0.2)],
    "fair": [(0, None), (0, None), (0, None), (0, None)],
    "wechat": [(3, 0.6), (0, 0.0), (5, 1.0), (2, 0.4)],
    "web": [(1, 0.3333), (0, 0.0), (2, 0.6667), (3, 1.0)],
}
TOTALS = {
    "reached": 8,
    "multi_channel": 4,
    "duplicate_reach_rate": 0.5,
    "touches": 18,
    "frequency": 2.25,
    "spend": "6500.00",
    "wasted_spend": "4266.67",
}


def matrix_of(body: dict) -> dict:
    return {row["channel"]: [(cell["both"], cell["share"]) for cell in row["cells"]] for row in body["matrix"]}
