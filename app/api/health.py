from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from app.migrations import current_revision, head_revision

router = APIRouter(tags=["vận hành"])


@router.get("/health", summary="Tiến trình còn sống")
def health() -> dict:
    return {"status": "ok"}


@router.get("/ready", summary="Sẵn sàng phục vụ: cơ sở dữ liệu kết nối được và đã nâng cấp lược đồ")
def ready(request: Request) -> JSONResponse:
    engine = request.app.state.engine
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current, head = current_revision(engine), head_revision()
    except Exception:  # noqa: BLE001 - readiness reports, it does not raise
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    if current != head:
        return JSONResponse({"status": "unavailable", "database": "ok", "migration": current, "head": head},
                            status_code=503)
    return JSONResponse({"status": "ready", "database": "ok", "migration": current})


@router.get("/metrics", summary="Số đo vận hành (Prometheus): chỉ cho máy thu thập có mã truy cập hoặc địa chỉ được phép",
            response_class=Response, responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
                       401: {"description": "Không có hoặc sai mã truy cập"},
                       403: {"description": "Tài khoản cán bộ không được đọc số đo"}})
def metrics(request: Request) -> Response:
    """Prometheus text format (app/metrics.py; alert rules in docs/OPERATIONS.md). Not for staff:
    a staff token is refused 403; no or a wrong credential from outside `metrics_networks`, 401."""
    from app.auth.tokens import verify_token
    from app.db import transaction
    from app.errors import DomainError, NotAuthenticated, NotPermitted
    from app.metrics import exposition, scrape_allowed
    from app.web.ratelimit import client_of

    settings = request.app.state.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    authorization = request.headers.get("authorization")
    if not scrape_allowed(authorization, client_of(request, settings), token, settings.metrics_networks):
        bearer = (authorization or "").partition(" ")[2]
        try:
            staff = bool(bearer) and verify_token(bearer, settings) is not None
        except DomainError:
            staff = False
        if staff:
            raise NotPermitted("Số đo vận hành chỉ dành cho máy thu thập (Prometheus), không cho tài khoản cán bộ.")
        raise NotAuthenticated(headers={"WWW-Authenticate": "Bearer"})
    with transaction(request.app.state.sessionmaker) as session:
        body, content_type = exposition(session, request.app.state.clock.now())
    return Response(body, media_type=content_type)
