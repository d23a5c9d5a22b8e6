"""Re-syncing a dossier to the national portal: its full snapshot through the ordinary outbox path.

No network here (the adapter lives in `app.portal.client`): these functions only write outbox rows,
inside the caller's transaction. Used by the portal handler (the portal lost a dossier), by the
reconciliation (the portal differs) and by the admin's requeue of a dead portal message.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlmodel import Session

from app.errors import Conflict, NotFound
from app.models import Agency, Dossier, OutboxMessage, PortalDrift, Procedure, SystemState
from app.outbox import DEAD, PENDING, SUPERSEDED, requeue
from app.portal.mapping import dossier_snapshot

log = logging.getLogger(__name__)

TOPIC = "portal"
RESYNC = "resync"
LAST_RUN_KEY = "portal_reconcile_last"


def history_rows(session: Session, dossier_id: int) -> list[dict[str, Any]]:
    """Every QuaTrinhXuLy row motcua wrote for the dossier's portal messages, oldest first, once each
    (by `MaQuaTrinh`; rows written before the key existed, by content)."""
    payloads = session.execute(select(OutboxMessage.payload)
                               .where(OutboxMessage.topic == TOPIC, OutboxMessage.dossier_id == dossier_id)
                               .order_by(OutboxMessage.id)).scalars().all()
    rows: list[dict[str, Any]] = []
    keys: set[str] = set()
    for payload in payloads:
        for item in (payload or {}).get("data") or []:
            for row in item.get("QuaTrinhXuLy") or []:
                key = row.get("MaQuaTrinh")
                if (key in keys) if key else (row in rows):
                    continue
                if key:
                    keys.add(key)
                rows.append(row)
    return rows


def full_snapshot(session: Session, dossier: Dossier) -> dict[str, Any]:
    """The dossier as the portal must hold it now: the full record and every history row."""
    procedure = session.get(Procedure, dossier.procedure_id)
    agency = session.get(Agency, dossier.agency_id)
    assert procedure is not None and agency is not None
    assert dossier.id is not None
    return dossier_snapshot(session, dossier, procedure, agency) | {"QuaTrinhXuLy": history_rows(session, dossier.id)}


def enqueue_resync(session: Session, dossier: Dossier, *, now: datetime) -> OutboxMessage:
    """Queue a full snapshot of the dossier through the ordinary outbox path (behind its pending rows)."""
    message = OutboxMessage(topic=TOPIC, kind=RESYNC, dossier_id=dossier.id, status=PENDING, next_attempt_at=now,
                            created_at=now, payload={"isUpdating": True, "data": [full_snapshot(session, dossier)]})
    session.add(message)
    session.flush()
    return message


def supersede_with_resync(session: Session, message: OutboxMessage, *, now: datetime) -> OutboxMessage:
    """Replace `message` and its dossier's later waiting rows by one full re-sync (their rows are in it)."""
    assert message.dossier_id is not None
    session.execute(update(OutboxMessage)
                    .where(OutboxMessage.topic == TOPIC, OutboxMessage.dossier_id == message.dossier_id,  # type: ignore[arg-type]
                           OutboxMessage.status.in_((PENDING, DEAD)),  # type: ignore[attr-defined]
                           OutboxMessage.id > message.id)  # type: ignore[operator]
                    .values(status=SUPERSEDED).execution_options(synchronize_session=False))
    message.status = SUPERSEDED
    dossier = session.get(Dossier, message.dossier_id)
    assert dossier is not None
    log.info("portal sync %s: the portal lost the dossier; its chain is re-synced", message.id,
             extra={"fields": {"outbox_id": message.id, "dossier_id": message.dossier_id}})
    return enqueue_resync(session, dossier, now=now)


def requeue_portal(session: Session, message_id: int, *, now: datetime) -> OutboxMessage:
    """Admin requeue of a dead portal message: it and the dossier's later (waiting) messages are replaced
    by one full re-sync of the dossier as it is now, so a corrected dossier goes out corrected and the
    portal never receives an older state after a newer one. Returns the re-sync message."""
    message = session.get(OutboxMessage, message_id)
    if message is None or message.topic != TOPIC:
        raise NotFound("Không tìm thấy tin nhắn trong hàng đợi gửi.", code="outbox_not_found")
    if message.status != DEAD:
        raise Conflict("Chỉ gửi lại được tin nhắn đã bị loại (dead).", code="outbox_not_dead",
                       detail={"status": message.status})
    if message.dossier_id is None:
        return requeue(session, message_id, now=now)
    resync = supersede_with_resync(session, message, now=now)
    session.add(message)
    session.flush()
    return resync


# --- the drift report (written by app.portal.reconcile) ----------------------------------------

def last_run(session: Session) -> dict[str, Any] | None:
    """Summary of the last reconciliation run (any agency), or None before the first one."""
    state = session.get(SystemState, LAST_RUN_KEY)
    return json.loads(state.value) if state else None


def list_drift(session: Session, *, agency_id: int, include_resolved: bool = False,
               limit: int = 100) -> list[tuple[PortalDrift, str]]:
    """Drift records of the agency's dossiers (open ones only by default), most recently checked first."""
    query = (select(PortalDrift, Dossier.code).join(Dossier, Dossier.id == PortalDrift.dossier_id)
             .where(or_(Dossier.agency_id == agency_id, Dossier.receiving_agency_id == agency_id)))
    if not include_resolved:
        query = query.where(PortalDrift.resolved_at.is_(None))  # type: ignore[union-attr]
    query = query.order_by(PortalDrift.checked_at.desc(), PortalDrift.id.desc()).limit(limit)  # type: ignore[attr-defined]
    return [(row[0], row[1]) for row in session.execute(query).all()]


def count_open(session: Session, *, agency_id: int) -> int:
    """How many of the agency's dossiers the last checks found still different on the portal."""
    from sqlalchemy import func

    query = (select(func.count()).select_from(PortalDrift).join(Dossier, Dossier.id == PortalDrift.dossier_id)
             .where(or_(Dossier.agency_id == agency_id, Dossier.receiving_agency_id == agency_id),
                    PortalDrift.resolved_at.is_(None)))  # type: ignore[union-attr]
    return int(session.execute(query).scalar_one())
