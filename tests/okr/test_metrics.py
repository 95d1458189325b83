"""Every metric of the registry against hand-computed fixtures, through GET /api/v1/metrics/{name}/."""

from datetime import date
from decimal import Decimal

import pytest

from leads.models import Lead
from okr import metrics
from tests.factories import (
    CampaignFactory,
    ChannelFactory,
    ChannelSpendFactory,
    ComplaintFactory,
    CustomerFactory,
    LeadFactory,
    NpsResponseFactory,
    OrderFactory,
    make_user,
)
from tests.okr.conftest import at, history

pytestmark = pytest.mark.django_db

START, END = date(2026, 3, 1), date(2026, 4, 1)
EMPTY = (date(2020, 1, 1), date(2020, 4, 1))


def D(month, day):  # noqa: N802 - a short date helper for fixtures
    return date(2026, month, day)


def test_list_names_every_metric_of_the_design(api_as):
    body = api_as("service").get("/api/v1/metrics/").json()
    names = {m["name"] for m in body["results"]}
    assert names == {
        "lead_quality_score",
        "handoff_sla_rate",
        "close_rate",
        "cycle_time_days",
        "time_in_stage_days",
        "repurchase_rate",
        "nps",
        "complaint_resolution_hours",
        "complaint_rate",
        "activation_rate",
        "content_open_rate",
        "content_click_rate",
        "content_conversion_rate",
        "channel_roi",
        "cac",
        "ltv",
        "funnel",
        "reject_reasons",
        "lost_reasons",
        "duplicate_reach_rate",
        "wasted_spend",
        "loyalty_members_active",
    }
    cycle = next(m for m in body["results"] if m["name"] == "cycle_time_days")
    assert cycle["direction"] == "down" and cycle["unit"] == "days" and cycle["label"]


@pytest.mark.parametrize("name", sorted(metrics.REGISTRY))
def test_every_metric_is_null_without_data(metric, name):
    assert metric(name, *EMPTY)["value"] is None


def test_lead_quality_score_counts_decisions_in_the_period_start_inclusive_end_exclusive(metric):
    web = ChannelFactory(code="web")
    history(("handed_off", "accepted", at(START)), source_channel=web)
    history(("handed_off", "new", at(D(3, 10))))
    history(("handed_off", "accepted", at(D(3, 20))))
    history(("handed_off", "accepted", at(END)))  # end is exclusive
    history(("handed_off", "new", at(D(2, 28), 23, 59)))  # before the start
    history(("new", "handed_off", at(D(3, 5))))  # a handoff, not a decision

    body = metric("lead_quality_score", START, END)
    assert body == {
        "metric": "lead_quality_score",
        "start": "2026-03-01",
        "end": "2026-04-01",
        "value": 66.67,
        "accepted": 2,
        "rejected": 1,
        "sample_size": 3,
    }
    assert metric("lead_quality_score", START, END, channel="web")["value"] == 100.0


def test_handoff_sla_rate_measures_from_the_latest_handoff(metric, settings):
    settings.RELAY_HANDOFF_SLA_HOURS = 24
    history(("new", "handed_off", at(START, 8)), ("handed_off", "accepted", at(D(3, 2), 8)))  # exactly 24 h
    history(("new", "handed_off", at(D(3, 3))), ("handed_off", "new", at(D(3, 5))))  # 48 h
    history(("new", "handed_off", at(D(2, 27))), ("handed_off", "accepted", at(START, 10)))  # 58 h
    history(
        ("new", "handed_off", at(D(2, 1))),
        ("handed_off", "new", at(D(2, 2))),
        ("new", "handed_off", at(D(3, 10))),
        ("handed_off", "accepted", at(D(3, 10), 12)),  # 12 h after the second handoff
    )
    body = metric("handoff_sla_rate", START, END)
    assert (body["value"], body["decided"], body["within_sla"], body["sla_hours"]) == (0.5, 4, 2, 24)

    settings.RELAY_HANDOFF_SLA_HOURS = 72
    assert metric("handoff_sla_rate", START, END)["value"] == 1.0


def test_close_rate_and_its_owner_and_department_filters(metric):
    seller = make_user("sales")
    marketer = make_user("marketing")
    history(("negotiation", "won", at(START)), owner=seller)
    history(("negotiation", "won", at(D(3, 5))), owner=seller)
    history(("proposal", "won", at(D(3, 31), 23, 59)), owner=marketer)
    history(("contacted", "lost", at(D(3, 15))), owner=seller)
    history(("contacted", "lost", at(END)))

    body = metric("close_rate", START, END)
    assert (body["value"], body["won"], body["lost"]) == (0.75, 3, 1)
    assert metric("close_rate", START, END, owner=seller.pk)["value"] == pytest.approx(2 / 3, abs=1e-4)
    assert metric("close_rate", START, END, department="marketing")["value"] == 1.0
    assert metric("close_rate", START, END, department="service")["value"] is None


def test_cycle_time_is_median_mean_and_p90_from_first_handoff_to_won(metric):
    history(
        ("new", "handed_off", at(D(2, 1))),
        ("handed_off", "new", at(D(2, 2))),
        ("new", "handed_off", at(D(3, 1))),
        ("handed_off", "accepted", at(D(3, 2))),
        ("accepted", "won", at(D(3, 11))),
    )  # 38 days: the first handoff counts
    history(("new", "handed_off", at(START)), ("negotiation", "won", at(D(3, 11))))  # 10
    history(("new", "handed_off", at(START)), ("negotiation", "won", at(D(3, 21))))  # 20
    history(("new", "handed_off", at(START)), ("negotiation", "won", at(D(3, 5))))  # 4
    history(("new", "handed_off", at(START)), ("negotiation", "won", at(D(4, 2))))  # won after the period

    body = metric("cycle_time_days", START, END)
    assert body["value"] == 15.0
    assert body["mean"] == 18.0
    assert body["p90"] == pytest.approx(32.6)
    assert body["leads"] == 4
    assert body["benchmark_days"] == 28


def test_cycle_time_of_one_lead_is_its_own_duration(metric):
    history(("new", "handed_off", at(START)), ("negotiation", "won", at(D(3, 3), 12)))
    body = metric("cycle_time_days", START, END)
    assert (body["value"], body["mean"], body["p90"]) == (2.5, 2.5, 2.5)


def test_time_in_stage_by_stage_over_exits_in_the_period(metric):
    history(
        ("new", "handed_off", at(D(3, 1))),
        ("handed_off", "accepted", at(D(3, 3))),  # handed_off: 2 days
        ("accepted", "contacted", at(D(3, 4))),  # accepted: 1
        ("contacted", "qualified", at(D(3, 10))),  # contacted: 6
    )
    history(
        ("new", "handed_off", at(D(2, 20))),
        ("handed_off", "accepted", at(D(3, 2))),  # handed_off: 10
        ("accepted", "contacted", at(D(4, 3))),  # exit after the period
    )
    history(("new", "handed_off", at(D(3, 5))), ("handed_off", "accepted", at(D(3, 9))))  # handed_off: 4

    body = metric("time_in_stage_days", START, END)
    assert body["by_stage"] == [
        # 2, 4 and 10 days: p90 = 4 + 0.8 × (10 − 4)
        {"stage": "handed_off", "median": 4.0, "exits": 3, "mean": 5.33, "p90": 8.8},
        {"stage": "accepted", "median": 1.0, "exits": 1, "mean": 1.0, "p90": 1.0},
        {"stage": "contacted", "median": 6.0, "exits": 1, "mean": 6.0, "p90": 6.0},
    ]
    assert (body["value"], body["bottleneck_stage"]) == (6.0, "contacted")  # the slowest stage's median
    assert body["sample_size"] == 1  # the exits behind the value
    assert metric("time_in_stage_days", START, END, stage="contacted")["value"] == 6.0
    assert metric("time_in_stage_days", START, END, stage="proposal")["value"] is None


def test_repurchase_rate_counts_orders_up_to_the_period_end(metric):
    c1, c2, c3, c4, c5 = CustomerFactory.create_batch(5)
    OrderFactory(customer=c1, ordered_at=at(D(2, 10)))
    OrderFactory(customer=c1, ordered_at=at(D(3, 5)))  # repeat
    OrderFactory(customer=c2, ordered_at=at(D(3, 7)))
    OrderFactory(customer=c3, ordered_at=at(START))
    OrderFactory(customer=c3, ordered_at=at(D(3, 20)))  # repeat
    OrderFactory(customer=c4, ordered_at=at(D(3, 15)))
    OrderFactory(customer=c4, ordered_at=at(END))  # after the end: not yet a repeat
    OrderFactory(customer=c5, ordered_at=at(D(1, 5)))  # no order in the period

    body = metric("repurchase_rate", START, END)
    assert (body["value"], body["customers"], body["repeat_customers"]) == (0.5, 4, 2)


def test_repurchase_rate_by_channel_counts_every_order_of_the_channels_customers(metric):
    web, store = ChannelFactory(code="web"), ChannelFactory(code="store")
    c1, c2, c3, c4, c5 = CustomerFactory.create_batch(5)
    OrderFactory(customer=c1, channel=web, ordered_at=at(D(3, 2)))
    OrderFactory(customer=c1, channel=store, ordered_at=at(D(1, 2)))  # before the period: c1 repeats
    OrderFactory(customer=c2, channel=store, ordered_at=at(D(3, 3)))
    OrderFactory(customer=c2, channel=web, ordered_at=at(D(3, 30)))  # two in the period: c2 repeats
    OrderFactory(customer=c3, channel=web, ordered_at=at(D(3, 4)))
    OrderFactory.create_batch(2, customer=c4, channel=store, ordered_at=at(D(3, 5)))
    OrderFactory(customer=c5, channel=web, ordered_at=at(D(3, 6)))
    OrderFactory(customer=c5, channel=web, ordered_at=at(END))  # after the end

    body = metric("repurchase_rate", START, END, channel="web")
    assert (body["value"], body["customers"], body["repeat_customers"]) == (0.5, 4, 2)  # c1, c2 of c1, c2, c3, c5
    assert metric("repurchase_rate", START, END, channel="store")["value"] == 1.0  # c2 and c4
    assert metric("repurchase_rate", START, END)["value"] == 0.6  # c1, c2, c4 of five


def test_ltv_adds_orders_after_the_period_and_only_for_newcomers(metric):
    c1, c2, c3 = CustomerFactory.create_batch(3)
    OrderFactory(customer=c1, amount=Decimal("100"), ordered_at=at(D(3, 5)))
    OrderFactory(customer=c1, amount=Decimal("20"), ordered_at=at(D(3, 6)))
    OrderFactory(customer=c1, amount=Decimal("30"), ordered_at=at(D(6, 1)))  # to date: counts
    OrderFactory(customer=c2, amount=Decimal("1000"), ordered_at=at(D(3, 31), 23, 59))
    OrderFactory(customer=c3, amount=Decimal("5"), ordered_at=at(D(2, 28), 23, 59))  # an earlier first order
    OrderFactory(customer=c3, amount=Decimal("500"), ordered_at=at(D(3, 10)))
    OrderFactory(customer=c3, amount=Decimal("500"), ordered_at=at(D(5, 10)))
    body = metric("ltv", START, END)
    assert (body["value"], body["customers"]) == (575.0, 2)  # (150 + 1000) ÷ 2


@pytest.mark.usefixtures("channel_data")
def test_a_customer_won_through_two_channels_counts_once_split_between_them(metric):
    x = Lead.objects.get(stage_changes__at=at(D(3, 3))).customer  # won from web, 1500 + 300 in the period
    web, ads = (Lead.objects.filter(source_channel__code=c).first().source_channel for c in ("web", "ads"))
    history(("negotiation", "won", at(D(3, 20))), customer=x, source_channel=web)  # won again by web
    history(("negotiation", "won", at(D(3, 21))), customer=x, source_channel=ads)  # and by ads
    body = metric("channel_roi", START, END)
    roi = {r["channel"]: r for r in body["by_channel"]}
    # x's 1800 half each: web 700 (y) + 900, ads 1000 (z) + 900; no longer 2500 and 2800 (x counted twice).
    assert (roi["web"]["revenue"], roi["ads"]["revenue"]) == ("1600.00", "1900.00")
    assert (roi["web"]["roi"], roi["ads"]["roi"], body["model"]) == (0.6, -0.05, "lead_source")
    cac = metric("cac", START, END)
    assert {r["channel"]: r["customers_won"] for r in cac["by_channel"]} == {"ads": 1.5, "expo": 1, "web": 1.5}
    assert cac["customers_won"] == 4  # x, y, z and v, each once
    assert cac["value"] == 750.0  # 3000 ÷ 4
    only_ads = metric("cac", START, END, channel="ads")
    assert (only_ads["by_channel"][0]["customers_won"], only_ads["value"]) == (1.5, 1333.33)  # 2000 ÷ 1.5


def test_nps_is_an_integer_from_responses_in_the_period(metric):
    for score in (10, 9, 8, 7, 6, 0, 9):
        NpsResponseFactory(score=score, answered_at=at(D(3, 3)))
    NpsResponseFactory(score=0, answered_at=at(END))
    NpsResponseFactory(score=0, answered_at=at(D(2, 28), 23, 59))

    body = metric("nps", START, END)
    assert body["value"] == 14  # 100 × (3 − 2) ÷ 7 = 14.29
    assert (body["responses"], body["promoters"], body["passives"], body["detractors"]) == (7, 3, 2, 2)


def test_nps_rounds_half_away_from_zero(metric):
    NpsResponseFactory(score=10, answered_at=at(D(3, 1)))
    NpsResponseFactory.create_batch(7, score=8, answered_at=at(D(3, 1)))
    assert metric("nps", START, END)["value"] == 13  # 100 × 1 ÷ 8 = 12.5
    NpsResponseFactory.create_batch(2, score=0, answered_at=at(D(3, 2)))
    assert metric("nps", START, END)["value"] == -10  # 100 × (1 − 2) ÷ 10
    NpsResponseFactory.create_batch(6, score=8, answered_at=at(D(3, 3)))
    assert metric("nps", START, END)["value"] == -6  # 100 × (1 − 2) ÷ 16 = −6.25


def test_complaint_resolution_hours_is_the_median_over_complaints_resolved_in_the_period(metric):
    ComplaintFactory(opened_at=at(START), resolved_at=at(START, 10), status="resolved")  # 10 h
    ComplaintFactory(opened_at=at(D(2, 28)), resolved_at=at(D(3, 2)), status="resolved")  # 48 h
    ComplaintFactory(opened_at=at(D(3, 3)), resolved_at=at(D(3, 3), 5), status="resolved")  # 5 h
    ComplaintFactory(opened_at=at(D(3, 30)), resolved_at=at(END), status="resolved")  # after
    ComplaintFactory(opened_at=at(D(3, 30)))  # still open

    body = metric("complaint_resolution_hours", START, END)
    assert (body["value"], body["complaints"]) == (10.0, 3)
    assert body["mean"] == 21.0


def test_complaint_rate_is_complaints_per_ordering_customer(metric):
    buyers = CustomerFactory.create_batch(4)
    for customer in buyers:
        OrderFactory(customer=customer, ordered_at=at(D(3, 4)))
    OrderFactory(customer=buyers[0], ordered_at=at(D(3, 6)))  # same customer twice
    ComplaintFactory(customer=buyers[0], opened_at=at(START))
    ComplaintFactory(customer=buyers[1], opened_at=at(END))  # after
    body = metric("complaint_rate", START, END)
    assert (body["value"], body["complaints"], body["customers"]) == (0.25, 1, 4)


@pytest.fixture
def channel_data():
    web, ads, expo = (ChannelFactory(code=c, name=c.title()) for c in ("web", "ads", "expo"))
    ChannelSpendFactory(channel=web, month=D(3, 1), amount=Decimal("1000"))
    ChannelSpendFactory(channel=web, month=D(2, 1), amount=Decimal("500"))
    ChannelSpendFactory(channel=web, month=D(4, 1), amount=Decimal("700"))
    ChannelSpendFactory(channel=ads, month=D(3, 1), amount=Decimal("2000"))
    x, y, z, w, v = CustomerFactory.create_batch(5)
    history(("negotiation", "won", at(D(3, 3))), customer=x, source_channel=web)
    history(("negotiation", "won", at(D(3, 9))), customer=y, source_channel=web)
    history(("negotiation", "won", at(D(3, 9))), customer=z, source_channel=ads)
    history(("negotiation", "lost", at(D(3, 9))), source_channel=ads)
    history(("negotiation", "won", at(END)), customer=w, source_channel=web)  # won after the period
    history(("negotiation", "won", at(D(3, 12))), customer=v, source_channel=expo)
    OrderFactory(customer=x, amount=Decimal("1500"), ordered_at=at(D(3, 3)))
    OrderFactory(customer=x, amount=Decimal("300"), ordered_at=at(D(3, 25)))
    OrderFactory(customer=y, amount=Decimal("700"), ordered_at=at(D(3, 9)))
    OrderFactory(customer=y, amount=Decimal("999"), ordered_at=at(END))
    OrderFactory(customer=z, amount=Decimal("1000"), ordered_at=at(D(3, 10)))
    OrderFactory(customer=w, amount=Decimal("5000"), ordered_at=at(D(3, 10)))


@pytest.mark.usefixtures("channel_data")
def test_channel_roi_per_channel(metric):
    body = metric("channel_roi", START, END)
    assert body["by_channel"] == [
        {"channel": "ads", "name": "Ads", "revenue": "1000.00", "cost": "2000.00", "roi": -0.5},
        {"channel": "expo", "name": "Expo", "revenue": "0.00", "cost": None, "roi": None},
        {"channel": "web", "name": "Web", "revenue": "2500.00", "cost": "1000.00", "roi": 1.5},
    ]
    assert body["value"] == pytest.approx((3500 - 3000) / 3000, abs=1e-4)
    assert metric("channel_roi", START, END, channel="web")["value"] == 1.5


@pytest.mark.usefixtures("channel_data")
def test_cac_per_channel(metric):
    body = metric("cac", START, END)
    assert body["by_channel"] == [
        {"channel": "ads", "name": "Ads", "cost": "2000.00", "customers_won": 1, "cac": "2000.00"},
        {"channel": "expo", "name": "Expo", "cost": None, "customers_won": 1, "cac": None},
        {"channel": "web", "name": "Web", "cost": "1000.00", "customers_won": 2, "cac": "500.00"},
    ]
    assert (body["value"], body["customers_won"]) == (750.0, 4)
    assert metric("cac", START, END, channel="web")["value"] == 500.0


def test_spend_without_wins_gives_a_cac_of_null(metric):
    ChannelSpendFactory(channel=ChannelFactory(code="tv"), month=D(3, 1))
    assert metric("cac", START, END)["value"] is None
    assert metric("channel_roi", START, END)["value"] == -1.0


def test_ltv_is_the_mean_lifetime_total_of_customers_first_ordering_in_the_period(metric):
    c1, c2, c3 = CustomerFactory.create_batch(3)
    OrderFactory(customer=c1, amount=Decimal("100"), ordered_at=at(D(3, 5)))
    OrderFactory(customer=c1, amount=Decimal("50"), ordered_at=at(D(4, 10)))  # to date: counts
    OrderFactory(customer=c2, amount=Decimal("80"), ordered_at=at(D(2, 1)))  # first order before
    OrderFactory(customer=c2, amount=Decimal("80"), ordered_at=at(D(3, 2)))
    OrderFactory(customer=c3, amount=Decimal("300"), ordered_at=at(START))
    body = metric("ltv", START, END)
    assert (body["value"], body["customers"]) == (225.0, 2)


def test_funnel_counts_leads_reaching_each_stage_and_drop_off(metric):
    campaign = CampaignFactory()

    def created(lead, day):
        Lead.objects.filter(pk=lead.pk).update(created_at=at(day, 9))
        return lead

    created(LeadFactory(campaign=campaign), D(3, 1))
    created(history(("new", "handed_off", at(D(3, 2))), ("handed_off", "new", at(D(3, 3)))), D(3, 1))
    created(
        history(
            ("new", "handed_off", at(D(3, 2))),
            ("handed_off", "accepted", at(D(3, 3))),
            ("accepted", "proposal", at(D(3, 4))),
        ),
        D(3, 2),
    )
    created(
        history(
            ("new", "handed_off", at(D(3, 2))),
            ("handed_off", "accepted", at(D(3, 3))),
            ("accepted", "negotiation", at(D(3, 4))),
            ("negotiation", "won", at(D(3, 5))),
        ),
        D(3, 2),
    )
    created(
        history(
            ("new", "handed_off", at(D(3, 2))),
            ("handed_off", "accepted", at(D(3, 3))),
            ("accepted", "contacted", at(D(3, 4))),
            ("contacted", "lost", at(D(3, 5))),
        ),
        D(3, 31),
    )
    created(history(("new", "handed_off", at(D(4, 2))), ("negotiation", "won", at(D(4, 3)))), D(4, 1))

    body = metric("funnel", START, END)
    counts = {s["stage"]: s["count"] for s in body["stages"]}
    assert counts == {
        "new": 5,
        "handed_off": 4,
        "accepted": 3,
        "contacted": 3,
        "qualified": 2,
        "proposal": 2,
        "negotiation": 1,
        "won": 1,
    }
    drops = {s["stage"]: s["drop_off"] for s in body["stages"]}
    assert drops["new"] is None
    assert drops["handed_off"] == 0.2
    assert drops["qualified"] == pytest.approx(1 / 3, abs=1e-4)
    assert drops["negotiation"] == 0.5
    assert (body["value"], body["lost"]) == (0.2, 1)
    assert metric("funnel", START, END, campaign=campaign.pk)["stages"][0]["count"] == 1


def test_unknown_metric_is_404_problem(api_as):
    response = api_as("sales").get("/api/v1/metrics/happiness/", {"start": "2026-03-01", "end": "2026-04-01"})
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "name"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-13-01", "end": "2026-04-01"}, "start"),
        ({"start": "2026-03-01"}, "end"),
        ({"start": "2026-03-01", "end": "2026-03-01"}, "end"),
        ({"start": "2026-03-01", "end": "2026-04-01", "owner": "abc"}, "owner"),
        ({"start": "2026-03-01", "end": "2026-04-01", "department": "finance"}, "department"),
    ],
)
def test_bad_input_is_400_naming_the_field(api_as, params, field):
    response = api_as("sales").get("/api/v1/metrics/close_rate/", params)
    assert response.status_code == 400
    assert field in {e["field"] for e in response.json()["errors"]}


def test_a_filter_the_metric_does_not_support_is_400(api_as):
    response = api_as("sales").get(
        "/api/v1/metrics/nps/", {"start": "2026-03-01", "end": "2026-04-01", "channel": "web"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "channel"


def test_anonymous_is_refused(client):
    assert client.get("/api/v1/metrics/").status_code in (401, 403)


@pytest.mark.parametrize("name", sorted(metrics.REGISTRY))
@pytest.mark.usefixtures("channel_data")
def test_each_metric_runs_a_fixed_number_of_queries(name, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        metrics.compute(name, start=START, end=END)
