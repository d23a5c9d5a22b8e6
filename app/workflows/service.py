"""Dossier intake and actions. Rules live here and in `transitions`; no HTTP.

Every change locks the dossier row, checks the caller's version, applies one transition from
the table, appends the immutable event, the form-6 step rows and the outbox rows (portal sync,
applicant notification), all in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from app import effects, parties, reference
from app.access import get_dossier, scoped  # noqa: F401 (the service's reads, used by its callers)
from app.auth.principal import Principal
from app.catalog.service import get_procedure, last_work_step, workflow_of
from app.esign import service as signed_documents
from app.effects import Context
from app.errors import Conflict, Invalid, NotFound, NotPermitted, PreconditionFailed
from app.models import (Agency, Channel, ClockState, Dossier, DossierStatus, Handover, OnlineLevel, OpinionRequest,
                        Procedure, ReturnMethod, Role, Shipment, StepRecord, SupplementRequest, User)
from app.payments import service as payments
from app.settings import Settings
from app.signatures import is_agency_leader, next_document_number
from app.sla import apology
from app.sla import service as sla
from app.sla.calendar import WorkingCalendar
from app.sla.deadlines import classify_progress
from app.workflows import codes
from app.workflows.schemas import ActionIn, IntakeIn, OnlineSubmissionIn
from app.workflows.transitions import ACTION_LABELS, STATUS_LABELS, Action, ClockEffect, Transition, find, from_status
from app.statuses import ROLE_NAMES

S = DossierStatus


def _guard(dossier: Dossier, procedure: Procedure, transition: Transition, principal: Principal,
           settings: Settings, session: Session | None = None) -> tuple[str, str] | None:
    """(code, reason) why the caller may not take this transition now, beyond the table; None: they may.
    With the session, the supplement rule is checked against the requests already made."""
    if (transition.action == Action.request_supplement and session is not None
            and supplements_in_stage(session, dossier) >= settings.max_supplement_requests):
        return ("supplement_already_requested", "Ở giai đoạn này, cơ quan đã yêu cầu bổ sung hồ sơ; quy định chỉ "
                "yêu cầu bổ sung một lần (một lần khi tiếp nhận, một lần trong quá trình giải quyết).")
    if (transition.action == Action.return_result and _postal_only(principal)
            and dossier.return_method != ReturnMethod.postal):
        return ("postal_only", "Nhân viên bưu chính chỉ trả kết quả của hồ sơ đăng ký nhận qua bưu chính.")
    if transition.action == Action.return_result and parties.is_interagency(procedure) \
            and principal.scope_agency_id != (result_agency := parties.result_agency_id(dossier, procedure)):
        name = session.get(Agency, result_agency).name if session is not None else "nơi tiếp nhận"  # type: ignore[union-attr]
        return ("result_returned_elsewhere", f"Kết quả của hồ sơ liên thông này được trả qua Bộ phận Một cửa của "
                f"{name} (tại quầy hoặc qua bưu chính), không trả tại cơ quan khác.")
    if not transition.step_bound and principal.scope_agency_id not in (dossier.agency_id, dossier.receiving_agency_id):
        # Inter-agency: an agency in the middle acts only in its own steps; the receiving point and
        # the competent department keep the dossier's other moves.
        return ("agency_not_holder", "Cơ quan chỉ xử lý phần việc của mình trong hồ sơ liên thông.")
    if transition.action == Action.stop and not is_agency_leader(principal.user, principal.roles, dossier.agency_id):
        return ("agency_leader_required", "Chỉ Giám đốc hoặc Phó Giám đốc của cơ quan mới ký thông báo dừng "
                "giải quyết hồ sơ (mẫu số 05).")
    if not transition.step_bound:
        return None
    why = _step_reason(dossier, procedure, transition, principal, session)
    return ("step_not_allowed", why) if why else None


def _postal_only(principal: Principal) -> bool:
    return principal.has(Role.postal) and not principal.has(Role.desk)


def supplement_stage(dossier: Dossier, session: Session | None = None) -> tuple[str, int]:
    """(stage, agency) of a supplement request now: at reception (form 02 at the desk, before the
    dossier goes to processing), or during processing by the agency holding it (inter-agency: the
    agency of the current step; each asks once, through the receiving point)."""
    status = dossier.resume_status if dossier.status == S.awaiting_supplement else dossier.status
    if status in (S.submitted, S.received):
        return "reception", dossier.receiving_agency_id
    if session is not None:
        procedure = reference.procedure(session, dossier.procedure_id)
        if procedure is not None and parties.is_interagency(procedure):
            step = dossier.resume_step if dossier.status == S.awaiting_supplement else dossier.current_step
            return "processing", parties.step_agency_id(session, dossier, procedure, step)
    return "processing", dossier.agency_id


def supplements_in_stage(session: Session, dossier: Dossier) -> int:
    """Requests already made in this stage by this agency ("only once" is per stage and agency)."""
    if not dossier.supplement_count:
        return 0
    stage, agency_id = supplement_stage(dossier, session)
    return len(session.exec(select(SupplementRequest.id).where(
        SupplementRequest.dossier_id == dossier.id, SupplementRequest.stage == stage,
        SupplementRequest.agency_id == agency_id)).all())


def step_refusal(step: dict[str, Any], user: User, roles: frozenset[str] | list[str], dossier: Dossier,
                 agency_id: int | None = None) -> str | None:
    """Why `user` may not take `step` of this dossier (None: they may). A `division` step belongs to
    the users of the dossier's division; an `agency` step of a leader to the agency's own leaders
    (Giám đốc / Phó Giám đốc), never to a division head. `agency_id`: the step's agency when it is
    not the competent one (inter-agency)."""
    agency_id = dossier.agency_id if agency_id is None else agency_id
    if step["role"] not in roles:
        return f"Bước “{step['name']}” do {ROLE_NAMES.get(step['role'], step['role'])} thực hiện."
    if step.get("scope") == "division" and dossier.assigned_division_id is not None \
            and agency_id == dossier.agency_id and user.agency_id != dossier.assigned_division_id:
        return f"Bước “{step['name']}” do cán bộ của phòng được giao hồ sơ thực hiện."
    if step.get("scope") == "agency" and step["role"] == Role.leader \
            and not is_agency_leader(user, roles, agency_id):
        return f"Bước “{step['name']}” do Giám đốc hoặc Phó Giám đốc của cơ quan thực hiện, không do lãnh đạo phòng."
    return None


def _step_reason(dossier: Dossier, procedure: Procedure, transition: Transition, principal: Principal,
                 session: Session | None = None) -> str | None:
    steps = workflow_of(procedure)
    index = dossier.current_step
    if index is None or index >= len(steps):
        return "Hồ sơ không ở bước xử lý nào."
    step_agency = None
    if session is not None and parties.is_interagency(procedure):
        step_agency = parties.step_agency_id(session, dossier, procedure, index)
        if principal.scope_agency_id != step_agency:
            return f"Bước “{steps[index]['name']}” do cơ quan khác thực hiện."
        if parties.pending_handover(session, dossier) is not None:
            return "Hồ sơ đang chờ cơ quan nhận bàn giao tiếp nhận (hoặc trả lại)."
    if (why := step_refusal(steps[index], principal.user, principal.roles, dossier, step_agency)) is not None:
        return why
    if dossier.assignee_id is not None and dossier.assignee_id != principal.id:
        return "Hồ sơ đang được giao cho cán bộ khác."
    if transition.action == Action.forward and index >= len(steps) - 1:
        return "Đây là bước cuối: dùng thao tác “Hoàn thành, có kết quả”."
    if transition.action == Action.resolve and index < len(steps) - 1:
        return "Chưa đến bước cuối của quy trình (kết quả chưa chuyển đến Bộ phận Một cửa)."
    if transition.action == Action.send_back and index == 0:
        return "Đang ở bước đầu, không còn bước trước để trả lại."
    return None


def allowed_actions(dossier: Dossier, procedure: Procedure, principal: Principal, settings: Settings,
                    session: Session | None = None) -> list[str]:
    if dossier.agency_id != principal.scope_agency_id and dossier.receiving_agency_id != principal.scope_agency_id \
            and (session is None or parties.part_of(session, dossier, principal.scope_agency_id) is None):
        return []
    return [t.action.value for t in from_status(dossier.status)
            if principal.has(*t.roles) and _guard(dossier, procedure, t, principal, settings, session) is None]


def progress_of(dossier: Dossier, now: datetime) -> str | None:
    if dossier.clock_state not in (ClockState.running, ClockState.paused) or dossier.due_at is None:
        return None
    if dossier.clock_state == ClockState.paused:
        return None
    assert dossier.due_soon_at is not None
    return classify_progress(now, due_at=dossier.due_at, due_soon_at=dossier.due_soon_at).value


# --- intake ----------------------------------------------------------------------------------

def _missing_documents(procedure: Procedure, handed_in: list[dict[str, Any]]) -> list[str]:
    given = {doc["name"].strip().lower() for doc in handed_in}
    return [doc["name"] for doc in procedure.required_documents
            if doc.get("required", True) and doc["name"].strip().lower() not in given]


def receive(session: Session, data: IntakeIn, ctx: Context) -> tuple[Dossier, str]:
    """Receive a dossier at the desk (or from the post office). Returns it and its lookup secret."""
    principal = ctx.principal
    assert principal is not None, "intake is done by a person"
    procedure = get_procedure(session, data.procedure_code, active_only=True)
    if procedure.agency_id != principal.scope_agency_id \
            and principal.scope_agency_id not in parties.receiving_point_ids(session, procedure):
        raise NotFound(f"Không có thủ tục hành chính mã {data.procedure_code}.", code="procedure_not_found")
    if data.channel == Channel.online:
        raise Invalid("Hồ sơ trực tuyến được nhận từ Cổng Dịch vụ công, không nhập tại quầy.",
                      code="online_via_portal")
    if data.channel == Channel.postal and not procedure.postal_receipt_allowed:
        raise Invalid("Thủ tục này không tiếp nhận hồ sơ qua dịch vụ bưu chính công ích.",
                      code="postal_receipt_not_allowed")
    if _postal_only(principal) and data.channel != Channel.postal:
        raise NotPermitted("Nhân viên bưu chính chỉ tiếp nhận hồ sơ gửi qua bưu chính.", code="postal_only")
    _check_return_method(procedure, data.return_method)
    received_by = _receiving_officer(session, data, principal)
    documents = [doc.model_dump() for doc in data.documents]
    missing = _missing_documents(procedure, documents)
    if data.decision == "receive" and missing:
        raise Invalid("Hồ sơ chưa đủ thành phần: cần yêu cầu bổ sung hoặc từ chối tiếp nhận.",
                      code="documents_incomplete", detail={"missing": missing})
    if data.decision == "request_supplement" and not (data.missing_items or missing):
        raise Invalid("Yêu cầu bổ sung cần liệt kê giấy tờ còn thiếu.", code="supplement_items_required")

    agency = reference.agency(session, procedure.agency_id)
    assert agency is not None and agency.id is not None
    cal = sla.calendar_for(session, agency.id, ctx.settings)
    secret = codes.new_lookup_secret()
    applicant = data.applicant
    dossier = Dossier(
        code="", agency_id=agency.id, receiving_agency_id=principal.scope_agency_id, procedure_id=procedure.id,
        channel=data.channel, online_level=data.online_level or OnlineLevel.none, applicant_type=applicant.type,
        applicant_name=applicant.full_name, applicant_id_number=applicant.id_number, applicant_phone=applicant.phone,
        applicant_email=applicant.email, applicant_address=applicant.address, summary=data.summary,
        documents=documents, return_method=data.return_method, note=data.note, status=S.received,
        created_by_id=principal.id, submitted_at=ctx.now, lookup_secret_hash=codes.hash_secret(secret),
        assigned_division_id=procedure.division_id, created_at=ctx.now, updated_at=ctx.now,
        received_by_id=received_by.id)
    if data.postal is not None:
        dossier.postal_handed_over_at = data.postal.handed_over_at or ctx.now
        dossier.submitted_at = dossier.postal_handed_over_at
    if data.decision == "receive":
        sla.start_clock(session, dossier, procedure, cal, now=ctx.now, settings=ctx.settings)
        kind, extra, note, event_data = "received", None, data.note, None
    elif data.decision == "request_supplement":
        dossier.status = S.awaiting_supplement
        dossier.resume_status = S.received
        items = data.missing_items or missing
        kind, extra, note = "supplement_requested", "; ".join(items), data.note
        event_data = {"decision": "request_supplement", "items": items}
    else:
        dossier.status = S.refused
        dossier.refused_at = ctx.now
        dossier.closing_reason = data.reason
        dossier.clock_state = ClockState.stopped
        _sign_closing(session, dossier, "refusal", ctx, signer_id=received_by.id)
        kind, extra, note, event_data = "refused", data.reason, data.reason, {"decision": "refuse"}

    if procedure.division_id is not None:
        reference.agency(session, procedure.division_id)  # read now, found in the session by effects.sync_portal
    # The day's number comes last: its row lock is held until commit (that keeps codes gap-free),
    # so everything computed or read above (secret hash, due dates, agencies) runs outside it.
    local_day = ctx.now.astimezone(ZoneInfo(ctx.settings.timezone)).date()
    # The code carries the receiving point's identifier (the competent agency's, when it receives).
    point = agency if principal.scope_agency_id == agency.id else reference.agency(session, principal.scope_agency_id)
    assert point is not None and point.id is not None
    dossier.code = codes.format_code(point.code, local_day, codes.next_sequence(session, point.id, local_day))
    session.add(dossier)
    session.flush()
    if parties.is_interagency(procedure):  # the receiving point's part starts; the department sees it throughout
        parties.start_part(session, dossier, procedure, point.id, ctx.now)
        parties.join(session, dossier, procedure, agency.id, ctx.now)
    if data.postal is not None:
        shipment = _add_shipment(session, dossier, direction="inbound", tracking_number=data.postal.tracking_number,
                                 carrier=data.postal.carrier, fee=data.postal.fee, status="delivered",
                                 handed_over_at=dossier.postal_handed_over_at, delivered_at=ctx.now, now=ctx.now)
        if principal.id != received_by.id:  # the postal clerk carried it; the agency's officer received it
            shipment.note = f"Nhân viên bưu chính giao: {principal.user.full_name}"
    if data.decision == "request_supplement":
        _add_supplement_request(session, dossier, event_data["items"], data.note, ctx)  # type: ignore[index]
    if data.decision == "refuse":  # form 03, signed as issued (a rare path: rendering under the day's lock is fine)
        signed = signed_documents.sign_form(session, dossier, "refusal", principal, now=ctx.now, settings=ctx.settings)
        if signed is not None:
            event_data = {**event_data, "signed_document": signed.sha256}
    effects.record(session, dossier, procedure, ctx, action="receive", from_status=None, from_step=None, note=note,
                   data=event_data, full_sync=True, is_new=True, notification=(kind, extra))
    return dossier, secret


def _receiving_officer(session: Session, data: IntakeIn, principal: Principal) -> User:
    """The agency officer who receives the dossier and signs form 01. A postal clerk only carries
    a package: the desk officer who took it from the post is named (`received_by`)."""
    if not _postal_only(principal):
        if data.received_by and data.received_by != principal.user.username:
            raise Invalid("Cán bộ Bộ phận Một cửa tự ký giấy tiếp nhận của hồ sơ mình tiếp nhận.",
                          code="received_by_not_allowed")
        return principal.user
    if not data.received_by:
        raise Invalid("Hồ sơ qua bưu chính cần ghi cán bộ Bộ phận Một cửa đã nhận bưu gửi (received_by).",
                      code="received_by_required")
    officer = session.exec(select(User).where(User.username == data.received_by)).first()
    if officer is None or not officer.is_active or Role.desk not in officer.roles:
        raise Invalid(f"Không có cán bộ Bộ phận Một cửa {data.received_by}.", code="received_by_not_found")
    agency = reference.agency(session, officer.agency_id)
    from app.auth.principal import scope_agency_of

    if agency is None or scope_agency_of(agency) != principal.scope_agency_id:
        raise Invalid(f"Cán bộ {data.received_by} không thuộc cơ quan tiếp nhận.", code="received_by_not_found")
    return officer


def submit_online(session: Session, data: OnlineSubmissionIn, ctx: Context) -> tuple[Dossier, str | None]:
    """Create a dossier submitted online on the portal, in status `submitted` (clock not started).

    Idempotent on the portal's id: a submission pulled twice returns the existing dossier and no
    secret. The secret of a new one goes to the applicant in the notification.
    """
    existing = session.exec(select(Dossier).where(Dossier.portal_id == data.portal_id)).first()
    if existing is not None:
        return existing, None
    procedure = get_procedure(session, data.procedure_code, active_only=True)
    agency = reference.agency(session, procedure.agency_id)
    assert agency is not None and agency.id is not None
    if agency.code != data.agency_code:
        raise Invalid(f"Thủ tục {procedure.code} không thuộc thẩm quyền của {data.agency_code}.",
                      code="wrong_agency")
    if procedure.online_level == OnlineLevel.none:
        raise Invalid(f"Thủ tục {procedure.code} không cung cấp dịch vụ công trực tuyến.", code="not_online")
    local_day = ctx.now.astimezone(ZoneInfo(ctx.settings.timezone)).date()
    number = codes.next_sequence(session, agency.id, local_day)
    secret = codes.new_lookup_secret()
    applicant = data.applicant
    dossier = Dossier(
        code=codes.format_code(agency.code, local_day, number), agency_id=agency.id, receiving_agency_id=agency.id,
        procedure_id=procedure.id, channel=Channel.online, online_level=data.online_level,
        applicant_type=applicant.type, applicant_name=applicant.full_name, applicant_id_number=applicant.id_number,
        applicant_phone=applicant.phone, applicant_email=applicant.email, applicant_address=applicant.address,
        summary=data.summary, documents=[d.model_dump() for d in data.documents], return_method=data.return_method,
        status=S.submitted, submitted_at=data.submitted_at, lookup_secret_hash=codes.hash_secret(secret),
        portal_id=data.portal_id, assigned_division_id=procedure.division_id, created_at=ctx.now,
        updated_at=ctx.now)
    # The desk checks an online submission within one working day (alert and reports otherwise).
    cal = sla.calendar_for(session, agency.id, ctx.settings)
    dossier.check_due_at = cal.add_working_minutes(data.submitted_at, cal.minutes_per_day)
    sla.refresh_next_alert(dossier)
    session.add(dossier)
    session.flush()
    # The portal holds the submission, not yet a dossier under our code: the first message creates it.
    effects.record(session, dossier, procedure, ctx, action="submit", from_status=None, from_step=None,
                   data={"portal_id": data.portal_id}, full_sync=True, is_new=True,
                   notification=("submitted", secret))
    return dossier, secret


def _check_return_method(procedure: Procedure, method: ReturnMethod | str) -> None:
    if method == ReturnMethod.postal and not procedure.postal_return_allowed:
        raise Invalid("Thủ tục này không trả kết quả qua dịch vụ bưu chính công ích.",
                      code="postal_return_not_allowed")
    if method == ReturnMethod.online and procedure.online_level != OnlineLevel.full:
        raise Invalid("Chỉ thủ tục trực tuyến toàn trình mới trả kết quả trực tuyến.",
                      code="online_return_not_allowed")


def _add_supplement_request(session: Session, dossier: Dossier, items: list[str], note: str | None,
                            ctx: Context) -> None:
    stage, agency_id = supplement_stage(dossier, session)
    session.add(SupplementRequest(dossier_id=dossier.id, requested_at=ctx.now, requested_by_id=ctx.principal.id,
                                  items=items, note=note, due_before=dossier.due_at, stage=stage, agency_id=agency_id))
    dossier.supplement_count += 1


def _add_shipment(session: Session, dossier: Dossier, *, direction: str, tracking_number: str, carrier: str,
                  fee: int, status: str, now: datetime, handed_over_at: datetime | None = None,
                  delivered_at: datetime | None = None, address: str | None = None) -> Shipment:
    clash = session.exec(select(Shipment).where(Shipment.carrier == carrier,
                                                Shipment.tracking_number == tracking_number)).first()
    if clash is not None:
        raise Conflict(f"Số hiệu bưu gửi {tracking_number} đã được dùng.", code="tracking_number_exists")
    shipment = Shipment(dossier_id=dossier.id, direction=direction, carrier=carrier, tracking_number=tracking_number,
                        fee=fee, status=status, handed_over_at=handed_over_at, delivered_at=delivered_at,
                        address=address, created_at=now, updated_at=now)
    session.add(shipment)
    return shipment


# --- actions ---------------------------------------------------------------------------------

def illegal_move_message(action: Action, status: S) -> str:
    """What a person reads when the table has no such move: the Vietnamese labels, never the codes."""
    return f"Không thể “{ACTION_LABELS[action].lower()}” khi hồ sơ “{STATUS_LABELS[status].lower()}”."


def act(session: Session, code: str, action: str, data: ActionIn, ctx: Context,
        expected_version: int | None) -> Dossier:
    principal = ctx.principal
    assert principal is not None, "actions are taken by a person"
    dossier = get_dossier(session, code, principal, for_update=True)
    procedure = reference.procedure(session, dossier.procedure_id)
    assert procedure is not None
    try:
        action_enum = Action(action)
    except ValueError:
        raise NotFound("Không có thao tác này đối với hồ sơ.", code="unknown_action", detail={"action": action}) from None
    if expected_version is None:
        raise PreconditionFailed("Cần gửi phiên bản hồ sơ (header If-Match hoặc trường version).",
                                 code="version_required")
    if expected_version != dossier.version:
        raise PreconditionFailed(detail={"current_version": dossier.version})
    transition = find(dossier.status, action_enum)
    if transition is None:
        raise Conflict(illegal_move_message(action_enum, S(dossier.status)), code="illegal_transition",
                       detail={"status": dossier.status,
                               "allowed_actions": allowed_actions(dossier, procedure, principal, ctx.settings, session)})
    if not principal.has(*transition.roles):
        raise NotPermitted(detail={"required_roles": sorted(transition.roles)})
    if (blocked := _guard(dossier, procedure, transition, principal, ctx.settings, session)) is not None:
        status = 403 if blocked[0] == "agency_leader_required" else 409
        error = NotPermitted if status == 403 else Conflict
        raise error(blocked[1], code=blocked[0],
                    detail={"allowed_actions": allowed_actions(dossier, procedure, principal, ctx.settings, session)})

    sla.mark_late(dossier, ctx.now)  # the appointment passed while the agency held it: late for good
    from_status, from_step, due_before = dossier.status, dossier.current_step, dossier.due_at
    if from_status == S.submitted and dossier.checked_at is None:
        dossier.checked_at = ctx.now  # the desk's first decision on an online submission
    cal = sla.calendar_for(session, dossier.agency_id, ctx.settings)
    handler = _HANDLERS[action_enum]
    note, event_data, notification = handler(session, dossier, procedure, transition, data, ctx, cal)
    if transition.clock == ClockEffect.stop:
        apology.cancel_drafts(session, dossier)
    if transition.to_status is not None:
        dossier.status = transition.to_status
    if payments.closing_status(dossier):  # unpaid requests lapse; what was paid is refunded where allowed
        event_data = {**event_data, **payments.close_payments(session, dossier, procedure, ctx)}
    dossier.version += 1
    dossier.updated_at = ctx.now
    session.add(dossier)
    session.flush()
    if action_enum in (Action.refuse, Action.stop):  # forms 03 and 05, signed as issued
        signed = signed_documents.sign_form(session, dossier, "refusal" if action_enum == Action.refuse else "stop",
                                     principal, now=ctx.now, settings=ctx.settings)
        if signed is not None:
            event_data = {**event_data, "signed_document": signed.sha256}
    # The full record whenever the portal must learn more than a status: a new appointment (a
    # resumed clock after a payment too), the supplement records, a result, a refusal.
    full = dossier.due_at != due_before or transition.clock in (ClockEffect.start, ClockEffect.resume_or_reset) \
        or dossier.status in (S.resolved, S.returned, S.refused)
    effects.record(session, dossier, procedure, ctx, action=action_enum.value, from_status=from_status,
                   from_step=from_step, note=note, data=event_data, full_sync=full, notification=notification)
    return dossier


HandlerResult = tuple[str | None, dict[str, Any], tuple[str, str | None] | None]


def _assignee(session: Session, username: str | None, step: dict[str, Any], dossier: Dossier,
              principal: Principal, agency_id: int | None = None) -> User | None:
    if not username:
        return None
    role = step["role"]
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.is_active:
        raise Invalid(f"Không có cán bộ {username}.", code="assignee_not_found")
    agency = reference.agency(session, user.agency_id)
    from app.auth.principal import scope_agency_of

    if agency is None or scope_agency_of(agency) != principal.scope_agency_id or role not in user.roles:
        raise Invalid(f"Cán bộ {username} không thuộc cơ quan hoặc không có vai trò "
                      f"{ROLE_NAMES.get(role, role)}.", code="assignee_not_eligible")
    if (why := step_refusal(step, user, user.roles, dossier, agency_id)) is not None:
        raise NotPermitted(f"Không giao được cho {user.full_name}: {why}", code="step_not_allowed")
    return user


def _open_step(session: Session, dossier: Dossier, procedure: Procedure, index: int, cal: WorkingCalendar,
               ctx: Context, assignee: User | None) -> None:
    step = workflow_of(procedure)[index]
    dossier.current_step = index
    parties.hold_step(session, dossier, procedure)  # who may take it: the work lists
    dossier.assignee_id = assignee.id if assignee else None
    dossier.step_started_at = ctx.now
    cal, own = _step_calendar(session, dossier, procedure, index, cal, ctx)  # each agency on its own calendar
    dossier.step_due_at = cal.add_working_minutes(ctx.now, int(step["budget_hours"]) * 60)
    # Written with the change's event and outbox rows, in one round trip (app/effects.py).
    effects.step(session, dossier_id=dossier.id, step_index=index, step_name=step["name"],
                 from_user_id=ctx.principal.id if ctx.principal else None, to_user_id=dossier.assignee_id,
                 to_division_id=dossier.assigned_division_id if step.get("scope") == "division" and own else None,
                 started_at=ctx.now, due_at=dossier.step_due_at, finished_at=None, result=None, is_late=None,
                 note=None)
    sla.refresh_next_alert(dossier)


def _step_calendar(session: Session, dossier: Dossier, procedure: Procedure, index: int, cal: WorkingCalendar,
                   ctx: Context) -> tuple[WorkingCalendar, bool]:
    """The calendar a step runs on (its agency's) and whether that agency is the competent one."""
    if not parties.is_interagency(procedure):
        return cal, True
    agency_id = parties.step_agency_id(session, dossier, procedure, index)
    if agency_id == dossier.agency_id:
        return cal, True
    return sla.calendar_for(session, agency_id, ctx.settings), False


def _open_step_record(session: Session, dossier: Dossier) -> StepRecord | None:
    return session.exec(select(StepRecord).where(StepRecord.dossier_id == dossier.id,
                                                 StepRecord.finished_at.is_(None))  # type: ignore[union-attr]
                        .order_by(StepRecord.id.desc())).first()  # type: ignore[union-attr]


def _close_step(session: Session, dossier: Dossier, ctx: Context, result: str, note: str | None) -> None:
    record = _open_step_record(session, dossier)
    if record is not None:
        record.finished_at = ctx.now
        record.result = result
        record.is_late = record.due_at is not None and ctx.now > record.due_at
        record.note = note
        session.add(record)


def _clear_step(dossier: Dossier) -> None:
    dossier.current_step = None
    dossier.step_role = dossier.step_agency_id = dossier.step_unit_id = None
    dossier.assignee_id = None
    dossier.step_started_at = None
    dossier.step_due_at = None


def _on_accept(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    missing = _missing_documents(procedure, dossier.documents)
    if missing:
        raise Invalid("Hồ sơ chưa đủ thành phần: yêu cầu bổ sung hoặc từ chối thay vì tiếp nhận.",
                      code="documents_incomplete", detail={"missing": missing})
    sla.start_clock(session, dossier, procedure, cal, now=ctx.now, settings=ctx.settings)
    dossier.received_by_id = ctx.principal.id if ctx.principal else None
    return data.note, {}, ("received", None)


def _on_refuse(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    reason = _require(data.reason, "Cần nêu lý do từ chối tiếp nhận.")
    dossier.refused_at = ctx.now
    dossier.closing_reason = reason
    _sign_closing(session, dossier, "refusal", ctx)
    sla.stop_clock(dossier, now=ctx.now, settings=ctx.settings, resolved=False)
    return reason, {"document_number": dossier.closing_document_number}, ("refused", reason)


def _sign_closing(session: Session, dossier: Dossier, kind: str, ctx: Context, *,
                  signer_id: int | None = None) -> None:
    """Forms 03 and 05 carry a number from the agency's register and their signer (the caller, or
    `signer_id`: the desk officer who took a postal package signs its form 03, not the clerk)."""
    agency = reference.agency(session, dossier.receiving_agency_id if kind == "refusal" else dossier.agency_id)
    assert agency is not None
    dossier.closing_document_number = next_document_number(session, agency, kind, now=ctx.now,
                                                           tz=ctx.settings.timezone)
    dossier.closing_signed_by_id = signer_id or (ctx.principal.id if ctx.principal else None)


def _on_forward(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    if dossier.status == S.processing and parties.is_interagency(procedure) \
            and (waiting := parties.opinions_pending(session, dossier, ctx.now)):
        raise Conflict("Đang chờ ý kiến của cơ quan được hỏi; bước kết thúc khi tất cả đã trả lời hoặc hết hạn.",
                       code="opinions_pending", detail={"due_at": max(w.due_at for w in waiting).isoformat()})
    target = 0 if dossier.status == S.received else (dossier.current_step or 0) + 1
    from_agency = to_agency = dossier.agency_id
    if parties.is_interagency(procedure):
        from_agency = parties.step_agency_id(session, dossier, procedure,
                                             dossier.current_step if dossier.status == S.processing else None)
        to_agency = parties.step_agency_id(session, dossier, procedure, target)
    if dossier.status == S.processing:
        _close_step(session, dossier, ctx, "forwarded", data.note)
    step = workflow_of(procedure)[target]
    # Across agencies the receiving agency's office assigns the step when it accepts the hand-over.
    assignee = _assignee(session, data.assignee, step, dossier, ctx.principal,
                         to_agency if to_agency != dossier.agency_id else None) if from_agency == to_agency else None
    event_data: dict[str, Any] = {"step_name": step["name"], "assignee": data.assignee}
    if dossier.status == S.processing:
        event_data |= _take_result_decision(session, dossier, procedure, data, ctx, agency_id=from_agency)
    if from_agency != to_agency:
        event_data |= _hand_over(session, dossier, procedure, from_agency, to_agency, target, ctx)
    _open_step(session, dossier, procedure, target, cal, ctx, assignee)
    return data.note, event_data, None


def _hand_over(session: Session, dossier: Dossier, procedure: Procedure, from_agency: int, to_agency: int,
               target: int, ctx: Context) -> dict[str, Any]:
    """The agency's part ends: a hand-over (form 06 row naming both agencies, the time, the documents)
    to the next agency, which sees the dossier from now on; the clock keeps running."""
    parties.end_part(session, dossier, from_agency, ctx.now, sla.calendar_for(session, from_agency, ctx.settings))
    parties.start_part(session, dossier, procedure, to_agency, ctx.now)
    handover = Handover(dossier_id=dossier.id, from_agency_id=from_agency, to_agency_id=to_agency,
                        from_step=dossier.current_step if dossier.status == S.processing else None, to_step=target,
                        sent_at=ctx.now, sent_by_id=ctx.principal.id if ctx.principal else None,
                        documents=list(dossier.documents), status="pending")
    session.add(handover)
    session.flush()
    names = {a.id: a for a in (reference.agency(session, from_agency), reference.agency(session, to_agency)) if a}
    return {"handover_id": handover.id, "from_agency": names[from_agency].code, "to_agency": names[to_agency].code}


def _take_result_decision(session: Session, dossier: Dossier, procedure: Procedure, data: ActionIn,
                          ctx: Context, agency_id: int | None = None) -> dict[str, Any]:
    """What the step holder decides about the result as the dossier leaves their step: a specialist
    proposes (approve, or refuse with reasons); the leader of the signing step (the last step that
    produces the result) signs it. A refusal after appraisal (văn bản trả lời nêu rõ lý do) is a
    result like any other, returned through the desk and counted as resolved."""
    if data.result_kind is not None:
        dossier.result_kind = data.result_kind
        if data.result_kind == "refusal":
            dossier.closing_reason = _require(data.reason, "Văn bản trả lời không giải quyết phải nêu rõ lý do.")
    if data.result_reference:
        dossier.result_reference = data.result_reference
    if dossier.current_step != last_work_step(procedure):
        return {"result_kind": data.result_kind} if data.result_kind else {}
    # The signing step: its holder signs the result (an agency-scope leader step: Giám đốc / Phó Giám đốc).
    dossier.result_kind = dossier.result_kind or "approval"
    dossier.result_signed_by_id = ctx.principal.id if ctx.principal else None
    dossier.result_signed_at = ctx.now
    signer_agency = reference.agency(session, agency_id or dossier.agency_id)  # inter-agency: the deciding authority
    assert signer_agency is not None
    if dossier.result_kind == "refusal" and not dossier.result_reference:
        dossier.result_reference = next_document_number(session, signer_agency, "result_refusal", now=ctx.now,
                                                        tz=ctx.settings.timezone)
    # The electronic result, signed with the agency's certificate (PAdES) in this transaction.
    signed = signed_documents.sign_result(session, dossier, procedure, ctx.principal.user if ctx.principal else None,
                                          now=ctx.now, settings=ctx.settings)
    decision = {"result_kind": dossier.result_kind, "signed": True, "result_reference": dossier.result_reference,
                "reason": dossier.closing_reason if dossier.result_kind == "refusal" else None}
    if signed is not None:
        decision["signed_document"] = signed.sha256
    if parties.is_interagency(procedure):  # a refusal names the agency that refused
        decision |= {"agency": signer_agency.code, "agency_name": signer_agency.name}
    return decision


def _on_send_back(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    reason = _require(data.reason, "Cần nêu lý do trả lại bước trước.")
    current = dossier.current_step or 0
    target = current - 1 if data.to_step is None else data.to_step
    if not 0 <= target < current:
        raise Invalid("Chỉ trả lại một bước trước bước hiện tại.", code="invalid_step")
    _close_step(session, dossier, ctx, "sent_back", reason)
    step = workflow_of(procedure)[target]
    step_agency = parties.step_agency_id(session, dossier, procedure, target) if parties.is_interagency(procedure) \
        else dossier.agency_id
    if step_agency != ctx.principal.scope_agency_id:
        raise Conflict("Bước trước thuộc cơ quan khác: trả lại hồ sơ liên thông bằng thao tác trả lại bàn giao.",
                       code="step_of_another_agency")
    _open_step(session, dossier, procedure, target, cal, ctx,
               _assignee(session, data.assignee, step, dossier, ctx.principal,
                         step_agency if step_agency != dossier.agency_id else None))
    return reason, {"step_name": step["name"]}, None


def _on_request_supplement(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    if not data.items:
        raise Invalid("Phiếu yêu cầu bổ sung phải liệt kê đầy đủ giấy tờ cần bổ sung.", code="supplement_items_required")
    dossier.resume_status = dossier.status
    dossier.resume_step = dossier.current_step
    _add_supplement_request(session, dossier, data.items, data.note, ctx)
    sla.mark_late(dossier, ctx.now)
    sla.pause_clock(session, dossier, reason="supplement", rule=procedure.supplement_rule, now=ctx.now)
    return data.note, {"items": data.items}, ("supplement_requested", "; ".join(data.items))


def _on_supplement_received(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    request = session.exec(select(SupplementRequest).where(SupplementRequest.dossier_id == dossier.id,
                                                           SupplementRequest.received_at.is_(None))  # type: ignore[union-attr]
                           ).first()
    due_before = dossier.due_at
    if dossier.resume_status == S.submitted:
        effect = "none"  # an online submission completed before acceptance: the clock starts on accept
    else:
        effect = sla.resume_clock(session, dossier, procedure, cal, now=ctx.now, settings=ctx.settings,
                                  allow_reset=True)
    if request is not None:
        request.received_at = ctx.now
        request.received_by_id = ctx.principal.id
        request.due_after = dossier.due_at
        session.add(request)
    dossier.status = dossier.resume_status or S.received
    if dossier.status == S.processing and dossier.step_due_at is not None and dossier.step_started_at is not None:
        # The step's own clock restarts too: the handler gets the step's full budget again.
        step = workflow_of(procedure)[dossier.current_step or 0]
        dossier.step_started_at = ctx.now
        cal, _ = _step_calendar(session, dossier, procedure, dossier.current_step or 0, cal, ctx)
        dossier.step_due_at = cal.add_working_minutes(ctx.now, int(step["budget_hours"]) * 60)
        record = _open_step_record(session, dossier)
        if record is not None:  # the slip (form 6) judges the step against its new deadline
            record.due_at = dossier.step_due_at
            session.add(record)
        sla.refresh_next_alert(dossier)
    dossier.resume_status = dossier.resume_step = None
    # The applicant learns the appointment that now holds (form 01's, moved by the wait, or anew).
    notify = ("received", None) if effect == "start" else ("supplement_received", None) if effect != "none" else None
    return data.note, {"clock": effect, "due_before": due_before.isoformat() if due_before else None,
                       "due_after": dossier.due_at.isoformat() if dossier.due_at else None}, notify


def _on_request_payment(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    """The amount due (app/payments: the procedure's fees, or the officer's `fee`); the clock
    pauses until it is paid (at the desk, or online: the platform's confirmation resumes it)."""
    request = payments.create_request(session, dossier, procedure, ctx, stage="processing", amount=data.fee,
                                      copies=data.copies, exemption=data.exemption, note=data.note)
    dossier.resume_status = dossier.status
    sla.pause_clock(session, dossier, reason="payment", rule="pause", now=ctx.now)
    return data.note, {"fee": request.amount, "payment_id": request.id}, \
        ("payment_requested", payments.notice_text(request))


def _on_payment_confirmed(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    paid = payments.settle_for_action(session, dossier, ctx, method=data.payment_method,
                                      reference=data.payment_reference)
    sla.resume_clock(session, dossier, procedure, cal, now=ctx.now, settings=ctx.settings, allow_reset=False)
    dossier.resume_status = None
    return data.note, paid, ("payment_confirmed", None)


def _on_withdraw(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    reason = data.reason or "Theo đề nghị của người nộp hồ sơ"
    dossier.withdrawn_at = ctx.now
    dossier.closing_reason = reason
    _close_step(session, dossier, ctx, "withdrawn", reason)
    _clear_step(dossier)
    sla.stop_clock(dossier, now=ctx.now, settings=ctx.settings, resolved=False)
    return reason, {}, None


def _on_stop(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    reason = _require(data.reason, "Cần nêu lý do dừng giải quyết hồ sơ.")
    dossier.stopped_at = ctx.now
    dossier.closing_reason = reason
    _sign_closing(session, dossier, "stop", ctx)
    _close_step(session, dossier, ctx, "stopped", reason)
    _clear_step(dossier)
    sla.stop_clock(dossier, now=ctx.now, settings=ctx.settings, resolved=False)
    return reason, {}, ("stopped", reason)


def _on_resolve(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    """The result is ready for the applicant: at the one-stop desk (the last step), or published
    online, or handed to the post. The outcome is classified now (docs/DEADLINES.md)."""
    if dossier.current_step == last_work_step(procedure):  # a workflow with no hand-over step: signed here
        _take_result_decision(session, dossier, procedure, data, ctx)
    elif data.result_reference and not dossier.result_reference:
        dossier.result_reference = data.result_reference
    dossier.result_kind = dossier.result_kind or "approval"
    _close_step(session, dossier, ctx, "resolved", data.note)
    sla.stop_clock(dossier, now=ctx.now, settings=ctx.settings, resolved=True)
    dossier.resolved_working_minutes = sla.working_minutes_spent(session, dossier, cal, now=ctx.now)
    if parties.is_interagency(procedure):  # the last part ends; a late dossier names the agency that overran
        holder = parties.step_agency_id(session, dossier, procedure, dossier.current_step)
        parties.end_part(session, dossier, holder, ctx.now, sla.calendar_for(session, holder, ctx.settings))
        if (culprit := parties.settle_lateness(session, dossier)) is not None:
            culprit_agency = reference.agency(session, culprit)
            assert culprit_agency is not None
            late_by = {"late_agency": culprit_agency.code, "late_agency_name": culprit_agency.name}
        else:
            late_by = {}
    else:
        late_by = {}
    _clear_step(dossier)
    refusal = dossier.result_kind == "refusal"
    return data.note, {"outcome": dossier.outcome, "result_reference": dossier.result_reference,
                       "result_kind": dossier.result_kind} | late_by, \
        ("result_ready", dossier.closing_reason if refusal else None)


def _on_return_result(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    method = data.method or ReturnMethod(dossier.return_method)
    _check_return_method(procedure, method)
    if _postal_only(ctx.principal) and method != ReturnMethod.postal:
        raise NotPermitted("Nhân viên bưu chính chỉ xác nhận trả kết quả qua bưu chính.", code="postal_only")
    if method == ReturnMethod.postal:
        shipment = session.exec(select(Shipment).where(Shipment.dossier_id == dossier.id,
                                                       Shipment.direction == "outbound")).first()
        if shipment is None:
            tracking = _require(data.tracking_number, "Trả kết quả qua bưu chính cần số hiệu bưu gửi (tracking_number).")
            _add_shipment(session, dossier, direction="outbound", tracking_number=tracking, carrier="VNPost",
                          fee=data.fee or 0, status="handed_over", handed_over_at=ctx.now,
                          address=dossier.applicant_address, now=ctx.now)
        else:  # recorded beforehand by the desk (app.channels.postal.record_outbound): hand it over now
            if data.tracking_number and data.tracking_number != shipment.tracking_number:
                raise Conflict(f"Kết quả đã có bưu gửi số {shipment.tracking_number}.", code="shipment_exists")
            if shipment.status == "created":
                shipment.status, shipment.handed_over_at, shipment.updated_at = "handed_over", ctx.now, ctx.now
                session.add(shipment)
    elif method == ReturnMethod.desk and not data.receiver_name:
        raise Invalid("Trả kết quả tại quầy cần ghi người nhận (receiver_name).", code="receiver_required")
    dossier.returned_at = ctx.now
    dossier.returned_via = method
    dossier.returned_to = data.receiver_name
    _close_step(session, dossier, ctx, "returned", data.note)
    _clear_step(dossier)
    return data.note, {"method": method.value, "tracking_number": data.tracking_number}, ("returned", None)


def _require(value: str | None, message: str) -> str:
    if not value or not value.strip():
        raise Invalid(message, code="reason_required")
    return value.strip()


_HANDLERS = {
    Action.accept: _on_accept,
    Action.refuse: _on_refuse,
    Action.forward: _on_forward,
    Action.send_back: _on_send_back,
    Action.request_supplement: _on_request_supplement,
    Action.supplement_received: _on_supplement_received,
    Action.request_payment: _on_request_payment,
    Action.payment_confirmed: _on_payment_confirmed,
    Action.withdraw: _on_withdraw,
    Action.stop: _on_stop,
    Action.resolve: _on_resolve,
    Action.return_result: _on_return_result,
}
assert set(_HANDLERS) == set(Action), "every action needs a handler"


# --- hand-overs between agencies (inter-agency procedures) ----------------------------------------

def handovers_of(session: Session, code: str, principal: Principal) -> list[Handover]:
    dossier = get_dossier(session, code, principal)
    return list(session.exec(select(Handover).where(Handover.dossier_id == dossier.id).order_by(Handover.id)).all())


def _lock_handover(session: Session, code: str, handover_id: int, ctx: Context,
                   expected_version: int | None) -> tuple[Dossier, Procedure, Handover]:
    principal = ctx.principal
    assert principal is not None
    dossier = get_dossier(session, code, principal, for_update=True)
    handover = session.get(Handover, handover_id)
    if handover is None or handover.dossier_id != dossier.id or handover.to_agency_id != principal.scope_agency_id:
        raise NotFound(f"Không có bàn giao số {handover_id} của hồ sơ {code}.", code="handover_not_found")
    if not principal.has(Role.desk, Role.leader):
        raise NotPermitted("Văn phòng (cán bộ tiếp nhận) hoặc lãnh đạo của cơ quan nhận bàn giao mới tiếp nhận "
                           "hoặc trả lại bàn giao.", detail={"required_roles": ["desk", "leader"]})
    if expected_version is None:
        raise PreconditionFailed("Cần gửi phiên bản hồ sơ (header If-Match hoặc trường version).",
                                 code="version_required")
    if expected_version != dossier.version:
        raise PreconditionFailed(detail={"current_version": dossier.version})
    if handover.status != "pending":
        raise Conflict("Bàn giao này đã được tiếp nhận hoặc trả lại.", code="handover_not_pending",
                       detail={"status": handover.status})
    procedure = reference.procedure(session, dossier.procedure_id)
    assert procedure is not None
    return dossier, procedure, handover


def _record_handover(session: Session, dossier: Dossier, procedure: Procedure, ctx: Context, action: str,
                     from_status: str, from_step: int | None, note: str | None, data: dict[str, Any]) -> None:
    dossier.version += 1
    dossier.updated_at = ctx.now
    session.add(dossier)
    session.flush()
    effects.record(session, dossier, procedure, ctx, action=action, from_status=from_status, from_step=from_step,
                   note=note, data=data, full_sync=False)


def accept_handover(session: Session, code: str, handover_id: int, ctx: Context, *, expected_version: int | None,
                    assignee: str | None = None, note: str | None = None) -> Dossier:
    """The receiving agency's office accepts the hand-over (and may assign the step); the clock ran on."""
    dossier, procedure, handover = _lock_handover(session, code, handover_id, ctx, expected_version)
    assert ctx.principal is not None
    sla.mark_late(dossier, ctx.now)
    handover.status, handover.decided_at, handover.decided_by_id = "accepted", ctx.now, ctx.principal.id
    handover.reason = note
    session.add(handover)
    if assignee and dossier.current_step is not None:
        step = workflow_of(procedure)[dossier.current_step]
        agency_id = handover.to_agency_id if handover.to_agency_id != dossier.agency_id else None
        user = _assignee(session, assignee, step, dossier, ctx.principal, agency_id)
        dossier.assignee_id = user.id if user else None
        record = _open_step_record(session, dossier)
        if record is not None:
            record.to_user_id = dossier.assignee_id
            session.add(record)
    _record_handover(session, dossier, procedure, ctx, "handover_accepted", dossier.status, dossier.current_step,
                     note, {"handover_id": handover.id, "assignee": assignee})
    return dossier


def return_handover(session: Session, code: str, handover_id: int, ctx: Context, *, expected_version: int | None,
                    reason: str | None) -> Dossier:
    """The receiving agency's office returns the hand-over with a reason: the dossier goes back to the
    sending agency's step (or to the receiving point's desk); the clock keeps running."""
    dossier, procedure, handover = _lock_handover(session, code, handover_id, ctx, expected_version)
    assert ctx.principal is not None
    text_ = _require(reason, "Cần nêu lý do trả lại hồ sơ bàn giao.")
    sla.mark_late(dossier, ctx.now)
    from_status, from_step = dossier.status, dossier.current_step
    handover.status, handover.decided_at, handover.decided_by_id = "returned", ctx.now, ctx.principal.id
    handover.reason = text_
    session.add(handover)
    _close_step(session, dossier, ctx, "handover_returned", text_)
    parties.end_part(session, dossier, handover.to_agency_id, ctx.now,
                     sla.calendar_for(session, handover.to_agency_id, ctx.settings))
    parties.start_part(session, dossier, procedure, handover.from_agency_id, ctx.now)
    if handover.from_step is None:  # back to the receiving point's desk, before processing
        _clear_step(dossier)
        dossier.status = S.received
    else:
        cal = sla.calendar_for(session, dossier.agency_id, ctx.settings)
        _open_step(session, dossier, procedure, handover.from_step, cal, ctx, None)
    _record_handover(session, dossier, procedure, ctx, "handover_returned", from_status, from_step, text_,
                     {"handover_id": handover.id})
    return dossier


# --- opinions asked of other agencies in parallel (lấy ý kiến) ------------------------------------

def ask_opinions(session: Session, code: str, ctx: Context, *, agencies: list[str], question: str, due_hours: int,
                 expected_version: int | None) -> list[OpinionRequest]:
    """The holder of the current step asks several agencies at once, with one deadline (working
    hours on its own agency's calendar). The step ends when all have answered or the deadline passed."""
    principal = ctx.principal
    assert principal is not None
    dossier = get_dossier(session, code, principal, for_update=True)
    procedure = reference.procedure(session, dossier.procedure_id)
    assert procedure is not None
    if expected_version is not None and expected_version != dossier.version:
        raise PreconditionFailed(detail={"current_version": dossier.version})
    transition = find(S.processing, Action.request_payment)  # any step-bound move: the caller holds the step
    assert transition is not None
    if dossier.status != S.processing or not parties.is_interagency(procedure):
        raise Conflict("Chỉ lấy ý kiến cơ quan khác khi đang xử lý hồ sơ liên thông.", code="illegal_transition")
    if (why := _step_reason(dossier, procedure, transition, principal, session)) is not None:
        raise Conflict(why, code="step_not_allowed")
    if parties.opinions_pending(session, dossier, ctx.now):
        raise Conflict("Đang chờ ý kiến lần trước.", code="opinions_pending")
    rows = session.exec(select(Agency).where(Agency.code.in_(agencies))).all()  # type: ignore[attr-defined]
    found = {a.code: a for a in rows if not a.is_division and a.id != principal.scope_agency_id}
    missing = sorted(set(agencies) - set(found))
    if missing:
        raise Invalid("Không có cơ quan được lấy ý kiến.", code="agency_not_found", detail={"missing": missing})
    holder = parties.step_agency_id(session, dossier, procedure, dossier.current_step)
    due_at = sla.calendar_for(session, holder, ctx.settings).add_working_minutes(ctx.now, due_hours * 60)
    out = []
    for agency in found.values():
        assert agency.id is not None
        parties.join(session, dossier, procedure, agency.id, ctx.now)  # it sees the dossier from now on
        row = OpinionRequest(dossier_id=dossier.id, agency_id=agency.id, step_index=dossier.current_step or 0,
                             question=question, asked_at=ctx.now, asked_by_id=principal.id, due_at=due_at)
        session.add(row)
        out.append(row)
    session.flush()
    _record_handover(session, dossier, procedure, ctx, "opinions_requested", dossier.status, dossier.current_step,
                     question, {"agencies": sorted(found), "due_at": due_at.isoformat()})
    return out


def answer_opinion(session: Session, code: str, opinion_id: int, ctx: Context, *, agree: bool,
                   answer: str) -> OpinionRequest:
    principal = ctx.principal
    assert principal is not None
    dossier = get_dossier(session, code, principal, for_update=True)
    row = session.get(OpinionRequest, opinion_id)
    if row is None or row.dossier_id != dossier.id or row.agency_id != principal.scope_agency_id:
        raise NotFound(f"Không có yêu cầu lấy ý kiến số {opinion_id}.", code="opinion_not_found")
    parties.expire_opinions(session, dossier, ctx.now)
    if row.status != "pending":
        raise Conflict("Yêu cầu lấy ý kiến đã được trả lời hoặc đã hết hạn.", code="opinion_closed",
                       detail={"status": row.status})
    row.status = "agreed" if agree else "disagreed"
    row.answered_at, row.answered_by_id, row.answer = ctx.now, principal.id, _require(answer, "Cần nêu ý kiến.")
    session.add(row)
    procedure = reference.procedure(session, dossier.procedure_id)
    assert procedure is not None
    _record_handover(session, dossier, procedure, ctx, "opinion_answered", dossier.status, dossier.current_step,
                     row.answer, {"opinion_id": row.id, "agree": agree})
    return row
