"""Actions on a dossier: one move of the transition table (`transitions`) at a time.

Every change locks the dossier row, checks the caller's version, applies one transition from
the table, appends the immutable event, the form-6 step rows and the outbox rows (portal sync,
applicant notification), all in the caller's transaction. Rules live in `rules`; no HTTP.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from app import effects, parties, reference
from app.access import get_dossier
from app.catalog.service import last_work_step, workflow_of
from app.effects import Context
from app.errors import Conflict, Invalid, NotFound, NotPermitted
from app.esign import service as signed_documents
from app.models import Dossier, DossierStatus, Handover, Procedure, ReturnMethod, Shipment, SupplementRequest
from app.payments import service as payments
from app.signatures import next_document_number
from app.sla import apology
from app.sla import service as sla
from app.workflows import intake, rules, steps
from app.workflows.schemas import ActionIn
from app.workflows.transitions import ACTION_LABELS, STATUS_LABELS, Action, ClockEffect, find

S = DossierStatus


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
    rules.check_version(dossier, expected_version)
    transition = find(dossier.status, action_enum)
    if transition is None:
        raise Conflict(illegal_move_message(action_enum, S(dossier.status)), code="illegal_transition",
                       detail={"status": dossier.status,
                               "allowed_actions": rules.allowed_actions(dossier, procedure, principal, ctx.settings, session)})
    if not principal.has(*transition.roles):
        raise NotPermitted(detail={"required_roles": sorted(transition.roles)})
    if (blocked := rules.guard(dossier, procedure, transition, principal, ctx.settings, session)) is not None:
        status = 403 if blocked[0] == "agency_leader_required" else 409
        error = NotPermitted if status == 403 else Conflict
        raise error(blocked[1], code=blocked[0],
                    detail={"allowed_actions": rules.allowed_actions(dossier, procedure, principal, ctx.settings, session)})

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


def _on_accept(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    missing = rules.missing_documents(procedure, dossier.documents)
    if missing:
        raise Invalid("Hồ sơ chưa đủ thành phần: yêu cầu bổ sung hoặc từ chối thay vì tiếp nhận.",
                      code="documents_incomplete", detail={"missing": missing})
    sla.start_clock(session, dossier, procedure, cal, now=ctx.now, settings=ctx.settings)
    dossier.received_by_id = ctx.principal.id if ctx.principal else None
    return data.note, {}, ("received", None)


def _on_refuse(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    reason = rules.require(data.reason, "Cần nêu lý do từ chối tiếp nhận.")
    dossier.refused_at = ctx.now
    dossier.closing_reason = reason
    intake.sign_closing(session, dossier, "refusal", ctx)
    sla.stop_clock(dossier, now=ctx.now, settings=ctx.settings, resolved=False)
    return reason, {"document_number": dossier.closing_document_number}, ("refused", reason)


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
        steps.close_step(session, dossier, ctx, "forwarded", data.note)
    step = workflow_of(procedure)[target]
    # Across agencies the receiving agency's office assigns the step when it accepts the hand-over.
    assignee = steps.assignee(session, data.assignee, step, dossier, ctx.principal,
                              to_agency if to_agency != dossier.agency_id else None) if from_agency == to_agency else None
    event_data: dict[str, Any] = {"step_name": step["name"], "assignee": data.assignee}
    if dossier.status == S.processing:
        event_data |= _take_result_decision(session, dossier, procedure, data, ctx, agency_id=from_agency)
    if from_agency != to_agency:
        event_data |= _hand_over(session, dossier, procedure, from_agency, to_agency, target, ctx)
    steps.open_step(session, dossier, procedure, target, cal, ctx, assignee)
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
            dossier.closing_reason = rules.require(data.reason, "Văn bản trả lời không giải quyết phải nêu rõ lý do.")
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
    reason = rules.require(data.reason, "Cần nêu lý do trả lại bước trước.")
    current = dossier.current_step or 0
    target = current - 1 if data.to_step is None else data.to_step
    if not 0 <= target < current:
        raise Invalid("Chỉ trả lại một bước trước bước hiện tại.", code="invalid_step")
    steps.close_step(session, dossier, ctx, "sent_back", reason)
    step = workflow_of(procedure)[target]
    step_agency = parties.step_agency_id(session, dossier, procedure, target) if parties.is_interagency(procedure) \
        else dossier.agency_id
    if step_agency != ctx.principal.scope_agency_id:
        raise Conflict("Bước trước thuộc cơ quan khác: trả lại hồ sơ liên thông bằng thao tác trả lại bàn giao.",
                       code="step_of_another_agency")
    steps.open_step(session, dossier, procedure, target, cal, ctx,
                    steps.assignee(session, data.assignee, step, dossier, ctx.principal,
                                   step_agency if step_agency != dossier.agency_id else None))
    return reason, {"step_name": step["name"]}, None


def _on_request_supplement(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    if not data.items:
        raise Invalid("Phiếu yêu cầu bổ sung phải liệt kê đầy đủ giấy tờ cần bổ sung.", code="supplement_items_required")
    dossier.resume_status = dossier.status
    dossier.resume_step = dossier.current_step
    intake.add_supplement_request(session, dossier, data.items, data.note, ctx)
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
        cal, _ = steps.step_calendar(session, dossier, procedure, dossier.current_step or 0, cal, ctx)
        dossier.step_due_at = cal.add_working_minutes(ctx.now, int(step["budget_hours"]) * 60)
        record = steps.open_step_record(session, dossier)
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
    steps.close_step(session, dossier, ctx, "withdrawn", reason)
    steps.clear_step(dossier)
    sla.stop_clock(dossier, now=ctx.now, settings=ctx.settings, resolved=False)
    return reason, {}, None


def _on_stop(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    reason = rules.require(data.reason, "Cần nêu lý do dừng giải quyết hồ sơ.")
    dossier.stopped_at = ctx.now
    dossier.closing_reason = reason
    intake.sign_closing(session, dossier, "stop", ctx)
    steps.close_step(session, dossier, ctx, "stopped", reason)
    steps.clear_step(dossier)
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
    steps.close_step(session, dossier, ctx, "resolved", data.note)
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
    steps.clear_step(dossier)
    refusal = dossier.result_kind == "refusal"
    return data.note, {"outcome": dossier.outcome, "result_reference": dossier.result_reference,
                       "result_kind": dossier.result_kind} | late_by, \
        ("result_ready", dossier.closing_reason if refusal else None)


def _on_return_result(session, dossier, procedure, transition, data, ctx, cal) -> HandlerResult:  # noqa: ANN001
    method = data.method or ReturnMethod(dossier.return_method)
    rules.check_return_method(procedure, method)
    if rules.postal_only(ctx.principal) and method != ReturnMethod.postal:
        raise NotPermitted("Nhân viên bưu chính chỉ xác nhận trả kết quả qua bưu chính.", code="postal_only")
    if method == ReturnMethod.postal:
        shipment = session.exec(select(Shipment).where(Shipment.dossier_id == dossier.id,
                                                       Shipment.direction == "outbound")).first()
        if shipment is None:
            tracking = rules.require(data.tracking_number, "Trả kết quả qua bưu chính cần số hiệu bưu gửi (tracking_number).")
            intake.add_shipment(session, dossier, direction="outbound", tracking_number=tracking,
                                carrier="VNPost", fee=data.fee or 0, status="handed_over", handed_over_at=ctx.now,
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
    steps.close_step(session, dossier, ctx, "returned", data.note)
    steps.clear_step(dossier)
    return data.note, {"method": method.value, "tracking_number": data.tracking_number}, ("returned", None)


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
