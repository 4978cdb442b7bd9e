"""I-02: deterministic fuzzing of the importer with malformed variants of a CSV and an XLSX seed.

Every variant (byte flips, insertions, deletions, truncation, stray quotes/NUL/CR, line
duplication and swaps, header reordering, missing and duplicated columns) is imported
through ``reviewops.intake.ingest.import_file`` — a sample also through the CLI — into one
SQLite store. Each outcome must be one of:

* an import identical to the seed's (or, where the variant provably changes the data,
  the seed with exactly that change: the mutated row, the dropped optional column);
* a ReviewOpsError (ImportRejected / UnknownLayout / UnsupportedFile) whose problems name
  the file, the row and the column with a Chinese and an English reason — and then the
  store's row counts are unchanged (zero rows written).

Never another exception, never a traceback from the CLI, never a silently different shape.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re

import openpyxl
import pytest
import sqlalchemy as sa

from reviewops import ImportRejected, Store, UnknownLayout, UnsupportedFile, import_file
from reviewops.core import store as st
from reviewops.cli import main

pytestmark = pytest.mark.slow

HEADER = ["订单编号", "买家昵称", "评价结果", "评价内容", "评价时间", "宝贝标题", "追评内容", "追评时间", "解释内容"]
ROWS = [
    ["2841234567890123456", "张三", "差评", "杯子漏水，盖子也松", "2024-03-05 14:22:00", "保温杯500ml", "", "", ""],
    ["3912345678901234561", "tb_李四", "好评", '很好，"引号"和,逗号\n第二行', "2024/3/6 9:01", "保温杯", "追评：还行",
     "2024-03-09 10:00:00", "感谢支持"],
    ["1823456789012345672", "王**", "中评", "一般般", "2024年3月7日 08:00:00", "水杯", "", "", ""],
    ["5734567890123456783", "赵六", "差评", "=HYPERLINK(\"http://x\",\"点我\")", "2024-03-08 20:00:00", "水杯",
     "客服态度差", "2024-03-10 11:11:11", "已联系"],
    ["4645678901234567894", "钱七", "star1", "物流太慢了，包装破损", "2024-03-08 21:30:05", "杯盖", "", "", ""],
    ["6556789012345678905", "孙八", "好评", "😀 不错", "2024-03-09 07:00:00", "杯盖", "", "", ""],
]
# which stored review columns each header feeds (a dropped optional column nulls exactly these)
FEEDS = {
    "订单编号": ("order_id", "review_key"), "买家昵称": ("buyer_nick_masked", "customer_id"),
    "评价结果": ("rating_raw", "rating_class", "rating_score"), "评价内容": ("content", "is_default_review"),
    "评价时间": ("created_at",), "宝贝标题": ("product_title",), "追评内容": ("append_content",),
    "追评时间": ("append_created_at",), "解释内容": ("seller_reply",),
}
COLS = ("source_row", "review_key", "order_id", "buyer_nick_masked", "customer_id", "rating_raw", "rating_class",
        "rating_score", "content", "created_at", "product_title", "append_content", "append_created_at",
        "seller_reply", "is_default_review", "version")
N_CSV, N_XLSX, N_CLI = 760, 280, 60
EXPECTED_ERRORS = (ImportRejected, UnknownLayout, UnsupportedFile)
FILE_LEVEL_CODES = {"malformed_file", "too_many_columns", "duplicate_header", "row_width"}


def csv_bytes(header, rows, encoding="gb18030"):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([header, *rows])
    return buf.getvalue().encode(encoding)


def xlsx_bytes(header, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "评价"
    for r in [header, *rows]:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ------------------------------------------------------------------------- mutations
class Variant:
    """One malformed file and what a correct importer may make of it."""

    def __init__(self, data: bytes, op: str, *, touched_rows=None, dropped=(), exact=False, prefix_rows=None,
                 keep_rows=None, span=None):
        self.data = data
        self.span = span                  # (lo, hi) bytes of the seed the mutation hit
        self.keep_rows = keep_rows        # whole lines moved: these seed rows, matched by key, not position
        self.op = op
        self.touched_rows = touched_rows  # Excel rows allowed to differ on success; None: any one row
        self.dropped = dropped            # headers removed (their columns are None on success)
        self.exact = exact                # success must equal the seed exactly
        self.prefix_rows = prefix_rows    # truncated at a row end: these Excel rows only


def _row_spans(data: bytes) -> list[tuple[int, int]]:
    """Byte span of each CSV record (Excel row 1, 2, …) of the seed."""
    text = data.decode("gb18030")
    spans, start, pos, in_q = [], 0, 0, False
    enc_pos = 0
    for ch in text:
        b = len(ch.encode("gb18030"))
        if ch == '"':
            in_q = not in_q
        if ch == "\n" and not in_q:
            spans.append((start, enc_pos + b))
            start = enc_pos + b
        enc_pos += b
        pos += 1
    if start < len(data):
        spans.append((start, len(data)))
    return spans


def _rows_at(spans, lo, hi):
    return {i + 1 for i, (a, b) in enumerate(spans) if a < hi and lo < b or a <= lo < b}


def byte_variants(seed: bytes, rng: random.Random, n: int, spans=None) -> list[Variant]:
    out = []
    specials = [b'"', b"\x00", b"\r", b"\n", b",", b"\xff", b"\x80", b"\t", b"'", b"=", b'""', b"\r\n"]
    for _ in range(n):
        op = rng.choice(["flip", "flip", "insert", "delete", "truncate", "quote", "nul", "cr", "special",
                         "dup_line", "swap_lines", "drop_line"])
        data = bytearray(seed)
        k = rng.randrange(len(data))
        lo, hi = k, k + 1
        if op == "flip":
            for _ in range(rng.randint(1, 3)):
                j = min(len(data) - 1, k + rng.randrange(8))
                data[j] ^= rng.randrange(1, 256)
                hi = max(hi, j + 1)
        elif op == "insert":
            data[k:k] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif op == "delete":
            m = rng.randint(1, 20)
            del data[k:k + m]
            hi = k + m
        elif op == "truncate":
            del data[k:]
            hi = len(seed)
        elif op in ("quote", "nul", "cr", "special"):
            ins = {"quote": b'"', "nul": b"\x00", "cr": b"\r"}.get(op) or rng.choice(specials)
            data[k:k] = ins
        if op in ("dup_line", "swap_lines", "drop_line") and spans:
            lines = [seed[a:b] for a, b in spans]
            i = rng.randrange(len(lines))
            j = rng.randrange(len(lines))
            if op == "dup_line":
                lines.insert(j, lines[i])
            elif op == "swap_lines":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                del lines[i]
            data = bytearray(b"".join(lines))
            keep = set(range(2, len(spans) + 1)) - ({i + 1} if op == "drop_line" else set())
            out.append(Variant(bytes(data), f"{op}({i},{j})", keep_rows=keep))
            continue
        if op in ("dup_line", "swap_lines", "drop_line"):  # xlsx: no lines
            op = "flip"
            data[k] ^= 0x41
        touched = _rows_at(spans, lo, hi) if spans else None
        prefix = None
        if op == "truncate" and spans:
            ends = [b for _, b in spans]
            if k in ends:  # cut exactly at a row end: a genuine shorter file
                prefix = {i + 1 for i, (_, b) in enumerate(spans) if b <= k}
            touched = {i + 1 for i, (a, b) in enumerate(spans) if b > k}
        out.append(Variant(bytes(data), f"{op}@{k}", touched_rows=touched, prefix_rows=prefix, span=(lo, hi)))
    return out


def structural_variants(build, rng: random.Random, n: int) -> list[Variant]:
    """Header reorderings, missing and duplicated columns, rebuilt through the real writer."""
    out = []
    for _ in range(n):
        op = rng.choice(["reorder", "reorder", "drop", "dup", "drop_reorder"])
        idx = list(range(len(HEADER)))
        dropped: tuple[str, ...] = ()
        if op in ("reorder", "drop_reorder"):
            rng.shuffle(idx)
        if op in ("drop", "drop_reorder"):
            gone = rng.choice(idx)
            idx.remove(gone)
            dropped = (HEADER[gone],)
        if op == "dup":
            d = rng.choice(idx)
            idx.insert(rng.randrange(len(idx) + 1), d)
        header = [HEADER[i] for i in idx]
        rows = [[r[i] for i in idx] for r in ROWS]
        out.append(Variant(build(header, rows), f"{op}:{'/'.join(header)}", dropped=dropped,
                           exact=not dropped, touched_rows=set()))
    return out


# ------------------------------------------------------------------------- oracle
def stored(store, shop):
    with store.read() as conn:
        sid = conn.execute(sa.select(st.shops.c.id).where(st.shops.c.name == shop)).scalar_one_or_none()
        if sid is None:
            return {}
        rows = conn.execute(sa.select(*[st.reviews.c[c] for c in COLS]).where(st.reviews.c.shop_id == sid)).all()
    return {r[0]: dict(zip(COLS, r)) for r in rows}


def _has_cjk(s):
    return bool(re.search(r"[\u4e00-\u9fff]", s or ""))


def _has_latin(s):
    return bool(re.search(r"[A-Za-z]{3,}", s or ""))


def check_error(e: Exception, name: str) -> str | None:
    """None when the error is a proper, bilingual, file/row/column-naming one."""
    if not isinstance(e, EXPECTED_ERRORS):
        return f"unexpected {type(e).__name__}: {e!r}"[:400]
    msg = str(e)
    if "Traceback" in msg:
        return "traceback text in the message"
    if isinstance(e, ImportRejected):
        if not e.problems:
            return "ImportRejected without problems"
        for p in e.problems:
            if not p.file.startswith(name):
                return f"problem does not name the file: {p}"
            if not (_has_cjk(p.reason_zh) and _has_latin(p.reason_en)):
                return f"problem reason not bilingual: {p}"
            if p.row is None and p.code not in FILE_LEVEL_CODES:
                return f"value problem without a row: {p}"
            if p.row is not None and p.row < 1:
                return f"row number not 1-based: {p}"
            if (p.code.startswith("bad_") or p.code == "required_empty") and not p.column:
                return f"value problem without a column: {p}"
        return None
    if name not in msg:
        return f"{type(e).__name__} does not name the file: {msg[:200]}"
    if not (_has_cjk(msg) and _has_latin(msg)):
        return f"{type(e).__name__} not bilingual: {msg[:200]}"
    return None


def _header_cells(seed: bytes) -> list[tuple[str, int, int]]:
    """(header, first byte, last byte incl. its comma) of each seed header cell."""
    line = seed.split(b"\r\n", 1)[0]
    out, pos = [], 0
    for cell in line.split(b","):
        out.append((cell.decode("gb18030"), pos, pos + len(cell) + 1))
        pos += len(cell) + 1
    return out


def check_success(v: Variant, got: dict, seed: dict, header_cells) -> str | None:
    """Compare an import of a mutated file with the seed's rows, by content (row numbers may shift)."""
    dropped = set(v.dropped)
    if v.span is not None and header_cells:
        lo, hi = v.span
        dropped |= {h for h, a, b in header_cells if a < hi and lo < b}  # a damaged header is an unknown column
    nulled = {c for h in dropped for c in FEEDS[h]}
    derived = {"review_key", "customer_id", "is_default_review", "rating_class", "rating_score"}
    for g in got.values():
        for c in nulled - derived:
            if v.dropped and c in {x for h in v.dropped for x in FEEDS[h]} and g[c] is not None:
                return f"column {c} of a dropped header still filled: {g[c]!r}"

    def same(g, w):
        # a damaged header may still be recognised (quotes and spaces are normalised away): value or nothing
        return all(g[c] == w[c] or (c in nulled and g[c] is None) for c in COLS
                   if c not in ("source_row", "customer_id") and not (c in nulled and c in derived))

    data_rows = set(seed)
    if v.keep_rows is not None:
        expect, may_change, touched = set(v.keep_rows), 0, set()
    else:
        expect = data_rows
        touched = data_rows if v.touched_rows is None else (v.touched_rows & data_rows)
        may_change = 1 if v.touched_rows is None else len(touched)
    unmatched = list(got.values())
    missing = set()
    for r in sorted(expect):
        hit = next((g for g in unmatched if same(g, seed[r])), None)
        if hit is None:
            missing.add(r)
        else:
            unmatched.remove(hit)
    if not missing <= touched:
        return f"seed rows {sorted(missing - touched)} lost or changed although the mutation did not touch them"
    if v.exact and (unmatched or missing):
        return "reordered/duplicated columns changed the rows"
    if len(missing) > may_change or len(unmatched) > len(missing):
        return f"{len(missing)} seed rows changed/lost and {len(unmatched)} new rows; {may_change} touched"
    truncated = v.op.startswith("truncate")
    if v.keep_rows is None and not truncated and len(got) != len(seed):
        return f"{len(got)} rows stored from {len(seed)}: rows vanished or appeared without an error"
    return None


def run_variants(store, tmp_path, variants, seed_rows, suffix, *, cli_sample=(), capsys=None, header_cells=None):
    failures, outcomes = [], {"identical": 0, "changed-as-mutated": 0, "rejected": 0}
    for i, v in enumerate(variants):
        name = f"v{i:04d}{suffix}"
        path = tmp_path / name
        path.write_bytes(v.data)
        before = store.counts()
        via_cli = i in cli_sample
        shop = f"shop-{name}"
        try:
            if via_cli:
                code = main(["import", str(path), "--db", store.url, "--shop", shop, "--json", "--no-progress"])
                out = capsys.readouterr()
                text = out.out + out.err
                if "Traceback" in text:
                    failures.append((name, v.op, "CLI printed a traceback"))
                    continue
                if code not in (0, 2):
                    failures.append((name, v.op, f"CLI exit code {code}: {text[:300]}"))
                    continue
                if code == 2:
                    if store.counts() != before:
                        failures.append((name, v.op, "CLI rejection wrote rows"))
                    data = json.loads(out.out) if out.out.strip().startswith("{") else None
                    res = (data or {}).get("results", [{}])[0] if data else {}
                    if data and not (res.get("status") in ("rejected", "failed") and res.get("error")):
                        failures.append((name, v.op, f"CLI rejection without an error: {out.out[:200]}"))
                    outcomes["rejected"] += 1
                    continue
            else:
                import_file(store, path, shop=shop)
        except Exception as e:  # noqa: BLE001 - classified below
            problem = check_error(e, name)
            if problem:
                failures.append((name, v.op, problem))
            if store.counts() != before:
                failures.append((name, v.op, f"{type(e).__name__} but rows were written: "
                                             f"{ {k: (before[k], c) for k, c in store.counts().items() if c != before[k]} }"))
            outcomes["rejected"] += 1
            continue
        got = stored(store, shop)
        problem = check_success(v, got, seed_rows, header_cells)
        if problem:
            failures.append((name, v.op, problem))
        elif set(got) == set(seed_rows) and all(
                got[r] == seed_rows[r] | {"customer_id": got[r]["customer_id"]} for r in got):
            outcomes["identical"] += 1
        else:
            outcomes["changed-as-mutated"] += 1
    return failures, outcomes


@pytest.fixture
def fuzz_store(tmp_path):
    s = Store.open(tmp_path / "fuzz.db")
    yield s
    s.close()


def _seed_rows(store, tmp_path, data, name):
    p = tmp_path / name
    p.write_bytes(data)
    (res,) = import_file(store, p, shop=f"seed-{name}")
    assert res.rows_new == len(ROWS) and res.status == "done"
    return stored(store, f"seed-{name}")


def _report(failures, outcomes, total):
    lines = [f"{len(failures)} of {total} variants misbehaved; outcomes {outcomes}"]
    lines += [f"  {n} [{op}]: {why}" for n, op, why in failures[:15]]
    return "\n".join(lines)


def test_i02_fuzzed_csv_variants(fuzz_store, tmp_path, capsys):
    seed = csv_bytes(HEADER, ROWS)
    seed_rows = _seed_rows(fuzz_store, tmp_path, seed, "seed.csv")
    rng = random.Random(20261125)
    spans = _row_spans(seed)
    assert len(spans) == len(ROWS) + 1
    variants = byte_variants(seed, rng, N_CSV - 160, spans) + structural_variants(csv_bytes, rng, 160)
    cli_sample = set(rng.sample(range(len(variants)), N_CLI))
    failures, outcomes = run_variants(fuzz_store, tmp_path, variants, seed_rows, ".csv",
                                      cli_sample=cli_sample, capsys=capsys, header_cells=_header_cells(seed))
    assert not failures, _report(failures, outcomes, len(variants))
    assert len(variants) >= N_CSV
    assert outcomes["rejected"] > 200 and outcomes["identical"] > 40, outcomes


def test_i02_fuzzed_xlsx_variants(fuzz_store, tmp_path, capsys):
    seed = xlsx_bytes(HEADER, ROWS)
    seed_rows = _seed_rows(fuzz_store, tmp_path, seed, "seed.xlsx")
    rng = random.Random(1125)
    variants = byte_variants(seed, rng, N_XLSX - 60) + structural_variants(xlsx_bytes, rng, 60)
    cli_sample = set(rng.sample(range(len(variants)), 20))
    failures, outcomes = run_variants(fuzz_store, tmp_path, variants, seed_rows, ".xlsx",
                                      cli_sample=cli_sample, capsys=capsys)
    assert not failures, _report(failures, outcomes, len(variants))
    assert outcomes["rejected"] > 50 and outcomes["identical"] > 30, outcomes
