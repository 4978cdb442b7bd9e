"""Tests of ``reviewops.core.store``: the database layer (reliability.md R-03, R-07, R-08, §6).

Most tests run on both backends through the ``store`` fixture (``[sqlite]`` and
``[postgres]``); SQLite-only behaviour (PRAGMAs, BEGIN IMMEDIATE, network
filesystems) uses ``sqlite_store``.  All data is inline.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import event

import reviewops.core.store as store_mod
from reviewops.core.errors import (
    ConfigError,
    ConflictError,
    NetworkFilesystemError,
    NotFound,
    ReviewOpsError,
    StoreError,
)
from reviewops.core.store import (
    Store,
    case_events,
    cases,
    check_not_network,
    create_case,
    customers,
    filesystem_type,
    metadata,
    resolve_url,
    settings,
    shops,
    update_case,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.timezone.utc


# ------------------------------------------------------------------ helpers
def _sqlite_path(store: Store) -> Path:
    assert store.url.startswith("sqlite:///"), store.url
    return Path(store.url[len("sqlite:///"):])


def _new_case(store: Store, **fields: Any) -> int:
    with store.write() as conn:
        shop = store.shop_id(conn, "taobao", "测试旗舰店")
        return create_case(conn, shop_id=shop, review_pk=None, state="new", actor="小王", via="cli", **fields)


def _case(store: Store, case_id: int) -> sa.Row:
    with store.read() as conn:
        return conn.execute(sa.select(cases).where(cases.c.id == case_id)).one()


def _events(store: Store, case_id: int | None = None) -> list[sa.Row]:
    q = sa.select(case_events).order_by(case_events.c.case_id, case_events.c.version_from)
    if case_id is not None:
        q = q.where(case_events.c.case_id == case_id)
    with store.read() as conn:
        return list(conn.execute(q))


def _pragma(dbapi_conn: Any, name: str) -> Any:
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA {name}")
        return cur.fetchone()[0]
    finally:
        cur.close()


# =========================================================== R-07 (SQLite)
def _assert_safe_pragmas(dbapi_conn: Any) -> None:
    assert str(_pragma(dbapi_conn, "journal_mode")).lower() == "wal"
    assert _pragma(dbapi_conn, "synchronous") == 2  # FULL
    assert _pragma(dbapi_conn, "foreign_keys") == 1
    assert _pragma(dbapi_conn, "busy_timeout") > 0


def test_sqlite_every_pooled_connection_has_safe_pragmas(sqlite_store: Store) -> None:
    """R-07: WAL, synchronous=FULL, foreign_keys=ON and a busy timeout on *every* connection."""
    # Several DBAPI connections open at once, so each is a distinct new connection.
    raws = [sqlite_store.engine.raw_connection() for _ in range(4)]
    try:
        assert len({id(r.driver_connection) for r in raws}) == 4
        for raw in raws:
            _assert_safe_pragmas(raw.driver_connection)
    finally:
        for raw in raws:
            raw.close()
    # … and connections made after the pool was emptied.
    sqlite_store.engine.dispose()
    raw = sqlite_store.engine.raw_connection()
    try:
        _assert_safe_pragmas(raw.driver_connection)
    finally:
        raw.close()
    # The connections used by the public transaction helpers.
    with sqlite_store.read() as conn:
        _assert_safe_pragmas(conn.connection.driver_connection)
    with sqlite_store.write() as conn:
        _assert_safe_pragmas(conn.connection.driver_connection)
    # WAL is persistent: a plain sqlite3 connection sees it on the file.
    plain = sqlite3.connect(_sqlite_path(sqlite_store))
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()


def test_sqlite_foreign_keys_are_enforced(sqlite_store: Store) -> None:
    """foreign_keys=ON is not just reported: a dangling reference is refused."""
    with pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY"):
        with sqlite_store.write() as conn:
            conn.execute(customers.insert().values(
                shop_id=4242, customer_key="k", nick_is_masked=False,
                created_at=dt.datetime(2025, 1, 1, tzinfo=UTC)))


@pytest.fixture
def sqlite_trace(sqlite_store: Store) -> list[str]:
    """Every SQL statement the SQLite library runs on ``sqlite_store`` (sqlite3 trace callback)."""
    statements: list[str] = []
    sqlite_store.engine.dispose()

    @event.listens_for(sqlite_store.engine, "checkout")
    def _trace(dbapi_conn: Any, _rec: Any, _proxy: Any) -> None:
        dbapi_conn.set_trace_callback(statements.append)

    return statements


def _begins(statements: list[str]) -> list[str]:
    return [s.strip().upper() for s in statements if s.strip().upper().startswith("BEGIN")]


def test_sqlite_write_begins_immediate_and_read_deferred(sqlite_store: Store, sqlite_trace: list[str]) -> None:
    """R-06/§6: ``write()`` starts with BEGIN IMMEDIATE; ``read()`` with a plain (deferred) BEGIN."""
    case_id = _new_case(sqlite_store)
    assert _begins(sqlite_trace) == ["BEGIN IMMEDIATE"]

    sqlite_trace.clear()
    with sqlite_store.write() as conn:
        update_case(conn, case_id, 1, {"state": "assigned"}, actor="小王", via="cli")
    assert _begins(sqlite_trace) == ["BEGIN IMMEDIATE"]
    assert sqlite_trace[0].strip().upper() == "BEGIN IMMEDIATE", "BEGIN IMMEDIATE must come before any read"
    assert sqlite_trace[-1].strip().upper() == "COMMIT"

    sqlite_trace.clear()
    with sqlite_store.read() as conn:
        conn.execute(sa.select(cases.c.version)).all()
    assert _begins(sqlite_trace) == ["BEGIN"]
    assert sqlite_trace[0].strip().upper() == "BEGIN"


def test_sqlite_write_transaction_holds_the_write_lock_from_the_start(sqlite_store: Store) -> None:
    """A write() that has only *read* so far already excludes other writers (IMMEDIATE),
    while a read() does not block them (deferred)."""
    path = _sqlite_path(sqlite_store)
    other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        with sqlite_store.write() as conn:
            conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one()
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")

        with sqlite_store.read() as conn:
            conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one()
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO settings(key, value) VALUES ('probe', 'x')")
            other.execute("COMMIT")
        assert sqlite_store.get_setting("probe") == "x"
    finally:
        other.close()


def test_sqlite_second_writer_waits_instead_of_failing(sqlite_store: Store, tmp_path: Path) -> None:
    """Two Store handles on one file: the second writer waits for the lock (busy timeout), then succeeds."""
    second = Store.open(sqlite_store.url)
    case_id = _new_case(sqlite_store)
    done: dict[str, Any] = {}

    def writer() -> None:
        try:
            with second.write() as conn:
                done["version"] = update_case(conn, case_id, 2, {"notes": "B"}, actor="B", via="cli")
            done["at"] = time.monotonic()
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            done["error"] = e

    try:
        with sqlite_store.write() as conn:
            update_case(conn, case_id, 1, {"notes": "A"}, actor="A", via="cli")
            t = threading.Thread(target=writer)
            t.start()
            time.sleep(0.4)
            assert "at" not in done and "error" not in done, "second writer did not wait for the first"
            released = time.monotonic()
        t.join(10)
        assert "error" not in done, done.get("error")
        assert done["version"] == 3 and done["at"] >= released
        assert _case(sqlite_store, case_id).notes == "B"
    finally:
        second.close()


# ============================================================ R-08 (SQLite)
@pytest.fixture
def fake_mounts(tmp_path: Path) -> tuple[Path, Path]:
    """A /proc/self/mounts look-alike; returns (mounts file, base dir holding the fake mount points)."""
    base = Path(os.path.realpath(tmp_path)) / "mnt"
    for d in ("nfs", "smb share", "local", "sshfs", "smb3"):
        (base / d).mkdir(parents=True)
    mounts = tmp_path / "mounts"
    mounts.write_text(textwrap.dedent(f"""\
        overlay / overlay rw,relatime,lowerdir=/l,upperdir=/u,workdir=/w 0 0
        proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
        /dev/sda1 {base} ext4 rw,relatime 0 0
        nas.local:/export/cs {base}/nfs nfs4 rw,relatime,vers=4.2,addr=10.0.0.5 0 0
        //nas/客服 {base}/smb\\040share cifs rw,relatime,vers=3.1.1 0 0
        //nas/cs3 {base}/smb3 smb3 rw,relatime 0 0
        agent@host:/srv {base}/sshfs fuse.sshfs rw,nosuid,nodev 0 0
        /dev/sdb1 {base}/local ext4 rw,relatime 0 0
        """), encoding="utf-8")
    return mounts, base


def test_filesystem_type_uses_longest_matching_mount(fake_mounts: tuple[Path, Path]) -> None:
    mounts, base = fake_mounts
    m = str(mounts)
    assert filesystem_type(base / "nfs", m) == "nfs4"
    assert filesystem_type(base / "nfs" / "deep" / "x.db", m) == "nfs4"
    assert filesystem_type(base / "smb share", m) == "cifs"  # \040-escaped space in the mounts file
    assert filesystem_type(base / "local", m) == "ext4"
    assert filesystem_type(base, m) == "ext4"
    assert filesystem_type(Path("/usr"), m) == "overlay"
    # A sibling whose name merely starts with the mount point is not inside it.
    (base / "nfs-copy").mkdir()
    assert filesystem_type(base / "nfs-copy", m) == "ext4"
    assert filesystem_type(base / "nfs", str(mounts.parent / "missing")) is None


@pytest.mark.parametrize("mount,fstype", [("nfs", "nfs4"), ("smb share", "cifs"), ("smb3", "smb3"),
                                          ("sshfs", "fuse.sshfs")])
def test_check_not_network_refuses_network_share_in_multi_user_mode(
        fake_mounts: tuple[Path, Path], mount: str, fstype: str) -> None:
    mounts, base = fake_mounts
    db = base / mount / "reviewops.db"  # does not exist yet: its folder decides
    with pytest.raises(NetworkFilesystemError) as ei:
        check_not_network(db, multi_user=True, mounts_file=str(mounts))
    msg = str(ei.value)
    assert fstype in msg and str(db) in msg
    assert "PostgreSQL" in msg and "postgresql+psycopg://" in msg
    assert isinstance(ei.value, StoreError)


def test_check_not_network_single_user_only_warns(fake_mounts: tuple[Path, Path],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    mounts, base = fake_mounts
    with caplog.at_level(logging.WARNING, logger="reviewops.core.store"):
        check_not_network(base / "nfs" / "reviewops.db", multi_user=False, mounts_file=str(mounts))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "nfs4" in warnings[0].getMessage() and "PostgreSQL" in warnings[0].getMessage()


@pytest.mark.parametrize("where", ["local", "", "nfs-sibling"])
def test_check_not_network_local_disk_passes(fake_mounts: tuple[Path, Path], where: str,
                                             caplog: pytest.LogCaptureFixture) -> None:
    mounts, base = fake_mounts
    folder = base / where
    folder.mkdir(exist_ok=True)
    with caplog.at_level(logging.WARNING, logger="reviewops.core.store"):
        check_not_network(folder / "reviewops.db", multi_user=True, mounts_file=str(mounts))
        check_not_network(Path("/usr/share/reviewops.db"), multi_user=True, mounts_file=str(mounts))  # overlay
    assert caplog.records == []


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_store_open_refuses_network_fs_in_multi_user_mode(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    seen: list[Path] = []

    def fake_fs(path: Path, mounts_file: str = "/proc/self/mounts") -> str:
        seen.append(Path(path))
        return "cifs"

    monkeypatch.setattr(store_mod, "filesystem_type", fake_fs)
    db = tmp_path / "share" / "reviewops.db"
    if how == "environment":
        monkeypatch.setenv("REVIEWOPS_MULTI_USER", "1")
        kw: dict[str, Any] = {}
    else:
        kw = {"multi_user": True}
    with pytest.raises(NetworkFilesystemError, match="cifs") as ei:
        Store.open(db, **kw)
    assert "PostgreSQL" in str(ei.value)
    assert seen, "Store.open did not check the filesystem"
    assert not db.exists() and not db.parent.exists(), "refused, yet the database was created"


def test_store_open_single_user_on_network_fs_warns_and_opens(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(store_mod, "filesystem_type", lambda path, mounts_file="/proc/self/mounts": "nfs")
    db = tmp_path / "reviewops.db"
    with caplog.at_level(logging.WARNING, logger="reviewops.core.store"):
        s = Store.open(db, multi_user=False)
    try:
        assert s.counts()["cases"] == 0
    finally:
        s.close()
    assert any("nfs" in r.getMessage() and "PostgreSQL" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("fstype", ["ext4", "overlay", "xfs", "tmpfs", "btrfs"])
def test_store_open_multi_user_on_local_fs_opens_quietly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fstype: str) -> None:
    monkeypatch.setattr(store_mod, "filesystem_type", lambda path, mounts_file="/proc/self/mounts": fstype)
    with caplog.at_level(logging.WARNING, logger="reviewops.core.store"):
        with Store.open(tmp_path / "reviewops.db", multi_user=True) as s:
            assert s.counts()["cases"] == 0
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


# =================================================================== Alembic
def _head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(store_mod.__file__).parent / "migrations"))
    return ScriptDirectory.from_config(cfg).get_current_head()


def test_migrations_are_recorded_in_alembic_version(store: Store) -> None:
    with store.read() as conn:
        versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
        tables = set(sa.inspect(conn).get_table_names())
    assert versions == [_head_revision()]
    assert set(metadata.tables) <= tables


def test_reopen_is_a_no_op_migration(store: Store) -> None:
    with store.write() as conn:
        conn.execute(settings.insert().values(key="marker", value="保留"))
    store.close()

    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        again = Store.open(store.url)
    finally:
        event.remove(sa.engine.Engine, "before_cursor_execute", record)
    try:
        assert statements, "the listener saw nothing: the check would be vacuous"
        ddl = [s for s in statements if re.match(r"\s*(CREATE|ALTER|DROP)\b", s, re.I)]
        assert ddl == []
        with again.read() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all() == [
                _head_revision()]
        assert again.get_setting("marker") == "保留"
    finally:
        again.close()


def _schema_diff(store: Store) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with store.engine.connect() as conn:
        conn = conn.execution_options(reviewops_read=True)
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(ctx, metadata))


def test_migrated_schema_matches_metadata(store: Store) -> None:
    """The migrations build exactly ``reviewops.core.store.metadata`` (no drift), on both backends."""
    assert _schema_diff(store) == []

    # The comparison is able to see drift (so the empty result above means something).
    with store.write() as conn:
        conn.exec_driver_sql("DROP INDEX ix_cases_state")
        conn.exec_driver_sql("ALTER TABLE cases ADD COLUMN stray TEXT")
    kinds = {d[0] if isinstance(d, tuple) else d[0][0] for d in _schema_diff(store)}
    assert {"add_index", "remove_column"} <= kinds


def test_migrations_downgrade_and_upgrade_cleanly(store: Store) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(store_mod.__file__).parent / "migrations"))
    with store.write() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    with store.read() as conn:
        left = set(sa.inspect(conn).get_table_names())
    assert left <= {"alembic_version"}
    store.migrate()
    assert _schema_diff(store) == []
    case_id = _new_case(store)  # the append-only trigger is back too
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with store.write() as conn:
            conn.execute(case_events.delete().where(case_events.c.case_id == case_id))


# =============================================================== UTCDateTime
AWARE = [
    dt.datetime(2025, 3, 1, 8, 30, 15, 123456, tzinfo=SHANGHAI),
    dt.datetime(2025, 3, 1, 0, 30, 15, 123456, tzinfo=UTC),
    dt.datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    dt.datetime(2025, 10, 26, 1, 30, tzinfo=ZoneInfo("Europe/Berlin")),
]


@pytest.mark.parametrize("value", AWARE, ids=["shanghai", "utc", "plus0530", "berlin"])
def test_utc_datetime_round_trips_aware(store: Store, value: dt.datetime) -> None:
    with store.write() as conn:
        shop = conn.execute(shops.insert().values(platform="jd", name="店", created_at=value)
                            .returning(shops.c.id)).scalar_one()
    with store.read() as conn:
        got = conn.execute(sa.select(shops.c.created_at).where(shops.c.id == shop)).scalar_one()
    assert got == value
    assert got.utcoffset() == dt.timedelta(0)
    assert got.microsecond == value.microsecond
    assert got.replace(tzinfo=None) == value.astimezone(UTC).replace(tzinfo=None)


def test_utc_datetime_accepts_pandas_timestamp_and_none(store: Store) -> None:
    pd = pytest.importorskip("pandas")
    ts = pd.Timestamp("2025-03-01 08:00:00.250", tz="Asia/Shanghai")
    with store.write() as conn:
        shop = store.shop_id(conn, "douyin", "抖店")
        conn.execute(customers.insert().values(shop_id=shop, customer_key="a", nick_is_masked=False,
                                               first_seen_at=ts, created_at=ts))
        conn.execute(customers.insert().values(shop_id=shop, customer_key="b", nick_is_masked=False,
                                               first_seen_at=None, created_at=ts))
    with store.read() as conn:
        rows = dict(conn.execute(sa.select(customers.c.customer_key, customers.c.first_seen_at)).all())
    assert rows["a"] == dt.datetime(2025, 3, 1, 0, 0, 0, 250000, tzinfo=UTC)
    assert type(rows["a"]) is dt.datetime
    assert rows["b"] is None


def test_utc_datetime_stores_utc_so_order_is_by_instant(store: Store) -> None:
    """07:00 in Shanghai is 23:00 UTC the day before: it must sort before 23:30 UTC."""
    early = dt.datetime(2025, 3, 1, 7, 0, tzinfo=SHANGHAI)  # 2025-02-28 23:00Z
    late = dt.datetime(2025, 2, 28, 23, 30, tzinfo=UTC)
    with store.write() as conn:
        conn.execute(shops.insert(), [
            {"platform": "tb", "name": "late", "created_at": late},
            {"platform": "tb", "name": "early", "created_at": early},
        ])
    with store.read() as conn:
        names = conn.execute(sa.select(shops.c.name).order_by(shops.c.created_at)).scalars().all()
        after = conn.execute(sa.select(shops.c.name).where(
            shops.c.created_at > dt.datetime(2025, 2, 28, 23, 15, tzinfo=UTC))).scalars().all()
        raw = conn.exec_driver_sql("SELECT created_at FROM shops WHERE name = 'early'").scalar_one()
    assert names == ["early", "late"]
    assert after == ["late"]
    if store.dialect == "sqlite":
        assert str(raw).startswith("2025-02-28 23:00:00")
    else:
        assert raw.utcoffset() is not None and raw == early


@pytest.mark.postgres
def test_utc_datetime_columns_are_timestamptz_on_postgres(pg_db_url: str) -> None:
    with Store.open(pg_db_url) as store, store.read() as conn:
        types = dict(conn.exec_driver_sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'cases' AND column_name IN ('created_at', 'updated_at', 'sla_due_at')").all())
    assert types == dict.fromkeys(("created_at", "updated_at", "sla_due_at"), "timestamp with time zone")


def _naive_insert(store: Store) -> None:
    with store.write() as conn:
        conn.execute(shops.insert().values(platform="tb", name="naive", created_at=dt.datetime(2025, 3, 1, 8, 0)))


def test_utc_datetime_refuses_naive_values(store: Store) -> None:
    """A naive datetime is refused as a StoreError naming the value, and nothing is written."""
    with pytest.raises(StoreError) as ei:
        _naive_insert(store)
    assert "naive" in str(ei.value) and "2025, 3, 1, 8, 0" in str(ei.value)
    assert store.counts()["shops"] == 0


# ======================================================= append-only audit
@pytest.mark.parametrize("statement", ["update", "delete"])
def test_case_events_are_append_only(store: Store, statement: str) -> None:
    case_id = _new_case(store, notes="原始")
    before = [tuple(r) for r in _events(store, case_id)]
    assert len(before) == 1

    stmt = (case_events.update().values(actor="篡改者") if statement == "update"
            else case_events.delete()).where(case_events.c.case_id == case_id)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with store.write() as conn:
            conn.execute(stmt)
    # Also with hand-written SQL, bypassing SQLAlchemy's table objects.
    raw = ("UPDATE case_events SET after_json = '{}'" if statement == "update" else "DELETE FROM case_events")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with store.write() as conn:
            conn.exec_driver_sql(raw)

    assert [tuple(r) for r in _events(store, case_id)] == before
    # Appending is still allowed.
    with store.write() as conn:
        update_case(conn, case_id, 1, {"notes": "追加"}, actor="小王", via="cli")
    assert len(_events(store, case_id)) == 2


@pytest.mark.postgres
def test_case_events_truncate_refused_on_postgres(pg_db_url: str) -> None:
    with Store.open(pg_db_url) as s:
        _new_case(s)
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with s.write() as conn:
                conn.exec_driver_sql("TRUNCATE case_events CASCADE")


# ================================================ create_case / update_case
def test_create_case_starts_at_version_1_with_a_create_event(store: Store) -> None:
    t0 = dt.datetime.now(UTC)
    case_id = _new_case(store, severity="high", notes="买家说漏发")
    row = _case(store, case_id)
    assert (row.version, row.state, row.severity, row.notes, row.follow_up_count) == (1, "new", "high",
                                                                                      "买家说漏发", 0)
    assert row.created_at == row.updated_at and row.created_at >= t0 - dt.timedelta(seconds=1)
    assert row.created_at.utcoffset() == dt.timedelta(0)
    (ev,) = _events(store, case_id)
    assert (ev.version_from, ev.version_to, ev.action, ev.actor, ev.via) == (0, 1, "create", "小王", "cli")
    assert ev.before_json is None
    assert json.loads(ev.after_json) == {"state": "new", "severity": "high", "notes": "买家说漏发"}
    assert ev.at == row.created_at


def test_update_case_increments_version_and_audits_before_after(store: Store) -> None:
    case_id = _new_case(store, notes="初始")
    created = _case(store, case_id)
    due = dt.datetime(2025, 3, 1, 18, 0, tzinfo=SHANGHAI)
    with store.write() as conn:
        v = update_case(conn, case_id, 1, {"state": "assigned", "assignee": "客服A", "sla_due_at": due},
                        actor="组长", via="form", action="assign")
    assert v == 2
    row = _case(store, case_id)
    assert (row.version, row.state, row.assignee, row.notes) == (2, "assigned", "客服A", "初始")
    assert row.sla_due_at == due and row.updated_at >= created.updated_at
    assert row.created_at == created.created_at

    with store.write() as conn:
        assert update_case(conn, case_id, 2, {"follow_up_count": 1}, actor="客服A", via="cli") == 3

    evs = _events(store, case_id)
    assert [(e.version_from, e.version_to, e.action) for e in evs] == [(0, 1, "create"), (1, 2, "assign"),
                                                                       (2, 3, "update")]
    assign = evs[1]
    assert (assign.actor, assign.via) == ("组长", "form")
    assert json.loads(assign.before_json) == {"state": "new", "assignee": None, "sla_due_at": None}
    assert json.loads(assign.after_json) == {"state": "assigned", "assignee": "客服A",
                                             "sla_due_at": "2025-03-01T10:00:00+00:00"}
    assert json.loads(evs[2].before_json) == {"follow_up_count": 0}
    assert json.loads(evs[2].after_json) == {"follow_up_count": 1}
    assert _case(store, case_id).version == 3


def test_update_case_with_stale_version_conflicts_and_changes_nothing(store: Store) -> None:
    """R-04 at the API level: two agents loaded version 1; the second save is refused."""
    case_id = _new_case(store)
    with store.write() as conn:
        update_case(conn, case_id, 1, {"notes": "A 的处理"}, actor="A", via="form")
    with pytest.raises(ConflictError) as ei:
        with store.write() as conn:
            update_case(conn, case_id, 1, {"notes": "B 的处理"}, actor="B", via="form")
    assert isinstance(ei.value, StoreError)
    assert "version 2" in str(ei.value) and "you had 1" in str(ei.value)
    row = _case(store, case_id)
    assert (row.version, row.notes) == (2, "A 的处理")
    assert [e.actor for e in _events(store, case_id)] == ["小王", "A"]
    # A version from the future is just as stale.
    with pytest.raises(ConflictError):
        with store.write() as conn:
            update_case(conn, case_id, 5, {"notes": "x"}, actor="B", via="form")


def test_update_unknown_case_is_not_found(store: Store) -> None:
    _new_case(store)
    with pytest.raises(NotFound, match="987654"):
        with store.write() as conn:
            update_case(conn, 987654, 1, {"notes": "x"}, actor="A", via="cli")
    assert len(_events(store)) == 1


def test_unknown_case_field_is_a_config_error(store: Store) -> None:
    case_id = _new_case(store)
    with pytest.raises(ConfigError, match="version"):
        with store.write() as conn:
            update_case(conn, case_id, 1, {"version": 99}, actor="A", via="cli")
    with pytest.raises(ConfigError, match="refund_fen"):
        with store.write() as conn:
            update_case(conn, case_id, 1, {"notes": "ok", "refund_fen": 100}, actor="A", via="cli")
    with pytest.raises(ConfigError, match="shop_id_typo"):
        _new_case(store, shop_id_typo=1)
    assert _case(store, case_id).version == 1
    assert store.counts()["cases"] == 1 and len(_events(store)) == 1


def test_errors_are_reviewops_errors() -> None:
    for cls in (ConflictError, NotFound, NetworkFilesystemError, StoreError, ConfigError):
        assert issubclass(cls, ReviewOpsError)


# ============================================================== R-03 soak
_WORKER = r'''
import json, random, sys, time
import sqlalchemy as sa
from reviewops.core.errors import ConflictError
from reviewops.core.store import Store, cases, update_case

url, wid, mode, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
case_ids = [int(x) for x in sys.argv[5].split(",")]
store = Store.open(url, migrate=False)  # the parent migrated; spare 20 alembic imports
print("READY", flush=True)
if sys.stdin.readline().strip() != "GO":
    sys.exit("no GO")
rng = random.Random(wid)
acks, conflicts, n = [], 0, 0
deadline = time.monotonic() + duration
while time.monotonic() < deadline:
    cid = rng.choice(case_ids)
    with store.read() as conn:
        seen = conn.execute(sa.select(cases.c.version, cases.c.follow_up_count, cases.c.notes)
                            .where(cases.c.id == cid)).one()
    time.sleep(0.001)  # an agent "thinks" between reading and saving
    token = f"{wid:x}.{n:x}"
    changes = {"follow_up_count": seen.follow_up_count + 1, "notes": (seen.notes or "") + token + ";"}
    try:
        with store.write() as conn:
            version = seen.version
            if mode == "naive":  # negative control: re-read the version, keep the stale values
                version = conn.execute(sa.select(cases.c.version).where(cases.c.id == cid)).scalar_one()
            update_case(conn, cid, version, changes, actor=f"agent{wid}", via="cli", action="follow_up")
    except ConflictError:
        conflicts += 1
        continue
    acks.append([cid, version, token])  # acknowledged: the transaction committed
    n += 1
store.close()
print(json.dumps({"acks": acks, "conflicts": conflicts}), flush=True)
'''


def _run_writers(url: str, case_ids: list[int], tmp_path: Path, *, procs: int, seconds: float,
                 mode: str = "versioned") -> tuple[list[list[Any]], int]:
    """Start ``procs`` writer processes, release them together, return (acks, conflicts)."""
    script = tmp_path / "lost_update_worker.py"
    script.write_text(_WORKER, encoding="utf-8")
    ids = ",".join(map(str, case_ids))
    children = [subprocess.Popen([sys.executable, str(script), url, str(i), mode, str(seconds), ids],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for i in range(procs)]
    try:
        for c in children:
            line = c.stdout.readline()
            if line.strip() != "READY":
                c.kill()
                pytest.fail(f"writer did not start: {line!r} {c.stderr.read()[-3000:]}")
        for c in children:
            c.stdin.write("GO\n")
            c.stdin.flush()
        acks: list[list[Any]] = []
        conflicts = 0
        for c in children:
            out, err = c.communicate(timeout=seconds + 90)
            assert c.returncode == 0, err[-3000:]
            result = json.loads(out.strip().splitlines()[-1])
            acks += result["acks"]
            conflicts += result["conflicts"]
        return acks, conflicts
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()
                c.wait()


def _lost_update_problems(store: Store, case_ids: list[int], acks: list[list[Any]]) -> list[str]:
    """Everything that shows a lost or duplicated update; empty when the history is exact."""
    problems: list[str] = []
    with store.read() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(cases).where(cases.c.id.in_(case_ids)))}
        evs = conn.execute(sa.select(case_events).where(case_events.c.case_id.in_(case_ids))
                           .order_by(case_events.c.case_id, case_events.c.version_from)).all()
    stored = sum(r.follow_up_count for r in rows.values())
    if stored != len(acks):
        problems.append(f"lost updates: {len(acks)} acknowledged, {stored} stored in follow_up_count")
    updates = [e for e in evs if e.action != "create"]
    if len(updates) != len(acks):
        problems.append(f"{len(updates)} update events for {len(acks)} acknowledged updates")
    edges = Counter((e.case_id, e.version_from) for e in evs)
    if dupes := [k for k, n in edges.items() if n != 1]:
        problems.append(f"version edges seen more than once: {dupes[:5]}")
    if set(edges) - {(c, 0) for c in case_ids} != {(c, v) for c, v, _ in acks}:
        problems.append("update events do not match the acknowledged (case, version) pairs")
    acked_by_case: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for cid, v, token in acks:
        acked_by_case[cid].append((v, token))
    for cid in case_ids:
        row, mine = rows[cid], sorted(acked_by_case[cid])
        froms = [e.version_from for e in evs if e.case_id == cid]
        if froms != list(range(row.version)):
            problems.append(f"case {cid}: versions not contiguous 0..{row.version - 1}")
        if any(e.version_to != e.version_from + 1 for e in evs if e.case_id == cid):
            problems.append(f"case {cid}: an event skips a version")
        if row.follow_up_count != row.version - 1 or row.follow_up_count != len(mine):
            problems.append(f"case {cid}: lost updates: follow_up_count={row.follow_up_count}, "
                            f"version={row.version}, acknowledged={len(mine)}")
        if (row.notes or "").split(";")[:-1] != [t for _, t in mine]:
            problems.append(f"case {cid}: notes do not hold every acknowledged update once, in order")
    return problems


@pytest.mark.slow
def test_no_lost_updates_with_20_concurrent_writer_processes(store: Store, tmp_path: Path) -> None:
    """R-03: 20 processes × 5 hot cases, read → think → update_case(expected_version), retry on conflict."""
    case_ids = [_new_case(store) for _ in range(5)]
    acks, conflicts = _run_writers(store.url, case_ids, tmp_path, procs=20, seconds=3.0)

    assert len(acks) >= 50, f"only {len(acks)} updates: the soak did not exercise anything"
    assert _lost_update_problems(store, case_ids, acks) == []
    assert conflicts > 0, "no conflicts with 20 writers on 5 cases: the version check is not being exercised"
    assert len({c for c, _, _ in acks}) == 5


@pytest.mark.slow
def test_lost_update_check_detects_writers_that_skip_the_version_check(sqlite_store: Store,
                                                                        tmp_path: Path) -> None:
    """Negative control for R-03: writers that re-read the version inside the transaction (so the
    optimistic check always passes) but save values computed from a stale read must be caught."""
    case_ids = [_new_case(sqlite_store)]
    acks, conflicts = _run_writers(sqlite_store.url, case_ids, tmp_path, procs=6, seconds=1.5, mode="naive")
    assert conflicts == 0 and len(acks) > 20
    problems = _lost_update_problems(sqlite_store, case_ids, acks)
    assert any("lost updates" in p for p in problems), problems


# ============================================================== resolve_url
def test_resolve_url_plain_paths_become_absolute_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.chdir(tmp_path)
    real = Path(os.path.realpath(tmp_path))
    assert resolve_url("data/评价.db") == f"sqlite:///{real}/data/评价.db"
    assert resolve_url(Path("x.db")) == f"sqlite:///{real}/x.db"
    assert resolve_url(str(tmp_path / "a" / ".." / "b.db")) == f"sqlite:///{real}/b.db"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_url("~/shop.db") == f"sqlite:///{real}/home/shop.db"


def test_resolve_url_passes_sqlite_and_psycopg_urls(tmp_path: Path) -> None:
    assert resolve_url(f"sqlite:///{tmp_path}/x.db") == f"sqlite:///{tmp_path}/x.db"
    url = "postgresql+psycopg://cs:p%40ss@db.local:5433/reviewops"
    assert resolve_url(url) == url


@pytest.mark.parametrize("given", ["postgres://cs:pw@db.local/reviewops", "postgresql://cs:pw@db.local/reviewops"])
def test_resolve_url_rewrites_postgres_to_psycopg(given: str) -> None:
    assert resolve_url(given) == "postgresql+psycopg://cs:pw@db.local/reviewops"


def test_resolve_url_refuses_memory() -> None:
    with pytest.raises(ConfigError, match=":memory:"):
        resolve_url(":memory:")


@pytest.mark.parametrize("given", ["sqlite:///:memory:", "sqlite:///", "sqlite:///file:x?mode=memory&cache=shared"])
def test_resolve_url_refuses_memory_url_form(given: str) -> None:
    with pytest.raises(ConfigError, match=":memory:"):
        resolve_url(given)


@pytest.mark.parametrize("given", ["", "   "])
def test_resolve_url_refuses_an_empty_value(given: str) -> None:
    with pytest.raises(ConfigError, match="empty"):
        resolve_url(given)


@pytest.mark.parametrize("given", ["mysql://u:p@h/db", "http://example.com/x.db", "sqlite://",
                                   "postgresql+psycopg2://u@h/db", "postgresql+asyncpg://u@h/db",
                                   "mssql+pyodbc://h/db"])
def test_resolve_url_refuses_unknown_schemes(given: str) -> None:
    with pytest.raises(ConfigError, match="unsupported database URL"):
        resolve_url(given)


def test_resolve_url_default_comes_from_env_then_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # conftest points REVIEWOPS_DB into tmp_path: no test can reach the real data dir.
    assert resolve_url() == f"sqlite:///{os.path.realpath(tmp_path)}/default/reviewops.db"
    monkeypatch.setenv("REVIEWOPS_DB", "postgres://u@h/db")
    assert resolve_url() == "postgresql+psycopg://u@h/db"
    monkeypatch.delenv("REVIEWOPS_DB")
    url = resolve_url()
    assert url.startswith(f"sqlite:///{tmp_path / 'xdg-data'}") and url.endswith("reviewops.db")


def test_store_open_without_arguments_uses_the_isolated_default(tmp_path: Path) -> None:
    with Store.open() as s:
        assert s.dialect == "sqlite"
    assert (tmp_path / "default" / "reviewops.db").exists()


def test_open_if_needed_migrates_only_a_store_that_is_behind(tmp_path):
    path = tmp_path / "s.db"
    fresh = Store.open(path, migrate=False)
    assert not fresh.is_current()  # an empty file has no alembic_version
    fresh.close()
    with Store.open(path, migrate="if-needed") as store:
        assert store.is_current()
        assert "cases" in sa.inspect(store.engine).get_table_names()
    with Store.open(path, migrate="if-needed") as store:  # already current: Alembic is not run
        assert store.is_current()
