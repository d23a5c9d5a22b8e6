"""Feedback and satisfaction in a real headless Chromium (SQLite, the browser app of
tests/web/conftest.py): the citizen looks the dossier up on /tra-cuu (JavaScript renders the answer,
feedback.js the feedback and rating section), sends feedback and rates; the leaders' dashboard
shows the rating per procedure with the number of answers."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.workflows.test_scenarios import intake_body

PROCEDURE = "2.001914"


def _returned_dossier(live_api) -> dict:  # noqa: ANN001
    desk = live_api.login("motcua")
    procedure = live_api.get(f"/api/v1/procedures/{PROCEDURE}", headers=desk).json()
    documents = [{"name": d["name"], "kind": d["kind"], "count": d["count"]} for d in procedure["required_documents"]]
    created = live_api.post("/api/v1/dossiers", json=intake_body(PROCEDURE, documents=documents), headers=desk)
    assert created.status_code == 201, created.text
    dossier = created.json()
    secret = dossier["lookup_secret"]
    for user, action, body in (("motcua", "forward", {"assignee": "chuyenvien"}), ("chuyenvien", "forward", {}),
                               ("truongphong", "forward", {}), ("giamdoc", "forward", {"result_reference": "1/QĐ"}),
                               ("motcua", "resolve", {}),
                               ("motcua", "return_result", {"method": "desk", "receiver_name": "Nguyễn Văn An"})):
        response = live_api.post(f"/api/v1/dossiers/{dossier['code']}/actions/{action}",
                                 json={"version": dossier["version"], **body}, headers=live_api.login(user))
        assert response.status_code == 200, (action, response.text)
        dossier = response.json()
    return dossier | {"lookup_secret": secret}


@pytest.mark.browser
def test_citizen_rates_and_sends_feedback_and_the_dashboard_shows_the_rating(live_server, live_api, browser_page,
                                                                             screenshot):
    dossier = _returned_dossier(live_api)
    page = browser_page
    page.goto(f"{live_server}/tra-cuu")
    page.get_by_label("Mã hồ sơ").fill(dossier["code"])
    page.get_by_label("Mã tra cứu").fill(dossier["lookup_secret"])
    page.get_by_role("button", name="Tra cứu").click()
    page.wait_for_selector("#danh-gia form.rating-form")  # rendered by feedback.js from the JSON answer
    assert dossier["lookup_secret"] not in page.content()
    page.locator("#danh-gia input[name=reception][value=very_satisfied]").check()
    page.locator("#danh-gia input[name=handling_time][value=satisfied]").check()
    page.locator("#danh-gia input[name=staff_attitude][value=very_satisfied]").check()
    page.get_by_label("Góp ý thêm (không bắt buộc)").fill("Cán bộ hướng dẫn tận tình.")
    screenshot(page, "lookup-rating")
    page.get_by_role("button", name="Gửi đánh giá").click()
    expect(page.locator("h1")).to_have_text("Cảm ơn ông/bà đã đánh giá")

    page.goto(f"{live_server}/tra-cuu")
    page.get_by_label("Mã hồ sơ").fill(dossier["code"])
    page.get_by_label("Mã tra cứu").fill(dossier["lookup_secret"])
    page.get_by_role("button", name="Tra cứu").click()
    page.wait_for_selector("#phan-anh form.feedback-form")
    assert page.locator("#danh-gia").count() == 0 and page.locator("#rated-note").is_visible()
    page.get_by_label("Nội dung phản ánh, kiến nghị").fill("Xin cho biết khi nào có bản điện tử của kết quả.")
    page.get_by_role("button", name="Gửi phản ánh").click()
    expect(page.locator("#feedback-reference")).to_contain_text("PA-")
    screenshot(page, "feedback-sent")

    page.goto(f"{live_server}/bang-dieu-khien")
    page.get_by_label("Tên đăng nhập").fill("giamdoc")
    page.get_by_label("Mật khẩu").fill("demo1234")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector("#satisfaction-table tbody tr td.num")
    row = page.locator("#satisfaction-table tbody tr").nth(0).locator("td")
    assert row.nth(0).inner_text() == PROCEDURE and row.nth(2).inner_text() == "1"
    assert row.nth(4).inner_text() == "100%"
    assert page.locator("#satisfaction-table tfoot td").nth(1).inner_text() == "Toàn cơ quan"
    assert page.locator("#kpi-satisfaction").inner_text() == "100%"
    assert page.locator("#kpi-satisfaction-count").inner_text() == "1 phiếu đánh giá"
    assert "phản ánh" in page.locator("#kpi-feedback-count").inner_text()
    screenshot(page, "dashboard-satisfaction")
