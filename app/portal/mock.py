"""Mock of the national public-service portal (Cổng DVCQG), for demos and tests.

A self-contained FastAPI app holding everything in memory behind one ``threading.Lock``.
It implements the contract in docs/PORTAL.md: login, DongBoHoSoMC (``/dossiers/sync``),
CapNhatTienDoHoSoMC (``/dossiers/progress``), TraCuuHoSo (``/dossiers/lookup``), the
inbound pull of online submissions, fault injection under ``/_control`` and a small HTML
page for a demo user. Not production code: no persistence, no real authentication.

Run it standalone: ``uvicorn --factory app.portal.mock:create_mock_portal --port 8001``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import html
import json
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.requests import ClientDisconnect

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

# Paths subject to injected faults: the integration API, not the citizen page or /_control.
_FAULT_PREFIXES = ("/auth/", "/dossiers/")


def portal_now() -> str:
    return datetime.now(VN_TZ).strftime(DATE_FORMAT)


class PortalFailure(Exception):
    """An answer other than success; turned into JSON by the app's exception handler."""

    def __init__(self, status: int, error_code: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message, self.field = status, error_code, message, field


def _invalid(path: str, message: str) -> PortalFailure:
    return PortalFailure(400, ERR_VALIDATION, message, path)


@dataclass
class Faults:
    fail_rate: float = 0.0
    latency_ms: int = 0
    refuse_login: bool = False
    session_ttl_seconds: float = 3600.0
    seed: int | None = None


@dataclass
class HeldDossier:
    dossier: dict[str, Any]
    status_history: list[dict[str, Any]]  # every status change seen, in order
    processing: list[dict[str, Any]]  # every distinct QuaTrinhXuLy row seen, in arrival order
    supplements: list[dict[str, Any]]  # latest DanhSachBoSung received

    def as_lookup(self) -> dict[str, Any]:
        return {
            **self.dossier,
            "QuaTrinhXuLy": list(self.processing),
            "DanhSachBoSung": list(self.supplements),
            "LichSuTrangThai": list(self.status_history),
        }


@dataclass
class MockPortalState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    dossiers: dict[str, HeldDossier] = field(default_factory=dict)
    idempotency: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, float] = field(default_factory=dict)  # token -> monotonic expiry
    submissions: list[dict[str, Any]] = field(default_factory=list)  # cursor n = first n items seen
    files: dict[str, bytes] = field(default_factory=dict)  # attachments of submissions, by MaTep
    faults: Faults = field(default_factory=Faults)
    rng: random.Random = field(default_factory=random.Random)
    counters: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        with self.lock:
            self.dossiers.clear()
            self.idempotency.clear()
            self.sessions.clear()
            self.submissions.clear()
            self.files.clear()
            self.counters.clear()
            self.faults = Faults()
            self.rng = random.Random()

    def bump(self, name: str, by: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + by


# ---------------------------------------------------------------- validation helpers


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _str(obj: dict[str, Any], key: str, loc: str, *, required: bool = False) -> None:
    value = obj.get(key)
    if _is_blank(value):
        if required:
            raise _invalid(f"{loc}.{key}", f"Thiếu trường bắt buộc {key} ({loc}.{key})")
        return
    if not isinstance(value, str):
        raise _invalid(f"{loc}.{key}", f"Trường {key} ({loc}.{key}) phải là chuỗi ký tự")


def _date(obj: dict[str, Any], key: str, loc: str, *, required: bool = False) -> None:
    value = obj.get(key)
    if _is_blank(value):
        if required:
            raise _invalid(f"{loc}.{key}", f"Thiếu trường bắt buộc {key} ({loc}.{key})")
        return
    ok = isinstance(value, str) and _DATE_RE.match(value) is not None
    if ok:
        try:
            datetime.strptime(value, DATE_FORMAT)
        except ValueError:
            ok = False
    if not ok:
        raise _invalid(
            f"{loc}.{key}",
            f"Trường {key} ({loc}.{key}) sai định dạng ngày giờ, cần yyyyMMddHHmmss (ví dụ 20260315083000)",
        )


def _int_in(obj: dict[str, Any], key: str, loc: str, allowed: range | tuple[int, ...], *, required: bool = False) -> None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _invalid(f"{loc}.{key}", f"Thiếu trường bắt buộc {key} ({loc}.{key})")
        return
    # bool is an int in Python; a JSON true is not a code.
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        shown = f"từ {allowed.start} đến {allowed.stop - 1}" if isinstance(allowed, range) else ", ".join(map(str, allowed))
        raise _invalid(f"{loc}.{key}", f"Trường {key} ({loc}.{key}) phải là số nguyên {shown}")


def _ma_ho_so(obj: dict[str, Any], loc: str) -> str:
    _str(obj, "MaHoSo", loc, required=True)
    code = obj["MaHoSo"]
    if not MA_HO_SO_RE.match(code):
        raise _invalid(
            f"{loc}.MaHoSo",
            f"Trường MaHoSo ({loc}.MaHoSo) sai định dạng, cần {{mã cơ quan}}-{{yyMMdd}}-{{NNNN}}, "
            "ví dụ 000.00.17.H26-260315-0001",
        )
    return str(code)


def _object(value: Any, loc: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(loc, f"{loc} phải là một đối tượng JSON")
    return value


def _list_of_objects(obj: dict[str, Any], key: str, loc: str) -> list[dict[str, Any]]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(f"{loc}.{key}", f"Trường {key} ({loc}.{key}) phải là một danh sách")
    return [_object(row, f"{loc}.{key}[{i}]") for i, row in enumerate(value)]


def _validate_history(rows: list[dict[str, Any]], loc: str, code: str) -> None:
    for i, row in enumerate(rows):
        rloc = f"{loc}.QuaTrinhXuLy[{i}]"
        for key in HISTORY_STR_FIELDS:
            _str(row, key, rloc)
        for key in HISTORY_DATE_FIELDS:
            _date(row, key, rloc)
        _int_in(row, "TrangThai", rloc, range(1, 11))
        if not _is_blank(row.get("MaHoSo")) and row["MaHoSo"] != code:
            raise _invalid(f"{rloc}.MaHoSo", f"Trường MaHoSo ({rloc}.MaHoSo) không khớp với hồ sơ {code}")


def _validate_dossier(raw: Any, loc: str) -> dict[str, Any]:
    d = _object(raw, loc)
    code = _ma_ho_so(d, loc)
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
        raise _invalid(where, f"Trường DuocThanhToanTrucTuyen ({where}) phải là 0/1 hoặc true/false")
    _date(d, "NgayNopHoSo", loc, required=True)
    received = d["TrangThaiHoSo"] in RECEIVED_STATUSES
    for key in DOSSIER_DATE_FIELDS:
        _date(d, key, loc, required=received and key in ("NgayTiepNhan", "NgayHenTra"))
    if not _is_blank(d.get("DonViXuLy")) and not AGENCY_ID_RE.match(d["DonViXuLy"]):
        where = f"{loc}.DonViXuLy"
        raise _invalid(where, f"Trường DonViXuLy ({where}) sai định dạng mã cơ quan, ví dụ 000.00.17.H26")
    _validate_history(_list_of_objects(d, "QuaTrinhXuLy", loc), loc, code)
    for i, row in enumerate(_list_of_objects(d, "DanhSachBoSung", loc)):
        sloc = f"{loc}.DanhSachBoSung[{i}]"
        for key in SUPPLEMENT_STR_FIELDS:
            _str(row, key, sloc)
        for key in SUPPLEMENT_DATE_FIELDS:
            _date(row, key, sloc)
    return d


def _validate_submission(raw: Any) -> dict[str, Any]:
    s = _object(raw, "body")
    loc = "body"
    for key in ("MaTTHC", "DonViXuLy", "ChuHoSo", "SoGiayToChuHoSo", "TrichYeuHoSo"):
        _str(s, key, loc, required=True)
    for key in ("SoDienThoai", "Email", "DiaChi"):
        _str(s, key, loc)
    if not AGENCY_ID_RE.match(s["DonViXuLy"]):
        raise _invalid("body.DonViXuLy", "Trường DonViXuLy sai định dạng mã cơ quan, ví dụ 000.00.17.H26")
    _int_in(s, "LoaiDoiTuong", loc, (1, 2), required=True)
    _int_in(s, "HinhThucNhanKetQua", loc, (0, 1, 2))
    _date(s, "NgayNopHoSo", loc)
    muc_do = s.get("MucDo", "toan_trinh")
    if muc_do not in ("toan_trinh", "mot_phan"):
        raise _invalid("body.MucDo", "Trường MucDo phải là 'toan_trinh' hoặc 'mot_phan'")
    papers = _list_of_objects(s, "GiayTo", loc)
    for i, paper in enumerate(papers):
        ploc = f"body.GiayTo[{i}]"
        _str(paper, "TenGiayTo", ploc, required=True)
        n = paper.get("SoLuong", 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise _invalid(f"{ploc}.SoLuong", f"Trường SoLuong ({ploc}.SoLuong) phải là số nguyên dương")
    attachments = []
    for i, item in enumerate(_list_of_objects(s, "TepDinhKem", loc)):
        floc = f"body.TepDinhKem[{i}]"
        _str(item, "TenTep", floc, required=True)
        _str(item, "TenGiayTo", floc)
        _str(item, "SHA256", floc)
        if item.get("LoaiTep", "copy") not in ("original_scan", "copy", "electronic_original"):
            raise _invalid(f"{floc}.LoaiTep", "Trường LoaiTep phải là original_scan, copy hoặc electronic_original")
        try:
            content = base64.b64decode(str(item.get("NoiDung") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise _invalid(f"{floc}.NoiDung", "Trường NoiDung phải là nội dung tệp mã hóa base64") from None
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


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"sub:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, num = raw.partition(":")
        if prefix != "sub" or not num.isdigit():
            raise ValueError(raw)
        return int(num)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid("after", "Tham số after (con trỏ) không hợp lệ") from None


# ---------------------------------------------------------------- the app


def create_mock_portal(
    *, username: str = "motcua", password: str = "motcua-demo", state: MockPortalState | None = None,
    control_token: str | None = None,
) -> FastAPI:
    """`control_token`: the value of the `X-Control-Token` header that `/_control/*` requires;
    None or empty turns the control endpoints off (403)."""
    st = state if state is not None else MockPortalState()
    app = FastAPI(title="Mock Cổng DVCQG", docs_url="/_docs", redoc_url=None, openapi_url="/_openapi.json")
    app.state.portal = st

    @app.exception_handler(RequestValidationError)
    async def _bad_query(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        return JSONResponse(
            {"error_code": ERR_VALIDATION, "message": f"Tham số {where} không hợp lệ", "field": where}, status_code=400
        )

    @app.exception_handler(PortalFailure)
    async def _failure(_: Request, exc: PortalFailure) -> JSONResponse:
        body: dict[str, Any] = {"error_code": exc.error_code, "message": exc.message}
        if exc.field:
            body["field"] = exc.field
        return JSONResponse(body, status_code=exc.status)

    @app.middleware("http")
    async def _faults(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if not (path.startswith(_FAULT_PREFIXES) or (path == "/submissions" and request.method == "GET")):
            return await call_next(request)
        with st.lock:
            latency = st.faults.latency_ms
            fail = st.faults.fail_rate > 0 and st.rng.random() < st.faults.fail_rate
            if fail:
                st.bump("faults_503")
        if latency:
            # A caller that times out during this sleep may still see its request applied, as with a
            # real portal: that is what Idempotency-Key is for.
            await asyncio.sleep(latency / 1000)
        if fail:  # before anything is applied: a 503 here never changes state
            return JSONResponse(
                {"error_code": ERR_UNAVAILABLE, "message": "Hệ thống đang bận, vui lòng thử lại sau"}, status_code=503
            )
        return await call_next(request)

    async def _json(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"null")
        except ClientDisconnect:  # the caller gave up (e.g. its timeout during injected latency)
            raise PortalFailure(400, ERR_VALIDATION, "Kết nối bị đóng trước khi gửi xong nội dung") from None
        except (ValueError, UnicodeDecodeError):
            raise _invalid("body", "Nội dung yêu cầu không phải JSON hợp lệ (UTF-8)") from None
        return _object(body, "body")

    def _require_control(request: Request) -> None:
        given = request.headers.get(CONTROL_HEADER) or ""
        if not control_token:
            raise PortalFailure(403, ERR_LOGIN, "Các lệnh điều khiển của Cổng giả lập đang tắt (chưa cấu hình mã điều khiển)")
        if not hmac.compare_digest(given.encode(), control_token.encode()):
            raise PortalFailure(403, ERR_LOGIN, f"Thiếu hoặc sai mã điều khiển (header {CONTROL_HEADER})", CONTROL_HEADER)

    def _require_session(request: Request) -> None:
        token = request.headers.get("X-Session")
        with st.lock:
            expiry = st.sessions.get(token or "")
            if expiry is not None and expiry <= time.monotonic():
                del st.sessions[token or ""]
                expiry = None
        if expiry is None:
            raise PortalFailure(401, ERR_SESSION, "Phiên làm việc không tồn tại hoặc đã hết hạn, vui lòng đăng nhập lại")

    def _idempotency_key(request: Request) -> str:
        key = (request.headers.get("Idempotency-Key") or "").strip()
        if not key:
            raise _invalid("Idempotency-Key", "Thiếu header Idempotency-Key")
        return key

    def _duplicate() -> JSONResponse:
        st.bump("duplicates")
        return JSONResponse({"error_code": OK, "message": "Đã xử lý trước đó", "duplicate": True})

    def _service(body: dict[str, Any], expected: str) -> None:
        if body.get("service") != expected:
            raise _invalid("service", f"Trường service phải là '{expected}'")

    def _data(body: dict[str, Any]) -> list[Any]:
        data = body.get("data")
        if not isinstance(data, list) or not data:
            raise _invalid("data", "Trường data phải là danh sách hồ sơ, không được rỗng")
        return data

    @app.post("/auth/login")
    async def login(request: Request) -> JSONResponse:
        body = await _json(request)
        with st.lock:
            if st.faults.refuse_login:
                return JSONResponse({"error_code": ERR_LOGIN, "message": "Cổng tạm thời từ chối đăng nhập"})
            if body.get("username") != username or body.get("password") != password:
                return JSONResponse({"error_code": ERR_LOGIN, "message": "Sai tên đăng nhập hoặc mật khẩu"})
            token = secrets.token_urlsafe(24)
            st.sessions[token] = time.monotonic() + st.faults.session_ttl_seconds
            st.bump("logins")
        return JSONResponse({"error_code": OK, "session": token})

    @app.post("/dossiers/sync")
    async def sync(request: Request) -> JSONResponse:
        _require_session(request)
        body = await _json(request)
        key = _idempotency_key(request)
        with st.lock:  # check, validate and apply atomically: a key is applied at most once
            if key in st.idempotency:
                return _duplicate()
            _service(body, SERVICE_SYNC)
            updating = body.get("isUpdating")
            if not isinstance(updating, bool):
                raise _invalid("isUpdating", "Trường isUpdating phải là true hoặc false")
            dossiers = [_validate_dossier(raw, f"data[{i}]") for i, raw in enumerate(_data(body))]
            seen: set[str] = set()
            for i, d in enumerate(dossiers):
                code, where = d["MaHoSo"], f"data[{i}].MaHoSo"
                if code in seen:
                    raise _invalid(where, f"Hồ sơ {code} xuất hiện nhiều lần trong cùng một lần gửi")
                seen.add(code)
                if not updating and code in st.dossiers:
                    message = f"Hồ sơ {code} đã có trên Cổng; gửi isUpdating=true để cập nhật"
                    raise PortalFailure(409, ERR_CONFLICT, message, where)
                if updating and code not in st.dossiers:
                    message = f"Hồ sơ {code} chưa có trên Cổng; gửi isUpdating=false để tạo mới"
                    raise PortalFailure(409, ERR_CONFLICT, message, where)
            for i, d in enumerate(dossiers):
                _check_order(st.dossiers.get(d["MaHoSo"]), d["TrangThaiHoSo"], d.get("QuaTrinhXuLy") or [],
                             f"data[{i}]")
            for d in dossiers:
                _apply_sync(st, d)
            st.idempotency[key] = {"service": SERVICE_SYNC, "at": portal_now(), "count": len(dossiers)}
            st.bump("sync_applied", len(dossiers))
        verb = "Cập nhật" if updating else "Đồng bộ"
        return JSONResponse({"error_code": OK, "message": f"{verb} thành công {len(dossiers)} hồ sơ"})

    @app.post("/dossiers/progress")
    async def progress(request: Request) -> JSONResponse:
        _require_session(request)
        body = await _json(request)
        key = _idempotency_key(request)
        with st.lock:
            if key in st.idempotency:
                return _duplicate()
            _service(body, SERVICE_PROGRESS)
            items: list[dict[str, Any]] = []
            for i, raw in enumerate(_data(body)):
                loc = f"data[{i}]"
                item = _object(raw, loc)
                code = _ma_ho_so(item, loc)
                _int_in(item, "TrangThaiHoSo", loc, range(1, 11), required=True)
                for k in PROGRESS_DATE_FIELDS:
                    _date(item, k, loc)
                _validate_history(_list_of_objects(item, "QuaTrinhXuLy", loc), loc, code)
                if code not in st.dossiers:  # a status for a dossier the portal does not hold
                    raise PortalFailure(404, ERR_NOT_FOUND, f"Hồ sơ {code} ({loc}.MaHoSo) chưa được đồng bộ lên Cổng",
                                        f"{loc}.MaHoSo")
                _check_order(st.dossiers[code], item["TrangThaiHoSo"], item.get("QuaTrinhXuLy") or [], loc)
                items.append(item)
            for item in items:
                _apply_progress(st, item)
            st.idempotency[key] = {"service": SERVICE_PROGRESS, "at": portal_now(), "count": len(items)}
            st.bump("progress_applied", len(items))
        return JSONResponse({"error_code": OK, "message": f"Cập nhật tiến độ thành công {len(items)} hồ sơ"})

    @app.post("/dossiers/lookup")
    async def lookup(request: Request) -> JSONResponse:
        _require_session(request)
        body = await _json(request)
        code = _ma_ho_so(body, "body")
        with st.lock:
            held = st.dossiers.get(code)
            data = json.loads(json.dumps(held.as_lookup())) if held else None  # a copy, not live state
        if data is None:
            raise PortalFailure(404, ERR_NOT_FOUND, f"Không tìm thấy hồ sơ {code}", "MaHoSo")
        return JSONResponse({"error_code": OK, "data": data})

    @app.get("/submissions")
    async def pull_submissions(request: Request) -> JSONResponse:
        _require_session(request)  # parameters are read by hand so the session is checked first
        after = request.query_params.get("after") or None
        start = _decode_cursor(after)
        raw_limit = request.query_params.get("limit", "50")
        if not raw_limit.isdigit() or int(raw_limit) < 1:
            raise _invalid("limit", "Tham số limit phải là số nguyên dương")
        limit = min(int(raw_limit), 500)
        with st.lock:
            items = [dict(s) for s in st.submissions[start : start + limit]]
        nxt = _encode_cursor(start + len(items)) if items else after
        return JSONResponse({"items": items, "next": nxt})

    def _create_submission(raw: Any) -> dict[str, Any]:
        sub = _validate_submission(raw)
        with st.lock:
            seq = len(st.submissions) + 1
            files = []
            for n, item in enumerate(sub.pop("TepDinhKem"), start=1):
                content = item.pop("_content")
                file_id = f"F{seq:06d}-{n:02d}"
                st.files[file_id] = content
                # Only metadata travels with the submission; the bytes are fetched apart (with a session).
                files.append({"MaTep": file_id, **item, "KichThuoc": len(content),
                              "DuongDan": f"/submissions/files/{file_id}"})
            sub = {"portal_id": f"DVC-{sub['NgayNopHoSo'][:4]}-{seq:06d}", **sub, "TepDinhKem": files}
            st.submissions.append(sub)
        return dict(sub)

    @app.get("/submissions/files/{file_id}", response_model=None)
    async def submission_file(file_id: str, request: Request) -> Response:
        _require_session(request)
        with st.lock:
            content = st.files.get(file_id)
        if content is None:
            raise PortalFailure(404, ERR_NOT_FOUND, f"Không tìm thấy tệp {file_id}", "MaTep")
        return Response(content, media_type="application/octet-stream")

    @app.post("/submissions/answers")
    async def answer_submissions(request: Request) -> JSONResponse:
        """The one-stop system answers submissions it cannot receive: status 3 and the reason."""
        _require_session(request)
        body = await _json(request)
        key = _idempotency_key(request)
        with st.lock:
            if key in st.idempotency:
                return _duplicate()
            _service(body, SERVICE_ANSWER)
            answers = []
            for i, raw in enumerate(_data(body)):
                loc = f"data[{i}]"
                item = _object(raw, loc)
                _str(item, "portal_id", loc, required=True)
                _str(item, "LyDoKhongTiepNhan", loc, required=True)
                _int_in(item, "TrangThaiHoSo", loc, (NOT_RECEIVED,), required=True)
                _date(item, "NgayTuChoi", loc)
                held = next((s for s in st.submissions if s["portal_id"] == item["portal_id"]), None)
                if held is None:
                    raise PortalFailure(404, ERR_NOT_FOUND, f"Không có hồ sơ nộp trực tuyến {item['portal_id']}",
                                        f"{loc}.portal_id")
                answers.append((held, item))
            for held, item in answers:
                held.update(TrangThaiHoSo=NOT_RECEIVED, LyDoKhongTiepNhan=item["LyDoKhongTiepNhan"],
                            NgayTuChoi=item.get("NgayTuChoi") or portal_now())
            st.idempotency[key] = {"service": SERVICE_ANSWER, "at": portal_now(), "count": len(answers)}
            st.bump("answers_applied", len(answers))
        return JSONResponse({"error_code": OK, "message": f"Đã nhận phản hồi {len(answers)} hồ sơ"})

    @app.post("/submissions", status_code=201)
    async def create_submission(request: Request) -> JSONResponse:
        # Citizen side: no X-Session (the citizen logs in to the portal, not to our integration).
        return JSONResponse(_create_submission(await _json(request)), status_code=201)

    @app.post("/submissions/form", response_model=None)
    async def create_submission_form(request: Request) -> Response:
        form = {k: v[0].strip() for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        raw: dict[str, Any] = {k: form.get(k, "") for k in (
            "MaTTHC", "DonViXuLy", "ChuHoSo", "SoGiayToChuHoSo", "SoDienThoai", "Email", "DiaChi", "TrichYeuHoSo", "MucDo"
        )}
        try:
            raw["LoaiDoiTuong"] = int(form.get("LoaiDoiTuong", "1"))
            raw["HinhThucNhanKetQua"] = int(form.get("HinhThucNhanKetQua", "0"))
            raw["GiayTo"] = _parse_papers(form.get("GiayTo", ""))
            _create_submission(raw)
        except (ValueError, PortalFailure) as exc:
            message = exc.message if isinstance(exc, PortalFailure) else "Số lượng giấy tờ phải là số nguyên"
            return HTMLResponse(_render_page(st, error=message, form=form), status_code=400)
        return RedirectResponse("/", status_code=303)

    @app.get("/", response_class=HTMLResponse)
    async def home() -> HTMLResponse:
        return HTMLResponse(_render_page(st))

    # ------------------------------------------------------------ control (tests and demos)

    @app.post("/_control/faults")
    async def set_faults(request: Request) -> JSONResponse:
        _require_control(request)
        body = await _json(request)
        with st.lock:
            f = st.faults
            new = Faults(
                fail_rate=body.get("fail_rate", f.fail_rate),
                latency_ms=body.get("latency_ms", f.latency_ms),
                refuse_login=body.get("refuse_login", f.refuse_login),
                session_ttl_seconds=body.get("session_ttl_seconds", f.session_ttl_seconds),
                seed=body.get("seed", f.seed),
            )
            if not isinstance(new.fail_rate, (int, float)) or isinstance(new.fail_rate, bool) or not 0 <= new.fail_rate <= 1:
                raise _invalid("fail_rate", "fail_rate phải nằm trong khoảng 0..1")
            if not isinstance(new.latency_ms, int) or isinstance(new.latency_ms, bool) or new.latency_ms < 0:
                raise _invalid("latency_ms", "latency_ms phải là số nguyên không âm")
            if not isinstance(new.refuse_login, bool):
                raise _invalid("refuse_login", "refuse_login phải là true hoặc false")
            ttl = new.session_ttl_seconds
            if not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or ttl < 0:
                raise _invalid("session_ttl_seconds", "session_ttl_seconds phải là số không âm")
            if new.seed is not None and (not isinstance(new.seed, int) or isinstance(new.seed, bool)):
                raise _invalid("seed", "seed phải là số nguyên")
            st.faults = new
            if "seed" in body:  # reseeding makes the 503 sequence reproducible
                st.rng = random.Random(new.seed)
            return JSONResponse({"error_code": OK, "faults": vars(new)})

    @app.post("/_control/sessions/expire")
    async def expire_sessions(request: Request) -> JSONResponse:
        _require_control(request)
        with st.lock:
            n = len(st.sessions)
            st.sessions.clear()
        return JSONResponse({"error_code": OK, "expired": n})

    @app.get("/_control/state")
    async def get_state(request: Request) -> JSONResponse:
        _require_control(request)
        with st.lock:
            now = time.monotonic()
            body = {
                "counts": {
                    "dossiers": len(st.dossiers),
                    "submissions": len(st.submissions),
                    "idempotency_keys": len(st.idempotency),
                    "active_sessions": sum(1 for exp in st.sessions.values() if exp > now),
                    **st.counters,
                },
                "faults": vars(st.faults),
                "dossiers": {code: held.as_lookup() for code, held in st.dossiers.items()},
                "idempotency_keys": sorted(st.idempotency),
                "submissions": st.submissions,
            }
            return JSONResponse(json.loads(json.dumps(body)))

    @app.post("/_control/reset")
    async def reset(request: Request) -> JSONResponse:
        _require_control(request)
        st.reset()
        return JSONResponse({"error_code": OK, "message": "Đã xoá toàn bộ dữ liệu"})

    return app


def _parse_papers(text: str) -> list[dict[str, Any]]:
    """One paper per line: ``Tên giấy tờ | số lượng`` (count optional, default 1)."""
    papers = []
    for line in text.splitlines():
        name, _, count = line.partition("|")
        if name.strip():
            papers.append({"TenGiayTo": name.strip(), "SoLuong": int(count.strip() or "1")})
    return papers


def _row_held(held: list[dict[str, Any]], row: dict[str, Any]) -> bool:
    """A row with a `MaQuaTrinh` is the same row as a held one with that key; without, an identical row."""
    key = row.get(ROW_KEY)
    if not _is_blank(key):
        return any(r.get(ROW_KEY) == key for r in held)
    return row in held


def _merge_rows(held: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    # Integrations often resend the whole history on each update: keep each distinct row once.
    for row in rows:
        if not _row_held(held, row):
            held.append(dict(row))


def _out_of_order(message: str, where: str) -> PortalFailure:
    return PortalFailure(409, ERR_ORDER, message, where)


def _check_order(held: HeldDossier | None, status: int, rows: list[dict[str, Any]], loc: str) -> None:
    """Refuse what a real portal refuses: a history row older than the last one held, or a status move
    the graph does not allow. The rows not yet held must walk the graph from the held status, one
    allowed move (or none) per row, and the item's status must follow from the last of them."""
    current: int | None = held.dossier["TrangThaiHoSo"] if held else None
    times = [r["ThoiDiemXuLy"] for r in held.processing if not _is_blank(r.get("ThoiDiemXuLy"))] if held else []
    last_at: str | None = max(times) if times else None
    seen: list[dict[str, Any]] = list(held.processing) if held else []
    for i, row in enumerate(rows):
        if _row_held(seen, row):
            continue  # already held (the whole history resent): not a new move
        seen.append(row)
        rloc = f"{loc}.QuaTrinhXuLy[{i}]"
        at = row.get("ThoiDiemXuLy")
        if not _is_blank(at):
            if last_at is not None and at < last_at:
                raise _out_of_order(f"Dòng QuaTrinhXuLy ({rloc}.ThoiDiemXuLy) cũ hơn dòng cuối Cổng đã nhận: sai thứ tự",
                                    f"{rloc}.ThoiDiemXuLy")
            last_at = at
        moved = row.get("TrangThai")
        if moved is not None:
            if current is not None and moved != current and moved not in PORTAL_TRANSITIONS[current]:
                raise _out_of_order(f"Không thể chuyển trạng thái hồ sơ từ {current} sang {moved} ({rloc}.TrangThai)",
                                    f"{rloc}.TrangThai")
            current = moved
    if current is not None and status != current and status not in PORTAL_TRANSITIONS[current]:
        raise _out_of_order(f"Không thể chuyển trạng thái hồ sơ từ {current} sang {status} ({loc}.TrangThaiHoSo)",
                            f"{loc}.TrangThaiHoSo")


def _record_status(held: HeldDossier, status: int, service: str) -> None:
    if not held.status_history or held.status_history[-1]["TrangThaiHoSo"] != status:
        held.status_history.append({"TrangThaiHoSo": status, "ThoiDiem": portal_now(), "DichVu": service})


def _apply_sync(st: MockPortalState, d: dict[str, Any]) -> None:
    code = d["MaHoSo"]
    record = {k: v for k, v in d.items() if k not in ("QuaTrinhXuLy", "DanhSachBoSung")}
    held = st.dossiers.get(code)
    if held is None:
        held = st.dossiers[code] = HeldDossier(dossier=record, status_history=[], processing=[], supplements=[])
    else:
        held.dossier = record  # DongBoHoSoMC carries the full record: the latest one wins
    _record_status(held, d["TrangThaiHoSo"], SERVICE_SYNC)
    _merge_rows(held.processing, d.get("QuaTrinhXuLy") or [])
    if d.get("DanhSachBoSung") is not None:
        held.supplements = [dict(r) for r in d["DanhSachBoSung"]]


def _apply_progress(st: MockPortalState, item: dict[str, Any]) -> None:
    held = st.dossiers[item["MaHoSo"]]
    held.dossier["TrangThaiHoSo"] = item["TrangThaiHoSo"]
    for k in PROGRESS_DATE_FIELDS:
        if not _is_blank(item.get(k)):
            held.dossier[k] = item[k]
    _record_status(held, item["TrangThaiHoSo"], SERVICE_PROGRESS)
    _merge_rows(held.processing, item.get("QuaTrinhXuLy") or [])


# ---------------------------------------------------------------- HTML page (no external assets)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f6f8;color:#1d2733}
header{background:#b71c1c;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
section{background:#fff;border-radius:6px;padding:14px 18px;margin-bottom:16px;box-shadow:0 1px 2px #0002}
h2{font-size:17px;margin:4px 0 12px}table{border-collapse:collapse;width:100%;font-size:14px}
th,td{border-bottom:1px solid #e3e6ea;padding:6px 8px;text-align:left;vertical-align:top}th{background:#fafbfc}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;background:#e8eef7;font-size:12px;margin:1px 0}
.s9,.s10{background:#dff3e4}.s3,.s7,.s8{background:#fde2e1}.s5,.s6{background:#fff1cc}
form.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:10px 16px}
label{display:flex;flex-direction:column;font-size:13px;gap:3px}.wide{grid-column:1/-1}
input,select,textarea{font:inherit;padding:6px;border:1px solid #c6ccd3;border-radius:4px}
button{background:#b71c1c;color:#fff;border:0;border-radius:4px;padding:8px 18px;font:inherit;cursor:pointer}
.error{background:#fde2e1;border:1px solid #f5a3a0;padding:8px 12px;border-radius:4px;margin-bottom:10px}
.muted{color:#65717e;font-size:13px}ol{margin:0;padding-left:18px}
"""


def _badge(status: Any) -> str:
    label = PORTAL_STATUS_LABELS.get(status, "?") if isinstance(status, int) else "?"
    return f'<span class="badge s{html.escape(str(status))}">{html.escape(str(status))} · {html.escape(label)}</span>'


def _render_page(st: MockPortalState, *, error: str | None = None, form: dict[str, str] | None = None) -> str:
    e = html.escape
    f = form or {}
    with st.lock:
        dossiers = [(c, json.loads(json.dumps(h.as_lookup()))) for c, h in sorted(st.dossiers.items())]
        submissions = [dict(s) for s in reversed(st.submissions)]

    def val(name: str, default: str = "") -> str:
        return e(f.get(name, default), quote=True)

    def opt(name: str, value: str, label: str, default: str) -> str:
        sel = " selected" if f.get(name, default) == value else ""
        return f'<option value="{e(value)}"{sel}>{e(label)}</option>'

    rows = []
    for code, d in dossiers:
        history = "".join(
            f"<li>{_badge(h['TrangThaiHoSo'])} <span class='muted'>{e(h['ThoiDiem'])} · {e(h['DichVu'])}</span></li>"
            for h in d["LichSuTrangThai"]
        )
        steps = "".join(
            f"<li>{e(str(r.get('ThoiDiemXuLy') or ''))} · {e(str(r.get('PhongBanXuLy') or ''))} · "
            f"{e(str(r.get('NoiDungXuLy') or ''))}</li>"
            for r in d["QuaTrinhXuLy"]
        )
        rows.append(
            f"<tr><td><b>{e(code)}</b><br><span class='muted'>{e(str(d.get('MaTTHC') or ''))} "
            f"{e(str(d.get('TenTTHC') or ''))}</span></td><td>{e(str(d.get('ChuHoSo') or ''))}</td>"
            f"<td>{_badge(d.get('TrangThaiHoSo'))}<br><span class='muted'>Hẹn trả: {e(str(d.get('NgayHenTra') or '—'))}</span></td>"
            f"<td><ol>{history}</ol></td><td><ol>{steps or '<span class=muted>—</span>'}</ol></td></tr>"
        )
    dossier_table = (
        "<table><tr><th>Mã hồ sơ</th><th>Chủ hồ sơ</th><th>Trạng thái</th><th>Lịch sử trạng thái</th>"
        "<th>Quá trình xử lý</th></tr>" + "".join(rows) + "</table>"
        if rows else "<p class='muted'>Cổng chưa nhận hồ sơ nào.</p>"
    )
    sub_rows = "".join(
        f"<tr><td>{e(s['portal_id'])}</td><td>{e(s['NgayNopHoSo'])}</td><td>{e(s['MaTTHC'])}</td>"
        f"<td>{e(s['DonViXuLy'])}</td><td>{e(s['ChuHoSo'])}</td><td>{e(s['TrichYeuHoSo'])}</td>"
        f"<td>{e(s['MucDo'])}</td></tr>"
        for s in submissions
    )
    sub_table = (
        "<table><tr><th>Mã Cổng</th><th>Ngày nộp</th><th>Mã TTHC</th><th>Đơn vị</th><th>Chủ hồ sơ</th>"
        "<th>Trích yếu</th><th>Mức độ</th></tr>" + sub_rows + "</table>"
        if sub_rows else "<p class='muted'>Chưa có hồ sơ nộp trực tuyến.</p>"
    )
    legend = " ".join(_badge(code) for code in PORTAL_STATUS_LABELS)
    err = f"<div class='error'>{e(error)}</div>" if error else ""
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Cổng DVCQG (giả lập)</title><style>{_CSS}</style></head>
<body><header><h1>Cổng Dịch vụ công Quốc gia — bản giả lập</h1></header><main>
<section><h2>Nộp hồ sơ trực tuyến (phía công dân)</h2>{err}
<form class="grid" method="post" action="/submissions/form">
<label>Mã thủ tục (MaTTHC)<input name="MaTTHC" required value="{val('MaTTHC', '1.001234')}"></label>
<label>Mã đơn vị xử lý (DonViXuLy)<input name="DonViXuLy" required value="{val('DonViXuLy', '000.00.17.H26')}"></label>
<label>Chủ hồ sơ<input name="ChuHoSo" required value="{val('ChuHoSo')}"></label>
<label>Loại đối tượng<select name="LoaiDoiTuong">{opt('LoaiDoiTuong', '1', 'Công dân', '1')}{opt('LoaiDoiTuong', '2', 'Doanh nghiệp / tổ chức', '1')}</select></label>
<label>Số giấy tờ (CCCD / MST)<input name="SoGiayToChuHoSo" required value="{val('SoGiayToChuHoSo')}"></label>
<label>Số điện thoại<input name="SoDienThoai" value="{val('SoDienThoai')}"></label>
<label>Email<input name="Email" type="email" value="{val('Email')}"></label>
<label>Địa chỉ<input name="DiaChi" value="{val('DiaChi')}"></label>
<label class="wide">Trích yếu hồ sơ<input name="TrichYeuHoSo" required value="{val('TrichYeuHoSo')}"></label>
<label>Mức độ<select name="MucDo">{opt('MucDo', 'toan_trinh', 'Toàn trình', 'toan_trinh')}{opt('MucDo', 'mot_phan', 'Một phần', 'toan_trinh')}</select></label>
<label>Hình thức nhận kết quả<select name="HinhThucNhanKetQua">{opt('HinhThucNhanKetQua', '0', 'Tại bộ phận một cửa', '0')}{opt('HinhThucNhanKetQua', '1', 'Qua bưu chính công ích', '0')}{opt('HinhThucNhanKetQua', '2', 'Trực tuyến', '0')}</select></label>
<label class="wide">Giấy tờ kèm theo (mỗi dòng: Tên giấy tờ | số lượng)<textarea name="GiayTo" rows="3">{e(f.get('GiayTo', 'Tờ khai | 1'))}</textarea></label>
<div class="wide"><button type="submit">Nộp hồ sơ</button></div></form></section>
<section><h2>Hồ sơ nộp trực tuyến chờ bộ phận một cửa lấy về ({len(submissions)})</h2>{sub_table}</section>
<section><h2>Hồ sơ đã đồng bộ lên Cổng ({len(dossiers)}) <a class="muted" href="/">tải lại</a></h2>
<p class="muted">{legend}</p>{dossier_table}</section>
</main></body></html>"""
