"""Deadline engine: limits, pauses, outcome/progress classification, overdue time, explanation."""

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from app.sla.calendar import NonWorkingDay, WorkingCalendar
from app.sla.deadlines import (
    OUTCOME_LABELS,
    PROGRESS_LABELS,
    LimitUnit,
    Outcome,
    Pause,
    Progress,
    classify_outcome,
    classify_progress,
    compute_due_at,
    due_soon_at,
    explain_deadline,
    limit_minutes,
    overdue_by,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkingCalendar()


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN)


def test_limit_minutes() -> None:
    assert limit_minutes(3, LimitUnit.working_days) == 1440
    assert limit_minutes(3, "working_days", minutes_per_day=240) == 720
    assert limit_minutes(4, "working_hours") == 240
    assert limit_minutes(0, "working_days") == 0
    with pytest.raises(ValueError):
        limit_minutes(1, "calendar_days")
    with pytest.raises(ValueError):
        limit_minutes(-1, "working_days")


def test_due_without_pause() -> None:
    # Mon 16/11/2026 09:00 + 5 working days = Mon 23/11 09:00.
    assert compute_due_at(CAL, clock_started_at=vn(2026, 11, 16, 9), limit_minutes=5 * 480) == vn(2026, 11, 23, 9)


def test_due_in_working_hours() -> None:
    assert compute_due_at(CAL, clock_started_at=vn(2026, 11, 19, 10), limit_minutes=limit_minutes(4, "working_hours")) == vn(
        2026, 11, 19, 15, 30
    )


def test_received_at_night_counts_from_next_morning() -> None:
    # Online at 22:00 Friday 20/11 (15:00 UTC): clock starts Mon 23/11 07:30; Tue 24/11 is Culture Day.
    started = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
    assert compute_due_at(CAL, clock_started_at=started, limit_minutes=2 * 480) == vn(2026, 11, 25, 17, 0)


def test_pause_moves_due_by_paused_working_time() -> None:
    start = vn(2026, 11, 16, 9)
    # Waiting for the financial obligation Tue 17/11 14:00 -> Thu 19/11 10:00: 180 + 480 + 150 = 810 min.
    pause = Pause(vn(2026, 11, 17, 14), vn(2026, 11, 19, 10), "Chờ thực hiện nghĩa vụ tài chính")
    assert CAL.working_minutes_between(pause.started_at, pause.ended_at) == 810
    due = compute_due_at(CAL, clock_started_at=start, limit_minutes=5 * 480, pauses=[pause])
    # Old due Mon 23/11 09:00 + 810: 390 on Monday, Tuesday off, 420 on Wednesday -> 16:00.
    assert due == vn(2026, 11, 25, 16, 0)
    assert due == CAL.add_working_minutes(vn(2026, 11, 23, 9), 810)


def test_pause_over_weekend_counts_only_working_time() -> None:
    pause = Pause(vn(2026, 11, 20, 16), vn(2026, 11, 23, 8), "Chờ bổ sung")  # 60 + 30 min
    due = compute_due_at(CAL, clock_started_at=vn(2026, 11, 16, 9), limit_minutes=5 * 480, pauses=[pause])
    assert due == vn(2026, 11, 23, 10, 30)


def test_ignored_pauses() -> None:
    start = vn(2026, 11, 16, 9)
    plain = compute_due_at(CAL, clock_started_at=start, limit_minutes=5 * 480)
    ignored = [
        Pause(vn(2026, 11, 18, 9), None, "Đang chờ"),  # open: the caller handles it
        Pause(vn(2026, 11, 13, 9), vn(2026, 11, 17, 9), "Trước khi tính giờ"),  # starts before the clock
        Pause(vn(2026, 11, 25, 9), vn(2026, 11, 26, 9), "Sau hạn"),  # the limit had already run out
    ]
    assert compute_due_at(CAL, clock_started_at=start, limit_minutes=5 * 480, pauses=ignored) == plain


def test_overlapping_pauses_count_once() -> None:
    start = vn(2026, 11, 16, 9)
    a = Pause(vn(2026, 11, 17, 8), vn(2026, 11, 17, 10), "A")  # 120
    b = Pause(vn(2026, 11, 17, 9), vn(2026, 11, 17, 11), "B")  # 60 more
    due = compute_due_at(CAL, clock_started_at=start, limit_minutes=5 * 480, pauses=[b, a])
    assert due == CAL.add_working_minutes(vn(2026, 11, 23, 9), 180)
    explained = explain_deadline(CAL, clock_started_at=start, limit_value=5, limit_unit="working_days", pauses=[b, a])
    assert explained.pauses == [(b, 60), (a, 120)]


def test_pause_validation() -> None:
    with pytest.raises(ValueError):
        Pause(datetime(2026, 11, 17, 9), None, "naive")
    with pytest.raises(ValueError):
        Pause(vn(2026, 11, 17, 9), vn(2026, 11, 17, 8), "backwards")


def test_due_soon_at() -> None:
    # Window of one working day before Wed 25/11 16:00 skips Culture Day: Mon 23/11 16:00.
    assert due_soon_at(CAL, vn(2026, 11, 25, 16), 480) == vn(2026, 11, 23, 16)
    assert due_soon_at(CAL, vn(2026, 9, 3, 9), 480) == vn(2026, 8, 28, 9)
    assert due_soon_at(CAL, vn(2026, 11, 25, 16), 0) == vn(2026, 11, 25, 16)


@pytest.mark.parametrize(
    ("resolved", "expected"),
    [
        (vn(2026, 11, 23, 16, 0), Outcome.early),
        (vn(2026, 11, 25, 8, 0), Outcome.on_time),
        (vn(2026, 11, 25, 16, 0), Outcome.on_time),
        (vn(2026, 11, 25, 16, 1), Outcome.late),
        (vn(2026, 11, 26, 8, 0), Outcome.late),
        # 18:00 UTC on the 24th is 01:00 on the 25th in Vietnam: same local date, so on time.
        (datetime(2026, 11, 24, 18, 0, tzinfo=timezone.utc), Outcome.on_time),
        (datetime(2026, 11, 24, 16, 0, tzinfo=timezone.utc), Outcome.early),
    ],
)
def test_classify_outcome(resolved: datetime, expected: Outcome) -> None:
    due = vn(2026, 11, 25, 16)
    assert classify_outcome(resolved, due, "Asia/Ho_Chi_Minh") is expected
    assert classify_outcome(resolved, due, VN) is expected


def test_classify_progress() -> None:
    due = vn(2026, 11, 25, 16)
    soon = due_soon_at(CAL, due, 480)
    assert classify_progress(vn(2026, 11, 23, 15, 59), due_at=due, due_soon_at=soon) is Progress.within
    assert classify_progress(vn(2026, 11, 23, 16), due_at=due, due_soon_at=soon) is Progress.due_soon
    assert classify_progress(vn(2026, 11, 25, 16), due_at=due, due_soon_at=soon) is Progress.due_soon
    assert classify_progress(vn(2026, 11, 25, 16, 1), due_at=due, due_soon_at=soon) is Progress.overdue


def test_overdue_by() -> None:
    due = vn(2026, 11, 23, 16)
    # Mon 60 + Tue (Culture Day) 0 + Wed 480 + Thu 90 = 630 min = 1 day 2 h 30 min.
    assert overdue_by(CAL, vn(2026, 11, 26, 9), due) == (1, 2)
    assert overdue_by(CAL, vn(2026, 11, 24, 10), due) == (0, 1)  # the holiday adds nothing
    assert overdue_by(CAL, vn(2026, 11, 23, 15), due) == (0, 0)
    assert overdue_by(CAL, due, due) == (0, 0)


def test_explain_deadline() -> None:
    pause = Pause(vn(2026, 8, 28, 14), vn(2026, 9, 3, 8), "Chờ thực hiện nghĩa vụ tài chính")
    start = datetime(2026, 8, 28, 3, 0, tzinfo=timezone.utc)  # 10:00 Friday in Vietnam
    e = explain_deadline(CAL, clock_started_at=start, limit_value=3, limit_unit=LimitUnit.working_days, pauses=[pause])
    assert (e.limit_value, e.limit_unit, e.limit_minutes) == (3, "working_days", 1440)
    assert e.clock_started_at == start
    # The pause: Fri 14:00-17:00 (180) + Thu 3/9 07:30-08:00 (30).
    assert e.pauses == [(pause, 210)]
    # Without the pause: Thu 3/9, Fri 4/9, Mon 7/9 at 10:00; plus 210 min = 90 before lunch + 120 after.
    assert e.due_at == vn(2026, 9, 7, 15, 0)
    assert e.skipped_days == [
        NonWorkingDay(date(2026, 8, 29), "Thứ Bảy"),
        NonWorkingDay(date(2026, 8, 30), "Chủ nhật"),
        NonWorkingDay(date(2026, 8, 31), "Ngày nghỉ (thay cho ngày 22/08/2026)"),
        NonWorkingDay(date(2026, 9, 1), "Quốc khánh"),
        NonWorkingDay(date(2026, 9, 2), "Quốc khánh"),
        NonWorkingDay(date(2026, 9, 5), "Thứ Bảy"),
        NonWorkingDay(date(2026, 9, 6), "Chủ nhật"),
    ]
    assert e.due_at == compute_due_at(CAL, clock_started_at=start, limit_minutes=1440, pauses=[pause])


def test_labels() -> None:
    assert [OUTCOME_LABELS[o] for o in Outcome] == ["Trước hạn", "Đúng hạn", "Quá hạn"]
    assert [PROGRESS_LABELS[p] for p in Progress] == ["Trong hạn", "Sắp đến hạn", "Quá hạn"]
    assert OUTCOME_LABELS["late"] == "Quá hạn" and PROGRESS_LABELS["due_soon"] == "Sắp đến hạn"


def test_working_minutes_used_is_the_inverse_of_compute_due_at() -> None:
    """A result ready at `until` is within a limit L exactly when the clock ran at most L by then
    (pauses counted as compute_due_at counts them); the what-if replay relies on it."""
    import random
    from datetime import timedelta as _td
    from zoneinfo import ZoneInfo as _Zone

    from app.sla.calendar import WorkingCalendar as _Cal
    from app.sla.deadlines import Pause as _Pause, compute_due_at as _due, working_minutes_used

    cal = _Cal()
    rng = random.Random(3)
    start0 = datetime(2026, 1, 5, 7, 30, tzinfo=_Zone("Asia/Ho_Chi_Minh"))
    for _ in range(400):
        start = cal.add_working_minutes(start0, rng.randrange(0, 480 * 200))
        pauses = []
        t = start
        for _ in range(rng.randrange(0, 3)):
            t = cal.add_working_minutes(t, rng.randrange(1, 480 * 5))
            end = cal.add_working_minutes(t, rng.randrange(1, 480 * 5))
            pauses.append(_Pause(t, end, "supplement"))
            t = end
        until = cal.add_working_minutes(t, rng.randrange(1, 480 * 8))
        if rng.random() < 0.3:  # a result in the lunch break, the evening, a weekend
            until += _td(minutes=rng.choice([5, 45, 90, 600, 2000]), seconds=rng.randrange(60))
        used = working_minutes_used(cal, clock_started_at=start, until=until, pauses=pauses)
        for limit in {max(0, used - 1), used, used + 1, rng.randrange(1, 480 * 10)}:
            late = until > _due(cal, clock_started_at=start, limit_minutes=limit, pauses=pauses)
            assert late == (used > limit), (start, pauses, until, limit, used)
