"""Inter-agency procedures: the hand-over of a dossier from one agency to the next (accepted or
returned by the receiving agency's office) and the opinions asked of other agencies in parallel
(lấy ý kiến). Each change bumps the dossier's version and records its event (app/effects.py)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from app import effects, parties, reference
from app.access import get_dossier
from app.auth.principal import Principal
from app.catalog.service import workflow_of
from app.effects import Context
from app.errors import Conflict, Invalid, NotFound, NotPermitted, PreconditionFailed
from app.models import Agency, Dossier, DossierStatus, Handover, OpinionRequest, Procedure, Role
from app.sla import service as sla
from app.workflows import rules, steps
from app.workflows.transitions import Action, find

S = DossierStatus


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
    rules.check_version(dossier, expected_version)
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
        user = steps.assignee(session, assignee, step, dossier, ctx.principal, agency_id)
        dossier.assignee_id = user.id if user else None
        record = steps.open_step_record(session, dossier)
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
    text_ = rules.require(reason, "Cần nêu lý do trả lại hồ sơ bàn giao.")
    sla.mark_late(dossier, ctx.now)
    from_status, from_step = dossier.status, dossier.current_step
    handover.status, handover.decided_at, handover.decided_by_id = "returned", ctx.now, ctx.principal.id
    handover.reason = text_
    session.add(handover)
    steps.close_step(session, dossier, ctx, "handover_returned", text_)
    parties.end_part(session, dossier, handover.to_agency_id, ctx.now,
                     sla.calendar_for(session, handover.to_agency_id, ctx.settings))
    parties.start_part(session, dossier, procedure, handover.from_agency_id, ctx.now)
    if handover.from_step is None:  # back to the receiving point's desk, before processing
        steps.clear_step(dossier)
        dossier.status = S.received
    else:
        cal = sla.calendar_for(session, dossier.agency_id, ctx.settings)
        steps.open_step(session, dossier, procedure, handover.from_step, cal, ctx, None)
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
    if (why := rules.step_reason(dossier, procedure, transition, principal, session)) is not None:
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
    row.answered_at, row.answered_by_id, row.answer = ctx.now, principal.id, rules.require(answer, "Cần nêu ý kiến.")
    session.add(row)
    procedure = reference.procedure(session, dossier.procedure_id)
    assert procedure is not None
    _record_handover(session, dossier, procedure, ctx, "opinion_answered", dossier.status, dossier.current_step,
                     row.answer, {"opinion_id": row.id, "agree": agree})
    return row
