"""Outbox administration: list pending and dead messages of the agency, requeue a dead one."""

from __future__ import annotations

from sqlmodel import select

from app.models import OutboxMessage
from app.outbox import PermanentError, dispatch_pending
from tests.workflows.test_scenarios import receive


def test_admin_lists_and_requeues(client, login, app, clock):  # noqa: ANN001
    admin = login("admin")
    dossier = receive(client, login)
    page = client.get("/api/v1/outbox", headers=admin).json()
    assert {(m["topic"], m["kind"], m["status"]) for m in page["items"]} == {
        ("portal", "sync_new", "pending"), ("notify", "received", "pending")}
    assert all(m["dossier_code"] == dossier["code"] for m in page["items"])
    assert all("payload" not in m for m in page["items"])  # personal data stays in the database
    portal = client.get("/api/v1/outbox?topic=portal&status=pending", headers=admin).json()["items"]
    assert [m["kind"] for m in portal] == ["sync_new"]
    assert client.get("/api/v1/outbox?status=dead", headers=admin).json()["items"] == []
    assert client.get("/api/v1/outbox?status=sent", headers=admin).status_code == 422

    def refuse(session, message):  # noqa: ANN001
        raise PermanentError("HTTP 400 error_code 2: Thiếu trường bắt buộc MaTTHC (data[0].MaTTHC)")

    stats = dispatch_pending(app.state.sessionmaker, topic="portal", handler=refuse, now=clock.now())
    assert stats.dead == 1
    [dead] = client.get("/api/v1/outbox?status=dead", headers=admin).json()["items"]
    assert dead["attempts"] == 1 and "MaTTHC" in dead["last_error"]

    clock.advance(minutes=5)
    response = client.post(f"/api/v1/outbox/{dead['id']}/requeue", headers=admin)
    assert response.status_code == 200, response.text
    # A portal message is replaced by a full re-sync of the dossier as it is now.
    resync = response.json()
    assert resync["status"] == "pending" and resync["attempts"] == 0 and resync["kind"] == "resync"
    assert resync["dossier_code"] == dossier["code"] and resync["id"] > dead["id"]
    with app.state.sessionmaker() as session:
        assert session.get(OutboxMessage, dead["id"]).status == "superseded"
        row = session.get(OutboxMessage, resync["id"])
        assert row.status == "pending" and row.next_attempt_at == clock.now()
        assert row.payload["data"][0]["MaHoSo"] == dossier["code"]
    again = client.post(f"/api/v1/outbox/{dead['id']}/requeue", headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "outbox_not_dead"
    assert client.post("/api/v1/outbox/999999/requeue", headers=admin).status_code == 404
    assert client.post(f"/api/v1/outbox/{2**63}/requeue", headers=admin).status_code == 422


def test_scoped_to_the_agency_and_admin_only(client, login, app):  # noqa: ANN001
    receive(client, login)
    with app.state.sessionmaker() as session:
        message = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "portal")).one()
        message.status = "dead"
        session.add(message)
        session.commit()
        message_id = message.id
    other = login("other_admin")
    assert client.get("/api/v1/outbox", headers=other).json() == {"items": [], "next_cursor": None, "backlog": []}
    response = client.post(f"/api/v1/outbox/{message_id}/requeue", headers=other)
    assert response.status_code == 404 and response.json()["code"] == "outbox_not_found"
    desk = login("motcua")
    assert client.get("/api/v1/outbox", headers=desk).status_code == 403
    assert client.post(f"/api/v1/outbox/{message_id}/requeue", headers=desk).status_code == 403
    assert client.get("/api/v1/outbox").status_code == 401


def test_paging(client, login):  # noqa: ANN001
    admin = login("admin")
    for _ in range(2):
        receive(client, login)
    first = client.get("/api/v1/outbox?limit=3", headers=admin).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    rest = client.get(f"/api/v1/outbox?limit=3&before={first['next_cursor']}", headers=admin).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    ids = [m["id"] for m in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)


def test_backlog_by_age_and_topic(client, login, app, clock):  # noqa: ANN001
    from datetime import timedelta

    admin = login("admin")
    receive(client, login)  # portal sync_new + notify, written now
    clock.advance(minutes=30)
    receive(client, login)
    clock.advance(hours=2)
    dossier = receive(client, login)
    with app.state.sessionmaker() as session:  # one dead portal message
        message = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "portal")
                               .order_by(OutboxMessage.id.desc())).first()
        message.status = "dead"
        session.add(message)
        session.commit()
    clock.advance(days=1, minutes=1)
    page = client.get("/api/v1/outbox?limit=1", headers=admin).json()
    assert len(page["items"]) == 1  # the backlog counts everything, whatever the page
    backlog = {b["topic"]: b for b in page["backlog"]}
    assert set(backlog) == {"notify", "portal"}
    portal = backlog["portal"]
    assert portal["pending"] == 2 and portal["dead"] == 1
    # pending ones by age: 1 day 2 h 31 min and 1 day 2 h 1 min old
    assert portal["by_age"] == {"under_5m": 0, "5m_1h": 0, "1h_6h": 0, "6h_24h": 0, "over_24h": 2}
    assert portal["oldest_pending_age_seconds"] == int(timedelta(days=1, hours=2, minutes=31).total_seconds())
    assert backlog["notify"]["pending"] == 3 and backlog["notify"]["dead"] == 0
    assert dossier["code"]
    clock.set(clock.now() - timedelta(days=1))  # 2 h 31 min and 2 h 1 min old
    page = client.get("/api/v1/outbox", headers=admin).json()
    portal = {b["topic"]: b for b in page["backlog"]}["portal"]
    assert portal["by_age"] == {"under_5m": 0, "5m_1h": 0, "1h_6h": 2, "6h_24h": 0, "over_24h": 0}
