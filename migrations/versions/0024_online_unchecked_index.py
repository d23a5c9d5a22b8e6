"""online submissions not yet checked, by agency (issue 18 item 4: the province's open month)

`ix_dossiers_online_unchecked` (agency_id) WHERE check_due_at IS NOT NULL AND checked_at IS NULL: the
report's "still unchecked at the end" arm. Through `ix_dossiers_online_check` alone PostgreSQL
misjudges that arm (`checked_at IS NULL` is true of most dossiers, false of most online ones) and,
for several agencies at once, reads every online dossier of the province; this partial index holds
only the submissions waiting for the desk, so the open month's check counts read a few rows.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNCHECKED = sa.text("check_due_at IS NOT NULL AND checked_at IS NULL")


def upgrade() -> None:
    op.create_index('ix_dossiers_online_unchecked', 'dossiers', ['agency_id'], unique=False,
                    postgresql_where=UNCHECKED, sqlite_where=UNCHECKED)


def downgrade() -> None:
    op.drop_index('ix_dossiers_online_unchecked', table_name='dossiers', postgresql_where=UNCHECKED,
                  sqlite_where=UNCHECKED)
