"""Case signals: what a malicious-review verdict rests on

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Issue 17 §1 (SPEC H2): ``case_signals`` holds every detection signal recorded on a case — extortion in
the buyer's chats or review, a serial buyer with an abnormal return rate, a burst of bad reviews sharing
an IP, a device, a receiver or near-identical text — with its score (0–1), Chinese reasons and the
pointers it rests on (review ids, order ids, chat message ids, JSON). ``signal_key`` makes recording
idempotent (one row per case and key). Legal staff confirm or reject each signal (``status``,
``decided_by``, ``decided_at``, ``decision_note``); the decisions tune the shop's threshold
(:func:`reviewops.handling.defence.tuned_threshold`). Written by :mod:`reviewops.handling.defence` only.
"""
import sqlalchemy as sa
from alembic import op
from reviewops.core.store import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

T = sa.Text()
TABLE = "case_signals"


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("signal_key", T, nullable=False),
        sa.Column("kind", T, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", T, nullable=False),
        sa.Column("pointers", T, nullable=False),
        _ts("detected_at", False),
        _ts("updated_at", False),
        sa.Column("status", T, nullable=False),
        sa.Column("decided_by", T, nullable=True),
        _ts("decided_at"),
        sa.Column("decision_note", T, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_signals_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_signals")),
        sa.UniqueConstraint("case_id", "signal_key", name=op.f("uq_case_signals_case_id_signal_key")),
    )
    op.create_index("ix_case_signals_status", TABLE, ["status", "kind"])


def downgrade() -> None:
    op.drop_index("ix_case_signals_status", table_name=TABLE)
    op.drop_table(TABLE)
