from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from sqlalchemy import case
from sqlmodel import Session, select

from app import access, parties, worklists
from app.access import mask_address, mask_digits, sees_personal_data
from app.api.deps import ClockDep, IfMatch, SessionDep, SettingsDep, StrictQuery, expected_version
from app.api.idempotency import fingerprint, run_idempotent
from app.auth.deps import IntakeOfficer, Staff
from app.auth.principal import Principal
from app.effects import Context
from app.fields import LocalDateTime
from app.foresight import risk_scan
from app.models import Agency, Channel, ClockState, Dossier, DossierEvent, DossierStatus, Procedure, User
from app.sla import service as sla
from app.sla.deadlines import OUTCOME_LABELS, PROGRESS_LABELS
from app.sla.explanation import Move, explanation_text
from app.workflows import actions, intake, rules
from app.workflows.schemas import (ActionIn, DeadlineMoveOut, DeadlineOut, DossierOut, DossierPage, DossierRiskOut,
                                   DossierSummary, EventOut,
                                   IntakeIn, IntakeOut, PauseOut, QueueBucket, QueueCounts, SkippedDayOut,
                                   StepOut)
from app.workflows.transitions import PORTAL_STATUS, STATUS_LABELS, Action, event_label

router = APIRouter(prefix="/api/v1/dossiers", tags=["hồ sơ"])
CodePath = Annotated[str, Path(max_length=64, description="Mã hồ sơ, ví dụ 000.00.17.H26-261123-0001")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


def present(session: Session, dossier: Dossier, principal: Principal, now: datetime, settings) -> DossierOut:  # noqa: ANN001
    procedure = session.get(Procedure, dossier.procedure_id)
    agency = session.get(Agency, dossier.agency_id)
    assert procedure is not None and agency is not None
    assignee = session.get(User, dossier.assignee_id) if dossier.assignee_id else None
    step = None
    if dossier.current_step is not None and dossier.current_step < len(procedure.workflow):
        raw = procedure.workflow[dossier.current_step]
        step = StepOut(index=dossier.current_step, name=raw["name"], role=raw["role"], budget_hours=raw["budget_hours"])
    progress = rules.progress_of(dossier, now)
    full = sees_personal_data(principal)
    return DossierOut(
        code=dossier.code, version=dossier.version, status=dossier.status,
        status_label=STATUS_LABELS[DossierStatus(dossier.status)], portal_status=PORTAL_STATUS[DossierStatus(dossier.status)],
        procedure_code=procedure.code, procedure_name=procedure.name, agency_code=agency.code,
        **_agencies_of(session, dossier, procedure), channel=dossier.channel,
        online_level=dossier.online_level, return_method=dossier.return_method, applicant_type=dossier.applicant_type,
        applicant_name=dossier.applicant_name,
        applicant_id_number=dossier.applicant_id_number if full else mask_digits(dossier.applicant_id_number),
        applicant_phone=dossier.applicant_phone if full else mask_digits(dossier.applicant_phone),
        applicant_email=dossier.applicant_email if full else None,
        applicant_address=dossier.applicant_address if full else mask_address(dossier.applicant_address), summary=dossier.summary, documents=dossier.documents,
        note=dossier.note, current_step=step, assignee=assignee.username if assignee else None,
        assignee_name=assignee.full_name if assignee else None, assignee_title=assignee.title if assignee else None,
        submitted_at=dossier.submitted_at, postal_handed_over_at=dossier.postal_handed_over_at,
        received_at=dossier.received_at, clock_state=dossier.clock_state, due_at=dossier.due_at,
        new_due_at=dossier.new_due_at, step_due_at=dossier.step_due_at, progress=progress,
        progress_label=PROGRESS_LABELS.get(progress) if progress else None, outcome=dossier.outcome,
        outcome_label=OUTCOME_LABELS.get(dossier.outcome) if dossier.outcome else None,
        resolved_at=dossier.resolved_at, returned_at=dossier.returned_at, result_reference=dossier.result_reference,
        result_kind=dossier.result_kind, late_since=dossier.late_since,
        closing_reason=dossier.closing_reason, supplement_count=dossier.supplement_count,
        apology_count=dossier.apology_count, allowed_actions=rules.allowed_actions(dossier, procedure, principal, settings, session))


def _agencies_of(session: Session, dossier: Dossier, procedure: Procedure) -> dict[str, str | None]:
    """The receiving point and (inter-agency) the agency holding the dossier now."""
    receiving = session.get(Agency, dossier.receiving_agency_id)
    holder = None
    if parties.is_interagency(procedure) and dossier.status not in ("resolved", "returned", "refused", "withdrawn",
                                                                   "stopped"):
        holder = session.get(Agency, parties.step_agency_id(session, dossier, procedure, dossier.current_step))
    return {"receiving_agency_code": receiving.code if receiving else None,
            "holder_agency_code": holder.code if holder else None}


@router.post("", response_model=IntakeOut, status_code=201,
             summary="Tiếp nhận hồ sơ tại quầy hoặc qua bưu chính (trả về mã hồ sơ và mã tra cứu)")
def receive_dossier(data: IntakeIn, request: Request, session: SessionDep, principal: IntakeOfficer,
                    clock: ClockDep, settings: SettingsDep, idempotency_key: IdempotencyKey = None):  # noqa: ANN201
    now = clock.now()

    def work() -> IntakeOut:
        dossier, secret = intake.receive(session, data, Context(principal, now, settings))
        return IntakeOut(**present(session, dossier, principal, now, settings).model_dump(), lookup_secret=secret)

    return run_idempotent(session, scope=f"user:{principal.id}", key=idempotency_key, now=now, status_code=201,
                          request_hash=fingerprint("POST", request.url.path, data), work=work)


QueueName = Literal["mine", "assigned", "unassigned", "handovers", "to_check", "to_forward", "waiting_applicant",
                    "to_return"]


@router.get("", response_model=DossierPage, dependencies=[StrictQuery],
            summary="Danh sách hồ sơ của cơ quan (lọc, tìm kiếm, việc của tôi, phân trang theo con trỏ)")
def list_dossiers(
    session: SessionDep, principal: Staff, clock: ClockDep,
    status: DossierStatus | None = None,
    procedure_code: Annotated[str | None, Query(max_length=32)] = None,
    channel: Channel | None = None,
    received_from: LocalDateTime | None = None,
    received_to: LocalDateTime | None = None,
    overdue: Annotated[bool | None, Query(description="Chỉ hồ sơ quá hạn đang giải quyết")] = None,
    due_soon: Annotated[bool | None, Query(description="Chỉ hồ sơ sắp đến hạn")] = None,
    mine: Annotated[bool, Query(description="Chỉ hồ sơ đang giao cho tôi")] = False,
    division: Annotated[str | None, Query(max_length=64, description=(
        "Chỉ hồ sơ do phòng chuyên môn này giải quyết (mã phòng, như trên bảng điều khiển)"))] = None,
    queue: Annotated[QueueName | None, Query(
        description="Việc chờ tôi: `mine` (mọi ngăn) hoặc một ngăn: " + "; ".join(
            f"`{k}` {v.lower()}" for k, v in worklists.BUCKETS.items()))] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description=(
        "Tìm theo mã hồ sơ, số giấy tờ, số điện thoại hoặc họ tên người nộp (có dấu hay không dấu)"))] = None,
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Con trỏ trang (next_cursor)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DossierPage:
    now = clock.now()
    query = access.scoped(select(Dossier), principal)
    if status:
        query = query.where(Dossier.status == status)
    if procedure_code:
        query = query.join(Procedure, Procedure.id == Dossier.procedure_id).where(Procedure.code == procedure_code)
    if channel:
        query = query.where(Dossier.channel == channel)
    if received_from:
        query = query.where(Dossier.received_at >= received_from)
    if received_to:
        query = query.where(Dossier.received_at < received_to)
    running = Dossier.clock_state == ClockState.running
    if overdue:
        query = query.where(running, Dossier.due_at < now)
    if due_soon:
        query = query.where(running, Dossier.due_soon_at <= now, Dossier.due_at >= now)
    if mine:
        query = query.where(Dossier.assignee_id == principal.id)
    if division:
        unit = access.division_of(session, principal.scope_agency_id, division)
        query = query.where(Dossier.assigned_division_id == unit.id)
    if q is not None and q.strip():
        query = query.where(worklists.search_condition(q))
    buckets = worklists.bucket_conditions(principal) if queue else {}
    if queue:
        query = query.where(worklists.queue_condition(principal, queue))
        if buckets:  # which bucket each row is in (they are disjoint)
            query = query.add_columns(case(*[(c, name) for name, c in buckets.items()], else_=None).label("bucket"))
    if before:
        query = query.where(Dossier.id < before)
    found = session.execute(query.order_by(Dossier.id.desc()).limit(limit + 1)).all()  # type: ignore[union-attr]
    rows: list[Dossier] = [r[0] for r in found]
    in_bucket = {r[0].id: r[1] for r in found} if buckets else {}
    codes = {p.id: (p.code, p.workflow) for p in session.exec(select(Procedure).where(
        Procedure.id.in_({r.procedure_id for r in rows}))).all()} if rows else {}  # type: ignore[union-attr]
    people = _people(session, {r.assignee_id for r in rows[:limit] if r.assignee_id})
    items = []
    for r in rows[:limit]:
        code, workflow = codes[r.procedure_id]
        person = people.get(r.assignee_id) if r.assignee_id else None
        items.append(DossierSummary(
            code=r.code, status=r.status, status_label=STATUS_LABELS[DossierStatus(r.status)], procedure_code=code,
            channel=r.channel, applicant_name=r.applicant_name, received_at=r.received_at, due_at=r.due_at,
            progress=rules.progress_of(r, now), outcome=r.outcome, current_step=r.current_step,
            step_name=workflow[r.current_step]["name"] if r.current_step is not None
            and r.current_step < len(workflow) else None,
            assignee=person.username if person else None, assignee_name=person.full_name if person else None,
            assignee_title=person.title if person else None, queue=in_bucket.get(r.id)))
    return DossierPage(items=items, next_cursor=rows[limit - 1].id if len(rows) > limit else None)


def _people(session: Session, ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in session.exec(select(User).where(User.id.in_(ids))).all()}  # type: ignore[union-attr, misc]


@router.get("/queue-counts", response_model=QueueCounts, dependencies=[StrictQuery],
            summary="Số hồ sơ chờ tôi theo từng ngăn công việc (cho số hiệu trên giao diện)")
def queue_counts(session: SessionDep, principal: Staff) -> QueueCounts:
    query, names = worklists.count_query(access.scoped(select(Dossier.id), principal), principal)
    if query is None:
        return QueueCounts(total=0, buckets=[])
    row = session.execute(query).one()
    return QueueCounts(total=int(row[0] or 0), buckets=[
        QueueBucket(key=name, label=worklists.BUCKETS[name], count=int(row[i + 1] or 0))
        for i, name in enumerate(names)])


@router.get("/{code}", response_model=DossierOut, summary="Chi tiết hồ sơ, kèm các thao tác người gọi được phép")
def get_dossier(code: CodePath, session: SessionDep, principal: Staff, clock: ClockDep,
                settings: SettingsDep) -> DossierOut:
    dossier = access.get_dossier(session, code, principal)
    out = present(session, dossier, principal, clock.now(), settings)
    # The forecast the scan stored (not computed here: the read stays cheap); only on this read,
    # not on the action and intake answers (their round trips are counted).
    risk = risk_scan.stored_risk(session, dossier)
    if risk is not None:
        out.late_risk = DossierRiskOut(probability=risk.probability, cause_step=risk.cause_step,
                                       cause_name=risk.cause_name, expected_ready_at=risk.expected_ready_at,
                                       basis=risk.basis, computed_at=risk.computed_at)
    return out


@router.post("/{code}/actions/{action}", response_model=DossierOut,
             summary="Thực hiện một thao tác trên hồ sơ (chuyển bước, bổ sung, trả kết quả...)",
             responses={409: {"description": "Thao tác không hợp lệ ở trạng thái hiện tại"},
                        412: {"description": "Phiên bản hồ sơ đã cũ"}})
def act(code: CodePath, action: Action, request: Request, session: SessionDep, principal: Staff, clock: ClockDep,
        settings: SettingsDep, data: ActionIn | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None):  # noqa: ANN201
    data = data or ActionIn()
    version = expected_version(if_match, data.version)
    now = clock.now()

    def work() -> DossierOut:
        dossier = actions.act(session, code, action, data, Context(principal, now, settings), version)
        return present(session, dossier, principal, now, settings)

    return run_idempotent(session, scope=f"user:{principal.id}", key=idempotency_key, now=now, status_code=200,
                          request_hash=fingerprint("POST", request.url.path, {"body": data, "version": version}),
                          work=work)


@router.get("/{code}/events", response_model=list[EventOut], summary="Dòng thời gian xử lý hồ sơ")
def events(code: CodePath, session: SessionDep, principal: Staff) -> list[EventOut]:
    dossier = access.get_dossier(session, code, principal)
    rows = session.exec(select(DossierEvent).where(DossierEvent.dossier_id == dossier.id)
                        .order_by(DossierEvent.seq)).all()
    names = {u.id: u.full_name for u in session.exec(select(User).where(
        User.id.in_({r.actor_id for r in rows if r.actor_id}))).all()} if rows else {}  # type: ignore[union-attr]
    out = []
    for r in rows:
        label = event_label(r.action) or r.action
        out.append(EventOut(seq=r.seq, at=r.at, action=r.action, action_label=label,
                            actor=names.get(r.actor_id), actor_role=r.actor_role, from_status=r.from_status,
                            to_status=r.to_status, from_step=r.from_step, to_step=r.to_step, note=r.note,
                            data=r.data))
    return out


@router.get("/{code}/deadline", response_model=DeadlineOut, summary="Giải thích ngày hẹn trả kết quả")
def deadline(code: CodePath, session: SessionDep, principal: Staff, settings: SettingsDep) -> DeadlineOut:
    dossier = access.get_dossier(session, code, principal)
    procedure = session.get(Procedure, dossier.procedure_id)
    assert procedure is not None
    cal = sla.calendar_for(session, dossier.agency_id, settings)
    explanation = sla.explain(session, dossier, procedure, cal, settings)
    pauses = [PauseOut(reason=p.reason, rule=p.rule, started_at=p.started_at, ended_at=p.ended_at,
                       working_minutes=p.working_minutes) for p in sla.all_pauses(session, dossier)]
    hours = ", ".join(f"{p.start:%H:%M}–{p.end:%H:%M}" for p in cal.periods)
    if explanation is None:
        return DeadlineOut(code=dossier.code, received_at=dossier.received_at, clock_state=dossier.clock_state,
                           clock_started_at=None, limit_value=procedure.time_limit_value,
                           limit_unit=procedure.time_limit_unit, limit_minutes=0, working_hours=hours, skipped_days=[],
                           pauses=pauses, due_at=None, new_due_at=dossier.new_due_at,
                           calendar_version=dossier.calendar_version,
                           explanation="Chưa bắt đầu tính thời hạn: hồ sơ chưa được tiếp nhận đầy đủ.")
    moves = [DeadlineMoveOut(at=e.at, due_before=datetime.fromisoformat(e.data["due_before"]),
                             due_after=datetime.fromisoformat(e.data["due_after"]), reason=e.data.get("reason"),
                             calendar_version=e.data.get("calendar_version"))
             for e in session.exec(select(DossierEvent).where(DossierEvent.dossier_id == dossier.id,
                                                              DossierEvent.action == "deadline_moved")
                                   .order_by(DossierEvent.seq)).all()
             if e.data.get("due_before") and e.data.get("due_after")]
    skipped = [SkippedDayOut(day=d.day.isoformat(), reason=d.reason) for d in explanation.skipped_days]
    due_at = dossier.due_at if dossier.clock_state == ClockState.paused else explanation.due_at
    open_pause = next((p for p in sla.all_pauses(session, dossier) if p.ended_at is None), None)
    text = explanation_text(explanation, dossier=dossier, procedure=procedure, hours=hours, tz=cal.tz,
                            due_at=due_at or explanation.due_at, open_pause=open_pause,
                            moves=[Move(m.due_before, m.due_after, m.reason) for m in moves])
    return DeadlineOut(code=dossier.code, received_at=dossier.received_at, clock_state=dossier.clock_state,
                       clock_started_at=explanation.clock_started_at, limit_value=procedure.time_limit_value,
                       limit_unit=procedure.time_limit_unit, limit_minutes=explanation.limit_minutes,
                       working_hours=hours, skipped_days=skipped, pauses=pauses,
                       due_at=due_at, new_due_at=dossier.new_due_at, calendar_version=dossier.calendar_version,
                       rule=explanation.rule, moves=moves, late_since=dossier.late_since, explanation=text)

