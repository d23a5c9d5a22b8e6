"""Citizens' feedback (phản ánh, kiến nghị) with its alerts, and satisfaction ratings.

`feedback` (sender's contact sealed at rest, a working-day deadline, assignee, answer),
`feedback_alerts` (due soon / overdue, once per feedback, kind, deadline and recipient),
`satisfaction_ratings` (one per dossier). New tables only: `dossiers` is not touched.

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0017'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        'feedback',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=True),
        sa.Column('procedure_id', sa.Integer(), nullable=True),
        sa.Column('contact', sa.JSON(), nullable=False),
        sa.Column('content', sa.String(length=2000), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        _ts('received_at'),
        sa.Column('limit_days', sa.Integer(), nullable=False),
        _ts('due_at'),
        _ts('due_soon_at'),
        _ts('next_alert_at', nullable=True),
        sa.Column('assignee_id', sa.Integer(), nullable=True),
        _ts('assigned_at', nullable=True),
        sa.Column('answer', sa.String(length=4000), nullable=True),
        _ts('answered_at', nullable=True),
        sa.Column('answered_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_feedback_agency_id_agencies')),
        sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_feedback_answered_by_id_users')),
        sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_feedback_assignee_id_users')),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_feedback_dossier_id_dossiers')),
        sa.ForeignKeyConstraint(['procedure_id'], ['procedures.id'],
                                name=op.f('fk_feedback_procedure_id_procedures')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback')),
        sa.UniqueConstraint('reference', name=op.f('uq_feedback_reference')),
    )
    op.create_index('ix_feedback_agency_due', 'feedback', ['agency_id', 'due_at'], unique=False)
    op.create_index('ix_feedback_agency_status', 'feedback', ['agency_id', 'status'], unique=False)
    op.create_index(op.f('ix_feedback_dossier_id'), 'feedback', ['dossier_id'], unique=False)
    op.create_index('ix_feedback_next_alert_at', 'feedback', ['next_alert_at'], unique=False,
                    postgresql_where=sa.text('next_alert_at IS NOT NULL'),
                    sqlite_where=sa.text('next_alert_at IS NOT NULL'))
    op.create_table(
        'satisfaction_ratings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('procedure_id', sa.Integer(), nullable=False),
        sa.Column('reception', sa.String(length=16), nullable=False),
        sa.Column('handling_time', sa.String(length=16), nullable=False),
        sa.Column('staff_attitude', sa.String(length=16), nullable=False),
        sa.Column('comment', sa.String(length=1000), nullable=True),
        sa.Column('via', sa.String(length=8), nullable=False),
        _ts('rated_at'),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_satisfaction_ratings_agency_id_agencies')),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'],
                                name=op.f('fk_satisfaction_ratings_dossier_id_dossiers')),
        sa.ForeignKeyConstraint(['procedure_id'], ['procedures.id'],
                                name=op.f('fk_satisfaction_ratings_procedure_id_procedures')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_satisfaction_ratings')),
        sa.UniqueConstraint('dossier_id', name=op.f('uq_satisfaction_ratings_dossier_id')),
    )
    op.create_index('ix_satisfaction_ratings_agency_rated', 'satisfaction_ratings', ['agency_id', 'rated_at'],
                    unique=False)
    op.create_table(
        'feedback_alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('feedback_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        _ts('deadline_at'),
        sa.Column('recipient_id', sa.Integer(), nullable=False),
        sa.Column('message', sa.String(length=1000), nullable=False),
        _ts('created_at'),
        _ts('acked_at', nullable=True),
        sa.ForeignKeyConstraint(['feedback_id'], ['feedback.id'], name=op.f('fk_feedback_alerts_feedback_id_feedback')),
        sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_feedback_alerts_recipient_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_alerts')),
        sa.UniqueConstraint('feedback_id', 'kind', 'deadline_at', 'recipient_id', name='uq_feedback_alerts_once'),
    )
    op.create_index(op.f('ix_feedback_alerts_feedback_id'), 'feedback_alerts', ['feedback_id'], unique=False)
    op.create_index('ix_feedback_alerts_recipient_ack', 'feedback_alerts', ['recipient_id', 'acked_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_feedback_alerts_recipient_ack', table_name='feedback_alerts')
    op.drop_index(op.f('ix_feedback_alerts_feedback_id'), table_name='feedback_alerts')
    op.drop_table('feedback_alerts')
    op.drop_index('ix_satisfaction_ratings_agency_rated', table_name='satisfaction_ratings')
    op.drop_table('satisfaction_ratings')
    op.drop_index('ix_feedback_next_alert_at', table_name='feedback')
    op.drop_index(op.f('ix_feedback_dossier_id'), table_name='feedback')
    op.drop_index('ix_feedback_agency_status', table_name='feedback')
    op.drop_index('ix_feedback_agency_due', table_name='feedback')
    op.drop_table('feedback')
