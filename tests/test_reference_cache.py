"""Reference data from memory (issue 18 item 1, app/reference.py): two workers (two apps, each with
its own engine and so its own cache and, on PostgreSQL, its own LISTEN connection). A calendar
override added through one changes the deadline the other computes next, with no time-to-live."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import event

from app.db import make_engine
from app.main import create_app
from tests.workflows.test_scenarios import intake_body, required_documents

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def test_an_override_through_one_worker_moves_the_deadline_the_other_computes(client, login, settings, clock,
                                                                              db_kind) -> None:  # noqa: ANN001
    other_engine = make_engine(settings)
    statements: list[str] = []
    event.listen(other_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: statements.append(" ".join(statement.split())[:80]))
    try:
        with TestClient(create_app(settings, clock=clock, engine=other_engine)) as other:
            desk = login("motcua")  # tokens are signed with the shared secret: valid on both workers
            body = intake_body(documents=required_documents(client, desk))
            first = other.post("/api/v1/dossiers", json=body, headers=desk)
            assert first.status_code == 201, first.text
            statements.clear()
            second = other.post("/api/v1/dossiers", json=body, headers=desk)
            assert second.status_code == 201, second.text
            assert second.json()["due_at"] == first.json()["due_at"]
            # The second intake read no reference row: the user, procedure, agency, calendar came from memory.
            read = [s for s in statements if s.startswith("SELECT")]
            assert not [s for s in read if any(t in s for t in ("FROM users", "FROM procedures", "FROM agencies",
                                                                "FROM calendar_overrides"))], read

            due_day = datetime.fromisoformat(first.json()["due_at"]).astimezone(VN).date()
            added = client.post("/api/v1/calendar/overrides", headers=login("admin"),
                                json={"day": due_day.isoformat(), "is_working": False, "reason": "Nghỉ đột xuất"})
            assert added.status_code == 201, added.text

            days = f"/api/v1/calendar/days?start={due_day}&end={due_day}"
            tries = 0
            while other.get(days, headers=desk).json()[0]["is_working"]:
                # SQLite: the version row is read per request, so the first read is already right.
                # PostgreSQL: the NOTIFY is delivered at A's commit; a few ms of flight at most.
                assert db_kind == "postgresql" and tries < 50, "the other worker still uses the old calendar"
                tries += 1
                time.sleep(0.1)
            third = other.post("/api/v1/dossiers", json=body, headers=desk)
            assert third.status_code == 201, third.text
            here = client.post("/api/v1/dossiers", json=body, headers=desk)
            assert third.json()["due_at"] == here.json()["due_at"]
            assert datetime.fromisoformat(third.json()["due_at"]) > datetime.fromisoformat(first.json()["due_at"])
    finally:
        other_engine.dispose()


def test_a_password_change_ends_tokens_on_every_worker(client, login, settings, clock, db_kind) -> None:  # noqa: ANN001
    other_engine = make_engine(settings)
    try:
        with TestClient(create_app(settings, clock=clock, engine=other_engine)) as other:
            headers = login("chuyenvien")
            assert other.get("/api/v1/auth/me", headers=headers).status_code == 200  # cached there now
            changed = client.post("/api/v1/auth/password", headers=headers,
                                  json={"current_password": "demo1234", "new_password": "mat-khau-moi-2026"})
            assert changed.status_code in (200, 204), changed.text
            for _ in range(50):
                if other.get("/api/v1/auth/me", headers=headers).status_code == 401:
                    break
                assert db_kind == "postgresql", "SQLite: the version row is read per request"
                time.sleep(0.1)
            else:
                raise AssertionError("the old token still works on the other worker")
    finally:
        other_engine.dispose()
