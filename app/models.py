"""SQLModel tables. Request/response schemas live beside the routers, never here.

All timestamps are aware datetimes stored as UTC (`UTCDateTime`); dates shown to people are
converted to Asia/Ho_Chi_Minh at the edge.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, UniqueConstraint, event, text
from sqlmodel import Field, SQLModel

from app.db import SealedJSON, UTCDateTime

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Role(StrEnum):
    admin = "admin"
    desk = "desk"  # cán bộ Bộ phận Một cửa
    specialist = "specialist"  # chuyên viên
    leader = "leader"  # lãnh đạo phòng / lãnh đạo Sở
    reporter = "reporter"  # văn phòng tổng hợp báo cáo
    postal = "postal"  # nhân viên bưu chính công ích


class Channel(StrEnum):
    direct = "direct"
    online = "online"
    postal = "postal"


class ReturnMethod(StrEnum):
    desk = "desk"
    postal = "postal"
    online = "online"


class OnlineLevel(StrEnum):
    none = "none"
    partial = "partial"  # một phần, old level 3
    full = "full"  # toàn trình, old level 4


class ApplicantType(StrEnum):
    individual = "individual"
    organization = "organization"


class SupplementRule(StrEnum):
    reset = "reset"
    pause = "pause"


class DossierStatus(StrEnum):
    submitted = "submitted"
    received = "received"
    refused = "refused"
    processing = "processing"
    awaiting_supplement = "awaiting_supplement"
    awaiting_payment = "awaiting_payment"
    withdrawn = "withdrawn"
    stopped = "stopped"
    resolved = "resolved"
    returned = "returned"


class ClockState(StrEnum):
    not_started = "not_started"
    running = "running"
    paused = "paused"
    stopped = "stopped"


def _big_pk() -> Any:
    # BIGINT on PostgreSQL for append-heavy tables; SQLite only autoincrements INTEGER keys.
    return Field(default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"),
                                                primary_key=True, autoincrement=True))


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class Agency(SQLModel, table=True):
    __tablename__ = "agencies"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)  # electronic identifier, e.g. 000.00.17.H26
    name: str = Field(max_length=255)
    parent_id: int | None = Field(default=None, foreign_key="agencies.id", index=True)
    is_division: bool = False  # a phòng inside a Department: shares the Department's dossiers
    working_hours: str | None = Field(default=None, max_length=64)  # None: settings default
    address: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=32)
    head_title: str = Field(default="Giám đốc", max_length=64)
    created_at: datetime = _ts()
    # Symbol in the agency's document numbers ("12/PXL-SGDĐT"); None: derived from the code.
    short_name: str | None = Field(default=None, max_length=32)
    # centre (Trung tâm Phục vụ hành chính công) | department | people_committee | commune (migration 0014);
    # a division (phòng) keeps `is_division` and its Department's kind.
    kind: str = Field(default="department", max_length=32, sa_column_kwargs={"server_default": "department"})


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    full_name: str = Field(max_length=128)
    title: str | None = Field(default=None, max_length=128)  # chức danh
    password_hash: str = Field(max_length=255)
    agency_id: int = Field(foreign_key="agencies.id", index=True)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    email: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=32)
    is_active: bool = True
    created_at: datetime = _ts()
    # Carried in every token (claim `ver`) and compared on every request: bumped when the password
    # changes or the account is (de)activated (`_end_tokens` below), which ends earlier tokens.
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Procedure(SQLModel, table=True):
    __tablename__ = "procedures"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)  # national code, e.g. 1.005092
    name: str = Field(max_length=500)
    field_code: str = Field(max_length=32, index=True)
    field_name: str = Field(max_length=255)
    agency_id: int = Field(foreign_key="agencies.id", index=True)  # competent agency
    division_id: int | None = Field(default=None, foreign_key="agencies.id")
    time_limit_value: int
    time_limit_unit: str = Field(max_length=16)  # working_days | working_hours
    fee: int = 0
    fee_note: str = Field(default="", max_length=500)
    legal_basis: str = Field(default="", max_length=1000)
    required_documents: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    online_level: str = Field(default=OnlineLevel.partial, max_length=16)
    postal_receipt_allowed: bool = True
    postal_return_allowed: bool = True
    # Decree 61/2018 Art. 19 (carried into Decree 118/2025): time already spent counts (`pause`);
    # `reset` only where the procedure's published text counts the limit afresh (docs/DEADLINES.md).
    supplement_rule: str = Field(default=SupplementRule.pause, max_length=16)
    workflow: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    is_active: bool = True
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    # "Same working day if received before HH:MM, otherwise the next working day" (e.g. 15:00).
    same_day_cutoff: str | None = Field(default=None, max_length=5)
    # Fees as data (migration 0016; app/payments/fees.py): {"items": [{kind, name, amount, per, note}],
    # "exemptions": [{code, name, percent, kinds}], "refundable_on": ["refused", "withdrawn", ...]}.
    fees: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}"))
    # Inter-agency (liên thông, migration 0014): the agencies by their role in the procedure, as codes:
    # {"receiving_points": [...], "deciding_authority": "...", "result_via": "receiving_point"}.
    # Empty: a single-agency procedure, received and decided by its own agency.
    parties: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False,
                                                                         server_default="{}"))


class CalendarOverride(SQLModel, table=True):
    """An agency's calendar change. Rows are immutable: removing an override appends a row with
    `is_removal`; the calendar at version v is, per day, the latest row with version <= v. Every
    deadline records the version it was computed with, so an old explanation still reproduces."""

    __tablename__ = "calendar_overrides"
    __table_args__ = (UniqueConstraint("agency_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agencies.id", index=True)
    day: date
    is_working: bool
    reason: str = Field(max_length=255)
    created_by_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = _ts()
    version: int = 1  # per agency, 1, 2, ...
    is_removal: bool = False  # this row withdraws the day's earlier override


# What app/reports/queries.py reads of a dossier besides agency and procedure (migration 0006).
REPORT_COLUMNS = ("id", "assigned_division_id", "channel", "received_at", "refused_at", "withdrawn_at", "stopped_at",
                  "resolved_at", "clock_state", "paused_at", "due_at", "outcome", "returned_at", "returned_via",
                  "portal_synced_at", "resolved_working_minutes", "is_imported")  # is_imported: migration 0010


class Dossier(SQLModel, table=True):
    __tablename__ = "dossiers"
    __table_args__ = (
        Index("ix_dossiers_agency_status", "agency_id", "status"),
        Index("ix_dossiers_agency_received", "agency_id", "received_at"),
        Index("ix_dossiers_receiving_received", "receiving_agency_id", "received_at"),  # scoped reads by period
        Index("ix_dossiers_agency_resolved", "agency_id", "resolved_at"),
        Index("ix_dossiers_procedure_received", "procedure_id", "received_at"),
        # Reports (app/reports/queries.py): the moments a dossier enters and leaves the books, returns.
        Index("ix_dossiers_agency_entered", "agency_id",
              text("coalesce(received_at, refused_at, withdrawn_at, stopped_at)")),
        Index("ix_dossiers_agency_closed", "agency_id",
              text("coalesce(resolved_at, refused_at, withdrawn_at, stopped_at)")),
        Index("ix_dossiers_agency_returned", "agency_id", "returned_at"),
        # The report aggregates' job and read path: dossiers changed since a watermark (migration 0022).
        Index("ix_dossiers_updated_at", "updated_at"),
        Index("ix_dossiers_assignee_status", "assignee_id", "status"),
        # The deadline scan reads only dossiers with an alert still ahead of them.
        Index("ix_dossiers_next_alert_at", "next_alert_at",
              postgresql_where=text("next_alert_at IS NOT NULL"),
              sqlite_where=text("next_alert_at IS NOT NULL")),
        # Reports read these columns of every dossier of an agency: index-only scans (PostgreSQL).
        Index("ix_dossiers_report", "agency_id", "procedure_id", postgresql_include=list(REPORT_COLUMNS)),
        # Online submissions checked late, or not yet (reports; only online dossiers carry check_due_at).
        Index("ix_dossiers_online_check", "agency_id", "checked_at",
              postgresql_where=text("check_due_at IS NOT NULL"), sqlite_where=text("check_due_at IS NOT NULL")),
        # ... and those still waiting for the desk (migration 0024): the open month's unchecked count.
        Index("ix_dossiers_online_unchecked", "agency_id",
              postgresql_where=text("check_due_at IS NOT NULL AND checked_at IS NULL"),
              sqlite_where=text("check_due_at IS NOT NULL AND checked_at IS NULL")),
        # The overdue / due-soon lists walk only the dossiers whose clock runs, newest first.
        Index("ix_dossiers_running", "id", postgresql_where=text("clock_state = 'running'"),
              sqlite_where=text("clock_state = 'running'")),
        # Work lists (migration 0018, app/worklists.py): the desk's statuses at its receiving point, and
        # the unassigned steps waiting for whoever may take them.
        Index("ix_dossiers_receiving_status", "receiving_agency_id", "status"),
        Index("ix_dossiers_step_open", "step_agency_id", "step_role", postgresql_where=text("assignee_id IS NULL"),
              sqlite_where=text("assignee_id IS NULL")),
        # Search (app/search.py): name without diacritics by trigram on PostgreSQL (pg_trgm), identity
        # number and phone by equality.
        Index("ix_dossiers_applicant_name_key", "applicant_name_key", postgresql_using="gin",
              postgresql_ops={"applicant_name_key": "gin_trgm_ops"}),
        Index("ix_dossiers_applicant_id_number", "applicant_id_number"),
        Index("ix_dossiers_applicant_phone", "applicant_phone"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    agency_id: int = Field(foreign_key="agencies.id")  # competent (handling) agency
    receiving_agency_id: int = Field(foreign_key="agencies.id")  # may differ (Decree 118/2025)
    procedure_id: int = Field(foreign_key="procedures.id")

    channel: str = Field(max_length=16)
    online_level: str = Field(default=OnlineLevel.none, max_length=16)  # the level this dossier used
    applicant_type: str = Field(default=ApplicantType.individual, max_length=16)
    # The name without diacritics, for search (migration 0018; app.search.name_key), written by the
    # listener `_name_key` below on every ORM insert and update.
    applicant_name_key: str = Field(default="", max_length=255, sa_column_kwargs={"server_default": ""})
    applicant_name: str = Field(max_length=255)
    applicant_id_number: str = Field(max_length=32)
    applicant_phone: str | None = Field(default=None, max_length=32)
    applicant_email: str | None = Field(default=None, max_length=255)
    applicant_address: str | None = Field(default=None, max_length=500)
    summary: str | None = Field(default=None, max_length=1000)  # trích yếu
    documents: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    return_method: str = Field(default=ReturnMethod.desk, max_length=16)
    note: str | None = Field(default=None, max_length=2000)

    status: str = Field(max_length=32, index=True)
    current_step: int | None = None  # index into the procedure's workflow while processing
    assignee_id: int | None = Field(default=None, foreign_key="users.id")
    assigned_division_id: int | None = Field(default=None, foreign_key="agencies.id")
    version: int = Field(default=1)  # bumped by every action; clients send it back as If-Match
    created_by_id: int | None = Field(default=None, foreign_key="users.id")

    # Time. received_at is when the agency accepted a complete dossier (postal transit excluded).
    submitted_at: datetime | None = _ts(default=None)
    postal_handed_over_at: datetime | None = _ts(default=None)
    received_at: datetime | None = _ts(default=None)
    clock_state: str = Field(default=ClockState.not_started, max_length=16)
    clock_started_at: datetime | None = _ts(default=None)  # start (or restart under `reset`)
    limit_minutes: int = 0
    due_at: datetime | None = _ts(default=None)  # the legal appointment (ngày hẹn trả)
    due_soon_at: datetime | None = _ts(default=None)
    paused_at: datetime | None = _ts(default=None)
    resume_status: str | None = Field(default=None, max_length=32)
    resume_step: int | None = None
    step_started_at: datetime | None = _ts(default=None)
    step_due_at: datetime | None = _ts(default=None)
    next_alert_at: datetime | None = _ts(default=None)

    resolved_at: datetime | None = _ts(default=None)
    outcome: str | None = Field(default=None, max_length=16)  # early | on_time | late (read through ix_dossiers_report)
    result_reference: str | None = Field(default=None, max_length=255)
    returned_at: datetime | None = _ts(default=None)
    returned_via: str | None = Field(default=None, max_length=16)
    returned_to: str | None = Field(default=None, max_length=255)
    refused_at: datetime | None = _ts(default=None)
    withdrawn_at: datetime | None = _ts(default=None)
    stopped_at: datetime | None = _ts(default=None)
    closing_reason: str | None = Field(default=None, max_length=2000)  # refusal / stop / withdrawal

    supplement_count: int = 0
    apology_count: int = 0
    new_due_at: datetime | None = _ts(default=None)  # appointment promised by an issued apology
    # Working minutes from reception to result, waits for the applicant excluded (reports' average time).
    resolved_working_minutes: int | None = None

    lookup_secret_hash: str = Field(max_length=255)
    portal_id: str | None = Field(default=None, max_length=64, unique=True)
    portal_synced_at: datetime | None = _ts(default=None)
    is_imported: bool = False
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    # The batch label of the import that created it (migration 0010); NULL for native dossiers.
    import_source: str | None = Field(default=None, max_length=255)

    # The moment the appointment passed while the agency held the dossier: late for good.
    late_since: datetime | None = _ts(default=None)
    calendar_version: int = 0  # of the agency calendar the appointment was computed with
    check_due_at: datetime | None = _ts(default=None)  # an online submission is checked by then
    checked_at: datetime | None = _ts(default=None)  # the desk's first decision on it
    received_by_id: int | None = Field(default=None, foreign_key="users.id")  # signs form 01
    result_kind: str | None = Field(default=None, max_length=16)  # approval | refusal (after appraisal)
    result_signed_by_id: int | None = Field(default=None, foreign_key="users.id")
    result_signed_at: datetime | None = _ts(default=None)
    closing_document_number: str | None = Field(default=None, max_length=64)  # forms 03, 05
    closing_signed_by_id: int | None = Field(default=None, foreign_key="users.id")
    # When every required component first had a file (migration 0012; app/documents): the
    # indicator `digitised` of Decision 766 counts these.
    digitised_at: datetime | None = _ts(default=None)
    # When a payment of the dossier was settled online (migration 0016): `DuocThanhToanTrucTuyen`
    # for the portal and the indicator `paid_online` read it.
    paid_online_at: datetime | None = _ts(default=None)
    # Work lists (migration 0018). Who may take the current step (app.parties.hold_step, set when a
    # step opens, cleared with it): its role, the agency holding it, and the unit (a division, or the
    # agency itself for its own leaders) whose members alone may take it (None: anyone of the agency
    # with the role).
    step_role: str | None = Field(default=None, max_length=16)
    step_agency_id: int | None = None
    step_unit_id: int | None = None


class DossierEvent(SQLModel, table=True):
    """Immutable fact: who did what to a dossier, when, from which state to which."""

    __tablename__ = "dossier_events"
    __table_args__ = (UniqueConstraint("dossier_id", "seq"),)

    id: int | None = _big_pk()
    dossier_id: int = Field(foreign_key="dossiers.id")
    seq: int
    at: datetime = _ts()
    actor_id: int | None = Field(default=None, foreign_key="users.id")
    actor_role: str | None = Field(default=None, max_length=16)
    action: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str = Field(max_length=32)
    from_step: int | None = None
    to_step: int | None = None
    note: str | None = Field(default=None, max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class StepRecord(SQLModel, table=True):
    """One hand-over row of the process-control slip (form 6)."""

    __tablename__ = "step_records"

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", index=True)
    step_index: int
    step_name: str = Field(max_length=255)
    from_user_id: int | None = Field(default=None, foreign_key="users.id")
    to_user_id: int | None = Field(default=None, foreign_key="users.id")
    to_division_id: int | None = Field(default=None, foreign_key="agencies.id")
    started_at: datetime = _ts()
    due_at: datetime | None = _ts(default=None)
    finished_at: datetime | None = _ts(default=None)
    result: str | None = Field(default=None, max_length=32)  # forwarded | sent_back | resolved | ...
    is_late: bool | None = None
    note: str | None = Field(default=None, max_length=2000)


class ClockPause(SQLModel, table=True):
    __tablename__ = "clock_pauses"

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", index=True)
    reason: str = Field(max_length=16)  # supplement | payment
    rule: str = Field(max_length=16)  # pause | reset
    started_at: datetime = _ts()
    ended_at: datetime | None = _ts(default=None)
    working_minutes: int | None = None


class SupplementRequest(SQLModel, table=True):
    """Form 2: one request listing everything missing."""

    __tablename__ = "supplement_requests"

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", index=True)
    requested_at: datetime = _ts()
    requested_by_id: int | None = Field(default=None, foreign_key="users.id")
    items: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, max_length=2000)
    received_at: datetime | None = _ts(default=None)
    received_by_id: int | None = Field(default=None, foreign_key="users.id")
    due_before: datetime | None = _ts(default=None)
    due_after: datetime | None = _ts(default=None)
    # "Only once" is per stage and per agency: one at reception, one per handling agency.
    stage: str = Field(default="processing", max_length=16)  # reception | processing
    agency_id: int | None = Field(default=None, foreign_key="agencies.id")


class Apology(SQLModel, table=True):
    """Form 4: apology and new appointment (phiếu xin lỗi và hẹn lại ngày trả kết quả)."""

    __tablename__ = "apologies"

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", index=True)
    status: str = Field(default="draft", max_length=16)  # draft | issued | cancelled
    reason: str | None = Field(default=None, max_length=2000)
    original_due_at: datetime = _ts()
    proposed_due_at: datetime | None = _ts(default=None)
    new_due_at: datetime | None = _ts(default=None)
    drafted_at: datetime = _ts()
    drafted_by_id: int | None = Field(default=None, foreign_key="users.id")
    issued_at: datetime | None = _ts(default=None, index=True)
    issued_by_id: int | None = Field(default=None, foreign_key="users.id")
    signer_name: str | None = Field(default=None, max_length=128)
    signer_title: str | None = Field(default=None, max_length=128)
    is_late: bool = False  # issued later than one working day before the appointment
    document_number: str | None = Field(default=None, max_length=64)
    # The agency it is drafted for and issued by (migration 0015): the agency at fault on an
    # inter-agency dossier (app/parties.py), else the competent one. Its register numbers it.
    agency_id: int | None = Field(default=None, foreign_key="agencies.id")


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("dossier_id", "kind", "deadline_at", "recipient_id",
                         name="uq_alerts_once"),
        Index("ix_alerts_recipient_ack", "recipient_id", "acked_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id")  # looked up through uq_alerts_once (dossier_id first)
    kind: str = Field(max_length=32)  # step_due_soon | step_overdue | due_soon | overdue | apology_missing
    deadline_at: datetime = _ts()  # the threshold that fired; part of the uniqueness
    recipient_id: int = Field(foreign_key="users.id")
    message: str = Field(max_length=1000)
    created_at: datetime = _ts()
    acked_at: datetime | None = _ts(default=None)


class Shipment(SQLModel, table=True):
    """A public-postal (BCCI) package: an inbound dossier or an outbound result."""

    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("carrier", "tracking_number"),)

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", index=True)
    direction: str = Field(max_length=16)  # inbound | outbound
    carrier: str = Field(default="VNPost", max_length=64)
    tracking_number: str = Field(max_length=64)
    fee: int = 0
    fee_payer: str = Field(default="applicant", max_length=16)  # applicant | agency
    status: str = Field(default="created", max_length=32)
    handed_over_at: datetime | None = _ts(default=None)
    delivered_at: datetime | None = _ts(default=None)
    address: str | None = Field(default=None, max_length=500)
    note: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class OutboxMessage(SQLModel, table=True):
    """A message to an outside system, written in the same transaction as the change causing it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "topic", "status", "next_attempt_at"),
        Index("ix_outbox_dossier", "dossier_id", "id"),
        # The backlog per topic and its oldest message (GET /metrics, every scrape): only the rows
        # not yet delivered, however many were sent.
        Index("ix_outbox_unsent", "topic", "status", "created_at",
              postgresql_where=text("status IN ('pending', 'dead')"),
              sqlite_where=text("status IN ('pending', 'dead')")),
    )

    id: int | None = _big_pk()
    topic: str = Field(max_length=16)  # portal | notify
    kind: str = Field(max_length=32)
    dossier_id: int | None = Field(default=None, foreign_key="dossiers.id")
    # Encrypted at rest (app/sealing.py): a notification may carry the citizen's lookup secret.
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(SealedJSON, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending | sent | dead
    attempts: int = 0
    next_attempt_at: datetime = _ts()
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(default=None)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=64)  # user id (keys are per caller)
    key: str = Field(max_length=128)
    request_hash: str = Field(max_length=64)
    status_code: int
    # Encrypted at rest: an intake's response holds the lookup secret, replayed to the same caller.
    response_body: dict[str, Any] = Field(default_factory=dict, sa_column=Column(SealedJSON, nullable=False))
    created_at: datetime = _ts()


class DossierSequence(SQLModel, table=True):
    """Last number used per agency per day; bumped inside the intake transaction, so gap-free."""

    __tablename__ = "dossier_sequences"

    agency_id: int = Field(foreign_key="agencies.id", primary_key=True)
    day: date = Field(primary_key=True)
    last_value: int = 0


class RateCounter(SQLModel, table=True):
    """Fixed-window request counters shared by every API worker (citizen lookup)."""

    __tablename__ = "rate_counters"

    key: str = Field(max_length=128, primary_key=True)
    window_start: datetime = _ts(primary_key=True, index=True)  # expired windows are purged by range
    count: int = 0


class SchedulerJobStats(SQLModel, table=True):
    """Each scheduler job's running totals (app/metrics.py `record_job_run`), read by GET /metrics:
    the scheduler is another process, maybe on another host; the database is what both share."""

    __tablename__ = "scheduler_job_stats"

    job_id: str = Field(primary_key=True, max_length=64)
    runs: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    failures: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    seconds: float = 0.0  # total wall time of the runs
    alerts: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))  # alerts the runs wrote
    last_started_at: datetime = _ts()
    last_success_at: datetime | None = _ts(default=None)


class ReferenceVersion(SQLModel, table=True):
    """One row (id 1) on SQLite: bumped by every change to agencies, procedures, users or calendar
    overrides, read once per session by the reference cache (app/reference.py). PostgreSQL uses
    LISTEN/NOTIFY instead and leaves it empty."""

    __tablename__ = "reference_version"

    id: int = Field(primary_key=True)
    version: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class SystemState(SQLModel, table=True):
    """Small key/value facts the processes share (e.g. the portal's inbound cursor)."""

    __tablename__ = "system_state"

    key: str = Field(max_length=64, primary_key=True)
    value: str = Field(max_length=1000)
    updated_at: datetime = _ts()


class DocumentRegister(SQLModel, table=True):
    """The agency's register of outgoing documents: last number used per year and kind (forms 03,
    04, 05), bumped in the transaction that issues the document, so numbers never repeat."""

    __tablename__ = "document_registers"

    agency_id: int = Field(foreign_key="agencies.id", primary_key=True)
    year: int = Field(primary_key=True)
    kind: str = Field(max_length=16, primary_key=True)
    last_value: int = 0


class PortalDrift(SQLModel, table=True):
    """What the last reconciliation found different on the national portal for one dossier (one row
    per dossier, updated by each check; `resolved_at` set once the portal agrees again)."""

    __tablename__ = "portal_drift"

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", unique=True)
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # what differed
    our_status: int  # TrangThaiHoSo as motcua holds it
    portal_status: int | None = None  # as the portal answered; None: the portal does not hold the dossier
    detected_at: datetime = _ts()
    checked_at: datetime = _ts()
    resynced_at: datetime | None = _ts(default=None)  # when a full snapshot was queued
    resolved_at: datetime | None = _ts(default=None, index=True)


class DossierForecast(SQLModel, table=True):
    """The latest late-risk forecast of a running dossier (app/foresight/risk_scan.py, issue 17): one
    row per dossier, rewritten by each late-risk pass of the scan and removed by the first pass that
    no longer forecasts the dossier. A table of its own: a forecast never bumps the dossier's
    `version` (optimistic locking) or `updated_at` (the report aggregates' watermark)."""

    __tablename__ = "dossier_forecasts"

    dossier_id: int = Field(foreign_key="dossiers.id", primary_key=True)
    step: int  # the step the dossier was in: a later step makes the forecast stale
    due_at: datetime = _ts()  # the appointment forecast against: a moved one makes it stale
    probability: float  # of missing `due_at`
    expected_ready_at: datetime = _ts()  # median forecast of the result moment
    cause_step: int | None = None  # the step on the remaining path that usually overruns
    cause_name: str | None = Field(default=None, max_length=255)
    basis: str = Field(max_length=16)  # history | mixed | budgets
    computed_at: datetime = _ts()


class DossierAgency(SQLModel, table=True):
    """An agency taking part in an inter-agency dossier (migration 0014): it sees the dossier from
    `since` (the hand-over to it), and its time is counted against its share of the limit. The
    receiving point and the competent department see the dossier throughout, without a row."""

    __tablename__ = "dossier_agencies"
    __table_args__ = (UniqueConstraint("dossier_id", "agency_id"), Index("ix_dossier_agencies_agency", "agency_id",
                                                                         "dossier_id"))

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id")
    agency_id: int = Field(foreign_key="agencies.id")
    since: datetime = _ts()
    budget_minutes: int = 0  # the agency's share of the limit (its steps' budgets)
    spent_minutes: int = 0  # working minutes it held the dossier (its own calendar), waits excluded
    part_started_at: datetime | None = _ts(default=None)  # it holds the dossier now, since then
    overran: bool = False
    caused_late: bool = False  # the dossier is late and this agency overran its share: it apologises


class Handover(SQLModel, table=True):
    """A hand-over between agencies: a row of the process-control slip (form 06) naming both."""

    __tablename__ = "handovers"

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", index=True)
    from_agency_id: int = Field(foreign_key="agencies.id")
    to_agency_id: int = Field(foreign_key="agencies.id")
    from_step: int | None = None
    to_step: int
    sent_at: datetime = _ts()
    sent_by_id: int | None = Field(default=None, foreign_key="users.id")
    documents: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending | accepted | returned
    decided_at: datetime | None = _ts(default=None)
    decided_by_id: int | None = Field(default=None, foreign_key="users.id")
    reason: str | None = Field(default=None, max_length=2000)


class OpinionRequest(SQLModel, table=True):
    """An opinion asked of another agency (lấy ý kiến), several in parallel, with a deadline; past it
    unanswered, "no answer" is recorded (agreement where the procedure says so)."""

    __tablename__ = "opinion_requests"

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", index=True)
    agency_id: int = Field(foreign_key="agencies.id")  # the consulted agency
    step_index: int
    question: str = Field(max_length=2000)
    asked_at: datetime = _ts()
    asked_by_id: int | None = Field(default=None, foreign_key="users.id")
    due_at: datetime = _ts()
    status: str = Field(default="pending", max_length=16)  # pending | agreed | disagreed | no_answer
    answered_at: datetime | None = _ts(default=None)
    answered_by_id: int | None = Field(default=None, foreign_key="users.id")
    answer: str | None = Field(default=None, max_length=2000)


# Reconciliation picks the dossiers whose portal messages were written recently.
Index("ix_outbox_topic_created", OutboxMessage.topic, OutboxMessage.created_at)


# --- invariants kept by the ORM, whoever writes the row ------------------------------------------

def _end_tokens(target: User, value: Any, oldvalue: Any, _initiator: Any) -> None:
    """A new password hash or a change of `is_active` on a stored user ends every token issued
    before: CLI, API and tests all go through here, not through a per-route rule."""
    from sqlalchemy.orm.base import NEVER_SET, NO_VALUE

    if oldvalue in (NO_VALUE, NEVER_SET) or value == oldvalue:
        return  # a new user, or nothing changes
    target.token_version = (target.token_version or 0) + 1


def _name_key(_mapper: Any, _connection: Any, target: Dossier) -> None:
    """The search key follows the name on every ORM write (bulk inserts set it themselves)."""
    from app.search import name_key

    target.applicant_name_key = name_key(target.applicant_name)


event.listen(Dossier, "before_insert", _name_key)
event.listen(Dossier, "before_update", _name_key)
event.listen(User.password_hash, "set", _end_tokens, active_history=True)
event.listen(User.is_active, "set", _end_tokens, active_history=True)


class DossierFile(SQLModel, table=True):
    """One stored version of one component of a dossier (migration 0012): who digitised it, when,
    from where. Replacing a component's file adds a row with the next `version`; earlier rows stay.
    The bytes live in app/storage under `sha256` (shared by every row that holds the same bytes)."""

    __tablename__ = "dossier_files"
    __table_args__ = (
        UniqueConstraint("dossier_id", "component_key", "version", name="uq_dossier_files_version"),
        # Reuse at the desk: an applicant's earlier files, by identity number.
        Index("ix_dossier_files_applicant", "applicant_id_number", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", index=True)
    component_key: str = Field(max_length=16)  # the required document's index ("0", "1"...) or "other"
    component_name: str = Field(max_length=500)
    kind: str = Field(max_length=32)  # original_scan | copy | electronic_original
    version: int = 1  # per dossier and component
    sha256: str = Field(max_length=64)
    size: int = Field(sa_type=BigInteger)
    content_type: str = Field(max_length=128)  # detected from the content
    filename: str = Field(max_length=255)
    source: str = Field(default="upload", max_length=16)  # upload | reuse | portal | signed (a result this service signed)
    reused_from_id: int | None = Field(default=None, foreign_key="dossier_files.id")
    applicant_id_number: str = Field(max_length=32)  # the dossier's, copied for reuse lookups
    uploaded_by_id: int | None = Field(default=None, foreign_key="users.id")  # None: the portal pull
    uploaded_at: datetime = _ts()


class SignedDocument(SQLModel, table=True):
    """A PDF this service signed (PAdES) for a dossier: the result (or a reasoned refusal after
    appraisal) and forms 03, 04, 05 when issued. The bytes are in app/storage under `sha256`;
    `app.esign.store` is the only reader."""

    __tablename__ = "signed_documents"

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", index=True)
    kind: str = Field(max_length=16)  # result | refusal | apology | stop (app/esign/store.py KINDS)
    file_name: str = Field(max_length=128)
    sha256: str = Field(max_length=64, index=True)
    size: int
    signer_name: str = Field(max_length=255)
    signer_title: str = Field(max_length=255)  # the signature block, lines joined by " – "
    signed_by_id: int | None = Field(default=None, foreign_key="users.id")
    signed_at: datetime = _ts()


# Tables of other packages, registered with the metadata (Alembic, the tests) whenever this module is.
from app.feedback import models as feedback_models  # noqa: E402, F401
from app.payments.models import PaymentRequest, PaymentTransaction  # noqa: E402, F401  (registers the tables)
from app.reports.aggregate_models import ReportAggregateMonth, ReportMonthAggregate  # noqa: E402, F401  (registers the tables)
