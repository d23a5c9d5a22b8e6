"""GET /api/v1/alerts and POST /api/v1/alerts/{id}/ack, on both databases."""

from __future__ import annotations

from tests.sla.test_scan import at, forwarded, scan


def raise_some(client, login, app, clock) -> str:  # noqa: ANN001
    """Step due soon (specialist) at 11:00, step overdue ×2 at 14:31, due soon ×3 at 16:30 (a quarter
    of the 8-hour limit before the appointment: never at receipt)."""
    code = forwarded(client, login)["code"]
    scan(app, clock)
    for moment in (at(23, 11, 0), at(23, 14, 31), at(23, 16, 30)):
        clock.set(moment)
        scan(app, clock)
    return code


def test_mine_by_default_and_agency_for_leaders(client, login, app, clock):
    code = raise_some(client, login, app, clock)
    specialist = client.get("/api/v1/alerts", headers=login("chuyenvien")).json()
    assert [a["kind"] for a in specialist["items"]] == ["due_soon", "step_overdue", "step_due_soon"]
    assert {a["recipient"] for a in specialist["items"]} == {"chuyenvien"}
    first = specialist["items"][1]
    assert first["dossier_code"] == code and first["kind_label"] == "Bước xử lý quá hạn"
    assert "đã quá hạn" in first["message"] and first["acked_at"] is None
    director = client.get("/api/v1/alerts", headers=login("giamdoc")).json()["items"]
    assert [a["kind"] for a in director] == ["due_soon"]
    agency = client.get("/api/v1/alerts?scope=agency", headers=login("giamdoc")).json()["items"]
    assert len(agency) == 6 and {a["recipient"] for a in agency} == {"chuyenvien", "truongphong", "giamdoc"}
    r = client.get("/api/v1/alerts?scope=agency", headers=login("chuyenvien"))
    assert r.status_code == 403
    assert client.get("/api/v1/alerts?scope=agency", headers=login("other_leader")).json()["items"] == []
    assert client.get("/api/v1/alerts", headers=login("other_specialist")).json()["items"] == []
    assert client.get("/api/v1/alerts?scope=everything", headers=login("giamdoc")).status_code == 422


def test_filters_and_pagination(client, login, app, clock):
    code = raise_some(client, login, app, clock)
    leader = login("giamdoc")
    overdue = client.get("/api/v1/alerts?scope=agency&kind=step_overdue", headers=leader).json()["items"]
    assert {a["recipient"] for a in overdue} == {"chuyenvien", "truongphong"}
    assert client.get("/api/v1/alerts?scope=agency&dossier=nope", headers=leader).json()["items"] == []
    assert len(client.get(f"/api/v1/alerts?scope=agency&dossier={code}", headers=leader).json()["items"]) == 6
    assert client.get("/api/v1/alerts?kind=unknown", headers=leader).status_code == 422
    assert client.get("/api/v1/alerts?limit=500", headers=leader).status_code == 422
    seen, cursor = [], None
    while True:
        url = "/api/v1/alerts?scope=agency&limit=4" + (f"&before={cursor}" if cursor else "")
        page = client.get(url, headers=leader).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 6 and seen == sorted(seen, reverse=True)


def test_ack_by_the_recipient_only(client, login, app, clock):
    raise_some(client, login, app, clock)
    specialist = login("chuyenvien")
    mine = client.get("/api/v1/alerts", headers=specialist).json()["items"]
    theirs = client.get("/api/v1/alerts", headers=login("truongphong")).json()["items"][0]
    clock.set(at(23, 15, 0))
    r = client.post(f"/api/v1/alerts/{mine[0]['id']}/ack", headers=specialist)
    assert r.status_code == 200 and r.json()["acked_at"] is not None
    clock.advance(minutes=5)
    again = client.post(f"/api/v1/alerts/{mine[0]['id']}/ack", headers=specialist)
    assert again.status_code == 200 and again.json()["acked_at"] == r.json()["acked_at"]  # first time kept
    for headers in (specialist, login("giamdoc"), login("other_leader")):
        r = client.post(f"/api/v1/alerts/{theirs['id']}/ack", headers=headers)
        assert r.status_code == 404 and r.json()["code"] == "alert_not_found"
    assert client.post("/api/v1/alerts/999999/ack", headers=specialist).status_code == 404
    assert client.post("/api/v1/alerts/99999999999/ack", headers=specialist).status_code == 422
    unread = client.get("/api/v1/alerts?acked=false", headers=specialist).json()["items"]
    read = client.get("/api/v1/alerts?acked=true", headers=specialist).json()["items"]
    assert [a["id"] for a in read] == [mine[0]["id"]] and len(unread) == len(mine) - 1
    assert client.get("/api/v1/alerts").status_code == 401
