"""National-portal reconciliation report: which of the agency's dossiers the portal holds differently."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.api.deps import SessionDep
from app.auth.deps import Admin
from app.fields import LocalDateTime
from app.models import PortalDrift
from app.portal import resync

router = APIRouter(prefix="/api/v1/portal", tags=["Cổng DVCQG"])


class DriftOut(BaseModel):
    dossier_code: str
    fields: list[str] = Field(description="Khác biệt: TrangThaiHoSo, NgayHenTra, NgayHenTraMoi, QuaTrinhXuLy; "
                                          "missing: Cổng không có hồ sơ; blocked: có tin bị loại chặn hồ sơ")
    our_status: int = Field(description="TrangThaiHoSo theo một cửa")
    portal_status: int | None = Field(description="TrangThaiHoSo trên Cổng (null: Cổng không có hồ sơ)")
    detected_at: LocalDateTime
    checked_at: LocalDateTime
    resynced_at: LocalDateTime | None = Field(description="Lúc đưa bản đồng bộ đầy đủ vào hàng đợi")
    resolved_at: LocalDateTime | None = Field(description="Lúc Cổng khớp trở lại (null: còn lệch)")


class LastRunOut(BaseModel):
    at: str
    checked: int
    equal: int
    drifted: int
    in_flight: int
    blocked: int
    unavailable: bool


class DriftReport(BaseModel):
    last_run: LastRunOut | None = Field(description="Lần đối soát gần nhất (toàn hệ thống)")
    open: int = Field(description="Số hồ sơ của cơ quan còn lệch với Cổng")
    items: list[DriftOut]


def _out(record: PortalDrift, code: str) -> DriftOut:
    return DriftOut(dossier_code=code, fields=record.fields, our_status=record.our_status,
                    portal_status=record.portal_status, detected_at=record.detected_at, checked_at=record.checked_at,
                    resynced_at=record.resynced_at, resolved_at=record.resolved_at)


@router.get("/drift", response_model=DriftReport, summary="Đối soát với Cổng DVCQG: hồ sơ lệch trạng thái")
def drift(
    session: SessionDep, principal: Admin,
    state: Annotated[Literal["open", "all"], Query(description="open: còn lệch; all: cả đã khớp lại")] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DriftReport:
    rows = resync.list_drift(session, agency_id=principal.scope_agency_id, include_resolved=state == "all",
                             limit=limit)
    last = resync.last_run(session)
    return DriftReport(last_run=LastRunOut(**last) if last else None,
                       open=resync.count_open(session, agency_id=principal.scope_agency_id),
                       items=[_out(record, code) for record, code in rows])
