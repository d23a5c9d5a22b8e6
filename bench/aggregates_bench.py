"""The province's year: through the monthly aggregates vs the direct computation, same database.

    .venv/bin/python bench/aggregates_bench.py [--db motcua_bench_150k] [--year <last year>] [--repeat 5] [--explain]

Apply the migrations first (`MOTCUA_DATABASE_URL=... motcua migrate`). Measured in process (the
work of GET /api/v1/reports/province without HTTP and JSON), medians of `--repeat` runs after one
warm-up each, for every agency of the province of the Department `000.00.17.H26`:

1. direct: `queries.periodic_report` per agency, what the province report did before;
2. the job's first run (`aggregates.rebuild`: every closed month built), then its next run with
   nothing changed (the steady state: only the months closed or touched since);
3. through the aggregates: `aggregates.periodic_facts` + the report's rows, as the province report
   does them, for `--year` (ended: every month read from the table) and for the current year (the
   open month counted directly, all agencies in one set of statements);
4. after one dossier received mid-year is touched (updated_at = now) and before the job runs, for
   both years: the months from its earliest moment on are counted directly; the answer stays exact.

Every variant's figures are checked equal to the direct ones (each agency's own periodic report) in
the same run. `--explain` also prints EXPLAIN (ANALYZE, BUFFERS) of the open month's statements.
Results: bench/results/aggregates.jsonl.
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
    parser.add_argument("--year", default=str(datetime.now(UTC).year - 1), help="an ended year")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--explain", action="store_true", help="print the plans of the open month's statements")
    parser.add_argument("--fresh", action="store_true", help="forget the months built before: time the first run")
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

    def fast(period) -> dict:  # noqa: ANN001  (what GET /reports/province does, without HTTP and JSON)
        with factory() as s:
            facts = aggregates.periodic_facts(s, members, period, now=now, tz=tz)
            names = queries.procedure_names(s, {pid for rows in facts.values() for pid in rows})
            return {i: [r.model_dump() for r in queries.periodic_rows(s, facts[i], names)] for i in members}

    def months_read(period) -> int:  # noqa: ANN001
        with factory() as s:
            return len(aggregates.readable_months(s, period, now=now, tz=tz))

    results: dict[str, dict] = {}
    if args.fresh:
        with factory() as s:
            s.execute(text("DELETE FROM report_month_aggregates"))
            s.execute(text("DELETE FROM report_aggregate_months"))
            s.execute(text("DELETE FROM system_state WHERE key = :key"), {"key": aggregates.WATERMARK_KEY})
            s.commit()
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

    if args.explain:
        explain(factory, members, parse_period(f"{now.year}-{now.month:02d}", tz), now)

    # One dossier received mid-year touched, the job not yet run: exact, partly direct.
    for name, key in (("touched_before_job", args.year), ("current_touched_before_job", str(now.year))):
        period = parse_period(key, tz)
        middle = period.start + (min(period.end, now) - period.start) / 2
        with factory() as s:
            target = s.execute(select(func.min(Dossier.id)).where(Dossier.received_at >= middle,
                                                                  Dossier.received_at < period.end)).scalar_one()
            old = s.execute(select(Dossier.updated_at).where(Dossier.id == target)).scalar_one()
            s.execute(update(Dossier).where(Dossier.id == target).values(updated_at=now))
            s.commit()
        try:
            assert fast(period) == direct(period), name
            results[name] = {"period": key, "months_from_table": months_read(period),
                             "aggregates_ms": _ms(timed(lambda p=period: fast(p), args.repeat))}
        finally:
            with factory() as s:
                s.execute(update(Dossier).where(Dossier.id == target).values(updated_at=old))
                s.commit()
    record("aggregates", {"what": "province year in process: monthly aggregates vs direct; medians",
                          "db": args.db, "dossiers": count, "agencies": len(members), "database": pg_version(url),
                          "machine": machine(), "results": results,
                          "targets": {"ended_year_under_1s": results["closed_year"]["aggregates_ms"] < 1000,
                                      "current_year_under_1s": results["current_year"]["aggregates_ms"] < 1000}})
    engine.dispose()


def explain(factory, members: list[int], month, now: datetime) -> None:  # noqa: ANN001
    """EXPLAIN (ANALYZE, BUFFERS) of the statements counting the open month for every agency at once."""
    from sqlalchemy.dialects import postgresql

    with factory() as s:
        filters = queries.Filters.for_agencies(members)
        statements = queries.fact_statements(filters, month, "procedure", now=now, dialect="postgresql")
        statements += queries.fact_statements(filters.taking_part_filters(), month, "procedure", now=now,
                                              dialect="postgresql")
        for i, statement in enumerate(statements):
            sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
            plan = s.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql.replace("%%", "%"))).scalars().all()
            print(f"--- open month {month.key}, statement {i} ({'taking part' if i >= 3 else 'own'}, "
                  f"{('flows', 'apologies', 'online checks')[i % 3]})\n" + "\n".join(plan), flush=True)


if __name__ == "__main__":
    main()
