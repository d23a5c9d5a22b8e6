"""Reads of dossiers scoped by the caller's agency, in one place: a dossier outside the caller's
scope is simply "not found" (404), never "forbidden"."""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import Session, select

from app.auth.principal import Principal
from app.errors import NotFound
from app.models import Dossier


def scoped(query, principal: Principal):  # noqa: ANN001, ANN201
    """Restrict a dossier query to the caller's agency (handling or receiving)."""
    return query.where(or_(Dossier.agency_id == principal.scope_agency_id,
                           Dossier.receiving_agency_id == principal.scope_agency_id))


def get_dossier(session: Session, code: str, principal: Principal, *, for_update: bool = False) -> Dossier:
    query = scoped(select(Dossier).where(Dossier.code == code), principal)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    dossier = session.exec(query).first()
    if dossier is None:
        raise NotFound(f"Không tìm thấy hồ sơ {code}.", code="dossier_not_found")
    return dossier
