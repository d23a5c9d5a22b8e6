"""Synchronous httpx adapter for the payment platform (docs/PAYMENTS.md).

Two calls: create a transaction (idempotent on our `order_ref`) and query one. Every request is
signed (HMAC-SHA256 over timestamp, method, path and body hash). Failures become
`PaymentUnavailable` (retry later: no answer, 5xx, unreadable) or `PaymentRejected` (4xx).
Logs carry the order reference and statuses only.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from app.payments.signing import MERCHANT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_request
from app.settings import Settings

log = logging.getLogger("motcua.payments")


class PaymentError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class PaymentUnavailable(PaymentError):
    """No usable answer: try again later."""


class PaymentRejected(PaymentError):
    """The platform refused the request (4xx)."""


@dataclass(frozen=True)
class PlatformTransaction:
    order_ref: str
    transaction_id: str
    amount: int
    status: str  # pending | paid | failed | cancelled
    pay_url: str | None = None
    paid_at: str | None = None


def _transaction(body: Any) -> PlatformTransaction:
    try:
        return PlatformTransaction(order_ref=str(body["order_ref"]), transaction_id=str(body["transaction_id"]),
                                   amount=int(body["amount"]), status=str(body["status"]),
                                   pay_url=body.get("pay_url"), paid_at=body.get("paid_at"))
    except (KeyError, TypeError, ValueError):
        raise PaymentUnavailable("unreadable answer from the payment platform", status_code=200) from None


class PaymentPlatform:
    def __init__(self, *, base_url: str, merchant: str, secret: str, http: httpx.Client | None = None,
                 timeout: float = 10.0, now: Any = time.time) -> None:
        self._base = base_url.rstrip("/")
        self._merchant = merchant
        self._secret = secret
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        self._now = now

    @classmethod
    def from_settings(cls, settings: Settings, *, now: Any = time.time) -> PaymentPlatform:
        return cls(base_url=settings.payment_url, merchant=settings.payment_merchant,
                   secret=settings.payment_secret.get_secret_value(), timeout=settings.payment_timeout_seconds,
                   now=now)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> PaymentPlatform:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def create_transaction(self, *, order_ref: str, amount: int, description: str, return_url: str,
                           callback_url: str) -> PlatformTransaction:
        body = {"order_ref": order_ref, "amount": amount, "currency": "VND", "description": description,
                "return_url": return_url, "callback_url": callback_url}
        answer = _transaction(self._call("POST", "/api/transactions", body))
        log.info("payment transaction created", extra={"fields": {"order_ref": order_ref, "status": answer.status}})
        return answer

    def query(self, order_ref: str) -> PlatformTransaction | None:
        """The transaction as the platform holds it; None when it holds none under `order_ref`."""
        try:
            return _transaction(self._call("GET", f"/api/transactions/{order_ref}", None))
        except PaymentRejected as exc:
            if exc.status_code == 404:
                return None
            raise

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        content = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
        stamp = int(self._now())
        headers = {MERCHANT_HEADER: self._merchant, TIMESTAMP_HEADER: str(stamp),
                   SIGNATURE_HEADER: sign_request(self._secret, stamp, method, path, content),
                   "Content-Type": "application/json"}
        try:
            response = self._http.request(method, self._base + path, content=content or None, headers=headers)
        except httpx.HTTPError as exc:
            raise PaymentUnavailable(f"payment platform unreachable: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise PaymentUnavailable(f"payment platform answered {response.status_code}",
                                     status_code=response.status_code)
        if response.status_code >= 400:
            raise PaymentRejected(f"payment platform refused: {response.status_code}", status_code=response.status_code)
        try:
            return response.json()
        except ValueError:
            raise PaymentUnavailable("payment platform answered no JSON", status_code=response.status_code) from None
