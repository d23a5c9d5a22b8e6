"""History import over HTTP: a CSV/JSON file (multipart field `file`) or a JSON body."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from app.api.deps import ClockDep, SessionDep, SettingsDep
from app.auth.deps import require_roles
from app.auth.principal import Principal
from app.errors import DomainError, Invalid
from app.models import Role
from app.reports import history

router = APIRouter(prefix="/api/v1/imports", tags=["nhập dữ liệu"])
Importer = Annotated[Principal, Depends(require_roles(Role.admin, Role.reporter))]
MAX_BYTES = 20 * 1024 * 1024


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"
    message = "Tệp quá lớn (tối đa 20 MB); hãy chia nhỏ."


class UnsupportedMedia(DomainError):
    status_code = 415
    code = "unsupported_media_type"
    message = "Gửi tệp CSV/JSON dạng multipart (trường file) hoặc nội dung JSON."


class RowErrorOut(BaseModel):
    row: int = Field(description="Dòng trong tệp CSV (tiêu đề là dòng 1) hoặc thứ tự trong danh sách JSON (từ 1)")
    code: str | None
    errors: list[str]


class ImportOut(BaseModel):
    dry_run: bool
    total_rows: int
    valid_rows: int
    created: int
    skipped_existing: list[str] = Field(description="Mã hồ sơ đã có, bỏ qua (chạy lại cùng tệp không tạo trùng)")
    errors: list[RowErrorOut]
    batches: int
    message: str


async def _content(request: Request) -> tuple[bytes, str | None]:
    content_type = request.headers.get("content-type", "")
    declared = int(request.headers.get("content-length") or 0)
    if declared > MAX_BYTES + 64 * 1024:
        raise PayloadTooLarge()
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid("Thiếu tệp ở trường file.", code="import_file_missing")
        data = await upload.read(MAX_BYTES + 1)
        name = upload.filename
    elif content_type.startswith("application/json") or content_type.startswith("text/csv"):
        data = await request.body()
        name = "body.json" if "json" in content_type else "body.csv"
    else:
        raise UnsupportedMedia()
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge()
    return data, name


@router.post("", response_model=ImportOut,
             summary="Nhập hồ sơ lịch sử từ hệ thống một cửa cũ (CSV hoặc JSON); chạy lại không tạo trùng",
             openapi_extra={"requestBody": {"content": {
                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                     "file": {"type": "string", "format": "binary"}}}},
                 "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}})
async def import_dossiers(request: Request, session: SessionDep, principal: Importer, clock: ClockDep,
                          settings: SettingsDep,
                          dry_run: Annotated[bool, Query(description="Chỉ kiểm tra, không ghi")] = False) -> ImportOut:
    data, name = await _content(request)

    def work() -> ImportOut:
        rows = history.read_rows(data, filename=name)
        result = history.import_history(
            session, rows, now=clock.now(), settings=settings, scope_agency_id=principal.scope_agency_id,
            actor_id=principal.id, actor_role=Role.admin.value if principal.has(Role.admin) else Role.reporter.value,
            dry_run=dry_run, commit=session.commit)
        verb = "Sẽ tạo" if dry_run else "Đã tạo"
        message = (f"{verb} {result.valid_rows - len(result.skipped_existing) if dry_run else result.created} hồ sơ; "
                   f"bỏ qua {len(result.skipped_existing)} mã đã có; {len(result.errors)} dòng lỗi.")
        return ImportOut(dry_run=result.dry_run, total_rows=result.total_rows, valid_rows=result.valid_rows,
                         created=result.created, skipped_existing=result.skipped_existing,
                         errors=[RowErrorOut(row=e.row, code=e.code, errors=e.errors) for e in result.errors],
                         batches=result.batches, message=message)

    return await run_in_threadpool(work)
