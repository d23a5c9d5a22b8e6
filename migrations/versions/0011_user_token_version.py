"""users.token_version: tokens end with the password

Every access token carries the user's token version (claim `ver`), compared on each request;
changing or resetting the password, or (de)activating the account, bumps it (app/models.py), so
the tokens issued before stop working at once. Existing users start at 0; tokens issued before
this revision carry no version and are refused (their holders sign in again).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_version', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('token_version')
