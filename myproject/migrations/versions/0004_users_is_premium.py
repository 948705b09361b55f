"""users.is_premium: the premium rate-limit tier

Revision ID: 0004_users_is_premium
Revises: 0003_outbox
Create Date: 2026-11-30 21:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_users_is_premium"
down_revision = "0003_outbox"
branch_labels = None
depends_on = None

# Plain ALTER TABLE, no batch mode: SQLite adds and (3.35+) drops a column in place, while a
# batch copy of `users` would lose the expression index uq_users_username_lower, which SQLite
# cannot reflect.


def upgrade():
    # The server default fills the existing rows; the model gives new rows False as well.
    op.add_column(
        "users", sa.Column("is_premium", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade():
    op.drop_column("users", "is_premium")
