"""security_events: the append-only security event log

Revision ID: 0007_security_events
Revises: 0006_api_keys
Create Date: 2026-12-06 03:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_security_events"
down_revision = "0006_api_keys"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade():
    # user_id is no foreign key: the events outlive the account they are about.
    op.create_table(
        "security_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_events")),
    )
    op.create_index(
        "ix_security_events_user_id_created_at_id",
        "security_events",
        ["user_id", "created_at", "id"],
    )
    op.create_index(
        "ix_security_events_type_created_at_id", "security_events", ["type", "created_at", "id"]
    )
    op.create_index("ix_security_events_created_at_id", "security_events", ["created_at", "id"])


def downgrade():
    op.drop_index("ix_security_events_created_at_id", table_name="security_events")
    op.drop_index("ix_security_events_type_created_at_id", table_name="security_events")
    op.drop_index("ix_security_events_user_id_created_at_id", table_name="security_events")
    op.drop_table("security_events")
