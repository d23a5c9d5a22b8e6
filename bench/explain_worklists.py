"""EXPLAIN (ANALYZE, BUFFERS) of the work lists and search (issue 16), captured from the API itself.

    .venv/bin/python bench/explain_worklists.py [--db motcua_bench]

As bench/explain.py: the app runs in process on a database made by bench/generate.py, a listener
records the statements these requests send, and each is explained on the same database:

* my queue (`GET /api/v1/dossiers?queue=mine`) of the desk, a specialist, a division head, the
  Deputy Director and a district desk, and the desk's badges (`GET /api/v1/dossiers/queue-counts`);
* search (`?q=`): a full name typed without diacritics, a family name alone (a frequent term), an
  identity number, a phone in the +84 form, a dossier code.

Plans go to bench/results/explain_worklists_<db>.md (summarised in docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app.main import create_app  # noqa: E402
from app.search import name_key  # noqa: E402
from bench.common import RESULTS, StatementLog, machine  # noqa: E402
from bench.generate import bench_settings, db_url  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="motcua_bench")
    args = parser.parse_args()
    app = create_app(bench_settings(db_url(args.db)))
    engine = app.state.engine
    log = StatementLog(engine)

    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM dossiers")).scalar_one()
        sample = conn.execute(text(
            "SELECT d.code, d.applicant_name, d.applicant_id_number, d.applicant_phone FROM dossiers d "
            "JOIN agencies a ON a.id = d.agency_id WHERE a.code = '000.00.17.H26' AND d.applicant_phone IS NOT NULL "
            "ORDER BY d.id DESC LIMIT 1 OFFSET LEAST(5000, (SELECT count(*) / 5 FROM dossiers))")).one()
        shares = conn.execute(text(
            "SELECT status, count(*) FROM dossiers GROUP BY status ORDER BY 2 DESC")).all()
    code, name, id_number, phone = sample
    typed_name = name_key(name)  # "nguyen van an": as typed without diacritics
    family = typed_name.split()[0]
    with TestClient(app) as client:
        def headers(user: str) -> dict[str, str]:
            r = client.post("/api/v1/auth/token", data={"username": user, "password": "demo1234"})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        desk = headers("motcua")
        calls = [(f"my queue: {user}", "/api/v1/dossiers?queue=mine", headers(user))
                 for user in ("motcua", "chuyenvien", "truongphong", "giamdoc", "h18_motcua")]
        calls += [
            ("queue counts: motcua", "/api/v1/dossiers/queue-counts", desk),
            (f"search: full name without diacritics ({typed_name})", f"/api/v1/dossiers?q={quote(typed_name)}", desk),
            (f"search: a family name alone ({family})", f"/api/v1/dossiers?q={quote(family)}", desk),
            ("search: identity number", f"/api/v1/dossiers?q={id_number}", desk),
            ("search: phone, +84 form", f"/api/v1/dossiers?q={quote('+84' + phone[1:])}", desk),
            ("search: dossier code", f"/api/v1/dossiers?q={code}", desk),
        ]
        timings = {}
        for name_, path, who in calls:
            with log.labelled(name_):
                t0 = time.perf_counter()
                response = client.get(path, headers=who)
                timings[name_] = time.perf_counter() - t0
            assert response.status_code == 200, (name_, response.status_code, response.text[:300])
    lines = [f"# EXPLAIN (ANALYZE, BUFFERS) of the work lists and search — {args.db}, {total:,} dossiers",
             f"machine: {machine()}", "", "statuses: " + ", ".join(f"{s} {n:,}" for s, n in shares), ""]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for name_, statement, parameters in [c for c in log.captured if "FROM dossiers" in c[1]]:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plan = [r[0] for r in cur.fetchall()]
            raw.rollback()
            lines += [f"## {name_} (whole request {timings[name_] * 1000:.0f} ms)", "", "```sql", statement.strip(),
                      "```", "", "```", *plan, "```", ""]
            print(f"{name_}: {plan[-1]} (request {timings[name_] * 1000:.0f} ms)")
    finally:
        raw.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"explain_worklists_{args.db}.md").write_text("\n".join(lines))
    print(f"plans written to {RESULTS / f'explain_worklists_{args.db}.md'}")


if __name__ == "__main__":
    main()
