"""Public postal service (BCCI, Decision 45/2016/QĐ-TTg): shipments of dossiers and results.

Inbound shipments are recorded at intake (`workflows.intake.receive`, channel `postal`);
outbound ones by `return_result` with method `postal`, or beforehand by the desk here
(`record_outbound`), in which case `return_result` marks that shipment as handed over.

Shipment status moves only forward:
created → handed_over → in_transit → delivered | returned_to_sender (handed_over may go straight
to delivered or returned_to_sender). A shipment's times never touch the dossier's own times:
transit is not processing time, and an outbound delivery does not change `returned_at`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, select

from app.access import get_dossier, scoped
from app.auth.principal import Principal
from app.errors import Conflict, Invalid, NotFound
from app.models import Dossier, DossierStatus, Procedure, ReturnMethod, Shipment


class ShipmentStatus(StrEnum):
    created = "created"
    handed_over = "handed_over"
    in_transit = "in_transit"
    delivered = "delivered"
    returned_to_sender = "returned_to_sender"


class Direction(StrEnum):
    inbound = "inbound"
    outbound = "outbound"


ST = ShipmentStatus
NEXT_STATUSES: dict[str, frozenset[str]] = {
    ST.created: frozenset({ST.handed_over}),
    ST.handed_over: frozenset({ST.in_transit, ST.delivered, ST.returned_to_sender}),
    ST.in_transit: frozenset({ST.delivered, ST.returned_to_sender}),
    ST.delivered: frozenset(),
    ST.returned_to_sender: frozenset(),
}
STATUS_LABELS: dict[str, str] = {
    ST.created: "Đã tạo bưu gửi",
    ST.handed_over: "Đã bàn giao cho bưu chính",
    ST.in_transit: "Đang vận chuyển",
    ST.delivered: "Đã phát thành công",
    ST.returned_to_sender: "Chuyển hoàn",
}
DIRECTION_LABELS: dict[str, str] = {Direction.inbound: "Hồ sơ gửi đến", Direction.outbound: "Kết quả gửi đi"}
MAX_PAGE = 200


def _scoped_shipments(principal: Principal):  # noqa: ANN202
    return scoped(select(Shipment, Dossier.code).join(Dossier, Dossier.id == Shipment.dossier_id),  # type: ignore[arg-type]
                          principal)


def shipments_of_dossier(session: Session, code: str, principal: Principal) -> tuple[Dossier, list[Shipment]]:
    dossier = get_dossier(session, code, principal)
    rows = session.exec(select(Shipment).where(Shipment.dossier_id == dossier.id).order_by(Shipment.id)).all()  # type: ignore[arg-type]
    return dossier, list(rows)


def list_shipments(session: Session, principal: Principal, *, status: ShipmentStatus | None = None,
                   direction: Direction | None = None, before: int | None = None,
                   limit: int = 50) -> list[tuple[Shipment, str]]:
    """The agency's shipments, newest first, at most `limit` (≤ 200); `before`: id cursor."""
    query = _scoped_shipments(principal)
    if status is not None:
        query = query.where(Shipment.status == status)
    if direction is not None:
        query = query.where(Shipment.direction == direction)
    if before is not None:
        query = query.where(Shipment.id < before)  # type: ignore[operator]
    query = query.order_by(Shipment.id.desc()).limit(max(1, min(limit, MAX_PAGE)))  # type: ignore[union-attr]
    return [(shipment, code) for shipment, code in session.exec(query).all()]


def get_shipment(session: Session, shipment_id: int, principal: Principal, *,
                 for_update: bool = False) -> tuple[Shipment, str]:
    query = _scoped_shipments(principal).where(Shipment.id == shipment_id)
    if for_update:
        query = query.with_for_update(of=Shipment).execution_options(populate_existing=True)  # type: ignore[arg-type]
    row = session.exec(query).first()
    if row is None:
        raise NotFound(f"Không tìm thấy bưu gửi {shipment_id}.", code="shipment_not_found")
    return row[0], row[1]


def update_status(session: Session, shipment_id: int, principal: Principal, *, status: ShipmentStatus,
                  at: datetime | None, note: str | None, now: datetime) -> tuple[Shipment, str]:
    """Move a shipment forward (postal staff or desk). Repeating the current status changes nothing."""
    shipment, code = get_shipment(session, shipment_id, principal, for_update=True)
    when = at or now
    if when > now:
        raise Invalid("Thời điểm cập nhật bưu gửi không được ở tương lai.", code="shipment_time_in_future")
    if status == shipment.status:
        return shipment, code
    if status not in NEXT_STATUSES[shipment.status]:
        raise Conflict(f"Không thể chuyển bưu gửi từ '{STATUS_LABELS[shipment.status]}' sang '{STATUS_LABELS[status]}'.",
                       code="illegal_shipment_transition",
                       detail={"status": shipment.status, "allowed": sorted(NEXT_STATUSES[shipment.status])})
    if status == ST.handed_over or (shipment.handed_over_at is None and status != ST.created):
        shipment.handed_over_at = when
    if status == ST.delivered:
        if shipment.handed_over_at is not None and when < shipment.handed_over_at:
            raise Invalid("Thời điểm phát không được trước thời điểm bàn giao.", code="shipment_time_order")
        shipment.delivered_at = when
    shipment.status = status
    if note:
        shipment.note = note
    shipment.updated_at = now
    session.add(shipment)
    session.flush()
    return shipment, code


def record_outbound(session: Session, code: str, principal: Principal, *, tracking_number: str, carrier: str,
                    fee: int, fee_payer: str, address: str | None, note: str | None,
                    now: datetime) -> tuple[Shipment, str]:
    """Record the shipment carrying a dossier's result by post (desk), unless one is recorded already.

    Allowed once the result exists (status resolved), or for a result returned by post without a
    shipment on file. A later `return_result` by post marks this shipment as handed over.
    """
    dossier = get_dossier(session, code, principal, for_update=True)
    procedure = session.get(Procedure, dossier.procedure_id)
    assert procedure is not None
    if not procedure.postal_return_allowed:
        raise Invalid("Thủ tục này không trả kết quả qua dịch vụ bưu chính công ích.",
                      code="postal_return_not_allowed")
    returned_by_post = dossier.status == DossierStatus.returned and dossier.returned_via == ReturnMethod.postal
    if dossier.status != DossierStatus.resolved and not returned_by_post:
        raise Conflict("Chỉ gửi kết quả qua bưu chính khi hồ sơ đã có kết quả.", code="result_not_ready",
                       detail={"status": dossier.status})
    existing = session.exec(select(Shipment).where(Shipment.dossier_id == dossier.id,
                                                   Shipment.direction == Direction.outbound)).first()
    if existing is not None:
        raise Conflict("Kết quả của hồ sơ này đã có bưu gửi.", code="shipment_exists",
                       detail={"shipment_id": existing.id, "tracking_number": existing.tracking_number})
    clash = session.exec(select(Shipment).where(Shipment.carrier == carrier,
                                                Shipment.tracking_number == tracking_number)).first()
    if clash is not None:
        raise Conflict(f"Số hiệu bưu gửi {tracking_number} đã được dùng.", code="tracking_number_exists")
    shipment = Shipment(dossier_id=dossier.id, direction=Direction.outbound, carrier=carrier,
                        tracking_number=tracking_number, fee=fee, fee_payer=fee_payer,
                        status=ST.handed_over if returned_by_post else ST.created,
                        handed_over_at=dossier.returned_at if returned_by_post else None,
                        address=address or dossier.applicant_address, note=note, created_at=now, updated_at=now)
    session.add(shipment)
    session.flush()
    return shipment, dossier.code
