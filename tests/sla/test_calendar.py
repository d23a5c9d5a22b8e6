"""WorkingCalendar against real Vietnamese calendar dates (holidays.VN) plus property tests."""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sla.calendar import (
    DayOverride,
    NonWorkingDay,
    WorkingCalendar,
    WorkingPeriod,
    parse_working_hours,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkingCalendar()


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN)


# --------------------------------------------------------------- working hours


def test_parse_default_working_hours() -> None:
    assert parse_working_hours("07:30-11:30,13:00-17:00") == (
        WorkingPeriod(time(7, 30), time(11, 30)),
        WorkingPeriod(time(13, 0), time(17, 0)),
    )
    assert CAL.minutes_per_day == 480
    assert CAL.tz == VN


def test_custom_periods() -> None:
    cal = WorkingCalendar(periods=" 8:00-12:00 ", tz=VN)
    assert cal.minutes_per_day == 240
    assert cal.add_working_minutes(vn(2026, 3, 10, 11, 0), 120) == vn(2026, 3, 11, 9, 0)
    cal2 = WorkingCalendar(periods=[WorkingPeriod(time(8), time(12)), WorkingPeriod(time(12), time(16))])
    assert cal2.minutes_per_day == 480
    assert cal2.add_working_minutes(vn(2026, 3, 10, 11, 0), 60) == vn(2026, 3, 10, 12, 0)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "   ",
        "07:30",
        "07:30-",
        "7h30-11h30",
        "07:30-24:00",
        "07:60-11:30",
        "11:30-07:30",
        "07:30-07:30",
        "13:00-17:00,07:30-11:30",  # unordered
        "07:30-12:00,11:30-17:00",  # overlapping
    ],
)
def test_parse_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_working_hours(spec)


def test_bad_period_sequence_rejected() -> None:
    with pytest.raises(ValueError):
        WorkingCalendar(periods=[])


def test_naive_datetimes_rejected() -> None:
    naive = datetime(2026, 3, 10, 9, 0)
    for call in (
        lambda: CAL.next_working_moment(naive),
        lambda: CAL.add_working_minutes(naive, 10),
        lambda: CAL.subtract_working_minutes(naive, 10),
        lambda: CAL.working_minutes_between(naive, vn(2026, 3, 11)),
        lambda: CAL.working_minutes_between(vn(2026, 3, 9), naive),
        lambda: CAL.non_working_days_between(naive, vn(2026, 3, 11)),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


def test_negative_minutes_rejected() -> None:
    with pytest.raises(ValueError):
        CAL.add_working_minutes(vn(2026, 3, 10, 9), -1)
    with pytest.raises(ValueError):
        CAL.subtract_working_minutes(vn(2026, 3, 10, 9), -1)


# ------------------------------------------------------------------- the days


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        # Tết 2025: 29 Tết (Mon 27/1) to Mùng bốn (Sat 1/2); Saturday holiday moved to Monday 27/1.
        (date(2025, 1, 24), None),
        (date(2025, 1, 27), "29 Tết"),
        (date(2025, 1, 28), "Giao thừa Tết Nguyên Đán"),
        (date(2025, 1, 29), "Tết Nguyên Đán"),
        (date(2025, 1, 31), "Mùng ba Tết Nguyên Đán"),
        (date(2025, 2, 1), "Mùng bốn Tết Nguyên Đán"),
        (date(2025, 2, 2), "Chủ nhật"),
        (date(2025, 2, 3), None),
        # 2025 swap: Saturday 26/4 worked, Friday 2/5 off.
        (date(2025, 4, 26), None),
        (date(2025, 5, 2), "Ngày nghỉ (thay cho ngày 26/04/2025)"),
        # Tết 2026: Monday 16/2 to Friday 20/2.
        (date(2026, 2, 13), None),
        (date(2026, 2, 16), "Giao thừa Tết Nguyên Đán"),
        (date(2026, 2, 17), "Tết Nguyên Đán"),
        (date(2026, 2, 20), "Mùng bốn Tết Nguyên Đán"),
        (date(2026, 2, 23), None),
        # Hùng Kings 2026 falls on Sunday 26/4, observed Monday 27/4.
        (date(2026, 4, 26), "Ngày Giỗ Tổ Hùng Vương"),
        (date(2026, 4, 27), "Ngày Giỗ Tổ Hùng Vương (nghỉ bù)"),
        (date(2026, 4, 30), "Ngày Chiến thắng"),
        (date(2026, 5, 1), "Ngày Quốc tế Lao động"),
        # National Day 2026: Saturday 22/8 worked in exchange for Monday 31/8; 1/9 is the adjacent day.
        (date(2026, 8, 22), None),
        (date(2026, 8, 23), "Chủ nhật"),
        (date(2026, 8, 29), "Thứ Bảy"),
        (date(2026, 8, 31), "Ngày nghỉ (thay cho ngày 22/08/2026)"),
        (date(2026, 9, 1), "Quốc khánh"),
        (date(2026, 9, 2), "Quốc khánh"),
        (date(2026, 9, 3), None),
        # Vietnam Culture Day from 2026.
        (date(2026, 11, 23), None),
        (date(2026, 11, 24), "Ngày Văn hóa Việt Nam"),
        (date(2025, 11, 24), None),
        # A cross-year swap: 31/12/2018 off, Saturday 5/1/2019 worked.
        (date(2018, 12, 31), "Ngày nghỉ (thay cho ngày 05/01/2019)"),
        (date(2019, 1, 5), None),
    ],
)
def test_real_days(day: date, reason: str | None) -> None:
    assert CAL.non_working_reason(day) == reason
    assert CAL.is_working_day(day) is (reason is None)


def test_agrees_with_holidays_package_every_day() -> None:
    h = holidays.VN(years=range(2014, 2029))
    d = date(2014, 1, 1)
    while d.year < 2029:
        assert CAL.is_working_day(d) == h.is_working_day(d), d
        d += timedelta(days=1)


def test_overrides_win() -> None:
    cal = WorkingCalendar(
        overrides=[
            DayOverride(date(2026, 3, 11), False, "Mất điện toàn trụ sở"),
            DayOverride(date(2026, 3, 15), True, "Làm việc Chủ nhật theo kế hoạch của tỉnh"),
            DayOverride(date(2026, 11, 24), True, "Trực tiếp nhận hồ sơ"),
        ]
    )
    assert cal.non_working_reason(date(2026, 3, 11)) == "Mất điện toàn trụ sở"
    assert not cal.is_working_day(date(2026, 3, 11))
    assert cal.is_working_day(date(2026, 3, 15)) and cal.non_working_reason(date(2026, 3, 15)) is None
    # Closed Wednesday skipped: Tuesday + 1 day = Thursday.
    assert cal.add_working_minutes(vn(2026, 3, 10, 9), 480) == vn(2026, 3, 12, 9)
    # Friday + 1 day = the worked Sunday.
    assert cal.add_working_minutes(vn(2026, 3, 13, 9), 480) == vn(2026, 3, 15, 9)
    # A holiday made a working day by the agency.
    assert cal.add_working_minutes(vn(2026, 11, 23, 9), 480) == vn(2026, 11, 24, 9)
    # The national calendar is untouched.
    assert CAL.add_working_minutes(vn(2026, 3, 10, 9), 480) == vn(2026, 3, 11, 9)
    assert CAL.add_working_minutes(vn(2026, 3, 13, 9), 480) == vn(2026, 3, 16, 9)


def test_dates_not_datetimes() -> None:
    with pytest.raises(TypeError):
        CAL.is_working_day(vn(2026, 3, 10, 9))  # type: ignore[arg-type]


# --------------------------------------------------------- next working moment


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (vn(2026, 11, 20, 9, 15), vn(2026, 11, 20, 9, 15)),  # inside a period
        (vn(2026, 11, 20, 6, 0), vn(2026, 11, 20, 7, 30)),  # early morning
        (vn(2026, 11, 20, 7, 30), vn(2026, 11, 20, 7, 30)),
        (vn(2026, 11, 20, 11, 29), vn(2026, 11, 20, 11, 29)),
        (vn(2026, 11, 20, 11, 30), vn(2026, 11, 20, 13, 0)),  # lunch break
        (vn(2026, 11, 20, 12, 15), vn(2026, 11, 20, 13, 0)),
        (vn(2026, 11, 20, 17, 0), vn(2026, 11, 23, 7, 30)),  # Friday evening
        (vn(2026, 11, 21, 10, 0), vn(2026, 11, 23, 7, 30)),  # Saturday
        (vn(2026, 11, 23, 17, 5), vn(2026, 11, 25, 7, 30)),  # Culture Day skipped
        (vn(2026, 2, 14, 22, 0), vn(2026, 2, 23, 7, 30)),  # online during Tết 2026
        (vn(2026, 8, 21, 18, 0), vn(2026, 8, 22, 7, 30)),  # worked Saturday
    ],
)
def test_next_working_moment(at: datetime, expected: datetime) -> None:
    assert CAL.next_working_moment(at) == expected


def test_output_is_local_for_utc_input() -> None:
    result = CAL.next_working_moment(datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc))  # 09:00 VN
    assert result == vn(2026, 11, 20, 9, 0)
    assert result.tzinfo == VN
    assert CAL.add_working_minutes(datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc), 0).tzinfo == VN


# ---------------------------------------------------------- add working minutes


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        # Friday 20/11/2026, 16:59 vs 17:01, one working day: Tuesday 24/11 is Culture Day.
        (vn(2026, 11, 20, 16, 59), 480, vn(2026, 11, 23, 16, 59)),
        (vn(2026, 11, 20, 17, 1), 480, vn(2026, 11, 23, 17, 0)),
        (vn(2026, 11, 20, 16, 59), 481, vn(2026, 11, 23, 17, 0)),
        (vn(2026, 11, 20, 16, 59), 482, vn(2026, 11, 25, 7, 31)),
        (datetime(2026, 11, 20, 9, 59, tzinfo=timezone.utc), 480, vn(2026, 11, 23, 16, 59)),
        (vn(2026, 11, 20, 16, 59), 1, vn(2026, 11, 20, 17, 0)),  # ends exactly at period end
        (vn(2026, 11, 20, 10, 0), 2 * 480, vn(2026, 11, 25, 10, 0)),
        # Lunch break 11:30-13:00.
        (vn(2026, 11, 19, 11, 0), 30, vn(2026, 11, 19, 11, 30)),
        (vn(2026, 11, 19, 11, 0), 31, vn(2026, 11, 19, 13, 1)),
        (vn(2026, 11, 19, 10, 0), 120, vn(2026, 11, 19, 13, 30)),
        (vn(2026, 11, 19, 12, 15), 60, vn(2026, 11, 19, 14, 0)),
        # Working-hours limit: 4 h from 10:00 = 1.5 h before lunch + 2.5 h after.
        (vn(2026, 11, 19, 10, 0), 4 * 60, vn(2026, 11, 19, 15, 30)),
        (vn(2026, 11, 19, 8, 0), 4 * 60, vn(2026, 11, 19, 13, 30)),
        (vn(2026, 11, 19, 7, 30), 4 * 60, vn(2026, 11, 19, 11, 30)),
        # Zero minutes == next working moment.
        (vn(2026, 11, 20, 17, 0), 0, vn(2026, 11, 23, 7, 30)),
        (vn(2026, 11, 20, 12, 0), 0, vn(2026, 11, 20, 13, 0)),
        # Tết 2025: Friday 24/1 + 5 days -> 3,4,5,6,7 February.
        (vn(2025, 1, 24, 10, 0), 5 * 480, vn(2025, 2, 7, 10, 0)),
        (vn(2025, 1, 23, 16, 0), 480, vn(2025, 1, 24, 16, 0)),
        (vn(2025, 1, 24, 16, 0), 480, vn(2025, 2, 3, 16, 0)),
        # 2025 swap: Friday 25/4 + 1 day = worked Saturday 26/4; then 30/4, 1/5, 2/5 off.
        (vn(2025, 4, 25, 9, 0), 480, vn(2025, 4, 26, 9, 0)),
        (vn(2025, 4, 29, 9, 0), 480, vn(2025, 5, 5, 9, 0)),
        # Tết 2026: Friday 13/2 + 3 days -> 23, 24, 25 February.
        (vn(2026, 2, 13, 10, 0), 3 * 480, vn(2026, 2, 25, 10, 0)),
        (vn(2026, 2, 17, 20, 0), 480, vn(2026, 2, 23, 17, 0)),  # submitted online during Tết
        # Hùng Kings 2026 (Sun 26/4 observed Mon 27/4), then 30/4 and 1/5.
        (vn(2026, 4, 24, 14, 0), 480, vn(2026, 4, 28, 14, 0)),
        (vn(2026, 4, 29, 9, 0), 2 * 480, vn(2026, 5, 5, 9, 0)),
        # Worked Saturday 22/8/2026, then 29/8 to 2/9 off.
        (vn(2026, 8, 21, 9, 0), 480, vn(2026, 8, 22, 9, 0)),
        (vn(2026, 8, 28, 9, 0), 480, vn(2026, 9, 3, 9, 0)),
        # Across a year end: 31/12/2026 + 1 day skips 1/1/2027.
        (vn(2026, 12, 31, 9, 0), 480, vn(2027, 1, 4, 9, 0)),
    ],
)
def test_add_working_minutes(start: datetime, minutes: int, expected: datetime) -> None:
    assert CAL.add_working_minutes(start, minutes) == expected


# ----------------------------------------------------- subtract working minutes


@pytest.mark.parametrize(
    ("end", "minutes", "expected"),
    [
        (vn(2026, 11, 23, 16, 59), 480, vn(2026, 11, 20, 16, 59)),
        (vn(2026, 11, 25, 10, 0), 480, vn(2026, 11, 23, 10, 0)),  # Culture Day skipped
        (vn(2026, 11, 23, 7, 31), 1, vn(2026, 11, 23, 7, 30)),  # lands on a period start
        (vn(2026, 11, 25, 7, 30), 1, vn(2026, 11, 23, 16, 59)),
        (vn(2026, 11, 23, 17, 0), 480, vn(2026, 11, 23, 7, 30)),
        (vn(2026, 11, 19, 13, 30), 30, vn(2026, 11, 19, 13, 0)),
        (vn(2026, 11, 19, 13, 0), 30, vn(2026, 11, 19, 11, 0)),
        (vn(2026, 11, 19, 12, 0), 30, vn(2026, 11, 19, 11, 0)),  # from inside lunch
        (vn(2026, 2, 23, 9, 0), 480, vn(2026, 2, 13, 9, 0)),  # back over Tết 2026
        (vn(2026, 9, 3, 9, 0), 480, vn(2026, 8, 28, 9, 0)),
        (vn(2026, 8, 24, 9, 0), 480, vn(2026, 8, 22, 9, 0)),  # worked Saturday
        # Zero: the latest working moment at or before `end`, period ends included.
        (vn(2026, 11, 20, 17, 0), 0, vn(2026, 11, 20, 17, 0)),
        (vn(2026, 11, 21, 10, 0), 0, vn(2026, 11, 20, 17, 0)),
        (vn(2026, 11, 20, 12, 0), 0, vn(2026, 11, 20, 11, 30)),
        (vn(2026, 11, 20, 7, 30), 0, vn(2026, 11, 20, 7, 30)),
    ],
)
def test_subtract_working_minutes(end: datetime, minutes: int, expected: datetime) -> None:
    assert CAL.subtract_working_minutes(end, minutes) == expected


# ------------------------------------------------------ minutes and days between


def test_working_minutes_between() -> None:
    assert CAL.working_minutes_between(vn(2026, 11, 20, 16, 59), vn(2026, 11, 25, 8, 0)) == 1 + 480 + 30
    assert CAL.working_minutes_between(vn(2026, 11, 25, 8, 0), vn(2026, 11, 20, 16, 59)) == 0
    assert CAL.working_minutes_between(vn(2026, 11, 19, 11, 0), vn(2026, 11, 19, 13, 30)) == 60
    assert CAL.working_minutes_between(vn(2026, 2, 13, 17, 0), vn(2026, 2, 23, 7, 30)) == 0
    assert CAL.working_minutes_between(vn(2026, 12, 31, 9, 0), vn(2027, 1, 4, 9, 0)) == 480
    # Seconds are truncated to whole minutes.
    assert CAL.working_minutes_between(vn(2026, 11, 19, 9, 0, 30), vn(2026, 11, 19, 9, 2)) == 1


def test_non_working_days_between() -> None:
    days = CAL.non_working_days_between(vn(2026, 8, 28, 9), datetime(2026, 9, 3, 2, tzinfo=timezone.utc))
    assert days == [
        NonWorkingDay(date(2026, 8, 29), "Thứ Bảy"),
        NonWorkingDay(date(2026, 8, 30), "Chủ nhật"),
        NonWorkingDay(date(2026, 8, 31), "Ngày nghỉ (thay cho ngày 22/08/2026)"),
        NonWorkingDay(date(2026, 9, 1), "Quốc khánh"),
        NonWorkingDay(date(2026, 9, 2), "Quốc khánh"),
    ]
    assert CAL.non_working_days_between(vn(2026, 9, 3, 9), vn(2026, 8, 28, 9)) == []
    # A start on a non-working day is itself skipped.
    assert [d.day for d in CAL.non_working_days_between(vn(2026, 2, 15, 20), vn(2026, 2, 23, 9))] == [
        date(2026, 2, 15),
        date(2026, 2, 16),
        date(2026, 2, 17),
        date(2026, 2, 18),
        date(2026, 2, 19),
        date(2026, 2, 20),
        date(2026, 2, 21),
        date(2026, 2, 22),
    ]


# ------------------------------------------------------------------ properties

OVERRIDDEN = WorkingCalendar(
    periods="08:00-12:00,13:30-17:30",
    overrides=[
        DayOverride(date(2026, 3, 11), False, "Đóng cửa"),
        DayOverride(date(2026, 3, 15), True, "Làm Chủ nhật"),
        DayOverride(date(2026, 2, 21), True, "Trực Tết"),
    ],
)
CALENDARS = st.sampled_from([CAL, OVERRIDDEN])
ZONES = st.sampled_from([timezone.utc, VN, ZoneInfo("Europe/Paris")])
MOMENTS = st.builds(
    lambda dt, zone: dt.replace(tzinfo=timezone.utc).astimezone(zone),
    st.datetimes(min_value=datetime(2024, 12, 1), max_value=datetime(2027, 1, 31)),
    ZONES,
)
MINUTES = st.integers(min_value=0, max_value=40 * 480)
PROPS = settings(max_examples=150, deadline=None)


def _in_working_time(cal: WorkingCalendar, at: datetime, *, allow_end: bool, allow_start: bool = True) -> bool:
    local = at.astimezone(cal.tz)
    if not cal.is_working_day(local.date()):
        return False
    t = local.timetz().replace(tzinfo=None)
    return any(
        (p.start < t < p.end) or (allow_start and t == p.start) or (allow_end and t == p.end)
        for p in cal.periods
    )


@PROPS
@given(CALENDARS, MOMENTS, MINUTES)
def test_add_lands_in_working_time(cal: WorkingCalendar, start: datetime, minutes: int) -> None:
    due = cal.add_working_minutes(start, minutes)
    assert due.tzinfo == cal.tz
    assert _in_working_time(cal, due, allow_end=minutes > 0)
    assert due >= start


@PROPS
@given(CALENDARS, MOMENTS, MINUTES, MINUTES)
def test_add_monotonic_in_minutes(cal: WorkingCalendar, start: datetime, m1: int, m2: int) -> None:
    m1, m2 = sorted((m1, m2))
    assert cal.add_working_minutes(start, m1) <= cal.add_working_minutes(start, m2)


@PROPS
@given(CALENDARS, MOMENTS, st.integers(min_value=0, max_value=20 * 24 * 60), MINUTES)
def test_add_monotonic_in_start(cal: WorkingCalendar, s1: datetime, delta: int, minutes: int) -> None:
    s2 = s1 + timedelta(minutes=delta)
    assert cal.add_working_minutes(s1, minutes) <= cal.add_working_minutes(s2, minutes)


@PROPS
@given(CALENDARS, MOMENTS, MINUTES)
def test_between_inverts_add(cal: WorkingCalendar, start: datetime, minutes: int) -> None:
    assert cal.working_minutes_between(start, cal.add_working_minutes(start, minutes)) == minutes


@PROPS
@given(CALENDARS, MOMENTS, MINUTES)
def test_subtract_inverts_add(cal: WorkingCalendar, start: datetime, minutes: int) -> None:
    due = cal.add_working_minutes(start, minutes)
    assert cal.subtract_working_minutes(due, minutes) == cal.next_working_moment(start)


@PROPS
@given(CALENDARS, MOMENTS, MINUTES)
def test_subtract_lands_in_working_time(cal: WorkingCalendar, end: datetime, minutes: int) -> None:
    back = cal.subtract_working_minutes(end, minutes)
    assert back <= end
    assert _in_working_time(cal, back, allow_end=minutes == 0)
    assert cal.working_minutes_between(back, end) == minutes


def _naive_add(start: datetime, minutes: int) -> datetime:
    """Reference: walk day by day asking holidays.VN, period by period (the slow obvious way)."""
    h = holidays.VN(years=range(2024, 2029))
    t = start.astimezone(VN)
    remaining = timedelta(minutes=minutes)
    day = t.date()
    while True:
        if h.is_working_day(day):
            for p in CAL.periods:
                p_start = datetime.combine(day, p.start, VN)
                p_end = datetime.combine(day, p.end, VN)
                cur = max(t, p_start)
                if cur >= p_end:
                    continue
                if remaining <= p_end - cur:
                    return cur + remaining
                remaining -= p_end - cur
        day += timedelta(days=1)
        t = datetime.combine(day, time(0), VN)


@PROPS
@given(MOMENTS, MINUTES)
def test_add_matches_naive_reference(start: datetime, minutes: int) -> None:
    assert CAL.add_working_minutes(start, minutes) == _naive_add(start, minutes)


def test_working_position_differences_are_working_minutes() -> None:
    """`working_position` (app/foresight converts each moment once) agrees with
    `working_minutes_between` for any two moments, across years and agency overrides."""
    import random
    from datetime import timedelta as _td
    from zoneinfo import ZoneInfo as _Zone

    cal = WorkingCalendar(overrides=[DayOverride(date(2026, 5, 9), True, "Làm bù"),
                                     DayOverride(date(2025, 12, 31), False, "Nghỉ")])
    rng = random.Random(17)
    base = datetime(1998, 1, 1, tzinfo=_Zone("Asia/Ho_Chi_Minh"))
    for _ in range(3000):
        a = base + _td(seconds=rng.uniform(0, 1e9))
        b = a + _td(seconds=rng.uniform(0, 3e7))
        assert cal.working_minutes_between(a, b) == (cal.working_position(b) - cal.working_position(a)) // 60_000_000
