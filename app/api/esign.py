"""Signed documents: the staff's list and download per dossier (scoped like the dossier), and the
public routes: verify a PDF (API and the /xac-thuc page, no JavaScript needed), and the citizen's
short-lived download link for a signed result."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from pydantic import BaseModel

from app.access import get_dossier
from app.api.deps import ClockDep, SessionDep, SessionFactoryDep, SettingsDep
from app.api.dossiers import CodePath
from app.auth.deps import Staff
from app.esign.store import KINDS, load_signed, signed_of
from app.fields import LocalDateTime
from app.api.public import PAGE_HEADERS
from app.esign import links
from app.esign.verify import VerifyOut, verify
from app.errors import DomainError, Invalid, NotFound
from app.web import citizen_page, ratelimit

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
    return HTMLResponse(citizen_page.render_verify_page(), headers=PAGE_HEADERS)


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
        return HTMLResponse(citizen_page.render_verify_page(error=exc.message, timezone=settings.timezone),
                            status_code=exc.status_code, headers={**PAGE_HEADERS, **(exc.headers or {})})
    return HTMLResponse(citizen_page.render_verify_page(result=result, timezone=settings.timezone), headers=PAGE_HEADERS)


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


class SignedDocumentOut(BaseModel):
    id: int
    kind: str
    document: str
    file_name: str
    sha256: str
    size: int
    signer_name: str
    signer_title: str
    signed_at: LocalDateTime
    path: str


@router.get("/api/v1/dossiers/{code}/signed-documents", response_model=list[SignedDocumentOut],
            summary="Các văn bản điện tử đã ký số của hồ sơ (kết quả, mẫu 03, 04, 05)")
def list_signed(code: CodePath, session: SessionDep, principal: Staff) -> list[SignedDocumentOut]:
    dossier = get_dossier(session, code, principal)
    return [SignedDocumentOut(id=d.id, kind=d.kind, document=KINDS[d.kind], file_name=d.file_name,  # type: ignore[arg-type]
                              sha256=d.sha256, size=d.size, signer_name=d.signer_name, signer_title=d.signer_title,
                              signed_at=d.signed_at, path=f"/api/v1/dossiers/{code}/signed-documents/{d.id}")
            for d in signed_of(session, dossier.id)]  # type: ignore[arg-type]


@router.get("/api/v1/dossiers/{code}/signed-documents/{document_id}", response_class=Response,
            summary="Tải văn bản đã ký số của hồ sơ",
            responses={200: {"content": {"application/pdf": {}}, "description": "Tệp PDF đã ký số"}})
def download_signed(code: CodePath, document_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep,
                    principal: Staff, settings: SettingsDep) -> Response:
    dossier = get_dossier(session, code, principal)
    row = next((d for d in signed_of(session, dossier.id) if d.id == document_id), None)  # type: ignore[arg-type]
    content = load_signed(session, settings, document_id) if row is not None else None
    if row is None or content is None:
        raise NotFound("Không tìm thấy văn bản đã ký của hồ sơ.", code="document_not_found")
    return Response(content, media_type="application/pdf",
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                             "Content-Disposition": f'attachment; filename="{row.file_name}"'})
