"""Reading and acknowledging alerts: the deadline alerts of dossiers (raised by `app.sla.scan`),
and the same inbox for any alert table of the same shape (recipient_id, acked_at), which the
feedback alerts (app/feedback/service.py) use too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from app.access import scoped
from app.auth.principal import Principal
from app.errors import NotFound, NotPermitted
from app.models import Alert, Dossier, Role, User


def alert_page(session: Session, query: Any, model: Any, principal: Principal, *, scope: str,
               agency_scoped: Callable[[Any, Principal], Any], before: int | None,
               limit: int) -> tuple[list[tuple[Any, str, str]], int | None]:
    """`query` selects (alert of `model`, subject label, recipient username). `mine`: the caller's
    alerts; `agency`: every alert of the caller's agency (`agency_scoped`), leaders only. Newest
    first, with the next cursor."""
    if scope == "agency":
        if not principal.has(Role.leader):
            raise NotPermitted("Chỉ lãnh đạo xem được cảnh báo của cả cơ quan.", code="agency_scope_leaders_only")
        query = agency_scoped(query, principal)
    else:
        query = query.where(model.recipient_id == principal.id)
    if before:
        query = query.where(model.id < before)
    rows = list(session.exec(query.order_by(model.id.desc()).limit(limit + 1)).all())
    next_cursor = rows[limit - 1][0].id if len(rows) > limit else None
    return [(r[0], r[1], r[2]) for r in rows[:limit]], next_cursor


def acknowledge(session: Session, query: Any, model: Any, alert_id: int, principal: Principal, *,
                now: datetime) -> tuple[Any, str, str]:
    """The recipient marks an alert read (idempotent: acknowledging twice keeps the first time).
    `query` selects (alert of `model`, subject label). Anyone else's alert is "not found"."""
    row = session.exec(query.where(model.id == alert_id, model.recipient_id == principal.id)).first()
    if row is None:
        raise NotFound("Không tìm thấy cảnh báo.", code="alert_not_found")
    alert, label = row
    if alert.acked_at is None:
        alert.acked_at = now
        session.add(alert)
        session.flush()
    return alert, label, principal.user.username


def list_alerts(session: Session, principal: Principal, *, scope: str = "mine", kind: str | None = None,
                acked: bool | None = None, dossier_code: str | None = None, before: int | None = None,
                limit: int = 50) -> tuple[list[tuple[Alert, str, str]], int | None]:
    """(alert, dossier code, recipient username) rows, newest first, and the next cursor.

    `mine`: alerts addressed to the caller. `agency`: every alert on the agency's dossiers
    (leaders only)."""
    query = (select(Alert, Dossier.code, User.username).join(Dossier, Dossier.id == Alert.dossier_id)
             .join(User, User.id == Alert.recipient_id))
    if kind:
        query = query.where(Alert.kind == kind)
    if acked is True:
        query = query.where(Alert.acked_at.is_not(None))  # type: ignore[union-attr]
    elif acked is False:
        query = query.where(Alert.acked_at.is_(None))  # type: ignore[union-attr]
    if dossier_code:
        query = query.where(Dossier.code == dossier_code)
    return alert_page(session, query, Alert, principal, scope=scope, agency_scoped=scoped, before=before, limit=limit)


def ack(session: Session, alert_id: int, principal: Principal, *, now: datetime) -> tuple[Alert, str, str]:
    """A deadline alert marked read by its recipient (`acknowledge`)."""
    query = select(Alert, Dossier.code).join(Dossier, Dossier.id == Alert.dossier_id)
    return acknowledge(session, query, Alert, alert_id, principal, now=now)
