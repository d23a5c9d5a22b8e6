"""Fees and payments: a dossier's payment requests, receipts at the desk, the platform's signed
callback (public, verified by its HMAC signature), and the citizen's payment pages."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, select

from app.access import get_dossier
from app.api.deps import ClockDep, IfMatch, SessionDep, SessionFactoryDep, SettingsDep, expected_version
from app.api.public import PAGE_HEADERS
from app.auth.deps import DeskOfficer, Staff
from app.clock import Clock
from app.errors import DomainError
from app.effects import Context
from app.models import Dossier, DossierStatus
from app.payments import online, service
from app.payments.client import PaymentPlatform
from app.payments.fees import money
from app.payments.models import PaymentRequest, PaymentTransaction
from app.payments.public import receipt_of
from app.web.qr import qr_svg_data_uri
from app.payments.schemas import DeskPaymentIn, FeeRowOut, PaymentRequestIn, PaymentRequestOut, TransactionOut
from app.settings import Settings
from app.web import payment_pages
from app.workflows import actions
from app.workflows.schemas import ActionIn

router = APIRouter(tags=["phí, lệ phí"])
CodePath = Annotated[str, Path(max_length=64, description="Mã hồ sơ, ví dụ 000.00.17.H26-261123-0001")]
PaymentPath = Annotated[int, Path(ge=1, le=2_147_483_647)]


def platform_for(request: Request, settings: Settings, clock: Clock) -> PaymentPlatform:
    """The adapter (requests signed on the service's clock)."""
    return PaymentPlatform.from_settings(settings, now=lambda: clock.now().timestamp())


def _present(request: PaymentRequest, transactions: list[PaymentTransaction]) -> PaymentRequestOut:
    assert request.id is not None
    return PaymentRequestOut(
        id=request.id, stage=request.stage, status=request.status, amount=request.amount,
        amount_text=money(request.amount), items=[FeeRowOut(**row) for row in request.items],
        exemption=request.exemption, requested_at=request.requested_at, note=request.note, paid_at=request.paid_at,
        method=request.method, method_label=service.METHOD_LABELS.get(request.method) if request.method else None,
        receipt_number=request.receipt_number, reference=request.reference, refund_amount=request.refund_amount,
        refund_reason=request.refund_reason, refund_recorded_at=request.refund_recorded_at,
        transactions=[TransactionOut(order_ref=t.order_ref, platform_id=t.platform_id, amount=t.amount,
                                     status=t.status, created_at=t.created_at, settled_at=t.settled_at,
                                     settled_by=t.settled_by, callbacks=t.callbacks)
                      for t in transactions if t.request_id == request.id])


def _list(session: Session, dossier_id: int) -> list[PaymentRequestOut]:
    requests = service.requests_of(session, dossier_id)
    transactions = service.transactions_of(session, [r.id for r in requests])  # type: ignore[misc]
    return [_present(r, transactions) for r in requests]


@router.get("/api/v1/dossiers/{code}/payments", response_model=list[PaymentRequestOut],
            summary="Phí, lệ phí của hồ sơ: số phải nộp, chi tiết, biên lai, giao dịch trực tuyến, hoàn trả")
def list_payments(code: CodePath, session: SessionDep, principal: Staff) -> list[PaymentRequestOut]:
    dossier = get_dossier(session, code, principal)
    return _list(session, dossier.id)  # type: ignore[arg-type]


@router.post("/api/v1/dossiers/{code}/payments", response_model=PaymentRequestOut, status_code=201,
             summary="Yêu cầu nộp phí, lệ phí khi tiếp nhận (trong quá trình giải quyết: thao tác request_payment)")
def request_payment(code: CodePath, data: PaymentRequestIn, session: SessionDep, principal: DeskOfficer,
                    clock: ClockDep, settings: SettingsDep) -> PaymentRequestOut:
    request = service.request_at_intake(session, code, Context(principal, clock.now(), settings), amount=data.amount,
                                        copies=data.copies, exemption=data.exemption, note=data.note)
    return _present(request, [])


@router.post("/api/v1/dossiers/{code}/payments/{payment_id}/receipt", response_model=PaymentRequestOut,
             summary="Ghi nhận nộp tiền mặt hoặc chuyển khoản tại Bộ phận Một cửa, cấp biên lai điện tử",
             responses={409: {"description": "Đã nộp hoặc đã huỷ"}, 412: {"description": "Phiên bản hồ sơ đã cũ"}})
def record_receipt(code: CodePath, payment_id: PaymentPath, data: DeskPaymentIn, session: SessionDep,
                   principal: DeskOfficer, clock: ClockDep, settings: SettingsDep,
                   if_match: IfMatch = None,
                   ) -> PaymentRequestOut:
    version = expected_version(if_match, data.version)
    ctx = Context(principal, clock.now(), settings)
    dossier = get_dossier(session, code, principal)
    request = session.get(PaymentRequest, payment_id)
    if request is not None and request.dossier_id == dossier.id and request.status == "open" \
            and request.stage == "processing" and dossier.status == DossierStatus.awaiting_payment:
        # The payment the clock waits for: the transition (roles, version) settles it and resumes the clock.
        actions.act(session, code, "payment_confirmed", ActionIn(payment_method=data.method,
                                                                   payment_reference=data.reference), ctx, version)
    else:
        service.record_desk_payment(session, code, payment_id, ctx, method=data.method, reference=data.reference,
                                    expected_version=version)
    session.flush()
    return next(r for r in _list(session, dossier.id) if r.id == payment_id)  # type: ignore[arg-type]


@router.post("/api/v1/payments/callback", summary="Thông báo kết quả giao dịch của cổng thanh toán (ký HMAC-SHA256)",
             responses={400: {"description": "Sai chữ ký, quá hạn, số tiền khác"},
                        409: {"description": "Cổng thanh toán không xác nhận nội dung"}})
async def callback(request: Request, factory: SessionFactoryDep, clock: ClockDep, settings: SettingsDep) -> dict:
    """Public, but only a body signed with the merchant key is accepted; a duplicate gets the same answer."""
    from fastapi.concurrency import run_in_threadpool

    try:
        body = await request.json()
    except ValueError:
        raise online.CallbackRefused("Nội dung thông báo không phải JSON.", code="invalid_callback") from None

    def work() -> dict:
        with platform_for(request, settings, clock) as platform:
            return online.handle_callback(factory, body, now=clock.now(), settings=settings, platform=platform)

    return await run_in_threadpool(work)


@router.post("/tra-cuu/thanh-toan", response_class=HTMLResponse, include_in_schema=False)
def pay_page(request: Request, factory: SessionFactoryDep, clock: ClockDep, settings: SettingsDep,
             token: Annotated[str, Form(max_length=200)] = "") -> HTMLResponse:
    """The citizen's "Thanh toán" button: a transaction on the platform, its link and QR code."""
    try:
        with platform_for(request, settings, clock) as platform:
            transaction, payment, dossier = online.start(factory, token, now=clock.now(), settings=settings,
                                                         platform=platform, base_url=str(request.base_url))
    except DomainError as exc:
        return HTMLResponse(payment_pages.render(title="Chưa thanh toán được", error=exc.message),
                            status_code=exc.status_code, headers=PAGE_HEADERS)
    assert transaction.pay_url is not None
    return HTMLResponse(payment_pages.render(
        title="Nộp phí, lệ phí trực tuyến", dossier_code=dossier.code, amount_text=money(payment.amount),
        pay_url=transaction.pay_url, qr=qr_svg_data_uri(transaction.pay_url)), headers=PAGE_HEADERS)


@router.get("/tra-cuu/thanh-toan/ket-qua", response_class=HTMLResponse, include_in_schema=False)
def pay_result(session: SessionDep, settings: SettingsDep,
               ref: Annotated[str, Query(max_length=64)] = "") -> HTMLResponse:
    """Where the platform sends the payer back. It shows what the service holds (the callback or
    reconciliation settles; this page never does)."""
    row = session.exec(select(PaymentTransaction).where(PaymentTransaction.order_ref == ref)).first() if ref else None
    if row is None:
        return HTMLResponse(payment_pages.render(title="Không tìm thấy giao dịch",
                                                 error="Không có giao dịch thanh toán này."),
                            status_code=404, headers=PAGE_HEADERS)
    request = session.get(PaymentRequest, row.request_id)
    dossier = session.get(Dossier, row.dossier_id)
    assert request is not None and dossier is not None
    receipt = receipt_of(request, ZoneInfo(settings.timezone)) if row.status == "paid" else None
    return HTMLResponse(payment_pages.render(
        title="Kết quả thanh toán", dossier_code=dossier.code, amount_text=money(row.amount),
        status_text=payment_pages.TRANSACTION_TEXTS[row.status], receipt=receipt), headers=PAGE_HEADERS)
