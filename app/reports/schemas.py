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
    "not_received_total", "refused_at_reception", "online_not_accepted", "withdrawn_before_receipt",
    "apologies_late", "online_checked_late", "online_unchecked_overdue",
    "late_caused_here", "late_caused_elsewhere",
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
    # Never received (no form 01): outside "mới tiếp nhận", outside both on-time denominators.
    not_received_total: int = Field(0, description="Không tiếp nhận trong kỳ (không tính vào số mới tiếp nhận và "
                                                   "mẫu số tỷ lệ đúng hạn) = ba cột sau cộng lại")
    refused_at_reception: int = Field(0, description="Từ chối tiếp nhận (mẫu 03) hoặc dừng trước khi tiếp nhận, "
                                                     "trực tiếp / bưu chính")
    online_not_accepted: int = Field(0, description="Hồ sơ nộp trực tuyến không được tiếp nhận")
    withdrawn_before_receipt: int = Field(0, description="Rút trước khi được tiếp nhận")
    apologies_late: int = Field(0, description="Văn bản xin lỗi phát hành muộn (sau một ngày làm việc trước ngày "
                                               "hẹn trả), nằm trong số văn bản xin lỗi")
    online_checked_late: int = Field(0, description="Hồ sơ trực tuyến được kiểm tra trong kỳ nhưng quá một ngày làm "
                                                    "việc sau khi nộp")
    online_unchecked_overdue: int = Field(0, description="Hồ sơ trực tuyến cuối kỳ vẫn chưa được kiểm tra, đã quá một "
                                                         "ngày làm việc")
    # Inter-agency (liên thông): resolved_late = late_caused_here + late_caused_elsewhere.
    late_caused_here: int = Field(0, description="Giải quyết quá hạn do cơ quan này (hồ sơ một cơ quan, hoặc hồ sơ "
                                                 "liên thông mà cơ quan này dùng quá thời gian được phân bổ)")
    late_caused_elsewhere: int = Field(0, description="Giải quyết quá hạn do cơ quan khác trong quy trình liên thông")


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
    include_imported: bool = Field(True, description="Có tính hồ sơ nhập từ hệ thống cũ (include_imported)")
    imported_rows: int = Field(0, description="Số hồ sơ nhập từ hệ thống cũ có trong các số liệu của báo cáo")


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
    not_received_total: int = Field(0, description="Không tiếp nhận trong kỳ: ngoài cả hai mẫu số")
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
    filters: dict[str, str] = Field(default_factory=dict)
    include_imported: bool = Field(True, description="Có tính hồ sơ nhập từ hệ thống cũ (include_imported)")
    imported_rows: int = Field(0, description="Số hồ sơ nhập từ hệ thống cũ có trong các số liệu của báo cáo")


class MonthOnTime(BaseModel):
    month: str
    label: str
    received_total: int
    resolved_total: int
    resolved_early: int
    resolved_on_time: int
    resolved_late: int
    in_progress_overdue: int
    not_received_total: int = 0
    resolved_only: float | None
    strict: float | None


class MonthlyOnTime(BaseModel):
    agency: AgencyOut
    conventions: list[ConventionOut]
    months: list[MonthOnTime]
    include_imported: bool = Field(True, description="Có tính hồ sơ nhập từ hệ thống cũ (include_imported)")
    imported_rows: int = Field(0, description="Số hồ sơ nhập từ hệ thống cũ có trong các số liệu của báo cáo")


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


class DigitisedRow(BaseModel):
    """Decision 766 `digitised`, for one procedure."""

    procedure_code: str
    procedure_name: str
    received: int = Field(description="Hồ sơ tiếp nhận trong kỳ")
    digitised: int = Field(description="Trong đó: mọi thành phần bắt buộc đã có tệp")
    value: float | None = Field(description="Tỷ lệ (%)")


class UnsupportedIndicator(BaseModel):
    code: str
    name: str
    reason: str


class ElectronicResultRow(BaseModel):
    """Decision 766 "dossiers with electronic results", per procedure."""

    procedure_code: str
    procedure_name: str
    resolved: int
    electronic: int = Field(description="Hồ sơ đã giải quyết có kết quả điện tử ký số")
    value: float | None = Field(description="%")


class IndicatorReport(BaseModel):
    agency: AgencyOut
    period: PeriodOut
    basis: str
    indicators: list[IndicatorOut]
    channels: dict[str, int]
    resolution_time: list[ResolutionTimeRow]
    digitised_by_procedure: list[DigitisedRow] = Field(default_factory=list,
                                                       description="Tỷ lệ hồ sơ được số hóa, theo thủ tục")
    electronic_results: list[ElectronicResultRow] = Field(default_factory=list)
    unsupported: list[UnsupportedIndicator]
    include_imported: bool = Field(True, description="Có tính hồ sơ nhập từ hệ thống cũ (include_imported)")
    imported_rows: int = Field(0, description="Số hồ sơ nhập từ hệ thống cũ có trong các số liệu của báo cáo")
