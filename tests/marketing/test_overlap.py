"""marketing.overlap against the hand-computed fixture of tests/marketing/overlap_support.py: reach, exclusive and
duplicate reach, touches and frequency, spend and wasted spend, the matrix and the totals; the kind and campaign
filters; a chosen set of channels; the limits; and the exclusion list's hashes."""

import hashlib
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketing import overlap
from marketing.errors import ChannelNotFound, InvalidOverlap
from tests.factories import (
    ChannelFactory,
    ChannelSpendFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    TouchpointFactory,
)
from tests.marketing.overlap_support import CHANNELS, END, MATRIX, NOW, START, TOTALS, at, build, matrix_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def fixture(api_as):
    return build(api_as)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_every_figure_of_the_fixture(fixture):
    figures = overlap.channel_overlap(start=START, end=END)
    assert figures["channels"] == CHANNELS
    assert matrix_of(figures) == MATRIX
    assert figures["totals"] == TOTALS
    assert [row["channel"] for row in figures["matrix"]] == ["douyin", "fair", "wechat", "web"]
    assert [c["channel"] for c in figures["matrix"][0]["cells"]] == ["douyin", "fair", "wechat", "web"]


def test_the_merge_counts_a_person_once(fixture):
    """X (WeChat) and Y (Douyin) are one person after the merge: X is on two channels, Y is reached by none."""
    people = fixture["people"]
    figures = overlap.channel_overlap(start=START, end=END, channels=["douyin"])
    assert figures["channels"][0]["reach"] == 5  # A B D H X, with Y's touch now X's
    assert people["Y"].touchpoints.count() == 0 and people["X"].touchpoints.count() == 2


def test_only_the_kind_chosen(fixture):
    """Impressions only: A (WeChat, Douyin), B (Douyin), C (WeChat), H (Douyin), X (WeChat): 1 of 5 on two channels.
    Website has spend, so it is listed, but no impression: no reach, no wasted spend."""
    figures = overlap.channel_overlap(start=START, end=END, kind="impression")
    rows = {row["code"]: row for row in figures["channels"]}
    assert [row["code"] for row in figures["channels"]] == ["douyin", "fair", "wechat", "web"]
    assert (rows["wechat"]["reach"], rows["wechat"]["exclusive"], rows["wechat"]["touches"]) == (3, 2, 5)
    assert (rows["douyin"]["reach"], rows["douyin"]["exclusive"], rows["douyin"]["touches"]) == (3, 2, 4)
    assert (rows["web"]["reach"], rows["web"]["wasted_spend"]) == (0, None)
    assert rows["wechat"]["wasted_spend"] == "1000.00"  # 3000 × 1/3
    assert rows["douyin"]["wasted_spend"] == "666.67"  # 2000 × 1/3
    assert figures["totals"] == {
        "reached": 5,
        "multi_channel": 1,
        "duplicate_reach_rate": 0.2,
        "touches": 9,
        "frequency": 1.8,
        "spend": "6500.00",
        "wasted_spend": "1666.67",
    }


def test_a_campaign_narrows_the_people_to_its_audience(fixture):
    """The Website campaign reached F only; F was also on WeChat. Only the campaign's channel keeps its spend."""
    figures = overlap.channel_overlap(start=START, end=END, campaign=fixture["campaign"].pk)
    rows = {row["code"]: row for row in figures["channels"]}
    assert (rows["web"]["reach"], rows["web"]["duplicate"], rows["web"]["touches"]) == (1, 1, 1)
    assert (rows["wechat"]["reach"], rows["wechat"]["touches"], rows["wechat"]["spend"]) == (1, 1, None)
    assert rows["douyin"]["reach"] == 0
    assert (rows["web"]["spend"], rows["web"]["wasted_spend"]) == ("1000.00", "1000.00")
    assert figures["totals"]["reached"] == 1
    assert figures["totals"]["duplicate_reach_rate"] == 1.0
    assert (figures["totals"]["spend"], figures["totals"]["wasted_spend"]) == ("1000.00", "1000.00")
    assert figures["campaign"] == fixture["campaign"].pk


def test_a_campaign_brings_its_channel_along(fixture):
    figures = overlap.channel_overlap(start=START, end=END, channels=["wechat"], campaign=fixture["campaign"].pk)
    assert [row["code"] for row in figures["channels"]] == ["wechat", "web"]


def test_chosen_channels_only_and_their_own_exclusive_reach(fixture):
    """WeChat and Website alone: A and F on both; B and X count as WeChat-only now."""
    figures = overlap.channel_overlap(start=START, end=END, channels=["web,wechat"])
    rows = {row["code"]: row for row in figures["channels"]}
    assert list(rows) == ["wechat", "web"]
    assert (rows["wechat"]["reach"], rows["wechat"]["exclusive"], rows["wechat"]["duplicate"]) == (5, 3, 2)
    assert (rows["web"]["reach"], rows["web"]["exclusive"], rows["web"]["duplicate"]) == (3, 1, 2)
    assert figures["totals"]["reached"] == 6  # A B C E F X
    assert figures["totals"]["multi_channel"] == 2
    assert figures["totals"]["duplicate_reach_rate"] == 0.3333


def test_by_default_only_channels_with_touches_or_spend(fixture):
    figures = overlap.channel_overlap(start=START, end=END)
    assert "store" not in [row["code"] for row in figures["channels"]]  # only October


def test_nobody_reached_is_null_not_zero(db):
    ChannelSpendFactory(channel=ChannelFactory(code="quiet"), month=date(2026, 11, 1), amount=Decimal("10.00"))
    figures = overlap.channel_overlap(start=START, end=END)
    assert figures["totals"] == {
        "reached": 0,
        "multi_channel": 0,
        "duplicate_reach_rate": None,
        "touches": 0,
        "frequency": None,
        "spend": "10.00",
        "wasted_spend": None,
    }
    empty = overlap.channel_overlap(start=date(2020, 1, 1), end=date(2020, 2, 1))
    assert empty["channels"] == [] and empty["matrix"] == []
    assert (empty["totals"]["duplicate_reach_rate"], empty["totals"]["spend"]) == (None, None)


@pytest.mark.parametrize("n", [1, 25])
def test_a_fixed_number_of_queries(db, n):
    channels = [ChannelFactory(code=f"c{i}") for i in range(3)]
    for i in range(n):
        customer = CustomerFactory()
        for channel in channels[: 1 + i % 3]:
            TouchpointFactory(customer=customer, channel=channel, at=at("11-10T10:00"))
    with CaptureQueriesContext(connection) as queries:
        figures = overlap.channel_overlap(start=START, end=END)
    assert figures["totals"]["reached"] == n
    # channels with their spend, the aggregate; on PostgreSQL the SET LOCAL and its savepoint and release.
    assert len(queries) == (5 if connection.vendor == "postgresql" else 2)


# --- limits ------------------------------------------------------------------------------------------------------


def _refused(call, field: str) -> InvalidOverlap:
    with pytest.raises(InvalidOverlap) as refused:
        call()
    assert refused.value.field == field
    return refused.value


def test_limits(fixture):
    _refused(lambda: overlap.channel_overlap(start=START, end=START), "end")
    _refused(lambda: overlap.channel_overlap(start=END, end=START), "end")
    _refused(lambda: overlap.channel_overlap(start=date(2025, 1, 1), end=date(2027, 1, 2)), "end")
    two_years = overlap.channel_overlap(start=date(2025, 1, 1), end=date(2027, 1, 1))
    assert two_years["totals"]["reached"] == 9  # G too, outside November
    codes = [f"c{i}" for i in range(21)]
    assert _refused(lambda: overlap.channel_overlap(start=START, end=END, channels=codes), "channel").code == (
        "too_many"
    )
    unknown = _refused(lambda: overlap.channel_overlap(start=START, end=END, channels=["wechat", "nope"]), "channel")
    assert "nope" in unknown.message
    _refused(lambda: overlap.channel_overlap(start=START, end=END, kind="letter"), "kind")
    _refused(lambda: overlap.channel_overlap(start=START, end=END, campaign=10**9), "campaign")


def test_a_leap_day_start_may_run_two_years(db):
    assert overlap.channel_overlap(start=date(2028, 2, 29), end=date(2030, 2, 28))["channels"] == []
    _refused(lambda: overlap.channel_overlap(start=date(2028, 2, 29), end=date(2030, 3, 1)), "end")


def test_more_than_twenty_active_channels_must_be_chosen_from(db):
    for i in range(21):
        ChannelSpendFactory(channel=ChannelFactory(code=f"busy-{i}"), month=date(2026, 11, 1))
    _refused(lambda: overlap.channel_overlap(start=START, end=END), "channel")
    chosen = overlap.channel_overlap(start=START, end=END, channels=[f"busy-{i}" for i in range(20)])
    assert len(chosen["channels"]) == 20


def test_twenty_channels_in_one_mask(db):
    """Twenty channels: bit 19 is the last; one customer on all of them."""
    customer = CustomerFactory()
    codes = []
    for i in range(20):
        channel = ChannelFactory(code=f"ch-{i:02d}", name=f"Channel {i:02d}")
        TouchpointFactory(customer=customer, channel=channel, at=at("11-10T10:00"))
        codes.append(channel.code)
    TouchpointFactory(channel=ChannelFactory(code="ch-19"), at=at("11-11T10:00"))  # someone else, last channel only
    figures = overlap.channel_overlap(start=START, end=END, channels=codes)
    last = figures["channels"][-1]
    assert (last["code"], last["reach"], last["exclusive"]) == ("ch-19", 2, 1)
    assert figures["totals"] == {**figures["totals"], "reached": 2, "multi_channel": 1}
    assert figures["matrix"][0]["cells"][19] == {"channel": "ch-19", "both": 1, "share": 1.0}


# --- exclusion lists ---------------------------------------------------------------------------------------------


def test_the_exclusion_list_hashes_what_other_channels_reached(fixture):
    """Douyin's list: the customers WeChat or Website reached (A B C E F X), their phones and emails hashed once
    each; D and H (Douyin only) are not on it, E has no phone or email, C's invalid phone is left out."""
    found = overlap.exclusion_list(channel="douyin", start=START, end=END)
    assert found.rows == sorted(
        [
            ("email", sha("a@example.com")),
            ("email", sha("b@example.com")),
            ("email", sha("f@example.com")),
            ("email", sha("x@example.com")),
            ("email", sha("y@example.com")),
            ("phone", sha("+8613800000001")),
            ("phone", sha("+8613800000003")),
        ]
    )
    assert (found.customers, found.reached_elsewhere) == (5, 6)
    assert found.spend_saved == "1200.00"  # Douyin's wasted spend: 2000 × 3 shared ÷ 5 reached


def test_a_merged_tombstone_is_left_out(fixture):
    survivor = fixture["people"]["X"]
    tombstone = CustomerFactory(merged_into=survivor)
    CustomerIdentityFactory(customer=tombstone, kind="email", value="t@example.com")
    TouchpointFactory(customer=tombstone, channel=fixture["channels"]["wechat"], at=at("11-20T10:00"))
    found = overlap.exclusion_list(channel="douyin", start=START, end=END)
    assert ("email", sha("t@example.com")) not in found.rows
    assert len(found.rows) == 7


def test_a_channel_without_spend_saves_nothing_and_an_unknown_one_is_not_found(fixture):
    found = overlap.exclusion_list(channel="store", start=START, end=END)
    assert (found.spend_saved, found.customers) == (None, 6)  # Store reached nobody in November; all others count
    with pytest.raises(ChannelNotFound) as missing:
        overlap.exclusion_list(channel="nope", start=START, end=END)
    assert (missing.value.status, missing.value.field) == (404, "code")
    _refused(lambda: overlap.exclusion_list(channel="douyin", start=END, end=START), "end")


def test_without_touches_the_rest_is_the_same(fixture):
    """What the metrics ask for: no touches or frequency, every other figure as before."""
    figures = overlap.channel_overlap(start=START, end=END, with_touches=False)
    assert figures["channels"] == [{**row, "touches": None, "frequency": None} for row in CHANNELS]
    assert figures["totals"] == {**TOTALS, "touches": None, "frequency": None}
    assert matrix_of(figures) == MATRIX
