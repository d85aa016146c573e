"""Business days: weekends and each country's public holidays (the ``holidays`` package) do not count;
time runs in the counting time zone; ``add_business_days`` and ``business_days_between`` agree."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from portal.business_days import add_business_days, business_days_between, is_business_day
from tests.support.processes import run_python

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


def tokyo(*args) -> datetime:
    return datetime(*args, tzinfo=TOKYO)


def new_york(*args) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


# --- Which days count -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "country", "counts"),
    [
        # Golden Week 2026: Showa Day on Wednesday 29 April; Constitution Day on Sunday 3 May, so its
        # substitute holiday on Wednesday 6 May after Greenery Day and Children's Day.
        (date(2026, 4, 28), "JP", True),
        (date(2026, 4, 29), "JP", False),
        (date(2026, 5, 1), "JP", True),
        (date(2026, 5, 2), "JP", False),  # Saturday
        (date(2026, 5, 3), "JP", False),  # Sunday, Constitution Day
        (date(2026, 5, 4), "JP", False),
        (date(2026, 5, 5), "JP", False),
        (date(2026, 5, 6), "JP", False),  # substitute holiday
        (date(2026, 5, 7), "JP", True),
        (date(2026, 9, 22), "JP", False),  # the "national holiday" between two holidays
        (date(2026, 1, 2), "JP", True),  # the banks' New Year closing is not a public holiday
        # Thanksgiving 2026 is Thursday 26 November; the Friday after is not a federal holiday.
        (date(2026, 11, 25), "US", True),
        (date(2026, 11, 26), "US", False),
        (date(2026, 11, 27), "US", True),
        (date(2026, 7, 3), "US", False),  # Independence Day falls on a Saturday: observed on Friday
        (date(2026, 4, 29), "US", True),  # Japan's holidays are not the United States'
        (date(2026, 11, 26), "JP", True),
        (date(2026, 11, 28), "US", False),  # Saturday
        (date(2026, 11, 29), "US", False),  # Sunday
    ],
)
def test_weekends_and_the_countrys_public_holidays_are_not_business_days(day, country, counts):
    assert is_business_day(day, country=country) is counts


def test_a_country_without_a_holiday_calendar_has_weekends_only():
    assert is_business_day(date(2026, 1, 1), country="XX") is True  # a Thursday
    assert is_business_day(date(2026, 1, 3), country="XX") is False  # a Saturday


# --- The SLA across Golden Week and Thanksgiving ------------------------------------------------------------


def test_friday_evening_before_golden_week_is_due_three_business_days_later_at_the_same_time():
    submitted = tokyo(2026, 5, 1, 19, 0)
    due = add_business_days(submitted, 3, country="JP", tz=TOKYO)
    assert due == tokyo(2026, 5, 11, 19, 0)  # Thursday 7, Friday 8, Monday 11
    assert business_days_between(submitted, tokyo(2026, 5, 11, 18, 59), country="JP", tz=TOKYO) == 2
    assert business_days_between(submitted, due, country="JP", tz=TOKYO) == 3
    assert business_days_between(submitted, tokyo(2026, 5, 7, 12, 0), country="JP", tz=TOKYO) == 0
    assert business_days_between(submitted, tokyo(2026, 5, 7, 19, 0), country="JP", tz=TOKYO) == 1


def test_a_submission_during_golden_week_counts_from_the_start_of_the_next_business_day():
    for submitted in (tokyo(2026, 5, 2, 10, 0), tokyo(2026, 5, 4, 23, 59), tokyo(2026, 5, 6, 0, 0)):
        assert add_business_days(submitted, 0, country="JP", tz=TOKYO) == tokyo(2026, 5, 7, 0, 0)
        assert add_business_days(submitted, 3, country="JP", tz=TOKYO) == tokyo(2026, 5, 12, 0, 0)
        assert business_days_between(submitted, tokyo(2026, 5, 6, 23, 59), country="JP", tz=TOKYO) == 0
        assert business_days_between(submitted, tokyo(2026, 5, 11, 23, 59), country="JP", tz=TOKYO) == 2
        assert business_days_between(submitted, tokyo(2026, 5, 12, 0, 0), country="JP", tz=TOKYO) == 3


def test_thanksgiving_is_skipped_in_the_united_states():
    submitted = new_york(2026, 11, 25, 9, 30)
    assert add_business_days(submitted, 1, country="US", tz=NEW_YORK) == new_york(2026, 11, 27, 9, 30)
    assert add_business_days(submitted, 3, country="US", tz=NEW_YORK) == new_york(2026, 12, 1, 9, 30)
    assert business_days_between(submitted, new_york(2026, 11, 30, 12, 0), country="US", tz=NEW_YORK) == 2
    # The same dates in Japan: Thanksgiving is a working day there, the weekend is not.
    assert add_business_days(submitted, 3, country="JP", tz=NEW_YORK) == new_york(2026, 11, 30, 9, 30)


def test_weekends_are_skipped():
    friday = tokyo(2026, 6, 5, 10, 0)
    assert add_business_days(friday, 1, country="JP", tz=TOKYO) == tokyo(2026, 6, 8, 10, 0)
    assert add_business_days(friday, 5, country="JP", tz=TOKYO) == tokyo(2026, 6, 12, 10, 0)
    saturday = tokyo(2026, 6, 6, 10, 0)
    assert business_days_between(saturday, tokyo(2026, 6, 7, 23, 0), country="JP", tz=TOKYO) == 0
    assert business_days_between(saturday, tokyo(2026, 6, 9, 0, 0), country="JP", tz=TOKYO) == 1
    assert business_days_between(friday, tokyo(2026, 6, 15, 10, 0), country="JP", tz=TOKYO) == 6


# --- The two functions agree ------------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["JP", "US"])
def test_counting_the_days_added_gives_them_back_for_every_start_of_a_year(country):
    zone = TOKYO if country == "JP" else NEW_YORK
    start = datetime(2026, 1, 1, 17, 45, tzinfo=zone)
    for offset in range(0, 365, 3):
        moment = start + timedelta(days=offset)
        for days in (0, 1, 3, 7):
            due = add_business_days(moment, days, country=country, tz=zone)
            assert business_days_between(moment, due, country=country, tz=zone) == days, (moment, days)
            before = due - timedelta(microseconds=1)
            assert business_days_between(moment, before, country=country, tz=zone) == max(days - 1, 0)


def test_an_end_before_the_start_counts_backwards():
    submitted = tokyo(2026, 5, 1, 19, 0)
    assert business_days_between(tokyo(2026, 5, 11, 19, 0), submitted, country="JP", tz=TOKYO) == -3


# --- Time zones -----------------------------------------------------------------------------------------


def test_days_are_the_counting_zones_days():
    # 20:00 UTC on Wednesday 6 May is already 05:00 on Thursday 7 May in Tokyo.
    moment = datetime(2026, 5, 6, 20, 0, tzinfo=UTC)
    in_tokyo = add_business_days(moment, 1, country="JP", tz=TOKYO)
    assert in_tokyo == tokyo(2026, 5, 8, 5, 0) and in_tokyo.tzinfo == TOKYO
    assert add_business_days(moment, 1, country="JP", tz=UTC) == datetime(2026, 5, 8, 0, 0, tzinfo=UTC)


def test_without_a_zone_the_current_time_zone_counts():
    moment = datetime(2026, 5, 6, 20, 0, tzinfo=UTC)
    with timezone.override(TOKYO):
        assert add_business_days(moment, 1, country="JP") == tokyo(2026, 5, 8, 5, 0)
    assert add_business_days(moment, 1, country="JP") == datetime(2026, 5, 8, 0, 0, tzinfo=UTC)


def test_a_daylight_saving_change_keeps_the_local_time_of_day():
    friday = new_york(2026, 3, 6, 9, 0)  # clocks go forward on Sunday 8 March
    due = add_business_days(friday, 1, country="US", tz=NEW_YORK)
    assert due == new_york(2026, 3, 9, 9, 0) and due.utcoffset() == timedelta(hours=-4)


def test_naive_datetimes_and_negative_days_are_refused():
    with pytest.raises(ValueError, match="aware"):
        add_business_days(datetime(2026, 5, 1, 9, 0), 1, country="JP")  # noqa: DTZ001
    with pytest.raises(ValueError, match="aware"):
        business_days_between(tokyo(2026, 5, 1, 9, 0), datetime(2026, 5, 8, 9, 0), country="JP")  # noqa: DTZ001
    with pytest.raises(ValueError, match="0 or more"):
        add_business_days(tokyo(2026, 5, 1, 9, 0), -1, country="JP")


# --- The SLA setting --------------------------------------------------------------------------------------


def test_the_review_sla_is_three_business_days_unless_the_environment_says_otherwise(tmp_path):
    assert settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS == 3
    code = (
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS)"
    )
    result = run_python(code, {"ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS": "5"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "5"
