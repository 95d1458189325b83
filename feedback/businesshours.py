"""SLA clocks in business hours (RELAY_WORKING_HOURS/DAYS/HOLIDAYS) or plain hours when not configured.

RELAY_WORKING_HOURS "09:00-18:00" (empty: the clock runs around the clock), RELAY_WORKING_DAYS
weekday numbers Monday=0 ("0,1,2,3,4"), RELAY_HOLIDAYS ISO dates. Times are counted in TIME_ZONE.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone


@dataclass(frozen=True)
class Calendar:
    start: time
    end: time
    days: frozenset[int]
    holidays: frozenset[date]

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.holidays


def calendar() -> Calendar | None:
    """The configured working calendar, or None for plain 24/7 hours."""
    raw = (getattr(settings, "RELAY_WORKING_HOURS", "") or "").strip()
    if not raw:
        return None
    try:
        start_s, end_s = raw.split("-")
        start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
        days = frozenset(int(d) for d in getattr(settings, "RELAY_WORKING_DAYS", [0, 1, 2, 3, 4]))
        holidays = frozenset(
            h if isinstance(h, date) else date.fromisoformat(str(h).strip())
            for h in getattr(settings, "RELAY_HOLIDAYS", [])
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"RELAY_WORKING_HOURS/DAYS/HOLIDAYS are invalid: {exc}") from None
    if start >= end or not days or not days <= set(range(7)):
        raise ImproperlyConfigured("RELAY_WORKING_HOURS must be 'HH:MM-HH:MM' with start before end, on days 0-6.")
    return Calendar(start, end, days, holidays)


def _window(cal: Calendar, day: date, tz) -> tuple[datetime, datetime]:
    return (
        timezone.make_aware(datetime.combine(day, cal.start), tz),
        timezone.make_aware(datetime.combine(day, cal.end), tz),
    )


def add_business_time(start: datetime, delta: timedelta) -> datetime:
    """The moment `delta` of working time after `start` (plain addition without a calendar)."""
    cal = calendar()
    if cal is None or delta <= timedelta(0):
        return start + delta
    tz = timezone.get_current_timezone()
    cursor = timezone.localtime(start, tz)
    remaining = delta
    day = cursor.date()
    for _ in range(3660):  # ten years of days is a configuration error, not an SLA
        if cal.is_working_day(day):
            open_at, close_at = _window(cal, day, tz)
            begin = max(cursor, open_at)
            if begin < close_at:
                available = close_at - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += timedelta(days=1)
        cursor = timezone.make_aware(datetime.combine(day, time.min), tz)
    raise ImproperlyConfigured("No working time found within ten years; check RELAY_WORKING_DAYS and RELAY_HOLIDAYS.")


def add_business_hours(start: datetime, hours: float) -> datetime:
    return add_business_time(start, timedelta(hours=hours))


def business_time_between(start: datetime, end: datetime) -> timedelta:
    """Working time from `start` to `end` (plain difference without a calendar)."""
    if end <= start:
        return timedelta(0)
    cal = calendar()
    if cal is None:
        return end - start
    tz = timezone.get_current_timezone()
    start, end = timezone.localtime(start, tz), timezone.localtime(end, tz)
    total = timedelta(0)
    day = start.date()
    while day <= end.date():
        if cal.is_working_day(day):
            open_at, close_at = _window(cal, day, tz)
            begin, finish = max(start, open_at), min(end, close_at)
            if finish > begin:
                total += finish - begin
        day += timedelta(days=1)
    return total
