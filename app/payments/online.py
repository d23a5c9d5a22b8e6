"""Online payment through the platform: the citizen's pay token, starting a transaction, the
signed callback, and the reconciliation of transactions left pending (docs/PAYMENTS.md).

Every settlement is confirmed by querying the platform first; the transaction row moves out of
`pending` with a guarded UPDATE, so a duplicated, late or concurrent callback (or reconciliation
racing a callback) settles once and answers the same.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from app import signed_links
from app.db import transaction
from app.effects import Context
from app.errors import Conflict, DomainError, NotFound, Unavailable
from app.models import Dossier
from app.payments import service
from app.payments.client import PaymentError, PaymentPlatform, PaymentUnavailable, PlatformTransaction
from app.payments.models import PaymentRequest, PaymentTransaction
from app.payments.signing import CALLBACK_FIELDS, callback_signed
from app.settings import Settings

log = logging.getLogger("motcua.payments")
FINAL = ("paid", "failed", "cancelled")
EXPIRED = "Đường dẫn thanh toán không hợp lệ hoặc đã hết hạn; vui lòng tra cứu lại hồ sơ."


class CallbackRefused(DomainError):
    status_code = 400
    code = "callback_refused"
    message = "Thông báo thanh toán không hợp lệ."


# --- the citizen's pay token (app/signed_links.py) -----------------------------------------------

LABEL = b"motcua payment link v1"


def make_token(request_id: int, *, now: datetime, settings: Settings) -> str:
    return signed_links.sign(LABEL, str(request_id), expires=now + timedelta(minutes=settings.citizen_token_minutes),
                             settings=settings)[0]


def read_token(token: str, *, now: datetime, settings: Settings) -> int:
    payload = signed_links.verify(LABEL, token, now=now, settings=settings)
    if payload is None or not payload.isdigit():
        raise NotFound(EXPIRED, code="payment_link_expired")
    return int(payload)


# --- starting a payment ---------------------------------------------------------------------------

def start(factory: sessionmaker[Session], token: str, *, now: datetime, settings: Settings,
          platform: PaymentPlatform, base_url: str) -> tuple[PaymentTransaction, PaymentRequest, Dossier]:
    """The transaction to pay the token's request: the pending one (pressing the button twice
    goes to the same page), or a new one created on the platform."""
    request_id = read_token(token, now=now, settings=settings)
    with transaction(factory) as session:
        request = session.get(PaymentRequest, request_id, with_for_update=True)
        if request is None or request.status != "open":
            raise Conflict("Khoản phí, lệ phí này đã được nộp hoặc không còn phải nộp; vui lòng tra cứu lại hồ sơ.",
                           code="payment_not_open")
        pending = session.exec(select(PaymentTransaction).where(
            PaymentTransaction.request_id == request.id, PaymentTransaction.status == "pending",
            PaymentTransaction.amount == request.amount).order_by(PaymentTransaction.id.desc())).first()  # type: ignore[union-attr]
        if pending is None:  # written before the call: a lost answer is found again by its order_ref
            pending = PaymentTransaction(request_id=request.id, dossier_id=request.dossier_id,
                                         order_ref=f"MC{secrets.token_hex(10).upper()}", amount=request.amount,
                                         created_at=now, updated_at=now)
            session.add(pending)
            session.flush()
        dossier = session.get(Dossier, request.dossier_id)
        assert dossier is not None
        session.expunge_all()
    if pending.pay_url is None:
        base = settings.public_address(base_url)
        try:
            answer = platform.create_transaction(
                order_ref=pending.order_ref, amount=pending.amount, description=f"Nộp phí, lệ phí hồ sơ {dossier.code}",
                return_url=f"{base}/tra-cuu/thanh-toan/ket-qua", callback_url=f"{base}/api/v1/payments/callback")
        except PaymentError as exc:
            log.warning("payment platform create failed", extra={"fields": {"order_ref": pending.order_ref,
                                                                            "status": exc.status_code}})
            raise Unavailable("Cổng thanh toán tạm thời không trả lời; vui lòng thử lại sau ít phút.",
                              code="payment_platform_unavailable") from None
        with transaction(factory) as session:
            row = session.get(PaymentTransaction, pending.id)
            assert row is not None
            row.platform_id, row.pay_url, row.updated_at = answer.transaction_id, answer.pay_url, now
            session.add(row)
            session.flush()
            session.expunge(row)
            pending = row
    return pending, request, dossier


# --- the callback ------------------------------------------------------------------------------------

def handle_callback(factory: sessionmaker[Session], body: Any, *, now: datetime, settings: Settings,
                    platform: PaymentPlatform) -> dict[str, Any]:
    """Verify, confirm by querying, settle once. The same answer for a duplicate."""
    if not isinstance(body, dict) or not isinstance(body.get("signature"), str):
        raise CallbackRefused("Thông báo thanh toán thiếu chữ ký.", code="signature_missing")
    fields = {key: body.get(key) for key in CALLBACK_FIELDS}
    if not callback_signed(settings.payment_secret.get_secret_value(), fields, body["signature"]) \
            or fields["merchant"] != settings.payment_merchant:
        log.warning("payment callback with a bad signature")  # the body may be forged: nothing of it is logged
        raise CallbackRefused("Chữ ký của thông báo thanh toán không đúng.", code="invalid_signature")
    try:
        stamp, amount = int(fields["timestamp"]), int(fields["amount"])  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CallbackRefused("Thông báo thanh toán thiếu thời điểm hoặc số tiền.", code="invalid_callback") from None
    if abs(now.timestamp() - stamp) > settings.payment_callback_tolerance_seconds:
        log.warning("payment callback stale", extra={"fields": {"order_ref": fields["order_ref"]}})
        raise CallbackRefused("Thông báo thanh toán đã quá hạn (gửi lại hoặc phát lại); không được chấp nhận.",
                              code="stale_callback")
    with transaction(factory) as session:
        row = session.exec(select(PaymentTransaction).where(
            PaymentTransaction.order_ref == str(fields["order_ref"]))).first()
        if row is None:
            raise NotFound("Không có giao dịch thanh toán này.", code="transaction_not_found")
        if amount != row.amount:
            log.warning("payment callback amount differs", extra={"fields": {"order_ref": row.order_ref}})
            raise CallbackRefused("Số tiền trong thông báo thanh toán khác số tiền của giao dịch.",
                                  code="amount_mismatch", detail={"expected": row.amount, "received": amount})
        row.callbacks += 1
        session.add(row)
        order_ref, status = row.order_ref, row.status
    if status in FINAL:  # a duplicate or late callback: nothing more to do
        return {"code": "ok", "order_ref": order_ref, "status": status, "duplicate": True}
    try:
        confirmed = platform.query(order_ref)
    except PaymentError:
        raise Unavailable("Không xác nhận được giao dịch với cổng thanh toán; vui lòng gửi lại sau.",
                          code="payment_platform_unavailable") from None
    if confirmed is None or confirmed.status != fields["status"] or confirmed.amount != amount:
        raise Conflict("Cổng thanh toán không xác nhận nội dung của thông báo.", code="not_confirmed")
    outcome = settle(factory, order_ref, confirmed, now=now, settings=settings, by="callback")
    return {"code": "ok", "order_ref": order_ref, "status": confirmed.status, "duplicate": outcome is None}


def settle(factory: sessionmaker[Session], order_ref: str, confirmed: PlatformTransaction, *, now: datetime,
           settings: Settings, by: str) -> str | None:
    """Apply the platform's confirmed status to our transaction, once. None: already applied."""
    if confirmed.status not in FINAL:
        return None
    with transaction(factory) as session:
        row = session.exec(select(PaymentTransaction).where(PaymentTransaction.order_ref == order_ref)).one()
        if confirmed.amount != row.amount:  # the platform holds another amount: a person must look
            log.warning("payment platform amount differs", extra={"fields": {"order_ref": order_ref}})
            return None
        dossier = session.exec(select(Dossier).where(Dossier.id == row.dossier_id).with_for_update()).one()
        moved = session.execute(update(PaymentTransaction).where(
            PaymentTransaction.id == row.id, PaymentTransaction.status == "pending").values(
            status=confirmed.status, settled_at=now, settled_by=by, updated_at=now,
            platform_id=confirmed.transaction_id)).rowcount
        if not moved:
            return None
        session.refresh(row)
        log.info("payment transaction settled", extra={"fields": {"order_ref": order_ref, "status": confirmed.status,
                                                                  "by": by}})
        if confirmed.status != "paid":
            return confirmed.status
        request = session.get(PaymentRequest, row.request_id)
        assert request is not None
        return service.settle_online(session, dossier, request, row, Context(principal=None, now=now,
                                                                              settings=settings))


# --- reconciliation ----------------------------------------------------------------------------------

@dataclass
class ReconcileStats:
    checked: int = 0
    settled: int = 0
    failed: int = 0
    still_pending: int = 0
    unavailable: bool = False
    order_refs: list[str] = field(default_factory=list)


def reconcile(factory: sessionmaker[Session], settings: Settings, now: datetime, *, platform: PaymentPlatform,
              limit: int = 500) -> ReconcileStats:
    """Query the platform for transactions pending longer than `payment_reconcile_after_seconds`
    (a callback lost or not yet come) and settle what it confirms."""
    cutoff = now - timedelta(seconds=settings.payment_reconcile_after_seconds)
    with transaction(factory) as session:
        refs = list(session.exec(select(PaymentTransaction.order_ref).where(
            PaymentTransaction.status == "pending", PaymentTransaction.created_at <= cutoff)
            .order_by(PaymentTransaction.id).limit(limit)).all())  # type: ignore[arg-type]
    stats = ReconcileStats()
    for ref in refs:
        stats.checked += 1
        try:
            confirmed = platform.query(ref)
        except PaymentUnavailable:
            stats.unavailable = True
            break
        except PaymentError:
            continue
        outcome = settle(factory, ref, confirmed, now=now, settings=settings, by="reconcile") if confirmed else None
        if outcome in ("settled", "refund"):
            stats.settled += 1
            stats.order_refs.append(ref)
        elif outcome in ("failed", "cancelled"):
            stats.failed += 1
        else:
            stats.still_pending += 1
    return stats
