"""Response shapes of the reports (JSON, and the source of the XLSX/CSV exports)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from app.fields import LocalDateTime

COUNT_FIELDS: tuple[str, ...] = (
    "carried_over", "new_online", "new_direct", "new_postal", "received_total",
    "resolved_total", "resolved_early", "resolved_on_time", "resolved_late",
    "in_progress_total", "in_progress_within", "in_progress_overdue",
    "awaiting_supplement", "withdrawn_or_refused", "returned_by_post", "apologies",
)


class PeriodOut(BaseModel):
    key: str = Field(description="Dạng chuẩn của kỳ: 2026, 2026-H1, 2026-Q3, 2026-11 hoặc 2026-01-01..2026-03-31")
    label: str = Field(description="Tên kỳ báo cáo, ví dụ Quý III năm 2026")
    first_day: date
    last_day: date = Field(description="Ngày cuối kỳ (tính cả ngày này)")
    start: LocalDateTime = Field(description="Thời điểm bắt đầu kỳ (tính cả thời điểm này)")
    end: LocalDateTime = Field(description="Thời điểm kết thúc kỳ (không tính thời điểm này)")


class AgencyOut(BaseModel):
    code: str
    name: str


class Counts(BaseModel):
    """The periodic report's counts; carried_over + received_total =
    resolved_total + in_progress_total + withdrawn_or_refused."""

    carried_over: int = Field(0, description="Kỳ trước chuyển sang (đang giải quyết đầu kỳ)")
    new_online: int = Field(0, description="Mới tiếp nhận trực tuyến")
    new_direct: int = Field(0, description="Mới tiếp nhận trực tiếp")
    new_postal: int = Field(0, description="Mới tiếp nhận qua dịch vụ bưu chính công ích")
    received_total: int = Field(0, description="Tổng số mới tiếp nhận trong kỳ")
    resolved_total: int = Field(0, description="Đã giải quyết trong kỳ")
    resolved_early: int = Field(0, description="Giải quyết trước hạn")
    resolved_on_time: int = Field(0, description="Giải quyết đúng hạn")
    resolved_late: int = Field(0, description="Giải quyết quá hạn")
    in_progress_total: int = Field(0, description="Đang giải quyết cuối kỳ")
    in_progress_within: int = Field(0, description="Đang giải quyết, trong hạn")
    in_progress_overdue: int = Field(0, description="Đang giải quyết, quá hạn")
    awaiting_supplement: int = Field(0, description="Đang chờ bổ sung cuối kỳ (nằm trong số đang giải quyết)")
    withdrawn_or_refused: int = Field(0, description="Rút, từ chối, dừng giải quyết trong kỳ")
    returned_by_post: int = Field(0, description="Trả kết quả qua bưu chính công ích trong kỳ")
    apologies: int = Field(0, description="Văn bản xin lỗi đã phát hành trong kỳ")


class _ProcedureHead(BaseModel):
    procedure_code: str
    procedure_name: str


class PeriodicRow(Counts, _ProcedureHead):  # fields: procedure_code, procedure_name, then the counts
    pass


class PeriodicReport(BaseModel):
    agency: AgencyOut
    period: PeriodOut
    filters: dict[str, str] = Field(default_factory=dict)
    rows: list[PeriodicRow]
    totals: Counts


class RateOut(BaseModel):
    convention: str = Field(description="resolved_only | strict")
    name: str
    formula: str
    numerator: int
    denominator: int
    value: float | None = Field(description="Phần trăm, 2 chữ số thập phân; null khi mẫu số bằng 0")


class OnTimeGroup(BaseModel):
    key: str | None
    label: str
    carried_over: int
    received_total: int
    resolved_total: int
    resolved_early: int
    resolved_on_time: int
    resolved_late: int
    in_progress_total: int
    in_progress_overdue: int
    resolved_only: RateOut
    strict: RateOut


class ConventionOut(BaseModel):
    convention: str
    name: str
    formula: str
    note: str


class OnTimeReport(BaseModel):
    agency: AgencyOut
    period: PeriodOut
    group_by: str
    conventions: list[ConventionOut]
    groups: list[OnTimeGroup]
    total: OnTimeGroup


class MonthOnTime(BaseModel):
    month: str
    label: str
    received_total: int
    resolved_total: int
    resolved_early: int
    resolved_on_time: int
    resolved_late: int
    in_progress_overdue: int
    resolved_only: float | None
    strict: float | None


class MonthlyOnTime(BaseModel):
    agency: AgencyOut
    conventions: list[ConventionOut]
    months: list[MonthOnTime]


class IndicatorOut(BaseModel):
    code: str
    name: str
    value: float | None
    unit: str
    numerator: int | None = None
    denominator: int | None = None
    note: str | None = None


class ResolutionTimeRow(BaseModel):
    procedure_code: str
    procedure_name: str
    time_limit: str
    resolved: int
    with_working_time: int = Field(description="Số hồ sơ đã lưu thời gian giải quyết theo giờ làm việc")
    avg_working_days: float | None = Field(description="Bình quân ngày làm việc (8 giờ) từ tiếp nhận đến có kết quả,"
                                                      " không tính thời gian chờ người nộp")
    avg_calendar_days: float | None = Field(description="Bình quân ngày theo lịch (xấp xỉ, gồm cả ngày nghỉ)")


class UnsupportedIndicator(BaseModel):
    code: str
    name: str
    reason: str


class IndicatorReport(BaseModel):
    agency: AgencyOut
    period: PeriodOut
    basis: str
    indicators: list[IndicatorOut]
    channels: dict[str, int]
    resolution_time: list[ResolutionTimeRow]
    unsupported: list[UnsupportedIndicator]
