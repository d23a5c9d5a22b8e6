"""The deadline clock of a dossier, on the agency's working calendar.

Rule for calendar changes announced after a dossier arrived (a late holiday swap, an agency
closure): the deadline of every open dossier whose window covers the changed day is recomputed
from its clock history, and the change is recorded on the dossier as an event. The appointment
always follows the calendar in force; the event keeps the previous date for the record.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache

from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from app.errors import Conflict, Invalid, NotFound
from app.models import Agency, CalendarOverride, ClockPause, ClockState, Dossier, Procedure
from app.settings import Settings
from app.sla.calendar import DayOverride, WorkingCalendar
from app.sla.deadlines import (DeadlineExplanation, Pause, classify_outcome, compute_due_at, due_soon_at,
                               explain_deadline, limit_minutes)


def calendar_for(session: Session, agency_id: int, settings: Settings) -> WorkingCalendar:
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("Không có cơ quan.", code="agency_not_found")
    rows = session.exec(select(CalendarOverride).where(CalendarOverride.agency_id == agency_id)
                        .order_by(CalendarOverride.day)).all()
    return _calendar(settings.timezone, agency.working_hours or settings.working_hours,
                     tuple(DayOverride(r.day, r.is_working, r.reason) for r in rows))


@lru_cache(maxsize=256)
def _calendar(tz: str, periods: str, overrides: tuple[DayOverride, ...]) -> WorkingCalendar:
    # Keyed by everything that defines the calendar, so a changed override is a new key; the
    # calendar memoizes its working-day tables per year, which every action would rebuild otherwise.
    return WorkingCalendar(tz=tz, periods=periods, overrides=overrides)


def _pauses(session: Session, dossier: Dossier) -> list[ClockPause]:
    return list(session.exec(select(ClockPause).where(ClockPause.dossier_id == dossier.id)
                             .order_by(ClockPause.started_at)).all())


def _closed_pauses_since_start(session: Session, dossier: Dossier) -> list[Pause]:
    if dossier.id is None:
        return []  # not written yet (an intake starting its clock): no pauses to read
    start = dossier.clock_started_at
    return [Pause(p.started_at, p.ended_at, p.reason) for p in _pauses(session, dossier)
            if p.ended_at is not None and start is not None and p.started_at >= start]


def _set_due(session: Session, dossier: Dossier, cal: WorkingCalendar, settings: Settings) -> None:
    assert dossier.clock_started_at is not None
    dossier.due_at = compute_due_at(cal, clock_started_at=dossier.clock_started_at,
                                    limit_minutes=dossier.limit_minutes,
                                    pauses=_closed_pauses_since_start(session, dossier))
    dossier.due_soon_at = due_soon_at(cal, dossier.due_at, settings.due_soon_window_minutes)
    refresh_next_alert(dossier)


def refresh_next_alert(dossier: Dossier, *, cal: WorkingCalendar | None = None, now: datetime | None = None,
                       settings: Settings | None = None) -> None:
    """The next moment the deadline scan must look at this dossier (indexed; None when nothing is ahead).

    With the calendar, `now` and the settings (the deadline scan), that is the earliest alert
    threshold still ahead of `now` (`app.sla.scan.alert_thresholds`: step due soon / overdue,
    due soon / overdue against the appointment and an apology's new one, the daily reminder for
    an overdue dossier without an apology). Without them (a workflow change), it is the earliest
    raw moment: the start of the current step (so the scan places the step's due-soon moment on
    the calendar at its next pass), the step deadline, the due-soon and due moments. A moment in
    the past only makes the scan look again; alerts are unique, so nothing fires twice.
    """
    if dossier.clock_state != ClockState.running:
        dossier.next_alert_at = None
        return
    if cal is None or now is None or settings is None:
        step_start = dossier.step_started_at if dossier.step_due_at is not None else None
        candidates = [t for t in (step_start, dossier.step_due_at, dossier.due_soon_at, dossier.due_at,
                                  dossier.new_due_at) if t is not None]
        dossier.next_alert_at = min(candidates) if candidates else None
        return
    from app.sla.scan import alert_thresholds  # the scan owns the thresholds; it imports this module

    ahead = [t.fires_at for t in alert_thresholds(dossier, cal, now=now, settings=settings) if t.fires_at > now]
    dossier.next_alert_at = min(ahead) if ahead else None


def start_clock(session: Session, dossier: Dossier, procedure: Procedure, cal: WorkingCalendar, *, now: datetime,
                settings: Settings) -> None:
    """A complete dossier is received: the limit counts from the next working moment."""
    dossier.received_at = dossier.received_at or now
    dossier.clock_started_at = cal.next_working_moment(now)
    dossier.limit_minutes = limit_minutes(procedure.time_limit_value, procedure.time_limit_unit,
                                          minutes_per_day=cal.minutes_per_day)
    dossier.clock_state = ClockState.running
    _set_due(session, dossier, cal, settings)


def pause_clock(session: Session, dossier: Dossier, *, reason: str, rule: str, now: datetime) -> None:
    if dossier.clock_state != ClockState.running:
        return  # nothing to pause (e.g. an incomplete dossier never started its clock)
    session.add(ClockPause(dossier_id=dossier.id, reason=reason, rule=rule, started_at=now))
    dossier.clock_state = ClockState.paused
    dossier.paused_at = now
    dossier.next_alert_at = None


def resume_clock(session: Session, dossier: Dossier, procedure: Procedure, cal: WorkingCalendar, *,
                 now: datetime, settings: Settings, allow_reset: bool) -> str:
    """End the open pause. Returns what happened: "start", "reset" or "resume".

    `reset` (the default supplement rule): the full limit counts afresh from the arrival of the
    complete supplement. `pause`: the due date moves by the working time spent waiting.
    """
    if dossier.clock_state == ClockState.not_started:
        start_clock(session, dossier, procedure, cal, now=now, settings=settings)
        return "start"
    open_pause = next((p for p in reversed(_pauses(session, dossier)) if p.ended_at is None), None)
    if open_pause is None:
        raise Conflict("Hồ sơ không ở trạng thái tạm dừng tính thời hạn.", code="clock_not_paused")
    open_pause.ended_at = now
    open_pause.working_minutes = cal.working_minutes_between(open_pause.started_at, now)
    session.add(open_pause)
    session.flush()
    dossier.clock_state = ClockState.running
    dossier.paused_at = None
    if allow_reset and open_pause.rule == "reset":
        dossier.clock_started_at = cal.next_working_moment(now)
        _set_due(session, dossier, cal, settings)
        return "reset"
    _set_due(session, dossier, cal, settings)
    return "resume"


def working_minutes_spent(session: Session, dossier: Dossier, cal: WorkingCalendar, *, now: datetime) -> int | None:
    """Working time from reception to `now`, less the time waiting for the applicant (closed pauses):
    what the average-resolution-time indicator reads."""
    if dossier.received_at is None:
        return None
    waited = sum(p.working_minutes or 0 for p in _pauses(session, dossier)
                 if p.ended_at is not None and p.started_at >= dossier.received_at)
    return max(0, cal.working_minutes_between(dossier.received_at, now) - waited)


def stop_clock(dossier: Dossier, *, now: datetime, settings: Settings, resolved: bool) -> None:
    if resolved and dossier.due_at is not None:
        dossier.resolved_at = now
        dossier.outcome = classify_outcome(now, dossier.due_at, settings.timezone).value
    dossier.clock_state = ClockState.stopped
    dossier.next_alert_at = None


def explain(session: Session, dossier: Dossier, procedure: Procedure, cal: WorkingCalendar) -> DeadlineExplanation | None:
    if dossier.clock_started_at is None:
        return None
    return explain_deadline(cal, clock_started_at=dossier.clock_started_at,
                            limit_value=procedure.time_limit_value, limit_unit=procedure.time_limit_unit,
                            pauses=_closed_pauses_since_start(session, dossier))


def all_pauses(session: Session, dossier: Dossier) -> list[ClockPause]:
    return _pauses(session, dossier)


# --- Calendar overrides (admin) -------------------------------------------------------------

def list_overrides(session: Session, agency_id: int, *, year: int | None = None) -> list[CalendarOverride]:
    query = select(CalendarOverride).where(CalendarOverride.agency_id == agency_id)
    if year is not None:
        query = query.where(CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day <= date(year, 12, 31))
    return list(session.exec(query.order_by(CalendarOverride.day)).all())


def add_override(session: Session, *, agency_id: int, day: date, is_working: bool, reason: str, user_id: int,
                 now: datetime, settings: Settings) -> tuple[CalendarOverride, list[tuple[Dossier, datetime | None]]]:
    exists = session.exec(select(CalendarOverride).where(CalendarOverride.agency_id == agency_id,
                                                         CalendarOverride.day == day)).first()
    if exists is not None:
        raise Conflict(f"Ngày {day:%d/%m/%Y} đã có điều chỉnh lịch làm việc.", code="override_exists")
    if not reason.strip():
        raise Invalid("Cần nêu lý do điều chỉnh lịch làm việc.", code="reason_required")
    override = CalendarOverride(agency_id=agency_id, day=day, is_working=is_working, reason=reason.strip(),
                                created_by_id=user_id, created_at=now)
    session.add(override)
    session.flush()
    return override, recompute_open_deadlines(session, agency_id=agency_id, day=day, settings=settings)


def remove_override(session: Session, *, agency_id: int, override_id: int,
                    settings: Settings) -> list[tuple[Dossier, datetime | None]]:
    override = session.get(CalendarOverride, override_id)
    if override is None or override.agency_id != agency_id:
        raise NotFound("Không có điều chỉnh lịch làm việc này.", code="override_not_found")
    day = override.day
    session.delete(override)
    session.flush()
    return recompute_open_deadlines(session, agency_id=agency_id, day=day, settings=settings)


def recompute_open_deadlines(session: Session, *, agency_id: int, day: date,
                             settings: Settings) -> list[tuple[Dossier, datetime | None]]:
    """Recompute the deadline of open dossiers whose window [clock start, due] covers `day`.

    Returns (dossier, previous due) for each one whose due date changed; the caller records it.
    """
    cal = calendar_for(session, agency_id, settings)
    start_of_day = datetime.combine(day, time.min, tzinfo=cal.tz)
    window_end = start_of_day + timedelta(days=1)
    rows = session.exec(sa_select(Dossier).where(
        Dossier.agency_id == agency_id,
        Dossier.clock_state.in_([ClockState.running, ClockState.paused]),
        Dossier.clock_started_at < window_end,
        Dossier.due_at >= start_of_day,
    ).with_for_update()).scalars().all()
    changed = []
    for dossier in rows:
        before = dossier.due_at
        _set_due(session, dossier, cal, settings)
        if dossier.clock_state != ClockState.running:
            dossier.next_alert_at = None
        if dossier.due_at != before:
            changed.append((dossier, before))
    return changed
