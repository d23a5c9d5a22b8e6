"""Signed citizen tokens for feedback and rating, so the lookup secret never travels again nor sits
in a URL: `{purpose}.{dossier id}.{expiry, Unix seconds}.{HMAC-SHA256, 128 bits}` in base64url.

* purpose `t`: given by a lookup (code + secret) to the page; sends feedback about the dossier or
  rates it, for `citizen_token_minutes`;
* purpose `r`: the link in the "result returned" SMS / e-mail (`/tra-cuu/danh-gia/{token}`); rates
  the dossier only, for `rating_link_days`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from app.errors import NotFound
from app.settings import Settings

LOOKUP = "t"
RATING = "r"
EXPIRED = ("Đường dẫn không hợp lệ hoặc đã hết hạn; vui lòng tra cứu lại hồ sơ bằng mã hồ sơ và mã tra cứu "
           "để gửi phản ánh hoặc đánh giá.")


def _key(settings: Settings) -> bytes:
    secret = (settings.data_key or settings.jwt_secret).get_secret_value()
    return hmac.new(secret.encode(), b"motcua citizen feedback token v1", hashlib.sha256).digest()


def _mac(payload: str, settings: Settings) -> str:
    digest = hmac.new(_key(settings), payload.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_token(dossier_id: int, purpose: str, *, now: datetime, settings: Settings) -> tuple[str, datetime]:
    life = (timedelta(minutes=settings.citizen_token_minutes) if purpose == LOOKUP
            else timedelta(days=settings.rating_link_days))
    expires = int((now + life).timestamp())
    payload = f"{purpose}.{dossier_id}.{expires}"
    return f"{payload}.{_mac(payload, settings)}", datetime.fromtimestamp(expires, UTC)


def read_token(token: str, *, now: datetime, settings: Settings, purposes: tuple[str, ...]) -> tuple[int, str]:
    """(dossier id, purpose) of a valid token of one of `purposes`; 404 `link_expired` otherwise."""
    try:
        purpose, dossier, expires, mac = token.split(".")
        payload = f"{purpose}.{int(dossier)}.{int(expires)}"
        good = hmac.compare_digest(_mac(payload, settings), mac) and purpose in purposes
    except (ValueError, TypeError):
        good = False
    if not good or int(expires) < now.timestamp():
        raise NotFound(EXPIRED, code="link_expired")
    return int(dossier), purpose


def rating_url(dossier_id: int, *, now: datetime, settings: Settings) -> str:
    token, _ = make_token(dossier_id, RATING, now=now, settings=settings)
    return f"{settings.public_address()}/tra-cuu/danh-gia/{token}"
