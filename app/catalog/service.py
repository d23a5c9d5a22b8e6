"""The procedure catalogue (TTHC): search, create, update, deactivate, import and export."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, select

from app import reference
from app.catalog.schemas import LEVEL_TO_LEGACY, ProcedureIn, ProcedurePublic, ProcedureUpdate
from app.errors import Conflict, Invalid, NotFound
from app.models import Agency, OnlineLevel, Procedure, Role


def get_procedure(session: Session, code: str, *, active_only: bool = False) -> Procedure:
    procedure = reference.procedure_by_code(session, code)  # from memory (app/reference.py)
    if procedure is None or (active_only and not procedure.is_active):
        raise NotFound(f"Không có thủ tục hành chính mã {code}.", code="procedure_not_found")
    return procedure


def search_procedures(session: Session, *, q: str | None = None, field_code: str | None = None,
                      online_level: OnlineLevel | None = None, agency_id: int | None = None,
                      active: bool | None = True, limit: int = 50, offset: int = 0) -> tuple[list[Procedure], int]:
    query = select(Procedure)
    if q:
        pattern = f"%{q.strip().lower()}%"
        query = query.where(or_(func.lower(Procedure.name).like(pattern), Procedure.code.like(pattern)))
    if field_code:
        query = query.where(Procedure.field_code == field_code)
    if online_level:
        query = query.where(Procedure.online_level == online_level)
    if agency_id is not None:
        query = query.where(Procedure.agency_id == agency_id)
    if active is not None:
        query = query.where(Procedure.is_active == active)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Procedure.code).limit(limit).offset(offset)).all()
    return list(rows), total


def _resolve_division(session: Session, agency: Agency, division: str | None) -> int | None:
    if not division:
        return None
    candidates = [division, f"{agency.code}.{division}"]
    found = session.exec(select(Agency).where(Agency.code.in_(candidates), Agency.parent_id == agency.id)).first()
    if found is None:
        raise Invalid(f"Không có phòng chuyên môn {division} thuộc {agency.name}.", code="division_not_found")
    return found.id


def _agency_for(session: Session, agency_code: str | None, default_agency_id: int) -> Agency:
    if agency_code is None:
        agency = session.get(Agency, default_agency_id)
    else:
        agency = session.exec(select(Agency).where(Agency.code == agency_code)).first()
    if agency is None or agency.id != default_agency_id:
        # Admins manage only their own agency's catalogue; another agency is "not found".
        raise NotFound(f"Không có cơ quan mã {agency_code}.", code="agency_not_found")
    return agency


def upsert_procedure(session: Session, data: ProcedureIn, *, scope_agency_id: int, now: datetime,
                     create_only: bool = False) -> tuple[Procedure, bool]:
    agency = _agency_for(session, data.agency_code, scope_agency_id)
    existing = session.exec(select(Procedure).where(Procedure.code == data.code)).first()
    if existing is not None and (create_only or existing.agency_id != agency.id):
        raise Conflict(f"Mã thủ tục {data.code} đã tồn tại.", code="procedure_exists")
    values = data.model_dump(exclude={"agency_code", "division", "code"}, mode="json")
    values["division_id"] = _resolve_division(session, agency, data.division)
    # A single-agency step stores no `agency` key (its JSON stays as before); parties: {} when none.
    values["workflow"] = [{k: v for k, v in step.items() if not (k == "agency" and v is None)}
                          for step in values["workflow"]]
    values["parties"] = values.get("parties") or {}
    values["fees"] = values.get("fees") or {}
    if values["fees"].get("items"):  # the single figure older readers know: one case, one copy
        values["fee"] = sum(item["amount"] for item in values["fees"]["items"])
    _check_parties(session, values["parties"])
    procedure = existing or Procedure(code=data.code, agency_id=agency.id, created_at=now, **values)
    if existing is not None:
        for key, value in values.items():
            setattr(procedure, key, value)
    procedure.updated_at = now
    session.add(procedure)
    session.flush()
    return procedure, existing is None


def _check_parties(session: Session, parties: dict) -> None:  # type: ignore[type-arg]
    codes = list(parties.get("receiving_points") or []) + ([parties["deciding_authority"]]
                                                          if parties.get("deciding_authority") else [])
    if not codes:
        return
    known = set(session.exec(select(Agency.code).where(Agency.code.in_(codes))).all())  # type: ignore[attr-defined]
    missing = sorted(set(codes) - known)
    if missing:
        raise Invalid("Thủ tục liên thông nêu cơ quan chưa có trong hệ thống.", code="agency_not_found",
                      detail={"missing": missing})


def update_procedure(session: Session, code: str, patch: ProcedureUpdate, *, scope_agency_id: int,
                     now: datetime) -> Procedure:
    procedure = get_procedure(session, code)
    if procedure.agency_id != scope_agency_id:
        raise NotFound(f"Không có thủ tục hành chính mã {code}.", code="procedure_not_found")
    merged = to_public(session, procedure).model_dump(exclude={"online_level_legacy", "agency_name"})
    merged.update(patch.model_dump(exclude_unset=True, mode="json"))
    try:
        data = ProcedureIn.model_validate(merged)
    except ValueError as exc:
        raise Invalid("Thông tin thủ tục sau khi sửa không hợp lệ.", code="invalid_procedure",
                      detail=str(exc)) from exc
    procedure, _ = upsert_procedure(session, data, scope_agency_id=scope_agency_id, now=now)
    return procedure


def set_active(session: Session, code: str, active: bool, *, scope_agency_id: int, now: datetime) -> Procedure:
    procedure = get_procedure(session, code)
    if procedure.agency_id != scope_agency_id:
        raise NotFound(f"Không có thủ tục hành chính mã {code}.", code="procedure_not_found")
    procedure.is_active = active
    procedure.updated_at = now
    session.add(procedure)
    session.flush()
    return procedure


def import_procedures(session: Session, items: list[ProcedureIn], *, scope_agency_id: int,
                      now: datetime) -> tuple[int, int]:
    created = updated = 0
    for item in items:
        _, is_new = upsert_procedure(session, item, scope_agency_id=scope_agency_id, now=now)
        created += is_new
        updated += not is_new
    return created, updated


def to_public(session: Session, procedure: Procedure) -> ProcedurePublic:
    agency = session.get(Agency, procedure.agency_id)
    division = session.get(Agency, procedure.division_id) if procedure.division_id else None
    assert agency is not None
    return ProcedurePublic(
        code=procedure.code, name=procedure.name, field_code=procedure.field_code, field_name=procedure.field_name,
        time_limit_value=procedure.time_limit_value, time_limit_unit=procedure.time_limit_unit, fee=procedure.fee,
        fee_note=procedure.fee_note, fees=procedure.fees or None, legal_basis=procedure.legal_basis,
        required_documents=procedure.required_documents, online_level=procedure.online_level,
        postal_receipt_allowed=procedure.postal_receipt_allowed, postal_return_allowed=procedure.postal_return_allowed,
        supplement_rule=procedure.supplement_rule, same_day_cutoff=procedure.same_day_cutoff,
        division=division.code if division else None,
        workflow=procedure.workflow, parties=procedure.parties or None, agency_code=agency.code, is_active=procedure.is_active,
        online_level_legacy=LEVEL_TO_LEGACY[OnlineLevel(procedure.online_level)], agency_name=agency.name)


# --- a procedure's workflow -------------------------------------------------------------------

def workflow_of(procedure: Procedure) -> list[dict[str, Any]]:
    return procedure.workflow


def last_work_step(procedure: Procedure) -> int:
    """The last step that produces the result; desk steps after it only hand it over."""
    steps = workflow_of(procedure)
    work = [i for i, step in enumerate(steps) if step["role"] != Role.desk]
    return work[-1] if work else len(steps) - 1
