"""Citizens' feedback (phản ánh, kiến nghị): sending, the agency's queue, assigning, answering on
time or late, the alerts of the feedback scan, the indicator `feedback_on_time`, on both databases.

The clock starts Monday 23/11/2026 09:00; Tuesday 24/11 is Vietnam Culture Day, so 10 working days
later is Tuesday 08/12 09:00, and due soon one working day before: Monday 07/12 09:00.
"""

from __future__ import annotations

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import text
from sqlmodel import select

from app.channels import messages
from app.feedback.models import FeedbackAlert
from app.feedback.scan import scan_feedback
from app.models import OutboxMessage, User
from app.sla.scheduler import run_feedback_scan
from tests.conftest import VN
from tests.workflows.test_scenarios import receive

DUE = datetime(2026, 12, 8, 9, 0, tzinfo=VN)
DUE_SOON = datetime(2026, 12, 7, 9, 0, tzinfo=VN)
GENERAL = {"full_name": "Trần Thị Bình", "phone": "0987654321", "procedure_code": "2.001914",
           "content": "Thủ tục yêu cầu nộp nhiều bản sao không cần thiết."}
VIETNAMESE = re.compile(r"[ăâđêôơưáàảãạéèẻẽẹíìỉĩịóòỏõọúùủũụýỳỷỹỵ]", re.IGNORECASE)


def lookup(client, dossier: dict) -> dict:  # noqa: ANN001
    response = client.post("/api/v1/public/lookup", json={"code": dossier["code"], "secret": dossier["lookup_secret"]})
    assert response.status_code == 200, response.text
    return response.json()


def dossier_feedback(client, dossier: dict, content: str = "Hồ sơ của tôi chưa được cập nhật tiến độ.") -> dict:  # noqa: ANN001
    token = lookup(client, dossier)["feedback"]["token"]
    response = client.post("/api/v1/public/feedback/dossier", json={"token": token, "content": content})
    assert response.status_code == 201, response.text
    return response.json()


def feedback_id(client, login, reference: str) -> int:  # noqa: ANN001
    items = client.get("/api/v1/feedback", headers=login("motcua")).json()["items"]
    return next(i["id"] for i in items if i["reference"] == reference)


def alert_rows(app) -> set[tuple[str, str, str]]:  # noqa: ANN001
    with app.state.sessionmaker() as s:
        rows = s.exec(select(FeedbackAlert.kind, FeedbackAlert.deadline_at, User.username)
                      .join(User, User.id == FeedbackAlert.recipient_id)).all()
    return {(kind, deadline.astimezone(VN).strftime("%d/%m %H:%M"), user) for kind, deadline, user in rows}


def test_dossier_feedback_answered_on_time_and_shown_to_the_citizen(client, login, app, clock):
    dossier = receive(client, login)
    receipt = dossier_feedback(client, dossier)
    assert receipt["reference"].startswith("PA-261123-")
    assert datetime.fromisoformat(receipt["due_at"]) == DUE  # 10 working days on the agency's calendar

    desk, specialist = login("motcua"), login("chuyenvien")
    fid = feedback_id(client, login, receipt["reference"])
    queued = client.get(f"/api/v1/feedback/{fid}", headers=desk).json()
    assert queued["status"] == "new" and queued["dossier_code"] == dossier["code"]
    assert queued["limit_days"] == 10 and queued["sender_name"] == "Nguyễn Văn An"
    assigned = client.post(f"/api/v1/feedback/{fid}/assign", json={"assignee": "chuyenvien"}, headers=desk)
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "chuyenvien"
    assert [i["id"] for i in client.get("/api/v1/feedback?mine=true", headers=specialist).json()["items"]] == [fid]
    # Another specialist than the assignee may not answer; the assignee does, once.
    clock.advance(hours=30)
    other = client.post(f"/api/v1/feedback/{fid}/answer", json={"answer": "Tôi trả lời thay."},
                        headers=login("gdpt_chuyenvien"))
    assert other.status_code == 403 and other.json()["code"] == "feedback_not_assignee"
    answer = "Hồ sơ đang được thẩm định, dự kiến trả kết quả đúng hẹn."
    answered = client.post(f"/api/v1/feedback/{fid}/answer", json={"answer": answer}, headers=specialist)
    assert answered.status_code == 200, answered.text
    assert answered.json()["answered_on_time"] is True and answered.json()["status"] == "answered"
    again = client.post(f"/api/v1/feedback/{fid}/answer", json={"answer": answer}, headers=specialist)
    assert again.status_code == 409 and again.json()["code"] == "feedback_answered"

    view = lookup(client, dossier)["feedback"]
    assert [(i["reference"], i["answer"], i["status"]) for i in view["items"]] == [
        (receipt["reference"], answer, "answered")]
    html = client.post("/tra-cuu", data={"code": dossier["code"], "secret": dossier["lookup_secret"]}).text
    assert answer in html and 'action="/tra-cuu/phan-anh"' in html and dossier["lookup_secret"] not in html
    with app.state.sessionmaker() as s:
        [sent] = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "feedback_answered")).all()
    assert sent.payload["to_phone"] == "0912345678" and answer in sent.payload["text"]
    assert VIETNAMESE.search(sent.payload["text"]) and dossier["code"] in sent.payload["text"]


def test_answer_on_time_and_overdue_feedback_make_the_indicator(client, login, app, clock):
    dossier = receive(client, login)
    on_time = dossier_feedback(client, dossier)
    late = client.post("/api/v1/public/feedback", json=GENERAL)
    assert late.status_code == 201, late.text
    desk = login("motcua")
    client.post(f"/api/v1/feedback/{feedback_id(client, login, on_time['reference'])}/answer",
                json={"answer": "Cơ quan đã kiểm tra và trả lời ông/bà."}, headers=desk)
    clock.set(datetime(2026, 12, 9, 9, 0, tzinfo=VN))  # both deadlines (08/12) have passed
    body = client.get("/api/v1/reports/indicators?period=2026-12", headers=login("baocao")).json()
    indicator = {i["code"]: i for i in body["indicators"]}["feedback_on_time"]
    assert (indicator["numerator"], indicator["denominator"], indicator["value"]) == (1, 2, 50.0)
    assert "feedback_on_time" not in {u["code"] for u in body["unsupported"]}
    november = client.get("/api/v1/reports/indicators?period=2026-11", headers=login("baocao")).json()
    assert {i["code"]: i for i in november["indicators"]}["feedback_on_time"]["denominator"] == 0
    overdue = client.get("/api/v1/feedback?overdue=true", headers=desk).json()["items"]
    assert [i["reference"] for i in overdue] == [late.json()["reference"]] and overdue[0]["overdue"] is True


def test_overdue_feedback_raises_due_soon_then_overdue_once(client, login, app, clock):
    late = client.post("/api/v1/public/feedback", json=GENERAL).json()
    fid = feedback_id(client, login, late["reference"])
    client.post(f"/api/v1/feedback/{fid}/assign", json={"assignee": "chuyenvien"}, headers=login("giamdoc"))
    factory, settings = app.state.sessionmaker, app.state.settings

    clock.set(DUE_SOON.replace(hour=8))
    assert scan_feedback(factory, now=clock.now(), settings=settings).alerts == 0
    clock.set(DUE_SOON)
    assert run_feedback_scan(factory, settings, clock).alerts == 2
    assert alert_rows(app) == {("feedback_due_soon", "08/12 09:00", "chuyenvien"),
                               ("feedback_due_soon", "08/12 09:00", "giamdoc")}
    clock.set(DUE.replace(minute=1))
    assert scan_feedback(factory, now=clock.now(), settings=settings).alerts == 2
    # A second replica, a restart: the rows are there already (uq_feedback_alerts_once), nothing repeats.
    with factory.begin() as s:
        s.execute(text("UPDATE feedback SET next_alert_at = due_soon_at"))
    assert scan_feedback(factory, now=clock.now(), settings=settings).alerts == 0
    assert scan_feedback(factory, now=clock.now(), settings=settings).feedback == 0  # nothing ahead: NULL
    assert alert_rows(app) == {(kind, "08/12 09:00", user) for kind in ("feedback_due_soon", "feedback_overdue")
                               for user in ("chuyenvien", "giamdoc")}
    mine = client.get("/api/v1/feedback/alerts", headers=login("chuyenvien")).json()
    assert {a["kind"] for a in mine} == {"feedback_due_soon", "feedback_overdue"}
    assert all(VIETNAMESE.search(a["message"]) and late["reference"] in a["message"] for a in mine)
    acked = client.post(f"/api/v1/feedback/alerts/{mine[0]['id']}/ack", headers=login("chuyenvien"))
    assert acked.status_code == 200 and acked.json()["acked_at"]
    assert client.post(f"/api/v1/feedback/alerts/{mine[0]['id']}/ack", headers=login("giamdoc")).status_code == 404
    agency = client.get("/api/v1/feedback/alerts?scope=agency", headers=login("giamdoc")).json()
    assert len(agency) == 4
    assert client.get("/api/v1/feedback/alerts?scope=agency", headers=login("motcua")).status_code == 403


def test_caught_up_scan_raises_only_the_overdue_alert(client, login, app, clock):
    client.post("/api/v1/public/feedback", json=GENERAL)
    clock.set(DUE.replace(day=10))
    assert run_feedback_scan(app.state.sessionmaker, app.state.settings, clock).alerts == 1
    assert alert_rows(app) == {("feedback_overdue", "08/12 09:00", "giamdoc")}


def test_answered_feedback_raises_nothing(client, login, app, clock):
    sent = client.post("/api/v1/public/feedback", json=GENERAL).json()
    client.post(f"/api/v1/feedback/{feedback_id(client, login, sent['reference'])}/answer",
                json={"answer": "Đã tiếp thu và sửa quy trình."}, headers=login("giamdoc"))
    clock.set(DUE.replace(day=10))
    assert run_feedback_scan(app.state.sessionmaker, app.state.settings, clock).feedback == 0
    assert alert_rows(app) == set()


def test_general_feedback_is_rate_limited_and_its_phone_sealed(client, login, app, clock, caplog):
    limit = app.state.settings.feedback_rate_per_address_per_hour
    caplog.set_level(logging.DEBUG)
    for _ in range(limit):
        assert client.post("/api/v1/public/feedback", json=GENERAL).status_code == 201
    refused = client.post("/api/v1/public/feedback", json=GENERAL)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.json()["code"] == "rate_limited" and VIETNAMESE.search(refused.json()["message"])
    page = client.post("/tra-cuu/gop-y", data=GENERAL)
    assert page.status_code == 429 and "quá nhiều" in page.text
    clock.advance(hours=1)
    assert client.post("/tra-cuu/gop-y", data=GENERAL).status_code == 201
    # At rest the sender's name and phone are sealed; they are in no log line.
    with app.state.sessionmaker() as s:
        raw = s.execute(text("SELECT contact FROM feedback")).scalars().all()
    assert raw and all(GENERAL["phone"] not in str(r) and "fernet" in str(r) for r in raw)
    assert GENERAL["phone"] not in caplog.text and GENERAL["full_name"] not in caplog.text
    staff = client.get("/api/v1/feedback", headers=login("motcua")).json()["items"]
    assert staff[0]["sender_phone"] == GENERAL["phone"] and staff[0]["procedure_code"] == "2.001914"


def test_bad_feedback_is_a_clear_4xx(client, login):
    no_subject = {k: v for k, v in GENERAL.items() if k != "procedure_code"}
    response = client.post("/api/v1/public/feedback", json=no_subject)
    assert response.status_code == 422 and response.json()["code"] == "feedback_subject_required"
    unknown = client.post("/api/v1/public/feedback", json=GENERAL | {"procedure_code": "9.999999"})
    assert unknown.status_code == 422 and unknown.json()["code"] == "procedure_not_found"
    assert client.post("/api/v1/public/feedback", json=GENERAL | {"phone": "abc"}).status_code == 422
    assert client.post("/api/v1/public/feedback", json=GENERAL | {"content": "x" * 2001}).status_code == 422
    forged = client.post("/api/v1/public/feedback/dossier", json={"token": "t.1.9999999999.AAAAAAAAAAAAAAAAAAAAAA",
                                                                   "content": "Nội dung phản ánh đủ dài."})
    assert forged.status_code == 404 and forged.json()["code"] == "link_expired"
    form = client.post("/tra-cuu/gop-y", data=GENERAL | {"phone": ""})
    assert form.status_code == 422 and "số điện thoại" in form.text


def test_other_agency_staff_get_404(client, login):
    sent = client.post("/api/v1/public/feedback", json=GENERAL).json()
    fid = feedback_id(client, login, sent["reference"])
    for user in ("other_desk", "other_leader", "other_specialist"):
        headers = login(user)
        assert client.get(f"/api/v1/feedback/{fid}", headers=headers).status_code == 404
        assert client.post(f"/api/v1/feedback/{fid}/answer", json={"answer": "Không phải của tôi."},
                           headers=headers).status_code == 404
        assert client.get("/api/v1/feedback", headers=headers).json()["items"] == []
    assert client.post(f"/api/v1/feedback/{fid}/assign", json={"assignee": "other_specialist"},
                       headers=login("other_leader")).status_code == 404
    # Nor may the own agency hand it to another agency's officer.
    wrong = client.post(f"/api/v1/feedback/{fid}/assign", json={"assignee": "other_specialist"}, headers=login("motcua"))
    assert wrong.status_code == 422 and wrong.json()["code"] == "assignee_invalid"


def test_feedback_texts_are_vietnamese():
    subject, body = messages.feedback_answered(reference="PA-261123-ABCDEF", answer="Đã xử lý.",
                                               dossier_code="000.00.17.H26-261123-0001")
    assert VIETNAMESE.search(subject) and VIETNAMESE.search(body)
    for kind in ("feedback_due_soon", "feedback_overdue"):
        line = messages.feedback_alert_text(kind, reference="PA-261123-ABCDEF", subject="Thủ tục A", deadline=DUE)
        assert VIETNAMESE.search(line) and "08/12/2026" in line and VIETNAMESE.search(messages.ALERT_LABELS[kind])


def test_replicas_raise_each_alert_once(client, login, app, clock, engine):
    """Scheduler replicas (threads calling the job body at once) against one PostgreSQL: the advisory
    lock and ON CONFLICT DO NOTHING leave one alert per feedback and recipient. SQLite has one writer
    (a single replica by design): the same run with one replica."""
    for _ in range(3):
        assert client.post("/api/v1/public/feedback", json=GENERAL).status_code == 201
    replicas = 3 if engine.dialect.name == "postgresql" else 1
    barrier, errors, raised = threading.Barrier(replicas), [], []
    clock.set(DUE.replace(minute=1))

    def replica() -> None:
        try:
            barrier.wait()
            raised.append(run_feedback_scan(app.state.sessionmaker, app.state.settings, clock).alerts)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    with ThreadPoolExecutor(max_workers=replicas) as pool:
        for future in [pool.submit(replica) for _ in range(replicas)]:
            future.result()
    assert not errors, errors
    assert sum(raised) == 3
    with app.state.sessionmaker() as s:
        assert len(s.exec(select(FeedbackAlert.id)).all()) == 3  # overdue × 3, to the Department's leader
