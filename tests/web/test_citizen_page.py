"""The citizen page /tra-cuu: server-rendered fallback (both databases) and a real headless
Chromium (SQLite, its own database: see tests/web/conftest.py)."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from sqlmodel import select

from app.db import make_sessionmaker, transaction
from app.models import Apology, Dossier
from tests.conftest import VN
from tests.workflows.test_scenarios import intake_body, receive

LOOKUP = "/api/v1/public/lookup"
NOT_FOUND = "Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu đã nhập"


# --- without a browser: the page and its no-JavaScript fallback --------------------------------

def test_page_is_vietnamese_accessible_and_self_contained(browser_app):
    from fastapi.testclient import TestClient

    client = TestClient(browser_app)  # no database work here: the SQLite-only app is enough
    page = client.get("/tra-cuu")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="vi">' in html and 'name="viewport"' in html
    assert '<label for="code">Mã hồ sơ</label>' in html and '<label for="secret">Mã tra cứu</label>' in html
    assert 'aria-describedby="code-hint code-error"' in html and 'aria-live="polite"' in html
    assert 'method="post" action="/tra-cuu"' in html
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    css_url, js_url = re.search(r'href="(/tra-cuu/static/citizen\.css\?v=\w+)"', html)[1], \
        re.search(r'src="(/tra-cuu/static/citizen\.js\?v=\w+)"', html)[1]
    css, js = client.get(css_url), client.get(js_url)
    assert css.status_code == js.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert js.headers["content-type"].startswith("text/javascript")
    assert ":focus-visible" in css.text and "min-height: 3" in css.text
    for text in (html, css.text, js.text):  # offline machines: nothing from another host
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, flags=re.I), text[:200]
    assert client.get("/tra-cuu/static/..%2Fcitizen_page.py").status_code == 404
    assert client.get("/tra-cuu/static/secret.txt").status_code == 404


def test_form_fallback_renders_the_result(client, login):
    dossier = receive(client, login)
    page = client.post("/tra-cuu", data={"code": dossier["code"], "secret": dossier["lookup_secret"].lower()})
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert "Hồ sơ đã được tiếp nhận đầy đủ" in html
    assert '<p class="appointment-date" id="appointment-date">01/12/2026</p>' in html
    assert "Nguyễn V** A*" in html and "Nguyễn Văn An" not in html
    assert "Số 1 đường Mẫu, thành phố Mẫu" in html and "Tiếp nhận hồ sơ" in html
    assert dossier["lookup_secret"] not in html and dossier["lookup_secret"].lower() not in html


def test_form_fallback_errors(client, login, clock):
    dossier = receive(client, login)
    wrong = client.post("/tra-cuu", data={"code": dossier["code"], "secret": "ZZZZ-ZZZZ"})
    assert wrong.status_code == 404 and NOT_FOUND in wrong.text
    assert f'value="{dossier["code"]}"' in wrong.text and "ZZZZ-ZZZZ" not in wrong.text
    empty = client.post("/tra-cuu", data={"code": dossier["code"]})
    assert empty.status_code == 422
    assert re.search(r'id="secret"[^>]*aria-invalid="true"', empty.text, flags=re.S)
    assert '<p class="field-error" id="secret-error">Vui lòng nhập mã tra cứu.</p>' in empty.text
    assert '<p class="field-error" id="code-error" hidden>' in empty.text
    in_url = client.post("/tra-cuu?secret=" + dossier["lookup_secret"], data={"code": dossier["code"]})
    assert in_url.status_code == 400
    for _ in range(9):  # 1 failure above + 9 = the 10 allowed this minute
        client.post("/tra-cuu", data={"code": dossier["code"], "secret": dossier["lookup_secret"]})
    limited = client.post("/tra-cuu", data={"code": dossier["code"], "secret": dossier["lookup_secret"]})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert "quá nhiều lần" in limited.text and "1 phút" in limited.text


def test_page_escapes_what_staff_typed(client, login):
    desk = login("motcua")
    body = intake_body(decision="request_supplement", missing_items=["<script>alert(1)</script>"])
    dossier = client.post("/api/v1/dossiers", json=body, headers=desk).json()
    page = client.post("/tra-cuu", data={"code": dossier["code"], "secret": dossier["lookup_secret"]})
    assert page.status_code == 200, page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


# --- in a real headless Chromium -----------------------------------------------------------------

def _receive_live(live_api, **overrides):
    desk = live_api.login("motcua")
    procedure = live_api.get("/api/v1/procedures/2.001914", headers=desk).json()
    documents = [{"name": d["name"], "kind": d["kind"], "count": d["count"]} for d in procedure["required_documents"]]
    response = live_api.post("/api/v1/dossiers", json=intake_body(documents=documents, **overrides), headers=desk)
    assert response.status_code == 201, response.text
    return response.json()


def _look_up(page, base_url: str, code: str, secret: str) -> None:
    page.goto(f"{base_url}/tra-cuu")
    page.get_by_label("Mã hồ sơ").fill(code)  # by label: proves the inputs are labelled
    page.get_by_label("Mã tra cứu").fill(secret)
    page.get_by_role("button", name="Tra cứu").click()


@pytest.mark.browser
def test_citizen_reads_the_status_on_a_phone(live_server, live_api, browser_phone_page, screenshot):
    page = browser_phone_page
    dossier = _receive_live(live_api)
    requests = []
    page.on("request", lambda r: requests.append((r.method, r.url, r.post_data)))
    _look_up(page, live_server, dossier["code"], dossier["lookup_secret"])

    status = page.locator("#status-text")
    status.wait_for()
    assert status.inner_text() == ("Hồ sơ đã được tiếp nhận đầy đủ và đang được chuyển đến "
                                   "Phòng Khảo thí và Quản lý chất lượng giáo dục để xử lý.")
    assert page.locator("#appointment-date").inner_text() == "01/12/2026"
    assert page.locator(".appointment-detail").inner_text() == "Thứ Ba, lúc 09:00"
    assert page.locator(".timeline-label").all_inner_texts() == ["Tiếp nhận hồ sơ"]
    assert page.title() == f"Hồ sơ {dossier['code']} — Tra cứu hồ sơ | Bộ phận Một cửa"
    # Focus moves to the result, which sits in a polite live region.
    assert page.evaluate("document.activeElement.id") == "result-title"
    assert page.locator("#ket-qua").get_attribute("aria-live") == "polite"
    # The secret went in a JSON body, never in a URL; nothing was fetched from another host.
    assert page.url == f"{live_server}/tra-cuu"
    posts = [(url, data) for method, url, data in requests if method == "POST"]
    body = json.dumps({"code": dossier["code"], "secret": dossier["lookup_secret"]}, separators=(",", ":"))
    assert posts == [(f"{live_server}{LOOKUP}", body)]
    assert all(url.startswith(live_server) for _, url, _ in requests)
    assert not any(dossier["lookup_secret"] in url for _, url, _ in requests)
    # A phone: no sideways scrolling, large touch targets, readable text.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    button = page.get_by_role("button", name="Tra cứu").bounding_box()
    code_input = page.get_by_label("Mã hồ sơ").bounding_box()
    assert button["height"] >= 48 and button["width"] >= 300 and code_input["height"] >= 44
    assert page.evaluate("parseFloat(getComputedStyle(document.getElementById('code')).fontSize)") >= 16
    shot = screenshot(page, "tra-cuu-phone-390x844", full_page=False)
    assert shot.stat().st_size > 10_000


@pytest.mark.browser
def test_empty_fields_wrong_secret_and_too_many_lookups(live_server, live_api, browser_phone_page, screenshot):
    page = browser_phone_page
    dossier = _receive_live(live_api)
    page.goto(f"{live_server}/tra-cuu")
    page.get_by_role("button", name="Tra cứu").click()
    code = page.get_by_label("Mã hồ sơ")
    assert code.get_attribute("aria-invalid") == "true"
    assert page.locator("#code-error").inner_text() == "Vui lòng nhập mã hồ sơ."
    assert "code-error" in code.get_attribute("aria-describedby")
    assert page.evaluate("document.activeElement.id") == "code"
    code.fill(dossier["code"])
    assert code.get_attribute("aria-invalid") is None  # fixed as you type
    page.get_by_label("Mã tra cứu").fill("ZZZZ-ZZZZ")
    page.get_by_role("button", name="Tra cứu").click()
    notice = page.locator("#lookup-error")
    notice.wait_for()
    assert NOT_FOUND in notice.inner_text()
    assert page.locator("#status-text").count() == 0
    screenshot(page, "tra-cuu-phone-not-found", full_page=False)

    for _ in range(9):  # 1 + 9 = the 10 lookups allowed this minute; the browser and this client share 127.0.0.1
        live_api.post(LOOKUP, json={"code": dossier["code"], "secret": "ZZZZ-ZZZZ"})
    page.get_by_label("Mã tra cứu").fill(dossier["lookup_secret"])
    page.get_by_role("button", name="Tra cứu").click()
    page.locator(".notice-wait").wait_for()
    assert "quá nhiều lần" in notice.inner_text() and "1 phút" in notice.inner_text()


@pytest.mark.browser
def test_apology_post_and_timeline_render_alike_with_and_without_javascript(
        live_server, live_api, browser_engine, browser_phone_page, browser_nojs_page, screenshot):
    dossier = _receive_live(live_api, channel="postal", return_method="postal",
                            postal={"tracking_number": "EB123456789VN"})
    desk = live_api.login("motcua")
    forwarded = live_api.post(f"/api/v1/dossiers/{dossier['code']}/actions/forward",
                              json={"version": dossier["version"], "assignee": "chuyenvien"}, headers=desk)
    assert forwarded.status_code == 200, forwarded.text
    with transaction(make_sessionmaker(browser_engine)) as session:
        row = session.exec(select(Dossier).where(Dossier.code == dossier["code"])).one()
        new_due = datetime(2026, 12, 4, 16, 0, tzinfo=VN)
        session.add(Apology(dossier_id=row.id, status="issued", reason="Cần xác minh văn bằng với trường cấp",
                            original_due_at=row.due_at, new_due_at=new_due, drafted_at=row.received_at,
                            issued_at=datetime(2026, 11, 30, 10, 0, tzinfo=VN), signer_title="Phó Giám đốc Sở"))
        row.new_due_at, row.apology_count = new_due, 1  # as app.sla.apology.issue_apology leaves it
        session.add(row)

    page = browser_phone_page
    _look_up(page, live_server, dossier["code"], dossier["lookup_secret"])
    page.locator("#status-text").wait_for()
    assert page.locator("#appointment-date").inner_text() == "04/12/2026"
    assert page.locator(".appointment-original").inner_text() == "Ngày hẹn ban đầu: 09:00 ngày 01/12/2026"
    apology = page.locator(".card-apology").inner_text()
    assert "Cần xác minh văn bằng với trường cấp" in apology and "16:00 ngày 04/12/2026" in apology
    assert "EB123456789VN" in page.locator(".card-post").inner_text()
    assert page.locator(".timeline-label").all_inner_texts() == ["Tiếp nhận hồ sơ", "Chuyển bước xử lý"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "tra-cuu-phone-apology-full")
    with_js = page.locator("#ket-qua").inner_text()

    plain = browser_nojs_page
    _look_up(plain, live_server, dossier["code"], dossier["lookup_secret"])
    assert plain.url == f"{live_server}/tra-cuu"  # posted in the body, no secret in the address
    assert plain.locator("#status-text").inner_text() == page.locator("#status-text").inner_text()
    without_js = plain.locator("#ket-qua").inner_text()

    def squash(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip()

    assert squash(with_js) == squash(without_js)


# --- a dossier with no result to come for (issue 16, item 7) -------------------------------------

def _ended_dossiers(post, headers_for):  # noqa: ANN001, ANN202
    """A refused and a withdrawn dossier, made through the API as the desk does."""
    desk = headers_for("motcua")
    refused = post("/api/v1/dossiers", json=intake_body(decision="refuse", reason="Không thuộc thẩm quyền của Sở"),
                   headers=desk).json()
    received = post("/api/v1/dossiers", json=intake_body(documents=[
        {"name": d["name"], "kind": d["kind"], "count": d["count"]}
        for d in post.__self__.get("/api/v1/procedures/2.001914", headers=desk).json()["required_documents"]]),
        headers=desk).json()
    withdrawn = post(f"/api/v1/dossiers/{received['code']}/actions/withdraw",
                     json={"version": received["version"], "reason": "Người nộp xin rút hồ sơ."}, headers=desk)
    assert withdrawn.status_code == 200, withdrawn.text
    return [(refused["code"], refused["lookup_secret"], "refused"),
            (received["code"], received["lookup_secret"], "withdrawn")]


def test_refused_or_withdrawn_dossier_shows_no_appointment_and_no_collection(client, login):
    for code, secret, status in _ended_dossiers(client.post, login):
        view = client.post(LOOKUP, json={"code": code, "secret": secret}).json()
        assert view["status"] == status and view["appointment_date"] is None and view["collection"] is None
        html = client.post("/tra-cuu", data={"code": code, "secret": secret}).text
        assert 'class="status-label"' in html
        for absent in ("appointment-date", "Ngày hẹn trả kết quả", "card-collect", "Nhận kết quả", "Cần mang theo"):
            assert absent not in html, (status, absent)


@pytest.mark.browser
def test_refused_and_withdrawn_dossiers_in_a_browser(live_server, live_api, browser_phone_page, screenshot):
    page = browser_phone_page
    for code, secret, status in _ended_dossiers(live_api.post, live_api.login):
        _look_up(page, live_server, code, secret)
        page.locator("#status-text").wait_for()
        assert page.locator(".status-label").text_content() in ("Không được tiếp nhận", "Đã rút hồ sơ theo yêu cầu")
        assert page.locator("#appointment-date").count() == 0 and page.locator(".card-collect").count() == 0
        assert "Nhận kết quả" not in page.locator("#ket-qua").inner_text()
        screenshot(page, f"tra-cuu-phone-{status}")
