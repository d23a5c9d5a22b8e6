"""Dossier rows built straight into the database (fast), and a naive Python oracle of the report.

The oracle restates the definitions of docs/REPORTS.md over the specs, row by row; it lives in
the tests only: the application computes the same figures in SQL.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session

from app.models import Agency, Apology, ClockState, Dossier, Procedure, SupplementRequest
from app.sla.deadlines import classify_outcome

TZ = "Asia/Ho_Chi_Minh"
COUNTS = ("carried_over", "new_online", "new_direct", "new_postal", "received_total", "resolved_total",
          "resolved_early", "resolved_on_time", "resolved_late", "in_progress_total", "in_progress_within",
          "in_progress_overdue", "awaiting_supplement", "withdrawn_or_refused", "returned_by_post", "apologies",
          "not_received_total", "refused_at_reception", "online_not_accepted", "withdrawn_before_receipt",
          # Histories here have no online check deadline and no late apology: the oracle counts them 0.
          "apologies_late", "online_checked_late", "online_unchecked_overdue",
          # Single-agency histories: every late result is the agency's own.
          "late_caused_here", "late_caused_elsewhere")
_serial = itertools.count(1)


@dataclass
class Spec:
    """One dossier's history. `received_at` None: never received (closed before reception, or pending)."""

    procedure: int  # index into the procedures list
    channel: str = "direct"
    received_at: datetime | None = None
    due_at: datetime | None = None
    close: str | None = None  # resolved | refused | withdrawn | stopped
    closed_at: datetime | None = None
    returned_at: datetime | None = None
    returned_via: str | None = None
    apologies: list[datetime] = field(default_factory=list)
    supplements: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    paused_at: datetime | None = None  # still paused (open dossiers only)
    outcome: str | None = None  # filled by `insert`


def make_agency(session: Session, code: str = "000.00.99.H99", n_procedures: int = 2) -> tuple[Agency, list[Procedure]]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    agency = Agency(code=code, name=f"Sở thử {code}", created_at=now)
    session.add(agency)
    session.flush()
    procedures = []
    for i in range(n_procedures):
        p = Procedure(code=f"{code[-3:]}.{i:04d}", name=f"Thủ tục thử {i}", field_code="F", field_name="Lĩnh vực",
                      agency_id=agency.id, time_limit_value=5, time_limit_unit="working_days", created_at=now,
                      updated_at=now)
        session.add(p)
        procedures.append(p)
    session.flush()
    return agency, procedures


def clear(session: Session) -> None:
    for table in (Apology, SupplementRequest, Dossier):
        session.execute(delete(table))
    session.flush()


def insert(session: Session, agency: Agency, procedures: list[Procedure], specs: list[Spec]) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    dossiers = []
    for spec in specs:
        closed = spec.closed_at
        d = Dossier(code=f"T-{next(_serial):08d}", agency_id=agency.id, receiving_agency_id=agency.id,
                    procedure_id=procedures[spec.procedure].id, channel=spec.channel, applicant_name="Người thử",
                    applicant_id_number="000000000", status="received", lookup_secret_hash="x",
                    created_at=now, updated_at=now, received_at=spec.received_at,
                    submitted_at=spec.received_at or closed,
                    due_at=spec.due_at, clock_state=ClockState.running if spec.received_at else ClockState.not_started)
        if spec.close == "resolved":
            d.status, d.resolved_at = ("returned" if spec.returned_at else "resolved"), closed
            assert closed is not None and spec.due_at is not None
            spec.outcome = d.outcome = classify_outcome(closed, spec.due_at, TZ).value
            d.returned_at, d.returned_via = spec.returned_at, spec.returned_via
        elif spec.close == "refused":
            d.status, d.refused_at = "refused", closed
        elif spec.close == "withdrawn":
            d.status, d.withdrawn_at = "withdrawn", closed
        elif spec.close == "stopped":
            d.status, d.stopped_at = "stopped", closed
        elif spec.paused_at is not None:
            d.status, d.clock_state, d.paused_at = "awaiting_supplement", ClockState.paused, spec.paused_at
        elif spec.received_at is None:
            d.status = "submitted"
        if spec.close:
            d.clock_state = ClockState.stopped
        session.add(d)
        dossiers.append(d)
    session.flush()
    for spec, d in zip(specs, dossiers):
        for issued in spec.apologies:
            session.add(Apology(dossier_id=d.id, status="issued", original_due_at=spec.due_at or issued,
                                drafted_at=issued, issued_at=issued))
        for requested, received in spec.supplements:
            session.add(SupplementRequest(dossier_id=d.id, requested_at=requested, received_at=received))
    session.flush()


def oracle(specs: list[Spec], procedures: list[Procedure], start: datetime, end: datetime) -> dict:
    """{"rows": {procedure_code: counts}, "totals": counts}, computed naively per dossier."""
    rows: dict[str, dict[str, int]] = {}
    for spec in specs:
        c = rows.setdefault(procedures[spec.procedure].code, dict.fromkeys(COUNTS, 0))
        entered = spec.received_at
        left = spec.closed_at
        if spec.returned_at and start <= spec.returned_at < end and spec.returned_via == "postal":
            c["returned_by_post"] += 1
        c["apologies"] += sum(1 for t in spec.apologies if start <= t < end)
        if entered is None:  # never received: counted apart, in the period it was closed
            if left is not None and start <= left < end:
                c["not_received_total"] += 1
                if spec.close == "withdrawn":
                    c["withdrawn_before_receipt"] += 1
                elif spec.channel == "online":
                    c["online_not_accepted"] += 1
                else:
                    c["refused_at_reception"] += 1
            continue
        if entered >= end or (left is not None and left < start):
            continue
        if entered < start:
            c["carried_over"] += 1
        else:
            c["received_total"] += 1
            c[{"online": "new_online", "postal": "new_postal"}.get(spec.channel, "new_direct")] += 1
        if left is not None and left < end:
            if spec.close == "resolved":
                c["resolved_total"] += 1
                c[f"resolved_{spec.outcome}"] += 1
                c["late_caused_here"] += spec.outcome == "late"
            else:
                c["withdrawn_or_refused"] += 1
            continue
        c["in_progress_total"] += 1
        paused_in_time = spec.paused_at is not None and spec.paused_at < end and spec.paused_at <= spec.due_at
        if spec.due_at is not None and spec.due_at < end and not paused_in_time:
            c["in_progress_overdue"] += 1
        else:
            c["in_progress_within"] += 1
        if any(r < end and (back is None or back >= end) for r, back in spec.supplements):
            c["awaiting_supplement"] += 1
    rows = {code: c for code, c in rows.items() if any(c.values())}
    totals = {name: sum(c[name] for c in rows.values()) for name in COUNTS}
    return {"rows": rows, "totals": totals}


def at(text: str) -> datetime:
    """ISO local time in Hà Nội -> aware datetime."""
    return datetime.fromisoformat(text + "+07:00")


def plus(moment: datetime, **kwargs: float) -> datetime:
    return moment + timedelta(**kwargs)
