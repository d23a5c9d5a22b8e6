"""Online submissions carry their files (issue 13, item 5): the mock portal takes them with the
submission (base64), the inbound pull downloads each one through the adapter, checks its SHA-256
and stores it with the dossier; a mismatch is refused and recorded, never dropped silently."""

from __future__ import annotations

import base64
import hashlib

from sqlmodel import select

from app.models import Dossier, DossierEvent, DossierFile
from app.portal.inbound import pull_submissions
from app.storage.local import LocalStorage
from tests.documents import samples
from tests.portal.test_inbound import factory, submit  # noqa: F401 (fixture)


def _attachment(content: bytes, name: str, component: str | None = None, **over) -> dict:  # noqa: ANN003
    item = {"TenTep": name, "NoiDung": base64.b64encode(content).decode(), "LoaiTep": "electronic_original"}
    if component:
        item["TenGiayTo"] = component
    item.update(over)
    return item


def test_submission_files_are_downloaded_checked_and_stored(factory, settings, clock, portal, portal_client,  # noqa: ANN001, F811
                                                            tmp_path) -> None:
    storage = LocalStorage(tmp_path / "files")
    form, scan, tampered, exe = samples.pdf(), samples.png(), samples.pdf(2), samples.exe()
    sent = submit(portal, TepDinhKem=[
        _attachment(form, "don.pdf", "Đơn đề nghị chỉnh sửa văn bằng, chứng chỉ (theo mẫu)"),
        _attachment(scan, "van-bang.png", "Văn bằng, chứng chỉ đề nghị chỉnh sửa", LoaiTep="original_scan"),
        _attachment(tampered, "trich-luc.pdf", "Trích lục hoặc quyết định thay đổi, cải chính hộ tịch, xác định lại "
                    "dân tộc, giới tính", SHA256=hashlib.sha256(b"something else").hexdigest()),
        _attachment(exe, "anh.pdf")])
    # Only metadata travels with the pulled submission; the bytes are fetched apart.
    assert all("NoiDung" not in f and f["KichThuoc"] > 0 for f in sent["TepDinhKem"])
    assert pull_submissions(factory, settings, clock.now(), portal_client, storage=storage) == 1
    with factory() as session:
        dossier = session.exec(select(Dossier)).one()
        rows = session.exec(select(DossierFile).order_by(DossierFile.id)).all()
        events = session.exec(select(DossierEvent).where(DossierEvent.dossier_id == dossier.id)
                              .order_by(DossierEvent.seq)).all()
    assert [(r.component_key, r.filename, r.source, r.kind, r.content_type) for r in rows] == [
        ("0", "don.pdf", "portal", "electronic_original", "application/pdf"),
        ("1", "van-bang.png", "portal", "original_scan", "image/png")]
    assert all(r.uploaded_by_id is None for r in rows)
    for row, content in zip(rows, (form, scan)):
        assert row.sha256 == hashlib.sha256(content).hexdigest()
        with storage.open(row.sha256) as stream:
            assert stream.read() == content
    assert not storage.exists(hashlib.sha256(tampered).hexdigest())  # refused: never stored
    refused = [e for e in events if e.action == "file_refused"]
    assert [(e.data["filename"], e.data["code"]) for e in refused] == [
        ("trich-luc.pdf", "hash_mismatch"), ("anh.pdf", "unsupported_file_type")]
    assert refused[0].data["actual_sha256"] == hashlib.sha256(tampered).hexdigest()
    assert "không khớp" in refused[0].note
    assert dossier.digitised_at is None  # component 2 (required) was refused
    # Pulled again from the start: the same dossier, no second copy of its files.
    from app.db import transaction
    from app.models import SystemState
    from app.portal.inbound import CURSOR_KEY

    with transaction(factory) as session:
        session.delete(session.get(SystemState, CURSOR_KEY))
    assert pull_submissions(factory, settings, clock.now(), portal_client, storage=storage) == 0
    with factory() as session:
        assert len(session.exec(select(DossierFile)).all()) == 2


def test_a_complete_online_submission_counts_as_digitised(factory, settings, clock, portal, portal_client,  # noqa: ANN001, F811
                                                         tmp_path) -> None:
    storage = LocalStorage(tmp_path / "files")
    names = ["Đơn đề nghị chỉnh sửa văn bằng, chứng chỉ (theo mẫu)", "Văn bằng, chứng chỉ đề nghị chỉnh sửa",
             "Trích lục hoặc quyết định thay đổi, cải chính hộ tịch, xác định lại dân tộc, giới tính"]
    submit(portal, TepDinhKem=[_attachment(samples.pdf(), f"{i}.pdf", name) for i, name in enumerate(names)])
    assert pull_submissions(factory, settings, clock.now(), portal_client, storage=storage) == 1
    with factory() as session:
        dossier = session.exec(select(Dossier)).one()
    assert dossier.digitised_at == clock.now()


def test_the_mock_portal_refuses_content_that_is_not_base64(portal) -> None:  # noqa: ANN001, F811
    from tests.portal.test_inbound import submission

    response = portal.post("/submissions", json=submission(TepDinhKem=[{"TenTep": "a.pdf", "NoiDung": "%%%"}]))
    assert response.status_code == 400 and "NoiDung" in response.text
    assert portal.get("/submissions/files/F000001-01").status_code == 401  # the bytes need a session
