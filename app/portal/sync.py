"""Outbound portal sync: the outbox handler for topic `portal` and the dispatcher entry point.

The workflow service writes `portal` outbox rows in the same transaction as each state change,
already in the portal's field names (`app.portal.mapping`). This module only sends them:

* `sync_new`    → DongBoHoSoMC with `isUpdating=false`
* `sync_update` → DongBoHoSoMC with `isUpdating=true`
* `progress`    → CapNhatTienDoHoSoMC
* `resync`      → DongBoHoSoMC, the full record with every history row motcua sent for the dossier
                  (`isUpdating=true`, or `false` when the portal does not hold it)
* `not_received` → the answer to an online submission that could not be received (TrangThaiHoSo 3
                  and the reason; no dossier: `app.portal.inbound`)

The outbox id is the `Idempotency-Key`, so a resend after a lost answer is applied once.
Order per dossier is strict and delivery never gives up: `PortalUnavailable` (5xx, timeout,
refused login...) is retried for ever, backing off to `portal_retry_max_delay_seconds`; a
`PortalRejected` (the portal refuses this payload: a validation error, an out-of-order status)
dead-letters the row and holds the dossier's later rows back until an admin requeues it.
When the portal has lost the dossier (progress for a dossier it does not hold, an update of a
dossier it lacks), the row and the dossier's later pending rows are superseded by one `resync`,
so nothing is lost and nothing arrives out of order. On success the dossier's
`portal_synced_at` is set (Decision 766 indicator "dossiers synced to the national portal").
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
from app.portal.client import ERR_NOT_FOUND, PortalClient, PortalRejected, PortalUnavailable
from app.portal.resync import RESYNC, TOPIC, supersede_with_resync
from app.settings import Settings

log = logging.getLogger(__name__)

ERR_CONFLICT = 3  # isUpdating does not match what the portal holds
_SENT, _RESYNC = "sent", "resync"
NOT_RECEIVED = "not_received"  # outbox kind: the answer to a submission we could not receive


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


def _send(client: PortalClient, message: OutboxMessage) -> str:
    """Send one row; `_RESYNC` when the portal has lost the dossier and a full re-sync must replace it."""
    key = str(message.id)
    rows = _rows(message)
    if message.kind == "progress":
        try:
            client.update_progress(rows, idempotency_key=key)
        except PortalRejected as exc:
            if exc.error_code == ERR_NOT_FOUND:  # the portal does not hold the dossier (lost, or reset)
                return _RESYNC
            raise
        return _SENT
    if message.kind == NOT_RECEIVED:  # an online submission we cannot receive: no dossier here
        client.answer_submissions(rows, idempotency_key=key)
        return _SENT
    if message.kind not in ("sync_new", "sync_update", RESYNC):
        raise PermanentError(f"outbox {message.id}: unknown portal message kind {message.kind!r}")
    is_updating = message.kind != "sync_new"
    try:
        client.sync_dossiers(rows, is_updating=is_updating, idempotency_key=key)
    except PortalRejected as exc:
        if exc.error_code != ERR_CONFLICT:
            raise
        if message.kind == "sync_update":  # the portal lacks the dossier: its history must go too
            return _RESYNC
        # A create for a dossier the portal holds, or a re-sync of one it lacks: the full record is
        # in the payload, so send it the other way. The rejected request did not use up its key.
        log.info("portal sync %s: isUpdating=%s refused as conflict; resending with %s",
                 message.id, is_updating, not is_updating)
        client.sync_dossiers(rows, is_updating=not is_updating, idempotency_key=key)
    return _SENT


def make_handler(client: PortalClient, now: datetime) -> Handler:
    """The outbox handler for topic `portal`, sending through `client`."""

    def handle(session: Session, message: OutboxMessage) -> None:
        try:
            outcome = _send(client, message)
        except PortalUnavailable as exc:
            raise RetryableError(_describe(exc)) from exc
        except PortalRejected as exc:
            raise PermanentError(_describe(exc)) from exc
        if outcome == _RESYNC and message.dossier_id is not None:
            supersede_with_resync(session, message, now=now)
            return
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
        def run() -> DispatchStats:
            # Never dead for a transient failure; a dead (refused) row holds its dossier's later rows back.
            return dispatch_pending(sessionmaker, topic=TOPIC, handler=make_handler(portal, now), now=now,
                                    batch=batch, max_attempts=None,
                                    base_delay_seconds=settings.outbox_base_delay_seconds,
                                    max_delay_seconds=settings.portal_retry_max_delay_seconds, rng=rng,
                                    strict_order=True)

        stats = run()
        if stats.sent == 0 and stats.retried > 0:
            _mark_down(sessionmaker, now)
        elif stats.sent > 0 and _wake_if_was_down(sessionmaker, now):
            stats += run()  # the portal is back: what waited in backoff goes now, not up to 45 min later
        return stats


DOWN_KEY = "portal_down_since"  # set by a round where every try failed; cleared by the first success


def _mark_down(factory: sessionmaker[Session], now: datetime) -> None:
    from app.db import transaction
    from app.models import SystemState

    with transaction(factory) as session:
        if session.get(SystemState, DOWN_KEY) is None:
            session.add(SystemState(key=DOWN_KEY, value=now.isoformat(), updated_at=now))
            log.warning("national portal unreachable: every try of this round failed")


def _wake_if_was_down(factory: sessionmaker[Session], now: datetime) -> bool:
    """After an outage, the first success makes every portal row waiting in backoff due at once.
    (A flaky portal, where some tries of a round succeed, never sets the marker: no retry storm.)"""
    from app.db import transaction
    from app.models import SystemState
    from app.outbox import PENDING

    with transaction(factory) as session:
        marker = session.get(SystemState, DOWN_KEY)
        if marker is None:
            return False
        session.delete(marker)
        woken = session.execute(update(OutboxMessage)
                                .where(OutboxMessage.topic == TOPIC, OutboxMessage.status == PENDING,  # type: ignore[arg-type]
                                       OutboxMessage.attempts > 0,  # in backoff (a fresh row is due anyway)
                                       OutboxMessage.next_attempt_at > now)  # type: ignore[operator]
                                .values(next_attempt_at=now).execution_options(synchronize_session=False)).rowcount
    log.info("national portal reachable again; %d waiting messages made due", woken)
    return True

