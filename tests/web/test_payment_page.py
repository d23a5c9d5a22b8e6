"""The citizen pays from /tra-cuu (issue 15): the "Thanh toán" button after a lookup, the
platform's page (the mock platform, a real server), back to the receipt. Headless Chromium."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.clock import FrozenClock
from app.payments.mock import create_mock_platform
from app.settings import Settings
from tests.conftest import make_settings
from tests.payments.conftest import CONTROL, FEES, FULL_PROCEDURE, MERCHANT, SECRET, bound_socket, serve


@pytest.fixture
def platform_socket() -> socket.socket:
    return bound_socket()


@pytest.fixture
def browser_settings(tmp_path: Path, platform_socket: socket.socket) -> Settings:
    return make_settings(f"sqlite:///{tmp_path}/browser.db", payment_merchant=MERCHANT, payment_secret=SECRET,
                         payment_url=f"http://127.0.0.1:{platform_socket.getsockname()[1]}")


@pytest.fixture
def platform_url(platform_socket: socket.socket, clock: FrozenClock) -> Iterator[str]:
    mock = create_mock_platform(merchants={MERCHANT: SECRET}, control_token=CONTROL,
                                now=lambda: clock.now().timestamp())
    with serve(mock, platform_socket, "mock-payment") as url:
        yield url


def _lookup(page, base_url: str, code: str, secret: str) -> None:  # noqa: ANN001
    page.goto(f"{base_url}/tra-cuu")
    page.get_by_label("Mã hồ sơ").fill(code)
    page.get_by_label("Mã tra cứu").fill(secret)
    page.get_by_role("button", name="Tra cứu").click()
    page.locator("#result-title").wait_for()


@pytest.mark.browser
def test_citizen_pays_online_and_sees_the_receipt(live_server, live_api, platform_url, browser_page, screenshot):
    admin, desk, specialist = live_api.login("admin"), live_api.login("motcua"), live_api.login("chuyenvien")
    assert live_api.patch(f"/api/v1/procedures/{FULL_PROCEDURE}", json={"fees": FEES}, headers=admin).status_code == 200
    procedure = live_api.get(f"/api/v1/procedures/{FULL_PROCEDURE}", headers=desk).json()
    documents = [{"name": d["name"]} for d in procedure["required_documents"]]
    dossier = live_api.post("/api/v1/dossiers", headers=desk, json={
        "procedure_code": FULL_PROCEDURE, "channel": "direct", "documents": documents,
        "applicant": {"full_name": "Nguyễn Văn An", "id_number": "001099012345", "phone": "0912345678"}}).json()
    secret = dossier["lookup_secret"]
    for headers, action, body in ((desk, "forward", {"assignee": "chuyenvien"}),
                                  (specialist, "request_payment", {"copies": 1})):
        answer = live_api.post(f"/api/v1/dossiers/{dossier['code']}/actions/{action}", headers=headers,
                               json={"version": dossier["version"], **body})
        assert answer.status_code == 200, answer.text
        dossier = answer.json()

    page = browser_page
    _lookup(page, live_server, dossier["code"], secret)
    assert "50.000 đồng" in page.locator(".card-payment").inner_text()
    screenshot(page, "payment-due")
    page.get_by_role("button", name="Thanh toán").click()
    page.locator("#go-pay").wait_for()
    assert page.locator("#payment-qr").is_visible()
    page.locator("#go-pay").click()
    page.wait_for_url(f"{platform_url}/pay/*")
    assert "50.000 đồng" in page.locator("#amount").inner_text()
    page.get_by_role("button", name="Thanh toán").click()
    page.wait_for_url(f"{live_server}/tra-cuu/thanh-toan/ket-qua*")
    number = page.locator("#receipt-number").inner_text()
    assert number.endswith("/BLĐT-SGDĐT")
    screenshot(page, "payment-receipt")

    _lookup(page, live_server, dossier["code"], secret)
    card = page.locator(".card-payment")
    assert number in card.inner_text() and "Thanh toán trực tuyến" in card.inner_text()
    assert page.get_by_role("button", name="Thanh toán").count() == 0
    status = live_api.get(f"/api/v1/dossiers/{dossier['code']}", headers=desk).json()["status"]
    assert status == "processing"  # the clock runs again
