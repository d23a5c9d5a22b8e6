"""National portal: the reconciliation report (which of the agency's dossiers the portal holds
differently) and the online submissions that could not be received."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlmodel import select

from app.api.deps import SessionDep, StrictQuery
from app.auth.deps import Admin, require_roles
from app.auth.principal import Principal
from app.fields import LocalDateTime
from app.models import Agency, PortalDrift, Procedure, Role
from app.portal import resync
from app.portal.inbound import skipped_submissions

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


class RefusedSubmissionOut(BaseModel):
    portal_id: str = Field(description="Mã hồ sơ nộp trên Cổng")
    code: str = Field(description="Lý do (mã): procedure_not_found, wrong_agency, not_online, invalid_submission...")
    reason: str = Field(description="Lý do không tiếp nhận, như đã trả lời Cổng")
    procedure_code: str = Field(description="MaTTHC người nộp chọn")
    agency_code: str = Field(description="DonViXuLy người nộp chọn")
    at: LocalDateTime = Field(description="Lúc lấy về từ Cổng")
    answer_status: str | None = Field(description="Trả lời Cổng “không được tiếp nhận” (trạng thái 3): pending chờ "
                                                  "gửi, sent đã gửi, dead bị Cổng từ chối; null: không trả lời được")


@router.get("/submissions/refused", response_model=list[RefusedSubmissionOut], dependencies=[StrictQuery],
            summary="Hồ sơ nộp trực tuyến không tiếp nhận được (thủ tục không có, sai cơ quan...), đã trả lời Cổng")
def refused_submissions(session: SessionDep,
                        principal: Annotated[Principal, Depends(require_roles(Role.desk, Role.admin))],
                        ) -> list[RefusedSubmissionOut]:
    """Those addressed to the caller's agency, or naming one of its procedures; for an administrator,
    also those that name no agency and no procedure known here (nobody else would see them)."""
    agency = session.get(Agency, principal.scope_agency_id)
    assert agency is not None
    ours = set(session.exec(select(Procedure.code).where(Procedure.agency_id == agency.id)).all())
    known_agencies = set(session.exec(select(Agency.code)).all())
    known_procedures = set(session.exec(select(Procedure.code)).all())
    out = []
    for record in skipped_submissions(session):
        addressed = record.get("DonViXuLy") == agency.code or record.get("MaTTHC") in ours
        unclaimed = record.get("DonViXuLy") not in known_agencies and record.get("MaTTHC") not in known_procedures
        if not (addressed or (unclaimed and principal.has(Role.admin))):
            continue
        out.append(RefusedSubmissionOut(portal_id=record["portal_id"], code=record["code"], reason=record["reason"],
                                        procedure_code=record.get("MaTTHC") or "",
                                        agency_code=record.get("DonViXuLy") or "",
                                        at=datetime.fromisoformat(record["at"]),
                                        answer_status=record.get("answer_status")))
    return out
