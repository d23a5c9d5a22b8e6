"""Printable forms of Circular 03/2025/TT-VPCP (Appendix I, Mẫu số 01–07), built from the records.

Each builder reads one dossier through the caller's agency scope (another agency's dossier is
"not found"), checks that the form applies to the dossier's state, and returns a view model
(`app.web.form_models`) whose datetimes are already local (`settings.timezone`). `app.web.render`
turns a view model into an A4 HTML page. No HTTP here: services take the session, the caller,
`now` and the settings.

Which agency heads a form: forms the desk hands over at reception (01, 02, 03) carry the
receiving agency (the provincial centre, for a dossier it received); form 04 the agency that
apologises (inter-agency: the one at fault); the others (05, 06) the competent agency. Form 01's
appointment is the dossier's `due_at`, which for an inter-agency procedure is the chain of its
steps' budgets, each on its agency's calendar (app/sla/service.py `step_plan`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from app.access import get_dossier, scoped
from app.auth.principal import Principal
from app.errors import Conflict, Invalid
from app.models import (Agency, Apology, Channel, ClockPause, ClockState, Dossier, DossierEvent, DossierStatus,
                        Procedure, ReturnMethod, Role, StepRecord, SupplementRequest, User)
from app.settings import Settings
from app.signatures import signature_title
from app.sla.apology import CANCELLED, ISSUED
from app.sla.deadlines import OUTCOME_LABELS, classify_outcome
from app.web import qr
from app.web.form_models import (APOLOGY, CONTROL, DOSSIER_FORMS, RECEIPT, REFUSAL, STOP, SUPPLEMENT, ApologyLetter,
                                 Availability, BookRow, ControlRow, ControlSlip, DocumentLine, FormSpec, Letterhead,
                                 PauseRow, Receipt, ReceiptCopy, Refusal, StopNotice, SupplementNotice, TrackingBook,
                                 dossier_head, local)
from app.workflows import codes
from app.workflows.transitions import STATUS_LABELS

S = DossierStatus
MAX_BOOK_DAYS = 366  # one tracking-book print covers at most a year
MAX_BOOK_ROWS = 5000  # a Department receives a few thousand dossiers a year; beyond this, print by period

DOCUMENT_KINDS = {"original": "Bản chính", "copy": "Bản sao", "either": "Bản chính hoặc bản sao"}
ROLE_LABELS = {Role.desk: "Bộ phận Một cửa", Role.specialist: "Chuyên viên xử lý", Role.leader: "Lãnh đạo",
               Role.postal: "Nhân viên bưu chính", Role.admin: "Quản trị", Role.reporter: "Tổng hợp"}
STEP_RESULTS = {"forwarded": "Chuyển bước tiếp theo", "sent_back": "Trả lại bước trước",
                "resolved": "Hoàn thành, có kết quả", "returned": "Đã trả kết quả", "withdrawn": "Rút hồ sơ",
                "stopped": "Dừng giải quyết", "handover_returned": "Cơ quan nhận bàn giao trả lại"}
RETURN_LABELS = {ReturnMethod.desk: "Tại Bộ phận Một cửa", ReturnMethod.postal: "Qua dịch vụ bưu chính công ích",
                 ReturnMethod.online: "Trực tuyến"}
PAUSE_REASONS = {"supplement": "Chờ bổ sung, hoàn thiện hồ sơ", "payment": "Chờ thực hiện nghĩa vụ tài chính"}
PAUSE_RULES = {"reset": "Thời hạn tính lại từ khi nhận đủ hồ sơ bổ sung",
               "pause": "Thời gian cơ quan đã giải quyết vẫn được tính; thời gian chờ bổ sung không tính vào "
                        "thời hạn giải quyết"}


# --- helpers ----------------------------------------------------------------------------------

def _handover_notes(session: Session, dossier: Dossier) -> dict[tuple[int, datetime], str]:
    """Inter-agency hand-overs (issue 14), by the step row they opened: "from → to"."""
    from app.models import Handover

    rows = session.exec(select(Handover).where(Handover.dossier_id == dossier.id)).all()
    names = {a.id: a.name for a in session.exec(select(Agency).where(
        Agency.id.in_({r.from_agency_id for r in rows} | {r.to_agency_id for r in rows})))} if rows else {}  # type: ignore[union-attr]
    return {(r.to_step, r.sent_at): f"Bàn giao liên thông: {names[r.from_agency_id]} → {names[r.to_agency_id]}"
            for r in rows}


def _agency(session: Session, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    assert agency is not None
    return agency


def _people(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in session.exec(select(User).where(User.id.in_(wanted))).all()}  # type: ignore[union-attr,misc]


def _name(user: User | None) -> str | None:
    return user.full_name if user is not None else None


def _person(user: User | None) -> str | None:
    if user is None:
        return None
    return f"{user.full_name} ({user.title})" if user.title else user.full_name


def _actor_into(session: Session, dossier: Dossier, statuses: set[str], *, last: bool = False) -> User | None:
    """Who moved the dossier into one of `statuses` (the first time, or the last with `last`)."""
    order = DossierEvent.seq.desc() if last else DossierEvent.seq  # type: ignore[attr-defined]
    actor_id = session.exec(select(DossierEvent.actor_id).where(
        DossierEvent.dossier_id == dossier.id, DossierEvent.to_status.in_(statuses))  # type: ignore[attr-defined]
        .order_by(order).limit(1)).first()
    return session.get(User, actor_id) if actor_id else None


def _current_apology(session: Session, dossier: Dossier) -> Apology | None:
    """The issued apology if there is one, else the latest draft (printed marked as a draft)."""
    rows = session.exec(select(Apology).where(Apology.dossier_id == dossier.id, Apology.status != CANCELLED)
                        .order_by(Apology.id)).all()  # type: ignore[arg-type]
    issued = [a for a in rows if a.status == ISSUED]
    return (issued or list(rows) or [None])[-1]


def _latest_supplement(session: Session, dossier: Dossier) -> SupplementRequest | None:
    """The latest request: one request lists everything missing (Mẫu số 02)."""
    return session.exec(select(SupplementRequest).where(SupplementRequest.dossier_id == dossier.id)
                        .order_by(SupplementRequest.id.desc())).first()  # type: ignore[union-attr]


def _time_limit(procedure: Procedure) -> str:
    unit = "ngày làm việc" if procedure.time_limit_unit == "working_days" else "giờ làm việc"
    return f"{procedure.time_limit_value:02d} {unit}"


def _working_time(minutes: int | None) -> str | None:
    if minutes is None:
        return None
    hours, rest = divmod(minutes, 60)
    return f"{hours} giờ {rest} phút làm việc" if hours else f"{rest} phút làm việc"


# --- which form applies to which dossier (one rule per form, shared by the list and the builders)

def _why_not(spec: FormSpec, session: Session, dossier: Dossier) -> str | None:
    if spec is RECEIPT or spec is CONTROL:
        if dossier.received_at is None:
            return "Hồ sơ chưa được tiếp nhận đầy đủ (chưa bắt đầu tính thời hạn)."
    elif spec is SUPPLEMENT:
        if _latest_supplement(session, dossier) is None:
            return "Hồ sơ chưa có yêu cầu bổ sung, hoàn thiện."
    elif spec is REFUSAL:
        if dossier.status != S.refused:
            return "Hồ sơ không bị từ chối tiếp nhận."
    elif spec is APOLOGY:
        if _current_apology(session, dossier) is None:
            return "Hồ sơ chưa có văn bản xin lỗi."
    elif spec is STOP:
        if dossier.status not in (S.stopped, S.withdrawn):
            return "Hồ sơ không dừng giải quyết."
    return None


def _require(spec: FormSpec, session: Session, dossier: Dossier) -> None:
    if (why := _why_not(spec, session, dossier)) is not None:
        raise Conflict(f"Không in được {spec.title.lower()} (mẫu số {spec.number}): {why}",
                       code="form_not_applicable", detail={"form": spec.slug, "status": dossier.status})


def available_forms(session: Session, code: str, principal: Principal) -> list[Availability]:
    dossier = get_dossier(session, code, principal)
    return [Availability(spec, _why_not(spec, session, dossier)) for spec in DOSSIER_FORMS]


def _load(session: Session, code: str, principal: Principal, spec: FormSpec) -> tuple[Dossier, Procedure]:
    dossier = get_dossier(session, code, principal)
    _require(spec, session, dossier)
    procedure = session.get(Procedure, dossier.procedure_id)
    assert procedure is not None
    return dossier, procedure


# --- the forms --------------------------------------------------------------------------------

def receipt(session: Session, code: str, principal: Principal, *, now: datetime, settings: Settings,
            lookup_secret: str | None = None) -> Receipt:
    """Mẫu số 01, in two copies: the applicant's (with the lookup secret, when the desk passes the one
    shown at intake: it is stored hashed and cannot be printed later) and the desk's file copy."""
    dossier, procedure = _load(session, code, principal, RECEIPT)
    if lookup_secret is not None and not codes.verify_secret(lookup_secret, dossier.lookup_secret_hash):
        raise Invalid("Mã tra cứu không khớp với hồ sơ.", code="lookup_secret_mismatch")
    secret = codes.normalize_secret(lookup_secret) if lookup_secret is not None else None
    tz = ZoneInfo(settings.timezone)
    receiving = _agency(session, dossier.receiving_agency_id)
    method = ReturnMethod(dossier.return_method)
    if method == ReturnMethod.postal:
        place = "Qua dịch vụ bưu chính công ích, tại địa chỉ: " + (dossier.applicant_address or "……………")
    elif method == ReturnMethod.online:
        place = "Trực tuyến, trên Cổng Dịch vụ công"
    else:
        place = "Bộ phận Một cửa – " + receiving.name + (f", {receiving.address}" if receiving.address else "")
    documents = [DocumentLine(d["name"], DOCUMENT_KINDS.get(d.get("kind", "either"), ""), int(d.get("count", 1)))
                 for d in dossier.documents]
    return Receipt(head=Letterhead(receiving.name, "Bộ phận Một cửa", local(dossier.received_at, tz)),
                   dossier=dossier_head(dossier, procedure, tz), documents=documents,
                   time_limit=_time_limit(procedure), postal_handed_over_at=local(dossier.postal_handed_over_at, tz),
                   return_place=place,
                   officer=_name(session.get(User, dossier.received_by_id) if dossier.received_by_id
                                 else _actor_into(session, dossier, {S.received})),
                   copies=[ReceiptCopy("Liên 1: Giao người nộp hồ sơ", secret),
                           ReceiptCopy("Liên 2: Lưu tại Bộ phận Một cửa", None)],
                   lookup_address=qr.lookup_address(settings), lookup_link=(link := qr.lookup_link(settings, dossier.code)),
                   lookup_qr=qr.qr_svg(link))


def supplement_request(session: Session, code: str, principal: Principal, *, now: datetime,
                       settings: Settings) -> SupplementNotice:
    """Mẫu số 02."""
    dossier, procedure = _load(session, code, principal, SUPPLEMENT)
    request = _latest_supplement(session, dossier)
    assert request is not None
    tz = ZoneInfo(settings.timezone)
    receiving = _agency(session, dossier.receiving_agency_id)
    if request.due_before is None:
        clock_note = "Thời hạn giải quyết được tính từ khi Bộ phận Một cửa tiếp nhận hồ sơ đầy đủ, hợp lệ."
    else:
        clock_note = PAUSE_RULES.get(procedure.supplement_rule, PAUSE_RULES["pause"]) + "."
    guide = session.get(User, request.requested_by_id) if request.requested_by_id else None
    return SupplementNotice(head=Letterhead(receiving.name, "Bộ phận Một cửa", local(request.requested_at, tz)),
                            dossier=dossier_head(dossier, procedure, tz), items=list(request.items),
                            reason=request.note, clock_note=clock_note, guide=_name(guide),
                            contact_phone=(guide.phone if guide and guide.phone else receiving.phone))


def refusal(session: Session, code: str, principal: Principal, *, now: datetime, settings: Settings) -> Refusal:
    """Mẫu số 03."""
    dossier, procedure = _load(session, code, principal, REFUSAL)
    tz = ZoneInfo(settings.timezone)
    receiving = _agency(session, dossier.receiving_agency_id)
    return Refusal(head=Letterhead(receiving.name, "Bộ phận Một cửa", local(dossier.refused_at, tz)),
                   dossier=dossier_head(dossier, procedure, tz), reason=dossier.closing_reason or "",
                   officer=_name(session.get(User, dossier.closing_signed_by_id) if dossier.closing_signed_by_id
                                 else _actor_into(session, dossier, {S.refused}, last=True)),
                   document_number=dossier.closing_document_number)


def apology(session: Session, code: str, principal: Principal, *, now: datetime, settings: Settings) -> ApologyLetter:
    """Mẫu số 04, headed and signed by the agency it is drafted for: the competent agency, or on an
    inter-agency dossier the agency at fault (`apologies.agency_id`); a draft prints marked "DỰ THẢO"."""
    dossier, procedure = _load(session, code, principal, APOLOGY)
    letter = _current_apology(session, dossier)
    assert letter is not None
    tz = ZoneInfo(settings.timezone)
    agency = _agency(session, letter.agency_id or dossier.agency_id)
    is_draft = letter.status != ISSUED
    dated = letter.issued_at if not is_draft else now
    original = local(letter.original_due_at, tz)
    assert original is not None
    return ApologyLetter(head=Letterhead(agency.name, None, local(dated, tz)),
                         dossier=dossier_head(dossier, procedure, tz), agency_name=agency.name,
                         original_due_at=original, new_due_at=local(letter.new_due_at or letter.proposed_due_at, tz),
                         reason=letter.reason, signer_title=letter.signer_title or signature_title(agency, None),
                         signer_name=letter.signer_name, is_draft=is_draft, document_number=letter.document_number,
                         is_late=letter.is_late)


def stop_notice(session: Session, code: str, principal: Principal, *, now: datetime, settings: Settings) -> StopNotice:
    """Mẫu số 05: processing stopped by the agency, or the dossier withdrawn at the applicant's request."""
    dossier, procedure = _load(session, code, principal, STOP)
    tz = ZoneInfo(settings.timezone)
    agency = _agency(session, dossier.agency_id)
    withdrawn = dossier.status == S.withdrawn
    signer = session.get(User, dossier.closing_signed_by_id) if dossier.closing_signed_by_id and not withdrawn else None
    stopped_at = local(dossier.withdrawn_at if withdrawn else dossier.stopped_at, tz)
    assert stopped_at is not None
    return StopNotice(head=Letterhead(agency.name, None, stopped_at), dossier=dossier_head(dossier, procedure, tz),
                      agency_name=agency.name, stopped_at=stopped_at, withdrawn=withdrawn, reason=dossier.closing_reason,
                      signer_title=signature_title(agency, signer.title if signer else None),
                      signer_name=signer.full_name if signer else None,
                      document_number=dossier.closing_document_number)


def control_slip(session: Session, code: str, principal: Principal, *, now: datetime,
                 settings: Settings) -> ControlSlip:
    """Mẫu số 06: one row per hand-over (the step records), with the clock pauses beneath."""
    dossier, procedure = _load(session, code, principal, CONTROL)
    tz = ZoneInfo(settings.timezone)
    steps = session.exec(select(StepRecord).where(StepRecord.dossier_id == dossier.id)
                         .order_by(StepRecord.id)).all()  # type: ignore[arg-type]
    pauses = session.exec(select(ClockPause).where(ClockPause.dossier_id == dossier.id)
                          .order_by(ClockPause.started_at)).all()  # type: ignore[arg-type]
    people = _people(session, [s.from_user_id for s in steps] + [s.to_user_id for s in steps])
    division_ids = {s.to_division_id for s in steps if s.to_division_id is not None}
    divisions = {a.id: a.name for a in session.exec(select(Agency).where(
        Agency.id.in_(division_ids))).all()} if division_ids else {}  # type: ignore[union-attr]
    workflow = procedure.workflow
    rows = []
    handovers = _handover_notes(session, dossier)  # inter-agency: the row names both agencies
    for number, step in enumerate(steps, start=1):
        role = workflow[step.step_index]["role"] if step.step_index < len(workflow) else None
        receiver = (_person(people.get(step.to_user_id)) if step.to_user_id else None) \
            or divisions.get(step.to_division_id) or ROLE_LABELS.get(role, role or "")  # type: ignore[arg-type]
        if step.finished_at is not None and step.due_at is not None:
            outcome = OUTCOME_LABELS[classify_outcome(step.finished_at, step.due_at, tz)]
        elif step.finished_at is None and step.due_at is not None and now > step.due_at:
            outcome = OUTCOME_LABELS["late"]
        else:
            outcome = ""
        rows.append(ControlRow(number=number, step_name=step.step_name,
                               giver=_person(people.get(step.from_user_id)) if step.from_user_id else "",
                               receiver=receiver, handed_at=local(step.started_at, tz),  # type: ignore[arg-type]
                               due_at=local(step.due_at, tz), finished_at=local(step.finished_at, tz),
                               outcome=outcome,
                               result=STEP_RESULTS.get(step.result or "", step.result or "Đang xử lý"),
                               note="; ".join(filter(None, (handovers.get((step.step_index, step.started_at)),
                                                            step.note))) or None))
    pause_rows = [PauseRow(reason=PAUSE_REASONS.get(p.reason, p.reason), started_at=local(p.started_at, tz),  # type: ignore[arg-type]
                           ended_at=local(p.ended_at, tz), working_time=_working_time(p.working_minutes),
                           rule=PAUSE_RULES.get(p.rule, p.rule)) for p in pauses]
    agency = _agency(session, dossier.agency_id)
    receiving = _agency(session, dossier.receiving_agency_id)
    handling = agency.name
    if dossier.assigned_division_id:
        handling = f"{_agency(session, dossier.assigned_division_id).name} – {agency.name}"
    return ControlSlip(head=Letterhead(agency.name, None, None), dossier=dossier_head(dossier, procedure, tz),
                       receiving_agency=receiving.name, handling_agency=handling, rows=rows, pauses=pause_rows,
                       outcome=OUTCOME_LABELS.get(dossier.outcome) if dossier.outcome else None,
                       resolved_at=local(dossier.resolved_at, tz), returned_at=local(dossier.returned_at, tz),
                       returned_via=RETURN_LABELS.get(dossier.returned_via) if dossier.returned_via else None,
                       status_label=STATUS_LABELS[S(dossier.status)], printed_at=now.astimezone(tz))


DOSSIER_BUILDERS: dict[str, Callable[..., object]] = {
    RECEIPT.slug: receipt, SUPPLEMENT.slug: supplement_request, REFUSAL.slug: refusal, APOLOGY.slug: apology,
    STOP.slug: stop_notice, CONTROL.slug: control_slip,
}


def tracking_book(session: Session, principal: Principal, *, date_from: date, date_to: date, now: datetime,
                  settings: Settings) -> TrackingBook:
    """Mẫu số 07: the dossiers the caller's agency received (or handles) with receipt dates in
    [date_from, date_to], local days, in order of receipt. One query; the hand-over to the
    competent agency is the first step record's time."""
    if date_to < date_from:
        raise Invalid("Ngày kết thúc phải sau hoặc bằng ngày bắt đầu.", code="invalid_period")
    if (date_to - date_from).days >= MAX_BOOK_DAYS:
        raise Invalid(f"Mỗi lần in sổ tối đa {MAX_BOOK_DAYS} ngày.", code="period_too_long")
    tz = ZoneInfo(settings.timezone)
    start = datetime.combine(date_from, time.min, tz)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tz)
    transferred = (sa_select(func.min(StepRecord.started_at)).where(StepRecord.dossier_id == Dossier.id)
                   .correlate(Dossier).scalar_subquery())
    handling = aliased(Agency)
    query = (sa_select(Dossier.code, Procedure.name, Dossier.applicant_name, handling.name, Dossier.received_at,
                       Dossier.due_at, transferred, Dossier.resolved_at, Dossier.returned_at, Dossier.status,
                       Dossier.channel, Dossier.outcome, Dossier.clock_state, Dossier.new_due_at,
                       Dossier.returned_via, Dossier.applicant_address, Dossier.applicant_phone)
             .join(Procedure, Procedure.id == Dossier.procedure_id)
             .join(handling, handling.id == Dossier.agency_id)
             .where(Dossier.received_at >= start, Dossier.received_at < end)  # type: ignore[operator]
             .order_by(Dossier.received_at, Dossier.id).limit(MAX_BOOK_ROWS + 1))
    found = session.execute(scoped(query, principal)).all()
    if len(found) > MAX_BOOK_ROWS:
        raise Invalid(f"Khoảng thời gian có hơn {MAX_BOOK_ROWS} hồ sơ: vui lòng in theo khoảng ngắn hơn.",
                      code="period_too_many_rows")
    rows = []
    for number, (code, procedure_name, applicant, agency_name, received_at, due_at, transferred_at, resolved_at,
                 returned_at, status, channel, outcome, clock_state, new_due_at, returned_via, address,
                 phone) in enumerate(found, 1):
        notes = []
        if channel != Channel.direct:
            notes.append("Nộp " + ("trực tuyến" if channel == Channel.online else "qua bưu chính"))
        if outcome:
            notes.append(OUTCOME_LABELS[outcome])
        elif clock_state == ClockState.running and due_at is not None and now > due_at:
            notes.append("Quá hạn, đang giải quyết")
        if status not in (S.received, S.processing, S.resolved, S.returned):
            notes.append(STATUS_LABELS[S(status)])
        if new_due_at is not None:
            notes.append(f"Đã xin lỗi, hẹn lại {new_due_at.astimezone(tz):%d/%m/%Y}")
        if returned_via == ReturnMethod.postal:
            notes.append("Trả qua bưu chính")
        rows.append(BookRow(number=number, code=code, procedure_name=procedure_name, applicant_name=applicant,
                            applicant_contact="; ".join(part for part in (address, phone) if part),
                            handling_agency=agency_name, received_at=received_at.astimezone(tz),
                            due_at=local(due_at, tz), transferred_at=local(transferred_at, tz),
                            resolved_at=local(resolved_at, tz), returned_at=local(returned_at, tz),
                            note="; ".join(notes)))
    agency = _agency(session, principal.scope_agency_id)
    return TrackingBook(head=Letterhead(agency.name, "Bộ phận Một cửa", None), date_from=date_from, date_to=date_to,
                        rows=rows, printed_at=now.astimezone(tz))
