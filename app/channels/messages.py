"""Vietnamese messages to the applicant, one per dossier event that concerns them: an e-mail
(`render`: subject and full text, signed with the agency's name) and an SMS (`sms_text`: the
agency, the dossier code and what to do, within two SMS segments)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.models import Dossier, Procedure

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def when_text(value: datetime | None) -> str:
    return value.astimezone(VN).strftime("%H giờ %M ngày %d/%m/%Y") if value else "(chưa xác định)"


def render(kind: str, dossier: Dossier, procedure: Procedure, *, extra: str | None = None,
           agency_name: str | None = None) -> tuple[str, str]:
    """(subject, text) for a notification `kind`; the text is signed with `agency_name` when given."""
    subject, text = _render(kind, dossier, procedure, extra=extra)
    return subject, (f"{text}\n\n{agency_name}" if agency_name else text)


def _render(kind: str, dossier: Dossier, procedure: Procedure, *, extra: str | None) -> tuple[str, str]:
    name = procedure.name
    code = dossier.code
    if kind == "received":
        return ("Đã tiếp nhận hồ sơ " + code,
                f"Hồ sơ {code} ({name}) đã được tiếp nhận lúc {when_text(dossier.received_at)}. "
                f"Ngày hẹn trả kết quả: {when_text(dossier.due_at)}. Tra cứu bằng mã hồ sơ và mã tra cứu in trên giấy tiếp nhận.")
    if kind == "submitted":
        return ("Đã nhận hồ sơ trực tuyến " + code,
                f"Hồ sơ trực tuyến {code} ({name}) đã được gửi tới cơ quan và đang chờ tiếp nhận. "
                f"Mã tra cứu: {extra}. Vui lòng giữ kín mã này.")
    if kind == "supplement_requested":
        return ("Yêu cầu bổ sung hồ sơ " + code,
                f"Hồ sơ {code} ({name}) cần bổ sung, hoàn thiện: {extra or 'xem phiếu yêu cầu bổ sung'}. "
                "Vui lòng bổ sung một lần đầy đủ theo phiếu.")
    if kind == "refused":
        return ("Từ chối tiếp nhận hồ sơ " + code, f"Hồ sơ {code} ({name}) không được tiếp nhận. Lý do: {extra or ''}.")
    if kind == "result_ready":
        return ("Đã có kết quả hồ sơ " + code,
                f"Hồ sơ {code} ({name}) đã có kết quả. Mời ông/bà nhận kết quả theo hình thức đã đăng ký.")
    if kind == "apology_issued":
        return ("Thư xin lỗi và hẹn lại ngày trả kết quả hồ sơ " + code,
                f"Cơ quan xin lỗi vì hồ sơ {code} ({name}) chưa giải quyết kịp hạn. Lý do: {extra or ''}. "
                f"Ngày hẹn trả mới: {when_text(dossier.new_due_at)}.")
    if kind == "deadline_moved":
        return ("Dời ngày hẹn trả kết quả hồ sơ " + code,
                f"Ngày hẹn trả kết quả hồ sơ {code} ({name}) được dời sang {when_text(dossier.due_at)} "
                f"do thay đổi lịch làm việc: {extra or ''}.")
    if kind == "supplement_received":
        return ("Đã nhận hồ sơ bổ sung " + code,
                f"Cơ quan đã nhận đủ hồ sơ bổ sung của hồ sơ {code} ({name}). "
                f"Ngày hẹn trả kết quả: {when_text(dossier.due_at)}.")
    if kind == "payment_requested":
        return ("Đề nghị nộp phí, lệ phí hồ sơ " + code,
                f"Hồ sơ {code} ({name}) cần nộp phí, lệ phí {extra or ''}. Nộp tiền mặt hoặc chuyển khoản tại "
                "Bộ phận Một cửa (nhận biên lai điện tử); thời hạn giải quyết tạm dừng đến khi nộp xong.")
    if kind == "payment_confirmed":
        return ("Đã nhận phí, lệ phí hồ sơ " + code,
                f"Cơ quan đã nhận phí, lệ phí của hồ sơ {code} ({name}). "
                f"Ngày hẹn trả kết quả: {when_text(dossier.due_at)}.")
    if kind == "returned":
        # `extra`: the signed rating link (app/feedback/links.py), never the lookup secret.
        rate = (f" Mời ông/bà đánh giá mức độ hài lòng về việc giải quyết hồ sơ tại: {extra}" if extra else "")
        return ("Đã trả kết quả hồ sơ " + code,
                f"Kết quả hồ sơ {code} ({name}) đã được trả lúc {when_text(dossier.returned_at)}.{rate}")
    if kind == "stopped":
        return ("Dừng giải quyết hồ sơ " + code, f"Hồ sơ {code} ({name}) đã dừng giải quyết. Lý do: {extra or ''}.")
    raise ValueError(f"unknown notification kind {kind}")


# --- SMS ------------------------------------------------------------------------------------------

# Vietnamese needs its diacritics, which GSM-7 lacks: every SMS is counted as UCS-2, 67 UTF-16 code
# units per segment of a concatenated message, and two segments at most (134 units), whatever the text.
SMS_SEGMENT_UNITS = 67
SMS_MAX_SEGMENTS = 2
SMS_MAX_UNITS = SMS_SEGMENT_UNITS * SMS_MAX_SEGMENTS
_MIN_EXTRA = 24  # of a reason or a list of items, keep at least this much before shortening the agency

_SMS: dict[str, str] = {
    "received": "{agency}: đã tiếp nhận hồ sơ {code}. Hẹn trả kết quả {due}.",
    "submitted": "{agency}: đã nhận hồ sơ trực tuyến {code}. Mã tra cứu {extra}, vui lòng giữ kín.",
    "supplement_requested": "{agency}: hồ sơ {code} cần bổ sung: {extra}.",
    "refused": "{agency}: hồ sơ {code} không được tiếp nhận. Lý do: {extra}.",
    "result_ready": "{agency}: hồ sơ {code} đã có kết quả. Mời ông/bà nhận theo hình thức đã đăng ký.",
    "apology_issued": "{agency} xin lỗi vì hồ sơ {code} trễ hẹn; hẹn trả mới {new_due}.",
    "deadline_moved": "{agency}: hẹn trả hồ sơ {code} dời sang {due} do thay đổi lịch làm việc.",
    "supplement_received": "{agency}: đã nhận giấy tờ bổ sung hồ sơ {code}. Hẹn trả kết quả {due}.",
    "payment_requested": "{agency}: hồ sơ {code} cần nộp phí, lệ phí {extra} tại Bộ phận Một cửa.",
    "payment_confirmed": "{agency}: đã nhận phí, lệ phí hồ sơ {code}. Hẹn trả kết quả {due}.",
    "returned": "{agency}: đã trả kết quả hồ sơ {code} lúc {returned}.",
    "stopped": "{agency}: hồ sơ {code} đã dừng giải quyết. Lý do: {extra}.",
}
SMS_KINDS = tuple(_SMS)
_WHOLE_EXTRA = {"submitted", "payment_requested"}  # the lookup secret, an amount: never cut


def sms_units(text: str) -> int:
    """UTF-16 code units: what a UCS-2 SMS counts."""
    return len(text.encode("utf-16-le")) // 2


def _short_when(value: datetime | None) -> str:
    return value.astimezone(VN).strftime("%H:%M ngày %d/%m/%Y") if value else "(chưa xác định)"


def _cut(text: str, units: int) -> str:
    """`text` within `units`, cut after a whole word when one ends near the limit, marked with "…"."""
    if sms_units(text) <= units:
        return text
    while text and sms_units(text) > units - 1:
        text = text[:-1]
    if " " in text[-12:]:
        text = text[:text.rindex(" ")]
    return text.rstrip(" ,;.-(") + "…"


def sms_text(kind: str, dossier: Dossier, *, agency_name: str, agency_short_name: str | None = None,
             extra: str | None = None) -> str:
    """The SMS of a notification `kind`: it names the agency and fits SMS_MAX_SEGMENTS UCS-2 segments
    (SMS_MAX_UNITS = 134 UTF-16 code units; see above why never GSM-7's 2 × 153).

    When the text would be longer: first the free text (a reason, the items to supplement) is cut
    with "…", down to _MIN_EXTRA units; then the agency's short name stands for its full name; last
    the name itself is cut. The dossier code, the dates, the amount and the lookup secret are never
    cut. The e-mail (`render`) carries the whole text.
    """
    template = _SMS[kind]
    fields = {"code": dossier.code, "due": _short_when(dossier.due_at), "new_due": _short_when(dossier.new_due_at),
              "returned": _short_when(dossier.returned_at)}

    def build(agency: str, free: str) -> str:
        return _tidy(template.format(agency=agency, extra=free, **fields))

    free = (extra or "").strip() or ("xem phiếu yêu cầu bổ sung" if kind == "supplement_requested" else "không nêu")
    cuttable = "{extra}" in template and kind not in _WHOLE_EXTRA
    names = [agency_name] + ([agency_short_name] if agency_short_name else [])
    for name in names:
        if not cuttable:
            if sms_units(text := build(name, free)) <= SMS_MAX_UNITS:
                return text
        elif (room := SMS_MAX_UNITS - sms_units(build(name, ""))) >= min(sms_units(free), _MIN_EXTRA):
            return build(name, _cut(free, room))
    if cuttable:
        free = _cut(free, _MIN_EXTRA)
    return build(_cut(names[-1], SMS_MAX_UNITS - sms_units(build("", free))), free)


def _tidy(text: str) -> str:
    return text.replace("….", "…")


# --- to officials: deadline alerts and the leaders' daily digest ------------------------------

ALERT_LABELS: dict[str, str] = {
    "step_due_soon": "Bước xử lý sắp đến hạn",
    "step_overdue": "Bước xử lý quá hạn",
    "due_soon": "Hồ sơ sắp đến hạn trả kết quả",
    "overdue": "Hồ sơ quá hạn trả kết quả",
    "apology_missing": "Hồ sơ quá hạn chưa có văn bản xin lỗi",
    "check_overdue": "Hồ sơ trực tuyến chưa được kiểm tra trong một ngày làm việc",
    "portal_backlog": "Đồng bộ Cổng DVCQG bị tồn đọng",
    "feedback_due_soon": "Phản ánh, kiến nghị sắp đến hạn trả lời",
    "feedback_overdue": "Phản ánh, kiến nghị quá hạn trả lời",
}


def alert_text(kind: str, *, code: str, procedure_name: str, deadline: datetime, step_name: str | None = None,
               is_new_appointment: bool = False) -> str:
    """The in-app alert line for a deadline threshold (no applicant data: officials open the dossier)."""
    appointment = "ngày hẹn trả mới" if is_new_appointment else "ngày hẹn trả kết quả"
    if kind == "step_due_soon":
        text = f"Hồ sơ {code}: bước “{step_name or ''}” sắp đến hạn ({when_text(deadline)})."
    elif kind == "step_overdue":
        text = f"Hồ sơ {code}: bước “{step_name or ''}” đã quá hạn ({when_text(deadline)})."
    elif kind == "due_soon":
        text = (f"Hồ sơ {code} ({procedure_name}) sắp đến {appointment} ({when_text(deadline)}). "
                "Cần hoàn thành, hoặc lập văn bản xin lỗi và hẹn lại ngày trả kết quả (mẫu 04).")
    elif kind == "overdue":
        text = f"Hồ sơ {code} ({procedure_name}) đã quá {appointment} ({when_text(deadline)})."
    elif kind == "check_overdue":
        text = (f"Hồ sơ trực tuyến {code} ({procedure_name}) nộp đã quá một ngày làm việc ({when_text(deadline)}) "
                "mà Bộ phận Một cửa chưa kiểm tra: cần tiếp nhận, yêu cầu bổ sung hoặc từ chối.")
    elif kind == "apology_missing":
        text = (f"Hồ sơ {code} ({procedure_name}) đã quá hạn trả kết quả nhưng chưa ban hành văn bản xin lỗi "
                "và hẹn lại ngày trả kết quả (mẫu 04).")
    else:
        raise ValueError(f"unknown alert kind {kind}")
    return text[:1000]


def digest(*, agency_name: str, day: datetime, overdue: int, due_soon: int, apology_drafts: int) -> tuple[str, str]:
    """(subject, text) of a leader's daily summary."""
    when = day.astimezone(VN).strftime("%d/%m/%Y")
    return (f"Tổng hợp hồ sơ ngày {when}",
            f"{agency_name}: {overdue} hồ sơ quá hạn, {due_soon} hồ sơ sắp đến hạn đang giải quyết; "
            f"{apology_drafts} văn bản xin lỗi, hẹn lại (mẫu 04) đang chờ ban hành. "
            "Xem chi tiết tại mục Cảnh báo của hệ thống Một cửa.")


# --- citizens' feedback (app/feedback) ------------------------------------------------------------

def feedback_alert_text(kind: str, *, reference: str, subject: str, deadline: datetime) -> str:
    """The in-app alert on unanswered feedback (no sender data: officials open the feedback)."""
    if kind == "feedback_due_soon":
        text = (f"Phản ánh, kiến nghị {reference} ({subject}) sắp đến hạn trả lời ({when_text(deadline)}). "
                "Cần trả lời người dân trước hạn.")
    elif kind == "feedback_overdue":
        text = f"Phản ánh, kiến nghị {reference} ({subject}) đã quá hạn trả lời ({when_text(deadline)})."
    else:
        raise ValueError(f"unknown feedback alert kind {kind}")
    return text[:1000]


def feedback_received(*, reference: str, due_at: datetime) -> tuple[str, str]:
    """(subject, text) acknowledging a citizen's feedback."""
    return (f"Đã tiếp nhận phản ánh, kiến nghị {reference}",
            f"Cơ quan đã tiếp nhận phản ánh, kiến nghị {reference} của ông/bà và sẽ trả lời trước "
            f"{when_text(due_at)}.")


def feedback_answered(*, reference: str, answer: str, dossier_code: str | None) -> tuple[str, str]:
    """(subject, text) carrying the agency's answer to the citizen."""
    about = f" về hồ sơ {dossier_code}" if dossier_code else ""
    tail = " Xem lại tại trang Tra cứu hồ sơ." if dossier_code else ""
    return (f"Trả lời phản ánh, kiến nghị {reference}",
            f"Trả lời phản ánh, kiến nghị {reference}{about}: {answer}{tail}")
