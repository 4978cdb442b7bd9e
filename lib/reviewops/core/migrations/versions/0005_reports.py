"""Reports and sweeps: delay remedies, SLA notices, surveys, training records, point redemptions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

The batch playbooks (issue 5): ``delay_remedies`` (the P4 delay coupon, unique per order so it is
issued once), ``sla_notices`` (SLA warnings and breach escalations, unique per case and kind so each
is sent once), ``surveys`` (CSAT/NPS answers for the scorecard and V4), ``training_records`` (O1
training results per agent) and ``point_redemptions`` (O2 service points spent on training).
"""
import sqlalchemy as sa
from alembic import op
from reviewops.core.store import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

T = sa.Text()


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "delay_remedies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("order_id", T, nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("reason", T, nullable=False),
        _ts("promised_at"),
        sa.Column("hours_late", sa.Float(), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("message", T, nullable=True),
        sa.Column("issued_by", T, nullable=False),
        _ts("issued_at", False),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_delay_remedies_shop_id_shops")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_delay_remedies_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delay_remedies")),
        sa.UniqueConstraint("shop_id", "order_id", name=op.f("uq_delay_remedies_shop_id_order_id")),
    )
    op.create_table(
        "sla_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("kind", T, nullable=False),
        _ts("due_at"),
        sa.Column("role", T, nullable=True),
        _ts("sent_at", False),
        sa.Column("sent_by", T, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_sla_notices_case_id_cases")),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_sla_notices_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_notices")),
        sa.UniqueConstraint("case_id", "kind", name=op.f("uq_sla_notices_case_id_kind")),
    )
    op.create_index("ix_sla_notices_shop", "sla_notices", ["shop_id", "sent_at"])
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("survey_key", T, nullable=False),
        sa.Column("kind", T, nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("order_id", T, nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        _ts("answered_at", False),
        sa.Column("source", T, nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_surveys_shop_id_shops")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_surveys_case_id_cases")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_surveys_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("shop_id", "survey_key", name=op.f("uq_surveys_shop_id_survey_key")),
    )
    op.create_index("ix_surveys_case", "surveys", ["case_id"])
    op.create_table(
        "training_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent", T, nullable=False),
        sa.Column("module", T, nullable=False),
        _ts("at", False),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("note", T, nullable=True),
        sa.Column("recorded_by", T, nullable=False),
        _ts("recorded_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_records")),
    )
    op.create_index("ix_training_agent", "training_records", ["agent", "at"])
    op.create_table(
        "point_redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent", T, nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("item", T, nullable=False),
        _ts("at", False),
        sa.Column("recorded_by", T, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_point_redemptions")),
    )


def downgrade() -> None:
    for t in ("point_redemptions", "training_records", "surveys", "sla_notices", "delay_remedies"):
        op.drop_table(t)
