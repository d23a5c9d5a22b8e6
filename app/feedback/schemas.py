"""Request and response schemas of feedback and satisfaction (staff API, public API, page view)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.fields import LocalDateTime
from app.reports.schemas import AgencyOut, PeriodOut

Level = Literal["very_satisfied", "satisfied", "not_satisfied"]
LEVEL_LABELS = {"very_satisfied": "Rất hài lòng", "satisfied": "Hài lòng", "not_satisfied": "Không hài lòng"}
CRITERIA = {"reception": "Tiếp nhận hồ sơ", "handling_time": "Thời gian giải quyết",
            "staff_attitude": "Thái độ của cán bộ"}
STATUS_LABELS = {"new": "Mới tiếp nhận", "assigned": "Đang xử lý", "answered": "Đã trả lời"}
PHONE_PATTERN = r"^\+?[0-9 .()-]{8,20}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- citizens --------------------------------------------------------------------------------

class GeneralFeedbackIn(_In):
    """Feedback about a procedure or an agency, not about one dossier: who sends it and how to
    reach them (sealed at rest), and either the procedure or the agency it concerns."""

    full_name: str = Field(min_length=2, max_length=128, description="Họ và tên người phản ánh")
    phone: str = Field(pattern=PHONE_PATTERN, description="Số điện thoại để nhận trả lời (SMS)")
    email: str | None = Field(default=None, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    procedure_code: str | None = Field(default=None, max_length=32, description="Mã thủ tục được phản ánh")
    agency_code: str | None = Field(default=None, max_length=64, description="Mã cơ quan được phản ánh")
    content: str = Field(min_length=10, max_length=2000, description="Nội dung phản ánh, kiến nghị")


class DossierFeedbackIn(_In):
    token: str = Field(min_length=10, max_length=128, description="Mã phiên do tra cứu hồ sơ trả về (feedback.token)")
    content: str = Field(min_length=10, max_length=2000, description="Nội dung phản ánh, kiến nghị về hồ sơ")


class RatingIn(_In):
    token: str = Field(min_length=10, max_length=128,
                       description="Mã phiên của tra cứu (feedback.token) hoặc của đường dẫn đánh giá trong tin nhắn")
    reception: Level = Field(description="Việc tiếp nhận hồ sơ")
    handling_time: Level = Field(description="Thời gian giải quyết")
    staff_attitude: Level = Field(description="Thái độ của cán bộ")
    comment: str | None = Field(default=None, max_length=1000, description="Góp ý thêm (không bắt buộc)")


class FeedbackReceipt(BaseModel):
    reference: str = Field(description="Số phản ánh, dùng khi liên hệ lại")
    received_at: LocalDateTime
    due_at: LocalDateTime = Field(description="Hạn trả lời (ngày làm việc của cơ quan)")
    agency_name: str


class RatingReceipt(BaseModel):
    dossier_code: str
    rated_at: LocalDateTime


class CitizenFeedbackItem(BaseModel):
    reference: str
    content: str
    received_text: str
    status: str
    status_label: str
    due_text: str
    answer: str | None
    answered_text: str | None


class CitizenFeedbackOut(BaseModel):
    """Phần tra cứu thêm cho người dân: phản ánh về hồ sơ và câu trả lời, có được đánh giá không, và
    mã phiên để gửi phản ánh hoặc đánh giá mà không phải nhập lại mã tra cứu."""

    token: str = Field(description="Mã phiên ngắn hạn (không chứa mã tra cứu) để gửi phản ánh hoặc đánh giá")
    token_expires_at: LocalDateTime
    items: list[CitizenFeedbackItem]
    can_rate: bool = Field(description="Đã trả kết quả và chưa đánh giá")
    rated: bool
    answer_days: int = Field(description="Số ngày làm việc cơ quan trả lời phản ánh")


# --- staff -----------------------------------------------------------------------------------

class AssignIn(_In):
    assignee: str = Field(min_length=1, max_length=64, description="Tên đăng nhập của cán bộ được giao")


class AnswerIn(_In):
    answer: str = Field(min_length=5, max_length=4000, description="Nội dung trả lời gửi người dân")


class FeedbackOut(BaseModel):
    id: int
    reference: str
    kind: Literal["dossier", "general"]
    dossier_code: str | None
    procedure_code: str | None
    procedure_name: str | None
    sender_name: str | None = Field(description="Người phản ánh (phản ánh chung) hoặc người nộp hồ sơ")
    sender_phone: str | None
    content: str
    status: str
    status_label: str
    received_at: LocalDateTime
    limit_days: int
    due_at: LocalDateTime
    due_soon_at: LocalDateTime
    overdue: bool
    assignee: str | None
    assigned_at: LocalDateTime | None
    answer: str | None
    answered_at: LocalDateTime | None
    answered_by: str | None
    answered_on_time: bool | None


class FeedbackPage(BaseModel):
    items: list[FeedbackOut]
    next_cursor: int | None = Field(description="Truyền vào `before` để lấy trang sau")


class FeedbackAlertOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    feedback_id: int
    reference: str
    deadline_at: LocalDateTime
    message: str
    recipient: str
    created_at: LocalDateTime
    acked_at: LocalDateTime | None


# --- satisfaction report -----------------------------------------------------------------------

class CriterionOut(BaseModel):
    criterion: str
    label: str
    very_satisfied: int
    satisfied: int
    not_satisfied: int
    satisfied_rate: float | None = Field(description="(Rất hài lòng + Hài lòng) ÷ số phiếu, %")


class SatisfactionRow(BaseModel):
    procedure_code: str | None = Field(description="None: dòng tổng của cơ quan")
    procedure_name: str
    answers: int = Field(description="Số phiếu đánh giá trong kỳ")
    criteria: list[CriterionOut]
    satisfied_rate: float | None = Field(description="Bình quân ba tiêu chí, %")


class SatisfactionReport(BaseModel):
    agency: AgencyOut
    period: PeriodOut
    rows: list[SatisfactionRow]
    total: SatisfactionRow
    comments: int = Field(description="Số phiếu có góp ý")
