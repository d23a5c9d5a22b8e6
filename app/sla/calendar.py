"""Working-time calendar: Vietnamese public holidays, worked Saturdays, agency overrides.

Pure Python. Time is measured in *working time*: a working day is a sequence of working
periods (default 07:30-11:30 and 13:00-17:00, 480 minutes). Internally a moment is mapped to
(working day, microseconds of working time already elapsed that day); arithmetic is done on
that pair, so adding N working days never loops day by day (the benchmark cares).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "DEFAULT_WORKING_HOURS",
    "DayOverride",
    "NonWorkingDay",
    "WorkingCalendar",
    "WorkingPeriod",
    "parse_working_hours",
]

DEFAULT_WORKING_HOURS = "07:30-11:30,13:00-17:00"

_US_PER_MIN = 60_000_000
_WEEKEND_NAMES = {5: "Thứ Bảy", 6: "Chủ nhật"}
_HHMM = re.compile(r"(\d{1,2}):(\d{2})")
# Safety net for a calendar whose overrides close everything: stop searching after this.
_MAX_EMPTY_YEARS = 10
_POSITION_YEAR = 2000  # origin of `working_position`


@dataclass(frozen=True)
class WorkingPeriod:
    start: time
    end: time


@dataclass(frozen=True)
class DayOverride:
    """Agency-specific exception; wins over weekends and national holidays."""

    day: date
    is_working: bool
    reason: str


@dataclass(frozen=True)
class NonWorkingDay:
    day: date
    reason: str  # Vietnamese, shown to officials and citizens


def _parse_hhmm(text: str, spec: str) -> time:
    m = _HHMM.fullmatch(text.strip())
    if m is None or int(m[1]) > 23 or int(m[2]) > 59:
        raise ValueError(f"invalid time {text.strip()!r} in working hours {spec!r}: expected HH:MM")
    return time(int(m[1]), int(m[2]))


def _validate_periods(periods: Iterable[WorkingPeriod]) -> tuple[WorkingPeriod, ...]:
    result = tuple(periods)
    if not result:
        raise ValueError("working hours must contain at least one period")
    previous_end: time | None = None
    for p in result:
        if not isinstance(p, WorkingPeriod):
            raise ValueError(f"not a WorkingPeriod: {p!r}")
        if p.start >= p.end:
            raise ValueError(f"working period {p.start:%H:%M}-{p.end:%H:%M} ends before it starts")
        # Touching periods are allowed; overlapping or unordered ones are not.
        if previous_end is not None and p.start < previous_end:
            raise ValueError(
                f"working period {p.start:%H:%M}-{p.end:%H:%M} overlaps or precedes the previous one "
                "(periods must be in order and must not overlap)"
            )
        previous_end = p.end
    return result


def parse_working_hours(spec: str) -> tuple[WorkingPeriod, ...]:
    """Parse "07:30-11:30,13:00-17:00" into ordered, non-overlapping periods."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("working hours are empty: expected e.g. '07:30-11:30,13:00-17:00'")
    periods = []
    for part in spec.split(","):
        start, sep, end = part.partition("-")
        if not sep or not start.strip() or not end.strip():
            raise ValueError(f"working period {part.strip()!r} in {spec!r} is not of the form HH:MM-HH:MM")
        periods.append(WorkingPeriod(_parse_hhmm(start, spec), _parse_hhmm(end, spec)))
    return _validate_periods(periods)


@lru_cache(maxsize=None)
def _national_year(year: int) -> tuple[dict[date, str], frozenset[date]]:
    """Vietnamese holiday names and worked weekend days of one year (shared by all calendars).

    Neighbouring years are built too because `holidays` files a cross-year swap under the year
    that declared it (e.g. 31/12/2018 off in exchange for Saturday 5/1/2019).
    """
    language = "vi" if "vi" in holidays.VN.supported_languages else None
    h = holidays.VN(years=range(year - 1, year + 2), language=language)
    names = {d: name for d, name in h.items() if d.year == year}
    worked = frozenset(d for d in h.weekend_workdays if d.year == year)
    return names, worked


def _us_of(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def require_aware(at: datetime, name: str = "datetime") -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {at!r}")


class WorkingCalendar:
    def __init__(
        self,
        *,
        tz: str | ZoneInfo = "Asia/Ho_Chi_Minh",
        periods: Sequence[WorkingPeriod] | str = DEFAULT_WORKING_HOURS,
        overrides: Iterable[DayOverride] = (),
        version: int = 0,
    ) -> None:
        self.version = version  # of the agency's overrides (app.sla.service); 0: none
        self.tz: ZoneInfo = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self.periods: tuple[WorkingPeriod, ...] = (
            parse_working_hours(periods) if isinstance(periods, str) else _validate_periods(periods)
        )
        # (start_us, end_us, working_us_before_this_period) per period, wall time from midnight.
        spans = []
        elapsed = 0
        for p in self.periods:
            s, e = _us_of(p.start), _us_of(p.end)
            spans.append((s, e, elapsed))
            elapsed += e - s
        self._spans: tuple[tuple[int, int, int], ...] = tuple(spans)
        self._day_us = elapsed
        self.minutes_per_day: int = elapsed // _US_PER_MIN
        # Later overrides for the same day replace earlier ones.
        self._overrides: dict[date, DayOverride] = {o.day: o for o in overrides}
        # year -> (sorted ordinals of working days, ordinal -> index in that list)
        self._years: dict[int, tuple[list[int], dict[int, int]]] = {}
        self._days_before: dict[int, int] = {}  # year -> working days from 1 Jan _POSITION_YEAR to its start

    # ------------------------------------------------------------------ days

    def _reason(self, day: date) -> str | None:
        """The single rule deciding whether a day is worked: override > holiday > weekend."""
        override = self._overrides.get(day)
        if override is not None:
            return None if override.is_working else override.reason
        names, worked = _national_year(day.year)
        name = names.get(day)
        if name is not None:
            return name
        weekday = day.weekday()
        if weekday >= 5 and day not in worked:
            return _WEEKEND_NAMES[weekday]
        return None

    def _year(self, year: int) -> tuple[list[int], dict[int, int]]:
        info = self._years.get(year)
        if info is None:
            first, last = date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()
            days = [o for o in range(first, last + 1) if self._reason(date.fromordinal(o)) is None]
            info = (days, {o: i for i, o in enumerate(days)})
            self._years[year] = info
        return info

    @staticmethod
    def _as_date(day: date) -> date:
        # A datetime here would silently use its own zone's date; make the caller choose.
        if isinstance(day, datetime):
            raise TypeError("pass a date, not a datetime (convert to the calendar's local date first)")
        return day

    def is_working_day(self, day: date) -> bool:
        day = self._as_date(day)
        return day.toordinal() in self._year(day.year)[1]

    def non_working_reason(self, day: date) -> str | None:
        return self._reason(self._as_date(day))

    def non_working_days_between(self, start: datetime, end: datetime) -> list[NonWorkingDay]:
        """Non-working days from start's local date to end's local date, both included."""
        first, last = self._local(start)[0], self._local(end)[0]
        result = []
        for o in range(first.toordinal(), last.toordinal() + 1):
            day = date.fromordinal(o)
            reason = self._reason(day)
            if reason is not None:
                result.append(NonWorkingDay(day, reason))
        return result

    def _first_at_or_after(self, ordinal: int) -> tuple[int, int]:
        """(year, index) of the first working day on or after `ordinal`."""
        year = date.fromordinal(ordinal).year
        for _ in range(_MAX_EMPTY_YEARS):
            days = self._year(year)[0]
            i = bisect.bisect_left(days, ordinal)
            if i < len(days):
                return year, i
            year += 1
        raise ValueError("no working day found within the next years")

    def _last_at_or_before(self, ordinal: int) -> tuple[int, int]:
        year = date.fromordinal(ordinal).year
        for _ in range(_MAX_EMPTY_YEARS):
            days = self._year(year)[0]
            i = bisect.bisect_right(days, ordinal) - 1
            if i >= 0:
                return year, i
            year -= 1
        raise ValueError("no working day found within the previous years")

    def _step(self, year: int, i: int, n: int) -> int:
        """Ordinal of the working day `n` working days after (year, i); n may be negative."""
        days = self._year(year)[0]
        while i + n >= len(days):
            n -= len(days) - i
            year, i = year + 1, 0
            days = self._year(year)[0]
        while i + n < 0:
            n += i + 1
            year -= 1
            days = self._year(year)[0]
            i = len(days) - 1
        return days[i + n]

    def _days_between(self, y1: int, i1: int, y2: int, i2: int) -> int:
        """Number of working days from (y1, i1) to (y2, i2); (y1, i1) <= (y2, i2)."""
        if y1 == y2:
            return i2 - i1
        count = len(self._year(y1)[0]) - i1
        for year in range(y1 + 1, y2):
            count += len(self._year(year)[0])
        return count + i2

    # ------------------------------------------------------ time within a day

    def _local(self, at: datetime) -> tuple[date, int]:
        require_aware(at)
        loc = at.astimezone(self.tz)
        return loc.date(), _us_of(loc.time())

    def _at(self, day: date, us: int) -> datetime:
        secs, micro = divmod(us, 1_000_000)
        mins, sec = divmod(secs, 60)
        hour, minute = divmod(mins, 60)
        return datetime(day.year, day.month, day.day, hour, minute, sec, micro, tzinfo=self.tz)

    def _worked_before(self, us: int) -> int:
        """Working time elapsed on a working day before wall time `us`."""
        for s, e, before in self._spans:
            if us < e:
                return before + max(0, us - s)
        return self._day_us

    def _wall_left(self, off: int) -> int:
        """Wall time for working offset in (0, day]; a period boundary maps to the period's end."""
        for s, e, before in self._spans:
            if off <= before + (e - s):
                return s + off - before
        raise AssertionError(off)

    def _wall_right(self, off: int) -> int:
        """Wall time for working offset in [0, day); a boundary maps to the next period's start."""
        for s, e, before in self._spans:
            if off < before + (e - s):
                return s + off - before
        raise AssertionError(off)

    def _forward(self, at: datetime) -> tuple[int, int, int]:
        """(year, index, offset in [0, day)) of the first working moment at or after `at`."""
        day, us = self._local(at)
        ordinal = day.toordinal()
        i = self._year(day.year)[1].get(ordinal)
        if i is not None:
            off = self._worked_before(us)
            if off < self._day_us:
                return day.year, i, off
        year, i = self._first_at_or_after(ordinal + 1)
        return year, i, 0

    def _backward(self, at: datetime) -> tuple[int, int, int]:
        """(year, index, offset in (0, day]) of the last working moment at or before `at`."""
        day, us = self._local(at)
        ordinal = day.toordinal()
        i = self._year(day.year)[1].get(ordinal)
        if i is not None:
            off = self._worked_before(us)
            if off > 0:
                return day.year, i, off
        year, i = self._last_at_or_before(ordinal - 1)
        return year, i, self._day_us

    def _day(self, year: int, i: int) -> date:
        return date.fromordinal(self._year(year)[0][i])

    # ---------------------------------------------------------------- public

    def next_working_moment(self, at: datetime) -> datetime:
        year, i, off = self._forward(at)
        return self._at(self._day(year, i), self._wall_right(off))

    def add_working_minutes(self, start: datetime, minutes: int) -> datetime:
        if minutes < 0:
            raise ValueError(f"minutes must be >= 0, got {minutes}")
        if minutes == 0:
            return self.next_working_moment(start)
        year, i, off = self._forward(start)
        total = off + minutes * _US_PER_MIN
        # Keep the remainder in (0, day] so running out at a period end returns that end.
        n = (total - 1) // self._day_us
        ordinal = self._step(year, i, n)
        return self._at(date.fromordinal(ordinal), self._wall_left(total - n * self._day_us))

    def subtract_working_minutes(self, end: datetime, minutes: int) -> datetime:
        if minutes < 0:
            raise ValueError(f"minutes must be >= 0, got {minutes}")
        if minutes == 0:
            # The latest working moment at or before `end` (period ends included).
            day, us = self._local(end)
            if self.is_working_day(day) and any(s <= us <= e for s, e, _ in self._spans):
                return end.astimezone(self.tz)
            year, i, off = self._backward(end)
            return self._at(self._day(year, i), self._wall_left(off))
        year, i, off = self._backward(end)
        rest = minutes * _US_PER_MIN - off  # still to walk back before this day's first period
        # k whole working days back, remainder in [0, day) so a period start returns that start.
        k = (rest + self._day_us - 1) // self._day_us
        ordinal = self._step(year, i, -k)
        return self._at(date.fromordinal(ordinal), self._wall_right(k * self._day_us - rest))

    def next_period_start(self, at: datetime) -> datetime:
        """The start of the first working period that begins after `at` (an online submission's
        clock starts there: ONE_STOP.md, "Online dossiers")."""
        require_aware(at, "at")
        local = at.astimezone(self.tz)
        if self.is_working_day(local.date()):
            for period in self.periods:
                start = datetime.combine(local.date(), period.start, tzinfo=self.tz)
                if start > local:
                    return start
        midnight = datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=self.tz)
        return self.next_working_moment(midnight)

    def end_of_working_day(self, day: date) -> datetime:
        """The end of the last working period of `day` (a working day)."""
        return datetime.combine(day, self.periods[-1].end, tzinfo=self.tz)

    def working_minutes_between(self, start: datetime, end: datetime) -> int:
        """Whole working minutes in [start, end); 0 when end <= start."""
        require_aware(start, "start")
        require_aware(end, "end")
        if end <= start:
            return 0
        y1, i1, o1 = self._forward(start)
        y2, i2, o2 = self._forward(end)
        us = self._days_between(y1, i1, y2, i2) * self._day_us + o2 - o1
        return us // _US_PER_MIN

    def _working_days_before(self, year: int) -> int:
        count = self._days_before.get(year)
        if count is None:
            if year >= _POSITION_YEAR:
                count = sum(len(self._year(y)[0]) for y in range(_POSITION_YEAR, year))
            else:
                count = -sum(len(self._year(y)[0]) for y in range(year, _POSITION_YEAR))
            self._days_before[year] = count
        return count

    def working_position(self, at: datetime) -> int:
        """Microseconds of working time from a fixed origin to the first working moment at or after
        `at`: `working_minutes_between(a, b)` is `(position(b) - position(a)) // 60_000_000` for
        a <= b. Analyses that measure many spans convert each moment once (app/foresight)."""
        year, i, off = self._forward(at)
        return (self._working_days_before(year) + i) * self._day_us + off

    def __repr__(self) -> str:
        hours = ",".join(f"{p.start:%H:%M}-{p.end:%H:%M}" for p in self.periods)
        return f"WorkingCalendar(tz={self.tz.key!r}, periods={hours!r}, overrides={len(self._overrides)})"
