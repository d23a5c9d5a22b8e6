"""portal reconciliation: the drift table, and an index to find recently changed dossiers

`portal_drift` keeps, per dossier, what the last reconciliation found different on the national
portal (status, appointment, history rows, or the dossier missing) and whether a full snapshot was
queued; `ix_outbox_topic_created` lets the reconciliation pick the dossiers whose portal messages
were written in its window without reading the whole outbox.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02 06:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'portal_drift',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('fields', sa.JSON(), nullable=False),
        sa.Column('our_status', sa.Integer(), nullable=False),
        sa.Column('portal_status', sa.Integer(), nullable=True),
        sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resynced_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_portal_drift_dossier_id_dossiers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_drift')),
        sa.UniqueConstraint('dossier_id', name=op.f('uq_portal_drift_dossier_id')),
    )
    op.create_index(op.f('ix_portal_drift_resolved_at'), 'portal_drift', ['resolved_at'], unique=False)
    op.create_index('ix_outbox_topic_created', 'outbox', ['topic', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_outbox_topic_created', table_name='outbox')
    op.drop_index(op.f('ix_portal_drift_resolved_at'), table_name='portal_drift')
    op.drop_table('portal_drift')
