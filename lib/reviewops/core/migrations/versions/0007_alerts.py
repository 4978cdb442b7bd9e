"""Watcher and alerts: the alert ledger, files and push events taken in, the watcher's heartbeat

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

Issue 7 (SPEC E1/E2): ``alert_events`` (one row per new case or SLA notice worth an alert, unique
idempotency key so a restart or a second watcher never raises it twice; arrival and detection
times for the measured delay), ``alert_deliveries`` (one row per alert and channel: attempts,
backoff, lease, dead letters, delivery time), ``watch_files`` (export files taken in, by content
hash), ``push_events`` (pushed event ids, so a replayed request is refused) and
``watch_heartbeats`` (``reviewops watch --status``).
"""
import sqlalchemy as sa
from alembic import op
from reviewops.core.store import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

T = sa.Text()


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", T, nullable=False),
        sa.Column("kind", T, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("source", T, nullable=False),
        _ts("arrived_at", False),
        _ts("detected_at", False),
        _ts("created_at", False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_alert_events_case_id_cases")),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_alert_events_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
        sa.UniqueConstraint("key", name=op.f("uq_alert_events_key")),
    )
    op.create_index("ix_alert_events_created", "alert_events", ["created_at"])
    op.create_index("ix_alert_events_case", "alert_events", ["case_id"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("channel", T, nullable=False),
        sa.Column("channel_type", T, nullable=False),
        sa.Column("state", T, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at", False),
        _ts("lease_until"),
        sa.Column("last_error", T, nullable=True),
        _ts("delivered_at"),
        _ts("created_at", False),
        _ts("updated_at", False),
        sa.ForeignKeyConstraint(["event_id"], ["alert_events.id"],
                                name=op.f("fk_alert_deliveries_event_id_alert_events")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint("event_id", "channel", name=op.f("uq_alert_deliveries_event_id_channel")),
    )
    op.create_index("ix_alert_deliveries_due", "alert_deliveries", ["state", "next_attempt_at"])
    op.create_table(
        "watch_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", T, nullable=False),
        sa.Column("source", T, nullable=False),
        sa.Column("sha256", T, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("state", T, nullable=False),
        _ts("first_seen_at", False),
        _ts("imported_at", False),
        sa.Column("summary", T, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_files")),
        sa.UniqueConstraint("path", name=op.f("uq_watch_files_path")),
    )
    op.create_table(
        "push_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", T, nullable=False),
        _ts("received_at", False),
        sa.Column("reviews", sa.Integer(), nullable=False),
        sa.Column("summary", T, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_push_events_event_id")),
    )
    op.create_table(
        "watch_heartbeats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", T, nullable=False),
        sa.Column("host", T, nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        _ts("started_at", False),
        _ts("beat_at", False),
        sa.Column("stats_json", T, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_heartbeats")),
        sa.UniqueConstraint("name", name=op.f("uq_watch_heartbeats_name")),
    )


def downgrade() -> None:
    op.drop_table("watch_heartbeats")
    op.drop_table("push_events")
    op.drop_table("watch_files")
    op.drop_index("ix_alert_deliveries_due", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index("ix_alert_events_case", table_name="alert_events")
    op.drop_index("ix_alert_events_created", table_name="alert_events")
    op.drop_table("alert_events")
