"""The mock portal's one HTML page (no external assets): the citizen's online submission form,
the submissions waiting to be pulled, and the dossiers synced with their history."""

from __future__ import annotations

import html
import json
from typing import Any

from app.portal.mock_contract import PORTAL_STATUS_LABELS
from app.portal.mock_state import MockPortalState

# ---------------------------------------------------------------- HTML page (no external assets)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f6f8;color:#1d2733}
header{background:#b71c1c;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
section{background:#fff;border-radius:6px;padding:14px 18px;margin-bottom:16px;box-shadow:0 1px 2px #0002}
h2{font-size:17px;margin:4px 0 12px}table{border-collapse:collapse;width:100%;font-size:14px}
th,td{border-bottom:1px solid #e3e6ea;padding:6px 8px;text-align:left;vertical-align:top}th{background:#fafbfc}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;background:#e8eef7;font-size:12px;margin:1px 0}
.s9,.s10{background:#dff3e4}.s3,.s7,.s8{background:#fde2e1}.s5,.s6{background:#fff1cc}
form.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:10px 16px}
label{display:flex;flex-direction:column;font-size:13px;gap:3px}.wide{grid-column:1/-1}
input,select,textarea{font:inherit;padding:6px;border:1px solid #c6ccd3;border-radius:4px}
button{background:#b71c1c;color:#fff;border:0;border-radius:4px;padding:8px 18px;font:inherit;cursor:pointer}
.error{background:#fde2e1;border:1px solid #f5a3a0;padding:8px 12px;border-radius:4px;margin-bottom:10px}
.muted{color:#65717e;font-size:13px}ol{margin:0;padding-left:18px}
"""


def _badge(status: Any) -> str:
    label = PORTAL_STATUS_LABELS.get(status, "?") if isinstance(status, int) else "?"
    return f'<span class="badge s{html.escape(str(status))}">{html.escape(str(status))} · {html.escape(label)}</span>'


def render_page(st: MockPortalState, *, error: str | None = None, form: dict[str, str] | None = None) -> str:
    e = html.escape
    f = form or {}
    with st.lock:
        dossiers = [(c, json.loads(json.dumps(h.as_lookup()))) for c, h in sorted(st.dossiers.items())]
        submissions = [dict(s) for s in reversed(st.submissions)]

    def val(name: str, default: str = "") -> str:
        return e(f.get(name, default), quote=True)

    def opt(name: str, value: str, label: str, default: str) -> str:
        sel = " selected" if f.get(name, default) == value else ""
        return f'<option value="{e(value)}"{sel}>{e(label)}</option>'

    rows = []
    for code, d in dossiers:
        history = "".join(
            f"<li>{_badge(h['TrangThaiHoSo'])} <span class='muted'>{e(h['ThoiDiem'])} · {e(h['DichVu'])}</span></li>"
            for h in d["LichSuTrangThai"]
        )
        steps = "".join(
            f"<li>{e(str(r.get('ThoiDiemXuLy') or ''))} · {e(str(r.get('PhongBanXuLy') or ''))} · "
            f"{e(str(r.get('NoiDungXuLy') or ''))}</li>"
            for r in d["QuaTrinhXuLy"]
        )
        rows.append(
            f"<tr><td><b>{e(code)}</b><br><span class='muted'>{e(str(d.get('MaTTHC') or ''))} "
            f"{e(str(d.get('TenTTHC') or ''))}</span></td><td>{e(str(d.get('ChuHoSo') or ''))}</td>"
            f"<td>{_badge(d.get('TrangThaiHoSo'))}<br><span class='muted'>Hẹn trả: {e(str(d.get('NgayHenTra') or '—'))}</span></td>"
            f"<td><ol>{history}</ol></td><td><ol>{steps or '<span class=muted>—</span>'}</ol></td></tr>"
        )
    dossier_table = (
        "<table><tr><th>Mã hồ sơ</th><th>Chủ hồ sơ</th><th>Trạng thái</th><th>Lịch sử trạng thái</th>"
        "<th>Quá trình xử lý</th></tr>" + "".join(rows) + "</table>"
        if rows else "<p class='muted'>Cổng chưa nhận hồ sơ nào.</p>"
    )
    sub_rows = "".join(
        f"<tr><td>{e(s['portal_id'])}</td><td>{e(s['NgayNopHoSo'])}</td><td>{e(s['MaTTHC'])}</td>"
        f"<td>{e(s['DonViXuLy'])}</td><td>{e(s['ChuHoSo'])}</td><td>{e(s['TrichYeuHoSo'])}</td>"
        f"<td>{e(s['MucDo'])}</td></tr>"
        for s in submissions
    )
    sub_table = (
        "<table><tr><th>Mã Cổng</th><th>Ngày nộp</th><th>Mã TTHC</th><th>Đơn vị</th><th>Chủ hồ sơ</th>"
        "<th>Trích yếu</th><th>Mức độ</th></tr>" + sub_rows + "</table>"
        if sub_rows else "<p class='muted'>Chưa có hồ sơ nộp trực tuyến.</p>"
    )
    legend = " ".join(_badge(code) for code in PORTAL_STATUS_LABELS)
    err = f"<div class='error'>{e(error)}</div>" if error else ""
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Cổng DVCQG (giả lập)</title><style>{_CSS}</style></head>
<body><header><h1>Cổng Dịch vụ công Quốc gia — bản giả lập</h1></header><main>
<section><h2>Nộp hồ sơ trực tuyến (phía công dân)</h2>{err}
<form class="grid" method="post" action="/submissions/form">
<label>Mã thủ tục (MaTTHC)<input name="MaTTHC" required value="{val('MaTTHC', '1.001234')}"></label>
<label>Mã đơn vị xử lý (DonViXuLy)<input name="DonViXuLy" required value="{val('DonViXuLy', '000.00.17.H26')}"></label>
<label>Chủ hồ sơ<input name="ChuHoSo" required value="{val('ChuHoSo')}"></label>
<label>Loại đối tượng<select name="LoaiDoiTuong">{opt('LoaiDoiTuong', '1', 'Công dân', '1')}{opt('LoaiDoiTuong', '2', 'Doanh nghiệp / tổ chức', '1')}</select></label>
<label>Số giấy tờ (CCCD / MST)<input name="SoGiayToChuHoSo" required value="{val('SoGiayToChuHoSo')}"></label>
<label>Số điện thoại<input name="SoDienThoai" value="{val('SoDienThoai')}"></label>
<label>Email<input name="Email" type="email" value="{val('Email')}"></label>
<label>Địa chỉ<input name="DiaChi" value="{val('DiaChi')}"></label>
<label class="wide">Trích yếu hồ sơ<input name="TrichYeuHoSo" required value="{val('TrichYeuHoSo')}"></label>
<label>Mức độ<select name="MucDo">{opt('MucDo', 'toan_trinh', 'Toàn trình', 'toan_trinh')}{opt('MucDo', 'mot_phan', 'Một phần', 'toan_trinh')}</select></label>
<label>Hình thức nhận kết quả<select name="HinhThucNhanKetQua">{opt('HinhThucNhanKetQua', '0', 'Tại bộ phận một cửa', '0')}{opt('HinhThucNhanKetQua', '1', 'Qua bưu chính công ích', '0')}{opt('HinhThucNhanKetQua', '2', 'Trực tuyến', '0')}</select></label>
<label class="wide">Giấy tờ kèm theo (mỗi dòng: Tên giấy tờ | số lượng)<textarea name="GiayTo" rows="3">{e(f.get('GiayTo', 'Tờ khai | 1'))}</textarea></label>
<div class="wide"><button type="submit">Nộp hồ sơ</button></div></form></section>
<section><h2>Hồ sơ nộp trực tuyến chờ bộ phận một cửa lấy về ({len(submissions)})</h2>{sub_table}</section>
<section><h2>Hồ sơ đã đồng bộ lên Cổng ({len(dossiers)}) <a class="muted" href="/">tải lại</a></h2>
<p class="muted">{legend}</p>{dossier_table}</section>
</main></body></html>"""


def parse_papers(text: str) -> list[dict[str, Any]]:
    """One paper per line: ``Tên giấy tờ | số lượng`` (count optional, default 1)."""
    papers = []
    for line in text.splitlines():
        name, _, count = line.partition("|")
        if name.strip():
            papers.append({"TenGiayTo": name.strip(), "SoLuong": int(count.strip() or "1")})
    return papers
