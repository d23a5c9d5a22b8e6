"""The mock national portal (Cổng DVCQG): contract, validation, idempotency, faults, demo page."""

from __future__ import annotations

import time
import warnings
from typing import Any

import pytest

from app.portal.mock import create_mock_portal
from app.portal.mock_contract import PORTAL_STATUS_LABELS
from app.portal.mock_state import MockPortalState
from tests.portal.conftest import mock_portal

with warnings.catch_warnings():  # starlette warns that it prefers httpx2; the installed httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

CODE = "000.00.17.H26-260315-0001"
CODE2 = "000.00.17.H26-260315-0002"


def make_dossier(code: str = CODE, status: int = 2, **over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "MaHoSo": code,
        "MaTTHC": "1.001234",
        "TenTTHC": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        "MaLinhVuc": "XD",
        "TenLinhVuc": "Xây dựng",
        "KenhThucHien": 1,
        "ChuHoSo": "Nguyễn Văn An",
        "LoaiDoiTuong": 1,
        "SoGiayToChuHoSo": "079123456789",
        "SoDienThoai": "0912345678",
        "Email": "an.nguyen@example.vn",
        "TrichYeuHoSo": "Xin cấp phép xây dựng",
        "NgayNopHoSo": "20260315083000",
        "NgayTiepNhan": "20260315084500",
        "NgayHenTra": "20260325160000",
        "TrangThaiHoSo": status,
        "HinhThuc": 0,
        "DonViXuLy": "000.00.17.H26",
        "DuocThanhToanTrucTuyen": 0,
        "QuaTrinhXuLy": [history_row(code, status, "Tiếp nhận hồ sơ")],
    }
    d.update(over)
    return {k: v for k, v in d.items() if v is not ...}  # `...` drops a field


def history_row(code: str, status: int, what: str, at: str = "20260315084500") -> dict[str, Any]:
    return {
        "MaHoSo": code,
        "NguoiXuLy": "Trần Thị Bình",
        "ChucDanh": "Chuyên viên",
        "ThoiDiemXuLy": at,
        "PhongBanXuLy": "Bộ phận một cửa",
        "NoiDungXuLy": what,
        "TrangThai": status,
        "NgayBatDau": at,
        "NgayKetThucTheoQuyDinh": "20260325160000",
    }


@pytest.fixture
def portal_session(portal: TestClient) -> dict[str, str]:
    token = portal.post("/auth/login", json={"username": "motcua", "password": "motcua-demo"}).json()["session"]
    return {"X-Session": token}


_keys = iter(range(10**9))


def sync(portal: TestClient, portal_session: dict[str, str], dossiers: list[dict[str, Any]], *, updating: bool = False,
         key: str | None = None) -> Any:
    headers = {**portal_session, "Idempotency-Key": key or f"k-{next(_keys)}"}
    return portal.post("/dossiers/sync", json={"isUpdating": updating, "service": "DongBoHoSoMC", "data": dossiers},
                       headers=headers)


def progress(portal: TestClient, portal_session: dict[str, str], items: list[dict[str, Any]], key: str | None = None) -> Any:
    headers = {**portal_session, "Idempotency-Key": key or f"k-{next(_keys)}"}
    return portal.post("/dossiers/progress", json={"service": "CapNhatTienDoHoSoMC", "data": items}, headers=headers)


def lookup(portal: TestClient, portal_session: dict[str, str], code: str = CODE) -> Any:
    return portal.post("/dossiers/lookup", json={"MaHoSo": code}, headers=portal_session)


def state(portal: TestClient) -> dict[str, Any]:
    return portal.get("/_control/state").json()


# ---------------------------------------------------------------- login and sessions


def test_status_labels_are_the_ten_portal_codes() -> None:
    assert list(PORTAL_STATUS_LABELS) == list(range(1, 11))
    assert PORTAL_STATUS_LABELS[5] == "Yêu cầu bổ sung giấy tờ"
    assert PORTAL_STATUS_LABELS[10] == "Đã trả kết quả"


def test_login_ok_and_wrong_password(portal: TestClient) -> None:
    ok = portal.post("/auth/login", json={"username": "motcua", "password": "motcua-demo"})
    assert ok.status_code == 200 and ok.json()["error_code"] == 0 and ok.json()["session"]
    bad = portal.post("/auth/login", json={"username": "motcua", "password": "nope"})
    assert bad.status_code == 200 and bad.json()["error_code"] == 1 and bad.json()["message"]


def test_login_refused_mode(portal: TestClient) -> None:
    portal.post("/_control/faults", json={"refuse_login": True})
    r = portal.post("/auth/login", json={"username": "motcua", "password": "motcua-demo"})
    assert r.status_code == 200 and r.json()["error_code"] == 1
    assert state(portal)["counts"]["active_sessions"] == 0


def test_custom_credentials() -> None:
    with mock_portal(username="u", password="p") as c:
        assert c.post("/auth/login", json={"username": "u", "password": "p"}).json()["error_code"] == 0
        assert c.post("/auth/login", json={"username": "motcua", "password": "motcua-demo"}).json()["error_code"] == 1


@pytest.mark.parametrize("headers", [{}, {"X-Session": "forged"}])
def test_session_required_everywhere(portal: TestClient, headers: dict[str, str]) -> None:
    calls = [
        portal.post("/dossiers/sync", json={}, headers={**headers, "Idempotency-Key": "a"}),
        portal.post("/dossiers/progress", json={}, headers={**headers, "Idempotency-Key": "a"}),
        portal.post("/dossiers/lookup", json={"MaHoSo": CODE}, headers=headers),
        portal.get("/submissions", headers=headers),
    ]
    for r in calls:
        assert r.status_code == 401 and r.json()["error_code"] == -1


def test_session_expires_with_ttl(portal: TestClient) -> None:
    portal.post("/_control/faults", json={"session_ttl_seconds": 0})
    token = portal.post("/auth/login", json={"username": "motcua", "password": "motcua-demo"}).json()["session"]
    r = lookup(portal, {"X-Session": token})
    assert r.status_code == 401 and r.json()["error_code"] == -1


def test_control_expire_sessions(portal: TestClient, portal_session: dict[str, str]) -> None:
    assert lookup(portal, portal_session).status_code == 404
    assert portal.post("/_control/sessions/expire").json()["expired"] == 1
    assert lookup(portal, portal_session).status_code == 401


# ---------------------------------------------------------------- DongBoHoSoMC


def test_sync_new_then_update(portal: TestClient, portal_session: dict[str, str]) -> None:
    r = sync(portal, portal_session, [make_dossier(), make_dossier(CODE2, status=1, NgayTiepNhan=..., NgayHenTra=...)])
    assert r.status_code == 200 and r.json()["error_code"] == 0
    r = sync(portal, portal_session, [make_dossier(status=4, TrichYeuHoSo="Đã sửa trích yếu",
                                                  QuaTrinhXuLy=[history_row(CODE, 2, "Tiếp nhận hồ sơ")])],
             updating=True)
    assert r.status_code == 200 and r.json()["error_code"] == 0
    held = lookup(portal, portal_session).json()["data"]
    assert held["TrangThaiHoSo"] == 4 and held["TrichYeuHoSo"] == "Đã sửa trích yếu"
    assert [h["TrangThaiHoSo"] for h in held["LichSuTrangThai"]] == [2, 4]
    assert len(held["QuaTrinhXuLy"]) == 1  # the same row resent on update is kept once
    assert state(portal)["counts"]["dossiers"] == 2


def test_reject_duplicate_create_and_update_of_unknown(portal: TestClient, portal_session: dict[str, str]) -> None:
    assert sync(portal, portal_session, [make_dossier()]).json()["error_code"] == 0
    dup = sync(portal, portal_session, [make_dossier()])
    assert dup.status_code == 409 and dup.json()["error_code"] == 3 and CODE in dup.json()["message"]
    unknown = sync(portal, portal_session, [make_dossier(CODE2)], updating=True)
    assert unknown.status_code == 409 and unknown.json()["error_code"] == 3 and CODE2 in unknown.json()["message"]
    assert unknown.json()["field"] == "data[0].MaHoSo"
    twice = sync(portal, portal_session, [make_dossier(CODE2), make_dossier(CODE2)])
    assert twice.status_code == 400 and twice.json()["field"] == "data[1].MaHoSo"
    assert state(portal)["counts"]["dossiers"] == 1


BAD_DOSSIERS = [
    ("MaHoSo", {"MaHoSo": ...}),
    ("MaHoSo", {"MaHoSo": "H26-260315-0001"}),
    ("MaHoSo", {"MaHoSo": "000.00.17.h26-260315-0001"}),
    ("MaHoSo", {"MaHoSo": "000.00.17.H26-260315-01"}),
    ("MaTTHC", {"MaTTHC": ...}),
    ("MaTTHC", {"MaTTHC": "  "}),
    ("ChuHoSo", {"ChuHoSo": ...}),
    ("KenhThucHien", {"KenhThucHien": ...}),
    ("KenhThucHien", {"KenhThucHien": 4}),
    ("TrangThaiHoSo", {"TrangThaiHoSo": ...}),
    ("TrangThaiHoSo", {"TrangThaiHoSo": 0}),
    ("TrangThaiHoSo", {"TrangThaiHoSo": 11}),
    ("TrangThaiHoSo", {"TrangThaiHoSo": "2"}),
    ("TrangThaiHoSo", {"TrangThaiHoSo": True}),
    ("NgayNopHoSo", {"NgayNopHoSo": ...}),
    ("NgayNopHoSo", {"NgayNopHoSo": "2026-03-15 08:30"}),
    ("NgayNopHoSo", {"NgayNopHoSo": "20261315083000"}),
    ("NgayTiepNhan", {"NgayTiepNhan": ...}),
    ("NgayHenTra", {"NgayHenTra": ..., "TrangThaiHoSo": 4}),
    ("NgayTra", {"NgayTra": "15/03/2026"}),
    ("LoaiDoiTuong", {"LoaiDoiTuong": 3}),
    ("HinhThuc", {"HinhThuc": 2}),
    ("DonViXuLy", {"DonViXuLy": "So Xay Dung"}),
    ("SoDienThoai", {"SoDienThoai": 912345678}),
    ("QuaTrinhXuLy[0].ThoiDiemXuLy", {"QuaTrinhXuLy": [history_row(CODE, 2, "x", at="2026")]}),
    ("QuaTrinhXuLy[0].MaHoSo", {"QuaTrinhXuLy": [history_row(CODE2, 2, "x")]}),
    ("QuaTrinhXuLy", {"QuaTrinhXuLy": "không phải danh sách"}),
    ("DanhSachBoSung[0].NgayBoSung", {"DanhSachBoSung": [{"NoiDungBoSung": "Bản sao sổ đỏ", "NgayBoSung": "x"}]}),
]


@pytest.mark.parametrize(("field", "over"), BAD_DOSSIERS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_DOSSIERS)])
def test_validation_errors_name_the_field(portal: TestClient, portal_session: dict[str, str], field: str,
                                          over: dict[str, Any]) -> None:
    # the bad dossier comes second: the whole batch is refused, the good first one too
    r = sync(portal, portal_session, [make_dossier(CODE2), make_dossier(**over)])
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error_code"] == 2
    assert body["field"] == f"data[1].{field}"
    assert field.split(".")[-1].split("[")[0] in body["message"]
    assert state(portal)["counts"]["dossiers"] == 0


def test_receipt_dates_only_required_once_received(portal: TestClient, portal_session: dict[str, str]) -> None:
    new = make_dossier(status=1, NgayTiepNhan=..., NgayHenTra=...)
    refused = make_dossier(CODE2, status=3, NgayTiepNhan=..., NgayHenTra=..., NgayTuChoi="20260315090000")
    assert sync(portal, portal_session, [new, refused]).json()["error_code"] == 0
    # A supplement asked for at the desk, before reception: no receipt date or appointment yet.
    waiting = make_dossier("000.00.17.H26-260315-0003", status=5, NgayTiepNhan=..., NgayHenTra=...)
    assert sync(portal, portal_session, [waiting]).json()["error_code"] == 0
    for status in (2, 4, 6, 9, 10):
        r = sync(portal, portal_session, [make_dossier(f"000.00.17.H26-260315-{10 + status:04d}", status=status,
                                                       NgayHenTra=...)])
        assert r.status_code == 400 and r.json()["field"] == "data[0].NgayHenTra"
    r = sync(portal, portal_session, [make_dossier("000.00.17.H26-260315-0099", NgayHenTraMoi="2026-03-30")])
    assert r.status_code == 400 and r.json()["field"] == "data[0].NgayHenTraMoi"


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("service", {"isUpdating": False, "service": "LayThuTuc", "data": [make_dossier()]}),
        ("isUpdating", {"service": "DongBoHoSoMC", "data": [make_dossier()]}),
        ("data", {"isUpdating": False, "service": "DongBoHoSoMC", "data": []}),
        ("data[0]", {"isUpdating": False, "service": "DongBoHoSoMC", "data": ["x"]}),
    ],
)
def test_envelope_validation(portal: TestClient, portal_session: dict[str, str], field: str, body: dict[str, Any]) -> None:
    r = portal.post("/dossiers/sync", json=body, headers={**portal_session, "Idempotency-Key": "e"})
    assert r.status_code == 400 and r.json()["error_code"] == 2 and r.json()["field"] == field


def test_idempotency_key_required_and_json_required(portal: TestClient, portal_session: dict[str, str]) -> None:
    r = portal.post("/dossiers/sync", json={"isUpdating": False, "service": "DongBoHoSoMC", "data": [make_dossier()]},
                    headers=portal_session)
    assert r.status_code == 400 and r.json()["field"] == "Idempotency-Key"
    r = portal.post("/dossiers/sync", content=b"{not json", headers={**portal_session, "Idempotency-Key": "j"})
    assert r.status_code == 400 and r.json()["error_code"] == 2


def test_idempotency_replay_applies_once(portal: TestClient, portal_session: dict[str, str]) -> None:
    first = sync(portal, portal_session, [make_dossier()], key="sync-1")
    again = sync(portal, portal_session, [make_dossier()], key="sync-1")  # would be a 409 if applied again
    assert first.json() == {"error_code": 0, "message": first.json()["message"]}
    assert again.status_code == 200
    assert again.json() == {"error_code": 0, "message": "Đã xử lý trước đó", "duplicate": True}
    item = {"MaHoSo": CODE, "TrangThaiHoSo": 4, "QuaTrinhXuLy": [history_row(CODE, 4, "Chuyển xử lý", "20260316080000")]}
    assert progress(portal, portal_session, [item], key="prog-1").json().get("duplicate") is None
    assert progress(portal, portal_session, [item], key="prog-1").json()["duplicate"] is True
    counts = state(portal)["counts"]
    assert counts["sync_applied"] == 1 and counts["progress_applied"] == 1 and counts["duplicates"] == 2
    assert [h["TrangThaiHoSo"] for h in lookup(portal, portal_session).json()["data"]["LichSuTrangThai"]] == [2, 4]


def test_rejected_request_does_not_burn_its_key(portal: TestClient, portal_session: dict[str, str]) -> None:
    assert sync(portal, portal_session, [make_dossier(MaTTHC=...)], key="fix-me").status_code == 400
    assert sync(portal, portal_session, [make_dossier()], key="fix-me").json() == {
        "error_code": 0, "message": "Đồng bộ thành công 1 hồ sơ"}


# ---------------------------------------------------------------- CapNhatTienDoHoSoMC and TraCuuHoSo


def test_progress_appends_history_and_lookup_returns_it(portal: TestClient, portal_session: dict[str, str]) -> None:
    sync(portal, portal_session, [make_dossier()])
    step4 = history_row(CODE, 4, "Chuyển phòng chuyên môn", "20260316080000")
    step5 = history_row(CODE, 5, "Yêu cầu bổ sung bản vẽ", "20260317100000")
    assert progress(portal, portal_session, [{"MaHoSo": CODE, "TrangThaiHoSo": 4, "QuaTrinhXuLy": [step4]}]).json()["error_code"] == 0
    r = progress(portal, portal_session, [{"MaHoSo": CODE, "TrangThaiHoSo": 5, "QuaTrinhXuLy": [step4, step5]}])
    assert r.status_code == 200
    progress(portal, portal_session, [{"MaHoSo": CODE, "TrangThaiHoSo": 4}])  # supplement received
    progress(portal, portal_session, [{"MaHoSo": CODE, "TrangThaiHoSo": 9, "NgayKetThucXuLy": "20260320150000"}])
    held = lookup(portal, portal_session).json()
    assert held["error_code"] == 0
    data = held["data"]
    assert data["MaHoSo"] == CODE and data["TrangThaiHoSo"] == 9 and data["NgayKetThucXuLy"] == "20260320150000"
    assert [h["TrangThaiHoSo"] for h in data["LichSuTrangThai"]] == [2, 4, 5, 4, 9]
    assert [h["DichVu"] for h in data["LichSuTrangThai"]] == ["DongBoHoSoMC"] + ["CapNhatTienDoHoSoMC"] * 4
    assert [row["TrangThai"] for row in data["QuaTrinhXuLy"]] == [2, 4, 5]


@pytest.mark.parametrize(
    ("field", "item"),
    [
        ("data[0].MaHoSo", {"MaHoSo": "HS-1", "TrangThaiHoSo": 4}),
        ("data[0].TrangThaiHoSo", {"MaHoSo": CODE, "TrangThaiHoSo": 12}),
        ("data[0].NgayTra", {"MaHoSo": CODE, "TrangThaiHoSo": 10, "NgayTra": "hôm nay"}),
        ("data[0].QuaTrinhXuLy[0].NgayBatDau", {"MaHoSo": CODE, "TrangThaiHoSo": 4,
                                                "QuaTrinhXuLy": [{"NgayBatDau": "202603"}]}),
    ],
)
def test_progress_validation(portal: TestClient, portal_session: dict[str, str], field: str, item: dict[str, Any]) -> None:
    sync(portal, portal_session, [make_dossier()])
    r = progress(portal, portal_session, [item])
    assert r.status_code == 400 and r.json()["error_code"] == 2 and r.json()["field"] == field
    assert [h["TrangThaiHoSo"] for h in lookup(portal, portal_session).json()["data"]["LichSuTrangThai"]] == [2]


def test_lookup_unknown_and_bad_code(portal: TestClient, portal_session: dict[str, str]) -> None:
    r = lookup(portal, portal_session, CODE2)
    assert r.status_code == 404 and r.json()["error_code"] == 4
    r = lookup(portal, portal_session, "abc")
    assert r.status_code == 400 and r.json()["error_code"] == 2


# ---------------------------------------------------------------- online submissions


def submission(**over: Any) -> dict[str, Any]:
    s = {
        "MaTTHC": "1.001234", "DonViXuLy": "000.00.17.H26", "ChuHoSo": "Lê Thị Cúc", "LoaiDoiTuong": 1,
        "SoGiayToChuHoSo": "001199001122", "SoDienThoai": "0987654321", "Email": "cuc@example.vn",
        "DiaChi": "12 Lê Lợi, Đà Lạt", "TrichYeuHoSo": "Đăng ký khai sinh", "MucDo": "toan_trinh",
        "HinhThucNhanKetQua": 2, "GiayTo": [{"TenGiayTo": "Tờ khai", "SoLuong": 1}],
    }
    s.update(over)
    return s


def test_submissions_cursor_paging(portal: TestClient, portal_session: dict[str, str]) -> None:
    empty = portal.get("/submissions", headers=portal_session).json()
    assert empty == {"items": [], "next": None}
    created = [portal.post("/submissions", json=submission(TrichYeuHoSo=f"Hồ sơ {i}")) for i in range(3)]
    assert all(r.status_code == 201 for r in created)
    first = created[0].json()
    assert first["portal_id"].startswith("DVC-") and first["portal_id"].endswith("-000001")
    assert len(first["NgayNopHoSo"]) == 14 and first["MucDo"] == "toan_trinh"

    page1 = portal.get("/submissions", params={"limit": 2}, headers=portal_session).json()
    assert [s["TrichYeuHoSo"] for s in page1["items"]] == ["Hồ sơ 0", "Hồ sơ 1"]
    page2 = portal.get("/submissions", params={"after": page1["next"]}, headers=portal_session).json()
    assert [s["portal_id"] for s in page2["items"]] == [created[2].json()["portal_id"]]
    page3 = portal.get("/submissions", params={"after": page2["next"]}, headers=portal_session).json()
    assert page3 == {"items": [], "next": page2["next"]}  # nothing new: the same cursor back
    portal.post("/submissions", json=submission(TrichYeuHoSo="Hồ sơ 3"))
    page4 = portal.get("/submissions", params={"after": page2["next"]}, headers=portal_session).json()
    assert [s["TrichYeuHoSo"] for s in page4["items"]] == ["Hồ sơ 3"]


def test_submission_validation_and_bad_cursor(portal: TestClient, portal_session: dict[str, str]) -> None:
    for field, over in [("ChuHoSo", {"ChuHoSo": ""}), ("DonViXuLy", {"DonViXuLy": "H26"}),
                        ("MucDo", {"MucDo": "muc_4"}), ("HinhThucNhanKetQua", {"HinhThucNhanKetQua": 3}),
                        ("GiayTo[0].SoLuong", {"GiayTo": [{"TenGiayTo": "Tờ khai", "SoLuong": 0}]})]:
        r = portal.post("/submissions", json=submission(**over))
        assert r.status_code == 400 and r.json()["error_code"] == 2 and r.json()["field"] == f"body.{field}"
    r = portal.get("/submissions", params={"after": "not-a-cursor"}, headers=portal_session)
    assert r.status_code == 400 and r.json()["error_code"] == 2


# ---------------------------------------------------------------- faults and control


def test_fail_rate_one_gives_503_and_applies_nothing(portal: TestClient, portal_session: dict[str, str]) -> None:
    portal.post("/_control/faults", json={"fail_rate": 1})
    r = sync(portal, portal_session, [make_dossier()])
    assert r.status_code == 503 and r.json()["error_code"] == 5
    assert portal.post("/auth/login", json={"username": "motcua", "password": "motcua-demo"}).status_code == 503
    assert portal.get("/submissions", headers=portal_session).status_code == 503
    assert portal.post("/submissions", json=submission()).status_code == 201  # citizen side is not faulted
    s = state(portal)
    assert s["counts"]["dossiers"] == 0 and s["counts"]["faults_503"] == 3


def test_fail_rate_is_deterministic_with_seed(portal: TestClient, portal_session: dict[str, str]) -> None:
    def run() -> list[int]:
        portal.post("/_control/faults", json={"fail_rate": 0.5, "seed": 42})
        return [lookup(portal, portal_session).status_code for _ in range(20)]

    first = run()
    assert first == run()
    assert set(first) == {404, 503}


def test_latency(portal: TestClient, portal_session: dict[str, str]) -> None:
    portal.post("/_control/faults", json={"latency_ms": 150})
    started = time.perf_counter()
    assert lookup(portal, portal_session).status_code == 404
    assert time.perf_counter() - started >= 0.15


@pytest.mark.parametrize("body", [{"fail_rate": 2}, {"latency_ms": -1}, {"refuse_login": "yes"},
                                  {"session_ttl_seconds": -5}, {"seed": "x"}])
def test_fault_settings_validated(portal: TestClient, body: dict[str, Any]) -> None:
    r = portal.post("/_control/faults", json=body)
    assert r.status_code == 400 and r.json()["error_code"] == 2


def test_state_and_reset(portal_session: dict[str, str], portal: TestClient) -> None:
    sync(portal, portal_session, [make_dossier()], key="k1")
    portal.post("/submissions", json=submission())
    portal.post("/_control/faults", json={"latency_ms": 5})
    s = state(portal)
    assert s["counts"]["dossiers"] == 1 and s["counts"]["submissions"] == 1 and s["idempotency_keys"] == ["k1"]
    assert CODE in s["dossiers"] and s["faults"]["latency_ms"] == 5
    portal.post("/_control/reset")
    s = state(portal)
    assert s["counts"] == {"dossiers": 0, "submissions": 0, "idempotency_keys": 0, "active_sessions": 0}
    assert s["faults"]["latency_ms"] == 0
    assert lookup(portal, portal_session).status_code == 401  # sessions are gone too


def test_state_can_be_shared_and_inspected_directly() -> None:
    st = MockPortalState()
    with mock_portal(state=st) as c:
        c.post("/submissions", json=submission())
    assert len(st.submissions) == 1


# ---------------------------------------------------------------- HTML page


def test_home_page_lists_dossiers_and_creates_submissions(portal: TestClient, portal_session: dict[str, str]) -> None:
    sync(portal, portal_session, [make_dossier(ChuHoSo="<script>alert(1)</script>")])
    progress(portal, portal_session, [{"MaHoSo": CODE, "TrangThaiHoSo": 4}])
    page = portal.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert CODE in text and "Được tiếp nhận" in text and "Đang xử lý" in text
    assert all(label in text for label in PORTAL_STATUS_LABELS.values())
    assert "<script>alert" not in text and "&lt;script&gt;" in text
    assert "http://" not in text and "https://" not in text  # offline: no CDN

    form = {"MaTTHC": "1.000001", "DonViXuLy": "000.00.17.H26", "ChuHoSo": "Phạm Văn Dũng", "LoaiDoiTuong": "1",
            "SoGiayToChuHoSo": "079000111222", "TrichYeuHoSo": "Đăng ký thường trú", "MucDo": "mot_phan",
            "HinhThucNhanKetQua": "1", "GiayTo": "Tờ khai | 1\nBản sao CCCD | 2"}
    r = portal.post("/submissions/form", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    sub = state(portal)["submissions"][0]
    assert sub["MucDo"] == "mot_phan" and sub["HinhThucNhanKetQua"] == 1
    assert sub["GiayTo"] == [{"TenGiayTo": "Tờ khai", "SoLuong": 1}, {"TenGiayTo": "Bản sao CCCD", "SoLuong": 2}]
    assert "Đăng ký thường trú" in portal.get("/").text

    bad = portal.post("/submissions/form", data={**form, "DonViXuLy": "sai"})
    assert bad.status_code == 400 and "DonViXuLy" in bad.text and 'value="Phạm Văn Dũng"' in bad.text


# ---------------------------------------------------------------- order: what a real portal refuses


def keyed(code: str, seq: int, status: int, at: str) -> dict[str, Any]:
    return {**history_row(code, status, f"Bước {seq}", at), "MaQuaTrinh": f"{code}.{seq}"}


def test_progress_for_a_dossier_the_portal_does_not_hold_is_refused(portal: TestClient,
                                                                    portal_session: dict[str, str]) -> None:
    r = progress(portal, portal_session, [{"MaHoSo": CODE2, "TrangThaiHoSo": 4}])
    assert r.status_code == 404 and r.json()["error_code"] == 4 and r.json()["field"] == "data[0].MaHoSo"


@pytest.mark.parametrize(("moves", "refused"), [
    ([4, 9, 4], "data[0].TrangThaiHoSo"),  # back from "resolved" to "processing"
    ([4, 9, 10, 9], "data[0].TrangThaiHoSo"),  # 10 is final
    ([9], "data[0].TrangThaiHoSo"),  # "received" straight to "resolved": the processing is missing
    ([5, 9], "data[0].TrangThaiHoSo"),  # a supplement request resumes processing first
])
def test_status_moves_outside_the_graph_are_refused(portal: TestClient, portal_session: dict[str, str],
                                                     moves: list[int], refused: str) -> None:
    sync(portal, portal_session, [make_dossier()])
    *allowed, last = moves
    for status in allowed:
        assert progress(portal, portal_session, [{"MaHoSo": CODE, "TrangThaiHoSo": status}]).status_code == 200
    r = progress(portal, portal_session, [{"MaHoSo": CODE, "TrangThaiHoSo": last}])
    assert r.status_code == 409 and r.json()["error_code"] == 6 and r.json()["field"] == refused
    held = lookup(portal, portal_session).json()["data"]
    assert held["TrangThaiHoSo"] == (allowed[-1] if allowed else 2)  # nothing applied
    # A full update (DongBoHoSoMC) is held to the same graph.
    r = sync(portal, portal_session, [make_dossier(status=last, QuaTrinhXuLy=[])], updating=True)
    assert r.status_code == 409 and r.json()["error_code"] == 6


def test_a_history_row_older_than_the_last_held_is_refused(portal: TestClient, portal_session: dict[str, str]) -> None:
    sync(portal, portal_session, [make_dossier(QuaTrinhXuLy=[keyed(CODE, 1, 2, "20260315084500")])])
    later = keyed(CODE, 3, 4, "20260316100000")
    earlier = keyed(CODE, 2, 4, "20260316090000")
    assert progress(portal, portal_session, [{"MaHoSo": CODE, "TrangThaiHoSo": 4, "QuaTrinhXuLy": [later]}]
                    ).status_code == 200
    r = progress(portal, portal_session, [{"MaHoSo": CODE, "TrangThaiHoSo": 4, "QuaTrinhXuLy": [earlier]}])
    assert r.status_code == 409 and r.json()["error_code"] == 6
    assert r.json()["field"] == "data[0].QuaTrinhXuLy[0].ThoiDiemXuLy"
    # The whole history resent in order (a re-sync) is accepted: the rows held are not new moves.
    first = keyed(CODE, 1, 2, "20260315084500")
    assert sync(portal, portal_session, [make_dossier(status=4, QuaTrinhXuLy=[first, later])],
                updating=True).status_code == 200


def test_rows_with_a_key_stay_distinct_in_the_same_second_and_resent_rows_are_kept_once(
        portal: TestClient, portal_session: dict[str, str]) -> None:
    at = "20260315084500"
    first, second = keyed(CODE, 1, 2, at), keyed(CODE, 2, 4, at)
    second_same_text = {**second, "NoiDungXuLy": first["NoiDungXuLy"], "TrangThai": 2}
    assert sync(portal, portal_session, [make_dossier(QuaTrinhXuLy=[first, second_same_text])]).status_code == 200
    rows = lookup(portal, portal_session).json()["data"]["QuaTrinhXuLy"]
    assert [r["MaQuaTrinh"] for r in rows] == [f"{CODE}.1", f"{CODE}.2"]  # identical but for the key: two rows
    assert progress(portal, portal_session, [{"MaHoSo": CODE, "TrangThaiHoSo": 2,
                                              "QuaTrinhXuLy": [first, second_same_text]}]).status_code == 200
    assert len(lookup(portal, portal_session).json()["data"]["QuaTrinhXuLy"]) == 2


def test_a_resync_may_walk_several_moves_when_its_rows_do(portal: TestClient, portal_session: dict[str, str]) -> None:
    rows = [keyed(CODE, 1, 2, "20260315084500")]
    sync(portal, portal_session, [make_dossier(QuaTrinhXuLy=rows)])
    rows += [keyed(CODE, 2, 4, "20260316080000"), keyed(CODE, 3, 9, "20260317080000"),
             keyed(CODE, 4, 10, "20260318080000")]
    r = sync(portal, portal_session, [make_dossier(status=10, NgayTra="20260318080000", QuaTrinhXuLy=rows)],
             updating=True)
    assert r.status_code == 200, r.text
    held = lookup(portal, portal_session).json()["data"]
    assert held["TrangThaiHoSo"] == 10 and len(held["QuaTrinhXuLy"]) == 4
    # The same jump with rows that skip the processing is refused.
    with mock_portal() as other:
        token = other.post("/auth/login", json={"username": "motcua", "password": "motcua-demo"}).json()["session"]
        session = {"X-Session": token}
        sync(other, session, [make_dossier(QuaTrinhXuLy=rows[:1])])
        r = sync(other, session, [make_dossier(status=10, QuaTrinhXuLy=[rows[0], rows[3]])], updating=True)
        assert r.status_code == 409 and r.json()["field"] == "data[0].QuaTrinhXuLy[1].TrangThai"


def test_the_graph_allows_every_move_of_the_transition_table() -> None:
    from app.models import DossierStatus as S
    from app.portal.mock_contract import PORTAL_TRANSITIONS
    from app.workflows.transitions import PORTAL_STATUS, TRANSITIONS

    for t in TRANSITIONS:
        # A supplement request resumes to the status held before it (submitted, received or processing).
        targets = [t.to_status] if t.to_status else [S.submitted, S.received, S.processing]
        for to in targets:
            src, dst = PORTAL_STATUS[t.status], PORTAL_STATUS[to]
            assert src == dst or dst in PORTAL_TRANSITIONS[src], (t.status, t.action, to)


# ---------------------------------------------------------------- the control token


def test_control_endpoints_need_the_token() -> None:
    calls = [("post", "/_control/faults", {"fail_rate": 1}), ("post", "/_control/reset", None),
             ("post", "/_control/sessions/expire", None), ("get", "/_control/state", None)]
    with TestClient(create_mock_portal(control_token="s3cret-token")) as c:
        for headers in ({}, {"X-Control-Token": "wrong"}):
            for method, path, body in calls:
                r = getattr(c, method)(path, headers=headers, **({"json": body} if body else {}))
                assert r.status_code == 403 and r.json()["field"] == "X-Control-Token", path
        assert c.get("/_control/state", headers={"X-Control-Token": "s3cret-token"}).status_code == 200
        # No fault was switched on by the refused calls.
        assert c.post("/auth/login", json={"username": "motcua", "password": "motcua-demo"}).json()["error_code"] == 0
    with TestClient(create_mock_portal()) as off:  # no token configured: control is off, whatever is sent
        assert off.post("/_control/reset", headers={"X-Control-Token": ""}).status_code == 403
        assert off.get("/_control/state", headers={"X-Control-Token": "None"}).status_code == 403


def test_compose_does_not_publish_the_mock_portal() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docker-compose.yml").read_text()
    # The `portal:` service block: from its line to the next line indented like it (or less).
    lines = text.splitlines()
    start = lines.index("  portal:")
    block = [lines[start]]
    for line in lines[start + 1:]:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line)
    body = "\n".join(block)
    assert "ports:" not in body and "expose:" in body
    assert "MOTCUA_MOCK_PORTAL_CONTROL_TOKEN" in body
