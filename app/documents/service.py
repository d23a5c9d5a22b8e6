"""Files of a dossier: one row per version of a component, the digitisation record, reuse.

Every stored file is a dossier event (`file_added`, `file_refused`) written through app/effects.py
in the caller's transaction; the dossier's version moves with it.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import func, or_
from sqlmodel import Session, select

from app import effects
from app.auth.principal import Principal
from app.documents import validation
from app.effects import Context
from app.errors import Conflict, Invalid, NotFound, Unavailable
from app.models import Dossier, DossierFile, DossierStatus, Procedure
from app.storage import Storage, StorageUnavailable, StoredObject, TooLarge

KIND_LABELS = {"original_scan": "Bản quét từ bản chính", "copy": "Bản sao",
               "electronic_original": "Bản điện tử gốc"}
OTHER = "other"
OTHER_NAME = "Giấy tờ khác"
CLOSED = {DossierStatus.refused, DossierStatus.withdrawn, DossierStatus.stopped}


@dataclass(frozen=True)
class Component:
    key: str  # index in the procedure's required_documents, or "other"
    name: str
    required: bool


def components(procedure: Procedure) -> list[Component]:
    return [Component(key=str(i), name=d["name"], required=bool(d.get("required", True)))
            for i, d in enumerate(procedure.required_documents)]


def resolve_component(procedure: Procedure, value: str) -> Component:
    """`value`: the index of one of the procedure's required documents, its exact name, or "other"."""
    value = value.strip()
    if value.lower() == OTHER:
        return Component(key=OTHER, name=OTHER_NAME, required=False)
    listed = components(procedure)
    for c in listed:
        if value == c.key or value == c.name:
            return c
    raise Invalid("Thành phần hồ sơ không thuộc danh mục giấy tờ của thủ tục; ghi số thứ tự (từ 0), "
                  "tên giấy tờ, hoặc \"other\".", code="unknown_component",
                  detail={"components": [{"key": c.key, "name": c.name} for c in listed] + [
                      {"key": OTHER, "name": OTHER_NAME}]})


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_filename(name: str | None) -> str:
    """The last path part, without control characters (a portal's names reach response headers)."""
    base = _CONTROL.sub("_", posixpath.basename((name or "").replace("\\", "/"))).strip()
    return base[:255] or "tep"


def dossier_bytes(session: Session, dossier: Dossier) -> int:
    total = session.exec(select(func.coalesce(func.sum(DossierFile.size), 0))
                         .where(DossierFile.dossier_id == dossier.id)).one()
    return int(total or 0)


def check_open(dossier: Dossier) -> None:
    if dossier.status in CLOSED:
        raise Conflict("Hồ sơ đã kết thúc (từ chối, rút hoặc dừng xử lý); không nhận thêm tệp.",
                       code="dossier_closed", detail={"status": dossier.status})


def store_upload(storage: Storage, stream: BinaryIO, size: int, *, settings: Any,
                 dossier_total: int) -> tuple[StoredObject, str]:
    """Check size and content, then store; a refusal stores nothing."""
    validation.check_size(size, max_file=settings.max_file_bytes, dossier_total=dossier_total,
                          max_dossier=settings.max_dossier_bytes)
    mime = validation.detect(stream, size)
    stream.seek(0)
    try:
        stored = storage.put(stream, max_bytes=settings.max_file_bytes)
    except TooLarge:
        raise validation.FileTooLarge(detail={"max_bytes": settings.max_file_bytes}) from None
    except StorageUnavailable:
        raise storage_down() from None
    return stored, mime


def storage_down() -> Unavailable:
    return Unavailable("Kho lưu trữ tệp tạm thời không sẵn sàng; vui lòng thử lại sau.", code="storage_unavailable",
                       headers={"Retry-After": "30"})


def add_file(session: Session, dossier: Dossier, ctx: Context, *, component: Component, kind: str,
             stored: StoredObject, content_type: str, filename: str, source: str,
             reused_from_id: int | None = None) -> DossierFile:
    """Record a stored file as the next version of its component, with its event; marks the dossier
    digitised when every required component has a file. `dossier` must be locked by the caller."""
    previous = session.exec(select(func.max(DossierFile.version)).where(
        DossierFile.dossier_id == dossier.id, DossierFile.component_key == component.key)).one()
    row = DossierFile(dossier_id=dossier.id, component_key=component.key, component_name=component.name[:500],
                      kind=kind, version=(previous or 0) + 1, sha256=stored.sha256, size=stored.size,
                      content_type=content_type, filename=clean_filename(filename), source=source,
                      reused_from_id=reused_from_id, applicant_id_number=dossier.applicant_id_number,
                      uploaded_by_id=ctx.principal.id if ctx.principal else None, uploaded_at=ctx.now)
    session.add(row)
    session.flush()
    procedure = session.get(Procedure, dossier.procedure_id)
    assert procedure is not None
    if dossier.digitised_at is None and is_digitised(session, dossier, procedure):
        dossier.digitised_at = ctx.now
    dossier.version += 1
    dossier.updated_at = ctx.now
    session.add(dossier)
    session.flush()
    note = f"{component.name[:200]} — {KIND_LABELS.get(kind, kind)}" + (
        f" (phiên bản {row.version})" if row.version > 1 else "")
    effects.append_event(session, dossier, ctx, action="file_added", from_status=dossier.status,
                         from_step=dossier.current_step, note=note,
                         data={"file_id": row.id, "component": component.key, "version": row.version,
                               "kind": kind, "sha256": stored.sha256, "size": stored.size, "source": source,
                               "reused_from_id": reused_from_id, "digitised": dossier.digitised_at is not None})
    return row


def attach(session: Session, code: str, ctx: Context, storage: Storage, *, component: str, kind: str,
           stream: BinaryIO | None, size: int | None, filename: str | None,
           reuse_file_id: int | None) -> tuple[Dossier, DossierFile]:
    """A file for one component of a dossier in the caller's scope: uploaded bytes (`stream`), or an
    earlier file of the same applicant by reference (`reuse_file_id`), never both."""
    from app.access import get_dossier

    assert ctx.principal is not None
    dossier = get_dossier(session, code, ctx.principal, for_update=True)
    check_open(dossier)
    procedure = session.get(Procedure, dossier.procedure_id)
    assert procedure is not None
    target = resolve_component(procedure, component)
    if (stream is None) == (reuse_file_id is None):
        raise Invalid("Gửi một tệp (file) hoặc mã tệp đã số hóa (reuse_file_id), không cả hai.",
                      code="file_or_reuse_required")
    if reuse_file_id is not None:
        source = reusable_file(session, ctx.principal, reuse_file_id, dossier)
        return dossier, add_file(session, dossier, ctx, component=target, kind=kind,
                                 stored=StoredObject(sha256=source.sha256, size=source.size),
                                 content_type=source.content_type, filename=source.filename, source="reuse",
                                 reused_from_id=source.id)
    assert stream is not None
    if size is None:
        stream.seek(0, 2)
        size = stream.tell()
        stream.seek(0)
    stored, mime = store_upload(storage, stream, size, settings=ctx.settings,
                                dossier_total=dossier_bytes(session, dossier))
    return dossier, add_file(session, dossier, ctx, component=target, kind=kind, stored=stored, content_type=mime,
                             filename=filename or "", source="upload")


def refuse_file(session: Session, dossier: Dossier, ctx: Context, *, filename: str, reason: str,
                detail: dict[str, Any]) -> None:
    """A file that arrived with the dossier but was not stored (hash mismatch, bad type...): the
    refusal is an event of its own, never a silent drop."""
    dossier.version += 1
    dossier.updated_at = ctx.now
    session.add(dossier)
    session.flush()
    effects.append_event(session, dossier, ctx, action="file_refused", from_status=dossier.status,
                         from_step=dossier.current_step, note=f"{clean_filename(filename)}: {reason}"[:2000],
                         data={"filename": clean_filename(filename), "reason": reason, **detail})


def latest_by_component(session: Session, dossier: Dossier) -> dict[str, DossierFile]:
    rows = session.exec(select(DossierFile).where(DossierFile.dossier_id == dossier.id)
                        .order_by(DossierFile.component_key, DossierFile.version)).all()
    return {r.component_key: r for r in rows}


def is_digitised(session: Session, dossier: Dossier, procedure: Procedure) -> bool:
    """Every required component has a file (a procedure listing none: at least one file)."""
    have = set(latest_by_component(session, dossier))
    required = {c.key for c in components(procedure) if c.required}
    return required <= have if required else bool(have)


def files_of(session: Session, dossier: Dossier) -> list[DossierFile]:
    return list(session.exec(select(DossierFile).where(DossierFile.dossier_id == dossier.id)
                             .order_by(DossierFile.component_key, DossierFile.version)).all())


def get_file(session: Session, dossier: Dossier, file_id: int) -> DossierFile:
    row = session.get(DossierFile, file_id)
    if row is None or row.dossier_id != dossier.id:
        raise NotFound("Không tìm thấy tệp của hồ sơ.", code="file_not_found")
    return row


def reusable_file(session: Session, principal: Principal, file_id: int, dossier: Dossier) -> DossierFile:
    """An earlier file the desk may attach to `dossier`: of a dossier in the caller's scope, of the
    same applicant (identity number). Anything else is "not found"."""
    row = session.get(DossierFile, file_id)
    if row is None:
        raise NotFound("Không tìm thấy tệp để sử dụng lại.", code="file_not_found")
    owner = session.get(Dossier, row.dossier_id)
    visible = owner is not None and principal.scope_agency_id in (owner.agency_id, owner.receiving_agency_id)
    if not visible or row.applicant_id_number != dossier.applicant_id_number:
        raise NotFound("Không tìm thấy tệp để sử dụng lại của cùng người nộp hồ sơ.", code="file_not_found")
    return row


def applicant_files(session: Session, principal: Principal, id_number: str,
                    limit: int = 200) -> list[tuple[DossierFile, Dossier]]:
    """The applicant's earlier files in dossiers the caller's agency holds (handling or receiving),
    newest first."""
    rows = session.exec(
        select(DossierFile, Dossier).join(Dossier, Dossier.id == DossierFile.dossier_id)
        .where(DossierFile.applicant_id_number == id_number,
               or_(Dossier.agency_id == principal.scope_agency_id,
                   Dossier.receiving_agency_id == principal.scope_agency_id))
        .order_by(DossierFile.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
    return [(f, d) for f, d in rows]
