"""The feedback scan: due-soon and overdue alerts on unanswered feedback, run by the scheduler
(`feedback_scan`), the same way as the dossiers' deadline scan (app/sla/scan.py):

* it reads only feedback whose `next_alert_at` has come (a partial index), in bounded batches,
  each in a short transaction that first takes the advisory lock `motcua.feedback_scan` (one
  replica at a time; the others return at once) and, on PostgreSQL, locks its rows with FOR
  UPDATE SKIP LOCKED (a feedback being answered right now waits for the next run);
* it inserts the alerts with INSERT ... ON CONFLICT DO NOTHING on `uq_feedback_alerts_once`
  (feedback, kind, deadline, recipient): a crash, a restart or a second replica never repeats one;
* a feedback found already overdue (scheduler down) gets the overdue alert, not the stale due-soon;
* `next_alert_at` moves to the next threshold ahead, or NULL (answered, or both raised).

Recipients: the assignee (when active) and the leaders of the agency (the Department itself, not
its divisions).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from app.channels import messages
from app.feedback.models import Feedback, FeedbackAlert
from app.models import Procedure, Role, User
from app.settings import Settings
from app.sla.scan import bulk_insert, due_batches

log = logging.getLogger(__name__)

FEEDBACK_SCAN_LOCK = "motcua.feedback_scan"
DUE_SOON = "feedback_due_soon"
OVERDUE = "feedback_overdue"
_JUST_AFTER = timedelta(microseconds=1)
IDENTITY = ["feedback_id", "kind", "deadline_at", "recipient_id"]  # uq_feedback_alerts_once


def thresholds(feedback: Feedback) -> list[tuple[str, datetime]]:
    """(kind, fires at) of an unanswered feedback; the deadline of both is `due_at`."""
    if feedback.answered_at is not None:
        return []
    return [(DUE_SOON, feedback.due_soon_at), (OVERDUE, feedback.due_at + _JUST_AFTER)]


def reached(feedback: Feedback, now: datetime) -> list[str]:
    kinds = [kind for kind, fires in thresholds(feedback) if fires <= now]
    return [OVERDUE] if OVERDUE in kinds else kinds


def next_alert(feedback: Feedback, now: datetime) -> datetime | None:
    ahead = [fires for _, fires in thresholds(feedback) if fires > now]
    return min(ahead) if ahead else None


@dataclass
class FeedbackScanStats:
    batches: int = 0
    feedback: int = 0
    alerts: int = 0
    locked_out: bool = False


def _leaders(session: Session, agency_ids: set[int]) -> tuple[dict[int, set[int]], set[int]]:
    rows = session.exec(select(User.id, User.agency_id, User.roles).where(User.is_active)).all()
    leaders: dict[int, set[int]] = {}
    for user_id, agency_id, roles in rows:
        if agency_id in agency_ids and Role.leader in (roles or []):
            leaders.setdefault(agency_id, set()).add(user_id)
    return leaders, {row[0] for row in rows}


def _process(session: Session, batch: list[Feedback], now: datetime) -> int:
    leaders, active = _leaders(session, {f.agency_id for f in batch})
    names = dict(session.exec(select(Procedure.id, Procedure.name).where(
        Procedure.id.in_({f.procedure_id for f in batch if f.procedure_id} or {0}))).all())  # type: ignore[union-attr]
    rows = []
    for feedback in batch:
        recipients = set(leaders.get(feedback.agency_id, set()))
        if feedback.assignee_id in active:
            recipients.add(feedback.assignee_id)  # type: ignore[arg-type]
        subject = names.get(feedback.procedure_id, "phản ánh chung") if feedback.procedure_id else "phản ánh chung"
        for kind in reached(feedback, now):
            text = messages.feedback_alert_text(kind, reference=feedback.reference, subject=subject,
                                                deadline=feedback.due_at)
            rows += [{"feedback_id": feedback.id, "kind": kind, "deadline_at": feedback.due_at, "recipient_id": r,
                      "message": text, "created_at": now} for r in sorted(recipients)]
        feedback.next_alert_at = next_alert(feedback, now)
        session.add(feedback)
    session.flush()
    return bulk_insert(session, FeedbackAlert.__table__, rows, conflict=IDENTITY)  # type: ignore[attr-defined]


def scan_feedback(factory: sessionmaker[Session], *, now: datetime, settings: Settings) -> FeedbackScanStats:
    """One run (idempotent; safe in several replicas at once)."""
    stats = FeedbackScanStats()
    query = select(Feedback).where(Feedback.next_alert_at <= now).order_by(Feedback.next_alert_at)  # type: ignore[operator, arg-type]
    for session, batch in due_batches(factory, FEEDBACK_SCAN_LOCK, query, settings=settings, stats=stats):
        stats.alerts += _process(session, batch, now)
        stats.batches += 1
        stats.feedback += len(batch)
    if stats.feedback:
        log.info("feedback scan", extra={"fields": {"feedback": stats.feedback, "alerts": stats.alerts}})
    return stats
