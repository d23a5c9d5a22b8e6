"""Printable forms (Mẫu số 01–07) through the API, on both databases; date wording without one."""

from __future__ import annotations

import html
import re
from datetime import date, datetime, timedelta

from sqlmodel import select

from app.models import Apology, Dossier
from app.web.render import short_moment, vn_day, vn_moment
from tests.conftest import VN
from tests.workflows.test_scenarios import act, ready, intake_body, receive, required_documents

FORMS = "/api/v1/dossiers/{code}/forms"


def page(client, headers, code, form, status=200):
    response = client.get(f"{FORMS.format(code=code)}/{form}", headers=headers)
    assert response.status_code == status, response.text
    return response


def text_of(response) -> str:
    """The visible text of a page, whitespace collapsed, entities decoded."""
    body = re.sub(r"<style>.*?</style>", " ", response.text, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def processed(client, login, clock):
    """A dossier taken through every step to a returned result (5 working days; received Mon 23/11 09:00)."""
    desk, specialist, head, director = (login(u) for u in ("motcua", "chuyenvien", "truongphong", "giamdoc"))
    dossier = receive(client, login)
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    clock.advance(hours=3)
    dossier = act(client, specialist, dossier, "forward", note="Đủ điều kiện")
    clock.advance(hours=2)
    dossier = act(client, head, dossier, "forward")
    clock.advance(hours=1)
    dossier = ready(client, director, login("motcua"), dossier, result_reference="123/QĐ-SGDĐT")
    return act(client, desk, dossier, "return_result", method="desk", receiver_name="Nguyễn Văn An")


def test_vietnamese_date_wording():
    # Decree 30/2020: a leading zero for days below 10 and for months 1 and 2 only.
    assert vn_day(date(2026, 1, 5)) == "ngày 05 tháng 01 năm 2026"
    assert vn_day(date(2026, 2, 28)) == "ngày 28 tháng 02 năm 2026"
    assert vn_day(date(2026, 3, 9)) == "ngày 09 tháng 3 năm 2026"
    assert vn_day(date(2026, 11, 23)) == "ngày 23 tháng 11 năm 2026"
    assert vn_moment(datetime(2026, 12, 1, 9, 5, tzinfo=VN)) == "09 giờ 05 phút, ngày 01 tháng 12 năm 2026"
    assert short_moment(datetime(2026, 12, 1, 13, 30, tzinfo=VN)) == "13:30 01/12/2026"
    assert vn_day(None) == vn_moment(None) == short_moment(None) == ""


def test_receipt_two_copies_with_appointment_and_no_secret_on_reprint(client, login):
    dossier = receive(client, login)
    response = page(client, login("motcua"), dossier["code"], "receipt")
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "script-src" not in response.headers["content-security-policy"]
    text = text_of(response)
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in text.upper()
    assert text.count(f"Mã hồ sơ: {dossier['code']}") == 2
    assert "Liên 1: Giao người nộp hồ sơ" in text and "Liên 2: Lưu tại Bộ phận Một cửa" in text
    assert "Nguyễn Văn An" in text and "0912345678" in text and "an@example.vn" in text
    assert "09 giờ 00 phút, ngày 23 tháng 11 năm 2026" in text  # received
    # Tuesday 24/11 is Vietnam Culture Day: 5 working days end Tuesday 1/12 at 09:00.
    assert "09 giờ 00 phút, ngày 01 tháng 12 năm 2026" in text
    assert "05 ngày làm việc" in text
    for document in required_documents(client, login("motcua")):
        assert document["name"] in text
    assert "NGƯỜI TIẾP NHẬN HỒ SƠ (Ký và ghi rõ họ tên) Nguyễn Thị Lan" in text  # the receiving officer signs
    assert "mã bí mật" not in text
    assert "……………, ngày 23 tháng 11 năm 2026" in text


def test_receipt_prints_the_secret_on_the_applicants_copy_only(client, login):
    dossier = receive(client, login)
    desk = login("motcua")
    url = f"{FORMS.format(code=dossier['code'])}/receipt"
    response = client.post(url, json={"lookup_secret": dossier["lookup_secret"].lower()}, headers=desk)
    assert response.status_code == 200, response.text
    text = text_of(response)
    assert text.count(dossier["lookup_secret"]) == 1
    assert text.index(dossier["lookup_secret"]) < text.index("Liên 2")
    wrong = client.post(url, json={"lookup_secret": "2222-2222"}, headers=desk)
    assert wrong.status_code == 422 and wrong.json()["code"] == "lookup_secret_mismatch"


def test_applicant_text_is_escaped(client, login):
    dossier = receive(client, login, applicant={"full_name": "<script>alert(1)</script> Lê", "id_number": "001099012345",
                                                 "address": "Số 1 <b>Lý</b> & Trần"})
    response = page(client, login("motcua"), dossier["code"], "receipt")
    assert "<script>" not in response.text and "<b>Lý</b>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Lê" in response.text
    assert "Số 1 &lt;b&gt;Lý&lt;/b&gt; &amp; Trần" in response.text


def test_supplement_request_then_receipt_once_complete(client, login, clock):
    desk = login("motcua")
    asked = client.post("/api/v1/dossiers", headers=desk, json=intake_body(
        decision="request_supplement", missing_items=["Bản sao giấy khai sinh", "Đơn đề nghị (theo mẫu)"],
        note="Thiếu giấy tờ"))
    assert asked.status_code == 201, asked.text
    dossier = asked.json()
    code = dossier["code"]
    refused = page(client, desk, code, "receipt", status=409).json()
    assert refused["code"] == "form_not_applicable" and "mẫu số 01" in refused["message"]
    listing = {f["slug"]: f for f in client.get(FORMS.format(code=code), headers=desk).json()}
    assert listing["supplement"]["available"] and not listing["receipt"]["available"]
    assert listing["receipt"]["reason"] and listing["supplement"]["number"] == "02"

    text = text_of(page(client, desk, code, "supplement"))
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text.upper()
    assert "1. Bản sao giấy khai sinh" in text and "2. Đơn đề nghị (theo mẫu)" in text
    assert "Lý do: Thiếu giấy tờ" in text
    assert "tính từ khi Bộ phận Một cửa tiếp nhận hồ sơ đầy đủ" in text
    assert "Nguyễn Thị Lan" in text and "0209 3870 000" in text  # the guide and the agency's phone

    clock.advance(days=1)
    act(client, desk, dossier, "supplement_received")
    text = text_of(page(client, desk, code, "receipt"))
    assert "09 giờ 00 phút, ngày 24 tháng 11 năm 2026" in text  # received when the supplement completed it


def test_supplement_during_processing_states_the_clock_rule(client, login, clock):
    dossier = receive(client, login)
    desk, specialist = login("motcua"), login("chuyenvien")
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    clock.advance(hours=1)
    act(client, specialist, dossier, "request_supplement", items=["Bản sao học bạ"])
    text = text_of(page(client, desk, dossier["code"], "supplement"))
    assert "1. Bản sao học bạ" in text
    assert "thời gian chờ bổ sung không tính vào thời hạn" in text  # the procedure's `pause` rule
    assert "Trần Văn Minh" in text  # the specialist who asked guides the applicant


def test_refusal(client, login):
    desk = login("motcua")
    response = client.post("/api/v1/dossiers", headers=desk,
                           json=intake_body(decision="refuse", reason="Không thuộc thẩm quyền giải quyết của Sở"))
    code = response.json()["code"]
    text = text_of(page(client, desk, code, "refusal"))
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text.upper()
    assert "Không thuộc thẩm quyền giải quyết của Sở" in text
    assert "Nguyễn Thị Lan" in text
    assert page(client, desk, code, "slip", status=409).json()["code"] == "form_not_applicable"
    assert page(client, desk, receive(client, login)["code"], "refusal", status=409).json()["code"] == (
        "form_not_applicable")


def test_apology_draft_then_issued(client, login, session, clock):
    dossier = receive(client, login)
    desk = login("motcua")
    assert page(client, desk, dossier["code"], "apology", status=409).json()["code"] == "form_not_applicable"
    row = session.exec(select(Dossier).where(Dossier.code == dossier["code"])).one()
    original = datetime.fromisoformat(dossier["due_at"])
    apology = Apology(dossier_id=row.id, status="draft", reason="Cần xác minh với trường cấp văn bằng",
                      original_due_at=original, proposed_due_at=original + timedelta(days=2), drafted_at=clock.now())
    session.add(apology)
    session.commit()
    text = text_of(page(client, desk, dossier["code"], "apology"))
    assert "DỰ THẢO" in text
    assert "Kính gửi: Nguyễn Văn An" in text
    assert "09 giờ 00 phút, ngày 01 tháng 12 năm 2026" in text  # the original appointment
    assert "09 giờ 00 phút, ngày 03 tháng 12 năm 2026" in text  # the proposed one
    assert "Cần xác minh với trường cấp văn bằng" in text
    assert "GIÁM ĐỐC" in text  # the agency head signs by default

    apology.status, apology.issued_at = "issued", clock.now()
    apology.new_due_at = original + timedelta(days=3)
    apology.signer_name, apology.signer_title = "Phạm Quốc Hùng", "KT. Giám đốc – Phó Giám đốc"
    session.add(apology)
    session.commit()
    text = text_of(page(client, desk, dossier["code"], "apology"))
    assert "DỰ THẢO" not in text
    assert "09 giờ 00 phút, ngày 04 tháng 12 năm 2026" in text
    assert "Phạm Quốc Hùng" in text and "KT. GIÁM ĐỐC – PHÓ GIÁM ĐỐC" in text


def test_stop_notice_and_withdrawal(client, login):
    desk, director = login("motcua"), login("giamdoc")
    dossier = act(client, desk, receive(client, login), "forward", assignee="chuyenvien")
    assert page(client, desk, dossier["code"], "stop", status=409).json()["code"] == "form_not_applicable"
    act(client, director, dossier, "stop", reason="Cơ sở đào tạo đã giải thể")
    text = text_of(page(client, desk, dossier["code"], "stop"))
    assert "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ" in text.upper()
    assert "Lý do: Cơ sở đào tạo đã giải thể" in text and "rút hồ sơ" not in text

    withdrawn = act(client, desk, receive(client, login), "withdraw")
    text = text_of(page(client, desk, withdrawn["code"], "stop"))
    assert "theo đề nghị rút hồ sơ của ông/bà" in text
    assert "Theo đề nghị của người nộp hồ sơ" in text


def test_control_slip_has_one_row_per_hand_over(client, login, clock):
    dossier = processed(client, login, clock)
    text = text_of(page(client, login("truongphong"), dossier["code"], "slip"))
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in text.upper()
    rows = re.findall(r"<tr>\s*<td class=\"n\">(\d+)</td>", page(client, login("motcua"), dossier["code"],
                                                                   "slip").text)
    assert rows == ["1", "2", "3", "4"]  # specialist, division head, director, desk hand-over
    assert "Nguyễn Thị Lan (Cán bộ Bộ phận Một cửa)" in text  # gave the dossier to the specialist
    assert "Trần Văn Minh (Chuyên viên)" in text
    assert "Chuyển bước tiếp theo: Đủ điều kiện" in text
    assert "Hoàn thành, có kết quả" in text and "Đã trả kết quả" in text
    assert "09:00 23/11/2026" in text and "12:00 23/11/2026" in text  # handed over, then forwarded
    assert "Trước hạn" in text
    assert "Tại Bộ phận Một cửa" in text  # how the result was returned


def test_control_slip_lists_pauses_and_marks_an_overdue_open_step(client, login, clock):
    desk, specialist = login("motcua"), login("chuyenvien")
    dossier = act(client, desk, receive(client, login), "forward", assignee="chuyenvien")
    clock.advance(hours=1)
    dossier = act(client, specialist, dossier, "request_supplement", items=["Bản sao học bạ"])
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=VN))
    dossier = act(client, desk, dossier, "supplement_received")
    text = text_of(page(client, desk, dossier["code"], "slip"))
    assert "Chờ bổ sung, hoàn thiện hồ sơ" in text
    assert "10:00 23/11/2026" in text and "10:00 25/11/2026" in text
    assert "thời gian chờ bổ sung không tính vào thời hạn" in text
    assert re.search(r"\d\d/\d\d/\d{4} Đang xử lý", text)  # the open step: no outcome yet
    clock.set(datetime(2026, 12, 15, 9, 0, tzinfo=VN))  # far past the step's budget
    assert re.search(r"\d\d/\d\d/\d{4} Quá hạn Đang xử lý", text_of(page(client, desk, dossier["code"],
                                                                            "slip")))


def test_forms_of_another_agency_are_not_found(client, login):
    dossier = receive(client, login)
    other = login("other_desk")
    assert client.get(FORMS.format(code=dossier["code"]), headers=other).status_code == 404
    for form in ("receipt", "slip", "refusal"):
        response = page(client, other, dossier["code"], form, status=404)
        assert response.json()["code"] == "dossier_not_found"
    posted = client.post(f"{FORMS.format(code=dossier['code'])}/receipt",
                         json={"lookup_secret": dossier["lookup_secret"]}, headers=other)
    assert posted.status_code == 404
    assert client.get(f"{FORMS.format(code=dossier['code'])}/receipt").status_code == 401
    unknown = client.get(f"{FORMS.format(code=dossier['code'])}/mau-99", headers=login("motcua"))
    assert unknown.status_code == 422 and unknown.json()["code"] == "validation_error"


def test_tracking_book(client, login, clock):
    desk = login("motcua")
    first = processed(client, login, clock)  # received Mon 23/11
    client.post("/api/v1/dossiers", headers=desk, json=intake_body(decision="refuse", reason="Sai thẩm quyền"))
    clock.set(datetime(2026, 11, 25, 14, 0, tzinfo=VN))
    second = receive(client, login, applicant={"full_name": "Công ty TNHH Mẫu", "id_number": "0101234567",
                                               "type": "organization"})
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=VN))
    receive(client, login)  # outside the period
    other_desk = login("other_desk")
    assert client.get("/api/v1/dossiers", headers=other_desk).json()["items"] == []

    url = "/api/v1/forms/tracking-book?from=2026-11-23&to=2026-11-30"
    response = client.get(url, headers=login("baocao"))
    assert response.status_code == 200, response.text
    text = text_of(response)
    assert "SỔ THEO DÕI HỒ SƠ" in text.upper() and "(2 hồ sơ)" in text
    assert text.index(first["code"]) < text.index(second["code"])
    assert "Công ty TNHH Mẫu" in text
    assert "Chỉnh sửa nội dung văn bằng" in text  # the procedure's name
    # First dossier: received, handed to the specialist, resolved and returned the same day, before time.
    assert text.count("23/11/2026") >= 4 and "Trước hạn" in text
    assert "Sai thẩm quyền" not in text  # refused at the desk: never received, not in the book
    assert "14:00 25/11/2026" in text

    assert "(0 hồ sơ)" in text_of(client.get(url, headers=other_desk))
    bad = client.get("/api/v1/forms/tracking-book?from=2026-11-30&to=2026-11-01", headers=desk)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_period"
    long = client.get("/api/v1/forms/tracking-book?from=2025-01-01&to=2026-11-30", headers=desk)
    assert long.status_code == 422 and long.json()["code"] == "period_too_long"
    assert client.get("/api/v1/forms/tracking-book?from=x&to=2026-11-30", headers=desk).status_code == 422


def test_receipt_prints_the_lookup_address_and_a_qr_code_without_the_secret(client, login, app):
    """Issue 16, item 7: the QR code opens /tra-cuu with the dossier code filled in, never the secret."""
    import segno

    from app.web import qr

    dossier = receive(client, login)
    response = client.post(f"{FORMS.format(code=dossier['code'])}/receipt",
                           json={"lookup_secret": dossier["lookup_secret"]}, headers=login("motcua"))
    assert response.status_code == 200, response.text
    settings = app.state.settings
    link = qr.lookup_link(settings, dossier["code"])
    assert link == f"{settings.public_address()}/tra-cuu?code={dossier['code']}"
    secret = dossier["lookup_secret"]
    assert secret not in link and secret.replace("-", "") not in link
    # The SVG on the page is exactly the QR code of that link: same data, same matrix.
    svg = qr.qr_svg(link)
    assert response.text.count(str(svg)) == 2  # on both copies
    matrix = segno.make(link, error="m", micro=False).matrix
    assert segno.make(link + "&secret=" + secret, error="m", micro=False).matrix != matrix
    assert str(svg).startswith("<svg") and "path" in str(svg)
    text = text_of(response)
    assert text.count(f"Tra cứu tình trạng hồ sơ tại {settings.public_address()}/tra-cuu") == 2
    assert text.count(secret) == 1  # the secret: printed once, on the applicant's copy, outside the QR
    # The link works: the page opens with the code filled in and asks for the secret.
    page = client.get(link.removeprefix(settings.public_address()))
    assert page.status_code == 200 and f'value="{dossier["code"]}"' in page.text
