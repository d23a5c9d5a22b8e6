"""HMAC-SHA256 signatures shared by the platform adapter, the callback check and the mock platform.

A callback is signed over its canonical fields: `key=value` pairs sorted by key, joined by `&`
(None as the empty string), the timestamp (Unix seconds) among them. A request to the platform is
signed over `timestamp`, method, path and the SHA-256 of its body, one per line.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

CALLBACK_FIELDS = ("merchant", "order_ref", "transaction_id", "amount", "status", "paid_at", "timestamp")
MERCHANT_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER = "X-Merchant", "X-Timestamp", "X-Signature"


def canonical(fields: dict[str, Any]) -> str:
    return "&".join(f"{key}={'' if fields.get(key) is None else fields[key]}" for key in sorted(CALLBACK_FIELDS))


def sign_callback(secret: str, fields: dict[str, Any]) -> str:
    return hmac.new(secret.encode(), canonical(fields).encode(), hashlib.sha256).hexdigest()


def callback_signed(secret: str, fields: dict[str, Any], signature: str) -> bool:
    return hmac.compare_digest(sign_callback(secret, fields).encode(), signature.encode())


def sign_request(secret: str, timestamp: int, method: str, path: str, body: bytes) -> str:
    text = f"{timestamp}\n{method.upper()}\n{path}\n{hashlib.sha256(body).hexdigest()}"
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def request_signed(secret: str, timestamp: int, method: str, path: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign_request(secret, timestamp, method, path, body).encode(), signature.encode())
