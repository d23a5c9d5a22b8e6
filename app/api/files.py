"""Dossier files (issue 13): upload a component's file (or attach an earlier one by reference),
list the versions and the digitisation status, download; an applicant's earlier files for reuse."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from app.access import get_dossier
from app.api.deps import ClockDep, SessionDep, SettingsDep
from app.auth.deps import DeskOfficer, require_roles
from app.auth.principal import Principal
from app.documents import service as files
from app.effects import Context
from app.errors import NotFound
from app.fields import LocalDateTime
from app.models import DossierFile, Procedure, Role, User
from app.storage import CHUNK, Storage, StorageUnavailable

router = APIRouter(prefix="/api/v1/dossiers", tags=["tệp hồ sơ"])
applicants = APIRouter(prefix="/api/v1/applicants", tags=["tệp hồ sơ"])
CodePath = Annotated[str, Path(max_length=64, description="Mã hồ sơ")]
FileIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="Mã tệp")]
# The desk digitises at reception; the handling staff add files later. Reporters and postal clerks
# see no file (the documents are personal data).
FileStaff = Annotated[Principal, Depends(require_roles(Role.desk, Role.specialist, Role.leader))]


class FileKind(StrEnum):
    original_scan = "original_scan"
    copy = "copy"
    electronic_original = "electronic_original"


class FileOut(BaseModel):
    id: int
    dossier_code: str
    component: str = Field(description="Số thứ tự giấy tờ trong danh mục của thủ tục (từ 0) hoặc other")
    component_name: str
    kind: str
    kind_label: str
    version: int
    is_current: bool = Field(description="Phiên bản mới nhất của thành phần này")
    sha256: str
    size: int
    content_type: str
    filename: str
    source: str = Field(description="upload: tải lên; reuse: dùng lại tệp đã số hóa; portal: nộp trực tuyến")
    reused_from_id: int | None
    digitised_by: str | None = Field(description="Người số hóa (None: hệ thống, hồ sơ trực tuyến)")
    digitised_at: LocalDateTime
    download_url: str


class ComponentStatus(BaseModel):
    component: str
    name: str
    required: bool
    has_file: bool
    current_file_id: int | None
    digitised_by: str | None
    digitised_at: LocalDateTime | None


class DossierFiles(BaseModel):
    dossier_code: str
    digitised: bool = Field(description="Mọi thành phần bắt buộc đã có tệp")
    digitised_at: LocalDateTime | None
    components: list[ComponentStatus]
    files: list[FileOut] = Field(description="Mọi phiên bản, cũ và mới")
    total_bytes: int


class ApplicantFile(FileOut):
    procedure_code: str


def get_app_storage(request: Request) -> Storage:
    return request.app.state.storage


StorageDep = Annotated[Storage, Depends(get_app_storage)]


def _names(session: Session, rows: list[DossierFile]) -> dict[int, str]:
    ids = {r.uploaded_by_id for r in rows if r.uploaded_by_id}
    if not ids:
        return {}
    return {u.id: u.full_name for u in session.exec(select(User).where(User.id.in_(ids))).all()}  # type: ignore[union-attr,misc]


def _out(row: DossierFile, code: str, names: dict[int, str], current: bool) -> dict:
    return dict(id=row.id, dossier_code=code, component=row.component_key, component_name=row.component_name,
                kind=row.kind, kind_label=files.KIND_LABELS.get(row.kind, row.kind), version=row.version,
                is_current=current, sha256=row.sha256, size=row.size, content_type=row.content_type,
                filename=row.filename, source=row.source, reused_from_id=row.reused_from_id,
                digitised_by=names.get(row.uploaded_by_id) if row.uploaded_by_id else None,
                digitised_at=row.uploaded_at, download_url=f"/api/v1/dossiers/{code}/files/{row.id}")


@router.post("/{code}/files", response_model=FileOut, status_code=201,
             summary="Số hóa một thành phần hồ sơ: tải tệp lên, hoặc dùng lại tệp đã số hóa (reuse_file_id)",
             responses={404: {"description": "Không có hồ sơ / tệp"}, 409: {"description": "Hồ sơ đã kết thúc"},
                        413: {"description": "Tệp quá lớn"}, 415: {"description": "Định dạng không được nhận"}})
def upload_file(code: CodePath, session: SessionDep, principal: FileStaff, clock: ClockDep, settings: SettingsDep,
                storage: StorageDep,
                component: Annotated[str, Form(min_length=1, max_length=500,
                                               description="Số thứ tự (từ 0) hoặc tên giấy tờ, hoặc other")],
                kind: Annotated[FileKind, Form(description="original_scan | copy | electronic_original")],
                file: Annotated[UploadFile | None, File(description="Tệp PDF, JPEG, PNG, TIFF, DOCX, XLSX")] = None,
                reuse_file_id: Annotated[int | None, Form(ge=1, le=2**31 - 1,
                                                          description="Tệp đã số hóa của cùng người nộp")] = None,
                ) -> FileOut:
    dossier, row = files.attach(session, code, Context(principal, clock.now(), settings), storage,
                                component=component, kind=kind.value, stream=file.file if file else None,
                                size=file.size if file else None, filename=file.filename if file else None,
                                reuse_file_id=reuse_file_id)
    return FileOut(**_out(row, dossier.code, {principal.id: principal.user.full_name}, True))


@router.get("/{code}/files", response_model=DossierFiles,
            summary="Các tệp của hồ sơ (mọi phiên bản) và tình trạng số hóa từng thành phần")
def list_files(code: CodePath, session: SessionDep, principal: FileStaff) -> DossierFiles:
    dossier = get_dossier(session, code, principal)
    procedure = session.get(Procedure, dossier.procedure_id)
    assert procedure is not None
    rows = files.files_of(session, dossier)
    names = _names(session, rows)
    latest = {r.component_key: r for r in rows}
    listed = files.components(procedure)
    if files.OTHER in latest:
        listed.append(files.Component(key=files.OTHER, name=files.OTHER_NAME, required=False))
    components = []
    for c in listed:
        cur = latest.get(c.key)
        components.append(ComponentStatus(
            component=c.key, name=c.name, required=c.required, has_file=cur is not None,
            current_file_id=cur.id if cur else None,
            digitised_by=names.get(cur.uploaded_by_id) if cur and cur.uploaded_by_id else None,
            digitised_at=cur.uploaded_at if cur else None))
    return DossierFiles(
        dossier_code=dossier.code, digitised=files.is_digitised(session, dossier, procedure),
        digitised_at=dossier.digitised_at, components=components,
        files=[FileOut(**_out(r, dossier.code, names, latest[r.component_key].id == r.id)) for r in rows],
        total_bytes=sum(r.size for r in rows))


@router.get("/{code}/files/{file_id}", summary="Tải một tệp của hồ sơ (theo luồng)",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "Nội dung tệp"}})
def download_file(code: CodePath, file_id: FileIdPath, session: SessionDep, principal: FileStaff,
                  storage: StorageDep) -> StreamingResponse:
    dossier = get_dossier(session, code, principal)
    row = files.get_file(session, dossier, file_id)
    try:
        stream = storage.open(row.sha256)
    except FileNotFoundError:
        raise NotFound("Nội dung tệp không còn trong kho lưu trữ; báo quản trị hệ thống.",
                       code="file_content_missing") from None
    except StorageUnavailable:
        raise files.storage_down() from None

    def body() -> Iterator[bytes]:
        try:
            while chunk := stream.read(CHUNK):
                yield chunk
        finally:
            stream.close()

    ascii_name = row.filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return StreamingResponse(body(), media_type=row.content_type, headers={
        "Content-Length": str(row.size), "ETag": f'"{row.sha256}"', "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.filename)}"})


@applicants.get("/{id_number}/documents", response_model=list[ApplicantFile],
                summary="Giấy tờ đã số hóa của người nộp (cùng số định danh), để dùng lại khi tiếp nhận hồ sơ mới")
def applicant_documents(id_number: Annotated[str, Path(min_length=1, max_length=32)], session: SessionDep,
                        principal: DeskOfficer) -> list[ApplicantFile]:
    pairs = files.applicant_files(session, principal, id_number)
    names = _names(session, [f for f, _ in pairs])
    procedures: dict[int, str] = {}
    latest: dict[tuple[int, str], int] = {}
    for f, _ in pairs:  # newest first: the first seen per component is its current version
        latest.setdefault((f.dossier_id, f.component_key), f.id)  # type: ignore[arg-type]
    out = []
    for f, d in pairs:
        if d.procedure_id not in procedures:
            p = session.get(Procedure, d.procedure_id)
            procedures[d.procedure_id] = p.code if p else ""
        out.append(ApplicantFile(**_out(f, d.code, names, latest[(f.dossier_id, f.component_key)] == f.id),
                                 procedure_code=procedures[d.procedure_id]))
    return out



