"""Workbench: users, compensation ledger, follow-ups, PII vault, access log

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

The operator workbench (issue 4): ``users`` (login name, role, shops, scrypt
password hash), ``compensations`` (the remedy ledger in fen with requester and
approver), ``followups`` (scheduled 24 h / day-3 / day-30 / coupon tasks),
``pii_vault`` (AES-GCM encrypted receiver data for audited, role-gated unmasking)
and ``access_log`` (append-only: unmasking, denied actions, logins). Cases gain the
diagnosis, first-contact and resolution times and customer-confirmed satisfaction.
"""
import sqlalchemy as sa
from alembic import op
from reviewops.core.store import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

T = sa.Text()


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", T, nullable=False),
        sa.Column("display_name", T, nullable=True),
        sa.Column("role", T, nullable=False),
        sa.Column("shops", T, nullable=False),
        sa.Column("password_hash", T, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("created_at", False),
        sa.Column("created_by", T, nullable=False),
        _ts("updated_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "compensations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("order_id", T, nullable=True),
        sa.Column("kind", T, nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("state", T, nullable=False),
        sa.Column("stackable", sa.Boolean(), nullable=False),
        _ts("expires_at"),
        sa.Column("note", T, nullable=True),
        sa.Column("requested_by", T, nullable=False),
        sa.Column("requested_role", T, nullable=False),
        _ts("requested_at", False),
        sa.Column("decided_by", T, nullable=True),
        sa.Column("decided_role", T, nullable=True),
        _ts("decided_at"),
        sa.Column("decision_reason", T, nullable=True),
        sa.Column("delivered_by", T, nullable=True),
        _ts("delivered_at"),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_compensations_case_id_cases")),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_compensations_shop_id_shops")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_compensations_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compensations")),
    )
    op.create_index("ix_compensations_case", "compensations", ["case_id"])
    op.create_index("ix_compensations_customer", "compensations", ["customer_id", "requested_at"])
    op.create_index("ix_compensations_state", "compensations", ["shop_id", "state"])
    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("step", T, nullable=False),
        sa.Column("template_kind", T, nullable=False),
        _ts("due_at", False),
        sa.Column("state", T, nullable=False),
        _ts("created_at", False),
        sa.Column("done_by", T, nullable=True),
        _ts("done_at"),
        sa.Column("reason", T, nullable=True),
        sa.Column("message", T, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_followups_case_id_cases")),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_followups_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followups")),
        sa.UniqueConstraint("case_id", "step", name=op.f("uq_followups_case_id_step")),
    )
    op.create_index("ix_followups_due", "followups", ["state", "due_at"])
    op.create_table(
        "pii_vault",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("order_id", T, nullable=False),
        sa.Column("field", T, nullable=False),
        sa.Column("key_id", T, nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        _ts("created_at", False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_pii_vault_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pii_vault")),
        sa.UniqueConstraint("shop_id", "order_id", "field", name=op.f("uq_pii_vault_shop_id_order_id_field")),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        _ts("at", False),
        sa.Column("actor", T, nullable=False),
        sa.Column("role", T, nullable=True),
        sa.Column("action", T, nullable=False),
        sa.Column("outcome", T, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("shop_id", sa.Integer(), nullable=True),
        sa.Column("target", T, nullable=True),
        sa.Column("purpose", T, nullable=True),
        sa.Column("detail_json", T, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    _append_only("access_log")
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("diagnosis_json", T, nullable=True))
        batch.add_column(_ts("first_contact_at"))
        batch.add_column(_ts("resolved_at"))
        batch.add_column(sa.Column("satisfied", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("reply_text", T, nullable=True))
        batch.add_column(sa.Column("last_contact_channel", T, nullable=True))
        batch.add_column(sa.Column("last_contact_note", T, nullable=True))


def _append_only(table: str) -> None:
    """Refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) on an audit table, in the database."""
    if op.get_bind().dialect.name == "sqlite":
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{what.lower()} BEFORE {what} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    else:
        op.execute(f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$")
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()")


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        for col in ("last_contact_note", "last_contact_channel", "reply_text", "satisfied", "resolved_at", "first_contact_at", "diagnosis_json"):
            batch.drop_column(col)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS access_log_no_truncate ON access_log")
        op.execute("DROP TRIGGER IF EXISTS access_log_append_only ON access_log")
        op.execute("DROP FUNCTION IF EXISTS access_log_append_only()")
    op.drop_table("access_log")
    op.drop_table("pii_vault")
    op.drop_index("ix_followups_due", table_name="followups")
    op.drop_table("followups")
    for ix in ("ix_compensations_state", "ix_compensations_customer", "ix_compensations_case"):
        op.drop_index(ix, table_name="compensations")
    op.drop_table("compensations")
    op.drop_table("users")
