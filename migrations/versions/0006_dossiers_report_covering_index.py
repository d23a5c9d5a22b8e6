"""a covering index for the report aggregates: index-only scans instead of reading the whole table

The periodic report counts, per procedure, every dossier of the agency in the books during the
period (app/reports/queries.py). The population test cannot be narrowed by an index range (a
dossier received years ago and still open counts), so PostgreSQL read the whole table: 1.6 GB at
2,000,000 dossiers, twice for a year (flows, then results returned). This index carries the
columns those statements read (248 MB there) and turns both into index-only scans: the
Department's year report went from 2.1-2.3 s to 0.93-0.97 s (docs/BENCHMARKS.md). SQLite has no
INCLUDE and gets a plain (agency_id, procedure_id) index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 17:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep in step with app.models.REPORT_COLUMNS.
REPORT_COLUMNS = ['id', 'assigned_division_id', 'channel', 'received_at', 'refused_at', 'withdrawn_at', 'stopped_at',
                  'resolved_at', 'clock_state', 'paused_at', 'due_at', 'outcome', 'returned_at', 'returned_via',
                  'portal_synced_at', 'resolved_working_minutes']


def upgrade() -> None:
    op.create_index('ix_dossiers_report', 'dossiers', ['agency_id', 'procedure_id'], unique=False,
                    postgresql_include=REPORT_COLUMNS)


def downgrade() -> None:
    op.drop_index('ix_dossiers_report', table_name='dossiers')
