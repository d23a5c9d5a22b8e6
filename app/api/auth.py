from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ClockDep, SessionFactoryDep, SettingsDep
from app.auth.deps import CurrentUser, SignedInUser
from app.auth.passwords import MAX_LENGTH
from app.auth.service import change_password, sign_in
from app.auth.tokens import issue_token
from app.models import User
from app.settings import Settings
from app.web.ratelimit import client_of

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
    division_code: str | None = Field(default=None, description="Phòng chuyên môn của tài khoản (nếu có)")
    division_name: str | None = None


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=MAX_LENGTH, description="Mật khẩu đang dùng")
    new_password: str = Field(min_length=1, max_length=MAX_LENGTH,
                              description="Mật khẩu mới: 8–128 ký tự, có cả chữ và số, không chứa tên đăng nhập")


def _token_for(user: User, settings: Settings) -> TokenOut:
    assert user.id is not None
    token, lifetime = issue_token(user_id=user.id, username=user.username, roles=user.roles,
                                  version=user.token_version, settings=settings)
    return TokenOut(access_token=token, expires_in=lifetime)


@router.post("/token", response_model=TokenOut, summary="Đăng nhập (OAuth2 password) lấy mã truy cập",
             responses={429: {"description": "Đăng nhập sai quá nhiều lần; xem header Retry-After"},
                        503: {"description": "Quá nhiều lượt kiểm tra mật khẩu cùng lúc; thử lại sau"}})
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, response: Response,
          factory: SessionFactoryDep, clock: ClockDep, settings: SettingsDep) -> TokenOut:
    response.headers["Cache-Control"] = "no-store"
    user = sign_in(factory, username=form.username, password=form.password, client=client_of(request, settings),
                   now=clock.now(), settings=settings)
    return _token_for(user, settings)


@router.post("/password", response_model=TokenOut,
             summary="Đổi mật khẩu của tài khoản đang đăng nhập (các mã truy cập cũ hết hiệu lực)",
             responses={422: {"description": "Mật khẩu hiện tại không đúng hoặc mật khẩu mới quá yếu"},
                        429: {"description": "Nhập sai mật khẩu quá nhiều lần; xem header Retry-After"},
                        503: {"description": "Quá nhiều lượt kiểm tra mật khẩu cùng lúc; thử lại sau"}})
def password(data: PasswordChangeIn, principal: SignedInUser, request: Request, response: Response,
             factory: SessionFactoryDep, clock: ClockDep, settings: SettingsDep) -> TokenOut:
    """Answers a new access token: every token issued before, this request's included, stops working."""
    response.headers["Cache-Control"] = "no-store"
    user = change_password(factory, principal, current_password=data.current_password,
                           new_password=data.new_password, client=client_of(request, settings), now=clock.now(),
                           settings=settings)
    return _token_for(user, settings)


@router.get("/me", response_model=MeOut, summary="Thông tin tài khoản đang đăng nhập")
def me(principal: CurrentUser) -> MeOut:
    user = principal.user
    return MeOut(id=principal.id, username=user.username, full_name=user.full_name, title=user.title,
                 roles=sorted(principal.roles), agency_code=principal.agency.code,
                 agency_name=principal.agency.name,
                 division_code=principal.agency.code if principal.agency.is_division else None,
                 division_name=principal.agency.name if principal.agency.is_division else None)
