"""Deadline scan with 500,000 open dossiers: time per scheduler tick and the query plan.

    .venv/bin/python bench/generate.py --open-only 500000 --db motcua_bench_scan     # once
    .venv/bin/python bench/scan_bench.py [--template motcua_bench_scan]

The scan writes (alerts, apology drafts, `next_alert_at`), so each run works on a copy of the
generated database (`CREATE DATABASE ... TEMPLATE`), dropped afterwards. In process, the way the
scheduler process runs it (`app.sla.scan.scan_deadlines`, default batch 500, at most 200 batches
per run). Measured:

1. `EXPLAIN (ANALYZE, BUFFERS)` of the scan's batch query (must be an index range scan on
   `ix_dossiers_next_alert_at`);
2. the catch-up tick at the generation moment (every threshold already reached, as after
   downtime), repeated until nothing is due;
3. steady-state ticks: the next minute, and the next hour, of thresholds;
4. an empty tick (nothing due): the price of the scheduler's every-minute wake-up;
5. peak resident memory of the process (the scheduler) during the ticks.

Baseline: the same range query alone (`SELECT id ... WHERE next_alert_at <= now ORDER BY
next_alert_at LIMIT 500`), i.e. what the tick costs beyond reading its batch.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import create_engine, text  # noqa: E402

from app.db import make_engine, make_sessionmaker  # noqa: E402
from app.sla.scan import scan_deadlines  # noqa: E402
from bench.common import machine, pg_version, record  # noqa: E402
from bench.generate import ADMIN_URL, bench_settings, db_url  # noqa: E402

SCAN_SQL = ("SELECT * FROM dossiers WHERE next_alert_at <= :now ORDER BY next_alert_at LIMIT 500 "
            "FOR UPDATE SKIP LOCKED")


def _rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _admin():  # noqa: ANN202
    return create_engine("postgresql+psycopg://" + ADMIN_URL.split("://", 1)[1], isolation_level="AUTOCOMMIT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", default="motcua_bench_scan")
    args = parser.parse_args()
    work = args.template + "_run"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{work}" WITH (FORCE)'))
        t0 = time.perf_counter()
        conn.execute(text(f'CREATE DATABASE "{work}" TEMPLATE "{args.template}"'))
        copy_s = time.perf_counter() - t0
    url = db_url(work)
    settings = bench_settings(url)
    engine = make_engine(settings)
    factory = make_sessionmaker(engine)
    load_before = os.getloadavg()
    try:
        with engine.connect() as conn:
            open_count = conn.execute(text("SELECT count(*) FROM dossiers WHERE clock_state IN ('running', 'paused')")).scalar_one()
            generated_at = conn.execute(text("SELECT max(updated_at) FROM dossiers")).scalar_one()
            total = conn.execute(text("SELECT count(*) FROM dossiers")).scalar_one()
        now = max(generated_at, datetime.now(UTC)) if generated_at else datetime.now(UTC)
        with engine.connect() as conn:
            due_now = conn.execute(text("SELECT count(*) FROM dossiers WHERE next_alert_at <= :now"), {"now": now}).scalar_one()
            plan = [r[0] for r in conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + SCAN_SQL), {"now": now})]
            conn.rollback()
            baseline = []
            for _ in range(5):
                t0 = time.perf_counter()
                conn.execute(text("SELECT id FROM dossiers WHERE next_alert_at <= :now ORDER BY next_alert_at "
                                  "LIMIT 500"), {"now": now}).all()
                baseline.append(time.perf_counter() - t0)
        rss_start = _rss_mb()
        ticks = []

        def tick(label: str, at: datetime) -> dict:
            t0 = time.perf_counter()
            stats = scan_deadlines(factory, now=at, settings=settings)
            elapsed = time.perf_counter() - t0
            row = {"tick": label, "seconds": round(elapsed, 3), "dossiers": stats.dossiers, "batches": stats.batches,
                   "alerts": stats.alerts, "drafts": stats.drafts,
                   "ms_per_dossier": round(elapsed * 1000 / stats.dossiers, 3) if stats.dossiers else None}
            ticks.append(row)
            print(row, flush=True)
            return row

        from app.sla.calendar import WorkingCalendar

        opening = WorkingCalendar(tz=settings.timezone).next_working_moment(now + timedelta(seconds=1))

        def until_empty(label: str, at: datetime) -> None:
            for i in range(50):
                if tick(f"{label} (run {i + 1})", at)["dossiers"] == 0:
                    break

        until_empty("catch-up at generation time", now)
        until_empty("next opening, overnight thresholds", opening)
        tick("empty (nothing due)", opening)
        tick("steady: the next working minute", opening + timedelta(minutes=1))
        until_empty("steady: the next working hour", opening + timedelta(hours=1))
        until_empty("downtime: one day of thresholds at once", opening + timedelta(days=1))
        tick("empty after catch-up", opening + timedelta(days=1))
        with engine.connect() as conn:
            plan_after = [r[0] for r in conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + SCAN_SQL),
                                                     {"now": opening + timedelta(days=1)})]
            conn.rollback()
        empty = next(t for t in ticks if t["tick"].startswith("empty"))
        now = opening
        record("scan", {
            "what": "deadline scan ticks (app.sla.scan.scan_deadlines) over open dossiers",
            "baseline": "the batch range query alone (median of 5)", "database": pg_version(url), "db": work,
            "dossiers": total, "open_dossiers": open_count, "due_at_start": due_now, "template_copy_s": round(copy_s, 1),
            "machine": machine(), "load_before": load_before, "ticks": ticks,
            "baseline_query_ms": round(sorted(baseline)[2] * 1000, 2), "empty_tick_ms": round(empty["seconds"] * 1000, 2),
            "plan_at_generation": plan, "plan_after_day_catch_up": plan_after,
            "index_range_scan": any("ix_dossiers_next_alert_at" in line for line in plan),
            "scheduler_peak_rss_mb": _rss_mb(), "rss_before_ticks_mb": rss_start})
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{work}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
