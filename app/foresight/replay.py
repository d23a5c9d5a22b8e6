"""What-if replay: the dossiers of a period under another time limit (issue 17, docs/FORESIGHT.md).

Each dossier resolved in the period is replayed with what was recorded: its clock start (reception,
or the restart of a `reset` supplement), its closed pauses, the calendar version its appointment
was computed with and its result moment. Under a limit the appointment is `compute_due_at` and the
outcome `classify_outcome` (app/sla: the same code the real deadline uses, not a copy).

The shortest limit reaching a target share is searched without replaying per candidate: each
dossier's used working time (`working_minutes_used`, the inverse of `compute_due_at`) is computed
once; a dossier is on time under L exactly when it used at most L, so the share for any L is a
count over the sorted used times (bisect). The limit found is then replayed exactly once more.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, select
from sqlmodel import Session

from app.errors import Invalid, NotFound
from app.foresight.schemas import (CurvePoint, LimitOut, ProcedureOut, RecordedCounts, ReplayCounts, ShortestLimit,
                                   StepOut, WhatIfIn, WhatIfOut)
from app.models import ClockPause, Dossier, Procedure, StepRecord
from app.reports.periods import Period
from app.reports.queries import agency_out, period_out
from app.settings import Settings
from app.sla import service as sla
from app.sla.calendar import WorkingCalendar
from app.sla.deadlines import (Outcome, Pause, classify_outcome, compute_due_at, limit_minutes,
                               working_minutes_used)

MINUTES_PER_DAY = 480
_US_PER_MIN = 60_000_000
MAX_CURVE_DAYS = 60
METHOD = ("Mỗi hồ sơ có kết quả trong kỳ được tính lại hạn trả theo đúng quy tắc tính thời hạn của hệ thống: "
          "thời điểm bắt đầu tính (tiếp nhận, hoặc tính lại khi nhận đủ bổ sung theo quy định của thủ tục), "
          "các khoảng tạm dừng chờ người nộp đã ghi nhận, lịch làm việc (phiên bản) đã dùng và thời điểm có kết "
          "quả. Trước hạn: có kết quả trước ngày hẹn; đúng hạn: trong ngày hẹn, không sau giờ hẹn; quá hạn: sau "
          "thời điểm hẹn. Thời hạn ngắn nhất: thời gian làm việc đã dùng của mỗi hồ sơ (trừ thời gian tạm dừng) "
          "được tính một lần; hồ sơ đúng hạn với thời hạn L khi đã dùng không quá L.")


@dataclass
class Case:
    dossier_id: int
    clock_started_at: datetime
    resolved_at: datetime
    calendar_version: int
    outcome: str | None
    limit_minutes: int = 0  # the limit its appointment counted (a same-day cut-off rule gives its own)
    pauses: list[Pause] = field(default_factory=list)
    cal: WorkingCalendar | None = None
    used: int = 0  # working minutes the clock ran, waits excluded
    at: Positions | None = None  # working positions on the case's calendar


class Positions:
    """Working positions of moments on one calendar, each moment converted once
    (`WorkingCalendar.working_position`): a span is then a subtraction."""

    def __init__(self, cal: WorkingCalendar) -> None:
        self.cal = cal
        self._memo: dict[datetime, int] = {}

    def __call__(self, at: datetime) -> int:
        pos = self._memo.get(at)
        if pos is None:
            pos = self._memo[at] = self.cal.working_position(at)
        return pos


def positions_of(cal: WorkingCalendar, memo: dict[int, Positions]) -> Positions:
    found = memo.get(id(cal))
    if found is None or found.cal is not cal:
        found = memo[id(cal)] = Positions(cal)
    return found


@dataclass
class Replayed:
    outcome: Outcome
    late_minutes: int
    early_minutes: int


def limit_out(minutes: int) -> LimitOut:
    days, hours = minutes / MINUTES_PER_DAY, minutes / 60
    if minutes % MINUTES_PER_DAY == 0:
        label = f"{minutes // MINUTES_PER_DAY} ngày làm việc"
    else:
        label = f"{hours:g} giờ làm việc"
    return LimitOut(minutes=minutes, working_hours=round(hours, 2), working_days=round(days, 3), label=label)


def _procedure(session: Session, agency_id: int, code: str) -> Procedure:
    procedure = session.execute(select(Procedure).where(Procedure.code == code, Procedure.agency_id == agency_id)
                                ).scalars().first()
    if procedure is None:
        raise NotFound(f"Không có thủ tục hành chính mã {code} của cơ quan.", code="procedure_not_found")
    return procedure


def load_cases(session: Session, *, agency_id: int, procedure_id: int, period: Period, cal: WorkingCalendar
               ) -> list[Case]:
    """The dossiers of the procedure whose result was ready in the period, with their pauses
    (two indexed reads: ix_dossiers_agency_resolved, clock_pauses by dossier)."""
    where = and_(Dossier.agency_id == agency_id, Dossier.procedure_id == procedure_id,
                 Dossier.resolved_at >= period.start, Dossier.resolved_at < period.end,
                 Dossier.clock_started_at.is_not(None))
    conn = session.connection()  # Core rows: no ORM result processing for thousands of rows
    rows = conn.execute(select(Dossier.id, Dossier.clock_started_at, Dossier.resolved_at, Dossier.calendar_version,
                                  Dossier.outcome, Dossier.limit_minutes).where(where).order_by(Dossier.id)).all()
    cases = {r.id: Case(r.id, r.clock_started_at, r.resolved_at, r.calendar_version or 0, r.outcome,
                        r.limit_minutes or 0) for r in rows}
    if not cases:
        return []
    pauses = conn.execute(select(ClockPause.dossier_id, ClockPause.started_at, ClockPause.ended_at,
                                    ClockPause.reason).join(Dossier, Dossier.id == ClockPause.dossier_id)
                             .where(where, ClockPause.ended_at.is_not(None))).all()
    for p in pauses:
        case = cases[p.dossier_id]
        if p.started_at >= case.clock_started_at:  # as app.sla.service counts them
            case.pauses.append(Pause(p.started_at, p.ended_at, p.reason))
    memo: dict[int, Positions] = {}
    for case in cases.values():
        case.cal = sla.calendar_at(cal, case.calendar_version)
        case.at = positions_of(case.cal, memo)
        case.used = working_minutes_used(case.cal, clock_started_at=case.clock_started_at, until=case.resolved_at,
                                         pauses=case.pauses)
    return list(cases.values())


def replay_one(case: Case, minutes: int | None, tz: str) -> Replayed:
    """The outcome under a limit of `minutes` (None: the limit the dossier's appointment counted),
    by the real deadline rule; late (early) by the working time used beyond (left within) the
    limit, waits for the applicant excluded."""
    assert case.cal is not None
    if minutes is None:
        minutes = case.limit_minutes
    due = compute_due_at(case.cal, clock_started_at=case.clock_started_at, limit_minutes=minutes, pauses=case.pauses)
    outcome = classify_outcome(case.resolved_at, due, tz)
    if outcome is Outcome.late:
        return Replayed(outcome, max(0, case.used - minutes), 0)
    return Replayed(outcome, 0, max(0, minutes - case.used))


def replay(cases: list[Case], minutes: int | None, tz: str, *, nominal: int | None = None,
           label: str | None = None) -> ReplayCounts:
    """Counts under one limit for all (`minutes`), or under each dossier's recorded limit (None;
    `nominal` and `label` then describe it)."""
    results = [replay_one(c, minutes, tz) for c in cases]
    limit = limit_out(minutes if minutes is not None else nominal or 0)
    if label:
        limit.label = label
    late = [r.late_minutes for r in results if r.outcome is Outcome.late]
    early = [r.early_minutes for r in results if r.outcome is Outcome.early]
    on_time = sum(1 for r in results if r.outcome is Outcome.on_time)
    total = len(results)
    return ReplayCounts(
        limit=limit, total=total, early=len(early), on_time=on_time, late=len(late),
        on_time_share=round((total - len(late)) / total, 4) if total else None,
        late_hours_total=round(sum(late) / 60, 2), late_hours_mean=round(sum(late) / 60 / len(late), 2) if late else None,
        late_hours_max=round(max(late) / 60, 2) if late else None,
        early_hours_mean=round(sum(early) / 60 / len(early), 2) if early else None)


def share_within(used_sorted: list[int], minutes: int) -> float:
    """Share of dossiers that used at most `minutes`: on time (or early) under that limit."""
    return bisect.bisect_right(used_sorted, minutes) / len(used_sorted)


def shortest_limit(cases: list[Case], target: float) -> ShortestLimit:
    """The smallest limit, in whole working hours, under which `target` of the dossiers would have
    been on time: the k-th smallest used time, k = ceil(target x n). A dossier is on time under L
    exactly when it used at most L (tests/foresight/test_what_if.py checks this against the
    replay through compute_due_at for every limit), so no replay per candidate is needed."""
    if not cases:
        return ShortestLimit(target_share=target, limit=None, limit_days=None, on_time_share=None)
    used = sorted(c.used for c in cases)
    k = max(1, math.ceil(target * len(used) - 1e-9))
    hours = max(1, math.ceil(used[k - 1] / 60))
    days = math.ceil(hours * 60 / MINUTES_PER_DAY)
    return ShortestLimit(target_share=target, limit=limit_out(hours * 60), limit_days=limit_out(days * MINUTES_PER_DAY),
                         on_time_share=round(share_within(used, hours * 60), 4))


def curve(cases: list[Case], *, up_to_days: int) -> list[CurvePoint]:
    if not cases:
        return []
    used = sorted(c.used for c in cases)
    last = min(MAX_CURVE_DAYS, max(up_to_days, math.ceil(used[-1] / MINUTES_PER_DAY)))
    return [CurvePoint(working_days=d, on_time_share=round(share_within(used, d * MINUTES_PER_DAY), 4))
            for d in range(1, last + 1)]


def _quantile(values: list[int], q: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))] / 60, 2)


def step_stats(session: Session, procedure: Procedure, cases: list[Case], new_budgets: dict[int, int]
               ) -> list[StepOut]:
    """Per workflow step: how long its rounds took (working time, waits excluded) and how many
    overran the step's time today and under the proposed one."""
    by_id = {c.dossier_id: c for c in cases}
    durations: dict[int, list[int]] = defaultdict(list)
    ids = list(by_id)
    for start in range(0, len(ids), 5000):  # bounded IN lists
        chunk = ids[start:start + 5000]
        rows = session.connection().execute(select(StepRecord.dossier_id, StepRecord.step_index, StepRecord.started_at,
                                      StepRecord.finished_at).where(StepRecord.dossier_id.in_(chunk),
                                                                    StepRecord.finished_at.is_not(None))).all()
        for r in rows:
            case = by_id[r.dossier_id]
            assert case.at is not None
            pos = case.at
            start, end = pos(r.started_at), pos(r.finished_at)
            waited = sum(max(0, min(pos(p.ended_at), end) - max(pos(p.started_at), start))  # type: ignore[arg-type]
                         for p in case.pauses)
            durations[r.step_index].append(max(0, end - start - waited) // _US_PER_MIN)
    out = []
    for index, step in enumerate(procedure.workflow):
        values = sorted(durations.get(index, []))
        budget = int(step.get("budget_hours", 0))
        new = new_budgets.get(index)
        out.append(StepOut(step=index, name=str(step.get("name", "")), role=str(step.get("role", "")),
                           budget_hours=budget, new_budget_hours=new, samples=len(values),
                           median_hours=_quantile(values, 0.5), p90_hours=_quantile(values, 0.9),
                           over_budget=sum(1 for v in values if v > budget * 60) if budget else 0,
                           over_new_budget=sum(1 for v in values if v > new * 60) if new is not None else None))
    return out


def what_if(session: Session, *, agency_id: int, request: WhatIfIn, period: Period, settings: Settings) -> WhatIfOut:
    procedure = _procedure(session, agency_id, request.procedure_code)
    steps = len(procedure.workflow)
    bad = [b.step for b in request.step_budgets if b.step >= steps]
    if bad:
        raise Invalid(f"Thủ tục chỉ có {steps} bước (0 đến {steps - 1}); không có bước {bad[0]}.",
                      code="invalid_step", detail={"steps": steps})
    cal = sla.calendar_for(session, agency_id, settings)
    cases = load_cases(session, agency_id=agency_id, procedure_id=procedure.id, period=period, cal=cal)
    tz = settings.timezone
    current_minutes = limit_minutes(procedure.time_limit_value, procedure.time_limit_unit,
                                    minutes_per_day=cal.minutes_per_day)
    proposed_minutes = limit_minutes(request.time_limit.value, request.time_limit.unit,
                                     minutes_per_day=cal.minutes_per_day)
    rule = (f"Trong ngày nếu tiếp nhận trước {procedure.same_day_cutoff}, sau đó ngày làm việc tiếp theo"
            if procedure.same_day_cutoff else None)
    current = replay(cases, None, tz, nominal=current_minutes, label=rule)
    recorded = RecordedCounts(total=len(cases), early=sum(1 for c in cases if c.outcome == Outcome.early),
                              on_time=sum(1 for c in cases if c.outcome == Outcome.on_time),
                              late=sum(1 for c in cases if c.outcome == Outcome.late))
    return WhatIfOut(
        agency=agency_out(session, agency_id),
        procedure=ProcedureOut(code=procedure.code, name=procedure.name, time_limit_value=procedure.time_limit_value,
                               time_limit_unit=procedure.time_limit_unit),
        period=period_out(period), dossiers=len(cases), recorded=recorded,
        current=current, proposed=replay(cases, proposed_minutes, tz),
        shortest=shortest_limit(cases, request.target_share),
        curve=curve(cases, up_to_days=math.ceil(max(current_minutes, proposed_minutes) / MINUTES_PER_DAY)),
        steps=step_stats(session, procedure, cases, {b.step: b.budget_hours for b in request.step_budgets})
        if request.step_budgets or request.include_steps else [],
        method=METHOD)


__all__ = ["Case", "load_cases", "replay", "replay_one", "share_within", "shortest_limit", "what_if"]
