"""The monthly report aggregates (app/reports/aggregates.py): after random dossiers and random
changes, (1) each built month's rows equal a recount of that month, and (2) the periods put
together from them (and directly computed months) equal the direct computation, figure by figure,
both before the job has caught up with the changes (changed months are counted directly) and after.
The province report through the API equals the sum of each agency's own periodic report."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings as hsettings, strategies as st
from sqlalchemy import select
from sqlmodel import Session

from app.db import make_sessionmaker
from app.models import Agency, Apology, ClockState, Dossier, DossierAgency, Procedure, SupplementRequest
from app.reports import aggregates, queries
from app.reports.aggregate_models import ReportAggregateMonth, ReportMonthAggregate
from app.reports.periods import month_period, parse_period
from app.reports.schemas import COUNT_FIELDS
from app.sla.deadlines import classify_outcome
from tests.conftest import VN, truncate_all

TZ = "Asia/Ho_Chi_Minh"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=VN)
LATER = NOW + aggregates.SETTLE * 2  # the job's next run: the changes at NOW are behind its watermark
BASE = datetime(2026, 4, 1, 0, 0, tzinfo=VN)
SPAN_HOURS = int((NOW - BASE).total_seconds() // 3600)
PERIODS = ("2026", "2026-H2", "2026-Q4", "2026-11")  # 2026-11 is the open month at NOW
OPEN_MONTH = datetime(2026, 11, 1, 0, 0, tzinfo=VN)
CURRENT_YEAR_FROM_TABLE = 10  # January to October; November (open) is counted directly
_serial = iter(range(1, 10**9))


def _normal(facts: dict[Any, dict[str, Any]]) -> dict[Any, dict[str, int]]:
    out = {}
    for key, row in facts.items():
        counts = {name: int(row.get(name) or 0) for name in COUNT_FIELDS}
        if any(counts.values()):
            out[key] = counts
    return out


def _direct(session: Session, agency_id: int, period, now: datetime) -> dict:  # noqa: ANN001
    return _normal(queries.period_facts(session, queries.Filters(session, agency_id), period, "procedure", now=now))


def _assert_periods_match(session: Session, agency_ids: list[int], now: datetime) -> int:
    """Every period: aggregate-backed == direct, per agency and procedure. Returns how many months were read."""
    read = 0
    for key in PERIODS:
        period = parse_period(key, TZ)
        read += len(aggregates.readable_months(session, period, now=now, tz=TZ))
        fast = aggregates.periodic_facts(session, agency_ids, period, now=now, tz=TZ)
        for agency_id in agency_ids:
            assert _normal(fast[agency_id]) == _direct(session, agency_id, period, now), (key, agency_id)
    return read


def _assert_rows_equal_recount(session: Session, now: datetime) -> None:
    agency_ids = list(session.execute(select(Agency.id).where(Agency.is_division.is_(False))).scalars())
    for month in session.execute(select(ReportAggregateMonth.month)).scalars():
        stored: dict[int, dict] = {a: {} for a in agency_ids}
        for row in session.execute(select(ReportMonthAggregate).where(ReportMonthAggregate.month == month)).scalars():
            stored[row.agency_id][row.procedure_id] = {name: getattr(row, name) for name in COUNT_FIELDS}
        period = month_period(month.year, month.month, TZ)
        for agency_id in agency_ids:
            assert stored[agency_id] == _direct(session, agency_id, period, now), (month, agency_id)


def _agency(session: Session, n: int) -> tuple[Agency, list[Procedure]]:
    agency = Agency(code=f"000.00.{n}.H77", name=f"Sở thử {n}", created_at=BASE)
    session.add(agency)
    session.flush()
    procedures = [Procedure(code=f"{n}.{i:04d}", name=f"Thủ tục thử {n}.{i}", field_code="F", field_name="Lĩnh vực",
                            agency_id=agency.id, time_limit_value=5, time_limit_unit="working_days", created_at=BASE,
                            updated_at=BASE) for i in range(2)]
    session.add_all(procedures)
    session.flush()
    return agency, procedures


def _moment(data: st.DataObject, after: datetime | None = None, label: str = "t") -> datetime:
    low = 0 if after is None else int((after - BASE).total_seconds() // 3600) + 1
    return BASE + timedelta(hours=data.draw(st.integers(min(low, SPAN_HOURS), SPAN_HOURS), label=label))


def _dossier(data: st.DataObject, agencies: list[Agency], procedures: list[list[Any]], updated: datetime,
             imported: bool = False) -> tuple[Dossier, dict]:
    a = data.draw(st.integers(0, len(agencies) - 1), label="agency")
    procedure = procedures[a][data.draw(st.integers(0, len(procedures[a]) - 1), label="procedure")]
    channel = data.draw(st.sampled_from(["direct", "online", "postal"]), label="channel")
    d = Dossier(code=f"AG-{next(_serial):08d}", agency_id=agencies[a].id, receiving_agency_id=agencies[a].id,
                procedure_id=procedure.id, channel=channel, applicant_name="Người thử", applicant_id_number="0",
                status="received", lookup_secret_hash="x", created_at=updated, updated_at=updated,
                is_imported=imported, clock_state=ClockState.not_started)
    extra: dict = {"apologies": [], "supplements": []}
    start = _moment(data, label="start")
    d.submitted_at = start
    if channel == "online":
        d.check_due_at = start + timedelta(days=1)
    kind = data.draw(st.sampled_from(["open", "resolved", "resolved", "refused", "withdrawn", "stopped",
                                      "never", "waiting"]), label="kind")
    if kind == "waiting":
        d.status = "submitted"
        return d, extra
    if channel == "online" and data.draw(st.booleans(), label="checked"):
        d.checked_at = start + timedelta(hours=data.draw(st.integers(0, 60), label="check"))
    if kind == "never":
        d.status = data.draw(st.sampled_from(["refused", "withdrawn"]), label="never")
        setattr(d, f"{d.status}_at", start)
        d.clock_state = ClockState.stopped
        return d, extra
    d.received_at = start
    d.due_at = start + timedelta(days=data.draw(st.integers(1, 45), label="limit"))
    d.clock_state = ClockState.running
    if kind == "open":
        if data.draw(st.booleans(), label="paused"):
            d.status, d.clock_state, d.paused_at = "awaiting_supplement", ClockState.paused, _moment(data, start)
    else:
        closed = _moment(data, start, "closed")
        d.clock_state = ClockState.stopped
        if kind == "resolved":
            d.status, d.resolved_at = "resolved", closed
            d.outcome = classify_outcome(closed, d.due_at, TZ).value
            if data.draw(st.booleans(), label="returned"):
                d.status, d.returned_at = "returned", _moment(data, closed, "returned")
                d.returned_via = data.draw(st.sampled_from(["postal", "direct", "online"]), label="via")
        else:
            d.status = kind
            setattr(d, f"{kind}_at", closed)
    if data.draw(st.booleans(), label="apology"):
        extra["apologies"].append(_moment(data, start, "apology"))
    if data.draw(st.booleans(), label="supplement"):
        asked = _moment(data, start, "asked")
        extra["supplements"].append((asked, _moment(data, asked, "back") if data.draw(st.booleans()) else None))
    if len(agencies) > 1 and data.draw(st.booleans(), label="interagency"):
        other = agencies[(a + 1) % len(agencies)]
        extra["part"] = (other.id, data.draw(st.integers(0, 1), label="budget") * 480,
                         d.outcome == "late" and data.draw(st.booleans(), label="caused"))
    return d, extra


def _add(session: Session, d: Dossier, extra: dict) -> None:
    session.add(d)
    session.flush()
    for issued in extra["apologies"]:
        session.add(Apology(dossier_id=d.id, status="issued", original_due_at=d.due_at or issued, drafted_at=issued,
                            issued_at=issued, is_late=issued > (d.due_at or issued)))
    for asked, back in extra["supplements"]:
        session.add(SupplementRequest(dossier_id=d.id, requested_at=asked, received_at=back))
    if "part" in extra:
        agency_id, budget, caused = extra["part"]
        session.add(DossierAgency(dossier_id=d.id, agency_id=agency_id, since=d.received_at or NOW,
                                  budget_minutes=budget, caused_late=caused))


def _change(session: Session, data: st.DataObject, dossiers: list[Dossier], agencies: list[Agency],
            procedures: list[list[Any]]) -> None:
    """One change as the application makes them: the dossier's updated_at moves to now."""
    what = data.draw(st.sampled_from(["resolve", "resume", "part", "import", "apology", "supplement_back",
                                      "procedure", "intake"]), label="change")
    if what == "import":  # imported history: old moments, written now
        d, extra = _dossier(data, agencies, procedures, NOW, imported=True)
        _add(session, d, extra)
        dossiers.append(d)
        return
    if what == "intake":  # a dossier received in the open month, still open
        d, extra = _dossier(data, agencies, procedures, NOW)
        d.status, d.clock_state, d.received_at = "received", ClockState.running, OPEN_MONTH + timedelta(
            hours=data.draw(st.integers(0, int((NOW - OPEN_MONTH).total_seconds() // 3600)), label="intake"))
        d.submitted_at = d.received_at
        d.due_at = d.received_at + timedelta(days=data.draw(st.integers(1, 30), label="intake_limit"))
        for name in ("resolved_at", "refused_at", "withdrawn_at", "stopped_at", "returned_at", "paused_at",
                     "outcome", "returned_via"):
            setattr(d, name, None)
        if d.channel == "online":  # accepted at the desk when received
            d.check_due_at, d.checked_at = d.received_at + timedelta(days=1), d.received_at
        _add(session, d, {"apologies": [], "supplements": [], **({"part": extra["part"]} if "part" in extra else {})})
        dossiers.append(d)
        return
    d = dossiers[data.draw(st.integers(0, len(dossiers) - 1), label="which")]
    d.updated_at = NOW
    if what == "resolve" and d.received_at is not None and d.resolved_at is None and d.refused_at is None \
            and d.withdrawn_at is None and d.stopped_at is None:
        d.resolved_at, d.status, d.clock_state = NOW, "resolved", ClockState.stopped
        d.outcome = classify_outcome(NOW, d.due_at, TZ).value
    elif what == "resume" and d.clock_state == ClockState.paused:
        d.clock_state, d.status = ClockState.running, "processing"
        d.due_at = d.due_at + timedelta(days=data.draw(st.integers(1, 20), label="extend"))
        d.paused_at = None
    elif what == "part" and len(agencies) > 1:
        other = next(a for a in agencies if a.id != d.agency_id)
        if session.execute(select(DossierAgency).where(DossierAgency.dossier_id == d.id,
                                                       DossierAgency.agency_id == other.id)).first() is None:
            session.add(DossierAgency(dossier_id=d.id, agency_id=other.id, since=NOW, budget_minutes=480,
                                      caused_late=d.outcome == "late"))
    elif what == "apology" and d.received_at is not None:
        session.add(Apology(dossier_id=d.id, status="issued", original_due_at=d.due_at, drafted_at=NOW,
                            issued_at=NOW, is_late=True))
    elif what == "supplement_back":
        for request in session.execute(select(SupplementRequest).where(
                SupplementRequest.dossier_id == d.id, SupplementRequest.received_at.is_(None))).scalars():
            request.received_at = NOW
    elif what == "procedure":  # a correction: the dossier was filed under another procedure of its agency
        own = next(p for a, ps in zip(agencies, procedures) for p in ps if a.id == d.agency_id and p.id != d.procedure_id)
        d.procedure_id = own.id
    session.flush()


@hsettings(max_examples=3, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate], suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_aggregates_equal_a_recount_after_random_changes(engine, data: st.DataObject) -> None:  # noqa: ANN001
    truncate_all(engine)
    factory = make_sessionmaker(engine)
    with factory() as session:
        made = [_agency(session, n) for n in (31, 32)]
        agencies, procedures = [a for a, _ in made], [ps for _, ps in made]
        dossiers = []
        for _ in range(data.draw(st.integers(4, 12), label="n")):
            d, extra = _dossier(data, agencies, procedures, BASE)
            _add(session, d, extra)
            dossiers.append(d)
        session.commit()
        ids = [a.id for a in agencies]

        # Before any build: everything direct, and equal (trivially).
        assert _assert_periods_match(session, ids, NOW) == 0
        session.rollback()  # end the read transaction: the job writes from its own sessions (SQLite)
        assert aggregates.rebuild(factory, now=NOW, tz=TZ).months > 0
        session.expire_all()
        _assert_rows_equal_recount(session, NOW)
        assert _assert_periods_match(session, ids, NOW) > 0  # closed months read from the table
        # The current year: every closed month from the table, only the open month counted.
        year = parse_period("2026", TZ)
        assert len(aggregates.readable_months(session, year, now=NOW, tz=TZ)) == CURRENT_YEAR_FROM_TABLE

        for _ in range(data.draw(st.integers(1, 4), label="changes")):
            _change(session, data, dossiers, agencies, procedures)
        session.commit()
        # The job has not run: the months the changes touch are counted directly; still equal.
        _assert_periods_match(session, ids, NOW)

        session.rollback()
        aggregates.rebuild(factory, now=LATER, tz=TZ)
        session.expire_all()
        _assert_rows_equal_recount(session, LATER)
        assert _assert_periods_match(session, ids, LATER) > 0
        assert len(aggregates.readable_months(session, year, now=LATER, tz=TZ)) == CURRENT_YEAR_FROM_TABLE


def test_the_province_report_through_the_api_reads_the_aggregates_and_equals_each_agencys_report(
        client, login, engine, clock, settings) -> None:  # noqa: ANN001
    """Demo Department's dossiers over 2026; after the job, the province year through the API is,
    agency by agency and row by row, each agency's own periodic report computed directly."""
    from tests.reports.factory import Spec, insert

    factory = make_sessionmaker(engine)
    with factory() as session:
        agency = session.execute(select(Agency).where(Agency.code == "000.00.17.H26")).scalars().one()
        procedures = list(session.execute(select(Procedure).where(Procedure.agency_id == agency.id)
                                          .order_by(Procedure.id).limit(2)).scalars())
        t = datetime(2026, 2, 3, 9, 0, tzinfo=VN)
        insert(session, agency, procedures, [
            Spec(0, received_at=t, due_at=t + timedelta(days=7), close="resolved", closed_at=t + timedelta(days=3)),
            Spec(1, channel="online", received_at=t, due_at=t + timedelta(days=7), close="resolved",
                 closed_at=t + timedelta(days=40), returned_at=t + timedelta(days=41), returned_via="postal"),
            Spec(0, received_at=t + timedelta(days=150), due_at=t + timedelta(days=160)),  # overdue, still open
            Spec(1, close="refused", closed_at=t + timedelta(days=200)),
            Spec(0, channel="postal", received_at=t + timedelta(days=290), due_at=t + timedelta(days=300)),
        ])
        session.commit()
        ids = [a.id for a in session.execute(select(Agency).where(Agency.is_division.is_(False))).scalars()
               if a.code.endswith(".H26")]
    period = parse_period("2026", TZ)
    from app.db import try_advisory_xact_lock
    from app.sla.scheduler import REPORT_AGGREGATES_LOCK, run_report_aggregates

    if engine.dialect.name == "postgresql":  # another replica holds the job: this one skips its run
        with factory() as other:
            assert try_advisory_xact_lock(other, REPORT_AGGREGATES_LOCK)
            assert run_report_aggregates(factory, settings, clock) is None
            other.rollback()
    assert run_report_aggregates(factory, settings, clock).months > 0
    with factory() as session:
        assert aggregates.readable_months(session, period, now=clock.now(), tz=TZ)  # Jan..Oct from the table
        direct = {queries.agency_out(session, i).code: queries.periodic_report(session, agency_id=i, period=period,
                                                                               now=clock.now()) for i in ids}
    body = client.get("/api/v1/reports/province?period=2026", headers=login("ttpv_baocao"))
    assert body.status_code == 200, body.text
    got = {a["agency"]["code"]: a for a in body.json()["agencies"]}
    assert set(got) == set(direct)
    for code, report in direct.items():
        assert got[code]["totals"] == report.totals.model_dump(), code
        assert got[code]["rows"] == [row.model_dump() for row in report.rows], code
    assert got["000.00.17.H26"]["totals"]["received_total"] == 4
