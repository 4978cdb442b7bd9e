"""Evidence chain: content-addressed evidence files, their links to cases/orders, the custody log

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

Issue 17 §2 (SPEC E4, P5): ``evidence_files`` (one row per distinct file, keyed by its SHA-256;
the bytes live in the evidence folder, never in the database), ``evidence_links`` (what a file is
evidence of: a case, an order or a shop; kind, original name as text, note, linked chat message
ids) and ``evidence_custody``, the chain of custody (added, viewed, exported, verified — by whom,
when). The custody log is append-only at the database level, as ``case_events`` is (0001, 0002):
SQLite triggers refuse UPDATE and DELETE; on PostgreSQL a row trigger refuses UPDATE and DELETE and
a statement trigger refuses TRUNCATE.
"""
import sqlalchemy as sa
from alembic import op

from reviewops.core.store import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

T = sa.Text()
CUSTODY = "evidence_custody"


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "evidence_files",
        sa.Column("sha256", T, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mime", T, nullable=False),
        _ts("created_at", False),
        sa.Column("created_by", T, nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_evidence_files")),
    )
    op.create_table(
        "evidence_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", T, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("shop_id", sa.Integer(), nullable=True),
        sa.Column("order_id", T, nullable=True),
        sa.Column("kind", T, nullable=False),
        sa.Column("original_name", T, nullable=True),
        sa.Column("note", T, nullable=True),
        sa.Column("message_ids", T, nullable=True),
        sa.Column("added_by", T, nullable=False),
        _ts("added_at", False),
        sa.ForeignKeyConstraint(["sha256"], ["evidence_files.sha256"],
                                name=op.f("fk_evidence_links_sha256_evidence_files")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_evidence_links_case_id_cases")),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_evidence_links_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_links")),
    )
    op.create_index("ix_evidence_links_case", "evidence_links", ["case_id"])
    op.create_index("ix_evidence_links_sha256", "evidence_links", ["sha256"])
    op.create_index("ix_evidence_links_order", "evidence_links", ["shop_id", "order_id"])
    op.create_table(
        CUSTODY,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", T, nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("action", T, nullable=False),
        sa.Column("actor", T, nullable=False),
        _ts("at", False),
        sa.Column("detail", T, nullable=True),
        sa.ForeignKeyConstraint(["sha256"], ["evidence_files.sha256"],
                                name=op.f("fk_evidence_custody_sha256_evidence_files")),
        sa.ForeignKeyConstraint(["link_id"], ["evidence_links.id"],
                                name=op.f("fk_evidence_custody_link_id_evidence_links")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_custody")),
    )
    op.create_index("ix_evidence_custody_sha256", CUSTODY, ["sha256", "at"])
    _append_only(CUSTODY)


def _append_only(table: str) -> None:
    """Refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on an audit table, at the database level."""
    if op.get_bind().dialect.name == "sqlite":
        for what in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{what.lower()} BEFORE {what} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
    else:
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {CUSTODY}_no_truncate ON {CUSTODY}")
        op.execute(f"DROP TRIGGER IF EXISTS {CUSTODY}_append_only ON {CUSTODY}")
        op.execute(f"DROP FUNCTION IF EXISTS {CUSTODY}_append_only()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {CUSTODY}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {CUSTODY}_no_delete")
    op.drop_index("ix_evidence_custody_sha256", table_name=CUSTODY)
    op.drop_table(CUSTODY)
    op.drop_index("ix_evidence_links_order", table_name="evidence_links")
    op.drop_index("ix_evidence_links_sha256", table_name="evidence_links")
    op.drop_index("ix_evidence_links_case", table_name="evidence_links")
    op.drop_table("evidence_links")
    op.drop_table("evidence_files")
