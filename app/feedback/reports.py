"""Figures of feedback and satisfaction for the reports (app/reports) and the dashboard.

* `feedback_on_time` (Decision 766): feedback answered within its limit ÷ feedback due in the
  period — its deadline falls in the period and has passed, or it was answered already (a
  feedback due later this month and still open is not yet counted either way).
* Satisfaction per procedure and for the agency: the ratings given in the period (`rated_at`),
  per criterion the three levels, the satisfied share ((very satisfied + satisfied) ÷ answers)
  and the number of answers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlmodel import Session

from app.feedback.models import Feedback, SatisfactionRating
from app.feedback.schemas import CRITERIA, CriterionOut, SatisfactionReport, SatisfactionRow
from app.models import Agency, Procedure
from app.reports.periods import Period
from app.reports.schemas import AgencyOut, IndicatorOut, PeriodOut

LEVELS = ("very_satisfied", "satisfied", "not_satisfied")


def feedback_on_time(session: Session, agency_id: int, period: Period, now: datetime) -> tuple[int, int]:
    """(answered on time, due) for the agency in the period."""
    due = and_(Feedback.agency_id == agency_id, Feedback.due_at >= period.start, Feedback.due_at < period.end,
               or_(Feedback.due_at < now, Feedback.answered_at.is_not(None)))  # type: ignore[union-attr]
    on_time = and_(Feedback.answered_at.is_not(None), Feedback.answered_at <= Feedback.due_at)  # type: ignore[union-attr, operator]
    row = session.execute(select(func.count(), func.sum(case((on_time, 1), else_=0))).where(due)).one()
    return int(row[1] or 0), int(row[0] or 0)


def feedback_indicator(session: Session, agency_id: int, period: Period, now: datetime) -> IndicatorOut:
    on_time, due = feedback_on_time(session, agency_id, period, now)
    return IndicatorOut(code="feedback_on_time", name="Tỷ lệ phản ánh, kiến nghị được xử lý đúng hạn",
                        value=_percent(on_time, due), unit="%", numerator=on_time, denominator=due,
                        note="Phản ánh, kiến nghị đến hạn trả lời trong kỳ (đã qua hạn hoặc đã trả lời) được trả lời "
                             "trong thời hạn (ngày làm việc của cơ quan).")


def _percent(numerator: int, denominator: int) -> float | None:
    return round(100 * numerator / denominator, 2) if denominator else None


def _row(code: str | None, name: str, counts: dict[str, int]) -> SatisfactionRow:
    answers = counts.get("answers", 0)
    criteria = [CriterionOut(criterion=c, label=label, **{lv: counts.get(f"{c}:{lv}", 0) for lv in LEVELS},
                             satisfied_rate=_percent(counts.get(f"{c}:very_satisfied", 0)
                                                     + counts.get(f"{c}:satisfied", 0), answers))
                for c, label in CRITERIA.items()]
    rates = [c.satisfied_rate for c in criteria if c.satisfied_rate is not None]
    return SatisfactionRow(procedure_code=code, procedure_name=name, answers=answers, criteria=criteria,
                           satisfied_rate=round(sum(rates) / len(rates), 2) if rates else None)


def satisfaction_report(session: Session, *, agency_id: int, period: Period) -> SatisfactionReport:
    columns = [func.count().label("answers"), func.count(SatisfactionRating.comment).label("comments")]
    for criterion in CRITERIA:
        column = getattr(SatisfactionRating, criterion)
        columns += [func.sum(case((column == level, 1), else_=0)).label(f"{criterion}:{level}") for level in LEVELS]
    statement = (select(SatisfactionRating.procedure_id, *columns)
                 .where(SatisfactionRating.agency_id == agency_id, SatisfactionRating.rated_at >= period.start,
                        SatisfactionRating.rated_at < period.end)
                 .group_by(SatisfactionRating.procedure_id))
    by_procedure = {r[0]: {k: int(v or 0) for k, v in r._mapping.items() if k != "procedure_id"}
                    for r in session.execute(statement)}
    procedures = {p.id: p for p in session.scalars(select(Procedure).where(
        Procedure.id.in_(list(by_procedure) or [0])))}  # type: ignore[union-attr]
    rows = sorted((_row(procedures[pid].code, procedures[pid].name, counts) for pid, counts in by_procedure.items()),
                  key=lambda r: r.procedure_code or "")
    totals: dict[str, int] = {}
    for counts in by_procedure.values():
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
    agency = session.get(Agency, agency_id)
    assert agency is not None
    return SatisfactionReport(
        agency=AgencyOut(code=agency.code, name=agency.name),
        period=PeriodOut(key=period.key, label=period.label, first_day=period.first_day, last_day=period.last_day,
                         start=period.start, end=period.end),
        rows=rows, total=_row(None, "Toàn cơ quan", totals), comments=totals.get("comments", 0))
