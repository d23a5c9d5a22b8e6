"""The portal's contract as the mock (app/portal/mock.py) checks it: status codes and the status
graph, error codes, service names, field formats (docs/PORTAL.md), the validation of what the
one-stop system sends, and the opaque cursor of the submission pull."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

PORTAL_STATUS_LABELS: dict[int, str] = {
    1: "Mới đăng ký",
    2: "Được tiếp nhận",
    3: "Không được tiếp nhận",
    4: "Đang xử lý",
    5: "Yêu cầu bổ sung giấy tờ",
    6: "Yêu cầu thực hiện nghĩa vụ tài chính",
    7: "Công dân yêu cầu rút hồ sơ",
    8: "Dừng xử lý",
    9: "Đã xử lý xong",
    10: "Đã trả kết quả",
}

# error_code values in answers (see docs/PORTAL.md)
OK = 0
ERR_LOGIN = 1
ERR_VALIDATION = 2
ERR_CONFLICT = 3
ERR_NOT_FOUND = 4
ERR_UNAVAILABLE = 5
ERR_ORDER = 6  # out of order: a move the status graph forbids, or a history row older than the last held
ERR_SESSION = -1

SERVICE_SYNC = "DongBoHoSoMC"
SERVICE_PROGRESS = "CapNhatTienDoHoSoMC"
# The one-stop system's answer to an online submission it cannot receive (TrangThaiHoSo 3, with the
# reason): the mock's name for the portal's "not received" answer (docs/PORTAL.md).
SERVICE_ANSWER = "PhanHoiHoSoNopTrucTuyen"
NOT_RECEIVED = 3

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DATE_FORMAT = "%Y%m%d%H%M%S"
MA_HO_SO_RE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}-\d{6}-\d{4}$")
AGENCY_ID_RE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$")
_DATE_RE = re.compile(r"^\d{14}$")

DOSSIER_STR_FIELDS = (
    "MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "ChuHoSo", "SoGiayToChuHoSo",
    "SoDienThoai", "Email", "TrichYeuHoSo", "DonViXuLy",
)
DOSSIER_DATE_FIELDS = (
    "NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayHenTraMoi", "NgayKetThucXuLy", "NgayTra", "NgayTuChoi",
)
# The portal's status graph: the moves a dossier may make (staying in the same status is always allowed:
# another step of processing, an apology, a resent record). 3, 7, 8 and 10 are final.
PORTAL_TRANSITIONS: dict[int, frozenset[int]] = {
    1: frozenset({2, 3, 5, 7}),
    2: frozenset({3, 4, 5, 7}),
    3: frozenset(),
    4: frozenset({5, 6, 7, 8, 9}),
    5: frozenset({1, 2, 4, 7, 8}),  # supplement received: back to where the dossier was
    6: frozenset({4, 7, 8}),
    7: frozenset(),
    8: frozenset(),
    9: frozenset({10}),
    10: frozenset(),
}
ROW_KEY = "MaQuaTrinh"  # unique id of a QuaTrinhXuLy row, when the sender gives one
CONTROL_HEADER = "X-Control-Token"

# Statuses that only a received dossier can have: they need the receipt and appointment dates.
# 5 (supplement), 7 (withdrawn) and 8 (stopped) can also happen before reception.
RECEIVED_STATUSES = (2, 4, 6, 9, 10)
HISTORY_STR_FIELDS = ("MaHoSo", "NguoiXuLy", "ChucDanh", "PhongBanXuLy", "NoiDungXuLy", ROW_KEY)
HISTORY_DATE_FIELDS = ("ThoiDiemXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh")
SUPPLEMENT_STR_FIELDS = ("NguoiYeuCauBoSung", "NoiDungBoSung")
SUPPLEMENT_DATE_FIELDS = ("NgayBoSung", "NgayTiepNhanBoSung", "NgayHenTraTruoc", "NgayHenTraMoi")
# Fields a progress item may carry besides MaHoSo/TrangThaiHoSo/QuaTrinhXuLy (dates set as work moves on).
PROGRESS_DATE_FIELDS = ("NgayHenTra", "NgayKetThucXuLy", "NgayTra", "NgayTuChoi")


def portal_now() -> str:
    return datetime.now(VN_TZ).strftime(DATE_FORMAT)


class PortalFailure(Exception):
    """An answer other than success; turned into JSON by the app's exception handler."""

    def __init__(self, status: int, error_code: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message, self.field = status, error_code, message, field


def invalid(path: str, message: str) -> PortalFailure:
    return PortalFailure(400, ERR_VALIDATION, message, path)

# ---------------------------------------------------------------- validation helpers


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _str(obj: dict[str, Any], key: str, loc: str, *, required: bool = False) -> None:
    value = obj.get(key)
    if is_blank(value):
        if required:
            raise invalid(f"{loc}.{key}", f"Thiếu trường bắt buộc {key} ({loc}.{key})")
        return
    if not isinstance(value, str):
        raise invalid(f"{loc}.{key}", f"Trường {key} ({loc}.{key}) phải là chuỗi ký tự")


def _date(obj: dict[str, Any], key: str, loc: str, *, required: bool = False) -> None:
    value = obj.get(key)
    if is_blank(value):
        if required:
            raise invalid(f"{loc}.{key}", f"Thiếu trường bắt buộc {key} ({loc}.{key})")
        return
    ok = isinstance(value, str) and _DATE_RE.match(value) is not None
    if ok:
        try:
            datetime.strptime(value, DATE_FORMAT)
        except ValueError:
            ok = False
    if not ok:
        raise invalid(
            f"{loc}.{key}",
            f"Trường {key} ({loc}.{key}) sai định dạng ngày giờ, cần yyyyMMddHHmmss (ví dụ 20260315083000)",
        )


def _int_in(obj: dict[str, Any], key: str, loc: str, allowed: range | tuple[int, ...], *, required: bool = False) -> None:
    value = obj.get(key)
    if value is None:
        if required:
            raise invalid(f"{loc}.{key}", f"Thiếu trường bắt buộc {key} ({loc}.{key})")
        return
    # bool is an int in Python; a JSON true is not a code.
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        shown = f"từ {allowed.start} đến {allowed.stop - 1}" if isinstance(allowed, range) else ", ".join(map(str, allowed))
        raise invalid(f"{loc}.{key}", f"Trường {key} ({loc}.{key}) phải là số nguyên {shown}")


def ma_ho_so(obj: dict[str, Any], loc: str) -> str:
    _str(obj, "MaHoSo", loc, required=True)
    code = obj["MaHoSo"]
    if not MA_HO_SO_RE.match(code):
        raise invalid(
            f"{loc}.MaHoSo",
            f"Trường MaHoSo ({loc}.MaHoSo) sai định dạng, cần {{mã cơ quan}}-{{yyMMdd}}-{{NNNN}}, "
            "ví dụ 000.00.17.H26-260315-0001",
        )
    return str(code)


def as_object(value: Any, loc: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(loc, f"{loc} phải là một đối tượng JSON")
    return value


def _list_of_objects(obj: dict[str, Any], key: str, loc: str) -> list[dict[str, Any]]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(f"{loc}.{key}", f"Trường {key} ({loc}.{key}) phải là một danh sách")
    return [as_object(row, f"{loc}.{key}[{i}]") for i, row in enumerate(value)]


def _validate_history(rows: list[dict[str, Any]], loc: str, code: str) -> None:
    for i, row in enumerate(rows):
        rloc = f"{loc}.QuaTrinhXuLy[{i}]"
        for key in HISTORY_STR_FIELDS:
            _str(row, key, rloc)
        for key in HISTORY_DATE_FIELDS:
            _date(row, key, rloc)
        _int_in(row, "TrangThai", rloc, range(1, 11))
        if not is_blank(row.get("MaHoSo")) and row["MaHoSo"] != code:
            raise invalid(f"{rloc}.MaHoSo", f"Trường MaHoSo ({rloc}.MaHoSo) không khớp với hồ sơ {code}")


def validate_dossier(raw: Any, loc: str) -> dict[str, Any]:
    d = as_object(raw, loc)
    code = ma_ho_so(d, loc)
    for key in ("MaTTHC", "ChuHoSo"):
        _str(d, key, loc, required=True)
    for key in DOSSIER_STR_FIELDS:
        _str(d, key, loc)
    _int_in(d, "KenhThucHien", loc, (1, 2, 3), required=True)
    _int_in(d, "TrangThaiHoSo", loc, range(1, 11), required=True)
    _int_in(d, "LoaiDoiTuong", loc, (1, 2))
    _int_in(d, "HinhThuc", loc, (0, 1))
    paid = d.get("DuocThanhToanTrucTuyen")
    if paid is not None and paid not in (0, 1):  # 0/1 or false/true (True == 1 in Python)
        where = f"{loc}.DuocThanhToanTrucTuyen"
        raise invalid(where, f"Trường DuocThanhToanTrucTuyen ({where}) phải là 0/1 hoặc true/false")
    _date(d, "NgayNopHoSo", loc, required=True)
    received = d["TrangThaiHoSo"] in RECEIVED_STATUSES
    for key in DOSSIER_DATE_FIELDS:
        _date(d, key, loc, required=received and key in ("NgayTiepNhan", "NgayHenTra"))
    if not is_blank(d.get("DonViXuLy")) and not AGENCY_ID_RE.match(d["DonViXuLy"]):
        where = f"{loc}.DonViXuLy"
        raise invalid(where, f"Trường DonViXuLy ({where}) sai định dạng mã cơ quan, ví dụ 000.00.17.H26")
    _validate_history(_list_of_objects(d, "QuaTrinhXuLy", loc), loc, code)
    for i, row in enumerate(_list_of_objects(d, "DanhSachBoSung", loc)):
        sloc = f"{loc}.DanhSachBoSung[{i}]"
        for key in SUPPLEMENT_STR_FIELDS:
            _str(row, key, sloc)
        for key in SUPPLEMENT_DATE_FIELDS:
            _date(row, key, sloc)
    return d


def validate_progress_item(raw: Any, loc: str) -> dict[str, Any]:
    """One item of CapNhatTienDoHoSoMC: the dossier's code, its status, the dates set as work moves on."""
    item = as_object(raw, loc)
    code = ma_ho_so(item, loc)
    _int_in(item, "TrangThaiHoSo", loc, range(1, 11), required=True)
    for k in PROGRESS_DATE_FIELDS:
        _date(item, k, loc)
    _validate_history(_list_of_objects(item, "QuaTrinhXuLy", loc), loc, code)
    return item


def validate_answer(raw: Any, loc: str) -> dict[str, Any]:
    """One answer to an online submission the one-stop system cannot receive (status 3, the reason)."""
    item = as_object(raw, loc)
    _str(item, "portal_id", loc, required=True)
    _str(item, "LyDoKhongTiepNhan", loc, required=True)
    _int_in(item, "TrangThaiHoSo", loc, (NOT_RECEIVED,), required=True)
    _date(item, "NgayTuChoi", loc)
    return item


def validate_submission(raw: Any) -> dict[str, Any]:
    s = as_object(raw, "body")
    loc = "body"
    for key in ("MaTTHC", "DonViXuLy", "ChuHoSo", "SoGiayToChuHoSo", "TrichYeuHoSo"):
        _str(s, key, loc, required=True)
    for key in ("SoDienThoai", "Email", "DiaChi"):
        _str(s, key, loc)
    if not AGENCY_ID_RE.match(s["DonViXuLy"]):
        raise invalid("body.DonViXuLy", "Trường DonViXuLy sai định dạng mã cơ quan, ví dụ 000.00.17.H26")
    _int_in(s, "LoaiDoiTuong", loc, (1, 2), required=True)
    _int_in(s, "HinhThucNhanKetQua", loc, (0, 1, 2))
    _date(s, "NgayNopHoSo", loc)
    muc_do = s.get("MucDo", "toan_trinh")
    if muc_do not in ("toan_trinh", "mot_phan"):
        raise invalid("body.MucDo", "Trường MucDo phải là 'toan_trinh' hoặc 'mot_phan'")
    papers = _list_of_objects(s, "GiayTo", loc)
    for i, paper in enumerate(papers):
        ploc = f"body.GiayTo[{i}]"
        _str(paper, "TenGiayTo", ploc, required=True)
        n = paper.get("SoLuong", 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise invalid(f"{ploc}.SoLuong", f"Trường SoLuong ({ploc}.SoLuong) phải là số nguyên dương")
    attachments = []
    for i, item in enumerate(_list_of_objects(s, "TepDinhKem", loc)):
        floc = f"body.TepDinhKem[{i}]"
        _str(item, "TenTep", floc, required=True)
        _str(item, "TenGiayTo", floc)
        _str(item, "SHA256", floc)
        if item.get("LoaiTep", "copy") not in ("original_scan", "copy", "electronic_original"):
            raise invalid(f"{floc}.LoaiTep", "Trường LoaiTep phải là original_scan, copy hoặc electronic_original")
        try:
            content = base64.b64decode(str(item.get("NoiDung") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise invalid(f"{floc}.NoiDung", "Trường NoiDung phải là nội dung tệp mã hóa base64") from None
        attachments.append({"TenTep": item["TenTep"], "TenGiayTo": item.get("TenGiayTo") or None,
                            "LoaiTep": item.get("LoaiTep", "copy"),
                            # The hash the citizen's client declared (kept as sent), else the portal's own.
                            "SHA256": (item.get("SHA256") or hashlib.sha256(content).hexdigest()).lower(),
                            "_content": content})
    return {
        "TepDinhKem": attachments,
        "MaTTHC": s["MaTTHC"],
        "DonViXuLy": s["DonViXuLy"],
        "ChuHoSo": s["ChuHoSo"],
        "LoaiDoiTuong": s["LoaiDoiTuong"],
        "SoGiayToChuHoSo": s["SoGiayToChuHoSo"],
        "SoDienThoai": s.get("SoDienThoai") or None,
        "Email": s.get("Email") or None,
        "DiaChi": s.get("DiaChi") or None,
        "TrichYeuHoSo": s["TrichYeuHoSo"],
        "NgayNopHoSo": s.get("NgayNopHoSo") or portal_now(),
        "MucDo": muc_do,
        "HinhThucNhanKetQua": s.get("HinhThucNhanKetQua", 0),
        "GiayTo": [{"TenGiayTo": p["TenGiayTo"], "SoLuong": p.get("SoLuong", 1)} for p in papers],
    }


# ---------------------------------------------------------------- cursor (opaque to callers)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"sub:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, num = raw.partition(":")
        if prefix != "sub" or not num.isdigit():
            raise ValueError(raw)
        return int(num)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("after", "Tham số after (con trỏ) không hợp lệ") from None
