"""Fees as data, cash or transfer at the desk with an electronic receipt, refunds, the indicator
`paid_online`. Both databases."""

from __future__ import annotations

from tests.payments.conftest import FEES, FULL_PROCEDURE
from tests.payments.helpers import (awaiting_payment, dossier_of, events_of, last_portal_record, pay_url, payer,
                                    payments_of, public_view, received, with_fees)
from tests.workflows.test_scenarios import act


def test_fees_are_catalogue_data(client, login):
    with_fees(client, login)
    procedure = client.get(f"/api/v1/procedures/{FULL_PROCEDURE}", headers=login("motcua")).json()
    stored = {**FEES, "items": [{**item, "note": ""} for item in FEES["items"]]}
    assert procedure["fees"] == stored and procedure["fee"] == 50_000  # one case, one copy
    exported = client.get("/api/v1/procedures/export", headers=login("admin")).json()
    assert next(p for p in exported if p["code"] == FULL_PROCEDURE)["fees"] == stored
    bad = client.patch(f"/api/v1/procedures/{FULL_PROCEDURE}", headers=login("admin"),
                       json={"fees": {"items": [{"kind": "tax", "name": "x", "amount": 1}]}})
    assert bad.status_code == 422 and bad.json()["message"]


def test_cash_at_the_desk_for_a_request_made_at_intake(client, login, engine):
    dossier, secret = received(client, login)
    desk = login("motcua")
    asked = client.post(f"/api/v1/dossiers/{dossier['code']}/payments", headers=desk,
                        json={"copies": 3, "exemption": "nguoi_co_cong"})
    assert asked.status_code == 201, asked.text
    request = asked.json()
    # The exemption covers the lệ phí (charge) only: 3 copies exempted, the phí of 30.000 stays.
    assert request["amount"] == 30_000 and request["stage"] == "intake"
    assert [(r["quantity"], r["exempt_percent"], r["total"]) for r in request["items"]] == [(3, 100, 0), (1, 0, 30_000)]
    again = client.post(f"/api/v1/dossiers/{dossier['code']}/payments", headers=desk, json={})
    assert again.status_code == 409 and again.json()["code"] == "payment_already_requested"

    paid = client.post(f"/api/v1/dossiers/{dossier['code']}/payments/{request['id']}/receipt", headers=desk,
                       json={"method": "transfer", "reference": "FT26327001"})
    assert paid.status_code == 200, paid.text
    receipt = paid.json()
    assert receipt["status"] == "paid" and receipt["method"] == "transfer" and receipt["reference"] == "FT26327001"
    assert receipt["receipt_number"] == "01/BLĐT-SGDĐT"  # the agency's register of receipts, this year
    twice = client.post(f"/api/v1/dossiers/{dossier['code']}/payments/{request['id']}/receipt", headers=desk, json={})
    assert twice.status_code == 409 and twice.json()["code"] == "payment_not_open"
    assert dossier_of(client, login, dossier["code"])["status"] == "received"  # no clock pause at intake
    assert events_of(client, login, dossier["code"])[-2:] == ["payment_requested", "payment_received"]
    assert last_portal_record(engine, dossier["code"])["DuocThanhToanTrucTuyen"] == 0  # not online
    view = public_view(client, dossier["code"], secret)["payments"][0]
    assert view["receipt"]["number"] == "01/BLĐT-SGDĐT" and view["receipt"]["method_label"] == "Chuyển khoản"

    second, _ = received(client, login)
    other = client.post(f"/api/v1/dossiers/{second['code']}/payments", headers=desk, json={"amount": 15_000}).json()
    cash = client.post(f"/api/v1/dossiers/{second['code']}/payments/{other['id']}/receipt", headers=desk, json={})
    assert cash.json()["receipt_number"] == "02/BLĐT-SGDĐT" and cash.json()["method"] == "cash"


def test_cash_at_the_desk_resumes_the_paused_clock(client, login, clock):
    dossier, _ = awaiting_payment(client, login)
    due = dossier["due_at"]
    clock.advance(hours=2)
    [request] = payments_of(client, login, dossier["code"])
    assert request["amount"] == 70_000 and request["stage"] == "processing"
    url = f"/api/v1/dossiers/{dossier['code']}/payments/{request['id']}/receipt"
    stale = client.post(url, headers=login("motcua"), json={"version": dossier["version"] - 1})
    assert stale.status_code == 412
    paid = client.post(url, headers=login("motcua"), json={"version": dossier["version"]})
    assert paid.status_code == 200, paid.text
    assert paid.json()["method"] == "cash" and paid.json()["receipt_number"]
    after = dossier_of(client, login, dossier["code"])
    assert after["status"] == "processing" and after["due_at"] > due  # moved by the two hours of waiting
    assert events_of(client, login, dossier["code"])[-1] == "payment_confirmed"


def test_the_action_alone_records_a_cash_receipt(client, login):
    dossier, _ = awaiting_payment(client, login, exemption="nguoi_co_cong")
    [request] = payments_of(client, login, dossier["code"])
    assert request["amount"] == 30_000 and request["exemption"]["code"] == "nguoi_co_cong"
    act(client, login("motcua"), dossier, "payment_confirmed", payment_method="transfer")
    [paid] = payments_of(client, login, dossier["code"])
    assert paid["status"] == "paid" and paid["method"] == "transfer" and paid["receipt_number"]


def test_refund_on_withdrawal_where_the_procedure_allows_it(client, login):
    dossier, secret = received(client, login)
    desk = login("motcua")
    request = client.post(f"/api/v1/dossiers/{dossier['code']}/payments", headers=desk, json={}).json()
    client.post(f"/api/v1/dossiers/{dossier['code']}/payments/{request['id']}/receipt", headers=desk, json={})
    current = dossier_of(client, login, dossier["code"])
    act(client, desk, current, "withdraw", reason="Người nộp xin rút hồ sơ")
    [refunded] = payments_of(client, login, dossier["code"])
    assert refunded["refund_amount"] == refunded["amount"] == 50_000 and refunded["refund_reason"] == "Rút hồ sơ"
    assert "50.000 đồng được hoàn trả" in public_view(client, dossier["code"], secret)["payments"][0]["refund_text"]

    # An unpaid request lapses with the dossier: nothing to refund.
    other, _ = received(client, login)
    unpaid = client.post(f"/api/v1/dossiers/{other['code']}/payments", headers=desk, json={}).json()
    act(client, desk, dossier_of(client, login, other["code"]), "withdraw", reason="Rút")
    [lapsed] = payments_of(client, login, other["code"])
    assert lapsed["id"] == unpaid["id"] and lapsed["status"] == "cancelled" and lapsed["refund_amount"] is None


def test_nothing_to_pay_is_a_clear_422(client, login):
    dossier, _ = received(client, login)
    with_fees(client, login, {"items": [], "exemptions": [], "refundable_on": []})
    response = client.patch(f"/api/v1/procedures/{FULL_PROCEDURE}", json={"fee": 0}, headers=login("admin"))
    assert response.status_code == 200
    dossier = act(client, login("motcua"), dossier, "forward", assignee="chuyenvien")
    refused = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/request_payment", headers=login("chuyenvien"),
                          json={"version": dossier["version"]})
    assert refused.status_code == 422 and refused.json()["code"] == "nothing_to_pay"
    assert dossier_of(client, login, dossier["code"])["status"] == "processing"  # nothing half-written


def test_indicator_paid_online_counts_dossiers_paid_online(client, login, live, platform):
    online, secret = awaiting_payment(client, login)
    payer(pay_url(live, public_view(live, online["code"], secret)["payments"][0]["pay_token"]))
    at_desk, _ = received(client, login)
    desk = login("motcua")
    request = client.post(f"/api/v1/dossiers/{at_desk['code']}/payments", headers=desk, json={}).json()
    client.post(f"/api/v1/dossiers/{at_desk['code']}/payments/{request['id']}/receipt", headers=desk, json={})
    received(client, login)  # owes nothing: not in the indicator
    body = client.get("/api/v1/reports/indicators", params={"period": "2026-11"}, headers=login("giamdoc")).json()
    value = {i["code"]: i for i in body["indicators"]}["paid_online"]
    assert (value["numerator"], value["denominator"], value["value"]) == (1, 2, 50.0)
    assert "paid_online" not in {u["code"] for u in body["unsupported"]}


def test_refund_on_a_reasoned_refusal(client, login):
    """The result is a refusal (văn bản trả lời nêu rõ lý do): the fees paid at intake are refunded."""
    dossier, _ = received(client, login)
    desk = login("motcua")
    request = client.post(f"/api/v1/dossiers/{dossier['code']}/payments", headers=desk, json={}).json()
    client.post(f"/api/v1/dossiers/{dossier['code']}/payments/{request['id']}/receipt", headers=desk, json={})
    current = act(client, desk, dossier_of(client, login, dossier["code"]), "forward", assignee="chuyenvien")
    current = act(client, login("chuyenvien"), current, "forward", result_kind="refusal",
                  reason="Sổ gốc không có tên người đề nghị")
    current = act(client, login("giamdoc"), current, "forward")
    current = act(client, desk, current, "resolve")
    assert current["status"] == "resolved"
    [refunded] = payments_of(client, login, dossier["code"])
    assert refunded["refund_amount"] == 50_000 and refunded["refund_reason"] == "Hồ sơ bị từ chối"
