"""Request/response shapes of the payment routes and of the citizen's view of a payment."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.fields import Int32, LocalDateTime


class PaymentRequestIn(BaseModel):
    """A payment request at reception (during processing: the `request_payment` action)."""

    model_config = ConfigDict(extra="forbid")

    amount: Int32 | None = Field(default=None, gt=0, description="Số tiền do cán bộ xác định; mặc định theo "
                                                                  "các khoản phí, lệ phí của thủ tục")
    copies: int = Field(default=1, ge=1, le=1000, description="Số bản (các khoản tính theo bản)")
    exemption: str | None = Field(default=None, max_length=32, description="Mã đối tượng miễn, giảm của thủ tục")
    note: str | None = Field(default=None, max_length=2000)


class DeskPaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["cash", "transfer"] = "cash"
    reference: str | None = Field(default=None, max_length=128, description="Mã giao dịch chuyển khoản")
    version: int | None = Field(default=None, description="Phiên bản hồ sơ (hoặc header If-Match)")


class FeeRowOut(BaseModel):
    kind: str
    name: str
    amount: int
    per: str
    quantity: int
    exempt_percent: int
    total: int


class TransactionOut(BaseModel):
    order_ref: str
    platform_id: str | None
    amount: int
    status: str
    created_at: LocalDateTime
    settled_at: LocalDateTime | None
    settled_by: str | None
    callbacks: int


class PaymentRequestOut(BaseModel):
    id: int
    stage: str
    status: str
    amount: int
    amount_text: str
    items: list[FeeRowOut]
    exemption: dict | None  # type: ignore[type-arg]
    requested_at: LocalDateTime
    note: str | None
    paid_at: LocalDateTime | None
    method: str | None
    method_label: str | None
    receipt_number: str | None
    reference: str | None
    refund_amount: int | None
    refund_reason: str | None
    refund_recorded_at: LocalDateTime | None
    transactions: list[TransactionOut]


class PublicFeeRow(BaseModel):
    name: str
    total_text: str


class PublicReceipt(BaseModel):
    number: str
    amount_text: str
    paid_at: LocalDateTime
    paid_text: str
    method_label: str


class PublicPaymentOut(BaseModel):
    """What the citizen sees of a payment after a lookup: what is due, the button, the receipt."""

    amount_text: str
    items: list[PublicFeeRow]
    status: str
    status_label: str
    pay_token: str | None = Field(default=None, description="Gửi về /tra-cuu/thanh-toan để thanh toán trực tuyến")
    pending_online: bool = Field(default=False, description="Đã có giao dịch trực tuyến đang chờ xác nhận")
    receipt: PublicReceipt | None = None
    refund_text: str | None = None
