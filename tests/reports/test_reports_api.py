"""Reports through the API, with dossiers driven by the real workflow (desk to result)."""

from __future__ import annotations

from datetime import datetime

from tests.conftest import VN
from tests.reports.factory import COUNTS  # all the counts of the periodic report
from tests.workflows.test_scenarios import PROCEDURE, act, intake_body, ready, receive


def resolve(client, login, dossier):
    desk, specialist, head, director = (login(u) for u in ("motcua", "chuyenvien", "truongphong", "giamdoc"))
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    dossier = act(client, specialist, dossier, "forward")
    dossier = act(client, head, dossier, "forward")
    return ready(client, director, login("motcua"), dossier, result_reference="12/QĐ-SGDĐT")


def periodic(client, login, user="baocao", **params):
    response = client.get("/api/v1/reports/periodic", params=params, headers=login(user))
    assert response.status_code == 200, response.text
    return response.json()


def reconciles(c):
    return c["carried_over"] + c["received_total"] == c["resolved_total"] + c["in_progress_total"] + \
        c["withdrawn_or_refused"]


def _november_book(client, login):
    """Monday 23/11/2026: five dossiers at the desk of the demo Department."""
    desk = login("motcua")
    d1 = resolve(client, login, receive(client, login))  # resolved the same day: early
    act(client, desk, d1, "return_result", method="postal", tracking_number="EMS000111VN")
    postal = receive(client, login, channel="postal", postal={"tracking_number": "EMS000222VN"})
    refused = client.post("/api/v1/dossiers", json=intake_body(decision="refuse", reason="Không thuộc thẩm quyền"),
                          headers=desk).json()
    asked = client.post("/api/v1/dossiers", json=intake_body(decision="request_supplement"), headers=desk).json()
    withdrawn = act(client, desk, receive(client, login), "withdraw", reason="Người nộp xin rút")
    return {"resolved": d1, "postal": postal, "refused": refused, "asked": asked, "withdrawn": withdrawn}


def test_periodic_report_follows_the_lifecycle(client, login, clock):
    book = _november_book(client, login)
    report = periodic(client, login, period="2026-11")
    assert report["period"]["label"] == "Tháng 11 năm 2026"
    assert report["period"]["start"] == "2026-11-01T00:00:00+07:00"  # times answer in Vietnamese time
    assert report["agency"]["code"] == "000.00.17.H26"
    [row] = report["rows"]
    assert row["procedure_code"] == PROCEDURE and row["procedure_name"]
    expected = dict.fromkeys(COUNTS, 0) | {
        # The desk supplement request (no reception yet) is not in the books; the refusal at the desk
        # (never received) is counted apart, not as "new received".
        "new_direct": 2, "new_postal": 1, "received_total": 3, "resolved_total": 1, "resolved_early": 1,
        "in_progress_total": 1, "in_progress_within": 1, "withdrawn_or_refused": 1, "returned_by_post": 1,
        "not_received_total": 1, "refused_at_reception": 1}
    assert {k: row[k] for k in COUNTS} == expected
    assert report["totals"] == expected and reconciles(expected)

    # December 10th: the supplement arrives (the dossier enters the books), the postal one is overdue.
    clock.set(datetime(2026, 12, 10, 9, 0, tzinfo=VN))
    act(client, login("motcua"), book["asked"], "supplement_received")
    december = periodic(client, login, period="2026-12")["totals"]
    assert december["carried_over"] == 1 and december["received_total"] == 1
    assert december["in_progress_total"] == 2 and december["in_progress_overdue"] == 1
    assert december["in_progress_within"] == 1 and reconciles(december)
    # November is unchanged by what happened later; the quarter spans both months.
    assert periodic(client, login, period="2026-11")["totals"] == expected
    quarter = periodic(client, login, period="2026-Q4")["totals"]
    assert quarter["carried_over"] == 0 and quarter["received_total"] == 4 and quarter["in_progress_total"] == 2
    assert quarter["not_received_total"] == 1
    assert reconciles(quarter)
    # from/to spelling of the same quarter gives the same numbers.
    assert periodic(client, login, **{"from": "2026-10-01", "to": "2026-12-31"})["totals"] == quarter


def test_awaiting_supplement_during_processing(client, login, clock):
    dossier = receive(client, login)
    desk, specialist = login("motcua"), login("chuyenvien")
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    act(client, specialist, dossier, "request_supplement", items=["Bản sao giấy khai sinh"])
    totals = periodic(client, login, period="2026-11")["totals"]
    assert totals["awaiting_supplement"] == 1 and totals["in_progress_total"] == 1
    # Paused before its appointment: not overdue, even when the report is read long after.
    clock.set(datetime(2027, 2, 1, 9, 0, tzinfo=VN))
    totals = periodic(client, login, period="2027-01")["totals"]
    assert totals["carried_over"] == 1 and totals["awaiting_supplement"] == 1
    assert totals["in_progress_overdue"] == 0


def test_roles_scope_and_bad_input(client, login):
    receive(client, login)
    assert client.get("/api/v1/reports/periodic", params={"period": "2026-11"},
                      headers=login("motcua")).status_code == 403
    assert client.get("/api/v1/reports/periodic", params={"period": "2026-11"}).status_code == 401
    assert periodic(client, login, "giamdoc", period="2026-11")["totals"]["received_total"] == 1
    other = periodic(client, login, "other_reporter", period="2026-11")
    assert other["rows"] == [] and other["totals"]["received_total"] == 0
    for params in ({"period": "2026-13"}, {"period": "abc"}, {}, {"from": "2026-02-01", "to": "2026-01-01"},
                   {"period": "2026-Q3", "from": "2026-01-01"}, {"from": "2026-02-30", "to": "2026-03-01"}):
        response = client.get("/api/v1/reports/periodic", params=params, headers=login("baocao"))
        assert response.status_code == 422, (params, response.text)
        assert response.json()["message"]
    missing = client.get("/api/v1/reports/periodic", params={"period": "2026-11", "procedure_code": "9.999999"},
                         headers=login("baocao"))
    assert missing.status_code == 404 and missing.json()["code"] == "procedure_not_found"
    # Filters: a procedure of the agency, a division by its short code.
    assert periodic(client, login, period="2026-11", procedure_code=PROCEDURE)["totals"]["received_total"] == 1
    assert periodic(client, login, period="2026-11", procedure_code="1.005092")["rows"] == []
    assert periodic(client, login, period="2026-11", division="QLCL")["filters"] == {
        "division": "000.00.17.H26.QLCL"}
    assert periodic(client, login, period="2026-11", division="GDPT")["totals"]["received_total"] == 0
    assert client.get("/api/v1/reports/periodic", params={"period": "2026-11", "division": "XYZ"},
                      headers=login("baocao")).status_code == 404


def test_on_time_rates_both_conventions(client, login, clock):
    resolve(client, login, receive(client, login))  # early
    late = receive(client, login)
    receive(client, login)  # stays open
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=VN))  # appointment was 1/12 09:00
    resolve(client, login, late)
    headers = login("baocao")
    body = client.get("/api/v1/reports/on-time", params={"period": "2026-Q4", "group_by": "agency"},
                      headers=headers).json()
    [group] = body["groups"]
    assert (group["resolved_total"], group["resolved_early"], group["resolved_late"]) == (2, 1, 1)
    assert group["in_progress_overdue"] == 1 and group["received_total"] == 3
    assert group["resolved_only"]["value"] == 50.0
    assert group["resolved_only"]["name"].startswith("Tỷ lệ đúng hạn trên số hồ sơ đã giải quyết")
    assert "÷" in group["resolved_only"]["formula"]
    # strict: 100% − (1 late + 1 overdue) / 3 = 33.33%
    assert group["strict"]["value"] == 33.33 and "Gia Lai" in group["strict"]["name"]
    assert {c["convention"] for c in body["conventions"]} == {"resolved_only", "strict"}
    assert body["total"]["strict"]["value"] == 33.33

    by_channel = client.get("/api/v1/reports/on-time", params={"period": "2026-Q4", "group_by": "channel"},
                            headers=headers).json()["groups"]
    assert [g["key"] for g in by_channel] == ["direct", "online", "postal"]
    online = by_channel[1]
    assert online["resolved_total"] == 0 and online["resolved_only"]["value"] is None
    assert online["strict"]["value"] is None  # no dossier: null, not 0
    by_division = client.get("/api/v1/reports/on-time", params={"period": "2026-Q4", "group_by": "division"},
                             headers=headers).json()["groups"]
    assert [g["key"] for g in by_division] == ["000.00.17.H26.QLCL"]
    by_procedure = client.get("/api/v1/reports/on-time", params={"period": "2026-Q4", "group_by": "procedure"},
                              headers=headers).json()["groups"]
    assert [g["key"] for g in by_procedure] == [PROCEDURE]
    assert client.get("/api/v1/reports/on-time", params={"period": "2026-Q4", "group_by": "phase"},
                      headers=headers).status_code == 422
    months = client.get("/api/v1/reports/monthly-on-time", params={"months": 12}, headers=headers).json()["months"]
    assert len(months) == 12 and months[-1]["month"] == "2026-12" and months[0]["month"] == "2026-01"
    assert months[-2]["resolved_early"] == 1 and months[-2]["resolved_only"] == 100.0
    assert months[-1]["resolved_late"] == 1 and months[-1]["resolved_only"] == 0.0
    assert months[0]["resolved_only"] is None and months[0]["strict"] is None


def test_indicators(client, login, app, clock):
    from app.db import transaction
    from app.reports.history import fill_working_minutes

    desk = login("motcua")
    d1 = receive(client, login)
    clock.advance(hours=3)  # 09:00 → 12:00 Monday: 150 working minutes (lunch 11:30–13:00)
    d1 = resolve(client, login, d1)
    act(client, desk, d1, "return_result", method="postal", tracking_number="EMS000333VN")
    receive(client, login, channel="postal", postal={"tracking_number": "EMS000444VN"})
    body = client.get("/api/v1/reports/indicators", params={"period": "2026-11"}, headers=login("giamdoc")).json()
    values = {i["code"]: i for i in body["indicators"]}
    assert values["on_time"]["value"] == 100.0
    assert values["postal_received_share"]["value"] == 50.0
    assert values["postal_returned_share"]["value"] == 100.0
    assert values["online_share"]["value"] == 0.0 and values["apologies"]["value"] == 0
    assert values["synced_to_portal"]["denominator"] == 2
    assert body["channels"] == {"direct": 1, "online": 0, "postal": 1}
    [timing] = body["resolution_time"]
    assert timing["procedure_code"] == PROCEDURE and timing["resolved"] == 1
    assert timing["avg_calendar_days"] == round(3 / 24, 2)  # the labelled calendar-day approximation
    assert "feedback_on_time" not in {u["code"] for u in body["unsupported"]}  # computed (app/feedback)
    assert "paid_online" not in {u["code"] for u in body["unsupported"]}  # computed (app/payments)
    assert values["paid_online"]["denominator"] == 0 and values["paid_online"]["value"] is None
    assert values["procedures_online"]["denominator"] == 27  # 22 + 5 inter-agency (issue 14)
    # Resolving through the workflow stores the working time at once; the backfill finds nothing left.
    assert timing["with_working_time"] == 1 and timing["avg_working_days"] == round(150 / 480, 2)
    with transaction(app.state.sessionmaker) as session:
        assert fill_working_minutes(session, settings=app.state.settings) == 0
    average = {i["code"]: i for i in body["indicators"]}["avg_resolution_working_days"]
    assert average["unit"] == "ngày làm việc" and average["numerator"] == average["denominator"] == 1

