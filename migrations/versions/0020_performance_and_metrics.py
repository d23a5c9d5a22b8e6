"""performance and metrics (issue 18): scheduler job totals, the outbox's unsent index

* `scheduler_job_stats`: each scheduler job's running totals (runs, failures, seconds, alerts
  raised, last start and success), written by the scheduler, read by GET /metrics;
* `reference_version`: on SQLite, the version of the reference rows (agencies, procedures, users,
  calendar overrides) that every worker's cache checks once per request (app/reference.py);
* `ix_outbox_unsent` (topic, status, created_at) WHERE status IN ('pending', 'dead'): the backlog
  per topic and its oldest message, counted at every scrape without reading the sent messages.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0020'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT = "status IN ('pending', 'dead')"


def upgrade() -> None:
    op.create_table(
        'scheduler_job_stats',
        sa.Column('job_id', sa.String(length=64), nullable=False),
        sa.Column('runs', sa.BigInteger(), nullable=False),
        sa.Column('failures', sa.BigInteger(), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column('alerts', sa.BigInteger(), nullable=False),
        sa.Column('last_started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('job_id', name=op.f('pk_scheduler_job_stats')),
    )
    op.create_table(
        'reference_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reference_version')),
    )
    op.create_index('ix_outbox_unsent', 'outbox', ['topic', 'status', 'created_at'], unique=False,
                    postgresql_where=sa.text(UNSENT), sqlite_where=sa.text(UNSENT))


def downgrade() -> None:
    op.drop_index('ix_outbox_unsent', table_name='outbox', postgresql_where=sa.text(UNSENT),
                  sqlite_where=sa.text(UNSENT))
    op.drop_table('reference_version')
    op.drop_table('scheduler_job_stats')
