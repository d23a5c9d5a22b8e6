"""History import: past dossiers from an older one-stop system (CSV or JSON), and the stored
working time of resolved dossiers that the reports average. Reading and validating a file is
app/reports/history_rows.py; this module writes what passed.

Every row is validated first (reasons in Vietnamese, by the physical line of the file where the
row starts); then a file goes in **whole or not at all**: every batch is written inside one
savepoint, kept only when no row of the file failed (validation or database), in the caller's
single transaction. A dry run does exactly the same work and always rolls the savepoint back, so
a dry run and a real run find the same errors and the same counts. A code already in the
database is skipped and reported, so running the same file twice creates nothing new.

Imported history cannot bend today: a code of our form `{agency}-{yyMMdd}-{NNNN}` must be dated
before today (local) and number at most 9999, so the import never takes or moves today's daily
sequence; each imported dossier carries its batch label (`import_source`). Imported dossiers look
like native ones to the reports (same columns, `outcome` from `classify_outcome`, an issued
`Apology` row, one `import` event), which can leave them out (`is_imported`). Logs carry counts only.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app import parties
from app.models import (Apology, ClockPause, ClockState, Dossier, DossierEvent, DossierSequence, SupplementRequest)
from app.reports.history_rows import CLOSING_FIELD, MAX_SEQUENCE, OPEN, RowError, S, ValidRow, sequence_of, validate
from app.search import name_key
from app.settings import Settings
from app.sla import service as sla
from app.sla.calendar import WorkingCalendar
from app.sla.deadlines import classify_outcome, due_soon_at, limit_minutes

log = logging.getLogger("motcua.import")

BATCH_SIZE = 500
IMPORT_NOTE = "Nhập từ hệ thống một cửa cũ"


@dataclass
class ImportResult:
    dry_run: bool
    source: str = ""
    total_rows: int = 0
    valid_rows: int = 0
    new_rows: int = 0  # valid rows whose code is not in the database yet: what the import creates
    created: int = 0  # written and kept: new_rows when the file went in, else 0
    skipped_existing: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    batches: int = 0

    @property
    def imported(self) -> bool:
        return not self.dry_run and not self.errors


# --- writing ------------------------------------------------------------------------------------

def _existing_codes(session: Session, codes: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(codes), 500):
        chunk = codes[i:i + 500]
        found.update(session.execute(select(Dossier.code).where(Dossier.code.in_(chunk))).scalars())
    return found


def _build(item: ValidRow, cal: WorkingCalendar, *, now: datetime, settings: Settings,
           actor_id: int | None, source: str) -> dict[str, Any]:
    """The dossier row (a dict for a bulk INSERT: building ORM objects costs more than the import)."""
    v, procedure = item.values, item.procedure
    status: S = v["status"]
    received, due, resolved = v["received_at"], v["due_at"], v["resolved_at"]
    closing = v.get(CLOSING_FIELD[status]) if status in CLOSING_FIELD else None
    d = SimpleNamespace(
        code=v["code"], agency_id=item.agency.id, receiving_agency_id=item.agency.id, procedure_id=procedure.id,
        channel=v["channel"], online_level=v["online_level"], applicant_type="individual",
        applicant_name=v["applicant_name"], applicant_name_key=name_key(v["applicant_name"]),
        step_role=None, step_agency_id=None, step_unit_id=None, applicant_id_number=v["applicant_id_number"],
        applicant_phone=v["applicant_phone"], documents=[], return_method=v["return_method"], status=status.value,
        version=1, created_by_id=actor_id, submitted_at=received or closing, received_at=received,
        clock_state=ClockState.stopped.value, clock_started_at=None, limit_minutes=0, due_at=due, due_soon_at=None,
        paused_at=None, resume_status=None, current_step=None, step_started_at=None, step_due_at=None,
        next_alert_at=None,
        resolved_at=resolved, outcome=None, returned_at=v["returned_at"],
        returned_via=v["return_method"] if v["returned_at"] else None, refused_at=v["refused_at"],
        withdrawn_at=v["withdrawn_at"], stopped_at=v["stopped_at"], supplement_count=0,
        apology_count=1 if v["apology_issued_at"] else 0, new_due_at=v["new_due_at"], resolved_working_minutes=None,
        lookup_secret_hash="imported$" + secrets.token_hex(16),  # matches no secret: no citizen lookup
        assigned_division_id=procedure.division_id, is_imported=True, import_source=source, note=IMPORT_NOTE,
        created_at=now, updated_at=now)
    if received is not None:
        d.clock_started_at = cal.next_working_moment(received)
        d.limit_minutes = limit_minutes(procedure.time_limit_value, procedure.time_limit_unit,
                                        minutes_per_day=cal.minutes_per_day)
        d.due_soon_at = due_soon_at(cal, due, settings.due_soon_window_minutes)
    if resolved is not None:
        d.outcome = classify_outcome(resolved, due, settings.timezone).value
        d.resolved_working_minutes = cal.working_minutes_between(received, resolved)
    if status in OPEN:
        paused = status in (S.awaiting_supplement, S.awaiting_payment)
        d.clock_state = (ClockState.paused if paused else ClockState.running).value
        if paused:  # the old system's pause start is unknown: taken as the reception moment
            d.paused_at, d.resume_status = received, S.received.value
            d.supplement_count = 1 if status == S.awaiting_supplement else 0
        if status == S.processing:
            d.current_step = 0
            if procedure.workflow:  # who may take the first step (the work lists; app.parties.hold_step)
                first = procedure.workflow[0]
                d.step_role, d.step_agency_id = first["role"], item.agency.id
                d.step_unit_id = parties.step_unit(first, item.agency.id, item.agency.id, procedure.division_id)
        sla.refresh_next_alert(d)  # type: ignore[arg-type]
    return vars(d)


def _insert(session: Session, model: Any, rows: list[dict[str, Any]], *, returning: bool = False) -> list[Any]:
    if not rows:
        return []
    table = model.__table__
    if returning:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(session.execute(statement, rows).scalars())
    session.execute(insert(table), rows)
    return []


def _write_batch(session: Session, batch: list[ValidRow], dossiers: list[dict[str, Any]], *, now: datetime,
                 actor_id: int | None, actor_role: str | None, source: str) -> None:
    ids = _insert(session, Dossier, dossiers, returning=True)
    events, apologies, requests, pauses = [], [], [], []
    for item, d, dossier_id in zip(batch, dossiers, ids):
        v = item.values
        events.append(dict(dossier_id=dossier_id, seq=1, at=now, actor_id=actor_id, actor_role=actor_role,
                           action="import", from_status=None, to_status=d["status"], from_step=None,
                           to_step=d["current_step"], note=IMPORT_NOTE,
                           data={"source": "import-history", "batch": source, "row": item.row}))
        if v["apology_issued_at"] is not None:
            apologies.append(dict(dossier_id=dossier_id, status="issued", reason=IMPORT_NOTE,
                                  original_due_at=v["due_at"], proposed_due_at=v["new_due_at"],
                                  new_due_at=v["new_due_at"], drafted_at=v["apology_issued_at"],
                                  drafted_by_id=actor_id, issued_at=v["apology_issued_at"], issued_by_id=actor_id,
                                  signer_name=None, signer_title=None))
        if d["status"] == S.awaiting_supplement:
            requests.append(dict(dossier_id=dossier_id, requested_at=d["received_at"], requested_by_id=actor_id,
                                 items=[IMPORT_NOTE + ": chưa rõ nội dung yêu cầu bổ sung"], note=None,
                                 received_at=None, received_by_id=None, due_before=d["due_at"], due_after=None))
        if d["status"] in (S.awaiting_supplement, S.awaiting_payment):
            supplement = d["status"] == S.awaiting_supplement
            pauses.append(dict(dossier_id=dossier_id, reason="supplement" if supplement else "payment",
                               rule=item.procedure.supplement_rule if supplement else "pause",
                               started_at=d["received_at"], ended_at=None, working_minutes=None))
    _insert(session, DossierEvent, events)
    _insert(session, Apology, apologies)
    _insert(session, SupplementRequest, requests)
    _insert(session, ClockPause, pauses)


def _bump_sequences(session: Session, batch: list[ValidRow], today: date) -> None:
    """Our own codes in the file push past days' counters up, so codes given later never collide.

    Validation already refused codes dated today or later and numbers past 9999; the test on the
    day here keeps today's counter (the intake's, under its row lock) out of reach whatever happens.
    """
    highest: dict[tuple[int, date], int] = {}
    for item in batch:
        parsed = sequence_of(item.values["code"], item.agency.code)
        if parsed is not None and parsed[0] < today and parsed[1] <= MAX_SEQUENCE:
            key = (item.agency.id, parsed[0])
            highest[key] = max(highest.get(key, 0), parsed[1])
    if not highest:
        return
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = DossierSequence.__table__  # type: ignore[attr-defined]
    larger = func.greatest if dialect == "postgresql" else func.max
    statement = insert(table).values([{"agency_id": a, "day": d, "last_value": n} for (a, d), n in highest.items()])
    statement = statement.on_conflict_do_update(
        index_elements=["agency_id", "day"], set_={"last_value": larger(table.c.last_value,
                                                                        statement.excluded.last_value)})
    session.execute(statement)


def _calendar(session: Session, cache: dict[int, WorkingCalendar], agency_id: int,
              settings: Settings) -> WorkingCalendar:
    if agency_id not in cache:
        cache[agency_id] = sla.calendar_for(session, agency_id, settings)
    return cache[agency_id]


def default_source(now: datetime, tz: str, filename: str | None = None) -> str:
    """The batch label of an import: when, and from which file."""
    label = f"import-history {now.astimezone(ZoneInfo(tz)):%Y-%m-%dT%H:%M:%S%z}"
    return f"{label} {filename}"[:255] if filename else label


def import_history(session: Session, rows: list[tuple[int, dict[str, str | None]]], *, now: datetime,
                   settings: Settings, scope_agency_id: int | None, actor_id: int | None = None,
                   actor_role: str | None = None, dry_run: bool = False, batch_size: int = BATCH_SIZE,
                   source: str | None = None, progress: Callable[[int], None] | None = None) -> ImportResult:
    """Validate `rows`, skip codes already present, write the rest: the whole file or nothing.

    The writes run inside one savepoint of the caller's transaction (the caller commits once): it is
    kept only for a real run in which no row failed, validation or database; a dry run does the same
    work and rolls it back, so both report the same errors and counts. `scope_agency_id`: rows of any
    other agency are rejected (None: any agency, for the CLI). `source` labels every dossier created
    (`import_source`; default: the moment of the import). `progress(n)` after each batch.
    """
    source = (source or default_source(now, settings.timezone))[:255]
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    result = ImportResult(dry_run=dry_run, source=source, total_rows=len(rows))
    valid, result.errors = validate(session, rows, scope_agency_id=scope_agency_id, now=now, tz=settings.timezone)
    existing = _existing_codes(session, [item.values["code"] for item in valid])
    result.skipped_existing = [item.values["code"] for item in valid if item.values["code"] in existing]
    todo = [item for item in valid if item.values["code"] not in existing]
    result.valid_rows, result.new_rows = len(valid), len(todo)
    if progress:
        progress(len(rows) - len(todo))
    calendars: dict[int, WorkingCalendar] = {}
    whole = session.begin_nested()
    try:
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            dossiers = [_build(item, _calendar(session, calendars, item.agency.id, settings), now=now,
                               settings=settings, actor_id=actor_id, source=source) for item in batch]
            try:
                with session.begin_nested():
                    _write_batch(session, batch, dossiers, now=now, actor_id=actor_id, actor_role=actor_role,
                                 source=source)
                    _bump_sequences(session, batch, today)
            except IntegrityError:
                message = "Không ghi được lô này: mã hồ sơ vừa được nhập đồng thời; chạy lại tệp."
                result.errors += [RowError(item.row, item.values["code"], [message]) for item in batch]
            result.batches += 1
            if progress:
                progress(len(batch))
    except BaseException:
        whole.rollback()
        raise
    result.errors.sort(key=lambda e: e.row)
    if result.imported:
        whole.commit()
        result.created = len(todo)
    else:
        whole.rollback()
    log.info("history import", extra={"fields": {
        "dry_run": dry_run, "rows": result.total_rows, "created": result.created, "new": result.new_rows,
        "skipped": len(result.skipped_existing), "rejected": len(result.errors), "agency_id": scope_agency_id}})
    return result


# --- working time of resolved dossiers -------------------------------------------------------------

def fill_working_minutes(session: Session, *, settings: Settings, agency_id: int | None = None,
                         limit: int = 5000) -> int:
    """Store `resolved_working_minutes` where it is missing (resolved natively before it was stored).

    Working minutes from reception to result, minus the working minutes of closed pauses (waiting
    for the applicant) inside that span. Returns how many dossiers were filled.
    """
    query = select(Dossier).where(Dossier.resolved_at.is_not(None), Dossier.received_at.is_not(None),
                                  Dossier.resolved_working_minutes.is_(None))
    if agency_id is not None:
        query = query.where(Dossier.agency_id == agency_id)
    dossiers = list(session.execute(query.order_by(Dossier.id).limit(limit)).scalars())
    if not dossiers:
        return 0
    waits = dict(session.execute(
        select(ClockPause.dossier_id, func.sum(ClockPause.working_minutes))
        .join(Dossier, Dossier.id == ClockPause.dossier_id)
        .where(ClockPause.dossier_id.in_([d.id for d in dossiers]), ClockPause.ended_at.is_not(None),
               ClockPause.started_at >= Dossier.received_at, ClockPause.ended_at <= Dossier.resolved_at)
        .group_by(ClockPause.dossier_id)).all())
    calendars: dict[int, WorkingCalendar] = {}
    for d in dossiers:
        cal = _calendar(session, calendars, d.agency_id, settings)
        spent = cal.working_minutes_between(d.received_at, d.resolved_at)  # type: ignore[arg-type]
        d.resolved_working_minutes = max(0, spent - int(waits.get(d.id) or 0))
        session.add(d)
    session.flush()
    return len(dossiers)
