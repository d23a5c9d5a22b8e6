"""Apology notices (form 4): drafted by the scan, edited, issued by a leader once, on both databases."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from app.models import Apology, Dossier, OutboxMessage
from tests.conftest import VN
from tests.sla.test_scan import SHORT, at, forwarded, local, scan
from tests.workflows.test_scenarios import act, ready


def drafted(client, login, app, clock) -> tuple[dict, dict]:  # noqa: ANN001
    """A 1.005092 dossier with the specialist, drafted by the scan once its first step overran
    (Monday 14:31: the work left, 4 h, exceeds the time left)."""
    dossier = forwarded(client, login)
    clock.set(at(23, 14, 31))
    assert scan(app, clock).drafts == 1
    drafts = client.get("/api/v1/apologies?status=draft", headers=login("chuyenvien")).json()["items"]
    assert len(drafts) == 1
    return dossier, drafts[0]


def test_scan_drafts_an_apology_once(client, login, app, clock):
    dossier, draft = drafted(client, login, app, clock)
    assert draft["dossier_code"] == dossier["code"] and draft["status"] == "draft"
    assert local(datetime.fromisoformat(draft["original_due_at"])) == "25/11 09:00"
    # Now + what is left (steps 1 and 2: 2 h each) is Wednesday 09:01; at least one working day
    # after the original appointment is Thursday 09:00; the end of that day.
    assert local(datetime.fromisoformat(draft["proposed_due_at"])) == "26/11 17:00"
    assert draft["reason"] is None and draft["signer_name"] is None
    clock.set(at(25, 10, 0))
    assert scan(app, clock).drafts == 0  # overdue now, still one draft
    listed = client.get(f"/api/v1/dossiers/{dossier['code']}/apologies", headers=login("giamdoc")).json()
    assert [a["id"] for a in listed] == [draft["id"]]
    # Another agency sees nothing of it.
    other = login("other_leader")
    assert client.get("/api/v1/apologies", headers=other).json()["items"] == []
    assert client.get(f"/api/v1/dossiers/{dossier['code']}/apologies", headers=other).status_code == 404
    assert client.patch(f"/api/v1/apologies/{draft['id']}", json={"reason": "x"}, headers=other).status_code == 404
    assert client.post(f"/api/v1/apologies/{draft['id']}/issue", headers=other).status_code == 404


def test_edit_validates_the_new_appointment(client, login, app, clock):
    _, draft = drafted(client, login, app, clock)
    url = f"/api/v1/apologies/{draft['id']}"
    specialist = login("chuyenvien")
    assert client.patch(url, json={"reason": "x"}, headers=login("motcua")).status_code == 403
    for when, code in [("2026-11-28T09:00:00+07:00", "appointment_not_working_time"),  # Saturday
                       ("2026-11-26T12:00:00+07:00", "appointment_not_working_time"),  # lunch break
                       ("2026-11-24T09:00:00+07:00", "appointment_not_working_time"),  # Vietnam Culture Day
                       ("2026-11-25T08:00:00+07:00", "appointment_not_after_due"),
                       ("2026-11-20T09:00:00+07:00", "appointment_in_past"),
                       ("2099-12-31T09:00:00+07:00", "appointment_too_far"),
                       ("9999-12-31T09:00:00+07:00", "validation_error"),  # years 1900-2100 (app/fields.py)
                       ("0001-01-01T09:00:00", "validation_error")]:
        r = client.patch(url, json={"proposed_due_at": when}, headers=specialist)
        assert r.status_code == 422 and r.json()["code"] == code, (when, r.text)
    assert client.patch(url, json={}, headers=specialist).status_code == 422
    assert client.patch(url, json={"reason": "  "}, headers=specialist).status_code == 422
    assert client.patch(url, json={"reason": None}, headers=specialist).status_code == 422
    r = client.patch(url, json={"reason": "Cần xác minh văn bằng với trường cấp",
                                "proposed_due_at": "2026-11-27T16:00:00"}, headers=specialist)  # local time
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["reason"] == "Cần xác minh văn bằng với trường cấp"
    assert local(datetime.fromisoformat(body["proposed_due_at"])) == "27/11 16:00"
    r = client.patch(url, json={"proposed_due_at": "2026-11-26T17:00:00+07:00"}, headers=login("truongphong"))
    assert r.status_code == 200 and r.json()["reason"] == body["reason"]  # untouched fields stay


def test_leader_issues_once_and_the_dossier_stays_late(client, login, app, clock):
    dossier, draft = drafted(client, login, app, clock)
    url = f"/api/v1/apologies/{draft['id']}"
    director, specialist = login("giamdoc"), login("chuyenvien")
    assert client.post(f"{url}/issue", headers=specialist).status_code == 403
    r = client.post(f"{url}/issue", headers=director)
    assert r.status_code == 422 and r.json()["code"] == "reason_required"
    client.patch(url, json={"reason": "Cần xác minh văn bằng với trường cấp"}, headers=specialist)

    clock.set(at(23, 16, 0))
    headers = {**director, "Idempotency-Key": "issue-apology-1"}
    r = client.post(f"{url}/issue", headers=headers)
    assert r.status_code == 200, r.text
    issued = r.json()
    assert issued["status"] == "issued" and issued["status_label"] == "Đã ban hành"
    assert (issued["signer_name"], issued["signer_title"]) == ("Phạm Quốc Hùng", "KT. GIÁM ĐỐC\nPHÓ GIÁM ĐỐC")
    assert issued["document_number"] == "01/PXL-SGDĐT"
    assert issued["is_late"]  # later than one working day before the appointment (Monday 09:00)
    assert local(datetime.fromisoformat(issued["new_due_at"])) == "26/11 17:00"
    assert datetime.fromisoformat(issued["issued_at"]) == clock.now()
    replay = client.post(f"{url}/issue", headers=headers)  # same key: the same answer, once
    assert replay.status_code == 200 and replay.json() == issued
    again = client.post(f"{url}/issue", headers=director)
    assert again.status_code == 409 and again.json()["code"] == "apology_not_draft"
    r = client.patch(url, json={"reason": "khác"}, headers=specialist)
    assert r.status_code == 409 and r.json()["code"] == "apology_not_draft"
    r = client.post(f"/api/v1/dossiers/{dossier['code']}/apologies", headers=specialist)  # one new appointment
    assert r.status_code == 409 and r.json()["code"] == "apology_limit_reached"

    after = client.get(f"/api/v1/dossiers/{dossier['code']}", headers=director).json()
    assert after["apology_count"] == 1 and after["version"] == dossier["version"] + 1
    assert after["due_at"] == dossier["due_at"]  # the legal appointment is untouched
    assert after["new_due_at"] == issued["new_due_at"]
    events = client.get(f"/api/v1/dossiers/{dossier['code']}/events", headers=director).json()
    assert events[-1]["action"] == "apology_issued" and events[-1]["seq"] == after["version"]
    assert "Cần xác minh" in events[-1]["note"]
    with app.state.sessionmaker() as s:
        row = s.exec(select(Dossier).where(Dossier.code == dossier["code"])).one()
        outbox = s.exec(select(OutboxMessage).where(OutboxMessage.dossier_id == row.id)
                        .order_by(OutboxMessage.id)).all()
    portal, notice = [m for m in outbox if m.topic == "portal"][-1], [m for m in outbox if m.topic == "notify"][-1]
    item = portal.payload["data"][0]
    assert portal.kind == "sync_update" and item["NgayHenTraMoi"] == "20261126170000"
    assert item["NgayHenTra"] == "20261125090000"  # the legal appointment stays
    assert notice.kind == "apology_issued" and notice.payload["to_email"] == "an@example.vn"
    assert "xin lỗi" in notice.payload["text"] and "17 giờ 00 ngày 26/11/2026" in notice.payload["text"]
    assert "Cần xác minh văn bằng" in notice.payload["text"]

    # Resolved after the original appointment but before the new one: still late.
    clock.set(at(26, 10, 0))
    current = act(client, specialist, after, "forward", assignee="giamdoc")
    resolved = ready(client, director, login("motcua"), current, result_reference="9/QĐ")
    assert resolved["outcome"] == "late" and resolved["outcome_label"] == "Quá hạn"
    r = client.post(f"/api/v1/dossiers/{dossier['code']}/apologies", headers=specialist)
    assert r.status_code == 409


def test_issued_apology_stops_the_daily_reminder_and_watches_the_new_date(client, login, app, clock):
    dossier, draft = drafted(client, login, app, clock)
    client.post(f"/api/v1/apologies/{draft['id']}/issue", json={"reason": "Chờ ý kiến của Bộ",
                                                                "new_due_at": "2026-11-30T11:30:00+07:00"},
                headers=login("giamdoc"))
    clock.set(at(27, 13, 0))  # within a working day of the new appointment
    scan(app, clock)
    clock.set(at(30, 11, 31))
    scan(app, clock)
    from tests.sla.test_scan import alerts

    kinds = {(k, d) for code, k, d, _ in alerts(app)}
    assert ("apology_missing", "25/11 07:30") not in kinds and not any(k == "apology_missing" for k, _ in kinds)
    assert ("overdue", "25/11 09:00") in kinds  # late against the original appointment
    assert ("overdue", "30/11 11:30") in kinds  # and now against the new one
    # Issue 11.10: the new appointment is watched like the first: due soon, then overdue, to the
    # holder and the leaders of the step's division and of the Department.
    for kind in ("due_soon", "overdue"):
        told = {u for _, k, d, u in alerts(app) if (k, d) == (kind, "30/11 11:30")}
        assert told == {"chuyenvien", "truongphong", "giamdoc"}, (kind, told)
    with app.state.sessionmaker() as s:
        apology = s.exec(select(Apology)).one()
    assert apology.reason == "Chờ ý kiến của Bộ" and apology.original_due_at.astimezone(VN).day == 25


def test_officer_drafts_ahead_and_a_second_draft_is_refused(client, login, app, clock, settings):
    dossier = forwarded(client, login, "2.001914")  # 5 working days: not due soon for a while
    url = f"/api/v1/dossiers/{dossier['code']}/apologies"
    assert client.post(url, headers=login("motcua")).status_code == 403
    r = client.post(url, headers=login("chuyenvien"))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft" and r.json()["original_due_at"] == dossier["due_at"]
    r = client.post(url, headers=login("chuyenvien"))
    assert r.status_code == 409 and r.json()["code"] == "apology_draft_exists"
    clock.set(at(30, 10, 0))
    assert scan(app, clock).drafts == 0  # due soon now, but it has its draft


def test_apology_policy_allows_more_new_appointments_when_configured(client, login, app, clock):
    app.state.settings = app.state.settings.model_copy(update={"max_apologies": 2})
    dossier, draft = drafted(client, login, app, clock)
    director = login("giamdoc")
    r = client.post(f"/api/v1/apologies/{draft['id']}/issue", json={"reason": "Lý do một"}, headers=director)
    assert r.status_code == 200
    r = client.post(f"/api/v1/dossiers/{dossier['code']}/apologies", headers=director)
    assert r.status_code == 201
    second = r.json()
    assert second["original_due_at"] == dossier["due_at"]
    r = client.post(f"/api/v1/apologies/{second['id']}/issue",
                    json={"reason": "Lý do hai", "new_due_at": "2026-12-01T17:00:00+07:00"}, headers=director)
    assert r.status_code == 200, r.text
    issued = client.get("/api/v1/apologies?status=issued", headers=director).json()["items"]
    assert len(issued) == 2
    assert client.get(f"/api/v1/dossiers/{dossier['code']}", headers=director).json()["apology_count"] == 2


def test_a_draft_is_cancelled_when_the_dossier_leaves_processing(client, login, app, clock):
    dossier, draft = drafted(client, login, app, clock)
    director = login("giamdoc")
    withdrawn = act(client, login("motcua"), dossier, "withdraw", reason="Người nộp xin rút hồ sơ")
    assert withdrawn["status"] == "withdrawn"
    assert client.get("/api/v1/apologies?status=draft", headers=director).json()["items"] == []
    listed = client.get(f"/api/v1/dossiers/{dossier['code']}/apologies", headers=director).json()
    assert [(a["id"], a["status"]) for a in listed] == [(draft["id"], "cancelled")]
    refused = client.post(f"/api/v1/apologies/{draft['id']}/issue", json={"reason": "Chậm xác minh"}, headers=director)
    assert refused.status_code == 409 and refused.json()["code"] == "apology_not_draft"
