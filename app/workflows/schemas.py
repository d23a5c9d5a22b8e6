"""Request/response shapes of dossiers, intake and actions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.fields import Int32, LocalDateTime, LocalTimesJSON
from app.models import ApplicantType, Channel, OnlineLevel, ReturnMethod

PHONE = r"^(\+84|0)[1-9][0-9]{8,9}$"
EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$"


class ApplicantIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: ApplicantType = ApplicantType.individual
    full_name: str = Field(min_length=2, max_length=255, description="Họ tên người nộp / tên tổ chức")
    id_number: str = Field(pattern=r"^[0-9A-Za-z\-]{6,20}$",
                           description="Số CCCD/CMND/hộ chiếu, hoặc mã số thuế của tổ chức")
    phone: str | None = Field(default=None, pattern=PHONE)
    email: str | None = Field(default=None, pattern=EMAIL, max_length=255)
    address: str | None = Field(default=None, max_length=500)


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=500)
    kind: Literal["original", "copy", "either"] = "either"
    count: int = Field(default=1, ge=1, le=100)


class PostalInbound(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tracking_number: str = Field(min_length=4, max_length=64, pattern=r"^[0-9A-Za-z\-]+$")
    carrier: str = Field(default="VNPost", max_length=64)
    handed_over_at: LocalDateTime | None = Field(default=None, description="Lúc bưu điện bàn giao cho cơ quan")
    fee: Int32 = Field(default=0, ge=0)


class IntakeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    procedure_code: str = Field(min_length=1, max_length=32)
    channel: Channel = Channel.direct
    online_level: OnlineLevel | None = Field(default=None, description="Mức độ DVC trực tuyến hồ sơ đã dùng")
    applicant: ApplicantIn
    documents: list[DocumentIn] = Field(default_factory=list, max_length=50)
    return_method: ReturnMethod = ReturnMethod.desk
    summary: str | None = Field(default=None, max_length=1000, description="Trích yếu")
    note: str | None = Field(default=None, max_length=2000)
    decision: Literal["receive", "request_supplement", "refuse"] = Field(
        default="receive", description="Hồ sơ đủ: tiếp nhận; thiếu: yêu cầu bổ sung (mẫu 02) hoặc từ chối (mẫu 03)")
    missing_items: list[str] = Field(default_factory=list, max_length=50,
                                     description="Giấy tờ cần bổ sung (khi yêu cầu bổ sung)")
    reason: str | None = Field(default=None, max_length=2000, description="Lý do từ chối")
    postal: PostalInbound | None = None
    received_by: str | None = Field(default=None, max_length=64,
                                    description="Hồ sơ qua bưu chính: tên đăng nhập cán bộ Bộ phận Một cửa đã nhận "
                                                "bưu gửi từ nhân viên bưu chính (người ký giấy tiếp nhận)")

    @model_validator(mode="after")
    def _decision_needs(self) -> IntakeIn:
        if self.decision == "refuse" and not (self.reason and self.reason.strip()):
            raise ValueError("từ chối tiếp nhận cần nêu lý do (reason)")
        if self.channel == Channel.postal and self.postal is None:
            raise ValueError("hồ sơ qua bưu chính cần thông tin bưu gửi (postal)")
        return self


class OnlineSubmissionIn(BaseModel):
    """A dossier a citizen submitted on the national portal, pulled in by the portal adapter."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    portal_id: str = Field(min_length=1, max_length=64)
    procedure_code: str = Field(min_length=1, max_length=32)
    agency_code: str = Field(min_length=1, max_length=64)
    applicant: ApplicantIn
    summary: str | None = Field(default=None, max_length=1000)
    submitted_at: LocalDateTime
    online_level: OnlineLevel = OnlineLevel.partial
    return_method: ReturnMethod = ReturnMethod.desk
    documents: list[DocumentIn] = Field(default_factory=list, max_length=50)


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: Int32 | None = Field(default=None, ge=1, description="Phiên bản hồ sơ đang xem (hoặc header If-Match)")
    note: str | None = Field(default=None, max_length=2000)
    reason: str | None = Field(default=None, max_length=2000, description="Lý do (từ chối, trả lại, dừng, rút)")
    items: list[str] = Field(default_factory=list, max_length=50, description="Giấy tờ cần bổ sung")
    assignee: str | None = Field(default=None, max_length=64, description="Tên đăng nhập người xử lý bước tiếp")
    to_step: int | None = Field(default=None, ge=0, le=50, description="Bước trả lại (mặc định: bước trước)")
    result_reference: str | None = Field(default=None, max_length=255, description="Số, ký hiệu văn bản kết quả")
    method: ReturnMethod | None = Field(default=None, description="Hình thức trả kết quả")
    receiver_name: str | None = Field(default=None, max_length=255, description="Người nhận kết quả")
    tracking_number: str | None = Field(default=None, max_length=64, pattern=r"^[0-9A-Za-z\-]+$")
    fee: Int32 | None = Field(default=None, ge=0, description="Số tiền phí, lệ phí phải nộp (mặc định: theo các "
                                                            "khoản phí, lệ phí của thủ tục)")
    copies: int = Field(default=1, ge=1, le=1000, description="Số bản, cho các khoản phí tính theo bản")
    exemption: str | None = Field(default=None, max_length=32, description="Mã đối tượng miễn, giảm phí, lệ phí")
    payment_method: Literal["cash", "transfer"] | None = Field(
        default=None, description="Xác nhận đã nộp phí: tiền mặt (mặc định) hoặc chuyển khoản")
    payment_reference: str | None = Field(default=None, max_length=128, description="Mã giao dịch chuyển khoản")
    result_kind: Literal["approval", "refusal"] | None = Field(
        default=None, description="Đề xuất / quyết định kết quả: giải quyết (approval) hoặc văn bản trả lời không "
                                  "giải quyết, nêu rõ lý do (refusal) — lãnh đạo cơ quan ký ở bước ký kết quả")


class StepOut(BaseModel):
    index: int
    name: str
    role: str
    budget_hours: int


class DossierRiskOut(BaseModel):
    """The late-risk forecast of the scan's last late-risk pass (docs/FORESIGHT.md)."""

    probability: float = Field(description="Khả năng không kịp ngày hẹn trả kết quả (0–1)")
    cause_step: int | None = Field(description="Bước thường chậm (số thứ tự trong quy trình)")
    cause_name: str | None = Field(description="Bước thường chậm: bước còn lại vượt định mức nhiều nhất")
    expected_ready_at: LocalDateTime = Field(description="Dự kiến có kết quả (trung vị dự báo)")
    basis: str = Field(description="history (số liệu đã ghi) | mixed | budgets (chỉ định mức)")
    computed_at: LocalDateTime = Field(description="Thời điểm dự báo")


class DossierOut(BaseModel):
    code: str
    version: int
    status: str
    status_label: str
    portal_status: int
    procedure_code: str
    procedure_name: str
    agency_code: str
    receiving_agency_code: str | None = Field(default=None, description="Nơi tiếp nhận (liên thông: Trung tâm)")
    holder_agency_code: str | None = Field(default=None, description="Cơ quan đang giữ hồ sơ (liên thông)")
    channel: str
    online_level: str
    return_method: str
    applicant_type: str
    applicant_name: str
    applicant_id_number: str
    applicant_phone: str | None
    applicant_email: str | None
    applicant_address: str | None
    summary: str | None
    documents: list[dict]
    note: str | None
    current_step: StepOut | None
    assignee: str | None = Field(description="Tên đăng nhập người đang được giao (dùng khi giao việc)")
    assignee_name: str | None = Field(description="Họ tên người đang được giao")
    assignee_title: str | None = Field(description="Chức danh người đang được giao")
    submitted_at: LocalDateTime | None
    postal_handed_over_at: LocalDateTime | None
    received_at: LocalDateTime | None
    clock_state: str
    due_at: LocalDateTime | None
    new_due_at: LocalDateTime | None
    step_due_at: LocalDateTime | None
    progress: str | None = Field(description="within | due_soon | overdue (khi đang giải quyết)")
    progress_label: str | None
    outcome: str | None = Field(description="early | on_time | late (khi đã có kết quả)")
    outcome_label: str | None
    resolved_at: LocalDateTime | None
    returned_at: LocalDateTime | None
    result_reference: str | None
    result_kind: str | None = Field(default=None, description="approval | refusal (văn bản trả lời không giải quyết)")
    late_since: LocalDateTime | None = Field(default=None, description="Quá hạn từ thời điểm này; không bao giờ bị xóa")
    closing_reason: str | None
    supplement_count: int
    apology_count: int
    allowed_actions: list[str]
    late_risk: DossierRiskOut | None = Field(default=None, description=(
        "Nguy cơ trễ hạn theo lần dự báo gần nhất (GET chi tiết hồ sơ; null khi không được dự báo: "
        "đồng hồ không chạy, chưa ở bước xử lý, hoặc dự báo đã cũ so với bước, ngày hẹn hiện tại)"))


class IntakeOut(DossierOut):
    lookup_secret: str = Field(title="Mã tra cứu", description="Mã tra cứu: chỉ hiện một lần, in trên giấy tiếp nhận (liên giao người nộp)")


class DossierSummary(BaseModel):
    code: str
    status: str
    status_label: str
    procedure_code: str
    channel: str
    applicant_name: str
    received_at: LocalDateTime | None
    due_at: LocalDateTime | None
    progress: str | None
    outcome: str | None
    current_step: int | None
    step_name: str | None = Field(default=None, description="Tên bước đang xử lý")
    assignee: str | None = Field(default=None, description="Tên đăng nhập người đang được giao")
    assignee_name: str | None = Field(default=None, description="Họ tên người đang được giao")
    assignee_title: str | None = Field(default=None, description="Chức danh người đang được giao")
    queue: str | None = Field(default=None, description="Với ?queue=: ngăn công việc chứa hồ sơ (assigned, "
                                                        "unassigned, handovers, to_check, to_forward, "
                                                        "waiting_applicant, to_return)")


class DossierPage(BaseModel):
    items: list[DossierSummary]
    next_cursor: int | None = Field(description="Truyền vào `before` để lấy trang sau")


class QueueBucket(BaseModel):
    key: str
    label: str
    count: int


class QueueCounts(BaseModel):
    total: int = Field(description="Số hồ sơ đang chờ người gọi (mọi ngăn)")
    buckets: list[QueueBucket]


class EventOut(BaseModel):
    seq: int
    at: LocalDateTime
    action: str
    action_label: str
    actor: str | None
    actor_role: str | None
    from_status: str | None
    to_status: str
    from_step: int | None
    to_step: int | None
    note: str | None
    data: LocalTimesJSON


class SkippedDayOut(BaseModel):
    day: str
    reason: str


class PauseOut(BaseModel):
    reason: str
    rule: str
    started_at: LocalDateTime
    ended_at: LocalDateTime | None
    working_minutes: int | None


class DeadlineMoveOut(BaseModel):
    at: LocalDateTime
    due_before: LocalDateTime
    due_after: LocalDateTime
    reason: str | None
    calendar_version: int | None


class DeadlineOut(BaseModel):
    code: str
    received_at: LocalDateTime | None
    clock_state: str
    clock_started_at: LocalDateTime | None
    limit_value: int
    limit_unit: str
    limit_minutes: int
    working_hours: str
    skipped_days: list[SkippedDayOut]
    pauses: list[PauseOut]
    due_at: LocalDateTime | None
    new_due_at: LocalDateTime | None
    calendar_version: int = Field(description="Phiên bản lịch làm việc của cơ quan dùng để tính ngày hẹn")
    rule: str | None = Field(default=None, description="Quy định riêng của thủ tục (giờ tiếp nhận để trả trong ngày)")
    moves: list[DeadlineMoveOut] = Field(default_factory=list,
                                         description="Các lần ngày hẹn được dời (không bao giờ sớm hơn)")
    late_since: LocalDateTime | None = Field(default=None, description="Thời điểm hồ sơ trở thành quá hạn (không xóa được)")
    explanation: str
