"""Closed days computed once (okr/metrics.py, "Closed days"): the stage-change metrics keep what they found for the
days before today and read only today's rows afterwards. Each result must equal the live definition (the whole
period computed from the tables) and the hand-computed value, and late-arriving history must be seen at once."""

import random
import re
from datetime import date

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.models import Lead, LeadStageChange
from okr import metrics
from tests.factories import LeadStageChangeFactory, make_user
from tests.okr.conftest import at, history

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 20)
START, END = date(2026, 3, 1), date(2026, 4, 1)  # closed days 1–19 March, today the 20th, the rest to come
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
CACHED = ("lead_quality_score", "handoff_sla_rate", "close_rate", "cycle_time_days", "time_in_stage_days")


@pytest.fixture(autouse=True)
def noon_on_the_20th():
    with time_machine.travel(at(TODAY, 12), tick=False):
        yield


def D(day):  # noqa: N802 - a short date helper for fixtures
    return date(2026, 3, day)


def live(name, start=START, end=END, **filters):
    """The live definition: the whole period computed from the tables, nothing kept."""
    with metrics.batch(reuse_closed_days=False):
        return metrics.compute(name, start=start, end=end, filters=filters)


def reused(name, start=START, end=END, **filters):
    return metrics.compute(name, start=start, end=end, filters=filters)


@pytest.fixture
def pipeline():
    """Leads moving through the pipeline on closed days and today (12:00 is now)."""
    history(
        ("new", "handed_off", at(D(1), 9)),
        ("handed_off", "accepted", at(D(2), 9)),  # handed_off 1 day, decided within 24 h
        ("accepted", "contacted", at(D(4), 9)),  # accepted 2 days
        ("contacted", "won", at(D(11), 9)),  # contacted 7 days; cycle 10 days
    )
    history(
        ("new", "handed_off", at(D(3))),
        ("handed_off", "new", at(D(6))),  # rejected after 3 days (outside the SLA)
        ("new", "handed_off", at(D(7))),
        ("handed_off", "accepted", at(D(8))),  # 1 day
        ("accepted", "lost", at(D(18))),  # accepted 10 days
        owner=make_user("sales"),
    )
    history(
        ("new", "handed_off", at(D(10))),
        ("handed_off", "accepted", at(D(19), 12)),  # 9.5 days
        ("accepted", "won", at(TODAY, 10)),  # today: accepted 22 hours; cycle 10 days 10 hours
    )
    history(("new", "handed_off", at(TODAY, 1)), ("handed_off", "new", at(TODAY, 7)))  # rejected today, 6 h
    history(("new", "handed_off", at(date(2026, 2, 20))), ("negotiation", "won", at(D(5))))  # 13 days, both


HAND_COMPUTED = {
    "lead_quality_score": {"value": 60.0, "accepted": 3, "rejected": 2, "sample_size": 5},
    "handoff_sla_rate": {"value": 0.6, "decided": 5, "within_sla": 3, "sla_hours": 24, "sample_size": 5},
    "close_rate": {"value": 0.75, "won": 3, "lost": 1, "sample_size": 4},
    # 10, 10 5/12 and 13 days: p90 = 10 5/12 + 0.8 × (13 − 10 5/12)
    "cycle_time_days": {
        "value": 10.42,
        "mean": 11.14,
        "p90": 12.48,
        "leads": 3,
        "benchmark_days": 28,
        "sample_size": 3,
    },
    "time_in_stage_days": {
        "value": 13.0,
        "bottleneck_stage": "negotiation",
        "sample_size": 1,
        "by_stage": [
            {"stage": "new", "median": 1.0, "exits": 1, "mean": 1.0, "p90": 1.0},
            # 1/4, 1, 1, 3, 9.5 days: mean 14.75 / 5, p90 = 3 + 0.6 × (9.5 − 3)
            {"stage": "handed_off", "median": 1.0, "exits": 5, "mean": 2.95, "p90": 6.9},
            # 22/24, 2, 10: mean (22/24 + 12) / 3, p90 = 2 + 0.8 × (10 − 2)
            {"stage": "accepted", "median": 2.0, "exits": 3, "mean": 4.31, "p90": 8.4},
            {"stage": "contacted", "median": 7.0, "exits": 1, "mean": 7.0, "p90": 7.0},
            {"stage": "negotiation", "median": 13.0, "exits": 1, "mean": 13.0, "p90": 13.0},
        ],
    },
}


@pytest.mark.usefixtures("pipeline")
@pytest.mark.parametrize("name", CACHED)
def test_reusing_closed_days_equals_the_live_definition_and_the_hand_computed_value(metric, settings, name):
    settings.RELAY_HANDOFF_SLA_HOURS = 24
    expected = {"metric": name, "start": "2026-03-01", "end": "2026-04-01", **HAND_COMPUTED[name]}
    assert live(name) == expected
    assert metric(name, START, END) == expected  # fills the cache for 1–19 March
    assert metric(name, START, END) == expected  # from the cache, plus today's rows


@pytest.mark.usefixtures("pipeline")
def test_one_stages_time_reads_the_same_closed_days(metric):
    metric("time_in_stage_days", START, END)
    body = metric("time_in_stage_days", START, END, stage="accepted")
    assert body == live("time_in_stage_days", stage="accepted")
    assert (body["value"], body["by_stage"]) == (
        2.0,
        [{"stage": "accepted", "median": 2.0, "exits": 3, "mean": 4.31, "p90": 8.4}],
    )


@pytest.mark.usefixtures("pipeline")
@pytest.mark.parametrize("name", CACHED)
def test_a_period_of_closed_days_only_and_one_starting_today(name):
    for start, end in ((START, TODAY), (D(5), D(12)), (TODAY, END), (D(19), D(21))):
        assert reused(name, start, end) == live(name, start, end)
        assert reused(name, start, end) == live(name, start, end)


@pytest.mark.usefixtures("pipeline")
def test_the_second_call_reads_only_todays_rows():
    reused("close_rate")
    with CaptureQueriesContext(connection) as queries:
        again = reused("close_rate")
    counts = [q["sql"] for q in queries.captured_queries if "COUNT" in q["sql"].upper()]
    assert len(counts) == 1
    # Only [today, end): today's start in local time (PostgreSQL) or UTC (SQLite), never the period's start.
    assert {"2026-03-20 00:00:00", "2026-03-19 16:00:00"} & set(TIMESTAMP.findall(counts[0]))
    assert not {"2026-03-01 00:00:00", "2026-02-28 16:00:00"} & set(TIMESTAMP.findall(counts[0]))
    assert again == live("close_rate")

    reused("close_rate", START, TODAY)
    with CaptureQueriesContext(connection) as queries:
        closed_only = reused("close_rate", START, TODAY)
    assert closed_only == live("close_rate", START, TODAY)
    assert not [q for q in queries.captured_queries if "COUNT" in q["sql"].upper()]  # all closed: nothing read


@pytest.mark.usefixtures("pipeline")
def test_what_is_kept_is_really_reused_until_forgotten():
    before = reused("close_rate")
    # Rewritten behind the ORM's back (no signal): the kept closed days do not see it ...
    LeadStageChange.objects.filter(to_stage="lost").update(to_stage="won")
    assert reused("close_rate") == before
    # ... until the cache is told (a new generation), as it is by every save or delete through the ORM.
    metrics.forget_closed_days()
    assert reused("close_rate") == live("close_rate") != before


@pytest.mark.usefixtures("pipeline")
@pytest.mark.parametrize("name", CACHED)
def test_late_arriving_history_for_a_closed_day_is_seen_at_once(name):
    reused(name)
    history(
        ("new", "handed_off", at(D(2))),
        ("handed_off", "accepted", at(D(12))),
        ("accepted", "negotiation", at(D(13))),
        ("negotiation", "won", at(D(15))),
    )
    assert reused(name) == live(name)
    assert reused(name)["value"] != HAND_COMPUTED[name]["value"]


@pytest.mark.usefixtures("pipeline")
@pytest.mark.parametrize("name", CACHED)
def test_a_deleted_lead_leaves_the_closed_days_at_once(name):
    reused(name)
    Lead.objects.filter(stage="lost").delete()
    assert reused(name) == live(name)


@pytest.mark.usefixtures("pipeline")
@pytest.mark.parametrize("name", CACHED)
def test_todays_new_rows_count_without_forgetting_anything(name):
    reused(name)
    history(("new", "handed_off", at(TODAY, 2)), ("handed_off", "accepted", at(TODAY, 11)))
    history(("new", "handed_off", at(TODAY, 3)), ("proposal", "won", at(TODAY, 11, 30)))
    assert reused(name) == live(name)


@pytest.mark.usefixtures("pipeline")
@pytest.mark.parametrize("name", CACHED)
def test_the_next_day_closes_today(name):
    reused(name)
    with time_machine.travel(at(D(21), 9), tick=False):
        LeadStageChangeFactory(
            lead=Lead.objects.get(stage="new"), from_stage="new", to_stage="handed_off", at=at(D(21), 8)
        )
        assert reused(name) == live(name)


@pytest.mark.usefixtures("pipeline")
def test_filtered_bindings_are_always_computed_whole(metric):
    lead = Lead.objects.get(stage="lost")
    seller = lead.owner
    assert metric("close_rate", START, END, owner=seller.pk)["value"] == live("close_rate", owner=seller.pk)["value"]
    Lead.objects.filter(pk=lead.pk).update(owner=None)  # reassigned (no signal): the filter follows at once
    assert metric("close_rate", START, END, owner=seller.pk)["value"] == live("close_rate", owner=seller.pk)["value"]


@pytest.mark.parametrize("name", ["cycle_time_days", "time_in_stage_days"])
def test_percentiles_fall_back_to_sql_when_today_outgrows_the_kept_window(monkeypatch, name):
    monkeypatch.setattr(metrics, "CLOSED_DAYS_MARGIN", 1)
    for day in range(1, 20):
        history(("new", "handed_off", at(D(1))), ("handed_off", "won", at(D(day), 9)))
    reused(name)  # keeps only the closed values next to the median and p90
    for hour in range(8):
        history(("new", "handed_off", at(D(18), hour)), ("handed_off", "won", at(TODAY, hour)))
    whole = []
    for spied in ("percentiles", "stats_by_group"):
        real = getattr(metrics, spied)
        monkeypatch.setattr(
            metrics, spied, lambda *args, _real=real, **kwargs: whole.append(1) or _real(*args, **kwargs)
        )
    assert reused(name) == live(name)
    assert len(whole) == 2  # the reused call fell back to SQL, like the live one


def test_the_merged_percentile_is_percentile_cont_over_all_values(monkeypatch):
    """Property test of the selection the kept path uses, against sorting everything."""
    monkeypatch.setattr(metrics, "CLOSED_DAYS_MARGIN", 3)
    rng = random.Random(7)
    checked = 0
    for _ in range(300):
        closed = [rng.choice((rng.random(), rng.randint(0, 5))) for _ in range(rng.randint(0, 30))]
        today = sorted(rng.choice((rng.random(), rng.randint(0, 5))) for _ in range(rng.randint(0, 4)))
        everything = sorted(closed + today)
        kept = metrics.Kept.of(list(closed), (0.5, 0.9)) if closed else None
        for p in (0.5, 0.9):
            n = len(everything)
            position = p * (n - 1)
            low = int(position)
            want = None
            if n:
                want = everything[low] + (position - low) * (everything[min(low + 1, n - 1)] - everything[low])
            try:
                got = metrics._merged_percentile(kept, today, p)
            except metrics._OutsideKept:
                continue  # the caller computes the period whole
            assert got == want  # exactly: the same values, interpolated the same way
            checked += 1
    assert checked > 400
