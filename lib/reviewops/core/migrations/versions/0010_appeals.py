"""Appeals: platform appeals of malicious reviews and their state

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Issue 17 §3 (SPEC H3): ``appeals`` holds one row per appeal packet filed (or to be filed) with a platform:
the case, platform, ground and appeal type (from ``core/data/appeal_rules.tsv``), the SHA-256 of the packet
ZIP, the deadline counted from the review time, and its state drafted → submitted (who, when, the platform's
reference) → accepted / rejected (when, the platform's reason). ``version`` is the optimistic lock every
change checks. Written by :mod:`reviewops.handling.appeals` only; each change is also in ``access_log``.
"""
import sqlalchemy as sa
from alembic import op
from reviewops.core.store import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

T = sa.Text()
TABLE = "appeals"


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("platform", T, nullable=False),
        sa.Column("ground", T, nullable=False),
        sa.Column("appeal_type", T, nullable=False),
        sa.Column("state", T, nullable=False),
        sa.Column("packet_sha256", T, nullable=False),
        sa.Column("packet_name", T, nullable=False),
        _ts("review_at"),
        _ts("deadline_at"),
        sa.Column("created_by", T, nullable=False),
        _ts("created_at", False),
        sa.Column("submitted_by", T, nullable=True),
        _ts("submitted_at"),
        sa.Column("platform_ref", T, nullable=True),
        sa.Column("decided_by", T, nullable=True),
        _ts("decided_at"),
        sa.Column("platform_reason", T, nullable=True),
        _ts("updated_at", False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_appeals_case_id_cases")),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_appeals_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
    )
    op.create_index("ix_appeals_case", TABLE, ["case_id"])
    op.create_index("ix_appeals_state", TABLE, ["state", "deadline_at"])


def downgrade() -> None:
    op.drop_index("ix_appeals_state", table_name=TABLE)
    op.drop_index("ix_appeals_case", table_name=TABLE)
    op.drop_table(TABLE)
