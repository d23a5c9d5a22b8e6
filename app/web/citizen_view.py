"""The citizen's view of a dossier (tra cứu hồ sơ): what a person holding the receipt may see,
once the lookup (`citizen_lookup`) has checked the secret.

The view shows status, dates, the public timeline, apologies, collection and postal tracking;
never staff names, internal notes, id numbers, phones, e-mails or addresses of the applicant.
Only the supplement items and the reason of a refusal or a stop are copied from events, because
the citizen must act on them. No FastAPI import.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from app.esign import links
from app.esign.store import KINDS
from app.feedback import public as feedback_public
from app.feedback.schemas import CitizenFeedbackOut
from app.fields import LocalDateTime
from app.models import (Agency, Apology, ClockState, Dossier, DossierEvent, DossierStatus, Procedure,
                        ReturnMethod, Shipment, SupplementRequest)
from app.payments.public import payments_view
from app.payments.schemas import PublicPaymentOut
from app.settings import Settings
from app.sla.calendar import parse_working_hours
from app.sla.deadlines import OUTCOME_LABELS, PROGRESS_LABELS
from app.web.citizen_clock import CitizenClockOut, citizen_clock
from app.workflows.rules import progress_of
from app.workflows.transitions import STATUS_LABELS, Action, event_label

S = DossierStatus


# --- schemas ---------------------------------------------------------------------------------

class TimelineItem(BaseModel):
    at: LocalDateTime
    date_text: str = Field(description="Ngày (giờ Việt Nam), dd/mm/yyyy")
    action: str
    label: str
    reason: str | None = Field(default=None, description="Lý do từ chối tiếp nhận / dừng xử lý")
    items: list[str] = Field(default_factory=list, description="Giấy tờ cần bổ sung")


class ApologyOut(BaseModel):
    issued_at: LocalDateTime
    issued_text: str
    reason: str | None
    original_due_at: LocalDateTime
    original_due_text: str
    new_due_at: LocalDateTime | None
    new_due_text: str | None
    signer_title: str | None


class DeadlineMoveOut(BaseModel):
    """The appointment moved later by a calendar change (it never moves earlier)."""

    from_text: str
    to_text: str
    reason: str | None


class CollectionOut(BaseModel):
    method: str
    method_label: str
    how: str
    place_name: str
    address: str | None
    phone: str | None
    office_hours: str
    bring: str | None


class ShipmentOut(BaseModel):
    direction: str
    direction_label: str
    carrier: str
    tracking_number: str
    status: str
    status_label: str
    handed_over_text: str | None
    delivered_text: str | None


class ResultDocumentOut(BaseModel):
    file_name: str
    document: str = Field(description="Loại văn bản")
    sha256: str = Field(description="SHA-256 của tệp PDF đã ký số")
    size: int
    signed_at: LocalDateTime
    signed_text: str
    signer_title: str
    url: str = Field(description="Đường dẫn tải ngắn hạn (không chứa mã tra cứu)")
    expires_at: LocalDateTime


class PublicDossierOut(BaseModel):
    code: str
    status: str
    status_label: str
    status_text: str = Field(description="Tình trạng hồ sơ bằng lời cho người dân")
    procedure_code: str
    procedure_name: str
    agency_name: str
    applicant_name: str = Field(description="Họ tên người nộp, đã che một phần")
    channel: str
    channel_label: str
    submitted_at: LocalDateTime | None
    received_at: LocalDateTime | None
    received_text: str | None
    due_at: LocalDateTime | None = Field(description="Ngày hẹn trả kết quả ban đầu")
    due_text: str | None
    new_due_at: LocalDateTime | None = Field(description="Ngày hẹn lại theo văn bản xin lỗi")
    new_due_text: str | None
    appointment_date: str | None = Field(description="Ngày hẹn đang có hiệu lực, dd/mm/yyyy")
    appointment_detail: str | None = Field(description="Thứ và giờ của ngày hẹn đang có hiệu lực")
    progress: str | None
    progress_label: str | None
    outcome: str | None
    outcome_label: str | None
    resolved_text: str | None
    returned_text: str | None
    pending_supplement_items: list[str]
    closing_reason: str | None = Field(description="Lý do từ chối tiếp nhận / dừng xử lý")
    timeline: list[TimelineItem]
    apologies: list[ApologyOut]
    deadline_moves: list[DeadlineMoveOut] = Field(default_factory=list,
                                                  description="Ngày hẹn được dời do thay đổi lịch làm việc")
    collection: CollectionOut | None = Field(
        description="Cách nhận kết quả; không có khi hồ sơ không được tiếp nhận, đã rút hoặc dừng giải quyết")
    shipments: list[ShipmentOut]
    result_document: ResultDocumentOut | None = Field(
        default=None, description="Kết quả điện tử đã ký số: trả trực tuyến khi đã có kết quả; cách khác khi đã trả")
    feedback: CitizenFeedbackOut | None = Field(default=None, description="Phản ánh về hồ sơ, câu trả lời, đánh giá")
    payments: list[PublicPaymentOut] = Field(default_factory=list, description="Phí, lệ phí: phải nộp, biên lai")
    clock: CitizenClockOut | None = Field(default=None, description="Thời hạn đang ở đâu (app/web/citizen_clock.py)")


# --- formatting ------------------------------------------------------------------------------

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
CHANNEL_LABELS = {"direct": "Nộp trực tiếp", "online": "Nộp trực tuyến", "postal": "Nộp qua bưu chính công ích"}
RETURN_LABELS = {
    ReturnMethod.desk: "Nhận trực tiếp tại Bộ phận Một cửa",
    ReturnMethod.postal: "Nhận qua dịch vụ bưu chính công ích",
    ReturnMethod.online: "Nhận trực tuyến trên Cổng Dịch vụ công",
}
SHIPMENT_DIRECTIONS = {"inbound": "Hồ sơ gửi đến cơ quan qua bưu điện",
                       "outbound": "Kết quả gửi đến ông/bà qua bưu điện"}
SHIPMENT_STATUSES = {
    "created": "Đã tạo bưu gửi", "handed_over": "Đã giao cho bưu điện", "in_transit": "Đang vận chuyển",
    "delivered": "Đã phát thành công", "failed": "Phát không thành công", "returned": "Đã chuyển hoàn",
}


def _local(dt: datetime, tz: ZoneInfo) -> datetime:
    return dt.astimezone(tz)


def date_text(dt: datetime | None, tz: ZoneInfo) -> str | None:
    return f"{_local(dt, tz):%d/%m/%Y}" if dt else None


def datetime_text(dt: datetime | None, tz: ZoneInfo) -> str | None:
    return f"{_local(dt, tz):%H:%M} ngày {_local(dt, tz):%d/%m/%Y}" if dt else None


def mask_name(name: str) -> str:
    """Keep the family name, then only the first letter of every other word: "Nguyễn V** A*"."""
    words = name.split()
    if not words:
        return ""
    if len(words) == 1:
        return words[0][0] + "*" * (len(words[0]) - 1)
    return " ".join([words[0], *(w[0] + "*" * (len(w) - 1) for w in words[1:])])


def office_hours_text(spec: str) -> str:
    try:
        periods = parse_working_hours(spec)
    except ValueError:
        periods = parse_working_hours("07:30-11:30,13:00-17:00")
    hours = " và ".join(f"{p.start:%H:%M}–{p.end:%H:%M}" for p in periods)
    return f"Từ Thứ Hai đến Thứ Sáu, {hours} (trừ ngày nghỉ lễ, Tết)"


# --- the view --------------------------------------------------------------------------------

def _timeline(session: Session, dossier: Dossier, tz: ZoneInfo) -> tuple[list[TimelineItem], list[DeadlineMoveOut]]:
    rows = session.exec(select(DossierEvent).where(DossierEvent.dossier_id == dossier.id)
                        .order_by(DossierEvent.seq)).all()  # type: ignore[arg-type]
    items, moves = [], []
    for event in rows:
        data = event.data or {}
        if event.action == "deadline_moved" and data.get("due_before") and data.get("due_after"):
            moves.append(DeadlineMoveOut(from_text=datetime_text(datetime.fromisoformat(data["due_before"]), tz) or "",
                                         to_text=datetime_text(datetime.fromisoformat(data["due_after"]), tz) or "",
                                         reason=data.get("reason")))
        action, reason, supplement = event.action, None, []
        if action == "receive" and data.get("decision") == "refuse":
            action, reason = Action.refuse.value, event.note
        elif action == "receive" and data.get("decision") == "request_supplement":
            action, supplement = Action.request_supplement.value, list(data.get("items") or [])
        elif action == Action.request_supplement:
            supplement = list(data.get("items") or [])
        elif action in (Action.refuse, Action.stop):
            reason = event.note
        label = event_label(action)
        if label is None or action == "import":
            continue  # an internal event with no public meaning
        items.append(TimelineItem(at=event.at, date_text=date_text(event.at, tz) or "", action=action, label=label,
                                  reason=reason, items=[str(i) for i in supplement]))
    return items, moves


def _apologies(session: Session, dossier: Dossier, tz: ZoneInfo) -> list[ApologyOut]:
    if not dossier.apology_count:  # counts the issued ones, the only ones shown: nothing to read
        return []
    rows = session.exec(select(Apology).where(Apology.dossier_id == dossier.id, Apology.status == "issued")
                        .order_by(Apology.issued_at)).all()  # type: ignore[arg-type]
    out = []
    for a in rows:
        issued = a.issued_at or a.drafted_at
        out.append(ApologyOut(issued_at=issued, issued_text=date_text(issued, tz) or "", reason=a.reason,
                              original_due_at=a.original_due_at,
                              original_due_text=datetime_text(a.original_due_at, tz) or "", new_due_at=a.new_due_at,
                              new_due_text=datetime_text(a.new_due_at, tz),
                              # The signer's title as signed ("KT. GIÁM ĐỐC – PHÓ GIÁM ĐỐC"); officials' names
                              # stay off the public page.
                              signer_title=(a.signer_title or "").replace("\n", " – ") or None))
    return out


def _shipments(session: Session, dossier: Dossier, tz: ZoneInfo) -> list[ShipmentOut]:
    rows = session.exec(select(Shipment).where(Shipment.dossier_id == dossier.id)
                        .order_by(Shipment.id)).all()  # type: ignore[arg-type]
    return [ShipmentOut(direction=s.direction, direction_label=SHIPMENT_DIRECTIONS.get(s.direction, s.direction),
                        carrier=s.carrier, tracking_number=s.tracking_number, status=s.status,
                        status_label=SHIPMENT_STATUSES.get(s.status, s.status),
                        handed_over_text=datetime_text(s.handed_over_at, tz),
                        delivered_text=datetime_text(s.delivered_at, tz))
            for s in rows]


NO_RESULT = frozenset({S.refused, S.withdrawn, S.stopped})


def _collection(dossier: Dossier, place: Agency, settings: Settings) -> CollectionOut:
    method = ReturnMethod(dossier.return_method)
    hours = office_hours_text(place.working_hours or settings.working_hours)
    if method == ReturnMethod.postal:
        how = ("Kết quả được gửi qua dịch vụ bưu chính công ích đến địa chỉ ông/bà đã đăng ký; "
               "phí chuyển phát theo quy định của bưu điện.")
        bring = None
    elif method == ReturnMethod.online:
        how = "Kết quả điện tử được trả trên Cổng Dịch vụ công, trong tài khoản ông/bà đã dùng để nộp hồ sơ."
        bring = None
    else:
        how = f"Ông/bà đến nhận kết quả tại Bộ phận Một cửa của {place.name}."
        bring = ("Giấy tiếp nhận hồ sơ và hẹn trả kết quả, giấy tờ tùy thân (căn cước); nếu nhận thay cần có "
                 "giấy ủy quyền.")
    return CollectionOut(method=method.value, method_label=RETURN_LABELS[method], how=how, place_name=place.name,
                         address=place.address, phone=place.phone, office_hours=hours, bring=bring)


def _status_text(dossier: Dossier, procedure: Procedure, handler_name: str, place: Agency, tz: ZoneInfo) -> str:
    status = S(dossier.status)
    if status == S.submitted:
        return "Hồ sơ đã được nộp trực tuyến và đang chờ Bộ phận Một cửa kiểm tra, tiếp nhận."
    if status == S.received:
        return f"Hồ sơ đã được tiếp nhận đầy đủ và đang được chuyển đến {handler_name} để xử lý."
    if status == S.processing:
        return f"Hồ sơ đang được xử lý tại {handler_name}."
    if status == S.awaiting_supplement:
        if dossier.clock_state == ClockState.paused and procedure.supplement_rule == "pause":
            clock = "Thời hạn giải quyết tạm dừng cho đến khi nhận đủ giấy tờ bổ sung."
        else:
            clock = "Thời hạn giải quyết được tính lại từ ngày nhận đủ giấy tờ bổ sung."
        return f"Hồ sơ cần bổ sung, hoàn thiện giấy tờ. Vui lòng nộp bổ sung các giấy tờ được liệt kê. {clock}"
    if status == S.awaiting_payment:
        return ("Hồ sơ đang chờ ông/bà thực hiện nghĩa vụ tài chính (nộp phí, lệ phí). "
                "Thời hạn giải quyết tạm dừng trong thời gian chờ.")
    if status == S.refused:
        return "Hồ sơ không được tiếp nhận giải quyết. Lý do được ghi bên dưới."
    if status == S.withdrawn:
        return "Hồ sơ đã được rút theo đề nghị của người nộp; cơ quan không tiếp tục giải quyết."
    if status == S.stopped:
        return "Cơ quan đã dừng giải quyết hồ sơ. Lý do được ghi bên dưới."
    if status in (S.resolved, S.returned) and dossier.result_kind == "refusal":
        done = "đã được trả" if status == S.returned else "đã có"
        return (f"Cơ quan {done} văn bản trả lời không giải quyết hồ sơ, nêu rõ lý do (ghi bên dưới)."
                + ("" if status == S.returned else " Mời ông/bà nhận văn bản theo hình thức đã đăng ký."))
    if status == S.resolved:
        method = ReturnMethod(dossier.return_method)
        if method == ReturnMethod.postal:
            return "Hồ sơ đã có kết quả; kết quả sẽ được gửi đến ông/bà qua dịch vụ bưu chính công ích."
        if method == ReturnMethod.online:
            return "Hồ sơ đã có kết quả; kết quả được trả trực tuyến trên Cổng Dịch vụ công."
        return f"Hồ sơ đã có kết quả. Mời ông/bà đến nhận kết quả tại Bộ phận Một cửa của {place.name}."
    via = {"postal": " qua dịch vụ bưu chính công ích", "online": " trực tuyến", "desk": " tại Bộ phận Một cửa"}
    when = f" ngày {date_text(dossier.returned_at, tz)}" if dossier.returned_at else ""
    return f"Kết quả đã được trả{via.get(dossier.returned_via or '', '')}{when}."


def present(session: Session, dossier: Dossier, *, now: datetime, settings: Settings,
            has_payments: bool, has_feedback: bool, rated: bool, has_shipments: bool,
            has_signed_result: bool) -> PublicDossierOut:
    """The public view. What the lookup's one query already told (whether there are payments,
    feedback, a rating, a package, a signed result) is not read again, and what is not there is
    not read at all."""
    tz = ZoneInfo(settings.timezone)
    procedure = session.get(Procedure, dossier.procedure_id)
    agency = session.get(Agency, dossier.agency_id)
    place = session.get(Agency, dossier.receiving_agency_id) or agency
    assert procedure is not None and agency is not None and place is not None
    division = session.get(Agency, dossier.assigned_division_id) if dossier.assigned_division_id else None
    handler_name = division.name if division else agency.name
    status = S(dossier.status)
    progress = progress_of(dossier, now)
    # A refused, withdrawn or stopped dossier has no result to come for: no appointment, no collection.
    ended = status in NO_RESULT
    effective = None if ended else dossier.new_due_at or dossier.due_at
    pending = []
    if status == S.awaiting_supplement:
        open_request = select(SupplementRequest).where(
            SupplementRequest.dossier_id == dossier.id,
            SupplementRequest.received_at.is_(None))  # type: ignore[union-attr]
        request = session.exec(open_request.order_by(SupplementRequest.id.desc())).first()  # type: ignore[union-attr]
        pending = [str(i) for i in request.items] if request else []
    timeline, moves = _timeline(session, dossier, tz)
    return PublicDossierOut(
        code=dossier.code, status=status.value, status_label=STATUS_LABELS[status],
        status_text=_status_text(dossier, procedure, handler_name, place, tz), procedure_code=procedure.code,
        procedure_name=procedure.name, agency_name=agency.name, applicant_name=mask_name(dossier.applicant_name),
        channel=dossier.channel, channel_label=CHANNEL_LABELS.get(dossier.channel, dossier.channel),
        submitted_at=dossier.submitted_at, received_at=dossier.received_at,
        received_text=datetime_text(dossier.received_at, tz), due_at=dossier.due_at,
        due_text=datetime_text(dossier.due_at, tz), new_due_at=dossier.new_due_at,
        new_due_text=datetime_text(dossier.new_due_at, tz), appointment_date=date_text(effective, tz),
        appointment_detail=(f"{WEEKDAYS[_local(effective, tz).weekday()]}, lúc {_local(effective, tz):%H:%M}"
                            if effective else None),
        progress=progress, progress_label=PROGRESS_LABELS.get(progress) if progress else None,
        outcome=dossier.outcome, outcome_label=OUTCOME_LABELS.get(dossier.outcome) if dossier.outcome else None,
        resolved_text=date_text(dossier.resolved_at, tz), returned_text=date_text(dossier.returned_at, tz),
        pending_supplement_items=pending,
        closing_reason=dossier.closing_reason if status in (S.refused, S.stopped) or (
            status in (S.resolved, S.returned) and dossier.result_kind == "refusal") else None,
        timeline=timeline, apologies=_apologies(session, dossier, tz), deadline_moves=moves,
        collection=None if ended else _collection(dossier, place, settings),
        shipments=_shipments(session, dossier, tz) if has_shipments else [],
        result_document=_result_document(session, dossier, now=now, settings=settings, tz=tz)
        if has_signed_result else None,
        feedback=feedback_public.dossier_view(session, dossier, now=now, settings=settings,
                                              has_feedback=has_feedback, rated=rated),
        payments=payments_view(session, dossier, now=now, settings=settings) if has_payments else [],
        clock=citizen_clock(session, dossier, now=now, settings=settings))


def _result_document(session: Session, dossier: Dossier, *, now: datetime, settings: Settings,
                     tz: ZoneInfo) -> ResultDocumentOut | None:
    row = links.result_for(session, dossier)
    if row is None:
        return None
    token, expires = links.make_token(row.id, now=now, settings=settings)  # type: ignore[arg-type]
    return ResultDocumentOut(file_name=row.file_name, document=KINDS[row.kind], sha256=row.sha256, size=row.size,
                             signed_at=row.signed_at, signed_text=datetime_text(row.signed_at, tz) or "",
                             signer_title=row.signer_title, url=f"/api/v1/public/results/{token}",
                             expires_at=expires)
