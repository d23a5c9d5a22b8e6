"""payments: fees per procedure, payment requests and online transactions, paid_online_at

`procedures.fees` holds the fees as data; `payment_requests` what a dossier owes and how it was
paid (receipt) or refunded; `payment_transactions` the online attempts on the payment platform;
`dossiers.paid_online_at` feeds `DuocThanhToanTrucTuyen` and the indicator `paid_online`.

Revision ID: 0016
Revises: 0017
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0016'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # op.add_column, never a batch copy: SQLite would lose the dossiers' expression indexes.
    op.add_column('procedures', sa.Column('fees', sa.JSON(), nullable=False, server_default='{}'))
    op.add_column('dossiers', sa.Column('paid_online_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'payment_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=16), nullable=False),
        sa.Column('items', sa.JSON(), nullable=False),
        sa.Column('exemption', sa.JSON(), nullable=True),
        sa.Column('amount', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('note', sa.String(length=2000), nullable=True),
        sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('method', sa.String(length=16), nullable=True),
        sa.Column('receipt_number', sa.String(length=64), nullable=True),
        sa.Column('reference', sa.String(length=128), nullable=True),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('refund_amount', sa.Integer(), nullable=True),
        sa.Column('refund_reason', sa.String(length=500), nullable=True),
        sa.Column('refund_recorded_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_payment_requests_dossier_id_dossiers')),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_payment_requests_agency_id_agencies')),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                                name=op.f('fk_payment_requests_requested_by_id_users')),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_payment_requests_recorded_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_requests')),
        sa.UniqueConstraint('receipt_number', name=op.f('uq_payment_requests_receipt_number')),
    )
    op.create_index(op.f('ix_payment_requests_dossier_id'), 'payment_requests', ['dossier_id'], unique=False)
    op.create_table(
        'payment_transactions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('order_ref', sa.String(length=64), nullable=False),
        sa.Column('platform_id', sa.String(length=64), nullable=True),
        sa.Column('amount', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('pay_url', sa.String(length=1000), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('settled_by', sa.String(length=16), nullable=True),
        sa.Column('callbacks', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['request_id'], ['payment_requests.id'],
                                name=op.f('fk_payment_transactions_request_id_payment_requests')),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'],
                                name=op.f('fk_payment_transactions_dossier_id_dossiers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_transactions')),
        sa.UniqueConstraint('order_ref', name=op.f('uq_payment_transactions_order_ref')),
    )
    op.create_index(op.f('ix_payment_transactions_request_id'), 'payment_transactions', ['request_id'], unique=False)
    op.create_index('ix_payment_transactions_status', 'payment_transactions', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_payment_transactions_status', table_name='payment_transactions')
    op.drop_index(op.f('ix_payment_transactions_request_id'), table_name='payment_transactions')
    op.drop_table('payment_transactions')
    op.drop_index(op.f('ix_payment_requests_dossier_id'), table_name='payment_requests')
    op.drop_table('payment_requests')
    op.drop_column('dossiers', 'paid_online_at')
    op.drop_column('procedures', 'fees')  # no batch copy: SQLite drops a column in place
