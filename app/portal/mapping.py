"""Our dossier as the national public-service portal (DVCQG) expects it.

Pure functions (plus `dossier_snapshot`, which reads the dossier's supplement requests): the
workflow service calls them inside its transaction to snapshot what the portal must receive into
the outbox; the dispatcher only sends what was written.

Optional fields whose value does not exist yet (a receipt date before reception, an appointment
before the clock starts) are left out rather than sent as null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from app.esign.store import KINDS, RESULT_KINDS, latest_signed
from app.models import (Agency, Channel, Dossier, DossierEvent, DossierStatus, Procedure, ReturnMethod, SignedDocument,
                        SupplementRequest, User)
from app.statuses import PORTAL_STATUS, event_label

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CHANNEL_CODE = {Channel.direct: 1, Channel.online: 2, Channel.postal: 3}


def portal_time(value: datetime | None) -> str | None:
    return value.astimezone(VN).strftime("%Y%m%d%H%M%S") if value else None


# Optional fields left out when they have no value (the portal reads null and "" as absent anyway).
_OPTIONAL = ("SoDienThoai", "Email", "NgayTiepNhan", "NgayHenTra", "NgayHenTraMoi", "NgayKetThucXuLy", "NgayTra",
             "NgayTuChoi")
SUPPLEMENT_PENDING, SUPPLEMENT_RECEIVED = 0, 1  # TrangThaiBoSung


def result_row(document: SignedDocument) -> dict[str, Any]:
    """One `DanhSachGiayToKetQua` row: the metadata of the signed electronic result (never its
    bytes; the citizen downloads it from /tra-cuu). Field names follow the portal's result-document
    list; `MaBamSHA256`, `NgayKy`, `NguoiKy` are motcua's additions for the integrity check."""
    return {"TenGiayTo": KINDS[document.kind], "TenTepDinhKem": document.file_name, "MaBamSHA256": document.sha256,
            "KichThuoc": document.size, "NgayKy": portal_time(document.signed_at), "NguoiKy": document.signer_name}


def dossier_payload(dossier: Dossier, procedure: Procedure, agency: Agency, *,
                    supplements: list[dict[str, Any]] | None = None,
                    result: SignedDocument | None = None) -> dict[str, Any]:
    """DongBoHoSoMC item. `NgayHenTra` is the legal appointment; an issued apology's new
    appointment goes in `NgayHenTraMoi`. `supplements`: `DanhSachBoSung` rows, sent when any."""
    item = {
        "MaHoSo": dossier.code,
        "MaTTHC": procedure.code,
        "TenTTHC": procedure.name,
        "MaLinhVuc": procedure.field_code,
        "TenLinhVuc": procedure.field_name,
        "KenhThucHien": CHANNEL_CODE[Channel(dossier.channel)],
        "ChuHoSo": dossier.applicant_name,
        "LoaiDoiTuong": 2 if dossier.applicant_type == "organization" else 1,
        "SoGiayToChuHoSo": dossier.applicant_id_number,
        "SoDienThoai": dossier.applicant_phone,
        "Email": dossier.applicant_email,
        "TrichYeuHoSo": dossier.summary or procedure.name,
        "NgayNopHoSo": portal_time(dossier.submitted_at or dossier.received_at),
        "NgayTiepNhan": portal_time(dossier.received_at),
        "NgayHenTra": portal_time(dossier.due_at),
        "NgayHenTraMoi": portal_time(dossier.new_due_at),
        "TrangThaiHoSo": PORTAL_STATUS[dossier.status],  # type: ignore[index]
        "NgayKetThucXuLy": portal_time(dossier.resolved_at),
        "NgayTra": portal_time(dossier.returned_at),
        "HinhThuc": 1 if dossier.return_method == ReturnMethod.postal else 0,
        "DonViXuLy": agency.code,
        "NgayTuChoi": portal_time(dossier.refused_at),
        "DuocThanhToanTrucTuyen": 1 if dossier.paid_online_at is not None else 0,  # settled online (app/payments)
    }
    for key in _OPTIONAL:
        if item[key] is None:
            del item[key]
    if supplements:
        item["DanhSachBoSung"] = supplements
    if result is not None:
        item["DanhSachGiayToKetQua"] = [result_row(result)]
    return item


def supplement_row(request: SupplementRequest, *, requested_by: str | None) -> dict[str, Any]:
    """One DanhSachBoSung row for a supplement request (form 02)."""
    content = "; ".join(request.items)
    if request.note:
        content = f"{content}. {request.note}" if content else request.note
    row = {
        "NguoiYeuCauBoSung": requested_by or "Hệ thống",
        "NoiDungBoSung": content[:2000],
        "NgayBoSung": portal_time(request.requested_at),
        "NgayTiepNhanBoSung": portal_time(request.received_at),
        "TrangThaiBoSung": SUPPLEMENT_RECEIVED if request.received_at else SUPPLEMENT_PENDING,
        "NgayHenTraTruoc": portal_time(request.due_before),
        "NgayHenTraMoi": portal_time(request.due_after),
    }
    return {k: v for k, v in row.items() if v is not None}


def dossier_snapshot(session: Session, dossier: Dossier, procedure: Procedure, agency: Agency) -> dict[str, Any]:
    """`dossier_payload` with the dossier's supplement records read from the database."""
    requests = session.exec(select(SupplementRequest).where(SupplementRequest.dossier_id == dossier.id)
                            .order_by(SupplementRequest.id)).all() if dossier.supplement_count else []  # type: ignore[arg-type]
    names: dict[int, str] = {}
    ids = {r.requested_by_id for r in requests if r.requested_by_id is not None}
    if ids:
        names = {u.id: u.full_name for u in session.exec(select(User).where(User.id.in_(ids))).all()}  # type: ignore[union-attr, misc]
    rows = [supplement_row(r, requested_by=names.get(r.requested_by_id) if r.requested_by_id else None)
            for r in requests]
    result = latest_signed(session, dossier.id, RESULT_KINDS) \
        if dossier.status in (DossierStatus.resolved, DossierStatus.returned) else None  # type: ignore[arg-type]
    return dossier_payload(dossier, procedure, agency, supplements=rows, result=result)


def history_row(dossier: Dossier, event: DossierEvent, *, actor_name: str | None, actor_title: str | None,
                division_name: str | None) -> dict[str, Any]:
    """One QuaTrinhXuLy row for an event. `MaQuaTrinh` (`{MaHoSo}.{seq}`) is the row's stable unique key:
    two events in the same second stay two rows, and a row resent in a re-sync is the same row."""
    content = event_label(event.action) or event.action
    if event.note:
        content = f"{content}: {event.note}"
    return {
        "MaQuaTrinh": row_key(dossier.code, event.seq),
        "MaHoSo": dossier.code,
        "NguoiXuLy": actor_name or "Hệ thống",
        "ChucDanh": actor_title or "",
        "ThoiDiemXuLy": portal_time(event.at),
        "PhongBanXuLy": division_name or "",
        "NoiDungXuLy": content[:1000],
        "TrangThai": PORTAL_STATUS[event.to_status],  # type: ignore[index]
        "NgayBatDau": portal_time(dossier.step_started_at or event.at),
        "NgayKetThucTheoQuyDinh": portal_time(dossier.step_due_at or dossier.due_at),
    }


def row_key(code: str, seq: int) -> str:
    """The `MaQuaTrinh` of the row for event `seq` of dossier `code` (seq is unique per dossier)."""
    return f"{code}.{seq}"
