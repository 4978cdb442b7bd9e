"""An index on reviews.created_at for reports over all shops

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

The weekly report and the dashboard filter reviews by the time they were posted, usually for all
shops. The existing index is (shop_id, created_at), which neither SQLite nor PostgreSQL uses without
a shop, so every report scanned the whole history: at 1,000,000 reviews ``weekly_top3`` took 2.55 s
in a fresh process, 0.24 s with this index (benchmarks/bench_weekly_top3.py).
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reviews_created_at", "reviews", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_reviews_created_at", table_name="reviews")
