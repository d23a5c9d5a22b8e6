"""clock rules and signing authority (issue 11)

- dossiers: `late_since` (late for good), `calendar_version` (the calendar the appointment was
  computed with), `check_due_at`/`checked_at` (online submissions checked within a working day),
  `received_by_id` (the officer who signs form 01), the result's kind and signer, the number and
  signer of forms 03/05;
- procedures: `supplement_rule` defaults to `pause` (Decree 61/2018 Art. 19); the demo
  catalogue's procedures move from `reset` to `pause`; `same_day_cutoff` (e.g. 15:00);
- supplement_requests: `stage` and `agency_id` ("only once" per stage and per agency);
- calendar_overrides: immutable, versioned rows (`version`, `is_removal`) instead of one row per day;
- apologies: `is_late`, `document_number`; agencies: `short_name`; the document register.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
# The demo catalogue (app/catalog/demo_catalogue.json) as shipped before this revision: every
# procedure said `reset`; none of their published texts counts the limit afresh.
DEMO_CODES = ("1.005092", "2.001914", "1.004889", "1.006388", "1.005074", "2.002478", "2.002479", "2.002855",
              "1.000288", "5.003847", "1.005090", "3.000181", "1.005142", "1.000713", "1.000715", "1.000259",
              "1.000280", "1.000691", "1.006444", "2.001842", "2.001810", "1.006445")
DOSSIER_COLUMNS = (("late_since", TS), ("calendar_version", sa.Integer()), ("check_due_at", TS), ("checked_at", TS),
                   ("received_by_id", sa.Integer()), ("result_kind", sa.String(length=16)),
                   ("result_signed_by_id", sa.Integer()), ("result_signed_at", TS),
                   ("closing_document_number", sa.String(length=64)), ("closing_signed_by_id", sa.Integer()))
DOSSIER_FKS = {"received_by_id": "fk_dossiers_received_by_id_users",
               "result_signed_by_id": "fk_dossiers_result_signed_by_id_users",
               "closing_signed_by_id": "fk_dossiers_closing_signed_by_id_users"}
CHECKED = sa.text("check_due_at IS NOT NULL")
ENTERED_AT = "coalesce(received_at, refused_at, withdrawn_at, stopped_at)"  # as in revision 0003
CLOSED_AT = "coalesce(resolved_at, refused_at, withdrawn_at, stopped_at)"


def upgrade() -> None:
    with op.batch_alter_table('agencies') as batch:
        batch.add_column(sa.Column('short_name', sa.String(length=32), nullable=True))
    with op.batch_alter_table('procedures') as batch:
        batch.add_column(sa.Column('same_day_cutoff', sa.String(length=5), nullable=True))
    op.execute(sa.text("UPDATE procedures SET supplement_rule = 'pause' WHERE supplement_rule = 'reset' "
                       "AND code IN (" + ", ".join(f"'{c}'" for c in DEMO_CODES) + ")"))
    # Plain ADD COLUMN: a batch copy of `dossiers` on SQLite would lose its expression indexes.
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, kind in DOSSIER_COLUMNS:
        if sqlite and name in DOSSIER_FKS:  # SQLite adds a REFERENCES column in place, not a constraint
            op.execute(sa.text(f"ALTER TABLE dossiers ADD COLUMN {name} INTEGER "
                               f"CONSTRAINT {DOSSIER_FKS[name]} REFERENCES users (id)"))
            continue
        op.add_column('dossiers', sa.Column(name, kind, nullable=name != 'calendar_version',
                                            server_default='0' if name == 'calendar_version' else None))
        if name in DOSSIER_FKS:
            op.create_foreign_key(DOSSIER_FKS[name], 'dossiers', 'users', [name], ['id'])
    op.create_index('ix_dossiers_online_check', 'dossiers', ['agency_id', 'checked_at'], unique=False,
                    postgresql_where=CHECKED, sqlite_where=CHECKED)
    # Dossiers already late stay late: their appointment passed while the clock ran.
    op.execute(sa.text("UPDATE dossiers SET late_since = due_at WHERE outcome = 'late' AND due_at IS NOT NULL"))
    with op.batch_alter_table('supplement_requests') as batch:
        batch.add_column(sa.Column('stage', sa.String(length=16), nullable=False, server_default='processing'))
        batch.add_column(sa.Column('agency_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f('fk_supplement_requests_agency_id_agencies'), 'agencies',
                                 ['agency_id'], ['id'])
    op.execute(sa.text(
        "UPDATE supplement_requests SET agency_id = (SELECT agency_id FROM dossiers d WHERE d.id = dossier_id), "
        "stage = CASE WHEN (SELECT d.received_at FROM dossiers d WHERE d.id = dossier_id) IS NULL "
        "OR (SELECT d.received_at FROM dossiers d WHERE d.id = dossier_id) >= requested_at "
        "OR (SELECT d.current_step FROM dossiers d WHERE d.id = dossier_id) IS NULL "
        "THEN 'reception' ELSE 'processing' END"))
    with op.batch_alter_table('calendar_overrides') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch.add_column(sa.Column('is_removal', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.drop_constraint('uq_calendar_overrides_agency_id', type_='unique')
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, agency_id FROM calendar_overrides ORDER BY agency_id, id")).all()
    counters: dict[int, int] = {}
    for row_id, agency_id in rows:
        counters[agency_id] = counters.get(agency_id, 0) + 1
        bind.execute(sa.text("UPDATE calendar_overrides SET version = :v WHERE id = :i"),
                     {"v": counters[agency_id], "i": row_id})
    with op.batch_alter_table('calendar_overrides') as batch:
        batch.create_unique_constraint(batch.f('uq_calendar_overrides_agency_id'), ['agency_id', 'version'])
    with op.batch_alter_table('apologies') as batch:
        batch.add_column(sa.Column('is_late', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('document_number', sa.String(length=64), nullable=True))
    op.create_table('document_registers',
                    sa.Column('agency_id', sa.Integer(), nullable=False),
                    sa.Column('year', sa.Integer(), nullable=False),
                    sa.Column('kind', sa.String(length=16), nullable=False),
                    sa.Column('last_value', sa.Integer(), nullable=False),
                    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'],
                                            name=op.f('fk_document_registers_agency_id_agencies')),
                    sa.PrimaryKeyConstraint('agency_id', 'year', 'kind', name=op.f('pk_document_registers')))


def downgrade() -> None:
    op.drop_table('document_registers')
    with op.batch_alter_table('apologies') as batch:
        batch.drop_column('document_number')
        batch.drop_column('is_late')
    # Only the latest row per day survives a downgrade (one row per day again).
    op.execute(sa.text("DELETE FROM calendar_overrides WHERE is_removal OR EXISTS (SELECT 1 FROM calendar_overrides o "
                       "WHERE o.agency_id = calendar_overrides.agency_id AND o.day = calendar_overrides.day "
                       "AND o.version > calendar_overrides.version)"))
    with op.batch_alter_table('calendar_overrides') as batch:
        batch.drop_constraint('uq_calendar_overrides_agency_id', type_='unique')
        batch.drop_column('is_removal')
        batch.drop_column('version')
        batch.create_unique_constraint(batch.f('uq_calendar_overrides_agency_id'), ['agency_id', 'day'])
    with op.batch_alter_table('supplement_requests') as batch:
        batch.drop_constraint('fk_supplement_requests_agency_id_agencies', type_='foreignkey')
        batch.drop_column('agency_id')
        batch.drop_column('stage')
    op.drop_index('ix_dossiers_online_check', table_name='dossiers', postgresql_where=CHECKED, sqlite_where=CHECKED)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a REFERENCES column in place: copy the table, then put back the
        # expression indexes (revision 0003) that the copy cannot reflect.
        with op.batch_alter_table('dossiers') as batch:
            for name, _ in reversed(DOSSIER_COLUMNS):
                batch.drop_column(name)
        op.execute(sa.text(f"CREATE INDEX IF NOT EXISTS ix_dossiers_agency_entered ON dossiers (agency_id, {ENTERED_AT})"))
        op.execute(sa.text(f"CREATE INDEX IF NOT EXISTS ix_dossiers_agency_closed ON dossiers (agency_id, {CLOSED_AT})"))
    else:
        for fk in DOSSIER_FKS.values():
            op.drop_constraint(fk, 'dossiers', type_='foreignkey')
        for name, _ in reversed(DOSSIER_COLUMNS):
            op.drop_column('dossiers', name)
    with op.batch_alter_table('procedures') as batch:
        batch.drop_column('same_day_cutoff')
    with op.batch_alter_table('agencies') as batch:
        batch.drop_column('short_name')
