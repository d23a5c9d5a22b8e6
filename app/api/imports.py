"""History import over HTTP: a CSV/JSON file (multipart field `file`) or a JSON body.

Administrators only: an import writes the agency's past figures. A file goes in whole or not at all:
a real run with any failing row writes nothing and answers 422 `import_rejected`, whose `detail`
is exactly what the dry run of the same file answers (same errors, same counts).
"""

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
from app.reports import history, history_rows

router = APIRouter(prefix="/api/v1/imports", tags=["nhập dữ liệu"])
Importer = Annotated[Principal, Depends(require_roles(Role.admin))]
MAX_BYTES = 20 * 1024 * 1024
BODY_NAMES = ("body.json", "body.csv")


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"
    message = "Tệp quá lớn (tối đa 20 MB); hãy chia nhỏ."


class UnsupportedMedia(DomainError):
    status_code = 415
    code = "unsupported_media_type"
    message = "Gửi tệp CSV/JSON dạng multipart (trường file) hoặc nội dung JSON."


class RowErrorOut(BaseModel):
    row: int = Field(description="Dòng vật lý trong tệp CSV nơi bản ghi bắt đầu (tiêu đề là dòng 1; một ô trong "
                                 "ngoặc kép có xuống dòng chiếm nhiều dòng), hoặc thứ tự trong danh sách JSON (từ 1)")
    code: str | None
    errors: list[str]


class ImportOut(BaseModel):
    dry_run: bool
    source: str = Field(description="Nhãn đợt nhập, lưu ở mỗi hồ sơ được tạo (import_source)")
    total_rows: int
    valid_rows: int
    new_rows: int = Field(description="Số hồ sơ sẽ được tạo (mã chưa có); chạy thử và chạy thật cho cùng số")
    created: int = Field(description="Số hồ sơ đã ghi: bằng new_rows khi cả tệp được nhập, 0 khi chạy thử hoặc "
                                     "khi có dòng lỗi (không nhập gì)")
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
async def import_dossiers(
        request: Request, session: SessionDep, principal: Importer, clock: ClockDep, settings: SettingsDep,
        dry_run: Annotated[bool, Query(description="Chỉ kiểm tra (làm đủ các bước rồi hủy), không ghi")] = False,
        source: Annotated[str | None, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$",
                                            description="Nhãn đợt nhập (mặc định: thời điểm nhập và tên tệp)")
                          ] = None) -> ImportOut:
    data, name = await _content(request)

    def work() -> ImportOut:
        rows = history_rows.read_rows(data, filename=name)
        now = clock.now()
        label = source or history.default_source(now, settings.timezone, name if name not in BODY_NAMES else None)
        result = history.import_history(
            session, rows, now=now, settings=settings, scope_agency_id=principal.scope_agency_id,
            actor_id=principal.id, actor_role=Role.admin.value, dry_run=dry_run, source=label)
        if dry_run:
            message = f"Sẽ tạo {result.new_rows} hồ sơ"
        elif result.imported:
            message = f"Đã tạo {result.created} hồ sơ"
        else:
            message = f"Không nhập hồ sơ nào (tệp được nhập trọn vẹn hoặc không gì cả); đủ điều kiện: {result.new_rows} hồ sơ"
        message += f"; bỏ qua {len(result.skipped_existing)} mã đã có; {len(result.errors)} dòng lỗi."
        out = ImportOut(dry_run=result.dry_run, source=result.source, total_rows=result.total_rows,
                        valid_rows=result.valid_rows, new_rows=result.new_rows, created=result.created,
                        skipped_existing=result.skipped_existing,
                        errors=[RowErrorOut(row=e.row, code=e.code, errors=e.errors) for e in result.errors],
                        batches=result.batches, message=message)
        if not dry_run and not result.imported:
            raise Invalid(f"Tệp có {len(result.errors)} dòng lỗi: không nhập hồ sơ nào. Sửa các dòng nêu trong "
                          "detail.errors rồi nhập lại cả tệp.", code="import_rejected", detail=out.model_dump())
        return out

    return await run_in_threadpool(work)
