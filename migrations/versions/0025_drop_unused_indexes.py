"""drop the two indexes no query uses (issue 18 item 2)

`bench/index_review.py` called every GET route as eight kinds of user and ran the scheduler's
database jobs on 2,000,000 dossiers, then explained each of the 2,980 statements
(docs/BENCHMARKS.md "Index review"). Two indexes of the bulk tables appear in no plan and serve no
constraint:

* `ix_alerts_dossier_id`: every read of alerts by dossier (and a dossier's delete path) is served by
  `uq_alerts_once` (dossier_id, kind, deadline_at, recipient_id), whose first column it repeats;
* `ix_dossiers_outcome`: no query filters on the outcome without the agency; the reports read it from
  the covering `ix_dossiers_report`. An index of three values over every dossier, kept on each
  resolution, for nothing.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 13:30:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_alerts_dossier_id', table_name='alerts')
    op.drop_index('ix_dossiers_outcome', table_name='dossiers')


def downgrade() -> None:
    op.create_index('ix_dossiers_outcome', 'dossiers', ['outcome'], unique=False)
    op.create_index('ix_alerts_dossier_id', 'alerts', ['dossier_id'], unique=False)
