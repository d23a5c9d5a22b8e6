"""Our dossier as the national public-service portal (DVCQG) expects it.

Pure functions: the workflow service calls them inside its transaction to snapshot what the
portal must receive into the outbox; the dispatcher only sends what was written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.models import Agency, Channel, Dossier, DossierEvent, Procedure, ReturnMethod
from app.workflows.transitions import ACTION_LABELS, PORTAL_STATUS, Action

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CHANNEL_CODE = {Channel.direct: 1, Channel.online: 2, Channel.postal: 3}


def portal_time(value: datetime | None) -> str | None:
    return value.astimezone(VN).strftime("%Y%m%d%H%M%S") if value else None


def dossier_payload(dossier: Dossier, procedure: Procedure, agency: Agency) -> dict[str, Any]:
    """DongBoHoSoMC item."""
    return {
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
        "NgayHenTra": portal_time(dossier.new_due_at or dossier.due_at),
        "TrangThaiHoSo": PORTAL_STATUS[dossier.status],  # type: ignore[index]
        "NgayKetThucXuLy": portal_time(dossier.resolved_at),
        "NgayTra": portal_time(dossier.returned_at),
        "HinhThuc": 1 if dossier.return_method == ReturnMethod.postal else 0,
        "DonViXuLy": agency.code,
        "NgayTuChoi": portal_time(dossier.refused_at),
        "DuocThanhToanTrucTuyen": 1 if dossier.channel == Channel.online and procedure.fee > 0 else 0,
    }


def history_row(dossier: Dossier, event: DossierEvent, *, actor_name: str | None, actor_title: str | None,
                division_name: str | None) -> dict[str, Any]:
    """One QuaTrinhXuLy row for an event."""
    try:
        content = ACTION_LABELS[Action(event.action)]
    except ValueError:
        content = {"receive": "Tiếp nhận hồ sơ", "submit": "Nộp hồ sơ trực tuyến"}.get(event.action, event.action)
    if event.note:
        content = f"{content}: {event.note}"
    return {
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
