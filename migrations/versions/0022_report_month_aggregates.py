"""monthly report aggregates (issue 18 item 4): the province's year from closed months

* `report_month_aggregates` (month, agency_id, procedure_id) + the periodic report's counts of
  that closed month for that agency, built by the scheduler job `report_aggregates`;
* `report_aggregate_months`: the months built, and when;
* `ix_dossiers_updated_at`: the dossiers changed since the job's watermark (job and read path).

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-02 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0022'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The periodic report's count columns (app.reports.schemas.COUNT_FIELDS at this revision).
COUNTS = ("carried_over", "new_online", "new_direct", "new_postal", "received_total",
          "resolved_total", "resolved_early", "resolved_on_time", "resolved_late",
          "in_progress_total", "in_progress_within", "in_progress_overdue",
          "awaiting_supplement", "withdrawn_or_refused", "returned_by_post", "apologies",
          "not_received_total", "refused_at_reception", "online_not_accepted", "withdrawn_before_receipt",
          "apologies_late", "online_checked_late", "online_unchecked_overdue",
          "late_caused_here", "late_caused_elsewhere")


def upgrade() -> None:
    op.create_table(
        'report_month_aggregates',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('procedure_id', sa.Integer(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS],
        sa.PrimaryKeyConstraint('month', 'agency_id', 'procedure_id', name=op.f('pk_report_month_aggregates')),
    )
    op.create_table(
        'report_aggregate_months',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('month', name=op.f('pk_report_aggregate_months')),
    )
    op.create_index('ix_dossiers_updated_at', 'dossiers', ['updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_dossiers_updated_at', table_name='dossiers')
    op.drop_table('report_aggregate_months')
    op.drop_table('report_month_aggregates')
