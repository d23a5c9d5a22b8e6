"""Never-received dossiers (issue 11, point 15): reception refusals, online submissions never
accepted and withdrawals before receipt are counted in their own columns, not as "new received",
and stay outside both on-time denominators. The numbers are the worked example of docs/REPORTS.md."""

from __future__ import annotations

from app.reports.periods import parse_period
from app.reports.queries import monthly_on_time, on_time_report, periodic_report
from tests.reports.factory import TZ, Spec, at, insert, make_agency, plus
from tests.conftest import make_settings

NOVEMBER = parse_period("2026-11", TZ)
LATER = at("2027-03-01T00:00")


def worked_example() -> list[Spec]:
    t = at("2026-11-02T08:00")
    due = at("2026-11-09T17:00")
    specs = []
    # 10 dossiers received complete in November: 6 resolved (4 early, 1 on time, 1 late), 4 open (1 overdue).
    for i in range(4):
        specs.append(Spec(0, received_at=plus(t, hours=i), due_at=due, close="resolved",
                          closed_at=at("2026-11-05T10:00")))
    specs.append(Spec(0, received_at=t, due_at=due, close="resolved", closed_at=at("2026-11-09T09:00")))
    specs.append(Spec(0, received_at=t, due_at=due, close="resolved", closed_at=at("2026-11-12T09:00")))
    specs.append(Spec(0, received_at=t, due_at=due))  # overdue at the end of November
    for _ in range(3):
        specs.append(Spec(0, received_at=at("2026-11-25T08:00"), due_at=at("2026-12-04T17:00")))
    # 4 never received: 2 refused at the desk (form 03), 1 online submission refused, 1 withdrawn before receipt.
    specs.append(Spec(0, channel="direct", close="refused", closed_at=at("2026-11-03T09:00")))
    specs.append(Spec(0, channel="postal", close="refused", closed_at=at("2026-11-04T09:00")))
    specs.append(Spec(0, channel="online", close="refused", closed_at=at("2026-11-05T09:00")))
    specs.append(Spec(0, channel="online", close="withdrawn", closed_at=at("2026-11-06T09:00")))
    return specs


def test_never_received_are_counted_apart(session, database_url):
    agency, procedures = make_agency(session)
    insert(session, agency, procedures, worked_example())
    totals = periodic_report(session, agency_id=agency.id, period=NOVEMBER, now=LATER).totals
    assert (totals.received_total, totals.new_direct, totals.new_online, totals.new_postal) == (10, 10, 0, 0)
    assert (totals.not_received_total, totals.refused_at_reception, totals.online_not_accepted,
            totals.withdrawn_before_receipt) == (4, 2, 1, 1)
    assert totals.withdrawn_or_refused == 0  # nothing received was withdrawn or refused
    assert (totals.resolved_total, totals.resolved_early, totals.resolved_on_time, totals.resolved_late) == (6, 4, 1, 1)
    assert (totals.in_progress_total, totals.in_progress_overdue) == (4, 1)
    assert totals.carried_over + totals.received_total == (
        totals.resolved_total + totals.in_progress_total + totals.withdrawn_or_refused)

    # Both conventions: the four never-received dossiers are in neither denominator.
    report = on_time_report(session, agency_id=agency.id, period=NOVEMBER, group_by="agency", now=LATER)
    only, strict = report.total.resolved_only, report.total.strict
    assert (only.numerator, only.denominator, only.value) == (5, 6, 83.33)
    assert (strict.numerator, strict.denominator, strict.value) == (8, 10, 80.0)  # was 12 / 14 = 85.71 %
    assert report.total.not_received_total == 4
    # December: nothing carried over from the never-received ones.
    december = periodic_report(session, agency_id=agency.id, period=parse_period("2026-12", TZ), now=LATER).totals
    assert december.carried_over == 4 and december.not_received_total == 0
    months = monthly_on_time(session, agency_id=agency.id, now=at("2026-11-30T12:00"), months=1,
                             settings=make_settings(database_url))
    assert (months.months[0].received_total, months.months[0].not_received_total) == (10, 4)
