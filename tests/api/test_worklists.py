"""Issue 16, work lists: my queue and its counts, search, the directory of assignees; both databases."""

from __future__ import annotations

from datetime import datetime

from app.db import transaction
from app.effects import Context
from app.workflows import intake
from app.workflows.schemas import OnlineSubmissionIn
from tests.conftest import VN
from tests.workflows.test_interagency import accept, receive_at_centre
from tests.workflows.test_scenarios import PROCEDURE, act, receive

# Everyone who may hold a dossier of the demo province (not the admin, the reporters).
STAFF = ("motcua", "chuyenvien", "truongphong", "giamdoc", "buudien", "ttpv_motcua", "ttpv_lanhdao", "ubnd_vanthu",
         "ubnd_chuyenvien", "ubnd_chutich", "snv_motcua", "gdpt_chuyenvien", "gdpt_truongphong", "other_desk",
         "other_specialist", "other_leader")


def queue(client, headers, name="mine", **params) -> dict[str, str]:  # noqa: ANN001
    """{code: bucket} of the caller's queue."""
    response = client.get("/api/v1/dossiers", params={"queue": name, "limit": 200, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return {item["code"]: item["queue"] for item in response.json()["items"]}


def holders(client, login, dossier) -> dict[str, str]:  # noqa: ANN001
    """{username: bucket} of everyone whose queue holds the dossier; each of them can act on it."""
    out = {}
    for username in STAFF:
        bucket = queue(client, login(username)).get(dossier["code"])
        if bucket is None:
            continue
        out[username] = bucket
        if bucket != "handovers":  # a hand-over is accepted on its own route, not by an action
            shown = client.get(f"/api/v1/dossiers/{dossier['code']}", headers=login(username)).json()
            assert shown["allowed_actions"], (username, bucket, dossier["status"])
    return out


def online_submission(client, login, app, clock) -> str:  # noqa: ANN001
    procedure = client.get(f"/api/v1/procedures/{PROCEDURE}", headers=login("motcua")).json()
    submission = OnlineSubmissionIn(
        portal_id="DVC-2026-000042", procedure_code=PROCEDURE, agency_code="000.00.17.H26",
        applicant={"full_name": "Đặng Thị Đào", "id_number": "001199000222", "phone": "0987654322"},
        submitted_at=datetime(2026, 11, 22, 21, 0, tzinfo=VN), online_level="full",
        documents=[{"name": d["name"]} for d in procedure["required_documents"]])
    with transaction(app.state.sessionmaker) as session:
        dossier, _ = intake.submit_online(session, submission, Context(None, clock.now(), app.state.settings))
        return dossier.code


def test_every_open_state_waits_in_someone_s_queue(client, login, app, clock):
    desk, specialist, head, director = (login(u) for u in ("motcua", "chuyenvien", "truongphong", "giamdoc"))
    # An online submission to check: the desk.
    code = online_submission(client, login, app, clock)
    assert holders(client, login, {"code": code}) == {"motcua": "to_check"}

    # Received at the desk: the desk forwards it.
    dossier = receive(client, login)
    assert holders(client, login, dossier) == {"motcua": "to_forward"}
    # Unassigned division step: the division's specialist (not another division's), nobody else.
    dossier = act(client, desk, dossier, "forward")
    assert holders(client, login, dossier) == {"chuyenvien": "unassigned"}
    # Waiting for the applicant (a supplement, a fee): the desk records its arrival.
    waiting = act(client, specialist, dossier, "request_supplement", items=["Bản sao bằng tốt nghiệp"])
    assert holders(client, login, waiting) == {"motcua": "waiting_applicant"}
    dossier = act(client, desk, waiting, "supplement_received")
    paying = act(client, specialist, dossier, "request_payment", fee=50_000)
    assert holders(client, login, paying) == {"motcua": "waiting_applicant"}
    dossier = act(client, desk, paying, "payment_confirmed")
    # Division head's step, unassigned; then sent back without an assignee: the specialists again.
    dossier = act(client, specialist, dossier, "forward")
    assert holders(client, login, dossier) == {"truongphong": "unassigned"}
    dossier = act(client, head, dossier, "send_back", reason="Thiếu đối chiếu sổ gốc")
    assert holders(client, login, dossier) == {"chuyenvien": "unassigned"}
    # Assigned: only the assignee.
    dossier = act(client, specialist, dossier, "forward", assignee="truongphong")
    assert holders(client, login, dossier) == {"truongphong": "assigned"}
    # The Department leaders' step: the Deputy Director, never the division head.
    dossier = act(client, head, dossier, "forward")
    assert holders(client, login, dossier) == {"giamdoc": "unassigned"}
    # The desk's own step (the result at the desk), then the result to return.
    dossier = act(client, director, dossier, "forward", result_reference="12/QĐ-SGDĐT")
    assert holders(client, login, dossier) == {"motcua": "unassigned"}
    dossier = act(client, desk, dossier, "resolve")
    assert holders(client, login, dossier) == {"motcua": "to_return"}


def test_inter_agency_hand_overs_wait_for_the_receiving_office(client, login, app, clock):
    centre_desk, dept_desk, ppc_office = login("ttpv_motcua"), login("motcua"), login("ubnd_vanthu")
    dossier = receive_at_centre(client, login)
    assert holders(client, login, dossier) == {"ttpv_motcua": "to_forward"}
    dossier = act(client, centre_desk, dossier, "forward")
    assert holders(client, login, dossier) == {"motcua": "handovers"}
    dossier = accept(client, dept_desk, dossier)
    assert holders(client, login, dossier) == {"gdpt_chuyenvien": "unassigned"}
    specialist, head, director = login("gdpt_chuyenvien"), login("gdpt_truongphong"), login("giamdoc")
    dossier = act(client, specialist, dossier, "forward")
    dossier = act(client, head, dossier, "forward")
    dossier = act(client, director, dossier, "forward")  # to the People's Committee
    assert holders(client, login, dossier) == {"ubnd_vanthu": "handovers"}
    dossier = accept(client, ppc_office, dossier)
    assert holders(client, login, dossier) == {"ubnd_chuyenvien": "unassigned"}
    dossier = act(client, login("ubnd_chuyenvien"), dossier, "forward")
    assert holders(client, login, dossier) == {"ubnd_chutich": "unassigned"}
    dossier = act(client, login("ubnd_chutich"), dossier, "forward", result_reference="99/QĐ-UBND")
    assert holders(client, login, dossier) == {"ttpv_motcua": "handovers"}
    dossier = accept(client, centre_desk, dossier)
    assert holders(client, login, dossier) == {"ttpv_motcua": "unassigned"}


def test_queue_counts_match_the_lists(client, login, app, clock):
    desk, specialist = login("motcua"), login("chuyenvien")
    online_submission(client, login, app, clock)
    receive(client, login)
    forwarded = act(client, desk, receive(client, login), "forward", assignee="chuyenvien")
    act(client, desk, receive(client, login), "forward")
    act(client, specialist, forwarded, "request_supplement", items=["Ảnh 3x4"])
    for headers in (desk, specialist, login("giamdoc"), login("buudien")):
        counts = client.get("/api/v1/dossiers/queue-counts", headers=headers).json()
        mine = queue(client, headers)
        assert counts["total"] == len(mine)
        for bucket in counts["buckets"]:
            assert bucket["label"]
            assert bucket["count"] == len(queue(client, headers, bucket["key"])) \
                == sum(1 for b in mine.values() if b == bucket["key"])
    by_key = {b["key"]: b["count"] for b in client.get("/api/v1/dossiers/queue-counts", headers=desk).json()["buckets"]}
    assert by_key["to_check"] == 1 and by_key["to_forward"] == 1 and by_key["waiting_applicant"] == 1
    assert {b["key"] for b in client.get("/api/v1/dossiers/queue-counts",
                                         headers=login("baocao")).json()["buckets"]} == set()


def test_search_by_code_name_with_or_without_diacritics_identity_and_phone(client, login, app, clock):
    desk = login("motcua")
    an = receive(client, login)  # Nguyễn Văn An, 001099012345, 0912345678
    dao_code = online_submission(client, login, app, clock)  # Đặng Thị Đào, 001199000222, 0987654322

    def found(q: str, headers=desk) -> set[str]:  # noqa: ANN001
        response = client.get("/api/v1/dossiers", params={"q": q}, headers=headers)
        assert response.status_code == 200, response.text
        return {item["code"] for item in response.json()["items"]}

    for typed in ("nguyen van an", "Nguyễn Văn An", "NGUYEN  VAN AN", "văn an", an["code"], an["code"].lower(),
                  "001099012345", "0912345678", "+84912345678", "0912 345 678"):
        assert found(typed) == {an["code"]}, typed
    for typed in ("dang thi dao", "Đặng Thị Đào", "đặng", "DANG THI", "001199000222", "0987654322"):
        assert found(typed) == {dao_code}, typed
    assert found("nguyen van b") == set()
    assert found("%") == set() and found("_") == set()  # wildcards are text, not patterns
    assert found("an", headers=login("other_desk")) == set()  # another agency's dossiers stay hidden
    # Search composes with the other filters and the queue.
    assert found("an") == {an["code"], dao_code}  # a part of a name: "an" in "Văn An" and "Đặng"
    response = client.get("/api/v1/dossiers", params={"q": "nguyen", "queue": "to_forward"}, headers=desk)
    assert [i["code"] for i in response.json()["items"]] == [an["code"]]


def test_unknown_query_parameters_are_refused(client, login):
    desk = login("motcua")
    for path in ("/api/v1/dossiers", "/api/v1/dossiers/queue-counts", "/api/v1/users"):
        response = client.get(path, params={"stauts": "received"}, headers=desk)
        assert response.status_code == 422, path
        body = response.json()
        assert body["code"] == "unknown_query_parameter" and body["detail"]["unknown"] == ["stauts"]
        assert body["message"].startswith("Tham số")
    assert client.get("/api/v1/dossiers", params={"status": "received"}, headers=desk).status_code == 200


def test_rows_and_the_dossier_name_the_assignee(client, login):
    desk = login("motcua")
    dossier = act(client, desk, receive(client, login), "forward", assignee="chuyenvien")
    assert (dossier["assignee"], dossier["assignee_name"], dossier["assignee_title"]) == \
        ("chuyenvien", "Trần Văn Minh", "Chuyên viên")
    [row] = client.get("/api/v1/dossiers", headers=desk).json()["items"]
    assert "assignee_id" not in row
    assert (row["assignee"], row["assignee_name"], row["assignee_title"]) == \
        ("chuyenvien", "Trần Văn Minh", "Chuyên viên")
    assert row["step_name"] == "Chuyên viên thẩm định hồ sơ"


def test_directory_lists_the_agency_s_staff_for_choosing_an_assignee(client, login):
    response = client.get("/api/v1/users", headers=login("motcua"))
    assert response.status_code == 200, response.text
    users = {u["username"]: u for u in response.json()}
    assert {"motcua", "chuyenvien", "truongphong", "giamdoc", "gdpt_chuyenvien"} <= set(users)
    assert not {"ttpv_motcua", "ubnd_chutich", "other_desk"} & set(users)  # other agencies stay out
    minh = users["chuyenvien"]
    assert (minh["full_name"], minh["title"], minh["roles"], minh["is_active"]) == \
        ("Trần Văn Minh", "Chuyên viên", ["specialist"], True)
    assert minh["division_code"] == "000.00.17.H26.QLCL" and minh["division_name"].startswith("Phòng Khảo thí")
    assert users["giamdoc"]["division_code"] is None
    assert not {"email", "phone", "password_hash"} & set(minh)
    specialists = client.get("/api/v1/users", params={"role": "specialist", "division": "000.00.17.H26.QLCL"},
                             headers=login("truongphong")).json()
    assert [u["username"] for u in specialists] == ["chuyenvien"]
    assert client.get("/api/v1/users", headers=login("other_desk")).json() != [] and \
        "motcua" not in {u["username"] for u in client.get("/api/v1/users", headers=login("other_desk")).json()}


def test_the_admin_sees_the_calendar_they_edit(client, login):
    admin = login("admin")
    added = client.post("/api/v1/calendar/overrides", headers=admin,
                        json={"day": "2026-12-05", "is_working": True, "reason": "Làm bù ngày 31/12"})
    assert added.status_code == 201, added.text
    assert [o["day"] for o in client.get("/api/v1/calendar/overrides", headers=admin).json()] == ["2026-12-05"]
    days = client.get("/api/v1/calendar/days", params={"start": "2026-12-04", "end": "2026-12-06"}, headers=admin)
    assert days.status_code == 200, days.text
    assert [d["is_working"] for d in days.json()] == [True, True, False]  # Saturday 5/12 now a working day


def test_the_list_narrows_to_a_division(client, login):
    """Issue 16 item 9: the dashboard's overdue and due-soon lists follow its "Phạm vi" (division)."""
    head = login("truongphong")
    division = client.get("/api/v1/auth/me", headers=head).json()["division_code"]
    dossier = act(client, login("motcua"), receive(client, login), "forward")  # to the division's step
    listed = client.get("/api/v1/dossiers", params={"division": division}, headers=head)
    assert listed.status_code == 200 and dossier["code"] in {i["code"] for i in listed.json()["items"]}
    elsewhere = client.get("/api/v1/auth/me", headers=login("gdpt_truongphong")).json()["division_code"]
    assert elsewhere != division
    listed = client.get("/api/v1/dossiers", params={"division": elsewhere}, headers=head)
    assert dossier["code"] not in {i["code"] for i in listed.json()["items"]}
    other = client.get("/api/v1/dossiers", params={"division": "KHONG-CO"}, headers=head)
    assert other.status_code == 404 and other.json()["code"] == "division_not_found"


def test_a_deactivated_officer_s_dossiers_go_back_to_whoever_may_take_the_step(client, login, app, clock):
    from app.auth.service import create_user, set_active

    with transaction(app.state.sessionmaker) as session:
        create_user(session, username="chuyenvien_moi", password="Qlcl-2026-chuyenvien", full_name="Ngô Văn Mới",
                    agency_code="000.00.17.H26.QLCL", roles=["specialist"], settings=app.state.settings,
                    now=clock.now())
    newcomer = login("chuyenvien_moi", "Qlcl-2026-chuyenvien")
    dossier = act(client, login("motcua"), receive(client, login), "forward", assignee="chuyenvien")
    assert queue(client, login("chuyenvien")) == {dossier["code"]: "assigned"}
    assert dossier["code"] not in queue(client, newcomer)
    refused = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/forward",
                          json={"version": dossier["version"]}, headers=newcomer)
    assert refused.status_code in (403, 409), refused.text

    with transaction(app.state.sessionmaker) as session:
        set_active(session, username="chuyenvien", active=False)
    assert queue(client, newcomer) == {dossier["code"]: "unassigned"}
    counts = client.get("/api/v1/dossiers/queue-counts", headers=newcomer).json()
    assert counts["total"] == 1
    dossier = act(client, newcomer, dossier, "forward")
    assert queue(client, login("truongphong")).get(dossier["code"]) == "unassigned"  # the next step, as always
