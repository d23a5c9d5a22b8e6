"""Failed-password limits (login and password change), on the shared `rate_counters` table.

Every password check is counted as a failure *before* the hash is checked, per username and per
client address (`ratelimit.client_of`), in its own committed transaction; a correct password then
takes its count back. Counting first makes the limit exact under concurrency (80 parallel
guesses cannot all slip past a read-then-count check), and a request over a limit answers 429
with `Retry-After` before any hash is computed: refused guesses cost no Argon2 memory or time.

Counter keys hold keyed hashes of the username and the address, never the values themselves.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import and_, or_, update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.db import transaction
from app.errors import RateLimited
from app.models import RateCounter
from app.settings import Settings
from app.web import ratelimit

log = logging.getLogger("motcua.auth")
_table = RateCounter.__table__  # type: ignore[attr-defined]


def count_attempt(factory: sessionmaker[Session], *, username: str, client: str, now: datetime,
                  settings: Settings) -> list[ratelimit.Hit]:
    """Count a password check against `username` and `client`; `RateLimited` when either has used
    up its failures for the window (nothing is checked then)."""
    window = settings.login_failure_window_seconds
    user_hash = ratelimit.fingerprint("user", username, settings)
    client_hash = ratelimit.fingerprint("addr", client, settings)
    with transaction(factory) as session:
        hits = ratelimit.hit_all(session, [(f"login:user:{user_hash}", settings.login_failures_per_username, window),
                                           (f"login:addr:{client_hash}", settings.login_failures_per_address, window)],
                                 now=now)
    exceeded = [(hit, scope) for hit, scope in zip(hits, ("username", "address"), strict=True) if hit.exceeded]
    if exceeded:
        wait = max(hit.retry_after for hit, _ in exceeded)
        scopes = [scope for _, scope in exceeded]
        log.warning("password attempts rate limited", extra={"fields": {
            "user": user_hash, "client": client_hash, "scopes": scopes, "retry_after": wait}})
        minutes = (wait + 59) // 60
        raise RateLimited(f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút.",
                          code="too_many_attempts", detail={"retry_after": wait, "scope": scopes[0]},
                          headers={"Retry-After": str(wait)})
    return hits


def forgive(session: Session, hits: list[ratelimit.Hit]) -> None:
    """The password was right: take back the failure `count_attempt` counted (same windows)."""
    condition = or_(*(and_(_table.c.key == hit.key, _table.c.window_start == hit.window_start) for hit in hits))
    session.execute(update(_table).where(condition, _table.c.count > 0).values(count=_table.c.count - 1))
