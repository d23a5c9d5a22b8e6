"""reports: index the moments a dossier enters and leaves the books and the return date; store working time

The periodic report reads the dossiers "in the books" during [start, end): entered before end and
not closed before start. PostgreSQL serves recent periods from ix_dossiers_agency_closed (open ones
plus those closed since start, a BitmapOr) and old periods from ix_dossiers_agency_entered.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled exactly as in app/reports/queries.py (ENTERED_AT, CLOSED_AT) so both databases match them.
ENTERED_AT = 'coalesce(received_at, refused_at, withdrawn_at, stopped_at)'
CLOSED_AT = 'coalesce(resolved_at, refused_at, withdrawn_at, stopped_at)'


def upgrade() -> None:
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolved_working_minutes', sa.Integer(), nullable=True))
    op.create_index('ix_dossiers_agency_entered', 'dossiers', ['agency_id', sa.text(ENTERED_AT)], unique=False)
    op.create_index('ix_dossiers_agency_closed', 'dossiers', ['agency_id', sa.text(CLOSED_AT)], unique=False)
    op.create_index('ix_dossiers_agency_returned', 'dossiers', ['agency_id', 'returned_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_dossiers_agency_returned', table_name='dossiers')
    op.drop_index('ix_dossiers_agency_closed', table_name='dossiers')
    op.drop_index('ix_dossiers_agency_entered', table_name='dossiers')
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.drop_column('resolved_working_minutes')
