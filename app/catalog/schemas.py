"""Request/response shapes of the procedure catalogue; also the import/export file format."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.fields import Int32
from app.models import OnlineLevel, SupplementRule

StepRole = Literal["specialist", "leader", "desk"]
# Legacy online levels (Decree 43/2011) mapped to Decree 42/2022 ones.
LEGACY_LEVELS = {2: OnlineLevel.none, 3: OnlineLevel.partial, 4: OnlineLevel.full}
LEVEL_TO_LEGACY = {OnlineLevel.none: 2, OnlineLevel.partial: 3, OnlineLevel.full: 4}


class RequiredDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=500)
    kind: Literal["original", "copy", "either"] = "either"
    count: int = Field(default=1, ge=1, le=100)
    required: bool = True


class WorkflowStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    role: StepRole
    scope: Literal["division", "agency"] = "division"
    budget_hours: int = Field(ge=1, le=2000)
    # Inter-agency (app/parties.py): the agency of the step by its role in the procedure; None: competent.
    agency: Literal["competent", "deciding", "receiving"] | None = None


class ProcedureParties(BaseModel):
    """The agencies of an inter-agency (liên thông) procedure by their role, as agency codes."""

    model_config = ConfigDict(extra="forbid")

    receiving_points: list[str] = Field(default_factory=list, max_length=50,
                                        description="Nơi tiếp nhận: Trung tâm Phục vụ hành chính công, Bộ phận "
                                                    "Một cửa của Sở, UBND cấp xã (mã cơ quan)")
    deciding_authority: str | None = Field(default=None, max_length=64,
                                           description="Cơ quan quyết định, ví dụ UBND tỉnh (mã cơ quan)")
    result_via: Literal["receiving_point", "competent"] = "receiving_point"
    silence_is_consent: bool = Field(default=False, description="Cơ quan được lấy ý kiến không trả lời đúng hạn "
                                                                "được coi là đồng ý (theo văn bản quy định thủ tục)")


class FeeItem(BaseModel):
    """One fee of a procedure: phí (`fee`) or lệ phí (`charge`), per case or per copy."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["fee", "charge"] = Field(description="fee: phí; charge: lệ phí")
    name: str = Field(min_length=1, max_length=255)
    amount: Int32 = Field(ge=0, description="Số tiền (đồng)")
    per: Literal["case", "copy"] = Field(default="case", description="case: mỗi hồ sơ; copy: mỗi bản")
    note: str = Field(default="", max_length=500, description="Căn cứ thu (văn bản quy định)")


class FeeExemption(BaseModel):
    """Who pays less or nothing (miễn, giảm), and on which kinds of fee."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9_]{1,32}$", examples=["nguoi_co_cong"])
    name: str = Field(min_length=1, max_length=255)
    percent: int = Field(default=100, ge=1, le=100, description="Tỷ lệ miễn, giảm (%)")
    kinds: list[Literal["fee", "charge"]] = Field(default_factory=lambda: ["fee", "charge"], min_length=1)


class ProcedureFees(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[FeeItem] = Field(default_factory=list, max_length=20)
    exemptions: list[FeeExemption] = Field(default_factory=list, max_length=20)
    refundable_on: list[Literal["refused", "withdrawn", "stopped"]] = Field(
        default_factory=list, description="Hoàn trả phí, lệ phí đã nộp khi hồ sơ bị từ chối / rút / dừng")


class ProcedureFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=3, max_length=500)
    field_code: str = Field(min_length=1, max_length=32)
    field_name: str = Field(min_length=1, max_length=255)
    time_limit_value: int = Field(ge=1, le=365)
    time_limit_unit: Literal["working_days", "working_hours"] = "working_days"
    fee: Int32 = Field(default=0, ge=0)
    fee_note: str = Field(default="", max_length=500)
    fees: ProcedureFees | None = Field(default=None, description="Phí, lệ phí theo từng khoản; khi có, `fee` là "
                                                                    "tổng các khoản cho một hồ sơ, một bản")
    legal_basis: str = Field(default="", max_length=1000)
    required_documents: list[RequiredDocument] = Field(default_factory=list, max_length=50)
    online_level: OnlineLevel = OnlineLevel.partial
    postal_receipt_allowed: bool = True
    postal_return_allowed: bool = True
    supplement_rule: SupplementRule = SupplementRule.pause  # Decree 61/2018 Art. 19 (docs/DEADLINES.md)
    same_day_cutoff: str | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
                                        description="Trả trong ngày nếu tiếp nhận trước giờ này (HH:MM), sau giờ "
                                                    "này trả vào ngày làm việc tiếp theo; ví dụ 15:00")
    division: str | None = Field(default=None, max_length=64,
                                 description="Mã phòng chuyên môn xử lý (mã đầy đủ hoặc mã ngắn trong Sở)")
    workflow: list[WorkflowStep] = Field(min_length=1, max_length=20)
    parties: ProcedureParties | None = None

    @model_validator(mode="after")
    def _budgets_fit_the_limit(self) -> ProcedureFields:
        limit_hours = self.time_limit_value * (8 if self.time_limit_unit == "working_days" else 1)
        total = sum(step.budget_hours for step in self.workflow)
        if total > limit_hours:
            raise ValueError(f"tổng thời gian các bước vượt thời hạn giải quyết ({limit_hours} giờ làm việc)")
        interagency = self.parties is not None or any(step.agency not in (None, "competent") for step in self.workflow)
        if interagency and total != limit_hours:
            # The statutory limit is split between the agencies: the shares add up to it exactly.
            raise ValueError(f"thủ tục liên thông: tổng thời gian các bước ({total} giờ làm việc) phải bằng thời "
                             f"hạn giải quyết ({limit_hours} giờ làm việc)")
        if any(step.agency == "deciding" for step in self.workflow) and not (self.parties
                                                                          and self.parties.deciding_authority):
            raise ValueError("bước của cơ quan quyết định cần khai báo cơ quan quyết định (parties.deciding_authority)")
        return self


class ProcedureIn(ProcedureFields):
    """A procedure as created, imported or exported (the demo catalogue uses this shape)."""

    code: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]{2,31}$", examples=["1.005092"])
    agency_code: str | None = Field(default=None, max_length=64,
                                    description="Cơ quan có thẩm quyền; mặc định là cơ quan của người tạo")
    is_active: bool = True


class ProcedureUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=3, max_length=500)
    field_code: str | None = Field(default=None, min_length=1, max_length=32)
    field_name: str | None = Field(default=None, min_length=1, max_length=255)
    time_limit_value: int | None = Field(default=None, ge=1, le=365)
    time_limit_unit: Literal["working_days", "working_hours"] | None = None
    fee: Int32 | None = Field(default=None, ge=0)
    fee_note: str | None = Field(default=None, max_length=500)
    fees: ProcedureFees | None = None
    legal_basis: str | None = Field(default=None, max_length=1000)
    required_documents: list[RequiredDocument] | None = Field(default=None, max_length=50)
    online_level: OnlineLevel | None = None
    postal_receipt_allowed: bool | None = None
    postal_return_allowed: bool | None = None
    supplement_rule: SupplementRule | None = None
    same_day_cutoff: str | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    division: str | None = Field(default=None, max_length=64)
    workflow: list[WorkflowStep] | None = Field(default=None, min_length=1, max_length=20)
    parties: ProcedureParties | None = None


class ProcedurePublic(ProcedureIn):
    model_config = ConfigDict(extra="ignore")

    online_level_legacy: int = Field(description="Mức độ DVC cũ (Nghị định 43/2011): 2, 3 hoặc 4")
    agency_name: str


class ProcedurePage(BaseModel):
    items: list[ProcedurePublic]
    total: int
    limit: int
    offset: int


class ImportResult(BaseModel):
    created: int
    updated: int
