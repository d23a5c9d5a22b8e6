"""Restart PostgreSQL under load: the API recovers on its own (pool pre-ping), fails cleanly meanwhile.

Not part of the suite (restarting the shared server would break every other test running on it):
`make fault-pg` runs it against a private cluster on port 8178 (tests/faults/pg_cluster.sh), with
MOTCUA_FAULT_PG=1, MOTCUA_FAULT_PG_URL and MOTCUA_FAULT_PG_RESTART (the restart command) set.

Checked: no request hangs (each answers within the client timeout); while the database is away
every request that reaches the API answers a 5xx in the error shape `{code, message, detail}`
(`unavailable` / 503 is what we want; see `test_outage_answers_503_unavailable`); /ready answers
503; once the database is back, requests succeed again within seconds without restarting the API;
and no dossier is half-written.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from tests.faults.server import Server, intake_body, token
from tests.faults.test_sigkill import _invariants

URL = os.environ.get("MOTCUA_FAULT_PG_URL", "")
RESTART = os.environ.get("MOTCUA_FAULT_PG_RESTART", "")
if not URL or not RESTART:
    raise RuntimeError("run with `make fault-pg`: MOTCUA_FAULT_PG_URL and MOTCUA_FAULT_PG_RESTART are needed")


@pytest.fixture(scope="module")
def outage():  # noqa: ANN201
    """Run the load, restart PostgreSQL in the middle, and return what every request saw."""
    from datetime import UTC, datetime

    from app.auth.service import create_agency
    from app.catalog.demo import seed_demo
    from app.db import make_engine, make_sessionmaker, transaction
    from app.migrations import upgrade
    from tests.conftest import make_settings

    admin = create_engine("postgresql+psycopg://" + URL.split("://", 1)[1], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "motcua_fault_pg" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "motcua_fault_pg"'))
    admin.dispose()
    url = make_url(URL).set(database="motcua_fault_pg").render_as_string(hide_password=False)
    settings = make_settings(url)
    engine = make_engine(settings)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as s:
        seed_demo(s, settings=settings, now=datetime.now(UTC))
        create_agency(s, code="000.00.18.H27", name="Sở khác", now=datetime.now(UTC))
    engine.dispose()

    server = Server(url, workers=2)
    records: list[tuple[float, float, str, str, object]] = []  # start, duration, kind, status, body
    stop = threading.Event()
    lock = threading.Lock()
    try:
        server.wait_ready()
        desk = token(server.base, "motcua")
        body = intake_body(server.base, desk)

        def run(kind: str) -> None:
            with httpx.Client(base_url=server.base, timeout=20) as client:
                while not stop.is_set():
                    started = time.monotonic()
                    try:
                        if kind == "intake":
                            response = client.post("/api/v1/dossiers", json=body, headers=desk)
                        elif kind == "list":
                            response = client.get("/api/v1/dossiers?limit=5", headers=desk)
                        else:
                            response = client.get("/ready")
                        status = str(response.status_code)
                        try:
                            payload = response.json()
                        except ValueError:
                            payload = response.text[:200]
                    except httpx.HTTPError as exc:
                        status, payload = type(exc).__name__, None
                    with lock:
                        records.append((started, time.monotonic() - started, kind, status, payload))
                    time.sleep(0.05)

        threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in ("intake", "intake", "list", "ready")]
        for t in threads:
            t.start()
        time.sleep(3)
        restart_started = time.monotonic()
        subprocess.run(RESTART, shell=True, check=True, capture_output=True, timeout=120)
        restart_done = time.monotonic()
        time.sleep(12)
        stop.set()
        for t in threads:
            t.join(timeout=30)
    finally:
        server.stop()
    engine = make_engine(settings)
    problems = _invariants(engine)
    engine.dispose()
    _summary(records, restart_started, restart_done, problems)
    return {"records": records, "restart": (restart_started, restart_done), "problems": problems}


def _summary(records, started: float, done: float, problems: list[str]) -> None:  # noqa: ANN001
    """What `make fault-pg` saw, for docs/BENCHMARKS.md (bench/results/fault_pg.json)."""
    import json
    from pathlib import Path

    failures = [r for r in records if r[3] not in ("200", "201")]
    after_ok = [r[0] - done for r in records if r[0] > done and r[3] in ("200", "201")]
    summary = {
        "requests": len(records), "failed": len(failures),
        "failed_by_status": {f"{r[2]} {r[3]} {r[4].get('code') if isinstance(r[4], dict) else ''}".strip():
                             sum(1 for x in failures if x[2:4] == r[2:4]) for r in failures},
        "restart_command_s": round(done - started, 2),
        "first_success_after_restart_s": round(min(after_ok), 2) if after_ok else None,
        "slowest_request_s": round(max(r[1] for r in records), 2), "half_written": problems,
        "load": os.getloadavg()}
    out = Path(__file__).resolve().parents[2] / "bench" / "results" / "fault_pg.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


def test_no_request_hangs(outage) -> None:  # noqa: ANN001
    slowest = max(duration for _, duration, *_ in outage["records"])
    assert slowest < 20, f"a request took {slowest:.1f} s"


def test_outage_fails_cleanly(outage) -> None:  # noqa: ANN001
    """Every failure is an answer of the API: a 5xx with the error shape (or /ready's 503 body)."""
    failures = [r for r in outage["records"] if r[3] not in ("200", "201")]
    assert failures, "the restart was not noticed: no request failed (restart too fast?)"
    unclean = [r for r in failures if not r[3].isdigit() or int(r[3]) < 500
               or (r[2] != "ready" and not (isinstance(r[4], dict) and set(r[4]) == {"code", "message", "detail"}))]
    assert not unclean, [r[2:] for r in unclean[:10]]


def test_recovers_without_restarting_the_api(outage) -> None:  # noqa: ANN001
    _, done = outage["restart"]
    after = sorted((r for r in outage["records"] if r[0] > done), key=lambda r: r[0])
    ok_after = [r for r in after if r[3] in ("200", "201")]
    assert ok_after, "no request succeeded after the restart"
    first_ok = ok_after[0][0] - done
    failed_late = [r for r in after if r[0] > done + 5 and r[3] not in ("200", "201")]
    assert first_ok < 5, f"first success {first_ok:.1f} s after the restart"
    assert not failed_late, [r[2:4] for r in failed_late[:10]]


def test_nothing_half_written(outage) -> None:  # noqa: ANN001
    assert not outage["problems"], "\n".join(outage["problems"])


def test_outage_answers_503_unavailable(outage) -> None:  # noqa: ANN001
    """What the service says while its database is away: 503 `unavailable` (with Retry-After),
    not 500 `internal_error` (app.main maps sqlalchemy's OperationalError to it)."""
    codes = {(r[3], r[4].get("code")) for r in outage["records"]
             if r[2] != "ready" and r[3].isdigit() and int(r[3]) >= 500 and isinstance(r[4], dict)}
    assert codes and all(status == "503" and code == "unavailable" for status, code in codes), sorted(codes)
