#!/usr/bin/env python
"""Import benchmarks: the reviewops importer against a plain read of the same file.

    python benchmarks/bench_import.py [--rows N] [--xlsx-rows N] [--db URL] [--repeat K]
                                      [--scaling 100000,200000] [--profile-rows N] [--no-cli]
    python benchmarks/bench_import.py --quick     # 2,000-row CSV, 500-row XLSX, one run each, ~15 s;
                                                  # data and results in a temp directory (results/ untouched)

What is measured (each number is the median of ``--repeat`` runs, every run in
a fresh Python process and, for imports, on a fresh database):

CSV (``--rows``, default 1,000,000, plus the ``--scaling`` sizes)
  * ``pandas.read_csv(path, dtype=str, keep_default_na=False)`` — the baseline;
  * ``reviewops.intake.ingest.import_file(store, path)`` in-process, with the time split
    into stages (read+decode, header/layout detection, cleaning per column,
    PII masking/hashing, building records, database write, commit) by
    wrapping the library's own functions — the library is not modified. The
    measurement itself uses public APIs only (``Store.open``, ``import_file``);
    the stage probes name module functions, some of them private: a probe whose
    function no longer exists is skipped and listed under ``not_instrumented``
    in the results (its time then counts in the enclosing stage), so a refactor
    of the importer blurs the split but never breaks the benchmark;
  * ``reviewops import FILE --db DB --json --no-progress`` as a subprocess
    (wall time, including interpreter start-up and opening/migrating the store).
XLSX (``--xlsx-rows``, default 100,000)
  * ``python_calamine.CalamineWorkbook.from_path(p).get_sheet_by_index(0).to_python()`` — the baseline;
  * the same two importer measurements as for CSV.
Profile (``--profile-rows``, default 100,000; 0 to skip)
  * one cProfile run of the CSV import; the top functions go to
    ``benchmarks/results/profile_import_csv.txt``.

Data are generated deterministically into ``benchmarks/data/`` (git-ignored, see
``datagen.py``); results go to ``benchmarks/results/import.json`` and
``benchmarks/results/import.md``. The database is a fresh SQLite file in the
system temp directory for every run unless ``--db`` names another one: that
database is a scratch database and is **emptied before every run** (SQLite
file deleted; PostgreSQL tables dropped).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
RESULTS = HERE / "results"
if str(HERE) not in sys.path:  # datagen.py beside this file (already there when run as a script)
    sys.path.insert(0, str(HERE))

import datagen  # noqa: E402
from _quick import print_result, quick_dir  # noqa: E402

PII_KEY_HEX = "5e" * 32  # fixed so that runs are identical; the key's value does not change the work done
# issue 21: 1M-row CSV <= 5x read_csv on SQLite (durable writes), <= 3x on PostgreSQL; 100k-row XLSX <= 2x calamine;
# peak memory <= 1.5 GiB for 1M rows
GOAL_CSV = 5.0
GOAL_CSV_PG = 3.0
GOAL_XLSX = 2.0
GOAL_PEAK_RSS_MIB = 1536


# --------------------------------------------------------------------------- helpers
def _masked(arg: str) -> str:
    """A database URL with its password hidden (results files are committed)."""
    if "://" not in arg:
        return arg
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(arg).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 — not a URL after all
        return arg


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine_info(ref: str | None = None) -> dict[str, Any]:
    import sqlite3

    import numpy
    import pandas
    import python_calamine
    import sqlalchemy
    import xlsxwriter

    import reviewops

    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    try:
        cal_version = python_calamine.__version__  # type: ignore[attr-defined]
    except AttributeError:
        from importlib.metadata import version

        cal_version = version("python-calamine")
    lib_dirty = False if ref else bool(_git("status", "--porcelain", "--", "lib"))
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "python_calamine": cal_version,
        "xlsxwriter": xlsxwriter.__version__,
        "reviewops": reviewops.__version__,
        "git_commit": _git("rev-parse", ref or "HEAD"),
        "lib_dirty": lib_dirty,
        "lib": "snapshot of lib/ at " + ref if ref else f"installed reviewops ({Path(reviewops.__file__).parent})",
        "reviewops_file": reviewops.__file__,
    }


# --------------------------------------------------------------------------- databases
class ScratchDB:
    """A database that is empty at the start of every run."""

    def __init__(self, url: str | None):
        self.given = url
        self._tmp: str | None = None

    def fresh(self) -> str:
        if self.given is None:
            self.cleanup()
            self._tmp = tempfile.mkdtemp(prefix="reviewops-bench-")
            return str(Path(self._tmp) / "bench.db")
        url = self.given
        if "://" not in url or url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///"):] if url.startswith("sqlite:///") else url)
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    Path(str(path) + suffix).unlink()
            return url
        import sqlalchemy as sa

        from reviewops.core import store as st

        engine = sa.create_engine(st.resolve_url(url))
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    # everything, the migrations' functions and triggers included (a scratch database)
                    conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                    conn.exec_driver_sql("CREATE SCHEMA public")
                else:
                    st.metadata.drop_all(conn)
                    conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        finally:
            engine.dispose()
        return url

    def cleanup(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


# --------------------------------------------------------------------------- stage timer
class StageTimer:
    """Inclusive and exclusive (self) time of nested, named stages."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []  # [name, start, child_time]
        self.incl: dict[str, float] = {}
        self.excl: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.order: list[str] = []
        self.missing: list[str] = []  # probes whose function no longer exists (see wrap)

    @contextlib.contextmanager
    def stage(self, name: str):
        frame = [name, time.perf_counter(), 0.0]
        self.stack.append(frame)
        try:
            yield
        finally:
            self.stack.pop()
            spent = time.perf_counter() - frame[1]
            if name not in self.incl:
                self.order.append(name)
            self.incl[name] = self.incl.get(name, 0.0) + spent
            self.excl[name] = self.excl.get(name, 0.0) + spent - frame[2]
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.stack:
                self.stack[-1][2] += spent

    def wrap(self, owner: Any, attr: str, label: Any) -> bool:
        """Time calls of ``owner.attr`` under ``label``; False (nothing wrapped) when it does not exist."""
        orig = getattr(owner, attr, None)
        if not callable(orig):
            self.missing.append(f"{getattr(owner, '__name__', type(owner).__name__)}.{attr}")
            return False

        def wrapper(*a: Any, **kw: Any) -> Any:
            name = label(*a, **kw) if callable(label) else label
            with self.stage(name):
                return orig(*a, **kw)

        wrapper.__wrapped__ = orig  # type: ignore[attr-defined]
        setattr(owner, attr, wrapper)
        return True


def instrument(timer: StageTimer, store: Any) -> dict[str, Any]:
    """Wrap the importer's own functions (module attributes) so that a real import reports its stages."""
    import sqlalchemy as sa

    from reviewops.intake import clean, ingest
    from reviewops.core import privacy
    from reviewops.core.columns import fields_of

    info: dict[str, Any] = {"fields": []}
    orig_detect = getattr(ingest, "detect", None)

    def detect(*a: Any, **kw: Any) -> Any:
        with timer.stage("parse: layout detection (detect)"):
            det = orig_detect(*a, **kw)
        with contextlib.suppress(AttributeError, KeyError, TypeError):  # only labels the clean_cells stages
            if det is not None:
                fields = fields_of(det.layout.kind)
                info["fields"] = [(f, fields[f].type) for f in det.mapping]
        return det

    if callable(orig_detect):
        ingest.detect = detect
    else:
        timer.missing.append("reviewops.intake.ingest.detect")
    cc_calls = {"n": 0}

    def cc_label(*a: Any, **kw: Any) -> str:
        i = cc_calls["n"]
        cc_calls["n"] += 1
        f = info["fields"][i] if i < len(info["fields"]) else ("?", "?")
        return f"parse: clean_cells {f[0]} ({f[1]})"

    timer.wrap(ingest, "read_path", "read: bytes+decode+csv/xlsx parse (readers.read_path)")
    timer.wrap(ingest, "prepare_table", "parse: prepare_table self (row filter, column lists, problem checks)")
    timer.wrap(ingest, "find_header_row", "parse: header row (find_header_row)")
    timer.wrap(clean, "clean_cells", cc_label)
    for name in ("to_id", "to_utc", "to_rating", "to_score", "to_int", "to_fen", "to_bool"):
        timer.wrap(clean, name, f"parse: convert {name}")
    for name in ("name_frame", "phone_frame", "address_frame"):
        timer.wrap(privacy, name, f"pii: {name} masking")
    timer.wrap(privacy, "keyed_hash", "pii: keyed_hash (BLAKE2b per value)")
    timer.wrap(ingest, "file_sha256", "other: file sha256")
    timer.wrap(ingest, "saved_layouts", "other: saved layouts query")
    timer.wrap(ingest, "_assign_shops", "db: shops (_assign_shops)")
    timer.wrap(ingest, "_customer_ids", "db: customers self (_customer_ids)")
    timer.wrap(ingest, "_records", "db: build records (_records)")
    timer.wrap(ingest, "upsert", lambda conn, table, *a, **kw: f"db: upsert {table.name}")
    timer.wrap(clean, "is_default_review", "db: is_default_review")
    for kind, fn in list(getattr(ingest, "WRITERS", {}).items()):
        def writer(*a: Any, _fn: Any = fn, _name: str = f"db: _write_{kind} self (keys, row_hash, versions)") -> Any:
            with timer.stage(_name):
                return _fn(*a)
        ingest.WRITERS[kind] = writer

    orig_write = store.write  # public Store API

    @contextlib.contextmanager
    def write():
        with timer.stage("db: write transaction self (BEGIN, batch rows)"):
            cm = orig_write()
            conn = cm.__enter__()
            try:
                yield conn
            except BaseException:
                if not cm.__exit__(*sys.exc_info()):
                    raise
                return
            with timer.stage("db: COMMIT"):
                cm.__exit__(None, None, None)

    store.write = write

    # time spent inside the DB driver, by statement (not part of the stage tree: it overlaps it)
    sql: dict[str, list[float]] = {}
    starts: list[float] = []

    @sa.event.listens_for(store.engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        starts.append(time.perf_counter())

    @sa.event.listens_for(store.engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        spent = time.perf_counter() - starts.pop()
        words = statement.split()
        if not words:
            key = "?"
        elif words[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            key = " ".join(words[:3])
        elif "FROM" in words:
            key = f"{words[0]} … FROM {words[words.index('FROM') + 1]}"
        else:
            key = words[0]
        rec = sql.setdefault(key, [0, 0.0])
        rec[0] += 1
        rec[1] += spent

    info["sql"] = sql
    info["not_instrumented"] = timer.missing
    return info


# --------------------------------------------------------------------------- worker tasks
def task_pandas(path: str) -> dict[str, Any]:
    import pandas as pd

    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    t, c = time.perf_counter() - t0, time.process_time() - c0
    return {"seconds": t, "cpu_seconds": c, "rows": len(df), "peak_rss_mib": _peak_rss_mib(), "load1": load}


def task_calamine(path: str) -> dict[str, Any]:
    from python_calamine import CalamineWorkbook

    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    data = CalamineWorkbook.from_path(path).get_sheet_by_index(0).to_python()
    t, c = time.perf_counter() - t0, time.process_time() - c0
    return {"seconds": t, "cpu_seconds": c, "rows": len(data) - 1, "peak_rss_mib": _peak_rss_mib(), "load1": load}


def task_import(path: str, db: str, expect: int, profile_out: str | None = None) -> dict[str, Any]:
    os.environ["REVIEWOPS_PII_KEY"] = PII_KEY_HEX
    from reviewops.intake import ingest
    from reviewops.core.store import Store

    t0 = time.perf_counter()
    store = Store.open(db)
    open_s = time.perf_counter() - t0
    timer = StageTimer()
    info = instrument(timer, store) if profile_out is None else {"fields": [], "sql": {}, "not_instrumented": []}
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    if profile_out is None:
        with timer.stage("import_file self"):
            results = ingest.import_file(store, path)
    else:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        results = ingest.import_file(store, path)
        prof.disable()
        prof.dump_stats(profile_out + ".pstats")
        with open(profile_out, "w", encoding="utf-8") as fh:
            fh.write(f"cProfile of reviewops.intake.ingest.import_file({Path(path).name}) — timings are inflated by the profiler\n\n")
            st = pstats.Stats(prof, stream=fh)
            fh.write("== by internal time (tottime) ==\n")
            st.sort_stats("tottime").print_stats(45)
            fh.write("\n== by cumulative time ==\n")
            st.sort_stats("cumulative").print_stats(70)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    store.close()
    r = results[0]
    if r.status != "done" or r.rows_new != expect:
        raise SystemExit(f"import did not write every row: status={r.status} new={r.rows_new} expected={expect}")
    stages = [{"stage": k, "seconds": timer.excl[k], "inclusive": timer.incl[k], "calls": timer.calls[k]}
              for k in timer.order]
    groups = {"read": 0.0, "parse": 0.0, "pii": 0.0, "db": 0.0, "other": 0.0}
    for s in stages:
        g = s["stage"].split(":", 1)[0]
        groups[g if g in groups else "other"] += s["seconds"]
    import reviewops

    return {
        "reviewops_file": reviewops.__file__,
        "seconds": total,
        "cpu_seconds": cpu,
        "load1": load,
        "open_store_seconds": open_s,
        "rows_read": r.rows_read,
        "rows_new": r.rows_new,
        "file_type": r.file_type,
        "layout": r.layout,
        "stages": stages,
        "groups": groups,
        # the honest split: everything before the write transaction vs the transaction itself
        "parse_validate_seconds": groups["read"] + groups["parse"] + groups["pii"],
        "db_write_seconds": groups["db"],
        "sql": {k: {"statements": v[0], "seconds": v[1]} for k, v in info["sql"].items()},
        "not_instrumented": info["not_instrumented"],
        "peak_rss_mib": _peak_rss_mib(),
    }


def worker_main(spec: dict[str, Any]) -> None:
    task = spec["task"]
    if task == "pandas":
        out = task_pandas(spec["path"])
    elif task == "calamine":
        out = task_calamine(spec["path"])
    elif task == "import":
        out = task_import(spec["path"], spec["db"], spec["expect"], spec.get("profile_out"))
    else:
        raise SystemExit(f"unknown task {task}")
    sys.stdout.write("\n@@RESULT@@" + json.dumps(out) + "\n")


# --------------------------------------------------------------------------- driver
def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"worker {spec['task']} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.rsplit("@@RESULT@@", 1)[1])


def reviewops_cmd() -> list[str]:
    exe = shutil.which("reviewops")
    return [exe] if exe else [sys.executable, "-m", "reviewops"]


def run_cli(path: Path, db: str, expect: int) -> dict[str, Any]:
    env = dict(os.environ, REVIEWOPS_PII_KEY=PII_KEY_HEX)
    cmd = [*reviewops_cmd(), "import", str(path), "--db", db, "--json", "--no-progress"]
    load = os.getloadavg()[0]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    t = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"reviewops import failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    res = json.loads(proc.stdout)["results"][0]
    if res["rows_new"] != expect:
        raise SystemExit(f"reviewops import wrote {res['rows_new']} rows, expected {expect}")
    return {"seconds": t, "cpu_seconds": cpu, "rows_new": res["rows_new"], "load1": load}


def median_of(runs: list[dict[str, Any]], key: str = "seconds") -> float:
    return statistics.median(r[key] for r in runs)


def summarise_import(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median total, and for the stage split the per-stage medians (they need not add up exactly)."""
    out: dict[str, Any] = {
        "seconds": median_of(runs),
        "runs": [r["seconds"] for r in runs],
        "cpu_seconds": median_of(runs, "cpu_seconds"),
        "load1": [r["load1"] for r in runs],
        "parse_validate_seconds": median_of(runs, "parse_validate_seconds"),
        "db_write_seconds": median_of(runs, "db_write_seconds"),
        "open_store_seconds": median_of(runs, "open_store_seconds"),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
        "reviewops_file": runs[0]["reviewops_file"],
        "not_instrumented": runs[0]["not_instrumented"],
    }
    names = [s["stage"] for s in runs[0]["stages"]]
    out["stages"] = [
        {"stage": n, "seconds": statistics.median(next((s["seconds"] for s in r["stages"] if s["stage"] == n), 0.0)
                                                  for r in runs),
         "calls": runs[0]["stages"][i]["calls"]}
        for i, n in enumerate(names)
    ]
    out["groups"] = {g: statistics.median(r["groups"][g] for r in runs) for g in runs[0]["groups"]}
    sql_keys = list(runs[0]["sql"])
    out["sql"] = {k: {"statements": runs[0]["sql"][k]["statements"],
                      "seconds": statistics.median(r["sql"].get(k, {"seconds": 0.0})["seconds"] for r in runs)}
                  for k in sql_keys}
    return out


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def bench_file(kind: str, path: Path, n: int, args: argparse.Namespace, scratch: ScratchDB,
               cli: bool, log: Any) -> dict[str, Any]:
    base_task = "pandas" if kind == "csv" else "calamine"
    res: dict[str, Any] = {"kind": kind, "rows": n, "file": _rel(path),
                           "file_mib": round(path.stat().st_size / 2**20, 1)}
    base = []
    for i in range(args.repeat):
        base.append(run_worker({"task": base_task, "path": str(path)}))
        log(f"  {kind} {n}: baseline run {i + 1}: {base[-1]['seconds']:.2f}s")
    if any(b["rows"] != n for b in base):
        raise SystemExit(f"baseline read {base[0]['rows']} rows, expected {n}")
    res["baseline"] = {"name": "pandas.read_csv(dtype=str, keep_default_na=False)" if kind == "csv"
                       else "CalamineWorkbook.from_path(p).get_sheet_by_index(0).to_python()",
                       "seconds": median_of(base), "runs": [b["seconds"] for b in base],
                       "cpu_seconds": median_of(base, "cpu_seconds"), "load1": [b["load1"] for b in base],
                       "peak_rss_mib": max(b["peak_rss_mib"] for b in base)}
    imp = []
    for i in range(args.repeat):
        db = scratch.fresh()
        imp.append(run_worker({"task": "import", "path": str(path), "db": db, "expect": n}))
        log(f"  {kind} {n}: import_file run {i + 1}: {imp[-1]['seconds']:.2f}s "
            f"(parse+validate {imp[-1]['parse_validate_seconds']:.2f}s, db write {imp[-1]['db_write_seconds']:.2f}s)")
    res["import_file"] = summarise_import(imp)
    if cli:
        runs = []
        for i in range(args.repeat):
            db = scratch.fresh()
            runs.append(run_cli(path, db, n))
            log(f"  {kind} {n}: reviewops import run {i + 1}: {runs[-1]['seconds']:.2f}s")
        res["cli"] = {"command": " ".join(["reviewops", "import", res["file"], "--db", "<fresh.db>", "--json",
                                           "--no-progress"]),
                      "seconds": median_of(runs), "runs": [r["seconds"] for r in runs],
                      "cpu_seconds": median_of(runs, "cpu_seconds"), "load1": [r["load1"] for r in runs]}
    scratch.cleanup()
    b = res["baseline"]["seconds"]
    imp_s = res["import_file"]
    res["ratio_import_file"] = imp_s["seconds"] / b
    res["ratio_import_file_cpu"] = imp_s["cpu_seconds"] / res["baseline"]["cpu_seconds"]
    res["ratio_parse_validate"] = imp_s["parse_validate_seconds"] / b
    res["ratio_read_only"] = imp_s["groups"]["read"] / b
    if cli:
        res["ratio_cli"] = res["cli"]["seconds"] / b
    on_pg = scratch.given is not None and scratch.given.startswith("postgresql")
    goal = (GOAL_CSV_PG if on_pg else GOAL_CSV) if kind == "csv" else GOAL_XLSX
    res["goal"] = goal
    res["goal_met"] = res["ratio_import_file"] <= goal and (not cli or res["ratio_cli"] <= goal)
    return res


def fmt_s(x: float) -> str:
    return f"{x:.2f} s" if x < 100 else f"{x:.0f} s"


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"# Import benchmark results ({result['finished']})",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory']}; Python {m['python']}, pandas {m['pandas']}, "
        f"numpy {m['numpy']}, SQLAlchemy {m['sqlalchemy']}, SQLite {m['sqlite']}, python-calamine "
        f"{m['python_calamine']}, xlsxwriter {m['xlsxwriter']}; reviewops {m['reviewops']} at "
        f"`{m['git_commit'][:10]}`{' (lib/ had uncommitted changes)' if m['lib_dirty'] else ''}.",
        f"Database: {result['database']}. Medians of {result['repeat']} runs, each in a fresh process.",
        "",
        "| file | rows | MiB | baseline | import_file | ×baseline | ×baseline (CPU time) | parse+validate | ×baseline "
        "| DB write | `reviewops import` | ×baseline | goal | met | peak RSS (baseline) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in result["benchmarks"]:
        i = r["import_file"]
        cli = r.get("cli")
        cli_s = fmt_s(cli["seconds"]) if cli else "–"
        cli_x = f"{r['ratio_cli']:.1f}×" if cli else "–"
        lines.append(
            f"| {r['kind']} | {r['rows']:,} | {r['file_mib']} | {fmt_s(r['baseline']['seconds'])} | "
            f"{fmt_s(i['seconds'])} | {r['ratio_import_file']:.1f}× | {r['ratio_import_file_cpu']:.1f}× | "
            f"{fmt_s(i['parse_validate_seconds'])} | "
            f"{r['ratio_parse_validate']:.1f}× | {fmt_s(i['db_write_seconds'])} | "
            f"{cli_s} | {cli_x} | "
            f"≤ {r['goal']}× | {'yes' if r['goal_met'] else '**no**'} | "
            f"{i['peak_rss_mib']:,.0f} MiB ({r['baseline'].get('peak_rss_mib', 0):,.0f} MiB) |"
        )
    missing = sorted({m for r in result["benchmarks"] for m in r["import_file"].get("not_instrumented", [])})
    if missing:
        lines += ["", "Stage probes skipped (the function no longer exists; its time counts in the enclosing "
                      "stage): " + ", ".join(f"`{m}`" for m in missing)]
    lines += ["", f"Load average (1, 5, 15 min) at the start: {', '.join(f'{x:.2f}' for x in result['loadavg_start'])}"
                  f"; at the end: {', '.join(f'{x:.2f}' for x in result['loadavg_end'])}.",
              "", "Load average (1 min) when each run started — the machine is shared, so wall times carry noise; "
                  "CPU times are less sensitive to it:", ""]
    for r in result["benchmarks"]:
        loads = r["baseline"]["load1"] + r["import_file"]["load1"] + (r["cli"]["load1"] if "cli" in r else [])
        lines.append(f"- {r['kind']} {r['rows']:,}: " + ", ".join(f"{x:.1f}" for x in loads)
                     + f" (baseline runs {', '.join(fmt_s(x) for x in r['baseline']['runs'])}; import_file runs "
                     + ", ".join(fmt_s(x) for x in r["import_file"]["runs"])
                     + (f"; reviewops import runs {', '.join(fmt_s(x) for x in r['cli']['runs'])}" if "cli" in r else "")
                     + ")")
    for r in result["benchmarks"]:
        i = r["import_file"]
        lines += ["", f"## Stages: {r['kind']} {r['rows']:,} rows (self time, median; import_file total "
                      f"{fmt_s(i['seconds'])}, baseline {fmt_s(r['baseline']['seconds'])})", "",
                  "| stage | seconds | share | calls |", "|---|---:|---:|---:|"]
        for s in sorted(i["stages"], key=lambda s: -s["seconds"]):
            lines.append(f"| {s['stage']} | {s['seconds']:.2f} | {100 * s['seconds'] / i['seconds']:.1f} % | {s['calls']} |")
        lines += ["", "Time inside the SQLite driver (`cursor.execute`/`executemany`), by statement:", "",
                  "| statement | driver calls | seconds |", "|---|---:|---:|"]
        for k, v in sorted(i["sql"].items(), key=lambda kv: -kv[1]["seconds"])[:8]:
            lines.append(f"| `{k}` | {v['statements']:,} | {v['seconds']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of the main CSV (default 1,000,000)")
    ap.add_argument("--xlsx-rows", type=int, default=100_000, help="rows of the XLSX (default 100,000; 0 skips)")
    ap.add_argument("--scaling", default="100000,200000",
                    help="extra CSV sizes, comma-separated (default 100000,200000; '' for none)")
    ap.add_argument("--db", default=None, help="scratch database URL or path, EMPTIED before every run "
                                              "(default: a fresh SQLite file in the temp directory)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is reported (default 3)")
    ap.add_argument("--profile-rows", type=int, default=100_000, help="CSV rows for the cProfile run (0 skips)")
    ap.add_argument("--no-cli", action="store_true", help="skip the `reviewops import` subprocess runs")
    ap.add_argument("--ref", help="benchmark lib/ as committed at this git ref (a snapshot on PYTHONPATH) instead of "
                                  "the installed reviewops, so that edits in progress cannot change the code between runs")
    ap.add_argument("--seed", type=int, default=datagen.DEFAULT_SEED)
    ap.add_argument("--out", type=Path, default=None,
                    help="result JSON (default benchmarks/results/import.json; .md and the profile beside it)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2,000-row CSV, 500-row XLSX, 1,000-row profile, one run each; data and "
                         "results in a temporary directory (benchmarks/results/ untouched); last stdout line = JSON")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker))
        return 0
    if args.quick:
        args.rows, args.xlsx_rows, args.scaling, args.repeat, args.profile_rows = 2_000, 500, "", 1, 1_000
        with quick_dir("import") as tmp:
            result = run(args, argv, data=tmp / "data", out=args.out or tmp / "import.json")
        print_result(result)
        return 0
    run(args, argv, data=DATA, out=args.out or RESULTS / "import.json")
    return 0


def run(args: argparse.Namespace, argv: list[str] | None, data: Path, out: Path) -> dict[str, Any]:
    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    snap = None
    if args.ref:
        commit = _git("rev-parse", "--verify", args.ref + "^{commit}")
        if not commit:
            raise SystemExit(f"unknown git ref {args.ref}")
        snap = tempfile.mkdtemp(prefix="reviewops-bench-lib-")
        archive = subprocess.run(["git", "archive", "--format=tar", commit, "lib"], cwd=ROOT, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", snap], input=archive, check=True)
        lib = str(Path(snap) / "lib")
        # --ref only: the snapshot goes first for this process and its workers (and `reviewops import`)
        os.environ["PYTHONPATH"] = lib + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")
        sys.path.insert(0, lib)
        args.ref = commit
        log(f"benchmarking lib/ at {commit[:10]} from {lib}")
    started = _now()
    load_start = os.getloadavg()
    shown = [_masked(a) for a in (argv if argv is not None else sys.argv[1:])]  # no password in the results
    command = shlex.join(["python", "benchmarks/bench_import.py", *shown])
    scratch = ScratchDB(args.db)
    sizes = sorted({int(s) for s in args.scaling.split(",") if s.strip()} | {args.rows})
    benchmarks = []
    for n in sizes:
        t0 = time.perf_counter()
        path = datagen.write_csv(data / f"taobao_reviews_{n}.csv", n, args.seed)
        log(f"csv {n}: data ready in {time.perf_counter() - t0:.1f}s ({path.stat().st_size / 2**20:.1f} MiB)")
        benchmarks.append(bench_file("csv", path, n, args, scratch, not args.no_cli, log))
    if args.xlsx_rows:
        n = args.xlsx_rows
        t0 = time.perf_counter()
        path = datagen.write_xlsx(data / f"taobao_reviews_{n}.xlsx", n, args.seed)
        log(f"xlsx {n}: data ready in {time.perf_counter() - t0:.1f}s ({path.stat().st_size / 2**20:.1f} MiB)")
        benchmarks.append(bench_file("xlsx", path, n, args, scratch, not args.no_cli, log))
    profile = None
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.profile_rows:
        n = args.profile_rows
        path = datagen.write_csv(data / f"taobao_reviews_{n}.csv", n, args.seed)
        prof_out = out.parent / "profile_import_csv.txt"
        db = scratch.fresh()
        r = run_worker({"task": "import", "path": str(path), "db": db, "expect": n, "profile_out": str(prof_out)})
        scratch.cleanup()
        Path(str(prof_out) + ".pstats").unlink(missing_ok=True)
        profile = {"rows": n, "seconds_under_profiler": r["seconds"], "file": _rel(prof_out)}
        log(f"profile {n}: {r['seconds']:.1f}s under cProfile → {_rel(prof_out)}")
    result = {
        "started": started,
        "finished": _now(),
        "command": command.strip(),
        "quick": bool(args.quick),
        "machine": machine_info(args.ref),
        "loadavg_start": list(load_start),
        "loadavg_end": list(os.getloadavg()),
        "database": _masked(args.db) if args.db else "fresh SQLite file in the temp directory per run (WAL, synchronous=FULL)",
        "repeat": args.repeat,
        "seed": args.seed,
        "benchmarks": benchmarks,
        "profile": profile,
    }
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    tmp.replace(out)
    if snap:
        shutil.rmtree(snap, ignore_errors=True)
    md = markdown(result)
    out.with_suffix(".md").write_text(md, encoding="utf-8")
    print(md)
    log(f"wrote {_rel(out)} and {_rel(out.with_suffix('.md'))}")
    return result


if __name__ == "__main__":
    raise SystemExit(main())
