"""The authenticated caller as services see it (no FastAPI here)."""

from __future__ import annotations

from dataclasses import dataclass

from app.models import Agency, Role, User  # noqa: F401


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. `scope_agency_id` is the agency whose dossiers they may see:
    their own agency, or the Department a division belongs to."""

    user: User
    roles: frozenset[str]
    scope_agency_id: int
    agency: Agency

    @property
    def id(self) -> int:
        assert self.user.id is not None
        return self.user.id

    def has(self, *roles: Role | str) -> bool:
        return bool(self.roles & {str(r) for r in roles})


def scope_agency_of(agency: Agency) -> int:
    if agency.is_division and agency.parent_id is not None:
        return agency.parent_id
    assert agency.id is not None
    return agency.id


def principal_for(session, username: str) -> Principal:  # noqa: ANN001
    """The Principal of a user by name, for work done outside a request (CLI, demo data, tests)."""
    from sqlmodel import select

    user = session.exec(select(User).where(User.username == username)).one()
    agency = session.get(Agency, user.agency_id)
    return Principal(user=user, roles=frozenset(user.roles), scope_agency_id=scope_agency_of(agency), agency=agency)
