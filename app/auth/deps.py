"""FastAPI dependencies for the caller: who they are, which roles, which agency they see."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from app import reference
from app.api.deps import SessionDep, SessionFactoryDep, SettingsDep
from app.auth.tokens import verify_token
from app.db import transaction
from app.errors import NotAuthenticated, NotPermitted
from app.auth.principal import Principal, scope_agency_of
from app.models import Role
from app.settings import Settings

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_principal(session: SessionDep, settings: SettingsDep,
                  token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    return principal_of(session, token, settings)


def get_principal_own_transactions(factory: SessionFactoryDep, settings: SettingsDep,
                                   token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    """The caller, read in a short transaction of its own, for routes that hold no request session."""
    with transaction(factory) as session:
        return principal_of(session, token, settings)


def principal_of(session: Session, token: str | None, settings: Settings) -> Principal:
    """The caller a bearer token names: a valid signature, an active user, the token's version."""
    if not token:
        raise NotAuthenticated(headers={"WWW-Authenticate": "Bearer"})
    claims = verify_token(token, settings)
    # From the worker's memory (app/reference.py: dropped at once when a user, e.g. their password
    # or token version, or an agency changes); the user, their agency and (for a division) its
    # Department are then in the session for every service call of the request.
    user = reference.user(session, claims.user_id)
    if user is None or not user.is_active:
        raise NotAuthenticated("Tài khoản không tồn tại hoặc đã bị khóa.", code="invalid_token")
    if user.token_version != claims.version:  # the password changed or the account was (de)activated since
        raise NotAuthenticated("Phiên đăng nhập đã hết hiệu lực (mật khẩu đã được đổi); vui lòng đăng nhập lại.",
                               code="invalid_token")
    agency = reference.agency(session, user.agency_id)
    assert agency is not None
    if agency.parent_id is not None:
        reference.agency(session, agency.parent_id)
    return Principal(user=user, roles=frozenset(user.roles), scope_agency_id=scope_agency_of(agency),
                     agency=agency)


CurrentUser = Annotated[Principal, Depends(get_principal)]
# The same caller for routes that run their own short transactions (password change).
SignedInUser = Annotated[Principal, Depends(get_principal_own_transactions)]


def require_roles(*roles: Role):
    """A dependency that lets through callers holding any of `roles`."""

    def _check(principal: CurrentUser) -> Principal:
        if not principal.has(*roles):
            raise NotPermitted(detail={"required_roles": [str(r) for r in roles]})
        return principal

    return _check


Admin = Annotated[Principal, Depends(require_roles(Role.admin))]
DeskOfficer = Annotated[Principal, Depends(require_roles(Role.desk))]
IntakeOfficer = Annotated[Principal, Depends(require_roles(Role.desk, Role.postal))]
Leader = Annotated[Principal, Depends(require_roles(Role.leader))]
Reporter = Annotated[Principal, Depends(require_roles(Role.reporter, Role.leader))]
Staff = Annotated[Principal, Depends(require_roles(Role.desk, Role.specialist, Role.leader, Role.reporter,
                                                   Role.postal))]
