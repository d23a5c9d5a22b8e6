"""The forms as PDF (WeasyPrint): A4, fonts embedded, Vietnamese text intact in the extracted text."""

from __future__ import annotations

import io
import re
from pypdf import PdfReader

from tests.web.test_forms import FORMS, processed
from tests.workflows.test_scenarios import act, receive

A4 = (595.28, 841.89)  # points


def pdf_text(response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.content))
    box = reader.pages[0].mediabox
    short, long_ = sorted((float(box.width), float(box.height)))
    assert abs(short - A4[0]) < 1 and abs(long_ - A4[1]) < 1  # A4, portrait or landscape
    fonts = set()
    for page in reader.pages:
        for font in (page["/Resources"].get_object().get("/Font") or {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0].get_object() if descendants else font).get("/FontDescriptor")
            assert descriptor is not None and any(k in descriptor.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3")), font
            fonts.add(str(font["/BaseFont"]))
    assert any("DejaVu" in f for f in fonts), fonts  # embedded (subset) fonts, not the printer's
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def test_receipt_pdf_by_suffix_and_by_accept(client, login):
    dossier = receive(client, login)
    desk = login("motcua")
    text = pdf_text(client.get(f"{FORMS.format(code=dossier['code'])}/receipt.pdf", headers=desk))
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in text and "Bộ phận Một cửa" in text
    assert "Nguyễn Văn An" in text and dossier["code"] in text
    assert "ngày 23 tháng 11 năm 2026" in text and "Nguyễn Thị Lan" in text
    by_accept = client.get(f"{FORMS.format(code=dossier['code'])}/receipt",
                           headers={**desk, "Accept": "application/pdf"})
    assert pdf_text(by_accept) == text
    # A browser's Accept keeps the HTML page.
    html = client.get(f"{FORMS.format(code=dossier['code'])}/receipt",
                      headers={**desk, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert html.headers["content-type"].startswith("text/html")
    # The applicant's copy with the secret, as PDF.
    secret = client.post(f"{FORMS.format(code=dossier['code'])}/receipt.pdf", headers=desk,
                         json={"lookup_secret": dossier["lookup_secret"]})
    assert dossier["lookup_secret"] in pdf_text(secret)


def test_every_form_as_pdf(client, login, clock):
    dossier = processed(client, login, clock)
    code = dossier["code"]
    director = login("giamdoc")
    slip = pdf_text(client.get(f"{FORMS.format(code=code)}/slip.pdf", headers=director))
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in slip.upper() and code in slip
    day = dossier["received_at"][:10]
    book = client.get(f"/api/v1/forms/tracking-book.pdf?from={day}&to={day}", headers=director)
    book_text = pdf_text(book)
    assert "SỔ THEO DÕI HỒ SƠ" in book_text.upper() and code in book_text.replace(" ", "")  # a narrow cell wraps the code
    box = PdfReader(io.BytesIO(book.content)).pages[0].mediabox
    assert float(box.width) > float(box.height)  # form 07 prints landscape
    flat = re.sub(r"\s+", " ", book_text)
    for column in ("STT", "Mã hồ sơ", "Tên thủ tục hành chính", "Số lượng hồ sơ (bộ)", "Tên tổ chức, cá nhân",
                   "Địa chỉ, số điện thoại", "Cơ quan chủ trì giải quyết", "Ngày, giờ nhận hồ sơ", "Hẹn trả kết quả",
                   "Chuyển hồ sơ đến cơ quan giải quyết", "Nhận kết quả từ cơ quan giải quyết",
                   "Trả kết quả cho tổ chức, cá nhân", "Ghi chú"):  # the legal columns of the book
        assert column in flat, column
    # A form that does not apply answers 409 in the error shape, not a PDF.
    refused = client.get(f"{FORMS.format(code=code)}/refusal.pdf", headers=director)
    assert refused.status_code == 409 and refused.json()["code"]
    # Another agency's dossier or an unknown form: not found / invalid, never a PDF.
    assert client.get(f"{FORMS.format(code=code)}/nothing.pdf", headers=director).status_code == 422


def test_stop_notice_pdf_carries_the_leaders_signature_block(client, login):
    desk, deputy = login("motcua"), login("giamdoc")
    dossier = act(client, desk, receive(client, login), "forward", assignee="chuyenvien")
    act(client, deputy, dossier, "stop", reason="Cơ sở đào tạo đã giải thể")
    text = pdf_text(client.get(f"{FORMS.format(code=dossier['code'])}/stop.pdf", headers=desk))
    assert "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ" in text.upper()
    assert "Cơ sở đào tạo đã giải thể" in text and "GIÁM ĐỐC" in text


def test_supplement_refusal_and_apology_pdfs(client, login, session):
    from datetime import datetime, timedelta

    from sqlmodel import select

    from app.models import Apology, Dossier
    from tests.workflows.test_scenarios import intake_body
    desk = login("motcua")
    asked = client.post("/api/v1/dossiers", headers=desk, json=intake_body(
        decision="request_supplement", missing_items=["Bản sao giấy khai sinh"], documents=[])).json()
    text = pdf_text(client.get(f"{FORMS.format(code=asked['code'])}/supplement.pdf", headers=desk))
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text.upper() and "Bản sao giấy khai sinh" in text

    refused = client.post("/api/v1/dossiers", headers=desk, json=intake_body(
        decision="refuse", reason="Không thuộc thẩm quyền giải quyết của Sở")).json()
    text = pdf_text(client.get(f"{FORMS.format(code=refused['code'])}/refusal.pdf", headers=desk))
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text.upper()
    assert "Không thuộc thẩm quyền giải quyết của Sở" in text and "Nguyễn Thị Lan" in text

    dossier = receive(client, login)
    row = session.exec(select(Dossier).where(Dossier.code == dossier["code"])).one()
    original = datetime.fromisoformat(dossier["due_at"])
    session.add(Apology(dossier_id=row.id, status="issued", reason="Cần xác minh với trường cấp văn bằng",
                        original_due_at=original, proposed_due_at=original + timedelta(days=2),
                        new_due_at=original + timedelta(days=3), drafted_at=original, issued_at=original,
                        signer_name="Phạm Quốc Hùng", signer_title="KT. Giám đốc\nPhó Giám đốc"))
    session.commit()
    text = pdf_text(client.get(f"{FORMS.format(code=dossier['code'])}/apology.pdf", headers=desk))
    assert "Cần xác minh với trường cấp văn bằng" in text and "Phạm Quốc Hùng" in text
    assert "KT. GIÁM ĐỐC" in text and "PHÓ GIÁM ĐỐC" in text
