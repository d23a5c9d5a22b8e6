"""JWT issue and verification: the only module that touches python-jose.

HS256 only, algorithm list hard-coded (no `alg: none`, no key confusion); exp, iat, sub, iss,
aud and ver (the user's token version, compared with the database on every request by
`app.auth.deps`) are required and verified. Tokens use real time, not the domain clock: expiry is a
security property, not a deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jose import JWTError, jwt

from app.errors import NotAuthenticated
from app.settings import Settings

ALGORITHM = "HS256"
_REQUIRED = ("exp", "iat", "sub", "iss", "aud")


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    version: int  # the user's token_version when the token was issued


def issue_token(*, user_id: int, username: str, roles: list[str], version: int, settings: Settings,
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
        "ver": version,
    }
    token = jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM)
    return token, int(lifetime.total_seconds())


def verify_token(token: str, settings: Settings) -> TokenClaims:
    """Return the user id and token version the token was issued with, or raise NotAuthenticated."""
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
    if any(name not in claims for name in (*_REQUIRED, "ver")):
        raise NotAuthenticated("Mã đăng nhập thiếu thông tin bắt buộc.", code="invalid_token")
    try:
        user_id, version = int(claims["sub"]), claims["ver"]
    except (TypeError, ValueError) as exc:
        raise NotAuthenticated("Mã đăng nhập không hợp lệ.", code="invalid_token") from exc
    # Beyond the users.id column, or a version we never write: never issued by us.
    if not 1 <= user_id <= 2**31 - 1 or type(version) is not int or not 0 <= version < 2**31:
        raise NotAuthenticated("Mã đăng nhập không hợp lệ.", code="invalid_token")
    return TokenClaims(user_id=user_id, version=version)
