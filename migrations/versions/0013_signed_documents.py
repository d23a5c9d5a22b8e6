"""signed_documents: the PDFs this service signed (results, refusals, forms 03-05)

One row per signed PDF of a dossier; the bytes live in the content-addressed storage (app/storage)
under the row's SHA-256.

Revision ID: 0013
Revises: 0014
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'signed_documents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('file_name', sa.String(length=128), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('signer_name', sa.String(length=255), nullable=False),
        sa.Column('signer_title', sa.String(length=255), nullable=False),
        sa.Column('signed_by_id', sa.Integer(), nullable=True),
        sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_signed_documents_dossier_id_dossiers')),
        sa.ForeignKeyConstraint(['signed_by_id'], ['users.id'], name=op.f('fk_signed_documents_signed_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_signed_documents')),
    )
    op.create_index(op.f('ix_signed_documents_dossier_id'), 'signed_documents', ['dossier_id'], unique=False)
    op.create_index(op.f('ix_signed_documents_sha256'), 'signed_documents', ['sha256'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_signed_documents_sha256'), table_name='signed_documents')
    op.drop_index(op.f('ix_signed_documents_dossier_id'), table_name='signed_documents')
    op.drop_table('signed_documents')
