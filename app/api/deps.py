"""Typed dependencies shared by the routers: the session, the clock, the settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.clock import Clock
from app.errors import Invalid
from app.settings import Settings


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: commit when the handler returns, roll back if it raises.

    The dependency has `scope="function"`, so the commit runs before the response is sent and a
    failing commit becomes an error response instead of a lost write behind a 2xx.
    """
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_clock(request: Request) -> Clock:
    return request.app.state.clock


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_sessionmaker(request: Request) -> sessionmaker[Session]:
    """For routes that run several short transactions of their own (rate-limited ones: a counted
    attempt must stay counted when the request then fails)."""
    return request.app.state.sessionmaker


SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_sessionmaker)]


def _declared_query(route) -> frozenset[str]:  # noqa: ANN001
    names = _DECLARED.get(id(route))
    if names is None:
        found: set[str] = set()
        pending = [route.dependant]
        while pending:  # the route's own parameters and those of its dependencies
            dependant = pending.pop()
            found.update(p.alias for p in dependant.query_params)
            pending.extend(dependant.dependencies)
        names = _DECLARED[id(route)] = frozenset(found)
    return names


_DECLARED: dict[int, frozenset[str]] = {}


def refuse_unknown_query(request: Request) -> None:
    """A list route refuses a query parameter it does not declare (422), rather than ignoring a
    misspelt filter and answering everything."""
    from app.errors import Invalid

    route = request.scope.get("route")
    if route is None:
        return
    unknown = sorted(set(request.query_params) - _declared_query(route))
    if unknown:
        raise Invalid("Tham số truy vấn không được hỗ trợ: " + ", ".join(unknown)[:200] + ".",
                      code="unknown_query_parameter", detail={"unknown": unknown[:20]})


StrictQuery = Depends(refuse_unknown_query)


IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=32)]


def expected_version(if_match: str | None, body_version: int | None) -> int | None:
    """The dossier version a change is made on: `If-Match` (a bare or quoted number, weak or not)
    when sent, else the body's `version`."""
    if if_match is None:
        return body_version
    try:
        return int(if_match.strip().strip('W/').strip('"'))
    except ValueError:
        raise Invalid("If-Match phải là số phiên bản hồ sơ.", code="invalid_if_match") from None

