"""Report periods: a year, half-year, quarter, month or a from/to date range.

Boundaries are local calendar dates in the agency's zone (Asia/Ho_Chi_Minh), turned into UTC
instants `[start, end)`: "2026-Q3" is 2026-07-01 00:00 +07:00 (inclusive) to 2026-10-01 00:00
+07:00 (exclusive). A `to` date is inclusive (the whole day counts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.errors import Invalid

MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_RANGE_DAYS = 3 * 366 + 1  # a from/to range covers at most about three years

_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_HALF = re.compile(r"^(\d{4})-[Hh]([12])$")


@dataclass(frozen=True)
class Period:
    key: str  # canonical form: 2026, 2026-H1, 2026-Q3, 2026-11, 2026-01-01..2026-03-31
    label: str  # Vietnamese, for titles: "Quý III năm 2026"
    first_day: date
    last_day: date  # inclusive
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def _bad(message: str) -> Invalid:
    return Invalid(message, code="invalid_period")


def _year(text: str) -> int:
    year = int(text)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise _bad(f"Năm {year} nằm ngoài khoảng {MIN_YEAR}–{MAX_YEAR}.")
    return year


def _make(key: str, label: str, first: date, last: date, tz: str) -> Period:
    zone = ZoneInfo(tz)
    start = datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return Period(key=key, label=label, first_day=first, last_day=last, start=start, end=end)


def month_period(year: int, month: int, tz: str) -> Period:
    first = date(year, month, 1)
    last = (date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)) - timedelta(days=1)
    return _make(f"{year}-{month:02d}", f"Tháng {month} năm {year}", first, last, tz)


def parse_period(period: str | None, tz: str, *, from_: date | None = None, to: date | None = None) -> Period:
    """`period` (2026, 2026-H1, 2026-Q3, 2026-11) or `from_`/`to`; exactly one of the two forms."""
    if period is not None and (from_ is not None or to is not None):
        raise _bad("Chỉ dùng một cách chọn kỳ: tham số period, hoặc cặp from/to.")
    if period is None:
        if from_ is None or to is None:
            raise _bad("Cần chọn kỳ báo cáo: period (ví dụ 2026-Q3, 2026-11, 2026) hoặc cả from và to.")
        if to < from_:
            raise _bad("Ngày kết thúc (to) phải từ ngày bắt đầu (from) trở đi.")
        _year(str(from_.year)), _year(str(to.year))
        if (to - from_).days + 1 > MAX_RANGE_DAYS:
            raise _bad("Khoảng thời gian báo cáo tối đa khoảng 3 năm.")
        label = f"Từ ngày {from_:%d/%m/%Y} đến ngày {to:%d/%m/%Y}"
        return _make(f"{from_.isoformat()}..{to.isoformat()}", label, from_, to, tz)

    text = period.strip()
    if m := _YEAR.match(text):
        year = _year(m[1])
        return _make(str(year), f"Năm {year}", date(year, 1, 1), date(year, 12, 31), tz)
    if m := _QUARTER.match(text):
        year, quarter = _year(m[1]), int(m[2])
        first = date(year, 3 * quarter - 2, 1)
        last = month_period(year, 3 * quarter, tz).last_day
        return _make(f"{year}-Q{quarter}", f"Quý {_ROMAN[quarter]} năm {year}", first, last, tz)
    if m := _HALF.match(text):
        year, half = _year(m[1]), int(m[2])
        first, last = (date(year, 1, 1), date(year, 6, 30)) if half == 1 else (date(year, 7, 1), date(year, 12, 31))
        return _make(f"{year}-H{half}", f"6 tháng {'đầu' if half == 1 else 'cuối'} năm {year}", first, last, tz)
    if m := _MONTH.match(text):
        year, month = _year(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise _bad(f"Tháng {month} không hợp lệ (1–12).")
        return month_period(year, month, tz)
    raise _bad(f"Kỳ báo cáo '{text[:20]}' không hợp lệ: dùng 2026 (năm), 2026-H1 (6 tháng), "
               "2026-Q3 (quý), 2026-11 (tháng) hoặc from/to.")


def last_months(now: datetime, count: int, tz: str) -> list[Period]:
    """The `count` calendar months ending with the current local month, oldest first."""
    today = now.astimezone(ZoneInfo(tz)).date()
    year, month = today.year, today.month
    months = []
    for _ in range(count):
        months.append(month_period(year, month, tz))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]
