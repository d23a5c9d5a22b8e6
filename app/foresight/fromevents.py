"""The periodic report recomputed from the event log alone (issue 17, docs/FORESIGHT.md).

Each dossier's history is replayed from its events (in `seq` order): reception (the first event
that leaves it `received`), refusal, withdrawal, stop, result (`resolve`, with its outcome),
return (`return_result`, with its method), the waits for the applicant (the spans in
`awaiting_supplement` / `awaiting_payment`), supplement requests, issued apologies. Its channel
and procedure are the case attributes the exported log carries. The appointment of a dossier
still open is recomputed by app/sla (`clock_start`, `compute_due_at` with the waits as pauses,
a `reset` supplement restarting the clock; a `deadline_moved` event's later appointment wins),
on the agency's current calendar. The figures then follow the definitions of docs/REPORTS.md,
restated here over the replayed facts (the stored report computes them in SQL over the dossier
rows): two independent computations, compared field by field.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.models import Agency, Dossier, DossierEvent, Procedure
from app.reports import queries
from app.reports.periods import Period
from app.reports.schemas import COUNT_FIELDS
from app.settings import Settings
from app.sla import service as sla
from app.sla.calendar import WorkingCalendar
from app.sla.deadlines import Pause, compute_due_at

WAITING = ("awaiting_supplement", "awaiting_payment")


@dataclass
class Replayed:
    procedure_id: int
    channel: str
    submitted_at: datetime | None = None
    checked_at: datetime | None = None
    received_at: datetime | None = None
    refused_at: datetime | None = None
    withdrawn_at: datetime | None = None
    stopped_at: datetime | None = None
    resolved_at: datetime | None = None
    outcome: str | None = None
    late_agency: str | None = None  # inter-agency: the agency recorded as having made it late (its code)
    returned_at: datetime | None = None
    returned_via: str | None = None
    clock_started_at: datetime | None = None
    limit_minutes: int = 0
    pauses: list[Pause] = field(default_factory=list)
    moved_due: datetime | None = None
    paused_at: datetime | None = None  # waiting for the applicant now (clock paused)
    status: str | None = None
    requests: list[list[datetime | None]] = field(default_factory=list)  # [requested, received]
    apologies: list[tuple[datetime, bool]] = field(default_factory=list)  # (issued, late)
    due_at: datetime | None = None

    @property
    def entered(self) -> datetime | None:
        return self.received_at or self.refused_at or self.withdrawn_at or self.stopped_at

    @property
    def closed(self) -> datetime | None:
        return self.resolved_at or self.refused_at or self.withdrawn_at or self.stopped_at


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def replay_dossier(events: list[Any], procedure: Procedure, channel: str, cal: WorkingCalendar) -> Replayed:
    d = Replayed(procedure.id or 0, channel)
    wait_started: datetime | None = None
    for e in events:
        data = e.data or {}
        if e.action == "submit" and d.submitted_at is None:
            d.submitted_at = e.at
        elif d.submitted_at is not None and d.checked_at is None and e.from_status == "submitted":
            d.checked_at = e.at  # the desk's first decision on an online submission
        if e.to_status == "received" and d.received_at is None:
            d.received_at = e.at
            d.clock_started_at, d.limit_minutes = sla.clock_start(cal, procedure, channel=channel,
                                                                  submitted_at=d.submitted_at, now=e.at)
        if e.action == "request_supplement" or (e.action == "receive" and e.to_status == "awaiting_supplement"):
            d.requests.append([e.at, None])
        if e.action == "supplement_received":
            for request in d.requests:
                if request[1] is None:
                    request[1] = e.at
        if e.to_status in WAITING and e.from_status not in WAITING and d.clock_started_at is not None:
            wait_started = e.at
        elif e.to_status not in WAITING and wait_started is not None:
            if data.get("clock") == "reset":
                d.clock_started_at = cal.next_working_moment(e.at)
                d.pauses = []
            else:
                d.pauses.append(Pause(wait_started, e.at, "wait"))
            wait_started = None
        if e.action == "deadline_moved":
            d.moved_due = _moment(data.get("due_after")) or d.moved_due
        if e.to_status == "refused" and d.refused_at is None:
            d.refused_at = e.at
        elif e.to_status == "withdrawn" and d.withdrawn_at is None:
            d.withdrawn_at = e.at
        elif e.to_status == "stopped" and d.stopped_at is None:
            d.stopped_at = e.at
        if e.action == "resolve" and d.resolved_at is None:
            d.resolved_at, d.outcome = e.at, data.get("outcome")
            d.late_agency = data.get("late_agency")
        if e.action == "return_result":
            d.returned_at, d.returned_via = e.at, data.get("method")
        if e.action == "apology_issued":
            original = _moment(data.get("original_due_at"))
            late = original is not None and e.at > cal.subtract_working_minutes(original, cal.minutes_per_day)
            d.apologies.append((e.at, late))
        d.status = e.to_status
    d.paused_at = wait_started if d.closed is None else None
    if d.clock_started_at is not None:
        d.due_at = compute_due_at(cal, clock_started_at=d.clock_started_at, limit_minutes=d.limit_minutes,
                                  pauses=d.pauses)
        if d.moved_due is not None and d.moved_due > d.due_at:
            d.due_at = d.moved_due
    return d


def _count(d: Replayed, c: dict[str, int], start: datetime, end: datetime, now: datetime,
           check_due: datetime | None, agency_code: str | None = None) -> None:
    """docs/REPORTS.md, over one replayed dossier (the SQL of app/reports/queries.py does the same
    over the dossier rows)."""
    if d.returned_at is not None and start <= d.returned_at < end and d.returned_via == "postal":
        c["returned_by_post"] += 1
    for issued, late in d.apologies:
        if start <= issued < end:
            c["apologies"] += 1
            c["apologies_late"] += int(late)
    if check_due is not None:
        if d.checked_at is not None and start <= d.checked_at < end and d.checked_at > check_due:
            c["online_checked_late"] += 1
        if d.submitted_at is not None and d.submitted_at < end and (d.checked_at is None or d.checked_at >= end) \
                and check_due < min(end, now):
            c["online_unchecked_overdue"] += 1
    entered, closed = d.entered, d.closed
    if d.received_at is None:
        if closed is not None and start <= closed < end:
            c["not_received_total"] += 1
            if d.withdrawn_at is not None:
                c["withdrawn_before_receipt"] += 1
            elif d.channel == "online":
                c["online_not_accepted"] += 1
            else:
                c["refused_at_reception"] += 1
        return
    assert entered is not None
    if entered >= end or (closed is not None and closed < start):
        return
    if entered < start:
        c["carried_over"] += 1
    else:
        c["received_total"] += 1
        c[{"online": "new_online", "postal": "new_postal"}.get(d.channel, "new_direct")] += 1
    if closed is not None and closed < end:
        if d.resolved_at is not None:
            c["resolved_total"] += 1
            c["resolved_early" if d.outcome == "early" else "resolved_late" if d.outcome == "late"
              else "resolved_on_time"] += 1
            if d.outcome == "late":  # made late here unless the resolve event names another agency
                c["late_caused_here" if d.late_agency in (None, agency_code) else "late_caused_elsewhere"] += 1
        else:
            c["withdrawn_or_refused"] += 1
        return
    c["in_progress_total"] += 1
    cutoff = min(end, now)
    paused_in_time = d.paused_at is not None and d.paused_at < cutoff and d.due_at is not None \
        and d.paused_at <= d.due_at
    if d.due_at is not None and d.due_at < cutoff and not paused_in_time:
        c["in_progress_overdue"] += 1
    else:
        c["in_progress_within"] += 1
    if any(r < end and (back is None or back >= end) for r, back in d.requests):
        c["awaiting_supplement"] += 1


def report_from_events(session: Session, *, agency_id: int, period: Period, now: datetime, settings: Settings
                       ) -> dict[str, dict[str, int]]:
    """{procedure code: counts} from the events of the agency's dossiers created before the period's end."""
    procedures = {p.id: p for p in session.execute(select(Procedure).where(Procedure.agency_id == agency_id)).scalars()}
    cal = sla.calendar_for(session, agency_id, settings)
    agency = session.get(Agency, agency_id)
    agency_code = agency.code if agency is not None else None
    conn = session.connection()
    cases = conn.execute(select(Dossier.id, Dossier.procedure_id, Dossier.channel).where(
        Dossier.agency_id == agency_id, Dossier.created_at < period.end)).all()
    channel_of = {r.id: (r.procedure_id, r.channel) for r in cases}
    events: dict[int, list[Any]] = defaultdict(list)
    ids = list(channel_of)
    for first in range(0, len(ids), 5000):
        chunk = ids[first:first + 5000]
        for e in conn.execute(select(DossierEvent.dossier_id, DossierEvent.seq, DossierEvent.at, DossierEvent.action,
                                     DossierEvent.from_status, DossierEvent.to_status, DossierEvent.data)
                              .where(DossierEvent.dossier_id.in_(chunk)).order_by(DossierEvent.dossier_id,
                                                                                  DossierEvent.seq)):
            events[e.dossier_id].append(e)
    rows: dict[str, dict[str, int]] = {}
    for dossier_id, (procedure_id, channel) in channel_of.items():
        procedure = procedures[procedure_id]
        d = replay_dossier(events.get(dossier_id, []), procedure, channel or "direct", cal)
        check_due = cal.add_working_minutes(d.submitted_at, cal.minutes_per_day) \
            if d.submitted_at is not None and channel == "online" else None
        c = rows.setdefault(procedure.code, dict.fromkeys(COUNT_FIELDS, 0))
        _count(d, c, period.start, period.end, now, check_due, agency_code)
    return {code: c for code, c in rows.items() if any(c.values())}


@dataclass(frozen=True)
class Difference:
    procedure_code: str
    field: str
    stored: int
    from_events: int


def compare(session: Session, *, agency_id: int, period: Period, now: datetime, settings: Settings
            ) -> list[Difference]:
    """Every figure of the stored periodic report that the event log does not reproduce."""
    stored = queries.periodic_report(session, agency_id=agency_id, period=period, now=now)
    replayed = report_from_events(session, agency_id=agency_id, period=period, now=now, settings=settings)
    table = {r.procedure_code: r.model_dump() for r in stored.rows}
    out = []
    for code in sorted(set(table) | set(replayed)):
        a, b = table.get(code, {}), replayed.get(code, {})
        for name in COUNT_FIELDS:
            if int(a.get(name, 0)) != int(b.get(name, 0)):
                out.append(Difference(code, name, int(a.get(name, 0)), int(b.get(name, 0))))
    return out
