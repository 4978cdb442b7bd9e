"""Excel function benchmark: ``RO_TRIAGE`` (reviewops.excel.ro_triage) on ranges as Excel sends them.

The range is a list of lists with a Chinese header row, floats for ratings, Excel serial numbers
for the review times and platform names in Chinese — what classic xlwings hands the function.

* **cold**: a fresh Python process imports ``reviewops.excel`` and calls ``ro_triage`` once
  (import + building the lexicon + the call), median of several processes; the import alone too.
* **warm**: the same process calls it again; median and best of several repetitions.

    python benchmarks/bench_excel.py [--rows 10000] [--reps 7] [--cold 5] [--json benchmarks/results/excel.json]
    python benchmarks/bench_excel.py --quick      # smoke run: 1,000 rows, one cold process, 2 warm calls

Results go to stdout (a Markdown table) and optionally JSON; docs/performance.md quotes them. ``--quick`` writes
its JSON to a temporary directory (``_quick.py``) and prints it as the last stdout line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _quick import print_result, quick_dir

HERE = Path(__file__).resolve().parent
TEXTS = ("物流太慢了，等了一周才到", "质量很差，用了两天就坏了", "很好，下次还来", "客服态度恶劣，我要投诉",
         "尺码偏小，穿不上", "包装破损，东西漏了", "不给返现就给差评", "一般般吧，还行")
PLATFORMS = ("淘宝", "抖店", "拼多多", "京东")


def sheet(rows: int) -> list[list]:
    """A range as classic xlwings sends it: header row, floats, serial dates."""
    out: list[list] = [["评价内容", "评分", "评价时间", "平台"]]
    for i in range(rows):
        out.append([f"{TEXTS[i % len(TEXTS)]}（{i}）", float(i % 5 + 1), 46000.0 + i / 1440.0,
                    PLATFORMS[i % len(PLATFORMS)]])
    return out


_COLD = """
import sys, time
t0 = time.perf_counter()
from reviewops import excel
t1 = time.perf_counter()
sys.path.insert(0, {here!r})
from bench_excel import sheet
data = sheet({rows})
t2 = time.perf_counter()
out = excel.ro_triage(data, 46001.0)
t3 = time.perf_counter()
assert len(out) == {rows} + 1, out if isinstance(out, str) else len(out)
print(t1 - t0, t3 - t2)
"""


def _git_ref() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
    except Exception:  # noqa: BLE001
        return "unknown"


def cold(rows: int, runs: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "REVIEWOPS_DB"}
    imports, calls = [], []
    for _ in range(runs):
        r = subprocess.run([sys.executable, "-c", _COLD.format(here=str(HERE), rows=rows)], capture_output=True,
                           text=True, env=env, check=True)
        a, b = (float(v) for v in r.stdout.split())
        imports.append(a)
        calls.append(b)
    return {"runs": runs, "import_s_median": round(statistics.median(imports), 3),
            "first_call_s_median": round(statistics.median(calls), 3),
            "import_plus_first_call_s_median": round(statistics.median(a + b for a, b in zip(imports, calls)), 3)}


def warm(rows: int, reps: int) -> dict:
    from reviewops import excel

    os.environ.pop("REVIEWOPS_DB", None)
    data = sheet(rows)
    first = excel.ro_triage(data[:20], 46001.0)
    assert isinstance(first, list), first
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        out = excel.ro_triage(data, 46001.0)
        times.append(time.perf_counter() - t)
        assert isinstance(out, list) and len(out) == rows + 1, out if isinstance(out, str) else len(out)
    neg = sum(1 for r in out[1:] if r[0] is True)
    return {"reps": reps, "median_s": round(statistics.median(times), 3), "best_s": round(min(times), 3),
            "rows_per_s_median": round(rows / statistics.median(times)), "negative": neg}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--cold", type=int, default=5)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1,000 rows, 1 cold process, 2 warm calls; JSON to a temp directory and stdout")
    args = ap.parse_args()
    if args.quick:
        args.rows, args.reps, args.cold = [1_000], 2, 1
        with quick_dir("excel") as tmp:
            args.json = args.json or tmp / "excel.json"
            result = run(args)
        print_result(result)
        return
    run(args)


def run(args: argparse.Namespace) -> dict:
    result: dict = {"quick": bool(args.quick), "load_before": os.getloadavg(),"ref": _git_ref(), "python": platform.python_version(), "machine": platform.machine(),
                    "cpus": os.cpu_count(), "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "function": "reviewops.excel.ro_triage", "runs": []}
    for n in args.rows:
        result["runs"].append({"rows": n, "cold": cold(n, args.cold), "warm": warm(n, args.reps)})
    print("| rows | warm median (s) | warm best (s) | rows/s | cold: import (s) | cold: first call (s) | negative |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in result["runs"]:
        w, c = r["warm"], r["cold"]
        print(f"| {r['rows']:,} | {w['median_s']} | {w['best_s']} | {w['rows_per_s_median']:,} | "
              f"{c['import_s_median']} | {c['first_call_s_median']} | {w['negative']:,} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
