"""XLSX and CSV exports of the periodic report reconcile with the JSON."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.reports.test_reports_api import COUNTS, resolve
from tests.workflows.test_scenarios import act, intake_body, receive

# JSON count -> the XLSX/CSV column (1-based) under the two-level header.
COLUMN_OF = {"carried_over": 5, "received_total": 6, "new_online": 7, "new_direct": 8, "new_postal": 9,
             "resolved_total": 10, "resolved_early": 11, "resolved_on_time": 12, "resolved_late": 13,
             "in_progress_total": 14, "in_progress_within": 15, "in_progress_overdue": 16,
             "awaiting_supplement": 17, "withdrawn_or_refused": 18, "returned_by_post": 19, "apologies": 20,
             "not_received_total": 21, "refused_at_reception": 22, "online_not_accepted": 23,
             "withdrawn_before_receipt": 24, "apologies_late": 25, "online_checked_late": 26,
             "online_unchecked_overdue": 27, "late_caused_here": 28, "late_caused_elsewhere": 29}


def _some_dossiers(client, login):
    desk = login("motcua")
    d1 = resolve(client, login, receive(client, login))
    act(client, desk, d1, "return_result", method="postal", tracking_number="EMS000555VN")
    receive(client, login, channel="postal", postal={"tracking_number": "EMS000666VN"})
    receive(client, login, "1.005092")
    client.post("/api/v1/dossiers", json=intake_body(decision="refuse", reason="Sai thẩm quyền"), headers=desk)


def test_xlsx_reconciles_with_json(client, login):
    _some_dossiers(client, login)
    headers = login("baocao")
    report = client.get("/api/v1/reports/periodic", params={"period": "2026-Q4"}, headers=headers).json()
    response = client.get("/api/v1/reports/periodic.xlsx", params={"period": "2026-Q4"}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="bao-cao-dinh-ky_000.00.17.H26_2026-Q4.xlsx"' in response.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(response.content), data_only=True).active  # the cached values
    assert report["agency"]["name"].upper() == ws["A1"].value
    assert "Quý IV năm 2026" in ws["A5"].value
    # Two-level header: group headers over their sub-columns, merged.
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert ws["D7"].value == "Số hồ sơ nhận giải quyết" and "D7:I7" in merged
    assert ws["J7"].value == "Số hồ sơ đã giải quyết" and "J7:M7" in merged
    assert ws["N7"].value == "Số hồ sơ đang giải quyết" and "N7:Q7" in merged
    assert (ws["D8"].value, ws["E8"].value, ws["K8"].value, ws["M8"].value) == (
        "Tổng số", "Kỳ trước chuyển sang", "Trước hạn", "Quá hạn")
    assert ws.freeze_panes == "D10"
    assert ws["A10"].border.left.style == "thin" and ws.column_dimensions["C"].width >= 40

    rows = list(ws.iter_rows(min_row=10, max_row=10 + len(report["rows"]), values_only=True))
    assert len(rows) == len(report["rows"]) + 1
    for json_row, sheet_row in zip(report["rows"], rows):
        assert sheet_row[1] == json_row["procedure_code"] and sheet_row[2] == json_row["procedure_name"]
        assert sheet_row[3] == json_row["carried_over"] + json_row["received_total"]
        assert {k: sheet_row[c - 1] for k, c in COLUMN_OF.items()} == {k: json_row[k] for k in COUNTS}
    totals = rows[-1]
    assert totals[2] == "Tổng cộng"
    assert {k: totals[c - 1] for k, c in COLUMN_OF.items()} == report["totals"]
    # The dossier refused at the desk was never received: its own column, not "mới tiếp nhận".
    assert report["totals"]["received_total"] == 3 and report["totals"]["returned_by_post"] == 1
    assert (report["totals"]["not_received_total"], report["totals"]["refused_at_reception"]) == (1, 1)
    assert ws["U7"].value == "Số hồ sơ không tiếp nhận" and "U7:X7" in merged


def test_csv_has_bom_and_the_same_numbers(client, login):
    _some_dossiers(client, login)
    headers = login("giamdoc")
    report = client.get("/api/v1/reports/periodic", params={"period": "2026-11"}, headers=headers).json()
    response = client.get("/api/v1/reports/periodic.csv", params={"period": "2026-11"}, headers=headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert table[0][:4] == ["STT", "Mã thủ tục", "Tên thủ tục hành chính", "Số hồ sơ nhận giải quyết - Tổng số"]
    assert table[0][COLUMN_OF["resolved_early"] - 1] == "Số hồ sơ đã giải quyết - Trước hạn"
    assert len(table) == len(report["rows"]) + 2
    for json_row, line in zip(report["rows"], table[1:]):
        assert {k: int(line[c - 1]) for k, c in COLUMN_OF.items()} == {k: json_row[k] for k in COUNTS}
    assert {k: int(table[-1][c - 1]) for k, c in COLUMN_OF.items()} == report["totals"]


def test_export_needs_the_role_and_a_valid_period(client, login):
    assert client.get("/api/v1/reports/periodic.xlsx", params={"period": "2026-Q4"},
                      headers=login("motcua")).status_code == 403
    bad = client.get("/api/v1/reports/periodic.csv", params={"period": "Q4"}, headers=login("baocao"))
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_period"
    empty = client.get("/api/v1/reports/periodic.xlsx", params={"period": "2020"}, headers=login("baocao"))
    ws = load_workbook(io.BytesIO(empty.content)).active
    assert ws["C10"].value == "Tổng cộng" and ws["D10"].value == 0


RISKY = ["=HYPERLINK(\"http://x.invalid\",\"Bấm\")", "+1+1", "-2+3", "@SUM(1,1)", "\tTab", "\rCR"]


def test_formula_like_text_is_neutralised(client, login, session):
    """Issue 12, point 9: a name starting with = + - @ tab or CR is text in both exports, never a formula."""
    from sqlalchemy import update

    from app.models import Agency, Procedure

    codes = ["2.001914", "1.005092", "1.004889", "1.006388", "2.002855", "1.000288"]
    for code, name in zip(codes, RISKY):
        session.execute(update(Procedure).where(Procedure.code == code).values(name=name))
    session.execute(update(Agency).where(Agency.code == "000.00.17.H26").values(name="=1+1 Sở"))
    session.commit()
    for code in codes:
        receive(client, login, code)
    headers = login("baocao")
    response = client.get("/api/v1/reports/periodic.csv", params={"period": "2026-11"}, headers=headers)
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    names = {line[1]: line[2] for line in table[1:-1]}
    assert names == {code: "'" + name for code, name in zip(codes, RISKY)}
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for line in table for cell in line)

    response = client.get("/api/v1/reports/periodic.xlsx", params={"period": "2026-11"}, headers=headers)
    ws = load_workbook(io.BytesIO(response.content)).active
    # Formulas only where the exporter writes them (the totals' SUMs, the rates), never from data.
    formulas = [cell for row in ws.iter_rows() for cell in row if cell.data_type == "f"]
    assert formulas and all(c.value.startswith(("=SUM(", "=IF(")) for c in formulas)
    assert all(c.column > 3 for c in formulas)
    assert ws["A1"].value == "=1+1 SỞ" and ws["A1"].data_type == "s"
    sheet = {ws.cell(row=r, column=2).value: ws.cell(row=r, column=3) for r in range(10, 10 + len(codes))}
    for code, name in zip(codes, RISKY):
        # (XML reads a bare CR back as LF: the text is the same line break)
        assert sheet[code].value in (name, name.replace("\r", "\n"))
        assert sheet[code].data_type == "s" and sheet[code].quotePrefix


def test_xlsx_is_filed_as_officials_file_it(client, login):
    """Issue 16, item 8: national header, period, both on-time rates, totals as formulas with cached
    values, signature block, landscape one page wide."""
    _some_dossiers(client, login)
    headers = login("baocao")
    report = client.get("/api/v1/reports/periodic", params={"period": "2026-Q4"}, headers=headers).json()
    content = client.get("/api/v1/reports/periodic.xlsx", params={"period": "2026-Q4"}, headers=headers).content
    formulas, values = (load_workbook(io.BytesIO(content), data_only=d).active for d in (False, True))
    texts = [str(c.value) for row in values.iter_rows() for c in row if c.value is not None]
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in texts and "Độc lập - Tự do - Hạnh phúc" in texts
    assert values["A1"].value == report["agency"]["name"].upper()
    assert "từ ngày 01/10/2026 đến ngày 31/12/2026" in values["A5"].value
    from openpyxl.utils import get_column_letter

    from app.reports.export import COUNT_COLUMNS

    last = 3 + len(COUNT_COLUMNS)  # the count columns follow STT, code and name; then the two rates
    ab, ac = get_column_letter(last + 1), get_column_letter(last + 2)
    assert values[f"{ab}7"].value == "Tỷ lệ giải quyết đúng hạn (%)" and f"{ab}7:{ac}7" in {str(r) for r in values.merged_cells.ranges}
    assert values[f"{ab}8"].value == "Trên số hồ sơ đã giải quyết" and "Cách tính chặt" in values[f"{ac}8"].value

    first, total = 10, 10 + len(report["rows"])
    assert values[f"C{total}"].value == "Tổng cộng"
    for column in range(4, last + 1):  # every count: =SUM of the rows above, its cached value the report's total
        letter = formulas.cell(row=total, column=column).column_letter
        assert formulas.cell(row=total, column=column).value == f"=SUM({letter}{first}:{letter}{total - 1})"
        column_sum = sum(values.cell(row=r, column=column).value for r in range(first, total))
        assert values.cell(row=total, column=column).value == column_sum
    assert {k: values.cell(row=total, column=c).value for k, c in COLUMN_OF.items()} == report["totals"]
    # The two rates: formulas over the row's own counts, cached as the JSON's on-time rates.
    assert formulas[f"{ab}{total}"].value == f'=IF(J{total}=0,"",ROUND(100*(K{total}+L{total})/J{total},2))'
    assert formulas[f"{ac}{total}"].value == (f'=IF((F{total}+E{total})=0,"",ROUND(100*((F{total}+E{total})'
                                           f'-M{total}-P{total})/(F{total}+E{total}),2))')
    t = report["totals"]
    books = t["received_total"] + t["carried_over"]
    assert values[f"{ab}{total}"].value == round(100 * (t["resolved_early"] + t["resolved_on_time"]) / t["resolved_total"], 2)
    assert values[f"{ac}{total}"].value == round(100 * (books - t["resolved_late"] - t["in_progress_overdue"]) / books, 2)
    assert values[f"{ab}{total}"].number_format == "0.00"

    below = [str(values.cell(row=r, column=c).value) for r in range(total + 1, total + 6)
             for c in range(1, values.max_column + 1)]
    assert "NGƯỜI LẬP BIỂU" in below and "THỦ TRƯỞNG ĐƠN VỊ" in below and "(Ký tên, đóng dấu)" in below
    assert values.page_setup.orientation == "landscape" and values.page_setup.fitToWidth == 1
    assert values.sheet_properties.pageSetUpPr.fitToPage
