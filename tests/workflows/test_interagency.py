"""Issue 14: inter-agency (liên thông) procedures and the provincial one-stop centre, on both databases.

The scenario of "done when": a dossier of 1.005015 (establishing an upper-secondary specialised school: 25
working days, the Department 20 appraising, the Provincial People's Committee 5 deciding, the
centre returning the result) is received at the provincial centre, goes centre → Department
(appraisal, one supplement) → People's Committee (decision, late) → centre (result returned).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from openpyxl import load_workbook

from sqlmodel import select

from app.db import transaction
from app.models import Agency, CalendarOverride
from app.sla.service import calendar_for
from tests.conftest import VN
from tests.sla.test_scan import at
from tests.web.test_forms import page, text_of
from tests.workflows.test_clock_rules import outbox_of
from tests.workflows.test_scenarios import act, intake_body, required_documents

PROCEDURE = "1.005015"  # THPT chuyên: 25 working days, Department 20, Committee 5
CENTRE, DEPARTMENT, PPC = "000.00.01.H26", "000.00.17.H26", "000.00.00.H26"


def receive_at_centre(client, login):  # noqa: ANN001, ANN201
    desk = login("ttpv_motcua")
    body = intake_body(PROCEDURE, documents=required_documents(client, desk, PROCEDURE))
    response = client.post("/api/v1/dossiers", json=body, headers=desk)
    assert response.status_code == 201, response.text
    return response.json()


def pending_handover(client, headers, dossier) -> dict:  # noqa: ANN001
    rows = client.get(f"/api/v1/dossiers/{dossier['code']}/handovers", headers=headers).json()
    [pending] = [r for r in rows if r["status"] == "pending"]
    return pending


def accept(client, headers, dossier, **body):  # noqa: ANN001, ANN003, ANN201
    handover = pending_handover(client, headers, dossier)
    response = client.post(f"/api/v1/dossiers/{dossier['code']}/handovers/{handover['id']}/accept",
                           json={"version": dossier["version"], **body}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def get(client, headers, dossier):  # noqa: ANN001, ANN201
    return client.get(f"/api/v1/dossiers/{dossier['code']}", headers=headers)


def test_centre_department_committee_centre_with_the_committee_late(client, login, clock, app):
    # The People's Committee closes on Friday 18/12 (its own calendar, not the Department's).
    with transaction(app.state.sessionmaker) as s:
        ppc_id = s.exec(select(Agency.id).where(Agency.code == PPC)).one()
        s.add(CalendarOverride(agency_id=ppc_id, day=date(2026, 12, 18), is_working=False, reason="Nghỉ bù (UBND)",
                               created_at=clock.now(), version=1))

    centre_desk, dept_desk, ppc_office = login("ttpv_motcua"), login("motcua"), login("ubnd_vanthu")
    specialist, head, director = login("gdpt_chuyenvien"), login("gdpt_truongphong"), login("giamdoc")
    ppc_specialist, chairman = login("ubnd_chuyenvien"), login("ubnd_chutich")

    # 2. Received at the centre, for the Department's procedure: the code carries the centre's identifier.
    dossier = receive_at_centre(client, login)
    assert dossier["code"].startswith(f"{CENTRE}-261123-")
    assert dossier["agency_code"] == DEPARTMENT and dossier["receiving_agency_code"] == CENTRE
    # 4. The Department (competent) sees it throughout; the People's Committee not before it holds it.
    assert get(client, dept_desk, dossier).status_code == 200
    assert get(client, ppc_office, dossier).status_code == 404
    assert get(client, login("other_desk"), dossier).status_code == 404

    # Centre → Department: a hand-over the Department's office accepts and assigns.
    dossier = act(client, centre_desk, dossier, "forward")
    assert dossier["holder_agency_code"] == DEPARTMENT and dossier["assignee"] is None
    blocked = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/forward",
                          json={"version": dossier["version"]}, headers=specialist)
    assert blocked.status_code == 409  # not accepted yet
    assert client.post(f"/api/v1/dossiers/{dossier['code']}/handovers/"
                       f"{pending_handover(client, dept_desk, dossier)['id']}/accept",
                       json={"version": dossier["version"]}, headers=centre_desk).status_code == 404  # not its own
    dossier = accept(client, dept_desk, dossier, assignee="gdpt_chuyenvien")
    assert dossier["assignee"] == "gdpt_chuyenvien"
    # The centre cannot take the Department's step.
    assert client.post(f"/api/v1/dossiers/{dossier['code']}/actions/forward", json={"version": dossier["version"]},
                       headers=centre_desk).status_code in (403, 409)

    # 6. The Department asks once for a supplement; it goes to the applicant through the centre.
    clock.set(at(25, 9, 0))
    dossier = act(client, specialist, dossier, "request_supplement", items=["Văn bản thỏa thuận sử dụng đất"])
    clock.set(at(26, 9, 0))
    dossier = act(client, centre_desk, dossier, "supplement_received")
    assert dossier["status"] == "processing" and dossier["holder_agency_code"] == DEPARTMENT
    again = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/request_supplement",
                        json={"version": dossier["version"], "items": ["Bản vẽ"]}, headers=specialist)
    assert again.status_code == 409 and again.json()["code"] == "supplement_already_requested"

    clock.set(at(30, 9, 0))
    dossier = act(client, specialist, dossier, "forward", assignee="gdpt_truongphong")
    dossier = act(client, head, dossier, "forward")
    assert get(client, ppc_office, dossier).status_code == 404  # still the Department's
    clock.set(at(1, 10, 0, month=12))
    dossier = act(client, director, dossier, "forward")  # the Department's part ends: hand-over to the Committee
    assert dossier["holder_agency_code"] == PPC
    assert get(client, ppc_office, dossier).status_code == 200

    # 3. The Committee's step runs on the Committee's calendar (Friday 18/12 closed there).
    with app.state.sessionmaker() as s:
        ppc_cal = calendar_for(s, ppc_id, app.state.settings)
        dept_cal = calendar_for(s, s.exec(select(Agency.id).where(Agency.code == DEPARTMENT)).one(),
                                app.state.settings)
    step_due = datetime.fromisoformat(dossier["step_due_at"])
    assert step_due == ppc_cal.add_working_minutes(clock.now(), 28 * 60)
    dossier = accept(client, ppc_office, dossier, assignee="ubnd_chuyenvien")
    # The Department can no longer act in the Committee's part.
    assert "forward" not in get(client, director, dossier).json()["allowed_actions"]

    # The Committee overruns its share; before the appointment its leader apologises (form 04):
    # the Department's leader may not sign for it.
    clock.set(at(21, 9, 0, month=12))
    assert datetime.fromisoformat(dossier["due_at"]) > clock.now()
    # The deadline scan tells the holder of the Committee's step and the Committee's leaders, not the
    # Department's division head (who no longer holds the dossier).
    from tests.sla.test_scan import alerts, scan

    scan(app, clock)
    told = {u for code, kind, _, u in alerts(app) if code == dossier["code"] and kind == "step_overdue"}
    assert "ubnd_chuyenvien" in told and "ubnd_chutich" in told and "gdpt_truongphong" not in told, told
    draft = client.post(f"/api/v1/dossiers/{dossier['code']}/apologies", json={}, headers=chairman)
    assert draft.status_code == 201, draft.text
    denied = client.post(f"/api/v1/apologies/{draft.json()['id']}/issue",
                         json={"reason": "Chậm trình Chủ tịch"}, headers=director)
    assert denied.status_code in (403, 404)
    issued = client.post(f"/api/v1/apologies/{draft.json()['id']}/issue",
                         json={"reason": "Văn phòng UBND tỉnh chậm trình Chủ tịch"}, headers=chairman)
    assert issued.status_code == 200, issued.text
    assert issued.json()["document_number"] == "01/PXL-UBND", issued.json()  # the Committee's register
    assert issued.json()["signer_name"] == "Trịnh Minh Đức" and issued.json()["agency_code"] == PPC
    letter = text_of(page(client, chairman, dossier["code"], "apology"))  # form 04: the Committee's letter
    assert "Ủy ban nhân dân tỉnh (đơn vị mẫu) xin lỗi" in letter and "01/PXL-UBND" in letter

    clock.set(datetime(2027, 1, 11, 9, 0, tzinfo=VN))  # past the appointment: late for good
    dossier = get(client, ppc_specialist, dossier).json()
    dossier = act(client, ppc_specialist, dossier, "forward", assignee="ubnd_chutich")
    dossier = act(client, chairman, dossier, "forward", result_reference="15/QĐ-UBND")  # decides and signs
    assert dossier["holder_agency_code"] == CENTRE
    dossier = accept(client, centre_desk, dossier)
    dossier = act(client, centre_desk, dossier, "resolve")
    assert dossier["outcome"] == "late"
    # The result returns through the centre: not at the Department's desk.
    assert client.post(f"/api/v1/dossiers/{dossier['code']}/actions/return_result",
                       json={"version": dossier["version"], "method": "desk", "receiver_name": "Nguyễn Văn An"},
                       headers=dept_desk).status_code == 409
    dossier = act(client, centre_desk, dossier, "return_result", method="desk", receiver_name="Nguyễn Văn An")
    assert dossier["status"] == "returned"

    # 7. The record says which agency made it late.
    parts = {p["agency"]["code"]: p for p in
             client.get(f"/api/v1/dossiers/{dossier['code']}/agencies", headers=centre_desk).json()}
    assert set(parts) == {CENTRE, DEPARTMENT, PPC}
    assert parts[PPC]["caused_late"] and parts[PPC]["overran"]
    assert not parts[DEPARTMENT]["caused_late"] and not parts[DEPARTMENT]["overran"]
    assert parts[DEPARTMENT]["budget_minutes"] == 160 * 60 and parts[PPC]["budget_minutes"] == 36 * 60
    assert parts[CENTRE]["budget_minutes"] == 4 * 60
    events = client.get(f"/api/v1/dossiers/{dossier['code']}/events", headers=centre_desk).json()
    [resolved] = [e for e in events if e["action"] == "resolve"]
    assert resolved["data"]["late_agency"] == PPC
    handovers = client.get(f"/api/v1/dossiers/{dossier['code']}/handovers", headers=centre_desk).json()
    assert [(h["from_agency"]["code"], h["to_agency"]["code"], h["status"]) for h in handovers] == [
        (CENTRE, DEPARTMENT, "accepted"), (DEPARTMENT, PPC, "accepted"), (PPC, CENTRE, "accepted")]

    # 4. The control slip (form 06) names both agencies at each hand-over.
    slip = text_of(page(client, centre_desk, dossier["code"], "slip"))
    assert "Bàn giao liên thông: Sở Giáo dục và Đào tạo (đơn vị mẫu) → Ủy ban nhân dân tỉnh (đơn vị mẫu)" in slip
    assert "Bàn giao liên thông: Ủy ban nhân dân tỉnh (đơn vị mẫu) → Trung tâm Phục vụ hành chính công tỉnh" in slip

    # Both agencies' periodic reports say which one made it late (JSON, and the CSV's columns).
    ppc_report = client.get("/api/v1/reports/periodic?period=2027-01", headers=login("ubnd_baocao")).json()
    dept_report = client.get("/api/v1/reports/periodic?period=2027-01", headers=login("baocao")).json()
    assert (ppc_report["totals"]["resolved_late"], ppc_report["totals"]["late_caused_here"],
            ppc_report["totals"]["late_caused_elsewhere"]) == (1, 1, 0)
    assert (dept_report["totals"]["resolved_late"], dept_report["totals"]["late_caused_here"],
            dept_report["totals"]["late_caused_elsewhere"]) == (1, 0, 1)
    [ppc_row] = [r for r in ppc_report["rows"] if r["procedure_code"] == PROCEDURE]
    assert ppc_row["late_caused_here"] == 1
    table = list(csv.reader(io.StringIO(client.get("/api/v1/reports/periodic.csv?period=2027-01",
                                                   headers=login("baocao")).content.decode("utf-8-sig"))))
    here_col = table[0].index("Giải quyết quá hạn, nguyên nhân - Do cơ quan mình")
    elsewhere_col = table[0].index("Giải quyết quá hạn, nguyên nhân - Do cơ quan khác (liên thông)")
    assert (table[-1][here_col], table[-1][elsewhere_col]) == ("0", "1")
    sheet = load_workbook(io.BytesIO(client.get("/api/v1/reports/periodic.xlsx?period=2027-01",
                                                headers=login("ubnd_baocao")).content), data_only=True).active
    # The totals row (its cached values; the signature block follows it)
    [totals_row] = [row for row in sheet.iter_rows(values_only=True) if row[2] == "Tổng cộng"]
    assert (totals_row[here_col], totals_row[elsewhere_col]) == (1, 0)
    period = "2027-01"
    here = client.get(f"/api/v1/reports/interagency?period={period}", headers=login("ubnd_baocao")).json()
    assert here["late_total"] == 1 and here["late_caused_here"] == 1 and here["late_caused_elsewhere"] == 0
    there = client.get(f"/api/v1/reports/interagency?period={period}", headers=login("baocao")).json()
    assert there["late_total"] == 1 and there["late_caused_here"] == 0 and there["late_caused_elsewhere"] == 1

    # 8. The province report adds up to the sum of its agencies (JSON, CSV, XLSX).
    province = client.get("/api/v1/reports/province?period=2027", headers=login("ttpv_baocao"))
    assert province.status_code == 200, province.text
    body = province.json()
    codes = {a["agency"]["code"] for a in body["agencies"]}
    assert {CENTRE, DEPARTMENT, PPC, "000.00.10.H26"} <= codes and "000.00.18.H27" not in codes
    for field in body["totals"]:
        assert body["totals"][field] == sum(a["totals"][field] for a in body["agencies"]), field
    rows = {a["agency"]["code"]: a for a in body["agencies"]}
    # Each agency's row is its own periodic report: the dossier it received (centre), appraised
    # (Department) or decided (Committee) counts in each, late by the Committee's doing.
    for code, reporter in ((DEPARTMENT, "baocao"), (PPC, "ubnd_baocao")):
        own = client.get("/api/v1/reports/periodic?period=2027", headers=login(reporter)).json()
        assert rows[code]["totals"] == own["totals"], code
    for code in (CENTRE, DEPARTMENT, PPC):
        assert rows[code]["totals"]["resolved_total"] >= 1 and rows[code]["totals"]["resolved_late"] >= 1, code
    assert rows[PPC]["totals"]["late_caused_here"] == 1 and rows[CENTRE]["totals"]["late_caused_elsewhere"] == 1
    assert rows[DEPARTMENT]["totals"]["late_caused_here"] == rows[DEPARTMENT]["totals"]["resolved_late"] - 1
    assert client.get("/api/v1/reports/province.csv?period=2027", headers=login("ttpv_baocao")).status_code == 200
    assert client.get("/api/v1/reports/province.xlsx?period=2027", headers=login("ubnd_baocao")).status_code == 200
    # A department's reporter gets its own report, not the province's.
    assert client.get("/api/v1/reports/province?period=2027", headers=login("baocao")).status_code == 403

    # 9. The portal learns the handling agency at each status and each agency's steps.
    messages = [m.payload["data"][0] for m in outbox_of(app, dossier["code"], "portal")]
    handlers = [m["DonViXuLy"] for m in messages if "DonViXuLy" in m]
    assert handlers[0] == CENTRE and DEPARTMENT in handlers and PPC in handlers and handlers[-1] == CENTRE
    offices = {row["PhongBanXuLy"] for m in messages for row in m["QuaTrinhXuLy"]}
    assert "Ủy ban nhân dân tỉnh (đơn vị mẫu)" in offices
    assert "Trung tâm Phục vụ hành chính công tỉnh (đơn vị mẫu)" in offices


def test_the_receiving_agency_returns_a_handover_with_a_reason(client, login, clock):
    dossier = receive_at_centre(client, login)
    dossier = act(client, login("ttpv_motcua"), dossier, "forward")
    handover = pending_handover(client, login("motcua"), dossier)
    url = f"/api/v1/dossiers/{dossier['code']}/handovers/{handover['id']}/return"
    assert client.post(url, json={"version": dossier["version"]}, headers=login("motcua")).status_code == 422
    response = client.post(url, json={"version": dossier["version"], "reason": "Thiếu bản vẽ mặt bằng"},
                           headers=login("motcua"))
    assert response.status_code == 200, response.text
    back = response.json()
    assert back["status"] == "received" and back["holder_agency_code"] == CENTRE
    assert back["clock_state"] == "running"  # the clock keeps running across the hand-over
    again = client.post(url, json={"version": back["version"], "reason": "x"}, headers=login("motcua"))
    assert again.status_code == 409


def test_the_department_desk_still_receives_its_interagency_procedure(client, login):
    desk = login("motcua")
    body = intake_body(PROCEDURE, documents=required_documents(client, desk, PROCEDURE))
    response = client.post("/api/v1/dossiers", json=body, headers=desk)
    assert response.status_code == 201, response.text
    assert response.json()["code"].startswith(f"{DEPARTMENT}-")
    # Another province's desk does not serve it.
    assert client.post("/api/v1/dossiers", json=body, headers=login("other_desk")).status_code == 404


def test_budgets_of_an_interagency_procedure_add_up_to_the_limit(client, login):
    procedure = client.get(f"/api/v1/procedures/{PROCEDURE}", headers=login("admin")).json()
    assert procedure["parties"]["deciding_authority"] == PPC
    workflow = procedure["workflow"]
    workflow[0]["budget_hours"] -= 8  # 192 of 200 hours
    response = client.patch(f"/api/v1/procedures/{PROCEDURE}", json={"workflow": workflow}, headers=login("admin"))
    assert response.status_code == 422, response.text
    assert "192" in response.text and "200" in response.text


def test_opinions_in_parallel_with_a_deadline_record_no_answer(client, login, clock):
    """5. The Department asks Sở Nội vụ and the People's Committee at once; one answers, the other
    lets the deadline pass: "no answer" is recorded and the step may go on."""
    dossier = act(client, login("ttpv_motcua"), receive_at_centre(client, login), "forward")
    dossier = accept(client, login("motcua"), dossier, assignee="gdpt_chuyenvien")
    specialist, snv = login("gdpt_chuyenvien"), login("snv_motcua")
    assert get(client, snv, dossier).status_code == 404  # not asked yet
    response = client.post(f"/api/v1/dossiers/{dossier['code']}/opinions",
                           json={"version": dossier["version"], "agencies": ["000.00.10.H26", PPC],
                                 "question": "Đề nghị cho ý kiến về biên chế của trường", "due_hours": 16},
                           headers=specialist)
    assert response.status_code == 201, response.text
    asked = {o["agency"]["code"]: o for o in response.json()}
    assert set(asked) == {"000.00.10.H26", PPC} and all(o["status"] == "pending" for o in asked.values())
    assert get(client, snv, dossier).status_code == 200  # the consulted agency sees it from now on
    # Only the step holder asks; the consulted agency answers its own request only.
    dossier = get(client, specialist, dossier).json()
    blocked = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/forward",
                          json={"version": dossier["version"]}, headers=specialist)
    assert blocked.status_code == 409 and blocked.json()["code"] == "opinions_pending"
    assert client.post(f"/api/v1/dossiers/{dossier['code']}/opinions/{asked[PPC]['id']}/answer",
                       json={"agree": True, "answer": "Đồng ý"}, headers=snv).status_code == 404
    answered = client.post(f"/api/v1/dossiers/{dossier['code']}/opinions/{asked['000.00.10.H26']['id']}/answer",
                           json={"agree": True, "answer": "Thống nhất"}, headers=snv)
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "agreed" and answered.json()["counts_as_agreement"]
    clock.set(at(26, 9, 0))  # Mon 09:00 + 16 working hours (Tue 24/11 a holiday) = Thu 26/11 09:00
    rows = {o["agency"]["code"]: o for o in
            client.get(f"/api/v1/dossiers/{dossier['code']}/opinions", headers=specialist).json()}
    assert rows[PPC]["status"] == "no_answer" and not rows[PPC]["counts_as_agreement"]
    dossier = get(client, specialist, dossier).json()
    dossier = act(client, specialist, dossier, "forward", assignee="gdpt_truongphong")
    assert dossier["current_step"]["index"] == 1
