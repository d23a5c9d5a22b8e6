from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
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
