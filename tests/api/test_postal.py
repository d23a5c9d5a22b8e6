"""Public postal service (BCCI): postal intake, result shipments, shipment status, agency scope."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.conftest import VN
from tests.workflows.test_scenarios import act, ready, intake_body, receive, required_documents

PROCEDURE = "2.001914"
NO_POSTAL = "3.000181"  # neither postal receipt nor postal return
NO_POSTAL_RETURN = "1.005090"  # postal receipt yes, postal return no


def resolved(client, login, code=PROCEDURE, **overrides):  # noqa: ANN001, ANN201
    dossier = receive(client, login, code, **overrides)
    desk, specialist, head, director = (login(u) for u in ("motcua", "chuyenvien", "truongphong", "giamdoc"))
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    dossier = act(client, specialist, dossier, "forward")
    dossier = act(client, head, dossier, "forward")
    return ready(client, director, login("motcua"), dossier, result_reference="7/QĐ-SGDĐT")


def shipments(client, headers, code):  # noqa: ANN001, ANN201
    response = client.get(f"/api/v1/dossiers/{code}/shipments", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def patch(client, headers, shipment_id, **body):  # noqa: ANN001, ANN201
    return client.patch(f"/api/v1/shipments/{shipment_id}", json=body, headers=headers)


def test_postal_intake_keeps_transit_apart_and_records_the_package(client, login, clock):  # noqa: ANN001
    postal = login("buudien")
    handed = datetime(2026, 11, 20, 15, 0, tzinfo=VN)  # the Friday before; accepted on Monday 09:00
    body = intake_body(documents=required_documents(client, postal), channel="postal", return_method="postal",
                       postal={"tracking_number": "EB123456789VN", "handed_over_at": handed.isoformat(), "fee": 25000},
                       received_by="motcua")
    response = client.post("/api/v1/dossiers", json=body, headers=postal)
    assert response.status_code == 201, response.text
    dossier = response.json()
    assert dossier["channel"] == "postal"
    assert datetime.fromisoformat(dossier["postal_handed_over_at"]) == handed
    assert datetime.fromisoformat(dossier["received_at"]) == clock.now()
    [package] = shipments(client, postal, dossier["code"])
    assert package["direction"] == "inbound" and package["tracking_number"] == "EB123456789VN"
    assert package["status"] == "delivered" and package["fee"] == 25000 and package["carrier"] == "VNPost"
    assert datetime.fromisoformat(package["handed_over_at"]) == handed
    # A postal clerk may only bring in postal dossiers.
    direct = intake_body(documents=required_documents(client, postal))
    assert client.post("/api/v1/dossiers", json=direct, headers=postal).status_code == 403


def test_postal_intake_refused_where_the_procedure_forbids_it(client, login):  # noqa: ANN001
    postal = login("buudien")
    body = intake_body(NO_POSTAL, documents=required_documents(client, postal, NO_POSTAL), channel="postal",
                       postal={"tracking_number": "EB000000001VN"})
    response = client.post("/api/v1/dossiers", json=body, headers=postal)
    assert response.status_code == 422
    assert response.json()["code"] == "postal_receipt_not_allowed"
    assert response.json()["message"]  # Vietnamese text for the clerk


def test_postal_return_refused_where_the_procedure_forbids_it(client, login):  # noqa: ANN001
    desk = login("motcua")
    # Asked for at intake...
    body = intake_body(NO_POSTAL_RETURN, documents=required_documents(client, desk, NO_POSTAL_RETURN),
                       return_method="postal")
    response = client.post("/api/v1/dossiers", json=body, headers=desk)
    assert response.status_code == 422 and response.json()["code"] == "postal_return_not_allowed"
    # ...or at the hand-over of the result.
    dossier = resolved(client, login, NO_POSTAL_RETURN)
    response = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/return_result",
                           json={"version": dossier["version"], "method": "postal", "tracking_number": "EB1VN0001"},
                           headers=desk)
    assert response.status_code == 422 and response.json()["code"] == "postal_return_not_allowed"
    # Nor can the shipment be recorded on its own.
    response = client.post(f"/api/v1/dossiers/{dossier['code']}/shipments", json={"tracking_number": "EB1VN0001"},
                           headers=desk)
    assert response.status_code == 422 and response.json()["code"] == "postal_return_not_allowed"


def test_result_by_post_is_followed_to_delivery_without_touching_returned_at(client, login, clock):  # noqa: ANN001
    desk, postal = login("motcua"), login("buudien")
    dossier = resolved(client, login, return_method="postal")
    clock.advance(hours=1)
    missing = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/return_result",
                          json={"version": dossier["version"], "method": "postal"}, headers=desk)
    assert missing.status_code == 422  # a tracking number is needed
    dossier = act(client, desk, dossier, "return_result", method="postal", tracking_number="RR987654321VN", fee=30000)
    returned_at = dossier["returned_at"]
    assert dossier["status"] == "returned" and datetime.fromisoformat(returned_at) == clock.now()
    [package] = shipments(client, desk, dossier["code"])
    assert package["direction"] == "outbound" and package["status"] == "handed_over"
    assert package["allowed_statuses"] == ["delivered", "in_transit", "returned_to_sender"]

    clock.advance(hours=5)
    response = patch(client, postal, package["id"], status="in_transit")
    assert response.status_code == 200 and response.json()["status"] == "in_transit"
    clock.advance(days=1)
    delivered_at = clock.now() - timedelta(hours=2)
    response = patch(client, postal, package["id"], status="delivered", at=delivered_at.isoformat())
    assert response.status_code == 200, response.text
    assert datetime.fromisoformat(response.json()["delivered_at"]) == delivered_at
    assert response.json()["status_label"] == "Đã phát thành công"
    # Delivery does not move the dossier's own return time.
    assert client.get(f"/api/v1/dossiers/{dossier['code']}", headers=desk).json()["returned_at"] == returned_at
    # Repeating the same status is harmless; going back is a conflict.
    assert patch(client, postal, package["id"], status="delivered").status_code == 200
    back = patch(client, postal, package["id"], status="in_transit")
    assert back.status_code == 409 and back.json()["code"] == "illegal_shipment_transition"
    assert back.json()["detail"]["allowed"] == []


def test_shipment_status_rules(client, login, clock):  # noqa: ANN001
    desk, postal, specialist = login("motcua"), login("buudien"), login("chuyenvien")
    dossier = resolved(client, login, return_method="postal")
    response = client.post(f"/api/v1/dossiers/{dossier['code']}/shipments",
                           json={"tracking_number": "CP000111222VN", "fee": 18000, "fee_payer": "agency"}, headers=desk)
    assert response.status_code == 201, response.text
    package = response.json()
    assert package["status"] == "created" and package["fee_payer"] == "agency"
    assert package["address"] == "Số 5 Lê Lợi, phường Mẫu"  # the applicant's address by default
    skip = patch(client, postal, package["id"], status="delivered")
    assert skip.status_code == 409 and skip.json()["detail"]["allowed"] == ["handed_over"]
    assert patch(client, specialist, package["id"], status="handed_over").status_code == 403
    future = patch(client, postal, package["id"], status="handed_over", at=(clock.now() + timedelta(hours=1)).isoformat())
    assert future.status_code == 422
    assert patch(client, postal, package["id"], status="lost").status_code == 422
    assert patch(client, postal, 2_000_000_000, status="handed_over").status_code == 404
    assert patch(client, postal, 99_999_999_999, status="handed_over").status_code == 422
    # A time without an offset is Vietnamese local time (app/fields.py), answered with +07:00.
    response = patch(client, desk, package["id"], status="handed_over", at="2026-11-23T08:00:00", note="Giao bưu tá lúc 8h")
    assert response.status_code == 200 and response.json()["note"]
    assert response.json()["handed_over_at"] == "2026-11-23T08:00:00+07:00"
    early = patch(client, postal, package["id"], status="delivered", at=(clock.now() - timedelta(days=1)).isoformat())
    assert early.status_code == 422 and early.json()["code"] == "shipment_time_order"
    returned = patch(client, postal, package["id"], status="returned_to_sender")
    assert returned.status_code == 200 and returned.json()["delivered_at"] is None


def test_outbound_shipment_recorded_first_is_handed_over_by_return_result(client, login, clock):  # noqa: ANN001
    desk, postal = login("motcua"), login("buudien")
    early = receive(client, login)
    not_ready = client.post(f"/api/v1/dossiers/{early['code']}/shipments", json={"tracking_number": "EE1234VN"},
                            headers=desk)
    assert not_ready.status_code == 409 and not_ready.json()["code"] == "result_not_ready"

    dossier = resolved(client, login, return_method="postal")
    url = f"/api/v1/dossiers/{dossier['code']}/shipments"
    assert client.post(url, json={"tracking_number": "EE5555VN"}, headers=postal).status_code == 403
    assert client.post(url, json={"tracking_number": "bad number!"}, headers=desk).status_code == 422
    created = client.post(url, json={"tracking_number": "EE5555VN"}, headers=desk)
    assert created.status_code == 201
    twice = client.post(url, json={"tracking_number": "EE6666VN"}, headers=desk)
    assert twice.status_code == 409 and twice.json()["code"] == "shipment_exists"
    clock.advance(minutes=30)
    # The shipment on file carries the result: no tracking number needed again, no second package.
    dossier = act(client, desk, dossier, "return_result", method="postal")
    assert dossier["status"] == "returned"
    [package] = shipments(client, desk, dossier["code"])
    assert package["tracking_number"] == "EE5555VN" and package["status"] == "handed_over"
    assert datetime.fromisoformat(package["handed_over_at"]) == clock.now()


def test_shipment_lists_are_scoped_and_filtered(client, login):  # noqa: ANN001
    desk, other = login("motcua"), login("other_desk")
    postal = login("buudien")
    body = intake_body(documents=required_documents(client, postal), channel="postal",
                       postal={"tracking_number": "EB55555555VN"}, received_by="motcua")
    inbound = client.post("/api/v1/dossiers", json=body, headers=postal).json()
    dossier = resolved(client, login, return_method="postal")
    act(client, desk, dossier, "return_result", method="postal", tracking_number="RR55555555VN")

    page = client.get("/api/v1/shipments", headers=desk).json()
    assert [s["direction"] for s in page["items"]] == ["outbound", "inbound"] and page["next_cursor"] is None
    outbound = client.get("/api/v1/shipments?direction=outbound", headers=desk).json()["items"]
    assert [s["tracking_number"] for s in outbound] == ["RR55555555VN"]
    delivered = client.get("/api/v1/shipments?status=delivered", headers=postal).json()["items"]
    assert [s["dossier_code"] for s in delivered] == [inbound["code"]]
    first = client.get("/api/v1/shipments?limit=1", headers=desk).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    rest = client.get(f"/api/v1/shipments?limit=1&before={first['next_cursor']}", headers=desk).json()
    assert [s["direction"] for s in rest["items"]] == ["inbound"]
    assert client.get("/api/v1/shipments?limit=500", headers=desk).status_code == 422
    assert client.get("/api/v1/shipments?status=lost", headers=desk).status_code == 422

    # Another Department sees none of it.
    assert client.get("/api/v1/shipments", headers=other).json()["items"] == []
    assert client.get(f"/api/v1/dossiers/{inbound['code']}/shipments", headers=other).status_code == 404
    package_id = outbound[0]["id"]
    assert patch(client, other, package_id, status="in_transit").status_code == 404
    assert client.get("/api/v1/shipments").status_code == 401
