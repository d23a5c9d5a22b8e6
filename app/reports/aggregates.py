"""Monthly report aggregates: the province's year from closed months (issue 18 item 4).

`report_month_aggregates` holds, per closed month, agency and procedure, the periodic report's
figures of that month exactly as `queries.period_facts` counts them (both populations: the
agency's own dossiers and the inter-agency ones it takes part in; imported history included).
A period made of whole months is then put together from consecutive segments (months read from
the table, and one directly computed trailing segment) by the rules below, which give the figures
of the whole period by construction (docs/REPORTS.md, "Tổng hợp theo tháng"):

* flows (received, resolved, refused / withdrawn, never received, returned, apologies, online
  checks done late) happen at one moment each: the period's figure is the sum over its segments;
* `carried_over` is the books at the period's start: the first segment's;
* the figures at the period's end (in progress, within / overdue, awaiting a supplement, online
  submissions still unchecked past their day) are the last segment's.

A month is read from the table only when it is closed (ended before `now`: its figures no longer
depend on the clock), built, and not touched by a dossier changed since the job's watermark
(`dossiers.updated_at`, `ix_dossiers_updated_at`): from the first such month on, the period is
computed directly, so a report is right at once, before the job catches up. The part counted
directly (that, or the open current month) is counted for all the agencies at once
(`queries.Filters.for_agencies`), through the range indexes: its cost is its own dossiers. The job
(`report_aggregates`, every `report_aggregates_interval_seconds`) rebuilds those months and the
months that have closed since, then moves the watermark to its start minus `SETTLE` (a change
committed later than that after its own `updated_at` would be missed: requests are far shorter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.models import Agency, Dossier, SystemState
from app.reports import queries
from app.reports.aggregate_models import ReportAggregateMonth, ReportMonthAggregate
from app.reports.periods import Period, month_period
from app.reports.schemas import COUNT_FIELDS

WATERMARK_KEY = "report_aggregates.watermark"
SETTLE = timedelta(minutes=5)
AT_START = ("carried_over",)
AT_END = ("in_progress_total", "in_progress_within", "in_progress_overdue", "awaiting_supplement",
          "online_unchecked_overdue")
FLOWS = tuple(name for name in COUNT_FIELDS if name not in AT_START + AT_END)

Facts = dict[Any, dict[str, Any]]


# --- months -------------------------------------------------------------------------------------

def _next(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def _month_of(moment: datetime, tz: str) -> date:
    from zoneinfo import ZoneInfo

    local = moment.astimezone(ZoneInfo(tz)).date()
    return local.replace(day=1)


def _months(first: date, last: date) -> list[date]:
    """The months from the one of `first` to the one of `last`, both included."""
    out, month = [], first.replace(day=1)
    while month <= last:
        out.append(month)
        month = _next(month)
    return out


def _end(month: date, tz: str) -> datetime:
    return month_period(month.year, month.month, tz).end


def watermark(session: Session) -> datetime | None:
    row = session.get(SystemState, WATERMARK_KEY)
    return datetime.fromisoformat(row.value) if row is not None else None


def changed_since(session: Session, moment: datetime) -> datetime | None:
    """The earliest moment a dossier changed at or after `moment` can count in (its creation,
    submission or entry into the books, whichever is first); None when none changed. Every figure
    of a dossier lies at or after that moment, so only months ending after it can differ."""
    row = session.execute(select(func.min(Dossier.created_at), func.min(Dossier.submitted_at),
                                 func.min(queries.ENTERED_AT)).where(Dossier.updated_at >= moment)).one()
    found = [value for value in row if value is not None]
    return min(found) if found else None


def _report_agencies(session: Session) -> list[int]:
    return list(session.execute(select(Agency.id).where(Agency.is_division.is_(False))  # type: ignore[attr-defined]
                                .order_by(Agency.id)).scalars())


# --- the job ------------------------------------------------------------------------------------

def months_to_build(session: Session, now: datetime, tz: str) -> list[date]:
    """Closed months not built yet, and closed months touched by dossiers changed since the watermark."""
    last_closed = _month_of(now, tz)  # the current month is open: the last closed one is before it
    mark = watermark(session)
    # No watermark: no run has finished, and rows left by an interrupted one may predate changes.
    built = set(session.execute(select(ReportAggregateMonth.month)).scalars()) if mark is not None else set()
    touched = changed_since(session, mark) if mark is not None else None
    if built:
        first = min(built)
        if touched is not None:
            first = min(first, _month_of(touched, tz))
    else:
        row = session.execute(select(func.min(Dossier.created_at), func.min(Dossier.submitted_at),
                                     func.min(queries.ENTERED_AT))).one()
        found = [value for value in row if value is not None]
        if not found:
            return []
        # From the January of the first data: the months before it are empty, and built (no rows),
        # so the year it began in reads from the table too.
        first = _month_of(min(found), tz).replace(month=1)
    return [m for m in _months(first, last_closed) if m < last_closed
            and (m not in built or (touched is not None and _end(m, tz) > touched))]


def build_month(session: Session, month: date, *, now: datetime, tz: str) -> int:
    """Replace the month's rows by a recount (`queries.period_facts` of the month, per agency)."""
    period = month_period(month.year, month.month, tz)
    session.execute(delete(ReportMonthAggregate).where(ReportMonthAggregate.month == month))  # type: ignore[arg-type]
    rows = [{"month": month, "agency_id": agency_id, "procedure_id": pid,
             **{name: int(row.get(name) or 0) for name in COUNT_FIELDS}}
            for agency_id, facts in _direct(session, _report_agencies(session), period, now).items()
            for pid, row in facts.items() if any(row.get(name) for name in COUNT_FIELDS)]
    if rows:
        session.execute(insert(ReportMonthAggregate), rows)
    done = session.get(ReportAggregateMonth, month)
    if done is None:
        session.add(ReportAggregateMonth(month=month, built_at=now))
    else:
        done.built_at = now
    session.flush()
    return len(rows)


@dataclass
class RebuildStats:
    months: int = 0  # months built or rebuilt by the run (logged by the scheduler; not alerts)


def rebuild(factory: sessionmaker[Session], *, now: datetime, tz: str) -> RebuildStats:
    """One run of the job (the caller holds its lock): build the months due, one transaction each,
    then move the watermark."""
    from app.db import transaction

    with transaction(factory) as session:
        months = months_to_build(session, now, tz)
    for month in months:
        with transaction(factory) as session:
            build_month(session, month, now=now, tz=tz)
    with transaction(factory) as session:
        mark = (now - SETTLE).isoformat()
        row = session.get(SystemState, WATERMARK_KEY)
        if row is None:
            session.add(SystemState(key=WATERMARK_KEY, value=mark, updated_at=now))
        else:
            row.value, row.updated_at = mark, now
    return RebuildStats(months=len(months))


# --- the read path ------------------------------------------------------------------------------

def combine(segments: list[Facts]) -> Facts:
    """The facts of consecutive segments of one period, put together (see the module's rules)."""
    out: Facts = {}
    for key in {k for segment in segments for k in segment}:
        parts = [segment.get(key, {}) for segment in segments]
        row = {name: sum(int(part.get(name) or 0) for part in parts) for name in FLOWS}
        row.update({name: int(parts[0].get(name) or 0) for name in AT_START})
        row.update({name: int(parts[-1].get(name) or 0) for name in AT_END})
        out[key] = row
    return out


def readable_months(session: Session, period: Period, *, now: datetime, tz: str) -> list[date]:
    """The leading months of `period` that can be read from the table (closed, built, untouched)."""
    if period.first_day.day != 1 or (period.last_day + timedelta(days=1)).day != 1:
        return []  # not made of whole months
    mark = watermark(session)
    if mark is None:
        return []
    months = _months(period.first_day, period.last_day)
    built = set(session.execute(select(ReportAggregateMonth.month).where(
        ReportAggregateMonth.month.in_(months))).scalars())  # type: ignore[attr-defined]
    touched = changed_since(session, mark)
    out = []
    for month in months:
        end = _end(month, tz)
        if end > now or month not in built or (touched is not None and end > touched):
            break
        out.append(month)
    return out


def _direct(session: Session, agency_ids: list[int], period: Period, now: datetime) -> dict[int, Facts]:
    """Per agency, `queries.period_facts(..., "procedure")` of `period`, counted for all of them at
    once (`Filters.for_agencies`: six statements whatever the number of agencies)."""
    facts = queries.period_facts(session, queries.Filters.for_agencies(agency_ids), period, "procedure", now=now)
    out: dict[int, Facts] = {agency_id: {} for agency_id in agency_ids}
    for (agency_id, procedure_id), row in facts.items():
        out[agency_id][procedure_id] = row
    return out


def periodic_facts(session: Session, agency_ids: Iterable[int], period: Period, *, now: datetime,
                   tz: str) -> dict[int, Facts]:
    """Per agency, the facts `queries.period_facts(..., "procedure")` gives for `period` (the
    periodic report's counts), from the aggregates where they can be read, directly otherwise."""
    agency_ids = list(agency_ids)
    months = readable_months(session, period, now=now, tz=tz)
    if not months:
        return _direct(session, agency_ids, period, now)
    by_month: dict[int, dict[date, Facts]] = {agency_id: {} for agency_id in agency_ids}
    table = ReportMonthAggregate.__table__  # plain rows: no ORM objects for thousands of counts
    for row in session.execute(select(table).where(table.c.month.in_(months),  # type: ignore[attr-defined]
                                                   table.c.agency_id.in_(agency_ids))).mappings():  # type: ignore[attr-defined]
        by_month[row["agency_id"]].setdefault(row["month"], {})[row["procedure_id"]] = {
            name: row[name] for name in COUNT_FIELDS}
    rest_first = _next(months[-1])
    rest = None
    if rest_first <= period.last_day:
        start = month_period(rest_first.year, rest_first.month, tz).start
        rest = replace(period, first_day=rest_first, start=start)
    tail = _direct(session, agency_ids, rest, now) if rest is not None else {}
    out = {}
    for agency_id in agency_ids:
        segments = [by_month[agency_id].get(month, {}) for month in months]
        if rest is not None:
            segments.append(tail[agency_id])
        out[agency_id] = combine(segments)
    return out


__all__ = ["AT_END", "AT_START", "FLOWS", "SETTLE", "RebuildStats", "build_month", "changed_since", "combine", "months_to_build",
           "periodic_facts", "readable_months", "rebuild", "watermark"]
