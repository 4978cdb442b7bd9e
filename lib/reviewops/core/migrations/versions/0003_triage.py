"""Triage: text models, and the case's SLA clock, scores and decision record

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Adds ``text_models`` (versioned models learned from rated reviews) and the
columns triage fills on a case: when its SLA clock started, the SLA hours, the
negative score, the model version and the decision with its reasons (JSON).
"""
import sqlalchemy as sa
from alembic import op
from reviewops.core.store import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "text_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("n_train", sa.Integer(), nullable=False),
        sa.Column("metrics_json", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_text_models")),
        sa.UniqueConstraint("version", name=op.f("uq_text_models_version")),
    )
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("sla_started_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sla_hours", sa.Float(), nullable=True))
        batch.add_column(sa.Column("negative_score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("model_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("triage_json", sa.Text(), nullable=True))
        batch.add_column(sa.Column("sla_state_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        for col in ("sla_state_json", "triage_json", "model_version", "negative_score", "sla_hours", "sla_started_at"):
            batch.drop_column(col)
    op.drop_table("text_models")
