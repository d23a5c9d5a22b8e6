"""Every message a person reads is Vietnamese (issue 16, item 6): no internal code — a snake_case
identifier or one of the vocabulary's English values — in an error's `message`, in the labels, on
the public /quy-trinh page or in the deadline explanation; and one name for the secret."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser

from app.models import DossierStatus, Role
from app.statuses import (ACTION_LABELS, CLOCK_LABELS, OTHER_EVENT_LABELS, ROLE_NAMES, STATUS_LABELS, Action)
from app.workflows.actions import illegal_move_message
from app.workflows.transitions import ClockEffect
from tests.conftest import VN
from tests.workflows.test_scenarios import act, intake_body, ready, receive

SNAKE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")
CODES = {*Action, *DossierStatus, *Role, *ClockEffect} - {"none"}
CODE_WORD = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, CODES), key=len, reverse=True)) + r")\b")


def assert_vietnamese(text: str, where: str = "") -> None:
    assert not SNAKE.search(text), (where, SNAKE.search(text)[0], text)
    assert not CODE_WORD.search(text), (where, CODE_WORD.search(text)[0], text)


def test_every_label_and_every_illegal_move_message_is_free_of_codes():
    for labels in (STATUS_LABELS, ACTION_LABELS, ROLE_NAMES, CLOCK_LABELS, OTHER_EVENT_LABELS):
        for key, label in labels.items():
            assert_vietnamese(label, key)
    assert set(STATUS_LABELS) == set(DossierStatus) and set(ACTION_LABELS) == set(Action)
    assert set(CLOCK_LABELS) == {c.value for c in ClockEffect} and set(ROLE_NAMES) == set(Role)
    for action, status in itertools.product(Action, DossierStatus):
        message = illegal_move_message(action, status)
        assert_vietnamese(message, (action, status))
        assert ACTION_LABELS[action].lower() in message and STATUS_LABELS[status].lower() in message


def _dossiers_in_every_status(client, login):  # noqa: ANN001, ANN202
    desk, specialist, director = login("motcua"), login("chuyenvien"), login("giamdoc")
    out = {"received": receive(client, login)}
    out["refused"] = client.post("/api/v1/dossiers", json=intake_body(decision="refuse", reason="Không thuộc thẩm quyền"),
                                 headers=desk).json()
    out["awaiting_supplement"] = client.post("/api/v1/dossiers", headers=desk, json=intake_body(
        decision="request_supplement", missing_items=["Bản sao văn bằng"])).json()
    processing = act(client, desk, receive(client, login), "forward", assignee="chuyenvien")
    out["processing"] = processing
    out["awaiting_payment"] = act(client, specialist, act(client, desk, receive(client, login), "forward",
                                                          assignee="chuyenvien"), "request_payment", fee=50_000)
    out["withdrawn"] = act(client, desk, receive(client, login), "withdraw", reason="Người nộp xin rút")
    out["stopped"] = act(client, director, act(client, desk, receive(client, login), "forward", assignee="chuyenvien"),
                         "stop", reason="Không còn đối tượng")
    signed = act(client, login("truongphong"), act(client, specialist, act(client, desk, receive(client, login),
                 "forward", assignee="chuyenvien"), "forward"), "forward")
    out["resolved"] = ready(client, director, desk, signed, result_reference="12/QĐ-SGDĐT")
    out["returned"] = act(client, desk, ready(client, director, desk, act(client, login("truongphong"), act(
        client, specialist, act(client, desk, receive(client, login), "forward", assignee="chuyenvien"), "forward"),
        "forward"), result_reference="13/QĐ-SGDĐT"), "return_result", method="desk", receiver_name="Nguyễn Văn An")
    return out


def test_every_refused_move_in_every_status_answers_in_vietnamese(client, login):
    dossiers = _dossiers_in_every_status(client, login)
    assert {d["status"] for d in dossiers.values()} == set(DossierStatus) - {DossierStatus.submitted}
    seen = set()
    for (status, dossier), user in itertools.product(dossiers.items(), ("motcua", "chuyenvien", "truongphong",
                                                                        "buudien", "baocao")):
        for action in [*Action, "not_an_action"]:
            if action in dossier["allowed_actions"] and user == "motcua":
                continue
            response = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/{action}",
                                   json={"version": dossier["version"]}, headers=login(user))
            if response.status_code < 400:
                continue
            body = response.json()
            assert_vietnamese(body["message"], (status, action, user, body["code"]))
            seen.add(body["code"])
    # The walk met the table's refusals, the roles', the steps' and the leaders' rules.
    assert {"illegal_transition", "not_permitted", "step_not_allowed", "agency_leader_required"} <= seen, seen


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def test_the_public_workflow_page_shows_labels_not_codes(client):
    page = client.get("/quy-trinh")
    assert page.status_code == 200
    parser = _Text()
    parser.feed(page.text)
    text = " ".join(parser.parts)
    assert_vietnamese(text, "/quy-trinh")
    for label in (*STATUS_LABELS.values(), *ACTION_LABELS.values(), CLOCK_LABELS["pause"]):
        assert label in text
    assert "<code>" not in page.text


def test_the_deadline_explanation_says_each_thing_once(client, login, clock):
    desk = login("motcua")
    dossier = act(client, desk, receive(client, login), "forward", assignee="chuyenvien")
    dossier = act(client, login("chuyenvien"), dossier, "request_supplement", items=["Bản sao học bạ"])
    deadline = client.get(f"/api/v1/dossiers/{dossier['code']}/deadline", headers=desk).json()
    text = deadline["explanation"]
    assert_vietnamese(text, "explanation")
    # Received Monday 23/11 09:00; Tuesday 24/11 is Vietnam Culture Day, then the weekend.
    assert text.startswith("Thời hạn 5 ngày làm việc (40 giờ làm việc), tính từ 09:00 23/11/2026; "
                           "trong giờ làm việc 07:30–11:30, 13:00–17:00; "
                           "không tính 3 ngày nghỉ: 24/11 (Ngày Văn hóa Việt Nam), 28/11 (Thứ Bảy), 29/11 (Chủ nhật); "
                           "hẹn trả 09:00 01/12/2026."), text
    assert "đang tạm dừng từ 09:00 23/11/2026 (chờ người nộp bổ sung hồ sơ)" in text
    for fact in ("01/12/2026", "23/11/2026 (", "07:30–11:30", "Thời hạn 5", "24/11"):
        assert text.count(fact) == 1, (fact, text)

    clock.advance(timedelta(hours=3))
    dossier = act(client, desk, dossier, "supplement_received")
    text = client.get(f"/api/v1/dossiers/{dossier['code']}/deadline", headers=desk).json()["explanation"]
    # 09:00 to 12:00 is 2 h 30 of working time (the office closes 11:30–13:00).
    assert "cộng 2 giờ 30 phút làm việc tạm dừng chờ người nộp; hẹn trả 11:30 01/12/2026." in text, text
    assert "tạm dừng từ" not in text and text.count("hẹn trả") == 1 and " 0 " not in text


def test_one_name_for_the_secret_everywhere(client, login):
    """"mã tra cứu" on form 01, the page, the SMS and the API docs; never another name."""
    others = re.compile(r"mã bí mật|mật khẩu tra cứu|mã số bí mật|secret", re.I)
    docs = client.get("/openapi.json").json()
    texts = []

    def walk(node) -> None:  # noqa: ANN001
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("description", "summary", "title") and isinstance(value, str):
                    texts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(docs)
    named = [t for t in texts if "mã tra cứu" in t.lower()]
    # "Client Secret" is OAuth2's own password-flow field (FastAPI's form), not the dossier's secret.
    assert len(named) >= 5 and not [t for t in texts if others.search(t) and t != "Client Secret"], \
        [t for t in texts if others.search(t)]
    dossier = receive(client, login)
    receipt = client.post(f"/api/v1/dossiers/{dossier['code']}/forms/receipt",
                          json={"lookup_secret": dossier["lookup_secret"]}, headers=login("motcua")).text
    page = client.get("/tra-cuu").text
    for text in (receipt, page):
        shown = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)\b.*?</\1>", " ", text, flags=re.S))
        assert "mã tra cứu" in shown.lower() and not others.search(shown), others.search(shown)
