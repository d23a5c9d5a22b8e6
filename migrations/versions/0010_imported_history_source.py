"""imported history: each imported dossier names its source; the report index carries is_imported

`dossiers.import_source` is the batch label an import gave its rows (NULL for native dossiers). Reports
can leave imported rows out and say how many they hold (`is_imported`), so the covering index of
revision 0006 is rebuilt with that column: the report pass stays an index-only scan on PostgreSQL.
The new index is built under a temporary name before the old one goes, so reports never run without
one; the build blocks writes to `dossiers` for its duration (about a minute at 2 M dossiers).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep in step with app.models.REPORT_COLUMNS.
OLD_COLUMNS = ['id', 'assigned_division_id', 'channel', 'received_at', 'refused_at', 'withdrawn_at', 'stopped_at',
               'resolved_at', 'clock_state', 'paused_at', 'due_at', 'outcome', 'returned_at', 'returned_via',
               'portal_synced_at', 'resolved_working_minutes']
REPORT_COLUMNS = [*OLD_COLUMNS, 'is_imported']


def _rebuild(columns: list[str]) -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return  # SQLite has no INCLUDE: its ix_dossiers_report is (agency_id, procedure_id) either way
    op.create_index('ix_dossiers_report_new', 'dossiers', ['agency_id', 'procedure_id'], unique=False,
                    postgresql_include=columns)
    op.drop_index('ix_dossiers_report', table_name='dossiers')
    op.execute('ALTER INDEX ix_dossiers_report_new RENAME TO ix_dossiers_report')


def upgrade() -> None:
    op.add_column('dossiers', sa.Column('import_source', sa.String(length=255), nullable=True))
    _rebuild(REPORT_COLUMNS)


def downgrade() -> None:
    _rebuild(OLD_COLUMNS)
    op.drop_column('dossiers', 'import_source')
