"""Engine and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, create_engine, event, text
from sqlalchemy.orm import sessionmaker
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

from app.settings import Settings


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on both databases.

    PostgreSQL keeps `timestamptz`; SQLite has no zone, so the value is stored as naive UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SealedJSON(TypeDecorator[Any]):
    """A JSON document encrypted at rest (app/sealing.py): sealed on write, opened on read, by the
    key of the engine's settings (`make_engine`). Rows written before stay readable."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect):  # type: ignore[override]
        return None if value is None else _sealer_of(dialect).seal(value)

    def process_result_value(self, value: Any, dialect):  # type: ignore[override]
        return None if value is None else _sealer_of(dialect).open(value)


def _sealer_of(dialect):  # noqa: ANN001, ANN202
    sealer = getattr(dialect, "motcua_sealer", None)
    if sealer is None:  # an engine not made by make_engine (a script): the process's settings
        from app.sealing import sealer_for
        from app.settings import get_settings

        sealer = dialect.motcua_sealer = sealer_for(get_settings())
    return sealer


def make_engine(settings: Settings) -> Engine:
    engine = _make_engine(settings)
    from app.sealing import sealer_for

    engine.dialect.motcua_sealer = sealer_for(settings)  # type: ignore[attr-defined]  # SealedJSON's key
    return engine


def _make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: a failed write's error (and its log line) never carries the values,
        # which may be a name, an identity number or a phone.
        engine = create_engine(url, echo=settings.db_echo, hide_parameters=True,
                               connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # JIT off: PostgreSQL compiled the report aggregates for 130-310 ms each, more than some take
    # to run (docs/BENCHMARKS.md); the service's queries are short or index-driven.
    return create_engine(url, echo=settings.db_echo, hide_parameters=True, pool_pre_ping=True,
                         pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size,
                         connect_args={"options": "-c jit=off"})


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        # Take the write lock up front: two deferred transactions that both read and then write
        # would deadlock and one would fail at once instead of waiting its turn.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, class_=Session, expire_on_commit=False, autoflush=True)
    _keep_reference_rows(factory)
    from app import effects, reference

    reference.install(factory)
    effects.install(factory)  # a change's queued event, outbox and step rows are written before commit  # changes to agencies, procedures, users, calendars reach every worker's cache
    return factory


def _keep_reference_rows(factory: sessionmaker[Session]) -> None:
    """Hold agencies, procedures and users strongly for the session's life.

    The identity map is weak: a procedure read at the start of a request and no longer referenced
    is gone when the response is built, and `session.get` reads it again (two to four extra round
    trips per intake or action). SQLAlchemy's "session referencing behavior" recipe, limited to
    these few small rows so that a scheduler batch does not pin the dossiers it walks.
    """
    from app.models import Agency, Procedure, User

    kept = (Agency, Procedure, User)

    @event.listens_for(factory, "pending_to_persistent")
    @event.listens_for(factory, "deleted_to_persistent")
    @event.listens_for(factory, "detached_to_persistent")
    @event.listens_for(factory, "loaded_as_persistent")
    def _keep(session, instance):  # noqa: ANN001, ANN202
        if isinstance(instance, kept):
            session.info.setdefault("kept", {})[id(instance)] = instance  # models are unhashable

    @event.listens_for(factory, "persistent_to_detached")
    @event.listens_for(factory, "persistent_to_deleted")
    @event.listens_for(factory, "persistent_to_transient")
    def _release(session, instance):  # noqa: ANN001, ANN202
        session.info.get("kept", {}).pop(id(instance), None)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work outside a request (CLI, scheduler jobs): commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def try_advisory_xact_lock(session: Session, name: str) -> bool:
    """Take a transaction-scoped PostgreSQL advisory lock named `name`; True on SQLite.

    Scheduler replicas use it so that each job body runs in one of them at a time; the lock
    goes with the transaction, so a crashed replica never leaves it held.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())
