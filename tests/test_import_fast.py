"""The columnar review import (issue 21) stores exactly what the row-by-row import stored.

The reference below is the review writer as it was before the columnar path (``_write_reviews`` and
``_customer_ids`` of commit f74d6bd, on the generic dict-based :func:`ingest.upsert`). The same files go
through both into two stores under the same simulated clock, and every table is compared cell by cell,
ids included: bad rows skipped, duplicates within a file, a re-import (a no-op), a 追评 that makes a new
review version, an older export that lacks the 追评, new and known reviews mixed in one file. Runs on
SQLite and PostgreSQL (``store``/``db_url`` fixtures)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from reviewops.core import store as st
from reviewops.intake import clean, ingest

HEADER = ["订单编号", "宝贝ID", "宝贝标题", "买家昵称", "评价结果", "评价内容", "评价时间", "追评内容", "追评时间", "店铺名称"]
AT = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


# ----------------------------------------------------------------------------- the reference writer
def _ref_customer_ids(conn, frame: pd.DataFrame, nick_col: str | None) -> pd.Series:
    out = pd.Series(None, index=frame.index, dtype=object)
    if nick_col is None or nick_col + "_hash" not in frame.columns:
        return out
    h = frame[nick_col + "_hash"]
    have = h.notna()
    if not have.any():
        return out
    sub = frame.loc[have, ["_shop", nick_col + "_hash", nick_col + "_masked"]].drop_duplicates(
        ["_shop", nick_col + "_hash"])
    now = st.utcnow()
    recs = [{"shop_id": int(s), "customer_key": f"nick:{k}", "nick_masked": m, "nick_hash": k,
             "nick_is_masked": False, "first_seen_at": None, "created_at": now}
            for s, k, m in sub.itertuples(index=False, name=None)]
    _, ids, _ = ingest.upsert(conn, st.customers, ("shop_id", "customer_key"), recs, returning=True)
    keyed = {(s, k[len("nick:"):]): v for (s, k), v in ids.items()}
    vals = [keyed.get((int(s), k)) if k is not None else None for s, k in zip(frame["_shop"], frame[nick_col + "_hash"])]
    return pd.Series(vals, index=frame.index, dtype=object)


def _ref_write_reviews(conn, p, df: pd.DataFrame, batch_id: int, progress: Any) -> ingest.Counts:
    VERSIONED = ingest.VERSIONED
    df = df.copy()
    created = df["created_at"].map(ingest._iso)
    order = df["order_id"] if "order_id" in df.columns else pd.Series(None, index=df.index, dtype=object)
    item = pd.Series("", index=df.index, dtype=object)
    for c in ("line_id", "product_id"):
        if c in df.columns:
            item = item.where(item != "", df[c].fillna(""))
    nick = df["buyer_nick_hash"] if "buyer_nick_hash" in df.columns else pd.Series(None, index=df.index, dtype=object)
    derived = ("o:" + order.fillna("") + "|" + item + "|" + created).where(
        order.notna(), "n:" + nick.fillna("") + "|" + item + "|" + created)
    df["review_key"] = ("id:" + df["review_id"]).where(df["review_id"].notna(), derived) \
        if "review_id" in df.columns else derived
    df = df.drop_duplicates(["_shop", "review_key"], keep="last")
    df["customer_id"] = _ref_customer_ids(conn, df, "buyer_nick")
    df["is_default_review"] = clean.is_default_review(df["content"]) if "content" in df.columns else False
    cols = ["review_id", "order_id", "line_id", "product_id", "product_title", "sku_text", "customer_id",
            "buyer_nick_masked", "rating_raw", "rating_class", "rating_score", "score_product", "score_logistics",
            "score_service", "content", "created_at", "append_content", "append_created_at", "seller_reply",
            "seller_reply_at", "has_media", "media_urls", "tags", "ip", "device_id", "is_default_review"]
    out = pd.DataFrame({"shop_id": df["_shop"], "review_key": df["review_key"]})
    for c in cols:
        if c in df.columns:
            out[c] = df[c]
    out["source_row"] = df["_row"]
    out["batch_id"] = batch_id
    now = st.utcnow()
    recs = ingest._records(out, out.columns)
    stored = ingest._stored_versioned(conn, recs)
    for r in recs:
        r["first_seen_at"] = now
        old = stored.get((r["shop_id"], r["review_key"]))
        if old is not None:
            for c in VERSIONED:
                if r.get(c) is None and old.get(c) is not None:
                    r[c] = old[c]
        r["row_hash"] = ingest._hash_row(*(ingest._hash_value(r.get(c)) for c in VERSIONED))
    new_keys: set[tuple] = set()
    counts, ids, old_rows = ingest.upsert(conn, st.reviews, ("shop_id", "review_key"), recs, returning=True,
                                          insert_only=("first_seen_at",), progress=progress, inserted=new_keys)
    versions, bumps = [], []
    for r in recs:
        k = (r["shop_id"], r["review_key"])
        old = old_rows.get(k)
        if old is not None:
            if old.get("row_hash") != r["row_hash"]:
                merged = {c: (r.get(c) if r.get(c) is not None else old.get(c)) for c in VERSIONED}
                v = int(old["version"]) + 1
                bumps.append({"_id": old["id"], "version": v})
                versions.append({"review_pk": old["id"], "version": v, **merged, "row_hash": r["row_hash"],
                                 "batch_id": batch_id, "observed_at": now})
        elif k in new_keys:
            versions.append({"review_pk": ids[k], "version": 1, **{c: r.get(c) for c in VERSIONED},
                             "row_hash": r["row_hash"], "batch_id": batch_id, "observed_at": now})
    if bumps:
        conn.execute(st.reviews.update().where(st.reviews.c.id == sa.bindparam("_id")).values(
            version=sa.bindparam("version")), bumps)
    ingest._bulk_insert(conn, st.review_versions, versions)
    return counts


# ----------------------------------------------------------------------------- data
def _rows(n: int, seed: int = 7) -> list[list[str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        created = dt.datetime(2025, 1, 1) + dt.timedelta(seconds=rng.randrange(300 * 86400))
        append = rng.random() < 0.2
        out.append([
            str(10**17 + rng.randrange(10**17)), str(500000000000 + rng.randrange(40)), f"商品{rng.randrange(40)}",
            f"tb{rng.randrange(n // 2 + 1):08d}" if rng.random() < 0.9 else "", rng.choice(["好评", "中评", "差评"]),
            (f"评价内容{i}，质量不错！" if i % 50 else f"第一行{i}\r\n第二行\t制表\\反斜杠 \\N")
            if rng.random() < 0.95 else "评价方未及时做出评价，系统默认好评！",
            created.strftime("%Y-%m-%d %H:%M:%S"),
            f"追评{i}" if append else "",
            (created + dt.timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S") if append else "",
            rng.choice(["甲店", "乙店", "丙店"]),
        ])
    return out


def _write(path: Path, rows: list[list[str]]) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


TABLES = ("shops", "customers", "reviews", "review_versions")


def _dump(store: st.Store) -> dict[str, list[tuple]]:
    out = {}
    with store.read() as conn:
        for name in TABLES:
            t = st.metadata.tables[name]
            out[name] = [tuple(r) for r in conn.execute(sa.select(t).order_by(t.c.id)).all()]
        b = st.import_batches
        out["import_batches"] = [tuple(r) for r in conn.execute(
            sa.select(b.c.id, b.c.status, b.c.rows_read, b.c.rows_new, b.c.rows_updated, b.c.rows_unchanged,
                      b.c.rows_rejected).order_by(b.c.id)).all()]
    return out


def _both(store: st.Store, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, steps) -> list:
    """Run the same import steps into ``store`` (columnar writer) and a second database (reference writer)."""
    if store.dialect == "sqlite":
        ref = st.Store.open(tmp_path / "reference.db")
    else:
        from sqlalchemy.engine import make_url

        url = make_url(db_url)
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        name = f"{url.database}_ref"
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        ref = st.Store.open(url.set(database=name).render_as_string(hide_password=False))
    ref._pii_key = store.pii_key  # the same keyed hashes of the nicks
    try:
        log = []
        for path, kw in steps:
            with st.clock(AT), monkeypatch.context() as m:
                m.setattr(ingest, "PG_STAGE_KEYS", 100)  # PostgreSQL: stored rows found through a staged key table
                m.setattr(ingest, "BULK_REBUILD_MIN", 100)  # SQLite: secondary indexes rebuilt after a bulk insert
                fast = ingest.import_file(store, path, now=NOW, **kw)
            with monkeypatch.context() as m:
                m.setitem(ingest.WRITERS, "reviews", _ref_write_reviews)
                m.setattr(ingest, "PG_STAGE_KEYS", 10**9)  # the reference: 500 keys per lookup, as before
                with st.clock(AT):
                    slow = ingest.import_file(ref, path, now=NOW, **kw)
            pick = [(r.rows_read, r.rows_new, r.rows_updated, r.rows_unchanged, r.rows_rejected, r.status) for r in fast]
            assert pick == [(r.rows_read, r.rows_new, r.rows_updated, r.rows_unchanged, r.rows_rejected, r.status)
                            for r in slow]
            a, b = _dump(store), _dump(ref)
            for name in a:
                assert a[name] == b[name], name
            log.append((fast[0], a))
        return log
    finally:
        ref.close()
        if store.dialect != "sqlite":
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


def test_columnar_review_import_stores_what_the_row_by_row_import_stored(store, db_url, tmp_path, monkeypatch):
    rows = _rows(1300)
    rows.append(list(rows[10]))                       # an exact repeat within the file
    dup = list(rows[20])
    dup[5] = "同一条评价的另一份文字"                   # the same review twice, other text: the later row wins
    rows.append(dup)
    bad = list(rows[30])
    bad[6] = "2025-13-45 25:61:00"                    # no such time: the row is rejected
    rows.insert(40, bad)
    first = _write(tmp_path / "a.csv", rows)
    # the next export: 追评 on 50 reviews (new versions), 100 new reviews, 60 rows without the 追评 they had
    later = [list(r) for r in rows if r is not bad]
    for r in later[100:150]:
        r[7], r[8] = "用了一周又来追评", r[6].replace("2025", "2025")[:10] + " 23:59:59"
    for r in later:
        if r[7] and not r[7].startswith("用了"):
            r[7] = r[8] = ""
    later += _rows(100, seed=99)
    second = _write(tmp_path / "b.csv", later)
    log = _both(store, db_url, tmp_path, monkeypatch, [
        (first, {"skip_bad_rows": True}),
        (first, {"skip_bad_rows": True}),    # re-import: a no-op
        (second, {}),
        (second, {}),
    ])
    (r1, t1), (r2, t2), (r3, t3), (r4, t4) = log
    assert r1.rows_rejected == 1 and r1.rows_new == 1300  # the repeat and the variant of row 20 are one review each
    assert r2.rows_new == 0 and r2.rows_updated == 0 and r2.rows_unchanged == r1.rows_new
    assert t2["reviews"] == t1["reviews"] and t2["review_versions"] == t1["review_versions"]
    assert r3.rows_new == 100 and r3.rows_updated == 50
    versions = [v for v in t3["review_versions"] if v[2] == 2]
    assert len(versions) == 50 and all(v[4] == "用了一周又来追评" for v in versions)
    # the export without the older 追评 kept it on the review (no version for a missing value)
    had = {r[0]: r[19] for r in t1["reviews"] if r[19] is not None}
    assert had and all(r[19] is not None for r in t3["reviews"] if r[0] in had)
    assert r4.rows_new == r4.rows_updated == 0 and t4["review_versions"] == t3["review_versions"]
    # text with line ends, tabs and backslashes arrives as written (COPY's escapes on PostgreSQL)
    assert "第一行0\r\n第二行\t制表\\反斜杠 \\N" in {r[17] for r in t1["reviews"]}


def test_a_file_with_bad_rows_is_refused_whole_and_writes_nothing(store, tmp_path):
    rows = _rows(600)
    rows[300][6] = "2025-13-45 25:61:00"
    path = _write(tmp_path / "bad.csv", rows)
    with pytest.raises(ingest.ImportRejected) as e:
        ingest.import_file(store, path, now=NOW)
    assert [(p.row, p.code) for p in e.value.problems] == [(302, "bad_datetime")]
    assert {k: v for k, v in store.counts().items() if k in TABLES} == {t: 0 for t in TABLES}


def test_version_hashes_match_the_row_hash(store):
    frame = pd.DataFrame({
        "content": pd.Series(["好", None, "x\x1fy"], dtype=object),
        "append_created_at": pd.Series([pd.Timestamp("2025-03-05 06:22:01", tz="UTC"), pd.NaT,
                                        pd.Timestamp("2025-03-05 14:22:01.5", tz="Asia/Shanghai")]),
        "rating_raw": pd.Series(["好评", "5", None], dtype="str"),
    })
    recs = ingest._records(frame, frame.columns)
    want = [ingest._hash_row(*(ingest._hash_value(r.get(c)) for c in ingest.VERSIONED)) for r in recs]
    assert ingest._version_hashes(frame, 3) == want


def test_stages_are_told_from_the_start_and_progress_counts_every_written_row(store, tmp_path, capsys):
    rows = _rows(700)
    path = _write(tmp_path / "p.csv", rows)
    seen: list[tuple[str, int | None]] = []
    done: list[int] = []
    ingest.import_file(store, path, now=NOW, stage=lambda name, n: seen.append((name, n)), progress=done.append)
    assert seen == [("reading", None), ("checking", 701), ("writing", 700)]
    assert sum(done) == 700
    # again: every row is unchanged and still counted
    seen.clear()
    done.clear()
    ingest.import_file(store, path, now=NOW, stage=lambda name, n: seen.append((name, n)), progress=done.append)
    assert [s[0] for s in seen] == ["reading", "checking", "writing"] and sum(done) == 700
    # the command line's bar: shown with its stage before the first row is written
    res = ingest.import_paths(store, [path], now=NOW, progress=True)
    assert res[0].rows_unchanged == 700
    err = capsys.readouterr().err
    assert ingest.STAGE_ZH["reading"] in err and ingest.STAGE_ZH["writing"] in err


def _indexes(store: st.Store) -> list[tuple]:
    with store.read() as conn:
        return conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'reviews' "
                                    "ORDER BY name").all()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_bulk_insert_rebuilds_the_secondary_indexes_and_a_failure_keeps_them(store, tmp_path, monkeypatch):
    before = _indexes(store)
    assert [n for n, sql in before if sql] == ["ix_reviews_created", "ix_reviews_created_at", "ix_reviews_order"]
    monkeypatch.setattr(ingest, "BULK_REBUILD_MIN", 100)
    path = _write(tmp_path / "bulk.csv", _rows(400))
    real = ingest._insert_columns

    def fail_in_reviews(conn, table, *a, **kw):
        if table is st.reviews:
            dropped = conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name = 'ix_reviews_order'").scalar()
            assert dropped == 0  # the index is gone while the rows go in ...
            raise RuntimeError("disk full")
        return real(conn, table, *a, **kw)

    monkeypatch.setattr(ingest, "_insert_columns", fail_in_reviews)
    with pytest.raises(RuntimeError):
        ingest.import_file(store, path, now=NOW)
    assert _indexes(store) == before  # ... and back with the rollback
    monkeypatch.setattr(ingest, "_insert_columns", real)
    assert ingest.import_file(store, path, now=NOW)[0].rows_new == 400
    assert _indexes(store) == before
    with store.read() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN SELECT id FROM reviews WHERE shop_id = 1 AND order_id = 'x'").all()
        assert "ix_reviews_order" in str(plan)
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


@pytest.mark.parametrize("free_text", [False, True])
def test_the_quick_path_of_clean_cells_gives_what_the_cell_rule_gives(free_text):
    rng = random.Random(5)
    alpha = [*"ab1 \t\u3000'\"=-—NAnul#/\u200b\uff21中文，！\x1c\x1f\r\n\xa0", "null", "NA", "N/A", "--", '="']
    values = ["".join(rng.choice(alpha) for _ in range(rng.randrange(0, 6))) for _ in range(50_000)]
    values += [None, 1.5, float("nan"), 3, "2025-01-01 10:00:00", "订单号", " 12 "]
    assert clean._clean_all(values, free_text) == [clean.clean_cell(v, free_text) for v in values]
    # and through clean_cells, factorised (a long column with repeats) or not
    col = pd.Series(values * 2, dtype=object)
    assert clean.clean_cells(col, free_text=free_text).tolist() == [clean.clean_cell(v, free_text) for v in values * 2]


def test_csv_lines_are_split_where_a_text_stream_splits_them():
    import io

    from reviewops.intake import readers

    texts = ["", "a", "a\n", "a\r\nb\rc\nd", "a\r\r\n\n", 'x\u2028y\x1cz\x85\n"q\r\nw"\r\n', "\n\n", "\r", "abc\r\n",
             "a,b\n\"multi\nline\",2\r\n"]
    for t in texts:
        assert list(readers._lines(t)) == list(io.StringIO(t, newline="")), t
    t = readers.read_bytes('订单编号,评价内容\r\n1,"第一行\r\n第二行"\r\n2,x\u2028y\r\n'.encode(), "f.csv")[0]
    assert t.rows == [["订单编号", "评价内容"], ["1", "第一行\r\n第二行"], ["2", "x\u2028y"]]
    with pytest.raises(readers.UnsupportedFile):
        readers.read_bytes(b" \r\n\t\x0b\x0c ", "empty.csv")


_CHILD = """
import sys
import reviewops.intake.ingest as ingest
from reviewops.core.store import Store
ingest.BULK_REBUILD_MIN = 100  # the bulk path: secondary indexes dropped while the rows go in
with Store.open(sys.argv[1]) as s:
    ingest.import_file(s, sys.argv[2])
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_kill_minus_9_while_the_indexes_are_dropped_leaves_the_store_as_it_was(db_url, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    st.Store.open(db_url).close()
    with st.Store.open(db_url) as s:
        before = _indexes(s)
    path = _write(tmp_path / "kill.csv", _rows(2500))
    marker = tmp_path / "paused"
    env = {**os.environ, ingest.ENV_PAUSE_AT_ROW: "1200", ingest.ENV_PAUSE_FILE: str(marker)}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, db_url, str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (marker.exists() and marker.read_text()):
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the child did not pause"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    with st.Store.open(db_url) as s:
        counts = s.counts()
        assert [counts[t] for t in ("reviews", "review_versions", "customers", "import_batches")] == [0, 0, 0, 0]
        assert _indexes(s) == before
        with s.read() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert ingest.import_file(s, path)[0].rows_new == 2500
