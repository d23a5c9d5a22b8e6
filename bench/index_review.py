"""Which index serves which query: every list, book, report, lookup and job, explained (issue 18 item 2).

    .venv/bin/python bench/index_review.py [--db motcua_bench]

The app runs in process (TestClient) on the benchmark database. Every GET route of the OpenAPI
document is called as each kind of staff user (desk, specialist, division head, leader, reporter,
admin, a district desk), with the query variants people use (each dossier-list filter, each work
queue, a search by name / phone / identity number / code, report periods and groupings, the
tracking book, the event log), the dossier routes on a running and on a returned dossier, the citizen
lookup, and the scheduler's database jobs (deadline scan, feedback scan, report aggregates, portal
backlog, rate-counter purge; the dispatchers are left out: they talk to other servers). A listener
records each statement; each distinct one is explained with its own parameters (EXPLAIN (FORMAT JSON),
planned on the real data, not executed) and the index names of its plan are collected.

Output: bench/results/index_review_<db>.md: for each index of the bulk tables, the calls whose
plans use it, and the indexes no plan uses (the candidates to drop — each still needs a reason:
a unique constraint, a foreign key's delete path, or a write path counts).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app.clock import SystemClock  # noqa: E402
from app.main import create_app  # noqa: E402
from bench.common import RESULTS, StatementLog, machine  # noqa: E402
from bench.generate import bench_settings, db_url, secret_for  # noqa: E402

TABLES = ("dossiers", "dossier_events", "step_records", "alerts", "outbox", "clock_pauses", "apologies",
          "supplement_requests", "shipments", "report_month_aggregates", "feedback", "payment_requests",
          "payment_transactions", "ratings", "dossier_files")
USERS = ("motcua", "chuyenvien", "truongphong", "giamdoc", "baocao", "admin", "h18_motcua", "h18_lanhdao")
# Same queries as the route without the suffix (one renderer over the same rows): not called again.
SAME_AS_JSON = (".pdf", ".xlsx", ".csv", ".ocel.json")
LIST_VARIANTS = ["", "?status=processing", "?status=awaiting_supplement", "?overdue=true", "?due_soon=true",
                 "?mine=true", "?channel=online", "?received_from=2025-01-01T00:00:00&received_to=2025-04-01T00:00:00",
                 "?queue=mine", "?queue=assigned", "?queue=unassigned", "?queue=handover", "?queue=to_check",
                 "?queue=to_forward", "?queue=waiting", "?queue=to_return",
                 "?q=nguyen%20van", "?q=0912000000", "?q=001090000001", "?before=1000000"]
PERIODS = ["2025", "2025-Q3", "2025-07", "2026"]


def index_names(plan: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(plan, dict):
        if "Index Name" in plan:
            found.add(plan["Index Name"])
        for value in plan.values():
            found |= index_names(value)
    elif isinstance(plan, list):
        for value in plan:
            found |= index_names(value)
    return found


def calls_for(spec: dict, sample: dict[str, str]) -> list[tuple[str, str, str]]:
    """(label, method, url) for every GET route, with query variants."""
    out: list[tuple[str, str, str]] = []
    for path, ops in spec["paths"].items():
        if "get" not in ops or path in ("/metrics", "/health", "/ready") or "/public/" in path \
                or path.endswith(SAME_AS_JSON):
            continue
        url = path
        for name, value in sample.items():
            url = url.replace("{" + name + "}", value)
        if "{" in url:
            continue
        params = {p["name"] for p in ops["get"].get("parameters", []) if p["in"] == "query"}
        variants = [""]
        if path == "/api/v1/dossiers":
            variants = LIST_VARIANTS
        elif "period" in params:
            variants = [f"?period={p}" for p in PERIODS]
            if "group_by" in params:
                variants += [f"?period=2025&group_by={g}" for g in ("procedure", "division", "channel")]
        elif "from" in params and "to" in params:
            variants = ["?from=2025-07-01&to=2025-07-31"]
        out += [(path + v, "GET", url + v) for v in variants]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="motcua_bench")
    args = parser.parse_args()
    settings = bench_settings(db_url(args.db), lookup_rate_per_minute=10**8, lookup_rate_per_code_per_hour=10**8)
    app = create_app(settings)
    engine = app.state.engine
    log = StatementLog(engine, kinds=("SELECT", "UPDATE", "DELETE", "WITH"))

    with engine.connect() as conn:
        running = conn.execute(text(
            "SELECT d.id, d.code FROM dossiers d JOIN agencies a ON a.id = d.agency_id WHERE a.code = '000.00.17.H26' "
            "AND d.status = 'processing' ORDER BY d.id DESC LIMIT 1")).first()
        returned = conn.execute(text(
            "SELECT d.id, d.code FROM dossiers d JOIN agencies a ON a.id = d.agency_id WHERE a.code = '000.00.17.H26' "
            "AND d.status = 'returned' AND d.applicant_email IS DISTINCT FROM 'bench@example.vn' "
            "ORDER BY d.id DESC LIMIT 1 OFFSET 5000")).first()
        id_number = conn.execute(text("SELECT applicant_id_number FROM dossiers WHERE id = :i"),
                                 {"i": returned[0]}).scalar_one()
        total = conn.execute(text("SELECT count(*) FROM dossiers")).scalar_one()
    status: dict[str, int] = defaultdict(int)
    with TestClient(app) as client:
        spec = client.get("/openapi.json").json()
        tokens = {}
        for user in USERS:
            r = client.post("/api/v1/auth/token", data={"username": user, "password": "demo1234"})
            if r.status_code == 200:
                tokens[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        for code in (running[1], returned[1]):
            sample = {"code": code, "id_number": id_number or "001090000001", "form": "01", "file_id": "1",
                      "document_id": "1", "feedback_id": "1"}
            calls = calls_for(spec, sample)
            for user, headers in tokens.items():
                for name, method, url in calls:
                    with log.labelled(f"{user} {method} {name}"):
                        response = client.request(method, url, headers=headers)
                    status[f"{response.status_code}"] += 1
        for dossier_id, code in (running, returned):
            with log.labelled("citizen lookup"):
                client.post("/api/v1/public/lookup", json={"code": code, "secret": secret_for(dossier_id)})
        if "giamdoc" in tokens:
            procedure = "2.001914"
            with log.labelled("giamdoc POST /api/v1/analysis/what-if"):
                client.post("/api/v1/analysis/what-if", headers=tokens["giamdoc"],
                            json={"procedure_code": procedure, "period": "2025",
                                  "time_limit": {"value": 3, "unit": "working_days"}})
        from app.sla import scheduler as jobs

        factory, clock = app.state.sessionmaker, SystemClock()
        for job in ("run_deadline_scan", "run_feedback_scan", "run_report_aggregates", "run_portal_backlog",
                    "run_rate_counter_purge"):
            body = getattr(jobs, job, None)
            if body is None:
                continue
            with log.labelled(f"job {job.removeprefix('run_')}"):
                try:
                    body(factory, settings, clock)
                except Exception as exc:  # noqa: BLE001 — a job that needs another server: noted, not fatal
                    print(f"{job}: {type(exc).__name__}: {exc}"[:200])
    print(f"{len(log.captured):,} statements captured; responses {dict(status)}")

    with engine.connect() as conn:
        indexes = conn.execute(text(
            "SELECT tablename, indexname, indexdef, i.indisunique FROM pg_indexes x "
            "JOIN pg_class c ON c.relname = x.indexname JOIN pg_index i ON i.indexrelid = c.oid "
            "WHERE schemaname = 'public' AND tablename = ANY(:t) ORDER BY 1, 2"), {"t": list(TABLES)}).all()
    used_by: dict[str, set[str]] = defaultdict(set)
    failed = 0
    seen: set[str] = set()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for name, statement, parameters in log.captured:
            key = statement + repr(parameters)
            if key in seen:
                continue
            seen.add(key)
            try:
                cur.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
                plan = cur.fetchone()[0]
            except Exception:  # noqa: BLE001 — e.g. a statement with a server-side cursor's name
                failed += 1
                raw.rollback()
                continue
            raw.rollback()
            for index in index_names(plan):
                used_by[index].add(name)
    finally:
        raw.close()
    lines = [f"# Index review — {args.db}, {total:,} dossiers, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
             f"machine: {machine()}", "",
             f"{len(seen):,} distinct statements explained ({failed} could not be), from "
             f"{sum(status.values()):,} requests as {len(tokens)} users and the scheduler's database jobs.", "",
             "| table | index | unique | used by (calls whose plan names it) |", "|---|---|---|---|"]
    unused = []
    for table, index, definition, unique in indexes:
        users = sorted(used_by.get(index, ()))
        shown = "; ".join(users[:4]) + (f"; … {len(users) - 4} more" if len(users) > 4 else "")
        lines.append(f"| {table} | `{index}` | {'yes' if unique else ''} | {shown or '**none**'} |")
        if not users and not unique:
            unused.append((table, index, definition))
    lines += ["", "## Indexes no explained plan uses (not unique)", ""]
    lines += [f"* `{index}` on {table}: `{definition.split(' USING ', 1)[1]}`" for table, index, definition in unused]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"index_review_{args.db}.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-len(unused) - 2:]))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
