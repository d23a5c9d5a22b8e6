from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import ClockDep, SessionDep
from app.auth.deps import Admin, CurrentUser
from app.catalog import service
from app.catalog.schemas import ImportResult, ProcedureIn, ProcedurePage, ProcedurePublic, ProcedureUpdate
from app.models import OnlineLevel

router = APIRouter(prefix="/api/v1/procedures", tags=["thủ tục hành chính"])


@router.get("", response_model=ProcedurePage, summary="Tra cứu danh mục thủ tục hành chính")
def list_procedures(
    session: SessionDep, _: CurrentUser,
    q: Annotated[str | None, Query(max_length=100, description="Tìm theo tên hoặc mã")] = None,
    field_code: Annotated[str | None, Query(max_length=32)] = None,
    online_level: OnlineLevel | None = None,
    active: bool | None = True,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> ProcedurePage:
    rows, total = service.search_procedures(session, q=q, field_code=field_code, online_level=online_level,
                                            active=active, limit=limit, offset=offset)
    return ProcedurePage(items=[service.to_public(session, p) for p in rows], total=total, limit=limit,
                         offset=offset)


@router.get("/export", response_model=list[ProcedureIn], summary="Xuất danh mục (JSON) của cơ quan")
def export_procedures(session: SessionDep, admin: Admin) -> list[ProcedureIn]:
    rows, _ = service.search_procedures(session, agency_id=admin.scope_agency_id, active=None, limit=10_000)
    return [ProcedureIn.model_validate(service.to_public(session, p).model_dump(
        exclude={"online_level_legacy", "agency_name"})) for p in rows]


@router.post("/import", response_model=ImportResult, summary="Nhập danh mục (JSON): tạo mới hoặc cập nhật theo mã")
def import_procedures(items: list[ProcedureIn], session: SessionDep, admin: Admin, clock: ClockDep) -> ImportResult:
    created, updated = service.import_procedures(session, items, scope_agency_id=admin.scope_agency_id,
                                                 now=clock.now())
    return ImportResult(created=created, updated=updated)


@router.get("/{code}", response_model=ProcedurePublic, summary="Chi tiết một thủ tục")
def get_procedure(code: str, session: SessionDep, _: CurrentUser) -> ProcedurePublic:
    return service.to_public(session, service.get_procedure(session, code))


@router.post("", response_model=ProcedurePublic, status_code=201, summary="Thêm thủ tục (quản trị)")
def create_procedure(data: ProcedureIn, session: SessionDep, admin: Admin, clock: ClockDep) -> ProcedurePublic:
    procedure, _ = service.upsert_procedure(session, data, scope_agency_id=admin.scope_agency_id, now=clock.now(),
                                            create_only=True)
    return service.to_public(session, procedure)


@router.patch("/{code}", response_model=ProcedurePublic, summary="Sửa thủ tục (quản trị)")
def update_procedure(code: str, patch: ProcedureUpdate, session: SessionDep, admin: Admin,
                     clock: ClockDep) -> ProcedurePublic:
    procedure = service.update_procedure(session, code, patch, scope_agency_id=admin.scope_agency_id,
                                         now=clock.now())
    return service.to_public(session, procedure)


@router.post("/{code}/deactivate", response_model=ProcedurePublic, summary="Ngừng áp dụng thủ tục (quản trị)")
def deactivate_procedure(code: str, session: SessionDep, admin: Admin, clock: ClockDep) -> ProcedurePublic:
    procedure = service.set_active(session, code, False, scope_agency_id=admin.scope_agency_id, now=clock.now())
    return service.to_public(session, procedure)


@router.post("/{code}/activate", response_model=ProcedurePublic, summary="Áp dụng lại thủ tục (quản trị)")
def activate_procedure(code: str, session: SessionDep, admin: Admin, clock: ClockDep) -> ProcedurePublic:
    procedure = service.set_active(session, code, True, scope_agency_id=admin.scope_agency_id, now=clock.now())
    return service.to_public(session, procedure)
