"""The leaders' dashboard /bang-dieu-khien: the shell and its assets (both databases), and a real
headless Chromium that logs in as the reporter and reads the chart and the tables (SQLite)."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.conftest import VN

AGENCY = "000.00.17.H26"
PROCEDURES = ["1.005092", "2.001914", "1.004889", "1.006388"]
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=VN)  # the suite's frozen clock


def test_shell_and_assets_are_self_contained(client):
    page = client.get("/bang-dieu-khien")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="vi">' in html and "Bảng điều khiển" in html
    assert '<label for="username">Tên đăng nhập</label>' in html and 'id="chart-trend"' in html
    assert "script-src 'self'" in page.headers["content-security-policy"]
    css = client.get(re.search(r'href="(/bang-dieu-khien/static/dashboard\.css\?v=\w+)"', html)[1])
    js = client.get(re.search(r'src="(/bang-dieu-khien/static/dashboard\.js\?v=\w+)"', html)[1])
    assert css.headers["content-type"].startswith("text/css") and js.headers["content-type"].startswith("text/java")
    assert "sessionStorage" in js.text and "/api/v1/auth/token" in js.text
    for text in (html, css.text, js.text):  # offline machines: nothing from another host
        assert not re.search(r"(?:https?:)?//(?!www\.w3\.org/2000/svg)[a-z0-9.-]+\.[a-z]{2,}", text, flags=re.I)
    assert client.get("/bang-dieu-khien/static/dashboard.py").status_code == 404
    assert client.get("/bang-dieu-khien/static/..%2Fdashboard.py").status_code == 404


def _history(n: int = 240, seed: int = 6) -> list[dict[str, str]]:
    """A year of the demo Department's dossiers up to the frozen 'now', some overdue or due soon."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        received = NOW - timedelta(days=rng.uniform(3, 330))
        due = received + timedelta(days=rng.randint(3, 20))
        row = {"code": f"LS-{i:05d}", "procedure_code": rng.choice(PROCEDURES), "agency_code": AGENCY,
               "channel": rng.choice(["direct", "online", "online", "postal"]), "applicant_name": "Người nộp thử",
               "applicant_id_number": "001099000000", "received_at": received.isoformat(),
               "due_at": due.isoformat()}
        resolved = received + timedelta(days=rng.uniform(0.5, 22))
        if i % 12 == 0:
            row["status"] = "processing"  # open; overdue when its appointment has passed
        elif resolved < NOW:
            row |= {"status": "resolved", "resolved_at": resolved.isoformat()}
            if i % 9 == 0:
                row["apology_issued_at"] = (received + (due - received) / 2).isoformat()
        else:
            row["status"] = "processing"
        rows.append(row)
    rows.append({"code": "LS-SOON", "procedure_code": "2.001914", "agency_code": AGENCY, "channel": "direct",
                 "applicant_name": "Người nộp thử", "applicant_id_number": "001099000000", "status": "received",
                 "received_at": (NOW - timedelta(days=6)).isoformat(),
                 "due_at": (NOW + timedelta(hours=3)).isoformat()})
    return rows


@pytest.mark.browser
def test_reporter_sees_the_trend_chart_and_the_tables(live_server, live_api, browser_page, screenshot):
    reporter = live_api.login("baocao")
    imported = live_api.post("/api/v1/imports", json=_history(), headers=live_api.login("admin"))  # admin only
    assert imported.status_code == 200 and imported.json()["created"] == 241, imported.text
    quarter = live_api.get("/api/v1/reports/periodic", params={"period": "2026-Q4"}, headers=reporter).json()

    page = browser_page
    page.goto(f"{live_server}/bang-dieu-khien")
    page.get_by_label("Tên đăng nhập").fill("baocao")
    page.get_by_label("Mật khẩu").fill("demo1234")
    page.get_by_role("button", name="Đăng nhập").click()

    page.wait_for_selector("#chart-trend svg rect.bar")
    assert page.locator("#chart-trend svg rect.bar").count() >= 10  # one bar per month with results
    assert page.locator("#chart-trend svg polyline.line").count() >= 1
    assert page.locator("#chart-trend svg text").filter(has_text="11/2026").count() == 1
    page.wait_for_selector("#procedure-table tbody tr td.num")
    assert page.locator("#period").input_value() == "2026-Q4"
    rows = page.locator("#procedure-table tbody tr")
    assert rows.count() == len(quarter["rows"]) >= 3
    first = rows.nth(0).locator("td")
    assert first.nth(0).inner_text() == quarter["rows"][0]["procedure_code"]
    assert first.nth(3).inner_text() == str(quarter["rows"][0]["received_total"])
    totals = page.locator("#procedure-table tfoot td")
    assert totals.nth(1).inner_text() == "Tổng cộng"
    assert totals.nth(4).inner_text() == str(quarter["totals"]["resolved_total"])
    assert page.locator("#kpi-received").inner_text() == str(quarter["totals"]["received_total"])
    assert page.locator("#kpi-overdue").inner_text() == str(quarter["totals"]["in_progress_overdue"])
    assert "%" in page.locator("#kpi-rate").inner_text()
    # Decision 766 (issue 13.10): the two document indicators, from GET /api/v1/reports/indicators.
    indicators = {i["code"]: i for i in live_api.get("/api/v1/reports/indicators", params={"period": "2026-Q4"},
                                                      headers=reporter).json()["indicators"]}
    for code, card in (("digitised", "#kpi-digitised"), ("electronic_results", "#kpi-electronic"),
                       ("paid_online", "#kpi-paid-online")):
        counts = page.locator(f"{card}-count").inner_text()
        assert counts == f"{indicators[code]['numerator']} / {indicators[code]['denominator']} hồ sơ", (code, counts)
    assert page.locator("#chart-channels svg rect.seg").count() == 3
    page.wait_for_selector("#overdue-table tbody tr td")
    assert page.locator("#overdue-table tbody tr").count() >= 1
    assert "LS-SOON" in page.locator("#due-soon-table").inner_text()
    expect(page.locator("#at-risk-table tbody td.empty")).to_have_text("Không có hồ sơ.")  # nothing forecast yet
    assert page.evaluate("sessionStorage.getItem('motcua.dashboard.token')")
    screenshot(page, "dashboard")

    # Another period reloads the table; a reload keeps the session (sessionStorage).
    page.select_option("#period", "2026")
    expect(page.locator("#status")).to_contain_text("Năm 2026")
    year = live_api.get("/api/v1/reports/periodic", params={"period": "2026"}, headers=reporter).json()
    assert page.locator("#kpi-received").inner_text() == f"{year['totals']['received_total']:,}".replace(",", ".")
    page.reload()
    page.wait_for_selector("#chart-trend svg rect.bar")
    page.get_by_role("button", name="Đăng xuất").click()
    assert page.locator("#login-panel").is_visible()
    assert page.evaluate("sessionStorage.getItem('motcua.dashboard.token')") is None

    # The desk officer has no reports role: told so, no board.
    page.get_by_label("Tên đăng nhập").fill("motcua")
    page.get_by_label("Mật khẩu").fill("demo1234")
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.locator("#login-error")).to_contain_text("không có quyền")
    assert not page.locator("#board").is_visible()


# --- issue 16, item 9: widths, and the division head's own division --------------------------------

def _receive_for(live_api, procedure_code: str) -> dict:
    desk = live_api.login("motcua")
    procedure = live_api.get(f"/api/v1/procedures/{procedure_code}", headers=desk).json()
    documents = [{"name": d["name"], "kind": d["kind"], "count": d["count"]} for d in procedure["required_documents"]]
    body = {"procedure_code": procedure_code, "channel": "direct", "documents": documents, "return_method": "desk",
            "applicant": {"full_name": "Nguyễn Văn An", "id_number": "001099012345", "phone": "0912345678"}}
    response = live_api.post("/api/v1/dossiers", json=body, headers=desk)
    assert response.status_code == 201, response.text
    return response.json()


def _at_risk(live_api, engine, dossier: dict, probability: float, cause: str) -> str:
    """Forward the dossier to its first step and store a forecast for it, as the scan's late-risk
    pass does (app/foresight/risk_scan.py)."""
    from sqlmodel import select

    from app.db import make_sessionmaker, transaction
    from app.models import Dossier, DossierForecast

    forwarded = live_api.post(f"/api/v1/dossiers/{dossier['code']}/actions/forward",
                              json={"version": dossier["version"]}, headers=live_api.login("motcua"))
    assert forwarded.status_code == 200, forwarded.text
    with transaction(make_sessionmaker(engine)) as s:
        row = s.exec(select(Dossier).where(Dossier.code == dossier["code"])).one()
        s.add(DossierForecast(dossier_id=row.id, step=row.current_step, due_at=row.due_at, probability=probability,
                              expected_ready_at=row.due_at, cause_step=1, cause_name=cause, basis="history",
                              computed_at=NOW))
    return dossier["code"]


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_division_head_sees_the_division_by_default_and_nothing_overflows(live_server, live_api, browser, width,
                                                                         screenshot, browser_engine):
    from tests.web.conftest import _context

    imported = live_api.post("/api/v1/imports", json=_history(120), headers=live_api.login("admin"))
    assert imported.status_code == 200, imported.text
    received = [_receive_for(live_api, code) for code in ("2.001914", "2.001914", "1.005092", "1.006388")]
    # QLCL, QLCL, QLCL, GDPT; one of QLCL and the GDPT one at risk of being late (issue 17)
    cause = "Phó Giám đốc Sở xem xét, ký quyết định công nhận trường đạt chuẩn quốc gia"
    qlcl_risk = _at_risk(live_api, browser_engine, received[0], 0.87, cause)
    gdpt_risk = _at_risk(live_api, browser_engine, received[3], 0.64, "Chuyên viên thẩm định")
    head = live_api.login("truongphong")
    division = live_api.get("/api/v1/reports/periodic", params={"period": "2026-Q4", "division": "QLCL"},
                            headers=head).json()
    agency = live_api.get("/api/v1/reports/periodic", params={"period": "2026-Q4"}, headers=head).json()
    assert division["totals"]["received_total"] != agency["totals"]["received_total"]

    options = {"viewport": {"width": width, "height": 900}}
    if width < 500:
        options.update(device_scale_factor=2, is_mobile=True, has_touch=True)
    context = _context(browser, **options)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/bang-dieu-khien")
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # the login panel
        page.get_by_label("Tên đăng nhập").fill("truongphong")
        page.get_by_label("Mật khẩu").fill("demo1234")
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_selector("#procedure-table tbody tr td.num")
        page.wait_for_selector("#chart-trend svg rect.bar")
        expect(page.locator("#status")).to_contain_text("Quý IV năm 2026")
        scope = page.locator("#scope")
        assert scope.input_value() == "000.00.17.H26.QLCL"
        assert "Phòng Khảo thí và Quản lý chất lượng giáo dục (phòng của tôi)" in scope.inner_text()
        expect(page.locator("#kpi-received")).to_have_text(str(division["totals"]["received_total"]))
        risky = page.locator("#at-risk-table tbody tr")
        expect(risky).to_have_count(1)  # the division's own
        assert [risky.nth(0).locator("td").nth(i).inner_text() for i in (0, 1, 3, 4)] == [
            qlcl_risk, "2.001914", "87%", cause]
        assert page.evaluate("document.documentElement.scrollWidth") <= width, "the board overflows"
        screenshot(page, f"dashboard-division-head-{width}")

        scope.select_option("")  # widen to the whole Department
        expect(page.locator("#kpi-received")).to_have_text(str(agency["totals"]["received_total"]))
        expect(risky).to_have_count(2)  # the Department's, most at risk first
        assert [risky.nth(i).locator("td").nth(0).inner_text() for i in (0, 1)] == [qlcl_risk, gdpt_risk]
        assert risky.nth(1).locator("td").nth(3).inner_text() == "64%"
        page.wait_for_selector("#procedure-table tbody tr td.num")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, "the board overflows"
        # Nothing cut off: no element other than the scrollable tables reaches past the viewport.
        clipped = page.evaluate("""(width) => Array.from(document.querySelectorAll('body *'))
            .filter(e => !e.closest('.scroll') && e.getClientRects().length)
            .filter(e => { const r = e.getBoundingClientRect(); return r.right > width + 0.5 || r.left < -0.5; })
            .map(e => e.tagName + '#' + e.id + '.' + e.className)""", width)
        assert clipped == [], clipped
        screenshot(page, f"dashboard-agency-{width}")
    finally:
        context.close()
