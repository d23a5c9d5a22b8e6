"""Issue 12, item 13: reconciliation with the portal, the drift report and the CLI."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from app.db import transaction
from app.models import Dossier, OutboxMessage
from app.portal.reconcile import reconcile_portal
from app.portal.sync import dispatch_portal
from tests.workflows.test_scenarios import receive

def drift(client, headers, **query):  # noqa: ANN001, ANN201
    response = client.get("/api/v1/portal/drift", params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_lost_portal_state_and_a_moved_appointment_are_found_resynced_and_resolved(
        client, login, app, clock, portal, portal_client):  # noqa: ANN001
    factory, settings = app.state.sessionmaker, app.state.settings
    admin = login("admin")
    assert drift(client, admin) == {"last_run": None, "open": 0, "items": []}
    first, second = receive(client, login), receive(client, login)
    assert dispatch_portal(factory, settings, clock.now(), portal_client).sent == 2

    report = reconcile_portal(factory, settings, clock.advance(minutes=5), portal_client)
    assert (report.checked, report.equal, report.drifted) == (2, 2, 0)

    # An appointment changed out of band (a data fix in the database): no portal message carried it.
    # (A calendar change moves appointments through the outbox: tests/workflows/test_clock_rules.py.)
    desk = login("motcua")
    with transaction(factory) as session:
        for code in (first["code"], second["code"]):
            row = session.exec(select(Dossier).where(Dossier.code == code)).one()
            row.due_at += timedelta(days=1)
            session.add(row)
    assert client.get(f"/api/v1/dossiers/{first['code']}", headers=desk).json()["due_at"] != first["due_at"]
    report = reconcile_portal(factory, settings, clock.advance(minutes=5), portal_client)
    assert report.drift == {first["code"]: ["NgayHenTra"], second["code"]: ["NgayHenTra"]}
    body = drift(client, admin)
    assert body["open"] == 2 and body["last_run"]["drifted"] == 2
    assert {i["dossier_code"]: (i["fields"], i["portal_status"], i["our_status"]) for i in body["items"]} == {
        first["code"]: (["NgayHenTra"], 2, 2), second["code"]: (["NgayHenTra"], 2, 2)}
    assert all(i["resynced_at"] and i["resolved_at"] is None for i in body["items"])
    # A second run before the re-syncs went out does not queue them twice: they are in flight.
    again = reconcile_portal(factory, settings, clock.now(), portal_client)
    assert again.in_flight == 2 and again.drifted == 0
    with factory() as session:
        assert len(session.exec(select(OutboxMessage).where(OutboxMessage.kind == "resync")).all()) == 2
    assert dispatch_portal(factory, settings, clock.advance(minutes=1), portal_client).sent == 2
    report = reconcile_portal(factory, settings, clock.advance(minutes=5), portal_client)
    assert (report.checked, report.equal, report.drifted) == (2, 2, 0)
    assert drift(client, admin)["open"] == 0
    resolved = drift(client, admin, state="all")["items"]
    assert len(resolved) == 2 and all(i["resolved_at"] for i in resolved)

    # The portal restarts and loses everything: both are missing, re-synced in full, equal again.
    portal.post("/_control/reset")
    report = reconcile_portal(factory, settings, clock.advance(minutes=5), portal_client)
    assert report.drift == {first["code"]: ["missing"], second["code"]: ["missing"]}
    assert {i["dossier_code"]: (i["fields"], i["portal_status"]) for i in drift(client, admin)["items"]} == {
        first["code"]: (["missing"], None), second["code"]: (["missing"], None)}
    assert dispatch_portal(factory, settings, clock.advance(minutes=1), portal_client).sent == 2
    report = reconcile_portal(factory, settings, clock.advance(minutes=5), portal_client)
    assert (report.checked, report.equal, report.drifted) == (2, 2, 0)
    assert drift(client, admin)["open"] == 0
    from app.portal.mapping import portal_time

    with factory() as session:
        for code in (first["code"], second["code"]):
            dossier = session.exec(select(Dossier).where(Dossier.code == code)).one()
            held = portal_client.lookup(code)
            assert held["NgayHenTra"] == portal_time(dossier.due_at) and held["TrangThaiHoSo"] == 2
            assert [r["MaQuaTrinh"] for r in held["QuaTrinhXuLy"]] == [f"{code}.1"]


def test_a_dead_message_is_reported_blocked_and_a_requeue_clears_it(client, login, app, clock, portal,
                                                                     portal_client):  # noqa: ANN001
    factory, settings = app.state.sessionmaker, app.state.settings
    admin = login("admin")
    dossier = receive(client, login)
    with factory() as session:  # the portal will refuse this payload (no procedure code)
        message = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "portal")).one()
        item = {k: v for k, v in message.payload["data"][0].items() if k != "MaTTHC"}
        message.payload = {**message.payload, "data": [item]}
        session.add(message)
        session.commit()
        message_id = message.id
    assert dispatch_portal(factory, settings, clock.now(), portal_client).dead == 1
    report = reconcile_portal(factory, settings, clock.advance(minutes=5), portal_client)
    assert report.blocked == 1 and report.drift == {dossier["code"]: ["blocked"]}
    [item] = drift(client, admin)["items"]
    assert item["fields"] == ["blocked"] and item["resynced_at"] is None  # the admin decides
    assert client.post(f"/api/v1/outbox/{message_id}/requeue", headers=admin).status_code == 200
    assert dispatch_portal(factory, settings, clock.advance(minutes=1), portal_client).sent == 1
    report = reconcile_portal(factory, settings, clock.advance(minutes=5), portal_client)
    assert report.equal == 1 and report.blocked == 0
    assert drift(client, admin)["open"] == 0


def test_portal_down_stops_the_run_and_says_so(client, login, app, clock, portal, portal_client):  # noqa: ANN001
    factory, settings = app.state.sessionmaker, app.state.settings
    receive(client, login)
    dispatch_portal(factory, settings, clock.now(), portal_client)
    portal.post("/_control/faults", json={"fail_rate": 1.0})
    report = reconcile_portal(factory, settings, clock.now(), portal_client)
    assert report.unavailable and report.checked == 0 and report.drifted == 0
    assert drift(client, login("admin"))["last_run"]["unavailable"] is True


def test_drift_report_is_admin_only_scoped_and_errors_have_the_shape(client, login, app, clock, portal,
                                                                      portal_client):  # noqa: ANN001
    factory, settings = app.state.sessionmaker, app.state.settings
    receive(client, login)
    reconcile_portal(factory, settings, clock.now(), portal_client)  # pending: in flight, nothing recorded
    dispatch_portal(factory, settings, clock.now(), portal_client)
    portal.post("/_control/reset")
    assert reconcile_portal(factory, settings, clock.advance(minutes=1), portal_client).drifted == 1
    assert drift(client, login("admin"))["open"] == 1
    assert drift(client, login("other_admin")) == {"last_run": drift(client, login("admin"))["last_run"],
                                                   "open": 0, "items": []}
    for headers, status in ((login("motcua"), 403), ({}, 401)):
        response = client.get("/api/v1/portal/drift", headers=headers)
        assert response.status_code == status and set(response.json()) >= {"code", "message", "detail"}
    bad = client.get("/api/v1/portal/drift?state=bogus", headers=login("admin"))
    assert bad.status_code == 422 and set(bad.json()) >= {"code", "message", "detail"}


def test_cli_portal_reconcile(client, login, app, clock, monkeypatch, portal_client):  # noqa: ANN001
    """The CLI runs the same reconciliation and prints its report; the portal unreachable, it says so
    and exits 1."""
    from typer.testing import CliRunner

    from app.cli import app as cli
    from app.settings import get_settings

    factory, settings = app.state.sessionmaker, app.state.settings
    receive(client, login)
    assert dispatch_portal(factory, settings, clock.now(), portal_client).sent == 1
    for key, value in {"DATABASE_URL": settings.database_url, "ENV": "test",
                       "JWT_SECRET": settings.jwt_secret.get_secret_value(),
                       "PORTAL_URL": "http://127.0.0.1:9",  # discard: nothing listens there
                       "PORTAL_TIMEOUT_SECONDS": "2", "PORTAL_RECONCILE_WINDOW_HOURS": "1"}.items():
        monkeypatch.setenv(f"MOTCUA_{key}", value)
    monkeypatch.setattr("app.clock.SystemClock.now", lambda self: clock.now())  # the suite's frozen time
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["portal-reconcile", "--hours", "48"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert '"unavailable": true' in result.output and "Cổng DVCQG không trả lời" in result.output
