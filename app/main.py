"""create_app(): routers, error handlers, middleware; nothing else."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi_offline import FastAPIOffline
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.clock import Clock, SystemClock
from app.db import make_engine, make_sessionmaker
from app.edge import GuardRejection
from app.errors import DomainError, ErrorOut
from app.fields import localize_times
from app.logging import configure_logging, request_id_var
from app.settings import Settings, get_settings
from app.storage import get_storage

log = logging.getLogger("motcua.http")

_HTTP_MESSAGES = {
    401: ("not_authenticated", "Chưa đăng nhập hoặc phiên đăng nhập đã hết hạn."),
    403: ("not_permitted", "Tài khoản không có quyền thực hiện thao tác này."),
    404: ("not_found", "Không tìm thấy địa chỉ yêu cầu."),
    405: ("method_not_allowed", "Phương thức không được hỗ trợ tại địa chỉ này."),
    413: ("payload_too_large", "Dữ liệu gửi lên quá lớn."),
    415: ("unsupported_media_type", "Định dạng dữ liệu không được hỗ trợ."),
}


def error_body(code: str, message: str, detail=None) -> dict:  # noqa: ANN001
    return {"code": code, "message": message, "detail": detail}


def _validation_detail(exc: RequestValidationError) -> list[dict]:
    return [{"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
            for err in exc.errors()]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        # Moments in a detail (e.g. the appointment an apology must follow) read like every other time: +07:00.
        return JSONResponse(error_body(exc.code, exc.message, localize_times(exc.detail)), status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = _validation_detail(exc)
        fields = ", ".join(".".join(str(p) for p in d["loc"][1:]) or str(d["loc"][0]) for d in detail[:5])
        return JSONResponse(error_body("validation_error", f"Dữ liệu không hợp lệ ở: {fields}.", detail),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, GuardRejection):  # found by the request guard while the body streamed in
            return JSONResponse(error_body(exc.code, exc.message, exc.error_detail), status_code=exc.status_code)
        code, message = _HTTP_MESSAGES.get(exc.status_code, ("http_error", str(exc.detail)))
        return JSONResponse(error_body(code, message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    async def _database_away(_: Request, exc: OperationalError) -> JSONResponse:
        # The database restarted or is unreachable: a clean, retryable answer (the pool's pre-ping
        # reconnects on the next request), not an internal error.
        log.warning("database unavailable", extra={"fields": {"error": type(exc.orig).__name__}})
        return JSONResponse(error_body("unavailable", "Cơ sở dữ liệu tạm thời không sẵn sàng; vui lòng thử lại sau."),
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _value_out_of_range(_: Request, exc: Exception) -> JSONResponse:
        # The last line behind the edge types and guard (app/fields.py, app/edge.py): a value the
        # database cannot store (PostgreSQL: out of range, NUL in text; SQLite: an integer beyond
        # 64 bits, raised as OverflowError) or a date pushed past year 9999 by arithmetic comes from
        # the caller's input: 422, without a traceback or the values in the log.
        orig = getattr(exc, "orig", None) or exc
        log.warning("value out of range", extra={"fields": {"error": type(orig).__name__}})
        return JSONResponse(error_body("invalid_value", "Giá trị gửi lên vượt quá giới hạn lưu trữ hoặc không hợp lệ."),
                            status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body("internal_error", "Hệ thống gặp lỗi ngoài dự kiến; vui lòng thử lại sau."),
                            status_code=500)


def install_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def _request_id(request: Request, call_next):  # noqa: ANN001, ANN202
        rid = request.headers.get("x-request-id", "")
        rid = rid if 0 < len(rid) <= 64 and rid.replace("-", "").isalnum() else uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            request_id_var.reset(token)
        response.headers["X-Request-ID"] = rid
        log.info("request", extra={"fields": {
            "request_id": rid, "method": request.method, "path": request.url.path,
            "status": response.status_code, "ms": round((time.perf_counter() - started) * 1000, 1)}})
        return response


def install_request_guard(app: FastAPI, settings: Settings) -> None:
    """Size limits, control characters, JSON depth and `Cache-Control: no-store` (app/edge.py).
    Installed before the request-id middleware, so that one stays outermost and logs its answers."""
    from app.edge import RequestGuard

    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes,
                       max_upload_bytes=settings.max_upload_bytes, max_json_depth=settings.max_json_depth)


def install_error_schema(app: FastAPI) -> None:
    """Document the error shape the handlers above answer: every error response of the OpenAPI
    schema (FastAPI's own 422 `HTTPValidationError` included) is `ErrorOut`."""

    generate = app.openapi  # FastAPI's own generator; its result is amended once, then cached

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
            components["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
            error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
            for operation in (op for path in schema.get("paths", {}).values() for op in path.values()):
                for status, response in operation.get("responses", {}).items():
                    if status[0] in "45":
                        response["content"] = error
                    if status == "422":
                        response["description"] = "Dữ liệu không hợp lệ (validation_error)"
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, engine=None) -> FastAPI:  # noqa: ANN001
    from app.api import router as api_router

    settings = settings or get_settings()
    configure_logging(settings.log_level)
    # The machines are offline: /docs and /redoc serve Swagger UI and ReDoc from the package, no CDN.
    app = FastAPIOffline(
        lifespan=_lifespan,
        title="motcua — Bộ phận Một cửa",
        description="API tiếp nhận, xử lý và trả kết quả hồ sơ thủ tục hành chính (Sở Giáo dục và Đào tạo). "
                    "Thời điểm gửi lên không ghi múi giờ được hiểu là giờ Việt Nam (Asia/Ho_Chi_Minh); mọi thời điểm "
                    "trả về đều theo ISO 8601 kèm +07:00. "
                    f"Nội dung gửi lên tối đa {settings.max_body_bytes / 2**20:g} MB "
                    f"(tệp tải lên: {settings.max_upload_bytes / 2**20:g} MB).",
        version="0.1.0",
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.engine = engine or make_engine(settings)
    app.state.sessionmaker = make_sessionmaker(app.state.engine)
    app.state.storage = get_storage(settings)  # dossier files (app/storage)
    install_error_handlers(app)
    install_request_guard(app, settings)
    install_middleware(app)
    install_metrics(app)
    app.include_router(api_router)
    install_error_schema(app)
    return app


def install_metrics(app: FastAPI) -> None:
    """GET /metrics (app/metrics.py): the outermost middleware times every answer, guard
    rejections included; the pool's checkouts are counted from its events."""
    from app.metrics import MetricsMiddleware, watch_pool

    app.add_middleware(MetricsMiddleware)
    watch_pool(app.state.engine)


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
    from app.metrics import worker_exited

    worker_exited()
