"""The periodic report as XLSX (the usual two-level table) and CSV (UTF-8 with BOM, for Excel).

Both take the `PeriodicReport` the JSON endpoint returns, so the three never disagree.

The XLSX is the report as officials file it: the agency and the national motto on top, the title
and the period, the two-level table with both on-time rates (resolved-only and strict, see
docs/REPORTS.md), a totals row of SUM formulas, and the signature block (người lập biểu, thủ
trưởng đơn vị); landscape, fit to one page wide. openpyxl writes a formula without its value, so
the value the report computed is written into each formula cell as its cached value
(`_cache_values`): a viewer that does not recalculate, or a reader with `data_only`, shows the
numbers, and Excel recalculates on opening anyway (`fullCalcOnLoad`).

Text that comes from data (agency and procedure names and codes, filter values) can start with a
character a spreadsheet reads as a formula (`=`, `+`, `-`, `@`, tab, CR: CSV/formula injection).
CSV neutralises such a cell with a leading `'` (OWASP); XLSX stores every text cell as a string,
never as a formula, with Excel's quote prefix on the risky ones so editing keeps them text.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from xml.sax.saxutils import escape
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from app.reports.queries import rates
from app.reports.schemas import Counts, PeriodicReport


@dataclass(frozen=True)
class Column:
    group: str  # first header level ("" for the leading identification columns)
    title: str  # second header level (same as group for a single column)
    value: Callable[[Counts], int]
    width: float = 11


def _f(name: str) -> Callable[[Counts], int]:
    def value(c: Counts) -> int:
        return int(getattr(c, name))

    value.field = name  # type: ignore[attr-defined]
    return value


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
NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
RATES = "Tỷ lệ giải quyết đúng hạn (%)"
RATE_TITLES = ("Trên số hồ sơ đã giải quyết", "Cách tính chặt: tính cả hồ sơ đang giải quyết quá hạn")
PREPARER, HEAD = "NGƯỜI LẬP BIỂU", "THỦ TRƯỞNG ĐƠN VỊ"
# Rows of the XLSX: the header block, the two-level table header, the first data row.
TITLE_ROW, PERIOD_ROW, HEADER_ROW, FIRST_ROW = 4, 5, 7, 10


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
                                         for c in COUNT_COLUMNS] + [f"{RATES} - {t}" for t in RATE_TITLES]


def _rates(counts: Counts) -> list[float | None]:
    only, strict = rates({k: int(getattr(counts, k)) for k in Counts.model_fields})
    return [only.value, strict.value]


def _table(report: PeriodicReport) -> list[list[object]]:
    rows: list[list[object]] = [[i, r.procedure_code, r.procedure_name] + [c.value(r) for c in COUNT_COLUMNS]
                                + _rates(r) for i, r in enumerate(report.rows, start=1)]
    rows.append(["", "", TOTAL_LABEL] + [c.value(report.totals) for c in COUNT_COLUMNS] + _rates(report.totals))
    return rows


def _col(field: str) -> str:
    """Column letter of the count `field` (the rate formulas read it)."""
    index = next(i for i, c in enumerate(COUNT_COLUMNS) if getattr(c.value, "field", None) == field)
    return get_column_letter(len(LEAD) + 1 + index)


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


def _rate_formulas(row: int) -> tuple[str, str]:
    """The two on-time rates of a table row, as the report computes them (app.reports.queries.rates)."""
    resolved, early, on_time, late = (f"{_col(f)}{row}" for f in ("resolved_total", "resolved_early",
                                                                   "resolved_on_time", "resolved_late"))
    carried, received, overdue = (f"{_col(f)}{row}" for f in ("carried_over", "received_total", "in_progress_overdue"))
    books = f"({received}+{carried})"
    return (f'=IF({resolved}=0,"",ROUND(100*({early}+{on_time})/{resolved},2))',
            f'=IF({books}=0,"",ROUND(100*({books}-{late}-{overdue})/{books},2))')


def to_xlsx(report: PeriodicReport, *, generated_at: datetime, tz: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Báo cáo"
    font = "Times New Roman"
    thin = Side(style="thin", color="000000")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)
    bold = Font(name=font, bold=True, size=11)
    normal = Font(name=font, size=11)
    italic = Font(name=font, italic=True, size=11)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    n_counts = len(COUNT_COLUMNS)
    n_cols = len(LEAD) + n_counts + len(RATE_TITLES)
    last = get_column_letter(n_cols)
    right = n_cols - 11  # the national header and the head's signature sit over the last twelve columns

    def put(row: int, first: int, end: int, text: str, style: Font) -> None:
        ws.merge_cells(start_row=row, start_column=first, end_row=row, end_column=end)
        cell = xlsx_cell(ws, row, first, text)
        cell.font, cell.alignment = style, center

    put(1, 1, len(LEAD), report.agency.name.upper(), bold)
    put(1, right, n_cols, NATION, bold)
    put(2, right, n_cols, MOTTO, Font(name=font, bold=True, size=12, underline="single"))
    for row, (text, style) in ((TITLE_ROW, (TITLE, Font(name=font, bold=True, size=14))),
                               (PERIOD_ROW, (_subtitle(report), italic))):
        ws.merge_cells(f"A{row}:{last}{row}")
        cell = xlsx_cell(ws, row, 1, text)
        cell.font, cell.alignment = style, center
    ws.row_dimensions[1].height = 30
    ws.row_dimensions[TITLE_ROW].height = 24
    stamp = generated_at.astimezone(ZoneInfo(tz))
    note = ws.cell(row=PERIOD_ROW + 1, column=n_cols, value=f"Lập lúc {stamp:%H:%M %d/%m/%Y}. Đơn vị tính: hồ sơ")
    note.font, note.alignment = Font(name=font, italic=True, size=10), Alignment(horizontal="right")

    top, sub, numbers = HEADER_ROW, HEADER_ROW + 1, HEADER_ROW + 2
    for col, (name, width) in enumerate(LEAD, start=1):
        ws.merge_cells(start_row=top, start_column=col, end_row=sub, end_column=col)
        ws.cell(row=top, column=col, value=name)
        ws.column_dimensions[get_column_letter(col)].width = width
    col = len(LEAD) + 1
    groups: list[tuple[str, int, int]] = []
    titled = [(c.group, c.title, c.width) for c in COUNT_COLUMNS] + [(RATES, t, 14) for t in RATE_TITLES]
    for group, title, width in titled:
        if groups and groups[-1][0] == group:
            groups[-1] = (group, groups[-1][1], col)
        else:
            groups.append((group, col, col))
        ws.column_dimensions[get_column_letter(col)].width = width
        if group != title:
            ws.cell(row=sub, column=col, value=title)
        col += 1
    for name, first, end in groups:
        if first == end and titled[first - len(LEAD) - 1][1] == name:
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
    ws.row_dimensions[sub].height = 60

    table = _table(report)
    cached: dict[str, object] = {}
    first_data, total_row = FIRST_ROW, FIRST_ROW + len(table) - 1
    for offset, values in enumerate(table):
        row = FIRST_ROW + offset
        is_total = row == total_row
        formulas: dict[int, str] = {}
        if is_total and len(table) > 1:  # totals: a SUM of the rows above (an empty report keeps its zeros)
            formulas = {c: f"=SUM({get_column_letter(c)}{first_data}:{get_column_letter(c)}{row - 1})"
                        for c in range(len(LEAD) + 1, len(LEAD) + n_counts + 1)}
        formulas.update(zip(range(len(LEAD) + n_counts + 1, n_cols + 1), _rate_formulas(row)))
        for col, value in enumerate(values, start=1):
            if col in formulas:
                cell = ws.cell(row=row, column=col, value=formulas[col])
                cached[cell.coordinate] = value
            else:
                cell = xlsx_cell(ws, row, col, value)
            cell.border = border
            cell.font = bold if is_total else normal
            if col == 3:
                cell.alignment = Alignment(vertical="center", wrap_text=True,
                                           horizontal="center" if is_total else "left")
            else:
                cell.alignment = Alignment(horizontal="center", vertical="center")
            if col > len(LEAD):
                cell.number_format = "#,##0" if col <= len(LEAD) + n_counts else "0.00"

    # The signature block: the preparer on the left, the head of the agency on the right.
    sign = total_row + 2
    put(sign, right, n_cols, f"……………, ngày … tháng … năm {stamp.year}", italic)
    put(sign + 1, 1, len(LEAD), PREPARER, bold)
    put(sign + 1, right, n_cols, HEAD, bold)
    put(sign + 2, 1, len(LEAD), "(Ký, ghi rõ họ tên)", italic)
    put(sign + 2, right, n_cols, "(Ký tên, đóng dấu)", italic)

    ws.freeze_panes = ws.cell(row=FIRST_ROW, column=len(LEAD) + 1)
    ws.print_title_rows = f"{top}:{numbers}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToHeight = 0
    wb.calculation.fullCalcOnLoad = True
    buffer = io.BytesIO()
    wb.save(buffer)
    return _cache_values(buffer.getvalue(), cached)


_FORMULA_CELL = re.compile(r'<c r="([A-Z]+[0-9]+)"([^>]*)><f>(.*?)</f><v\s*/?>(?:</v>)?</c>', re.S)


def _cache_values(xlsx: bytes, cached: dict[str, object]) -> bytes:
    """Write each formula's value (computed by the report) as the cell's cached value in the sheet XML."""
    def cell(match: re.Match[str]) -> str:
        ref, attrs, formula = match.groups()
        value = cached.get(ref)
        if value is None or value == "":
            return f'<c r="{ref}"{attrs} t="str"><f>{formula}</f><v></v></c>'
        return f'<c r="{ref}"{attrs}><f>{formula}</f><v>{escape(str(value))}</v></c>'

    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = _FORMULA_CELL.sub(cell, data.decode("utf-8")).encode("utf-8")
            target.writestr(item, data)
    return out.getvalue()
