"""The agency's directory: who can be chosen as an assignee (name, title, division, roles, active).
Scoped to the caller's agency (the Department with its divisions); no contact data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import or_
from sqlmodel import select

from app.api.deps import SessionDep, StrictQuery
from app.auth.deps import CurrentUser
from app.models import Agency, Role, User

router = APIRouter(prefix="/api/v1/users", tags=["cán bộ"])


class UserOut(BaseModel):
    username: str = Field(description="Tên đăng nhập (truyền vào `assignee` khi giao việc)")
    full_name: str
    title: str | None = Field(description="Chức danh")
    division_code: str | None = Field(description="Mã phòng; null: cán bộ thuộc cơ quan (lãnh đạo cơ quan...)")
    division_name: str | None
    roles: list[str]
    is_active: bool


@router.get("", response_model=list[UserOut], dependencies=[StrictQuery],
            summary="Danh bạ cán bộ của cơ quan (để chọn người được giao xử lý)")
def list_users(
    session: SessionDep, principal: CurrentUser,
    role: Annotated[Role | None, Query(description="Chỉ cán bộ có vai trò này")] = None,
    division: Annotated[str | None, Query(max_length=64, description="Chỉ cán bộ của phòng (mã phòng)")] = None,
    active: Annotated[bool | None, Query(description="true: đang hoạt động; false: đã khóa")] = None,
) -> list[UserOut]:
    agency_id = principal.scope_agency_id
    units = {a.id: a for a in session.exec(select(Agency).where(
        or_(Agency.id == agency_id, Agency.parent_id == agency_id))).all()}  # type: ignore[arg-type]
    units = {i: a for i, a in units.items() if i == agency_id or a.is_division}
    query = select(User).where(User.agency_id.in_(list(units)))  # type: ignore[attr-defined]
    if active is not None:
        query = query.where(User.is_active == active)
    out = []
    for user in session.exec(query.order_by(User.full_name, User.username)).all():
        unit = units[user.agency_id]
        division_of = unit if unit.id != agency_id else None
        if role is not None and role not in (user.roles or []):
            continue  # roles are a JSON list: filtered here (an agency has tens of users, not thousands)
        if division is not None and (division_of is None or division_of.code != division):
            continue
        out.append(UserOut(username=user.username, full_name=user.full_name, title=user.title,
                           division_code=division_of.code if division_of else None,
                           division_name=division_of.name if division_of else None,
                           roles=list(user.roles or []), is_active=user.is_active))
    return out
