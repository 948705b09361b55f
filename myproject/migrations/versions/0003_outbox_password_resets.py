"""email outbox, password resets, users.welcome_email_sent_at

Revision ID: 0003_outbox
Revises: 0002_sessions
Create Date: 2026-11-30 21:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_outbox"
down_revision = "0002_sessions"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade():
    # Plain ALTER TABLE (SQLite 3.35+ too): a batch copy of users would lose the
    # expression index uq_users_username_lower, which SQLite cannot reflect.
    op.add_column("users", sa.Column("welcome_email_sent_at", UTC_DATETIME, nullable=True))
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("used_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_password_resets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
    )
    op.create_index(op.f("ix_password_resets_user_id"), "password_resets", ["user_id"])
    op.create_table(
        "outbox_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_reset_id", sa.Integer(), nullable=True),
        sa.Column("nonce", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=False),
        sa.Column("first_attempt_at", UTC_DATETIME, nullable=True),
        sa.Column("claimed_at", UTC_DATETIME, nullable=True),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_outbox_emails_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["password_reset_id"],
            ["password_resets.id"],
            name=op.f("fk_outbox_emails_password_reset_id_password_resets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_emails")),
    )
    op.create_index(op.f("ix_outbox_emails_user_id"), "outbox_emails", ["user_id"])
    op.create_index(
        op.f("ix_outbox_emails_password_reset_id"), "outbox_emails", ["password_reset_id"]
    )
    op.create_index(
        "ix_outbox_emails_status_next_attempt_at", "outbox_emails", ["status", "next_attempt_at"]
    )


def downgrade():
    op.drop_index("ix_outbox_emails_status_next_attempt_at", table_name="outbox_emails")
    op.drop_index(op.f("ix_outbox_emails_password_reset_id"), table_name="outbox_emails")
    op.drop_index(op.f("ix_outbox_emails_user_id"), table_name="outbox_emails")
    op.drop_table("outbox_emails")
    op.drop_index(op.f("ix_password_resets_user_id"), table_name="password_resets")
    op.drop_table("password_resets")
    op.drop_column("users", "welcome_email_sent_at")
