from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from app.api.deps import ClockDep, SessionDep
from app.auth.deps import Staff
from app.channels.messages import ALERT_LABELS
from app.fields import LocalDateTime
from app.models import Alert
from app.sla import alerts as service

router = APIRouter(prefix="/api/v1/alerts", tags=["cảnh báo"])

AlertKind = Literal["step_due_soon", "step_overdue", "due_soon", "overdue", "apology_missing", "check_overdue"]


class AlertOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    dossier_code: str
    deadline_at: LocalDateTime = Field(description="Thời hạn mà cảnh báo nói tới (hạn bước, hạn trả, hoặc đầu ngày nhắc)")
    message: str
    recipient: str
    created_at: LocalDateTime
    acked_at: LocalDateTime | None


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: int | None = Field(description="Truyền vào `before` để lấy trang sau")


def _out(alert: Alert, code: str, recipient: str) -> AlertOut:
    assert alert.id is not None
    return AlertOut(id=alert.id, kind=alert.kind, kind_label=ALERT_LABELS.get(alert.kind, alert.kind),
                    dossier_code=code, deadline_at=alert.deadline_at, message=alert.message, recipient=recipient,
                    created_at=alert.created_at, acked_at=alert.acked_at)


@router.get("", response_model=AlertPage, summary="Cảnh báo hạn xử lý: của tôi, hoặc của cả cơ quan (lãnh đạo)")
def list_alerts(
    session: SessionDep, principal: Staff,
    scope: Annotated[Literal["mine", "agency"], Query(description="mine: gửi cho tôi; agency: cả cơ quan")] = "mine",
    kind: AlertKind | None = None,
    acked: Annotated[bool | None, Query(description="true: đã xem; false: chưa xem")] = None,
    dossier: Annotated[str | None, Query(max_length=64, description="Mã hồ sơ")] = None,
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Con trỏ trang (next_cursor)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AlertPage:
    rows, cursor = service.list_alerts(session, principal, scope=scope, kind=kind, acked=acked, dossier_code=dossier,
                                       before=before, limit=limit)
    return AlertPage(items=[_out(*row) for row in rows], next_cursor=cursor)


@router.post("/{alert_id}/ack", response_model=AlertOut, summary="Đánh dấu đã xem một cảnh báo gửi cho tôi")
def ack(alert_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, principal: Staff,
        clock: ClockDep) -> AlertOut:
    return _out(*service.ack(session, alert_id, principal, now=clock.now()))
