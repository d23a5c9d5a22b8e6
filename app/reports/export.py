"""The periodic report as XLSX (the usual two-level table) and CSV (UTF-8 with BOM, for Excel).

Both take the `PeriodicReport` the JSON endpoint returns, so the three never disagree.

Text that comes from data (agency and procedure names and codes, filter values) can start with a
character a spreadsheet reads as a formula (`=`, `+`, `-`, `@`, tab, CR: CSV/formula injection).
CSV neutralises such a cell with a leading `'` (OWASP); XLSX stores every text cell as a string,
never as a formula, with Excel's quote prefix on the risky ones so editing keeps them text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from app.reports.schemas import Counts, PeriodicReport


@dataclass(frozen=True)
class Column:
    group: str  # first header level ("" for the leading identification columns)
    title: str  # second header level (same as group for a single column)
    value: Callable[[Counts], int]
    width: float = 11


def _f(name: str) -> Callable[[Counts], int]:
    return lambda c: int(getattr(c, name))


RECEIVED = "Số hồ sơ nhận giải quyết"
RESOLVED = "Số hồ sơ đã giải quyết"
IN_PROGRESS = "Số hồ sơ đang giải quyết"
NOT_RECEIVED = "Số hồ sơ không tiếp nhận"
ONLINE_CHECK = "Hồ sơ trực tuyến kiểm tra chậm"
LATE_BY = "Giải quyết quá hạn, nguyên nhân"
COUNT_COLUMNS: list[Column] = [
    Column(RECEIVED, "Tổng số", lambda c: c.carried_over + c.received_total),
    Column(RECEIVED, "Kỳ trước chuyển sang", _f("carried_over"), 12),
    Column(RECEIVED, "Mới tiếp nhận", _f("received_total")),
    Column(RECEIVED, "Trực tuyến", _f("new_online")),
    Column(RECEIVED, "Trực tiếp", _f("new_direct")),
    Column(RECEIVED, "Qua bưu chính công ích", _f("new_postal"), 12),
    Column(RESOLVED, "Tổng số", _f("resolved_total")),
    Column(RESOLVED, "Trước hạn", _f("resolved_early")),
    Column(RESOLVED, "Đúng hạn", _f("resolved_on_time")),
    Column(RESOLVED, "Quá hạn", _f("resolved_late")),
    Column(IN_PROGRESS, "Tổng số", _f("in_progress_total")),
    Column(IN_PROGRESS, "Trong hạn", _f("in_progress_within")),
    Column(IN_PROGRESS, "Quá hạn", _f("in_progress_overdue")),
    Column(IN_PROGRESS, "Trong đó: chờ bổ sung", _f("awaiting_supplement"), 12),
    Column("Số hồ sơ rút, từ chối, dừng giải quyết", "Số hồ sơ rút, từ chối, dừng giải quyết",
           _f("withdrawn_or_refused"), 13),
    Column("Số hồ sơ trả kết quả qua bưu chính công ích", "Số hồ sơ trả kết quả qua bưu chính công ích",
           _f("returned_by_post"), 13),
    Column("Số văn bản xin lỗi", "Số văn bản xin lỗi", _f("apologies"), 11),
    # Never received: outside "nhận giải quyết" and outside both on-time denominators (docs/REPORTS.md).
    Column(NOT_RECEIVED, "Tổng số", _f("not_received_total")),
    Column(NOT_RECEIVED, "Từ chối tiếp nhận", _f("refused_at_reception"), 12),
    Column(NOT_RECEIVED, "Trực tuyến không được tiếp nhận", _f("online_not_accepted"), 13),
    Column(NOT_RECEIVED, "Rút trước khi tiếp nhận", _f("withdrawn_before_receipt"), 12),
    Column("Số văn bản xin lỗi phát hành muộn", "Số văn bản xin lỗi phát hành muộn", _f("apologies_late"), 12),
    Column(ONLINE_CHECK, "Kiểm tra quá một ngày làm việc", _f("online_checked_late"), 14),
    Column(ONLINE_CHECK, "Chưa kiểm tra, đã quá hạn", _f("online_unchecked_overdue"), 13),
    # Inter-agency procedures: whose share of the limit made the dossier late (app/parties.py).
    Column(LATE_BY, "Do cơ quan mình", _f("late_caused_here"), 12),
    Column(LATE_BY, "Do cơ quan khác (liên thông)", _f("late_caused_elsewhere"), 13),
]
LEAD = [("STT", 6), ("Mã thủ tục", 13), ("Tên thủ tục hành chính", 50)]
TITLE = "BÁO CÁO TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"
TOTAL_LABEL = "Tổng cộng"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet will not evaluate: risky text gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def xlsx_cell(ws: Any, row: int, column: int, value: object) -> Any:
    """Write `value`; text is always a string cell (openpyxl would make `=…` a formula)."""
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
        if value.startswith(FORMULA_START):
            cell.quotePrefix = True
    return cell


def csv_headers() -> list[str]:
    return [name for name, _ in LEAD] + [c.title if c.group == c.title else f"{c.group} - {c.title}"
                                         for c in COUNT_COLUMNS]


def _table(report: PeriodicReport) -> list[list[object]]:
    rows: list[list[object]] = [[i, r.procedure_code, r.procedure_name] + [c.value(r) for c in COUNT_COLUMNS]
                                for i, r in enumerate(report.rows, start=1)]
    rows.append(["", "", TOTAL_LABEL] + [c.value(report.totals) for c in COUNT_COLUMNS])
    return rows


def filename(report: PeriodicReport, extension: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in report.period.key.replace("..", "_den_"))
    return f"bao-cao-dinh-ky_{report.agency.code}_{safe}.{extension}"


def _subtitle(report: PeriodicReport) -> str:
    p = report.period
    text = f"Kỳ báo cáo: {p.label} (từ ngày {p.first_day:%d/%m/%Y} đến ngày {p.last_day:%d/%m/%Y})"
    filters = {k: v for k, v in report.filters.items() if k != "imported"}
    if filters:
        text += " — lọc: " + ", ".join(f"{k} = {v}" for k, v in filters.items())
    text += (f" — gồm {report.imported_rows} hồ sơ nhập từ hệ thống cũ" if report.include_imported
             else " — không gồm hồ sơ nhập từ hệ thống cũ")
    return text


def to_csv(report: PeriodicReport) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(v) for v in csv_headers()])
    writer.writerows([csv_cell(v) for v in row] for row in _table(report))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(report: PeriodicReport, *, generated_at: datetime, tz: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Báo cáo"
    thin = Side(style="thin", color="000000")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)
    bold = Font(name="Times New Roman", bold=True, size=11)
    normal = Font(name="Times New Roman", size=11)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    n_cols = len(LEAD) + len(COUNT_COLUMNS)
    last = get_column_letter(n_cols)

    for row, (text, font) in enumerate([(report.agency.name.upper(), bold), (TITLE, Font(name="Times New Roman",
                                        bold=True, size=14)), (_subtitle(report), Font(name="Times New Roman",
                                        italic=True, size=11))], start=1):
        ws.merge_cells(f"A{row}:{last}{row}")
        cell = xlsx_cell(ws, row, 1, text)
        cell.font, cell.alignment = font, Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[2].height = 24
    stamp = generated_at.astimezone(ZoneInfo(tz))
    ws.cell(row=4, column=n_cols, value=f"Lập lúc {stamp:%H:%M %d/%m/%Y}. Đơn vị tính: hồ sơ").font = Font(
        name="Times New Roman", italic=True, size=10)
    ws.cell(row=4, column=n_cols).alignment = Alignment(horizontal="right")

    top, sub, numbers = 5, 6, 7
    for col, (name, width) in enumerate(LEAD, start=1):
        ws.merge_cells(start_row=top, start_column=col, end_row=sub, end_column=col)
        ws.cell(row=top, column=col, value=name)
        ws.column_dimensions[get_column_letter(col)].width = width
    col = len(LEAD) + 1
    groups: list[tuple[str, int, int]] = []
    for c in COUNT_COLUMNS:
        if groups and groups[-1][0] == c.group:
            groups[-1] = (c.group, groups[-1][1], col)
        else:
            groups.append((c.group, col, col))
        ws.column_dimensions[get_column_letter(col)].width = c.width
        if c.group != c.title:
            ws.cell(row=sub, column=col, value=c.title)
        col += 1
    for name, first, end in groups:
        if first == end and COUNT_COLUMNS[first - len(LEAD) - 1].title == name:
            ws.merge_cells(start_row=top, start_column=first, end_row=sub, end_column=first)
        else:
            ws.merge_cells(start_row=top, start_column=first, end_row=top, end_column=end)
        ws.cell(row=top, column=first, value=name)
    for col in range(1, n_cols + 1):
        ws.cell(row=numbers, column=col, value=f"({col})")
        for row in (top, sub, numbers):
            cell = ws.cell(row=row, column=col)
            cell.font, cell.alignment, cell.border = bold, center, border
            if row != numbers:
                cell.fill = header_fill
    ws.row_dimensions[top].height = 36
    ws.row_dimensions[sub].height = 48

    table = _table(report)
    for offset, values in enumerate(table):
        row = numbers + 1 + offset
        is_total = offset == len(table) - 1
        for col, value in enumerate(values, start=1):
            cell = xlsx_cell(ws, row, col, value)
            cell.border = border
            cell.font = bold if is_total else normal
            if col == 3:
                cell.alignment = Alignment(vertical="center", wrap_text=True,
                                           horizontal="center" if is_total else "left")
            else:
                cell.alignment = Alignment(horizontal="center", vertical="center")
            if col > len(LEAD):
                cell.number_format = "#,##0"
    ws.freeze_panes = ws.cell(row=numbers + 1, column=len(LEAD) + 1)
    ws.print_title_rows = f"{top}:{numbers}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToHeight = 0
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
