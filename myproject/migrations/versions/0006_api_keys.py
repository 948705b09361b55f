"""API keys (personal access tokens); login sessions gain last_used_at, ip, user_agent

Revision ID: 0006_api_keys
Revises: 0005_account_security
Create Date: 2026-12-06 03:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_api_keys"
down_revision = "0005_account_security"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)

# Plain ADD COLUMN (no batch copy): existing logins keep NULLs, which the API shows as
# "last used when created" and an unknown address and agent.


def upgrade():
    op.add_column("login_sessions", sa.Column("last_used_at", UTC_DATETIME, nullable=True))
    op.add_column("login_sessions", sa.Column("ip", sa.String(length=64), nullable=True))
    op.add_column("login_sessions", sa.Column("user_agent", sa.String(length=255), nullable=True))
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=8), nullable=False),
        sa.Column("scopes", sa.String(length=100), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("last_used_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_keys_token_hash")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"])
    op.create_index(op.f("ix_api_keys_expires_at"), "api_keys", ["expires_at"])


def downgrade():
    op.drop_index(op.f("ix_api_keys_expires_at"), table_name="api_keys")
    op.drop_index(op.f("ix_api_keys_user_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_column("login_sessions", "user_agent")
    op.drop_column("login_sessions", "ip")
    op.drop_column("login_sessions", "last_used_at")
