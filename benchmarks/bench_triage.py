"""Triage benchmark: the whole demo shop end to end, and triage() on DataFrames.

Measures, on this machine:

* ``reviewops demo`` data (built once per scale into ``benchmarks/data/``) → ``triage_store``
  with the lexicon and with a model trained on the shop's own rated reviews: reviews
  examined, negatives, cases written, wall time; ``open_queue`` time.
* ``triage(DataFrame)`` throughput on 10,000 and 100,000 rows (the Excel ``RO_TRIAGE`` path),
  24×7 and business-hours clocks.

    python benchmarks/bench_triage.py [--scale 1.0] [--json benchmarks/results/triage.json]
    python benchmarks/bench_triage.py --quick     # smoke run: 2,000 rows, demo shop at scale 0.02 (~20 s)

Results go to stdout (a Markdown table) and optionally JSON; docs/performance.md quotes them. ``--quick`` builds
its small shop in a temporary directory (``_quick.py``; ``benchmarks/data`` untouched) and prints the result JSON
as the last stdout line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
from _quick import print_result, quick_dir

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def _git_ref() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
    except Exception:  # noqa: BLE001
        return "unknown"


def demo_db(scale: float, data: Path = DATA) -> Path:
    """A demo shop database at ``scale``: imported, not yet triaged (built once, then copied per run)."""
    from reviewops import build_demo

    base = data / f"demo_{scale:g}.db"
    if not base.exists():
        data.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        build_demo(str(base), scale=scale)
        print(f"built demo shop at scale {scale:g} in {time.perf_counter() - t:.1f} s → {base}")
    return base


def bench_store(scale: float, data: Path = DATA) -> dict:
    from reviewops import Store, TextModel, open_queue, triage_store
    from reviewops.grading.textmodel import train_from_store

    base = demo_db(scale, data)
    out: dict = {}
    for label in ("lexicon", "model"):
        work = data / f"demo_{scale:g}_{label}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(work) + suffix).unlink(missing_ok=True)
        shutil.copy(base, work)
        with Store.open(str(work)) as store:
            model = None
            if label == "model":
                t = time.perf_counter()
                info = train_from_store(store, actor="bench", min_reviews=40)
                out["train_s"] = round(time.perf_counter() - t, 2)
                out["train_reviews"] = info["n_train"]
                model = TextModel.load(store)
            t = time.perf_counter()
            res = triage_store(store, model=model or False, actor="bench", via="bench")
            elapsed = time.perf_counter() - t
            t = time.perf_counter()
            again = triage_store(store, model=model or False, actor="bench", via="bench")
            rerun = time.perf_counter() - t
            t = time.perf_counter()
            q = open_queue(store, limit=50)
            queue_s = time.perf_counter() - t
        out[label] = {"examined": res.examined, "negative": res.negative, "cases_created": res.created,
                      "seconds": round(elapsed, 2), "reviews_per_s": round(res.examined / elapsed),
                      "rerun_created": again.created, "rerun_seconds": round(rerun, 2),
                      "open_queue_50_ms": round(queue_s * 1000, 1), "queue_rows": len(q)}
        for suffix in ("", "-wal", "-shm"):
            Path(str(work) + suffix).unlink(missing_ok=True)
    return out


def bench_frame(rows: int, clock: str) -> dict:
    from reviewops import triage
    from reviewops.core.policy import Policy, default_policy

    data = json.loads(default_policy().to_json())  # public round trip: the default policy with another clock
    for r in data["tables"]["settings"]:
        if r["key"] == "sla_clock":
            r["value"] = clock
    policy = Policy.from_json(json.dumps(data), source="bench")
    assert policy.setting("sla_clock") == clock
    texts = ["物流太慢了，等了一个星期", "质量很好，下次还来", "尺码偏小，换货客服不理人", "一般般吧", "颜色和图片不一样，有色差",
             "不赔钱就差评", "包装破损，东西漏了一地", "很满意，好评"]
    df = pd.DataFrame({
        "content": [texts[i % len(texts)] + "。" * (i % 5) for i in range(rows)],
        "rating": [(i % 5) + 1 for i in range(rows)],
        "created_at": [dt.datetime(2025, 9, 26, 8, 0) + dt.timedelta(minutes=17 * i) for i in range(rows)],
    })
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        out = triage(df, policy, now=dt.datetime(2025, 9, 30, tzinfo=dt.timezone.utc))
        best = min(best, time.perf_counter() - t)
    return {"rows": rows, "clock": clock, "seconds": round(best, 3), "rows_per_s": round(rows / best),
            "negative": int(out["is_negative"].sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--skip-store", action="store_true")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2,000 rows, demo shop at scale 0.02 in a temp directory; last stdout line = JSON")
    args = ap.parse_args()
    if args.quick:
        args.scale = 0.02
        with quick_dir("triage") as tmp:
            args.json = args.json or tmp / "triage.json"
            result = run(args, (2_000,), tmp / "data")
        print_result(result)
        return
    run(args, (10_000, 100_000), DATA)


def run(args: argparse.Namespace, sizes: tuple[int, ...], data: Path) -> dict:
    result: dict = {"ref": _git_ref(), "python": platform.python_version(), "machine": platform.machine(),
                    "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "scale": args.scale,
                    "quick": bool(args.quick), "load_before": os.getloadavg()}
    result["frame"] = [bench_frame(n, c) for n in sizes for c in ("always", "business")]
    if not args.skip_store:
        result["store"] = bench_store(args.scale, data)
    result["load_after"] = os.getloadavg()
    print("| triage() rows | clock | best of 3 (s) | rows/s | negative |\n|---:|---|---:|---:|---:|")
    for r in result["frame"]:
        print(f"| {r['rows']:,} | {r['clock']} | {r['seconds']} | {r['rows_per_s']:,} | {r['negative']:,} |")
    if "store" in result:
        s = result["store"]
        print("\n| demo shop | examined | negative | cases | seconds | reviews/s | re-run created | re-run s | queue 50 ms |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label in ("lexicon", "model"):
            r = s[label]
            print(f"| {label} | {r['examined']:,} | {r['negative']:,} | {r['cases_created']:,} | {r['seconds']} | "
                  f"{r['reviews_per_s']:,} | {r['rerun_created']} | {r['rerun_seconds']} | {r['open_queue_50_ms']} |")
        print(f"\nmodel trained on {s['train_reviews']:,} rated reviews in {s['train_s']} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
