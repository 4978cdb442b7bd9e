"""reviewops backup / backup --verify / restore (issue 15 §4, SPEC quality bar "backups that restore").

A backup taken while another thread writes cases, events and access-log rows restores to exactly
one instant (every writer transaction in or out as a whole, the audit chain unbroken) and every
table equals the manifest; a truncated or altered file is refused with nothing written; a non-empty
target needs --force; the vault key is never in the archive and the output says where it is; on
PostgreSQL the same through pg_dump/pg_restore, a clear error without pg_dump, and the password
never appears anywhere.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import threading
import time
import uuid
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from reviewops.core import backup as bk
from reviewops.core import store as stmod
from reviewops.core import vault
from reviewops.cli import main
from reviewops.core.store import Store, create_case, update_case, utcnow

import wb_fixtures as W


# ----------------------------------------------------------------------- helpers
def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out, out.err


def seed(store: Store, tmp_path: Path) -> list[int]:
    """Three triaged cases with some history, users (access_log rows) and a vault value (makes the key)."""
    ids = [W.make_case(store, tmp_path) for _ in range(3)]
    W.make_users(store)
    with store.write() as conn:
        for cid in ids:
            v = conn.execute(sa.select(stmod.cases.c.version).where(stmod.cases.c.id == cid)).scalar_one()
            update_case(conn, cid, v, {"notes": "第一次联系"}, actor="a1", via="test")
        shop_id, order_id = conn.execute(sa.select(stmod.orders.c.shop_id, stmod.orders.c.order_id)).first()
        vault.store_values(conn, [(shop_id, order_id, "receiver_phone", "13812345678"),
                                  (shop_id, order_id, "receiver_name", "张三丰")])
    return ids


def db_sums(url: str) -> dict:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return {"tables": bk.table_checksums(conn), "audit": bk.verify_audit_chain(conn)}
    finally:
        engine.dispose()


class Writer(threading.Thread):
    """Writes in a loop: each transaction changes or creates one case (one audit event by "writer")
    and appends one access_log row whose target is the transaction's number."""

    def __init__(self, store: Store, case_ids: list[int]):
        super().__init__(daemon=True)
        self.store, self.case_ids, self.n, self.error = store, case_ids, 0, None
        self.stop = threading.Event()
        with store.read() as conn:
            self.shop_id = conn.execute(sa.select(stmod.shops.c.id)).scalars().first()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                i = self.n
                with self.store.write() as conn:
                    if i % 5 == 4:
                        create_case(conn, shop_id=self.shop_id, review_pk=None, state="new", actor="writer",
                                    via="test")
                    else:
                        cid = self.case_ids[i % len(self.case_ids)]
                        v = conn.execute(sa.select(stmod.cases.c.version).where(stmod.cases.c.id == cid)).scalar_one()
                        update_case(conn, cid, v, {"notes": f"写入 {i}"}, actor="writer", via="test")
                    conn.execute(stmod.access_log.insert().values(at=utcnow(), actor="writer", action="test_write",
                                                                  outcome="ok", target=str(i)))
                self.n = i + 1
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def writer_prefix(url: str) -> int:
    """How many writer transactions a restored store holds; asserts they are a prefix, each whole."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            targets = sorted(int(t) for t in conn.execute(
                sa.select(stmod.access_log.c.target).where(stmod.access_log.c.actor == "writer")).scalars())
            events = conn.execute(sa.select(sa.func.count()).select_from(stmod.case_events)
                                  .where(stmod.case_events.c.actor == "writer")).scalar_one()
    finally:
        engine.dispose()
    assert targets == list(range(len(targets))), "the snapshot lost a transaction in the middle"
    assert events == len(targets), "a writer transaction is in the snapshot only in part"
    return len(targets)


def backup_while_writing(store: Store, case_ids: list[int], dest: Path) -> tuple[bk.BackupResult, int, int]:
    """Back up while the writer runs; retried until writes happened during the backup itself."""
    writer = Writer(store, case_ids)
    writer.start()
    try:
        while writer.n < 5 and writer.error is None:
            time.sleep(0.01)
        for _attempt in range(20):
            before = writer.n
            dest.unlink(missing_ok=True)
            result = bk.backup(store, dest)
            after = writer.n
            if after > before:
                break
        else:
            pytest.fail("the writer never wrote during a backup")
    finally:
        writer.stop.set()
        writer.join(10)
    assert writer.error is None, writer.error
    return result, before, after


def flip_member_byte(archive: Path, member: str, out: Path) -> None:
    """Copy ``archive`` to ``out`` with one byte of ``member``'s stored data changed."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    off = info.header_offset
    name_len, extra_len = struct.unpack("<HH", data[off + 26:off + 30])
    start = off + 30 + name_len + extra_len
    pos = start + info.compress_size // 2
    data[pos] ^= 0x5A
    out.write_bytes(bytes(data))


def rezip(archive: Path, out: Path, *, member: str, change) -> None:
    """Copy ``archive`` to ``out`` with ``member`` replaced by ``change(bytes)`` (valid ZIP, valid CRC)."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info.filename, change(data) if info.filename == member else data)


# --------------------------------------------------------------------- SQLite
def test_backup_during_concurrent_writes_restores_one_instant(sqlite_store, tmp_path):
    ids = seed(sqlite_store, tmp_path)
    archive = tmp_path / "during.zip"
    result, before, after = backup_while_writing(sqlite_store, ids, archive)
    m = result.manifest
    assert m["format"] == "reviewops-backup" and m["source"]["kind"] == "sqlite"
    assert m["alembic_revision"] == bk._head_revision()
    assert m["audit"]["ok"], m["audit"]
    assert m["created_at"].endswith("+00:00") and m["created_at_beijing"].endswith("北京时间")
    assert set(m["tables"]) >= {"cases", "case_events", "access_log", "pii_vault", "alembic_version"}

    target = tmp_path / "restored" / "reviewops.db"
    restored = bk.restore(archive, str(target))
    url = f"sqlite:///{target}"
    got = db_sums(url)
    assert got["tables"] == m["tables"]  # every table: rows and checksum
    assert got["audit"]["ok"] and got["audit"]["events"] == m["audit"]["events"]
    assert restored.audit["ok"]
    k = writer_prefix(url)
    assert before <= k <= after, (before, k, after)  # the instant lies inside the backup
    # each case's version is the end of its event chain (verify_audit_chain) and the store opens
    with Store.open(url) as s:
        assert s.counts()["cases"] == m["tables"]["cases"]["rows"]


def test_quiet_store_round_trip_equals_the_source_table_by_table(sqlite_store, tmp_path, capsys):
    seed(sqlite_store, tmp_path)
    archive = tmp_path / "b.zip"
    at_backup = db_sums(sqlite_store.url)
    code, out, _ = run(capsys, "backup", str(archive), "--db", sqlite_store.url)
    assert code == 0, out
    assert "已备份" in out and "北京时间" in out
    code, out, _ = run(capsys, "backup", "--verify", str(archive))
    assert code == 0 and "校验通过" in out and "试恢复" in out
    target = tmp_path / "new.db"
    code, out, err = run(capsys, "restore", str(archive), "--db", str(target))
    assert code == 0, err
    assert "已恢复" in out and "审计链" in out
    assert db_sums(f"sqlite:///{target}") == at_backup
    # the backup is in the source's access log (written after the snapshot, so not in the backup)
    logged = W.access_rows(sqlite_store, "backup")
    assert len(logged) == 1 and logged[0]["target"] == "b.zip" and logged[0]["actor"].startswith("cli")
    assert json.loads(logged[0]["detail_json"])["rows"] == sum(t["rows"] for t in at_backup["tables"].values())
    assert not W.access_rows(Store.open(str(target)), "backup")
    # a second backup refuses to overwrite the first unless asked
    code, _, err = run(capsys, "backup", str(archive), "--db", sqlite_store.url)
    assert code == 2 and "--overwrite" in err
    assert run(capsys, "backup", str(archive), "--db", sqlite_store.url, "--overwrite")[0] == 0


@pytest.fixture
def made(sqlite_store, tmp_path):
    seed(sqlite_store, tmp_path)
    archive = tmp_path / "good.zip"
    bk.backup(sqlite_store, archive)
    return archive


def _refused(archive: Path, tmp_path: Path, capsys, *words: str) -> None:
    """The file is refused by verify and by restore (new target and --force over a full one), nothing written."""
    with pytest.raises(bk.BackupInvalid) as e:
        bk.verify(archive)
    msg = str(e.value)
    assert "未写入任何数据" in msg and "Nothing was written" in msg
    assert any(w in msg for w in words), msg
    fresh = tmp_path / f"fresh-{uuid.uuid4().hex[:6]}" / "x.db"
    code, _, err = run(capsys, "restore", str(archive), "--db", str(fresh))
    assert code == 2 and "不可用" in err and "refused" in err
    assert not fresh.exists() and not fresh.parent.exists()
    full = tmp_path / "full.db"
    if not full.exists():
        bk.restore(tmp_path / "good.zip", str(full))
    before = db_sums(f"sqlite:///{full}")
    code, _, err = run(capsys, "restore", str(archive), "--db", str(full), "--force")
    assert code == 2
    assert db_sums(f"sqlite:///{full}") == before


def test_truncated_file_is_refused_and_nothing_written(made, tmp_path, capsys):
    data = made.read_bytes()
    for cut in (len(data) // 2, len(data) - 10):
        bad = tmp_path / f"cut{cut}.zip"
        bad.write_bytes(data[:cut])
        _refused(bad, tmp_path, capsys, "截断", "truncated")


def test_one_byte_altered_in_the_dump_is_refused(made, tmp_path, capsys):
    bad = tmp_path / "dumpbyte.zip"
    flip_member_byte(made, bk.DUMP_SQLITE, bad)
    _refused(bad, tmp_path, capsys, "损坏", "damaged", "校验和", "checksum")
    # the same change in a well-formed ZIP (valid CRC): the manifest's SHA-256 of the dump catches it
    def change(b: bytes) -> bytes:
        i = len(b) // 2
        return b[:i] + bytes([b[i] ^ 1]) + b[i + 1:]
    bad2 = tmp_path / "dumpbyte2.zip"
    rezip(made, bad2, member=bk.DUMP_SQLITE, change=change)
    _refused(bad2, tmp_path, capsys, "数据文件")


def test_one_byte_altered_in_the_manifest_is_refused(made, tmp_path, capsys):
    bad = tmp_path / "manibyte.zip"
    flip_member_byte(made, bk.MANIFEST, bad)
    _refused(bad, tmp_path, capsys, "清单", "manifest")
    # an edited count in a well-formed ZIP: the manifest's own checksum catches it
    def edit(b: bytes) -> bytes:
        m = json.loads(b)
        m["tables"]["cases"]["rows"] += 1
        return json.dumps(m).encode()
    bad2 = tmp_path / "manicount.zip"
    rezip(made, bad2, member=bk.MANIFEST, change=edit)
    _refused(bad2, tmp_path, capsys, "清单的校验和", "altered")
    # ...and a forger who also recomputes that checksum is caught by the trial restore
    def forge(b: bytes) -> bytes:
        m = json.loads(b)
        m["tables"]["cases"]["rows"] += 1
        m["manifest_sha256"] = bk._manifest_digest(m)
        return json.dumps(m).encode()
    bad3 = tmp_path / "maniforged.zip"
    rezip(made, bad3, member=bk.MANIFEST, change=forge)
    _refused(bad3, tmp_path, capsys, "cases")


def test_not_a_backup_and_missing_file(tmp_path, capsys):
    junk = tmp_path / "junk.zip"
    with zipfile.ZipFile(junk, "w") as zf:
        zf.writestr("hello.txt", "x")
    code, _, err = run(capsys, "backup", "--verify", str(junk))
    assert code == 2 and "manifest.json" in err
    code, _, err = run(capsys, "restore", str(tmp_path / "nope.zip"), "--db", str(tmp_path / "t.db"))
    assert code == 2 and "找不到备份文件" in err
    assert not (tmp_path / "t.db").exists()


def test_non_empty_target_needs_force(made, sqlite_store, tmp_path, capsys):
    target = tmp_path / "busy.db"
    with Store.open(str(target)) as other:  # a store of its own with one case
        W.make_case(other, tmp_path)
        own = db_sums(other.url)
    code, _, err = run(capsys, "restore", str(made), "--db", str(target))
    assert code == 2 and "不是空的" in err and "--force" in err and "cases 1" in err
    assert db_sums(f"sqlite:///{target}") == own  # untouched
    code, out, err = run(capsys, "restore", str(made), "--db", str(target), "--force")
    assert code == 0, err
    assert "已覆盖原有数据" in out
    manifest = json.loads(zipfile.ZipFile(made).read(bk.MANIFEST))
    assert db_sums(f"sqlite:///{target}")["tables"] == manifest["tables"]
    # a migrated but empty store counts as empty: no --force needed
    empty = tmp_path / "empty.db"
    Store.open(str(empty)).close()
    assert run(capsys, "restore", str(made), "--db", str(empty))[0] == 0


def test_vault_key_is_never_in_the_backup_and_the_output_says_where(sqlite_store, tmp_path, capsys):
    seed(sqlite_store, tmp_path)
    key_path = vault.key_file_path()
    key_hex = key_path.read_text().strip()
    key = bytes.fromhex(key_hex)
    archive = tmp_path / "k.zip"
    code, out, err = run(capsys, "backup", str(archive), "--db", sqlite_store.url)
    assert code == 0
    raw = archive.read_bytes()
    members = [zipfile.ZipFile(archive).read(n) for n in zipfile.ZipFile(archive).namelist()]
    for blob in (raw, *members):
        assert key_hex.encode() not in blob and key_hex.upper().encode() not in blob and key not in blob
    assert key_hex not in out + err
    assert str(key_path) in out and "单独保存" in out and "Keep it separately" in out
    manifest = json.loads(members[zipfile.ZipFile(archive).namelist().index(bk.MANIFEST)])
    assert manifest["vault"]["key_included"] is False
    assert manifest["vault"]["key_ids"] == [vault.key_id(key)] and manifest["vault"]["rows"] == 2
    # the key in an environment variable: the output names the variable, never the value
    os.environ[vault.ENV_KEY] = key_hex
    try:
        code, out, err = run(capsys, "backup", "--verify", str(archive), "--json")
    finally:
        del os.environ[vault.ENV_KEY]
    assert code == 0 and key_hex not in out + err
    data = json.loads(out)
    assert data["vault_key"]["kind"] == "env" and data["vault_key"]["name"] == vault.ENV_KEY
    assert vault.ENV_KEY in data["vault_key_notice"]
    # restored elsewhere without the key: the restore warns that the vault cannot be read
    key_path.unlink()
    code, out, _ = run(capsys, "restore", str(archive), "--db", str(tmp_path / "nokey.db"))
    assert code == 0 and vault.key_id(key) in out and "原来的保险库密钥" in out


def test_audit_chain_verifier_catches_a_gap_and_missing_triggers(sqlite_store, tmp_path):
    seed(sqlite_store, tmp_path)
    path = tmp_path / "broken.db"
    src = sqlite3.connect(sqlite_store.url[len("sqlite:///"):])
    con = sqlite3.connect(path)
    src.backup(con)
    src.close()
    con.execute("DROP TRIGGER case_events_no_delete")
    con.execute("DELETE FROM case_events WHERE id = (SELECT min(id) FROM case_events WHERE version_from = 1)")
    con.commit()
    con.close()
    report = db_sums(f"sqlite:///{path}")["audit"]
    assert not report["ok"]
    text = " ".join(report["problems"])
    assert "events end at" in text and "case_events_no_delete" in text
    assert db_sums(sqlite_store.url)["audit"]["ok"]


def test_table_checksum_changes_with_one_value(sqlite_store, tmp_path):
    seed(sqlite_store, tmp_path)
    a = db_sums(sqlite_store.url)["tables"]
    with sqlite_store.write() as conn:
        conn.execute(stmod.users.update().where(stmod.users.c.name == "a1").values(display_name="改"))
    b = db_sums(sqlite_store.url)["tables"]
    assert a["users"]["rows"] == b["users"]["rows"] and a["users"]["sha256"] != b["users"]["sha256"]
    assert {k: v for k, v in a.items() if k != "users"} == {k: v for k, v in b.items() if k != "users"}


def test_masked_location_never_shows_a_password():
    for url in ("postgresql+psycopg://ro:Sekr3t@db.example:5432/shop?password=Sekr3t&sslmode=require",
                "postgresql+psycopg://ro@db.example/shop?password=Sekr3t"):
        shown = bk.masked_location(url)
        assert "Sekr3t" not in shown and shown.startswith("postgresql://ro@db.example")
    conninfo, env, secret = bk._pg_params("postgresql+psycopg://ro@h/shop?password=Sekr3t&sslmode=require")
    assert "Sekr3t" not in conninfo and "sslmode" in conninfo and env["PGPASSWORD"] == secret == "Sekr3t"


# ------------------------------------------------------------------ PostgreSQL
@pytest.fixture
def pg_empty_url(pg_server_url, _pg_admin_engine):
    """A second brand-new database on the test server (the restore target)."""
    name = f"rt_backup_target_{uuid.uuid4().hex[:10]}"
    with _pg_admin_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with _pg_admin_engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_pg_backup_during_writes_verify_restore_and_password_canary(pg_db_url, pg_empty_url, tmp_path, capsys):
    password = sa.make_url(pg_db_url).password
    assert password
    seen = []
    with Store.open(pg_db_url) as store:
        ids = seed(store, tmp_path)
        archive = tmp_path / "pg.zip"
        result, before, after = backup_while_writing(store, ids, archive)
    m = result.manifest
    assert m["source"]["kind"] == "postgresql" and m["dump"]["name"] == bk.DUMP_PG and m["audit"]["ok"]
    seen.append(archive.read_bytes().decode("latin-1"))
    seen.append(json.dumps(m))

    code, out, err = run(capsys, "backup", "--verify", str(archive), "--db", pg_db_url)
    seen += [out, err]
    assert code == 0 and "PostgreSQL" in out, err
    os.environ["REVIEWOPS_DB"], saved = pg_db_url, os.environ["REVIEWOPS_DB"]  # the server from REVIEWOPS_DB
    try:
        code, out, err = run(capsys, "backup", "--verify", str(archive))
    finally:
        os.environ["REVIEWOPS_DB"] = saved
    seen += [out, err]
    assert code == 0, err
    # verifying a PostgreSQL backup needs a PostgreSQL server
    code, out, err = run(capsys, "backup", "--verify", str(archive), "--db", str(tmp_path / "x.db"))
    assert code == 2 and "PostgreSQL" in err
    # restore into the empty database
    code, out, err = run(capsys, "restore", str(archive), "--db", pg_empty_url)
    seen += [out, err]
    assert code == 0, err
    got = db_sums(pg_empty_url)
    assert got["tables"] == m["tables"] and got["audit"]["ok"]
    k = writer_prefix(pg_empty_url)
    assert before <= k <= after
    # again: not empty now; with --force it is replaced in one transaction
    code, out, err = run(capsys, "restore", str(archive), "--db", pg_empty_url)
    seen += [out, err]
    assert code == 2 and "不是空的" in err
    code, out, err = run(capsys, "restore", str(archive), "--db", pg_empty_url, "--force")
    seen += [out, err]
    assert code == 0, err
    assert db_sums(pg_empty_url)["tables"] == m["tables"]
    with Store.open(pg_empty_url) as s:  # the restored store opens and works
        assert s.counts()["cases"] == m["tables"]["cases"]["rows"]
    # an SQLite backup cannot go into PostgreSQL (and the refusal masks the URL)
    sq = tmp_path / "sq.zip"
    with Store.open(str(tmp_path / "sq.db")) as s:
        bk.backup(s, sq)
    code, out, err = run(capsys, "restore", str(sq), "--db", pg_empty_url)
    seen += [out, err]
    assert code == 2 and "sqlite" in err
    # a database that does not exist: the connection error is masked too
    missing = sa.make_url(pg_empty_url).set(database="no_such_db_x").render_as_string(hide_password=False)
    code, out, err = run(capsys, "restore", str(archive), "--db", missing)
    seen += [out, err]
    assert code == 2
    for text in seen:
        assert password not in text


@pytest.mark.postgres
def test_pg_restore_into_a_migrated_empty_store(pg_db_url, pg_empty_url, tmp_path):
    with Store.open(pg_db_url) as store:
        seed(store, tmp_path)
        archive = tmp_path / "pg.zip"
        at_backup = db_sums(pg_db_url)
        bk.backup(store, archive)
    Store.open(pg_empty_url).close()  # schema only, no rows: counts as empty
    bk.restore(archive, pg_empty_url)
    assert db_sums(pg_empty_url) == at_backup


@pytest.mark.postgres
def test_pg_without_pg_dump_names_the_missing_tool(pg_db_url, tmp_path, capsys, monkeypatch):
    password = sa.make_url(pg_db_url).password
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.setenv(bk.ENV_PG_BIN, str(empty_bin))
    with Store.open(pg_db_url):
        pass
    archive = tmp_path / "pg.zip"
    code, out, err = run(capsys, "backup", str(archive), "--db", pg_db_url)
    assert code == 2
    assert "pg_dump" in err and "找不到" in err and "not found" in err and bk.ENV_PG_BIN in err
    assert password not in out + err
    assert not archive.exists() and not list(tmp_path.glob(".pg.zip.part-*"))
