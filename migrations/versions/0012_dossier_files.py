"""dossier files: digitised components, versions, reuse; dossiers.digitised_at

`dossier_files` holds one row per stored version of one component of a dossier (the bytes are in
app/storage, named by their SHA-256): who digitised it and when, its kind, where it came from
(upload at the desk, reuse of an earlier file of the same applicant, an online submission).
`dossiers.digitised_at` is when every required component first had a file (Decision 766
indicator `digitised`). Columns are added in place (no batch copy of `dossiers`).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('dossiers', sa.Column('digitised_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'dossier_files',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('component_key', sa.String(length=16), nullable=False),
        sa.Column('component_name', sa.String(length=500), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('content_type', sa.String(length=128), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('reused_from_id', sa.Integer(), nullable=True),
        sa.Column('applicant_id_number', sa.String(length=32), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
        sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name='fk_dossier_files_dossier_id_dossiers'),
        sa.ForeignKeyConstraint(['reused_from_id'], ['dossier_files.id'],
                                name='fk_dossier_files_reused_from_id_dossier_files'),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name='fk_dossier_files_uploaded_by_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_dossier_files'),
        sa.UniqueConstraint('dossier_id', 'component_key', 'version', name='uq_dossier_files_version'),
    )
    op.create_index('ix_dossier_files_dossier_id', 'dossier_files', ['dossier_id'], unique=False)
    op.create_index('ix_dossier_files_applicant', 'dossier_files', ['applicant_id_number', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_dossier_files_applicant', table_name='dossier_files')
    op.drop_index('ix_dossier_files_dossier_id', table_name='dossier_files')
    op.drop_table('dossier_files')
    op.drop_column('dossiers', 'digitised_at')
