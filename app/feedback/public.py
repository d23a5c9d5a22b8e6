"""What a lookup adds to the citizen's view (`PublicDossierOut.feedback`): their feedback about the
dossier with the agency's answers, whether they may rate, and a short-lived token for both.
Imported by app/web/citizen_view.py; imports nothing of app/web."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from app.feedback import links
from app.feedback.models import Feedback, SatisfactionRating
from app.feedback.schemas import STATUS_LABELS, CitizenFeedbackItem, CitizenFeedbackOut
from app.models import Dossier, DossierStatus
from app.settings import Settings


def _text(value: datetime | None, settings: Settings) -> str | None:
    from zoneinfo import ZoneInfo

    return f"{value.astimezone(ZoneInfo(settings.timezone)):%H:%M ngày %d/%m/%Y}" if value else None


def dossier_view(session: Session, dossier: Dossier, *, now: datetime, settings: Settings,
                 has_feedback: bool = True, rated: bool | None = None) -> CitizenFeedbackOut:
    """`has_feedback` False and `rated` known (from the lookup's query) spare their reads."""
    rows = session.exec(select(Feedback).where(Feedback.dossier_id == dossier.id)
                        .order_by(Feedback.id)).all() if has_feedback else []  # type: ignore[arg-type]
    items = [CitizenFeedbackItem(reference=f.reference, content=f.content, received_text=_text(f.received_at, settings) or "",
                                 status=f.status, status_label=STATUS_LABELS[f.status],
                                 due_text=_text(f.due_at, settings) or "", answer=f.answer,
                                 answered_text=_text(f.answered_at, settings)) for f in rows]
    is_rated = rated if rated is not None else session.exec(select(SatisfactionRating.id).where(
        SatisfactionRating.dossier_id == dossier.id)).first() is not None
    token, expires = links.make_token(dossier.id, links.LOOKUP, now=now, settings=settings)  # type: ignore[arg-type]
    return CitizenFeedbackOut(token=token, token_expires_at=expires, items=items, rated=is_rated,
                              can_rate=dossier.status == DossierStatus.returned and not is_rated,
                              answer_days=settings.feedback_answer_days)
