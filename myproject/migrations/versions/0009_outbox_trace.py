"""outbox_emails.traceparent: the trace of the request that queued the email

Revision ID: 0009_outbox_trace
Revises: 0007_security_events
Create Date: 2026-12-06 03:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_outbox_trace"
down_revision = "0007_security_events"
branch_labels = None
depends_on = None


def upgrade():
    # Nullable, no default: a plain ALTER TABLE on SQLite and PostgreSQL, no table rewrite.
    op.add_column("outbox_emails", sa.Column("traceparent", sa.String(length=55), nullable=True))


def downgrade():
    op.drop_column("outbox_emails", "traceparent")
