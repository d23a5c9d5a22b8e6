"""Tables of citizens' feedback and satisfaction (migration 0017). Registered by `app.models`
(imported at its end); this module imports only `app.db`, so the two never form a cycle.

* `feedback`: one phản ánh, kiến nghị, about a dossier or about a procedure / an agency in general,
  with its working-day deadline, assignee and answer. The sender's name and phone (general feedback)
  are sealed at rest (`contact`, app/sealing.py) and never logged.
* `feedback_alerts`: due-soon / overdue alerts on unanswered feedback, once per (feedback, kind,
  deadline, recipient) like the dossiers' `alerts`.
* `satisfaction_ratings`: one rating per dossier (unique), once the result was returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.db import SealedJSON, UTCDateTime


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class Feedback(SQLModel, table=True):
    __tablename__ = "feedback"
    __table_args__ = (
        Index("ix_feedback_agency_status", "agency_id", "status"),
        Index("ix_feedback_agency_due", "agency_id", "due_at"),  # feedback_on_time: due in a period
        # The feedback scan reads only unanswered feedback with an alert still ahead.
        Index("ix_feedback_next_alert_at", "next_alert_at", postgresql_where=text("next_alert_at IS NOT NULL"),
              sqlite_where=text("next_alert_at IS NOT NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=32, unique=True)  # told to the citizen, e.g. PA-261123-K7QM4X
    kind: str = Field(max_length=16)  # dossier | general
    agency_id: int = Field(foreign_key="agencies.id")  # whose staff answer it
    dossier_id: int | None = Field(default=None, foreign_key="dossiers.id", index=True)
    procedure_id: int | None = Field(default=None, foreign_key="procedures.id")
    # {"name", "phone", "email"} of a general feedback's sender; sealed, never in logs.
    contact: dict[str, Any] = Field(default_factory=dict, sa_column=Column(SealedJSON, nullable=False))
    content: str = Field(max_length=2000)
    status: str = Field(default="new", max_length=16)  # new | assigned | answered
    received_at: datetime = _ts()
    limit_days: int  # working days to answer, as configured when it arrived
    due_at: datetime = _ts()
    due_soon_at: datetime = _ts()
    next_alert_at: datetime | None = _ts(default=None)
    assignee_id: int | None = Field(default=None, foreign_key="users.id")
    assigned_at: datetime | None = _ts(default=None)
    answer: str | None = Field(default=None, max_length=4000)
    answered_at: datetime | None = _ts(default=None)
    answered_by_id: int | None = Field(default=None, foreign_key="users.id")


class FeedbackAlert(SQLModel, table=True):
    __tablename__ = "feedback_alerts"
    __table_args__ = (
        UniqueConstraint("feedback_id", "kind", "deadline_at", "recipient_id", name="uq_feedback_alerts_once"),
        Index("ix_feedback_alerts_recipient_ack", "recipient_id", "acked_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    feedback_id: int = Field(foreign_key="feedback.id", index=True)
    kind: str = Field(max_length=32)  # feedback_due_soon | feedback_overdue
    deadline_at: datetime = _ts()
    recipient_id: int = Field(foreign_key="users.id")
    message: str = Field(max_length=1000)
    created_at: datetime = _ts()
    acked_at: datetime | None = _ts(default=None)


class SatisfactionRating(SQLModel, table=True):
    __tablename__ = "satisfaction_ratings"
    __table_args__ = (Index("ix_satisfaction_ratings_agency_rated", "agency_id", "rated_at"),)

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", unique=True)  # once per dossier
    agency_id: int = Field(foreign_key="agencies.id")  # the dossier's competent agency (reports)
    procedure_id: int = Field(foreign_key="procedures.id")
    reception: str = Field(max_length=16)  # very_satisfied | satisfied | not_satisfied
    handling_time: str = Field(max_length=16)
    staff_attitude: str = Field(max_length=16)
    comment: str | None = Field(default=None, max_length=1000)
    via: str = Field(max_length=8)  # lookup | link
    rated_at: datetime = _ts()
