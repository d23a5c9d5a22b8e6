"""Report figures, computed by the database: set-based aggregations with conditional counts.

Definitions (docs/REPORTS.md says the same in Vietnamese terms):

* A dossier **enters** the agency's books at `received_at`: the moment it was received complete
  (form 01, the clock start). A dossier turned away / withdrawn / stopped before it was ever
  received (refused at the desk, online submission refused, asked to supplement at the desk and
  never completed) is **never received**: it is not "new received", not in the books, outside
  both on-time denominators, and is counted apart (`not_received_total` and its split) in the
  period it was closed. `ENTERED_AT = COALESCE(received_at, refused_at, withdrawn_at, stopped_at)`
  (an indexed expression) finds both kinds by one range. A dossier waiting for reception (online
  submission not yet accepted, desk supplement not yet brought) counts nowhere yet. The entry
  moment never moves once set.
* It **leaves** at `CLOSED_AT = COALESCE(resolved_at, refused_at, withdrawn_at, stopped_at)`:
  result ready (resolved) or refused / withdrawn / stopped. Returning the result does not matter.
* For a period `[start, end)` the dossiers that count are those with `entered < end` and not
  closed before `start`. Each is carried over (entered before start) or new (entered in the
  period), and each is closed in the period (resolved, or withdrawn/refused) or still in progress
  at `end`; so carried_over + received_total = resolved_total + in_progress_total +
  withdrawn_or_refused holds for every group by construction.

Only these aggregations touch dossier rows; Python only adds up or divides the aggregated numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, literal_column, or_, select, text
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from app.errors import Invalid, NotFound
from app.esign.store import RESULT_KINDS
from app.models import Agency, Apology, Channel, ClockState, Dossier, Procedure, SignedDocument, SupplementRequest
from app.reports.periods import Period, last_months
from app.reports.schemas import (COUNT_FIELDS, AgencyOut, ConventionOut, Counts, DigitisedRow, ElectronicResultRow,
                                 IndicatorOut,
                                 IndicatorReport,
                                 MonthlyOnTime, MonthOnTime, OnTimeGroup, OnTimeReport, PeriodicReport, PeriodicRow,
                                 PeriodOut, RateOut, ResolutionTimeRow, UnsupportedIndicator)
from app.settings import Settings

ENTERED_AT = func.coalesce(Dossier.received_at, Dossier.refused_at, Dossier.withdrawn_at, Dossier.stopped_at)
# The expression of the index ix_dossiers_agency_closed: keep both spelled the same.
CLOSED_AT = func.coalesce(Dossier.resolved_at, Dossier.refused_at, Dossier.withdrawn_at, Dossier.stopped_at)
MINUTES_PER_DAY = 480  # 1 working day = 8 working hours (ONE_STOP.md)

GROUP_BY = ("agency", "division", "procedure", "channel")
CHANNEL_LABELS = {Channel.direct.value: "Trực tiếp", Channel.online.value: "Trực tuyến",
                  Channel.postal.value: "Dịch vụ bưu chính công ích"}

CONVENTIONS = {
    "resolved_only": ConventionOut(
        convention="resolved_only",
        name="Tỷ lệ đúng hạn trên số hồ sơ đã giải quyết (cách tính phổ biến)",
        formula="(Số giải quyết trước hạn + Số giải quyết đúng hạn) ÷ Tổng số đã giải quyết × 100%",
        note="Chỉ xét hồ sơ đã có kết quả trong kỳ; hồ sơ đang giải quyết quá hạn không làm giảm tỷ lệ."),
    "strict": ConventionOut(
        convention="strict",
        name="Tỷ lệ đúng hạn theo cách tính chặt (Cổng Dịch vụ công tỉnh Gia Lai)",
        formula="100% − (Số giải quyết quá hạn + Số đang giải quyết quá hạn) ÷ "
                "(Số mới tiếp nhận + Số kỳ trước chuyển sang) × 100%",
        note="Tính cả hồ sơ đang giải quyết đã quá hạn vào cuối kỳ."),
}


# --- scope and filters -----------------------------------------------------------------------

def agency_out(session: Session, agency_id: int) -> AgencyOut:
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("Không có cơ quan.", code="agency_not_found")
    return AgencyOut(code=agency.code, name=agency.name)


def period_out(period: Period) -> PeriodOut:
    return PeriodOut(key=period.key, label=period.label, first_day=period.first_day, last_day=period.last_day,
                     start=period.start, end=period.end)


class Filters:
    """Optional narrowing of a report, resolved inside the caller's agency (foreign codes: 404)."""

    def __init__(self, session: Session, agency_id: int, *, procedure_code: str | None = None,
                 division: str | None = None, include_imported: bool = True) -> None:
        self.agency_id = agency_id
        self.include_imported = include_imported
        self.procedure_id: int | None = None
        self.division_id: int | None = None
        self.applied: dict[str, str] = {}
        if procedure_code:
            procedure = session.execute(select(Procedure).where(
                Procedure.code == procedure_code, Procedure.agency_id == agency_id)).scalars().first()
            if procedure is None:
                raise NotFound(f"Không có thủ tục hành chính mã {procedure_code} của cơ quan.",
                               code="procedure_not_found")
            self.procedure_id = procedure.id
            self.applied["procedure_code"] = procedure.code
        if division:
            agency = session.get(Agency, agency_id)
            assert agency is not None
            found = session.execute(select(Agency).where(
                Agency.code.in_([division, f"{agency.code}.{division}"]),
                Agency.parent_id == agency_id)).scalars().first()
            if found is None:
                raise NotFound(f"Không có phòng chuyên môn {division} thuộc cơ quan.", code="division_not_found")
            self.division_id = found.id
            self.applied["division"] = found.code
        if not include_imported:
            self.applied["imported"] = "excluded"

    def dossier_clauses(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = [Dossier.agency_id == self.agency_id]
        if self.procedure_id is not None:
            clauses.append(Dossier.procedure_id == self.procedure_id)
        if self.division_id is not None:
            clauses.append(Dossier.assigned_division_id == self.division_id)
        if not self.include_imported:
            clauses.append(Dossier.is_imported.is_(False))
        return clauses


def _group_column(group: str | None) -> Any:
    if group is None:
        return literal_column("'all'")
    return {"agency": Dossier.agency_id, "division": Dossier.assigned_division_id,
            "procedure": Dossier.procedure_id, "channel": Dossier.channel}[group]


# --- the aggregations -------------------------------------------------------------------------

def _n(condition: ColumnElement[bool]) -> Any:
    return func.count().filter(condition)


def _window_columns(start: datetime, end: datetime, now: datetime, prefix: str = "", *,
                    fields: Iterable[str] = COUNT_FIELDS, open_request: Any = None,
                    extras: bool = False) -> list[Any]:
    """Conditional counts of one period (only `fields`). Each condition carries the period's own
    population test, so several periods can be counted in one pass over a wider population.

    "Overdue at the end" is judged at `min(end, now)`: a period still running is not judged on
    appointments that have not come yet. `open_request` is a column that is not NULL when the
    dossier has a supplement request still open at `end` (see `_open_requests`).
    """
    entered, closed = ENTERED_AT, CLOSED_AT
    cutoff = min(end, now)
    population = _population(start, end)
    # Received complete (form 01): in the books. Never received: closed before reception, counted apart.
    books = and_(population, Dossier.received_at.is_not(None))
    never = and_(population, Dossier.received_at.is_(None))
    received = and_(books, entered >= start)
    left = and_(books, closed < end)
    resolved = and_(left, Dossier.resolved_at.is_not(None))
    open_at_end = and_(books, or_(closed.is_(None), closed >= end))
    # A clock paused (waiting for the applicant) before the appointment is not overdue.
    not_paused_in_time = or_(Dossier.clock_state != ClockState.paused, Dossier.paused_at.is_(None),
                             Dossier.paused_at >= cutoff, Dossier.paused_at > Dossier.due_at)
    overdue = and_(open_at_end, Dossier.due_at < cutoff, not_paused_in_time)
    channel = Dossier.channel
    conditions: dict[str, Any] = {
        "carried_over": _n(and_(books, entered < start)),
        "new_online": _n(and_(received, channel == Channel.online)),
        "new_direct": _n(and_(received, channel.not_in([Channel.online, Channel.postal]))),
        "new_postal": _n(and_(received, channel == Channel.postal)),
        "received_total": _n(received),
        "resolved_total": _n(resolved),
        "resolved_early": _n(and_(resolved, Dossier.outcome == "early")),
        "resolved_on_time": _n(and_(resolved, or_(Dossier.outcome.is_(None),
                                                  Dossier.outcome.not_in(["early", "late"])))),
        "resolved_late": _n(and_(resolved, Dossier.outcome == "late")),
        "in_progress_total": _n(open_at_end),
        "in_progress_within": _n(open_at_end) - _n(overdue),  # NULL-proof: within + overdue = total
        "in_progress_overdue": _n(overdue),
        "withdrawn_or_refused": _n(and_(left, Dossier.resolved_at.is_(None))),
        # Never received: in [start, end) by construction (they enter and leave at their closing).
        "not_received_total": _n(never),
        "refused_at_reception": _n(and_(never, Dossier.withdrawn_at.is_(None),
                                        or_(channel.is_(None), channel != Channel.online))),
        "online_not_accepted": _n(and_(never, Dossier.withdrawn_at.is_(None), channel == Channel.online)),
        "withdrawn_before_receipt": _n(and_(never, Dossier.withdrawn_at.is_not(None))),
    }
    if open_request is not None:
        conditions["awaiting_supplement"] = _n(and_(open_at_end, open_request.is_not(None)))
    columns = [conditions[name].label(f"{prefix}{name}") for name in fields if name in conditions]
    if extras:
        columns += [
            _n(and_(received, Dossier.portal_synced_at.is_not(None))).label("portal_synced"),
            func.count(Dossier.resolved_working_minutes).filter(resolved).label("with_working_time"),
            func.sum(Dossier.resolved_working_minutes).filter(resolved).label("working_minutes"),
            # Decision 766 "dossiers with electronic results": a resolved dossier whose result (or
            # reasoned refusal) was signed electronically (app/esign, the signed_documents table).
            _n(and_(resolved, exists().where(SignedDocument.dossier_id == Dossier.id,
                                             SignedDocument.kind.in_(RESULT_KINDS)))).label("resolved_electronic"),
        ]
    return columns


def _open_requests(end: datetime) -> Any:
    """Dossiers with a supplement request still open at `end` (requested before, not answered by then)."""
    r = SupplementRequest
    return select(r.dossier_id.label("dossier_id")).where(
        r.requested_at < end, or_(r.received_at.is_(None), r.received_at >= end)).group_by(r.dossier_id).subquery()


def _population(start: datetime, end: datetime) -> ColumnElement[bool]:
    """Dossiers in the books at some moment of [start, end) (entered before end, not closed before start),
    and the never-received ones closed in [start, end) (ENTERED_AT = CLOSED_AT for them)."""
    return and_(ENTERED_AT < end, or_(CLOSED_AT.is_(None), CLOSED_AT >= start))


def _days_between(dialect: str, earlier: Any, later: Any) -> Any:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier) / 86400.0
    return func.julianday(later) - func.julianday(earlier)


def _rows(session: Session, statement: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in session.execute(statement)]


def fact_statements(filters: Filters, period: Period, group: str | None, *, now: datetime, dialect: str,
                    extras: bool = False) -> list[Any]:
    """The two statements behind `period_facts`: the flows (one pass over the period's population
    and the results returned in it, with the supplement requests still open at its end) and the
    apologies issued in it. Each yields a `key` column plus counts.

    Every count carries its own condition, so the pass reads the union of the two populations
    once; a dossier resolved before the period and returned in it counts only as returned.
    """
    key = _group_column(group)
    start, end = period.start, period.end
    requests = _open_requests(end)
    returned = and_(Dossier.returned_at >= start, Dossier.returned_at < end)
    flows = select(key.label("key"), *_window_columns(start, end, now, open_request=requests.c.dossier_id,
                                                       extras=extras),
                   _n(returned).label("returned_total"),
                   _n(and_(returned, Dossier.returned_via == "postal")).label("returned_by_post"),
                   _n(and_(returned, Dossier.returned_via == "online")).label("returned_online"),
                   _n(Dossier.is_imported.is_(True)).label("imported_rows")).select_from(
        Dossier).outerjoin(requests, requests.c.dossier_id == Dossier.id).where(
        *filters.dossier_clauses(), or_(_population(start, end), returned))
    if extras:
        resolved = and_(CLOSED_AT >= start, CLOSED_AT < end, Dossier.resolved_at.is_not(None))
        flows = flows.add_columns(
            func.sum(_days_between(dialect, Dossier.received_at, Dossier.resolved_at)).filter(resolved)
            .label("calendar_days"))
    apologies = select(key.label("key"), func.count().label("apologies"),
                       _n(Apology.is_late.is_(True)).label("apologies_late")).select_from(Apology).join(
        Dossier, Dossier.id == Apology.dossier_id).where(
        *filters.dossier_clauses(), Apology.status == "issued", Apology.issued_at >= start,
        Apology.issued_at < end)
    # Online submissions the desk checked (accepted, refused, asked to complete) later than one
    # working day after submission, and those still unchecked past their day at the period's end
    # (`ix_dossiers_online_check`: only online submissions carry `check_due_at`).
    checked_late = and_(Dossier.checked_at >= start, Dossier.checked_at < end,
                        Dossier.checked_at > Dossier.check_due_at)
    unchecked = and_(Dossier.submitted_at < end, or_(Dossier.checked_at.is_(None), Dossier.checked_at >= end),
                     Dossier.check_due_at < min(end, now))
    checks = select(key.label("key"), _n(checked_late).label("online_checked_late"),
                    _n(unchecked).label("online_unchecked_overdue")).select_from(Dossier).where(
        *filters.dossier_clauses(), Dossier.check_due_at.is_not(None),
        or_(Dossier.checked_at.is_(None), Dossier.checked_at >= start))
    statements = [flows, apologies, checks]
    return statements if group is None else [q.group_by(key) for q in statements]


def period_facts(session: Session, filters: Filters, period: Period, group: str | None, *, now: datetime,
                 extras: bool = False) -> dict[Any, dict[str, Any]]:
    """All counts of COUNT_FIELDS (and, with `extras`, the indicator sums) per group key."""
    facts: dict[Any, dict[str, Any]] = {}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # psycopg prepares a statement run 5 times on a connection, and PostgreSQL may then keep a
        # generic plan; how many rows a period selects varies too much for one plan to fit all.
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    for statement in fact_statements(filters, period, group, now=now, dialect=dialect, extras=extras):
        for row in _rows(session, statement):
            facts.setdefault(row.pop("key"), {}).update(row)
    for row in facts.values():
        for name in (*COUNT_FIELDS, "returned_total", "returned_online", "imported_rows"):
            row.setdefault(name, 0)
    return facts


def imported_rows(facts: dict[Any, dict[str, Any]]) -> int:
    """How many imported dossiers the figures of `facts` hold (0 when imported rows are left out)."""
    return sum(int(row.get("imported_rows") or 0) for row in facts.values())


def _counts(row: dict[str, Any]) -> Counts:
    return Counts(**{name: int(row.get(name) or 0) for name in COUNT_FIELDS})


def _sum(rows: Iterable[Counts]) -> Counts:
    total = {name: 0 for name in COUNT_FIELDS}
    for row in rows:
        for name in COUNT_FIELDS:
            total[name] += getattr(row, name)
    return Counts(**total)


# --- periodic report ---------------------------------------------------------------------------

def periodic_report(session: Session, *, agency_id: int, period: Period, now: datetime,
                    procedure_code: str | None = None, division: str | None = None,
                    include_imported: bool = True) -> PeriodicReport:
    filters = Filters(session, agency_id, procedure_code=procedure_code, division=division,
                      include_imported=include_imported)
    facts = period_facts(session, filters, period, "procedure", now=now)
    procedures = {p.id: p for p in session.execute(select(Procedure).where(
        Procedure.id.in_(list(facts)))).scalars()} if facts else {}
    rows = [PeriodicRow(procedure_code=procedures[pid].code, procedure_name=procedures[pid].name,
                        **_counts(row).model_dump())
            for pid, row in facts.items() if any(row.get(name) for name in COUNT_FIELDS)]
    rows.sort(key=lambda r: r.procedure_code)
    return PeriodicReport(agency=agency_out(session, agency_id), period=period_out(period), filters=filters.applied,
                          rows=rows, totals=_sum(rows), include_imported=include_imported,
                          imported_rows=imported_rows(facts))


# --- on-time rates -----------------------------------------------------------------------------

def _percent(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(100.0 * numerator / denominator, 2)


def rates(counts: dict[str, int]) -> tuple[RateOut, RateOut]:
    resolved = counts["resolved_total"]
    good = counts["resolved_early"] + counts["resolved_on_time"]
    books = counts["received_total"] + counts["carried_over"]
    not_late = books - counts["resolved_late"] - counts["in_progress_overdue"]
    only, strict = CONVENTIONS["resolved_only"], CONVENTIONS["strict"]
    return (RateOut(convention=only.convention, name=only.name, formula=only.formula, numerator=good,
                    denominator=resolved, value=_percent(good, resolved)),
            RateOut(convention=strict.convention, name=strict.name, formula=strict.formula, numerator=not_late,
                    denominator=books, value=_percent(not_late, books)))


_RATE_FIELDS = ("carried_over", "received_total", "resolved_total", "resolved_early", "resolved_on_time",
                "resolved_late", "in_progress_total", "in_progress_overdue", "not_received_total")


def _on_time_group(key: str | None, label: str, row: dict[str, Any]) -> OnTimeGroup:
    counts = {name: int(row.get(name) or 0) for name in _RATE_FIELDS}
    only, strict = rates(counts)
    return OnTimeGroup(key=key, label=label, resolved_only=only, strict=strict, **counts)


def on_time_report(session: Session, *, agency_id: int, period: Period, group_by: str, now: datetime,
                   procedure_code: str | None = None, division: str | None = None,
                   include_imported: bool = True) -> OnTimeReport:
    if group_by not in GROUP_BY:
        raise Invalid(f"Không nhóm được theo {group_by}: dùng agency, division, procedure hoặc channel.",
                      code="invalid_group")
    filters = Filters(session, agency_id, procedure_code=procedure_code, division=division,
                      include_imported=include_imported)
    facts = period_facts(session, filters, period, group_by, now=now)
    agency = agency_out(session, agency_id)
    groups: list[OnTimeGroup] = []
    if group_by == "agency":
        groups = [_on_time_group(agency.code, agency.name, row) for row in facts.values()]
    elif group_by == "channel":
        groups = [_on_time_group(channel, label, facts.get(channel, {})) for channel, label in CHANNEL_LABELS.items()]
    elif group_by == "procedure":
        procedures = {p.id: p for p in session.execute(select(Procedure).where(
            Procedure.id.in_(list(facts)))).scalars()} if facts else {}
        groups = sorted((_on_time_group(procedures[k].code, procedures[k].name, row) for k, row in facts.items()),
                        key=lambda g: g.key or "")
    else:
        ids = [k for k in facts if k is not None]
        names = {a.id: a for a in session.execute(select(Agency).where(
            Agency.id.in_(ids))).scalars()} if ids else {}
        groups = sorted((_on_time_group(names[k].code if k in names else None,
                                        names[k].name if k in names else "Chưa giao phòng chuyên môn", row)
                         for k, row in facts.items()), key=lambda g: g.key or "~")
    total = {name: sum(getattr(g, name) for g in groups) for name in _RATE_FIELDS}
    return OnTimeReport(agency=agency, period=period_out(period), group_by=group_by,
                        conventions=list(CONVENTIONS.values()), groups=groups,
                        total=_on_time_group(agency.code, "Tổng cộng", total), filters=filters.applied,
                        include_imported=include_imported, imported_rows=imported_rows(facts))


def monthly_on_time(session: Session, *, agency_id: int, now: datetime, months: int,
                    settings: Settings, include_imported: bool = True, division: str | None = None) -> MonthlyOnTime:
    """On-time rates of the last `months` months, one SQL statement for all of them."""
    periods = last_months(now, months, settings.timezone)
    filters = Filters(session, agency_id, include_imported=include_imported, division=division)
    columns = [c for i, p in enumerate(periods)
               for c in _window_columns(p.start, p.end, now, prefix=f"m{i}_", fields=_RATE_FIELDS)]
    columns.append(_n(Dossier.is_imported.is_(True)).label("imported_rows"))
    statement = select(*columns).where(*filters.dossier_clauses(), _population(periods[0].start, periods[-1].end))
    row = _rows(session, statement)[0]
    out = []
    for i, p in enumerate(periods):
        counts = {name: int(row[f"m{i}_{name}"] or 0) for name in _RATE_FIELDS}
        only, strict = rates(counts)
        out.append(MonthOnTime(month=p.key, label=f"{p.first_day:%m/%Y}", received_total=counts["received_total"],
                               resolved_total=counts["resolved_total"], resolved_early=counts["resolved_early"],
                               resolved_on_time=counts["resolved_on_time"], resolved_late=counts["resolved_late"],
                               in_progress_overdue=counts["in_progress_overdue"],
                               not_received_total=counts["not_received_total"], resolved_only=only.value,
                               strict=strict.value))
    return MonthlyOnTime(agency=agency_out(session, agency_id), conventions=list(CONVENTIONS.values()), months=out,
                         include_imported=include_imported, imported_rows=int(row["imported_rows"] or 0))


# --- Decision 766/QĐ-TTg indicators ------------------------------------------------------------

UNSUPPORTED = [
    UnsupportedIndicator(code="paid_online", name="Tỷ lệ hồ sơ thanh toán trực tuyến",
                         reason="Chưa lưu giao dịch thanh toán phí, lệ phí."),
    UnsupportedIndicator(code="feedback_on_time", name="Tỷ lệ phản ánh, kiến nghị được xử lý đúng hạn",
                         reason="Chưa có chức năng tiếp nhận phản ánh, kiến nghị."),
]


def digitised_counts(session: Session, filters: Filters, period: Period) -> dict[int, tuple[int, int]]:
    """Per procedure: (dossiers received in the period, of which digitised), the Decision 766
    indicator `digitised`: every required component has a file (`dossiers.digitised_at`, set by
    app/documents when the last one arrives)."""
    received = and_(Dossier.received_at.is_not(None), Dossier.received_at >= period.start,
                    Dossier.received_at < period.end)
    statement = (select(Dossier.procedure_id, func.count(), func.count(Dossier.digitised_at))
                 .where(*filters.dossier_clauses(), received).group_by(Dossier.procedure_id))
    return {pid: (int(n), int(d)) for pid, n, d in session.execute(statement)}


def indicator_report(session: Session, *, agency_id: int, period: Period, now: datetime,
                     include_imported: bool = True) -> IndicatorReport:
    filters = Filters(session, agency_id, include_imported=include_imported)
    facts = period_facts(session, filters, period, "procedure", now=now, extras=True)
    total: dict[str, float] = {}
    for row in facts.values():
        for name, value in row.items():
            total[name] = total.get(name, 0) + (value or 0)
    t = {name: int(total.get(name, 0)) for name in
         (*COUNT_FIELDS, "portal_synced", "returned_total", "returned_online", "with_working_time",
          "resolved_electronic")}
    only, strict = rates(t)

    procedures_query = select(Procedure.id, Procedure.code, Procedure.name, Procedure.online_level,
                              Procedure.time_limit_value, Procedure.time_limit_unit).where(
        Procedure.agency_id == agency_id)
    procedures = {r.id: r for r in session.execute(procedures_query)}
    online_ids = [pid for pid, p in procedures.items() if p.online_level in ("partial", "full")]
    online_used = sum(1 for pid, row in facts.items() if row.get("new_online") and pid in online_ids)
    active_count = session.execute(select(func.count()).select_from(Procedure).where(
        Procedure.agency_id == agency_id, Procedure.is_active.is_(True))).scalar_one()
    active_online = session.execute(select(func.count()).select_from(Procedure).where(
        Procedure.agency_id == agency_id, Procedure.is_active.is_(True),
        Procedure.online_level.in_(["partial", "full"]))).scalar_one()

    received = t["received_total"]
    digitised = digitised_counts(session, filters, period)
    digitised_base = sum(n for n, _ in digitised.values())
    digitised_total = sum(d for _, d in digitised.values())
    digitised_rows = sorted(
        (DigitisedRow(procedure_code=procedures[pid].code, procedure_name=procedures[pid].name, received=n,
                      digitised=d, value=_percent(d, n))
         for pid, (n, d) in digitised.items() if pid in procedures), key=lambda r: r.procedure_code)
    days_label = "ngày làm việc"
    avg_working = (round(total.get("working_minutes", 0) / t["with_working_time"] / MINUTES_PER_DAY, 2)
                   if t["with_working_time"] else None)
    indicators = [
        IndicatorOut(code="synced_to_portal", name="Tỷ lệ hồ sơ đồng bộ lên Cổng Dịch vụ công quốc gia",
                     value=_percent(t["portal_synced"], received), unit="%", numerator=t["portal_synced"],
                     denominator=received, note="Trên số hồ sơ mới tiếp nhận trong kỳ (đã có thời điểm đồng bộ)."),
        IndicatorOut(code="on_time", name="Tỷ lệ hồ sơ giải quyết trước hạn, đúng hạn", value=only.value, unit="%",
                     numerator=only.numerator, denominator=only.denominator, note=only.formula),
        IndicatorOut(code="on_time_strict", name=strict.name, value=strict.value, unit="%",
                     numerator=strict.numerator, denominator=strict.denominator, note=strict.formula),
        IndicatorOut(code="avg_resolution_working_days", name="Thời gian giải quyết bình quân", value=avg_working,
                     unit=days_label, numerator=t["with_working_time"], denominator=t["resolved_total"],
                     note="Ngày làm việc 8 giờ, từ tiếp nhận đến khi có kết quả, không tính thời gian chờ người "
                          "nộp bổ sung hoặc nộp phí; tính trên các hồ sơ đã lưu thời gian này (tử số)."),
        IndicatorOut(code="online_share", name="Tỷ lệ hồ sơ nộp trực tuyến", value=_percent(t["new_online"], received),
                     unit="%", numerator=t["new_online"], denominator=received),
        IndicatorOut(code="postal_received_share", name="Tỷ lệ hồ sơ tiếp nhận qua bưu chính công ích",
                     value=_percent(t["new_postal"], received), unit="%", numerator=t["new_postal"],
                     denominator=received),
        IndicatorOut(code="postal_returned_share", name="Tỷ lệ kết quả trả qua bưu chính công ích",
                     value=_percent(t["returned_by_post"], t["returned_total"]), unit="%",
                     numerator=t["returned_by_post"], denominator=t["returned_total"],
                     note="Trên số hồ sơ đã trả kết quả trong kỳ."),
        IndicatorOut(code="returned_online", name="Tỷ lệ kết quả trả trực tuyến",
                     value=_percent(t["returned_online"], t["returned_total"]), unit="%",
                     numerator=t["returned_online"], denominator=t["returned_total"]),
        IndicatorOut(code="electronic_results", name="Tỷ lệ hồ sơ có kết quả điện tử",
                     value=_percent(t["resolved_electronic"], t["resolved_total"]), unit="%",
                     numerator=t["resolved_electronic"], denominator=t["resolved_total"],
                     note="Hồ sơ đã giải quyết trong kỳ có kết quả (hoặc văn bản trả lời) ký số của cơ quan."),
        IndicatorOut(code="apologies", name="Số văn bản xin lỗi đã phát hành", value=t["apologies"], unit="văn bản"),
        IndicatorOut(code="digitised", name="Tỷ lệ hồ sơ được số hóa", value=_percent(digitised_total, digitised_base),
                     unit="%", numerator=digitised_total, denominator=digitised_base,
                     note="Hồ sơ tiếp nhận trong kỳ có tệp cho mọi thành phần bắt buộc (số hóa khi tiếp nhận, "
                          "nộp trực tuyến kèm tệp, hoặc dùng lại tệp đã số hóa); theo thủ tục: digitised_by_procedure."),
        IndicatorOut(code="procedures_online", name="Tỷ lệ thủ tục cung cấp dịch vụ công trực tuyến",
                     value=_percent(active_online, active_count), unit="%", numerator=active_online,
                     denominator=active_count, note="Toàn trình hoặc một phần, trên số thủ tục đang áp dụng."),
        IndicatorOut(code="online_services_used", name="Tỷ lệ dịch vụ công trực tuyến phát sinh hồ sơ",
                     value=_percent(online_used, len(online_ids)), unit="%", numerator=online_used,
                     denominator=len(online_ids),
                     note="Thủ tục trực tuyến có ít nhất một hồ sơ nộp trực tuyến trong kỳ."),
    ]
    resolution = []
    for pid, row in facts.items():
        p = procedures.get(pid)
        if p is None or not row.get("resolved_total"):
            continue
        with_time = int(row.get("with_working_time") or 0)
        unit = "ngày làm việc" if p.time_limit_unit == "working_days" else "giờ làm việc"
        resolution.append(ResolutionTimeRow(
            procedure_code=p.code, procedure_name=p.name, time_limit=f"{p.time_limit_value} {unit}",
            resolved=row["resolved_total"], with_working_time=with_time,
            avg_working_days=round(row["working_minutes"] / with_time / MINUTES_PER_DAY, 2) if with_time else None,
            avg_calendar_days=round(float(row["calendar_days"]) / row["resolved_total"], 2)
            if row.get("calendar_days") is not None else None))
    resolution.sort(key=lambda r: r.procedure_code)
    electronic = sorted((ElectronicResultRow(
        procedure_code=procedures[pid].code, procedure_name=procedures[pid].name,
        resolved=int(row["resolved_total"]), electronic=int(row.get("resolved_electronic") or 0),
        value=_percent(int(row.get("resolved_electronic") or 0), int(row["resolved_total"])))
        for pid, row in facts.items() if pid in procedures and row.get("resolved_total")),
        key=lambda r: r.procedure_code)
    return IndicatorReport(
        agency=agency_out(session, agency_id), period=period_out(period),
        basis="Quyết định 766/QĐ-TTg ngày 23/6/2022: các chỉ số dữ liệu hiện có cho phép tính.",
        indicators=indicators,
        channels={"direct": t["new_direct"], "online": t["new_online"], "postal": t["new_postal"]},
        resolution_time=resolution, digitised_by_procedure=digitised_rows, electronic_results=electronic,
        unsupported=UNSUPPORTED, include_imported=include_imported,
        imported_rows=imported_rows(facts))


__all__ = ["CLOSED_AT", "ENTERED_AT", "Filters", "fact_statements", "imported_rows", "indicator_report",
           "monthly_on_time",
           "on_time_report", "period_facts", "periodic_report", "rates"]
