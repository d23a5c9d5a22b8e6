"""The deadline clock of a dossier, on the agency's working calendar (conventions and their legal
sources: docs/DEADLINES.md).

Calendar changes announced after a dossier arrived (a late holiday swap, an agency closure): the
appointment already given never moves earlier. The deadline of every open dossier whose window
covers the changed day is recomputed on the new calendar; when that is later, the appointment
moves and the move is recorded (event `deadline_moved`, the applicant and the portal are told),
otherwise the dossier keeps the calendar version it was promised with. Every appointment records
the calendar version it was computed with (overrides are immutable, versioned rows), so an
explanation given a year ago still reproduces. A dossier already late stays late.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from sqlalchemy import func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from app import effects, parties, reference
from app.auth.principal import Principal
from app.channels.messages import when_text
from app.errors import Conflict, Invalid, NotFound
from app.models import Agency, CalendarOverride, ClockPause, ClockState, Dossier, Procedure
from app.settings import Settings
from app.sla.calendar import DayOverride, WorkingCalendar
from app.sla.deadlines import (DeadlineExplanation, Pause, chained_due_at, classify_outcome, compute_due_at,
                               cutoff_due_at, due_soon_at, due_soon_window, explain_deadline, limit_minutes,
                               parse_cutoff)


def calendar_for(session: Session, agency_id: int, settings: Settings, *, version: int | None = None) -> WorkingCalendar:
    """The agency's calendar as it stands now, or as it stood at `version` of its overrides."""
    found = reference.calendar_history(session, agency_id)  # from memory, dropped at once on any change
    if found is None:
        raise NotFound("Không có cơ quan.", code="agency_not_found")
    working_hours, history = found
    return _calendar(settings.timezone, working_hours or settings.working_hours, history, version)


@dataclasses.dataclass(frozen=True)
class AgencyCalendars:
    holder: WorkingCalendar
    appointment: WorkingCalendar
    step: Callable[[int], WorkingCalendar] | None  # None: every step on the one calendar


def agency_calendars(session: Session, dossier: Dossier, procedure: Procedure, settings: Settings,
                     calendar_of: Callable[[int], WorkingCalendar] | None = None) -> AgencyCalendars:
    """The calendars a dossier's deadlines run on: `holder` (the agency holding it now: its current
    step, before the first one the receiving point), `appointment` (where the result is returned),
    `step(i)` (step i's agency). One calendar for a single-agency dossier. `calendar_of` (agency id ->
    calendar) lets the deadline scan reuse the calendars it already read."""
    read = calendar_of or (lambda agency_id: calendar_for(session, agency_id, settings))
    if not parties.is_interagency(procedure):
        cal = read(dossier.agency_id)
        return AgencyCalendars(holder=cal, appointment=cal, step=None)
    return AgencyCalendars(
        holder=read(parties.step_agency_id(session, dossier, procedure, dossier.current_step)),
        appointment=read(parties.appointment_agency_id(session, dossier, procedure)),
        step=lambda index: read(parties.step_agency_id(session, dossier, procedure, index)))


def calendar_at(cal: WorkingCalendar, version: int) -> WorkingCalendar:
    """The same agency's calendar at another version of its overrides (no database read)."""
    source = getattr(cal, "source", None)  # a calendar built by calendar_for knows its history
    if version == cal.version or source is None:
        return cal
    tz, periods, history = source
    return _calendar(tz, periods, history, version)


@lru_cache(maxsize=256)
def _calendar(tz: str, periods: str, history: tuple[tuple, ...], version: int | None) -> WorkingCalendar:
    # Keyed by everything that defines the calendar, so a changed override is a new key; the
    # calendar memoizes its working-day tables per year, which every action would rebuild otherwise.
    current = max((row[0] for row in history), default=0)
    version = current if version is None else min(version, current)
    effective: dict[date, DayOverride | None] = {}
    for row_version, day, is_working, reason, is_removal in history:  # ordered by version
        if row_version <= version:
            effective[day] = None if is_removal else DayOverride(day, is_working, reason)
    cal = WorkingCalendar(tz=tz, periods=periods, overrides=tuple(o for o in effective.values() if o),
                          version=version)
    cal.source = (tz, periods, history)  # type: ignore[attr-defined]
    return cal


def _pauses(session: Session, dossier: Dossier) -> list[ClockPause]:
    return list(session.exec(select(ClockPause).where(ClockPause.dossier_id == dossier.id)
                             .order_by(ClockPause.started_at)).all())


def _closed_pauses_since_start(session: Session, dossier: Dossier) -> list[Pause]:
    if dossier.id is None:
        return []  # not written yet (an intake starting its clock): no pauses to read
    start = dossier.clock_started_at
    return [Pause(p.started_at, p.ended_at, p.reason) for p in _pauses(session, dossier)
            if p.ended_at is not None and start is not None and p.started_at >= start]


def step_plan(session: Session, dossier: Dossier, procedure: Procedure | None, cal: WorkingCalendar,
              settings: Settings) -> list[tuple[WorkingCalendar, int]] | None:
    """Inter-agency: each step's budget with the calendar of the agency that holds it (the
    competent agency's is `cal`), in order; None for a single-agency dossier (one calendar), a
    same-day rule, or budgets that do not make up the dossier's limit."""
    if procedure is None or procedure.same_day_cutoff or not parties.is_interagency(procedure):
        return None
    calendars: dict[int, WorkingCalendar] = {dossier.agency_id: cal}
    plan = []
    for index, step in enumerate(procedure.workflow):
        agency_id = parties.step_agency_id(session, dossier, procedure, index)
        if agency_id not in calendars:
            calendars[agency_id] = calendar_for(session, agency_id, settings)
        plan.append((calendars[agency_id], int(step["budget_hours"]) * 60))
    return plan if sum(minutes for _, minutes in plan) == dossier.limit_minutes else None


def _due_on(session: Session, dossier: Dossier, cal: WorkingCalendar,
            plan: list[tuple[WorkingCalendar, int]] | None = None) -> datetime:
    assert dossier.clock_started_at is not None
    pauses = _closed_pauses_since_start(session, dossier)
    if plan is not None:  # inter-agency: each step on its own agency's calendar, one after the other
        return chained_due_at(plan, clock_started_at=dossier.clock_started_at, pauses=pauses)
    return compute_due_at(cal, clock_started_at=dossier.clock_started_at, limit_minutes=dossier.limit_minutes,
                          pauses=pauses)


def _set_due(session: Session, dossier: Dossier, cal: WorkingCalendar, settings: Settings,
             procedure: Procedure | None = None) -> None:
    """Compute the appointment on the current calendar and on the one it was promised with; the
    later of the two wins (an appointment never moves earlier), and its version is recorded.
    Inter-agency (`procedure` given): the steps' budgets chained, each on its agency's calendar;
    the version is the competent agency's, and the due-soon moment is on the calendar of the
    agency that returns the result (the last step's)."""
    plan = step_plan(session, dossier, procedure, cal, settings)
    due, version = _due_on(session, dossier, cal, plan), cal.version
    if dossier.due_at is not None and dossier.calendar_version != cal.version:
        then = calendar_at(cal, dossier.calendar_version)
        promised = _due_on(session, dossier, then, [(then if c is cal else c, m) for c, m in plan] if plan else None)
        if promised > due:
            due, version = promised, dossier.calendar_version
    dossier.due_at, dossier.calendar_version = due, version
    last = plan[-1][0] if plan else cal
    window = due_soon_window(dossier.limit_minutes, settings.due_soon_window_minutes,
                             minutes_per_day=last.minutes_per_day)
    dossier.due_soon_at = due_soon_at(last, due, window)
    refresh_next_alert(dossier)


def mark_late(dossier: Dossier, now: datetime) -> bool:
    """Record, once, the moment the appointment passed while the agency held the dossier (clock
    running). From then on it is late for good: no supplement, payment request, calendar change
    or apology makes it early or on time. True when it is late."""
    if dossier.late_since is None and dossier.clock_state == ClockState.running and dossier.due_at is not None \
            and now > dossier.due_at:
        dossier.late_since = dossier.due_at
    return dossier.late_since is not None


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
    unchecked = dossier.status == "submitted" and dossier.check_due_at is not None and dossier.checked_at is None
    if dossier.clock_state != ClockState.running and not unchecked:
        dossier.next_alert_at = None
        return
    if unchecked and (cal is None or now is None or settings is None):
        dossier.next_alert_at = dossier.check_due_at  # the desk's one working day to check it
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


def clock_start(cal: WorkingCalendar, procedure: Procedure, *, channel: str, submitted_at: datetime | None,
                now: datetime) -> tuple[datetime, int]:
    """(clock start, limit in working minutes) of a dossier received complete at `now`: the next
    working moment; an online submission's, the start of the next working period after it was
    submitted; a same-day cut-off rule gives the limit up to its appointment. Also used to
    recompute appointments from the event log (app/foresight/fromevents.py)."""
    if channel == "online" and submitted_at is not None:
        started = cal.next_period_start(submitted_at)
    else:
        started = cal.next_working_moment(now)
    if procedure.same_day_cutoff:
        due = cutoff_due_at(cal, started, parse_cutoff(procedure.same_day_cutoff))
        return started, cal.working_minutes_between(started, due)
    return started, limit_minutes(procedure.time_limit_value, procedure.time_limit_unit,
                                  minutes_per_day=cal.minutes_per_day)


def start_clock(session: Session, dossier: Dossier, procedure: Procedure, cal: WorkingCalendar, *, now: datetime,
                settings: Settings) -> None:
    """A complete dossier is received: the limit counts from the next working moment; an online
    submission's from the start of the next working period after it was submitted."""
    dossier.received_at = dossier.received_at or now
    dossier.clock_started_at, dossier.limit_minutes = clock_start(cal, procedure, channel=dossier.channel,
                                                                  submitted_at=dossier.submitted_at, now=now)
    dossier.clock_state = ClockState.running
    dossier.due_at = None  # a first appointment: nothing promised yet
    _set_due(session, dossier, cal, settings, procedure)
    mark_late(dossier, now)  # an online submission accepted after its whole limit ran out


def pause_clock(session: Session, dossier: Dossier, *, reason: str, rule: str, now: datetime) -> None:
    if dossier.clock_state != ClockState.running:
        return  # nothing to pause (e.g. an incomplete dossier never started its clock)
    mark_late(dossier, now)  # a pause after the appointment cannot rescue the dossier
    session.add(ClockPause(dossier_id=dossier.id, reason=reason, rule=rule, started_at=now))
    dossier.clock_state = ClockState.paused
    dossier.paused_at = now
    dossier.next_alert_at = None


def resume_clock(session: Session, dossier: Dossier, procedure: Procedure, cal: WorkingCalendar, *,
                 now: datetime, settings: Settings, allow_reset: bool) -> str:
    """End the open pause. Returns what happened: "start", "reset" or "resume".

    `pause` (the default, Decree 61/2018 Art. 19): the due date moves by the working time spent
    waiting. `reset` (only where the procedure's text says so): the full limit counts afresh from
    the arrival of the complete supplement — unless the dossier was late already: then the
    appointment stays where it was (late for good; the apology gives the new one).
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
    if allow_reset and open_pause.rule == "reset" and dossier.late_since is None:
        dossier.clock_started_at = cal.next_working_moment(now)
        _set_due(session, dossier, cal, settings, procedure)
        return "reset"
    _set_due(session, dossier, cal, settings, procedure)
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
        mark_late(dossier, now)
        dossier.resolved_at = now
        dossier.outcome = classify_outcome(now, dossier.due_at, settings.timezone, late_since=dossier.late_since).value
    dossier.clock_state = ClockState.stopped
    dossier.next_alert_at = None


def explain(session: Session, dossier: Dossier, procedure: Procedure, cal: WorkingCalendar,
            settings: Settings | None = None) -> DeadlineExplanation | None:
    """Why the appointment is what it is, reproduced on the calendar version it was computed with."""
    if dossier.clock_started_at is None:
        return None
    rule = None
    if procedure.same_day_cutoff:
        rule = (f"Trả kết quả trong ngày làm việc nếu tiếp nhận trước {procedure.same_day_cutoff}; "
                f"tiếp nhận từ {procedure.same_day_cutoff} trở đi thì trả vào ngày làm việc tiếp theo.")
    then = calendar_at(cal, dossier.calendar_version)
    out = explain_deadline(then, clock_started_at=dossier.clock_started_at,
                           limit_value=procedure.time_limit_value, limit_unit=procedure.time_limit_unit,
                           pauses=_closed_pauses_since_start(session, dossier), minutes=dossier.limit_minutes,
                           rule=rule)
    if settings is not None and (plan := step_plan(session, dossier, procedure, then, settings)) is not None:
        # Inter-agency: the days off listed are the competent agency's; the appointment is the chain's.
        unit = "ngày làm việc" if procedure.time_limit_unit == "working_days" else "giờ làm việc"
        out = dataclasses.replace(out, due_at=_due_on(session, dossier, then, plan), rule=(
            f"Thời hạn {procedure.time_limit_value} {unit} của thủ tục liên thông là tổng thời gian các bước, "
            "mỗi bước tính theo lịch làm việc của cơ quan thực hiện bước đó (trừ cả ngày nghỉ riêng của cơ quan đó)"))
    return out


def all_pauses(session: Session, dossier: Dossier) -> list[ClockPause]:
    return _pauses(session, dossier)


# --- Calendar overrides (admin) -------------------------------------------------------------

def _effective_rows(session: Session, agency_id: int) -> dict[date, CalendarOverride]:
    """The override in force for each day (the latest row per day, unless it is a removal)."""
    latest: dict[date, CalendarOverride] = {}
    for row in session.exec(select(CalendarOverride).where(CalendarOverride.agency_id == agency_id)
                            .order_by(CalendarOverride.version)).all():
        latest[row.day] = row
    return {day: row for day, row in latest.items() if not row.is_removal}


def list_overrides(session: Session, agency_id: int, *, year: int | None = None) -> list[CalendarOverride]:
    rows = sorted(_effective_rows(session, agency_id).values(), key=lambda r: r.day)
    return [r for r in rows if year is None or r.day.year == year]


def _append_override(session: Session, *, agency_id: int, day: date, is_working: bool, reason: str,
                     is_removal: bool, user_id: int, now: datetime) -> CalendarOverride:
    # The agency's calendar rows are serialized by locking the agency row (two admins at once).
    session.exec(select(Agency.id).where(Agency.id == agency_id).with_for_update()).first()
    last = session.exec(select(func.max(CalendarOverride.version))
                        .where(CalendarOverride.agency_id == agency_id)).one() or 0
    row = CalendarOverride(agency_id=agency_id, day=day, is_working=is_working, reason=reason, created_by_id=user_id,
                           created_at=now, version=last + 1, is_removal=is_removal)
    session.add(row)
    session.flush()
    return row


def add_override(session: Session, *, agency_id: int, day: date, is_working: bool, reason: str, principal: Principal,
                 now: datetime, settings: Settings) -> tuple[CalendarOverride, list[Dossier]]:
    if not reason.strip():
        raise Invalid("Cần nêu lý do điều chỉnh lịch làm việc.", code="reason_required")
    if day in _effective_rows(session, agency_id):
        raise Conflict(f"Ngày {day:%d/%m/%Y} đã có điều chỉnh lịch làm việc.", code="override_exists")
    override = _append_override(session, agency_id=agency_id, day=day, is_working=is_working, reason=reason.strip(),
                                is_removal=False, user_id=principal.id, now=now)
    why = f"Điều chỉnh lịch ngày {day:%d/%m/%Y}: {override.reason}"
    return override, recompute_open_deadlines(session, agency_id=agency_id, day=day, settings=settings, now=now,
                                              principal=principal, reason=why)


def remove_override(session: Session, *, agency_id: int, override_id: int, principal: Principal, now: datetime,
                    settings: Settings) -> list[Dossier]:
    override = session.get(CalendarOverride, override_id)
    if override is None or override.agency_id != agency_id \
            or _effective_rows(session, agency_id).get(override.day) is not override:
        raise NotFound("Không có điều chỉnh lịch làm việc này.", code="override_not_found")
    _append_override(session, agency_id=agency_id, day=override.day, is_working=override.is_working,
                     reason=f"Hủy điều chỉnh: {override.reason}"[:255], is_removal=True, user_id=principal.id,
                     now=now)
    why = f"Hủy điều chỉnh lịch ngày {override.day:%d/%m/%Y} ({override.reason})"
    return recompute_open_deadlines(session, agency_id=agency_id, day=override.day, settings=settings, now=now,
                                    principal=principal, reason=why)


def recompute_open_deadlines(session: Session, *, agency_id: int, day: date, settings: Settings, now: datetime,
                             principal: Principal | None, reason: str) -> list[Dossier]:
    """Recompute the deadlines of the open dossiers whose window [clock start, due] covers `day`.

    The appointment moves only later (recorded, told to the applicant and the portal); a late
    dossier keeps its appointment. Step deadlines follow the new calendar either way. Returns the
    dossiers whose appointment moved."""
    cal = calendar_for(session, agency_id, settings)
    start_of_day = datetime.combine(day, time.min, tzinfo=cal.tz)
    window_end = start_of_day + timedelta(days=1)
    # Inter-agency: the dossiers of procedures in which the agency receives or decides run on its
    # calendar too, in its steps.
    changed = session.get(Agency, agency_id)
    involved = [p.id for p in session.exec(select(Procedure).where(Procedure.agency_id != agency_id)).all()
                if changed is not None and parties.is_interagency(p)
                and changed.code in parties.party_codes(p)] if changed is not None else []
    rows = session.exec(sa_select(Dossier).where(
        or_(Dossier.agency_id == agency_id, Dossier.procedure_id.in_(involved)) if involved
        else Dossier.agency_id == agency_id,
        Dossier.clock_state.in_([ClockState.running, ClockState.paused]),
        Dossier.clock_started_at < window_end,
        Dossier.due_at >= start_of_day,
    ).with_for_update()).scalars().all()
    ctx = effects.Context(principal, now, settings)
    moved = []
    for dossier in rows:
        procedure = session.get(Procedure, dossier.procedure_id)
        assert procedure is not None
        own = cal if dossier.agency_id == agency_id else calendar_for(session, dossier.agency_id, settings)
        if dossier.step_started_at is not None and dossier.current_step is not None:
            budget = int(procedure.workflow[dossier.current_step].get("budget_hours", 0)) * 60
            holder = parties.step_agency_id(session, dossier, procedure, dossier.current_step) \
                if parties.is_interagency(procedure) else dossier.agency_id
            step_cal = own if holder == dossier.agency_id else cal if holder == agency_id \
                else calendar_for(session, holder, settings)
            dossier.step_due_at = step_cal.add_working_minutes(dossier.step_started_at, budget)
        if mark_late(dossier, now):
            refresh_next_alert(dossier)
            continue
        before, before_version = dossier.due_at, dossier.calendar_version
        _set_due(session, dossier, own, settings, procedure)
        if before is not None and dossier.due_at is not None and dossier.due_at < before:
            # Another agency's calendar freed a day: the appointment given never moves earlier.
            dossier.due_at, dossier.calendar_version = before, before_version
        if dossier.clock_state != ClockState.running:
            dossier.next_alert_at = None
        if dossier.due_at == before:
            continue
        moved.append(dossier)
        dossier.version += 1
        dossier.updated_at = now
        session.add(dossier)
        session.flush()
        note = f"Ngày hẹn trả chuyển từ {when_text(before)} sang {when_text(dossier.due_at)}. Lý do: {reason}"
        effects.record(session, dossier, procedure, ctx, action="deadline_moved", from_status=dossier.status,
                       from_step=dossier.current_step, note=note[:2000], full_sync=True,
                       data={"due_before": before.isoformat() if before else None,
                             "due_after": dossier.due_at.isoformat() if dossier.due_at else None,
                             "reason": reason, "calendar_version_before": before_version,
                             "calendar_version": dossier.calendar_version},
                       notification=("deadline_moved", reason))
    return moved
