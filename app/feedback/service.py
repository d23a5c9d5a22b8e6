"""Citizens' feedback (phản ánh, kiến nghị) and satisfaction ratings: the domain rules.

* Feedback about a dossier comes with a token from a lookup (code + secret; app/feedback/links.py);
  general feedback (a procedure or an agency) with the sender's name and phone. Both are rate-limited
  per address (`count_submission`, its own transaction: a refused attempt stays counted).
* The agency answers within `feedback_answer_days` working days of its own calendar; the feedback
  scan (app/feedback/scan.py) raises due-soon and overdue alerts until it is answered.
* Staff see only their agency's feedback (another agency's: 404), assign it, answer it; the answer
  goes to the citizen by SMS / e-mail (the notify outbox) and, for a dossier, shows on /tra-cuu.
* A rating: once per dossier (409 the second time), only once the result was returned (409 before).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from app import effects
from app.access import sees_personal_data
from app.auth.principal import Principal, scope_agency_of
from app.channels import messages
from app.db import transaction
from app.errors import Conflict, Invalid, NotFound, NotPermitted, RateLimited
from app.feedback.models import Feedback, FeedbackAlert, SatisfactionRating
from app.feedback.schemas import STATUS_LABELS, FeedbackOut, GeneralFeedbackIn, RatingIn
from app.models import Agency, Dossier, DossierStatus, Procedure, Role, User
from app.settings import Settings
from app.sla import alerts as inbox
from app.sla.service import calendar_for
from app.web import ratelimit

log = logging.getLogger("motcua.feedback")

DOSSIER, GENERAL = "dossier", "general"
NEW, ASSIGNED, ANSWERED = "new", "assigned", "answered"
HANDLERS = (Role.desk, Role.specialist, Role.leader)  # who may be given a feedback to answer
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


# --- receiving ---------------------------------------------------------------------------------

def _reference(now: datetime, settings: Settings) -> str:
    from zoneinfo import ZoneInfo

    day = now.astimezone(ZoneInfo(settings.timezone))
    return f"PA-{day:%y%m%d}-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))


def deadline(session: Session, agency_id: int, received_at: datetime, settings: Settings) -> tuple[datetime, datetime]:
    """(due, due soon): `feedback_answer_days` working days on the agency's calendar; due soon one
    alert window (`due_soon_window_minutes`) before, never before it arrived."""
    cal = calendar_for(session, agency_id, settings)
    due = cal.add_working_minutes(received_at, settings.feedback_answer_days * cal.minutes_per_day)
    soon = max(cal.subtract_working_minutes(due, settings.due_soon_window_minutes), received_at)
    return due, soon


def _new(session: Session, *, kind: str, agency_id: int, content: str, now: datetime, settings: Settings,
         dossier_id: int | None = None, procedure_id: int | None = None, contact: dict | None = None) -> Feedback:
    due, soon = deadline(session, agency_id, now, settings)
    feedback = Feedback(reference=_reference(now, settings), kind=kind, agency_id=agency_id, dossier_id=dossier_id,
                        procedure_id=procedure_id, contact=contact or {}, content=content, status=NEW,
                        received_at=now, limit_days=settings.feedback_answer_days, due_at=due, due_soon_at=soon,
                        next_alert_at=soon)
    session.add(feedback)
    session.flush()
    log.info("feedback received", extra={"fields": {"feedback_id": feedback.id, "kind": kind, "agency_id": agency_id}})
    return feedback


def count_submission(factory: sessionmaker[Session], *, client: str, now: datetime, settings: Settings) -> None:
    """Count one feedback from `client` (its own transaction); 429 beyond the hourly limit."""
    client_hash = ratelimit.fingerprint("addr", client, settings)
    with transaction(factory) as session:
        hit = ratelimit.hit(session, f"feedback:addr:{client_hash}", limit=settings.feedback_rate_per_address_per_hour,
                            window_seconds=ratelimit.HOUR, now=now)
    if hit.exceeded:
        log.warning("feedback rate limited", extra={"fields": {"client": client_hash, "count": hit.count}})
        minutes = (hit.retry_after + 59) // 60
        raise RateLimited(f"Ông/bà đã gửi quá nhiều phản ánh. Vui lòng thử lại sau {minutes} phút.",
                          detail={"retry_after": hit.retry_after}, headers={"Retry-After": str(hit.retry_after)})


def submit_general(session: Session, data: GeneralFeedbackIn, *, now: datetime, settings: Settings) -> Feedback:
    procedure = None
    if data.procedure_code:
        procedure = session.exec(select(Procedure).where(Procedure.code == data.procedure_code)).first()
        if procedure is None:
            raise Invalid("Không có thủ tục với mã đã chọn.", code="procedure_not_found")
        agency_id = procedure.agency_id
    elif data.agency_code:
        agency = session.exec(select(Agency).where(Agency.code == data.agency_code)).first()
        if agency is None:
            raise Invalid("Không có cơ quan với mã đã chọn.", code="agency_not_found")
        agency_id = scope_agency_of(agency)
    else:
        raise Invalid("Vui lòng chọn thủ tục hoặc cơ quan được phản ánh.", code="feedback_subject_required")
    contact = {"name": data.full_name, "phone": data.phone, "email": data.email}
    return _new(session, kind=GENERAL, agency_id=agency_id, content=data.content, now=now, settings=settings,
                procedure_id=procedure.id if procedure else None, contact=contact)


def submit_for_dossier(session: Session, dossier_id: int, content: str, *, now: datetime,
                       settings: Settings) -> Feedback:
    dossier = session.get(Dossier, dossier_id)
    if dossier is None:
        raise NotFound(code="link_expired")
    return _new(session, kind=DOSSIER, agency_id=dossier.agency_id, content=content, now=now, settings=settings,
                dossier_id=dossier.id, procedure_id=dossier.procedure_id)


def agency_name(session: Session, feedback: Feedback) -> str:
    agency = session.get(Agency, feedback.agency_id)
    return agency.name if agency else ""


# --- staff -------------------------------------------------------------------------------------

def _scoped(query, principal: Principal):  # noqa: ANN001, ANN202
    return query.where(Feedback.agency_id == principal.scope_agency_id)


def get(session: Session, feedback_id: int, principal: Principal, *, for_update: bool = False) -> Feedback:
    query = _scoped(select(Feedback).where(Feedback.id == feedback_id), principal)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    feedback = session.exec(query).first()
    if feedback is None:
        raise NotFound("Không tìm thấy phản ánh, kiến nghị.", code="feedback_not_found")
    return feedback


def queue(session: Session, principal: Principal, *, status: str | None = None, mine: bool = False,
          overdue_at: datetime | None = None, before: int | None = None, limit: int = 50) -> tuple[list[Feedback], int | None]:
    """The agency's feedback, newest first; `overdue_at`: only the unanswered ones past due then."""
    query = _scoped(select(Feedback), principal)
    if status:
        query = query.where(Feedback.status == status)
    if mine:
        query = query.where(Feedback.assignee_id == principal.id)
    if overdue_at is not None:
        query = query.where(Feedback.status != ANSWERED, Feedback.due_at < overdue_at)
    if before:
        query = query.where(Feedback.id < before)
    rows = list(session.exec(query.order_by(Feedback.id.desc()).limit(limit + 1)).all())  # type: ignore[union-attr]
    cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], cursor


def assign(session: Session, feedback_id: int, principal: Principal, username: str, *, now: datetime) -> Feedback:
    feedback = get(session, feedback_id, principal, for_update=True)
    if feedback.status == ANSWERED:
        raise Conflict("Phản ánh đã được trả lời.", code="feedback_answered")
    row = session.exec(select(User, Agency).join(Agency, Agency.id == User.agency_id)
                       .where(User.username == username)).first()
    if row is None or not row[0].is_active or scope_agency_of(row[1]) != principal.scope_agency_id \
            or not set(row[0].roles or []) & {str(r) for r in HANDLERS}:
        raise Invalid("Cán bộ được giao không thuộc cơ quan hoặc không xử lý phản ánh.", code="assignee_invalid")
    feedback.assignee_id, feedback.assigned_at, feedback.status = row[0].id, now, ASSIGNED
    session.add(feedback)
    session.flush()
    return feedback


def answer(session: Session, feedback_id: int, principal: Principal, text: str, *, now: datetime,
           settings: Settings) -> Feedback:
    """Answer once: the assignee, a leader, or (not yet assigned) any handler of the agency. The
    answer goes to the citizen through the notify outbox (sealed at rest)."""
    feedback = get(session, feedback_id, principal, for_update=True)
    if feedback.status == ANSWERED:
        raise Conflict("Phản ánh đã được trả lời.", code="feedback_answered")
    if feedback.assignee_id not in (None, principal.id) and not principal.has(Role.leader):
        raise NotPermitted("Chỉ cán bộ được giao hoặc lãnh đạo trả lời phản ánh này.", code="feedback_not_assignee")
    feedback.answer, feedback.answered_at, feedback.answered_by_id = text, now, principal.id
    feedback.status, feedback.next_alert_at = ANSWERED, None
    session.add(feedback)
    dossier = session.get(Dossier, feedback.dossier_id) if feedback.dossier_id else None
    phone, email = ((dossier.applicant_phone, dossier.applicant_email) if dossier
                    else (feedback.contact.get("phone"), feedback.contact.get("email")))
    if phone or email:
        subject, body = messages.feedback_answered(reference=feedback.reference, answer=text,
                                                   dossier_code=dossier.code if dossier else None)
        effects.outbox(session, dossier, topic="notify", kind="feedback_answered", now=now,
                       payload={"to_email": email, "to_phone": phone, "subject": subject, "text": body})
    session.flush()
    return feedback


def present(session: Session, feedback: Feedback, principal: Principal, *, now: datetime) -> FeedbackOut:
    dossier = session.get(Dossier, feedback.dossier_id) if feedback.dossier_id else None
    procedure = session.get(Procedure, feedback.procedure_id) if feedback.procedure_id else None
    users = {u.id: u.username for u in session.exec(select(User).where(
        User.id.in_([i for i in (feedback.assignee_id, feedback.answered_by_id) if i]))).all()}  # type: ignore[union-attr]
    if dossier is not None:
        name, phone = dossier.applicant_name, dossier.applicant_phone
    else:
        name, phone = feedback.contact.get("name"), feedback.contact.get("phone")
    if not sees_personal_data(principal):
        name, phone = None, None
    answered = feedback.answered_at
    return FeedbackOut(
        id=feedback.id, reference=feedback.reference, kind=feedback.kind,  # type: ignore[arg-type]
        dossier_code=dossier.code if dossier else None, procedure_code=procedure.code if procedure else None,
        procedure_name=procedure.name if procedure else None, sender_name=name, sender_phone=phone,
        content=feedback.content, status=feedback.status, status_label=STATUS_LABELS[feedback.status],
        received_at=feedback.received_at, limit_days=feedback.limit_days, due_at=feedback.due_at,
        due_soon_at=feedback.due_soon_at, overdue=(answered or now) > feedback.due_at,
        assignee=users.get(feedback.assignee_id), assigned_at=feedback.assigned_at, answer=feedback.answer,
        answered_at=answered, answered_by=users.get(feedback.answered_by_id),
        answered_on_time=None if answered is None else answered <= feedback.due_at)


def alerts(session: Session, principal: Principal, *, scope: str = "mine", before: int | None = None,
           limit: int = 50) -> tuple[list[tuple[FeedbackAlert, str, str]], int | None]:
    """(alert, feedback reference, recipient username), newest first. `agency`: leaders only."""
    query = (select(FeedbackAlert, Feedback.reference, User.username)
             .join(Feedback, Feedback.id == FeedbackAlert.feedback_id).join(User, User.id == FeedbackAlert.recipient_id))
    return inbox.alert_page(session, query, FeedbackAlert, principal, scope=scope, agency_scoped=_scoped,
                            before=before, limit=limit)


def ack(session: Session, alert_id: int, principal: Principal, *, now: datetime) -> tuple[FeedbackAlert, str, str]:
    """The recipient marks a feedback alert read (idempotent); anyone else's is "not found"."""
    query = select(FeedbackAlert, Feedback.reference).join(Feedback, Feedback.id == FeedbackAlert.feedback_id)
    return inbox.acknowledge(session, query, FeedbackAlert, alert_id, principal, now=now)


# --- satisfaction ------------------------------------------------------------------------------

def rated(session: Session, dossier_id: int) -> bool:
    return session.exec(select(SatisfactionRating.id).where(SatisfactionRating.dossier_id == dossier_id)).first() \
        is not None


def rate(session: Session, dossier_id: int, data: RatingIn, *, via: str, now: datetime) -> tuple[SatisfactionRating, Dossier]:
    dossier = session.get(Dossier, dossier_id, with_for_update=True)
    if dossier is None:
        raise NotFound(code="link_expired")
    if dossier.status != DossierStatus.returned:
        raise Conflict("Chỉ đánh giá được sau khi đã nhận kết quả giải quyết hồ sơ.", code="not_returned")
    if rated(session, dossier_id):
        raise Conflict("Hồ sơ này đã được đánh giá; mỗi hồ sơ chỉ đánh giá một lần.", code="already_rated")
    rating = SatisfactionRating(dossier_id=dossier_id, agency_id=dossier.agency_id, procedure_id=dossier.procedure_id,
                                reception=data.reception, handling_time=data.handling_time,
                                staff_attitude=data.staff_attitude, comment=data.comment or None, via=via,
                                rated_at=now)
    try:
        with session.begin_nested():  # two tabs at once: the unique key decides, the loser gets 409
            session.add(rating)
            session.flush()
    except IntegrityError:
        raise Conflict("Hồ sơ này đã được đánh giá; mỗi hồ sơ chỉ đánh giá một lần.", code="already_rated") from None
    return rating, dossier


def local_text(value: datetime | None, settings: Settings) -> str | None:
    from zoneinfo import ZoneInfo

    return f"{value.astimezone(ZoneInfo(settings.timezone)):%H:%M ngày %d/%m/%Y}" if value else None

