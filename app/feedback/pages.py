"""The citizen's feedback and rating pages (plain HTML forms, no JavaScript needed), in the look of
/tra-cuu: the general feedback form (/tra-cuu/gop-y), the rating page a link opens
(/tra-cuu/danh-gia/{token}) and the confirmation / error page. The dossier's own feedback section
is the partial `citizen/_feedback.html`, included in the lookup result."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from app.feedback.schemas import CRITERIA, LEVEL_LABELS, FeedbackReceipt
from app.feedback.service import local_text, rated
from app.models import Dossier, DossierStatus, Procedure
from app.settings import Settings
from app.web import citizen_page

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # a rating link's token never leaves in a Referer
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
}
FIELD_MESSAGES = {
    "full_name": "Vui lòng nhập họ và tên (từ 2 ký tự).",
    "phone": "Vui lòng nhập số điện thoại hợp lệ (8–20 chữ số).",
    "procedure_code": "Vui lòng chọn thủ tục được phản ánh.",
    "content": "Nội dung phản ánh cần từ 10 đến 2.000 ký tự.",
}


def _render(name: str, **context: Any) -> str:
    css = f"/tra-cuu/static/citizen.css?v={citizen_page.asset_version('citizen.css')}"
    return citizen_page.environment().get_template(f"citizen/{name}").render(css_url=css, criteria=CRITERIA,
                                                                            levels=LEVEL_LABELS, **context)


def render_general(session: Session, *, values: dict[str, str] | None = None,
                   field_errors: dict[str, str] | None = None, error: str | None = None) -> str:
    procedures = session.exec(select(Procedure.code, Procedure.name).where(Procedure.is_active)
                              .order_by(Procedure.code)).all()
    return _render("feedback_general.html", procedures=procedures, values=values or {},
                   field_errors=field_errors or {}, error=error or ("Vui lòng kiểm tra các ô được đánh dấu."
                                                                   if field_errors else None))


def render_received(receipt: FeedbackReceipt, settings: Settings) -> str:
    message = (f"{receipt.agency_name} đã tiếp nhận phản ánh, kiến nghị số {receipt.reference} và sẽ trả lời "
               f"trước {local_text(receipt.due_at, settings)}. Câu trả lời được gửi qua tin nhắn (SMS) hoặc thư điện "
               "tử; phản ánh về hồ sơ còn xem được khi tra cứu hồ sơ.")
    return render_message("Đã gửi phản ánh, kiến nghị", message, ok=True, reference=receipt.reference)


def render_message(title: str, message: str, *, ok: bool = False, reference: str | None = None) -> str:
    return _render("feedback_done.html", title=title, message=message, ok=ok, reference=reference)


def render_rating(session: Session, dossier_id: int, token: str, *, error: str | None = None) -> str:
    dossier = session.get(Dossier, dossier_id)
    procedure = session.get(Procedure, dossier.procedure_id) if dossier else None
    if dossier is None or procedure is None:
        return render_message("Không mở được trang đánh giá", "Không tìm thấy hồ sơ.")
    if dossier.status != DossierStatus.returned:
        note = "Hồ sơ chưa trả kết quả; ông/bà đánh giá được sau khi nhận kết quả."
    elif rated(session, dossier_id):
        note = "Hồ sơ này đã được đánh giá. Cảm ơn ông/bà."
    else:
        note = None
    return _render("rating.html", code=dossier.code, procedure_name=procedure.name, token=token, note=note,
                   error=error)
