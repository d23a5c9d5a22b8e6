from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import object_session

from app.api.deps import ClockDep, SessionDep, SettingsDep
from app.api.idempotency import fingerprint, run_idempotent
from app.auth.deps import Leader, Staff, require_roles
from app.auth.principal import Principal
from app.fields import LocalDateTime
from app.foresight import risk_scan
from app.models import Agency, Apology, Dossier, DossierStatus, Procedure, Role
from app.sla import apology as service
from app.workflows.transitions import STATUS_LABELS

router = APIRouter(tags=["xin lỗi, hẹn lại"])

Drafter = Annotated[Principal, Depends(require_roles(Role.specialist, Role.leader))]
ApologyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Số của văn bản xin lỗi, hẹn lại")]
CodePath = Annotated[str, Path(max_length=64, description="Mã hồ sơ")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


class ApologyOut(BaseModel):
    id: int
    status: str = Field(description="draft | issued | cancelled")
    status_label: str
    dossier_code: str
    dossier_status: str
    dossier_status_label: str
    procedure_code: str
    procedure_name: str
    received_at: LocalDateTime | None = Field(description="Ngày tiếp nhận hồ sơ")
    original_due_at: LocalDateTime = Field(description="Ngày hẹn trả kết quả ban đầu")
    proposed_due_at: LocalDateTime | None = Field(description="Ngày hẹn trả mới đề xuất")
    new_due_at: LocalDateTime | None = Field(description="Ngày hẹn trả mới đã ban hành")
    reason: str | None = Field(description="Lý do chậm giải quyết")
    drafted_at: LocalDateTime
    issued_at: LocalDateTime | None
    signer_name: str | None
    signer_title: str | None = Field(description="Khối chữ ký: “KT. GIÁM ĐỐC / PHÓ GIÁM ĐỐC” hoặc “GIÁM ĐỐC” (xuống dòng)")
    document_number: str | None = Field(description="Số văn bản trong sổ đăng ký của cơ quan, ví dụ 03/PXL-SGDĐT")
    is_late: bool = Field(description="Ban hành muộn hơn một ngày làm việc trước ngày hẹn trả (thống kê riêng)")
    agency_code: str | None = Field(default=None, description="Cơ quan xin lỗi và ban hành (hồ sơ liên thông: "
                                                              "cơ quan gây chậm)")


class ApologyPage(BaseModel):
    items: list[ApologyOut]
    next_cursor: int | None = Field(description="Truyền vào `before` để lấy trang sau")


class ApologyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str | None = Field(default=None, min_length=1, max_length=2000, description="Lý do chậm giải quyết")
    proposed_due_at: LocalDateTime | None = Field(
        default=None, description="Ngày hẹn trả mới đề xuất: trong giờ làm việc, sau ngày hẹn ban đầu "
                                  "(không kèm múi giờ: giờ Việt Nam)")

    @model_validator(mode="after")
    def _something(self) -> ApologyPatch:
        if not self.model_fields_set:
            raise ValueError("cần ít nhất một trường: reason hoặc proposed_due_at")
        if "reason" in self.model_fields_set and self.reason is None:
            raise ValueError("reason không được để trống")
        return self


class ApologyIssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str | None = Field(default=None, min_length=1, max_length=2000,
                               description="Lý do (mặc định: lý do đã ghi trong dự thảo)")
    new_due_at: LocalDateTime | None = Field(default=None, description="Ngày hẹn trả mới (mặc định: ngày đề xuất)")


def present(apology: Apology, dossier: Dossier, procedure: Procedure) -> ApologyOut:
    assert apology.id is not None
    session = object_session(apology)
    agency = session.get(Agency, apology.agency_id or dossier.agency_id) if session is not None else None
    return ApologyOut(
        id=apology.id, status=apology.status, status_label=service.STATUS_LABELS.get(apology.status, apology.status),
        dossier_code=dossier.code, dossier_status=dossier.status,
        dossier_status_label=STATUS_LABELS[DossierStatus(dossier.status)], procedure_code=procedure.code,
        procedure_name=procedure.name, received_at=dossier.received_at, original_due_at=apology.original_due_at,
        proposed_due_at=apology.proposed_due_at, new_due_at=apology.new_due_at, reason=apology.reason,
        drafted_at=apology.drafted_at, issued_at=apology.issued_at, signer_name=apology.signer_name,
        signer_title=apology.signer_title, document_number=apology.document_number, is_late=apology.is_late,
        agency_code=agency.code if agency is not None else None)


@router.get("/api/v1/apologies", response_model=ApologyPage,
            summary="Văn bản xin lỗi và hẹn lại ngày trả kết quả (mẫu 04) của cơ quan")
def list_apologies(
    session: SessionDep, principal: Staff,
    status: Literal["draft", "issued", "cancelled"] | None = None,
    dossier: Annotated[str | None, Query(max_length=64, description="Mã hồ sơ")] = None,
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Con trỏ trang (next_cursor)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ApologyPage:
    rows, cursor = service.list_apologies(session, principal, status=status, dossier_code=dossier, before=before,
                                          limit=limit)
    return ApologyPage(items=[present(*row) for row in rows], next_cursor=cursor)


@router.get("/api/v1/dossiers/{code}/apologies", response_model=list[ApologyOut],
            summary="Các văn bản xin lỗi, hẹn lại của một hồ sơ")
def dossier_apologies(code: CodePath, session: SessionDep, principal: Staff) -> list[ApologyOut]:
    return [present(*row) for row in service.dossier_apologies(session, code, principal)]


@router.post("/api/v1/dossiers/{code}/apologies", response_model=ApologyOut, status_code=201,
             summary="Lập dự thảo văn bản xin lỗi, hẹn lại (khi biết trước hồ sơ sẽ chậm)")
def create_draft(code: CodePath, session: SessionDep, principal: Drafter, clock: ClockDep,
                 settings: SettingsDep) -> ApologyOut:
    now = clock.now()
    apology = service.create_draft(session, code, principal, now=now, settings=settings,
                                   estimate=risk_scan.apology_estimate(session, now=now, settings=settings))
    assert apology.id is not None
    return present(*service.get_apology(session, apology.id, principal))


@router.patch("/api/v1/apologies/{apology_id}", response_model=ApologyOut,
              summary="Sửa dự thảo: lý do chậm, ngày hẹn trả mới đề xuất")
def update_draft(apology_id: ApologyId, data: ApologyPatch, session: SessionDep, principal: Drafter,
                 clock: ClockDep, settings: SettingsDep) -> ApologyOut:
    changes = data.model_dump(include=data.model_fields_set)
    return present(*service.update_draft(session, apology_id, principal, changes=changes, now=clock.now(),
                                         settings=settings))


@router.post("/api/v1/apologies/{apology_id}/issue", response_model=ApologyOut,
             summary="Lãnh đạo ban hành văn bản xin lỗi và hẹn lại ngày trả kết quả",
             responses={409: {"description": "Đã ban hành, quá số lần hẹn lại, hoặc hồ sơ không còn giải quyết"}})
def issue(apology_id: ApologyId, request: Request, session: SessionDep, principal: Leader, clock: ClockDep,
          settings: SettingsDep, data: ApologyIssueIn | None = None,
          idempotency_key: IdempotencyKey = None):  # noqa: ANN201
    data = data or ApologyIssueIn()
    now = clock.now()

    def work() -> ApologyOut:
        return present(*service.issue(session, apology_id, principal, now=now, settings=settings, reason=data.reason,
                                      new_due_at=data.new_due_at))

    return run_idempotent(session, scope=f"user:{principal.id}", key=idempotency_key, now=now, status_code=200,
                          request_hash=fingerprint("POST", request.url.path, data), work=work)
