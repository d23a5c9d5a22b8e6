"""The satisfaction report as CSV (UTF-8 with BOM, for Excel) and XLSX, from the same
`SatisfactionReport` the JSON endpoint returns; cells are written with the reports module's
formula-safe helpers (app/reports/export.py)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from app.feedback.schemas import CRITERIA, SatisfactionReport, SatisfactionRow
from app.reports.export import csv_cell, xlsx_cell

TITLE = "KẾT QUẢ ĐÁNH GIÁ MỨC ĐỘ HÀI LÒNG CỦA NGƯỜI DÂN, DOANH NGHIỆP"
LEVEL_TITLES = ("Rất hài lòng", "Hài lòng", "Không hài lòng", "Tỷ lệ hài lòng (%)")


def headers() -> list[str]:
    out = ["STT", "Mã thủ tục", "Tên thủ tục hành chính", "Số phiếu đánh giá"]
    for label in CRITERIA.values():
        out += [f"{label} - {title}" for title in LEVEL_TITLES]
    return out + ["Tỷ lệ hài lòng chung (%)"]


def _values(row: SatisfactionRow) -> list[object]:
    out: list[object] = [row.answers]
    for c in row.criteria:
        out += [c.very_satisfied, c.satisfied, c.not_satisfied, c.satisfied_rate if c.satisfied_rate is not None else ""]
    return out + [row.satisfied_rate if row.satisfied_rate is not None else ""]


def table(report: SatisfactionReport) -> list[list[object]]:
    rows = [[i, r.procedure_code or "", r.procedure_name, *_values(r)] for i, r in enumerate(report.rows, start=1)]
    rows.append(["", "", "Tổng cộng", *_values(report.total)])
    return rows


def filename(report: SatisfactionReport, extension: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in report.period.key.replace("..", "_den_"))
    return f"muc-do-hai-long_{report.agency.code}_{safe}.{extension}"


def to_csv(report: SatisfactionReport) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(v) for v in headers()])
    writer.writerows([csv_cell(v) for v in row] for row in table(report))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(report: SatisfactionReport, *, generated_at: datetime, tz: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Mức độ hài lòng"
    bold = Font(name="Times New Roman", bold=True, size=11)
    stamp = generated_at.astimezone(ZoneInfo(tz))
    p = report.period
    for row, text in enumerate([report.agency.name.upper(), TITLE,
                                f"Kỳ báo cáo: {p.label} (từ ngày {p.first_day:%d/%m/%Y} đến ngày {p.last_day:%d/%m/%Y})"
                                f" — lập lúc {stamp:%H:%M %d/%m/%Y}"], start=1):
        xlsx_cell(ws, row, 1, text).font = bold
    for col, title in enumerate(headers(), start=1):
        cell = xlsx_cell(ws, 5, col, title)
        cell.font, cell.alignment = bold, Alignment(horizontal="center", vertical="center", wrap_text=True)
    for offset, values in enumerate(table(report)):
        for col, value in enumerate(values, start=1):
            xlsx_cell(ws, 6 + offset, col, value)
    ws.column_dimensions["C"].width = 50
    ws.freeze_panes = "D6"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
