"""Issue 11: the clock rules, the signing authority and the figures an official signs, on both
databases. Each test names the rule it holds (docs/DEADLINES.md states them with their sources).

Calendar: Monday 23/11/2026 09:00 (the frozen clock); Tuesday 24/11 is Vietnam Culture Day.
Procedure 2.001914 (5 working days; steps: specialist 24 h in the division, division head 8 h,
Department leader 4 h, desk 4 h) received then is due Tuesday 1/12 09:00.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from app.db import transaction
from app.effects import Context
from app.models import Dossier, OutboxMessage, Shipment
from app.sla.deadlines import apology_draft_window, due_soon_window
from app.workflows import intake
from app.workflows.schemas import OnlineSubmissionIn
from tests.conftest import VN
from tests.sla.test_scan import alerts, at, expected, scan
from tests.web.test_forms import page, text_of
from tests.workflows.test_scenarios import PROCEDURE, act, intake_body, ready, receive, required_documents


def local(value: str | None) -> str | None:
    return datetime.fromisoformat(value).astimezone(VN).strftime("%d/%m %H:%M") if value else None


def to_signing_step(client, login, dossier, **body):  # noqa: ANN001, ANN003, ANN201
    """Desk → specialist → division head: the dossier waits at the Department leader's step."""
    dossier = act(client, login("motcua"), dossier, "forward", assignee="chuyenvien")
    dossier = act(client, login("chuyenvien"), dossier, "forward", **body)
    return act(client, login("truongphong"), dossier, "forward")


def outbox_of(app, code: str, topic: str) -> list[OutboxMessage]:  # noqa: ANN001
    with app.state.sessionmaker() as s:
        dossier_id = s.exec(select(Dossier.id).where(Dossier.code == code)).one()
        return list(s.exec(select(OutboxMessage).where(OutboxMessage.dossier_id == dossier_id,
                                                       OutboxMessage.topic == topic)
                           .order_by(OutboxMessage.id)).all())


# --- 1. lateness is never erased ---------------------------------------------------------------

def test_a_supplement_after_the_deadline_under_reset_does_not_rescue_a_late_dossier(client, login, clock):
    admin = login("admin")
    assert client.patch(f"/api/v1/procedures/{PROCEDURE}", json={"supplement_rule": "reset"},
                        headers=admin).status_code == 200
    dossier = act(client, login("motcua"), receive(client, login), "forward", assignee="chuyenvien")
    assert local(dossier["due_at"]) == "01/12 09:00" and dossier["late_since"] is None
    clock.set(at(2, 10, 0, month=12))  # a day past the appointment, still with the specialist
    dossier = act(client, login("chuyenvien"), dossier, "request_supplement", items=["Bản sao học bạ"])
    assert local(dossier["late_since"]) == "01/12 09:00"
    clock.set(at(3, 9, 0, month=12))
    dossier = act(client, login("motcua"), dossier, "supplement_received")
    assert local(dossier["due_at"]) == "01/12 09:00"  # `reset` counts nothing afresh for a late dossier
    dossier = act(client, login("chuyenvien"), dossier, "forward")
    dossier = act(client, login("truongphong"), dossier, "forward")
    dossier = ready(client, login("giamdoc"), login("motcua"), dossier, result_reference="5/QĐ")
    assert dossier["outcome"] == "late" and local(dossier["late_since"]) == "01/12 09:00"


def test_a_payment_request_after_the_deadline_keeps_the_dossier_late(client, login, clock):
    dossier = act(client, login("motcua"), receive(client, login), "forward", assignee="chuyenvien")
    clock.set(at(1, 10, 0, month=12))
    dossier = act(client, login("chuyenvien"), dossier, "request_payment", fee=50_000)
    clock.set(at(3, 9, 0, month=12))
    dossier = act(client, login("motcua"), dossier, "payment_confirmed")
    dossier = act(client, login("chuyenvien"), dossier, "forward")
    dossier = act(client, login("truongphong"), dossier, "forward")
    dossier = ready(client, login("giamdoc"), login("motcua"), dossier)
    assert dossier["outcome"] == "late"


# --- 2. pause is the default ----------------------------------------------------------------------

def test_pause_is_the_default_rule_of_every_demo_procedure(client, login):
    procedures = client.get("/api/v1/procedures?limit=200", headers=login("motcua")).json()["items"]
    assert procedures and {p["supplement_rule"] for p in procedures} == {"pause"}


# --- 3. "only once" per stage and per agency -----------------------------------------------------

def test_a_reception_request_does_not_block_the_division_s_request(client, login, clock):
    desk = login("motcua")
    asked = client.post("/api/v1/dossiers", json=intake_body(decision="request_supplement"), headers=desk)
    assert asked.status_code == 201, asked.text
    dossier = act(client, desk, asked.json(), "supplement_received")
    assert "request_supplement" not in dossier["allowed_actions"]  # the desk asked once already
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    dossier = act(client, login("chuyenvien"), dossier, "request_supplement", items=["Bản sao học bạ"])
    assert dossier["status"] == "awaiting_supplement" and dossier["supplement_count"] == 2
    dossier = act(client, desk, dossier, "supplement_received")
    again = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/request_supplement",
                        json={"version": dossier["version"], "items": ["x"]}, headers=login("chuyenvien"))
    assert again.status_code == 409 and again.json()["code"] == "supplement_already_requested"


# --- 4. a reasoned refusal after appraisal is a result -------------------------------------------

def test_refusal_after_appraisal_is_proposed_signed_and_returned_as_a_result(client, login, clock):
    desk = login("motcua")
    dossier = receive(client, login)
    dossier_secret = dossier["lookup_secret"]
    refused = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/refuse",
                          json={"version": dossier["version"], "reason": "x"}, headers=desk)
    assert refused.status_code == 409  # form 03 only before form 01
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    no_reason = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/forward",
                            json={"version": dossier["version"], "result_kind": "refusal"}, headers=login("chuyenvien"))
    assert no_reason.status_code == 422
    dossier = act(client, login("chuyenvien"), dossier, "forward", result_kind="refusal",
                  reason="Văn bằng không có trong sổ gốc của trường")
    dossier = act(client, login("truongphong"), dossier, "forward")
    signed = act(client, login("giamdoc"), dossier, "forward")
    assert signed["result_kind"] == "refusal" and signed["result_reference"] == "01/CV-SGDĐT"
    assert signed["outcome"] is None  # signed is not ready: the result is not at the desk yet
    done = act(client, desk, signed, "resolve")
    assert done["status"] == "resolved" and done["outcome"] == "early" and done["result_kind"] == "refusal"
    view = client.post("/api/v1/public/lookup", json={"code": done["code"], "secret": dossier_secret}).json()
    assert "không giải quyết" in view["status_text"] and "sổ gốc" in view["closing_reason"]
    report = client.get("/api/v1/reports/periodic", params={"period": "2026-11"}, headers=login("baocao")).json()
    total = report["totals"]
    assert total["resolved_total"] == 1 and total["resolved_early"] == 1


# --- 5. result ready = at the desk -------------------------------------------------------------

def test_the_outcome_is_classified_when_the_result_reaches_the_desk(client, login, app, clock):
    dossier = to_signing_step(client, login, receive(client, login))
    clock.set(at(30, 16, 0))  # signed the day before the appointment
    signed = act(client, login("giamdoc"), dossier, "forward", result_reference="9/QĐ-SGDĐT")
    assert signed["status"] == "processing" and signed["current_step"]["role"] == "desk"
    clock.set(at(1, 11, 0, month=12))  # the desk holds it after the appointment's hour, its own step overran
    scan(app, clock)
    assert ("step_overdue", "giamdoc") in {(k, u) for c, k, _, u in alerts(app) if c == dossier["code"]}
    done = act(client, login("motcua"), signed, "resolve")
    assert done["outcome"] == "late" and done["outcome_label"] == "Quá hạn"


# --- 6. online dossiers -------------------------------------------------------------------------

def submit(app, clock, portal_id: str, submitted_at: datetime, client, login):  # noqa: ANN001
    procedure = client.get(f"/api/v1/procedures/{PROCEDURE}", headers=login("motcua")).json()
    data = OnlineSubmissionIn(portal_id=portal_id, procedure_code=PROCEDURE, agency_code="000.00.17.H26",
                              applicant={"full_name": "Trần Thị Bình", "id_number": "001199000111"},
                              submitted_at=submitted_at, documents=[{"name": d["name"]}
                                                                    for d in procedure["required_documents"]])
    with transaction(app.state.sessionmaker) as session:
        dossier, _ = intake.submit_online(session, data, Context(None, clock.now(), app.state.settings))
        return dossier.code


def test_an_online_dossier_s_clock_starts_at_the_next_working_period_after_submission(client, login, app, clock):
    code = submit(app, clock, "DVC-1", datetime(2026, 11, 22, 21, 0, tzinfo=VN), client, login)  # Sunday night
    desk = login("motcua")
    dossier = act(client, desk, client.get(f"/api/v1/dossiers/{code}", headers=desk).json(), "accept")
    deadline = client.get(f"/api/v1/dossiers/{code}/deadline", headers=desk).json()
    assert local(deadline["clock_started_at"]) == "23/11 07:30"  # not the desk's acceptance at 09:00
    assert local(dossier["due_at"]) == "30/11 17:00"


def test_an_online_submission_not_checked_within_a_working_day_alerts_the_desk(client, login, app, clock):
    code = submit(app, clock, "DVC-2", at(23, 9, 0), client, login)
    clock.set(at(25, 9, 0))  # one working day later (Tuesday is a holiday): not yet late
    assert scan(app, clock).alerts == 0
    clock.set(at(25, 9, 1))
    scan(app, clock)
    assert alerts(app) == expected(code, "check_overdue", "25/11 09:00", "motcua", "giamdoc")
    report = client.get("/api/v1/reports/periodic", params={"period": "2026-11"}, headers=login("baocao")).json()
    assert (report["totals"]["online_checked_late"], report["totals"]["online_unchecked_overdue"]) == (0, 1)
    desk = login("motcua")
    act(client, desk, client.get(f"/api/v1/dossiers/{code}", headers=desk).json(), "accept")
    report = client.get("/api/v1/reports/periodic", params={"period": "2026-11"}, headers=login("baocao")).json()
    assert (report["totals"]["online_checked_late"], report["totals"]["online_unchecked_overdue"]) == (1, 0)


# --- 7. cut-off rules ---------------------------------------------------------------------------

def test_same_day_cut_off(client, login, clock):
    before = receive(client, login, "1.005092")
    assert local(before["due_at"]) == "23/11 17:00"
    clock.set(at(23, 15, 30))
    after = receive(client, login, "1.005092")
    assert local(after["due_at"]) == "25/11 17:00"  # the next working day (24/11 is a holiday)
    deadline = client.get(f"/api/v1/dossiers/{after['code']}/deadline", headers=login("motcua")).json()
    assert "trước 15:00" in deadline["rule"] and deadline["rule"] in deadline["explanation"]


# --- 8. short procedures -------------------------------------------------------------------------

def test_alert_windows_never_cover_a_short_limit():
    assert due_soon_window(480, 480) == 120  # 1 working day: due soon in its last quarter
    assert due_soon_window(5 * 480, 480) == 480  # 5 working days: the whole last day
    assert apology_draft_window(480) == 240 and apology_draft_window(5 * 480) == 960


# --- 9. calendar changes move promises only forward -----------------------------------------------

def test_a_closure_moves_the_appointment_later_and_a_swap_never_earlier(client, login, app, clock):
    dossier = receive(client, login)
    admin, desk = login("admin"), login("motcua")
    closure = client.post("/api/v1/calendar/overrides", headers=admin,
                          json={"day": "2026-11-26", "is_working": False, "reason": "Nghỉ đột xuất do bão"}).json()
    assert closure["recomputed_dossiers"] == [dossier["code"]]
    moved = client.get(f"/api/v1/dossiers/{dossier['code']}", headers=desk).json()
    assert local(moved["due_at"]) == "02/12 09:00"
    [event] = [e for e in client.get(f"/api/v1/dossiers/{dossier['code']}/events", headers=desk).json()
               if e["action"] == "deadline_moved"]
    assert event["data"]["calendar_version"] == 1 and "bão" in event["data"]["reason"]
    assert [m.kind for m in outbox_of(app, dossier["code"], "notify")][-1] == "deadline_moved"
    assert outbox_of(app, dossier["code"], "portal")[-1].payload["data"][0]["NgayHenTra"] == "20261202090000"

    swap = client.post("/api/v1/calendar/overrides", headers=admin,
                       json={"day": "2026-11-28", "is_working": True, "reason": "Làm bù"}).json()
    assert swap["recomputed_dossiers"] == []  # an appointment already given never moves earlier
    assert client.delete(f"/api/v1/calendar/overrides/{closure['override']['id']}",
                         headers=admin).json()["recomputed_dossiers"] == []
    deadline = client.get(f"/api/v1/dossiers/{dossier['code']}/deadline", headers=desk).json()
    assert local(deadline["due_at"]) == "02/12 09:00" and deadline["calendar_version"] == 1
    assert "26/11/2026" in {d["day"][8:10] + "/" + d["day"][5:7] + "/" + d["day"][:4] for d in deadline["skipped_days"]}
    assert [local(m["due_before"]) for m in deadline["moves"]] == ["01/12 09:00"]
    assert "hẹn trả 09:00 02/12/2026 (đã dời từ 09:00 01/12/2026 vì " in deadline["explanation"]
    assert deadline["explanation"].count("02/12/2026") == 1  # each thing once
    days = [o["day"] for o in client.get("/api/v1/calendar/overrides", headers=admin).json()]
    assert days == ["2026-11-28"]  # the removed closure is a new row; the list shows what is in force


# --- 11. step scope -----------------------------------------------------------------------------

def test_a_division_head_never_takes_the_agency_leader_s_step(client, login, app, clock, settings):
    from app.auth.service import create_user

    with transaction(app.state.sessionmaker) as s:
        create_user(s, username="chuyenvien_gdpt", password="demo1234", full_name="Ngô Văn Phổ",
                    agency_code="000.00.17.H26.GDPT", roles=["specialist"], settings=settings, now=clock.now())
    desk = login("motcua")
    dossier = receive(client, login)
    other_division = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/forward", headers=desk,
                                 json={"version": dossier["version"], "assignee": "chuyenvien_gdpt"})
    assert other_division.status_code == 403 and other_division.json()["code"] == "step_not_allowed"
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    dossier = act(client, login("chuyenvien"), dossier, "forward")
    assign_self = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/forward", headers=login("truongphong"),
                              json={"version": dossier["version"], "assignee": "truongphong"})
    assert assign_self.status_code == 403 and assign_self.json()["code"] == "step_not_allowed"
    dossier = act(client, login("truongphong"), dossier, "forward")
    take = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/forward", headers=login("truongphong"),
                       json={"version": dossier["version"]})
    assert take.status_code == 409 and take.json()["code"] == "step_not_allowed"
    assert "Giám đốc" in take.json()["message"]
    assert act(client, login("giamdoc"), dossier, "forward")["current_step"]["role"] == "desk"


# --- 12. form 04 and forms 03, 05: who signs, how, with which number -------------------------------

def test_only_the_agency_s_leaders_sign_forms_04_and_05(client, login, app, clock):
    from tests.sla.test_apology import drafted

    dossier, draft = drafted(client, login, app, clock)
    url = f"/api/v1/apologies/{draft['id']}"
    client.patch(url, json={"reason": "Chờ xác minh văn bằng"}, headers=login("chuyenvien"))
    head = client.post(f"{url}/issue", headers=login("truongphong"))
    assert head.status_code == 403 and head.json()["code"] == "agency_leader_required"
    current = client.get(f"/api/v1/dossiers/{dossier['code']}", headers=login("motcua")).json()
    paused = act(client, login("chuyenvien"), current, "request_payment", fee=10_000)
    while_paused = client.post(f"{url}/issue", headers=login("giamdoc"))
    assert while_paused.status_code == 409 and while_paused.json()["code"] == "clock_paused"
    act(client, login("motcua"), paused, "payment_confirmed")
    issued = client.post(f"{url}/issue", headers=login("giamdoc")).json()
    assert issued["document_number"] == "01/PXL-SGDĐT" and issued["is_late"]
    text = text_of(page(client, login("giamdoc"), dossier["code"], "apology"))
    assert "Số: 01/PXL-SGDĐT" in text and "KT. GIÁM ĐỐC PHÓ GIÁM ĐỐC" in text and "Phạm Quốc Hùng" in text

    other = act(client, login("motcua"), receive(client, login), "forward", assignee="chuyenvien")
    stop = client.post(f"/api/v1/dossiers/{other['code']}/actions/stop", headers=login("truongphong"),
                       json={"version": other["version"], "reason": "Người nộp không còn đủ điều kiện"})
    assert stop.status_code == 403 and stop.json()["code"] == "agency_leader_required"
    act(client, login("giamdoc"), other, "stop", reason="Người nộp không còn đủ điều kiện")
    text = text_of(page(client, login("motcua"), other["code"], "stop"))
    assert "Số: 01/TB-SGDĐT" in text and "KT. GIÁM ĐỐC PHÓ GIÁM ĐỐC" in text and "Phạm Quốc Hùng" in text


def test_form_03_carries_its_register_number_and_the_officer(client, login):
    desk = login("motcua")
    refused = client.post("/api/v1/dossiers", json=intake_body(decision="refuse", reason="Không thuộc thẩm quyền"),
                          headers=desk).json()
    text = text_of(page(client, desk, refused["code"], "refusal"))
    assert "Số: 01/PTC-SGDĐT" in text and "Nguyễn Thị Lan" in text


# --- 13. postal intake ---------------------------------------------------------------------------

def test_postal_intake_names_the_receiving_officer_and_masks_for_the_carrier(client, login, app):
    postal = login("buudien")
    body = intake_body(documents=required_documents(client, postal), channel="postal",
                       postal={"tracking_number": "EB777777777VN"},
                       applicant={"full_name": "Nguyễn Văn An", "id_number": "001099012345", "phone": "0912345678",
                                  "address": "Số 5 đường Hoa, phường Mẫu, tỉnh Mẫu"})
    missing = client.post("/api/v1/dossiers", json=body, headers=postal)
    assert missing.status_code == 422 and missing.json()["code"] == "received_by_required"
    dossier = client.post("/api/v1/dossiers", json={**body, "received_by": "motcua"}, headers=postal).json()
    assert dossier["applicant_id_number"] == "*********345" and dossier["applicant_phone"] == "*******678"
    assert dossier["applicant_address"] == "***, tỉnh Mẫu"
    for user in ("buudien", "baocao"):
        seen = client.get(f"/api/v1/dossiers/{dossier['code']}", headers=login(user)).json()
        assert seen["applicant_id_number"] == "*********345", user
    assert client.get(f"/api/v1/dossiers/{dossier['code']}",
                      headers=login("motcua")).json()["applicant_id_number"] == "001099012345"
    text = text_of(page(client, login("motcua"), dossier["code"], "receipt"))
    assert "Nguyễn Thị Lan" in text and "Đỗ Văn Bình" not in text
    with app.state.sessionmaker() as s:
        shipment = s.exec(select(Shipment).where(Shipment.tracking_number == "EB777777777VN")).one()
    assert "Đỗ Văn Bình" in (shipment.note or "")


# --- 14. every notice that moves or conditions the appointment reaches the applicant ----------------

def test_the_applicant_hears_of_every_new_appointment_and_payment(client, login, app, clock):
    dossier = act(client, login("motcua"), receive(client, login), "forward", assignee="chuyenvien")
    dossier = act(client, login("chuyenvien"), dossier, "request_payment", fee=50_000)
    clock.advance(hours=2)
    dossier = act(client, login("motcua"), dossier, "payment_confirmed")
    dossier = act(client, login("chuyenvien"), dossier, "request_supplement", items=["Bản sao học bạ"])
    clock.advance(hours=2)
    act(client, login("motcua"), dossier, "supplement_received")
    notices = {m.kind: m.payload["text"] for m in outbox_of(app, dossier["code"], "notify")}
    assert "50.000 đồng" in notices["payment_requested"]
    assert "Ngày hẹn trả kết quả" in notices["payment_confirmed"]
    assert "11 giờ 00 ngày 01/12/2026" in notices["payment_confirmed"]  # 2 h of waiting added
    assert "Ngày hẹn trả kết quả: 11 giờ 30 ngày 01/12/2026" in notices["supplement_received"]  # 30 min more


# --- done when: a late dossier is late everywhere --------------------------------------------------

def test_a_late_dossier_is_late_everywhere(client, login, app, clock):
    """Supplement after the deadline, apology, a calendar closure, the result handed to the desk late:
    late on the API, the citizen page, the forms, the periodic report and the portal."""
    desk, director = login("motcua"), login("giamdoc")
    received = receive(client, login)
    dossier = act(client, desk, received, "forward", assignee="chuyenvien")
    clock.set(at(1, 10, 0, month=12))  # the appointment (1/12 09:00) passed with the specialist
    scan(app, clock)  # overdue: alerts and the apology draft
    dossier = act(client, login("chuyenvien"), client.get(f"/api/v1/dossiers/{dossier['code']}", headers=desk).json(),
                  "request_supplement", items=["Bản sao học bạ"])
    clock.set(at(2, 9, 0, month=12))
    dossier = act(client, desk, dossier, "supplement_received")
    [draft] = client.get(f"/api/v1/dossiers/{dossier['code']}/apologies", headers=director).json()
    issued = client.post(f"/api/v1/apologies/{draft['id']}/issue", headers=director,
                         json={"reason": "Chờ người nộp bổ sung học bạ", "new_due_at": "2026-12-09T17:00:00+07:00"})
    assert issued.status_code == 200, issued.text
    closure = client.post("/api/v1/calendar/overrides", headers=login("admin"),
                          json={"day": "2026-12-03", "is_working": False, "reason": "Mất điện toàn khu"}).json()
    assert closure["recomputed_dossiers"] == []  # a late dossier keeps its appointment
    dossier = client.get(f"/api/v1/dossiers/{dossier['code']}", headers=desk).json()
    dossier = act(client, login("chuyenvien"), dossier, "forward")
    dossier = act(client, login("truongphong"), dossier, "forward")
    clock.set(at(4, 10, 0, month=12))
    dossier = ready(client, director, desk, dossier, result_reference="15/QĐ-SGDĐT")
    dossier = act(client, desk, dossier, "return_result", method="desk", receiver_name="Nguyễn Văn An")

    assert dossier["outcome"] == "late" and local(dossier["late_since"]) == "01/12 09:00"
    assert local(dossier["due_at"]) == "01/12 09:00" and dossier["apology_count"] == 1
    view = client.post("/api/v1/public/lookup", json={"code": dossier["code"],
                                                        "secret": received["lookup_secret"]}).json()
    assert view["outcome_label"] == "Quá hạn" and view["apologies"][0]["signer_title"] == "KT. GIÁM ĐỐC – PHÓ GIÁM ĐỐC"
    slip = text_of(page(client, desk, dossier["code"], "slip"))
    assert "Quá hạn" in slip
    apology = text_of(page(client, desk, dossier["code"], "apology"))
    assert "Số: 01/PXL-SGDĐT" in apology and "KT. GIÁM ĐỐC PHÓ GIÁM ĐỐC" in apology
    totals = client.get("/api/v1/reports/periodic", params={"period": "2026-12"},
                        headers=login("baocao")).json()["totals"]
    assert (totals["resolved_total"], totals["resolved_late"], totals["apologies"]) == (1, 1, 1)
    assert totals["apologies_late"] == 1  # issued after the appointment: counted apart
    portal = outbox_of(app, dossier["code"], "portal")[-1].payload["data"][0]
    assert portal["TrangThaiHoSo"] == 10 and portal["NgayHenTra"] == "20261201090000"
    assert portal["NgayHenTraMoi"] == "20261209170000"
