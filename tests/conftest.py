"""Every test that takes `engine` (directly or through `client`, `session`...) runs twice: on SQLite
and on PostgreSQL. The schema comes from the Alembic revisions, once per database per session;
each test starts from empty tables.

PostgreSQL: MOTCUA_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test). With
CI=true an unreachable server fails the run; elsewhere the PostgreSQL half is deselected with a
loud warning.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from app.clock import FrozenClock
from app.db import make_engine, make_sessionmaker
from app.migrations import upgrade
from app.settings import Settings

VN = ZoneInfo("Asia/Ho_Chi_Minh")
PG_URL = os.environ.get("MOTCUA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_SECRET = "test-secret-for-the-suite-only-0123456789"
_pg_status: dict[str, object] = {}


def _psycopg_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def postgres_reachable() -> bool:
    if "ok" not in _pg_status:
        try:
            engine = create_engine(_psycopg_url(PG_URL), connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            _pg_status["ok"] = True
        except Exception as exc:  # noqa: BLE001
            _pg_status["ok"] = False
            _pg_status["error"] = str(exc).splitlines()[0]
    return bool(_pg_status["ok"])


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # the controller already checked
    if not postgres_reachable():
        message = f"PostgreSQL unreachable at {PG_URL}: {_pg_status.get('error')}"
        if IN_CI:
            pytest.exit(f"CI=true and {message}; the PostgreSQL half of the suite must run.", returncode=3)
        warnings.warn(f"{message}. RUNNING THE SQLITE HALF ONLY.", stacklevel=1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if postgres_reachable():
        return
    deselected = [item for item in items if "[postgresql" in item.nodeid or "-postgresql" in item.nodeid]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    if not postgres_reachable():
        terminalreporter.write_line("!" * 78, red=True)
        terminalreporter.write_line(f"!! ONLY SQLITE WAS TESTED: PostgreSQL unreachable at {PG_URL}", red=True)
        terminalreporter.write_line("!" * 78, red=True)


def _worker_id(request: pytest.FixtureRequest) -> str:
    # The pid keeps concurrent runs on one machine (several terminals, CI beside a dev) apart.
    return f'{getattr(request.config, "workerinput", {}).get("workerid", "main")}_{os.getpid()}'


def drop_postgres_database(url: str) -> None:
    admin = create_engine(_psycopg_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def fresh_postgres_database(name: str) -> str:
    """(Re)create database `name` on the test server and return its URL."""
    admin = create_engine(_psycopg_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def fresh_database_url(kind: str, label: str, request: pytest.FixtureRequest,
                       tmp_path_factory: pytest.TempPathFactory) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp(label)}/motcua.db"
    return fresh_postgres_database(f"motcua_{label}_{_worker_id(request)}")


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = dict(env="test", database_url=database_url, jwt_secret=TEST_SECRET,
                                     password_time_cost=1, password_memory_cost=1024, log_level="WARNING",
                                     db_pool_size=5,
                                     # dossier files of the run: a scratch directory, never the repository's var/
                                     storage_dir=os.path.join(tempfile.gettempdir(), f"motcua-test-files-{os.getpid()}"))
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(db_kind: str, request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = fresh_database_url(db_kind, "suite", request, tmp_path_factory)
    yield url
    if db_kind == "postgresql":
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(make_settings(database_url))
    upgrade(engine)
    yield engine
    engine.dispose()


def truncate_all(engine: Engine) -> None:
    """Empty every table, children first, and restart the id sequences (as TRUNCATE ... RESTART
    IDENTITY would). On PostgreSQL DELETE, not TRUNCATE: the test tables hold a few rows, and a
    TRUNCATE of 33 tables makes new files for each table and index (about 0.3-1 s a test, against
    10 ms for the DELETEs: minutes over the suite's PostgreSQL half)."""
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as conn:
        for table in tables:
            conn.execute(text(f'DELETE FROM "{table}"'))
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) "
                              "FROM pg_sequences WHERE schemaname = current_schema()"))
    from app.foresight.risk_scan import forget_models
    from app.reference import forget_all

    forget_all()  # the rows went behind the ORM's back: no worker cache may keep them
    forget_models()  # nor the day's late-risk models (learnt from the rows of an earlier test)


@pytest.fixture
def settings(database_url: str, engine: Engine) -> Settings:
    truncate_all(engine)
    return make_settings(database_url)


@pytest.fixture
def clock() -> FrozenClock:
    # Monday 23 November 2026, 09:00 in Hà Nội: a working day, the day before Vietnam Culture Day.
    return FrozenClock(datetime(2026, 11, 23, 9, 0, tzinfo=VN))


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, engine: Engine):  # noqa: ANN201
    from app.main import create_app

    return create_app(settings, clock=clock, engine=engine)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def session(engine: Engine, settings: Settings) -> Iterator[Session]:
    factory = make_sessionmaker(engine)
    with factory() as s:
        yield s


_DEMO_SNAPSHOTS: set[tuple[str, datetime]] = set()  # (database, seeding moment) with a snapshot taken


def _table_names() -> list[str]:
    import app.models  # noqa: F401 (every table in the metadata, whichever test came first)

    return [t.name for t in SQLModel.metadata.sorted_tables]  # parents first


def _all_empty(engine: Engine) -> bool:
    probe = " UNION ALL ".join(f'SELECT 1 FROM (SELECT 1 FROM "{t}" LIMIT 1) AS "{t}"' for t in _table_names())
    with engine.connect() as conn:
        return conn.execute(text(probe)).first() is None


def _snapshot_name(now: datetime) -> str:
    return f"demo_snapshot_{int(now.timestamp())}"


def _take_demo_snapshot(engine: Engine, now: datetime) -> None:
    """Copy every table, as the demo seeding left it, aside: a PostgreSQL schema, or a SQLite file
    next to the database, byte-for-byte values (no ORM, no type processing in between)."""
    name = _snapshot_name(now)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
            for t in _table_names():
                conn.execute(text(f'CREATE TABLE "{name}"."{t}" AS SELECT * FROM public."{t}"'))
        return
    raw = engine.raw_connection()  # autocommit driver connection: ATTACH cannot run in a transaction
    try:
        cursor = raw.cursor()
        cursor.execute("ATTACH DATABASE ? AS snap", (f"{engine.url.database}.{name}",))
        for t in _table_names():
            cursor.execute(f'DROP TABLE IF EXISTS snap."{t}"')
            cursor.execute(f'CREATE TABLE snap."{t}" AS SELECT * FROM main."{t}"')
        cursor.execute("DETACH DATABASE snap")
        cursor.close()
    finally:
        raw.close()


def _restore_demo_snapshot(engine: Engine, now: datetime) -> None:
    """Put the snapshot's rows back into the (empty) tables, ids included, and move the id
    sequences past them: the same rows a new seeding writes, without hashing passwords again."""
    name = _snapshot_name(now)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for t in _table_names():
                conn.execute(text(f'INSERT INTO public."{t}" SELECT * FROM "{name}"."{t}"'))
            for table in SQLModel.metadata.sorted_tables:
                if "id" in table.c:  # setval is strict: a table without a serial id gets NULL, no error
                    sequence = f"pg_get_serial_sequence('public.\"{table.name}\"', 'id')"
                    conn.execute(text(f'SELECT setval({sequence}, max(id)) FROM public."{table.name}" '
                                      "HAVING max(id) IS NOT NULL"))
        return
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("ATTACH DATABASE ? AS snap", (f"{engine.url.database}.{name}",))
        cursor.execute("BEGIN IMMEDIATE")
        for t in _table_names():
            cursor.execute(f'INSERT INTO main."{t}" SELECT * FROM snap."{t}"')
        cursor.execute("COMMIT")
        cursor.execute("DETACH DATABASE snap")
        cursor.close()
    finally:
        raw.close()


def _seed_demo_world(engine: Engine, settings: Settings, now: datetime) -> None:
    from app.auth.service import create_agency, create_user
    from app.catalog.demo import seed_demo
    from app.db import transaction

    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        seed_demo(s, settings=settings, now=now)
        create_agency(s, code="000.00.18.H27", name="Sở Giáo dục và Đào tạo tỉnh khác", now=now)
        for username, roles in [("other_desk", ["desk"]), ("other_admin", ["admin"]),
                                ("other_leader", ["leader"]), ("other_specialist", ["specialist"]),
                                ("other_reporter", ["reporter"])]:
            create_user(s, username=username, password="demo1234", full_name="Cán bộ tỉnh khác",
                        agency_code="000.00.18.H27", roles=roles, settings=settings, now=now)


@pytest.fixture
def demo(engine: Engine, settings: Settings, clock: FrozenClock) -> dict[str, object]:
    """The demo Department (users, divisions, catalogue) plus a second Department with its own staff,
    to prove that one agency never sees the other's dossiers.

    Seeded for real once per database and moment; later tests starting from empty tables get the
    same rows copied back from a snapshot (seeding hashes a dozen passwords: 0.2-0.6 s a test)."""
    from app.reference import forget_all

    now = clock.now()
    key = (str(engine.url), now)
    if key in _DEMO_SNAPSHOTS and _all_empty(engine):
        _restore_demo_snapshot(engine, now)
        forget_all()
    elif _all_empty(engine):
        _seed_demo_world(engine, settings, now)
        _take_demo_snapshot(engine, now)
        _DEMO_SNAPSHOTS.add(key)
    else:  # a fixture wrote rows first: seed on top of them, as always
        _seed_demo_world(engine, settings, now)
    return {"agency_code": "000.00.17.H26", "other_agency_code": "000.00.18.H27"}


@pytest.fixture
def login(client: TestClient, demo):  # noqa: ANN001, ANN201
    """login("motcua") -> Authorization headers for that demo user."""
    cache: dict[str, dict[str, str]] = {}

    def _login(username: str, password: str = "demo1234") -> dict[str, str]:
        if username not in cache:
            response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
            assert response.status_code == 200, response.text
            cache[username] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return cache[username]

    return _login
