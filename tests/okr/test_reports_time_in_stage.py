"""Time in stage per stage with the count, mean, median and p90 (the `time_in_stage_days` metric and its report page).

The same hand-computed values must come out of every path: PostgreSQL's percentile_cont, SQLite's window ranking
(both when a filter makes the metric compute the period whole) and the closed days kept in the cache (unfiltered).
Run this file on both databases."""

import random
import re
from datetime import date

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from okr import metrics
from tests.conftest import ROLES
from tests.factories import ChannelFactory, LeadFactory, LeadStageChangeFactory, UserFactory
from tests.okr.conftest import at, history

pytestmark = pytest.mark.django_db

START, END = date(2026, 3, 1), date(2026, 4, 1)
PERIOD = {"start": START.isoformat(), "end": END.isoformat()}


def D(day):  # noqa: N802 - a short date helper for fixtures
    return date(2026, 3, day)


@pytest.fixture
def visits():
    """Contacted for 1, 2, 3, 4 and 10 days and qualified for 12 and 36 hours, all left in March; plus visits left
    before and after the period."""
    web = ChannelFactory(code="web")
    for entered, days in ((1, 1), (2, 2), (3, 3), (4, 4), (5, 10)):
        history(
            ("accepted", "contacted", at(D(entered), 9)),
            ("contacted", "qualified", at(D(entered + days), 9)),
            source_channel=web,
        )
    history(("contacted", "qualified", at(D(20))), ("qualified", "proposal", at(D(20), 12)), source_channel=web)
    history(("contacted", "qualified", at(D(21))), ("qualified", "lost", at(D(22), 12)), source_channel=web)
    history(("accepted", "contacted", at(date(2026, 2, 1))), ("contacted", "qualified", at(date(2026, 2, 27))))
    history(("accepted", "contacted", at(D(30))), ("contacted", "qualified", at(date(2026, 4, 1))), source_channel=web)


HAND_COMPUTED = [
    # 1, 2, 3, 4, 10: mean 20 / 5; p90 at rank 0.9 × 4 = 3.6: 4 + 0.6 × (10 − 4) = 7.6
    {"stage": "contacted", "median": 3.0, "exits": 5, "mean": 4.0, "p90": 7.6},
    # 0.5 and 1.5 days: p90 = 0.5 + 0.9 × 1
    {"stage": "qualified", "median": 1.0, "exits": 2, "mean": 1.0, "p90": 1.4},
]


@pytest.mark.usefixtures("visits")
def test_median_mean_and_p90_per_stage(metric):
    body = metric("time_in_stage_days", START, END)
    assert body["by_stage"] == HAND_COMPUTED
    assert (body["value"], body["bottleneck_stage"], body["sample_size"]) == (3.0, "contacted", 5)


@pytest.mark.usefixtures("visits")
def test_the_whole_period_in_sql_gives_the_same_values(metric):
    """A filter computes the period whole (percentile_cont on PostgreSQL, window ranking on SQLite)."""
    assert metric("time_in_stage_days", START, END, channel="web")["by_stage"] == HAND_COMPUTED
    with metrics.batch(reuse_closed_days=False):
        whole = metrics.compute("time_in_stage_days", start=START, end=END)
    assert whole["by_stage"] == HAND_COMPUTED


@pytest.mark.usefixtures("visits")
def test_closed_days_and_today_give_the_same_values(metric):
    with time_machine.travel(at(D(6), 12), tick=False):  # closed: 1–5 March; the rest is today and after
        assert metric("time_in_stage_days", START, END)["by_stage"] == HAND_COMPUTED
        assert metric("time_in_stage_days", START, END)["by_stage"] == HAND_COMPUTED  # from the cache


@pytest.mark.usefixtures("visits")
def test_one_stage(metric):
    body = metric("time_in_stage_days", START, END, stage="qualified")
    assert (body["value"], body["sample_size"], body["by_stage"]) == (1.0, 2, [HAND_COMPUTED[1]])


def _percentile_cont(values: list[float], p: float) -> float:
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def test_sql_percentiles_match_percentile_cont_on_random_durations(metric):
    """Filtered (the SQL path) over random durations: the same as percentile_cont over all of them."""
    rng = random.Random(15)
    web = ChannelFactory(code="web")
    days: dict[str, list[float]] = {"contacted": [], "qualified": [], "proposal": []}
    for stage, found in days.items():
        for _ in range(rng.randint(1, 12)):
            entered = at(D(rng.randint(1, 10)), rng.randint(0, 23), rng.randint(0, 59))
            left = at(D(rng.randint(11, 30)), rng.randint(0, 23), rng.randint(0, 59))
            lead = LeadFactory(source_channel=web)
            LeadStageChangeFactory(lead=lead, from_stage=stage, to_stage="lost", at=left, entered_at=entered)
            found.append((left - entered).total_seconds() / 86400)
    body = metric("time_in_stage_days", START, END, channel="web")
    got = {row["stage"]: row for row in body["by_stage"]}
    for stage, values in days.items():
        assert got[stage]["exits"] == len(values)
        assert got[stage]["mean"] == pytest.approx(sum(values) / len(values), abs=0.005)
        assert got[stage]["median"] == pytest.approx(_percentile_cont(values, 0.5), abs=0.005)
        assert got[stage]["p90"] == pytest.approx(_percentile_cont(values, 0.9), abs=0.005)


@pytest.mark.usefixtures("visits")
def test_the_page_shows_the_table_and_the_chart(client_as, settings):
    response = client_as("sales").get(reverse("okr:report-time-in-stage"), PERIOD)
    assert response.status_code == 200
    html = response.content.decode()
    row = html.split('<tr data-stage="contacted">', 1)[1].split("</tr>", 1)[0]
    assert (
        '<td class="num" data-testid="median">3.00</td>' in row and '<td class="num" data-testid="p90">7.60</td>' in row
    )
    assert "based on 5 stage exits — too few to rely on" in row
    assert '<svg class="chart bars"' in html
    assert "<title>Contacted: 3 d · median · 5 exits</title>" in html  # the bar's tooltip
    assert "<title>Contacted: p90 7.6 d</title>" in html  # the p90 marker's tooltip
    assert '<strong data-testid="bottleneck">Contacted</strong>' in html

    settings.RELAY_MIN_SAMPLE = 5
    html = client_as("sales").get(reverse("okr:report-time-in-stage"), PERIOD).content.decode()
    assert "too few" not in html.split('<tr data-stage="contacted">', 1)[1].split("</tr>", 1)[0]
    assert "based on 2 stage exits" in html.split('<tr data-stage="qualified">', 1)[1].split("</tr>", 1)[0]


@pytest.mark.usefixtures("visits")
def test_csv_export(client_as):
    response = client_as("marketing").get(reverse("okr:report-time-in-stage"), {**PERIOD, "format": "csv"})
    lines = response.content.decode().splitlines()
    assert lines == ["stage,exits,mean_days,median_days,p90_days", "contacted,5,4.0,3.0,7.6", "qualified,2,1.0,1.0,1.4"]


@pytest.mark.usefixtures("visits")
def test_the_page_filters_by_channel_and_owner(client_as):
    html = client_as("sales").get(reverse("okr:report-time-in-stage"), {**PERIOD, "channel": "web"}).content.decode()
    assert '<tr data-stage="contacted">' in html
    html = client_as("sales").get(reverse("okr:report-time-in-stage"), {**PERIOD, "owner": 999999}).content.decode()
    assert "No lead left a stage in this period." in html


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_page_and_the_metric(client_as, api_as, role):
    assert client_as(role).get(reverse("okr:report-time-in-stage"), PERIOD).status_code == 200
    assert api_as(role).get("/api/v1/metrics/time_in_stage_days/", PERIOD).status_code == 200


def test_outsiders_are_refused(client):
    assert client.get(reverse("okr:report-time-in-stage")).status_code == 302
    client.force_login(UserFactory())
    assert client.get(reverse("okr:report-time-in-stage")).status_code == 403


def _exits(n: int):
    web = ChannelFactory(code="web")
    for i in range(n):
        stage = ("contacted", "qualified", "proposal", "negotiation")[i % 4]
        lead = LeadFactory(source_channel=web)
        LeadStageChangeFactory(lead=lead, from_stage=stage, to_stage="lost", at=at(D(2 + i % 27)), entered_at=at(D(1)))


@pytest.mark.parametrize("n", [2, 40])
def test_page_queries_do_not_grow(client_as, django_assert_max_num_queries, n):
    _exits(n)
    extra = 3 if connection.vendor == "postgresql" else 0  # SAVEPOINT, SET LOCAL (jit, work_mem), RELEASE
    with time_machine.travel(at(date(2026, 4, 15), 12), tick=False):
        client = client_as("sales")
        # session, user, groups, unread notifications, the channel choices, then the closed days' values of
        # each of the 7 stages (kept afterwards: the next visit reads none).
        for most in (12, 5):
            with django_assert_max_num_queries(most + extra):
                response = client.get(reverse("okr:report-time-in-stage"), PERIOD)
            assert response.status_code == 200
        # Filtered: the period whole, in one query (percentile_cont per stage, or the window ranking).
        with django_assert_max_num_queries(6 + extra):
            response = client.get(reverse("okr:report-time-in-stage"), {**PERIOD, "channel": "web"})
    stages = re.findall(r'<tr data-stage="(\w+)">', response.content.decode())
    assert stages == ["contacted", "qualified", "proposal", "negotiation"][: min(n, 4)]


@pytest.mark.parametrize("n", [2, 40])
def test_api_queries_do_not_grow(api_as, django_assert_max_num_queries, n):
    _exits(n)
    api = api_as("sales")
    extra = 3 if connection.vendor == "postgresql" else 0
    with time_machine.travel(at(date(2026, 4, 15), 12), tick=False):
        # the user's groups, then the closed days' values of each of the 7 stages (kept: none the next time)
        for most in (8, 1):
            with django_assert_max_num_queries(most + extra):
                body = api.get("/api/v1/metrics/time_in_stage_days/", PERIOD).json()
            assert sum(row["exits"] for row in body["by_stage"]) == n
        with django_assert_max_num_queries(2 + extra):  # filtered: the period whole in one query
            body = api.get("/api/v1/metrics/time_in_stage_days/", {**PERIOD, "channel": "web"}).json()
        assert sum(row["exits"] for row in body["by_stage"]) == n
