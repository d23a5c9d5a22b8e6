"""the latest late-risk forecast of each running dossier (issue 17 item 1)

`dossier_forecasts`: one row per dossier, written by the scan's late-risk pass, read by the staff
dossier detail and the dashboard's list of dossiers at risk (docs/FORESIGHT.md). Apart from
`dossiers`: a forecast changes neither the dossier's version nor its updated_at.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'dossier_forecasts',
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('probability', sa.Float(), nullable=False),
        sa.Column('expected_ready_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('cause_step', sa.Integer(), nullable=True),
        sa.Column('cause_name', sa.String(length=255), nullable=True),
        sa.Column('basis', sa.String(length=16), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'],
                                name=op.f('fk_dossier_forecasts_dossier_id_dossiers')),
        sa.PrimaryKeyConstraint('dossier_id', name=op.f('pk_dossier_forecasts')),
    )


def downgrade() -> None:
    op.drop_table('dossier_forecasts')
