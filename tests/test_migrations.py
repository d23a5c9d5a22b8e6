"""Alembic revisions round-trip on both databases: upgrade head → downgrade base → upgrade head,
and the models match what the revisions build."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from app.db import make_engine
from app.migrations import current_revision, downgrade, head_revision, upgrade
from tests.conftest import drop_postgres_database, fresh_database_url, make_settings


@pytest.fixture(scope="session")
def _scratch_postgres(request, tmp_path_factory):  # noqa: ANN001, ANN202
    """One scratch PostgreSQL database for the file, dropped once: a DROP DATABASE forces a
    checkpoint (seconds on a busy server), so the tests empty its schema instead."""
    url = fresh_database_url("postgresql", "migrations", request, tmp_path_factory)
    yield url
    drop_postgres_database(url)


@pytest.fixture
def scratch_engine(db_kind, request, tmp_path_factory):  # noqa: ANN001, ANN201
    """An empty database: a new SQLite file, or the scratch PostgreSQL database with its public
    schema (and pg_trgm, which lives there) dropped and made again, as a new database has it."""
    if db_kind == "postgresql":
        url = request.getfixturevalue("_scratch_postgres")
    else:
        url = fresh_database_url(db_kind, "migrations", request, tmp_path_factory)
    engine = make_engine(make_settings(url))
    if db_kind == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    yield engine
    engine.dispose()


def test_round_trip(scratch_engine):
    upgrade(scratch_engine)
    assert current_revision(scratch_engine) == head_revision()
    downgrade(scratch_engine, "base")
    assert current_revision(scratch_engine) is None
    upgrade(scratch_engine)
    assert current_revision(scratch_engine) == head_revision()


def test_models_match_migrations(scratch_engine):
    upgrade(scratch_engine)
    with scratch_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_0018_fills_search_keys_and_step_holders_of_existing_rows(scratch_engine):
    """Dossiers written before revision 0018 get the name key and who may take their step."""
    from datetime import datetime, timezone

    from sqlalchemy import text
    from sqlmodel import Session, select

    from app.catalog.demo import seed_demo
    from app.models import Agency, Dossier, Procedure

    upgrade(scratch_engine)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    with Session(scratch_engine) as session:
        seed_demo(session, settings=make_settings(str(scratch_engine.url)), now=now)
        procedure = session.exec(select(Procedure).where(Procedure.code == "2.001914")).one()
        department = session.exec(select(Agency).where(Agency.code == "000.00.17.H26")).one()
        for step, name in ((1, "Nguyễn Văn Đức"), (2, "Đặng Thị Ánh"), (None, "Lê Văn Tám")):
            session.add(Dossier(code=f"000.00.17.H26-261123-000{step or 9}", agency_id=department.id,
                                receiving_agency_id=department.id, procedure_id=procedure.id, channel="direct",
                                applicant_name=name, applicant_id_number="001099012345", documents=[],
                                status="processing" if step is not None else "received", current_step=step,
                                assigned_division_id=procedure.division_id, lookup_secret_hash="x",
                                created_at=now, updated_at=now))
        division, department_id = procedure.division_id, department.id
        session.commit()
    downgrade(scratch_engine, "0015")  # the revision before 0018
    upgrade(scratch_engine)
    with scratch_engine.connect() as connection:
        rows = connection.execute(text("SELECT applicant_name_key, step_role, step_agency_id, step_unit_id "
                                       "FROM dossiers ORDER BY code")).all()
    assert [tuple(r) for r in rows] == [
        ("nguyen van duc", "leader", department_id, division),  # the division head's step
        ("dang thi anh", "leader", department_id, department_id),  # the Department leaders' own step
        ("le van tam", None, None, None)]  # not at a step
