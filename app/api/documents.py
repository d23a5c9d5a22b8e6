"""Public routes of signed documents: verify a PDF (API and the /xac-thuc page, no JavaScript
needed), and the citizen's short-lived download link for a signed result."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from app.api.deps import ClockDep, SessionFactoryDep, SettingsDep
from app.api.public import PAGE_HEADERS
from app.documents import links
from app.documents.verify import VerifyOut, verify
from app.errors import DomainError, Invalid
from app.web import citizen, ratelimit

router = APIRouter(tags=["xác thực văn bản điện tử"])

NO_FILE = "Vui lòng chọn tệp PDF cần kiểm tra."
TokenPath = Path(min_length=8, max_length=96, pattern=r"^[A-Za-z0-9_\-.]+$",
                 description="Mã tải ngắn hạn nhận trong kết quả tra cứu")


def _read(upload: UploadFile | None, settings) -> bytes:  # noqa: ANN001
    if upload is None:
        raise Invalid(NO_FILE, code="file_required")
    # One byte past the cap tells "too large" without holding more than the cap in memory.
    return upload.file.read(settings.verify_max_bytes + 1)


@router.post("/api/v1/public/verify", response_model=VerifyOut,
             summary="Kiểm tra chữ ký số của một tệp PDF (không cần đăng nhập)",
             responses={413: {"description": "Tệp quá lớn"}, 422: {"description": "Không phải tệp PDF"},
                        429: {"description": "Kiểm tra quá nhiều lần; xem header Retry-After"}})
def verify_api(request: Request, response: Response, factory: SessionFactoryDep, clock: ClockDep,
               settings: SettingsDep, file: Annotated[UploadFile, File(description="Tệp PDF")]) -> VerifyOut:
    response.headers["Cache-Control"] = "no-store"
    return verify(factory, _read(file, settings), client=ratelimit.client_of(request, settings), now=clock.now(),
                  settings=settings)


@router.get("/xac-thuc", response_class=HTMLResponse, include_in_schema=False)
def verify_page() -> HTMLResponse:
    return HTMLResponse(citizen.render_verify_page(), headers=PAGE_HEADERS)


@router.post("/xac-thuc", response_class=HTMLResponse, include_in_schema=False)
def verify_page_submit(request: Request, factory: SessionFactoryDep, clock: ClockDep, settings: SettingsDep,
                       file: Annotated[UploadFile | None, File()] = None) -> HTMLResponse:
    """The same check for a plain HTML form (multipart), the answer as a page."""
    try:
        if file is None or not file.filename:
            raise Invalid(NO_FILE, code="file_required")
        result = verify(factory, _read(file, settings), client=ratelimit.client_of(request, settings),
                        now=clock.now(), settings=settings)
    except DomainError as exc:
        return HTMLResponse(citizen.render_verify_page(error=exc.message, timezone=settings.timezone),
                            status_code=exc.status_code, headers={**PAGE_HEADERS, **(exc.headers or {})})
    return HTMLResponse(citizen.render_verify_page(result=result, timezone=settings.timezone), headers=PAGE_HEADERS)


@router.get("/api/v1/public/results/{token}", response_class=Response,
            summary="Tải kết quả điện tử đã ký số (đường dẫn ngắn hạn nhận khi tra cứu)",
            responses={200: {"content": {"application/pdf": {}}, "description": "Tệp PDF đã ký số"},
                       404: {"description": "Đường dẫn không hợp lệ hoặc đã hết hạn"}})
def download_result(token: Annotated[str, TokenPath], factory: SessionFactoryDep, clock: ClockDep,
                    settings: SettingsDep) -> Response:
    name, content = links.open_result(factory, token, now=clock.now(), settings=settings)
    return Response(content, media_type="application/pdf",
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                             "Referrer-Policy": "no-referrer",
                             "Content-Disposition": f'attachment; filename="{name}"'})
