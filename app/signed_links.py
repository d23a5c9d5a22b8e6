"""Expiring tokens handed to citizens (download links, the feedback and rating token, the payment
button): `{payload}.{expiry, Unix seconds}.{HMAC-SHA256 truncated to 128 bits}` in base64url.

Each use has its own key, derived from the data key (or the JWT secret) and a label, so a token of
one use never opens another; the citizen's mã tra cứu is never in a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from app.settings import Settings


def _key(label: bytes, settings: Settings) -> bytes:
    secret = (settings.data_key or settings.jwt_secret).get_secret_value()
    return hmac.new(secret.encode(), label, hashlib.sha256).digest()


def _mac(label: bytes, body: str, settings: Settings) -> str:
    digest = hmac.new(_key(label, settings), body.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(label: bytes, payload: str, *, expires: datetime, settings: Settings) -> tuple[str, datetime]:
    """The token for `payload` (dot-separated fields), valid until `expires` (to the second)."""
    seconds = int(expires.timestamp())
    body = f"{payload}.{seconds}"
    return f"{body}.{_mac(label, body, settings)}", datetime.fromtimestamp(seconds, UTC)


def verify(label: bytes, token: str, *, now: datetime, settings: Settings) -> str | None:
    """The payload of a genuine, unexpired token of this use; None otherwise."""
    try:
        payload, seconds, mac = token.rsplit(".", 2)
        expires = int(seconds)
    except ValueError:
        return None
    good = hmac.compare_digest(_mac(label, f"{payload}.{seconds}", settings), mac)
    return payload if good and expires >= now.timestamp() else None
