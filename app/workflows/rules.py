"""What the rules allow now, beyond the transition table (`transitions`): who may take which move
on a dossier (its step, its agency, the postal clerk's part), the supplement asked only once per
stage, the documents and the return method a procedure requires, and where the dossier stands
against its deadline. Read by intake, the actions, the hand-overs and the API; no writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from app import parties, reference
from app.auth.principal import Principal
from app.catalog.service import workflow_of
from app.errors import Invalid, PreconditionFailed
from app.models import (Agency, ClockState, Dossier, DossierStatus, OnlineLevel, Procedure, ReturnMethod, Role,
                        SupplementRequest, User)
from app.settings import Settings
from app.signatures import is_agency_leader
from app.sla.deadlines import classify_progress
from app.statuses import ROLE_NAMES
from app.workflows.transitions import Action, Transition, from_status

S = DossierStatus


def guard(dossier: Dossier, procedure: Procedure, transition: Transition, principal: Principal,
          settings: Settings, session: Session | None = None) -> tuple[str, str] | None:
    """(code, reason) why the caller may not take this transition now, beyond the table; None: they may.
    With the session, the supplement rule is checked against the requests already made."""
    if (transition.action == Action.request_supplement and session is not None
            and supplements_in_stage(session, dossier) >= settings.max_supplement_requests):
        return ("supplement_already_requested", "Ở giai đoạn này, cơ quan đã yêu cầu bổ sung hồ sơ; quy định chỉ "
                "yêu cầu bổ sung một lần (một lần khi tiếp nhận, một lần trong quá trình giải quyết).")
    if (transition.action == Action.return_result and postal_only(principal)
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
    why = step_reason(dossier, procedure, transition, principal, session)
    return ("step_not_allowed", why) if why else None


def postal_only(principal: Principal) -> bool:
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


def step_reason(dossier: Dossier, procedure: Procedure, transition: Transition, principal: Principal,
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
    if assigned_elsewhere(session, dossier, principal):
        return "Hồ sơ đang được giao cho cán bộ khác."
    if transition.action == Action.forward and index >= len(steps) - 1:
        return "Đây là bước cuối: dùng thao tác “Hoàn thành, có kết quả”."
    if transition.action == Action.resolve and index < len(steps) - 1:
        return "Chưa đến bước cuối của quy trình (kết quả chưa chuyển đến Bộ phận Một cửa)."
    if transition.action == Action.send_back and index == 0:
        return "Đang ở bước đầu, không còn bước trước để trả lại."
    return None


def assigned_elsewhere(session: Session | None, dossier: Dossier, principal: Principal) -> bool:
    """The step is assigned to another officer who can still act on it. An officer whose account was
    deactivated holds nothing: whoever may take the step takes it over (it waits in their
    `unassigned` queue, app/worklists.py), so a dossier never waits for someone who left."""
    if dossier.assignee_id is None or dossier.assignee_id == principal.id:
        return False
    if session is None:
        return True
    assignee = reference.user(session, dossier.assignee_id)
    return assignee is None or assignee.is_active


def allowed_actions(dossier: Dossier, procedure: Procedure, principal: Principal, settings: Settings,
                    session: Session | None = None) -> list[str]:
    if dossier.agency_id != principal.scope_agency_id and dossier.receiving_agency_id != principal.scope_agency_id \
            and (session is None or parties.part_of(session, dossier, principal.scope_agency_id) is None):
        return []
    return [t.action.value for t in from_status(dossier.status)
            if principal.has(*t.roles) and guard(dossier, procedure, t, principal, settings, session) is None]


def progress_of(dossier: Dossier, now: datetime) -> str | None:
    if dossier.clock_state not in (ClockState.running, ClockState.paused) or dossier.due_at is None:
        return None
    if dossier.clock_state == ClockState.paused:
        return None
    assert dossier.due_soon_at is not None
    return classify_progress(now, due_at=dossier.due_at, due_soon_at=dossier.due_soon_at).value


def missing_documents(procedure: Procedure, handed_in: list[dict[str, Any]]) -> list[str]:
    given = {doc["name"].strip().lower() for doc in handed_in}
    return [doc["name"] for doc in procedure.required_documents
            if doc.get("required", True) and doc["name"].strip().lower() not in given]



def check_return_method(procedure: Procedure, method: ReturnMethod | str) -> None:
    if method == ReturnMethod.postal and not procedure.postal_return_allowed:
        raise Invalid("Thủ tục này không trả kết quả qua dịch vụ bưu chính công ích.",
                      code="postal_return_not_allowed")
    if method == ReturnMethod.online and procedure.online_level != OnlineLevel.full:
        raise Invalid("Chỉ thủ tục trực tuyến toàn trình mới trả kết quả trực tuyến.",
                      code="online_return_not_allowed")



def check_version(dossier: Dossier, expected_version: int | None) -> None:
    """The caller's version of the dossier (If-Match or `version`) is required and must be current: a change
    made on a stale page is refused (412), never applied over another."""
    if expected_version is None:
        raise PreconditionFailed("Cần gửi phiên bản hồ sơ (header If-Match hoặc trường version).",
                                 code="version_required")
    if expected_version != dossier.version:
        raise PreconditionFailed(detail={"current_version": dossier.version})


def require(value: str | None, message: str) -> str:
    if not value or not value.strip():
        raise Invalid(message, code="reason_required")
    return value.strip()
