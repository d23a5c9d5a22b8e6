"""JWT issue and verification: the only module that touches python-jose.

HS256 only, algorithm list hard-coded (no `alg: none`, no key confusion); exp, iat, sub, iss
and aud are required and verified. Tokens use real time, not the domain clock: expiry is a
security property, not a deadline.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jose import JWTError, jwt

from app.errors import NotAuthenticated
from app.settings import Settings

ALGORITHM = "HS256"
_REQUIRED = ("exp", "iat", "sub", "iss", "aud")


def issue_token(*, user_id: int, username: str, roles: list[str], settings: Settings,
                now: datetime | None = None) -> tuple[str, int]:
    now = now or datetime.now(UTC)
    lifetime = timedelta(minutes=settings.jwt_lifetime_minutes)
    claims = {
        "sub": str(user_id),
        "name": username,
        "roles": roles,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    token = jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM)
    return token, int(lifetime.total_seconds())


def verify_token(token: str, settings: Settings) -> int:
    """Return the user id the token was issued to, or raise NotAuthenticated."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={f"require_{name}": True for name in _REQUIRED} | {"leeway": 0},
        )
    except JWTError as exc:
        raise NotAuthenticated("Mã đăng nhập không hợp lệ hoặc đã hết hạn.", code="invalid_token") from exc
    if any(name not in claims for name in _REQUIRED):
        raise NotAuthenticated("Mã đăng nhập thiếu thông tin bắt buộc.", code="invalid_token")
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise NotAuthenticated("Mã đăng nhập không hợp lệ.", code="invalid_token") from exc
    if not 1 <= user_id <= 2**31 - 1:  # beyond the users.id column: never issued by us
        raise NotAuthenticated("Mã đăng nhập không hợp lệ.", code="invalid_token")
    return user_id
