"""The deadline scan and the leaders' daily digest: job bodies run by the scheduler process.

The scan reads only dossiers whose `next_alert_at` has come (`ix_dossiers_next_alert_at`, a
partial index: a range scan, never a pass over all rows), in bounded batches, each batch in its
own short transaction that first takes the advisory lock `motcua.scan` (one replica scans at a
time; the others return at once) and, on PostgreSQL, locks its rows with FOR UPDATE SKIP LOCKED
(a dossier an officer is changing right now is left for the next run). For each dossier it:

1. raises the alerts whose threshold has come (`alert_thresholds`); when a dossier was not
   looked at for a while (scheduler down) it raises the state reached, not every step on the way:
   an overdue step or dossier gets its "overdue" alert, not also the stale "due soon" one;
2. inserts them with INSERT ... ON CONFLICT DO NOTHING on `uq_alerts_once (dossier_id, kind,
   deadline_at, recipient_id)`: a crash, a restart or a second replica never duplicates one;
3. drafts the apology (form 4) of a dossier due soon or overdue that has none yet;
4. moves `next_alert_at` to the next threshold still ahead (`refresh_next_alert`), or NULL.

Because the range `next_alert_at <= now` holds everything that came due while nobody looked, a
scheduler that was down catches up on its first run.

Recipients: step due soon → the assignee (none: the step's supervisors); step overdue → the
assignee and the step's supervisors (the division's leaders for a division step, else the
Department's leaders); due soon / overdue → whoever holds the dossier (its assignee; unassigned,
the receiving point's desk before processing or whoever may take the current step), the leaders
of their unit and of the step's unit, the division's leaders and the Department's leaders (or,
inter-agency, the holding agency's); apology missing (overdue, no apology issued; once per working day, dated
at that day's start) → the Department's leaders.

Inter-agency procedures (app/parties.py): the thresholds are placed on the calendar and hours of
the agency holding the dossier (its current step; before the first one the receiving point), the
work left is counted step by step on each step's agency's calendar, the apology is drafted for
the agency at fault and its leaders are reminded of it; the holder's leaders supervise its step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, case, func, or_, text
from sqlalchemy.orm import load_only, sessionmaker
from sqlmodel import Session, select

from app import parties
from app.channels import messages
from app.db import transaction, try_advisory_xact_lock
from app.models import (Agency, Alert, Apology, ClockState, Dossier, DossierStatus, OutboxMessage, Procedure, Role,
                        SystemState, User)
from app.settings import Settings
from app.sla import apology as apologies
from app.sla.calendar import WorkingCalendar
from app.sla.deadlines import apology_draft_window
from app.sla.service import AgencyCalendars, agency_calendars, calendar_for, mark_late, refresh_next_alert

log = logging.getLogger(__name__)

SCAN_LOCK = "motcua.scan"
DIGEST_LOCK = "motcua.digest"

STEP_DUE_SOON = "step_due_soon"
STEP_OVERDUE = "step_overdue"
DUE_SOON = "due_soon"
OVERDUE = "overdue"
APOLOGY_MISSING = "apology_missing"
CHECK_OVERDUE = "check_overdue"  # an online submission not checked by the desk within a working day
ALERT_KINDS = (STEP_DUE_SOON, STEP_OVERDUE, DUE_SOON, OVERDUE, APOLOGY_MISSING, CHECK_OVERDUE)
APOLOGY_DRAFT = "apology_draft"  # a checkpoint, not an alert: is an apology needed? (nobody is told)

_JUST_AFTER = timedelta(microseconds=1)  # overdue means strictly past the deadline


@dataclass(frozen=True)
class Threshold:
    kind: str
    deadline_at: datetime  # what the alert is about; part of its identity (uq_alerts_once)
    fires_at: datetime  # when it is raised


def _day_start(cal: WorkingCalendar, day: date) -> datetime:
    """The first working moment on or after the local midnight of `day`."""
    return cal.next_working_moment(datetime.combine(day, time.min, tzinfo=cal.tz))


def alert_thresholds(dossier: Dossier, cal: WorkingCalendar, *, now: datetime, settings: Settings) -> list[Threshold]:
    """Every alert threshold of a dossier whose clock runs, past and future (`now` only places the
    daily reminder of an overdue dossier without an apology)."""
    if dossier.status == DossierStatus.submitted and dossier.check_due_at is not None and dossier.checked_at is None:
        return [Threshold(CHECK_OVERDUE, dossier.check_due_at, dossier.check_due_at + _JUST_AFTER)]
    if dossier.clock_state != ClockState.running:
        return []
    out: list[Threshold] = []
    if dossier.status == DossierStatus.processing and dossier.step_due_at is not None:
        soon = cal.subtract_working_minutes(dossier.step_due_at, settings.step_due_soon_window_minutes)
        if dossier.step_started_at is not None and soon < dossier.step_started_at:
            soon = dossier.step_started_at
        out.append(Threshold(STEP_DUE_SOON, dossier.step_due_at, soon))
        out.append(Threshold(STEP_OVERDUE, dossier.step_due_at, dossier.step_due_at + _JUST_AFTER))
    due = dossier.due_at
    if due is None:
        return out
    out.append(Threshold(DUE_SOON, due, dossier.due_soon_at or due))
    out.append(Threshold(OVERDUE, due, due + _JUST_AFTER))
    if dossier.apology_count == 0:
        window = apology_draft_window(dossier.limit_minutes, minutes_per_day=cal.minutes_per_day)
        out.append(Threshold(APOLOGY_DRAFT, due, cal.subtract_working_minutes(due, window)))
    new_due = dossier.new_due_at
    if new_due is not None and new_due > due:
        out.append(Threshold(DUE_SOON, new_due, cal.subtract_working_minutes(new_due, settings.due_soon_window_minutes)))
        out.append(Threshold(OVERDUE, new_due, new_due + _JUST_AFTER))
    if dossier.apology_count == 0 and now > due:
        today = now.astimezone(cal.tz).date()
        start = _day_start(cal, today)
        if start <= now:  # today is a working day and it has begun: today's reminder
            out.append(Threshold(APOLOGY_MISSING, start, start))
            start = _day_start(cal, today + timedelta(days=1))
        out.append(Threshold(APOLOGY_MISSING, start, start))
    return out


def due_alerts(thresholds: list[Threshold], now: datetime) -> list[Threshold]:
    """The thresholds reached at `now`, keeping the most severe state per deadline."""
    reached = [t for t in thresholds if t.fires_at <= now]
    overdue = {(t.kind, t.deadline_at) for t in reached if t.kind in (STEP_OVERDUE, OVERDUE)}
    superseded = {STEP_DUE_SOON: STEP_OVERDUE, DUE_SOON: OVERDUE, APOLOGY_DRAFT: OVERDUE}
    return [t for t in reached if (superseded.get(t.kind), t.deadline_at) not in overdue]


# --- who is told -------------------------------------------------------------------------------

@dataclass
class _People:
    leaders: dict[int, set[int]] = field(default_factory=dict)  # agency or division id -> leader ids
    active: set[int] = field(default_factory=set)
    desks: dict[int, set[int]] = field(default_factory=dict)  # receiving agency -> desk officers and their leaders
    # agency -> (user, their unit: the agency or one of its divisions, roles) of every active user in it
    staff: dict[int, list[tuple[int, int, frozenset[str]]]] = field(default_factory=dict)
    unit_of: dict[int, int] = field(default_factory=dict)  # user -> their unit


def _people(session: Session, dossiers: list[Dossier], holders: dict[int, int] | None = None,
            faults: dict[int, int] | None = None) -> _People:
    """`holders`: dossier id -> the agency holding its current step; `faults`: dossier id -> the
    agency at fault, which apologises (inter-agency procedures)."""
    agency_ids = {d.agency_id for d in dossiers} | {d.assigned_division_id for d in dossiers if d.assigned_division_id}
    agency_ids |= set((holders or {}).values()) | set((faults or {}).values())
    assignees = {d.assignee_id for d in dossiers if d.assignee_id}
    rows = session.exec(select(User.id, User.agency_id, User.roles).where(
        User.is_active, or_(User.agency_id.in_(agency_ids), User.id.in_(assignees or {0})))).all()  # type: ignore[attr-defined]
    people = _People()
    for user_id, agency_id, roles in rows:
        people.active.add(user_id)
        people.unit_of[user_id] = agency_id
        if Role.leader in (roles or []) and agency_id in agency_ids:
            people.leaders.setdefault(agency_id, set()).add(user_id)
    _holding_staff(session, dossiers, people)
    unchecked = {d.receiving_agency_id for d in dossiers if d.status == DossierStatus.submitted}
    for agency in unchecked:  # the desks of agencies with online submissions waiting: officers, their unit's leaders
        staff = people.staff.get(agency, [])
        desk_units = {unit for _, unit, roles in staff if Role.desk in roles}
        people.desks[agency] = {user_id for user_id, unit, roles in staff
                                if Role.desk in roles or (Role.leader in roles and unit in desk_units | {agency})}
    return people


def _holding_staff(session: Session, dossiers: list[Dossier], people: _People) -> None:
    """The active staff of the agencies that may hold these dossiers without an assignee: the desk of
    the receiving point before processing, the agency of the current step during it (with its
    divisions); the leaders of every unit among them are added to `people.leaders`."""
    pools = {d.receiving_agency_id for d in dossiers
             if d.status in (DossierStatus.submitted, DossierStatus.received)}
    pools |= {d.step_agency_id for d in dossiers if d.status == DossierStatus.processing and d.step_agency_id}
    if not pools:
        return
    units = session.exec(select(Agency.id, Agency.parent_id).where(
        or_(Agency.id.in_(pools), Agency.parent_id.in_(pools)))).all()  # type: ignore[attr-defined, union-attr]
    scope_of = {unit_id: (parent_id if parent_id in pools else unit_id) for unit_id, parent_id in units}
    for user_id, unit, roles in session.exec(select(User.id, User.agency_id, User.roles).where(
            User.is_active, User.agency_id.in_(list(scope_of)))).all():  # type: ignore[attr-defined]
        roles = frozenset(roles or [])
        people.staff.setdefault(scope_of[unit], []).append((user_id, unit, roles))
        people.unit_of[user_id] = unit
        people.active.add(user_id)
        if Role.leader in roles:
            people.leaders.setdefault(unit, set()).add(user_id)


def _held_by(dossier: Dossier, people: _People) -> set[int]:
    """Who holds the dossier: its assignee; else the desk officers of the receiving point before
    processing, or whoever may take the current step (its role, in its unit when it has one)."""
    if dossier.assignee_id in people.active:
        return {dossier.assignee_id}  # type: ignore[set-item]
    if dossier.status in (DossierStatus.submitted, DossierStatus.received):
        return {u for u, _, roles in people.staff.get(dossier.receiving_agency_id, []) if Role.desk in roles}
    if dossier.status == DossierStatus.processing and dossier.step_role and dossier.step_agency_id:
        return {u for u, unit, roles in people.staff.get(dossier.step_agency_id, [])
                if dossier.step_role in roles and dossier.step_unit_id in (None, unit)}
    return set()


def _recipients(kind: str, dossier: Dossier, step: dict | None, people: _People, holder: int | None = None,
                fault: int | None = None) -> set[int]:
    """`holder`: the agency holding the current step when it is not the competent one (an
    inter-agency procedure): its leaders supervise the step, the department's division does not.
    `fault`: the agency at fault of an inter-agency dossier: its leaders owe the apology."""
    assignee = {dossier.assignee_id} if dossier.assignee_id in people.active else set()
    at_home = holder is None or holder == dossier.agency_id
    division = people.leaders.get(dossier.assigned_division_id, set()) \
        if dossier.assigned_division_id and at_home else set()
    department = people.leaders.get(dossier.agency_id, set())
    holding = department if at_home else people.leaders.get(holder, set())  # type: ignore[arg-type]
    if kind in (STEP_DUE_SOON, STEP_OVERDUE):
        supervisors = division if (step or {}).get("scope") == "division" and division else holding
        return (assignee or supervisors) if kind == STEP_DUE_SOON else assignee | supervisors
    if kind in (DUE_SOON, OVERDUE):
        # Whoever holds it (the desk included) and the leaders of their unit and of the step's unit.
        held = _held_by(dossier, people)
        units = {people.unit_of[u] for u in held if u in people.unit_of} | {dossier.step_unit_id} - {None}
        unit_leaders = set().union(*(people.leaders.get(unit, set()) for unit in units))  # type: ignore[arg-type]
        return held | unit_leaders | division | department | holding
    if kind == CHECK_OVERDUE:
        return set(people.desks.get(dossier.receiving_agency_id, set()))
    if kind == APOLOGY_DRAFT:
        return set()
    return set(people.leaders.get(fault, set()) if fault is not None else department)  # apology_missing


def due_batches(factory: sessionmaker[Session], lock: str, query: Any, *, settings: Settings,
                stats: Any) -> Iterator[tuple[Session, list[Any]]]:
    """The batches of rows whose alert moment has come (`query`, ordered by it), each in its own
    transaction under the scan's advisory lock (PostgreSQL: another replica running the same scan
    makes this one stop, `stats.locked_out`), rows locked SKIP LOCKED; the caller writes each batch's
    alerts before the next is read. Stops at an empty or short batch, or after `scan_max_batches`.
    The deadline scan and the feedback scan both run on it."""
    size = settings.scan_batch_size
    for _ in range(settings.scan_max_batches):
        with transaction(factory) as session:
            if not try_advisory_xact_lock(session, lock):
                stats.locked_out = True
                return
            batch_query = query.limit(size)
            if session.get_bind().dialect.name == "postgresql":
                batch_query = batch_query.with_for_update(skip_locked=True)
            batch = list(session.exec(batch_query).all())
            if not batch:
                return
            yield session, batch
        if len(batch) < size:
            return


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]], *,
                conflict: list[str] | None = None) -> int:
    """Insert `rows` (same keys) in one statement; with `conflict`, ON CONFLICT (...) DO NOTHING.
    Returns how many rows were inserted.

    PostgreSQL: INSERT ... SELECT FROM unnest(one array per column) — one statement with as many
    parameters as columns, however many rows (a multi-VALUES statement of thousands of rows is
    slow to build and parse). SQLite: executemany of INSERT ... ON CONFLICT DO NOTHING RETURNING.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        columns = list(rows[0])
        arrays = ", ".join(f"CAST(:{c} AS {table.c[c].type.compile(dialect=dialect)}[])" for c in columns)
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        if conflict:
            sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
        params = {c: [row[c] for row in rows] for c in columns}
        return len(session.execute(text(sql + " RETURNING id"), params).all())
    from sqlalchemy.dialects.sqlite import insert

    stmt = insert(table)
    if conflict:
        stmt = stmt.on_conflict_do_nothing(index_elements=conflict)
    return len(session.execute(stmt.returning(table.c.id), rows).all())


ALERT_IDENTITY = ["dossier_id", "kind", "deadline_at", "recipient_id"]  # uq_alerts_once


def insert_alerts(session: Session, rows: list[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING on uq_alerts_once; returns how many rows were new."""
    return bulk_insert(session, Alert.__table__, rows, conflict=ALERT_IDENTITY)  # type: ignore[attr-defined]


# --- the scan ----------------------------------------------------------------------------------

@dataclass
class ScanStats:
    batches: int = 0
    dossiers: int = 0
    alerts: int = 0
    drafts: int = 0
    locked_out: bool = False  # another replica held the scan lock


class _Cache:
    """Calendars and procedures met during one run (they do not change within a minute)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.calendars: dict[int, WorkingCalendar] = {}
        self.procedures: dict[int, Procedure] = {}

    def load(self, session: Session, dossiers: list[Dossier]) -> None:
        missing = {d.procedure_id for d in dossiers} - set(self.procedures)
        if missing:
            for p in session.exec(select(Procedure).where(Procedure.id.in_(missing))).all():  # type: ignore[union-attr]
                self.procedures[p.id] = p  # type: ignore[index]
        for agency_id in {d.agency_id for d in dossiers} - set(self.calendars):
            self.calendars[agency_id] = calendar_for(session, agency_id, self.settings)
        self.session = session

    def calendar(self, agency_id: int) -> WorkingCalendar:
        """The agency's calendar, read once per run (inter-agency steps of other agencies)."""
        if agency_id not in self.calendars:
            self.calendars[agency_id] = calendar_for(self.session, agency_id, self.settings)
        return self.calendars[agency_id]


def _process(session: Session, dossiers: list[Dossier], *, now: datetime, settings: Settings,
             cache: _Cache) -> tuple[int, int]:
    cache.load(session, dossiers)
    holders = {d.id: parties.step_agency_id(session, d, cache.procedures[d.procedure_id], d.current_step)
               for d in dossiers
               if d.current_step is not None and parties.is_interagency(cache.procedures[d.procedure_id])}
    faults = {d.id: parties.fault_agency_id(session, d) for d in dossiers  # who may owe an apology
              if d.apology_count == 0 and d.due_at is not None and now > d.due_at
              and parties.is_interagency(cache.procedures[d.procedure_id])}
    people = _people(session, dossiers, holders, faults)
    rows: list[dict] = []
    needs_apology: list[Dossier] = []
    for dossier in dossiers:
        procedure = cache.procedures[dossier.procedure_id]
        # A step runs on the calendar and hours of the agency holding it (inter-agency: the People's
        # Committee's day off is not the Department's); the appointment on the returning agency's.
        cals = agency_calendars(session, dossier, procedure, settings, cache.calendar)
        cal = cals.holder
        step = None
        if dossier.current_step is not None and dossier.current_step < len(procedure.workflow):
            step = procedure.workflow[dossier.current_step]
        mark_late(dossier, now)
        wants_apology = False
        for threshold in due_alerts(alert_thresholds(dossier, cal, now=now, settings=settings), now):
            if threshold.kind == APOLOGY_DRAFT:
                wants_apology = wants_apology or _work_left_exceeds_time_left(dossier, procedure, cals, now)
                continue
            text = messages.alert_text(threshold.kind, code=dossier.code, procedure_name=procedure.name,
                                       deadline=threshold.deadline_at, step_name=step["name"] if step else None,
                                       is_new_appointment=threshold.deadline_at == dossier.new_due_at)
            for recipient in sorted(_recipients(threshold.kind, dossier, step, people, holders.get(dossier.id),
                                                faults.get(dossier.id))):
                rows.append({"dossier_id": dossier.id, "kind": threshold.kind, "deadline_at": threshold.deadline_at,
                             "recipient_id": recipient, "message": text, "created_at": now})
            if threshold.kind in (DUE_SOON, OVERDUE):
                wants_apology = True
            elif threshold.kind in (STEP_OVERDUE, STEP_DUE_SOON):
                wants_apology = wants_apology or _work_left_exceeds_time_left(dossier, procedure, cals, now)
        if wants_apology and dossier.clock_state == ClockState.running:
            needs_apology.append(dossier)
        refresh_next_alert(dossier, cal=cal, now=now, settings=settings)
        session.add(dossier)
    session.flush()
    drafts = apologies.draft_rows(session, needs_apology, now=now, settings=settings, calendar_of=cache.calendar,
                                  procedure_of=cache.procedures.__getitem__,
                                  estimate=_apology_estimate(session, now=now, settings=settings)
                                  if needs_apology else None)
    return insert_alerts(session, rows), bulk_insert(session, Apology.__table__, drafts)  # type: ignore[attr-defined]


def _work_left_exceeds_time_left(dossier: Dossier, procedure: Procedure, cals: AgencyCalendars,
                                 now: datetime) -> bool:
    """The steps still ahead, at their budgets (the current one until its own deadline), end after
    the appointment: an apology (form 04) is drafted now rather than when the dossier is overdue.
    Inter-agency, each step ahead counts on its own agency's calendar."""
    if dossier.due_at is None:
        return False
    steps = procedure.workflow
    if dossier.current_step is None:
        following = range(len(steps))
        finish = now
    else:
        following = range(dossier.current_step + 1, len(steps))
        finish = max(now, dossier.step_due_at or now)
    if cals.step is None:
        minutes = sum(int(steps[i].get("budget_hours", 0)) * 60 for i in following)
        return cals.holder.add_working_minutes(finish, minutes) > dossier.due_at
    for i in following:
        finish = cals.step(i).add_working_minutes(finish, int(steps[i].get("budget_hours", 0)) * 60)
    return finish > dossier.due_at


# What the scan reads of a dossier (not the applicant's data or documents: narrower rows).
_SCAN_COLUMNS = (Dossier.id, Dossier.code, Dossier.agency_id, Dossier.procedure_id, Dossier.status,
                 Dossier.current_step, Dossier.assignee_id, Dossier.assigned_division_id, Dossier.clock_state,
                 Dossier.due_at, Dossier.due_soon_at, Dossier.step_started_at, Dossier.step_due_at,
                 Dossier.next_alert_at, Dossier.new_due_at, Dossier.apology_count, Dossier.late_since,
                 Dossier.limit_minutes, Dossier.receiving_agency_id, Dossier.check_due_at, Dossier.checked_at,
                 Dossier.step_role, Dossier.step_agency_id, Dossier.step_unit_id)


def scan_deadlines(sessionmaker: sessionmaker[Session], *, now: datetime, settings: Settings) -> ScanStats:
    """One run of the deadline scan (idempotent; safe in several replicas at once)."""
    stats = ScanStats()
    cache = _Cache(settings)
    query = (select(Dossier).options(load_only(*_SCAN_COLUMNS))
             .where(Dossier.next_alert_at <= now).order_by(Dossier.next_alert_at))  # type: ignore[operator, arg-type]
    for session, dossiers in due_batches(sessionmaker, SCAN_LOCK, query, settings=settings, stats=stats):
        alerts, drafts = _process(session, dossiers, now=now, settings=settings, cache=cache)
        stats.batches += 1
        stats.dossiers += len(dossiers)
        stats.alerts += alerts
        stats.drafts += drafts
    if stats.dossiers:
        log.info("deadline scan", extra={"fields": {"dossiers": stats.dossiers, "alerts": stats.alerts,
                                                    "drafts": stats.drafts, "batches": stats.batches}})
    return stats


def _apology_estimate(session: Session, *, now: datetime, settings: Settings) -> apologies.Estimate:
    """The forecast's time still needed, for the drafts' new appointment (imported here, not at
    the top: app/foresight builds on app/sla)."""
    from app.foresight.risk_scan import apology_estimate

    return apology_estimate(session, now=now, settings=settings)


# --- the leaders' daily digest -----------------------------------------------------------------

@dataclass
class DigestStats:
    agencies: int = 0
    messages: int = 0
    locked_out: bool = False
    too_early: bool = False


def _claim_once(session: Session, key: str, now: datetime) -> bool:
    """Insert a SystemState marker; False when it exists (the work for `key` was done)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = SystemState.__table__  # type: ignore[attr-defined]
    stmt = (insert(table).values(key=key, value=now.isoformat(), updated_at=now)
            .on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key))
    return session.execute(stmt).first() is not None


def _digest_figures(session: Session, now: datetime) -> tuple[dict[int, tuple[int, int]], dict[int, int]]:
    """Per agency: (overdue, due soon) dossiers whose clock runs, and apology drafts of open dossiers."""
    running = and_(Dossier.clock_state == ClockState.running,
                   Dossier.status.in_([DossierStatus.received, DossierStatus.processing]))  # type: ignore[attr-defined]
    counts = {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in session.exec(
        select(Dossier.agency_id,
               func.sum(case((Dossier.due_at < now, 1), else_=0)),  # type: ignore[operator]
               func.sum(case((and_(Dossier.due_soon_at <= now, Dossier.due_at >= now), 1), else_=0)))  # type: ignore[operator]
        .where(running).group_by(Dossier.agency_id)).all()}
    owner = func.coalesce(Apology.agency_id, Dossier.agency_id)  # the agency at fault drafts and issues it
    drafts = dict(session.exec(
        select(owner, func.count(Apology.id)).join(Dossier, Dossier.id == Apology.dossier_id)  # type: ignore[arg-type]
        .where(Apology.status == apologies.DRAFT,
               Dossier.clock_state.in_([ClockState.running, ClockState.paused]))  # type: ignore[attr-defined]
        .group_by(owner)).all())
    return counts, drafts  # type: ignore[return-value]


def send_daily_digest(sessionmaker: sessionmaker[Session], *, now: datetime, settings: Settings) -> DigestStats:
    """Once per working day from `settings.digest_time`: each leader with an e-mail or phone gets
    their agency's count of overdue and due-soon dossiers and apology drafts awaiting issue.
    Idempotent per agency and day (a `system_state` marker written with the outbox rows)."""
    stats = DigestStats()
    local = now.astimezone(ZoneInfo(settings.timezone))
    hour, minute = (int(x) for x in settings.digest_time.split(":"))
    if local.time() < time(hour, minute):
        stats.too_early = True
        return stats
    with transaction(sessionmaker) as session:
        if not try_advisory_xact_lock(session, DIGEST_LOCK):
            stats.locked_out = True
            return stats
        agencies = list(session.exec(select(Agency)).all())
        scope = {a.id: (a.parent_id if a.is_division and a.parent_id else a.id) for a in agencies}
        leaders: dict[int, list[User]] = {}
        for user in session.exec(select(User).where(User.is_active)).all():
            if Role.leader in (user.roles or []) and user.agency_id in scope:
                leaders.setdefault(scope[user.agency_id], []).append(user)  # type: ignore[arg-type]
        keys = {a.id: f"digest:{a.id}:{local.date().isoformat()}" for a in agencies
                if not a.is_division and leaders.get(a.id)}  # type: ignore[arg-type]
        done = set(session.exec(select(SystemState.key).where(SystemState.key.in_(keys.values()))).all()) \
            if keys else set()  # type: ignore[attr-defined]
        figures: tuple[dict, dict] | None = None
        for agency in agencies:
            if agency.id not in keys or keys[agency.id] in done:
                continue
            if not calendar_for(session, agency.id, settings).is_working_day(local.date()):  # type: ignore[arg-type]
                continue
            if not _claim_once(session, keys[agency.id], now):
                continue  # sent today by another run
            figures = figures or _digest_figures(session, now)
            overdue, due_soon = figures[0].get(agency.id, (0, 0))
            subject, text = messages.digest(agency_name=agency.name, day=now, overdue=overdue, due_soon=due_soon,
                                            apology_drafts=int(figures[1].get(agency.id, 0)))
            stats.agencies += 1
            for user in leaders[agency.id]:  # type: ignore[index]
                if not (user.email or user.phone):
                    continue
                session.add(OutboxMessage(topic="notify", kind="digest", dossier_id=None, status="pending",
                                          payload={"to_email": user.email, "to_phone": user.phone,
                                                   "subject": subject, "text": text, "user_id": user.id},
                                          next_attempt_at=now, created_at=now))
                stats.messages += 1
    if stats.agencies:
        log.info("daily digest", extra={"fields": {"agencies": stats.agencies, "messages": stats.messages}})
    return stats
