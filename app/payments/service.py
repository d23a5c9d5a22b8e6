"""Payment requests, receipts at the desk, refunds, and the clock they pause. No HTTP.

A request made during processing is the `request_payment` action (app/workflows calls
`create_request`); its settlement resumes the clock through the `payment_confirmed` transition:
by the desk (the action, or a receipt recorded here through the action) or, online, by the
platform (`resume_after_payment`, the system acting). A request at intake does not touch the clock.
Online payment itself is app/payments/online.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from app import effects
from app.access import get_dossier
from app.effects import Context
from app.errors import Conflict, NotFound, PreconditionFailed
from app.models import Agency, Dossier, DossierStatus, Procedure
from app.payments import fees
from app.payments.models import PaymentRequest, PaymentTransaction
from app.signatures import next_document_number
from app.sla import service as sla

S = DossierStatus
METHOD_LABELS = {"cash": "Tiền mặt tại Bộ phận Một cửa", "transfer": "Chuyển khoản",
                 "online": "Thanh toán trực tuyến"}
CLOSINGS = {S.refused: "refused", S.withdrawn: "withdrawn", S.stopped: "stopped"}


def requests_of(session: Session, dossier_id: int) -> list[PaymentRequest]:
    return list(session.exec(select(PaymentRequest).where(PaymentRequest.dossier_id == dossier_id)
                             .order_by(PaymentRequest.id)).all())  # type: ignore[arg-type]


def transactions_of(session: Session, request_ids: list[int]) -> list[PaymentTransaction]:
    if not request_ids:
        return []
    return list(session.exec(select(PaymentTransaction).where(
        PaymentTransaction.request_id.in_(request_ids)).order_by(PaymentTransaction.id)).all())  # type: ignore[attr-defined]


def open_request(session: Session, dossier: Dossier) -> PaymentRequest | None:
    return session.exec(select(PaymentRequest).where(PaymentRequest.dossier_id == dossier.id,
                                                     PaymentRequest.status == "open")).first()


def create_request(session: Session, dossier: Dossier, procedure: Procedure, ctx: Context, *, stage: str,
                   amount: int | None = None, copies: int = 1, exemption: str | None = None,
                   note: str | None = None) -> PaymentRequest:
    """The amount due and its breakdown (the procedure's fees, or the officer's `amount`)."""
    if open_request(session, dossier) is not None:
        raise Conflict("Hồ sơ đang có một yêu cầu nộp phí, lệ phí chưa thanh toán.", code="payment_already_requested")
    rows, applied, total = fees.breakdown(procedure, copies=copies, exemption=exemption, amount=amount)
    request = PaymentRequest(dossier_id=dossier.id, agency_id=dossier.receiving_agency_id, stage=stage, items=rows,
                             exemption=applied, amount=total, requested_at=ctx.now,
                             requested_by_id=ctx.principal.id if ctx.principal else None, note=note)
    session.add(request)
    session.flush()
    return request


def notice_text(request: PaymentRequest) -> str:
    """The amount and its rows, for the applicant's message."""
    parts = "; ".join(f"{row['name']}: {fees.money(row['total'])}" for row in request.items)
    return f"{fees.money(request.amount)} ({parts})"


def _mark_paid(session: Session, request: PaymentRequest, ctx: Context, *, method: str, reference: str | None) -> bool:
    """open → paid, once (a guarded UPDATE: a racing second settlement changes nothing)."""
    done = session.execute(update(PaymentRequest).where(PaymentRequest.id == request.id,
                                                        PaymentRequest.status == "open")
                           .values(status="paid")).rowcount
    if not done:
        return False
    agency = session.get(Agency, request.agency_id)
    assert agency is not None
    request.status, request.paid_at, request.method, request.reference = "paid", ctx.now, method, reference
    request.recorded_by_id = ctx.principal.id if ctx.principal else None
    # The receipt's number comes from the agency's register, per year (biên lai điện tử).
    request.receipt_number = next_document_number(session, agency, "receipt", now=ctx.now, tz=ctx.settings.timezone)
    session.add(request)
    return True


def settle_for_action(session: Session, dossier: Dossier, ctx: Context, *, method: str | None,
                      reference: str | None) -> dict[str, Any]:
    """The `payment_confirmed` action by an officer: the open request is paid (cash by default)
    and receipted. Event data for the action; {} when the dossier has no request (older ones)."""
    request = open_request(session, dossier)
    if request is None:
        return {}
    _mark_paid(session, request, ctx, method=method or "cash", reference=reference)
    return {"payment_id": request.id, "amount": request.amount, "method": request.method,
            "receipt_number": request.receipt_number}


def record_desk_payment(session: Session, code: str, payment_id: int, ctx: Context, *, method: str,
                        reference: str | None, expected_version: int | None) -> PaymentRequest:
    """Cash or transfer at the desk for a request made at intake (the clock is not paused)."""
    assert ctx.principal is not None
    dossier = get_dossier(session, code, ctx.principal, for_update=True)
    request = _request_of(session, dossier, payment_id)
    if expected_version is not None and expected_version != dossier.version:
        raise PreconditionFailed(detail={"current_version": dossier.version})
    if request.status != "open":
        raise Conflict("Khoản phí, lệ phí này đã được nộp hoặc đã huỷ.", code="payment_not_open",
                       detail={"status": request.status})
    _mark_paid(session, request, ctx, method=method, reference=reference)
    _record_event(session, dossier, ctx, "payment_received", {"payment_id": request.id, "method": method,
                                                               "amount": request.amount,
                                                               "receipt_number": request.receipt_number})
    return request


def _request_of(session: Session, dossier: Dossier, payment_id: int) -> PaymentRequest:
    request = session.get(PaymentRequest, payment_id)
    if request is None or request.dossier_id != dossier.id:
        raise NotFound(f"Không có khoản phí, lệ phí số {payment_id} của hồ sơ {dossier.code}.",
                       code="payment_not_found")
    return request


def request_at_intake(session: Session, code: str, ctx: Context, *, amount: int | None, copies: int,
                      exemption: str | None, note: str | None) -> PaymentRequest:
    """A payment request made at reception (submitted or received): no clock pause. During
    processing the `request_payment` action is the way (it pauses the clock)."""
    assert ctx.principal is not None
    dossier = get_dossier(session, code, ctx.principal, for_update=True)
    if dossier.status not in (S.submitted, S.received):
        raise Conflict("Trong quá trình giải quyết, yêu cầu nộp phí, lệ phí bằng thao tác “Yêu cầu thực hiện nghĩa "
                       "vụ tài chính” (tạm dừng tính thời hạn).", code="use_request_payment_action",
                       detail={"status": dossier.status})
    procedure = session.get(Procedure, dossier.procedure_id)
    assert procedure is not None
    request = create_request(session, dossier, procedure, ctx, stage="intake", amount=amount, copies=copies,
                             exemption=exemption, note=note)
    _record_event(session, dossier, ctx, "payment_requested", {"payment_id": request.id, "amount": request.amount},
                  notification=("payment_requested", notice_text(request)))
    return request


def _record_event(session: Session, dossier: Dossier, ctx: Context, action: str, data: dict[str, Any], *,
                  notification: tuple[str, str | None] | None = None) -> None:
    """An event that changes no status (the portal learns the record, `DuocThanhToanTrucTuyen` with it)."""
    procedure = session.get(Procedure, dossier.procedure_id)
    assert procedure is not None
    dossier.version += 1
    dossier.updated_at = ctx.now
    session.add(dossier)
    session.flush()
    effects.record(session, dossier, procedure, ctx, action=action, from_status=dossier.status,
                   from_step=dossier.current_step, data=data, full_sync=True, notification=notification)


def settle_online(session: Session, dossier: Dossier, request: PaymentRequest, transaction: PaymentTransaction,
                  ctx: Context) -> str:
    """The platform confirmed `transaction` paid (its row already moved to paid). Returns what
    happened: "settled", or "refund" when the request was already paid another way or cancelled."""
    if not _mark_paid(session, request, ctx, method="online", reference=transaction.platform_id):
        session.refresh(request)
        # Paid twice (cash meanwhile) or after the dossier closed: the money goes back.
        reason = "Nộp trùng" if request.status == "paid" else "Hồ sơ đã kết thúc trước khi giao dịch hoàn tất"
        request.refund_amount = (request.refund_amount or 0) + transaction.amount
        request.refund_reason, request.refund_recorded_at = reason, ctx.now
        session.add(request)
        _record_event(session, dossier, ctx, "payment_refund", {"payment_id": request.id,
                                                                 "amount": transaction.amount, "reason": reason})
        return "refund"
    if dossier.paid_online_at is None:
        dossier.paid_online_at = ctx.now
    data = {"payment_id": request.id, "method": "online", "amount": request.amount,
            "receipt_number": request.receipt_number}
    if request.stage == "processing" and dossier.status == S.awaiting_payment:
        resume_after_payment(session, dossier, ctx, data)
    else:
        _record_event(session, dossier, ctx, "payment_received", data)
    return "settled"


def resume_after_payment(session: Session, dossier: Dossier, ctx: Context, data: dict[str, Any]) -> None:
    """The `payment_confirmed` transition taken by the system (the platform confirmed the payment):
    awaiting_payment → the status held before, the clock resumes (the due date moves by the wait)."""
    procedure = session.get(Procedure, dossier.procedure_id)
    assert procedure is not None
    sla.mark_late(dossier, ctx.now)
    cal = sla.calendar_for(session, dossier.agency_id, ctx.settings)
    sla.resume_clock(session, dossier, procedure, cal, now=ctx.now, settings=ctx.settings, allow_reset=False)
    from_status = dossier.status
    dossier.status = dossier.resume_status or S.processing
    dossier.resume_status = None
    dossier.version += 1
    dossier.updated_at = ctx.now
    session.add(dossier)
    session.flush()
    effects.record(session, dossier, procedure, ctx, action="payment_confirmed", from_status=from_status,
                   from_step=dossier.current_step, data=data, full_sync=True, notification=("payment_confirmed", None))


def close_payments(session: Session, dossier: Dossier, procedure: Procedure, ctx: Context) -> dict[str, Any]:
    """The dossier leaves processing (refused, withdrawn, stopped, or a reasoned refusal as result):
    open requests are cancelled; what was paid is recorded as to be refunded where the procedure
    allows it. Event data for the closing action ({} when nothing was owed)."""
    status = S(dossier.status)
    closing = CLOSINGS.get(status) or ("refused" if dossier.result_kind == "refusal" else None)
    if closing is None:
        return {}
    refunded = 0
    for request in requests_of(session, dossier.id):  # type: ignore[arg-type]
        if request.status == "open":
            request.status = "cancelled"
        elif request.status == "paid" and request.refund_amount is None and fees.refundable(procedure, closing):
            request.refund_amount, request.refund_recorded_at = request.amount, ctx.now
            request.refund_reason = {"refused": "Hồ sơ bị từ chối", "withdrawn": "Rút hồ sơ",
                                     "stopped": "Dừng giải quyết hồ sơ"}[closing]
            refunded += request.amount
        else:
            continue
        session.add(request)
    return {"refund_amount": refunded} if refunded else {}


def closing_status(dossier: Dossier) -> bool:
    return S(dossier.status) in CLOSINGS or (dossier.status == S.resolved and dossier.result_kind == "refusal")
