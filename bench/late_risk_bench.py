"""Late-risk forecast measured on a generated history (issue 17, docs/FORESIGHT.md). Not a timed test.

    .venv/bin/python bench/late_risk_bench.py [--dossiers 15000] [--db motcua_bench_risk] [--reuse]

1. A year of the demo Department where step durations are skewed (`SkewedGenerator`): each step
   of each procedure has its own typical share of its budget (log-normal), and about a third of the
   steps are "slow": 30 % of their rounds take 1.5 to 4 times the budget. Outcomes follow from the
   sum of the steps (nothing decides them in advance).
2. Train `app.foresight.forecast` on the step rounds finished in the first 8 months.
3. Evaluate on the dossiers received in the last 4 months and resolved by now, at fixed points of
   each one's life: 25 %, 50 % and 75 % of its limit elapsed (working time from the clock start),
   when it is unresolved and its clock runs then. The state at a point (step, since when) comes
   from its form-6 step records; the appointment is the recorded one.
4. `late_risk` fires at the first point whose probability exceeds the threshold while the dossier
   is not yet due soon (before `due_soon_at`). "Due soon" fires at `due_soon_at` when the dossier
   is unresolved then. Both are judged against the recorded outcome: precision (alerted that end
   late / alerted), recall (late that were alerted / late), lead time (working hours from the alert
   to the appointment), false alarms per 100 evaluated dossiers.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import select  # noqa: E402

from app.db import make_engine, make_sessionmaker  # noqa: E402
from app.foresight import forecast  # noqa: E402
from app.models import Dossier, Procedure, StepRecord  # noqa: E402
from app.sla import service as sla  # noqa: E402
from bench.common import machine, record  # noqa: E402
from bench.foresight_history import load_demo  # noqa: E402
from bench.generate import Generator, bench_settings, db_url, fresh_database  # noqa: E402

FRACTIONS = (0.25, 0.5, 0.75)
THRESHOLDS = (0.3, 0.5, 0.7)


class SkewedGenerator(Generator):
    """Steps with their own, skewed durations: some steps of some procedures overrun often."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.profile: dict[tuple[int, int], tuple[float, bool]] = {}

    def step_minutes(self, life, i: int, total: int, shares: list[float]) -> int:  # noqa: ANN001
        key = (life.p.id, i)
        if key not in self.profile:
            rng = random.Random(hash(key) & 0xFFFF)
            self.profile[key] = (rng.uniform(0.15, 0.6), rng.random() < 0.35)
        typical, slow = self.profile[key]
        budget = int(life.p.workflow[i]["budget_hours"]) * 60
        if budget <= 0:
            return max(1, int(total * shares[i]))
        factor = typical * self.rng.lognormvariate(0, 0.5)
        if slow and self.rng.random() < 0.3:
            factor = self.rng.uniform(1.5, 4.0)
        return max(1, int(budget * factor))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=15_000)
    parser.add_argument("--db", default="motcua_bench_risk")
    parser.add_argument("--seed", type=int, default=20261217)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    url = db_url(args.db) if args.reuse else fresh_database(args.db)
    settings = bench_settings(url)
    result: dict = {"machine": machine()}
    if not args.reuse:
        result["generated"] = load_demo(url, settings, now=now, dossiers=args.dossiers, years=1.0, seed=args.seed,
                                        generator=SkewedGenerator)
    engine = make_engine(settings)
    with make_sessionmaker(engine)() as s:
        now = s.execute(select(Dossier.updated_at).order_by(Dossier.updated_at.desc())).scalars().first()
        split = now - timedelta(days=122)
        agency_ids = sorted({a for (a,) in s.execute(select(Dossier.agency_id).distinct())})
        calendars = {a: sla.calendar_for(s, a, settings) for a in agency_ids}
        model = forecast.load_model(s, since=now - timedelta(days=400), until=split, calendars=calendars)
        procedures = {p.id: p for p in s.execute(select(Procedure)).scalars()}
        dossiers = list(s.execute(select(Dossier).where(Dossier.received_at >= split,
                                                        Dossier.resolved_at.is_not(None))).scalars())
        steps: dict[int, list] = defaultdict(list)
        for r in s.execute(select(StepRecord).join(Dossier, Dossier.id == StepRecord.dossier_id)
                           .where(Dossier.received_at >= split)).scalars():
            steps[r.dossier_id].append(r)
    evaluated = late_total = 0
    soon = {"alerted": 0, "true": 0, "leads": []}
    risk = {t: {"alerted": 0, "true": 0, "leads": [], "combined_true": 0, "combined_alerted": 0}
            for t in THRESHOLDS}
    for d in dossiers:
        cal = calendars[d.agency_id]
        workflow = procedures[d.procedure_id].workflow
        late = d.outcome == "late"
        evaluated += 1
        late_total += late
        soon_fired = d.due_soon_at is not None and d.resolved_at > d.due_soon_at
        if soon_fired:
            soon["alerted"] += 1
            soon["true"] += late
            if late:
                soon["leads"].append(cal.working_minutes_between(d.due_soon_at, d.due_at) / 60)
        first_alert: dict[float, datetime] = {}
        for fraction in FRACTIONS:
            point = cal.add_working_minutes(d.clock_started_at, int(d.limit_minutes * fraction))
            if point >= d.resolved_at or point >= d.due_soon_at:
                break
            current = next((r for r in sorted(steps[d.id], key=lambda r: r.started_at)
                            if r.started_at <= point and (r.finished_at is None or r.finished_at > point)), None)
            if current is None:
                continue
            r = forecast.forecast(model, dossier_id=d.id, procedure_id=d.procedure_id, agency_id=d.agency_id,
                                  workflow=workflow, current_step=current.step_index,
                                  step_started_at=current.started_at, due_at=d.due_at, now=point, cal=cal)
            for t in THRESHOLDS:
                if t not in first_alert and r.probability > t:
                    first_alert[t] = point
        for t in THRESHOLDS:
            fired = t in first_alert
            m = risk[t]
            m["alerted"] += fired
            m["true"] += fired and late
            if fired and late:
                m["leads"].append(cal.working_minutes_between(first_alert[t], d.due_at) / 60)
            m["combined_alerted"] += fired or soon_fired
            m["combined_true"] += (fired or soon_fired) and late

    def rate(a: int, b: int) -> float | None:
        return round(a / b, 3) if b else None

    out = {"evaluated": evaluated, "late": late_total, "train_rounds": sum(len(v) for v in model.rounds.values()),
           "due_soon": {"precision": rate(soon["true"], soon["alerted"]), "recall": rate(soon["true"], late_total),
                        "median_lead_hours": round(statistics.median(soon["leads"]), 1) if soon["leads"] else None,
                        "false_alarms_per_100": round(100 * (soon["alerted"] - soon["true"]) / evaluated, 1)}}
    for t, m in risk.items():
        out[f"late_risk>{t}"] = {
            "precision": rate(m["true"], m["alerted"]), "recall": rate(m["true"], late_total),
            "median_lead_hours": round(statistics.median(m["leads"]), 1) if m["leads"] else None,
            "false_alarms_per_100": round(100 * (m["alerted"] - m["true"]) / evaluated, 1),
            "with_due_soon_recall": rate(m["combined_true"], late_total),
            "with_due_soon_precision": rate(m["combined_true"], m["combined_alerted"])}
    result.update(out)
    record("late_risk", result)
    engine.dispose()


if __name__ == "__main__":
    main()
