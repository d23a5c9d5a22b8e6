"""Reconciliation with the national portal, and the backlog alert for admins.

`reconcile_portal(factory, settings, now)` (scheduler job `portal_reconcile`, CLI
`motcua portal-reconcile`) reads back from the portal (TraCuuHoSo, `/dossiers/lookup`) every
dossier whose portal messages were written in the last `portal_reconcile_window_hours`, plus
every dossier still recorded as drifting, and compares it with what motcua holds:

* `TrangThaiHoSo` (status), `NgayHenTra` and `NgayHenTraMoi` (appointments);
* the `QuaTrinhXuLy` rows, by their key `MaQuaTrinh` (each row motcua wrote for its portal messages);
* `missing`: the portal does not hold the dossier at all (its state was lost).

A dossier whose portal messages are still pending is in flight, not drifting: it is skipped.
A dossier with a dead (refused) portal message is `blocked`: recorded, not re-synced (its later
messages wait for an admin's requeue). Any other difference is recorded in `portal_drift` and
repaired by queueing one full snapshot (`app.portal.sync.enqueue_resync`) through the ordinary
outbox path; the next run marks the record resolved once the portal agrees.

The three phases never hold a transaction across a network call: read the candidates, look
them up, then write the records and the re-syncs in one transaction.

`check_backlog(factory, settings, now)` (scheduler job `portal_backlog`) alerts each agency's
admins (an `alerts` row each, and an e-mail/SMS through the notification outbox when they have an
address) once per outage when its oldest undelivered portal message is older than
`portal_backlog_alert_minutes`; the marker is cleared when the backlog is gone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.db import transaction
from app.models import Agency, Alert, Dossier, OutboxMessage, PortalDrift, SystemState, User
from app.outbox import DEAD, PENDING
from app.portal.client import PortalClient, PortalUnavailable
from app.portal.mapping import portal_time
from app.portal.resync import LAST_RUN_KEY, TOPIC, enqueue_resync, history_rows
from app.portal.sync import open_client
from app.settings import Settings
from app.workflows.transitions import PORTAL_STATUS

log = logging.getLogger(__name__)

BACKLOG_MARKER = "portal_backlog_alert:"  # + agency id: the admins of that agency were alerted
BACKLOG_ALERT = "portal_backlog"
MISSING, BLOCKED = "missing", "blocked"


@dataclass
class ReconcileReport:
    at: str
    checked: int = 0  # dossiers read back from the portal
    equal: int = 0
    drifted: int = 0  # found different (re-synced)
    in_flight: int = 0  # skipped: portal messages still pending
    blocked: int = 0  # a dead portal message holds the dossier back
    unavailable: bool = False  # the portal did not answer: the run stopped early
    drift: dict[str, list[str]] = field(default_factory=dict)  # dossier code -> what differed

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "drift"}


def _row_id(row: dict[str, Any]) -> str:
    return str(row.get("MaQuaTrinh") or json.dumps(row, sort_keys=True, ensure_ascii=False))


def differences(ours: dict[str, Any], theirs: dict[str, Any] | None) -> list[str]:
    """What differs between motcua's view (`expected`) and the portal's lookup answer."""
    if theirs is None:
        return [MISSING]
    fields = [k for k in ("TrangThaiHoSo", "NgayHenTra", "NgayHenTraMoi") if ours.get(k) != theirs.get(k)]
    held = theirs.get("QuaTrinhXuLy") or []
    if sorted(ours["rows"]) != sorted(_row_id(r) for r in held if isinstance(r, dict)):
        fields.append("QuaTrinhXuLy")
    return fields


def expected(session: Session, dossier: Dossier) -> dict[str, Any]:
    """What the portal should hold for the dossier once its messages are delivered."""
    assert dossier.id is not None
    return {"TrangThaiHoSo": PORTAL_STATUS[dossier.status],  # type: ignore[index]
            "NgayHenTra": portal_time(dossier.due_at), "NgayHenTraMoi": portal_time(dossier.new_due_at),
            "rows": [_row_id(r) for r in history_rows(session, dossier.id)]}


def _candidates(session: Session, *, since: datetime, limit: int) -> list[int]:
    recent = (select(OutboxMessage.dossier_id)
              .where(OutboxMessage.topic == TOPIC, OutboxMessage.created_at >= since,
                     OutboxMessage.dossier_id.is_not(None)))  # type: ignore[union-attr]
    still_open = select(PortalDrift.dossier_id).where(PortalDrift.resolved_at.is_(None))  # type: ignore[union-attr]
    query = (select(Dossier.id).where(or_(Dossier.id.in_(recent), Dossier.id.in_(still_open)))  # type: ignore[union-attr]
             .order_by(Dossier.id).limit(limit))
    return list(session.execute(query).scalars())


def _with_status(session: Session, ids: list[int], status: str) -> set[int]:
    if not ids:
        return set()
    return set(session.execute(select(OutboxMessage.dossier_id).distinct()
                               .where(OutboxMessage.topic == TOPIC, OutboxMessage.status == status,
                                      OutboxMessage.dossier_id.in_(ids))).scalars())  # type: ignore[union-attr]


def _record(session: Session, dossier: Dossier, fields: list[str], portal_status: int | None, *, now: datetime,
            resynced: bool) -> None:
    record = session.execute(select(PortalDrift).where(PortalDrift.dossier_id == dossier.id)).scalars().first()
    our_status = PORTAL_STATUS[dossier.status]  # type: ignore[index]
    if record is None:
        record = PortalDrift(dossier_id=dossier.id, fields=fields, our_status=our_status, portal_status=portal_status,
                             detected_at=now, checked_at=now)
    elif record.resolved_at is not None:  # a new episode
        record.detected_at, record.resolved_at, record.resynced_at = now, None, None
    record.fields, record.our_status, record.portal_status, record.checked_at = fields, our_status, portal_status, now
    if resynced:
        record.resynced_at = now
    session.add(record)


def reconcile_portal(factory: sessionmaker[Session], settings: Settings, now: datetime,
                     client: PortalClient | None = None, *, window_hours: int | None = None) -> ReconcileReport:
    """Compare recently changed dossiers with the portal, re-sync the ones that differ, record the drift."""
    report = ReconcileReport(at=now.isoformat())
    since = now - timedelta(hours=window_hours or settings.portal_reconcile_window_hours)
    with factory() as session:  # phase 1: what to check
        ids = _candidates(session, since=since, limit=settings.portal_reconcile_batch)
        pending = _with_status(session, ids, PENDING)
        dead = _with_status(session, ids, DEAD)
        codes = dict(session.execute(select(Dossier.id, Dossier.code).where(Dossier.id.in_(ids))).all())  # type: ignore[union-attr]
        targets: list[tuple[int, str]] = []
        for dossier_id in ids:
            if dossier_id in pending and dossier_id not in dead:
                report.in_flight += 1
                continue
            targets.append((dossier_id, codes[dossier_id]))
        session.rollback()

    answers: dict[int, dict[str, Any] | None] = {}
    with open_client(settings, client) as portal:  # phase 2: read back, outside any transaction
        for dossier_id, code in targets:
            try:
                answers[dossier_id] = portal.lookup(code)
            except PortalUnavailable as exc:
                log.warning("portal reconciliation stopped: portal unavailable (%s)", exc.status_code)
                report.unavailable = True
                break

    with transaction(factory) as session:  # phase 3: record, re-sync, resolve
        busy = _with_status(session, list(answers), PENDING) - dead  # new activity since phase 1
        for dossier_id, code in targets:
            if dossier_id not in answers:
                continue
            theirs = answers[dossier_id]
            report.checked += 1
            dossier = session.get(Dossier, dossier_id)
            assert dossier is not None
            portal_status = theirs.get("TrangThaiHoSo") if theirs else None
            if dossier_id in dead:
                report.blocked += 1
                report.drift[code] = [BLOCKED]
                _record(session, dossier, [BLOCKED], portal_status, now=now, resynced=False)
                continue
            if dossier_id in busy:  # changed meanwhile: its own messages are on the way
                report.in_flight += 1
                report.checked -= 1
                continue
            fields = differences(expected(session, dossier), theirs)
            if not fields:
                report.equal += 1
                open_record = session.execute(select(PortalDrift).where(
                    PortalDrift.dossier_id == dossier_id, PortalDrift.resolved_at.is_(None))).scalars().first()  # type: ignore[union-attr]
                if open_record is not None:
                    open_record.resolved_at = open_record.checked_at = now
                    session.add(open_record)
                continue
            report.drifted += 1
            report.drift[code] = fields
            enqueue_resync(session, dossier, now=now)
            _record(session, dossier, fields, portal_status, now=now, resynced=True)
        _save_summary(session, report, now)
    log.info("portal reconciliation", extra={"fields": report.summary()})
    return report


def _save_summary(session: Session, report: ReconcileReport, now: datetime) -> None:
    state = session.get(SystemState, LAST_RUN_KEY) or SystemState(key=LAST_RUN_KEY, value="{}")
    state.value = json.dumps(report.summary())
    state.updated_at = now
    session.add(state)


# --- the backlog alert ----------------------------------------------------------------------------

def _admins_of(session: Session, agency_id: int) -> list[User]:
    agencies = set(session.execute(select(Agency.id).where(
        or_(Agency.id == agency_id, Agency.parent_id == agency_id))).scalars())
    users = session.execute(select(User).where(User.agency_id.in_(agencies),  # type: ignore[attr-defined]
                                                User.is_active.is_(True))).scalars()  # type: ignore[attr-defined]
    return [u for u in users if "admin" in (u.roles or [])]


def check_backlog(factory: sessionmaker[Session], settings: Settings, now: datetime) -> int:
    """Alert each agency's admins once when its oldest undelivered portal message passes the threshold;
    returns the number of alerts written."""
    threshold = timedelta(minutes=settings.portal_backlog_alert_minutes)
    written = 0
    with transaction(factory) as session:
        rows = session.execute(
            select(Dossier.agency_id, func.min(OutboxMessage.created_at), func.count())
            .join(Dossier, Dossier.id == OutboxMessage.dossier_id)
            .where(OutboxMessage.topic == TOPIC, OutboxMessage.status.in_((PENDING, DEAD)))  # type: ignore[attr-defined]
            .group_by(Dossier.agency_id)).all()
        old = {agency_id: (oldest, count) for agency_id, oldest, count in rows
               if oldest is not None and _aware(oldest) <= now - threshold}
        markers = list(session.execute(select(SystemState).where(
            SystemState.key.startswith(BACKLOG_MARKER))).scalars())  # type: ignore[attr-defined]
        alerted = {}
        for marker in markers:
            agency_id = int(marker.key.removeprefix(BACKLOG_MARKER))
            if agency_id in old:
                alerted[agency_id] = marker
            else:  # the outage is over for this agency: a later one alerts again
                session.delete(marker)
        tz = ZoneInfo(settings.timezone)
        for agency_id, (oldest, count) in old.items():
            if agency_id in alerted:
                continue
            first = session.execute(
                select(OutboxMessage, Dossier.code).join(Dossier, Dossier.id == OutboxMessage.dossier_id)
                .where(OutboxMessage.topic == TOPIC, OutboxMessage.status.in_((PENDING, DEAD)),  # type: ignore[attr-defined]
                       Dossier.agency_id == agency_id)
                .order_by(OutboxMessage.created_at, OutboxMessage.id).limit(1)).first()
            assert first is not None
            message, code = first
            since = _aware(oldest).astimezone(tz).strftime("%H:%M %d/%m/%Y")
            text = (f"Cổng DVCQG: {count} tin nhắn đồng bộ chưa gửi được; tin cũ nhất chờ từ {since} "
                    f"(hồ sơ {code}). Lỗi gần nhất: {message.last_error or 'chưa có'}")[:1000]
            for admin in _admins_of(session, agency_id):
                session.add(Alert(dossier_id=message.dossier_id, kind=BACKLOG_ALERT, deadline_at=_aware(oldest) + threshold,
                                  recipient_id=admin.id, message=text, created_at=now))
                written += 1
                if admin.email or admin.phone:  # and by e-mail / SMS, through the notification outbox
                    session.add(OutboxMessage(topic="notify", kind=BACKLOG_ALERT, dossier_id=None, status=PENDING,
                                              payload={"to_email": admin.email, "to_phone": admin.phone,
                                                       "subject": "Đồng bộ Cổng DVCQG bị tồn đọng", "text": text,
                                                       "user_id": admin.id},
                                              next_attempt_at=now, created_at=now))
            session.add(SystemState(key=f"{BACKLOG_MARKER}{agency_id}", value=_aware(oldest).isoformat(),
                                    updated_at=now))
            log.warning("portal backlog alert", extra={"fields": {"agency_id": agency_id, "pending": count,
                                                                  "oldest": _aware(oldest).isoformat()}})
    return written


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
