"""What every report shares: the charts (axes, tick labels, titles, tooltips, labels inside the viewBox), the note
under a value from too few observations, the period presets, and a fixed number of queries."""

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils.formats import date_format

from okr import charts
from okr.selectors import current_quarter, quarter_bounds
from tests.factories import (
    ChannelFactory,
    KeyResultFactory,
    LeadFactory,
    LeadStageChangeFactory,
    MetricSnapshotFactory,
    NpsResponseFactory,
    ObjectiveFactory,
)
from tests.okr.conftest import at, history

pytestmark = pytest.mark.django_db

REPORTS = [
    "okr:report-funnel",
    "okr:report-channels",
    "okr:report-cycle-time",
    "okr:report-time-in-stage",
    "okr:report-reasons",
    "okr:report-nps",
]
YEAR = {"start": "2026-01-01", "end": "2027-01-01"}
SVG = re.compile(r'<svg class="chart [\w ]+".*?</svg>', re.S)


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(found) for found in SVG.findall(html)]


def assert_labels_inside(svg: ET.Element) -> None:
    """Every label lies within the viewBox (estimating its width as the charts do); rotated axis titles aside."""
    _x, _y, width, height = (float(v) for v in svg.get("viewBox").split())
    for text in svg.iter("text"):
        if text.get("transform"):
            continue
        x, y, drawn = float(text.get("x")), float(text.get("y")), charts.text_width(text.text)
        left = {"start": x, "middle": x - drawn / 2, "end": x - drawn}[text.get("text-anchor", "start")]
        assert left >= 0 and left + drawn <= width, text.text
        assert charts.FONT * 0.8 <= y <= height, text.text  # the glyphs above the baseline fit too


def nps_month(day: date, promoters: int, passives: int, detractors: int) -> None:
    for score, count in ((10, promoters), (8, passives), (3, detractors)):
        NpsResponseFactory.create_batch(count, score=score, answered_at=at(day))


# --- charts ------------------------------------------------------------------------------------------------------


def test_nps_trend_has_axes_tooltips_and_unclipped_labels(client_as):
    nps_month(date(2026, 1, 10), 1, 0, 0)  # 100: the top of the scale
    nps_month(date(2026, 2, 10), 0, 0, 1)  # −100: the bottom
    nps_month(date(2026, 12, 10), 3, 4, 5)  # (3 − 5) ÷ 12 = −16.7 → −17
    html = client_as("service").get(reverse("okr:report-nps"), YEAR).content.decode()
    (svg,) = svgs(html)
    assert_labels_inside(svg)
    assert svg.find("title").text == "NPS by month"
    ticks = [t.text for t in svg.iter("text") if t.get("class") == "tick"]
    assert ticks[:5] == ["-100", "-50", "0", "50", "100"]  # the y axis
    assert {"2026-01", "2026-12"} <= set(ticks)  # the x axis
    assert [t.text for t in svg.iter("text") if t.get("class") == "axis-title"] == ["NPS"]
    tooltips = [c.find("title").text for c in svg.iter("circle")]
    assert tooltips == ["2026-01: 100 · 1 answer", "2026-02: -100 · 1 answer", "2026-12: -17 · 12 answers"]
    assert "<figcaption><strong>NPS by month</strong>" in html


def test_december_nps_from_12_answers_carries_the_sample_size_note(client_as):
    nps_month(date(2026, 12, 10), 3, 4, 5)
    html = client_as("service").get(reverse("okr:report-nps"), YEAR).content.decode()
    assert (
        '<div class="sample-note" data-testid="sample-note" data-month="2026-12">'
        "based on 12 answers — too few to rely on</div>"
    ) in html
    (svg,) = svgs(html)
    assert [c.get("class") for c in svg.iter("circle")] == ["point faint"]  # drawn hollow


@pytest.mark.parametrize(("answers", "noted"), [(29, True), (30, False)])
def test_the_note_shows_under_30_observations_only(client_as, answers, noted):
    nps_month(date(2026, 11, 10), answers, 0, 0)
    html = client_as("service").get(reverse("okr:report-nps"), YEAR).content.decode()
    assert ('data-month="2026-11"' in html) is noted
    assert (f"based on {answers} answers — too few to rely on" in html) is noted


def test_the_minimum_sample_is_a_setting(client_as, settings):
    settings.RELAY_MIN_SAMPLE = 10
    nps_month(date(2026, 12, 10), 3, 4, 5)
    assert "too few" not in client_as("service").get(reverse("okr:report-nps"), YEAR).content.decode()


def test_cycle_time_histogram_has_a_y_axis_and_tooltips(client_as):
    for days in (3, 10, 11, 30):
        history(
            ("new", "handed_off", at(date(2026, 2, 1))),
            ("negotiation", "won", at(date(2026, 2, 1) + timedelta(days=days))),
        )
    html = (
        client_as("sales")
        .get(reverse("okr:report-cycle-time"), {"start": "2026-02-01", "end": "2026-04-01"})
        .content.decode()
    )
    (svg,) = svgs(html)
    assert_labels_inside(svg)
    texts = {t.get("class"): [] for t in svg.iter("text")}
    for t in svg.iter("text"):
        texts[t.get("class")].append(t.text)
    assert texts["tick"][:3] == ["0", "1", "2"]  # the y axis: whole leads
    assert "0–7" in texts["tick"] and "90+" in texts["tick"]  # the x axis: buckets
    assert texts["axis-title"] == ["Leads won", "Days from first handoff to won"]
    bars = [r.find("title").text for r in svg.iter("rect")]
    assert "7–14: 2" in bars and "28–35: 1" in bars
    assert "based on 4 leads — too few to rely on" in html


def test_reasons_charts_have_axes_and_labels_inside(client_as):
    lead = LeadFactory()
    for day, reason in ((2, "no_budget"), (3, "duplicate: seen"), (20, "no_budget")):
        LeadStageChangeFactory(
            lead=lead, from_stage="handed_off", to_stage="new", at=at(date(2026, 3, day)), reason=reason
        )
    html = (
        client_as("sales")
        .get(reverse("okr:report-reasons"), {"start": "2026-02-01", "end": "2026-04-01"})
        .content.decode()
    )
    by_reason, by_month = svgs(html)
    for svg in (by_reason, by_month):
        assert_labels_inside(svg)
        assert svg.find("line[@class='axis']") is not None
    assert [t.text for t in by_reason.iter("text") if t.get("class") == "label"] == ["No budget", "Duplicate"]
    assert [r.find("title").text for r in by_month.iter("rect")] == ["2026-03 · No budget: 2", "2026-03 · Duplicate: 1"]
    assert '<ul class="chart-legend"><li><span class="swatch s0"></span>No budget</li>' in html


@time_machine.travel(datetime(2026, 11, 18, 15, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)
def test_board_trend_lines_have_axes_and_labels(client_as):
    start, _end = quarter_bounds(current_quarter())
    kr = KeyResultFactory(
        objective=ObjectiveFactory(quarter=current_quarter()), metric="close_rate", target="0.5", baseline="0.2"
    )
    for offset, value in enumerate((0.25, 0.4, 0.35)):
        MetricSnapshotFactory(key_result=kr, date=start + timedelta(days=offset), value=value)
    html = client_as("sales").get(reverse("okr:board")).content.decode()
    (svg,) = svgs(html)
    assert svg.get("class") == "chart trend"
    assert_labels_inside(svg)
    days = [date_format(start + timedelta(days=offset)) for offset in range(3)]  # the language's date format
    ticks = [t.text for t in svg.iter("text") if t.get("class") == "tick"]
    assert ticks[:4] == ["20 %", "30 %", "40 %", "50 %"]  # the y axis: shares as percentages
    assert ticks[4] == days[0] and ticks[-1] == days[-1]  # the x axis: the first and last days (more if they fit)
    assert [c.find("title").text for c in svg.iter("circle")] == [
        f"{days[0]}: 25 %",
        f"{days[1]}: 40 %",
        f"{days[2]}: 35 %",
    ]
    assert svg.find("line[@class='target']/title").text == "Target: 50 %"


@time_machine.travel(datetime(2026, 11, 18, 15, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)
def test_a_key_result_from_too_few_leads_carries_the_note(client_as):
    objective = ObjectiveFactory(quarter=current_quarter())
    KeyResultFactory(objective=objective, metric="close_rate", target="0.5", baseline="0.2")
    KeyResultFactory(objective=objective, metric="nps", target="40", baseline="0")  # no answers: "no data", no note
    history(("negotiation", "won", at(date(2026, 10, 5))))
    history(("negotiation", "won", at(date(2026, 10, 6))))
    history(("contacted", "lost", at(date(2026, 11, 2))))
    html = client_as("sales").get(reverse("okr:board")).content.decode()
    assert html.count('data-testid="sample-note"') == 1
    assert "based on 3 leads — too few to rely on" in html


# --- presets ------------------------------------------------------------------------------------------------------


def presets(html: str) -> dict[str, tuple[str, str]]:
    found = re.findall(r'href="\?([^"]+)" data-preset="(\w+)"', html)
    out = {}
    for query, key in found:
        values = parse_qs(query.replace("&amp;", "&"))
        out[key] = (values["start"][0], values["end"][0])
    return out


@pytest.mark.parametrize("name", REPORTS)
def test_every_report_offers_the_presets_as_local_dates(client_as, name):
    with time_machine.travel(datetime(2026, 11, 15, 12, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        html = client_as("sales").get(reverse(name)).content.decode()
    assert presets(html) == {  # end exclusive, like every period: this quarter runs to 31 December
        "this_month": ("2026-11-01", "2026-12-01"),
        "this_quarter": ("2026-10-01", "2027-01-01"),
        "last_quarter": ("2026-07-01", "2026-10-01"),
        "last_30_days": ("2026-10-17", "2026-11-16"),
        "this_year": ("2026-01-01", "2027-01-01"),
    }
    # Without a period the report shows this quarter, and says so.
    assert re.search(r'data-preset="this_quarter" title="[^"]+" aria-current="true"', html)


def test_presets_follow_the_local_date_not_utc(client_as):
    # 17:00 UTC on 30 September is 01:00 on 1 October in Shanghai: the fourth quarter already.
    with time_machine.travel(datetime(2026, 9, 30, 17, tzinfo=ZoneInfo("UTC")), tick=False):
        html = client_as("sales").get(reverse("okr:report-nps")).content.decode()
    found = presets(html)
    assert found["this_month"] == ("2026-10-01", "2026-11-01")
    assert found["last_quarter"] == ("2026-07-01", "2026-10-01")
    assert found["last_30_days"] == ("2026-09-02", "2026-10-02")


@time_machine.travel(datetime(2026, 11, 15, 12, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)
def test_a_preset_keeps_the_other_filters_and_marks_itself(client_as):
    ChannelFactory(code="web", name="Website")
    client = client_as("sales")
    params = {"channel": "web", "start": "2026-11-01", "end": "2026-12-01"}
    html = client.get(reverse("okr:report-funnel"), params).content.decode()
    link = re.search(r'href="\?([^"]+)" data-preset="last_quarter"', html)[1].replace("&amp;", "&")
    assert parse_qs(link) == {"channel": ["web"], "start": ["2026-07-01"], "end": ["2026-10-01"]}
    title = f"{date_format(date(2026, 11, 1))} – {date_format(date(2026, 11, 30))}"  # the days it covers
    assert f'data-preset="this_month" title="{title}" aria-current="true"' in html
    assert client.get(f"{reverse('okr:report-funnel')}?{link}").status_code == 200


# --- queries ------------------------------------------------------------------------------------------------------


def _activity(n: int) -> None:
    for i in range(n):
        day = date(2026, 1 + i % 12, 1 + i % 28)
        history(("new", "handed_off", at(day)), ("negotiation", "won", at(day + timedelta(days=i % 40))))
        NpsResponseFactory(score=i % 11, answered_at=at(day))


@pytest.mark.parametrize("n", [2, 30])
@pytest.mark.parametrize(
    "name", ["okr:report-funnel", "okr:report-cycle-time", "okr:report-nps", "okr:report-channels"]
)
@time_machine.travel(datetime(2027, 2, 1, 12, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)
def test_report_queries_do_not_grow(client_as, django_assert_max_num_queries, name, n):
    _activity(n)
    client = client_as("marketing")
    # session, user, groups, unread notifications, the channel choices, then the report's own: at most 3 (the
    # funnel's two counts, cycle time's buckets and percentiles, the NPS months and total, channels 3);
    # PostgreSQL adds SAVEPOINT, SET LOCAL and RELEASE around the metrics.
    with django_assert_max_num_queries(8 + (3 if connection.vendor == "postgresql" else 0)):
        response = client.get(reverse(name), YEAR)
    assert response.status_code == 200
