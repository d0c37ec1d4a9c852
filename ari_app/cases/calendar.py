"""The working-day calendar: which days are working days, and deadlines counted in working days or working
hours, in the centre's time zone (config `centre.timezone`, office hours and admin data under `calendar:`).

Which days are working days. China's public holidays and adjusted working days (调休: a weekend day worked
in exchange for a longer holiday, such as Saturday 2026-10-10 after National Day) are announced each year by
the State Council's General Office (国务院办公厅关于…部分节假日安排的通知). They come from the
`chinese-calendar` library (its data covers 2004-2026 in version 1.11.0), overridden by the days the admin
enters (`calendar.holidays`, `calendar.workdays`): an entered day wins over the library, and the library over
the weekday rule (Monday to Friday work). A year the library does not cover is known once the admin enters
at least one holiday in it (enter the whole notice).

A year nobody knows yet. Next year's notice comes out late in the year (2026's on 2025-11-04), and a library
release with it later still, while a December case's 15 working days already reach into January. By default
(config `calendar.unknown_years: statutory`) such a year is counted provisionally: its days off are the
statutory holidays that 《全国年节及纪念日放假办法》 fixes for every year (as amended by 国务院令第795号, in force
from 2025-01-01: 元旦 1 January; 春节 the lunar New Year's Eve and days 1-3; 清明节 the day of the solar
term; 劳动节 1-2 May; 端午节 the 5th of the 5th lunar month; 中秋节 the 15th of the 8th; 国庆节 1-3 October;
lunar dates and the solar term from the `lunar-python` library), weekends off, and no 调休, which only the
notice says. `provisional_years` names such years (`hotline status` and `hotline calendar check` say so), and
a deadline counted through one can be a few days early or late around a long holiday until the admin enters
the notice; deadlines already set are not counted again. With `unknown_years: refuse` any computation that
needs a day of a year nobody knows raises `CalendarUnknownYear` naming the year instead.

How a limit in working days is counted (`add_working_days`). The rule of Chinese law for periods, which the
12345 rules (and 行政许可法 第八十二条, "期限以工作日计算，不含法定节假日") follow: the day the period begins
on is not counted, counting starts on the next day (民法典 第二百零一条, "开始的当日不计入，自下一日开始计算");
the last day ends when business ends on it (民法典 第二百零三条, "有业务时间的，停止业务活动的时间为截止时间").
So a case received at any time on 2026-09-30 (a Wednesday) with 2 working days is due when the last office
period of the second following working day ends: 2026-10-09 17:30, National Day (10-01..10-07) and the
weekend between not counted, 10-08 being day 1. The start's time of day does not matter, nor whether it
falls in office hours or on a holiday: a case received on Saturday 2026-10-03 with 1 working day is due
2026-10-08 17:30, the same as one received on 10-07 at 23:00.

How a limit in working hours is counted (`add_working_hours`). Only time inside the office periods of
working days runs; a start outside them (at night, at lunch, on a holiday) waits for the next period to
begin. The deadline is the moment the last of the hours is used up, which may be the end of a period (12:00,
17:30): 3 working hours from 2026-09-30 15:00 are due 2026-10-08 09:30 (2.5 h on 09-30, 0.5 h on 10-08).

All moments in and out are aware datetimes; results are in the centre's time zone. Arithmetic is done in
UTC, so a zone with summer time would count real hours.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import cache
from itertools import pairwise
from typing import Final
from zoneinfo import ZoneInfo

from ari_app.cases.errors import CalendarUnknownYear
from ari_app.config import DEFAULT_OFFICE_HOURS, Config

LIBRARY: Final = "library"
CONFIG: Final = "config"
STATUTORY: Final = "statutory"
"""The source of a holiday of a year nobody knows, counted provisionally by the statutory holidays alone."""


def _library() -> tuple[dict[date, str], dict[date, str], str]:
    """The library's holidays and adjusted working days (date: English holiday name) and its version."""
    import chinese_calendar  # type: ignore[import-untyped]  # chinese-calendar ships no type information

    holidays = {day: str(name) for day, name in chinese_calendar.holidays.items()}
    workdays = {day: str(name) for day, name in chinese_calendar.workdays.items()}
    return holidays, workdays, str(chinese_calendar.__version__)


_LIB_HOLIDAYS, _LIB_WORKDAYS, LIBRARY_VERSION = _library()
LIBRARY_YEARS: Final = range(min(_LIB_HOLIDAYS).year, max(_LIB_HOLIDAYS).year + 1)
"""The years the library's data covers (2004..2026 in chinese-calendar 1.11.0)."""
LOOKAHEAD: Final = timedelta(days=60)
"""How far ahead `hotline status` looks for a provisional year: past the longest usual handling limit (15
working days) with an extension of as many again."""

_CHINESE_NAMES: Final = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
}


@cache
def statutory_holidays(year: int) -> dict[date, str]:
    """The days off 《全国年节及纪念日放假办法》 (国务院令第795号, in force from 2025-01-01) gives every citizen in
    `year`, by date: 元旦, 春节 (the lunar New Year's Eve and days 1-3), 清明节, 劳动节 (1-2 May), 端午节,
    中秋节, 国庆节 (1-3 October); 13 days. Without the year's 调休, which only the State Council's notice says.
    ValueError for a year before 2025, when the rule had 11 days."""
    from lunar_python import Lunar, Solar  # type: ignore[import-untyped]  # lunar-python ships no type information

    if year < 2025:
        raise ValueError(f"the statutory holidays of {year} followed an older rule; the library knows that year")

    def lunar(month: int, day: int) -> date:
        solar = Lunar.fromYmd(year, month, day).getSolar()
        return date(solar.getYear(), solar.getMonth(), solar.getDay())

    qingming = Solar.fromYmd(year, 4, 15).getLunar().getJieQiTable()["清明"]
    new_year = lunar(1, 1)
    days = {date(year, 1, 1): "元旦"}
    days.update({new_year + timedelta(days=n): "春节" for n in range(-1, 3)})
    days[date(qingming.getYear(), qingming.getMonth(), qingming.getDay())] = "清明节"
    days.update({date(year, 5, d): "劳动节" for d in (1, 2)})
    days[lunar(5, 5)] = "端午节"
    days[lunar(8, 15)] = "中秋节"
    days.update({date(year, 10, d): "国庆节" for d in (1, 2, 3)})
    return days


class LimitUnit(StrEnum):
    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"
    HOURS = "hours"  # clock hours, around the clock (an emergency's dispatch limit does not wait for Monday)


LIMIT_MAX: Final = 10_000
"""The largest `Limit.amount`, in its unit (working days or hours)."""


@dataclass(frozen=True)
class Limit:
    """A time limit as the rules give it: `amount` working days (a whole number) or working hours. The
    deadlines of a work order (dispatch, sign-for, feedback, handling) are each one of these, by request
    type and urgency; `WorkCalendar.due` turns one into a moment."""

    amount: float
    unit: LimitUnit

    def __post_init__(self) -> None:
        if not 0 <= self.amount <= LIMIT_MAX:
            raise ValueError(f"a limit is a number 0..{LIMIT_MAX}, got {self.amount}")
        if self.unit is LimitUnit.WORKING_DAYS and self.amount != int(self.amount):
            raise ValueError(f"working days are whole, got {self.amount}")

    def __str__(self) -> str:
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount} {self.unit.value.replace('_', ' ')}"


@dataclass(frozen=True)
class DayInfo:
    """What the calendar says of one day: working or not, the holiday (or adjusted working day) it belongs
    to, and where that came from: `library`, `config`, or None for an ordinary weekday or weekend day."""

    day: date
    working: bool
    name: str | None
    source: str | None
    provisional: bool = False
    """Of a year nobody knows, counted by the statutory holidays alone (`STATUTORY`)."""

    @property
    def adjusted(self) -> bool:
        """A weekend day worked (调休), or a weekday off: not what the weekday rule alone says."""
        return self.working != (self.day.weekday() < 5)


class WorkCalendar:
    """Working days and office hours of one centre (see the module's text for the counting rules).

    `holidays` and `workdays` are the admin's days (date: name); `office_hours` the periods of a working day,
    in order and not overlapping, as local times of `zone`; `unknown_years` `statutory` or `refuse` (what a
    year nobody knows does, see the module's text)."""

    def __init__(
        self,
        zone: tzinfo | str = "Asia/Shanghai",
        office_hours: tuple[tuple[time, time], ...] = DEFAULT_OFFICE_HOURS,
        holidays: Mapping[date, str] | None = None,
        workdays: Mapping[date, str] | None = None,
        unknown_years: str = STATUTORY,
    ) -> None:
        if unknown_years not in (STATUTORY, "refuse"):
            raise ValueError(f"unknown_years is statutory or refuse, got {unknown_years!r}")
        self.unknown_years = unknown_years
        self.zone = ZoneInfo(zone) if isinstance(zone, str) else zone
        if not office_hours or any(end <= start for start, end in office_hours):
            raise ValueError("office hours are one or more periods, each ending after it begins")
        if any(a[1] > b[0] for a, b in pairwise(office_hours)):
            raise ValueError("office hours are in order and do not overlap")
        self.office_hours = office_hours
        self.holidays = dict(holidays or {})
        self.workdays = dict(workdays or {})
        both = self.holidays.keys() & self.workdays.keys()
        if both:
            raise ValueError(f"{min(both)} is both a holiday and a working day")
        self.admin_years = frozenset(d.year for d in self.holidays)
        """Years outside the library's that the admin's holidays make known."""
        self._counts: dict[int, list[int]] = {}

    @classmethod
    def from_config(cls, cfg: Config) -> WorkCalendar:
        cal = cfg.calendar
        return cls(
            cfg.timezone,
            cal.office_hours,
            {d.day: d.name for d in cal.holidays},
            {d.day: d.name for d in cal.workdays},
            cal.unknown_years,
        )

    # --- days -------------------------------------------------------------------------------------------

    def knows(self, year: int) -> bool:
        return year in LIBRARY_YEARS or year in self.admin_years

    def provisional(self, year: int) -> bool:
        """`year` is counted by the statutory holidays alone until its notice is entered."""
        return not self.knows(year) and self.unknown_years == STATUTORY and year >= LIBRARY_YEARS.stop

    def provisional_years(self, start: date, end: date) -> list[int]:
        """The years from `start` to `end` (both included) counted provisionally: what `hotline status` warns
        of ahead of time, LOOKAHEAD from today)."""
        return [y for y in range(start.year, end.year + 1) if self.provisional(y)]

    def day(self, day: date) -> DayInfo:
        """What the calendar says of `day`; CalendarUnknownYear for a day of a year nobody knows."""
        if day in self.workdays:
            return DayInfo(day, True, self.workdays[day], CONFIG)
        if day in self.holidays:
            return DayInfo(day, False, self.holidays[day], CONFIG)
        if day.year in LIBRARY_YEARS:
            if day in _LIB_WORKDAYS:
                return DayInfo(day, True, _chinese(_LIB_WORKDAYS[day]) + "调休", LIBRARY)
            if day in _LIB_HOLIDAYS:
                return DayInfo(day, False, _chinese(_LIB_HOLIDAYS[day]), LIBRARY)
        elif day.year not in self.admin_years:
            if not self.provisional(day.year):
                raise CalendarUnknownYear(
                    f"the working-day calendar does not know {day.year}: the holiday library (chinese-calendar "
                    f"{LIBRARY_VERSION}) covers {LIBRARY_YEARS.start}-{LIBRARY_YEARS.stop - 1}; enter "
                    f"{day.year}'s holidays and adjusted working days (the State Council's notice) under "
                    "`calendar:` in the config, or count it provisionally with `calendar.unknown_years: statutory`",
                    year=day.year,
                )
            name = statutory_holidays(day.year).get(day)
            if name is not None:
                return DayInfo(day, False, name, STATUTORY, provisional=True)
            return DayInfo(day, day.weekday() < 5, None, None, provisional=True)
        return DayInfo(day, day.weekday() < 5, None, None)

    def is_working_day(self, day: date) -> bool:
        return self.day(day).working

    def special_days(self, year: int) -> list[DayInfo]:
        """The year's holidays and adjusted working days, in date order (`hotline calendar check`); raises
        CalendarUnknownYear for a year nobody knows."""
        first = date(year, 1, 1)
        days = (self.day(first + timedelta(days=n)) for n in range((date(year + 1, 1, 1) - first).days))
        return [info for info in days if info.source is not None or info.adjusted]

    # --- moments ----------------------------------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        """`moment` in the centre's time zone; a naive datetime is refused (whose clock would it be?)."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("naive datetime; pass an aware one (datetime.now(UTC))")
        return moment.astimezone(self.zone)

    def periods(self, day: date) -> list[tuple[datetime, datetime]]:
        """The office periods of `day` as UTC moments; none on a day that is not a working day."""
        if not self.is_working_day(day):
            return []
        return [
            (
                datetime.combine(day, start, tzinfo=self.zone).astimezone(UTC),
                datetime.combine(day, end, tzinfo=self.zone).astimezone(UTC),
            )
            for start, end in self.office_hours
        ]

    def _days_from(self, day: date) -> Iterator[date]:
        while True:
            yield day
            day += timedelta(days=1)

    def end_of_day(self, day: date) -> datetime:
        """When the last office period of `day` ends, local time (whether or not it is a working day)."""
        return datetime.combine(day, self.office_hours[-1][1], tzinfo=self.zone)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The end of office hours on the `days`-th working day after the day of `start` (that day itself
        never counts, whatever its time or kind); 0 days: `start` itself."""
        if days < 0:
            raise ValueError(f"working days to add are not negative, got {days}")
        local = self.local(start)
        if days == 0:
            return local
        counted = 0
        for day in self._days_from(local.date() + timedelta(days=1)):
            if self.is_working_day(day):
                counted += 1
                if counted == days:
                    return self.end_of_day(day)
        raise AssertionError("unreachable")  # pragma: no cover

    def add_working_hours(self, start: datetime, hours: float | timedelta) -> datetime:
        """The moment `hours` of office time on working days have run from `start` (a start outside office
        hours waits for the next period); 0 hours: `start` itself."""
        remaining = hours if isinstance(hours, timedelta) else timedelta(hours=hours)
        if remaining < timedelta(0):
            raise ValueError(f"working hours to add are not negative, got {hours}")
        local = self.local(start)
        if not remaining:
            return local
        at = local.astimezone(UTC)
        for day in self._days_from(local.date()):
            for begin, end in self.periods(day):
                if end <= at:
                    continue
                runs_from = max(begin, at)
                if remaining <= end - runs_from:
                    return (runs_from + remaining).astimezone(self.zone)
                remaining -= end - runs_from
        raise AssertionError("unreachable")  # pragma: no cover

    def due(self, start: datetime, limit: Limit) -> datetime:
        """The deadline of `limit` counted from `start`."""
        if limit.unit is LimitUnit.WORKING_DAYS:
            return self.add_working_days(start, int(limit.amount))
        if limit.unit is LimitUnit.HOURS:
            return (self.local(start).astimezone(UTC) + timedelta(hours=limit.amount)).astimezone(self.zone)
        return self.add_working_hours(start, limit.amount)

    def working_time(self, start: datetime, end: datetime) -> timedelta:
        """Office time on working days between two moments (negative when `end` is before `start`)."""
        a, b = self.local(start), self.local(end)
        if b < a:
            return -self.working_time(end, start)
        a_utc, b_utc = a.astimezone(UTC), b.astimezone(UTC)
        total = timedelta(0)
        for day in self._days_from(a.date()):
            if day > b.date():
                return total
            for begin, finish in self.periods(day):
                overlap = min(finish, b_utc) - max(begin, a_utc)
                if overlap > timedelta(0):
                    total += overlap
        raise AssertionError("unreachable")  # pragma: no cover

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days after the day of `start` up to and including the day of `end` (the count
        `add_working_days` uses: `working_days_between(s, add_working_days(s, n)) == n`)."""
        a, b = self.local(start).date(), self.local(end).date()
        if b < a:
            return -self.working_days_between(end, start)
        total = 0
        for year in range(a.year, b.year + 1):
            first, last = max(a + timedelta(days=1), date(year, 1, 1)), min(b, date(year, 12, 31))
            if first <= last:
                counts = self._year_counts(year)
                i, j = first.timetuple().tm_yday - 1, last.timetuple().tm_yday - 1
                total += counts[j] - (counts[i - 1] if i else 0)
        return total

    def _year_counts(self, year: int) -> list[int]:
        """The working days of `year` from 1 January up to each day (index 0: 1 January), counted once per
        year and kept: a page of 200 overdue cases asks how far each deadline is, some a year back, and
        counting day by day cost 190 ms for 200 deadlines 1 to 400 days back (3.6 ms from the tallies).
        Raises CalendarUnknownYear as `is_working_day` does."""
        counts = self._counts.get(year)
        if counts is None:
            first, total, counts = date(year, 1, 1), 0, []
            for n in range((date(year + 1, 1, 1) - first).days):
                total += self.is_working_day(first + timedelta(days=n))
                counts.append(total)
            self._counts[year] = counts
        return counts


def _chinese(name: str) -> str:
    return _CHINESE_NAMES.get(name, name)
