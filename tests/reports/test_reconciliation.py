"""Property test: the SQL periodic report equals a naive Python computation over random dossier
histories that cross period boundaries, and it always reconciles:
carried_over + received_total = resolved_total + in_progress_total + withdrawn_or_refused."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from app.reports.periods import parse_period
from app.reports.queries import periodic_report
from tests.reports.factory import COUNTS, TZ, Spec, at, insert, make_agency, oracle

BOUNDARIES = [at(f"{d}T00:00") for d in ("2026-07-01", "2026-08-01", "2026-09-01", "2026-10-01", "2026-11-01",
                                         "2026-12-01", "2027-01-01")]
EDGES = [b + delta for b in BOUNDARIES for delta in (timedelta(0), timedelta(microseconds=-1),
                                                     timedelta(microseconds=1), timedelta(hours=-7))]
BASE = at("2026-06-20T08:00")
SPAN_MINUTES = 200 * 24 * 60
LATER = at("2030-01-01T00:00")  # every period is over: "overdue at the end" is judged at its end
PERIODS = ["2026-08", "2026-09", "2026-10", "2026-Q3", "2026-Q4", "2026"]

instants = st.one_of(st.sampled_from(EDGES), st.integers(0, SPAN_MINUTES).map(lambda m: BASE + timedelta(minutes=m)))
gaps = st.one_of(st.just(timedelta(0)), st.sampled_from([timedelta(microseconds=1), timedelta(hours=7)]),
                 st.integers(1, 90 * 24 * 60).map(lambda m: timedelta(minutes=m)))


@st.composite
def histories(draw) -> Spec:  # noqa: ANN001
    spec = Spec(procedure=draw(st.integers(0, 2)), channel=draw(st.sampled_from(["direct", "online", "postal"])))
    kind = draw(st.sampled_from(["received", "received", "received", "before_reception", "pending"]))
    if kind == "pending":
        if draw(st.booleans()):
            spec.supplements.append((draw(instants), None))
        return spec
    t0 = draw(instants)
    if kind == "before_reception":
        spec.close, spec.closed_at = draw(st.sampled_from(["refused", "withdrawn", "stopped"])), t0
        if draw(st.booleans()):
            spec.supplements.append((t0 - draw(gaps), None))
        return spec
    spec.received_at = t0
    spec.due_at = draw(st.one_of(st.sampled_from(EDGES), gaps.map(lambda g: t0 + g)))
    spec.close = draw(st.sampled_from([None, None, "resolved", "resolved", "resolved", "refused", "withdrawn",
                                       "stopped"]))
    if spec.close:
        spec.closed_at = t0 + draw(gaps)
    if spec.close == "resolved" and draw(st.booleans()):
        spec.returned_at = spec.closed_at + draw(gaps)
        spec.returned_via = draw(st.sampled_from(["postal", "desk", "online"]))
    spec.apologies = [t0 + draw(gaps) for _ in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        requested = t0 + draw(gaps)
        spec.supplements.append((requested, draw(st.one_of(st.none(), gaps.map(lambda g: requested + g)))))
    if spec.close is None and draw(st.integers(0, 3)) == 0:
        spec.paused_at = t0 + draw(gaps)
    return spec


def _as_dict(report) -> dict:  # noqa: ANN001
    return {"rows": {r.procedure_code: {k: getattr(r, k) for k in COUNTS} for r in report.rows},
            "totals": {k: getattr(report.totals, k) for k in COUNTS}}


def _reconciles(c: dict) -> bool:
    return (c["carried_over"] + c["received_total"]
            == c["resolved_total"] + c["in_progress_total"] + c["withdrawn_or_refused"])


@hsettings(max_examples=20, deadline=None, database=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                  HealthCheck.data_too_large])
@given(specs=st.lists(histories(), max_size=25), foreign=st.lists(histories(), max_size=3))
def test_periodic_report_matches_oracle_and_reconciles(session, specs, foreign):
    try:
        agency, procedures = make_agency(session, "000.00.99.H99", 3)
        other, other_procedures = make_agency(session, "000.00.98.H98", 3)
        insert(session, agency, procedures, specs)
        insert(session, other, other_procedures, foreign)  # another agency's dossiers never count
        previous_in_progress = None
        for key in PERIODS:
            period = parse_period(key, TZ)
            got = _as_dict(periodic_report(session, agency_id=agency.id, period=period, now=LATER))
            expected = oracle(specs, procedures, period.start, period.end)
            assert got == expected, key
            for counts in [*got["rows"].values(), got["totals"]]:
                assert _reconciles(counts), (key, counts)
                assert counts["in_progress_within"] + counts["in_progress_overdue"] == counts["in_progress_total"]
                assert (counts["resolved_early"] + counts["resolved_on_time"] + counts["resolved_late"]
                        == counts["resolved_total"])
                assert (counts["new_online"] + counts["new_direct"] + counts["new_postal"]
                        == counts["received_total"])
            if key.count("-") == 1 and "Q" not in key and "H" not in key:  # consecutive months chain
                if previous_in_progress is not None:
                    assert got["totals"]["carried_over"] == previous_in_progress, key
                previous_in_progress = got["totals"]["in_progress_total"]
    finally:
        session.rollback()
