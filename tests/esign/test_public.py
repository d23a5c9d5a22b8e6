"""The citizen downloads the signed result after a lookup (a short-lived HMAC link), and anyone
can have a PDF verified (API and /xac-thuc without JavaScript): intact, or changed."""

from __future__ import annotations

import re

from tests.workflows.test_scenarios import act

LOOKUP = "/api/v1/public/lookup"
VERIFY = "/api/v1/public/verify"


def look_up(client, dossier):
    response = client.post(LOOKUP, json={"code": dossier["code"], "secret": dossier["lookup_secret"]})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_citizen_downloads_and_verifies(client, login, clock):
    from tests.workflows.test_scenarios import receive
    desk = login("motcua")
    received = receive(client, login)
    secret = received["lookup_secret"]
    dossier = act(client, desk, received, "forward", assignee="chuyenvien")
    dossier = act(client, login("chuyenvien"), dossier, "forward")
    dossier = act(client, login("truongphong"), dossier, "forward")
    dossier = act(client, login("giamdoc"), dossier, "forward", result_reference="123/QĐ-SGDĐT")
    dossier = act(client, desk, dossier, "resolve")
    view = look_up(client, {"code": dossier["code"], "lookup_secret": secret})
    assert view["result_document"] is None  # returned at the desk: not before it is handed over
    dossier = act(client, desk, dossier, "return_result", method="desk", receiver_name="Nguyễn Văn An")
    view = look_up(client, {"code": dossier["code"], "lookup_secret": secret})
    doc = view["result_document"]
    assert doc["file_name"].endswith(".pdf") and len(doc["sha256"]) == 64 and doc["expires_at"].endswith("+07:00")
    assert secret not in doc["url"] and secret.replace("-", "") not in doc["url"]
    pdf = client.get(doc["url"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "no-store"
    import hashlib
    assert hashlib.sha256(pdf.content).hexdigest() == doc["sha256"]

    # The no-JS page offers the same link.
    page = client.post("/tra-cuu", data={"code": dossier["code"], "secret": secret})
    assert 'id="result-download"' in page.text and "/api/v1/public/results/" in page.text

    # A forged or expired link: 404 in the error shape.
    token = doc["url"].rsplit("/", 1)[1]
    forged = re.sub(r"^\d+", "999", token)
    assert client.get(f"/api/v1/public/results/{forged}").json()["code"] == "link_expired"
    clock.advance(minutes=16)
    expired = client.get(doc["url"])
    assert expired.status_code == 404 and expired.json()["code"] == "link_expired"

    # Verify: intact.
    ok = client.post(VERIFY, files={"file": ("kq.pdf", pdf.content, "application/pdf")})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["valid"] and body["issued_here"] and not body["modified_after_signing"]
    assert body["dossier_code"] == dossier["code"] and body["signer_name"] == "Phạm Quốc Hùng"
    assert body["signer_title"] == "KT. GIÁM ĐỐC – PHÓ GIÁM ĐỐC" and body["signed_at"].endswith("+07:00")
    assert "Nguyễn" not in ok.text.replace("Phạm Quốc Hùng", "")  # no applicant's data
    # One byte changed inside the signed content.
    data = bytearray(pdf.content)
    data[data.index(b"stream") + 40] ^= 0x01
    bad = client.post(VERIFY, files={"file": ("kq.pdf", bytes(data), "application/pdf")}).json()
    assert not bad["valid"] and bad["modified_after_signing"] and "ĐÃ BỊ THAY ĐỔI" in bad["verdict"]
    # The page, without JavaScript: a plain multipart form.
    page = client.post("/xac-thuc", files={"file": ("kq.pdf", bytes(data), "application/pdf")})
    assert page.status_code == 200 and "ĐÃ BỊ THAY ĐỔI" in page.text
    page = client.post("/xac-thuc", files={"file": ("kq.pdf", pdf.content, "application/pdf")})
    assert "Văn bản hợp lệ" in page.text and dossier["code"] in page.text
    assert client.get("/xac-thuc").status_code == 200


def test_online_return_downloads_as_soon_as_ready(client, login, session):
    from sqlmodel import select

    from app.models import OnlineLevel, Procedure
    from tests.workflows.test_scenarios import PROCEDURE, receive
    procedure = session.exec(select(Procedure).where(Procedure.code == PROCEDURE)).one()
    procedure.online_level = OnlineLevel.full  # toàn trình: the result may be returned online
    session.add(procedure)
    session.commit()
    desk = login("motcua")
    received = receive(client, login, return_method="online")
    dossier = act(client, desk, received, "forward", assignee="chuyenvien")
    dossier = act(client, login("chuyenvien"), dossier, "forward")
    dossier = act(client, login("truongphong"), dossier, "forward")
    dossier = act(client, login("giamdoc"), dossier, "forward")
    dossier = act(client, desk, dossier, "resolve")
    view = look_up(client, {"code": dossier["code"], "lookup_secret": received["lookup_secret"]})
    assert view["result_document"] is not None


def test_verify_refuses_garbage_and_counts_per_address(client, settings):
    for name, data in (("a.pdf", b""), ("a.pdf", b"MZ\x90\x00\x03 executable"), ("a.pdf", b"%PDF-1.7\n\x00\xff")):
        response = client.post(VERIFY, files={"file": (name, data, "application/pdf")})
        assert response.status_code in (200, 422), response.text
        if response.status_code == 200:
            assert response.json()["signed"] is False and response.json()["valid"] is False
        else:
            assert response.json()["code"] == "not_a_pdf" and response.json()["message"]
    assert client.post(VERIFY).status_code == 422
    page = client.post("/xac-thuc", files={"file": ("x.pdf", b"hello", "application/pdf")})
    assert page.status_code == 422 and "không phải là tệp PDF" in page.text
    codes = [client.post(VERIFY, files={"file": ("a.pdf", b"nope", "application/pdf")}).status_code
             for _ in range(settings.verify_rate_per_minute)]
    assert codes[-1] == 429


def test_the_portal_sync_carries_the_results_metadata(client, login, session, settings):
    from sqlmodel import select

    from app.models import OutboxMessage
    from tests.esign.test_signing import document_of, signed_result
    dossier = signed_result(client, login)
    row = document_of(session, settings, dossier["code"])
    messages = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "portal")
                            .order_by(OutboxMessage.id)).all()
    items = [item for m in messages for item in (m.payload.get("data") or []) if item.get("MaHoSo") == dossier["code"]]
    session.rollback()
    assert items, [m.topic for m in messages]
    [result] = items[-1]["DanhSachGiayToKetQua"]
    assert result["MaBamSHA256"] == row.sha256 and result["TenTepDinhKem"] == row.file_name
    assert result["NgayKy"] == "20261123090000" and result["NguoiKy"] == "Phạm Quốc Hùng"


def test_staff_list_and_download_the_signed_documents_of_their_dossiers_only(client, login):
    from tests.esign.test_signing import signed_result
    dossier = signed_result(client, login)
    url = f"/api/v1/dossiers/{dossier['code']}/signed-documents"
    [doc] = client.get(url, headers=login("motcua")).json()
    assert doc["kind"] == "result" and doc["signer_name"] == "Phạm Quốc Hùng" and doc["signed_at"].endswith("+07:00")
    pdf = client.get(doc["path"], headers=login("motcua"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert client.get(f"{url}/999999", headers=login("motcua")).json()["code"] == "document_not_found"
    other = login("other_desk")
    assert client.get(url, headers=other).status_code == 404
    assert client.get(doc["path"], headers=other).status_code == 404
