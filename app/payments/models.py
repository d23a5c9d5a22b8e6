"""The payment tables (migration 0016). Registered with the other tables by app/models.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class PaymentRequest(SQLModel, table=True):
    """What a dossier owes: one request at intake or during processing (the latter pauses the
    clock: status `awaiting_payment`), its breakdown, and how it was settled or refunded."""

    __tablename__ = "payment_requests"

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", index=True)
    agency_id: int = Field(foreign_key="agencies.id")  # collects the money, numbers the receipt
    stage: str = Field(max_length=16)  # intake | processing
    # Breakdown rows: {kind (fee | charge), name, amount, per (case | copy), quantity, exempt_percent, total}
    items: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    exemption: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    amount: int  # đồng, after exemptions
    status: str = Field(default="open", max_length=16)  # open | paid | cancelled
    requested_at: datetime = _ts()
    requested_by_id: int | None = Field(default=None, foreign_key="users.id")
    note: str | None = Field(default=None, max_length=2000)
    paid_at: datetime | None = _ts(default=None)
    method: str | None = Field(default=None, max_length=16)  # cash | transfer | online
    receipt_number: str | None = Field(default=None, max_length=64, unique=True)
    reference: str | None = Field(default=None, max_length=128)  # the transfer's or the platform's reference
    recorded_by_id: int | None = Field(default=None, foreign_key="users.id")  # None: the platform
    refund_amount: int | None = None
    refund_reason: str | None = Field(default=None, max_length=500)
    refund_recorded_at: datetime | None = _ts(default=None)


class PaymentTransaction(SQLModel, table=True):
    """One attempt to pay a request online on the platform. `order_ref` is ours (random, sent to
    the platform, which is idempotent on it); `platform_id` is the platform's transaction number."""

    __tablename__ = "payment_transactions"
    __table_args__ = (Index("ix_payment_transactions_status", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="payment_requests.id", index=True)
    dossier_id: int = Field(foreign_key="dossiers.id")
    order_ref: str = Field(max_length=64, unique=True)
    platform_id: str | None = Field(default=None, max_length=64)
    amount: int
    status: str = Field(default="pending", max_length=16)  # pending | paid | failed | cancelled
    pay_url: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    settled_at: datetime | None = _ts(default=None)
    settled_by: str | None = Field(default=None, max_length=16)  # callback | reconcile
    callbacks: int = 0  # signed callbacks accepted (a duplicate counts, settles nothing)
