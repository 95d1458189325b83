from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from okr import tasks
from okr.models import MetricSnapshot
from okr.selectors import current_quarter, quarter_bounds
from tests.factories import KeyResultFactory, ObjectiveFactory
from tests.okr.conftest import at, history

pytestmark = pytest.mark.django_db


def test_daily_snapshot_is_idempotent(django_capture_on_commit_callbacks):
    quarter = current_quarter()
    start, _end = quarter_bounds(quarter)
    history(("negotiation", "won", at(start)))
    bound = KeyResultFactory(objective=ObjectiveFactory(quarter=quarter), metric="close_rate")
    manual = KeyResultFactory(objective=ObjectiveFactory(quarter=quarter), manual_value=Decimal("12.5"))
    KeyResultFactory(objective=ObjectiveFactory(quarter="2020Q1"), metric="close_rate")  # another quarter

    tasks.snapshot_key_results.delay(start.isoformat())
    tasks.snapshot_key_results.delay(start.isoformat())

    assert MetricSnapshot.objects.count() == 2
    assert MetricSnapshot.objects.get(key_result=bound).value == Decimal("1")
    assert MetricSnapshot.objects.get(key_result=manual).value == Decimal("12.5")


def test_snapshot_of_a_day_only_counts_data_up_to_that_day():
    quarter = "2026Q1"
    history(("negotiation", "won", at(date(2026, 1, 5))))
    history(("negotiation", "lost", at(date(2026, 1, 6))))
    kr = KeyResultFactory(objective=ObjectiveFactory(quarter=quarter), metric="close_rate")
    call_command("okr_backfill_snapshots", quarter)
    call_command("okr_backfill_snapshots", quarter)  # idempotent
    values = dict(MetricSnapshot.objects.filter(key_result=kr).values_list("date", "value"))
    assert len(values) == 90  # every day of 2026Q1
    assert values[date(2026, 1, 4)] is None
    assert values[date(2026, 1, 5)] == Decimal("1")
    assert values[date(2026, 1, 6)] == Decimal("0.5")
    assert values[date(2026, 3, 31)] == Decimal("0.5")


def test_backfill_task_stops_at_today():
    quarter = current_quarter()
    start, _end = quarter_bounds(quarter)
    kr = KeyResultFactory(objective=ObjectiveFactory(quarter=quarter), manual_value=1)
    tasks.backfill_snapshots.delay(quarter)
    from django.utils import timezone

    assert MetricSnapshot.objects.filter(key_result=kr).count() == (timezone.localdate() - start).days + 1
    assert not MetricSnapshot.objects.filter(date__gt=timezone.localdate()).exists()
    assert timedelta(days=1)
