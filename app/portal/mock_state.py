"""What the mock portal (app/portal/mock.py) holds in memory, behind one lock: the dossiers
synced to it with their status history and processing rows, sessions, idempotency keys,
submissions and their files, injected faults; and how a sync or a progress update changes it
(refusing what a real portal refuses as out of order)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from app.portal.mock_contract import (ERR_ORDER, PORTAL_TRANSITIONS, PROGRESS_DATE_FIELDS, ROW_KEY, SERVICE_PROGRESS,
                                      SERVICE_SYNC, PortalFailure, is_blank, portal_now)


@dataclass
class Faults:
    fail_rate: float = 0.0
    latency_ms: int = 0
    refuse_login: bool = False
    session_ttl_seconds: float = 3600.0
    seed: int | None = None


@dataclass
class HeldDossier:
    dossier: dict[str, Any]
    status_history: list[dict[str, Any]]  # every status change seen, in order
    processing: list[dict[str, Any]]  # every distinct QuaTrinhXuLy row seen, in arrival order
    supplements: list[dict[str, Any]]  # latest DanhSachBoSung received

    def as_lookup(self) -> dict[str, Any]:
        return {
            **self.dossier,
            "QuaTrinhXuLy": list(self.processing),
            "DanhSachBoSung": list(self.supplements),
            "LichSuTrangThai": list(self.status_history),
        }


@dataclass
class MockPortalState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    dossiers: dict[str, HeldDossier] = field(default_factory=dict)
    idempotency: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, float] = field(default_factory=dict)  # token -> monotonic expiry
    submissions: list[dict[str, Any]] = field(default_factory=list)  # cursor n = first n items seen
    files: dict[str, bytes] = field(default_factory=dict)  # attachments of submissions, by MaTep
    faults: Faults = field(default_factory=Faults)
    rng: random.Random = field(default_factory=random.Random)
    counters: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        with self.lock:
            self.dossiers.clear()
            self.idempotency.clear()
            self.sessions.clear()
            self.submissions.clear()
            self.files.clear()
            self.counters.clear()
            self.faults = Faults()
            self.rng = random.Random()

    def bump(self, name: str, by: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + by


def _row_held(held: list[dict[str, Any]], row: dict[str, Any]) -> bool:
    """A row with a `MaQuaTrinh` is the same row as a held one with that key; without, an identical row."""
    key = row.get(ROW_KEY)
    if not is_blank(key):
        return any(r.get(ROW_KEY) == key for r in held)
    return row in held


def _merge_rows(held: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    # Integrations often resend the whole history on each update: keep each distinct row once.
    for row in rows:
        if not _row_held(held, row):
            held.append(dict(row))


def _out_of_order(message: str, where: str) -> PortalFailure:
    return PortalFailure(409, ERR_ORDER, message, where)


def check_order(held: HeldDossier | None, status: int, rows: list[dict[str, Any]], loc: str) -> None:
    """Refuse what a real portal refuses: a history row older than the last one held, or a status move
    the graph does not allow. The rows not yet held must walk the graph from the held status, one
    allowed move (or none) per row, and the item's status must follow from the last of them."""
    current: int | None = held.dossier["TrangThaiHoSo"] if held else None
    times = [r["ThoiDiemXuLy"] for r in held.processing if not is_blank(r.get("ThoiDiemXuLy"))] if held else []
    last_at: str | None = max(times) if times else None
    seen: list[dict[str, Any]] = list(held.processing) if held else []
    for i, row in enumerate(rows):
        if _row_held(seen, row):
            continue  # already held (the whole history resent): not a new move
        seen.append(row)
        rloc = f"{loc}.QuaTrinhXuLy[{i}]"
        at = row.get("ThoiDiemXuLy")
        if not is_blank(at):
            if last_at is not None and at < last_at:
                raise _out_of_order(f"Dòng QuaTrinhXuLy ({rloc}.ThoiDiemXuLy) cũ hơn dòng cuối Cổng đã nhận: sai thứ tự",
                                    f"{rloc}.ThoiDiemXuLy")
            last_at = at
        moved = row.get("TrangThai")
        if moved is not None:
            if current is not None and moved != current and moved not in PORTAL_TRANSITIONS[current]:
                raise _out_of_order(f"Không thể chuyển trạng thái hồ sơ từ {current} sang {moved} ({rloc}.TrangThai)",
                                    f"{rloc}.TrangThai")
            current = moved
    if current is not None and status != current and status not in PORTAL_TRANSITIONS[current]:
        raise _out_of_order(f"Không thể chuyển trạng thái hồ sơ từ {current} sang {status} ({loc}.TrangThaiHoSo)",
                            f"{loc}.TrangThaiHoSo")


def _record_status(held: HeldDossier, status: int, service: str) -> None:
    if not held.status_history or held.status_history[-1]["TrangThaiHoSo"] != status:
        held.status_history.append({"TrangThaiHoSo": status, "ThoiDiem": portal_now(), "DichVu": service})


def apply_sync(st: MockPortalState, d: dict[str, Any]) -> None:
    code = d["MaHoSo"]
    record = {k: v for k, v in d.items() if k not in ("QuaTrinhXuLy", "DanhSachBoSung")}
    held = st.dossiers.get(code)
    if held is None:
        held = st.dossiers[code] = HeldDossier(dossier=record, status_history=[], processing=[], supplements=[])
    else:
        held.dossier = record  # DongBoHoSoMC carries the full record: the latest one wins
    _record_status(held, d["TrangThaiHoSo"], SERVICE_SYNC)
    _merge_rows(held.processing, d.get("QuaTrinhXuLy") or [])
    if d.get("DanhSachBoSung") is not None:
        held.supplements = [dict(r) for r in d["DanhSachBoSung"]]


def apply_progress(st: MockPortalState, item: dict[str, Any]) -> None:
    held = st.dossiers[item["MaHoSo"]]
    held.dossier["TrangThaiHoSo"] = item["TrangThaiHoSo"]
    for k in PROGRESS_DATE_FIELDS:
        if not is_blank(item.get(k)):
            held.dossier[k] = item[k]
    _record_status(held, item["TrangThaiHoSo"], SERVICE_PROGRESS)
    _merge_rows(held.processing, item.get("QuaTrinhXuLy") or [])
