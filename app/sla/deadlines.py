"""Deadline engine on top of WorkingCalendar: due dates, pauses, outcome and progress labels.

ONE_STOP.md "Time limits and deadlines": limits are in working days (1 day = 8 working hours)
or working hours; a pause (e.g. waiting for the applicant's financial obligation) moves the
due date by the working time it lasted; outcomes are trước hạn / đúng hạn / quá hạn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo

from app.sla.calendar import NonWorkingDay, WorkingCalendar, require_aware

__all__ = [
    "OUTCOME_LABELS",
    "PROGRESS_LABELS",
    "DeadlineExplanation",
    "LimitUnit",
    "Outcome",
    "Pause",
    "Progress",
    "classify_outcome",
    "apology_draft_window",
    "classify_progress",
    "cutoff_due_at",
    "due_soon_window",
    "parse_cutoff",
    "compute_due_at",
    "chained_due_at",
    "due_soon_at",
    "explain_deadline",
    "limit_minutes",
    "overdue_by",
    "working_minutes_used",
]


class LimitUnit(StrEnum):
    working_days = "working_days"
    working_hours = "working_hours"


def limit_minutes(value: int, unit: LimitUnit | str, *, minutes_per_day: int = 480) -> int:
    unit = LimitUnit(unit)  # ValueError for an unknown unit
    if value < 0:
        raise ValueError(f"time limit must be >= 0, got {value}")
    return value * minutes_per_day if unit is LimitUnit.working_days else value * 60


@dataclass(frozen=True)
class Pause:
    started_at: datetime
    ended_at: datetime | None  # None: still paused (handled by the caller)
    reason: str

    def __post_init__(self) -> None:
        require_aware(self.started_at, "Pause.started_at")
        if self.ended_at is not None:
            require_aware(self.ended_at, "Pause.ended_at")
            if self.ended_at < self.started_at:
                raise ValueError(f"pause ends ({self.ended_at}) before it starts ({self.started_at})")


def _apply_pauses(
    cal: WorkingCalendar, clock_started_at: datetime, minutes: int, pauses: Sequence[Pause]
) -> tuple[datetime, list[int]]:
    """Due moment and the working minutes each pause added (same order as `pauses`)."""
    added = [0] * len(pauses)
    due = cal.add_working_minutes(clock_started_at, minutes)
    counted = sorted(
        (i for i, p in enumerate(pauses) if p.ended_at is not None and p.started_at >= clock_started_at),
        key=lambda i: pauses[i].started_at,
    )
    covered_until = clock_started_at  # overlapping pauses must not count the same time twice
    for i in counted:
        p = pauses[i]
        assert p.ended_at is not None
        start = max(p.started_at, covered_until)
        if p.ended_at <= start:
            continue
        # The limit had already run out before this pause began: it cannot rescue a late dossier.
        if cal.next_working_moment(start) >= due:
            break
        added[i] = cal.working_minutes_between(start, p.ended_at)
        due = cal.add_working_minutes(due, added[i])
        covered_until = p.ended_at
    return due, added


def compute_due_at(
    cal: WorkingCalendar,
    *,
    clock_started_at: datetime,
    limit_minutes: int,
    pauses: Sequence[Pause] = (),
) -> datetime:
    """When `limit_minutes` of working time have run since the clock started, pauses excluded."""
    return _apply_pauses(cal, clock_started_at, limit_minutes, pauses)[0]


def chained_due_at(
    plan: Sequence[tuple[WorkingCalendar, int]],
    *,
    clock_started_at: datetime,
    pauses: Sequence[Pause] = (),
) -> datetime:
    """An inter-agency dossier's limit: the budgets of its steps one after the other, each counted on
    the calendar of the agency that holds the step (`plan`: (calendar, minutes) per step). A closed
    pause (waiting for the applicant) holds the chain where it stands, in the step it falls in; a
    pause that begins after the whole limit has run out rescues nothing (as in `compute_due_at`).
    On a single calendar this is the same moment as `compute_due_at`."""
    require_aware(clock_started_at, "clock_started_at")
    segments = [[cal, minutes] for cal, minutes in plan if minutes > 0]
    position, i = clock_started_at, 0
    closed = sorted((p for p in pauses if p.ended_at is not None and p.started_at >= clock_started_at),
                    key=lambda p: p.started_at)
    for pause in closed:
        assert pause.ended_at is not None
        while i < len(segments):  # the steps whose budget ran out before the pause began
            cal, left = segments[i]
            end = cal.add_working_minutes(position, left)
            if end > pause.started_at:
                break
            position, i = end, i + 1
        if i == len(segments):
            break
        if pause.ended_at <= position:
            continue  # inside a pause already counted
        cal = segments[i][0]
        segments[i][1] = max(0, segments[i][1] - cal.working_minutes_between(position, max(pause.started_at, position)))
        position = pause.ended_at
    for cal, left in segments[i:]:
        position = cal.add_working_minutes(position, left)
    return position


def working_minutes_used(cal: WorkingCalendar, *, clock_started_at: datetime, until: datetime,
                         pauses: Sequence[Pause] = ()) -> int:
    """The shortest limit, in working minutes, that a result ready at `until` meets: the working
    time the clock ran (the closed pauses counted as `compute_due_at` counts them), so that under
    a limit L it is late exactly when this exceeds L. The inverse of `compute_due_at` (what-if
    replay, app/foresight): estimated from working positions, then settled by `compute_due_at`
    itself (a result in the lunch break or the evening right after the appointment is late)."""
    waited = 0
    covered_until = clock_started_at
    for p in sorted((p for p in pauses if p.ended_at is not None and p.started_at >= clock_started_at),
                    key=lambda p: p.started_at):
        assert p.ended_at is not None
        start, end = max(p.started_at, covered_until), min(p.ended_at, until)
        if end > start:
            waited += cal.working_minutes_between(start, end)
        covered_until = max(covered_until, p.ended_at)
    span = cal.working_position(until) - cal.working_position(clock_started_at) - waited * 60_000_000
    used = max(0, -(-span // 60_000_000))

    def late(minutes: int) -> bool:
        return until > compute_due_at(cal, clock_started_at=clock_started_at, limit_minutes=minutes, pauses=pauses)

    # Below `used` the appointment's working position falls before `until`'s: late for sure.
    while late(used):
        used += 1
    return used


def due_soon_at(cal: WorkingCalendar, due_at: datetime, window_minutes: int) -> datetime:
    return cal.subtract_working_minutes(due_at, window_minutes)


def due_soon_window(limit_minutes: int, preferred_minutes: int, *, minutes_per_day: int = 480) -> int:
    """The "due soon" window never covers the whole limit: for a limit shorter than two working
    days it is a quarter of the limit (a same-day procedure is not "due soon" at receipt)."""
    if limit_minutes < 2 * minutes_per_day:
        return min(preferred_minutes, limit_minutes // 4)
    return preferred_minutes


def apology_draft_window(limit_minutes: int, *, minutes_per_day: int = 480) -> int:
    """How long before the appointment an apology is drafted at the latest: two working days,
    never more than half the limit (a short procedure is not apologised for at receipt)."""
    return min(2 * minutes_per_day, limit_minutes // 2)


def parse_cutoff(text: str) -> time:
    """"HH:MM" of a same-day cut-off rule; ValueError otherwise."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def cutoff_due_at(cal: WorkingCalendar, clock_started_at: datetime, cutoff: time) -> datetime:
    """"The same working day if received before the cut-off, otherwise the next working day"
    (e.g. a copy of a diploma from the original register, Decree 23/2015, Circular 21/2019: 15:00).
    `clock_started_at` is already a working moment (a dossier received after hours counts from the
    next working period)."""
    local = clock_started_at.astimezone(cal.tz)
    day = local.date()
    if local.time() >= cutoff:
        day = cal.next_working_moment(cal.end_of_working_day(day)).astimezone(cal.tz).date()
    return cal.end_of_working_day(day)


class Outcome(StrEnum):
    early = "early"
    on_time = "on_time"
    late = "late"


class Progress(StrEnum):
    within = "within"
    due_soon = "due_soon"
    overdue = "overdue"


OUTCOME_LABELS: dict[str, str] = {
    Outcome.early: "Trước hạn",
    Outcome.on_time: "Đúng hạn",
    Outcome.late: "Quá hạn",
}
PROGRESS_LABELS: dict[str, str] = {
    Progress.within: "Trong hạn",
    Progress.due_soon: "Sắp đến hạn",
    Progress.overdue: "Quá hạn",
}


def classify_outcome(resolved_at: datetime, due_at: datetime, tz: str | tzinfo, *,
                     late_since: datetime | None = None) -> Outcome:
    """The one outcome convention (docs/DEADLINES.md), judged when the result is ready for the
    applicant (at the one-stop desk, handed to the post, or published online):

    - trước hạn (early): an earlier local date than the appointment;
    - đúng hạn (on time): the appointment's date, not after its hour;
    - quá hạn (late): after the appointment moment, or the dossier was late already (`late_since`:
      once the appointment passed while the agency held it, nothing makes it early or on time).
    """
    require_aware(resolved_at, "resolved_at")
    require_aware(due_at, "due_at")
    if late_since is not None or resolved_at > due_at:
        return Outcome.late
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    if resolved_at.astimezone(zone).date() < due_at.astimezone(zone).date():
        return Outcome.early
    return Outcome.on_time


def classify_progress(now: datetime, *, due_at: datetime, due_soon_at: datetime) -> Progress:
    if now > due_at:
        return Progress.overdue
    if now >= due_soon_at:
        return Progress.due_soon
    return Progress.within


def overdue_by(cal: WorkingCalendar, now: datetime, due_at: datetime) -> tuple[int, int]:
    """(working days, whole working hours) past the due moment; partial hours are dropped."""
    days, rest = divmod(cal.working_minutes_between(due_at, now), cal.minutes_per_day)
    return days, rest // 60


@dataclass(frozen=True)
class DeadlineExplanation:
    clock_started_at: datetime
    limit_value: int
    limit_unit: str
    limit_minutes: int
    skipped_days: list[NonWorkingDay]  # every non-working day from start to due, with reason
    pauses: list[tuple[Pause, int]]  # each given pause with the working minutes it added
    due_at: datetime
    rule: str | None = None  # a special rule of the procedure (same-day cut-off), in Vietnamese


def explain_deadline(
    cal: WorkingCalendar,
    *,
    clock_started_at: datetime,
    limit_value: int,
    limit_unit: LimitUnit | str,
    pauses: Sequence[Pause] = (),
    minutes: int | None = None,
    rule: str | None = None,
) -> DeadlineExplanation:
    """`minutes`: the limit actually counted when a rule replaces value x unit (a cut-off rule)."""
    if minutes is None:
        minutes = limit_minutes(limit_value, limit_unit, minutes_per_day=cal.minutes_per_day)
    due, added = _apply_pauses(cal, clock_started_at, minutes, pauses)
    return DeadlineExplanation(
        clock_started_at=clock_started_at,
        limit_value=limit_value,
        limit_unit=LimitUnit(limit_unit).value,
        limit_minutes=minutes,
        skipped_days=cal.non_working_days_between(clock_started_at, due),
        pauses=list(zip(pauses, added)),
        due_at=due,
        rule=rule,
    )
