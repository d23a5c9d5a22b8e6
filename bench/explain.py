"""EXPLAIN (ANALYZE, BUFFERS) of the hot queries, captured from the API itself.

    .venv/bin/python bench/explain.py [--db motcua_bench]

The app runs in process (TestClient) on the benchmark database; a SQLAlchemy listener records every
statement (with its parameters) that these requests send, and each hot one is then explained on
the same database:

* the dossier list with filters (`GET /api/v1/dossiers?status=processing&procedure_code=...
  &received_from=...`, and the plain first page);
* the lookup by code (`POST /api/v1/public/lookup`) and the detail by code (`GET /dossiers/{code}`);
* the report aggregates (`GET /api/v1/reports/periodic?period=<quarter>`);
* the deadline scan's batch query.

Plans go to bench/results/explain.md (pasted into docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app.main import create_app  # noqa: E402
from bench.common import RESULTS, StatementLog, machine  # noqa: E402
from bench.generate import bench_settings, db_url, secret_for  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="motcua_bench")
    parser.add_argument("--quarter", default="2025-Q3")
    args = parser.parse_args()
    settings = bench_settings(db_url(args.db), lookup_rate_per_minute=10**8, lookup_rate_per_code_per_hour=10**8)
    app = create_app(settings)
    engine = app.state.engine
    log = StatementLog(engine)

    with engine.connect() as conn:
        sample = conn.execute(text("SELECT d.id, d.code, p.code FROM dossiers d JOIN procedures p ON p.id = d.procedure_id "
                                   "JOIN agencies a ON a.id = d.agency_id WHERE a.code = '000.00.17.H26' "
                                   # a generated dossier (its secret is known), not one the intake benchmark made
                                   "AND d.applicant_email IS DISTINCT FROM 'bench@example.vn' "
                                   "ORDER BY d.id DESC LIMIT 1 OFFSET "
                                   "LEAST(5000, (SELECT count(*) / 5 FROM dossiers))")).first()
        total = conn.execute(text("SELECT count(*) FROM dossiers")).scalar_one()
    dossier_id, code, procedure = sample
    with TestClient(app) as client:
        def headers(user: str) -> dict[str, str]:
            r = client.post("/api/v1/auth/token", data={"username": user, "password": "demo1234"})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        desk, reporter = headers("motcua"), headers("baocao")
        district_desk = headers("h18_motcua")  # 000.18.31.H26: few overdue dossiers, the walk's worst case
        calls = [
            ("dossier list, filtered", lambda: client.get(
                f"/api/v1/dossiers?status=returned&procedure_code={procedure}&received_from=2025-01-01T00:00:00Z"
                "&received_to=2025-07-01T00:00:00Z", headers=desk)),
            ("dossier list, overdue", lambda: client.get("/api/v1/dossiers?overdue=true", headers=desk)),
            ("dossier list, overdue, a district", lambda: client.get("/api/v1/dossiers?overdue=true",
                                                                     headers=district_desk)),
            ("dossier list, first page", lambda: client.get("/api/v1/dossiers", headers=desk)),
            ("dossier detail by code", lambda: client.get(f"/api/v1/dossiers/{code}", headers=desk)),
            ("citizen lookup by code", lambda: client.post("/api/v1/public/lookup",
                                                           json={"code": code, "secret": secret_for(dossier_id)})),
            ("periodic report, agency-quarter", lambda: client.get(
                f"/api/v1/reports/periodic?period={args.quarter}", headers=reporter)),
        ]
        for name, call in calls:
            with log.labelled(name):
                response = call()
            assert response.status_code == 200, (name, response.status_code, response.text[:300])
    hot = [(n, s, p) for n, s, p in log.captured if "FROM dossiers" in s or "dossier_events" in s]
    now = datetime.now(UTC)
    hot.append(("deadline scan batch", "SELECT * FROM dossiers WHERE next_alert_at <= %(now)s "
                "ORDER BY next_alert_at LIMIT 500 FOR UPDATE SKIP LOCKED", {"now": now}))
    lines = [f"# EXPLAIN (ANALYZE, BUFFERS) of the hot queries — {args.db}, {total:,} dossiers",
             f"machine: {machine()}", ""]
    seen = set()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for name, statement, parameters in hot:
            key = (name, statement)
            if key in seen:
                continue
            seen.add(key)
            t0 = time.perf_counter()
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plan = [r[0] for r in cur.fetchall()]
            raw.rollback()
            lines += [f"## {name}", "", "```sql", statement.strip(), "```", "", "```", *plan, "```", ""]
            print(f"{name}: {plan[-1]} ({time.perf_counter() - t0:.2f} s)")
    finally:
        raw.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"explain_{args.db}.md").write_text("\n".join(lines))
    print(f"plans written to {RESULTS / f'explain_{args.db}.md'}")


if __name__ == "__main__":
    main()
