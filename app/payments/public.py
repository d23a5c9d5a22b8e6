"""The citizen's view of a dossier's payments (on /tra-cuu) and the payment pages' content."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.models import Dossier, DossierStatus
from app.payments import service
from app.payments.fees import money
from app.payments.models import PaymentRequest
from app.payments.online import make_token
from app.payments.schemas import PublicFeeRow, PublicPaymentOut, PublicReceipt
from app.settings import Settings

STATUS_LABELS = {"open": "Chưa nộp", "paid": "Đã nộp", "cancelled": "Không còn phải nộp"}


def receipt_of(request: PaymentRequest, tz: ZoneInfo) -> PublicReceipt | None:
    if request.status != "paid" or request.paid_at is None or request.receipt_number is None:
        return None
    return PublicReceipt(number=request.receipt_number, amount_text=money(request.amount), paid_at=request.paid_at,
                         paid_text=f"{request.paid_at.astimezone(tz):%H:%M ngày %d/%m/%Y}",
                         method_label=service.METHOD_LABELS.get(request.method or "", request.method or ""))


def payments_view(session: Session, dossier: Dossier, *, now: datetime, settings: Settings) -> list[PublicPaymentOut]:
    tz = ZoneInfo(settings.timezone)
    requests = service.requests_of(session, dossier.id)  # type: ignore[arg-type]
    if not requests:
        return []
    pending = {t.request_id for t in service.transactions_of(session, [r.id for r in requests])  # type: ignore[misc]
               if t.status == "pending"}
    payable = dossier.status in (DossierStatus.submitted, DossierStatus.received, DossierStatus.processing,
                                 DossierStatus.awaiting_payment)
    out = []
    for request in requests:
        open_ = request.status == "open"
        out.append(PublicPaymentOut(
            amount_text=money(request.amount),
            items=[PublicFeeRow(name=row["name"] + (f" × {row['quantity']} bản" if row.get("per") == "copy" else ""),
                                total_text=money(row["total"])) for row in request.items],
            status=request.status, status_label=STATUS_LABELS[request.status],
            pay_token=make_token(request.id, now=now, settings=settings) if open_ and payable else None,  # type: ignore[arg-type]
            pending_online=open_ and request.id in pending, receipt=receipt_of(request, tz),
            refund_text=(f"{money(request.refund_amount)} được hoàn trả ({request.refund_reason})"
                         if request.refund_amount else None)))
    return out
