"""Alembic environment: the URL and engine come from app settings; the schema from app.models."""

import warnings

from alembic import context

from app import models  # noqa: F401  (registers the tables)
from app.db import UTCDateTime, make_engine
from app.settings import get_settings
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

config = context.config
target_metadata = SQLModel.metadata


def render_item(type_, obj, autogen_context):  # noqa: ANN001
    """Render our column types as plain SQLAlchemy ones so revisions never import app code."""
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def run_migrations_offline() -> None:
    context.configure(url=get_settings().database_url, target_metadata=target_metadata,
                      literal_binds=True, compare_type=True, render_item=render_item, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # handed in by app.migrate (tests, CLI) to reuse one engine
        _run(connection)
        return
    engine = make_engine(get_settings())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # noqa: ANN001
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True,
                      render_item=render_item,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction(), warnings.catch_warnings():
        # SQLite's batch operations reflect a table and the tables its foreign keys reach (dossiers),
        # whose expression indexes SQLite cannot reflect; a batch never copies dossiers (STYLE: they
        # are altered in place), so the warning is noise on every `make run`.
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index")
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
