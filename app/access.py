"""Reads of dossiers scoped by the caller's agency, in one place: a dossier outside the caller's
scope is simply "not found" (404), never "forbidden"."""

from __future__ import annotations

from sqlalchemy import Boolean, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlmodel import Session, select

from app.auth.principal import Principal
from app.errors import NotFound
from app.models import Agency, Dossier, DossierAgency


class _TakenPart(ColumnElement[bool]):
    """`dossiers.id` among the dossiers an agency took part in (`dossier_agencies`). On PostgreSQL
    `id = ANY(ARRAY(subquery))`: an InitPlan whose array the planner can put in a bitmap index scan
    of the primary key, so `agency OR receiving OR taken part` stays a BitmapOr of three index scans
    (a plain `IN (subquery)` inside an OR is a per-row filter: a sequential scan); elsewhere `IN`."""

    # Not cached: the agency id is an attribute, not a traversed child, so a cached compilation would
    # carry the first caller's id. Compiling it per statement costs microseconds.
    inherit_cache = False
    type = Boolean()

    def __init__(self, agency_id: int) -> None:
        self.agency_id = agency_id


@compiles(_TakenPart)
def _taken_part_default(element: _TakenPart, compiler, **kw):  # noqa: ANN001, ANN003, ANN202
    subquery = select(DossierAgency.dossier_id).where(DossierAgency.agency_id == element.agency_id)
    return f"({compiler.process(Dossier.id.in_(subquery), **kw)})"  # type: ignore[union-attr]


@compiles(_TakenPart, "postgresql")
def _taken_part_postgresql(element: _TakenPart, compiler, **kw):  # noqa: ANN001, ANN003, ANN202
    subquery = select(DossierAgency.dossier_id).where(DossierAgency.agency_id == element.agency_id)
    return f"{compiler.process(Dossier.id, **kw)} = ANY(ARRAY({compiler.process(subquery, **kw)}))"  # type: ignore[arg-type]


class IdAmong(ColumnElement[bool]):
    """`dossiers.id` (or another id column of the dossier) among the ids a subquery returns,
    compiled as `_TakenPart` is (PostgreSQL: `id = ANY(ARRAY(subquery))`, an index probe that can
    join a BitmapOr, where `IN (subquery)` inside an OR would be a filter over every row; elsewhere `IN`)."""

    inherit_cache = False  # the subquery is an attribute, not a traversed child (see _TakenPart)
    type = Boolean()

    def __init__(self, subquery, column=None) -> None:  # noqa: ANN001
        self.subquery = subquery
        self.column = Dossier.id if column is None else column


@compiles(IdAmong)
def _id_among_default(element: IdAmong, compiler, **kw):  # noqa: ANN001, ANN003, ANN202
    return f"({compiler.process(element.column.in_(element.subquery), **kw)})"


@compiles(IdAmong, "postgresql")
def _id_among_postgresql(element: IdAmong, compiler, **kw):  # noqa: ANN001, ANN003, ANN202
    return f"{compiler.process(element.column, **kw)} = ANY(ARRAY({compiler.process(element.subquery, **kw)}))"


def scoped(query, principal: Principal):  # noqa: ANN001, ANN201
    """Restrict a dossier query to the caller's agency (handling or receiving), or, for an
    inter-agency dossier, an agency it was handed over to or asked (from that moment:
    `dossier_agencies`)."""
    return query.where(or_(Dossier.agency_id == principal.scope_agency_id,
                           Dossier.receiving_agency_id == principal.scope_agency_id,
                           _TakenPart(principal.scope_agency_id)))


def division_of(session: Session, agency_id: int, code: str) -> Agency:
    """A division of the agency by its code, short (`VP`) or full (`000.00.17.H26.VP`); 404 otherwise."""
    agency = session.get(Agency, agency_id)
    assert agency is not None
    found = session.exec(select(Agency).where(Agency.code.in_([code, f"{agency.code}.{code}"]),  # type: ignore[attr-defined]
                                              Agency.parent_id == agency_id)).first()
    if found is None:
        raise NotFound(f"Không có phòng chuyên môn {code} thuộc cơ quan.", code="division_not_found")
    return found


def get_dossier(session: Session, code: str, principal: Principal, *, for_update: bool = False) -> Dossier:
    query = scoped(select(Dossier).where(Dossier.code == code), principal)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    dossier = session.exec(query).first()
    if dossier is None:
        raise NotFound(f"Không tìm thấy hồ sơ {code}.", code="dossier_not_found")
    return dossier


# Roles that work on the dossier's substance see the applicant's identity in full; the postal
# clerk (a carrier) and the reporter (figures) see it masked.
FULL_VIEW_ROLES = frozenset({"desk", "specialist", "leader", "admin"})


def sees_personal_data(principal: Principal) -> bool:
    return principal.has(*FULL_VIEW_ROLES)


def mask_digits(value: str | None, keep: int = 3) -> str | None:
    """'001099012345' → '*********345'."""
    if not value:
        return value
    return "*" * max(0, len(value) - keep) + value[-keep:]


def mask_address(value: str | None) -> str | None:
    """Only the last part (province / ward) of an address stays readable."""
    if not value:
        return value
    parts = [p.strip() for p in value.split(",") if p.strip()]
    return "***, " + parts[-1] if len(parts) > 1 else "***"
