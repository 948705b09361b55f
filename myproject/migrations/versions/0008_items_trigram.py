"""items: trigram GIN indexes for the q search (PostgreSQL only)

Revision ID: 0008_items_trigram
Revises: 0009_outbox_trace
Create Date: 2026-12-06 03:40:00
"""

from alembic import op

revision = "0008_items_trigram"
down_revision = "0009_outbox_trace"
branch_labels = None
depends_on = None

# `q` is `name ILIKE '%term%' OR description ILIKE '%term%'`: one GIN index per column, so the
# planner answers it with a BitmapOr of two bitmap index scans instead of a sequential scan.
# SQLite has no pg_trgm: there the search stays a scan (the models declare the same indexes
# for PostgreSQL only, `Item.__table_args__`).
INDEXES = {"ix_items_name_trgm": "name", "ix_items_description_trgm": "description"}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        op.create_index(
            name,
            "items",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.drop_index(name, table_name="items")
    # The extension stays: other objects may use it, and dropping it needs more privileges.
