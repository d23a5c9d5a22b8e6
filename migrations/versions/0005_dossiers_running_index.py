"""index the dossiers whose clock runs, for the overdue and due-soon lists

`GET /api/v1/dossiers?overdue=true` (and `due_soon=true`) walks dossiers newest first until a
page of matches is found. With only the primary key to walk, an agency with few overdue dossiers
made PostgreSQL read the whole table (959 ms at 2,000,000 dossiers, docs/BENCHMARKS.md); this
partial index holds only the dossiers whose clock runs (the open ones): 67 ms there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("clock_state = 'running'")


def upgrade() -> None:
    op.create_index('ix_dossiers_running', 'dossiers', ['id'], unique=False,
                    postgresql_where=RUNNING, sqlite_where=RUNNING)


def downgrade() -> None:
    op.drop_index('ix_dossiers_running', table_name='dossiers', postgresql_where=RUNNING, sqlite_where=RUNNING)
