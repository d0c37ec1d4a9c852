"""The working-day calendar (ari_app.cases.calendar) on a controlled clock: a weekend, National Day 2026
(10-01..10-07 off, Sunday 09-20 and Saturday 10-10 worked), lunch and the end of the day, a start on a
holiday, the admin's days over the library's, and 2027, which the library does not know: counted by its
statutory holidays, or refused when the config says so."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ari_app.cases.calendar import (
    CONFIG,
    LIBRARY,
    LIBRARY_YEARS,
    STATUTORY,
    DayInfo,
    Limit,
    LimitUnit,
    WorkCalendar,
    statutory_holidays,
)
from ari_app.cases.errors import CalendarUnknownYear
from ari_app.protocol import DomainError, ErrorId

Z = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar(Z)


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=Z)


def test_the_library_knows_national_day_2026_and_its_adjusted_working_days() -> None:
    assert LIBRARY_YEARS.stop - 1 == 2026
    off = [date(2026, 10, d) for d in range(1, 8)]
    assert not any(CAL.is_working_day(d) for d in off)
    assert CAL.day(date(2026, 10, 1)).name == "国庆节"
    saturday = CAL.day(date(2026, 10, 10))
    assert (saturday.working, saturday.name, saturday.source, saturday.adjusted) == (True, "国庆节调休", LIBRARY, True)
    assert CAL.is_working_day(date(2026, 9, 20))  # a Sunday worked
    assert not CAL.is_working_day(date(2026, 10, 11))  # the Sunday after is not
    assert CAL.is_working_day(date(2026, 10, 8)) and CAL.is_working_day(date(2026, 10, 9))
    assert not CAL.is_working_day(date(2026, 10, 17))  # an ordinary Saturday


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (at(10, 16, 15), 1, at(10, 19, 17, 30)),  # Friday: the weekend does not count
        (at(10, 16, 15), 2, at(10, 20, 17, 30)),
        (at(9, 30, 15), 1, at(10, 8, 17, 30)),  # National Day does not count
        (at(9, 30, 15), 2, at(10, 9, 17, 30)),
        (at(9, 30, 15), 3, at(10, 10, 17, 30)),  # the adjusted working Saturday counts
        (at(9, 30, 15), 4, at(10, 12, 17, 30)),  # its Sunday does not
        (at(9, 30, 7), 1, at(10, 8, 17, 30)),  # before office hours: the day of receipt still does not count
        (at(9, 30, 23), 1, at(10, 8, 17, 30)),  # after them
        (at(10, 3, 10), 1, at(10, 8, 17, 30)),  # received on a holiday
        (at(10, 7, 23), 1, at(10, 8, 17, 30)),
        (at(10, 10, 10), 1, at(10, 12, 17, 30)),  # received on the adjusted Saturday
        (at(9, 30, 15), 0, at(9, 30, 15)),
    ],
)
def test_working_days_count_from_the_next_day_and_end_with_office_hours(
    start: datetime, days: int, due: datetime
) -> None:
    result = CAL.add_working_days(start, days)
    assert result == due and result.tzinfo == Z
    assert CAL.due(start, Limit(days, LimitUnit.WORKING_DAYS)) == due
    assert CAL.working_days_between(start, result) == days


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (at(9, 30, 11), 2, at(9, 30, 14, 30)),  # across lunch (12:00-13:30)
        (at(9, 30, 12, 30), 1, at(9, 30, 14, 30)),  # starting at lunch
        (at(9, 30, 9), 3, at(9, 30, 12)),  # ends with the morning: 12:00, not 13:30
        (at(9, 29, 17), 1, at(9, 30, 9, 30)),  # across the end of the day
        (at(9, 30, 7), 1, at(9, 30, 10)),  # before office hours
        (at(9, 30, 15), 3, at(10, 8, 9, 30)),  # across National Day
        (at(9, 30, 15), 2.5, at(9, 30, 17, 30)),
        (at(10, 16, 16, 30), 2, at(10, 19, 10)),  # across a weekend
        (at(10, 9, 16, 30), 2, at(10, 10, 10)),  # into the adjusted working Saturday
        (at(10, 10, 16, 30), 2, at(10, 12, 10)),  # out of it, over its Sunday
        (at(10, 4, 10), 0.5, at(10, 8, 9, 30)),  # started on a holiday
        (at(10, 4, 10), 0, at(10, 4, 10)),
    ],
)
def test_working_hours_run_only_in_office_hours_of_working_days(start: datetime, hours: float, due: datetime) -> None:
    assert CAL.add_working_hours(start, hours) == due
    assert CAL.due(start, Limit(hours, LimitUnit.WORKING_HOURS)) == due
    assert CAL.working_time(start, due) == timedelta(hours=hours)


def test_moments_in_another_zone_are_the_same_moments_and_come_back_in_the_centres() -> None:
    start = datetime(2026, 9, 30, 7, tzinfo=UTC)  # 15:00 in Urumqi's official (Beijing) time
    due = CAL.add_working_hours(start, 3)
    assert due == at(10, 8, 9, 30) and due.tzinfo == Z
    assert CAL.add_working_days(start, 2) == at(10, 9, 17, 30)
    with pytest.raises(ValueError, match="naive"):
        CAL.add_working_days(datetime(2026, 9, 30, 15), 1)


def test_working_time_between_two_moments() -> None:
    assert CAL.working_time(at(9, 30, 9), at(10, 9, 17, 30)) == timedelta(hours=21)  # 09-30, 10-08, 10-09
    assert CAL.working_time(at(10, 1), at(10, 7, 23)) == timedelta(0)
    assert CAL.working_time(at(10, 9, 17, 30), at(9, 30, 9)) == -timedelta(hours=21)
    assert CAL.working_time(at(9, 30, 12), at(9, 30, 13, 30)) == timedelta(0)


def test_office_hours_are_configurable() -> None:
    cal = WorkCalendar(Z, ((time(8, 30), time(12)), (time(14), time(18))))
    assert cal.add_working_days(at(9, 30, 15), 1) == at(10, 8, 18)
    assert cal.add_working_hours(at(9, 30, 11), 2) == at(9, 30, 15)
    with pytest.raises(ValueError, match="overlap"):
        WorkCalendar(Z, ((time(9), time(12)), (time(11), time(17))))


def test_the_admins_days_win_over_the_library() -> None:
    cal = WorkCalendar(
        Z,
        holidays={date(2026, 10, 9): "本市停工", date(2026, 10, 10): "调休取消"},
        workdays={date(2026, 10, 11): "本市补班"},
    )
    assert cal.day(date(2026, 10, 9)) == DayInfo(date(2026, 10, 9), False, "本市停工", CONFIG)
    assert cal.add_working_days(at(9, 30, 15), 2) == at(10, 11, 17, 30)
    assert cal.add_working_days(at(9, 30, 15), 3) == at(10, 12, 17, 30)
    assert [(d.day.day, d.source) for d in cal.special_days(2026) if d.day.month == 10] == [
        *((n, LIBRARY) for n in range(1, 8)),
        (9, CONFIG),
        (10, CONFIG),
        (11, CONFIG),
    ]
    with pytest.raises(ValueError, match="both"):
        WorkCalendar(Z, holidays={date(2026, 10, 9): "a"}, workdays={date(2026, 10, 9): "b"})


def test_a_year_nobody_knows_is_refused_naming_the_year_when_so_configured() -> None:
    strict = WorkCalendar(Z, unknown_years="refuse")
    with pytest.raises(CalendarUnknownYear) as info:
        strict.add_working_days(at(12, 31, 10), 1)  # 2027-01-01 must be known
    err = info.value
    assert isinstance(err, DomainError) and err.error_id is ErrorId.CALENDAR_UNKNOWN_YEAR
    assert err.detail == {"year": 2027} and "2027" in err.message and "calendar:" in err.message
    with pytest.raises(CalendarUnknownYear, match="2027"):
        strict.add_working_hours(at(12, 31, 17), 1)
    with pytest.raises(CalendarUnknownYear, match="2027"):
        strict.special_days(2027)
    for cal in (strict, CAL):  # before the library's years, nobody counts deadlines
        with pytest.raises(CalendarUnknownYear, match="2003"):
            cal.is_working_day(date(2003, 12, 31))
    assert strict.add_working_days(at(12, 30, 10), 1) == at(12, 31, 17, 30)  # 2026 alone is fine
    assert strict.add_working_hours(at(12, 31, 16), 1.5) == at(12, 31, 17, 30)
    assert strict.provisional_years(date(2026, 12, 1), date(2027, 2, 1)) == []
    with pytest.raises(ValueError, match="statutory or refuse"):
        WorkCalendar(Z, unknown_years="guess")


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_statutory_holidays_are_holidays_in_the_library_for_the_years_it_knows(year: int) -> None:
    """The provisional rule checked against the notices the library holds: every statutory day it computes
    (the lunar dates and 清明 by lunar-python) is a holiday of that year's notice, 13 of them."""
    days = statutory_holidays(year)
    assert len(days) == 13
    assert [d for d in days if CAL.is_working_day(d)] == []
    assert {CAL.day(d).name for d in days} == set(days.values())


def test_a_year_nobody_knows_is_counted_by_its_statutory_holidays() -> None:
    assert CAL.provisional_years(date(2026, 12, 1), date(2027, 2, 1)) == [2027]
    assert not CAL.provisional(2026) and CAL.provisional(2028)
    new_year = CAL.day(date(2027, 1, 1))
    assert (new_year.working, new_year.name, new_year.source, new_year.provisional) == (False, "元旦", STATUTORY, True)
    assert [d.day for d in CAL.special_days(2027) if d.name == "春节"] == [date(2027, 2, d) for d in (5, 6, 7, 8)]
    monday = CAL.day(date(2027, 1, 4))
    assert (monday.working, monday.source, monday.provisional) == (True, None, True)
    assert not CAL.day(date(2027, 1, 9)).working  # a Saturday, no 调休 known
    assert CAL.add_working_days(at(12, 31, 10), 1) == at(1, 4, 17, 30, year=2027)  # 1 January off, a weekend
    assert CAL.add_working_days(at(2, 3, 10, year=2027), 2) == at(2, 9, 17, 30, year=2027)  # across 春节
    assert CAL.add_working_hours(at(12, 31, 17), 1) == at(1, 4, 9, 30, year=2027)
    assert not CAL.day(date(2026, 12, 31)).provisional


def test_2027_is_known_once_the_admin_enters_it() -> None:
    new_year = {date(2027, 1, 1): "元旦"}
    cal = WorkCalendar(Z, holidays=new_year, workdays={date(2027, 2, 7): "春节调休"})
    assert cal.add_working_days(at(12, 31, 10), 1) == at(1, 4, 17, 30, year=2027)  # Friday off, then a weekend
    assert cal.add_working_hours(at(12, 31, 17), 1) == at(1, 4, 9, 30, year=2027)
    assert [(d.day, d.working, d.source) for d in cal.special_days(2027)] == [
        (date(2027, 1, 1), False, CONFIG),
        (date(2027, 2, 7), True, CONFIG),
    ]
    only_a_workday = WorkCalendar(Z, workdays={date(2027, 2, 7): "春节调休"}, unknown_years="refuse")
    with pytest.raises(CalendarUnknownYear):  # a year is known by its holidays, not by a worked Sunday alone
        only_a_workday.is_working_day(date(2027, 2, 8))


def test_limits_are_whole_working_days_and_never_negative() -> None:
    assert str(Limit(2, LimitUnit.WORKING_DAYS)) == "2 working days"
    assert str(Limit(1.5, LimitUnit.WORKING_HOURS)) == "1.5 working hours"
    with pytest.raises(ValueError):
        Limit(1.5, LimitUnit.WORKING_DAYS)
    with pytest.raises(ValueError):
        Limit(-1, LimitUnit.WORKING_HOURS)


# --- properties, on starts from 2026-01-01 to mid-November (deadlines stay inside the known year) ---------

starts = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 11, 15), timezones=st.just(Z)).map(
    lambda d: d.replace(second=0, microsecond=0)
)
day_counts = st.integers(min_value=0, max_value=15)
minutes = st.integers(min_value=0, max_value=60 * 7 * 10)


def _in_office_hours(cal: WorkCalendar, moment: datetime) -> bool:
    local = moment.astimezone(Z)
    return cal.is_working_day(local.date()) and any(a < local.time() <= b for a, b in cal.office_hours)


@settings(max_examples=200, deadline=None)
@given(starts, day_counts, day_counts)
def test_adding_working_days_is_monotonic_composes_and_lands_on_the_end_of_a_working_day(
    start: datetime, a: int, b: int
) -> None:
    first = CAL.add_working_days(start, a)
    if a:
        assert _in_office_hours(CAL, first) and first.timetz() == time(17, 30, tzinfo=Z)
        assert CAL.working_days_between(start, first) == a
    assert (first <= CAL.add_working_days(start, a + 1)) and (CAL.add_working_days(start, a + 1) > start)
    assert CAL.add_working_days(first, b) == CAL.add_working_days(start, a + b)
    later = start + timedelta(hours=7)
    assert CAL.add_working_days(later, a + 1) >= CAL.add_working_days(start, a + 1)


@settings(max_examples=200, deadline=None)
@given(starts, minutes, minutes)
def test_adding_working_hours_is_monotonic_composes_and_measures_back(start: datetime, a: int, b: int) -> None:
    first = CAL.add_working_hours(start, timedelta(minutes=a))
    both = CAL.add_working_hours(start, timedelta(minutes=a + b))
    if a:
        assert _in_office_hours(CAL, first)
    assert start <= first <= both
    assert CAL.add_working_hours(first, timedelta(minutes=b)) == both
    assert CAL.working_time(start, first) == timedelta(minutes=a)
    assert CAL.working_time(start, both) == timedelta(minutes=a + b)


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(2004, 1, 2), max_value=datetime(2027, 12, 31)),
    st.datetimes(min_value=datetime(2004, 1, 2), max_value=datetime(2027, 12, 31)),
)
def test_working_days_between_equals_the_day_by_day_count(a: datetime, b: datetime) -> None:
    """The count read from the per-year tallies is the count of working days one by one, either way round,
    across years (2027 counted by its statutory holidays) and National Day's adjusted Saturday."""
    start, end = a.replace(tzinfo=Z), b.replace(tzinfo=Z)
    lo, hi = sorted((start.date(), end.date()))
    one_by_one = sum(CAL.is_working_day(lo + timedelta(days=n)) for n in range(1, (hi - lo).days + 1))
    assert CAL.working_days_between(start, end) == (one_by_one if end.date() >= start.date() else -one_by_one)


def test_working_days_between_refuses_a_year_nobody_knows_only_when_it_reaches_it() -> None:
    strict = WorkCalendar(Z, unknown_years="refuse")
    assert strict.working_days_between(at(12, 1), at(12, 31)) == 22
    with pytest.raises(CalendarUnknownYear):
        strict.working_days_between(at(12, 1), at(1, 4, year=2027))
