"""Signed electronic results (PAdES, pyHanko): the leader's signing step signs the result with the
agency's certificate; a refusal after appraisal and forms 03, 04, 05 are signed the same way; a
changed byte is reported."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

from pypdf import PdfReader
from sqlmodel import select

from app.esign.signing import verify_pdf
from app.esign.store import latest_signed, load_signed
from app.models import Dossier
from tests.workflows.test_scenarios import act, intake_body, ready, receive


def to_signing_step(client, login, dossier, **specialist):
    desk = login("motcua")
    dossier = act(client, desk, dossier, "forward", assignee="chuyenvien")
    dossier = act(client, login("chuyenvien"), dossier, "forward", **specialist)
    return act(client, login("truongphong"), dossier, "forward")


def signed_result(client, login, **specialist):
    dossier = to_signing_step(client, login, receive(client, login), **specialist)
    return ready(client, login("giamdoc"), login("motcua"), dossier, result_reference="123/QĐ-SGDĐT")


def document_of(session, settings, code, kinds=("result", "result_refusal")) -> SimpleNamespace:
    """The signed document's row, with its bytes read back from the storage (`content`)."""
    dossier = session.exec(select(Dossier).where(Dossier.code == code)).one()
    row = latest_signed(session, dossier.id, kinds)
    assert row is not None
    found = SimpleNamespace(**{c.name: getattr(row, c.name) for c in row.__table__.columns},
                            content=load_signed(session, settings, row.id))
    session.rollback()  # SQLite: end the read transaction (BEGIN IMMEDIATE) before the next request
    return found


def text_of(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


def test_the_leader_signs_the_result_and_a_changed_byte_is_reported(client, login, session, settings):
    dossier = signed_result(client, login)
    row = document_of(session, settings, dossier["code"])
    assert row.kind == "result" and row.signer_name == "Phạm Quốc Hùng"
    assert row.signer_title == "KT. GIÁM ĐỐC – PHÓ GIÁM ĐỐC" and row.size == len(row.content)
    text = text_of(row.content)
    assert dossier["code"] in text and "Nguyễn Văn An" in text and "KT. GIÁM ĐỐC" in text and "123/QĐ-SGDĐT" in text

    check = verify_pdf(row.content, settings)
    assert check.valid and check.intact and check.trusted and check.covers_whole_file
    assert check.dossier_code == dossier["code"] and check.signer_name == "Phạm Quốc Hùng"
    assert check.signer_title == "KT. GIÁM ĐỐC – PHÓ GIÁM ĐỐC" and "DEMO" in (check.certificate_subject or "")

    # One byte of the signed content changed: no longer intact.
    content = bytearray(row.content)
    at = content.index(b"stream") + 40
    content[at] ^= 0x01
    tampered = verify_pdf(bytes(content), settings)
    assert tampered.signed and not tampered.intact and not tampered.valid
    # Bytes appended after signing (an incremental update): the signature no longer covers the file.
    appended = verify_pdf(row.content + b"\n% added later\n", settings)
    assert not appended.valid


def test_refusal_after_appraisal_is_signed(client, login, session, settings):
    dossier = signed_result(client, login, result_kind="refusal", reason="Văn bằng không có trong sổ gốc")
    row = document_of(session, settings, dossier["code"])
    assert row.kind == "result_refusal"
    assert "Văn bằng không có trong sổ gốc" in text_of(row.content)
    assert verify_pdf(row.content, settings).valid


def test_forms_03_and_05_are_signed_when_issued(client, login, session, settings):
    desk = login("motcua")
    refused = client.post("/api/v1/dossiers", headers=desk,
                          json=intake_body(decision="refuse", reason="Không thuộc thẩm quyền của Sở"))
    assert refused.status_code == 201, refused.text
    row = document_of(session, settings, refused.json()["code"], ("refusal",))
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN" in text_of(row.content).upper() and verify_pdf(row.content, settings).valid
    stopped = act(client, desk, receive(client, login), "forward", assignee="chuyenvien")
    act(client, login("giamdoc"), stopped, "stop", reason="Cơ sở đào tạo đã giải thể")
    row = document_of(session, settings, stopped["code"], ("stop",))
    assert "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ" in text_of(row.content).upper()
    assert verify_pdf(row.content, settings).valid and row.signer_name == "Phạm Quốc Hùng"


def test_without_a_certificate_nothing_is_signed(client, login, session, settings, app):
    app.state.settings = settings.model_copy(update={"signing_pkcs12": None})
    dossier = signed_result(client, login)
    row = session.exec(select(Dossier).where(Dossier.code == dossier["code"])).one()
    assert latest_signed(session, row.id, ("result",)) is None and dossier["status"] == "resolved"
    session.rollback()


def test_garbage_is_not_a_pdf(settings):
    import pytest

    from app.errors import Invalid
    for data in (b"", b"MZ\x90\x00 not a pdf", b"%PDF-1.7\n garbage \x00\xff"):
        try:
            result = verify_pdf(data, settings)
        except Invalid:
            continue
        assert not result.signed  # a PDF-looking file without a signature is "not signed"
    with pytest.raises(Invalid):
        verify_pdf(b"hello", settings)


def test_electronic_results_indicator_per_procedure_and_in_total(client, login, app, settings):
    signed_result(client, login)  # signed electronically
    app.state.settings = settings.model_copy(update={"signing_pkcs12": None})
    signed_result(client, login)  # signed on paper only
    body = client.get("/api/v1/reports/indicators", params={"period": "2026-11"}, headers=login("baocao")).json()
    indicator = {i["code"]: i for i in body["indicators"]}["electronic_results"]
    assert (indicator["numerator"], indicator["denominator"], indicator["value"]) == (1, 2, 50.0)
    assert "electronic_results" not in {u["code"] for u in body["unsupported"]}
    [row] = body["electronic_results"]
    assert row["procedure_code"] == "2.001914" and (row["resolved"], row["electronic"], row["value"]) == (2, 1, 50.0)


def test_dev_signs_with_the_demo_certificate_seed_demo_wrote(demo_pki):
    from app.esign.signing import config_of
    from app.settings import Settings
    dev = Settings(env="dev", demo_pki_dir=demo_pki.pkcs12.parent)
    assert config_of(dev) is not None and config_of(dev).pkcs12 == demo_pki.pkcs12
    assert config_of(Settings(env="dev", demo_pki_dir=demo_pki.pkcs12.parent / "none")) is None
    prod_like = Settings(env="test", jwt_secret="x" * 40, demo_pki_dir=demo_pki.pkcs12.parent)
    assert config_of(prod_like) is None  # outside dev only a configured PKCS#12 signs


def test_form_04_is_signed_when_the_leader_issues_it(client, login, app, clock, session, settings):
    from tests.sla.test_apology import drafted
    from tests.sla.test_scan import at
    dossier, draft = drafted(client, login, app, clock)
    url = f"/api/v1/apologies/{draft['id']}"
    client.patch(url, json={"reason": "Cần xác minh văn bằng với trường cấp"}, headers=login("chuyenvien"))
    clock.set(at(23, 16, 0))
    assert client.post(f"{url}/issue", headers=login("giamdoc")).status_code == 200
    row = document_of(session, settings, dossier["code"], ("apology",))
    assert row.signer_name == "Phạm Quốc Hùng" and row.signer_title == "KT. GIÁM ĐỐC – PHÓ GIÁM ĐỐC"
    assert "Cần xác minh văn bằng với trường cấp" in text_of(row.content)
    check = verify_pdf(row.content, settings)
    assert check.valid and check.dossier_code == dossier["code"] and "Mẫu số 04" in (check.kind_label or "")


def test_a_signature_by_another_ca_is_not_this_services(client, login, session, settings, tmp_path):
    from pydantic import SecretStr

    from app.esign.pki import write_demo_pki
    from app.esign.signing import sign_pdf
    other = write_demo_pki(tmp_path / "other", "Cơ quan khác")
    from app.esign.pdf import html_to_pdf
    dossier = signed_result(client, login)
    original = html_to_pdf("<p>Thông báo kết quả giải quyết hồ sơ</p>")
    foreign = sign_pdf(original, settings.model_copy(update={"signing_pkcs12": other.pkcs12,
                                                             "signing_pkcs12_password": SecretStr(other.password)}),
                       signer_name="Kẻ giả mạo", signer_title="GIÁM ĐỐC", dossier_code=dossier["code"],
                       kind_label="Kết quả giải quyết hồ sơ", location=None)
    check = verify_pdf(foreign, settings)
    assert check.signed and check.intact and not check.trusted and not check.valid


def test_a_signed_result_is_reused_at_the_desk_for_the_same_applicant(client, login, session, settings):
    """Issue 13.4: the applicant's earlier results are listed and attached by reference, not uploaded again."""
    signed_result(client, login)
    desk = login("motcua")
    listed = client.get("/api/v1/applicants/001099012345/documents", headers=desk).json()
    [result] = [f for f in listed if f["component"] == "result"]
    assert result["source"] == "signed" and result["content_type"] == "application/pdf"
    fresh = receive(client, login)
    attached = client.post(f"/api/v1/dossiers/{fresh['code']}/files", headers=desk,
                           data={"component": "other", "kind": "electronic_original",
                                 "reuse_file_id": str(result["id"])})
    assert attached.status_code == 201, attached.text
    assert attached.json()["sha256"] == result["sha256"] and attached.json()["source"] == "reuse"
