"""Alert subjects: alerts about no case (issue 19 §P6, service commitments in progress)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

``alert_events.case_id`` becomes nullable and ``alert_events.subject`` (Text, nullable) is added: a breach of a
service commitment in progress (a late dispatch, an unanswered after-sales request or chat turn) usually has no
case, so its alert (kinds ``commit_warn`` / ``commit_breach``, :func:`reviewops.alerting.alerts.raise_commitment_alerts`)
records what it is about in ``subject`` (the commitment code and the masked order id / event) instead.

SQLite cannot change a column's nullability in place: the table is rebuilt (``batch_alter_table``). Its rows are
referenced by ``alert_deliveries`` and the store runs with ``PRAGMA foreign_keys=ON`` inside the migration's
transaction, so the deliveries are set aside in a temporary table while ``alert_events`` is rebuilt (same ids) and
put back afterwards. PostgreSQL alters the column in place.
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_DELIVERY_COLS = ("id, event_id, channel, channel_type, state, attempts, next_attempt_at, lease_until, last_error, "
                  "delivered_at, created_at, updated_at")


def _rebuild_sqlite(change) -> None:
    op.execute("CREATE TEMPORARY TABLE _alert_deliveries_0013 AS SELECT * FROM alert_deliveries")
    op.execute("DELETE FROM alert_deliveries")
    with op.batch_alter_table("alert_events", recreate="always") as batch:
        change(batch)
    op.execute(f"INSERT INTO alert_deliveries ({_DELIVERY_COLS}) SELECT {_DELIVERY_COLS} FROM _alert_deliveries_0013")
    op.execute("DROP TABLE _alert_deliveries_0013")


def upgrade() -> None:
    def change(batch) -> None:
        batch.alter_column("case_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("subject", sa.Text(), nullable=True))

    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(change)
    else:
        with op.batch_alter_table("alert_events") as batch:
            change(batch)


def downgrade() -> None:
    # case-less alerts cannot be kept once case_id is NOT NULL again: their deliveries and rows go
    op.execute("DELETE FROM alert_deliveries WHERE event_id IN (SELECT id FROM alert_events WHERE case_id IS NULL)")
    op.execute("DELETE FROM alert_events WHERE case_id IS NULL")

    def change(batch) -> None:
        batch.drop_column("subject")
        batch.alter_column("case_id", existing_type=sa.Integer(), nullable=False)

    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(change)
    else:
        with op.batch_alter_table("alert_events") as batch:
            change(batch)
