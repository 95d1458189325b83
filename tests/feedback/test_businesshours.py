from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from feedback import businesshours


def at(*args):
    return timezone.make_aware(datetime(*args))


def test_plain_hours_without_a_calendar(settings):
    settings.RELAY_WORKING_HOURS = ""
    assert businesshours.add_business_hours(at(2025, 3, 8, 23, 0), 2) == at(2025, 3, 9, 1, 0)
    assert businesshours.business_time_between(at(2025, 3, 8), at(2025, 3, 9)) == timedelta(hours=24)


def test_calendar_skips_nights_weekends_and_holidays(settings):
    settings.RELAY_WORKING_HOURS = "09:00-18:00"
    settings.RELAY_WORKING_DAYS = ["0", "1", "2", "3", "4"]
    settings.RELAY_HOLIDAYS = ["2025-10-01"]  # Wednesday
    assert businesshours.add_business_hours(at(2025, 9, 30, 17, 30), 1) == at(2025, 10, 2, 9, 30)
    assert businesshours.add_business_hours(at(2025, 3, 8, 12, 0), 9) == at(2025, 3, 10, 18, 0)  # Saturday start
    assert businesshours.business_time_between(at(2025, 3, 7, 17, 0), at(2025, 3, 10, 10, 0)) == timedelta(hours=2)


def test_bad_calendar_is_refused_loudly(settings):
    settings.RELAY_WORKING_HOURS = "18:00-09:00"
    with pytest.raises(ImproperlyConfigured):
        businesshours.add_business_hours(at(2025, 3, 7, 9, 0), 1)
