"""What each printed form of Circular 03/2025/TT-VPCP holds (Appendix I, Mẫu số 01–07, and the
signed result of app/esign): the form's number and template, and its view model, whose datetimes
are local. Built by `app.web.forms` (and app/esign/service.py), rendered by `app.web.render`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.models import Channel, Dossier, Procedure


@dataclass(frozen=True)
class FormSpec:
    number: str  # "01".."07", as in Appendix I of the circular
    slug: str
    title: str
    template: str


RECEIPT = FormSpec("01", "receipt", "Giấy tiếp nhận hồ sơ và hẹn trả kết quả", "01_receipt.html")
SUPPLEMENT = FormSpec("02", "supplement", "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ", "02_supplement.html")
REFUSAL = FormSpec("03", "refusal", "Phiếu từ chối tiếp nhận giải quyết hồ sơ", "03_refusal.html")
APOLOGY = FormSpec("04", "apology", "Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết", "04_apology.html")
STOP = FormSpec("05", "stop", "Thông báo dừng giải quyết hồ sơ", "05_stop.html")
CONTROL = FormSpec("06", "slip", "Phiếu kiểm soát quá trình giải quyết hồ sơ", "06_control.html")
BOOK = FormSpec("07", "tracking-book", "Sổ theo dõi hồ sơ", "07_book.html")
DOSSIER_FORMS = (RECEIPT, SUPPLEMENT, REFUSAL, APOLOGY, STOP, CONTROL)

CHANNEL_LABELS = {Channel.direct: "Trực tiếp tại Bộ phận Một cửa", Channel.online: "Trực tuyến",
                  Channel.postal: "Qua dịch vụ bưu chính công ích"}


# --- view models (local datetimes only) -------------------------------------------------------

@dataclass(frozen=True)
class Letterhead:
    agency_name: str
    unit_name: str | None  # "Bộ phận Một cửa" on the forms the desk issues
    dated: datetime | None  # the form's date, local


@dataclass(frozen=True)
class DossierHead:
    code: str
    procedure_code: str
    procedure_name: str
    summary: str | None
    applicant_name: str
    is_organization: bool
    address: str | None
    phone: str | None
    email: str | None
    channel_label: str
    received_at: datetime | None
    due_at: datetime | None

    @property
    def you(self) -> str:
        """How the form addresses the applicant."""
        return "quý cơ quan, tổ chức" if self.is_organization else "ông/bà"


@dataclass(frozen=True)
class DocumentLine:
    name: str
    kind: str
    count: int


@dataclass(frozen=True)
class ReceiptCopy:
    label: str
    lookup_secret: str | None  # only on the applicant's copy, only when the desk supplies it


@dataclass(frozen=True)
class Receipt:
    head: Letterhead
    dossier: DossierHead
    documents: list[DocumentLine]
    time_limit: str
    postal_handed_over_at: datetime | None
    return_place: str
    officer: str | None
    copies: list[ReceiptCopy]
    lookup_address: str = ""  # the citizen page, printed
    lookup_link: str = ""  # what the QR code holds: the page with the dossier code, never the secret
    lookup_qr: str = ""  # the QR code as inline SVG
    spec: FormSpec = RECEIPT


@dataclass(frozen=True)
class SupplementNotice:
    head: Letterhead
    dossier: DossierHead
    items: list[str]
    reason: str | None
    clock_note: str
    guide: str | None
    contact_phone: str | None
    spec: FormSpec = SUPPLEMENT


@dataclass(frozen=True)
class Refusal:
    head: Letterhead
    dossier: DossierHead
    reason: str
    officer: str | None
    document_number: str | None
    spec: FormSpec = REFUSAL


@dataclass(frozen=True)
class ApologyLetter:
    head: Letterhead
    dossier: DossierHead
    agency_name: str
    original_due_at: datetime
    new_due_at: datetime | None
    reason: str | None
    signer_title: str
    signer_name: str | None
    is_draft: bool
    document_number: str | None
    is_late: bool
    spec: FormSpec = APOLOGY


@dataclass(frozen=True)
class StopNotice:
    head: Letterhead
    dossier: DossierHead
    agency_name: str
    stopped_at: datetime
    withdrawn: bool
    reason: str | None
    signer_title: str
    signer_name: str | None
    document_number: str | None
    spec: FormSpec = STOP


@dataclass(frozen=True)
class ControlRow:
    number: int
    step_name: str
    giver: str
    receiver: str
    handed_at: datetime
    due_at: datetime | None
    finished_at: datetime | None
    outcome: str  # Trước hạn / Đúng hạn / Quá hạn, or "" while the step is open and not late
    result: str
    note: str | None


@dataclass(frozen=True)
class PauseRow:
    reason: str
    started_at: datetime
    ended_at: datetime | None
    working_time: str | None
    rule: str


@dataclass(frozen=True)
class ControlSlip:
    head: Letterhead
    dossier: DossierHead
    receiving_agency: str
    handling_agency: str
    rows: list[ControlRow]
    pauses: list[PauseRow]
    outcome: str | None
    resolved_at: datetime | None
    returned_at: datetime | None
    returned_via: str | None
    status_label: str
    printed_at: datetime
    spec: FormSpec = CONTROL


@dataclass(frozen=True)
class BookRow:
    number: int
    code: str
    procedure_name: str
    applicant_name: str
    applicant_contact: str  # address, phone: the book's "Địa chỉ, số điện thoại"
    handling_agency: str
    received_at: datetime
    due_at: datetime | None
    transferred_at: datetime | None
    resolved_at: datetime | None
    returned_at: datetime | None
    note: str


@dataclass(frozen=True)
class TrackingBook:
    head: Letterhead
    date_from: date
    date_to: date
    rows: list[BookRow]
    printed_at: datetime
    spec: FormSpec = BOOK


@dataclass(frozen=True)
class Availability:
    spec: FormSpec
    reason: str | None  # None: the form can be printed



def local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    return value.astimezone(tz) if value is not None else None


def dossier_head(dossier: Dossier, procedure: Procedure, tz: ZoneInfo) -> DossierHead:
    return DossierHead(code=dossier.code, procedure_code=procedure.code, procedure_name=procedure.name,
                       summary=dossier.summary, applicant_name=dossier.applicant_name,
                       is_organization=dossier.applicant_type == "organization", address=dossier.applicant_address,
                       phone=dossier.applicant_phone, email=dossier.applicant_email,
                       channel_label=CHANNEL_LABELS.get(Channel(dossier.channel), dossier.channel),
                       received_at=local(dossier.received_at, tz), due_at=local(dossier.due_at, tz))
