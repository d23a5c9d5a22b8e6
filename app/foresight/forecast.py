"""Late-risk forecast of a running dossier (issue 17, docs/FORESIGHT.md).

The model is the recorded history: for each (procedure, step, agency) the working time each round
of that step took (form-6 step records, waits for the applicant excluded), on the agency's
calendar. With fewer than `MIN_SAMPLES` rounds a step falls back to its budget (the procedure's
`budget_hours`). A running dossier at `now` is in step i since `step_started_at`: what is left is
the rest of step i (the recorded rounds that lasted longer than it has so far, less what it has
had) plus a round of each later step up to the one that makes the result ready, drawn from the
rounds (Monte Carlo, seeded by the dossier: the same answer twice). The probability of missing
the appointment is the share of draws needing more working time than is left until it
(`due_at`, pauses already in it; a paused clock is not forecast). The main cause is the step on
the remaining path whose rounds overrun its budget the most on average.
"""

from __future__ import annotations

import bisect
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.models import ClockPause, ClockState, Dossier, StepRecord
from app.sla.calendar import WorkingCalendar

MIN_SAMPLES = 20
DRAWS = 300
_US_PER_MIN = 60_000_000


@dataclass
class DurationModel:
    """Rounds of each step, in working minutes, sorted: (procedure_id, step_index, agency_id) -> list."""

    rounds: dict[tuple[int, int, int], list[int]] = field(default_factory=dict)
    resolving_step: dict[int, int] = field(default_factory=dict)  # procedure -> the step that resolves

    _overruns: dict[tuple[int, int, int, int], int] = field(default_factory=dict)

    def samples(self, procedure_id: int, step: int, agency_id: int) -> list[int] | None:
        found = self.rounds.get((procedure_id, step, agency_id))
        return found if found is not None and len(found) >= MIN_SAMPLES else None

    def mean_overrun(self, procedure_id: int, step: int, agency_id: int, budget: int) -> int:
        """How much the step's rounds exceed `budget` on average, computed once per step and budget
        (a step has thousands of rounds at a province's scale; every running dossier asks)."""
        key = (procedure_id, step, agency_id, budget)
        found = self._overruns.get(key)
        if found is None:
            rounds = self.rounds[(procedure_id, step, agency_id)]
            over = rounds[bisect.bisect_right(rounds, budget):]
            found = self._overruns[key] = (sum(over) - budget * len(over)) // len(rounds)
        return found


@dataclass(frozen=True)
class Risk:
    probability: float
    minutes_left: int  # working minutes until the appointment
    median_minutes_needed: int
    p90_minutes_needed: int
    expected_ready_at: datetime  # median forecast of the result moment
    cause_step: int | None
    cause_name: str | None
    cause_overrun_minutes: int  # how much that step's rounds exceed its budget on average
    basis: str  # history | budgets | mixed


def train(rows: list[Any], pauses: dict[int, list[tuple[datetime, datetime]]],
          calendars: dict[int, WorkingCalendar]) -> DurationModel:
    """`rows`: finished step records (dossier_id, procedure_id, agency_id, step_index, started_at,
    finished_at, result); `pauses`: closed waits per dossier; `calendars`: per agency."""
    model = DurationModel()
    rounds: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    resolving: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        cal = calendars[r.agency_id]
        start, end = cal.working_position(r.started_at), cal.working_position(r.finished_at)
        waited = 0
        for p_start, p_end in pauses.get(r.dossier_id, ()):
            lo, hi = max(cal.working_position(p_start), start), min(cal.working_position(p_end), end)
            waited += max(0, hi - lo)
        rounds[(r.procedure_id, r.step_index, r.agency_id)].append(max(0, end - start - waited) // _US_PER_MIN)
        if r.result == "resolved":
            resolving[r.procedure_id][r.step_index] += 1
    model.rounds = {k: sorted(v) for k, v in rounds.items()}
    model.resolving_step = {pid: max(counts, key=counts.__getitem__) for pid, counts in resolving.items()}
    return model


def load_model(session: Session, *, since: datetime, until: datetime, calendars: dict[int, WorkingCalendar],
               agency_ids: list[int] | None = None) -> DurationModel:
    """Train on the step rounds finished in [since, until) (of the given agencies)."""
    where = [StepRecord.finished_at >= since, StepRecord.finished_at < until]
    if agency_ids is not None:
        where.append(Dossier.agency_id.in_(agency_ids))
    conn = session.connection()
    rows = conn.execute(select(StepRecord.dossier_id, Dossier.procedure_id, Dossier.agency_id, StepRecord.step_index,
                               StepRecord.started_at, StepRecord.finished_at, StepRecord.result)
                        .join(Dossier, Dossier.id == StepRecord.dossier_id).where(*where)).all()
    pauses: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for p in conn.execute(select(ClockPause.dossier_id, ClockPause.started_at, ClockPause.ended_at)
                          .join(Dossier, Dossier.id == ClockPause.dossier_id)
                          .where(ClockPause.ended_at.is_not(None), ClockPause.started_at < until,
                                 *([Dossier.agency_id.in_(agency_ids)] if agency_ids is not None else []))):
        pauses[p.dossier_id].append((p.started_at, p.ended_at))
    return train([r for r in rows if r.agency_id in calendars], pauses, calendars)


def _budget(step: dict[str, Any]) -> int:
    return int(step.get("budget_hours", 0)) * 60


def forecast(model: DurationModel, *, dossier_id: int, procedure_id: int, agency_id: int,
             workflow: list[dict[str, Any]], current_step: int, step_started_at: datetime, due_at: datetime,
             now: datetime, cal: WorkingCalendar) -> Risk:
    """The risk of a dossier whose clock runs, in `current_step` since `step_started_at`."""
    last = model.resolving_step.get(procedure_id, len(workflow) - 1)
    path = list(range(current_step, max(current_step, last) + 1)) if current_step <= last else []
    here = cal.working_position(now)
    minutes_left = (cal.working_position(due_at) - here) // _US_PER_MIN if due_at > now else \
        -((cal.working_position(now) - cal.working_position(due_at)) // _US_PER_MIN)
    elapsed = max(0, here - cal.working_position(step_started_at)) // _US_PER_MIN
    rng = random.Random(dossier_id)
    used_history = used_budget = False
    per_step: list[tuple[list[int] | None, int]] = []
    for i in path:
        samples = model.samples(procedure_id, i, agency_id)
        per_step.append((samples, _budget(workflow[i]) if i < len(workflow) else 0))
        used_history |= samples is not None
        used_budget |= samples is None
    needed: list[int] = []
    for _ in range(DRAWS):
        total = 0
        for k, (samples, budget) in enumerate(per_step):
            if k == 0:  # the rest of the current step, given how long it has run
                if samples is None:
                    total += max(0, budget - elapsed)
                else:
                    cut = bisect.bisect_right(samples, elapsed)
                    total += samples[rng.randrange(cut, len(samples))] - elapsed if cut < len(samples) else 0
            else:
                total += budget if samples is None else samples[rng.randrange(len(samples))]
        needed.append(total)
    needed.sort()
    probability = sum(1 for n in needed if n > minutes_left) / len(needed) if needed else float(minutes_left < 0)
    median = needed[len(needed) // 2] if needed else 0
    p90 = needed[min(len(needed) - 1, int(0.9 * len(needed)))] if needed else 0
    cause, overrun = None, 0
    for i, (samples, budget) in zip(path, per_step):
        if samples is not None and budget:
            excess = model.mean_overrun(procedure_id, i, agency_id, budget)
            if excess > overrun:
                cause, overrun = i, excess
    return Risk(probability=round(probability, 3), minutes_left=minutes_left, median_minutes_needed=median,
                p90_minutes_needed=p90, expected_ready_at=cal.add_working_minutes(now, median),
                cause_step=cause, cause_name=str(workflow[cause].get("name")) if cause is not None else None,
                cause_overrun_minutes=overrun,
                basis="mixed" if used_history and used_budget else "history" if used_history else "budgets")


def forecast_dossier(model: DurationModel, dossier: Dossier, workflow: list[dict[str, Any]], *, now: datetime,
                     cal: WorkingCalendar) -> Risk | None:
    """None when there is nothing to forecast: the clock does not run (paused, stopped) or the
    dossier is not in a workflow step."""
    if dossier.clock_state != ClockState.running or dossier.due_at is None or dossier.current_step is None \
            or dossier.step_started_at is None or dossier.id is None:
        return None
    return forecast(model, dossier_id=dossier.id, procedure_id=dossier.procedure_id, agency_id=dossier.agency_id,
                    workflow=workflow, current_step=dossier.current_step, step_started_at=dossier.step_started_at,
                    due_at=dossier.due_at, now=now, cal=cal)
