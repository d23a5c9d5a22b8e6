from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from app.api.deps import ClockDep, SessionDep, SettingsDep
from app.auth.deps import Admin, CurrentUser
from app.fields import LocalDate
from app.sla import service as sla

router = APIRouter(prefix="/api/v1/calendar", tags=["lịch làm việc"])


class OverrideIn(BaseModel):
    day: LocalDate
    is_working: bool = Field(description="true: ngày làm bù (thứ Bảy làm việc); false: ngày nghỉ thêm")
    reason: str = Field(min_length=3, max_length=255)


class OverrideOut(BaseModel):
    id: int
    day: date
    is_working: bool
    reason: str


class OverrideChange(BaseModel):
    override: OverrideOut | None
    recomputed_dossiers: list[str] = Field(description="Hồ sơ đang giải quyết có ngày hẹn trả được dời lại "
                                                       "(ngày hẹn đã hẹn không bao giờ sớm hơn)")


class DayOut(BaseModel):
    day: date
    is_working: bool
    reason: str | None


@router.get("/overrides", response_model=list[OverrideOut], summary="Các ngày điều chỉnh lịch làm việc của cơ quan")
def list_overrides(session: SessionDep, principal: CurrentUser,  # the admin who adds them lists them too
                   year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> list[OverrideOut]:
    return [OverrideOut(id=o.id, day=o.day, is_working=o.is_working, reason=o.reason)  # type: ignore[arg-type]
            for o in sla.list_overrides(session, principal.scope_agency_id, year=year)]


@router.post("/overrides", response_model=OverrideChange, status_code=201,
             summary="Thêm ngày nghỉ/ngày làm bù; tính lại hạn các hồ sơ bị ảnh hưởng")
def add_override(data: OverrideIn, session: SessionDep, admin: Admin, clock: ClockDep,
                 settings: SettingsDep) -> OverrideChange:
    override, moved = sla.add_override(session, agency_id=admin.scope_agency_id, day=data.day,
                                       is_working=data.is_working, reason=data.reason, principal=admin,
                                       now=clock.now(), settings=settings)
    return OverrideChange(override=OverrideOut(id=override.id, day=override.day,  # type: ignore[arg-type]
                                               is_working=override.is_working, reason=override.reason),
                          recomputed_dossiers=[d.code for d in moved])


@router.delete("/overrides/{override_id}", response_model=OverrideChange, summary="Xóa một điều chỉnh lịch")
def remove_override(override_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, admin: Admin, clock: ClockDep,
                    settings: SettingsDep) -> OverrideChange:
    moved = sla.remove_override(session, agency_id=admin.scope_agency_id, override_id=override_id, principal=admin,
                                now=clock.now(), settings=settings)
    return OverrideChange(override=None, recomputed_dossiers=[d.code for d in moved])


@router.get("/days", response_model=list[DayOut], summary="Ngày làm việc / ngày nghỉ trong khoảng (tối đa 366 ngày)")
def days(session: SessionDep, principal: CurrentUser, settings: SettingsDep,  # the admin sees what they edit
         start: Annotated[date, Query(ge=date(1990, 1, 1), le=date(2100, 12, 31))],
         end: Annotated[date, Query(ge=date(1990, 1, 1), le=date(2100, 12, 31))]) -> list[DayOut]:
    from app.errors import Invalid

    if end < start or (end - start).days > 366:
        raise Invalid("Khoảng ngày không hợp lệ (tối đa 366 ngày).", code="invalid_range")
    cal = sla.calendar_for(session, principal.scope_agency_id, settings)
    out, day = [], start
    from datetime import timedelta

    while day <= end:
        out.append(DayOut(day=day, is_working=cal.is_working_day(day), reason=cal.non_working_reason(day)))
        day += timedelta(days=1)
    return out



