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

* Inter-agency (liên thông) dossiers count in the report of **every agency that holds a part** of
  them: the competent department (its own rows, `Dossier.agency_id`), and the receiving point
  and the deciding authority (`dossier_agencies` rows with a share of the limit, or the receiving
  point's). Those are counted by a second pass over that "taking part" population and added up
  by group key; the two populations are disjoint (the second excludes the agency's own dossiers).
  An agency consulted for an opinion only does not count it. `late_caused_here` /
  `late_caused_elsewhere` split `resolved_late` by the agency recorded as having made it late
  (`dossier_agencies.caused_late`); a dossier with none recorded is its competent agency's.

Only these aggregations touch dossier rows; Python only adds up or divides the aggregated numbers.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, literal_column, or_, select, text
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from app import access, parties
from app.errors import Invalid, NotFound
from app.esign.store import RESULT_KINDS
from app.models import (Agency, Apology, Channel, ClockState, Dossier, DossierAgency, Procedure, SignedDocument,
                        SupplementRequest)
from app.reports.periods import Period, last_months
from app.reports.schemas import (COUNT_FIELDS, AgencyOut, ConventionOut, Counts, MonthlyOnTime, MonthOnTime,
                                 OnTimeGroup, OnTimeReport, PeriodicReport, PeriodicRow, PeriodOut, RateOut)
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
            own = session.get(Agency, agency_id)
            # The agency's own procedure, or an inter-agency one it receives or decides (its parties).
            procedure = next((p for p in session.execute(select(Procedure).where(
                Procedure.code == procedure_code)).scalars()
                if p.agency_id == agency_id or (own is not None and own.code in parties.party_codes(p))), None)
            if procedure is None:
                raise NotFound(f"Không có thủ tục hành chính mã {procedure_code} của cơ quan.",
                               code="procedure_not_found")
            self.procedure_id = procedure.id
            self.applied["procedure_code"] = procedure.code
        if division:
            found = access.division_of(session, agency_id, division)
            self.division_id = found.id
            self.applied["division"] = found.code
        if not include_imported:
            self.applied["imported"] = "excluded"

    taking_part = False  # the population of dossiers the agency takes part in without being competent
    agency_ids: list[int] | None = None  # several agencies counted at once (`for_agencies`)

    @classmethod
    def for_agencies(cls, agency_ids: Iterable[int]) -> Filters:
        """Each of `agency_ids`, unfiltered, all in the same statements: their rows carry the agency
        too (`agency_key`), so a province's period costs a statement per kind, not one per agency.
        Every condition is the single agency's, with its id replaced by the column naming it."""
        filters = cls.__new__(cls)
        filters.agency_id, filters.agency_ids = None, sorted(agency_ids)
        filters.include_imported, filters.procedure_id, filters.division_id, filters.applied = True, None, None, {}
        return filters

    def reporting_agency(self) -> Any:
        """The agency whose figures a row counts in: the one agency's id, or (several) the column naming it."""
        if self.agency_ids is None:
            return self.agency_id
        return DossierAgency.agency_id if self.taking_part else Dossier.agency_id

    def taking_part_filters(self) -> Filters | None:
        """The same filters over the inter-agency dossiers the agency takes part in (received them, or
        holds a step) without being their competent agency; None when that cannot apply."""
        if (self.agency_id is None and self.agency_ids is None) or self.division_id is not None:
            return None  # a division belongs to the competent department: none of its dossiers is elsewhere
        other = copy.copy(self)
        other.taking_part = True
        return other

    def dossier_clauses(self) -> list[ColumnElement[bool]]:
        if self.agency_ids is not None and self.taking_part:
            # As below, for each agency of the set: its part row (unique per dossier and agency) is joined.
            part = DossierAgency
            clauses: list[ColumnElement[bool]] = [
                part.dossier_id == Dossier.id, part.agency_id.in_(self.agency_ids), Dossier.agency_id != part.agency_id,
                or_(part.budget_minutes > 0, Dossier.receiving_agency_id == part.agency_id)]
        elif self.agency_ids is not None:
            clauses = [Dossier.agency_id.in_(self.agency_ids)]
        elif self.taking_part:
            part = DossierAgency
            clauses = [
                Dossier.agency_id != self.agency_id,
                Dossier.id.in_(select(part.dossier_id).where(
                    part.agency_id == self.agency_id,
                    or_(part.budget_minutes > 0, part.dossier_id.in_(select(Dossier.id).where(
                        Dossier.receiving_agency_id == self.agency_id)))))]
        else:
            clauses = [Dossier.agency_id == self.agency_id]
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
                    extras: bool = False, agency_id: Any = None) -> list[Any]:
    """Conditional counts of one period (only `fields`). Each condition carries the period's own
    population test, so several periods can be counted in one pass over a wider population.

    "Overdue at the end" is judged at `min(end, now)`: a period still running is not judged on
    appointments that have not come yet. `open_request` is a column that is not NULL when the
    dossier has a supplement request still open at `end` (see `_open_requests`). `agency_id`: the
    agency whose report it is (an id, or the column naming it: `Filters.reporting_agency`), for the
    split of late results by the agency that caused them.
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
        "late_caused_here": _n(and_(resolved, Dossier.outcome == "late", _caused_here(agency_id))),
        # NULL-proof like in_progress_within: here + elsewhere = resolved_late.
        "late_caused_elsewhere": _n(and_(resolved, Dossier.outcome == "late"))
        - _n(and_(resolved, Dossier.outcome == "late", _caused_here(agency_id))),
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


def _caused_here(agency_id: Any) -> ColumnElement[bool]:
    """A late dossier was made late by `agency_id`: it is recorded as the one that overran its share
    (inter-agency, `dossier_agencies.caused_late`), or none is recorded and it is the competent
    agency (every single-agency dossier). Without an agency (a whole-province pass): always."""
    if agency_id is None:
        return literal_column("1") == 1
    part = aliased(DossierAgency)  # the statement itself may join dossier_agencies (`for_agencies`)
    recorded = exists().where(part.dossier_id == Dossier.id, part.caused_late.is_(True))
    return or_(exists().where(part.dossier_id == Dossier.id, part.agency_id == agency_id, part.caused_late.is_(True)),
               and_(Dossier.agency_id == agency_id, ~recorded))


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
    # Several agencies at once (`Filters.for_agencies`): rows are per agency and group key.
    keys = [key.label("key")] + ([filters.reporting_agency().label("agency_key")]
                                 if filters.agency_ids is not None else [])
    start, end = period.start, period.end
    requests = _open_requests(end)
    returned = and_(Dossier.returned_at >= start, Dossier.returned_at < end)
    flows = select(*keys, *_window_columns(start, end, now, open_request=requests.c.dossier_id,
                                           extras=extras, agency_id=filters.reporting_agency()),
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
    apologies = select(*keys, func.count().label("apologies"),
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
    checks = select(*keys, _n(checked_late).label("online_checked_late"),
                    _n(unchecked).label("online_unchecked_overdue")).select_from(Dossier).where(
        *filters.dossier_clauses(), Dossier.check_due_at.is_not(None),
        or_(Dossier.checked_at.is_(None), Dossier.checked_at >= start))
    statements = [flows, apologies, checks]
    if filters.agency_ids is not None:
        return [q.group_by(key, keys[1]) for q in statements]
    return statements if group is None else [q.group_by(key) for q in statements]


def period_facts(session: Session, filters: Filters, period: Period, group: str | None, *, now: datetime,
                 extras: bool = False) -> dict[Any, dict[str, Any]]:
    """All counts of COUNT_FIELDS (and, with `extras`, the indicator sums) per group key; per
    (agency, group key) for `Filters.for_agencies`."""
    facts: dict[Any, dict[str, Any]] = {}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # psycopg prepares a statement run 5 times on a connection, and PostgreSQL may then keep a
        # generic plan; how many rows a period selects varies too much for one plan to fit all.
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    statements = fact_statements(filters, period, group, now=now, dialect=dialect, extras=extras)
    if (taking_part := filters.taking_part_filters()) is not None:  # inter-agency dossiers of others it handles
        statements += fact_statements(taking_part, period, group, now=now, dialect=dialect, extras=extras)
    for statement in statements:
        for row in _rows(session, statement):
            key = row.pop("key")
            into = facts.setdefault((row.pop("agency_key"), key) if "agency_key" in row else key, {})
            for name, value in row.items():  # the two populations are disjoint: their counts add up
                into[name] = value if into.get(name) is None else into[name] + (value or 0)
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

def procedure_names(session: Session, ids: Iterable[int]) -> dict[int, Any]:
    """id -> (code, name) rows of the procedures (only the two columns the report shows)."""
    ids = list(ids)
    return {p.id: p for p in session.execute(select(Procedure.id, Procedure.code, Procedure.name).where(
        Procedure.id.in_(ids)))} if ids else {}


def periodic_rows(session: Session, facts: dict[Any, dict[str, Any]],
                  procedures: dict[int, Any] | None = None) -> list[PeriodicRow]:
    """The report's rows from per-procedure facts: procedures with any count, by procedure code."""
    if procedures is None:
        procedures = procedure_names(session, facts)
    rows = [PeriodicRow(procedure_code=procedures[pid].code, procedure_name=procedures[pid].name,
                        **_counts(row).model_dump())
            for pid, row in facts.items() if any(row.get(name) for name in COUNT_FIELDS)]
    rows.sort(key=lambda r: r.procedure_code)
    return rows


def sum_counts(rows: Iterable[Counts]) -> Counts:
    return _sum(rows)


def periodic_report(session: Session, *, agency_id: int, period: Period, now: datetime,
                    procedure_code: str | None = None, division: str | None = None,
                    include_imported: bool = True) -> PeriodicReport:
    filters = Filters(session, agency_id, procedure_code=procedure_code, division=division,
                      include_imported=include_imported)
    facts = period_facts(session, filters, period, "procedure", now=now)
    rows = periodic_rows(session, facts)
    return PeriodicReport(agency=agency_out(session, agency_id), period=period_out(period), filters=filters.applied,
                          rows=rows, totals=_sum(rows), include_imported=include_imported,
                          imported_rows=imported_rows(facts))


# --- on-time rates -----------------------------------------------------------------------------

def percent(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(100.0 * numerator / denominator, 2)


def rates(counts: dict[str, int]) -> tuple[RateOut, RateOut]:
    resolved = counts["resolved_total"]
    good = counts["resolved_early"] + counts["resolved_on_time"]
    books = counts["received_total"] + counts["carried_over"]
    not_late = books - counts["resolved_late"] - counts["in_progress_overdue"]
    only, strict = CONVENTIONS["resolved_only"], CONVENTIONS["strict"]
    return (RateOut(convention=only.convention, name=only.name, formula=only.formula, numerator=good,
                    denominator=resolved, value=percent(good, resolved)),
            RateOut(convention=strict.convention, name=strict.name, formula=strict.formula, numerator=not_late,
                    denominator=books, value=percent(not_late, books)))


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
    if group_by == "agency":  # its own dossiers and the inter-agency ones it takes part in: one group
        merged: dict[str, int] = {}
        for row in facts.values():
            for name, value in row.items():
                merged[name] = merged.get(name, 0) + int(value or 0)
        groups = [_on_time_group(agency.code, agency.name, merged)] if facts else []
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
    """On-time rates of the last `months` months, one SQL statement for all of them (and one more for
    the inter-agency dossiers of other agencies it takes part in)."""
    periods = last_months(now, months, settings.timezone)
    filters = Filters(session, agency_id, include_imported=include_imported, division=division)
    columns = [c for i, p in enumerate(periods)
               for c in _window_columns(p.start, p.end, now, prefix=f"m{i}_", fields=_RATE_FIELDS)]
    columns.append(_n(Dossier.is_imported.is_(True)).label("imported_rows"))
    row: dict[str, Any] = {}
    for population in (filters, filters.taking_part_filters()):
        if population is None:
            continue
        statement = select(*columns).where(*population.dossier_clauses(),
                                           _population(periods[0].start, periods[-1].end))
        for name, value in _rows(session, statement)[0].items():
            row[name] = int(row.get(name) or 0) + int(value or 0)
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


__all__ = ["CLOSED_AT", "ENTERED_AT", "Filters", "fact_statements", "imported_rows", "percent",
           "monthly_on_time",
           "on_time_report", "period_facts", "periodic_report", "periodic_rows", "procedure_names", "rates",
           "sum_counts"]
