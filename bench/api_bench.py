"""HTTP benchmarks: intake, actions, citizen lookup, each against a bare baseline in the same run.

    .venv/bin/python bench/api_bench.py intake [--db motcua_bench] [--count 3000] [--seconds 60]
    .venv/bin/python bench/api_bench.py action [--db motcua_bench] [--count 3000] [--seconds 60]
    .venv/bin/python bench/api_bench.py lookup [--db motcua_bench] [--count 4000] [--seconds 60]

The server is `uvicorn bench.app:app --workers 2` (the real app plus `/bench/insert` and
`/bench/pk/{id}`, see bench/app.py) on a port in 8150-8179; the load comes from another process
(httpx, `--concurrency` threads), bounded by `--count` requests and `--seconds`. The baseline runs
before and after the measured route and the two runs are averaged (the machine drifts).

* intake: `POST /api/v1/dossiers` as the desk officer of the demo Department (a complete dossier of
  procedure 2.001914) vs `POST /bench/insert`; target ≥ 50 % of the baseline's rate;
* action: `POST /api/v1/dossiers/{code}/actions/forward` on dossiers waiting in `received` (the
  intake run leaves them), vs the same baseline;
* lookup: `POST /api/v1/public/lookup` for random generated dossiers (their secrets are known,
  see bench/generate.py) vs `GET /bench/pk/{id}`; target p99 ≤ 2× the baseline's. The lookup rate
  limits are raised for the run (MOTCUA_LOOKUP_RATE_*): the counters are still written, as always.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.common import api_server, login, machine, pg_version, record, run_load, worker_peaks  # noqa: E402
from bench.generate import db_url, secret_for  # noqa: E402

PROCEDURE = "2.001914"
DESK = "motcua"


def _engine(url: str):  # noqa: ANN202
    return create_engine("postgresql+psycopg://" + url.split("://", 1)[1])


def _baseline_pair(base: str, requests: list[tuple], count: int, seconds: float, concurrency: int, run):  # noqa: ANN001, ANN202
    before = run_load(base, requests, count=count, seconds=seconds, concurrency=concurrency)
    measured = run()
    after = run_load(base, requests, count=count, seconds=seconds, concurrency=concurrency)
    baseline = {"before": before, "after": after,
                "per_second": round((before["per_second"] + after["per_second"]) / 2, 1),
                "p50_ms": round((before["p50_ms"] + after["p50_ms"]) / 2, 2),
                "p99_ms": round((before["p99_ms"] + after["p99_ms"]) / 2, 2)}
    return measured, baseline


def _strip(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("errors",) or v}


def intake(args: argparse.Namespace) -> None:
    url = db_url(args.db)
    load_before = os.getloadavg()
    with api_server(url, workers=args.workers) as server:
        base = server["base"]
        desk = login(base, DESK)
        import httpx

        procedure = httpx.get(f"{base}/api/v1/procedures/{PROCEDURE}", headers=desk, timeout=30).json()
        documents = [{"name": d["name"], "kind": d["kind"], "count": d["count"]}
                     for d in procedure["required_documents"]]
        body = {"procedure_code": PROCEDURE, "channel": "direct",
                "applicant": {"full_name": "Nguyễn Văn Bench", "id_number": "001099012345", "phone": "0912345678",
                              "email": "bench@example.vn", "address": "Số 1 Lê Lợi"},
                "documents": documents, "return_method": "desk"}
        warm = [("POST", "/api/v1/dossiers", body, desk)]
        if args.spread:
            # One desk per agency, each with a procedure of its own agency: intakes of different
            # agencies do not queue on the same (agency, day) sequence row.
            warm = [warm[0]]
            engine = _engine(url)
            with engine.connect() as conn:
                pairs = conn.execute(text(
                    "SELECT DISTINCT ON (a.code) a.code, p.code FROM agencies a JOIN procedures p ON p.agency_id = a.id "
                    "WHERE a.code LIKE '000.__.31.H26' ORDER BY a.code, p.id")).all()
            engine.dispose()
            for agency_code, procedure_code in pairs:
                user = f"h{agency_code.split('.')[1]}_motcua"
                headers = login(base, user)
                proc = httpx.get(f"{base}/api/v1/procedures/{procedure_code}", headers=headers, timeout=30).json()
                docs = [{"name": d["name"], "kind": d["kind"], "count": d["count"]} for d in proc["required_documents"]]
                warm.append(("POST", "/api/v1/dossiers", {**body, "procedure_code": procedure_code, "documents": docs},
                             headers))
        run_load(base, warm, count=50, seconds=30, concurrency=args.concurrency)  # warm-up (not counted)
        baseline_requests = [("POST", "/bench/insert", None, {})]
        run_load(base, baseline_requests, count=200, seconds=30, concurrency=args.concurrency)
        measured, baseline = _baseline_pair(
            base, baseline_requests, args.count, args.seconds, args.concurrency,
            lambda: run_load(base, warm, count=args.count, seconds=args.seconds, concurrency=args.concurrency))
        peaks = worker_peaks(server)
    ratio = measured["per_second"] / baseline["per_second"] if baseline["per_second"] else None
    record("intake", {
        "what": "dossiers received per second through POST /api/v1/dossiers (uvicorn, 2 workers)"
                + (", spread over the 20 agencies" if args.spread else ", all into the demo Department"),
        "baseline": "POST /bench/insert (one row, same SessionDep), averaged before/after",
        "db": args.db, "database": pg_version(url), "machine": machine(), "load_before": load_before,
        "intake": _strip(measured), "baseline_result": baseline, "ratio": round(ratio, 3) if ratio else None,
        "target": ">= 0.5", "met": bool(ratio and ratio >= 0.5), "worker_peak_rss_mb": peaks})


def action(args: argparse.Namespace) -> None:
    url = db_url(args.db)
    engine = _engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT d.code, d.version FROM dossiers d JOIN agencies a ON a.id = d.agency_id "
            "WHERE a.code = '000.00.17.H26' AND d.status = 'received' ORDER BY d.id DESC LIMIT :n"),
            {"n": args.count}).all()
    engine.dispose()
    if len(rows) < 100:
        raise SystemExit(f"only {len(rows)} dossiers in 'received': run the intake benchmark first")
    load_before = os.getloadavg()
    with api_server(url, workers=args.workers) as server:
        base = server["base"]
        desk = login(base, DESK)
        requests = [("POST", f"/api/v1/dossiers/{code}/actions/forward", {"version": version}, desk)
                    for code, version in rows]
        baseline_requests = [("POST", "/bench/insert", None, {})]
        run_load(base, baseline_requests, count=200, seconds=30, concurrency=args.concurrency)
        measured, baseline = _baseline_pair(
            base, baseline_requests, len(requests), args.seconds, args.concurrency,
            lambda: run_load(base, requests, count=len(requests), seconds=args.seconds,
                             concurrency=args.concurrency))
        peaks = worker_peaks(server)
    ratio = measured["per_second"] / baseline["per_second"] if baseline["per_second"] else None
    record("action", {
        "what": "forward actions per second (received -> processing: row lock, version check, step record, "
                "event, portal outbox row) through POST /api/v1/dossiers/{code}/actions/forward",
        "baseline": "POST /bench/insert, averaged before/after", "db": args.db, "database": pg_version(url),
        "machine": machine(), "load_before": load_before, "action": _strip(measured), "baseline_result": baseline,
        "ratio": round(ratio, 3) if ratio else None, "target": ">= 0.5 (same as intake)",
        "met": bool(ratio and ratio >= 0.5), "worker_peak_rss_mb": peaks})


def lookup(args: argparse.Namespace) -> None:
    url = db_url(args.db)
    engine = _engine(url)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT max(id) FROM dossiers")).scalar_one()
        rows = conn.execute(text("SELECT id, code FROM dossiers TABLESAMPLE SYSTEM (1) "  # generated ones only
                                 "WHERE applicant_email IS DISTINCT FROM 'bench@example.vn' LIMIT :n"),
                            {"n": 3000}).all()
    engine.dispose()
    env = {"MOTCUA_LOOKUP_RATE_PER_MINUTE": "100000000", "MOTCUA_LOOKUP_RATE_PER_CODE_PER_HOUR": "100000000"}
    load_before = os.getloadavg()
    with api_server(url, workers=args.workers, env=env) as server:
        base = server["base"]
        lookups = [("POST", "/api/v1/public/lookup", {"code": code, "secret": secret_for(i)}, {}) for i, code in rows]
        pks = [("GET", f"/bench/pk/{i}", None, {}) for i, _ in rows]
        run_load(base, lookups, count=300, seconds=30, concurrency=args.concurrency)  # warm-up
        run_load(base, pks, count=300, seconds=30, concurrency=args.concurrency)
        measured, baseline = _baseline_pair(
            base, pks, args.count, args.seconds, args.concurrency,
            lambda: run_load(base, lookups, count=args.count, seconds=args.seconds, concurrency=args.concurrency))
        peaks = worker_peaks(server)
    ratio = measured["p99_ms"] / baseline["p99_ms"] if baseline["p99_ms"] else None
    record("lookup", {
        "what": f"citizen lookup POST /api/v1/public/lookup latency under load ({args.concurrency} concurrent "
                f"clients), {total:,} dossiers", "baseline": "GET /bench/pk/{id} (bare primary-key select)",
        "db": args.db, "database": pg_version(url), "machine": machine(), "load_before": load_before,
        "lookup": _strip(measured), "baseline_result": baseline, "p99_ratio": round(ratio, 2) if ratio else None,
        "p50_ratio": round(measured["p50_ms"] / baseline["p50_ms"], 2) if baseline["p50_ms"] else None,
        "target": "p99 <= 2x baseline", "met": bool(ratio and ratio <= 2), "worker_peak_rss_mb": peaks})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["intake", "action", "lookup"])
    parser.add_argument("--db", default="motcua_bench")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--spread", action="store_true",
                        help="intake: rotate over the 20 agencies' desks instead of one Department desk")
    args = parser.parse_args()
    {"intake": intake, "action": action, "lookup": lookup}[args.kind](args)


if __name__ == "__main__":
    main()
