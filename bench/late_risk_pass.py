"""The deadline scan's late-risk pass on the province: time, rows, and what the training costs.

    .venv/bin/python bench/late_risk_pass.py [--db motcua_bench] [--repeat 3]

In process, as the scheduler runs it (`app.foresight.risk_scan.scan_late_risk`): every running
dossier in a step whose appointment has not passed is forecast and its row of `dossier_forecasts`
upserted, alerts raised where the rule says. Measured: the first pass of the day (each agency's
model learnt from a year of step rounds, then the forecasts), and `--repeat` passes with the models
already learnt (the hourly steady state). The interval mark is cleared before each pass; the pass
writes (forecasts, alerts) into the benchmark database, as the scheduler would.
Results: bench/results/late_risk_pass.jsonl.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import delete, func, select  # noqa: E402

from app.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from app.foresight import risk_scan  # noqa: E402
from app.models import DossierForecast, SystemState  # noqa: E402
from bench.common import machine, pg_version, record  # noqa: E402
from bench.generate import bench_settings, db_url  # noqa: E402


def one_pass(factory, settings) -> tuple[float, float, int]:  # noqa: ANN001
    with transaction(factory) as session:
        session.execute(delete(SystemState).where(SystemState.key == risk_scan.STATE_KEY))
    wall, cpu = time.perf_counter(), time.process_time()
    alerts = risk_scan.scan_late_risk(factory, now=datetime.now(UTC), settings=settings)
    return time.perf_counter() - wall, time.process_time() - cpu, alerts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="motcua_bench")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = bench_settings(db_url(args.db))
    engine = make_engine(settings)
    factory = make_sessionmaker(engine)
    risk_scan.forget_models()
    first = one_pass(factory, settings)
    steady = [one_pass(factory, settings) for _ in range(args.repeat)]
    with factory() as session:
        rows = session.execute(select(func.count()).select_from(DossierForecast)).scalar_one()
    result = {"db": args.db, "machine": machine(), "postgresql": pg_version(db_url(args.db)), "forecast_rows": rows,
              "first_pass": {"wall_s": round(first[0], 2), "cpu_s": round(first[1], 2), "new_alerts": first[2]},
              "steady_pass": {"wall_median_s": round(statistics.median(s[0] for s in steady), 2),
                              "cpu_median_s": round(statistics.median(s[1] for s in steady), 2),
                              "runs": [[round(w, 2), round(c, 2)] for w, c, _ in steady]}}
    record("late_risk_pass", result)


if __name__ == "__main__":
    main()
