"""Listings: the shop's product/listing exports

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Issue 19 (product listings as data): ``listings`` holds one row per listing and SKU as the platform's listing
export (淘宝助理 CSV, the provisional Douyin/PDD/JD 商品列表 layouts, or a user's ``--map``) shows it: ids,
title, category, price in fen, the promised dispatch time in hours (with the text it was read from), the
regions not served, whether a size chart and a colour-difference note are shown, and the service
commitments shown (JSON lists). ``product_pk`` links the row to ``products`` (same shop and id);
``first_batch_id`` / ``last_batch_id`` are the imports that first and last saw it and ``updated_at`` is when a
value last changed. Written by :mod:`reviewops.intake.ingest` only (kind ``listings``).
"""
import sqlalchemy as sa
from alembic import op
from reviewops.core.store import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

T = sa.Text()
TABLE = "listings"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("listing_key", T, nullable=False),
        sa.Column("sku", T, nullable=False),
        sa.Column("listing_id", T, nullable=True),
        sa.Column("sku_spec", T, nullable=True),
        sa.Column("merchant_code", T, nullable=True),
        sa.Column("product_pk", sa.Integer(), nullable=True),
        sa.Column("title", T, nullable=True),
        sa.Column("category", T, nullable=True),
        sa.Column("price_fen", sa.BigInteger(), nullable=True),
        sa.Column("status_raw", T, nullable=True),
        sa.Column("dispatch_hours", sa.Integer(), nullable=True),
        sa.Column("dispatch_raw", T, nullable=True),
        sa.Column("excluded_regions", T, nullable=True),
        sa.Column("size_chart", sa.Boolean(), nullable=True),
        sa.Column("colour_note", sa.Boolean(), nullable=True),
        sa.Column("commitments", T, nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("row_hash", T, nullable=True),
        sa.Column("first_batch_id", sa.Integer(), nullable=True),
        sa.Column("last_batch_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_listings_shop_id_shops")),
        sa.ForeignKeyConstraint(["product_pk"], ["products.id"], name=op.f("fk_listings_product_pk_products")),
        sa.ForeignKeyConstraint(["first_batch_id"], ["import_batches.id"],
                                name=op.f("fk_listings_first_batch_id_import_batches")),
        sa.ForeignKeyConstraint(["last_batch_id"], ["import_batches.id"],
                                name=op.f("fk_listings_last_batch_id_import_batches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listings")),
        sa.UniqueConstraint("shop_id", "listing_key", "sku", name=op.f("uq_listings_shop_id_listing_key_sku")),
    )
    op.create_index("ix_listings_listing_id", TABLE, ["shop_id", "listing_id"])


def downgrade() -> None:
    op.drop_index("ix_listings_listing_id", table_name=TABLE)
    op.drop_table(TABLE)
