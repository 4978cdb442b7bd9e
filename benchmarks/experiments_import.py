#!/usr/bin/env python
"""Measured evidence for the importer optimisation proposals in docs/performance.md.

    python benchmarks/experiments_import.py [--rows 100000] [--repeat 3] [--ref REF] [--only NAME,...]

Every experiment runs the library's **current** function and a candidate
replacement on the same input (taken from a real import of the benchmark CSV,
``datagen.py``), checks that both give the same output, and reports the median
time of each. The candidates live here, not in ``lib/``: they are proposals for
the module owner. ``insert_*`` experiments run a whole ``import_file`` with a
variant of ``ingest.upsert`` (the current source with one change applied) and
compare the resulting databases row for row.

Results: ``benchmarks/results/experiments.json`` and ``experiments.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import inspect
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

import datagen  # noqa: E402

PII_KEY_HEX = "5e" * 32


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def snapshot_lib(ref: str) -> tuple[str, str]:
    commit = _git("rev-parse", "--verify", ref + "^{commit}")
    if not commit:
        raise SystemExit(f"unknown git ref {ref}")
    snap = tempfile.mkdtemp(prefix="reviewops-exp-lib-")
    archive = subprocess.run(["git", "archive", "--format=tar", commit, "lib"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", snap], input=archive, check=True)
    return commit, snap


def timeit(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


# ============================================================== candidate replacements
# --- clean.clean_cells: cheap per-cell guards instead of 5–6 whole-column regex passes
def make_clean_cells_fast(clean: Any) -> Callable[..., Any]:
    import pandas as pd

    zw = str.maketrans("", "", "\u200b\u200c\u200d\u2060\ufeff")
    unwrap_eq = re.compile(r'^="(.*)"$')
    unwrap_q = re.compile(r'^"(.*)"$')
    formula = clean._FORMULA_ESCAPED
    nulls = clean.NULL_TOKENS
    normalize = unicodedata.normalize

    def one(v: Any, free_text: bool) -> Any:
        if v is None or v is pd.NA or (v.__class__ is float and v != v):
            return None
        s = v if v.__class__ is str else str(v)
        if not free_text:
            s = normalize("NFKC", s)  # returns s itself when already NFKC (quick check)
        s = s.translate(zw).strip()
        if s.startswith('="'):
            s = unwrap_eq.sub(r"\1", s)
        if free_text:
            if s.startswith("'"):
                s = formula.sub("", s)
            if s.startswith("\t"):
                s = s.lstrip("\t")
        else:
            if s.startswith("'"):
                s = s[1:]
            if s.startswith('"'):
                s = unwrap_q.sub(r"\1", s)
            s = s.strip()
        return None if s in nulls else s

    def clean_cells_fast(raw: Any, *, free_text: bool = False) -> Any:
        return pd.Series([one(v, free_text) for v in raw.tolist()], index=raw.index, dtype=object)

    return clean_cells_fast


CLEAN_EDGE_CASES = [
    None, "", " ", "-", "--", "—", "NA", "N/A", "null", "NULL", "None", "nan", "NaN", "#NULL!", "#N/A",
    '="2841234567890123456"', '=" 123 "', "'2841234567890123456", "'=1+2", "'+SUM(A1)", "'-3", "'@x", "'\tx",
    '"abc"', '"a"b"', " \u3000x\u200b ", "\u200b", "\ufeffabc", "ｆｕｌｌ１２３", "\t\tfoo", "a\nb", '="a\nb"',
    '"a\nb"', "''x", "x'", '=""', '""', "'", "好评", "  差评 ", "tb1234567890", "2025-01-01 10:00:00",
    "２０２５－０１－０１", "①", "ﾊﾝｶｸ", "\u00a0x\u00a0", "x\u2028y", '="-"', '"NULL"', "' NULL",
]


# --- ingest._records: per-dtype conversion instead of _py() on every value
def make_records_fast(ingest: Any) -> Callable[..., Any]:
    import numpy as np
    import pandas as pd

    _py = ingest._py
    na, nat = pd.NA, pd.NaT

    def column(s: Any) -> list[Any]:
        dtype = s.dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            return [None if x is nat else x for x in s.dt.to_pydatetime().tolist()]
        if dtype == object:
            return [x if x.__class__ is str or x is None else _py(x) for x in s.tolist()]
        if dtype.kind in "iub" and isinstance(dtype, np.dtype):
            return s.tolist()  # Python ints / bools, as _py(x.item()) gives
        return [_py(x) for x in s.astype(object)]

    def records_fast(df: Any, cols: Any) -> list[dict[str, Any]]:
        cols = [c for c in cols if c in df.columns]
        arrays = [column(df[c]) for c in cols]
        return [dict(zip(cols, vals)) for vals in zip(*arrays)]

    return records_fast


# --- privacy.keyed_hash: hash each distinct value once
def make_keyed_hash_fast(privacy: Any) -> Callable[..., Any]:
    import pandas as pd

    def keyed_hash_fast(values: Any, key: bytes) -> Any:
        def h(v: Any) -> Any:
            return hashlib.blake2b(str(v).encode("utf-8"), key=key, digest_size=16).hexdigest()

        lst = values.tolist()
        cache: dict[Any, Any] = {}
        out = []
        for v in lst:
            if v is None or v is pd.NA or (isinstance(v, float) and v != v):
                out.append(None)
                continue
            r = cache.get(v)
            if r is None:
                r = cache[v] = h(v)
            out.append(r)
        return pd.Series(out, index=values.index, dtype=object)

    return keyed_hash_fast


# --- clean.is_default_review: one Python pass instead of normalize + strip + isin + regex contains
def make_is_default_fast(clean: Any) -> Callable[..., Any]:
    import pandas as pd

    defaults = frozenset(unicodedata.normalize("NFKC", t).strip() for t in clean.DEFAULT_REVIEW_TEXTS)

    def is_default_fast(content: Any) -> Any:
        out = []
        for v in content.tolist():
            if v is None or v is pd.NA or (v.__class__ is float and v != v):
                t = ""
            else:
                t = unicodedata.normalize("NFKC", str(v)).strip()
            out.append(t in defaults or "系统默认好评" in t or "系统默认评论" in t)
        return pd.Series(out, index=content.index, dtype=bool)

    return is_default_fast


# --- readers.read_workbook: skip _cell_text() for plain non-empty strings
def make_read_workbook_fast(readers: Any) -> Callable[..., Any]:
    import io

    def read_workbook_fast(data: bytes, source: str, ftype: str) -> list[Any]:
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        out = []
        ct = readers._cell_text
        for name in wb.sheet_names:
            sheet = wb.get_sheet_by_name(name)
            rows = [[c if (c.__class__ is str and c) else ct(c) for c in r]
                    for r in sheet.to_python(skip_empty_area=False)]
            out.append(readers.RawTable(source, name, ftype, None, rows))
        return out

    return read_workbook_fast


# --- ingest.upsert variants, made from the current source so that only the named change differs
UPSERT_RETURNING_BLOCK = """        if returning:
            stmt = table.insert().returning(table.c.id, *key_cols, sort_by_parameter_order=True)
            for row in conn.execute(stmt, chunk):
                ids[tuple(row[1:])] = row[0]
        else:
            conn.execute(table.insert(), chunk)
"""
UPSERT_NO_ORDER = UPSERT_RETURNING_BLOCK.replace(", sort_by_parameter_order=True", "")
UPSERT_SELECT_BACK = """        conn.execute(table.insert(), chunk)
        if returning:
            for row in _lookup(conn, table, keys, [tuple(r[c] for c in keys) for r in chunk], ids_only=True):
                ids[tuple(row[1:])] = row[0]
"""

# the existing-row lookup of upsert: (a, b) IN (VALUES …) makes SQLite SCAN the table for every chunk of 400
# keys; equality on the leading key columns + IN on the last one uses the UNIQUE index instead
UPSERT_LOOKUP_OLD = """            q = sa.select(table).where(sa.tuple_(*key_cols).in_(chunk))
            for row in conn.execute(q).mappings():
"""
UPSERT_LOOKUP_NEW = """            for row in _lookup(conn, table, keys, chunk):
"""


def _lookup_factory() -> Callable[..., Any]:
    import sqlalchemy as sa

    def lookup(conn: Any, table: Any, keys: Any, keyvals: list[tuple], ids_only: bool = False) -> Any:
        key_cols = [table.c[k] for k in keys]
        groups: dict[tuple, list[Any]] = {}
        for k in keyvals:
            groups.setdefault(tuple(k[:-1]), []).append(k[-1])
        cols = [table.c.id, *key_cols] if ids_only else [table]
        for prefix, lasts in groups.items():
            for j in range(0, len(lasts), 500):
                q = sa.select(*cols).where(*[c == v for c, v in zip(key_cols[:-1], prefix)],
                                           key_cols[-1].in_(lasts[j:j + 500]))
                res = conn.execute(q)
                yield from (res if ids_only else res.mappings())

    return lookup


UPSERT_RAW = """        _raw_insert(conn, table, chunk)
        if returning:
            for row in _lookup(conn, table, keys, [tuple(r[c] for c in keys) for r in chunk], ids_only=True):
                ids[tuple(row[1:])] = row[0]
"""


def _raw_insert_factory() -> Callable[..., None]:
    """INSERT through the DB-API's executemany with values converted column-wise by the columns' own bind
    processors (so UTCDateTime and Boolean store exactly what SQLAlchemy would), scalar column defaults added."""
    cache: dict[Any, Any] = {}

    def raw_insert(conn: Any, table: Any, chunk: list[dict[str, Any]]) -> None:
        if not chunk:
            return
        cols = tuple(chunk[0])
        key = (table.name, cols, conn.dialect.name)
        plan = cache.get(key)
        if plan is None:
            defaults = {c.name: c.default.arg for c in table.columns
                        if c.name not in cols and c.default is not None and c.default.is_scalar}
            names = list(cols) + list(defaults)
            compiled = table.insert().compile(dialect=conn.dialect, column_keys=names)
            order = list(compiled.positiontup)
            procs = [table.c[n].type._cached_bind_processor(conn.dialect) for n in order]
            plan = cache[key] = (compiled.string, order, procs, defaults)
        sql, order, procs, defaults = plan
        columns = []
        for n, proc in zip(order, procs):
            if n in defaults:
                v = defaults[n]
                columns.append([proc(v) if proc else v] * len(chunk))
            else:
                vals = [r[n] for r in chunk]
                columns.append([proc(v) for v in vals] if proc else vals)
        conn.exec_driver_sql(sql, list(zip(*columns)))

    return raw_insert


def make_existing_rows_indexed(ingest: Any) -> Callable[..., Any]:
    """Candidate for ``ingest._existing_rows`` (commit 66ffc44 and later): equality on the leading key columns and
    IN on the last one, so that SQLite searches the UNIQUE (shop_id, key) index instead of scanning the table
    (tuple IN) or loading every stored row of the shop (more than 5,000 keys)."""
    import sqlalchemy as sa

    def existing_rows(conn: Any, table: Any, keys: Any, wanted: list[tuple], columns: Any = None) -> dict:
        key_cols = [table.c[k] for k in keys]
        sel = [table] if columns is None else [*key_cols, *(table.c[c] for c in columns if c not in keys)]
        groups: dict[tuple, list[Any]] = {}
        for k in wanted:
            groups.setdefault(tuple(k[:-1]), []).append(k[-1])
        out: dict[tuple, dict[str, Any]] = {}
        for prefix, lasts in groups.items():
            for j in range(0, len(lasts), 500):
                q = sa.select(*sel).where(*[c == v for c, v in zip(key_cols[:-1], prefix)],
                                          key_cols[-1].in_(lasts[j:j + 500]))
                for row in conn.execute(q).mappings().all():
                    out[tuple(row[c] for c in keys)] = dict(row)
        return out

    return existing_rows


def make_upsert_variant(ingest: Any, replacement: str | None, lookup: bool = False) -> Callable[..., Any]:
    src = textwrap.dedent(inspect.getsource(ingest.upsert.__wrapped__ if hasattr(ingest.upsert, "__wrapped__")
                                            else ingest.upsert))
    if UPSERT_RETURNING_BLOCK not in src or UPSERT_LOOKUP_OLD not in src:
        raise SystemExit("ingest.upsert changed: a block this experiment replaces is gone")
    if replacement is not None:
        src = src.replace(UPSERT_RETURNING_BLOCK, replacement)
    if lookup:
        src = src.replace(UPSERT_LOOKUP_OLD, UPSERT_LOOKUP_NEW)
    g = dict(ingest.__dict__)
    g["_raw_insert"] = _raw_insert_factory()
    g["_lookup"] = _lookup_factory()
    exec(compile(src, "<upsert variant>", "exec"), g)
    return g["upsert"]


# ============================================================== experiments
def same_series(a: Any, b: Any) -> bool:
    la, lb = list(a), list(b)
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb):
        if x is None or y is None:
            if not (x is None and y is None):
                return False
        elif type(x) is not type(y) or x != y:
            return False
    return list(a.index) == list(b.index)


def same_records(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b):
        if list(ra) != list(rb):
            return False
        for k in ra:
            x, y = ra[k], rb[k]
            if type(x) is not type(y) or x != y:
                return False
    return True


def capture_import(path: Path, db: str) -> dict[str, Any]:
    """A real import that keeps the inputs of the functions the experiments replace."""
    from reviewops import clean, ingest, privacy
    from reviewops.store import Store

    cap: dict[str, Any] = {"clean_cells": [], "keyed_hash": [], "records": [], "is_default": []}
    saved = {}

    def spy(owner: Any, name: str, key: str, pick: Callable[..., Any]) -> None:
        orig = getattr(owner, name)
        saved[(owner, name)] = orig

        def w(*a: Any, **kw: Any) -> Any:
            cap[key].append(pick(*a, **kw))
            return orig(*a, **kw)
        setattr(owner, name, w)

    spy(clean, "clean_cells", "clean_cells", lambda raw, free_text=False: (raw.copy(), free_text))
    spy(privacy, "keyed_hash", "keyed_hash", lambda values, key: (values.copy(), key))
    spy(ingest, "_records", "records", lambda df, cols: (df.copy(), list(cols)))
    spy(clean, "is_default_review", "is_default", lambda content: content.copy())
    orig_writer = ingest.WRITERS["reviews"]

    def writer(conn: Any, p: Any, good: Any, batch_id: int, progress: Any) -> Any:
        cap["good"] = good.copy()
        return orig_writer(conn, p, good, batch_id, progress)
    ingest.WRITERS["reviews"] = writer
    try:
        with Store.open(db) as store:
            ingest.import_file(store, path)
    finally:
        for (owner, name), orig in saved.items():
            setattr(owner, name, orig)
        ingest.WRITERS["reviews"] = orig_writer
    return cap


NOW_COLUMNS = {("customers", "created_at"), ("reviews", "first_seen_at"), ("review_versions", "observed_at")}


def db_digest(db: str) -> dict[str, str]:
    """Row count and hash of every column of the written tables, except the 'now' timestamps of the import."""
    import sqlite3

    con = sqlite3.connect(db)
    out = {}
    for table in ("customers", "reviews", "review_versions"):
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})") if (table, r[1]) not in NOW_COLUMNS]
        order = "id"
        if table == "review_versions":  # its own ids follow set iteration order; (review_pk, version) is the key
            cols.remove("id")
            order = "review_pk, version"
        h = hashlib.sha256()
        n = 0
        for row in con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}"):
            h.update(repr(row).encode())
            n += 1
        out[table] = f"{n}:{h.hexdigest()[:16]}"
    con.close()
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd

    from reviewops import clean, ingest, privacy, readers
    from reviewops.store import Store

    n = args.rows
    csv_path = datagen.write_csv(HERE / "data" / f"taobao_reviews_{n}.csv", n, args.seed)
    only = set(args.only.split(",")) if args.only else None
    want = (lambda name: only is None or name in only)
    tmp = tempfile.mkdtemp(prefix="reviewops-exp-")
    exps: list[dict[str, Any]] = []

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    def add(name: str, target: str, change: str, cur: float, new: float, equal: bool, note: str = "") -> None:
        exps.append({"name": name, "target": target, "change": change, "current_seconds": cur,
                     "candidate_seconds": new, "saving_seconds": cur - new, "speedup": cur / new if new else None,
                     "same_output": equal, "note": note})
        log(f"{name}: {cur:.3f}s → {new:.3f}s (same output: {equal}) {note}")

    try:
        micro = ("clean_cells", "keyed_hash", "records", "is_default_review", "iso_keys", "columns")
        cap: dict[str, Any] = {}
        if any(want(m) for m in micro):
            cap = capture_import(csv_path, str(Path(tmp) / "capture.db"))
            log(f"captured inputs from a real import of {n:,} rows")

        if want("clean_cells"):
            fast = make_clean_cells_fast(clean)
            edge = pd.Series(CLEAN_EDGE_CASES, dtype=object)
            edge_ok = all(same_series(clean.clean_cells(edge, free_text=ft), fast(edge, free_text=ft)) for ft in (False, True))
            cur_total = new_total = 0.0
            equal = edge_ok
            for raw, ft in cap["clean_cells"]:
                c, a = timeit(lambda: clean.clean_cells(raw, free_text=ft), args.repeat)
                f, b = timeit(lambda: fast(raw, free_text=ft), args.repeat)
                cur_total += c
                new_total += f
                equal = equal and same_series(a, b)
            add("clean_cells", "reviewops.clean.clean_cells (all 10 columns)",
                "one Python pass per cell: NFKC (no-op when already normalised), str.translate for zero-width "
                "characters, and the unwrap/strip regexes only when the cell starts with =\" ' or \"",
                cur_total, new_total, equal, f"{len(CLEAN_EDGE_CASES)} edge cases also identical: {edge_ok}")

        if want("keyed_hash"):
            fast = make_keyed_hash_fast(privacy)
            cur_total = new_total = 0.0
            equal = True
            for values, key in cap["keyed_hash"]:
                c, a = timeit(lambda: privacy.keyed_hash(values, key), args.repeat)
                f, b = timeit(lambda: fast(values, key), args.repeat)
                cur_total += c
                new_total += f
                equal = equal and same_series(a, b)
            distinct = sum(v.nunique() for v, _ in cap["keyed_hash"])
            add("keyed_hash", "reviewops.privacy.keyed_hash", "hash each distinct value once (dict cache)",
                cur_total, new_total, equal, f"{distinct:,} distinct of {sum(len(v) for v, _ in cap['keyed_hash']):,} values")

        if want("records"):
            fast = make_records_fast(ingest)
            cur_total = new_total = 0.0
            equal = True
            for df, cols in cap["records"]:
                c, a = timeit(lambda: ingest._records(df, cols), args.repeat)
                f, b = timeit(lambda: fast(df, cols), args.repeat)
                cur_total += c
                new_total += f
                equal = equal and same_records(a, b)
            add("records", "reviewops.ingest._records",
                "convert per column by dtype (tolist / dt.to_pydatetime; _py only for non-str objects)",
                cur_total, new_total, equal)

        if want("is_default_review"):
            fast = make_is_default_fast(clean)
            content = cap["is_default"][0]
            edge = pd.Series([None, "系统默认好评", " 评价方未及时做出评价,系统默认好评! ", "评价方未及时做出评价，系统默认好评！",
                              "好", "此用户没有填写评价。", "ｘ系统默认评论ｙ", "系统默认"], dtype=object)
            edge_ok = clean.is_default_review(edge).tolist() == fast(edge).tolist()
            c, a = timeit(lambda: clean.is_default_review(content), args.repeat)
            f, b = timeit(lambda: fast(content), args.repeat)
            add("is_default_review", "reviewops.clean.is_default_review",
                "one Python pass: NFKC+strip, set membership and two substring tests", c, f,
                a.tolist() == b.tolist() and edge_ok)

        if want("iso_keys"):
            good = cap["good"]
            c, a = timeit(lambda: good["created_at"].map(ingest._iso), args.repeat)
            f, b = timeit(lambda: good["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object)
                          .where(good["created_at"].notna(), ""), args.repeat)
            add("iso_keys", "ingest._write_reviews: created = df['created_at'].map(_iso)",
                "vectorised .dt.strftime('%Y-%m-%dT%H:%M:%S') (NaT → '')", c, f, a.tolist() == b.tolist())

        if want("columns"):
            table = readers.read_path(csv_path)[0]
            rows = table.rows[1:]
            width = len(table.rows[0])

            def current() -> list[Any]:
                data_rows = []
                for row in rows:  # the row filter of prepare_table, verbatim
                    if not any(c is not None and str(c).strip() for c in row):
                        continue
                    first = next((str(c).strip() for c in row if c is not None and str(c).strip()), "")
                    if ingest.TOTAL_ROW.match(first.lstrip("\t'=\"")):
                        continue
                    if len(row) != width:
                        continue
                    data_rows.append(row)
                idx = pd.RangeIndex(len(data_rows))
                return [pd.Series([r[i] for r in data_rows], index=idx, dtype=object) for i in range(width)]

            def candidate() -> list[Any]:
                data_rows = []
                for row in rows:
                    # cells from the readers are str or None: test the first non-blank cell once
                    first = ""
                    for c in row:
                        if c is not None:
                            s = c.strip() if c.__class__ is str else str(c).strip()
                            if s:
                                first = s
                                break
                    if not first:
                        continue
                    if first[0] in "合总總\t'=\"" and ingest.TOTAL_ROW.match(first.lstrip("\t'=\"")):
                        continue
                    if len(row) != width:
                        continue
                    data_rows.append(row)
                idx = pd.RangeIndex(len(data_rows))
                return [pd.Series(col, index=idx, dtype=object) for col in zip(*data_rows)] if data_rows else []

            c, a = timeit(current, args.repeat)
            f, b = timeit(candidate, args.repeat)
            add("columns", "ingest.prepare_table: row filter + col(i) per mapped column",
                "test only the first non-blank cell of a row, and transpose once with zip(*data_rows)",
                c, f, all(same_series(x, y) for x, y in zip(a, b)) and len(a) == len(b),
                "the row-width and totals-row checks are kept")

        if want("read_workbook") and args.xlsx_rows:
            xpath = datagen.write_xlsx(HERE / "data" / f"taobao_reviews_{args.xlsx_rows}.xlsx", args.xlsx_rows, args.seed)
            data = xpath.read_bytes()
            fast = make_read_workbook_fast(readers)
            c, a = timeit(lambda: readers.read_workbook(data, xpath.name, "xlsx"), args.repeat)
            f, b = timeit(lambda: fast(data, xpath.name, "xlsx"), args.repeat)
            from python_calamine import CalamineWorkbook

            r, _ = timeit(lambda: CalamineWorkbook.from_path(str(xpath)).get_sheet_by_index(0).to_python(), args.repeat)
            add("read_workbook", f"reviewops.readers.read_workbook ({args.xlsx_rows:,}-row XLSX)",
                "pass non-empty str cells through without _cell_text()", c, f,
                [t.rows for t in a] == [t.rows for t in b], f"raw calamine to_python(): {r:.3f}s")

        if want("reimport_lookup") and hasattr(ingest, "_existing_rows"):
            log("reimport_lookup: skipped — this commit has ingest._existing_rows (see incremental_lookup)")
        elif want("reimport_lookup"):
            orig = ingest.upsert
            variant = make_upsert_variant(ingest, None, lookup=True)
            times: dict[str, list[float]] = {"current": [], "candidate": []}
            digests: dict[str, dict[str, str]] = {}
            first: list[float] = []
            for i in range(args.repeat):
                for label, fn in (("current", orig), ("candidate", variant)):
                    db = str(Path(tmp) / f"reimport-{label}-{i}.db")
                    os.environ["REVIEWOPS_PII_KEY"] = PII_KEY_HEX
                    with Store.open(db) as store:
                        t0 = time.perf_counter()
                        ingest.import_file(store, csv_path)
                        first.append(time.perf_counter() - t0)
                        ingest.upsert = fn
                        try:
                            t0 = time.perf_counter()
                            res = ingest.import_file(store, csv_path)
                            times[label].append(time.perf_counter() - t0)
                        finally:
                            ingest.upsert = orig
                    assert res[0].rows_unchanged == n and res[0].rows_new == 0, res[0]
                    digests[label] = db_digest(db)
                    for suffix in ("", "-wal", "-shm"):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(db + suffix)
            add("reimport_lookup", "reviewops.ingest.upsert existing-row lookup (re-importing the same file)",
                "replace sa.tuple_(*key_cols).in_(chunk) — on SQLite a full SCAN of the table per chunk of 400 keys "
                "(EXPLAIN QUERY PLAN) — by equality on the leading key columns + IN on the last one (uses the "
                "UNIQUE index)", statistics.median(times["current"]), statistics.median(times["candidate"]),
                digests["current"] == digests["candidate"],
                f"second import of the same {n:,} rows (all unchanged); the first import took "
                f"{statistics.median(first):.2f}s; cost of the current lookup grows with rows in the file × rows "
                f"already stored")

        if want("incremental_lookup") and hasattr(ingest, "_existing_rows"):
            base_n = args.base_rows
            base_csv = datagen.write_csv(HERE / "data" / f"taobao_reviews_{base_n}.csv", base_n, args.seed)
            base_db = str(Path(tmp) / "base.db")
            os.environ["REVIEWOPS_PII_KEY"] = PII_KEY_HEX
            with Store.open(base_db) as store:
                t0 = time.perf_counter()
                ingest.import_file(store, base_csv)
                log(f"incremental_lookup: base store of {base_n:,} reviews built in {time.perf_counter() - t0:.1f}s")
            candidate_fn = make_existing_rows_indexed(ingest)
            orig_fn = ingest._existing_rows
            for m in (4000, 6000):
                new_csv = datagen.write_csv(HERE / "data" / f"taobao_reviews_{m}_seed{args.seed + 1}.csv", m,
                                            args.seed + 1)
                times = {"current": [], "candidate": []}
                digests = {}
                for i in range(args.repeat):
                    for label, fn in (("current", orig_fn), ("candidate", candidate_fn)):
                        db = str(Path(tmp) / f"inc-{m}-{label}-{i}.db")
                        shutil.copyfile(base_db, db)
                        ingest._existing_rows = fn
                        try:
                            with Store.open(db) as store:
                                t0 = time.perf_counter()
                                res = ingest.import_file(store, new_csv)
                                times[label].append(time.perf_counter() - t0)
                        finally:
                            ingest._existing_rows = orig_fn
                        assert res[0].rows_new == m, res[0]
                        digests[label] = db_digest(db)
                        for suffix in ("", "-wal", "-shm"):
                            with contextlib.suppress(FileNotFoundError):
                                os.unlink(db + suffix)
                path_desc = "≤ 5,000 keys: (shop_id, key) IN (VALUES …) per 400 keys = a table SCAN each" if m <= 5000 \
                    else "> 5,000 keys: SELECT every stored row of the shop(s), all columns, filtered in Python"
                add(f"incremental_lookup_{m}", "reviewops.ingest._existing_rows (import of new rows into a filled store)",
                    "equality on the leading key columns + IN (≤ 500) on the last one, which uses the UNIQUE index",
                    statistics.median(times["current"]), statistics.median(times["candidate"]),
                    digests["current"] == digests["candidate"],
                    f"whole import_file of {m:,} new reviews into a store holding {base_n:,}; current path: {path_desc}")

        import sqlalchemy as sa

        new_code = hasattr(ingest, "_existing_rows")
        if new_code:  # commit 66ffc44 and later: clean_cells, _records and the inserts were already reworked
            combined = [(privacy, "keyed_hash", make_keyed_hash_fast(privacy)),
                        (clean, "is_default_review", make_is_default_fast(clean)),
                        (ingest, "_existing_rows", make_existing_rows_indexed(ingest))]
            combined_text = ("all of: keyed_hash, is_default_review, incremental_lookup and sqlite_cache_size "
                             "candidates at once (monkeypatched)")
        else:
            combined = [(clean, "clean_cells", make_clean_cells_fast(clean)),
                        (privacy, "keyed_hash", make_keyed_hash_fast(privacy)),
                        (ingest, "_records", make_records_fast(ingest)),
                        (clean, "is_default_review", make_is_default_fast(clean))]
            combined_text = ("all of: clean_cells, keyed_hash, records, is_default_review, insert_no_order and "
                             "sqlite_cache_size candidates at once (monkeypatched; prepare_table/_write_reviews "
                             "bodies unchanged)")
        for name, repl, pragma, change, *extra in (
            ("combined", None if new_code else UPSERT_NO_ORDER, "PRAGMA cache_size=-262144", combined_text,
             combined),
            ("insert_no_order", UPSERT_NO_ORDER, None,
             "drop sort_by_parameter_order=True from the INSERT … RETURNING (ids are matched by the returned key "
             "columns anyway); SQLAlchemy then batches the VALUES instead of one INSERT per row on SQLite"),
            ("insert_select_back", UPSERT_SELECT_BACK, None,
             "plain executemany INSERT without RETURNING, then SELECT id + key columns back in chunks of 400"),
            ("insert_raw_executemany", UPSERT_RAW, None,
             "INSERT via conn.exec_driver_sql(sql, tuples) = DB-API executemany, values converted column-wise by "
             "the columns' bind processors, then SELECT id + key columns back in chunks of 400"),
            ("sqlite_cache_size", None, "PRAGMA cache_size=-262144",
             "PRAGMA cache_size=-262144 (256 MiB page cache instead of the 2 MiB default) on the store's SQLite "
             "connections; code unchanged"),
        ):
            if not want(name):
                continue
            orig = ingest.upsert
            try:
                variant = make_upsert_variant(ingest, repl) if repl else orig
            except SystemExit as e:
                log(f"{name}: skipped — {e}")
                continue
            patches = extra[0] if extra else []
            times: dict[str, list[float]] = {"current": [], "candidate": []}
            totals: dict[str, list[float]] = {"current": [], "candidate": []}
            driver: dict[str, list[float]] = {"current": [], "candidate": []}
            digests: dict[str, dict[str, str]] = {}
            for i in range(args.repeat):
                for label, fn in (("current", orig), ("candidate", variant)):
                    spent = [0.0]
                    in_driver = [0.0]
                    starts: list[float] = []

                    def timed(*a: Any, _fn: Any = fn, **kw: Any) -> Any:
                        t0 = time.perf_counter()
                        try:
                            return _fn(*a, **kw)
                        finally:
                            spent[0] += time.perf_counter() - t0
                    db = str(Path(tmp) / f"{name}-{label}-{i}.db")
                    ingest.upsert = timed
                    undo = []
                    if label == "candidate":
                        for owner, attr, value in patches:
                            undo.append((owner, attr, getattr(owner, attr)))
                            setattr(owner, attr, value)
                    try:
                        os.environ["REVIEWOPS_PII_KEY"] = PII_KEY_HEX
                        with Store.open(db) as store:
                            if pragma and label == "candidate":
                                sa.event.listen(store.engine, "connect",
                                                lambda dbapi_conn, rec: dbapi_conn.execute(pragma))
                                store.engine.dispose()

                            @sa.event.listens_for(store.engine, "before_cursor_execute")
                            def _b(*a: Any) -> None:
                                starts.append(time.perf_counter())

                            @sa.event.listens_for(store.engine, "after_cursor_execute")
                            def _a(conn: Any, cursor: Any, statement: str, *a: Any) -> None:
                                d = time.perf_counter() - starts.pop()
                                if statement.lstrip().upper().startswith("INSERT"):
                                    in_driver[0] += d
                            t0 = time.perf_counter()
                            res = ingest.import_file(store, csv_path)
                            totals[label].append(time.perf_counter() - t0)
                    finally:
                        ingest.upsert = orig
                        for owner, attr, value in undo:
                            setattr(owner, attr, value)
                    assert res[0].rows_new == n, res[0]
                    times[label].append(spent[0])
                    driver[label].append(in_driver[0])
                    digests[label] = db_digest(db)
                    for suffix in ("", "-wal", "-shm"):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(db + suffix)
            med = {k: statistics.median(v) for k, v in times.items()}
            tot = {k: statistics.median(v) for k, v in totals.items()}
            drv = {k: statistics.median(v) for k, v in driver.items()}
            same = digests["current"] == digests["candidate"]
            note = ("" if same else f"DIFFERENT TABLES: current {digests['current']} ") + (f"whole import_file {tot['current']:.2f}s → {tot['candidate']:.2f}s; time inside sqlite3 for all "
                    f"INSERTs {drv['current']:.2f}s → {drv['candidate']:.2f}s; tables {digests['candidate']}")
            if name == "combined":
                add(name, "whole reviewops.ingest.import_file", change, tot["current"], tot["candidate"],
                    digests["current"] == digests["candidate"], note)
            elif repl:
                add(name, "reviewops.ingest.upsert (all upsert calls of one import: reviews + customers)", change,
                    med["current"], med["candidate"], digests["current"] == digests["candidate"], note)
            else:
                add(name, "reviewops.store (SQLite connection setup); measured on the whole import_file", change,
                    tot["current"], tot["candidate"], digests["current"] == digests["candidate"], note)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"rows": n, "xlsx_rows": args.xlsx_rows, "repeat": args.repeat, "experiments": exps}


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# Importer optimisation experiments ({result['finished']})", "",
             f"Command: `{result['command']}`", "",
             f"reviewops lib/ at `{result['git_commit'][:10]}` ({result['lib']}); {result['rows']:,}-row CSV; "
             f"medians of {result['repeat']} runs; load average at start {result['load1']:.1f}.", "",
             "| experiment | function | change | current | candidate | saving | speed-up | same output |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for e in sorted(result["experiments"], key=lambda e: -e["saving_seconds"]):
        lines.append(f"| {e['name']} | `{e['target']}` | {e['change']} | {e['current_seconds']:.2f} s | "
                     f"{e['candidate_seconds']:.2f} s | {e['saving_seconds']:.2f} s | {e['speedup']:.1f}× | "
                     f"{'yes' if e['same_output'] else '**NO**'} |")
    notes = [f"- {e['name']}: {e['note']}" for e in result["experiments"] if e["note"]]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--xlsx-rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--base-rows", type=int, default=200_000,
                    help="reviews already in the store for the incremental_lookup experiment")
    ap.add_argument("--seed", type=int, default=datagen.DEFAULT_SEED)
    ap.add_argument("--ref", help="run against lib/ as committed at this git ref (snapshot on sys.path)")
    ap.add_argument("--only", help="comma-separated experiment names")
    ap.add_argument("--out", type=Path, default=RESULTS / "experiments.json")
    args = ap.parse_args(argv)
    snap = None
    commit = _git("rev-parse", "HEAD")
    lib = "working tree"
    if args.ref:
        commit, snap = snapshot_lib(args.ref)
        sys.path.insert(0, str(Path(snap) / "lib"))
        lib = f"snapshot of lib/ at {commit}"
    load = os.getloadavg()[0]
    try:
        import reviewops

        print(f"reviewops from {reviewops.__file__}", flush=True)
        result = run(args)
    finally:
        if snap:
            shutil.rmtree(snap, ignore_errors=True)
    result.update({"finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "git_commit": commit, "lib": lib,
                   "load1": load,
                   "command": shlex.join(["python", "benchmarks/experiments_import.py",
                                          *(argv if argv is not None else sys.argv[1:])])})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    md = markdown(result)
    args.out.with_suffix(".md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
