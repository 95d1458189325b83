import csv
import io
from datetime import date, timedelta

import pytest
from django.urls import reverse

from tests.factories import NpsResponseFactory
from tests.okr.conftest import at, history

pytestmark = pytest.mark.django_db
PERIOD = {"start": "2026-03-01", "end": "2026-04-01"}


def _csv(response):
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_cycle_time_histogram_buckets_in_sql_against_the_benchmark(client_as):
    history(("new", "handed_off", at(date(2026, 1, 1))), ("negotiation", "won", at(date(2026, 3, 1))))
    starts = {3: date(2026, 3, 2), 10: date(2026, 3, 5), 30: date(2026, 2, 1), 100: date(2025, 12, 1)}
    for days, handed in starts.items():
        history(("new", "handed_off", at(handed)), ("negotiation", "won", at(handed + timedelta(days=days))))
    client = client_as("sales")
    response = client.get(reverse("okr:report-cycle-time"), PERIOD)
    assert response.status_code == 200
    assert '<svg class="chart bars"' in response.content.decode() and "Benchmark 28 days" in response.content.decode()
    rows = _csv(client.get(reverse("okr:report-cycle-time"), {**PERIOD, "format": "csv"}))
    counts = {(r[0], r[1]): int(r[2]) for r in rows[1:]}
    assert counts[("0", "7")] == 1  # 3 days
    assert counts[("7", "14")] == 1  # 10 days
    assert counts[("28", "35")] == 1  # 30 days
    assert counts[("56", "90")] == 1  # 59 days (1 Jan → 1 Mar)
    assert counts[("90", "")] == 1  # 100 days


def test_funnel_page_and_csv(client_as):
    client = client_as("marketing")
    assert client.get(reverse("okr:report-funnel"), PERIOD).status_code == 200
    rows = _csv(client.get(reverse("okr:report-funnel"), {**PERIOD, "format": "csv"}))
    assert rows[0] == ["stage", "count", "drop_off"] and rows[1][0] == "new"


def test_channel_report_csv(client_as):
    rows = _csv(client_as("service").get(reverse("okr:report-channels"), {**PERIOD, "format": "csv"}))
    assert rows == [["channel", "name", "cost", "revenue", "customers_won", "roi", "cac", "model"]]


def test_nps_trend_by_month(client_as):
    NpsResponseFactory(score=10, answered_at=at(date(2026, 1, 10)))
    NpsResponseFactory(score=0, answered_at=at(date(2026, 2, 10)))
    NpsResponseFactory(score=9, answered_at=at(date(2026, 2, 11)))
    client = client_as("service")
    params = {"start": "2026-01-01", "end": "2026-04-01"}
    response = client.get(reverse("okr:report-nps"), params)
    assert response.status_code == 200 and '<svg class="chart line"' in response.content.decode()
    rows = _csv(client.get(reverse("okr:report-nps"), {**params, "format": "csv"}))
    assert rows[1:] == [["2026-01", "1", "1", "0", "100"], ["2026-02", "2", "1", "1", "0"]]


def test_bad_period_is_400_naming_the_field(client_as):
    response = client_as("sales").get(reverse("okr:report-funnel"), {"start": "2026-04-01", "end": "2026-03-01"})
    assert response.status_code == 400
    assert 'data-field="end"' in response.content.decode()
