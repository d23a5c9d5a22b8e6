"""Where an API request spends its time: py-spy on a uvicorn worker under load.

    .venv/bin/python bench/profile.py intake|action|lookup|report [--db motcua_bench] [--seconds 20]

One worker (`uvicorn bench.app:app --workers 1`), the same load as the benchmark, `py-spy record
--format raw` of the worker for `--seconds`; prints the share of samples spent in (inclusive)
each application function and in the database driver, and writes the collapsed stacks to
bench/results/profile_<kind>.txt (feed them to a flame-graph tool if you like).
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.common import RESULTS, api_server, login, run_load  # noqa: E402
from bench.generate import db_url, secret_for  # noqa: E402

PY_SPY = os.path.join(os.path.dirname(sys.executable), "py-spy")


def requests_for(kind: str, base: str, url: str) -> list[tuple]:
    import httpx

    engine = create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
    with engine.connect() as conn:
        if kind == "lookup":
            rows = conn.execute(text("SELECT id, code FROM dossiers TABLESAMPLE SYSTEM (1) LIMIT 2000")).all()
            return [("POST", "/api/v1/public/lookup", {"code": c, "secret": secret_for(i)}, {}) for i, c in rows]
        if kind == "action":
            rows = conn.execute(text("SELECT d.code, d.version FROM dossiers d JOIN agencies a ON a.id = d.agency_id "
                                     "WHERE a.code = '000.00.17.H26' AND d.status = 'received' LIMIT 5000")).all()
            desk = login(base, "motcua")
            return [("POST", f"/api/v1/dossiers/{c}/actions/forward", {"version": v}, desk) for c, v in rows]
    engine.dispose()
    if kind == "report":
        return [("GET", "/api/v1/reports/periodic?period=2025-Q3", None, login(base, "baocao"))]
    desk = login(base, "motcua")
    procedure = httpx.get(f"{base}/api/v1/procedures/2.001914", headers=desk, timeout=30).json()
    body = {"procedure_code": "2.001914", "channel": "direct",
            "applicant": {"full_name": "Nguyễn Văn Bench", "id_number": "001099012345", "phone": "0912345678"},
            "documents": [{"name": d["name"], "kind": d["kind"], "count": d["count"]}
                          for d in procedure["required_documents"]], "return_method": "desk"}
    return [("POST", "/api/v1/dossiers", body, desk)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["intake", "action", "lookup", "report"])
    parser.add_argument("--db", default="motcua_bench")
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    url = db_url(args.db)
    env = {"MOTCUA_LOOKUP_RATE_PER_MINUTE": "100000000", "MOTCUA_LOOKUP_RATE_PER_CODE_PER_HOUR": "100000000"}
    out = RESULTS / f"profile_{args.kind}.txt"
    RESULTS.mkdir(parents=True, exist_ok=True)
    with api_server(url, workers=1, env=env) as server:
        requests = requests_for(args.kind, server["base"], url)
        run_load(server["base"], requests, count=20, seconds=20, concurrency=2)
        loader = threading.Thread(target=run_load, args=(server["base"], requests),
                                  kwargs={"count": 10**6, "seconds": args.seconds + 5, "concurrency": 4})
        loader.start()
        subprocess.run([PY_SPY, "record", "--pid", str(server["pid"]), "--duration", str(args.seconds),
                        "--format", "raw", "--output", str(out), "--nonblocking", "--rate", "200"],
                       check=True, capture_output=True)
        loader.join()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = set()
        for frame in stack.split(";"):
            name = frame.split(" (")[0]
            where = frame[frame.find("(") + 1:frame.rfind(")")] if "(" in frame else ""
            mine = where.startswith("app/") or "/main/app/" in where or "/bench/" in where
            if mine or "psycopg" in where or "sqlalchemy/engine" in where or "sqlalchemy/orm/session" in where:
                module = where.split("/main/")[-1] if mine else where.split("site-packages/")[-1]
                frames.add(f"{module.split(':')[0]}:{name}")
        for f in frames:
            inclusive[f] += n
    print(f"{total} samples of the worker over {args.seconds} s (idle time included)")
    for frame, n in inclusive.most_common(40):
        print(f"{100 * n / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
