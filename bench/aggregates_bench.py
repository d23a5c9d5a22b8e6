"""The province's year: through the monthly aggregates vs the direct computation, same database.

    .venv/bin/python bench/aggregates_bench.py [--db motcua_bench_150k] [--year 2025] [--repeat 5]

Apply the migrations first (`MOTCUA_DATABASE_URL=... motcua migrate`). Measured in process (the
work of GET /api/v1/reports/province without HTTP and JSON), medians of `--repeat` runs after one
warm-up each, for every agency of the province of the Department `000.00.17.H26`:

1. direct: `queries.periodic_report` per agency, what the province report did before;
2. the job's first run (`aggregates.rebuild`: every closed month built), then its next run with
   nothing changed (the steady state: only the months closed or touched since);
3. through the aggregates: `aggregates.periodic_facts` + the report's rows, for `--year` (closed:
   every month read from the table) and for the current year (the open month counted directly);
4. after one dossier of the year is touched (updated_at = now) and before the job runs: the
   months from its earliest moment on are counted directly; the answer stays exact.

Every variant's figures are checked equal to the direct ones. Results: bench/results/aggregates.jsonl.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import func, select, text, update  # noqa: E402

from app.db import make_engine, make_sessionmaker  # noqa: E402
from app.models import Agency, Dossier  # noqa: E402
from app.reports import aggregates, queries  # noqa: E402
from app.reports.periods import parse_period  # noqa: E402
from bench.common import machine, pg_version, record, timed  # noqa: E402
from bench.generate import bench_settings, db_url  # noqa: E402


def _ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="motcua_bench_150k")
    parser.add_argument("--year", default="2025")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url = db_url(args.db)
    settings = bench_settings(url)
    engine = make_engine(settings)
    factory = make_sessionmaker(engine)
    tz = settings.timezone
    now = datetime.now(UTC)
    with factory() as s:
        province = "H26"
        members = [a.id for a in s.execute(select(Agency).where(Agency.is_division.is_(False))
                                          .order_by(Agency.code)).scalars() if a.code.rsplit(".", 1)[-1] == province]
        count = s.execute(text("SELECT count(*) FROM dossiers")).scalar_one()

    def direct(period) -> dict:  # noqa: ANN001
        with factory() as s:
            return {i: [r.model_dump() for r in queries.periodic_report(s, agency_id=i, period=period, now=now).rows]
                    for i in members}

    def fast(period) -> dict:  # noqa: ANN001
        with factory() as s:
            facts = aggregates.periodic_facts(s, members, period, now=now, tz=tz)
            return {i: [r.model_dump() for r in queries.periodic_rows(s, facts[i])] for i in members}

    def months_read(period) -> int:  # noqa: ANN001
        with factory() as s:
            return len(aggregates.readable_months(s, period, now=now, tz=tz))

    results: dict[str, dict] = {}
    t0 = time.perf_counter()
    built = aggregates.rebuild(factory, now=now, tz=tz).months
    results["job"] = {"first_run_ms": round((time.perf_counter() - t0) * 1000, 1), "months_built": built}
    t0 = time.perf_counter()
    again = aggregates.rebuild(factory, now=now, tz=tz).months
    results["job"].update(next_run_ms=round((time.perf_counter() - t0) * 1000, 1), next_run_months=again)
    with factory() as s:
        results["job"]["rows"] = s.execute(text("SELECT count(*) FROM report_month_aggregates")).scalar_one()

    for name, key in (("closed_year", args.year), ("current_year", str(now.year))):
        period = parse_period(key, tz)
        expected = direct(period)
        assert fast(period) == expected, name
        results[name] = {"period": key, "months_from_table": months_read(period),
                         "direct_ms": _ms(timed(lambda p=period: direct(p), args.repeat)),
                         "aggregates_ms": _ms(timed(lambda p=period: fast(p), args.repeat))}
        results[name]["speed_up"] = round(results[name]["direct_ms"] / results[name]["aggregates_ms"], 1)

    # One dossier of the closed year touched, the job not yet run: exact, partly direct.
    period = parse_period(args.year, tz)
    with factory() as s:
        target = s.execute(select(func.min(Dossier.id)).where(Dossier.received_at >= period.start + (
            period.end - period.start) / 2, Dossier.received_at < period.end)).scalar_one()
        old = s.execute(select(Dossier.updated_at).where(Dossier.id == target)).scalar_one()
        s.execute(update(Dossier).where(Dossier.id == target).values(updated_at=now))
        s.commit()
    try:
        assert fast(period) == direct(period)
        results["touched_before_job"] = {"period": args.year, "months_from_table": months_read(period),
                                         "aggregates_ms": _ms(timed(lambda: fast(period), args.repeat))}
    finally:
        with factory() as s:
            s.execute(update(Dossier).where(Dossier.id == target).values(updated_at=old))
            s.commit()
    record("aggregates", {"what": "province year in process: monthly aggregates vs direct; medians",
                          "db": args.db, "dossiers": count, "agencies": len(members), "database": pg_version(url),
                          "machine": machine(), "results": results,
                          "targets": {"province_year_under_1s": results["closed_year"]["aggregates_ms"] < 1000}})
    engine.dispose()


if __name__ == "__main__":
    main()
