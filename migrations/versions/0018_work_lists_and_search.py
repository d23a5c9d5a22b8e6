"""Work lists and search: who may take a dossier's current step, the applicant's name without
diacritics, and the indexes the queue and search read.

dossiers.step_role / step_agency_id / step_unit_id (app.parties.hold_step) and
dossiers.applicant_name_key (app.search.name_key), filled here for existing rows with the same
rules the application writes with; indexes for the desk's statuses, the unassigned steps, the
identity number and phone, and (PostgreSQL) a GIN trigram index on the name key (pg_trgm).
The extension is left in place on downgrade (other objects may use it).

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.search import name_key  # the one normaliser: a pure function, no models

revision: str = '0018'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000

dossiers = sa.table('dossiers', sa.column('id', sa.Integer), sa.column('applicant_name', sa.String),
                    sa.column('applicant_name_key', sa.String), sa.column('procedure_id', sa.Integer),
                    sa.column('current_step', sa.Integer), sa.column('agency_id', sa.Integer),
                    sa.column('receiving_agency_id', sa.Integer), sa.column('assigned_division_id', sa.Integer),
                    sa.column('step_role', sa.String), sa.column('step_agency_id', sa.Integer),
                    sa.column('step_unit_id', sa.Integer))
procedures = sa.table('procedures', sa.column('id', sa.Integer), sa.column('workflow', sa.JSON),
                      sa.column('parties', sa.JSON))
agencies = sa.table('agencies', sa.column('id', sa.Integer), sa.column('code', sa.String))


def upgrade() -> None:
    op.add_column('dossiers', sa.Column('applicant_name_key', sa.String(length=255), server_default='',
                                        nullable=False))
    op.add_column('dossiers', sa.Column('step_role', sa.String(length=16), nullable=True))
    op.add_column('dossiers', sa.Column('step_agency_id', sa.Integer(), nullable=True))
    op.add_column('dossiers', sa.Column('step_unit_id', sa.Integer(), nullable=True))
    _fill_name_keys()
    _fill_step_holders()
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    op.create_index('ix_dossiers_receiving_status', 'dossiers', ['receiving_agency_id', 'status'], unique=False)
    op.create_index('ix_dossiers_step_open', 'dossiers', ['step_agency_id', 'step_role'], unique=False,
                    postgresql_where=sa.text('assignee_id IS NULL'), sqlite_where=sa.text('assignee_id IS NULL'))
    op.create_index('ix_dossiers_applicant_name_key', 'dossiers', ['applicant_name_key'], unique=False,
                    postgresql_using='gin', postgresql_ops={'applicant_name_key': 'gin_trgm_ops'})
    op.create_index('ix_dossiers_applicant_id_number', 'dossiers', ['applicant_id_number'], unique=False)
    op.create_index('ix_dossiers_applicant_phone', 'dossiers', ['applicant_phone'], unique=False)


def _fill_name_keys() -> None:
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(sa.select(dossiers.c.id, dossiers.c.applicant_name).where(dossiers.c.id > last)
                            .order_by(dossiers.c.id).limit(BATCH)).all()
        if not rows:
            return
        bind.execute(dossiers.update().where(dossiers.c.id == sa.bindparam('_id'))
                     .values(applicant_name_key=sa.bindparam('_key')),
                     [{'_id': row.id, '_key': name_key(row.applicant_name)} for row in rows])
        last = rows[-1].id


def _step_unit(step: dict[str, Any], step_agency: int, competent: int, division: int | None) -> int | None:
    # As app.parties.step_unit (kept here so that this revision reads only the database).
    if step.get('scope') == 'division' and division is not None and step_agency == competent:
        return division
    if step.get('scope') == 'agency' and step['role'] == 'leader':
        return step_agency
    return None


def _fill_step_holders() -> None:
    bind = op.get_bind()
    codes = {code: id_ for id_, code in bind.execute(sa.select(agencies.c.id, agencies.c.code)).all()}
    flows = {row.id: (row.workflow or [], row.parties or {})
             for row in bind.execute(sa.select(procedures.c.id, procedures.c.workflow, procedures.c.parties)).all()}
    rows = bind.execute(sa.select(dossiers.c.id, dossiers.c.procedure_id, dossiers.c.current_step,
                                  dossiers.c.agency_id, dossiers.c.receiving_agency_id,
                                  dossiers.c.assigned_division_id).where(dossiers.c.current_step.is_not(None))).all()
    updates = []
    for row in rows:
        workflow, parties = flows.get(row.procedure_id, ([], {}))
        if not 0 <= row.current_step < len(workflow):
            continue
        step = workflow[row.current_step]
        role = step.get('agency', 'competent')
        agency = row.agency_id
        if role == 'receiving':
            agency = row.receiving_agency_id
        elif role == 'deciding' and codes.get((parties or {}).get('deciding_authority')):
            agency = codes[parties['deciding_authority']]
        updates.append({'_id': row.id, '_role': step['role'], '_agency': agency,
                        '_unit': _step_unit(step, agency, row.agency_id, row.assigned_division_id)})
    for i in range(0, len(updates), BATCH):
        bind.execute(dossiers.update().where(dossiers.c.id == sa.bindparam('_id'))
                     .values(step_role=sa.bindparam('_role'), step_agency_id=sa.bindparam('_agency'),
                             step_unit_id=sa.bindparam('_unit')), updates[i:i + BATCH])


def downgrade() -> None:
    op.drop_index('ix_dossiers_applicant_phone', table_name='dossiers')
    op.drop_index('ix_dossiers_applicant_id_number', table_name='dossiers')
    op.drop_index('ix_dossiers_applicant_name_key', table_name='dossiers',
                  postgresql_using='gin')
    op.drop_index('ix_dossiers_step_open', table_name='dossiers',
                  postgresql_where=sa.text('assignee_id IS NULL'), sqlite_where=sa.text('assignee_id IS NULL'))
    op.drop_index('ix_dossiers_receiving_status', table_name='dossiers')
    op.drop_column('dossiers', 'step_unit_id')
    op.drop_column('dossiers', 'step_agency_id')
    op.drop_column('dossiers', 'step_role')
    op.drop_column('dossiers', 'applicant_name_key')
