"""The store: the one module that owns the database.

SQLAlchemy 2.x Core tables, Alembic migrations applied on open, SQLite by
default (a file in the user's data directory) or PostgreSQL
(``postgresql+psycopg://…``) selected by ``--db URL`` / ``REVIEWOPS_DB``.

SQLite is opened the safe way (reliability.md §6): WAL, ``synchronous=FULL``,
foreign keys on, a busy timeout, and write transactions that begin
``IMMEDIATE`` so that a read-then-write transaction cannot fail half way with
``SQLITE_BUSY_SNAPSHOT``. A database file on a network filesystem is refused
in multi-user mode (R-08).

Conventions: IDs are text, money is integer fen, times are stored in UTC and
come back timezone-aware. Every mutable case row has a ``version``; writers use
:func:`update_case`, which checks it (``ConflictError`` on a stale version) and
appends one row to the append-only ``case_events`` log in the same transaction.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from .errors import ConfigError, ConflictError, NetworkFilesystemError, NotFound, StoreError
from .redact import has_masked_secret, mask_url, redact_secrets, remember_url

log = logging.getLogger(__name__)

ENV_DB = "REVIEWOPS_DB"
ENV_MULTI_USER = "REVIEWOPS_MULTI_USER"
ENV_PII_KEY = "REVIEWOPS_PII_KEY"
SQLITE_BUSY_TIMEOUT_MS = 15000


# --------------------------------------------------------------------------- types
class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware datetimes stored as UTC; naive values are refused."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if getattr(value, "tzinfo", None) is None:
            raise StoreError(
                f"时间缺少时区 / naive datetime {value!r}; pass a timezone-aware value (UTC or Asia/Shanghai)"
            )
        value = value.astimezone(dt.timezone.utc)
        if hasattr(value, "to_pydatetime"):
            value = value.to_pydatetime()
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


_CLOCK: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("reviewops_clock", default=None)


def utcnow() -> dt.datetime:
    """The current time (aware UTC); inside :func:`clock` the simulated time instead."""
    at = _CLOCK.get()
    return at if at is not None else dt.datetime.now(dt.timezone.utc)


@contextlib.contextmanager
def clock(at: dt.datetime) -> Iterator[dt.datetime]:
    """Run a block as if it were ``at`` (aware): every :func:`utcnow` in this context returns it.

    Used to replay history through the real library functions (the demo's worked cases); a
    simulated time may not lie in the future of the real clock. Nests; restored on exit.
    """
    if getattr(at, "tzinfo", None) is None:
        raise ConfigError(f"模拟时钟需要带时区的时间，收到 {at!r} / the simulated clock needs an aware datetime, got {at!r}")
    at = at.astimezone(dt.timezone.utc)
    real = dt.datetime.now(dt.timezone.utc)
    if at > real:
        raise ConfigError(f"模拟时间 {at.isoformat()} 晚于当前时间 {real.isoformat()} / the simulated time is in the future; "
                          "give a past time")
    token = _CLOCK.set(at)
    try:
        yield at
    finally:
        _CLOCK.reset(token)


# -------------------------------------------------------------------------- tables
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
Text = sa.Text
Fen = sa.BigInteger  # money in fen


def _c(name: str, type_: Any = Text, *args: Any, **kw: Any) -> sa.Column:
    kw.setdefault("nullable", True)
    return sa.Column(name, type_, *args, **kw)


def _source_cols() -> list[sa.Column]:
    return [
        _c("batch_id", sa.Integer, sa.ForeignKey("import_batches.id")),
        _c("source_row", sa.Integer),
        _c("row_hash", Text),
        _c("export_time", UTCDateTime()),
    ]


settings = sa.Table(
    "settings", metadata,
    sa.Column("key", Text, primary_key=True),
    _c("value", Text, nullable=False),
)

shops = sa.Table(
    "shops", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("platform", Text, nullable=False),
    _c("name", Text, nullable=False),
    _c("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("platform", "name"),
)

import_batches = sa.Table(
    "import_batches", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("file_name", Text, nullable=False),
    _c("member", Text),  # sheet or zip member
    _c("file_sha256", Text, nullable=False),
    _c("platform", Text),
    _c("kind", Text, nullable=False),
    _c("layout", Text, nullable=False),
    _c("file_type", Text, nullable=False),
    _c("encoding", Text),
    _c("header_row", sa.Integer),
    _c("status", Text, nullable=False),  # done | partial (with --skip-bad-rows)
    _c("rows_read", sa.Integer, nullable=False),
    _c("rows_new", sa.Integer, nullable=False),
    _c("rows_updated", sa.Integer, nullable=False),
    _c("rows_unchanged", sa.Integer, nullable=False),
    _c("rows_rejected", sa.Integer, nullable=False),
    _c("notes", Text),  # JSON list of warnings (Excel re-save, default reviews …)
    _c("actor", Text),
    _c("started_at", UTCDateTime(), nullable=False),
    _c("finished_at", UTCDateTime(), nullable=False),
)

layouts = sa.Table(
    "layouts", metadata,
    sa.Column("name", Text, primary_key=True),
    _c("kind", Text, nullable=False),
    _c("platform", Text),
    _c("definition", Text, nullable=False),  # Layout.to_json()
    _c("created_at", UTCDateTime(), nullable=False),
    _c("created_by", Text),
)

customers = sa.Table(
    "customers", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("customer_key", Text, nullable=False),  # keyed hash of the nick, or of the order when the nick is masked
    _c("nick_masked", Text),
    _c("nick_hash", Text),
    _c("nick_is_masked", sa.Boolean, nullable=False, default=False),
    _c("first_seen_at", UTCDateTime()),
    _c("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("shop_id", "customer_key"),
)

products = sa.Table(
    "products", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("product_id", Text, nullable=False),
    _c("title", Text),
    _c("category", Text),
    _c("supplier", Text),
    sa.UniqueConstraint("shop_id", "product_id"),
)

listings = sa.Table(
    "listings", metadata,  # the shop's product/listing exports (kind listings, issue 19), written by intake.ingest only
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("listing_key", Text, nullable=False),  # the listing id, else 商家编码:<code>, else 标题:<title>
    _c("sku", Text, nullable=False),  # SKU id, else SKU spec, else "" (a row for the whole listing)
    _c("listing_id", Text),  # the platform's listing / item id (products.product_id)
    _c("sku_spec", Text),
    _c("merchant_code", Text),
    _c("product_pk", sa.Integer, sa.ForeignKey("products.id")),  # the product with the same id in this shop
    _c("title", Text),
    _c("category", Text),  # as the platform writes it (Taobao: the numeric 类目 id)
    _c("price_fen", Fen),
    _c("status_raw", Text),
    _c("dispatch_hours", sa.Integer),  # promised dispatch time in hours; None: no promise shown
    _c("dispatch_raw", Text),  # the cell or the phrase the promise was read from
    _c("excluded_regions", Text),  # JSON list of short province names / groups (不发货地区)
    _c("size_chart", sa.Boolean),  # None: the export says nothing about it
    _c("colour_note", sa.Boolean),
    _c("commitments", Text),  # JSON list of service commitments shown (7天无理由, 运费险 …)
    _c("source_row", sa.Integer),
    _c("row_hash", Text),  # of the compared columns (ingest.LISTING_CONTENT)
    _c("first_batch_id", sa.Integer, sa.ForeignKey("import_batches.id")),
    _c("last_batch_id", sa.Integer, sa.ForeignKey("import_batches.id")),
    _c("updated_at", UTCDateTime(), nullable=False),  # first seen, or the last import that changed a value
    sa.UniqueConstraint("shop_id", "listing_key", "sku"),
)

orders = sa.Table(
    "orders", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("order_id", Text, nullable=False),
    _c("customer_id", sa.Integer, sa.ForeignKey("customers.id")),
    _c("status_raw", Text),
    _c("created_at", UTCDateTime()),
    _c("paid_at", UTCDateTime()),
    _c("promised_ship_at", UTCDateTime()),
    _c("shipped_at", UTCDateTime()),
    _c("completed_at", UTCDateTime()),
    _c("buyer_nick_masked", Text),
    _c("receiver_name_masked", Text),
    _c("receiver_name_hash", Text),
    _c("receiver_phone_masked", Text),
    _c("receiver_phone_hash", Text),
    _c("receiver_phone_is_masked", sa.Boolean),
    _c("receiver_pii_encrypted", sa.Boolean),
    _c("receiver_address_masked", Text),
    _c("province", Text),
    _c("city", Text),
    _c("district", Text),
    _c("buyer_message", Text),
    _c("seller_memo", Text),
    _c("goods_fen", Fen),
    _c("shipping_fee_fen", Fen),
    _c("discount_fen", Fen),
    _c("paid_fen", Fen),
    _c("refund_fen", Fen),
    _c("tracking_no", Text),
    _c("carrier", Text),
    _c("refund_status_raw", Text),
    _c("influencer", Text),
    _c("item_count", sa.Integer),
    _c("titles", Text),
    *_source_cols(),
    sa.UniqueConstraint("shop_id", "order_id"),
)

order_lines = sa.Table(
    "order_lines", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("order_id", Text, nullable=False),
    _c("line_id", Text, nullable=False),
    _c("product_id", Text),
    _c("sku_id", Text),
    _c("merchant_code", Text),
    _c("title", Text),
    _c("sku_spec", Text),
    _c("unit_price_fen", Fen),
    _c("quantity", sa.Integer),
    _c("paid_fen", Fen),
    _c("refund_fen", Fen),
    _c("status_raw", Text),
    _c("refund_status_raw", Text),
    _c("shipped_at", UTCDateTime()),
    *_source_cols(),
    sa.UniqueConstraint("shop_id", "order_id", "line_id"),
)

reviews = sa.Table(
    "reviews", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("review_key", Text, nullable=False),  # platform review id, or order/line/product + time
    _c("review_id", Text),
    _c("order_id", Text),
    _c("line_id", Text),
    _c("product_id", Text),
    _c("product_title", Text),
    _c("sku_text", Text),
    _c("customer_id", sa.Integer, sa.ForeignKey("customers.id")),
    _c("buyer_nick_masked", Text),
    _c("rating_raw", Text),
    _c("rating_class", Text),  # positive | neutral | negative
    _c("rating_score", sa.Integer),
    _c("score_product", sa.Integer),
    _c("score_logistics", sa.Integer),
    _c("score_service", sa.Integer),
    _c("content", Text),
    _c("created_at", UTCDateTime(), nullable=False),
    _c("append_content", Text),
    _c("append_created_at", UTCDateTime()),
    _c("seller_reply", Text),
    _c("seller_reply_at", UTCDateTime()),
    _c("has_media", sa.Boolean),
    _c("media_urls", Text),
    _c("tags", Text),
    _c("ip", Text),
    _c("device_id", Text),
    _c("is_default_review", sa.Boolean, nullable=False, default=False),
    _c("version", sa.Integer, nullable=False, default=1),
    _c("first_seen_at", UTCDateTime(), nullable=False),
    *_source_cols(),
    sa.UniqueConstraint("shop_id", "review_key"),
)

review_versions = sa.Table(
    "review_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("review_pk", sa.Integer, sa.ForeignKey("reviews.id"), nullable=False),
    _c("version", sa.Integer, nullable=False),
    _c("content", Text),
    _c("append_content", Text),
    _c("append_created_at", UTCDateTime()),
    _c("seller_reply", Text),
    _c("rating_raw", Text),
    _c("row_hash", Text, nullable=False),
    _c("batch_id", sa.Integer, sa.ForeignKey("import_batches.id")),
    _c("observed_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("review_pk", "version"),
)

refunds = sa.Table(
    "refunds", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("refund_id", Text, nullable=False),
    _c("order_id", Text, nullable=False),
    _c("line_id", Text),
    _c("product_id", Text),
    _c("title", Text),
    _c("kind_raw", Text),
    _c("need_return", sa.Boolean),
    _c("status_raw", Text),
    _c("paid_fen", Fen),
    _c("apply_fen", Fen),
    _c("refund_fen", Fen),
    _c("refund_shipping_fen", Fen),
    _c("reason", Text),
    _c("reason_tag", Text),
    _c("buyer_note", Text),
    _c("applied_at", UTCDateTime()),
    _c("agreed_at", UTCDateTime()),
    _c("refunded_at", UTCDateTime()),
    _c("finished_at", UTCDateTime()),
    _c("closed_at", UTCDateTime()),
    _c("return_tracking_no", Text),
    _c("return_carrier", Text),
    _c("responsible_party", Text),
    _c("phase", Text),
    _c("operator", Text),
    _c("seller_note", Text),
    *_source_cols(),
    sa.UniqueConstraint("shop_id", "refund_id"),
)

chat_messages = sa.Table(
    "chat_messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("message_key", Text, nullable=False),  # hash of conversation, time, sender, seq, text
    _c("customer_id", sa.Integer, sa.ForeignKey("customers.id")),
    _c("conversation_masked", Text),
    _c("conversation_hash", Text),
    _c("message_seq", sa.Integer),
    _c("sent_at", UTCDateTime(), nullable=False),
    _c("sender_name", Text),
    _c("sender_role", Text),  # buyer | agent | bot | system | unknown
    _c("sender_role_raw", Text),
    _c("content", Text),
    _c("order_id", Text),
    *_source_cols(),
    sa.UniqueConstraint("shop_id", "message_key"),
)

shipments = sa.Table(
    "shipments", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("tracking_no", Text, nullable=False),
    _c("carrier", Text),
    _c("order_id", Text),
    _c("direction", Text),  # outbound | return | exchange
    _c("shipped_at", UTCDateTime()),
    _c("promised_at", UTCDateTime()),
    _c("status_raw", Text),
    _c("status", Text),  # collected | in_transit | out_for_delivery | signed | problem | returned | rejected | unknown
    _c("signed_at", UTCDateTime()),
    _c("last_event_at", UTCDateTime()),
    *_source_cols(),
    sa.UniqueConstraint("shop_id", "tracking_no"),
)

shipment_events = sa.Table(
    "shipment_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shipment_pk", sa.Integer, sa.ForeignKey("shipments.id"), nullable=False),
    _c("event_key", Text, nullable=False),
    _c("event_at", UTCDateTime(), nullable=False),
    _c("location", Text),
    _c("description", Text),
    _c("status_raw", Text),
    _c("batch_id", sa.Integer, sa.ForeignKey("import_batches.id")),
    sa.UniqueConstraint("shipment_pk", "event_key"),
)

policy_versions = sa.Table(
    "policy_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("version", sa.Integer, nullable=False, unique=True),
    _c("policy_json", Text, nullable=False),
    _c("sha256", Text, nullable=False),
    _c("note", Text),
    _c("created_by", Text),
    _c("created_at", UTCDateTime(), nullable=False),
)

cases = sa.Table(
    "cases", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("review_pk", sa.Integer, sa.ForeignKey("reviews.id"), unique=True),
    _c("state", Text, nullable=False),
    _c("primary_category", Text),
    _c("categories", Text),
    _c("severity", Text),
    _c("owner_role", Text),
    _c("assignee", Text),
    _c("sla_due_at", UTCDateTime()),
    _c("sla_started_at", UTCDateTime()),
    _c("sla_hours", sa.Float),
    _c("negative_score", sa.Float),
    _c("model_version", sa.Integer),
    _c("triage_json", Text),  # the decision and its reasons, as triage recorded them
    _c("sla_state_json", Text),  # the SLA clock (reviewops.core.sla.SlaState), maintained event by event
    _c("policy_version", sa.Integer),
    _c("notes", Text),
    _c("follow_up_count", sa.Integer, nullable=False, default=0),
    _c("diagnosis_json", Text),  # H1 step 1: confirmed problems + the operator's words
    _c("first_contact_at", UTCDateTime()),  # stops the SLA clock
    _c("resolved_at", UTCDateTime()),
    _c("satisfied", sa.Boolean),  # customer-confirmed satisfaction at resolution (O2 bonus basis)
    _c("reply_text", Text),  # the 3S reply as last saved (checked for conditional incentives)
    _c("last_contact_channel", Text),  # chat | phone | sms | platform_message …
    _c("last_contact_note", Text),  # each contact's note; the contact log is the audit trail of this column
    _c("created_at", UTCDateTime(), nullable=False),
    _c("updated_at", UTCDateTime(), nullable=False),
    _c("version", sa.Integer, nullable=False, default=1),
)

case_events = sa.Table(
    "case_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
    _c("version_from", sa.Integer, nullable=False),
    _c("version_to", sa.Integer, nullable=False),
    _c("action", Text, nullable=False),
    _c("actor", Text, nullable=False),
    _c("via", Text, nullable=False),  # cli | form | playbook | excel | import | watcher
    _c("at", UTCDateTime(), nullable=False),
    _c("before_json", Text),
    _c("after_json", Text),
    sa.UniqueConstraint("case_id", "version_from"),
)

text_models = sa.Table(
    "text_models", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("version", sa.Integer, nullable=False, unique=True),
    _c("created_at", UTCDateTime(), nullable=False),
    _c("created_by", Text, nullable=False),
    _c("note", Text),
    _c("n_train", sa.Integer, nullable=False),
    _c("metrics_json", Text, nullable=False),
    _c("sha256", Text, nullable=False),
    _c("blob", sa.LargeBinary, nullable=False),
)

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("name", Text, nullable=False, unique=True),  # login name
    _c("display_name", Text),
    _c("role", Text, nullable=False),  # a role code of the policy's roles table
    _c("shops", Text, nullable=False),  # "*" (all shops) or ";"-joined shop ids
    _c("password_hash", Text),  # scrypt$n$r$p$salt$hash; NULL = login only through a trusted proxy header
    _c("active", sa.Boolean, nullable=False, default=True),
    _c("created_at", UTCDateTime(), nullable=False),
    _c("created_by", Text, nullable=False),
    _c("updated_at", UTCDateTime(), nullable=False),
)

compensations = sa.Table(
    "compensations", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("customer_id", sa.Integer, sa.ForeignKey("customers.id")),
    _c("order_id", Text),
    _c("kind", Text, nullable=False),  # refund | resend | coupon | gift | care_coupon | repurchase_coupon | delay_coupon
    _c("amount_fen", Fen, nullable=False),
    _c("state", Text, nullable=False),  # approved | pending | rejected | delivered | cancelled
    _c("stackable", sa.Boolean, nullable=False, default=False),
    _c("expires_at", UTCDateTime()),
    _c("note", Text),
    _c("requested_by", Text, nullable=False),
    _c("requested_role", Text, nullable=False),
    _c("requested_at", UTCDateTime(), nullable=False),
    _c("decided_by", Text),
    _c("decided_role", Text),
    _c("decided_at", UTCDateTime()),
    _c("decision_reason", Text),
    _c("delivered_by", Text),
    _c("delivered_at", UTCDateTime()),
    _c("policy_version", sa.Integer),
    _c("version", sa.Integer, nullable=False, default=1),
)

followups = sa.Table(
    "followups", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("step", Text, nullable=False),  # a step code of the policy's followups table, or coupon_expiry
    _c("template_kind", Text, nullable=False),
    _c("due_at", UTCDateTime(), nullable=False),
    _c("state", Text, nullable=False),  # open | done | skipped
    _c("created_at", UTCDateTime(), nullable=False),
    _c("done_by", Text),
    _c("done_at", UTCDateTime()),
    _c("reason", Text),
    _c("message", Text),  # the (masked) message as sent
    sa.UniqueConstraint("case_id", "step"),
)

pii_vault = sa.Table(
    "pii_vault", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("order_id", Text, nullable=False),
    _c("field", Text, nullable=False),  # receiver_name | receiver_phone | receiver_address
    _c("key_id", Text, nullable=False),  # which vault key encrypted it (first 8 hex of its hash)
    _c("ciphertext", sa.LargeBinary, nullable=False),  # AES-256-GCM: 12-byte nonce + ciphertext + tag
    _c("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("shop_id", "order_id", "field"),
)

access_log = sa.Table(
    "access_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _c("at", UTCDateTime(), nullable=False),
    _c("actor", Text, nullable=False),
    _c("role", Text),
    _c("action", Text, nullable=False),  # unmask | denied | login | login_failed | user_add | user_change
    _c("outcome", Text, nullable=False),  # ok | denied | error
    _c("case_id", sa.Integer),
    _c("shop_id", sa.Integer),
    _c("target", Text),
    _c("purpose", Text),
    _c("detail_json", Text),
)

delay_remedies = sa.Table(
    "delay_remedies", metadata,  # P4: the delay coupon, issued at most once per order
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("order_id", Text, nullable=False),
    _c("customer_id", sa.Integer, sa.ForeignKey("customers.id")),
    _c("reason", Text, nullable=False),  # late_dispatch | stalled_delivery
    _c("promised_at", UTCDateTime()),
    _c("hours_late", sa.Float),
    _c("amount_fen", Fen, nullable=False),
    _c("message", Text),  # the (masked) message to send with the coupon
    _c("issued_by", Text, nullable=False),
    _c("issued_at", UTCDateTime(), nullable=False),
    _c("policy_version", sa.Integer),
    sa.UniqueConstraint("shop_id", "order_id"),
)

sla_notices = sa.Table(
    "sla_notices", metadata,  # SLA warnings and breach escalations, each sent once per case and kind
    sa.Column("id", sa.Integer, primary_key=True),
    _c("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("kind", Text, nullable=False),  # warn_50 | warn_80 … (the fraction in percent) | breach
    _c("due_at", UTCDateTime()),  # the deadline the notice was about
    _c("role", Text),  # the role notified (the escalation target at breach)
    _c("sent_at", UTCDateTime(), nullable=False),
    _c("sent_by", Text, nullable=False),  # playbook:daily_sweep | watcher …
    sa.UniqueConstraint("case_id", "kind"),
)

surveys = sa.Table(
    "surveys", metadata,  # CSAT and NPS answers (V4, O1), imported from the shop's survey tool
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("survey_key", Text, nullable=False),  # the survey tool's answer id
    _c("kind", Text, nullable=False),  # csat (1–5) | nps (0–10)
    _c("score", sa.Integer, nullable=False),
    _c("order_id", Text),
    _c("case_id", sa.Integer, sa.ForeignKey("cases.id")),
    _c("customer_id", sa.Integer, sa.ForeignKey("customers.id")),
    _c("answered_at", UTCDateTime(), nullable=False),
    _c("source", Text),
    sa.UniqueConstraint("shop_id", "survey_key"),
)

training_records = sa.Table(
    "training_records", metadata,  # O1: per-agent training results (call-recording checks, quizzes …)
    sa.Column("id", sa.Integer, primary_key=True),
    _c("agent", Text, nullable=False),  # a user's login name
    _c("module", Text, nullable=False),  # emotion | negotiation | data_analysis | knowledge
    _c("at", UTCDateTime(), nullable=False),
    _c("passed", sa.Boolean),
    _c("score", sa.Float),
    _c("note", Text),
    _c("recorded_by", Text, nullable=False),
    _c("recorded_at", UTCDateTime(), nullable=False),
)

point_redemptions = sa.Table(
    "point_redemptions", metadata,  # O2: service points an agent spent on training
    sa.Column("id", sa.Integer, primary_key=True),
    _c("agent", Text, nullable=False),
    _c("points", sa.Integer, nullable=False),
    _c("item", Text, nullable=False),
    _c("at", UTCDateTime(), nullable=False),
    _c("recorded_by", Text, nullable=False),
)

alert_events = sa.Table(
    "alert_events", metadata,  # E1/E2: one row per thing worth an alert, at most once (unique key)
    sa.Column("id", sa.Integer, primary_key=True),
    _c("key", Text, nullable=False),  # idempotency key: new_case:<case> | warn_50:<case> | breach:<case> …
    _c("kind", Text, nullable=False),  # new_case | warn_50 | warn_80 … | breach | commit_warn | commit_breach
    _c("case_id", sa.Integer, sa.ForeignKey("cases.id")),  # None = an alert about no case (commit_warn/commit_breach)
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("source", Text, nullable=False),  # folder | push | schedule | import | sweep
    _c("arrived_at", UTCDateTime(), nullable=False),  # file landed / event received / threshold crossed
    _c("detected_at", UTCDateTime(), nullable=False),  # the case was opened (or the notice recorded)
    _c("created_at", UTCDateTime(), nullable=False),
    _c("subject", Text),  # a case-less alert: what it is about (commitment code, masked order id), no personal data
    sa.UniqueConstraint("key"),
)

alert_deliveries = sa.Table(
    "alert_deliveries", metadata,  # one row per alert and channel: the delivery ledger (retries, dead letters)
    sa.Column("id", sa.Integer, primary_key=True),
    _c("event_id", sa.Integer, sa.ForeignKey("alert_events.id"), nullable=False),
    _c("channel", Text, nullable=False),  # the policy's 渠道代码
    _c("channel_type", Text, nullable=False),  # feishu | dingtalk | wecom | email | sms
    _c("state", Text, nullable=False),  # pending | sending | delivered | dead
    _c("attempts", sa.Integer, nullable=False, default=0),
    _c("next_attempt_at", UTCDateTime(), nullable=False),
    _c("lease_until", UTCDateTime()),  # a sender holds the row until then; expired = taken back
    _c("last_error", Text),  # no personal data: channel, status code, the service's error code
    _c("delivered_at", UTCDateTime()),
    _c("created_at", UTCDateTime(), nullable=False),
    _c("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("event_id", "channel"),
)

watch_files = sa.Table(
    "watch_files", metadata,  # export files the watcher took in (drop folder and scheduled sources)
    sa.Column("id", sa.Integer, primary_key=True),
    _c("path", Text, nullable=False),
    _c("source", Text, nullable=False),  # folder | schedule
    _c("sha256", Text, nullable=False),
    _c("size", sa.BigInteger, nullable=False),
    _c("state", Text, nullable=False),  # done | rejected | failed
    _c("first_seen_at", UTCDateTime(), nullable=False),
    _c("imported_at", UTCDateTime(), nullable=False),
    _c("summary", Text),  # counts only, no personal data
    sa.UniqueConstraint("path"),
)

push_events = sa.Table(
    "push_events", metadata,  # HTTP-pushed review events already taken (replay protection)
    sa.Column("id", sa.Integer, primary_key=True),
    _c("event_id", Text, nullable=False),
    _c("received_at", UTCDateTime(), nullable=False),
    _c("reviews", sa.Integer, nullable=False),
    _c("summary", Text),
    sa.UniqueConstraint("event_id"),
)

watch_heartbeats = sa.Table(
    "watch_heartbeats", metadata,  # the running watcher's health, for `reviewops watch --status`
    sa.Column("id", sa.Integer, primary_key=True),
    _c("name", Text, nullable=False),
    _c("host", Text),
    _c("pid", sa.Integer),
    _c("started_at", UTCDateTime(), nullable=False),
    _c("beat_at", UTCDateTime(), nullable=False),
    _c("stats_json", Text),
    sa.UniqueConstraint("name"),
)

evidence_files = sa.Table(
    "evidence_files", metadata,  # E4/P5: one row per distinct evidence file, content-addressed (issue 17 §2)
    sa.Column("sha256", Text, primary_key=True),  # hex SHA-256 of the bytes = the file's name in the evidence folder
    _c("size", sa.BigInteger, nullable=False),
    _c("mime", Text, nullable=False),  # sniffed from the bytes, never taken from the name or the browser
    _c("created_at", UTCDateTime(), nullable=False),
    _c("created_by", Text, nullable=False),
)

evidence_links = sa.Table(
    "evidence_links", metadata,  # what a file is evidence of: a case, an order or a shop
    sa.Column("id", sa.Integer, primary_key=True),
    _c("sha256", Text, sa.ForeignKey("evidence_files.sha256"), nullable=False),
    _c("case_id", sa.Integer, sa.ForeignKey("cases.id")),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id")),
    _c("order_id", Text),
    _c("kind", Text, nullable=False),  # chat_export | screenshot | photo | video | recording | logistics | qc_report | chat_message | other
    _c("original_name", Text),  # as the uploader named it: text only, never a path that is opened
    _c("note", Text),
    _c("message_ids", Text),  # JSON list of chat_messages ids (kind chat_message)
    _c("added_by", Text, nullable=False),
    _c("added_at", UTCDateTime(), nullable=False),
)

evidence_custody = sa.Table(
    "evidence_custody", metadata,  # append-only chain of custody (triggers refuse UPDATE/DELETE/TRUNCATE)
    sa.Column("id", sa.Integer, primary_key=True),
    _c("sha256", Text, sa.ForeignKey("evidence_files.sha256"), nullable=False),
    _c("link_id", sa.Integer, sa.ForeignKey("evidence_links.id")),
    _c("action", Text, nullable=False),  # added | viewed | exported | verified
    _c("actor", Text, nullable=False),
    _c("at", UTCDateTime(), nullable=False),
    _c("detail", Text),  # JSON: outcome of a verify, purpose of an export …
)

case_signals = sa.Table(
    "case_signals", metadata,  # H2: what a malicious-review verdict rests on, one row per signal (issue 17 §1)
    sa.Column("id", sa.Integer, primary_key=True),
    _c("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
    _c("signal_key", Text, nullable=False),  # idempotency: kind + what it rests on (chat:<msg id>, ip:<hash> …)
    _c("kind", Text, nullable=False),  # extortion_chat | extortion_review | serial_buyer | burst_ip | burst_device | burst_receiver | burst_text
    _c("score", sa.Float, nullable=False),  # 0–1
    _c("reasons", Text, nullable=False),  # Chinese, "；"-joined
    _c("pointers", Text, nullable=False),  # JSON: {"reviews": [reviews.id], "orders": [order id], "messages": [chat_messages.id] …}
    _c("detected_at", UTCDateTime(), nullable=False),
    _c("updated_at", UTCDateTime(), nullable=False),  # last refresh while open (a burst that grew)
    _c("status", Text, nullable=False, default="open"),  # open | confirmed | rejected
    _c("decided_by", Text),
    _c("decided_at", UTCDateTime()),
    _c("decision_note", Text),
    sa.UniqueConstraint("case_id", "signal_key"),
)

appeals = sa.Table(
    "appeals", metadata,  # H3: platform appeals of malicious reviews (issue 17 §3), written by handling.appeals only
    sa.Column("id", sa.Integer, primary_key=True),
    _c("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("platform", Text, nullable=False),
    _c("ground", Text, nullable=False),  # extortion | rival | abuse (the rule row of appeal_rules.tsv)
    _c("appeal_type", Text, nullable=False),  # the type chosen in the platform's form
    _c("state", Text, nullable=False),  # drafted | submitted | accepted | rejected
    _c("packet_sha256", Text, nullable=False),  # SHA-256 of the packet ZIP as last built
    _c("packet_name", Text, nullable=False),
    _c("review_at", UTCDateTime()),  # the review time the deadline counts from
    _c("deadline_at", UTCDateTime()),
    _c("created_by", Text, nullable=False),
    _c("created_at", UTCDateTime(), nullable=False),
    _c("submitted_by", Text),
    _c("submitted_at", UTCDateTime()),
    _c("platform_ref", Text),  # the platform's reference number of the appeal
    _c("decided_by", Text),
    _c("decided_at", UTCDateTime()),
    _c("platform_reason", Text),  # the platform's reason, as legal copied it
    _c("updated_at", UTCDateTime(), nullable=False),
    _c("version", sa.Integer, nullable=False, default=1),
)

ambassadors = sa.Table(
    "ambassadors", metadata,  # V3 推荐大使 (issue 20): one row per invited customer, written by handling.ambassadors only
    sa.Column("id", sa.Integer, primary_key=True),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
    _c("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),  # the resolved case that made them a candidate
    _c("state", Text, nullable=False),  # proposed | invited | active | declined | opted_out
    _c("basis", Text, nullable=False),  # why a candidate (Chinese): satisfied / CSAT / NPS
    _c("invitation_text", Text, nullable=False),  # as approved (checked by the compliance guard)
    _c("referral_code", Text),  # given after consent; unique per shop
    _c("coupon_code", Text),  # a code the shop created on the platform and recorded here (optional)
    _c("proposed_by", Text, nullable=False),
    _c("proposed_at", UTCDateTime(), nullable=False),
    _c("approved_by", Text),
    _c("approved_at", UTCDateTime()),
    _c("consent_at", UTCDateTime()),
    _c("consent_channel", Text),
    _c("consent_recorded_by", Text),
    _c("ended_at", UTCDateTime()),  # declined or opted out
    _c("ended_channel", Text),
    _c("ended_by", Text),
    _c("updated_at", UTCDateTime(), nullable=False),
    _c("version", sa.Integer, nullable=False, default=1),
    sa.UniqueConstraint("shop_id", "customer_id"),
    sa.UniqueConstraint("shop_id", "referral_code"),
)

ambassador_messages = sa.Table(
    "ambassador_messages", metadata,  # the programme's outbox: invitation, code, reward notices
    sa.Column("id", sa.Integer, primary_key=True),
    _c("ambassador_id", sa.Integer, sa.ForeignKey("ambassadors.id"), nullable=False),
    _c("kind", Text, nullable=False),  # invitation | code | reward_notice
    _c("text", Text, nullable=False),
    _c("state", Text, nullable=False),  # pending | sent | cancelled
    _c("created_by", Text, nullable=False),
    _c("created_at", UTCDateTime(), nullable=False),
    _c("sent_by", Text),
    _c("sent_at", UTCDateTime()),
    _c("channel", Text),
    _c("cancelled_at", UTCDateTime()),
    _c("reason", Text),
)

ambassador_referrals = sa.Table(
    "ambassador_referrals", metadata,  # referred orders recognised in the shop's imported orders, one row per order
    sa.Column("id", sa.Integer, primary_key=True),
    _c("ambassador_id", sa.Integer, sa.ForeignKey("ambassadors.id"), nullable=False),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("order_id", Text, nullable=False),
    _c("matched_by", Text, nullable=False),  # referral_code | coupon_code
    _c("matched_in", Text, nullable=False),  # buyer_message | seller_memo
    _c("status", Text, nullable=False),  # counted | excluded
    _c("excluded_reason", Text),
    _c("order_at", UTCDateTime()),
    _c("paid_fen", Fen),
    _c("revenue_fen", Fen),  # paid less refunds
    _c("recognised_at", UTCDateTime(), nullable=False),
    _c("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("shop_id", "order_id"),
)

ambassador_rewards = sa.Table(
    "ambassador_rewards", metadata,  # the programme's rewards ledger, in fen; each reward_key issued once
    sa.Column("id", sa.Integer, primary_key=True),
    _c("ambassador_id", sa.Integer, sa.ForeignKey("ambassadors.id"), nullable=False),
    _c("shop_id", sa.Integer, sa.ForeignKey("shops.id"), nullable=False),
    _c("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
    _c("kind", Text, nullable=False),  # referral_coupon | threshold_gift
    _c("reward_key", Text, nullable=False),  # coupon:<order id> | gift:<threshold>
    _c("referral_id", sa.Integer, sa.ForeignKey("ambassador_referrals.id")),
    _c("amount_fen", Fen, nullable=False),
    _c("state", Text, nullable=False),  # approved | pending | rejected | delivered | cancelled
    _c("needed_role", Text),
    _c("requested_by", Text, nullable=False),
    _c("requested_role", Text, nullable=False),
    _c("requested_at", UTCDateTime(), nullable=False),
    _c("decided_by", Text),
    _c("decided_role", Text),
    _c("decided_at", UTCDateTime()),
    _c("decision_reason", Text),
    _c("delivered_by", Text),
    _c("delivered_at", UTCDateTime()),
    _c("note", Text),
    sa.UniqueConstraint("ambassador_id", "reward_key"),
)

CASE_MUTABLE = (
    "state", "primary_category", "categories", "severity", "owner_role", "assignee",
    "sla_due_at", "sla_started_at", "sla_hours", "negative_score", "model_version", "triage_json", "sla_state_json",
    "policy_version", "notes", "follow_up_count", "diagnosis_json", "first_contact_at", "resolved_at", "satisfied",
    "reply_text", "last_contact_channel", "last_contact_note",
)

sa.Index("ix_reviews_created", reviews.c.shop_id, reviews.c.created_at)
sa.Index("ix_reviews_created_at", reviews.c.created_at)  # reports over all shops (0006)
sa.Index("ix_reviews_order", reviews.c.shop_id, reviews.c.order_id)
sa.Index("ix_refunds_order", refunds.c.shop_id, refunds.c.order_id)
sa.Index("ix_chat_conv", chat_messages.c.shop_id, chat_messages.c.conversation_hash, chat_messages.c.sent_at)
sa.Index("ix_shipments_order", shipments.c.shop_id, shipments.c.order_id)
sa.Index("ix_listings_listing_id", listings.c.shop_id, listings.c.listing_id)
sa.Index("ix_cases_state", cases.c.shop_id, cases.c.state, cases.c.sla_due_at)
sa.Index("ix_orders_customer", orders.c.customer_id)
sa.Index("ix_compensations_case", compensations.c.case_id)
sa.Index("ix_compensations_customer", compensations.c.customer_id, compensations.c.requested_at)
sa.Index("ix_compensations_state", compensations.c.shop_id, compensations.c.state)
sa.Index("ix_followups_due", followups.c.state, followups.c.due_at)
sa.Index("ix_access_log_at", access_log.c.at)
sa.Index("ix_sla_notices_shop", sla_notices.c.shop_id, sla_notices.c.sent_at)
sa.Index("ix_surveys_case", surveys.c.case_id)
sa.Index("ix_training_agent", training_records.c.agent, training_records.c.at)
sa.Index("ix_alert_events_created", alert_events.c.created_at)
sa.Index("ix_alert_events_case", alert_events.c.case_id)
sa.Index("ix_alert_deliveries_due", alert_deliveries.c.state, alert_deliveries.c.next_attempt_at)
sa.Index("ix_evidence_links_case", evidence_links.c.case_id)
sa.Index("ix_evidence_links_sha256", evidence_links.c.sha256)
sa.Index("ix_evidence_links_order", evidence_links.c.shop_id, evidence_links.c.order_id)
sa.Index("ix_evidence_custody_sha256", evidence_custody.c.sha256, evidence_custody.c.at)
sa.Index("ix_case_signals_status", case_signals.c.status, case_signals.c.kind)
sa.Index("ix_appeals_case", appeals.c.case_id)
sa.Index("ix_appeals_state", appeals.c.state, appeals.c.deadline_at)
sa.Index("ix_ambassador_messages_amb", ambassador_messages.c.ambassador_id, ambassador_messages.c.state)
sa.Index("ix_ambassador_referrals_amb", ambassador_referrals.c.ambassador_id)
sa.Index("ix_ambassador_rewards_shop", ambassador_rewards.c.shop_id, ambassador_rewards.c.requested_at)


# ------------------------------------------------------------------ URL and paths
def default_db_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("reviewops", appauthor=False)) / "reviewops.db"


def resolve_url(db: str | os.PathLike[str] | None = None) -> str:
    """``--db`` value → SQLAlchemy URL. A plain path means an SQLite file."""
    raw = os.fspath(db) if db is not None else os.environ.get(ENV_DB) or None
    if raw is not None:
        raw = _unmask_db(raw)
    if raw is None:
        path = default_db_path()
        return f"sqlite:///{path}"
    if not raw.strip():
        raise ConfigError(
            "数据库地址为空；请给文件路径或 postgresql+psycopg://… / the database URL is empty; "
            "give a file path or postgresql+psycopg://…"
        )
    if raw == ":memory:" or (raw.startswith("sqlite:///") and (
            raw[len("sqlite:///"):] in ("", ":memory:") or "mode=memory" in raw)):
        raise ConfigError(
            "不支持 :memory: 数据库（每个连接各自一份）；请给一个文件路径 / ':memory:' is not supported "
            "(each connection would get its own database); give a file path"
        )
    if "://" in raw:
        if raw.startswith("postgresql://") or raw.startswith("postgres://"):
            raw = "postgresql+psycopg://" + raw.split("://", 1)[1]
        if not (raw.startswith("sqlite:///") or raw.startswith("postgresql+psycopg://")):
            raise ConfigError(
                f"不支持的数据库地址 unsupported database URL {mask_url(raw)!r}; use a file path, "
                "sqlite:///path/to.db or postgresql+psycopg://user:pass@host/db"
            )
        remember_url(raw)  # its password is masked wherever it turns up later (issue 15 §2)
        return raw
    return f"sqlite:///{Path(raw).expanduser().resolve()}"


def _unmask_db(raw: str) -> str:
    """A URL whose password was masked (``user:***@`` copied from a report or a saved notebook) stands for
    ``$REVIEWOPS_DB`` when that is the same database: ``reviewops run`` hands the real URL to the kernel
    through the environment and writes only the masked one into the notebook (issue 15 §2)."""
    if not has_masked_secret(raw):
        return raw
    env = os.environ.get(ENV_DB) or ""

    def same(u: str) -> str:
        u = mask_url(u.strip())
        for prefix in ("postgresql://", "postgres://"):
            if u.startswith(prefix):
                u = "postgresql+psycopg://" + u[len(prefix):]
        return u
    if env and not has_masked_secret(env) and same(env) == same(raw):
        return env
    raise ConfigError(
        f"数据库地址中的密码已隐藏（***），不能用来连接：{raw}；请给出完整地址，或把环境变量 {ENV_DB} 设为同一数据库的完整地址 / "
        f"the password in this database URL is masked (***), so it cannot connect: {raw}; give the full URL, or set "
        f"{ENV_DB} to the full URL of the same database"
    )


NETWORK_FS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "sshfs", "9p", "afs", "ceph", "glusterfs",
    "fuse.glusterfs", "lustre", "gpfs", "davfs", "fuse.davfs2", "ncpfs", "coda", "fuse.rclone",
    "fuse.s3fs", "fuse.smbnetfs", "beegfs", "ocfs2", "gfs2", "fuse.cephfs",
})


def filesystem_type(path: Path, mounts_file: str = "/proc/self/mounts") -> str | None:
    """The filesystem type holding ``path`` (Linux ``/proc`` mounts; Windows: 'remote' for network drives)."""
    if os.name == "nt":  # pragma: no cover - exercised on Windows only
        p = str(path)
        if p.startswith("\\\\"):
            return "remote"
        import ctypes

        drive = os.path.splitdrive(os.path.abspath(p))[0] + "\\"
        return "remote" if ctypes.windll.kernel32.GetDriveTypeW(drive) == 4 else "local"
    try:
        with open(mounts_file, encoding="utf-8", errors="replace") as fh:
            entries = [line.split() for line in fh if line.strip()]
    except OSError:
        return None
    target = os.path.realpath(path)
    best, best_type = "", None
    for parts in entries:
        if len(parts) < 3:
            continue
        mnt = parts[1].replace("\\040", " ")
        if (target == mnt or target.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
            best, best_type = mnt, parts[2]
    return best_type


def check_not_network(path: Path, *, multi_user: bool, mounts_file: str = "/proc/self/mounts") -> None:
    """Refuse an SQLite file on a network filesystem in multi-user mode (R-08)."""
    probe = path if path.exists() else path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    fstype = filesystem_type(probe, mounts_file)
    if fstype is None or not (fstype in NETWORK_FS or fstype == "remote"):
        return
    msg = (
        f"SQLite 数据库 {path} 位于网络文件系统（{fstype}）上：多人同时使用会损坏数据（WAL 不支持网络共享）。"
        f"请改用 PostgreSQL（--db postgresql+psycopg://…）或把文件放到本机磁盘。\n"
        f"The SQLite database {path} is on a network filesystem ({fstype}); shared use corrupts it "
        f"(WAL does not work over network shares). Use PostgreSQL (--db postgresql+psycopg://…) "
        f"or keep the file on a local disk."
    )
    if multi_user:
        raise NetworkFilesystemError(msg)
    log.warning("%s", msg)


# -------------------------------------------------------------------- the Store
def _unwrap_kit_errors(engine: Engine) -> None:
    """Let a ReviewOpsError raised while binding a value (e.g. a naive datetime) reach the caller as itself."""

    @event.listens_for(engine, "handle_error")
    def _unwrap(ctx: Any) -> Any:
        from .errors import ReviewOpsError

        if isinstance(ctx.original_exception, ReviewOpsError):
            return ctx.original_exception
        return None


def _sqlite_listeners(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA cache_size=-131072")  # 128 MiB page cache: large imports stay index-bound, not I/O-bound
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("reviewops_read"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


class Store:
    """An open ReviewOps database. Use :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, engine: Engine, url: str):
        self.engine = engine
        self.url = url
        self._pii_key: bytes | None = None

    # -- opening
    @classmethod
    def open(cls, db: str | os.PathLike[str] | None = None, *, multi_user: bool | None = None,
             migrate: bool | str = True) -> "Store":
        """Open (and create/migrate) the database named by ``db``, ``REVIEWOPS_DB`` or the default file.

        ``migrate="if-needed"`` runs Alembic only when :meth:`is_current` says the schema is behind
        (what a workbench kernel does: the server migrated the store when it started).
        """
        url = resolve_url(db)
        if multi_user is None:
            multi_user = os.environ.get(ENV_MULTI_USER, "").lower() in ("1", "true", "yes", "on")
        if url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///"):])
            check_not_network(path, multi_user=multi_user)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(
                    f"无法创建数据库目录 cannot create the database folder {path.parent}: {e.strerror}. "
                    f"Choose another place with --db PATH."
                ) from None
            engine = sa.create_engine(url, poolclass=sa.pool.QueuePool, pool_size=5, max_overflow=10)
            _sqlite_listeners(engine)
        else:
            try:
                engine = sa.create_engine(url, pool_pre_ping=True)
            except ModuleNotFoundError:
                raise StoreError(
                    "PostgreSQL 驱动未安装 / the PostgreSQL driver is missing: pip install 'reviewops[postgres]'"
                ) from None
            except (sa.exc.ArgumentError, ValueError) as e:  # e.g. a port that is not a number
                raise StoreError(
                    f"数据库地址无效 invalid database URL {mask_url(url)}: {redact_secrets(e)}. "
                    f"应形如 postgresql+psycopg://user:pass@host:5432/db / expected postgresql+psycopg://user:pass@host:5432/db"
                ) from None
        _unwrap_kit_errors(engine)
        store = cls(engine, url)
        try:
            if migrate == "if-needed":
                if not store.is_current():
                    store.migrate()
            elif migrate:
                store.migrate()
        except sa.exc.OperationalError as e:
            engine.dispose()
            raise StoreError(
                f"无法打开数据库 cannot open the database {mask_url(url)}: {redact_secrets(e.orig)}. "
                f"Check the path or URL, that the server runs and that you may write there."
            ) from None
        return store

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Apply pending Alembic migrations (recorded in ``alembic_version``)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7305119)")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def is_current(self) -> bool:
        """True when the database is at the newest migration shipped with this version (a cheap check
        without loading Alembic: the revision ids are the ``NNNN_`` prefixes of the migration files)."""
        versions = Path(__file__).parent / "migrations" / "versions"
        head = max(p.name.split("_", 1)[0] for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))
        try:
            with self.engine.connect() as conn:
                current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
        except sa.exc.DBAPIError:
            return False
        return current == [head]

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- transactions
    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite); commits on success, rolls back on error."""
        with self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (deferred ``BEGIN`` on SQLite)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(reviewops_read=True)
            with conn.begin():
                yield conn

    # -- settings and keys
    def get_setting(self, key: str, conn: Connection | None = None) -> str | None:
        q = sa.select(settings.c.value).where(settings.c.key == key)
        if conn is not None:
            return conn.execute(q).scalar_one_or_none()
        with self.read() as c:
            return c.execute(q).scalar_one_or_none()

    @property
    def pii_key(self) -> bytes:
        """Key of the keyed hashes that match buyers without storing their data.

        ``REVIEWOPS_PII_KEY`` (hex) overrides; otherwise a random key is made once
        and kept in the store's settings.
        """
        if self._pii_key is None:
            env = os.environ.get(ENV_PII_KEY)
            if env:
                try:
                    self._pii_key = bytes.fromhex(env)[:64]
                except ValueError:
                    raise ConfigError(f"{ENV_PII_KEY} 必须是十六进制 must be hex; got {len(env)} characters") from None
            else:
                with self.write() as conn:
                    val = self.get_setting("pii_hash_key", conn)
                    if val is None:
                        val = secrets.token_hex(32)
                        conn.execute(settings.insert().values(key="pii_hash_key", value=val))
                self._pii_key = bytes.fromhex(val)
        return self._pii_key

    # -- shops
    def shop_id(self, conn: Connection, platform: str, name: str) -> int:
        """Id of the shop (platform, name), created when new."""
        row = conn.execute(
            sa.select(shops.c.id).where(shops.c.platform == platform, shops.c.name == name)
        ).scalar_one_or_none()
        if row is not None:
            return int(row)
        return int(conn.execute(
            shops.insert().values(platform=platform, name=name, created_at=utcnow()).returning(shops.c.id)
        ).scalar_one())

    def counts(self) -> dict[str, int]:
        """Row count of every data table."""
        names = ["shops", "customers", "orders", "order_lines", "reviews", "review_versions", "refunds",
                 "chat_messages", "shipments", "shipment_events", "cases", "case_events", "import_batches",
                 "compensations", "followups", "users", "pii_vault", "access_log", "listings"]
        with self.read() as conn:
            return {n: int(conn.execute(sa.select(sa.func.count()).select_from(metadata.tables[n])).scalar_one())
                    for n in names}


def _safe_url(url: str) -> str:
    """The URL for a message: :func:`reviewops.core.redact.mask_url` (kept for existing callers)."""
    return mask_url(url)


# --------------------------------------------------------------- cases and audit
def _jsonable(d: dict[str, Any]) -> str:
    def conv(v: Any) -> Any:
        if isinstance(v, dt.datetime):
            return v.astimezone(dt.timezone.utc).isoformat()
        return v
    return json.dumps({k: conv(v) for k, v in d.items()}, ensure_ascii=False, sort_keys=True)


def create_case(conn: Connection, *, shop_id: int, review_pk: int | None, state: str, actor: str, via: str,
                at: dt.datetime | None = None, **fields: Any) -> int:
    """Insert a case at version 1 and its first audit event, in the caller's transaction.

    ``at`` (aware) is the time recorded for the event; default now.
    """
    bad = set(fields) - set(CASE_MUTABLE)
    if bad:
        raise ConfigError(f"未知的案件字段 unknown case field(s): {sorted(bad)}; allowed: {CASE_MUTABLE}")
    now = at or utcnow()
    values = {"state": state, **fields}
    case_id = int(conn.execute(_CASE_INSERT, {
        "shop_id": shop_id, "review_pk": review_pk, "created_at": now, "updated_at": now, "version": 1, **values,
    }).scalar_one())
    conn.execute(_CASE_EVENT_INSERT, {
        "case_id": case_id, "version_from": 0, "version_to": 1, "action": "create", "actor": actor, "via": via,
        "at": now, "before_json": None, "after_json": _jsonable(values),
    })
    return case_id


def stale_case(case_id: int, current: int, expected: int) -> ConflictError:
    """The error for an optimistic-lock conflict on a case (someone else saved first)."""
    return ConflictError(
        f"案件 {case_id} 已被他人修改（当前版本 {current}，你看到的是 {expected}）；请刷新后重试。\n"
        f"Case {case_id} was changed by someone else (now version {current}, you had {expected}); "
        "reload and try again."
    )


def update_case(conn: Connection, case_id: int, expected_version: int, changes: dict[str, Any], *,
                actor: str, via: str, action: str = "update", at: dt.datetime | None = None,
                current: Any = None) -> int:
    """Apply ``changes`` if the case is still at ``expected_version``; returns the new version.

    Raises :class:`ConflictError` when someone else changed the case first (no
    overwrite, no silent retry) and :class:`NotFound` for an unknown case.
    Writes one ``case_events`` row with the before/after values of the changed fields.
    ``current``: the whole case row (every column of ``cases``) as the caller has just read it
    with ``FOR UPDATE`` in this transaction and not changed since; then it is not read again
    (same checks, same audit row, one statement fewer).
    """
    bad = set(changes) - set(CASE_MUTABLE)
    if bad:
        raise ConfigError(f"未知的案件字段 unknown case field(s): {sorted(bad)}; allowed: {CASE_MUTABLE}")
    if current is None:
        current = conn.execute(_CASE_FOR_UPDATE, {"_case_id": case_id}).mappings().first()
    if current is None:
        raise NotFound(f"案件不存在 case {case_id} does not exist; check the case number")
    if current["version"] != expected_version:
        raise stale_case(case_id, current["version"], expected_version)
    before = {k: current[k] for k in changes}
    now = at or utcnow()
    res = conn.execute(_case_update_stmt(tuple(changes)), {
        **{"_v_" + k: v for k, v in changes.items()}, "_case_id": case_id, "_expected": expected_version,
        "_version": expected_version + 1, "_now": now})
    if res.rowcount != 1:
        raise ConflictError(
            f"案件 {case_id} 已被他人修改；请刷新后重试。 / Case {case_id} was changed by someone else; reload and retry."
        )
    conn.execute(_CASE_EVENT_INSERT, {
        "case_id": case_id, "version_from": expected_version, "version_to": expected_version + 1, "action": action,
        "actor": actor, "via": via, "at": now, "before_json": _jsonable(before), "after_json": _jsonable(changes),
    })
    return expected_version + 1


# statements of update_case, built once (building a Core statement per call was a third of its time)
_CASE_FOR_UPDATE = sa.select(cases).where(cases.c.id == sa.bindparam("_case_id")).with_for_update()
_CASE_EVENT_INSERT = case_events.insert()
_CASE_INSERT = cases.insert().returning(cases.c.id)
_CASE_UPDATES: dict[tuple[str, ...], Any] = {}


def _case_update_stmt(fields: tuple[str, ...]) -> Any:
    """``UPDATE cases SET <fields>, version, updated_at WHERE id AND version`` for these fields (cached)."""
    stmt = _CASE_UPDATES.get(fields)
    if stmt is None:
        stmt = (cases.update()
                .where(cases.c.id == sa.bindparam("_case_id"), cases.c.version == sa.bindparam("_expected"))
                .values({**{cases.c[k]: sa.bindparam("_v_" + k, type_=cases.c[k].type) for k in fields},
                         cases.c.version: sa.bindparam("_version", type_=cases.c.version.type),
                         cases.c.updated_at: sa.bindparam("_now", type_=cases.c.updated_at.type)}))
        _CASE_UPDATES[fields] = stmt
    return stmt
