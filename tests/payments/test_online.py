"""A level-4 dossier paid online through the mock platform over HTTP (issue 15, "Done when"):
normal, duplicated, late and lost callbacks; tampered callbacks refused. Both databases."""

from __future__ import annotations

import time

import httpx

from app.payments.client import PaymentPlatform
from app.payments.online import reconcile
from app.payments.signing import sign_callback
from app.sla.scheduler import run_payment_reconcile
from tests.payments.conftest import MERCHANT, SECRET
from tests.payments.helpers import (awaiting_payment, dossier_of, events_of, last_portal_record, pay_url, payer,
                                    payments_of, public_view)


def wait_for(check, what: str) -> None:  # noqa: ANN001
    """Poll an outcome of the other server's thread (not a timing assertion: it only waits)."""
    deadline = time.monotonic() + 15
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def test_paid_online_with_a_duplicated_callback(client, login, live, platform, engine, clock):
    dossier, secret = awaiting_payment(client, login)
    [due] = public_view(live, dossier["code"], secret)["payments"]
    # 2 copies × 20.000 (lệ phí) + 30.000 (phí): the breakdown the citizen sees
    assert due["amount_text"] == "70.000 đồng" and due["status"] == "open" and due["pay_token"]
    assert [i["total_text"] for i in due["items"]] == ["40.000 đồng", "30.000 đồng"]
    assert platform.post("/_control/callbacks", json={"mode": "duplicate"}).status_code == 200
    url = pay_url(live, due["pay_token"])
    assert pay_url(live, due["pay_token"]) == url  # pressing twice: the same transaction
    clock.advance(minutes=30)  # the payer takes half an hour: the wait does not count against the agency
    back = payer(url)
    assert "/tra-cuu/thanh-toan/ket-qua?ref=" in back.headers["location"]

    sent = platform.get("/_control/state").json()["sent"]
    assert [s["http_status"] for s in sent] == [200, 200]  # both answered alike
    after = dossier_of(client, login, dossier["code"])
    assert after["status"] == "processing"
    assert events_of(client, login, dossier["code"]).count("payment_confirmed") == 1  # settled once
    [paid] = payments_of(client, login, dossier["code"])
    assert paid["status"] == "paid" and paid["method"] == "online" and paid["receipt_number"].endswith("BLĐT-SGDĐT")
    assert paid["transactions"][0]["callbacks"] == 2 and paid["transactions"][0]["settled_by"] == "callback"
    assert last_portal_record(engine, dossier["code"])["DuocThanhToanTrucTuyen"] == 1
    # The payer is sent back to a page showing the receipt.
    page = live.get(httpx.URL(back.headers["location"]).raw_path.decode())
    assert page.status_code == 200 and paid["receipt_number"] in page.text and "Đã nộp phí, lệ phí" in page.text
    view = public_view(live, dossier["code"], secret)["payments"][0]
    assert view["pay_token"] is None and view["receipt"]["number"] == paid["receipt_number"]
    assert view["receipt"]["method_label"] == "Thanh toán trực tuyến"


def test_a_late_callback_finds_the_payment_settled_once(client, login, live, platform, clock):
    dossier, secret = awaiting_payment(client, login)
    token = public_view(live, dossier["code"], secret)["payments"][0]["pay_token"]
    platform.post("/_control/callbacks", json={"mode": "late"})  # held until released
    back = payer(pay_url(live, token))
    assert dossier_of(client, login, dossier["code"])["status"] == "awaiting_payment"
    waiting = live.get("/tra-cuu/thanh-toan/ket-qua", params={"ref": back.headers["location"].rsplit("=", 1)[1]})
    assert "chưa xác nhận" in waiting.text
    assert platform.post("/_control/callbacks/release").json() == {"released": 1}
    wait_for(lambda: platform.get("/_control/state").json()["sent"], "the late callback")
    assert platform.get("/_control/state").json()["sent"][0]["http_status"] == 200
    assert dossier_of(client, login, dossier["code"])["status"] == "processing"
    # Released again (a platform retrying): the same answer, nothing settled twice.
    ref = payments_of(client, login, dossier["code"])[0]["transactions"][0]["order_ref"]
    answer = live.post("/api/v1/payments/callback", json=signed(ref, "paid", 70_000, clock))
    assert answer.status_code == 200 and answer.json()["duplicate"] is True
    assert events_of(client, login, dossier["code"]).count("payment_confirmed") == 1


def test_a_lost_callback_is_settled_by_reconciliation(client, login, live, platform, app, engine, clock):
    dossier, secret = awaiting_payment(client, login)
    token = public_view(live, dossier["code"], secret)["payments"][0]["pay_token"]
    platform.post("/_control/callbacks", json={"mode": "lost"})
    payer(pay_url(live, token))
    assert dossier_of(client, login, dossier["code"])["status"] == "awaiting_payment"
    settings = app.state.settings
    with PaymentPlatform.from_settings(settings, now=lambda: clock.now().timestamp()) as adapter:
        early = reconcile(app.state.sessionmaker, settings, clock.now(), platform=adapter)
        assert early.checked == 0  # younger than payment_reconcile_after_seconds: the callback may still come
    clock.advance(minutes=5)
    stats = run_payment_reconcile(app.state.sessionmaker, settings, clock)  # the scheduler's job
    assert (stats.checked, stats.settled) == (1, 1)
    with PaymentPlatform.from_settings(settings, now=lambda: clock.now().timestamp()) as adapter:
        assert reconcile(app.state.sessionmaker, settings, clock.now(), platform=adapter).checked == 0
    assert dossier_of(client, login, dossier["code"])["status"] == "processing"
    [paid] = payments_of(client, login, dossier["code"])
    assert paid["transactions"][0]["settled_by"] == "reconcile" and paid["receipt_number"]
    assert last_portal_record(engine, dossier["code"])["DuocThanhToanTrucTuyen"] == 1


def test_a_failed_payment_leaves_the_request_open(client, login, live, platform):
    dossier, secret = awaiting_payment(client, login)
    token = public_view(live, dossier["code"], secret)["payments"][0]["pay_token"]
    first = pay_url(live, token)
    payer(first, action="fail")
    [request] = payments_of(client, login, dossier["code"])
    assert request["status"] == "open" and request["transactions"][0]["status"] == "failed"
    again = public_view(live, dossier["code"], secret)["payments"][0]
    assert again["pay_token"] and pay_url(live, again["pay_token"]) != first  # a new transaction
    assert len(payments_of(client, login, dossier["code"])[0]["transactions"]) == 2


def signed(order_ref: str, status: str, amount: int, clock, *, secret: str = SECRET, age: int = 0,  # noqa: ANN001
           transaction_id: str | None = None) -> dict:
    fields = {"merchant": MERCHANT, "order_ref": order_ref, "transaction_id": transaction_id or "TX0", "amount": amount,
              "status": status, "paid_at": None, "timestamp": int(clock.now().timestamp()) - age}
    return {**fields, "signature": sign_callback(secret, fields)}


def test_tampered_callbacks_are_refused(client, login, live, platform, clock):
    dossier, secret = awaiting_payment(client, login)
    token = public_view(live, dossier["code"], secret)["payments"][0]["pay_token"]
    platform.post("/_control/callbacks", json={"mode": "lost"})
    payer(pay_url(live, token))
    ref = payments_of(client, login, dossier["code"])[0]["transactions"][0]["order_ref"]
    good = signed(ref, "paid", 70_000, clock)

    cases = {
        "invalid_signature": {**good, "signature": sign_callback("not-the-key-0123456789", good)},
        "invalid_signature ": {**good, "amount": 1_000},  # the amount changed, the signature kept
        "amount_mismatch": signed(ref, "paid", 1_000, clock),  # signed, but not what the transaction costs
        "stale_callback": signed(ref, "paid", 70_000, clock, age=600),
        "signature_missing": {k: v for k, v in good.items() if k != "signature"},
    }
    for code, body in cases.items():
        answer = live.post("/api/v1/payments/callback", json=body)
        assert answer.status_code == 400, (code, answer.text)
        assert answer.json()["code"] == code.strip() and answer.json()["message"]
    assert live.post("/api/v1/payments/callback", content=b"not json",
                     headers={"Content-Type": "application/json"}).status_code == 400
    assert dossier_of(client, login, dossier["code"])["status"] == "awaiting_payment"
    assert payments_of(client, login, dossier["code"])[0]["status"] == "open"

    accepted = live.post("/api/v1/payments/callback", json=good)
    assert accepted.status_code == 200 and accepted.json()["duplicate"] is False
    clock.advance(minutes=10)  # the same callback replayed later: refused as stale
    replay = live.post("/api/v1/payments/callback", json=good)
    assert replay.status_code == 400 and replay.json()["code"] == "stale_callback"
    assert events_of(client, login, dossier["code"]).count("payment_confirmed") == 1


def test_a_callback_the_platform_does_not_confirm_settles_nothing(client, login, live, platform, clock):
    """Signed with the right key (a leaked key, a platform bug) but the platform holds the
    transaction unpaid: the service queries before settling and refuses."""
    dossier, secret = awaiting_payment(client, login)
    token = public_view(live, dossier["code"], secret)["payments"][0]["pay_token"]
    pay_url(live, token)  # a transaction, never paid
    ref = payments_of(client, login, dossier["code"])[0]["transactions"][0]["order_ref"]
    answer = live.post("/api/v1/payments/callback", json=signed(ref, "paid", 70_000, clock))
    assert answer.status_code == 409 and answer.json()["code"] == "not_confirmed"
    assert dossier_of(client, login, dossier["code"])["status"] == "awaiting_payment"
    assert httpx.get(f"{live.base_url}/tra-cuu/thanh-toan/ket-qua", params={"ref": "nope"}).status_code == 404


def test_paid_online_after_cash_at_the_desk_is_recorded_for_refund(client, login, live, platform, clock):
    """The citizen opened the platform's page, then paid cash at the desk; the online payment
    completes later: the dossier is settled once, the second payment is recorded to refund."""
    dossier, secret = awaiting_payment(client, login)
    token = public_view(live, dossier["code"], secret)["payments"][0]["pay_token"]
    url = pay_url(live, token)
    [request] = payments_of(client, login, dossier["code"])
    cash = client.post(f"/api/v1/dossiers/{dossier['code']}/payments/{request['id']}/receipt",
                       headers=login("motcua"), json={"version": dossier["version"]})
    assert cash.status_code == 200 and cash.json()["method"] == "cash"
    payer(url)
    [both] = payments_of(client, login, dossier["code"])
    assert both["method"] == "cash" and both["refund_amount"] == 70_000 and both["refund_reason"] == "Nộp trùng"
    assert both["transactions"][0]["status"] == "paid"
    assert events_of(client, login, dossier["code"]).count("payment_confirmed") == 1
    assert events_of(client, login, dossier["code"])[-1] == "payment_refund"
