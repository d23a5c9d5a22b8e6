"""Signed citizen tokens for feedback and rating, so the lookup secret never travels again nor sits
in a URL: `{purpose}.{dossier id}.{expiry, Unix seconds}.{HMAC-SHA256, 128 bits}` in base64url.

* purpose `t`: given by a lookup (code + secret) to the page; sends feedback about the dossier or
  rates it, for `citizen_token_minutes`;
* purpose `r`: the link in the "result returned" SMS / e-mail (`/tra-cuu/danh-gia/{token}`); rates
  the dossier only, for `rating_link_days`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app import signed_links
from app.errors import NotFound
from app.settings import Settings

LOOKUP = "t"
RATING = "r"
EXPIRED = ("Đường dẫn không hợp lệ hoặc đã hết hạn; vui lòng tra cứu lại hồ sơ bằng mã hồ sơ và mã tra cứu "
           "để gửi phản ánh hoặc đánh giá.")


LABEL = b"motcua citizen feedback token v1"


def make_token(dossier_id: int, purpose: str, *, now: datetime, settings: Settings) -> tuple[str, datetime]:
    life = (timedelta(minutes=settings.citizen_token_minutes) if purpose == LOOKUP
            else timedelta(days=settings.rating_link_days))
    return signed_links.sign(LABEL, f"{purpose}.{dossier_id}", expires=now + life, settings=settings)


def read_token(token: str, *, now: datetime, settings: Settings, purposes: tuple[str, ...]) -> tuple[int, str]:
    """(dossier id, purpose) of a valid token of one of `purposes`; 404 `link_expired` otherwise."""
    payload = signed_links.verify(LABEL, token, now=now, settings=settings)
    purpose, _, dossier = (payload or "").partition(".")
    if purpose not in purposes or not dossier.isdigit():
        raise NotFound(EXPIRED, code="link_expired")
    return int(dossier), purpose


def rating_url(dossier_id: int, *, now: datetime, settings: Settings) -> str:
    token, _ = make_token(dossier_id, RATING, now=now, settings=settings)
    return f"{settings.public_address()}/tra-cuu/danh-gia/{token}"
