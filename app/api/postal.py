"""Public postal service (BCCI) shipments: list, follow, record the result's shipment."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from app.api.deps import ClockDep, SessionDep
from app.auth.deps import DeskOfficer, Staff, require_roles
from app.auth.principal import Principal
from app.channels import postal
from app.channels.postal import DIRECTION_LABELS, STATUS_LABELS, Direction, ShipmentStatus
from app.fields import Int32, LocalDateTime
from app.models import Role, Shipment

router = APIRouter(prefix="/api/v1", tags=["bưu chính công ích"])
CodePath = Annotated[str, Path(max_length=64, description="Mã hồ sơ, ví dụ 000.00.17.H26-261123-0001")]
PostalOrDesk = Annotated[Principal, Depends(require_roles(Role.postal, Role.desk))]


class ShipmentOut(BaseModel):
    id: int
    dossier_code: str
    direction: str
    direction_label: str
    carrier: str
    tracking_number: str
    fee: int
    fee_payer: str
    status: str
    status_label: str
    allowed_statuses: list[str] = Field(description="Các trạng thái có thể chuyển tới")
    handed_over_at: LocalDateTime | None
    delivered_at: LocalDateTime | None
    address: str | None
    note: str | None
    created_at: LocalDateTime
    updated_at: LocalDateTime


class ShipmentPage(BaseModel):
    items: list[ShipmentOut]
    next_cursor: int | None = Field(description="Truyền vào `before` để lấy trang sau")


class ShipmentStatusIn(BaseModel):
    status: ShipmentStatus = Field(description="created → handed_over → in_transit → delivered | returned_to_sender")
    at: LocalDateTime | None = Field(default=None, description="Thời điểm thực tế (mặc định: bây giờ)")
    note: str | None = Field(default=None, max_length=1000)


class OutboundShipmentIn(BaseModel):
    tracking_number: str = Field(min_length=4, max_length=64, pattern=r"^[0-9A-Za-z\-]+$", description="Số hiệu bưu gửi")
    carrier: str = Field(default="VNPost", min_length=1, max_length=64)
    fee: Int32 = Field(default=0, ge=0, description="Cước phí (đồng)")
    fee_payer: Literal["applicant", "agency"] = "applicant"
    address: str | None = Field(default=None, max_length=500, description="Địa chỉ nhận (mặc định: địa chỉ người nộp)")
    note: str | None = Field(default=None, max_length=1000)


def present(shipment: Shipment, code: str) -> ShipmentOut:
    assert shipment.id is not None
    return ShipmentOut(
        id=shipment.id, dossier_code=code, direction=shipment.direction,
        direction_label=DIRECTION_LABELS.get(shipment.direction, shipment.direction), carrier=shipment.carrier,
        tracking_number=shipment.tracking_number, fee=shipment.fee, fee_payer=shipment.fee_payer,
        status=shipment.status, status_label=STATUS_LABELS.get(shipment.status, shipment.status),
        allowed_statuses=sorted(postal.NEXT_STATUSES.get(shipment.status, frozenset())),
        handed_over_at=shipment.handed_over_at, delivered_at=shipment.delivered_at, address=shipment.address,
        note=shipment.note, created_at=shipment.created_at, updated_at=shipment.updated_at)


@router.get("/dossiers/{code}/shipments", response_model=list[ShipmentOut], summary="Bưu gửi của một hồ sơ")
def dossier_shipments(code: CodePath, session: SessionDep, principal: Staff) -> list[ShipmentOut]:
    dossier, shipments = postal.shipments_of_dossier(session, code, principal)
    return [present(s, dossier.code) for s in shipments]


@router.post("/dossiers/{code}/shipments", response_model=ShipmentOut, status_code=201,
             summary="Ghi nhận bưu gửi trả kết quả qua bưu chính công ích")
def record_outbound(code: CodePath, data: OutboundShipmentIn, session: SessionDep, principal: DeskOfficer,
                    clock: ClockDep) -> ShipmentOut:
    shipment, dossier_code = postal.record_outbound(
        session, code, principal, tracking_number=data.tracking_number, carrier=data.carrier, fee=data.fee,
        fee_payer=data.fee_payer, address=data.address, note=data.note, now=clock.now())
    return present(shipment, dossier_code)


@router.get("/shipments", response_model=ShipmentPage, summary="Danh sách bưu gửi của cơ quan")
def list_shipments(
    session: SessionDep, principal: Staff,
    status: ShipmentStatus | None = None,
    direction: Direction | None = None,
    before: Annotated[int | None, Query(ge=1, le=2_147_483_647, description="Con trỏ trang (next_cursor)")] = None,
    limit: Annotated[int, Query(ge=1, le=postal.MAX_PAGE)] = 50,
) -> ShipmentPage:
    rows = postal.list_shipments(session, principal, status=status, direction=direction, before=before, limit=limit)
    items = [present(s, code) for s, code in rows]
    return ShipmentPage(items=items, next_cursor=items[-1].id if len(items) == limit else None)


@router.patch("/shipments/{shipment_id}", response_model=ShipmentOut, summary="Cập nhật trạng thái bưu gửi")
def update_shipment(shipment_id: Annotated[int, Path(ge=1, le=2_147_483_647)], data: ShipmentStatusIn, session: SessionDep,
                    principal: PostalOrDesk, clock: ClockDep) -> ShipmentOut:
    shipment, code = postal.update_status(session, shipment_id, principal, status=data.status, at=data.at,
                                          note=data.note, now=clock.now())
    return present(shipment, code)
