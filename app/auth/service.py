"""Agencies and users: who works where, with which roles."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from app.auth import throttle
from app.auth.passwords import check_new_password, dummy_hash, hash_password, verify_password
from app.auth.principal import Principal
from app.db import transaction
from app.errors import Conflict, Invalid, NotAuthenticated, NotFound
from app.models import Agency, Role, User
from app.settings import Settings
from app.sla.calendar import parse_working_hours


def sign_in(factory: sessionmaker[Session], *, username: str, password: str, client: str, now: datetime,
            settings: Settings) -> User:
    """Check a login, limited per username and per address (`throttle`): the user, or
    `NotAuthenticated` (401), or `RateLimited` (429, before any hash is computed).

    Short transactions of its own (a counted failure stays counted when the request fails) and
    none held while the hash is checked."""
    hits = throttle.count_attempt(factory, username=username, client=client, now=now, settings=settings)
    with transaction(factory) as session:
        user = session.exec(select(User).where(User.username == username)).first()
    _check_password(user, password, settings)
    assert user is not None
    with transaction(factory) as session:
        throttle.forgive(session, hits)
    return user


def _check_password(user: User | None, password: str, settings: Settings) -> None:
    if user is None:
        verify_password(password, dummy_hash(settings), settings)  # same cost as a real check
        raise NotAuthenticated("Tên đăng nhập hoặc mật khẩu không đúng.", code="invalid_credentials")
    if not verify_password(password, user.password_hash, settings) or not user.is_active:
        raise NotAuthenticated("Tên đăng nhập hoặc mật khẩu không đúng.", code="invalid_credentials")


def change_password(factory: sessionmaker[Session], principal: Principal, *, current_password: str,
                    new_password: str, client: str, now: datetime, settings: Settings) -> User:
    """The signed-in user changes their password: the current one is checked under the same limits
    as a login; the tokens issued before stop working (token_version, app/models.py)."""
    user = principal.user
    hits = throttle.count_attempt(factory, username=user.username, client=client, now=now, settings=settings)
    if not verify_password(current_password, user.password_hash, settings):
        raise Invalid("Mật khẩu hiện tại không đúng.", code="wrong_password",
                      detail=[{"loc": ["body", "current_password"], "msg": "Mật khẩu hiện tại không đúng."}])
    with transaction(factory) as session:
        throttle.forgive(session, hits)
    if new_password == current_password:
        raise Invalid("Mật khẩu mới phải khác mật khẩu hiện tại.", code="weak_password")
    check_new_password(new_password, username=user.username)
    return _store_password(factory, user.id, hash_password(new_password, settings))


def reset_password(session: Session, *, username: str, new_password: str, settings: Settings) -> User:
    """An administrator sets a user's password (`motcua reset-password`); earlier tokens end."""
    user = _user_by_name(session, username)
    check_new_password(new_password, username=username)
    user.password_hash = hash_password(new_password, settings)
    session.add(user)
    session.flush()
    return user


def set_active(session: Session, *, username: str, active: bool) -> User:
    """(De)activate an account (`motcua set-user-active`); a change ends every earlier token."""
    user = _user_by_name(session, username)
    user.is_active = active
    session.add(user)
    session.flush()
    return user


def _user_by_name(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"Không có tài khoản {username}.", code="user_not_found")
    return user


def _store_password(factory: sessionmaker[Session], user_id: int | None, password_hash: str) -> User:
    with transaction(factory) as session:
        user = session.exec(select(User).where(User.id == user_id).with_for_update()).one()
        user.password_hash = password_hash  # bumps token_version
        session.add(user)
        session.flush()
        session.refresh(user)
    return user


def agency_by_code(session: Session, code: str) -> Agency:
    agency = session.exec(select(Agency).where(Agency.code == code)).first()
    if agency is None:
        raise NotFound(f"Không có cơ quan, đơn vị mã {code}.", code="agency_not_found")
    return agency


def create_agency(session: Session, *, code: str, name: str, now: datetime, parent_code: str | None = None,
                  is_division: bool = False, working_hours: str | None = None, address: str | None = None,
                  phone: str | None = None, head_title: str = "Giám đốc", kind: str = "department") -> Agency:
    if session.exec(select(Agency).where(Agency.code == code)).first() is not None:
        raise Conflict(f"Mã cơ quan {code} đã tồn tại.", code="agency_exists")
    parent = agency_by_code(session, parent_code) if parent_code else None
    if is_division and parent is None:
        raise Invalid("Phòng, ban chuyên môn phải thuộc một cơ quan cha.", code="division_without_parent")
    if working_hours:
        try:
            parse_working_hours(working_hours)
        except ValueError as exc:
            raise Invalid(f"Giờ làm việc không hợp lệ: {exc}", code="invalid_working_hours") from exc
    agency = Agency(code=code, name=name, parent_id=parent.id if parent else None, is_division=is_division,
                    working_hours=working_hours, address=address, phone=phone, head_title=head_title,
                    created_at=now, kind=kind)
    session.add(agency)
    session.flush()
    return agency


def create_user(session: Session, *, username: str, password: str, full_name: str, agency_code: str,
                roles: Iterable[str], settings: Settings, now: datetime, title: str | None = None,
                email: str | None = None, phone: str | None = None) -> User:
    roles = sorted(set(roles))
    unknown = [r for r in roles if r not in Role.__members__]
    if not roles or unknown:
        raise Invalid(f"Vai trò không hợp lệ: {', '.join(unknown) or '(trống)'}. "
                      f"Chọn trong: {', '.join(Role)}.", code="invalid_role")
    check_new_password(password, username=username)
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"Tên đăng nhập {username} đã tồn tại.", code="user_exists")
    agency = agency_by_code(session, agency_code)
    user = User(username=username, full_name=full_name, title=title, password_hash=hash_password(password, settings),
                agency_id=agency.id, roles=roles, email=email, phone=phone, created_at=now)
    session.add(user)
    session.flush()
    return user
