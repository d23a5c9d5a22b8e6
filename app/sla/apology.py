"""Apology notices (form 4, "phiếu xin lỗi và hẹn lại ngày trả kết quả").

The deadline scan drafts one when the work left exceeds the time left (checked at the latest two
working days before the appointment, and at each step deadline), or when the dossier is due soon
or overdue, with a new appointment proposed from the calendar and the work left (the late-risk
forecast's, at its 90th percentile, where it rests on recorded rounds: `propose_due_at`). A specialist or a
leader fills in the reason and may change the proposal; a leader of the agency at fault (Giám
đốc / Phó Giám đốc, never a division head) issues it, while the clock runs, at the latest one
working day before the appointment: one issued later is allowed but marked late (reports count
it apart). It carries a number from the agency's register and the signature block of its signer. Issuing sets the
dossier's `new_due_at` (the promised appointment), counts the apology, records an event, syncs the
portal and notifies the applicant in the same transaction. The legal appointment `due_at` and the
outcome are never touched: the dossier stays late against its original appointment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from app.auth.principal import Principal
from app import effects, parties
from app.access import get_dossier, scoped
from app.channels.messages import when_text
from app.errors import Conflict, Invalid, NotFound
from app.models import Agency, Apology, ClockState, Dossier, DossierStatus, Procedure
from app.settings import Settings
from app.sla.calendar import WorkingCalendar
from app.signatures import next_document_number, require_agency_leader, signature_title
from app.sla.service import agency_calendars, mark_late, refresh_next_alert

DRAFT, ISSUED, CANCELLED = "draft", "issued", "cancelled"
STATUS_LABELS = {DRAFT: "Dự thảo, chờ lãnh đạo ban hành", ISSUED: "Đã ban hành", CANCELLED: "Đã hủy"}
_OPEN_CLOCK = (ClockState.running, ClockState.paused)
_MIN_WORK_MINUTES = 60  # a new appointment leaves at least one working hour from now
_MAX_POSTPONEMENT = timedelta(days=366)  # a new appointment is at most a year away


# --- the proposal ------------------------------------------------------------------------------

def _end_of_working_day(cal: WorkingCalendar, moment: datetime) -> datetime:
    day = moment.astimezone(cal.tz).date()
    return datetime.combine(day, cal.periods[-1].end, tzinfo=cal.tz)


Estimate = Callable[[Dossier, Procedure], int | None]  # working minutes still needed, None: use the budgets


def propose_due_at(dossier: Dossier, procedure: Procedure, cal: WorkingCalendar, *, now: datetime,
                   step_calendar: Callable[[int], WorkingCalendar] | None = None,
                   minutes_needed: int | None = None) -> datetime:
    """A new appointment: now + the working time the workflow still needs, at least one working day
    after the original appointment; rounded up to the end of that working day (citizens are given a
    day). The time needed is `minutes_needed` when given (the late-risk forecast's, see
    `app.foresight.risk_scan.apology_estimate`), else what is left of the current step plus the
    budgets of the work steps after it. `cal` is the calendar of the place the result is returned;
    inter-agency, `step_calendar(i)` is step i's agency's: each step still ahead is counted on its
    own agency's calendar (from the budgets)."""
    steps = procedure.workflow
    last = len(steps) - 1  # the hand-over of the result to the desk is inside the limit too
    minutes = 0
    processing = dossier.status == DossierStatus.processing and dossier.current_step is not None
    if processing:
        assert dossier.current_step is not None
        if dossier.step_due_at is not None and dossier.step_due_at > now:
            minutes += cal.working_minutes_between(now, dossier.step_due_at)
        following = range(dossier.current_step + 1, last + 1)
    else:
        following = range(0, last + 1)
    if step_calendar is None:
        if minutes_needed is None:
            minutes += sum(int(steps[i].get("budget_hours", 0)) * 60 for i in following)
        else:
            minutes = minutes_needed
        from_work = cal.add_working_minutes(now, max(minutes, _MIN_WORK_MINUTES))
    else:  # the current step runs to its own deadline, then each step after it on its agency's calendar
        position = max(now, dossier.step_due_at or now) if processing else now
        for i in following:
            position = step_calendar(i).add_working_minutes(position, int(steps[i].get("budget_hours", 0)) * 60)
        from_work = max(position, cal.add_working_minutes(now, _MIN_WORK_MINUTES))
    original = dossier.due_at or now
    floor = cal.add_working_minutes(original, cal.minutes_per_day)
    return _end_of_working_day(cal, max(from_work, floor))


def _aware(value: datetime, cal: WorkingCalendar) -> datetime:
    """Naive times sent by clients are local (Asia/Ho_Chi_Minh) times."""
    return value.replace(tzinfo=cal.tz) if value.tzinfo is None else value


def check_appointment(cal: WorkingCalendar, when: datetime, *, original_due_at: datetime, now: datetime) -> datetime:
    when = _aware(when, cal)
    if when <= now:
        raise Invalid("Ngày hẹn trả mới phải là một thời điểm trong tương lai.", code="appointment_in_past")
    if when > now + _MAX_POSTPONEMENT:
        raise Invalid("Ngày hẹn trả mới không được quá một năm kể từ nay.", code="appointment_too_far")
    if cal.subtract_working_minutes(when, 0) != when:
        raise Invalid("Ngày hẹn trả mới phải là thời điểm trong giờ làm việc của một ngày làm việc.",
                      code="appointment_not_working_time", detail={"proposed_due_at": when.isoformat()})
    if when <= original_due_at:
        raise Invalid("Ngày hẹn trả mới phải sau ngày hẹn trả kết quả ban đầu.", code="appointment_not_after_due",
                      detail={"original_due_at": original_due_at.isoformat()})
    return when


# --- drafts ------------------------------------------------------------------------------------

def _has_live_apology(session: Session, dossier_ids: Iterable[int]) -> set[int]:
    ids = list(dossier_ids)
    if not ids:
        return set()
    rows = session.exec(select(Apology.dossier_id).where(Apology.dossier_id.in_(ids),  # type: ignore[attr-defined]
                                                         Apology.status.in_([DRAFT, ISSUED]))).all()  # type: ignore[attr-defined]
    return set(rows)


def draft_rows(session: Session, dossiers: list[Dossier], *, now: datetime, settings: Settings,
               calendar_of: Callable[[int], WorkingCalendar],
               procedure_of: Callable[[int], Procedure], estimate: Estimate | None = None) -> list[dict[str, Any]]:
    """The `apologies` rows to insert: a draft for each dossier that has no draft or issued one,
    for the agency at fault (inter-agency: the one whose share ran over, else the holder; see
    `parties.fault_agency_id`), its new appointment from `estimate` (see `propose_due_at`) or counted
    on each remaining step's agency's calendar. The deadline scan, which holds the dossiers' row
    locks, inserts them in bulk."""
    have = _has_live_apology(session, (d.id for d in dossiers if d.id is not None))
    rows: list[dict[str, Any]] = []
    for dossier in dossiers:
        if dossier.id in have or dossier.due_at is None:
            continue
        procedure = procedure_of(dossier.procedure_id)
        cals = agency_calendars(session, dossier, procedure, settings, calendar_of)
        needed = estimate(dossier, procedure) if estimate else None
        rows.append({"dossier_id": dossier.id, "status": DRAFT, "original_due_at": dossier.due_at,
                     "proposed_due_at": propose_due_at(dossier, procedure, cals.appointment, now=now,
                                                       step_calendar=cals.step, minutes_needed=needed),
                     "drafted_at": now, "agency_id": parties.fault_agency_id(session, dossier)
                     if parties.is_interagency(procedure) else dossier.agency_id})
        have.add(dossier.id)
    return rows


def cancel_drafts(session: Session, dossier: Dossier) -> int:
    """The dossier left processing (result, refusal, withdrawal, stop): a draft can no longer be
    issued (`issue` refuses a closed dossier), so it is cancelled and leaves the leaders' list."""
    result = session.execute(update(Apology).where(Apology.dossier_id == dossier.id, Apology.status == DRAFT)
                             .values(status=CANCELLED))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def create_draft(session: Session, code: str, principal: Principal, *, now: datetime, settings: Settings,
                 estimate: Estimate | None = None) -> Apology:
    """An officer drafts an apology ahead of the scan (they know the dossier will be late); the new
    appointment as `draft_rows` proposes it."""
    dossier = get_dossier(session, code, principal, for_update=True)
    if dossier.clock_state not in _OPEN_CLOCK or dossier.due_at is None:
        raise Conflict("Hồ sơ không trong thời hạn giải quyết: không lập văn bản xin lỗi, hẹn lại.",
                       code="dossier_not_open")
    if dossier.apology_count >= settings.max_apologies:
        raise Conflict(f"Hồ sơ đã được hẹn lại {dossier.apology_count} lần; quy định cho phép tối đa "
                       f"{settings.max_apologies} lần.", code="apology_limit_reached")
    if session.exec(select(Apology.id).where(Apology.dossier_id == dossier.id, Apology.status == DRAFT)).first():
        raise Conflict("Hồ sơ đã có văn bản xin lỗi dự thảo: sửa văn bản đó.", code="apology_draft_exists")
    procedure = session.get(Procedure, dossier.procedure_id)
    assert procedure is not None
    cals = agency_calendars(session, dossier, procedure, settings)
    needed = estimate(dossier, procedure) if estimate else None
    apology = Apology(dossier_id=dossier.id, status=DRAFT, original_due_at=dossier.due_at,
                      proposed_due_at=propose_due_at(dossier, procedure, cals.appointment, now=now,
                                                     step_calendar=cals.step, minutes_needed=needed),
                      drafted_at=now, drafted_by_id=principal.id, agency_id=parties.fault_agency_id(session, dossier))
    session.add(apology)
    session.flush()
    return apology


# --- reads (scoped by the caller's agency) ----------------------------------------------------

def _scoped_query(principal: Principal):  # noqa: ANN202
    query = (select(Apology, Dossier, Procedure).join(Dossier, Dossier.id == Apology.dossier_id)
             .join(Procedure, Procedure.id == Dossier.procedure_id))
    return scoped(query, principal)


def list_apologies(session: Session, principal: Principal, *, status: str | None = None,
                   dossier_code: str | None = None, before: int | None = None,
                   limit: int = 50) -> tuple[list[tuple[Apology, Dossier, Procedure]], int | None]:
    query = _scoped_query(principal)
    if status:
        query = query.where(Apology.status == status)
    if dossier_code:
        query = query.where(Dossier.code == dossier_code)
    if before:
        query = query.where(Apology.id < before)
    rows = list(session.exec(query.order_by(Apology.id.desc()).limit(limit + 1)).all())  # type: ignore[union-attr]
    next_cursor = rows[limit - 1][0].id if len(rows) > limit else None
    return [tuple(r) for r in rows[:limit]], next_cursor  # type: ignore[misc]


def dossier_apologies(session: Session, code: str, principal: Principal) -> list[tuple[Apology, Dossier, Procedure]]:
    dossier = get_dossier(session, code, principal)
    rows = session.exec(_scoped_query(principal).where(Apology.dossier_id == dossier.id)
                        .order_by(Apology.id)).all()  # type: ignore[arg-type]
    return [tuple(r) for r in rows]  # type: ignore[misc]


def get_apology(session: Session, apology_id: int, principal: Principal) -> tuple[Apology, Dossier, Procedure]:
    row = session.exec(_scoped_query(principal).where(Apology.id == apology_id)).first()
    if row is None:
        raise NotFound("Không tìm thấy văn bản xin lỗi, hẹn lại.", code="apology_not_found")
    return row[0], row[1], row[2]


def _lock(session: Session, apology_id: int, principal: Principal) -> tuple[Apology, Dossier, Procedure]:
    """Lock the dossier row (which serializes every change of it), then re-read the apology."""
    _, dossier, procedure = get_apology(session, apology_id, principal)
    dossier = get_dossier(session, dossier.code, principal, for_update=True)
    apology = session.exec(select(Apology).where(Apology.id == apology_id).with_for_update()
                           .execution_options(populate_existing=True)).one()
    return apology, dossier, procedure


# --- changes -----------------------------------------------------------------------------------

def update_draft(session: Session, apology_id: int, principal: Principal, *, changes: dict[str, Any],
                 now: datetime, settings: Settings) -> tuple[Apology, Dossier, Procedure]:
    """Edit a draft: `changes` may hold `reason` and `proposed_due_at` (only the fields sent)."""
    apology, dossier, procedure = _lock(session, apology_id, principal)
    if apology.status != DRAFT:
        raise Conflict("Chỉ sửa được văn bản xin lỗi còn ở dạng dự thảo.", code="apology_not_draft",
                       detail={"status": apology.status})
    if "reason" in changes:
        reason = (changes["reason"] or "").strip()
        if not reason:
            raise Invalid("Lý do chậm giải quyết không được để trống.", code="reason_required")
        apology.reason = reason
    if changes.get("proposed_due_at") is not None:  # a moment of the place the result is returned
        cal = agency_calendars(session, dossier, procedure, settings).appointment
        original = dossier.due_at or apology.original_due_at
        apology.proposed_due_at = check_appointment(cal, changes["proposed_due_at"], original_due_at=original,
                                                    now=now)
    session.add(apology)
    session.flush()
    return apology, dossier, procedure


def issue(session: Session, apology_id: int, principal: Principal, *, now: datetime, settings: Settings,
          reason: str | None = None, new_due_at: datetime | None = None) -> tuple[Apology, Dossier, Procedure]:
    """A leader issues the apology: the new appointment is promised to the applicant."""
    apology, dossier, procedure = _lock(session, apology_id, principal)
    if apology.status != DRAFT:
        raise Conflict("Văn bản xin lỗi này đã được ban hành hoặc đã hủy.", code="apology_not_draft",
                       detail={"status": apology.status})
    if dossier.apology_count >= settings.max_apologies:
        raise Conflict(f"Hồ sơ đã được hẹn lại {dossier.apology_count} lần; quy định cho phép tối đa "
                       f"{settings.max_apologies} lần.", code="apology_limit_reached",
                       detail={"max_apologies": settings.max_apologies})
    if dossier.clock_state not in _OPEN_CLOCK or dossier.due_at is None:
        raise Conflict("Hồ sơ đã có kết quả hoặc đã dừng giải quyết: không còn hẹn lại ngày trả.",
                       code="dossier_not_open", detail={"status": dossier.status})
    # Inter-agency: the agency at fault (whose share ran over) apologises and signs (app/parties.py).
    fault_agency_id = parties.fault_agency_id(session, dossier)
    require_agency_leader(principal, fault_agency_id, "ban hành văn bản xin lỗi và hẹn lại ngày trả kết quả")
    if dossier.clock_state != ClockState.running:
        raise Conflict("Hồ sơ đang tạm dừng tính thời hạn (chờ người nộp bổ sung hoặc nộp phí): chưa hẹn lại "
                       "ngày trả.", code="clock_paused", detail={"status": dossier.status})
    text = (reason if reason is not None else apology.reason or "").strip()
    if not text:
        raise Invalid("Cần nêu lý do chậm giải quyết trước khi ban hành văn bản xin lỗi.", code="reason_required")
    cals = agency_calendars(session, dossier, procedure, settings)
    cal = cals.appointment  # the new appointment is a working moment where the result is returned
    when = new_due_at or apology.proposed_due_at or propose_due_at(dossier, procedure, cal, now=now,
                                                                    step_calendar=cals.step)
    when = check_appointment(cal, when, original_due_at=dossier.due_at, now=now)
    if dossier.new_due_at is not None and when <= dossier.new_due_at:
        raise Invalid("Ngày hẹn trả mới phải sau ngày hẹn đã hẹn lại lần trước.", code="appointment_not_after_previous",
                      detail={"previous_new_due_at": dossier.new_due_at.isoformat()})

    user = principal.user
    agency = session.get(Agency, fault_agency_id)
    assert agency is not None
    mark_late(dossier, now)
    apology.reason = text
    apology.original_due_at = dossier.due_at  # the appointment in force when the apology is issued
    apology.proposed_due_at = apology.proposed_due_at or when
    apology.new_due_at = when
    apology.status = ISSUED
    apology.issued_at = now
    apology.issued_by_id = principal.id
    apology.signer_name = user.full_name
    apology.signer_title = signature_title(agency, user.title)
    # The law wants it at the latest one working day before the appointment; later is recorded.
    apology.is_late = now > cal.subtract_working_minutes(dossier.due_at, cal.minutes_per_day)
    apology.document_number = next_document_number(session, agency, "apology", now=now, tz=settings.timezone)
    apology.agency_id = fault_agency_id  # issued by (and headed with) the agency at fault
    session.add(apology)

    dossier.new_due_at = when
    dossier.apology_count += 1
    dossier.version += 1
    dossier.updated_at = now
    refresh_next_alert(dossier, cal=cals.holder, now=now, settings=settings)
    session.add(dossier)
    session.flush()
    from app.esign.service import sign_form  # app.esign renders forms: imported late
    signed = sign_form(session, dossier, "apology", principal, now=now, settings=settings)

    ctx = effects.Context(principal, now, settings)
    # The full record carries the new appointment (NgayHenTraMoi) beside the legal one (NgayHenTra).
    effects.record(session, dossier, procedure, ctx, action="apology_issued", from_status=dossier.status,
                   from_step=dossier.current_step,
                   note=f"Xin lỗi và hẹn lại ngày trả kết quả: {when_text(when)}. Lý do: {text}"[:2000],
                   data={"apology_id": apology.id, "original_due_at": dossier.due_at.isoformat(),
                         "new_due_at": when.isoformat(), **({"signed_document": signed.sha256} if signed else {})},
                   full_sync=True, notification=("apology_issued", text))
    return apology, dossier, procedure
