"""R-01: kill -9 in the middle of an import leaves nothing behind, and re-importing recovers exactly.

A child process imports a 20,000-row review CSV (one transaction) with the test hook
``REVIEWOPS_TEST_PAUSE_AT_ROW=N``: once row N has been written it writes a marker file and
sleeps inside the transaction. The parent waits for the marker, sends SIGKILL and reopens
the database: ``PRAGMA integrity_check`` is ok, there are no review rows (never a part of
the file) and no import_batches row. Re-importing then gives exactly the full row count,
and a second re-import adds nothing.

23 deterministic kill points run in two chains at a time (the CI box has two cores): each
chain kills an import, checks the database, and lets the next kill point import into the
same (recovered, empty) database; after every fourth kill point the chain re-imports the
file twice — exactly 20,000 rows, then nothing new — and goes on with a fresh database.
The children write in smaller chunks than production (``WRITE_CHUNK`` 100 instead of 2,000)
so that the kill points, 1,003 rows apart, fall into different chunks of the file;
atomicity does not depend on the chunk size. One kill point
also runs against PostgreSQL when a server is configured.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from reviewops import Store
from reviewops.intake.ingest import ENV_PAUSE_AT_ROW, ENV_PAUSE_FILE

pytestmark = pytest.mark.slow

N_ROWS = 20_000
N_NICKS = 100  # few buyers: the customers upsert (also paused by the hook) stays short
KILL_POINTS = [1, 250, *range(501, N_ROWS, 1003), N_ROWS]  # 23 points: customers phase, first and last chunk
GROUP = 4  # kill points between two full re-imports in a chain

CHILD = r"""
import json, sys
from pathlib import Path
import reviewops.intake.ingest as ingest
from reviewops import Store, import_file

mode, db, path = sys.argv[1:4]
if mode == "pause":
    ingest.WRITE_CHUNK = 100
    with Store.open(db) as s:
        import_file(s, Path(path))
    print("FINISHED WITHOUT PAUSING")
else:
    out = []
    with Store.open(db) as s:
        for _ in range(int(sys.argv[4])):
            (r,) = import_file(s, Path(path))
            c = s.counts()
            out.append([r.rows_new, r.rows_updated, r.rows_unchanged, c["reviews"], c["review_versions"],
                        c["import_batches"]])
    print(json.dumps(out))
"""


def review_csv(path: Path, n_rows: int) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["订单编号", "买家昵称", "评价结果", "评价内容", "评价时间", "宝贝标题", "追评内容"])
    for i in range(n_rows):
        w.writerow([str(2841234567890000001 + i * 7919), f"buyer{i % N_NICKS}", ("好评", "中评", "差评")[i % 3],
                    f"第{i}条评价，质量一般，“引号”,逗号",
                    f"2024-03-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{i * 7 % 60:02d}",
                    "保温杯", "" if i % 5 else "追评：还是坏了"])
    path.write_bytes(buf.getvalue().encode("gb18030"))
    return path


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> Path:
    return review_csv(tmp_path_factory.mktemp("r01") / "reviews-20k.csv", N_ROWS)


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory) -> Path:
    """A migrated, empty SQLite file that each kill point copies (migrations run once)."""
    path = tmp_path_factory.mktemp("r01db") / "empty.db"
    Store.open(path).close()
    assert not Path(str(path) + "-wal").exists() or Path(str(path) + "-wal").stat().st_size == 0
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWOPS_TEST_PAUSE")}
    env.update(extra)
    return env


def kill_mid_import(db: str, csv_path: Path, n: int, marker: Path, timeout: float = 90) -> None:
    """Start the import in a child, wait until it pauses after row ``n``, then SIGKILL it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, "pause", db, str(csv_path)],
        env=_env(**{ENV_PAUSE_AT_ROW: str(n), ENV_PAUSE_FILE: str(marker)}),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    try:
        while not (marker.exists() and marker.read_text()):  # created, then written: wait for both
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"kill point {n}: the child ended (code {proc.returncode}) before pausing:\n"
                                     f"{out.decode()[-500:]}\n{err.decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"kill point {n}: no pause within {timeout}s")
            time.sleep(0.02)
        assert marker.read_text() == str(n)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def reimport(db: str, csv_path: Path, times: int) -> list[list[int]]:
    out = subprocess.run([sys.executable, "-c", CHILD, "reimport", db, str(csv_path), str(times)],
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def crash_and_check(db: Path, n: int, csv_path: Path, work: Path) -> dict:
    marker = work / f"kill-{n}.paused"
    kill_mid_import(str(db), csv_path, n, marker)
    assert Path(str(db) + "-wal").exists()  # the killed transaction had written pages
    con = sqlite3.connect(db)  # the first open after the crash recovers from the WAL
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchall()
        left = tuple(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("reviews", "review_versions", "customers", "shops"))
        batches = con.execute("SELECT status FROM import_batches").fetchall()
    finally:
        con.close()
    return {"n": n, "integrity": integrity, "after_kill": (*left, batches), "runs": None}


def run_chain(points: list[int], csv_path: Path, empty_db: Path, work: Path) -> list[dict]:
    results, db = [], None
    for j, n in enumerate(points):
        if db is None:
            db = work / f"chain-{n}.db"
            shutil.copyfile(empty_db, db)
        r = crash_and_check(db, n, csv_path, work)
        if (j + 1) % GROUP == 0 or j == len(points) - 1:
            r["runs"] = reimport(str(db), csv_path, 2)
            db = None
        results.append(r)
    return results


def test_r01_kill_minus_9_mid_import_is_all_or_nothing(big_csv, empty_db, tmp_path):
    assert len(KILL_POINTS) >= 20 and len(set(KILL_POINTS)) == len(KILL_POINTS)
    chains = [KILL_POINTS[0::2], KILL_POINTS[1::2]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [r for chain in pool.map(lambda c: run_chain(c, big_csv, empty_db, tmp_path), chains)
                   for r in chain]
    assert sorted(r["n"] for r in results) == sorted(KILL_POINTS)
    for r in results:
        n = r["n"]
        assert r["integrity"] == [("ok",)], (n, r["integrity"])
        assert r["after_kill"] == (0, 0, 0, 0, []), f"kill point {n} left rows behind: {r['after_kill']}"
        if r["runs"] is not None:
            assert r["runs"] == [[N_ROWS, 0, 0, N_ROWS, N_ROWS, 1], [0, 0, N_ROWS, N_ROWS, N_ROWS, 2]], (n, r["runs"])
    assert sum(r["runs"] is not None for r in results) >= 5


@pytest.mark.postgres
def test_r01_kill_minus_9_on_postgresql(pg_db_url, tmp_path):
    n = 5_000  # PostgreSQL's atomicity does not need the long file; keeps the run short
    path = review_csv(tmp_path / "reviews-5k.csv", n)
    Store.open(pg_db_url).close()
    kill_mid_import(pg_db_url, path, 2_601, tmp_path / "pg.paused")
    deadline = time.monotonic() + 30
    while True:  # the server notices the dead connection and rolls its transaction back
        with Store.open(pg_db_url) as s:
            c = s.counts()
        if c["reviews"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (c["reviews"], c["review_versions"], c["customers"], c["import_batches"]) == (0, 0, 0, 0)
    runs = reimport(pg_db_url, path, 2)
    assert runs == [[n, 0, 0, n, n, 1], [0, 0, n, n, n, 2]]
