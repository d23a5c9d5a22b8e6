"""Periodic report at provincial scale: through the API vs the same SQL run bare.

    .venv/bin/python bench/reports_bench.py [--db motcua_bench] [--quarter 2025-Q3] [--year 2025] [--repeat 5]

Measured (median of `--repeat` runs, after one warm-up run each):

1. one agency-quarter: `GET /api/v1/reports/periodic?period=<quarter>` as the Department's
   reporter (the largest agency, 40 % of the province) through uvicorn (1 worker);
2. the Department's year through the API;
3. the whole province-year: the API scopes every report to the caller's agency, so there is no
   province endpoint; measured as (a) the 20 agencies' year reports called one after the other
   through the API, and (b) the report module's own SQL (`app.reports.queries.period_facts`, the
   three statements) without the agency condition, run in process;
4. the bare SQL: the very statements the report runs (compiled with their literal values by
   SQLAlchemy), executed on a plain psycopg connection; the province-year variant without the
   agency condition; and the same with `SET jit = off` (PostgreSQL's JIT compiles these
   aggregates for 100-300 ms each, more than some of them take to run).

Targets: province-year under 1 s; API within 1.5x of the bare SQL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

from app.db import make_engine, make_sessionmaker  # noqa: E402
from app.models import Agency  # noqa: E402
from app.reports import queries  # noqa: E402
from app.reports.periods import parse_period  # noqa: E402
from bench.common import api_server, login, machine, pg_version, record, timed, worker_peaks  # noqa: E402
from bench.generate import bench_settings, db_url  # noqa: E402


class ProvinceFilters(queries.Filters):
    """The report's filters without the agency condition: the whole province."""

    def __init__(self) -> None:
        self.agency_id = None
        self.procedure_id = None
        self.division_id = None
        self.applied = {}

    def dossier_clauses(self):  # noqa: ANN201
        return []


def _statements(session, filters, period, now) -> list[str]:  # noqa: ANN001
    """The SQL statements `period_facts(..., "procedure")` runs, with literal values."""
    captured: list[str] = []
    from sqlalchemy import event

    engine = session.get_bind()

    def grab(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        compiled = context.compiled
        if compiled is not None and "dossiers" in statement:
            captured.append(str(compiled.statement.compile(dialect=postgresql.dialect(),
                                                           compile_kwargs={"literal_binds": True})))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        queries.period_facts(session, filters, period, "procedure", now=now)
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    return captured


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="motcua_bench")
    parser.add_argument("--quarter", default="2025-Q3")
    parser.add_argument("--year", default="2025")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url = db_url(args.db)
    settings = bench_settings(url)
    engine = make_engine(settings)
    factory = make_sessionmaker(engine)
    raw = create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
    now = datetime.now(UTC)
    load_before = os.getloadavg()
    with factory() as s:
        department = s.execute(select(Agency).where(Agency.code == "000.00.17.H26")).scalar_one()
        districts = s.execute(select(Agency.code).where(Agency.code.like("000.__.31.H26")).order_by(Agency.code)).scalars().all()
        quarter = parse_period(args.quarter, settings.timezone)
        year = parse_period(args.year, settings.timezone)
        department_filters = queries.Filters(s, department.id)
        sql = {"agency_quarter": _statements(s, department_filters, quarter, now),
               "agency_year": _statements(s, department_filters, year, now),
               "province_year": _statements(s, ProvinceFilters(), year, now)}
        count = s.execute(text("SELECT count(*) FROM dossiers")).scalar_one()

    def bare(statements: list[str], jit: bool = True) -> None:
        with raw.connect() as conn:
            if not jit:
                conn.exec_driver_sql("SET jit = off")
            for statement in statements:
                conn.exec_driver_sql(statement).all()

    def module_province() -> None:
        with factory() as s:
            queries.period_facts(s, ProvinceFilters(), year, "procedure", now=now)

    results: dict[str, dict] = {}
    for name, statements in sql.items():
        bare(statements)
        results[name] = {"bare_sql_ms": _median_ms(timed(lambda st=statements: bare(st), args.repeat)),
                         "bare_sql_jit_off_ms": _median_ms(timed(lambda st=statements: bare(st, False), args.repeat))}
    module_province()
    results["province_year"]["report_module_in_process_ms"] = _median_ms(timed(module_province, args.repeat))

    with api_server(url, workers=1) as server:
        base = server["base"]
        reporter = login(base, "baocao")
        district_reporters = [login(base, f"h{code.split('.')[1]}_baocao") for code in districts]

        def api(period: str, headers: dict) -> None:
            response = httpx.get(f"{base}/api/v1/reports/periodic", params={"period": period}, headers=headers,
                                 timeout=120)
            response.raise_for_status()

        for name, period in (("agency_quarter", args.quarter), ("agency_year", args.year)):
            api(period, reporter)
            results[name]["api_ms"] = _median_ms(timed(lambda p=period: api(p, reporter), args.repeat))

        def province_through_api() -> None:
            for headers in [reporter, *district_reporters]:
                api(args.year, headers)

        province_through_api()
        results["province_year"]["api_20_agencies_ms"] = _median_ms(timed(province_through_api,
                                                                           max(1, args.repeat // 2)))
        peaks = worker_peaks(server)
    for name, r in results.items():
        api_ms = r.get("api_ms") or r.get("api_20_agencies_ms")
        r["ratio_api_to_bare"] = round(api_ms / r["bare_sql_ms"], 2) if api_ms and r["bare_sql_ms"] else None
    province = results["province_year"]
    record("reports", {
        "what": "periodic report (GET /api/v1/reports/periodic) vs its own SQL run bare; medians",
        "db": args.db, "dossiers": count, "periods": {"quarter": args.quarter, "year": args.year},
        "database": pg_version(url), "machine": machine(), "load_before": load_before, "results": results,
        "targets": {"province_year_under_1s": province["bare_sql_ms"] < 1000,
                    "agency_quarter_api_within_1_5x": results["agency_quarter"]["ratio_api_to_bare"] <= 1.5,
                    "agency_year_api_within_1_5x": results["agency_year"]["ratio_api_to_bare"] <= 1.5},
        "worker_peak_rss_mb": peaks})
    engine.dispose()
    raw.dispose()


if __name__ == "__main__":
    main()
