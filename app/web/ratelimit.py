"""Fixed-window request counters shared by every API worker (the `rate_counters` table), and
the one helper that says who is asking (`client_of`), for every limit.

Each hit is one atomic upsert, `INSERT ... ON CONFLICT (key, window_start) DO UPDATE SET
count = count + 1 RETURNING count`, on SQLite and PostgreSQL alike, so concurrent workers never
lose a count. Callers run hits in their own short transaction (not the request's), so a request
that is then rejected has still been counted.

Counter keys never hold personal data: client addresses and the dossier codes people type are
replaced by a keyed hash (`fingerprint`).

Expired windows are deleted by the scheduler (`purge_rate_counters`, every few minutes), never
on the request path: a lookup costs one counting statement, whatever the table holds.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from app.models import RateCounter
from app.settings import Settings

MINUTE = 60
HOUR = 3600
LONGEST_WINDOW = HOUR  # rows whose window ended before now - LONGEST_WINDOW are of no use

_table = RateCounter.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Hit:
    key: str
    count: int
    limit: int
    window_start: datetime
    window_seconds: int
    now: datetime

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    @property
    def retry_after(self) -> int:
        """Whole seconds until this window ends (at least 1): the `Retry-After` header."""
        end = self.window_start + timedelta(seconds=self.window_seconds)
        return max(1, math.ceil((end - self.now).total_seconds()))


def window_start(now: datetime, seconds: int) -> datetime:
    """Start of the fixed window of `seconds` containing `now` (aligned on the Unix epoch)."""
    if now.tzinfo is None:
        raise ValueError("naive datetime given to the rate limiter")
    stamp = int(now.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, UTC)


def hit(session: Session, key: str, *, limit: int, window_seconds: int, now: datetime) -> Hit:
    """Count one request against `key` in the current window and return the new count."""
    return hit_all(session, [(key, limit, window_seconds)], now=now)[0]


def hit_all(session: Session, counters: list[tuple[str, int, int]] | list[tuple[str, int, int, int]], *,
            now: datetime) -> list[Hit]:
    """Count one request against each `(key, limit, window_seconds)` in one statement (one round
    trip); the hits come back in the order given.

    A fourth element, the increment, may be 0: the counter is then read in the same statement
    without being counted (a lookup that succeeded still learns how many failures its address
    made on that code)."""
    starts = {c[0]: window_start(now, c[2]) for c in counters}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(_table).values([{"key": c[0], "window_start": starts[c[0]], "count": c[3] if len(c) > 3 else 1}
                                       for c in counters])
    statement = (statement.on_conflict_do_update(index_elements=["key", "window_start"],
                                                 set_={"count": _table.c.count + statement.excluded.count})
                 .returning(_table.c.key, _table.c.count))
    counts = {key: int(count) for key, count in session.execute(statement).all()}
    return [Hit(key=c[0], count=counts[c[0]], limit=c[1], window_start=starts[c[0]], window_seconds=c[2], now=now)
            for c in counters]


def peek(session: Session, key: str, *, window_seconds: int, now: datetime) -> int:
    """Current count of `key` in the current window (0 when none), without counting."""
    row = session.execute(select(_table.c.count).where(
        _table.c.key == key, _table.c.window_start == window_start(now, window_seconds))).scalar()
    return int(row or 0)


def purge_rate_counters(session: Session, now: datetime) -> int:
    """Delete counters whose window ended more than an hour before `now` (the `window_start`
    index); returns how many. Run by the scheduler's `rate_counter_purge` job."""
    cutoff = window_start(now, LONGEST_WINDOW) - timedelta(seconds=LONGEST_WINDOW)
    return int(session.execute(delete(_table).where(_table.c.window_start < cutoff)).rowcount or 0)  # type: ignore[attr-defined]


# --- who is asking ---------------------------------------------------------------------------

def fingerprint(kind: str, value: str, settings: Settings) -> str:
    """Keyed hash of an address or a typed dossier code: stable per deployment, not reversible
    without the server secret. Used in counter keys and in logs instead of the value itself."""
    key = b"motcua-ratelimit:" + settings.jwt_secret.get_secret_value().encode()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:24]


def peek_all(session: Session, keys: list[tuple[str, int]], *, now: datetime) -> dict[str, int]:
    """Current counts of several `(key, window_seconds)` in one statement (0 when absent)."""
    wanted = [(key, window_start(now, seconds)) for key, seconds in keys]
    if not wanted:
        return {}
    condition = or_(*(and_(_table.c.key == key, _table.c.window_start == start) for key, start in wanted))
    found = {key: int(count) for key, count in session.execute(select(_table.c.key, _table.c.count).where(condition))}
    return {key: found.get(key, 0) for key, _ in keys}


def _networks(entries: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


def _is_trusted(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: list[str]) -> str:
    """The client's address: the TCP peer, unless the peer is a trusted proxy.

    Behind trusted proxies, `X-Forwarded-For` is read right to left and the first address that is
    not itself a trusted proxy is the client (the left-most entries are whatever the client sent,
    so they are never believed). Garbage in the header falls back to the last good hop.
    """
    address = peer or "unknown"
    networks = _networks(trusted_proxies)
    if not forwarded_for or not networks or not _is_trusted(address, networks):
        return address
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break
        address = hop
        if not _is_trusted(hop, networks):
            break
    return address


def client_of(request: object, settings: Settings) -> str:
    """The address every limit counts against, for a request (FastAPI/Starlette `Request`).

    Only `settings.trusted_proxies` (MOTCUA_TRUSTED_PROXIES, default none) decides whether
    `X-Forwarded-For` is believed; `motcua serve` configures uvicorn's proxy headers from the same
    setting (`uvicorn_proxy_options`), so a header sent by an untrusted peer, loopback included,
    changes nothing.
    """
    peer = getattr(request, "client", None)
    headers = getattr(request, "headers", {})
    return client_address(peer.host if peer else None, headers.get("x-forwarded-for"), settings.trusted_proxies)


def uvicorn_proxy_options(settings: Settings) -> dict[str, object]:
    """uvicorn's `proxy_headers` / `forwarded_allow_ips` for `settings.trusted_proxies`: off and
    empty when no proxy is trusted (uvicorn's own default trusts 127.0.0.1)."""
    trusted = [str(network) for network in _networks(settings.trusted_proxies)]  # uvicorn parses strictly
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": ",".join(trusted)}
