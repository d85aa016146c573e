"""Business days: weekdays that are not public holidays, per country, from the ``holidays`` package.

A business day is a local calendar day of ``country`` that its ``holidays`` calendar calls a working day:
not a weekend day (Saturday and Sunday in Japan and the United States; the package knows the countries
whose weekend differs) and not a public holiday, substitute and observed days included (Japan's
振替休日 and 国民の休日, the US Friday before an Independence Day that falls on a Saturday). Only public
holidays count: bank closings and one company's own days off do not. A country the package does not know
has weekends only.

Counting and rounding
    Time runs in the given time zone (the current Django time zone unless ``tz`` says otherwise: pass the
    program's own, e.g. ``ZoneInfo("Asia/Tokyo")``). Business time passes only during business days; one
    business day is 24 hours of it. A moment outside business days (a Saturday, a holiday) counts from
    00:00 of the next business day. So:

    - ``add_business_days(start, n)`` is the moment n business days after ``start``: the same time of day,
      n business days later (from 00:00 of the next business day when ``start`` is not in one);
    - ``business_days_between(start, end)`` is the number of whole business days elapsed: the largest n
      with ``add_business_days(start, n) <= end`` (negative when ``end`` is before ``start``).

    For example, in Japan an enrollment submitted on Friday 1 May 2026 at 19:00, before the Golden Week
    holidays (Monday 4 to Wednesday 6 May), is due three business days later on Monday 11 May at 19:00
    (Thursday 7, Friday 8 and Monday 11 are the business days); one submitted on Saturday 2 May at any
    time is due at 00:00 on Tuesday 12 May, i.e. by the end of Monday 11 May.

Every datetime given must be aware; the results are aware, in the counting time zone.
"""

import functools
import threading
from datetime import date, datetime, time, timedelta, tzinfo

import holidays
from django.utils import timezone


class _WeekendsOnly(holidays.HolidayBase):
    """The calendar of a country the package does not know: Saturday and Sunday off, no holidays."""


@functools.lru_cache(maxsize=300)  # more than there are countries, bounded whatever callers pass
def _calendar(country: str) -> holidays.HolidayBase:
    try:
        return holidays.country_holidays(country, categories=holidays.PUBLIC)
    except NotImplementedError:
        return _WeekendsOnly()


# A calendar computes each year's holidays the first time a date of that year is asked about: one
# thread at a time, so that no reader sees a year half filled in.
_calendar_lock = threading.Lock()


def is_business_day(day: date, *, country: str) -> bool:
    """Whether ``day`` is a business day in ``country`` (ISO 3166 code)."""
    with _calendar_lock:
        return _calendar(str(country).upper()).is_working_day(day)


def _local(moment: datetime, tz: tzinfo | None) -> datetime:
    if timezone.is_naive(moment):
        raise ValueError("Business days are counted from aware datetimes only.")
    return moment.astimezone(tz or timezone.get_current_timezone())


def _business_start(moment: datetime, *, country: str, tz: tzinfo | None) -> datetime:
    """``moment`` in local time, or 00:00 of the next business day when it is not in one."""
    local = _local(moment, tz)
    calendar = _calendar(str(country).upper())
    with _calendar_lock:
        if calendar.is_working_day(local.date()):
            return local
        next_day = calendar.get_nth_working_day(local.date(), 0)
    return datetime.combine(next_day, time(0), tzinfo=local.tzinfo)


def add_business_days(start: datetime, days: int, *, country: str, tz: tzinfo | None = None) -> datetime:
    """The moment ``days`` (≥ 0) business days after ``start`` in ``country`` (see the module's rules)."""
    if days < 0:
        raise ValueError("add_business_days counts forward: days must be 0 or more.")
    begin = _business_start(start, country=country, tz=tz)
    with _calendar_lock:
        day = _calendar(str(country).upper()).get_nth_working_day(begin.date(), days)
    return datetime.combine(day, begin.time(), tzinfo=begin.tzinfo)


def business_days_between(start: datetime, end: datetime, *, country: str, tz: tzinfo | None = None) -> int:
    """Whole business days from ``start`` to ``end`` in ``country`` (see the module's rules)."""
    finish = _local(end, tz)
    if finish < _local(start, tz):
        return -business_days_between(end, start, country=country, tz=tz)
    begin = _business_start(start, country=country, tz=tz)
    if finish.date() <= begin.date():
        return 0
    calendar = _calendar(str(country).upper())
    with _calendar_lock:
        # Business days after the first one, up to and including the last day...
        days = calendar.get_working_days_count(begin.date() + timedelta(days=1), finish.date())
        last_day_counts = calendar.is_working_day(finish.date())
    # ...less the last one when it has not yet reached the starting time of day.
    if last_day_counts and finish.time() < begin.time():
        days -= 1
    return days
