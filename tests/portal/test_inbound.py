"""Inbound pull of online submissions from the mock portal."""

from __future__ import annotations

import json
import logging
import warnings
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import select

from app.db import make_sessionmaker, transaction
from app.models import Dossier, SystemState
from app.portal.client import PortalUnavailable
from app.portal.inbound import CURSOR_KEY, pull_submissions, read_cursor, skipped_submissions, to_online_submission
from tests.conftest import VN

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PROCEDURE = "2.001914"  # partial online
FULL = "1.005092"  # full online (toàn trình)
OFFLINE_AGENCY = "000.00.18.H27"


@pytest.fixture
def factory(engine, demo):  # noqa: ANN001, ANN201
    return make_sessionmaker(engine)


def submission(**over: Any) -> dict[str, Any]:
    body = {"MaTTHC": PROCEDURE, "DonViXuLy": "000.00.17.H26", "ChuHoSo": "Lê Thị Cúc", "LoaiDoiTuong": 1,
            "SoGiayToChuHoSo": "001199000222", "SoDienThoai": "0987654321", "Email": "cuc@example.vn",
            "DiaChi": "12 Trần Phú", "TrichYeuHoSo": "Xin chỉnh sửa văn bằng", "NgayNopHoSo": "20261121200000",
            "MucDo": "mot_phan", "HinhThucNhanKetQua": 1,
            "GiayTo": [{"TenGiayTo": "Đơn đề nghị", "SoLuong": 1}, {"TenGiayTo": "Văn bằng", "SoLuong": 2}]}
    body.update(over)
    return body


def submit(portal: TestClient, **over: Any) -> dict[str, Any]:
    response = portal.post("/submissions", json=submission(**over))
    assert response.status_code == 201, response.text
    return response.json()


def dossiers(factory) -> list[Dossier]:  # noqa: ANN001
    with factory() as session:
        return list(session.exec(select(Dossier).order_by(Dossier.id)).all())


def test_mapping_of_a_portal_submission(clock) -> None:  # noqa: ANN001
    raw = {"portal_id": "DVC-2026-000001", **submission(LoaiDoiTuong=2, MucDo="toan_trinh", HinhThucNhanKetQua=2)}
    data = to_online_submission(raw, now=clock.now(), timezone="Asia/Ho_Chi_Minh")
    assert data.portal_id == "DVC-2026-000001" and data.procedure_code == PROCEDURE
    assert data.agency_code == "000.00.17.H26"
    assert data.applicant.type == "organization" and data.applicant.full_name == "Lê Thị Cúc"
    assert data.applicant.id_number == "001199000222" and data.applicant.address == "12 Trần Phú"
    assert data.online_level == "full" and data.return_method == "online"
    assert data.submitted_at == datetime(2026, 11, 21, 20, 0, tzinfo=VN)
    assert [(d.name, d.count) for d in data.documents] == [("Đơn đề nghị", 1), ("Văn bằng", 2)]
    partial = to_online_submission({"portal_id": "x", **submission()}, now=clock.now(), timezone="Asia/Ho_Chi_Minh")
    assert partial.online_level == "partial" and partial.return_method == "postal"


def test_pull_creates_submitted_dossiers_once_and_moves_the_cursor(factory, settings, clock, portal, portal_client):  # noqa: ANN001
    first = submit(portal)
    submit(portal, MaTTHC=FULL, MucDo="toan_trinh", HinhThucNhanKetQua=0)
    assert pull_submissions(factory, settings, clock.now(), portal_client) == 2
    rows = dossiers(factory)
    assert [(d.status, d.channel, d.online_level, d.return_method) for d in rows] == [
        ("submitted", "online", "partial", "postal"), ("submitted", "online", "full", "desk")]
    assert rows[0].portal_id == first["portal_id"] and rows[0].received_at is None
    assert rows[0].submitted_at == datetime(2026, 11, 21, 20, 0, tzinfo=VN)
    with factory() as session:
        cursor = read_cursor(session)
    assert cursor
    # Nothing new: nothing created, the cursor stays.
    assert pull_submissions(factory, settings, clock.now(), portal_client) == 0
    submit(portal)
    assert pull_submissions(factory, settings, clock.now(), portal_client) == 1
    # Pulled twice from the start (cursor lost): idempotent on the portal id.
    with transaction(factory) as session:
        session.delete(session.get(SystemState, CURSOR_KEY))
    assert pull_submissions(factory, settings, clock.now(), portal_client) == 0
    assert len(dossiers(factory)) == 3


def test_pages_through_a_backlog(factory, settings, clock, portal, portal_client):  # noqa: ANN001
    for n in range(7):
        submit(portal, SoGiayToChuHoSo=f"00119900{n:04d}")
    small = settings.model_copy(update={"portal_pull_batch": 3})
    assert pull_submissions(factory, small, clock.now(), portal_client) == 7
    assert len(dossiers(factory)) == 7


def test_bad_submissions_are_recorded_and_skipped(factory, settings, clock, portal, portal_client, caplog):  # noqa: ANN001
    submit(portal, MaTTHC="9.999999")  # unknown procedure
    submit(portal, DonViXuLy=OFFLINE_AGENCY)  # not this procedure's agency
    submit(portal, SoDienThoai="12345")  # our schema refuses the phone number
    good = submit(portal)
    with transaction(factory) as session:  # a procedure no longer offered online
        from app.models import Procedure

        procedure = session.exec(select(Procedure).where(Procedure.code == FULL)).one()
        procedure.online_level = "none"
        session.add(procedure)
    submit(portal, MaTTHC=FULL)
    with caplog.at_level(logging.INFO):
        assert pull_submissions(factory, settings, clock.now(), portal_client) == 1
    [created] = dossiers(factory)
    assert created.portal_id == good["portal_id"]
    with factory() as session:
        skipped = skipped_submissions(session)
        assert read_cursor(session)  # the bad ones did not hold the cursor back
    assert sorted(s["code"] for s in skipped) == ["invalid_submission", "not_online", "procedure_not_found",
                                                  "wrong_agency"]
    phone = next(s for s in skipped if s["code"] == "invalid_submission")
    assert "applicant.phone" in phone["reason"] and "12345" not in phone["reason"]
    for record in caplog.records:  # no personal data in the logs
        text = record.getMessage() + json.dumps(getattr(record, "fields", {}), ensure_ascii=False)
        assert "Lê Thị Cúc" not in text and "001199000222" not in text and "0987654321" not in text


def test_portal_down_leaves_the_cursor(factory, settings, clock, portal, portal_client):  # noqa: ANN001
    submit(portal)
    portal.post("/_control/faults", json={"fail_rate": 1.0})
    with pytest.raises(PortalUnavailable):
        pull_submissions(factory, settings, clock.now(), portal_client)
    with factory() as session:
        assert read_cursor(session) is None
    portal.post("/_control/faults", json={"fail_rate": 0.0})
    assert pull_submissions(factory, settings, clock.now(), portal_client) == 1


def test_online_level_is_stored_and_shown(client, login, app, clock, portal, portal_client):  # noqa: ANN001
    submit(portal, MaTTHC=FULL, MucDo="toan_trinh", HinhThucNhanKetQua=2)
    assert pull_submissions(app.state.sessionmaker, app.state.settings, clock.now(), portal_client) == 1
    desk = login("motcua")
    [item] = client.get("/api/v1/dossiers?channel=online", headers=desk).json()["items"]
    dossier = client.get(f"/api/v1/dossiers/{item['code']}", headers=desk).json()
    assert dossier["channel"] == "online" and dossier["online_level"] == "full"
    assert dossier["return_method"] == "online" and dossier["status"] == "submitted"
    procedure = client.get(f"/api/v1/procedures/{FULL}", headers=desk).json()
    assert procedure["online_level"] == "full"


@pytest.mark.parametrize("over", [{"MucDo": "muc_4"}, {"HinhThucNhanKetQua": 7}, {"HinhThucNhanKetQua": [1]},
                                  {"GiayTo": "Đơn"}, {"NgayNopHoSo": "2026-11-21"}, {"portal_id": ""}])
def test_unreadable_submissions_are_rejected_not_crashed(clock, over) -> None:  # noqa: ANN001
    from app.portal.inbound import SubmissionRejected

    raw = {"portal_id": "DVC-2026-000009", **submission()} | over
    with pytest.raises(SubmissionRejected):
        to_online_submission(raw, now=clock.now(), timezone="Asia/Ho_Chi_Minh")


def test_submissions_that_cannot_be_received_are_answered_and_listed_for_the_desk(
        client, login, app, clock, portal, portal_client):  # noqa: ANN001
    """Issue 16: an unknown procedure or the wrong agency is answered to the portal as not received
    (status 3) with the reason, once, and the desk lists it; nothing is dropped silently."""
    from app.portal.sync import dispatch_portal

    factory, settings = app.state.sessionmaker, app.state.settings
    unknown = submit(portal, MaTTHC="9.999999")  # addressed to us, a procedure we do not have
    wrong = submit(portal, DonViXuLy=OFFLINE_AGENCY)  # our procedure, another agency
    stray = submit(portal, MaTTHC="9.999998", DonViXuLy="000.00.99.H99")  # known to nobody here
    good = submit(portal)
    assert pull_submissions(factory, settings, clock.now(), portal_client) == 1
    with transaction(factory) as session:  # the page pulled again (a reset cursor): answered once only
        session.delete(session.get(SystemState, CURSOR_KEY))
    assert pull_submissions(factory, settings, clock.now(), portal_client) == 0
    assert dispatch_portal(factory, settings, clock.now(), portal_client).sent == 4  # 3 answers + the good one
    held = {s["portal_id"]: s for s in portal.get("/_control/state").json()["submissions"]}
    for sub, code in ((unknown, "9.999999"), (wrong, "000.00.18.H27"), (stray, "9.999998")):
        answered = held[sub["portal_id"]]
        assert answered["TrangThaiHoSo"] == 3 and code in answered["LyDoKhongTiepNhan"]
    assert "TrangThaiHoSo" not in held[good["portal_id"]]
    assert portal.get("/_control/state").json()["counts"]["answers_applied"] == 3

    listed = client.get("/api/v1/portal/submissions/refused", headers=login("motcua"))
    assert listed.status_code == 200, listed.text
    rows = {r["portal_id"]: r for r in listed.json()}
    assert set(rows) == {unknown["portal_id"], wrong["portal_id"]}  # addressed to us, or naming our procedure
    assert rows[unknown["portal_id"]]["code"] == "procedure_not_found"
    assert rows[wrong["portal_id"]]["code"] == "wrong_agency" and rows[wrong["portal_id"]]["answer_status"] == "sent"
    assert rows[wrong["portal_id"]]["reason"].startswith("Thủ tục")
    # The other agency's desk sees the one addressed to it; the admin also sees the one nobody claims.
    assert {r["portal_id"] for r in client.get("/api/v1/portal/submissions/refused",
                                               headers=login("other_desk")).json()} == {wrong["portal_id"]}
    assert {r["portal_id"] for r in client.get("/api/v1/portal/submissions/refused",
                                               headers=login("admin")).json()} == {wrong["portal_id"],
                                                                                   unknown["portal_id"],
                                                                                   stray["portal_id"]}
    assert client.get("/api/v1/portal/submissions/refused", headers=login("chuyenvien")).status_code == 403
