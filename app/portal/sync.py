"""Outbound portal sync: the outbox handler for topic `portal` and the dispatcher entry point.

The workflow service writes `portal` outbox rows in the same transaction as each state change,
already in the portal's field names (`app.portal.mapping`). This module only sends them:

* `sync_new`    → DongBoHoSoMC with `isUpdating=false`
* `sync_update` → DongBoHoSoMC with `isUpdating=true`
* `progress`    → CapNhatTienDoHoSoMC

The outbox id is the `Idempotency-Key`, so a resend after a lost answer is applied once.
`PortalUnavailable` (5xx, timeout, refused login...) is retried with backoff; `PortalRejected`
(the payload is bad) dead-letters the row. On success the dossier's `portal_synced_at` is set
(Decision 766 indicator "dossiers synced to the national portal").
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.models import Dossier, OutboxMessage
from app.outbox import DispatchStats, Handler, PermanentError, RetryableError, dispatch_pending
from app.portal.client import PortalClient, PortalRejected, PortalUnavailable
from app.settings import Settings

log = logging.getLogger(__name__)

TOPIC = "portal"
ERR_CONFLICT = 3  # isUpdating does not match what the portal holds


def portal_client(settings: Settings, *, http: httpx.Client | None = None) -> PortalClient:
    """A `PortalClient` from `MOTCUA_PORTAL_URL`, `_USERNAME`, `_PASSWORD`, `_TIMEOUT_SECONDS`."""
    return PortalClient(base_url=settings.portal_url, username=settings.portal_username,
                        password=settings.portal_password.get_secret_value(), http=http,
                        timeout=settings.portal_timeout_seconds)


@contextmanager
def open_client(settings: Settings, client: PortalClient | None) -> Iterator[PortalClient]:
    if client is not None:
        yield client
        return
    with portal_client(settings) as own:
        yield own


def _rows(message: OutboxMessage) -> list[dict[str, Any]]:
    data = message.payload.get("data") if isinstance(message.payload, dict) else None
    if not isinstance(data, list) or not data:
        raise PermanentError(f"outbox {message.id}: payload without data rows")
    return data


def _send(client: PortalClient, message: OutboxMessage) -> None:
    key = str(message.id)
    rows = _rows(message)
    if message.kind == "progress":
        client.update_progress(rows, idempotency_key=key)
        return
    if message.kind not in ("sync_new", "sync_update"):
        raise PermanentError(f"outbox {message.id}: unknown portal message kind {message.kind!r}")
    is_updating = message.kind == "sync_update"
    try:
        client.sync_dossiers(rows, is_updating=is_updating, idempotency_key=key)
    except PortalRejected as exc:
        if exc.error_code != ERR_CONFLICT:
            raise
        # The portal already holds it (create) or holds nothing (update, after its create was
        # dead-lettered): the full record is in the payload either way, so send it the other way.
        # The rejected request did not use up its key.
        log.info("portal sync %s: isUpdating=%s refused as conflict; resending with %s",
                 message.id, is_updating, not is_updating)
        client.sync_dossiers(rows, is_updating=not is_updating, idempotency_key=key)


def make_handler(client: PortalClient, now: datetime) -> Handler:
    """The outbox handler for topic `portal`, sending through `client`."""

    def handle(session: Session, message: OutboxMessage) -> None:
        try:
            _send(client, message)
        except PortalUnavailable as exc:
            raise RetryableError(_describe(exc)) from exc
        except PortalRejected as exc:
            raise PermanentError(_describe(exc)) from exc
        if message.dossier_id is not None:
            session.execute(update(Dossier).where(Dossier.id == message.dossier_id)  # type: ignore[arg-type]
                            .values(portal_synced_at=now))

    return handle


def _describe(exc: PortalUnavailable | PortalRejected) -> str:
    # The portal's messages name fields and paths, never personal values (docs/PORTAL.md).
    parts = [type(exc).__name__]
    if exc.status_code is not None:
        parts.append(f"HTTP {exc.status_code}")
    if exc.error_code is not None:
        parts.append(f"error_code {exc.error_code}")
    return f"{' '.join(parts)}: {exc.message}"


def dispatch_portal(sessionmaker: sessionmaker[Session], settings: Settings, now: datetime,
                    client: PortalClient | None = None, *, batch: int = 100,
                    rng: random.Random | None = None) -> DispatchStats:
    """Send due `portal` outbox rows (one batch). Builds a `PortalClient` from settings if none is given."""
    with open_client(settings, client) as portal:
        return dispatch_pending(sessionmaker, topic=TOPIC, handler=make_handler(portal, now), now=now, batch=batch,
                                max_attempts=settings.outbox_max_attempts,
                                base_delay_seconds=settings.outbox_base_delay_seconds,
                                max_delay_seconds=settings.outbox_max_delay_seconds, rng=rng)
