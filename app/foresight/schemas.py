"""Request and response schemas of the analysis routes (app/api/analysis.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.fields import LocalDate, LocalDateTime
from app.reports.schemas import AgencyOut, PeriodOut


class LimitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: int = Field(ge=1, le=365, description="Thời hạn mới")
    unit: Literal["working_days", "working_hours"] = Field(description="working_days (8 giờ) hoặc working_hours")


class StepBudgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: int = Field(ge=0, le=49, description="Số thứ tự bước trong quy trình (bắt đầu từ 0)")
    budget_hours: int = Field(ge=1, le=2920, description="Thời gian mới của bước (giờ làm việc)")


class WhatIfIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    procedure_code: str = Field(min_length=1, max_length=32, description="Mã thủ tục")
    period: str | None = Field(default=None, max_length=32,
                               description="Kỳ: 2026 (năm), 2026-H1, 2026-Q3, 2026-11; hoặc dùng from/to")
    date_from: LocalDate | None = Field(default=None, alias="from")
    date_to: LocalDate | None = Field(default=None, alias="to")
    time_limit: LimitIn
    target_share: float = Field(default=0.95, gt=0, le=1,
                                description="Tỷ lệ đúng hạn mục tiêu để tìm thời hạn ngắn nhất (mặc định 95%)")
    step_budgets: list[StepBudgetIn] = Field(default_factory=list, max_length=50)
    include_steps: bool = Field(default=False, description="Thống kê thời gian từng bước (luôn có khi gửi "
                                                           "step_budgets)")


class LimitOut(BaseModel):
    minutes: int = Field(description="Thời hạn tính bằng phút làm việc")
    working_hours: float
    working_days: float
    label: str


class ReplayCounts(BaseModel):
    limit: LimitOut
    total: int
    early: int
    on_time: int
    late: int
    on_time_share: float | None = Field(description="(Trước hạn + Đúng hạn) ÷ Tổng số, 0..1")
    late_hours_total: float = Field(description="Tổng số giờ làm việc trễ của các hồ sơ trễ")
    late_hours_mean: float | None
    late_hours_max: float | None
    early_hours_mean: float | None = Field(description="Trung bình số giờ làm việc còn dư của hồ sơ trước hạn")


class RecordedCounts(BaseModel):
    total: int
    early: int
    on_time: int
    late: int


class CurvePoint(BaseModel):
    working_days: int
    on_time_share: float


class ShortestLimit(BaseModel):
    target_share: float
    limit: LimitOut | None = Field(description="Thời hạn ngắn nhất (giờ làm việc tròn) đạt tỷ lệ mục tiêu")
    limit_days: LimitOut | None = Field(description="Cũng vậy, làm tròn lên ngày làm việc")
    on_time_share: float | None


class StepOut(BaseModel):
    step: int
    name: str
    role: str
    budget_hours: int
    new_budget_hours: int | None
    samples: int
    median_hours: float | None
    p90_hours: float | None
    over_budget: int = Field(description="Số lượt xử lý vượt thời gian hiện tại của bước")
    over_new_budget: int | None = Field(description="Số lượt vượt thời gian mới (nếu có)")


class ProcedureOut(BaseModel):
    code: str
    name: str
    time_limit_value: int
    time_limit_unit: str


class WhatIfOut(BaseModel):
    agency: AgencyOut
    procedure: ProcedureOut
    period: PeriodOut
    dossiers: int = Field(description="Số hồ sơ có kết quả trong kỳ được tính lại")
    recorded: RecordedCounts = Field(description="Kết quả đã ghi nhận (thời hạn khi đó)")
    current: ReplayCounts = Field(description="Tính lại với thời hạn hiện hành")
    proposed: ReplayCounts = Field(description="Tính lại với thời hạn mới")
    shortest: ShortestLimit
    curve: list[CurvePoint] = Field(description="Tỷ lệ đúng hạn theo từng thời hạn (ngày làm việc)")
    steps: list[StepOut] = Field(description="Thống kê từng bước (khi gửi step_budgets hoặc include_steps)")
    method: str


class LateRiskOut(BaseModel):
    code: str
    forecast: bool = Field(description="Có dự báo không (đồng hồ đang chạy và hồ sơ đang ở một bước)")
    reason: str | None = Field(default=None, description="Vì sao không dự báo")
    probability: float | None = Field(default=None, description="Khả năng không kịp ngày hẹn, 0..1")
    due_at: LocalDateTime | None = None
    expected_ready_at: LocalDateTime | None = Field(default=None, description="Dự kiến có kết quả (trung vị)")
    working_hours_left: float | None = None
    working_hours_needed_median: float | None = None
    working_hours_needed_p90: float | None = None
    cause_step: int | None = None
    cause_name: str | None = Field(default=None, description="Bước thường chậm trên phần còn lại")
    cause_overrun_hours: float | None = None
    basis: str | None = Field(default=None, description="history (số liệu đã ghi) | budgets | mixed")
    threshold: float


class AtRiskItem(BaseModel):
    code: str
    procedure_code: str
    procedure_name: str
    due_at: LocalDateTime | None = Field(description="Hẹn trả kết quả")
    step_name: str | None = Field(description="Bước đang xử lý")
    probability: float = Field(description="Khả năng không kịp ngày hẹn, 0..1")
    cause_name: str | None = Field(description="Bước thường chậm")
    expected_ready_at: LocalDateTime = Field(description="Dự kiến có kết quả (trung vị)")
    basis: str = Field(description="history | mixed")
    computed_at: LocalDateTime = Field(description="Thời điểm dự báo")


class AtRiskPage(BaseModel):
    threshold: float = Field(description="Ngưỡng cảnh báo nguy cơ trễ hạn (MOTCUA_LATE_RISK_THRESHOLD)")
    items: list[AtRiskItem]
