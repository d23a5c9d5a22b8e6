"""SIGKILL the API (every uvicorn process at once) in the middle of an intake load.

Afterwards, on both databases: every acknowledged dossier exists; every dossier has its events
(version = number of events, seq 1..version), its portal and notification outbox rows; the daily
sequence equals the highest code number and the numbers have no gaps; nothing half-written (no
event, step, outbox row or shipment without its dossier, which the foreign keys also forbid).
Then the API restarts on the same database and the next code follows on without a gap.
"""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import text

from tests.faults.server import Load, Server, intake_body, token


def _invariants(engine) -> list[str]:  # noqa: ANN001
    problems = []
    with engine.connect() as conn:
        def scalar(sql: str) -> int:
            return int(conn.execute(text(sql)).scalar_one() or 0)

        checks = {
            "dossiers whose version differs from their number of events": """
                SELECT count(*) FROM dossiers d WHERE d.version <> (SELECT count(*) FROM dossier_events e
                                                                  WHERE e.dossier_id = d.id)""",
            "dossiers whose events are not numbered 1..version": """
                SELECT count(*) FROM dossiers d WHERE (SELECT max(seq) FROM dossier_events e
                                                       WHERE e.dossier_id = d.id) <> d.version""",
            "received dossiers without a 'receive' event": """
                SELECT count(*) FROM dossiers d WHERE NOT EXISTS (SELECT 1 FROM dossier_events e
                       WHERE e.dossier_id = d.id AND e.seq = 1 AND e.action = 'receive')""",
            "dossiers without their portal outbox row": """
                SELECT count(*) FROM dossiers d WHERE NOT EXISTS (SELECT 1 FROM outbox o
                       WHERE o.dossier_id = d.id AND o.topic = 'portal' AND o.kind = 'sync_new')""",
            "dossiers (with a phone) without their notification outbox row": """
                SELECT count(*) FROM dossiers d WHERE d.applicant_phone IS NOT NULL AND NOT EXISTS
                       (SELECT 1 FROM outbox o WHERE o.dossier_id = d.id AND o.topic = 'notify')""",
            "received dossiers without a deadline": """
                SELECT count(*) FROM dossiers WHERE status = 'received' AND (due_at IS NULL OR clock_state <> 'running')""",
            "events without a dossier": """
                SELECT count(*) FROM dossier_events e WHERE NOT EXISTS (SELECT 1 FROM dossiers d WHERE d.id = e.dossier_id)""",
            "outbox rows without a dossier": """
                SELECT count(*) FROM outbox o WHERE o.dossier_id IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM dossiers d WHERE d.id = o.dossier_id)""",
        }
        for what, sql in checks.items():
            n = scalar(sql)
            if n:
                problems.append(f"{n} {what}")
        codes = [r[0] for r in conn.execute(text("SELECT code FROM dossiers")).all()]
        sequences = {(a, str(d)): v for a, d, v in conn.execute(text(
            "SELECT a.code, s.day, s.last_value FROM dossier_sequences s JOIN agencies a ON a.id = s.agency_id")).all()}
    numbers: dict[tuple[str, str], list[int]] = {}
    for code in codes:
        agency, day, number = re.fullmatch(r"(.+)-(\d{6})-(\d+)", code).groups()  # type: ignore[union-attr]
        numbers.setdefault((agency, day), []).append(int(number))
    for (agency, day), values in numbers.items():
        if sorted(values) != list(range(1, len(values) + 1)):
            problems.append(f"codes of {agency} on {day} have gaps or duplicates: {sorted(values)[:20]}...")
        last = next((v for (a, d), v in sequences.items() if a == agency and d.replace("-", "")[2:] == day), None)
        if last != len(values):
            problems.append(f"sequence of {agency} on {day} is {last}, {len(values)} dossiers")
    return problems


@pytest.mark.xdist_group("faults")  # one at a time: each runs a two-worker uvicorn under load
def test_sigkill_during_intake_load(database_url: str, engine, demo) -> None:  # noqa: ANN001
    server = Server(database_url, workers=2)
    try:
        server.wait_ready()
        desk = token(server.base, "motcua")
        load = Load(server.base, desk, intake_body(server.base, desk)).start()
        deadline = time.monotonic() + 20
        while len(load.acknowledged) < 25 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.13)  # land somewhere in the middle of requests in flight
        server.kill()  # SIGKILL to every uvicorn process
        killed_at = len(load.acknowledged)
        load.stop()  # before anything else may listen on that port
    finally:
        server.kill()
    assert killed_at >= 5, f"the load did not get going: {load.outcomes}"
    assert load.slowest < 15, "a request hung"

    problems = _invariants(engine)
    with engine.connect() as conn:
        stored = {r[0] for r in conn.execute(text("SELECT code FROM dossiers")).all()}
    lost = set(load.acknowledged) - stored
    assert not lost, f"acknowledged dossiers lost after SIGKILL: {sorted(lost)}"
    assert not problems, "\n".join(problems)

    # The API comes back on the same database; numbering continues without a gap.
    server = Server(database_url, workers=1)
    try:
        server.wait_ready()
        desk = token(server.base, "motcua")
        import httpx

        response = httpx.post(server.base + "/api/v1/dossiers", json=intake_body(server.base, desk), headers=desk,
                              timeout=30)
        assert response.status_code == 201, response.text
        assert int(response.json()["code"].rsplit("-", 1)[1]) == len(stored) + 1, (response.json()["code"], len(stored))
    finally:
        server.stop()
    assert not _invariants(engine)
