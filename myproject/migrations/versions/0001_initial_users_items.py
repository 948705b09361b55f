"""initial schema: users and items

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25 03:05:08
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("email", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    # Usernames are unique ignoring case (autogenerate cannot see expression indexes).
    op.create_index(
        "uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=50), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_items_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
    )
    op.create_index("ix_items_category", "items", ["category"])
    op.create_index("ix_items_user_id", "items", ["user_id"])
    op.create_index("ix_items_name_category", "items", ["name", "category"])
    op.create_index("ix_items_created_at_id", "items", ["created_at", "id"])


def downgrade():
    op.drop_index("ix_items_created_at_id", table_name="items")
    op.drop_index("ix_items_name_category", table_name="items")
    op.drop_index("ix_items_user_id", table_name="items")
    op.drop_index("ix_items_category", table_name="items")
    op.drop_table("items")
    op.drop_index("uq_users_username_lower", table_name="users")
    op.drop_table("users")
