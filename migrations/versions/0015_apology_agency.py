"""The agency an apology (form 04) is drafted for and issued by: on an inter-agency dossier, the
agency at fault (app/parties.py), which may not be the competent department. Existing rows get
their dossier's competent agency (what they were issued under until now).

Revision ID: 0015
Revises: 0016
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('apologies') as batch:
        batch.add_column(sa.Column('agency_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f('fk_apologies_agency_id_agencies'), 'agencies', ['agency_id'], ['id'])
    op.execute(sa.text("UPDATE apologies SET agency_id = (SELECT d.agency_id FROM dossiers d "
                       "WHERE d.id = apologies.dossier_id)"))


def downgrade() -> None:
    with op.batch_alter_table('apologies') as batch:
        batch.drop_constraint('fk_apologies_agency_id_agencies', type_='foreignkey')
        batch.drop_column('agency_id')
