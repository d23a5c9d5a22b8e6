"""Mock of the national public-service portal (Cổng DVCQG), for demos and tests.

A self-contained FastAPI app holding everything in memory behind one ``threading.Lock``.
It implements the contract in docs/PORTAL.md: login, DongBoHoSoMC (``/dossiers/sync``),
CapNhatTienDoHoSoMC (``/dossiers/progress``), TraCuuHoSo (``/dossiers/lookup``), the
inbound pull of online submissions, fault injection under ``/_control`` and a small HTML
page for a demo user. Not production code: no persistence, no real authentication.

Run it standalone: ``uvicorn --factory app.portal.mock:create_mock_portal --port 8001``.

The contract and its validation are in `mock_contract`, the in-memory state in `mock_state`, the
HTML page in `mock_page`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import random
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.requests import ClientDisconnect

from app.portal.mock_contract import (CONTROL_HEADER, ERR_CONFLICT, ERR_LOGIN, ERR_NOT_FOUND, ERR_SESSION,
                                      ERR_UNAVAILABLE, ERR_VALIDATION, NOT_RECEIVED, OK, SERVICE_ANSWER,
                                      SERVICE_PROGRESS, SERVICE_SYNC, PortalFailure, as_object, decode_cursor,
                                      encode_cursor, invalid, ma_ho_so, portal_now, validate_answer,
                                      validate_dossier, validate_progress_item, validate_submission)
from app.portal.mock_page import parse_papers, render_page
from app.portal.mock_state import Faults, MockPortalState, apply_progress, apply_sync, check_order

# Paths subject to injected faults: the integration API, not the citizen page or /_control.
_FAULT_PREFIXES = ("/auth/", "/dossiers/")


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
            raise invalid("body", "Nội dung yêu cầu không phải JSON hợp lệ (UTF-8)") from None
        return as_object(body, "body")

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
            raise invalid("Idempotency-Key", "Thiếu header Idempotency-Key")
        return key

    async def _apply_once(request: Request, service: str, counter: str,
                          apply: Callable[[dict[str, Any]], tuple[int, str]]) -> JSONResponse:
        """An integration write (sync, progress, answers): a session, a JSON body naming `service`, an
        Idempotency-Key. Checked, validated and applied under the lock, so a key is applied at most once;
        `apply` validates every item before it changes anything and returns (items applied, message)."""
        _require_session(request)
        body = await _json(request)
        key = _idempotency_key(request)
        with st.lock:
            if key in st.idempotency:
                st.bump("duplicates")
                return JSONResponse({"error_code": OK, "message": "Đã xử lý trước đó", "duplicate": True})
            if body.get("service") != service:
                raise invalid("service", f"Trường service phải là '{service}'")
            count, message = apply(body)
            st.idempotency[key] = {"service": service, "at": portal_now(), "count": count}
            st.bump(counter, count)
        return JSONResponse({"error_code": OK, "message": message})

    def _data(body: dict[str, Any]) -> list[Any]:
        data = body.get("data")
        if not isinstance(data, list) or not data:
            raise invalid("data", "Trường data phải là danh sách hồ sơ, không được rỗng")
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

    def _sync(body: dict[str, Any]) -> tuple[int, str]:
        updating = body.get("isUpdating")
        if not isinstance(updating, bool):
            raise invalid("isUpdating", "Trường isUpdating phải là true hoặc false")
        dossiers = [validate_dossier(raw, f"data[{i}]") for i, raw in enumerate(_data(body))]
        seen: set[str] = set()
        for i, d in enumerate(dossiers):
            code, where = d["MaHoSo"], f"data[{i}].MaHoSo"
            if code in seen:
                raise invalid(where, f"Hồ sơ {code} xuất hiện nhiều lần trong cùng một lần gửi")
            seen.add(code)
            if not updating and code in st.dossiers:
                message = f"Hồ sơ {code} đã có trên Cổng; gửi isUpdating=true để cập nhật"
                raise PortalFailure(409, ERR_CONFLICT, message, where)
            if updating and code not in st.dossiers:
                message = f"Hồ sơ {code} chưa có trên Cổng; gửi isUpdating=false để tạo mới"
                raise PortalFailure(409, ERR_CONFLICT, message, where)
        for i, d in enumerate(dossiers):
            check_order(st.dossiers.get(d["MaHoSo"]), d["TrangThaiHoSo"], d.get("QuaTrinhXuLy") or [], f"data[{i}]")
        for d in dossiers:
            apply_sync(st, d)
        verb = "Cập nhật" if updating else "Đồng bộ"
        return len(dossiers), f"{verb} thành công {len(dossiers)} hồ sơ"

    @app.post("/dossiers/sync")
    async def sync(request: Request) -> JSONResponse:
        return await _apply_once(request, SERVICE_SYNC, "sync_applied", _sync)

    def _progress(body: dict[str, Any]) -> tuple[int, str]:
        items: list[dict[str, Any]] = []
        for i, raw in enumerate(_data(body)):
            loc = f"data[{i}]"
            item = validate_progress_item(raw, loc)
            code = item["MaHoSo"]
            if code not in st.dossiers:  # a status for a dossier the portal does not hold
                raise PortalFailure(404, ERR_NOT_FOUND, f"Hồ sơ {code} ({loc}.MaHoSo) chưa được đồng bộ lên Cổng",
                                    f"{loc}.MaHoSo")
            check_order(st.dossiers[code], item["TrangThaiHoSo"], item.get("QuaTrinhXuLy") or [], loc)
            items.append(item)
        for item in items:
            apply_progress(st, item)
        return len(items), f"Cập nhật tiến độ thành công {len(items)} hồ sơ"

    @app.post("/dossiers/progress")
    async def progress(request: Request) -> JSONResponse:
        return await _apply_once(request, SERVICE_PROGRESS, "progress_applied", _progress)

    @app.post("/dossiers/lookup")
    async def lookup(request: Request) -> JSONResponse:
        _require_session(request)
        body = await _json(request)
        code = ma_ho_so(body, "body")
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
        start = decode_cursor(after)
        raw_limit = request.query_params.get("limit", "50")
        if not raw_limit.isdigit() or int(raw_limit) < 1:
            raise invalid("limit", "Tham số limit phải là số nguyên dương")
        limit = min(int(raw_limit), 500)
        with st.lock:
            items = [dict(s) for s in st.submissions[start : start + limit]]
        nxt = encode_cursor(start + len(items)) if items else after
        return JSONResponse({"items": items, "next": nxt})

    def _create_submission(raw: Any) -> dict[str, Any]:
        sub = validate_submission(raw)
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

    def _answers(body: dict[str, Any]) -> tuple[int, str]:
        answers = []
        for i, raw in enumerate(_data(body)):
            loc = f"data[{i}]"
            item = validate_answer(raw, loc)
            held = next((s for s in st.submissions if s["portal_id"] == item["portal_id"]), None)
            if held is None:
                raise PortalFailure(404, ERR_NOT_FOUND, f"Không có hồ sơ nộp trực tuyến {item['portal_id']}",
                                    f"{loc}.portal_id")
            answers.append((held, item))
        for held, item in answers:
            held.update(TrangThaiHoSo=NOT_RECEIVED, LyDoKhongTiepNhan=item["LyDoKhongTiepNhan"],
                        NgayTuChoi=item.get("NgayTuChoi") or portal_now())
        return len(answers), f"Đã nhận phản hồi {len(answers)} hồ sơ"

    @app.post("/submissions/answers")
    async def answer_submissions(request: Request) -> JSONResponse:
        """The one-stop system answers submissions it cannot receive: status 3 and the reason."""
        return await _apply_once(request, SERVICE_ANSWER, "answers_applied", _answers)

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
            raw["GiayTo"] = parse_papers(form.get("GiayTo", ""))
            _create_submission(raw)
        except (ValueError, PortalFailure) as exc:
            message = exc.message if isinstance(exc, PortalFailure) else "Số lượng giấy tờ phải là số nguyên"
            return HTMLResponse(render_page(st, error=message, form=form), status_code=400)
        return RedirectResponse("/", status_code=303)

    @app.get("/", response_class=HTMLResponse)
    async def home() -> HTMLResponse:
        return HTMLResponse(render_page(st))

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
                raise invalid("fail_rate", "fail_rate phải nằm trong khoảng 0..1")
            if not isinstance(new.latency_ms, int) or isinstance(new.latency_ms, bool) or new.latency_ms < 0:
                raise invalid("latency_ms", "latency_ms phải là số nguyên không âm")
            if not isinstance(new.refuse_login, bool):
                raise invalid("refuse_login", "refuse_login phải là true hoặc false")
            ttl = new.session_ttl_seconds
            if not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or ttl < 0:
                raise invalid("session_ttl_seconds", "session_ttl_seconds phải là số không âm")
            if new.seed is not None and (not isinstance(new.seed, int) or isinstance(new.seed, bool)):
                raise invalid("seed", "seed phải là số nguyên")
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
