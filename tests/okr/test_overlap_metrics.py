"""The registry's `duplicate_reach_rate` and `wasted_spend` (DESIGN.md "Metrics"), computed by marketing.overlap, on
the hand-computed fixture of tests/marketing/overlap_support.py (November 2026): through `GET metrics/{name}/`,
with the campaign filter, null without data, bound to a key result, and on the quarterly review."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from okr import metrics
from tests.factories import (
    ChannelFactory,
    ChannelSpendFactory,
    CustomerFactory,
    KeyResultFactory,
    ObjectiveFactory,
    TouchpointFactory,
    make_user,
)
from tests.marketing.overlap_support import NOW, at, build

pytestmark = pytest.mark.django_db

NOVEMBER = (date(2026, 11, 1), date(2026, 12, 1))


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def fixture(api_as):
    return build(api_as)


def test_duplicate_reach_rate(metric, fixture):
    body = metric("duplicate_reach_rate", *NOVEMBER)
    assert body == {
        "metric": "duplicate_reach_rate",
        "start": "2026-11-01",
        "end": "2026-12-01",
        "value": 0.5,  # A B F X of A B C D E F H X
        "reached": 8,
        "multi_channel": 4,
        "sample_size": 8,
    }


def test_wasted_spend(metric, fixture):
    body = metric("wasted_spend", *NOVEMBER)
    assert body["value"] == 4266.67  # 3000 × 4/5 + 2000 × 3/5 + 1000 × 2/3
    assert (body["spend"], body["reached"], body["sample_size"]) == ("6500.00", 8, 8)
    keys = ("channel", "reach", "duplicate", "spend", "wasted_spend")
    assert [tuple(row[k] for k in keys) for row in body["by_channel"]] == [
        ("douyin", 5, 3, "2000.00", "1200.00"),
        ("fair", 0, 0, "500.00", None),
        ("wechat", 5, 4, "3000.00", "2400.00"),
        ("web", 3, 2, "1000.00", "666.67"),
    ]
    assert body["by_channel"][0]["name"] == "Douyin"


def test_the_campaign_filter(metric, fixture):
    campaign = fixture["campaign"].pk
    assert metric("duplicate_reach_rate", *NOVEMBER, campaign=campaign)["value"] == 1.0  # F, also on WeChat
    assert metric("wasted_spend", *NOVEMBER, campaign=campaign)["value"] == 1000.0  # Website's 1000 × 1/1


def test_no_data_is_null(metric, db):
    assert metric("duplicate_reach_rate", *NOVEMBER)["value"] is None
    assert metric("wasted_spend", *NOVEMBER)["value"] is None
    ChannelSpendFactory(channel=ChannelFactory(code="idle"), month=date(2026, 11, 1), amount=Decimal("100.00"))
    spent = metric("wasted_spend", *NOVEMBER)
    assert (spent["value"], spent["spend"]) == (None, "100.00")  # spend, but nobody reached


def test_other_filters_and_limits_are_refused(api_as, fixture):
    api = api_as("sales")
    for name in ("duplicate_reach_rate", "wasted_spend"):
        refused = api.get(f"/api/v1/metrics/{name}/", {"start": "2026-11-01", "end": "2026-12-01", "channel": "web"})
        assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "channel"
    too_long = api.get("/api/v1/metrics/wasted_spend/", {"start": "2024-01-01", "end": "2026-12-01"})
    assert too_long.status_code == 400 and too_long.json()["errors"][0]["field"] == "end"


def test_both_are_in_the_registry(api_as):
    rate, wasted = metrics.REGISTRY["duplicate_reach_rate"], metrics.REGISTRY["wasted_spend"]
    assert (rate.unit, rate.direction, rate.filters) == ("ratio", metrics.DOWN, ("campaign",))
    assert (wasted.unit, wasted.direction, wasted.filters) == ("money", metrics.DOWN, ("campaign",))
    listed = {m["name"] for m in api_as("sales").get("/api/v1/metrics/").json()["results"]}
    assert {"duplicate_reach_rate", "wasted_spend"} <= listed


def test_one_overlap_for_both_metrics_in_a_batch(fixture, django_assert_num_queries):
    """The channels with their spend and the aggregate, once; the batch has set the plans already."""
    with metrics.batch(), django_assert_num_queries(2):
        period = metrics.Period(*NOVEMBER)
        assert metrics.duplicate_reach_rate(period, {})["value"] == 0.5
        assert metrics.wasted_spend(period, {})["value"] == 4266.67


def test_a_key_result_binds_the_duplicate_reach_rate(api_as, fixture):
    """Marketing's "cut duplicate reach below 15 %". 2026Q4 holds G's October and December touches too: G is on
    WeChat, Douyin and Store, so 5 of 9 are on two or more channels: 0.5556; progress (0.6 − 0.5556) ÷ 0.45."""
    manager = make_user("marketing_manager")
    api = api_as(user=manager)
    objective = ObjectiveFactory(department="marketing", quarter="2026Q4", owner=manager)
    response = api.post(
        "/api/v1/key-results/",
        {
            "objective": objective.pk,
            "title": "Cut duplicate reach below 15 %",
            "metric": "duplicate_reach_rate",
            "baseline": "0.6",
            "target": "0.15",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["direction"], body["current"], body["progress"]) == ("down", 0.5556, 9.9)
    bound = api.post(
        "/api/v1/key-results/",
        {
            "objective": objective.pk,
            "title": "Website campaign overlap",
            "metric": "wasted_spend",
            "metric_filters": {"campaign": fixture["campaign"].pk},
            "baseline": "2000",
            "target": "500",
        },
        format="json",
    )
    assert bound.status_code == 201, bound.content
    assert bound.json()["current"] == 1000.0


def test_the_key_result_form_offers_both(client_as, db):
    manager = make_user("marketing_manager")
    objective = ObjectiveFactory(department="marketing", quarter="2026Q4", owner=manager)
    html = client_as(user=manager).get(f"/okr/objectives/{objective.pk}/key-results/new/").content.decode()
    assert 'value="duplicate_reach_rate"' in html and 'value="wasted_spend"' in html


def test_the_board_shows_the_bound_value(client_as, fixture):
    objective = ObjectiveFactory(department="marketing", quarter="2026Q4")
    KeyResultFactory(
        objective=objective,
        title="Duplicate reach",
        metric="duplicate_reach_rate",
        baseline=Decimal("0.6"),
        target=Decimal("0.15"),
        direction="down",
    )
    html = client_as("sales").get("/okr/?quarter=2026Q4").content.decode()
    assert "Duplicate reach" in html and "55.6 %" in html


def test_the_metrics_measure_more_channels_than_a_person_may_compare(metric, db):
    """The page and the API compare at most 20 channels; the metrics take every active one (here 40, so bits
    beyond 32). One customer on the first and the last channel, another on the last only: 1 of 2, and the last
    channel's 100.00 wasted half."""
    channels = [ChannelFactory(code=f"ch-{i:02d}", name=f"Channel {i:02d}") for i in range(40)]
    for channel in channels:
        ChannelSpendFactory(channel=channel, month=date(2026, 11, 1), amount=Decimal("100.00"))
    both, last_only = CustomerFactory(), CustomerFactory()
    TouchpointFactory(customer=both, channel=channels[0], at=at("11-10T10:00"))
    TouchpointFactory(customer=both, channel=channels[39], at=at("11-11T10:00"))
    TouchpointFactory(customer=last_only, channel=channels[39], at=at("11-12T10:00"))
    assert metric("duplicate_reach_rate", *NOVEMBER)["value"] == 0.5
    wasted = metric("wasted_spend", *NOVEMBER)
    rows = {row["channel"]: row for row in wasted["by_channel"]}
    assert (rows["ch-39"]["reach"], rows["ch-39"]["duplicate"], rows["ch-39"]["wasted_spend"]) == (2, 1, "50.00")
    assert rows["ch-00"]["wasted_spend"] == "100.00"
    assert wasted["value"] == 150.0
