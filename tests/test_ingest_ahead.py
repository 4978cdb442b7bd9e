"""Reading ahead in a worker process (``prepare_ahead`` + ``import_paths(ahead=…)``, issue 14's demo speed):
the store ends up exactly as when every file is read in this process, failures carry their usual error, and
``run_demo`` really writes from the worker's results."""

from __future__ import annotations

import csv
import datetime as dt
import io
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from reviewops.core.errors import ConfigError
from reviewops.core.store import Store, clock
from reviewops.demo import generate_demo
from reviewops.demo import run as demo_run
from reviewops.intake import ingest
from reviewops.intake.ingest import import_paths, prepare_ahead

AS_OF = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.timezone.utc)
#: times written from the real clock or per run, not from the data
VOLATILE = {"started_at", "finished_at", "seconds"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    return generate_demo(tmp_path_factory.mktemp("ahead"), scale=0.02, as_of=AS_OF)


@pytest.fixture(scope="module")
def pool():
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as ex:
        yield ex


def _dump(db: str) -> dict[str, list[tuple]]:
    eng = sa.create_engine(db)
    out: dict[str, list[tuple]] = {}
    with eng.connect() as conn:
        md = sa.MetaData()
        md.reflect(conn)
        for name, table in sorted(md.tables.items()):
            cols = [c for c in table.columns if c.name not in VOLATILE]
            out[name] = sorted(map(repr, conn.execute(sa.select(*cols)).all()))
    eng.dispose()
    return out


def _import_all(db: str, demo, pool=None) -> list:
    results = []
    with Store.open(db) as store, clock(AS_OF):
        ahead = ({str(f.path): prepare_ahead(pool, store, f.path, platform=f.platform, kind=f.kind)
                  for f in demo.files} if pool is not None else None)
        for f in demo.files:
            results.extend(import_paths(store, [f.path], platform=f.platform, kind=f.kind, shop=f.shop,
                                        ahead=ahead))
    return results


def test_reading_ahead_stores_the_same_rows(tmp_path: Path, demo, pool) -> None:
    here, there = f"sqlite:///{tmp_path / 'here.db'}", f"sqlite:///{tmp_path / 'there.db'}"
    seq = _import_all(here, demo)
    par = _import_all(there, demo, pool)
    assert [r.status for r in par] == [r.status for r in seq] and all(r.status == "done" for r in seq)
    assert [(r.rows_new, r.rows_read, r.layout) for r in par] == [(r.rows_new, r.rows_read, r.layout) for r in seq]
    a, b = _dump(here), _dump(there)
    assert a.keys() == b.keys()
    assert {k for k in a if a[k] != b[k]} == set()
    assert sum(len(v) for v in a.values()) > 1000


def test_the_worker_drops_raw_rows_only_when_nothing_is_wrong(demo) -> None:
    f = next(f for f in demo.files if f.kind == "reviews")
    now = AS_OF
    slim = ingest._prepare_slim(str(f.path), ingest.BUILTIN, f.platform, f.kind, b"k" * 32, now)
    assert slim is not None and slim.slim and all(p.raw_rows == [] and p.table.rows == [] for p in slim.tables)
    full = ingest.prepare_file(f.path, candidates=ingest.BUILTIN, platform=f.platform, kind=f.kind,
                               pii_key=b"k" * 32, now=now)
    assert not full.slim and full.sha256 == slim.sha256
    assert [len(p.frame) for p in full.tables] == [len(p.frame) for p in slim.tables]


def test_a_bad_row_keeps_its_cells_for_the_rejected_file(tmp_path: Path, demo, pool) -> None:
    src = next(f for f in demo.files if f.kind == "refunds" and f.path.suffix == ".csv")
    raw = src.path.read_bytes()
    enc = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "gb18030"  # the platforms' own encodings
    lines = raw.decode(enc).splitlines()
    bad = tmp_path / src.path.name
    # the first data row again under a new refund id, its money and times garbage: the import names it
    head = next(i for i, ln in enumerate(lines) if ln.startswith("订单编号,"))
    names = next(csv.reader([lines[head]]))
    cells = next(csv.reader([lines[head + 1]]))
    assert len(cells) == len(names)
    for col in ("买家退款金额", "退款的申请时间"):
        cells[names.index(col)] = "不是数字或时间"
    cells[names.index("退款编号")] += "9"
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    lines.insert(head + 1, out.getvalue())
    bad.write_bytes(("\n".join(lines) + "\n").encode(enc))
    db = f"sqlite:///{tmp_path / 'bad.db'}"
    with Store.open(db) as store, clock(AS_OF):
        fut = prepare_ahead(pool, store, bad, platform=src.platform, kind=src.kind)
        pf = fut.result()
        assert pf is not None and not pf.slim and any(p.problems for p in pf.tables)
        res = import_paths(store, [bad], platform=src.platform, kind=src.kind, shop=src.shop,
                           skip_bad_rows=True, ahead={str(bad): fut})
    assert res[0].status == "partial" and res[0].rows_rejected >= 1
    rejected = Path(res[0].rejected_file).read_text(encoding="utf-8-sig")
    assert "不是数字或时间" in rejected


def test_a_file_the_worker_cannot_read_fails_as_usual(tmp_path: Path, pool) -> None:
    junk = tmp_path / "订单导出.csv"
    junk.write_text("完全,不认识,的表头\n1,2,3\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'junk.db'}"
    with Store.open(db) as store:
        fut = prepare_ahead(pool, store, junk)
        assert fut.result() is None
        direct = import_paths(store, [junk])
        ahead = import_paths(store, [junk], ahead={str(junk): fut})
    assert ahead[0].status == direct[0].status == "failed"
    assert ahead[0].error == direct[0].error and "无法识别表头" in ahead[0].error


def test_run_demo_writes_from_the_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    ahead: list[str] = []
    real_import, real_ahead = ingest.import_file, ingest.prepare_ahead

    def spy(*a, **kw):
        seen.append(kw.get("prepared") is not None)
        return real_import(*a, **kw)

    def spy_ahead(executor, store, path, **kw):
        ahead.append(str(path))
        return real_ahead(executor, store, path, **kw)

    monkeypatch.setattr(ingest, "import_file", spy)
    monkeypatch.setattr(ingest, "prepare_ahead", spy_ahead)
    run = demo_run.run_demo(f"sqlite:///{tmp_path / 'demo.db'}", scale=0.02, as_of="2026-11-30T09:00",
                            out_dir=tmp_path / "out", password="demo-pass-1", prepare_workers=1)
    # every export of the day is read ahead and written from the worker's result; the aftermath's later
    # exports (追评改评, referred orders) are small and read here
    first = len(ahead)
    assert first > 10 and seen == [True] * first + [False] * (len(seen) - first)
    assert run.triage.created > 0


def test_prepare_workers_default_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(demo_run.ENV_PREPARE_WORKERS, raising=False)
    monkeypatch.setattr(demo_run.os, "cpu_count", lambda: 2)
    assert demo_run._prepare_workers(None, 1.0) == 1
    assert demo_run._prepare_workers(None, 0.05) == 0
    monkeypatch.setattr(demo_run.os, "cpu_count", lambda: 1)
    assert demo_run._prepare_workers(None, 1.0) == 0
    monkeypatch.setenv(demo_run.ENV_PREPARE_WORKERS, "2")
    assert demo_run._prepare_workers(None, 0.01) == 2
    assert demo_run._prepare_workers(0, 1.0) == 0
    monkeypatch.setenv(demo_run.ENV_PREPARE_WORKERS, "two")
    with pytest.raises(ConfigError, match="不是整数"):
        demo_run._prepare_workers(None, 1.0)
    with pytest.raises(ConfigError, match="不能为负"):
        demo_run._prepare_workers(-1, 1.0)
