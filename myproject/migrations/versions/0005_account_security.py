"""account security: email verification, users.email_verified, outbox data for notices

Revision ID: 0005_account_security
Revises: 0004_users_is_premium
Create Date: 2026-12-06 03:40:00

Existing users stay unverified (server default false): nothing proves that an address
registered before verification existed was ever read by its owner. docs/accounts.md tells
operators what that means with REQUIRE_VERIFIED_EMAIL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_account_security"
down_revision = "0004_users_is_premium"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade():
    # Plain ALTER TABLE for users (see 0004: a batch copy would lose an expression index).
    op.add_column(
        "users",
        sa.Column("email_verified", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "email_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("used_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_email_verifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_verifications")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_email_verifications_token_hash")),
    )
    op.create_index(op.f("ix_email_verifications_user_id"), "email_verifications", ["user_id"])
    # Batch mode: SQLite can neither make a column nullable nor add a foreign key in place.
    with op.batch_alter_table("outbox_emails") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("email_verification_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("data", sa.JSON(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_outbox_emails_email_verification_id_email_verifications"),
            "email_verifications",
            ["email_verification_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(
            op.f("ix_outbox_emails_email_verification_id"), ["email_verification_id"]
        )


def downgrade():
    with op.batch_alter_table("outbox_emails") as batch:
        batch.drop_index(op.f("ix_outbox_emails_email_verification_id"))
        batch.drop_constraint(
            op.f("fk_outbox_emails_email_verification_id_email_verifications"), type_="foreignkey"
        )
        batch.drop_column("data")
        batch.drop_column("email_verification_id")
    # Rows of reset requests that no account was found for cannot stay.
    op.execute("DELETE FROM outbox_emails WHERE user_id IS NULL")
    with op.batch_alter_table("outbox_emails") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f("ix_email_verifications_user_id"), table_name="email_verifications")
    op.drop_table("email_verifications")
    op.drop_column("users", "email_verified")
