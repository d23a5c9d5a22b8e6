"""Full scenarios through the API, desk to returned result, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.conftest import VN

PROCEDURE = "2.001914"  # Chỉnh sửa nội dung văn bằng, chứng chỉ: 5 working days


def intake_body(procedure_code: str = PROCEDURE, **overrides):
    body = {
        "procedure_code": procedure_code,
        "channel": "direct",
        "applicant": {"full_name": "Nguyễn Văn An", "id_number": "001099012345", "phone": "0912345678",
                      "email": "an@example.vn", "address": "Số 5 Lê Lợi, phường Mẫu"},
        "documents": [],
        "return_method": "desk",
    }
    body.update(overrides)
    return body


def required_documents(client, headers, code=PROCEDURE):
    procedure = client.get(f"/api/v1/procedures/{code}", headers=headers).json()
    return [{"name": d["name"], "kind": d["kind"], "count": d["count"]} for d in procedure["required_documents"]]


def receive(client, login, code=PROCEDURE, **overrides):
    desk = login("motcua")
    body = intake_body(code, documents=required_documents(client, desk, code), **overrides)
    response = client.post("/api/v1/dossiers", json=body, headers=desk)
    assert response.status_code == 201, response.text
    return response.json()


def act(client, headers, dossier, action, **body):
    response = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/{action}",
                           json={"version": dossier["version"], **body}, headers=headers)
    assert response.status_code == 200, (action, response.text)
    return response.json()


def ready(client, signer, desk, dossier, **body):
    """The leader signs the result and sends it to the desk; the desk holds it: result ready."""
    signed = act(client, signer, dossier, "forward", **body)
    return act(client, desk, signed, "resolve")


def test_direct_dossier_from_desk_to_returned_result(client, login, clock):
    dossier = receive(client, login)
    assert dossier["status"] == "received"
    assert dossier["code"].startswith("000.00.17.H26-261123-")
    assert len(dossier["lookup_secret"]) == 11  # XXXXX-XXXXX: 10 symbols, 49.5 bits
    # Received Monday 23/11/2026 09:00; Tuesday 24/11 is Vietnam Culture Day: 5 working days → Tue 1/12 09:00.
    assert datetime.fromisoformat(dossier["due_at"]).astimezone(VN) == datetime(2026, 12, 1, 9, 0, tzinfo=VN)
    assert "forward" in dossier["allowed_actions"]

    desk, specialist, head, director = (login(u) for u in ("motcua", "chuyenvien", "truongphong", "giamdoc"))
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    assert dossier["status"] == "processing" and dossier["current_step"]["index"] == 0
    assert dossier["assignee"] == "chuyenvien"
    clock.advance(hours=3)
    dossier = act(client, specialist, dossier, "forward")
    clock.advance(hours=2)
    dossier = act(client, head, dossier, "forward")
    assert dossier["current_step"]["role"] == "leader"
    # The specialist is no longer on the dossier.
    assert client.get(f"/api/v1/dossiers/{dossier['code']}", headers=specialist).json()["allowed_actions"] == []
    clock.advance(hours=1)
    dossier = ready(client, director, login("motcua"), dossier, result_reference="123/QĐ-SGDĐT")
    assert dossier["status"] == "resolved"
    assert dossier["outcome"] == "early"
    dossier = act(client, desk, dossier, "return_result", method="desk", receiver_name="Nguyễn Văn An")
    assert dossier["status"] == "returned" and dossier["portal_status"] == 10

    events = client.get(f"/api/v1/dossiers/{dossier['code']}/events", headers=desk).json()
    assert [e["action"] for e in events] == ["receive", "forward", "forward", "forward", "forward", "resolve",
                                             "return_result"]
    assert [e["seq"] for e in events] == list(range(1, 8))


def test_illegal_move_is_409_with_allowed_actions(client, login):
    dossier = receive(client, login)
    response = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/resolve",
                           json={"version": dossier["version"]}, headers=login("motcua"))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "illegal_transition"
    assert "forward" in body["detail"]["allowed_actions"]


def test_stale_version_is_412(client, login):
    dossier = receive(client, login)
    desk = login("motcua")
    act(client, desk, dossier, "forward")
    stale = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/withdraw", json={"version": dossier["version"]},
                        headers=desk)
    assert stale.status_code == 412
    assert stale.json()["detail"]["current_version"] == dossier["version"] + 1


def test_if_match_header(client, login):
    dossier = receive(client, login)
    response = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/forward",
                           headers={**login("motcua"), "If-Match": str(dossier["version"])})
    assert response.status_code == 200, response.text


def test_other_agency_sees_404(client, login):
    dossier = receive(client, login)
    other = login("other_desk")
    assert client.get(f"/api/v1/dossiers/{dossier['code']}", headers=other).status_code == 404
    response = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/forward",
                           json={"version": dossier["version"]}, headers=other)
    assert response.status_code == 404
    assert client.get("/api/v1/dossiers", headers=other).json()["items"] == []


def test_incomplete_dossier_needs_a_decision(client, login):
    desk = login("motcua")
    response = client.post("/api/v1/dossiers", json=intake_body(), headers=desk)
    assert response.status_code == 422
    assert response.json()["code"] == "documents_incomplete"
    assert response.json()["detail"]["missing"]
    refused = client.post("/api/v1/dossiers", json=intake_body(decision="refuse", reason="Không thuộc thẩm quyền"),
                          headers=desk)
    assert refused.status_code == 201 and refused.json()["status"] == "refused"
    asked = client.post("/api/v1/dossiers", json=intake_body(decision="request_supplement"), headers=desk)
    assert asked.status_code == 201, asked.text
    dossier = asked.json()
    assert dossier["status"] == "awaiting_supplement" and dossier["due_at"] is None
    dossier = act(client, desk, dossier, "supplement_received")
    assert dossier["status"] == "received" and dossier["due_at"] is not None


def test_supplement_pause_counts_the_time_already_spent(client, login, clock):
    """Decree 61/2018 Art. 19: the default rule; the due date moves by the time spent waiting."""
    dossier = receive(client, login)
    desk, specialist = login("motcua"), login("chuyenvien")
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    clock.advance(hours=1)
    dossier = act(client, specialist, dossier, "request_supplement", items=["Bản sao giấy khai sinh"])
    # Waiting Mon 10:00 → Fri 27/11 10:00 is 3 working days (24/11 is a holiday): Tue 1/12 09:00 → Fri 4/12 09:00.
    clock.set(datetime(2026, 11, 27, 10, 0, tzinfo=VN))
    dossier = act(client, desk, dossier, "supplement_received")
    assert datetime.fromisoformat(dossier["due_at"]).astimezone(VN) == datetime(2026, 12, 4, 9, 0, tzinfo=VN)
    deadline = client.get(f"/api/v1/dossiers/{dossier['code']}/deadline", headers=desk).json()
    assert deadline["pauses"][0]["rule"] == "pause"


def test_supplement_reset_counts_the_limit_afresh(client, login, clock):
    admin = login("admin")
    changed = client.patch(f"/api/v1/procedures/{PROCEDURE}", json={"supplement_rule": "reset"}, headers=admin)
    assert changed.status_code == 200, changed.text
    dossier = receive(client, login)
    desk, specialist = login("motcua"), login("chuyenvien")
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    clock.advance(hours=1)
    dossier = act(client, specialist, dossier, "request_supplement", items=["Bản sao giấy khai sinh"])
    assert dossier["status"] == "awaiting_supplement"
    again = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/request_supplement",
                        json={"version": dossier["version"], "items": ["x"]}, headers=specialist)
    assert again.status_code == 409
    # Supplement arrives Friday 27/11 at 10:00: 5 working days afresh → Friday 4/12 10:00.
    clock.set(datetime(2026, 11, 27, 10, 0, tzinfo=VN))
    dossier = act(client, desk, dossier, "supplement_received")
    assert dossier["status"] == "processing" and dossier["current_step"]["index"] == 0
    assert datetime.fromisoformat(dossier["due_at"]).astimezone(VN) == datetime(2026, 12, 4, 10, 0, tzinfo=VN)
    deadline = client.get(f"/api/v1/dossiers/{dossier['code']}/deadline", headers=desk).json()
    assert deadline["pauses"][0]["rule"] == "reset"
    assert {d["reason"] for d in deadline["skipped_days"]} >= {"Thứ Bảy", "Chủ nhật"}


def test_payment_pause_moves_the_due_date(client, login, clock):
    dossier = receive(client, login)
    desk, specialist = login("motcua"), login("chuyenvien")
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    due = datetime.fromisoformat(dossier["due_at"])
    dossier = act(client, specialist, dossier, "request_payment", fee=50000)
    clock.advance(timedelta(hours=2))  # 09:00 → 11:00 Monday: 2 working hours of waiting
    dossier = act(client, desk, dossier, "payment_confirmed")
    assert datetime.fromisoformat(dossier["due_at"]) - due == timedelta(hours=2)


def test_deadline_explanation(client, login):
    dossier = receive(client, login)
    deadline = client.get(f"/api/v1/dossiers/{dossier['code']}/deadline", headers=login("motcua")).json()
    assert deadline["limit_minutes"] == 5 * 480
    reasons = {d["day"]: d["reason"] for d in deadline["skipped_days"]}
    assert "2026-11-24" in reasons and "Văn hóa" in reasons["2026-11-24"]
    assert "hẹn trả 09:00 01/12/2026" in deadline["explanation"]


def test_idempotent_intake(client, login):
    desk = login("motcua")
    body = intake_body(documents=required_documents(client, desk))
    headers = {**desk, "Idempotency-Key": "intake-abc-1"}
    first = client.post("/api/v1/dossiers", json=body, headers=headers)
    second = client.post("/api/v1/dossiers", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len(client.get("/api/v1/dossiers", headers=desk).json()["items"]) == 1
    other_body = {**body, "note": "khác"}
    assert client.post("/api/v1/dossiers", json=other_body, headers=headers).status_code == 422


def test_calendar_override_recomputes_open_dossiers(client, login):
    dossier = receive(client, login)
    admin = login("admin")
    response = client.post("/api/v1/calendar/overrides", json={"day": "2026-11-26", "is_working": False,
                                                               "reason": "Nghỉ đột xuất do bão"}, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["recomputed_dossiers"] == [dossier["code"]]
    after = client.get(f"/api/v1/dossiers/{dossier['code']}", headers=login("motcua")).json()
    assert datetime.fromisoformat(after["due_at"]).astimezone(VN) == datetime(2026, 12, 2, 9, 0, tzinfo=VN)
    events = client.get(f"/api/v1/dossiers/{dossier['code']}/events", headers=login("motcua")).json()
    assert events[-1]["action"] == "deadline_moved"


def test_online_submission_is_accepted_at_the_desk(client, login, app, clock):
    from app.db import transaction
    from app.effects import Context
    from app.workflows import intake
    from app.workflows.schemas import OnlineSubmissionIn

    procedure = client.get(f"/api/v1/procedures/{PROCEDURE}", headers=login("motcua")).json()
    submission = OnlineSubmissionIn(
        portal_id="DVC-2026-000001", procedure_code=PROCEDURE, agency_code="000.00.17.H26",
        applicant={"full_name": "Trần Thị Bình", "id_number": "001199000111", "phone": "0987654321"},
        submitted_at=datetime(2026, 11, 22, 21, 0, tzinfo=VN), online_level="full",
        documents=[{"name": d["name"]} for d in procedure["required_documents"]])
    ctx = Context(None, clock.now(), app.state.settings)
    with transaction(app.state.sessionmaker) as session:
        dossier, secret = intake.submit_online(session, submission, ctx)
        code = dossier.code
    assert secret
    with transaction(app.state.sessionmaker) as session:
        again, no_secret = intake.submit_online(session, submission, ctx)
        assert again.code == code and no_secret is None
    desk = login("motcua")
    dossier = client.get(f"/api/v1/dossiers/{code}", headers=desk).json()
    assert dossier["status"] == "submitted" and dossier["due_at"] is None
    assert set(dossier["allowed_actions"]) == {"accept", "refuse", "request_supplement", "withdraw"}
    dossier = act(client, desk, dossier, "accept")
    assert dossier["status"] == "received" and dossier["due_at"]


def test_postal_dossier_from_post_office_to_result_by_post(client, login, clock):
    """BCCI both ways: the post office hands the package over; transit time is not processing time."""
    postal = login("buudien")
    handed_over = datetime(2026, 11, 20, 15, 0, tzinfo=VN)  # Friday: in transit over the weekend
    body = intake_body(channel="postal", return_method="postal",
                       documents=required_documents(client, postal),
                       postal={"tracking_number": "EB123456789VN", "handed_over_at": handed_over.isoformat()},
                       received_by="motcua")
    response = client.post("/api/v1/dossiers", json=body, headers=postal)
    assert response.status_code == 201, response.text
    dossier = response.json()
    assert datetime.fromisoformat(dossier["postal_handed_over_at"]) == handed_over
    # The clock starts when the agency accepts the package (Monday 09:00), not at the hand-over.
    assert datetime.fromisoformat(dossier["received_at"]).astimezone(VN) == datetime(2026, 11, 23, 9, 0, tzinfo=VN)
    # A postal clerk may only take in postal dossiers.
    direct = client.post("/api/v1/dossiers", json=intake_body(documents=required_documents(client, postal)),
                         headers=postal)
    assert direct.status_code == 403
    desk, specialist, head, director = (login(u) for u in ("motcua", "chuyenvien", "truongphong", "giamdoc"))
    dossier = act(client, desk, dossier, "forward")
    dossier = act(client, specialist, dossier, "forward")
    dossier = act(client, head, dossier, "forward")
    clock.advance(hours=2)
    dossier = ready(client, director, login("motcua"), dossier)
    missing = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/return_result",
                          json={"version": dossier["version"], "method": "postal"}, headers=desk)
    assert missing.status_code == 422 and missing.json()["code"] == "reason_required"
    dossier = act(client, postal, dossier, "return_result", method="postal", tracking_number="RR987654321VN")
    assert dossier["status"] == "returned"


def test_postal_not_allowed_for_the_procedure_is_422(client, login):
    admin = login("admin")
    assert client.patch(f"/api/v1/procedures/{PROCEDURE}", json={"postal_receipt_allowed": False,
                                                                  "postal_return_allowed": False},
                        headers=admin).status_code == 200
    desk = login("motcua")
    body = intake_body(channel="postal", documents=required_documents(client, desk),
                       postal={"tracking_number": "EB000000001VN"})
    response = client.post("/api/v1/dossiers", json=body, headers=desk)
    assert response.status_code == 422 and response.json()["code"] == "postal_receipt_not_allowed"
    body = intake_body(return_method="postal", documents=required_documents(client, desk))
    response = client.post("/api/v1/dossiers", json=body, headers=desk)
    assert response.status_code == 422 and response.json()["code"] == "postal_return_not_allowed"
