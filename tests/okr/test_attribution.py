"""Attribution models on channel_roi and cac (DESIGN.md "Attribution"), against a small fixture whose credits, revenue,
customers won, ROI and CAC are worked out by hand for every model; through the metrics API and the channel report.

The fixture (March 2026; spend in March: ads 2000, expo 500, store 400, web 1000; lookback 90 days):

* A, won 20 Mar 10:00 by a web lead, 1000 of orders in March. Touches, by time then id: ads 10 Jan, web 15 Feb, then
  expo and web both at the win itself (expo written first, so web is the last touch); a store scan a minute after
  the win does not count. Four touches on three channels.
* B, won 10 Mar 10:00 by an ads lead, 2000 in March (999 more in April does not count). Touches: web exactly 90
  days before the win (counts), ads 1 Mar; a store scan a minute before the 90 days does not count.
* C, won 5 Mar 10:00 by a web lead and again 25 Mar by an expo lead: lead source splits it half and half. 600 + 400
  in March (5000 in February does not count). One touch: a store scan on 4 Mar; an ads click on 15 Mar comes after
  the first win and does not count.
* D, won 12 Mar by a store lead, 500 in March, no touchpoint: every model falls back to the lead source.

Credits per customer (ads, expo, store, web):

| model          | A                           | B           | C            | D       |
| lead_source    | web 1                       | ads 1       | web ½ expo ½ | store 1 |
| first_touch    | ads 1                       | web 1       | store 1      | store 1 |
| last_touch     | web 1                       | ads 1       | store 1      | store 1 |
| linear         | ads ¼, web ½, expo ¼        | web ½ ads ½ | store 1      | store 1 |
| position_based | ads .4, web .1 + .4, expo .1 | web ½ ads ½ | store 1      | store 1 |
"""

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from tests.conftest import ROLES
from tests.factories import (
    ChannelFactory,
    ChannelSpendFactory,
    CustomerFactory,
    ObjectiveFactory,
    OrderFactory,
    TouchpointFactory,
    UserFactory,
    make_user,
)
from tests.okr.conftest import at, history

pytestmark = pytest.mark.django_db

START, END = date(2026, 3, 1), date(2026, 4, 1)
PERIOD = {"start": START.isoformat(), "end": END.isoformat()}
MODELS = ("lead_source", "first_touch", "last_touch", "linear", "position_based")


def D(month, day, year=2026):  # noqa: N802 - a short date helper for fixtures
    return date(year, month, day)


def row(cost, revenue, customers, roi, cac):
    return {"cost": cost, "revenue": revenue, "customers_won": customers, "roi": roi, "cac": cac}


# Per model and channel: cost, revenue (Σ credit × the customer's March orders), customers won (Σ credit), ROI, CAC.
EXPECTED = {
    "lead_source": {
        "ads": row("2000.00", "2000.00", 1, 0.0, "2000.00"),  # B
        "expo": row("500.00", "500.00", 0.5, 0.0, "1000.00"),  # ½ C
        "store": row("400.00", "500.00", 1, 0.25, "400.00"),  # D
        "web": row("1000.00", "1500.00", 1.5, 0.5, "666.67"),  # A + ½ C: 1000 + 500
    },
    "first_touch": {
        "ads": row("2000.00", "1000.00", 1, -0.5, "2000.00"),  # A
        "expo": row("500.00", "0.00", 0, -1.0, None),
        "store": row("400.00", "1500.00", 2, 2.75, "200.00"),  # C, D
        "web": row("1000.00", "2000.00", 1, 1.0, "1000.00"),  # B (the touch at exactly 90 days)
    },
    "last_touch": {
        "ads": row("2000.00", "2000.00", 1, 0.0, "2000.00"),  # B
        "expo": row("500.00", "0.00", 0, -1.0, None),
        "store": row("400.00", "1500.00", 2, 2.75, "200.00"),  # C, D
        "web": row("1000.00", "1000.00", 1, 0.0, "1000.00"),  # A (web ties expo at the win; the later id)
    },
    "linear": {
        "ads": row("2000.00", "1250.00", 0.75, -0.375, "2666.67"),  # ¼ A + ½ B: 250 + 1000
        "expo": row("500.00", "250.00", 0.25, -0.5, "2000.00"),  # ¼ A
        "store": row("400.00", "1500.00", 2, 2.75, "200.00"),
        "web": row("1000.00", "1500.00", 1, 0.5, "1000.00"),  # ½ A + ½ B: 500 + 1000
    },
    "position_based": {
        "ads": row("2000.00", "1400.00", 0.9, -0.3, "2222.22"),  # .4 A + .5 B: 400 + 1000
        "expo": row("500.00", "100.00", 0.1, -0.8, "5000.00"),  # .1 A (a middle touch: .2 ÷ 2)
        "store": row("400.00", "1500.00", 2, 2.75, "200.00"),
        "web": row("1000.00", "1500.00", 1, 0.5, "1000.00"),  # (.1 + .4) A + .5 B: 500 + 1000
    },
}


@pytest.fixture
def channels():
    found = {code: ChannelFactory(code=code, name=code.title()) for code in ("ads", "expo", "store", "web")}
    for code, amount in (("ads", "2000"), ("expo", "500"), ("store", "400"), ("web", "1000")):
        ChannelSpendFactory(channel=found[code], month=D(3, 1), amount=Decimal(amount))
    ChannelSpendFactory(channel=found["web"], month=D(2, 1), amount=Decimal("700"))  # February: not this period
    return found


def _order(customer, amount: str, when, channel) -> None:
    OrderFactory(customer=customer, amount=Decimal(amount), ordered_at=when, channel=channel)


def _touch(customer, channel, when, kind="click") -> None:
    TouchpointFactory(customer=customer, channel=channel, at=when, kind=kind)


@pytest.fixture
def won(channels):
    ads, expo, store, web = (channels[c] for c in ("ads", "expo", "store", "web"))
    a, b, c, d = (CustomerFactory(name=n) for n in "ABCD")

    a_won = at(D(3, 20), 10)
    history(("negotiation", "won", a_won), customer=a, source_channel=web)
    _order(a, "1000", a_won, store)
    _touch(a, ads, at(D(1, 10), 9), "impression")
    _touch(a, web, at(D(2, 15), 14), "click")
    _touch(a, expo, a_won, "visit")  # at the win: counts; written before the next, so it comes first
    _touch(a, web, a_won, "visit")
    _touch(a, store, a_won + timedelta(minutes=1), "scan")  # after the win

    b_won = at(D(3, 10), 10)
    history(("negotiation", "won", b_won), customer=b, source_channel=ads)
    _order(b, "2000", at(D(3, 10), 11), store)
    _order(b, "999", at(D(4, 2)), store)  # after the period
    _touch(b, store, b_won - timedelta(days=90, minutes=1), "scan")  # a minute outside the lookback
    _touch(b, web, b_won - timedelta(days=90), "click")  # exactly 90 days before: inside
    _touch(b, ads, at(D(3, 1), 8), "click")

    c_won = at(D(3, 5), 10)
    history(("negotiation", "won", c_won), customer=c, source_channel=web)
    history(("negotiation", "won", at(D(3, 25), 10)), customer=c, source_channel=expo)  # a second win, another source
    _order(c, "600", c_won, store)
    _order(c, "400", at(D(3, 26)), store)
    _order(c, "5000", at(D(2, 1)), store)  # before the period
    _touch(c, store, at(D(3, 4), 16), "scan")
    _touch(c, ads, at(D(3, 15), 12), "click")  # after the first win in the period

    d_won = at(D(3, 12), 15)
    history(("negotiation", "won", d_won), customer=d, source_channel=store)
    _order(d, "500", d_won, store)
    return {"A": a, "B": b, "C": c, "D": d}


def _by_channel(body: dict) -> dict:
    return {r["channel"]: r for r in body["by_channel"]}


# --- the metrics API ----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("won")
@pytest.mark.parametrize("model", MODELS)
def test_every_model_credits_revenue_and_customers_as_computed_by_hand(metric, model):
    roi = metric("channel_roi", START, END, model=model)
    cac = metric("cac", START, END, model=model)
    assert (roi["model"], cac["model"]) == (model, model)
    found = {
        code: {
            "cost": r["cost"],
            "revenue": r["revenue"],
            "customers_won": _by_channel(cac)[code]["customers_won"],
            "roi": r["roi"],
            "cac": _by_channel(cac)[code]["cac"],
        }
        for code, r in _by_channel(roi).items()
    }
    assert found == EXPECTED[model]
    # Credits sum to 1 per customer: four customers and their 4500 of revenue, counted once in every model.
    assert sum(r["customers_won"] for r in cac["by_channel"]) == pytest.approx(4)
    assert cac["customers_won"] == 4 and cac["sample_size"] == 4
    assert sum(Decimal(r["revenue"]) for r in roi["by_channel"]) == Decimal("4500.00")
    assert cac["value"] == 975.0  # 3900 ÷ 4
    assert roi["value"] == pytest.approx((4500 - 3900) / 3900, abs=1e-4)


@pytest.mark.usefixtures("won")
def test_lead_source_is_the_default_and_the_channel_filter_keeps_the_channels_credit(metric):
    assert metric("channel_roi", START, END)["model"] == "lead_source"
    assert _by_channel(metric("cac", START, END)) == {
        code: {"channel": code, "name": code.title(), **{k: e[k] for k in ("cost", "customers_won", "cac")}}
        for code, e in EXPECTED["lead_source"].items()
    }
    # The filter shows one channel; its credit is the same share of each customer as without the filter.
    only_ads = metric("cac", START, END, channel="ads", model="linear")
    assert (only_ads["customers_won"], only_ads["value"]) == (0.75, 2666.67)  # 2000 ÷ ¾
    only_expo = metric("channel_roi", START, END, channel="expo", model="position_based")
    assert (only_expo["value"], only_expo["by_channel"][0]["revenue"]) == (-0.8, "100.00")


@pytest.mark.usefixtures("won")
def test_the_lookback_is_a_setting(metric, settings):
    settings.RELAY_ATTRIBUTION_LOOKBACK_DAYS = 30
    found = {r["channel"]: r["customers_won"] for r in metric("cac", START, END, model="first_touch")["by_channel"]}
    # A: ads 10 Jan and web 15 Feb fall out, expo (at the win, lower id) is first; B: the web touch falls out.
    assert found == {"ads": 1, "expo": 1, "store": 2, "web": 0}


def test_position_based_gives_the_middle_touch_a_fifth(metric, channels):
    ads, expo, web = channels["ads"], channels["expo"], channels["web"]
    customer = CustomerFactory()
    history(("negotiation", "won", at(D(3, 10))), customer=customer, source_channel=web)
    _order(customer, "1000", at(D(3, 10)), web)
    for channel, day in ((ads, 1), (expo, 2), (web, 3)):
        _touch(customer, channel, at(D(3, day)))
    revenue = {
        r["channel"]: r["revenue"] for r in metric("channel_roi", START, END, model="position_based")["by_channel"]
    }
    assert revenue == {"ads": "400.00", "expo": "200.00", "store": "0.00", "web": "400.00"}
    linear = {r["channel"]: r["customers_won"] for r in metric("cac", START, END, model="linear")["by_channel"]}
    assert linear == {"ads": 0.3333, "expo": 0.3333, "store": 0, "web": 0.3333}


def test_a_lead_without_a_source_is_credited_only_by_its_touches(metric):
    expo = ChannelFactory(code="expo", name="Expo")
    customer = CustomerFactory()
    history(("negotiation", "won", at(D(3, 15))), customer=customer, source_channel=None)
    _order(customer, "300", at(D(3, 15)), expo)
    _touch(customer, expo, at(D(3, 14)), "visit")
    assert metric("channel_roi", START, END)["by_channel"] == []  # no source channel, nothing to credit
    assert metric("channel_roi", START, END, model="last_touch")["by_channel"] == [
        {"channel": "expo", "name": "Expo", "revenue": "300.00", "cost": None, "roi": None}
    ]


@pytest.mark.usefixtures("won")
def test_the_api_takes_the_model_as_a_query_parameter(api_as):
    response = api_as("marketing").get("/api/v1/metrics/channel_roi/", {**PERIOD, "model": "linear"})
    assert response.status_code == 200
    body = response.json()
    assert (body["metric"], body["model"]) == ("channel_roi", "linear")
    assert _by_channel(body)["ads"]["revenue"] == "1250.00"


@pytest.mark.parametrize(
    ("name", "model", "message"),
    [
        ("channel_roi", "last_click", "Choose lead_source"),
        ("cac", "LINEAR", "Choose lead_source"),
        ("close_rate", "linear", "cannot be filtered by model"),
    ],
)
def test_a_bad_model_is_400_naming_model(api_as, name, model, message):
    response = api_as("marketing").get(f"/api/v1/metrics/{name}/", {**PERIOD, "model": model})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["model"] and message in errors[0]["message"]


def test_a_key_result_binds_channel_roi_under_a_model(api_as, channels):
    api = api_as("marketing_manager")
    objective = ObjectiveFactory(department="marketing", owner=api.user)
    payload = {
        "objective": objective.pk,
        "title": "ROI under linear attribution",
        "metric": "channel_roi",
        "baseline": "0",
        "target": "1",
        "direction": "up",
    }
    good = api.post("/api/v1/key-results/", {**payload, "metric_filters": {"model": "linear"}}, format="json")
    assert good.status_code == 201, good.content
    assert good.json()["metric_filters"] == {"model": "linear"}
    bad = api.post("/api/v1/key-results/", {**payload, "metric_filters": {"model": "u_shaped"}}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "metric_filters"


def test_the_key_result_page_binds_a_model_and_keeps_it_on_edit(client_as):
    manager = make_user("marketing_manager")
    objective = ObjectiveFactory(department="marketing", owner=manager)
    client = client_as(user=manager)
    fields = {"title": "ROI", "metric": "channel_roi", "baseline": "0", "target": "1", "direction": "up"}
    response = client.post(reverse("okr:key-result-new", args=[objective.pk]), {**fields, "model": "position_based"})
    assert response.status_code == 302
    kr = objective.key_results.get()
    assert kr.metric_filters == {"model": "position_based"}
    page = client.get(reverse("okr:key-result-edit", args=[kr.pk])).content.decode()
    assert '<option value="position_based" selected>' in page
    # A metric without attribution refuses the model, and nothing is written.
    refused = client.post(
        reverse("okr:key-result-new", args=[objective.pk]), {**fields, "metric": "close_rate", "model": "linear"}
    )
    assert refused.status_code == 422 and objective.key_results.count() == 1


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_metric(api_as, role):
    assert api_as(role).get("/api/v1/metrics/cac/", {**PERIOD, "model": "first_touch"}).status_code == 200


def test_anonymous_cannot_read_the_metric():
    assert APIClient().get("/api/v1/metrics/cac/", {**PERIOD, "model": "first_touch"}).status_code == 401


def _grow(channels, n: int) -> None:
    """n more won customers, each touched on two channels, with an order."""
    web, ads = channels["web"], channels["ads"]
    for i in range(n):
        customer = CustomerFactory()
        won_at = at(D(3, 1 + i % 28), 12)
        history(("negotiation", "won", won_at), customer=customer, source_channel=(web, ads)[i % 2])
        _order(customer, "100", won_at, web)
        _touch(customer, ads, won_at - timedelta(days=3))
        _touch(customer, web, won_at - timedelta(days=1))


@pytest.mark.parametrize("n", [1, 25])
def test_the_api_runs_a_fixed_number_of_queries(api_as, channels, django_assert_max_num_queries, n):
    _grow(channels, n)
    api = api_as("marketing")
    # the user's groups, then channels, spend and the credits with revenue; PostgreSQL adds SAVEPOINT, SET LOCAL and
    # RELEASE around the batch.
    with django_assert_max_num_queries(4 + (3 if connection.vendor == "postgresql" else 0)):
        response = api.get("/api/v1/metrics/cac/", {**PERIOD, "model": "position_based"})
    assert response.status_code == 200
    assert response.json()["customers_won"] == n


# --- the channel report -------------------------------------------------------------------------------------------


def _comparison(html: str) -> dict:
    """{channel: {(model, figure): text}} of the comparison table ("" key: the all-channels row)."""
    section = html.split('id="attribution-comparison"', 1)[1]
    out = {}
    for key, cells in re.findall(r'<tr data-(?:channel="([^"]*)"|total="all-channels")>(.*?)</tr>', section, re.S):
        out[key] = {
            (model, figure): text.strip()
            for model, figure, text in re.findall(r'data-model="(\w+)" data-figure="(\w+)">(.*?)</td>', cells)
        }
    return out


@pytest.mark.usefixtures("won")
def test_the_report_switches_models_and_compares_them_side_by_side(client_as):
    client = client_as("marketing")
    response = client.get(reverse("okr:report-channels"), {**PERIOD, "model": "linear"})
    assert response.status_code == 200
    html = response.content.decode()
    # The model is a field of the period form, so "Show" and the period presets keep it.
    assert '<select name="model"' in html and '<option value="linear" selected>' in html
    assert all("model=linear" in preset["url"] for preset in response.context["presets"])
    # The main table is the chosen model's.
    ads_row = re.search(r'<tr data-channel="ads"><td>Ads</td>(.*?)</tr>', html, re.S).group(1)
    assert "CNY\xa01,250.00" in ads_row and "<td>0.8</td>" in ads_row and "-38 %" in ads_row  # ¾, −37.5 %

    table = _comparison(html)
    assert set(table) == {"ads", "expo", "store", "web", ""}
    assert table["expo"][("lead_source", "roi")] == "0&nbsp;%"
    assert table["expo"][("first_touch", "cac")] == "—"  # no customer credited to expo
    assert table["expo"][("position_based", "cac")] == "CNY\xa05,000.00"
    assert table["web"][("first_touch", "roi")] == "100&nbsp;%"
    assert table["web"][("lead_source", "cac")] == "CNY\xa0666.67"
    assert table["ads"][("linear", "cac")] == "CNY\xa02,666.67"
    assert table["store"][("last_touch", "roi")] == "275&nbsp;%"
    for model in MODELS:  # every model's total: 3900 spent on four customers who brought 4500
        assert table[""][(model, "cac")] == "CNY\xa0975.00" and table[""][(model, "roi")] == "15&nbsp;%"
    # Each model's heading switches to it, keeping the period.
    assert 'href="?start=2026-03-01&amp;end=2026-04-01&amp;model=first_touch"' in html
    assert '<a href="?start=2026-03-01&amp;end=2026-04-01&amp;model=linear" aria-current="true">' in html


@pytest.mark.usefixtures("won")
def test_the_report_defaults_to_lead_source_and_its_csv_names_the_model(client_as):
    client = client_as("sales")
    html = client.get(reverse("okr:report-channels"), PERIOD).content.decode()
    assert '<option value="lead_source" selected>' in html
    assert "<td>1.5</td>" in html  # web: A and half of C

    response = client.get(reverse("okr:report-channels"), {**PERIOD, "model": "position_based", "format": "csv"})
    assert 'filename="channels-position_based-2026-03-01-2026-04-01.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode().lstrip("\ufeff"))))
    assert rows[0] == ["channel", "name", "cost", "revenue", "customers_won", "roi", "cac", "model"]
    assert rows[1:] == [
        ["ads", "Ads", "2000.00", "1400.00", "0.9", "-0.3", "2222.22", "position_based"],
        ["expo", "Expo", "500.00", "100.00", "0.1", "-0.8", "5000.00", "position_based"],
        ["store", "Store", "400.00", "1500.00", "2", "2.75", "200.00", "position_based"],
        ["web", "Web", "1000.00", "1500.00", "1", "0.5", "1000.00", "position_based"],
    ]


def test_a_bad_model_on_the_report_is_400_on_the_field(client_as):
    response = client_as("marketing").get(reverse("okr:report-channels"), {**PERIOD, "model": "u_shaped"})
    assert response.status_code == 400
    assert 'data-field="model"' in response.content.decode()


@pytest.mark.usefixtures("won")
def test_the_report_in_chinese(client_as):
    response = client_as("marketing").get(
        reverse("okr:report-channels"), {**PERIOD, "model": "linear"}, headers={"accept-language": "zh-hans"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'lang="zh-hans"' in html and "¥2,666.67" in html


@pytest.mark.parametrize("role", ROLES)
def test_every_staff_role_reads_the_report(client_as, role):
    assert client_as(role).get(reverse("okr:report-channels"), {**PERIOD, "model": "last_touch"}).status_code == 200


def test_the_report_is_for_signed_in_staff(client):
    response = client.get(reverse("okr:report-channels"), PERIOD)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    client.force_login(UserFactory(groups=[]))
    assert client.get(reverse("okr:report-channels"), PERIOD).status_code == 403


@pytest.mark.parametrize("n", [1, 25])
def test_the_report_runs_a_fixed_number_of_queries(client_as, channels, django_assert_max_num_queries, n):
    _grow(channels, n)
    client = client_as("marketing")
    # session, user, groups, unread notifications, the channel choices; then channels, spend and one credits query
    # for every model (the chosen model's table reuses it); PostgreSQL adds SAVEPOINT, SET LOCAL and RELEASE.
    with django_assert_max_num_queries(8 + (3 if connection.vendor == "postgresql" else 0)):
        response = client.get(reverse("okr:report-channels"), {**PERIOD, "model": "first_touch"})
    assert response.status_code == 200
    assert len(_comparison(response.content.decode())) == 5  # the four channels with spend, and the total


def test_a_win_in_the_last_minute_counts_and_one_at_the_end_does_not(metric, channels):
    customer = CustomerFactory()
    history(("negotiation", "won", at(D(3, 31), 23, 59)), customer=customer, source_channel=channels["web"])
    _touch(customer, channels["ads"], at(D(3, 31), 23, 58))
    history(("negotiation", "won", at(END)), customer=CustomerFactory(), source_channel=channels["web"])  # April
    found = metric("cac", START, END, model="last_touch")
    assert {r["channel"]: r["customers_won"] for r in found["by_channel"]}["ads"] == 1
    assert found["customers_won"] == 1
