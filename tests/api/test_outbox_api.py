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
    assert response.json()["status"] == "pending" and response.json()["attempts"] == 0
    with app.state.sessionmaker() as session:
        row = session.get(OutboxMessage, dead["id"])
        assert row.status == "pending" and row.next_attempt_at == clock.now()
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
    assert client.get("/api/v1/outbox", headers=other).json() == {"items": [], "next_cursor": None}
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
