"""Dossier files through the API (issue 13, items 2–4): upload by component and kind, versions,
download, validation by content (nothing stored on refusal), the digitisation record, reuse."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlmodel import select

from app.db import make_sessionmaker
from app.models import DossierEvent, DossierFile
from tests.documents import samples

PROCEDURE = "2.001914"  # three required components (0, 1, 2), two optional ones


def _intake(client, headers, id_number="001099012345", procedure=PROCEDURE) -> dict:  # noqa: ANN001
    p = client.get(f"/api/v1/procedures/{procedure}", headers=headers).json()
    body = {"procedure_code": procedure, "channel": "direct",
            "applicant": {"full_name": "Nguyễn Văn An", "id_number": id_number, "phone": "0912345678"},
            "documents": [{"name": d["name"], "kind": d["kind"], "count": d["count"]} for d in p["required_documents"]],
            "return_method": "desk"}
    response = client.post("/api/v1/dossiers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _upload(client, headers, code, content, *, component="0", kind="original_scan", name="scan.pdf"):  # noqa: ANN001, ANN202
    return client.post(f"/api/v1/dossiers/{code}/files", headers=headers, data={"component": component, "kind": kind},
                       files={"file": (name, content, "application/octet-stream")})


def _stored_files(app) -> list[Path]:  # noqa: ANN001
    root = Path(app.state.settings.storage_dir)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _rows(engine) -> list[DossierFile]:  # noqa: ANN001
    with make_sessionmaker(engine)() as s:
        return list(s.exec(select(DossierFile)).all())


@pytest.mark.parametrize("maker,mime", [
    (samples.pdf, "application/pdf"), (samples.jpeg, "image/jpeg"), (samples.png, "image/png"),
    (samples.tiff, "image/tiff"),
    (samples.docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (samples.xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")])
def test_every_accepted_type_round_trips(client, login, maker, mime) -> None:  # noqa: ANN001
    desk = login("motcua")
    dossier = _intake(client, desk)
    content = maker()
    response = _upload(client, desk, dossier["code"], content, name="tep-khong-dung-duoi.bin", kind="copy")
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["content_type"] == mime  # by content, not by the name
    assert out["sha256"] == hashlib.sha256(content).hexdigest() and out["size"] == len(content)
    assert out["version"] == 1 and out["kind"] == "copy" and out["digitised_by"] and out["source"] == "upload"
    download = client.get(out["download_url"], headers=desk)
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["content-type"].startswith(mime)
    assert "attachment" in download.headers["content-disposition"]


def test_replacing_a_file_keeps_the_old_version_and_records_events(client, login, engine) -> None:  # noqa: ANN001
    desk, specialist = login("motcua"), login("chuyenvien")
    dossier = _intake(client, desk)
    first = _upload(client, desk, dossier["code"], samples.pdf(1)).json()
    # handling staff add a better scan later
    second = _upload(client, specialist, dossier["code"], samples.pdf(2), component="0").json()
    assert second["version"] == 2 and second["component"] == "0"
    listing = client.get(f"/api/v1/dossiers/{dossier['code']}/files", headers=desk).json()
    versions = {(f["id"], f["version"], f["is_current"]) for f in listing["files"]}
    assert versions == {(first["id"], 1, False), (second["id"], 2, True)}
    assert client.get(first["download_url"], headers=desk).content == samples.pdf(1)  # the old one stays
    events = client.get(f"/api/v1/dossiers/{dossier['code']}/events", headers=desk).json()
    added = [e for e in events if e["action"] == "file_added"]
    assert [e["data"]["version"] for e in added] == [1, 2]
    assert added[0]["action_label"] == "Số hóa thành phần hồ sơ"
    assert client.get(f"/api/v1/dossiers/{dossier['code']}", headers=desk).json()["version"] == dossier["version"] + 2


def test_digitised_when_every_required_component_has_a_file(client, login) -> None:  # noqa: ANN001
    desk = login("motcua")
    code = _intake(client, desk)["code"]
    for component in ("0", "Văn bằng, chứng chỉ đề nghị chỉnh sửa", "other"):  # by index, by name, other
        assert _upload(client, desk, code, samples.pdf(), component=component).status_code == 201
    listing = client.get(f"/api/v1/dossiers/{code}/files", headers=desk).json()
    assert listing["digitised"] is False and listing["digitised_at"] is None
    status = {c["component"]: c["has_file"] for c in listing["components"]}
    assert status == {"0": True, "1": True, "2": False, "3": False, "4": False, "other": True}
    assert _upload(client, desk, code, samples.png(), component="2", kind="copy").status_code == 201
    listing = client.get(f"/api/v1/dossiers/{code}/files", headers=desk).json()
    assert listing["digitised"] is True
    assert listing["digitised_at"].endswith("+07:00")
    two = next(c for c in listing["components"] if c["component"] == "2")
    assert two["digitised_by"] and two["digitised_at"].endswith("+07:00") and two["required"] is True


@pytest.mark.parametrize("content,name,status,code", [
    (samples.exe(), "quyet-dinh.pdf", 415, "unsupported_file_type"),  # an executable renamed .pdf
    (b"", "rong.pdf", 422, "empty_file"),
    (samples.pdf()[:-40], "cut.pdf", 422, "damaged_file"),  # truncated: no %%EOF
    (b"%PDF-1.7\n garbage that is no PDF at all \n%%EOF\n", "fake.pdf", 422, "damaged_file"),
    (samples.docx()[:-30], "cut.docx", 422, "damaged_file"),
    (b"Just some text, not a scan", "note.pdf", 415, "unsupported_file_type"),
    (b"%PDF-1.4\n" + b"0" * (65 * 1024), "big.pdf", 413, "file_too_large"),  # over max_file_bytes (64 KiB here)
])
def test_refused_files_store_nothing(client, login, app, engine, content, name, status, code) -> None:  # noqa: ANN001
    desk = login("motcua")
    dossier = _intake(client, desk)
    response = _upload(client, desk, dossier["code"], content, name=name)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and set(body) == {"code", "message", "detail"}
    assert any(ch in body["message"] for ch in "ệạóảờ"), body["message"]  # Vietnamese
    assert _rows(engine) == [] and _stored_files(app) == []
    after = client.get(f"/api/v1/dossiers/{dossier['code']}", headers=desk).json()
    assert after["version"] == dossier["version"]  # no event either


def test_the_dossier_total_is_bounded(client, login, app, engine) -> None:  # noqa: ANN001
    desk = login("motcua")
    code = _intake(client, desk)["code"]
    for i in range(4):  # 4 × 60 KiB fit in 256 KiB
        assert _upload(client, desk, code, samples.pdf(padding=60 * 1024, label=str(i))).status_code == 201
    refused = _upload(client, desk, code, samples.pdf(padding=60 * 1024, label="5"))
    assert refused.status_code == 413 and refused.json()["code"] == "dossier_files_too_large"
    assert len(_rows(engine)) == 4 and len(_stored_files(app)) == 4


def test_bad_requests_answer_4xx(client, login) -> None:  # noqa: ANN001
    desk = login("motcua")
    code = _intake(client, desk)["code"]
    unknown = _upload(client, desk, code, samples.pdf(), component="99")
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_component"
    neither = client.post(f"/api/v1/dossiers/{code}/files", headers=desk, data={"component": "0", "kind": "copy"})
    assert neither.status_code == 422 and neither.json()["code"] == "file_or_reuse_required"
    bad_kind = _upload(client, desk, code, samples.pdf(), kind="photo")
    assert bad_kind.status_code == 422 and bad_kind.json()["code"] == "validation_error"
    raw = (b'--b\r\nContent-Disposition: form-data; name="component"\r\n\r\n0\r\n'
           b'--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\ncopy\r\n'
           b'--b\r\nContent-Disposition: form-data; name="file"; filename="don\x01.pdf"\r\n\r\n'
           + samples.pdf() + b'\r\n--b--\r\n')  # a control character in the file name, checked as it streams
    control = client.post(f"/api/v1/dossiers/{code}/files", content=raw,
                          headers={**desk, "Content-Type": "multipart/form-data; boundary=b"})
    assert control.status_code == 422 and control.json()["code"] == "validation_error", control.text
    assert control.json()["detail"][0]["loc"] == ["body", "file", "filename"]
    assert client.get(f"/api/v1/dossiers/{code}/files/999999", headers=desk).status_code == 404


def test_scoped_like_the_dossier(client, login) -> None:  # noqa: ANN001
    desk = login("motcua")
    code = _intake(client, desk)["code"]
    out = _upload(client, desk, code, samples.pdf()).json()
    for user in ("other_desk", "other_specialist", "other_leader"):
        headers = login(user)
        assert client.get(f"/api/v1/dossiers/{code}/files", headers=headers).status_code == 404
        assert client.get(out["download_url"], headers=headers).status_code == 404
        assert _upload(client, headers, code, samples.pdf()).status_code == 404
    for user in ("baocao", "buudien"):  # reporters and postal clerks see no documents
        assert client.get(f"/api/v1/dossiers/{code}/files", headers=login(user)).status_code == 403


def test_reuse_an_applicants_earlier_file_without_uploading(client, login, app, engine) -> None:  # noqa: ANN001
    desk = login("motcua")
    old = _intake(client, desk)["code"]
    earlier = _upload(client, desk, old, samples.pdf(), component="1").json()
    _intake(client, desk, id_number="001099099999")  # another applicant
    documents = client.get("/api/v1/applicants/001099012345/documents", headers=desk).json()
    assert [d["id"] for d in documents] == [earlier["id"]] and documents[0]["dossier_code"] == old
    assert documents[0]["procedure_code"] == PROCEDURE
    assert client.get("/api/v1/applicants/001099012345/documents", headers=login("other_desk")).json() == []

    new = _intake(client, desk)["code"]
    stored_before = _stored_files(app)
    reused = client.post(f"/api/v1/dossiers/{new}/files", headers=desk,
                         data={"component": "1", "kind": "copy", "reuse_file_id": str(earlier["id"])})
    assert reused.status_code == 201, reused.text
    out = reused.json()
    assert out["source"] == "reuse" and out["reused_from_id"] == earlier["id"] and out["sha256"] == earlier["sha256"]
    assert _stored_files(app) == stored_before  # nothing uploaded again
    assert client.get(out["download_url"], headers=desk).content == samples.pdf()

    stranger = _intake(client, desk, id_number="001099099998")["code"]
    refused = client.post(f"/api/v1/dossiers/{stranger}/files", headers=desk,
                          data={"component": "1", "kind": "copy", "reuse_file_id": str(earlier["id"])})
    assert refused.status_code == 404  # another applicant's file is not offered
    with make_sessionmaker(engine)() as s:
        events = s.exec(select(DossierEvent).where(DossierEvent.action == "file_added")).all()
    assert sorted(e.data["source"] for e in events) == ["reuse", "upload"]


def test_files_on_s3_through_the_api(client, login, app, s3_endpoint, db_kind) -> None:  # noqa: ANN001
    from tests.storage.conftest import s3_client

    from app.storage.s3 import S3Storage

    s3 = s3_client(s3_endpoint)
    bucket = f"api-files-{db_kind}"
    s3.create_bucket(Bucket=bucket)
    app.state.storage = S3Storage(s3, bucket, prefix="files/")
    desk = login("motcua")
    code = _intake(client, desk)["code"]
    content = samples.xlsx()
    out = _upload(client, desk, code, content, component="2", kind="electronic_original").json()
    assert s3.head_object(Bucket=bucket, Key=f"files/{out['sha256']}")["ContentLength"] == len(content)
    assert client.get(out["download_url"], headers=desk).content == content
    refused = _upload(client, desk, code, samples.exe(), name="x.pdf")
    assert refused.status_code == 415
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [f"files/{out['sha256']}"]


def test_the_digitised_indicator_counts_complete_dossiers(client, login) -> None:  # noqa: ANN001
    """Decision 766 `digitised`: received in the period, every required component with a file;
    in total and per procedure."""
    desk = login("motcua")
    complete, partial = _intake(client, desk)["code"], _intake(client, desk)["code"]
    _intake(client, desk)  # nothing digitised
    other = _intake(client, desk, procedure="1.005092")["code"]  # one required component
    for component in ("0", "1", "2"):
        assert _upload(client, desk, complete, samples.pdf(), component=component).status_code == 201
    assert _upload(client, desk, partial, samples.pdf(), component="0").status_code == 201
    assert _upload(client, desk, other, samples.jpeg(), component="0").status_code == 201
    body = client.get("/api/v1/reports/indicators", params={"period": "2026-11"}, headers=login("giamdoc")).json()
    digitised = {i["code"]: i for i in body["indicators"]}["digitised"]
    assert (digitised["numerator"], digitised["denominator"], digitised["value"]) == (2, 4, 50.0)
    rows = {r["procedure_code"]: (r["received"], r["digitised"], r["value"]) for r in body["digitised_by_procedure"]}
    assert rows == {PROCEDURE: (3, 1, round(100 / 3, 2)), "1.005092": (1, 1, 100.0)}
    assert "digitised" not in {u["code"] for u in body["unsupported"]}
    later = client.get("/api/v1/reports/indicators", params={"period": "2026-10"}, headers=login("giamdoc")).json()
    assert {i["code"]: i for i in later["indicators"]}["digitised"]["denominator"] == 0


def test_storage_that_cannot_be_written_answers_503_and_records_nothing(client, login, app, engine, tmp_path) -> None:  # noqa: ANN001
    from app.storage.local import LocalStorage

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the storage directory should be")
    app.state.storage = LocalStorage(blocker / "files")
    desk = login("motcua")
    dossier = _intake(client, desk)
    response = _upload(client, desk, dossier["code"], samples.pdf())
    assert response.status_code == 503 and response.json()["code"] == "storage_unavailable"
    assert response.headers["retry-after"] == "30"
    assert _rows(engine) == []
    assert client.get(f"/api/v1/dossiers/{dossier['code']}", headers=desk).json()["version"] == dossier["version"]


def _asgi_post(app, path: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, dict]:  # noqa: ANN001
    """POST `chunks` to the ASGI app as separate `http.request` messages (the TestClient would join
    them into one), the way a server hands a large body over."""
    import asyncio
    import json

    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "http",
             "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body)


def test_multipart_is_checked_as_it_streams_in_chunks(client, login, app, engine) -> None:  # noqa: ANN001
    """The guard no longer buffers multipart bodies: a control character in a field that arrives
    after the file part, in a later chunk, still answers 422 and stores nothing."""
    desk = login("motcua")
    code = _intake(client, desk)["code"]
    content = samples.pdf(padding=40 * 1024)

    def body(component: bytes) -> list[bytes]:
        return [b'--b\r\nContent-Disposition: form-data; name="file"; filename="don.pdf"\r\n\r\n',
                *[content[i:i + 4096] for i in range(0, len(content), 4096)],
                b'\r\n--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\ncopy\r\n',
                b'--b\r\nContent-Disposition: form-data; name="component"\r\n\r\n' + component + b'\r\n--b--\r\n']

    headers = {**desk, "Content-Type": "multipart/form-data; boundary=b"}
    path = f"/api/v1/dossiers/{code}/files"
    status, refused = _asgi_post(app, path, headers, body(b"0\x07"))
    assert status == 422 and refused["code"] == "validation_error", refused
    assert refused["detail"][0]["loc"] == ["body", "component"]
    assert _rows(engine) == [] and _stored_files(app) == []
    status, stored = _asgi_post(app, path, headers, body(b"0"))
    assert status == 201, stored
    assert stored["size"] == len(content) and stored["sha256"] == hashlib.sha256(content).hexdigest()


def test_an_upload_over_the_body_cap_answers_413_while_streaming(client, login, app, engine, settings, clock) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from app.main import create_app

    small = create_app(app.state.settings.model_copy(update={"max_upload_bytes": 32 * 1024}), clock=clock,
                       engine=engine)
    with TestClient(small) as c:
        token = c.post("/api/v1/auth/token", data={"username": "motcua", "password": "demo1234"}).json()
        desk = {"Authorization": f"Bearer {token['access_token']}"}
        code = _intake(c, desk)["code"]

        def body():  # noqa: ANN202 - chunked: no Content-Length to refuse up front
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n\r\n'
            for _ in range(20):
                yield b"%" * 4096
            yield b'\r\n--b--\r\n'

        response = c.post(f"/api/v1/dossiers/{code}/files", content=body(),
                          headers={**desk, "Content-Type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert _rows(engine) == [] and _stored_files(small) == []
