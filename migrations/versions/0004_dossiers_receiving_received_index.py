"""index dossiers by receiving agency and receipt time, so agency-scoped reads by period use indexes

Reads scoped to an agency match `agency_id = X OR receiving_agency_id = X` (the point of receipt
may differ from the competent agency, Decree 118/2025). With only (agency_id, received_at)
indexed, PostgreSQL scanned the whole table for the second branch; with this index it combines
both in a BitmapOr (tracking book, Mẫu số 07: see bench/forms_book.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 22:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_dossiers_receiving_received', 'dossiers', ['receiving_agency_id', 'received_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_dossiers_receiving_received', table_name='dossiers')
