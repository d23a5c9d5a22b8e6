"""Steps shared by the payment tests: fees on the level-4 procedure, a dossier waiting for its
payment, the citizen's "Thanh toán" button, the payer on the platform's page."""

from __future__ import annotations

import re

import httpx
from sqlmodel import select

from app.db import make_sessionmaker
from app.models import Dossier, OutboxMessage
from tests.payments.conftest import FEES, FULL_PROCEDURE
from tests.workflows.test_scenarios import act, intake_body, required_documents


def with_fees(client, login, fees=FEES) -> None:  # noqa: ANN001
    response = client.patch(f"/api/v1/procedures/{FULL_PROCEDURE}", json={"fees": fees}, headers=login("admin"))
    assert response.status_code == 200, response.text


def received(client, login) -> tuple[dict, str]:  # noqa: ANN001
    with_fees(client, login)
    desk = login("motcua")
    body = intake_body(FULL_PROCEDURE, documents=required_documents(client, desk, FULL_PROCEDURE))
    response = client.post("/api/v1/dossiers", json=body, headers=desk)
    assert response.status_code == 201, response.text
    dossier = response.json()
    return dossier, dossier["lookup_secret"]


def awaiting_payment(client, login, **payment) -> tuple[dict, str]:  # noqa: ANN001
    """A level-4 dossier in processing whose specialist asked for the fees (2 copies): clock paused."""
    dossier, secret = received(client, login)
    dossier = act(client, login("motcua"), dossier, "forward", assignee="chuyenvien")
    dossier = act(client, login("chuyenvien"), dossier, "request_payment", copies=2, **payment)
    assert dossier["status"] == "awaiting_payment"
    return dossier, secret


def public_view(http, code: str, secret: str) -> dict:  # noqa: ANN001
    response = http.post("/api/v1/public/lookup", json={"code": code, "secret": secret})
    assert response.status_code == 200, response.text
    return response.json()


def pay_url(live: httpx.Client, token: str) -> str:
    """The citizen presses "Thanh toán": a transaction on the platform, its link (and QR code)."""
    page = live.post("/tra-cuu/thanh-toan", data={"token": token})
    assert page.status_code == 200, page.text
    assert 'id="payment-qr" src="data:image/svg+xml' in page.text
    return re.search(r'id="go-pay" href="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def payer(url: str, action: str = "pay") -> httpx.Response:
    """The payer on the platform's page: pays, fails or cancels; the platform sends them back."""
    assert httpx.get(url).status_code == 200
    answer = httpx.post(url, data={"action": action}, follow_redirects=False, timeout=15)
    assert answer.status_code == 303
    return answer


def dossier_of(client, login, code: str) -> dict:  # noqa: ANN001
    return client.get(f"/api/v1/dossiers/{code}", headers=login("motcua")).json()


def payments_of(client, login, code: str) -> list[dict]:  # noqa: ANN001
    response = client.get(f"/api/v1/dossiers/{code}/payments", headers=login("motcua"))
    assert response.status_code == 200, response.text
    return response.json()


def events_of(client, login, code: str) -> list[str]:  # noqa: ANN001
    return [e["action"] for e in client.get(f"/api/v1/dossiers/{code}/events", headers=login("motcua")).json()]


def last_portal_record(engine, code: str) -> dict:  # noqa: ANN001
    """The latest full record of the dossier queued for the national portal."""
    with make_sessionmaker(engine)() as session:
        dossier = session.exec(select(Dossier).where(Dossier.code == code)).one()
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.dossier_id == dossier.id,
                                                        OutboxMessage.topic == "portal",
                                                        OutboxMessage.kind.in_(["sync_new", "sync_update"]))
                            .order_by(OutboxMessage.id.desc())).all()  # type: ignore[attr-defined]
        return rows[0].payload["data"][0]
