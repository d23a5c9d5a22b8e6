"""The what-if result as XLSX: a summary sheet, the on-time curve, the steps (same object as the JSON)."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font

from app.foresight.schemas import ReplayCounts, WhatIfOut
from app.reports.export import xlsx_cell


def _counts_row(label: str, c: ReplayCounts) -> list[object]:
    return [label, c.limit.label, c.total, c.early, c.on_time, c.late,
            None if c.on_time_share is None else round(100 * c.on_time_share, 2), c.late_hours_total,
            c.late_hours_mean, c.late_hours_max]


def to_xlsx(out: WhatIfOut, *, generated_at: datetime, tz: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Tính lại thời hạn"
    bold = Font(bold=True)
    lines: list[list[object]] = [
        ["TÍNH LẠI KẾT QUẢ GIẢI QUYẾT THEO THỜI HẠN MỚI"],
        [f"{out.agency.name} ({out.agency.code})"],
        [f"Thủ tục: {out.procedure.code} – {out.procedure.name}"],
        [f"Kỳ: {out.period.label}; số hồ sơ có kết quả trong kỳ: {out.dossiers}"],
        [f"Lập lúc {generated_at.astimezone(ZoneInfo(tz)):%H:%M %d/%m/%Y}"],
        [],
        ["", "Thời hạn", "Tổng số", "Trước hạn", "Đúng hạn", "Quá hạn", "Tỷ lệ đúng hạn (%)", "Tổng giờ trễ",
         "Giờ trễ trung bình", "Giờ trễ lớn nhất"],
        ["Đã ghi nhận", "", out.recorded.total, out.recorded.early, out.recorded.on_time, out.recorded.late],
        _counts_row("Tính lại, thời hạn hiện hành", out.current),
        _counts_row("Tính lại, thời hạn mới", out.proposed),
        [],
        [f"Thời hạn ngắn nhất để đạt {round(100 * out.shortest.target_share, 2)}% đúng hạn",
         out.shortest.limit.label if out.shortest.limit else "—",
         out.shortest.limit_days.label if out.shortest.limit_days else "—"],
        [],
        [out.method],
    ]
    for r, line in enumerate(lines, start=1):
        for c, value in enumerate(line, start=1):
            cell = xlsx_cell(ws, r, c, value)
            if r in (1, 7):
                cell.font = bold
    ws.column_dimensions["A"].width = 40
    ws.column_dimensions["B"].width = 20

    curve = wb.create_sheet("Tỷ lệ theo thời hạn")
    for c, title in enumerate(["Thời hạn (ngày làm việc)", "Tỷ lệ đúng hạn (%)"], start=1):
        xlsx_cell(curve, 1, c, title).font = bold
    for r, point in enumerate(out.curve, start=2):
        xlsx_cell(curve, r, 1, point.working_days)
        xlsx_cell(curve, r, 2, round(100 * point.on_time_share, 2))

    steps = wb.create_sheet("Các bước")
    head = ["Bước", "Tên bước", "Vai trò", "Thời gian hiện hành (giờ)", "Thời gian mới (giờ)", "Số lượt",
            "Trung vị (giờ)", "Phân vị 90 (giờ)", "Vượt thời gian hiện hành", "Vượt thời gian mới"]
    for c, title in enumerate(head, start=1):
        xlsx_cell(steps, 1, c, title).font = bold
    for r, s in enumerate(out.steps, start=2):
        for c, value in enumerate([s.step, s.name, s.role, s.budget_hours, s.new_budget_hours, s.samples,
                                   s.median_hours, s.p90_hours, s.over_budget, s.over_new_budget], start=1):
            xlsx_cell(steps, r, c, value)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def filename(out: WhatIfOut) -> str:
    return f"tinh-lai-thoi-han_{out.procedure.code}_{out.period.key}.xlsx".replace("..", "_")
