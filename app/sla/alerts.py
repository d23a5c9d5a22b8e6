"""Reading and acknowledging deadline alerts (raised by `app.sla.scan`)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from app.access import scoped
from app.auth.principal import Principal
from app.errors import NotFound, NotPermitted
from app.models import Alert, Dossier, Role, User


def list_alerts(session: Session, principal: Principal, *, scope: str = "mine", kind: str | None = None,
                acked: bool | None = None, dossier_code: str | None = None, before: int | None = None,
                limit: int = 50) -> tuple[list[tuple[Alert, str, str]], int | None]:
    """(alert, dossier code, recipient username) rows, newest first, and the next cursor.

    `mine`: alerts addressed to the caller. `agency`: every alert on the agency's dossiers
    (leaders only)."""
    query = (select(Alert, Dossier.code, User.username).join(Dossier, Dossier.id == Alert.dossier_id)
             .join(User, User.id == Alert.recipient_id))
    if scope == "agency":
        if not principal.has(Role.leader):
            raise NotPermitted("Chỉ lãnh đạo xem được cảnh báo của cả cơ quan.", code="agency_scope_leaders_only")
        query = scoped(query, principal)
    else:
        query = query.where(Alert.recipient_id == principal.id)
    if kind:
        query = query.where(Alert.kind == kind)
    if acked is True:
        query = query.where(Alert.acked_at.is_not(None))  # type: ignore[union-attr]
    elif acked is False:
        query = query.where(Alert.acked_at.is_(None))  # type: ignore[union-attr]
    if dossier_code:
        query = query.where(Dossier.code == dossier_code)
    if before:
        query = query.where(Alert.id < before)
    rows = list(session.exec(query.order_by(Alert.id.desc()).limit(limit + 1)).all())  # type: ignore[union-attr]
    next_cursor = rows[limit - 1][0].id if len(rows) > limit else None
    return [(r[0], r[1], r[2]) for r in rows[:limit]], next_cursor


def ack(session: Session, alert_id: int, principal: Principal, *, now: datetime) -> tuple[Alert, str, str]:
    """The recipient marks an alert read (idempotent: acknowledging twice keeps the first time).
    Anyone else's alert is "not found"."""
    row = session.exec(select(Alert, Dossier.code).join(Dossier, Dossier.id == Alert.dossier_id)
                       .where(Alert.id == alert_id, Alert.recipient_id == principal.id)).first()
    if row is None:
        raise NotFound("Không tìm thấy cảnh báo.", code="alert_not_found")
    alert, code = row
    if alert.acked_at is None:
        alert.acked_at = now
        session.add(alert)
        session.flush()
    return alert, code, principal.user.username
