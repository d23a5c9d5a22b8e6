"""The citizen's clock on /tra-cuu (issue 17): days left, a pause, late with an apology."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from app.models import Dossier
from tests.conftest import VN
from tests.workflows.test_scenarios import act, receive

LOOKUP = "/api/v1/public/lookup"


def clock_of(client, dossier, secret):  # noqa: ANN001, ANN201
    response = client.post(LOOKUP, json={"code": dossier["code"], "secret": secret})
    assert response.status_code == 200, response.text
    return response.json()["clock"]


def test_days_left_then_paused_waiting_for_documents(client, login, clock):
    dossier = receive(client, login)  # Mon 23/11 09:00, 5 working days (24/11 is a holiday): Tue 1/12 09:00
    secret = dossier["lookup_secret"]
    running = clock_of(client, dossier, secret)
    assert running["state"] == "running" and running["working_days_left"] == 5.0
    assert running["text"] == "Còn 5 ngày làm việc đến hẹn trả kết quả (09:00 ngày 01/12/2026)."
    dossier = act(client, login("motcua"), dossier, "forward", assignee="chuyenvien")
    clock.advance(hours=1)
    act(client, login("chuyenvien"), dossier, "request_supplement", items=["Bản sao giấy khai sinh"])
    paused = clock_of(client, dossier, secret)
    assert paused == {"state": "paused", "working_days_left": None,
                      "text": "Tạm dừng từ 10:00 ngày 23/11/2026, chờ bổ sung hồ sơ "
                              "(thời hạn tiếp tục tính khi nhận đủ)."}
    page = client.post("/tra-cuu", data={"code": dossier["code"], "secret": secret})
    assert page.status_code == 200 and 'id="citizen-clock"' in page.text and "Tạm dừng từ 10:00" in page.text


def test_late_with_apology_and_new_appointment(client, login, clock, engine):
    dossier = receive(client, login)
    secret = dossier["lookup_secret"]
    act(client, login("motcua"), dossier, "forward", assignee="chuyenvien")
    clock.set(datetime(2026, 12, 2, 10, 0, tzinfo=VN))  # 1 working day and 1 hour after Tue 1/12 09:00
    late = clock_of(client, dossier, secret)
    assert late["state"] == "late"
    assert late["text"] == ("Trễ hạn 1 ngày 1 giờ làm việc so với ngày hẹn 09:00 ngày 01/12/2026; "
                            "cơ quan sẽ gửi thư xin lỗi và hẹn lại ngày trả kết quả.")
    with engine.begin() as conn:  # an issued apology (form 04) records the new appointment on the dossier
        conn.execute(update(Dossier).where(Dossier.code == dossier["code"]).values(
            new_due_at=datetime(2026, 12, 4, 17, 0, tzinfo=VN), apology_count=1))
    apologised = clock_of(client, dossier, secret)
    assert apologised["text"] == ("Trễ hạn 1 ngày 1 giờ làm việc so với ngày hẹn 09:00 ngày 01/12/2026, "
                                  "đã có thư xin lỗi, hẹn trả mới 17:00 ngày 04/12/2026.")
