"""Report periods: local calendar boundaries in Asia/Ho_Chi_Minh turned into UTC [start, end)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.errors import Invalid
from app.reports.periods import last_months, parse_period

TZ = "Asia/Ho_Chi_Minh"


def test_quarter_boundaries_are_local_midnights():
    p = parse_period("2026-Q3", TZ)
    assert p.key == "2026-Q3" and p.label == "Quý III năm 2026"
    assert p.start == datetime(2026, 6, 30, 17, 0, tzinfo=UTC)
    assert p.end == datetime(2026, 9, 30, 17, 0, tzinfo=UTC)
    assert (p.first_day, p.last_day) == (date(2026, 7, 1), date(2026, 9, 30))


@pytest.mark.parametrize("text,first,last,label", [
    ("2026", date(2026, 1, 1), date(2026, 12, 31), "Năm 2026"),
    ("2026-11", date(2026, 11, 1), date(2026, 11, 30), "Tháng 11 năm 2026"),
    ("2028-2", date(2028, 2, 1), date(2028, 2, 29), "Tháng 2 năm 2028"),
    ("2026-12", date(2026, 12, 1), date(2026, 12, 31), "Tháng 12 năm 2026"),
    ("2026-q1", date(2026, 1, 1), date(2026, 3, 31), "Quý I năm 2026"),
    ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31), "Quý IV năm 2026"),
    ("2026-H1", date(2026, 1, 1), date(2026, 6, 30), "6 tháng đầu năm 2026"),
    (" 2026-H2 ", date(2026, 7, 1), date(2026, 12, 31), "6 tháng cuối năm 2026"),
])
def test_period_forms(text, first, last, label):
    p = parse_period(text, TZ)
    assert (p.first_day, p.last_day, p.label) == (first, last, label)
    assert p.end.astimezone(UTC).hour == 17  # 00:00 +07:00 the next day


def test_from_to_is_inclusive():
    p = parse_period(None, TZ, from_=date(2026, 1, 15), to=date(2026, 1, 15))
    assert p.start == datetime(2026, 1, 14, 17, tzinfo=UTC) and p.end == datetime(2026, 1, 15, 17, tzinfo=UTC)
    assert p.days == 1 and p.label == "Từ ngày 15/01/2026 đến ngày 15/01/2026"


@pytest.mark.parametrize("text,kwargs", [
    ("2026-13", {}), ("2026-0", {}), ("2026-Q5", {}), ("2026-H3", {}), ("abc", {}), ("", {}), ("1999", {}),
    ("26-Q1", {}), ("2026-Q3", {"from_": date(2026, 1, 1), "to": date(2026, 2, 1)}),
    (None, {}), (None, {"from_": date(2026, 1, 1)}), (None, {"from_": date(2026, 2, 1), "to": date(2026, 1, 1)}),
    (None, {"from_": date(2020, 1, 1), "to": date(2026, 1, 1)}),
])
def test_nonsense_is_refused(text, kwargs):
    with pytest.raises(Invalid) as err:
        parse_period(text, TZ, **kwargs)
    assert err.value.code == "invalid_period"


def test_last_months_end_with_the_current_local_month():
    # 31 Dec 2026 20:00 UTC is already 1 Jan 2027 in Hà Nội.
    months = last_months(datetime(2026, 12, 31, 20, tzinfo=UTC), 12, TZ)
    assert [m.key for m in months][:2] == ["2026-02", "2026-03"] and months[-1].key == "2027-01"
    assert all(a.end == b.start for a, b in zip(months, months[1:]))
