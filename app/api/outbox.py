"""Outbox administration: see what has not reached the portal (or the applicant) and send it again."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from app import outbox
from app.api.deps import ClockDep, SessionDep
from app.auth.deps import Admin
from app.fields import LocalDateTime
from app.models import OutboxMessage
from app.portal.resync import TOPIC as PORTAL_TOPIC
from app.portal.resync import requeue_portal

router = APIRouter(prefix="/api/v1/outbox", tags=["hàng đợi gửi"])
MessageId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class OutboxMessageOut(BaseModel):
    """A queued message, without its payload (which holds the applicant's personal data)."""

    id: int
    topic: str = Field(description="portal: Cổng DVCQG; notify: thông báo cho người nộp")
    kind: str
    dossier_code: str
    status: str = Field(description="pending | sent | dead")
    attempts: int
    next_attempt_at: LocalDateTime
    last_error: str | None
    created_at: LocalDateTime
    sent_at: LocalDateTime | None


class TopicBacklogOut(BaseModel):
    """Undelivered messages of one topic about the agency's dossiers, pending ones by age."""

    topic: str
    pending: int
    dead: int
    oldest_pending_at: LocalDateTime | None
    oldest_pending_age_seconds: int | None
    by_age: dict[str, int] = Field(description="Tin đang chờ theo tuổi: under_5m, 5m_1h, 1h_6h, 6h_24h, over_24h")


class OutboxPage(BaseModel):
    items: list[OutboxMessageOut]
    next_cursor: int | None = Field(description="Truyền vào `before` để lấy trang sau")
    backlog: list[TopicBacklogOut] = Field(default_factory=list,
                                           description="Tồn đọng theo chủ đề và theo tuổi (tin cũ nhất đang chờ)")


def present(message: OutboxMessage, code: str) -> OutboxMessageOut:
    assert message.id is not None
    return OutboxMessageOut(id=message.id, topic=message.topic, kind=message.kind, dossier_code=code,
                            status=message.status, attempts=message.attempts, next_attempt_at=message.next_attempt_at,
                            last_error=message.last_error, created_at=message.created_at, sent_at=message.sent_at)


@router.get("", response_model=OutboxPage, summary="Tin nhắn chưa gửi được (đang chờ hoặc đã loại)")
def list_messages(
    session: SessionDep, principal: Admin, clock: ClockDep,
    status: Annotated[Literal["pending", "dead"] | None, Query(description="Mặc định: cả hai")] = None,
    topic: Annotated[str | None, Query(max_length=16)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="Con trỏ trang (next_cursor)")] = None,
    limit: Annotated[int, Query(ge=1, le=outbox.MAX_PAGE)] = 50,
) -> OutboxPage:
    statuses = (status,) if status else (outbox.PENDING, outbox.DEAD)
    rows = outbox.list_messages(session, agency_id=principal.scope_agency_id, statuses=statuses, topic=topic,
                                before=before, limit=limit)
    items = [present(message, code) for message, code in rows]
    now = clock.now()
    backlog = [TopicBacklogOut(topic=b.topic, pending=b.pending, dead=b.dead, oldest_pending_at=b.oldest_pending_at,
                               oldest_pending_age_seconds=int((now - b.oldest_pending_at).total_seconds())
                               if b.oldest_pending_at else None, by_age=b.buckets)
               for b in outbox.backlog(session, agency_id=principal.scope_agency_id, now=now)]
    return OutboxPage(items=items, next_cursor=items[-1].id if len(items) == limit else None, backlog=backlog)


@router.post("/{message_id}/requeue", response_model=OutboxMessageOut,
             summary="Gửi lại một tin nhắn đã bị loại (dead → pending; Cổng DVCQG: đồng bộ lại toàn bộ hồ sơ)")
def requeue(message_id: MessageId, session: SessionDep, principal: Admin, clock: ClockDep) -> OutboxMessageOut:
    """A notification goes again as written. A portal message is replaced, with the dossier's messages
    waiting behind it, by one full re-sync of the dossier as it is now (the answer is that message)."""
    message, code = outbox.get_message(session, message_id, agency_id=principal.scope_agency_id)
    if message.topic == PORTAL_TOPIC:
        return present(requeue_portal(session, message_id, now=clock.now()), code)
    return present(outbox.requeue(session, message_id, now=clock.now()), code)
