"""Agencies and users: who works where, with which roles."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, select

from app.auth.passwords import dummy_hash, hash_password, verify_password
from app.errors import Conflict, Invalid, NotAuthenticated, NotFound
from app.models import Agency, Role, User
from app.settings import Settings
from app.sla.calendar import parse_working_hours


def authenticate(session: Session, *, username: str, password: str, settings: Settings) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        verify_password(password, dummy_hash(settings), settings)  # same cost as a real check
        raise NotAuthenticated("Tên đăng nhập hoặc mật khẩu không đúng.", code="invalid_credentials")
    if not verify_password(password, user.password_hash, settings) or not user.is_active:
        raise NotAuthenticated("Tên đăng nhập hoặc mật khẩu không đúng.", code="invalid_credentials")
    return user


def agency_by_code(session: Session, code: str) -> Agency:
    agency = session.exec(select(Agency).where(Agency.code == code)).first()
    if agency is None:
        raise NotFound(f"Không có cơ quan, đơn vị mã {code}.", code="agency_not_found")
    return agency


def create_agency(session: Session, *, code: str, name: str, now: datetime, parent_code: str | None = None,
                  is_division: bool = False, working_hours: str | None = None, address: str | None = None,
                  phone: str | None = None, head_title: str = "Giám đốc") -> Agency:
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
                    created_at=now)
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
    if len(password) < 8:
        raise Invalid("Mật khẩu phải có ít nhất 8 ký tự.", code="weak_password")
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"Tên đăng nhập {username} đã tồn tại.", code="user_exists")
    agency = agency_by_code(session, agency_code)
    user = User(username=username, full_name=full_name, title=title, password_hash=hash_password(password, settings),
                agency_id=agency.id, roles=roles, email=email, phone=phone, created_at=now)
    session.add(user)
    session.flush()
    return user
