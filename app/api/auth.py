from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from app.api.deps import SessionDep, SettingsDep
from app.auth.deps import CurrentUser
from app.auth.service import authenticate
from app.auth.tokens import issue_token

router = APIRouter(prefix="/api/v1/auth", tags=["đăng nhập"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MeOut(BaseModel):
    id: int
    username: str
    full_name: str
    title: str | None
    roles: list[str]
    agency_code: str
    agency_name: str


@router.post("/token", response_model=TokenOut, summary="Đăng nhập (OAuth2 password) lấy mã truy cập")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep,
          settings: SettingsDep) -> TokenOut:
    user = authenticate(session, username=form.username, password=form.password, settings=settings)
    assert user.id is not None
    token, lifetime = issue_token(user_id=user.id, username=user.username, roles=user.roles, settings=settings)
    return TokenOut(access_token=token, expires_in=lifetime)


@router.get("/me", response_model=MeOut, summary="Thông tin tài khoản đang đăng nhập")
def me(principal: CurrentUser) -> MeOut:
    user = principal.user
    return MeOut(id=principal.id, username=user.username, full_name=user.full_name, title=user.title,
                 roles=sorted(principal.roles), agency_code=principal.agency.code,
                 agency_name=principal.agency.name)
