"""Print every statement one intake, one action and one citizen lookup send (the round trips).

    .venv/bin/python bench/trace.py [--db motcua_trace]

A fresh PostgreSQL database with the demo data; the app in process (TestClient); a SQLAlchemy
listener prints each statement's first line. What `docs/BENCHMARKS.md` counts as "statements per
request" comes from here.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import psycopg  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import event  # noqa: E402

from app.catalog.demo import seed_demo  # noqa: E402
from app.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrations import upgrade  # noqa: E402
from app.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="motcua_trace")
    args = parser.parse_args()
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db}"')
    settings = Settings(env="test", database_url=f"postgresql://postgres@127.0.0.1:5432/{args.db}",
                        jwt_secret="trace-secret-trace-secret-trace-secret", log_level="WARNING")
    engine = make_engine(settings)
    upgrade(engine)
    from datetime import datetime
    from zoneinfo import ZoneInfo
    now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    with transaction(make_sessionmaker(engine)) as s:
        seed_demo(s, settings=settings, now=now)
    app = create_app(settings, engine=engine)
    label = {"now": ""}
    counts: dict[str, int] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def show(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        if label["now"]:
            counts[label["now"]] = counts.get(label["now"], 0) + 1
            print(f"  [{label['now']}] {' '.join(statement.split())[:150]}")

    @event.listens_for(engine, "commit")
    def show_commit(conn):  # noqa: ANN001, ANN202
        if label["now"]:
            counts[label["now"]] = counts.get(label["now"], 0) + 1
            print(f"  [{label['now']}] COMMIT")

    with TestClient(app) as client:
        def headers(user: str) -> dict[str, str]:
            token = client.post("/api/v1/auth/token", data={"username": user, "password": "demo1234"}).json()
            return {"Authorization": f"Bearer {token['access_token']}"}

        desk, specialist = headers("motcua"), headers("chuyenvien")
        proc = client.get("/api/v1/procedures/2.001914", headers=desk).json()
        body = {"procedure_code": "2.001914", "channel": "direct",
                "applicant": {"full_name": "Nguyễn Văn A", "id_number": "001099012345", "phone": "0912345678"},
                "documents": [{"name": d["name"], "kind": d["kind"], "count": d["count"]}
                              for d in proc["required_documents"]], "return_method": "desk"}
        for round_ in (1, 2):
            label["now"] = f"intake{round_}"
            made = client.post("/api/v1/dossiers", json=body, headers=desk)
            assert made.status_code == 201, made.text
            code, secret = made.json()["code"], made.json()["lookup_secret"]
            label["now"] = f"forward{round_}"
            moved = client.post(f"/api/v1/dossiers/{code}/actions/forward", json={"version": made.json()["version"]}, headers=desk)
            assert moved.status_code == 200, moved.text
            label["now"] = f"lookup{round_}"
            found = client.post("/api/v1/public/lookup", json={"code": code, "secret": secret})
            assert found.status_code == 200, found.text
            label["now"] = ""
    print({k: v for k, v in counts.items()})
    engine.dispose()


if __name__ == "__main__":
    main()
