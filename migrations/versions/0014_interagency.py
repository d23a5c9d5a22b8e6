"""Inter-agency (liên thông) procedures: agency kinds, a procedure's parties, who took part in a
dossier and since when (`dossier_agencies`), hand-overs between agencies (`handovers`, form 06),
opinions asked of other agencies in parallel (`opinion_requests`).

No column is added to `dossiers` (a batch copy on SQLite would lose its expression indexes).

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-02 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('agencies') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=32), nullable=False, server_default='department'))
    with op.batch_alter_table('procedures') as batch:
        batch.add_column(sa.Column('parties', sa.JSON(), nullable=False, server_default='{}'))
    op.create_table(
        'dossier_agencies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('since', sa.DateTime(timezone=True), nullable=False),
        sa.Column('budget_minutes', sa.Integer(), nullable=False),
        sa.Column('spent_minutes', sa.Integer(), nullable=False),
        sa.Column('part_started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('overran', sa.Boolean(), nullable=False),
        sa.Column('caused_late', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_dossier_agencies_agency_id_agencies')),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_dossier_agencies_dossier_id_dossiers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_agencies')),
        sa.UniqueConstraint('dossier_id', 'agency_id', name=op.f('uq_dossier_agencies_dossier_id')))
    op.create_index('ix_dossier_agencies_agency', 'dossier_agencies', ['agency_id', 'dossier_id'], unique=False)
    op.create_table(
        'handovers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('from_agency_id', sa.Integer(), nullable=False),
        sa.Column('to_agency_id', sa.Integer(), nullable=False),
        sa.Column('from_step', sa.Integer(), nullable=True),
        sa.Column('to_step', sa.Integer(), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_by_id', sa.Integer(), nullable=True),
        sa.Column('documents', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_handovers_decided_by_id_users')),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_handovers_dossier_id_dossiers')),
        sa.ForeignKeyConstraint(['from_agency_id'], ['agencies.id'], name=op.f('fk_handovers_from_agency_id_agencies')),
        sa.ForeignKeyConstraint(['sent_by_id'], ['users.id'], name=op.f('fk_handovers_sent_by_id_users')),
        sa.ForeignKeyConstraint(['to_agency_id'], ['agencies.id'], name=op.f('fk_handovers_to_agency_id_agencies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_handovers')))
    op.create_index(op.f('ix_handovers_dossier_id'), 'handovers', ['dossier_id'], unique=False)
    op.create_table(
        'opinion_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('step_index', sa.Integer(), nullable=False),
        sa.Column('question', sa.String(length=2000), nullable=False),
        sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('asked_by_id', sa.Integer(), nullable=True),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answered_by_id', sa.Integer(), nullable=True),
        sa.Column('answer', sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_opinion_requests_agency_id_agencies')),
        sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_opinion_requests_answered_by_id_users')),
        sa.ForeignKeyConstraint(['asked_by_id'], ['users.id'], name=op.f('fk_opinion_requests_asked_by_id_users')),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_opinion_requests_dossier_id_dossiers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_opinion_requests')))
    op.create_index(op.f('ix_opinion_requests_dossier_id'), 'opinion_requests', ['dossier_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_opinion_requests_dossier_id'), table_name='opinion_requests')
    op.drop_table('opinion_requests')
    op.drop_index(op.f('ix_handovers_dossier_id'), table_name='handovers')
    op.drop_table('handovers')
    op.drop_index('ix_dossier_agencies_agency', table_name='dossier_agencies')
    op.drop_table('dossier_agencies')
    with op.batch_alter_table('procedures') as batch:
        batch.drop_column('parties')
    with op.batch_alter_table('agencies') as batch:
        batch.drop_column('kind')
