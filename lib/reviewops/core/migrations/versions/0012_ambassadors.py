"""Ambassadors: the V3 referral programme (推荐大使 / 好评大使, issue 20)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

``ambassadors`` holds one row per invited customer of a shop (the resolved case that made them a candidate,
the approved invitation text, consent date and channel, the referral code and an optional shop coupon code,
opt-out); ``ambassador_messages`` is the programme's outbox (pending messages are cancelled on opt-out);
``ambassador_referrals`` holds one row per referred order recognised in the shop's imported orders (unique
per shop and order, so an order imported twice counts once; cancelled or fully refunded orders are kept
as ``excluded`` with the reason); ``ambassador_rewards`` is the rewards ledger in fen, unique per ambassador
and ``reward_key`` so each coupon and the threshold gift is issued exactly once. Written by
:mod:`reviewops.handling.ambassadors` only.
"""
import sqlalchemy as sa
from alembic import op
from reviewops.core.store import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

T = sa.Text()


def _t(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "ambassadors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("state", T, nullable=False),
        sa.Column("basis", T, nullable=False),
        sa.Column("invitation_text", T, nullable=False),
        sa.Column("referral_code", T, nullable=True),
        sa.Column("coupon_code", T, nullable=True),
        sa.Column("proposed_by", T, nullable=False),
        _t("proposed_at", False),
        sa.Column("approved_by", T, nullable=True),
        _t("approved_at"),
        _t("consent_at"),
        sa.Column("consent_channel", T, nullable=True),
        sa.Column("consent_recorded_by", T, nullable=True),
        _t("ended_at"),
        sa.Column("ended_channel", T, nullable=True),
        sa.Column("ended_by", T, nullable=True),
        _t("updated_at", False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_ambassadors_shop_id_shops")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_ambassadors_customer_id_customers")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_ambassadors_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ambassadors")),
        sa.UniqueConstraint("shop_id", "customer_id", name=op.f("uq_ambassadors_shop_id_customer_id")),
        sa.UniqueConstraint("shop_id", "referral_code", name=op.f("uq_ambassadors_shop_id_referral_code")),
    )
    op.create_table(
        "ambassador_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ambassador_id", sa.Integer(), nullable=False),
        sa.Column("kind", T, nullable=False),
        sa.Column("text", T, nullable=False),
        sa.Column("state", T, nullable=False),
        sa.Column("created_by", T, nullable=False),
        _t("created_at", False),
        sa.Column("sent_by", T, nullable=True),
        _t("sent_at"),
        sa.Column("channel", T, nullable=True),
        _t("cancelled_at"),
        sa.Column("reason", T, nullable=True),
        sa.ForeignKeyConstraint(["ambassador_id"], ["ambassadors.id"],
                                name=op.f("fk_ambassador_messages_ambassador_id_ambassadors")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ambassador_messages")),
    )
    op.create_index("ix_ambassador_messages_amb", "ambassador_messages", ["ambassador_id", "state"])
    op.create_table(
        "ambassador_referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ambassador_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("order_id", T, nullable=False),
        sa.Column("matched_by", T, nullable=False),
        sa.Column("matched_in", T, nullable=False),
        sa.Column("status", T, nullable=False),
        sa.Column("excluded_reason", T, nullable=True),
        _t("order_at"),
        sa.Column("paid_fen", sa.BigInteger(), nullable=True),
        sa.Column("revenue_fen", sa.BigInteger(), nullable=True),
        _t("recognised_at", False),
        _t("updated_at", False),
        sa.ForeignKeyConstraint(["ambassador_id"], ["ambassadors.id"],
                                name=op.f("fk_ambassador_referrals_ambassador_id_ambassadors")),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_ambassador_referrals_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ambassador_referrals")),
        sa.UniqueConstraint("shop_id", "order_id", name=op.f("uq_ambassador_referrals_shop_id_order_id")),
    )
    op.create_index("ix_ambassador_referrals_amb", "ambassador_referrals", ["ambassador_id"])
    op.create_table(
        "ambassador_rewards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ambassador_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", T, nullable=False),
        sa.Column("reward_key", T, nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("state", T, nullable=False),
        sa.Column("needed_role", T, nullable=True),
        sa.Column("requested_by", T, nullable=False),
        sa.Column("requested_role", T, nullable=False),
        _t("requested_at", False),
        sa.Column("decided_by", T, nullable=True),
        sa.Column("decided_role", T, nullable=True),
        _t("decided_at"),
        sa.Column("decision_reason", T, nullable=True),
        sa.Column("delivered_by", T, nullable=True),
        _t("delivered_at"),
        sa.Column("note", T, nullable=True),
        sa.ForeignKeyConstraint(["ambassador_id"], ["ambassadors.id"],
                                name=op.f("fk_ambassador_rewards_ambassador_id_ambassadors")),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_ambassador_rewards_shop_id_shops")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_ambassador_rewards_customer_id_customers")),
        sa.ForeignKeyConstraint(["referral_id"], ["ambassador_referrals.id"],
                                name=op.f("fk_ambassador_rewards_referral_id_ambassador_referrals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ambassador_rewards")),
        sa.UniqueConstraint("ambassador_id", "reward_key", name=op.f("uq_ambassador_rewards_ambassador_id_reward_key")),
    )
    op.create_index("ix_ambassador_rewards_shop", "ambassador_rewards", ["shop_id", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_ambassador_rewards_shop", table_name="ambassador_rewards")
    op.drop_table("ambassador_rewards")
    op.drop_index("ix_ambassador_referrals_amb", table_name="ambassador_referrals")
    op.drop_table("ambassador_referrals")
    op.drop_index("ix_ambassador_messages_amb", table_name="ambassador_messages")
    op.drop_table("ambassador_messages")
    op.drop_table("ambassadors")
