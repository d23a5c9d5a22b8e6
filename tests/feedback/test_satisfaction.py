"""Satisfaction ratings: once per dossier, only after the result was returned, from /tra-cuu (the
lookup's token) and from the signed link of the "result returned" message; the satisfaction report
(JSON, CSV, XLSX) per procedure and for the agency, on both databases."""

from __future__ import annotations

import csv as csv_module
import io
import re

from openpyxl import load_workbook
from sqlmodel import select

from app.models import OutboxMessage
from tests.feedback.test_feedback import VIETNAMESE, lookup
from tests.workflows.test_scenarios import act, ready, receive

RATING = {"reception": "very_satisfied", "handling_time": "satisfied", "staff_attitude": "not_satisfied"}


def returned(client, login, dossier: dict | None = None) -> dict:  # noqa: ANN001
    desk = login("motcua")
    dossier = dossier or receive(client, login)
    secret = dossier["lookup_secret"]
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    dossier = act(client, login("chuyenvien"), dossier, "forward")
    dossier = act(client, login("truongphong"), dossier, "forward")
    dossier = ready(client, login("giamdoc"), desk, dossier, result_reference="12/QĐ-SGDĐT")
    dossier = act(client, desk, dossier, "return_result", method="desk", receiver_name="Nguyễn Văn An")
    return dossier | {"lookup_secret": secret}


def test_rating_only_after_return_and_once_per_dossier(client, login, app):
    dossier = receive(client, login)
    early = lookup(client, dossier)["feedback"]
    assert early["can_rate"] is False and early["rated"] is False
    refused = client.post("/api/v1/public/ratings", json=RATING | {"token": early["token"]})
    assert refused.status_code == 409 and refused.json()["code"] == "not_returned"

    dossier = returned(client, login, dossier)
    view = lookup(client, dossier)["feedback"]
    assert view["can_rate"] is True
    first = client.post("/api/v1/public/ratings", json=RATING | {"token": view["token"], "comment": "Cán bộ nhiệt tình."})
    assert first.status_code == 201, first.text
    assert first.json()["dossier_code"] == dossier["code"]
    second = client.post("/api/v1/public/ratings", json=RATING | {"token": view["token"]})
    assert second.status_code == 409 and second.json()["code"] == "already_rated"
    assert VIETNAMESE.search(second.json()["message"])
    after = lookup(client, dossier)["feedback"]
    assert after["can_rate"] is False and after["rated"] is True
    assert client.post("/api/v1/public/ratings", json=RATING | {"token": view["token"], "comment": "x" * 1001}) \
        .status_code == 422
    assert client.post("/api/v1/public/ratings", json=RATING | {"token": view["token"], "reception": "ok"}) \
        .status_code == 422
    control = client.post("/api/v1/public/ratings", json=RATING | {"token": view["token"], "comment": "bad\u0007"})
    assert control.status_code == 422  # refused by the request guard (app/edge.py) before any rule


def test_the_returned_message_carries_a_signed_rating_link(client, login, app):
    dossier = returned(client, login)
    with app.state.sessionmaker() as s:
        [message] = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "returned")).all()
    text = message.payload["text"]
    assert VIETNAMESE.search(text) and "đánh giá mức độ hài lòng" in text
    assert dossier["lookup_secret"] not in text
    [link] = re.findall(r"https?://\S+/tra-cuu/danh-gia/(\S+)", text)
    page = client.get(f"/tra-cuu/danh-gia/{link}")
    assert page.status_code == 200 and dossier["code"] in page.text and 'name="reception"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    incomplete = client.post(f"/tra-cuu/danh-gia/{link}", data={"reception": "satisfied"})
    assert incomplete.status_code == 422 and "cả ba tiêu chí" in incomplete.text
    done = client.post(f"/tra-cuu/danh-gia/{link}", data=RATING)
    assert done.status_code == 201 and "Cảm ơn" in done.text
    again = client.post(f"/tra-cuu/danh-gia/{link}", data=RATING)
    assert again.status_code == 409 and "một lần" in again.text
    assert "đã được đánh giá" in client.get(f"/tra-cuu/danh-gia/{link}").text
    # The rating link rates, it does not send feedback about the dossier.
    feedback = client.post("/api/v1/public/feedback/dossier", json={"token": link, "content": "Nội dung đủ dài."})
    assert feedback.status_code == 404
    tampered = link[:-2] + ("AA" if not link.endswith("AA") else "BB")
    assert client.get(f"/tra-cuu/danh-gia/{tampered}").status_code == 404


def test_the_lookup_page_offers_the_rating_form_without_javascript(client, login):
    dossier = returned(client, login)
    html = client.post("/tra-cuu", data={"code": dossier["code"], "secret": dossier["lookup_secret"]}).text
    [action] = re.findall(r'action="(/tra-cuu/danh-gia/[^"]+)"', html)
    assert "Rất hài lòng" in html and "Thái độ của cán bộ" in html and dossier["lookup_secret"] not in html
    assert client.post(action, data=RATING).status_code == 201
    html = client.post("/tra-cuu", data={"code": dossier["code"], "secret": dossier["lookup_secret"]}).text
    assert "/tra-cuu/danh-gia/" not in html and "đã đánh giá" in html


def test_satisfaction_report_per_procedure_with_answers(client, login, app):
    for levels in (RATING, {"reception": "satisfied", "handling_time": "satisfied", "staff_attitude": "satisfied"}):
        token = lookup(client, returned(client, login))["feedback"]["token"]
        assert client.post("/api/v1/public/ratings", json=levels | {"token": token}).status_code == 201
    reporter = login("baocao")
    body = client.get("/api/v1/reports/satisfaction?period=2026-11", headers=reporter).json()
    [row] = body["rows"]
    assert row["procedure_code"] == "2.001914" and row["answers"] == 2
    criteria = {c["criterion"]: c for c in row["criteria"]}
    assert (criteria["reception"]["very_satisfied"], criteria["reception"]["satisfied"]) == (1, 1)
    assert criteria["staff_attitude"]["not_satisfied"] == 1 and criteria["staff_attitude"]["satisfied_rate"] == 50.0
    assert row["satisfied_rate"] == round((100 + 100 + 50) / 3, 2)
    assert body["total"]["answers"] == 2 and body["agency"]["code"] == "000.00.17.H26"
    assert client.get("/api/v1/reports/satisfaction?period=2026-10", headers=reporter).json()["total"]["answers"] == 0
    assert client.get("/api/v1/reports/satisfaction?period=2026-11", headers=login("other_reporter")) \
        .json()["total"]["answers"] == 0
    csv = client.get("/api/v1/reports/satisfaction.csv?period=2026-11", headers=reporter)
    assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
    header, first, total = list(csv_module.reader(io.StringIO(csv.content.decode("utf-8-sig"))))
    assert header[3] == "Số phiếu đánh giá" and (first[1], first[3]) == ("2.001914", "2")
    assert (total[2], total[3]) == ("Tổng cộng", "2")
    xlsx = client.get("/api/v1/reports/satisfaction.xlsx?period=2026-11", headers=reporter)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.cell(row=6, column=2).value == "2.001914" and sheet.cell(row=6, column=4).value == 2
    assert sheet.cell(row=7, column=3).value == "Tổng cộng"
