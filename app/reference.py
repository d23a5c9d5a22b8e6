"""Reference data from memory: agencies, procedures, users (their roles, token versions) and each
agency's calendar overrides, held per worker and per engine, dropped **at once** when any of them
changes anywhere, never after a time-to-live.

* **Who changes them**: any ORM flush that inserts, updates or deletes one of those rows (the
  catalogue, the calendar, users, agencies: every writer goes through the ORM) makes the same
  transaction announce it (`_announce`, a session event): on PostgreSQL `NOTIFY motcua_reference`
  (delivered at commit, never for a rolled-back change); on SQLite `reference_version.version + 1`.
* **Who listens**: on PostgreSQL each cache holds one `LISTEN motcua_reference` connection of its
  own and drains it, without blocking and without a round trip (what the server already pushed), at
  every use; any notification, or a lost listening connection, empties the cache. On SQLite the
  version row is read once per session (a local file read, no network) and a different version
  empties the cache.
* A write made outside the service (psql) is not announced: send `NOTIFY motcua_reference` (or
  bump `reference_version`) after it, or restart the workers.

Cached rows are detached copies; a session receives its own instance with `Session.merge(...,
load=False)` (no SQL), so services use and may change them as if they had read them.
"""

from __future__ import annotations

import logging
import threading
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import make_transient_to_detached, sessionmaker
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, SQLModel

from app.models import Agency, CalendarOverride, Procedure, ReferenceVersion, User

log = logging.getLogger("motcua.reference")

CHANNEL = "motcua_reference"
WATCHED = (Agency, Procedure, User, CalendarOverride)
M = TypeVar("M", bound=SQLModel)

_caches: dict[int, ReferenceCache] = {}
_caches_lock = threading.Lock()


class ReferenceCache:
    """One engine's reference rows in this process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.lock = threading.RLock()
        self.rows: dict[tuple[type, Any], SQLModel] = {}
        self.codes: dict[str, int] = {}  # procedure code -> id
        self.histories: dict[int, tuple[str | None, tuple[tuple, ...]]] = {}  # agency -> (hours, overrides)
        self.version: int | None = None  # SQLite: the reference_version the rows were read at
        self._listener: Any = None

    def clear(self) -> None:
        with self.lock:
            self.rows.clear()
            self.codes.clear()
            self.histories.clear()

    # -- freshness --------------------------------------------------------------------------------

    def usable(self, session: Session) -> bool:
        """Drop what changed since; False when freshness cannot be known (then read the database), or
        when this session changed reference rows itself (what it reads may never be committed)."""
        if session.info.get("reference_writer"):
            return False
        if self.postgres:
            return self._drain()
        seen = session.info.get("reference_version_checked")
        if seen is None:
            found = session.execute(select(ReferenceVersion.version).where(ReferenceVersion.id == 1)).scalar()
            seen = session.info["reference_version_checked"] = int(found or 0)
        with self.lock:
            if self.version != seen:
                self.clear()
                self.version = seen
        return True

    def _drain(self) -> bool:
        with self.lock:
            try:
                if self._listener is None or self._listener.closed:
                    self.clear()  # notifications may have been missed while not listening
                    self._listener = self._listen()
                notified = False
                for _ in self._listener.notifies(timeout=0):
                    notified = True
                if notified:
                    self.clear()
                return True
            except Exception as exc:  # noqa: BLE001  the database restarted: forget, read, listen again later
                log.warning("reference cache listener lost", extra={"fields": {"error": type(exc).__name__}})
                self.clear()
                self._close_listener()
                return False

    def _listen(self) -> Any:
        import psycopg

        url = self.engine.url.set(drivername="postgresql")
        connection = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        connection.execute(f"LISTEN {CHANNEL}")
        return connection

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except Exception:  # noqa: BLE001
                pass
            self._listener = None

    # -- rows ---------------------------------------------------------------------------------------

    def get(self, session: Session, model: type[M], key: Any) -> M | None:
        found = session.identity_map.get(identity_key(model, key))
        if found is not None:
            return found  # type: ignore[return-value]
        usable = self.usable(session)
        with self.lock:
            cached = self.rows.get((model, key)) if usable else None
        if cached is None:
            row = session.get(model, key)
            if row is not None and usable:
                self._keep(model, key, row)
            return row
        merged = session.merge(cached, load=False)
        session.info.setdefault("kept", {})[id(merged)] = merged  # as app.db keeps rows it read
        return merged

    def _keep(self, model: type, key: Any, row: SQLModel) -> None:
        copy = _detached_copy(row)
        with self.lock:
            self.rows[(model, key)] = copy
            if model is Procedure:
                self.codes[row.code] = key  # type: ignore[attr-defined]

    def procedure_by_code(self, session: Session, code: str) -> Procedure | None:
        usable = self.usable(session)
        if usable:
            with self.lock:
                key = self.codes.get(code)
            if key is not None:
                return self.get(session, Procedure, key)
        row = session.execute(select(Procedure).where(Procedure.code == code)).scalars().first()
        if row is not None and usable:
            self._keep(Procedure, row.id, row)
        return row

    def history(self, session: Session, agency_id: int) -> tuple[str | None, tuple[tuple, ...]] | None:
        """(working hours, override history) of an agency; None when it does not exist."""
        usable = self.usable(session)
        if usable:
            with self.lock:
                found = self.histories.get(agency_id)
            if found is not None:
                return found
        agency = self.get(session, Agency, agency_id)
        if agency is None:
            return None
        rows = session.execute(select(CalendarOverride.version, CalendarOverride.day, CalendarOverride.is_working,
                                      CalendarOverride.reason, CalendarOverride.is_removal)
                               .where(CalendarOverride.agency_id == agency_id)
                               .order_by(CalendarOverride.version)).all()
        value = (agency.working_hours, tuple(tuple(r) for r in rows))
        if usable:
            with self.lock:
                self.histories[agency_id] = value
        return value


def _detached_copy(row: SQLModel) -> SQLModel:
    """A clean, detached instance with the row's identity and values (for merge(load=False))."""
    model = type(row)
    copy = model()  # table models do not validate; every column is set below, through the instrumentation
    for name in model.__table__.columns.keys():  # type: ignore[attr-defined]
        setattr(copy, name, getattr(row, name))
    make_transient_to_detached(copy)
    return copy


def cache_of(engine: Engine) -> ReferenceCache:
    with _caches_lock:
        cache = _caches.get(id(engine))
        if cache is None or cache.engine is not engine:
            cache = _caches[id(engine)] = ReferenceCache(engine)
            event.listen(engine, "engine_disposed", lambda _engine: _drop(cache))
        return cache


def _drop(cache: ReferenceCache) -> None:
    """The engine was disposed: close its listening connection; a later use starts again."""
    with cache.lock:
        cache.clear()
        cache._close_listener()


def forget_all() -> None:
    """Empty every cache of this process (tests that truncate tables behind the ORM's back)."""
    with _caches_lock:
        for cache in _caches.values():
            cache.clear()
            cache.version = None


# --- reads used by the services -----------------------------------------------------------------------

def _cache(session: Session) -> ReferenceCache:
    return cache_of(session.get_bind().engine)  # type: ignore[union-attr]


def agency(session: Session, agency_id: int) -> Agency | None:
    return _cache(session).get(session, Agency, agency_id)


def procedure(session: Session, procedure_id: int) -> Procedure | None:
    return _cache(session).get(session, Procedure, procedure_id)


def procedure_by_code(session: Session, code: str) -> Procedure | None:
    return _cache(session).procedure_by_code(session, code)


def user(session: Session, user_id: int) -> User | None:
    return _cache(session).get(session, User, user_id)


def calendar_history(session: Session, agency_id: int) -> tuple[str | None, tuple[tuple[int, date, bool, str, bool], ...]] | None:
    return _cache(session).history(session, agency_id)


# --- announcing changes ------------------------------------------------------------------------------

def install(factory: sessionmaker[Session]) -> None:
    """Make every session of `factory` announce, in its own transaction, a change to reference rows."""

    @event.listens_for(factory, "before_flush")
    def _note(session: Session, _context: Any, _instances: Any) -> None:
        if any(isinstance(obj, WATCHED) for obj in (*session.new, *session.deleted)) or any(
                isinstance(obj, WATCHED) and session.is_modified(obj) for obj in session.dirty):
            session.info["reference_changed"] = True

    @event.listens_for(factory, "after_flush")
    def _announce(session: Session, _context: Any) -> None:
        if not session.info.pop("reference_changed", False):
            return
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"NOTIFY {CHANNEL}"))
        else:
            table = ReferenceVersion.__table__  # type: ignore[attr-defined]
            from sqlalchemy.dialects.sqlite import insert

            statement = insert(table).values(id=1, version=1)
            connection.execute(statement.on_conflict_do_update(index_elements=["id"],
                                                               set_={"version": table.c.version + 1}))
        session.info["reference_writer"] = True  # reads no cache from now on, and fills none
        # This worker's own cache is stale from now on, whoever commits first.
        cache_of(connection.engine).clear()
