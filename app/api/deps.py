"""Typed dependencies shared by the routers: the session, the clock, the settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.clock import Clock
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
