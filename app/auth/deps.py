"""FastAPI dependencies for the caller: who they are, which roles, which agency they see."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import aliased
from sqlmodel import select

from app.api.deps import SessionDep, SettingsDep
from app.auth.tokens import verify_token
from app.errors import NotAuthenticated, NotPermitted
from app.auth.principal import Principal, scope_agency_of
from app.models import Agency, Role, User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_principal(session: SessionDep, settings: SettingsDep,
                  token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    if not token:
        raise NotAuthenticated(headers={"WWW-Authenticate": "Bearer"})
    user_id = verify_token(token, settings)
    # One round trip: the user, their agency and (for a division) its Department, which every
    # service call of the request then finds in the session instead of reading it again.
    department = aliased(Agency)
    row = session.exec(select(User, Agency, department).join(Agency, Agency.id == User.agency_id)
                       .outerjoin(department, department.id == Agency.parent_id)
                       .where(User.id == user_id)).first()
    if row is None or not row[0].is_active:
        raise NotAuthenticated("Tài khoản không tồn tại hoặc đã bị khóa.", code="invalid_token")
    user, agency, _ = row
    return Principal(user=user, roles=frozenset(user.roles), scope_agency_id=scope_agency_of(agency),
                     agency=agency)


CurrentUser = Annotated[Principal, Depends(get_principal)]


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
