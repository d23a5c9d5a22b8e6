"""Alembic revisions round-trip on both databases: upgrade head → downgrade base → upgrade head,
and the models match what the revisions build."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from app.db import make_engine
from app.migrations import current_revision, downgrade, head_revision, upgrade
from tests.conftest import drop_postgres_database, fresh_database_url, make_settings


@pytest.fixture
def scratch_engine(db_kind, request, tmp_path_factory):
    url = fresh_database_url(db_kind, "migrations", request, tmp_path_factory)
    engine = make_engine(make_settings(url))
    yield engine
    engine.dispose()
    if db_kind == "postgresql":
        drop_postgres_database(url)


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
