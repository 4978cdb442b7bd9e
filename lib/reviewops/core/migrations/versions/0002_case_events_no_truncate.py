"""case_events: refuse TRUNCATE on PostgreSQL too

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

The row triggers of 0001 refuse UPDATE and DELETE; a statement trigger is
needed for TRUNCATE on PostgreSQL (SQLite has no TRUNCATE).
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION case_events_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_events_no_truncate ON case_events")
