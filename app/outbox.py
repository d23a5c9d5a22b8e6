"""The one outbox engine: deliver `outbox` rows of one topic through a handler.

Every state change writes its outbox rows in the same transaction as the change (see
`app.effects.outbox`). A dispatcher (scheduler process) then calls
`dispatch_pending(sessionmaker, topic=..., handler=..., now=...)`:

* rows with `topic == topic`, `status == "pending"`, `next_attempt_at <= now`, oldest id first;
* per-dossier order: a message is never sent while an older message of the same dossier and
  topic is still pending; with `strict_order=True` (the portal) a dead older message blocks the
  newer ones too, until it is requeued or its chain is superseded by a re-sync;
* each message is claimed and sent in its own short transaction; on PostgreSQL the claim is
  `SELECT ... FOR UPDATE SKIP LOCKED`, so dispatchers running in several replicas never send the
  same row twice. On SQLite, where any transaction holds the whole database's write lock, the
  claim is one `UPDATE ... RETURNING` that leases the row (`next_attempt_at` pushed `LEASE` ahead),
  the handler runs outside any transaction and the result is settled afterwards, so API writes
  never wait for a network call (a crash in between: the row is tried again after the lease);
* success → `sent` (or `superseded`, when the handler replaced the message and its dossier's later
  ones by a re-sync); `RetryableError` (or any unexpected exception) → retried later with
  exponential backoff capped at `max_delay_seconds`, and jitter; dead after `max_attempts`
  (`None`: never); `PermanentError` → dead at once.

Handlers must raise exceptions whose text carries no personal data: it is stored in
`last_error` and shown to administrators.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import aliased, sessionmaker
from sqlmodel import Session

from app.errors import Conflict, NotFound
from app.models import OutboxMessage

log = logging.getLogger(__name__)

PENDING = "pending"
SENT = "sent"
DEAD = "dead"
SUPERSEDED = "superseded"  # replaced, with the dossier's later messages, by a full re-sync
_ERROR_MAX = 2000
LEASE = timedelta(minutes=5)  # SQLite: how long a claimed row waits before another try may take it


class RetryableError(Exception):
    """Transient failure (5xx, timeout, connection refused): try again later."""


class PermanentError(Exception):
    """The message itself is bad (4xx, error_code != 0): dead-letter it."""


Handler = Callable[[Session, OutboxMessage], None]


@dataclass
class DispatchStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0  # claimed elsewhere, no longer due, or waiting behind an older message

    @property
    def processed(self) -> int:
        return self.sent + self.retried + self.dead

    def __iadd__(self, other: DispatchStats) -> DispatchStats:
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.skipped += other.skipped
        return self


def backoff_delay(attempts: int, *, base_delay_seconds: float, max_delay_seconds: float,
                  rng: random.Random) -> timedelta:
    """Delay before the next try after `attempts` failed ones: exponential with jitter 0.5–1.5, never
    above `max_delay_seconds` (the ceiling is a promise: a portal back up is tried within it)."""
    exponent = min(max(attempts - 1, 0), 62)  # no float overflow on absurd counts
    delay = min(max_delay_seconds, base_delay_seconds * 2.0 ** exponent)
    return timedelta(seconds=min(max_delay_seconds, delay * rng.uniform(0.5, 1.5)))


# Built once: constructing an aliased entity per query costs more than running the query.
_OLDER = aliased(OutboxMessage, name="older")
_OLDER_SAME = and_(_OLDER.dossier_id == OutboxMessage.dossier_id, _OLDER.topic == OutboxMessage.topic,
                   _OLDER.id < OutboxMessage.id)
_OLDER_PENDING = and_(_OLDER_SAME, _OLDER.status == PENDING)
_OLDER_DEAD = and_(_OLDER_SAME, _OLDER.status == DEAD)
# Per-dossier order, checked inside the claim: no older pending row of the same dossier and topic
# (strict order: no older pending or dead row).
_FIRST_IN_LINE = ~exists().where(_OLDER_PENDING)
_FIRST_IN_LINE_STRICT = ~exists().where(and_(_OLDER_SAME, _OLDER.status.in_((PENDING, DEAD))))


def _first_in_line(strict: bool):  # noqa: ANN202
    return _FIRST_IN_LINE_STRICT if strict else _FIRST_IN_LINE


def _candidates(session: Session, *, topic: str, now: datetime, batch: int,
                strict: bool = False) -> list[tuple[int, int | None]]:
    """Ids of due pending rows, oldest first, leaving out rows certainly blocked this round.

    A row whose dossier has an older pending row that is not yet due (or, in strict order, an
    older dead row) cannot go now; leaving it out keeps a dossier stuck in backoff from filling
    the batch and starving the others.
    """
    blocked = exists().where(and_(_OLDER_PENDING, _OLDER.next_attempt_at > now))
    if strict:
        blocked = or_(blocked, exists().where(_OLDER_DEAD))
    stmt = (select(OutboxMessage.id, OutboxMessage.dossier_id)
            .where(OutboxMessage.topic == topic, OutboxMessage.status == PENDING,
                   OutboxMessage.next_attempt_at <= now, ~blocked)
            .order_by(OutboxMessage.id).limit(batch))
    return [(row[0], row[1]) for row in session.execute(stmt)]


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:_ERROR_MAX]


def _settle(message: OutboxMessage, error: BaseException | None, *, topic: str, now: datetime,
            max_attempts: int | None, base_delay_seconds: float, max_delay_seconds: float, rng: random.Random) -> str:
    """Apply the outcome of one try to the row; returns sent | retried | dead."""
    if error is None:
        if message.status != SUPERSEDED:  # a handler that re-synced the dossier marked it so
            message.status = SENT
        message.sent_at = now
        return "sent"
    message.attempts += 1
    message.last_error = _error_text(error)
    if isinstance(error, PermanentError):
        message.status = DEAD
    else:  # RetryableError, or a bug in the handler: try again later
        if not isinstance(error, RetryableError):
            log.error("outbox handler failed unexpectedly: %s", type(error).__name__,
                      extra={"fields": {"outbox_id": message.id, "topic": topic}})
        if max_attempts is None or message.attempts < max_attempts:
            message.next_attempt_at = now + backoff_delay(
                message.attempts, base_delay_seconds=base_delay_seconds, max_delay_seconds=max_delay_seconds,
                rng=rng)
            return "retried"
        message.status = DEAD
    log.warning("outbox message dead-lettered",
                extra={"fields": {"outbox_id": message.id, "topic": topic, "kind": message.kind,
                                  "attempts": message.attempts}})
    return "dead"


def _claim_query(message_id: int, topic: str, now: datetime, strict: bool):  # noqa: ANN202
    """The row, if it is still pending, due, and first in line for its dossier."""
    return (select(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.topic == topic,
                   OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now, _first_in_line(strict))
            .execution_options(populate_existing=True))


def _dispatch_locked(factory: sessionmaker[Session], message_id: int, *, topic: str, handler: Handler,
                     now: datetime, strict: bool = False, **retry: Any) -> str:
    """PostgreSQL: claim with FOR UPDATE SKIP LOCKED and send in the same short transaction."""
    with factory() as session:
        try:
            message = session.execute(_claim_query(message_id, topic, now, strict)
                                      .with_for_update(skip_locked=True)).scalars().first()
            if message is None:  # sent meanwhile, being sent by another dispatcher, or behind an older row
                session.rollback()
                return "skipped"
            error: BaseException | None = None
            try:
                # A savepoint: whatever the handler wrote is undone if it fails; the row lock stays.
                with session.begin_nested():
                    handler(session, message)
            except Exception as exc:  # noqa: BLE001 - classified in _settle
                error = exc
            outcome = _settle(message, error, topic=topic, now=now, **retry)
            session.add(message)
            session.commit()
            return outcome
        except BaseException:
            session.rollback()
            raise


def _dispatch_leased(factory: sessionmaker[Session], message_id: int, *, topic: str, handler: Handler,
                     now: datetime, strict: bool = False, **retry: Any) -> str:
    """SQLite: a transaction there holds the whole database's write lock, so it must never span the
    handler's network call. Claim in one short statement that leases the row (`next_attempt_at`
    pushed `LEASE` ahead; the row stays pending, so it still blocks newer rows of its dossier),
    send outside any transaction, then settle; the handler's own writes commit with the settlement."""
    with factory() as session:
        try:
            claim = (update(OutboxMessage)
                     .where(OutboxMessage.id == message_id, OutboxMessage.topic == topic,
                            OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now,
                            _first_in_line(strict))
                     .values(next_attempt_at=now + LEASE).returning(OutboxMessage)
                     .execution_options(synchronize_session=False))
            message = session.execute(claim).scalars().first()
            if message is None:  # sent meanwhile, claimed by another dispatcher, or behind an older row
                session.rollback()
                return "skipped"
            session.commit()  # the lease is taken; the next statement opens a new transaction
            error: BaseException | None = None
            try:
                handler(session, message)
                session.flush()
            except Exception as exc:  # noqa: BLE001 - classified in _settle
                error = exc
                session.rollback()  # undo the handler's writes; the message reloads on access
            outcome = _settle(message, error, topic=topic, now=now, **retry)
            session.add(message)
            session.commit()
            return outcome
        except BaseException:
            session.rollback()
            raise


def dispatch_pending(sessionmaker: sessionmaker[Session], *, topic: str, handler: Handler, now: datetime,
                     batch: int = 100, max_attempts: int | None = 10, base_delay_seconds: float = 30,
                     max_delay_seconds: float = 3600, rng: random.Random | None = None,
                     strict_order: bool = False) -> DispatchStats:
    """Send up to `batch` due messages of `topic`, oldest first, each in its own transaction.

    `max_attempts=None`: a transient failure is retried for ever (backoff capped at
    `max_delay_seconds`). `strict_order`: a dead message holds its dossier's later messages back."""
    rng = rng or random.Random()
    stats = DispatchStats()
    with sessionmaker() as session:
        locking = session.get_bind().dialect.name == "postgresql"
        ids = _candidates(session, topic=topic, now=now, batch=batch, strict=strict_order)
        session.rollback()
    dispatch_one = _dispatch_locked if locking else _dispatch_leased
    retry = dict(max_attempts=max_attempts, base_delay_seconds=base_delay_seconds,
                 max_delay_seconds=max_delay_seconds, rng=rng, strict=strict_order)
    stalled: set[int] = set()  # dossiers whose older message failed or waits: skip the rest this round
    for message_id, dossier_id in ids:
        if dossier_id is not None and dossier_id in stalled:
            stats.skipped += 1
            continue
        outcome = dispatch_one(sessionmaker, message_id, topic=topic, handler=handler, now=now, **retry)
        if outcome == "sent":
            stats.sent += 1
        elif outcome == "dead":
            stats.dead += 1
            if strict_order and dossier_id is not None:
                stalled.add(dossier_id)
        else:
            if outcome == "retried":
                stats.retried += 1
            else:
                stats.skipped += 1
            if dossier_id is not None:
                stalled.add(dossier_id)
    return stats


def requeue(session: Session, message_id: int, *, now: datetime) -> OutboxMessage:
    """Put a dead message back in the queue (admin action): pending, due now, attempts from zero."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("Không tìm thấy tin nhắn trong hàng đợi gửi.", code="outbox_not_found")
    if message.status != DEAD:
        raise Conflict("Chỉ gửi lại được tin nhắn đã bị loại (dead).", code="outbox_not_dead",
                       detail={"status": message.status})
    message.status = PENDING
    message.attempts = 0
    message.next_attempt_at = now
    session.add(message)
    session.flush()
    return message


# --- administration (reads scoped to an agency through the message's dossier) -------------------

MAX_PAGE = 200


def _scoped(query, agency_id: int):  # noqa: ANN001, ANN202
    from app.models import Dossier

    return (query.join(Dossier, Dossier.id == OutboxMessage.dossier_id)
            .where(or_(Dossier.agency_id == agency_id, Dossier.receiving_agency_id == agency_id)))


def list_messages(session: Session, *, agency_id: int, statuses: tuple[str, ...] = (PENDING, DEAD),
                  topic: str | None = None, before: int | None = None,
                  limit: int = 50) -> list[tuple[OutboxMessage, str]]:
    """Messages about the agency's dossiers, newest first, with each dossier's code."""
    from app.models import Dossier

    query = _scoped(select(OutboxMessage, Dossier.code), agency_id).where(OutboxMessage.status.in_(statuses))
    if topic is not None:
        query = query.where(OutboxMessage.topic == topic)
    if before is not None:
        query = query.where(OutboxMessage.id < before)
    query = query.order_by(OutboxMessage.id.desc()).limit(max(1, min(limit, MAX_PAGE)))
    return [(row[0], row[1]) for row in session.execute(query).all()]


def get_message(session: Session, message_id: int, *, agency_id: int) -> tuple[OutboxMessage, str]:
    """One message about one of the agency's dossiers; NotFound otherwise (another agency's included)."""
    from app.models import Dossier

    query = _scoped(select(OutboxMessage, Dossier.code), agency_id).where(OutboxMessage.id == message_id)
    row = session.execute(query).first()
    if row is None:
        raise NotFound("Không tìm thấy tin nhắn trong hàng đợi gửi.", code="outbox_not_found")
    return row[0], row[1]


# --- backlog by age (what has waited, and how long) ------------------------------------------------

# Upper bounds of the age buckets of pending messages; the last bucket is open.
BACKLOG_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("under_5m", timedelta(minutes=5)), ("5m_1h", timedelta(hours=1)), ("1h_6h", timedelta(hours=6)),
    ("6h_24h", timedelta(hours=24)), ("over_24h", None))


@dataclass
class TopicBacklog:
    topic: str
    pending: int
    dead: int
    oldest_pending_at: datetime | None
    buckets: dict[str, int]  # pending messages by age (now - created_at), keys of BACKLOG_BUCKETS


def backlog(session: Session, *, agency_id: int, now: datetime) -> list[TopicBacklog]:
    """Pending and dead messages about the agency's dossiers, per topic, pending ones by age: one
    aggregate statement."""
    from sqlalchemy import case, func

    pending = OutboxMessage.status == PENDING
    columns = [OutboxMessage.topic,
               func.sum(case((pending, 1), else_=0)),
               func.sum(case((OutboxMessage.status == DEAD, 1), else_=0)),
               func.min(case((pending, OutboxMessage.created_at), else_=None),
                        type_=OutboxMessage.__table__.c.created_at.type)]
    lower: datetime | None = None  # created after this: younger than the previous bound
    for _name, bound in BACKLOG_BUCKETS:
        upper = now - bound if bound is not None else None  # created after `upper`: younger than bound
        conds = [pending]
        if upper is not None:
            conds.append(OutboxMessage.created_at > upper)
        if lower is not None:
            conds.append(OutboxMessage.created_at <= lower)
        columns.append(func.sum(case((and_(*conds), 1), else_=0)))
        lower = upper
    query = (_scoped(select(*columns), agency_id)
             .where(OutboxMessage.status.in_((PENDING, DEAD))).group_by(OutboxMessage.topic)
             .order_by(OutboxMessage.topic))
    result = []
    for row in session.execute(query).all():
        counts = [int(v or 0) for v in row[4:]]
        result.append(TopicBacklog(topic=row[0], pending=int(row[1] or 0), dead=int(row[2] or 0),
                                   oldest_pending_at=row[3],
                                   buckets={name: n for (name, _), n in zip(BACKLOG_BUCKETS, counts, strict=True)}))
    return result
