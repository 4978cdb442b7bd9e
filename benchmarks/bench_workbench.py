"""Workbench latency on the demo shop: loading the queue and a case, and saving (domain level).

    python benchmarks/bench_workbench.py --db /tmp/bench/demo.db [--n 200] [--out benchmarks/results/workbench.json]
    python benchmarks/bench_workbench.py --quick  # smoke run: builds a scale-0.05 demo in a temp directory, 10 cases

Builds nothing itself: point it at a store made by ``reviewops demo`` (full size: ~12,600 reviews,
~1,800 cases). For ``--n`` open cases it times, per case, what one operator action costs on the
server side of a form: ``Workbench.case`` (the 案件处理 view), ``save_reply`` (a case save),
``record_contact`` (the first contact: state move + SLA stop + audit) and ``save_diagnosis``, plus
``queue()`` and ``approvals()``. Reports p50/p95/max in milliseconds. The browser round trip on top
of these (click → kernel → DOM) is measured by ``bench_workbench_browser.py``.

The goal in the workbench issue: case-save latency p95 ≤ 200 ms.

``--quick`` (the test suite runs it) needs no ``--db``: it runs ``reviewops.demo.run_demo`` at scale 0.05 into a
temporary directory (``_quick.py``), times 10 cases and prints the result JSON as the last stdout line. The
operations must also *work*: the benchmark fails when a case view, save or contact fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from _quick import print_result, quick_dir


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def _summary(xs: list[float]) -> dict[str, float]:
    return {"n": len(xs), "p50_ms": round(_pct(xs, 50) * 1000, 1), "p95_ms": round(_pct(xs, 95) * 1000, 1),
            "max_ms": round(max(xs) * 1000, 1), "mean_ms": round(statistics.fmean(xs) * 1000, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="a demo store (reviewops demo); required unless --quick")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: a scale-0.05 demo in a temp directory, 10 cases; last stdout line = JSON")
    args = ap.parse_args()
    if args.quick:
        from reviewops.demo import run_demo

        os.environ.setdefault("REVIEWOPS_PII_KEY", "5e" * 32)
        with quick_dir("workbench") as tmp:
            args.db = args.db or str(tmp / "demo.db")
            if not Path(args.db).exists():
                t = time.perf_counter()
                run_demo(args.db, scale=0.05, as_of="2026-11-30T09:00", password="bench-pass-1")
                print(f"built the demo at scale 0.05 in {time.perf_counter() - t:.1f} s")
            args.n = min(args.n, 10)
            args.out = args.out or tmp / "workbench.json"
            result = run(args)
        print_result(result)
        return
    if not args.db:
        ap.error("--db is required (or --quick)")
    run(args)


def run(args: argparse.Namespace) -> dict:
    from reviewops import Store, Workbench, add_user, get_actor
    from reviewops.core.errors import ConfigError

    store = Store.open(args.db)
    try:
        add_user(store, "bench_agent", role="agent", password="bench-pass-1", actor="bench")
    except ConfigError:
        pass
    wb = Workbench(store, get_actor(store, "bench_agent"))
    times: dict[str, list[float]] = {k: [] for k in ("queue", "approvals", "case_view", "save_reply",
                                                      "record_contact", "save_diagnosis")}

    def timed(key: str, fn, *a, **kw):
        t = time.perf_counter()
        out = fn(*a, **kw)
        times[key].append(time.perf_counter() - t)
        return out

    for _ in range(20):
        q = timed("queue", wb.queue, limit=200)
        timed("approvals", wb.approvals)
    cases = [int(c) for c in wb.queue(limit=500)["case_id"]]
    cases = [c for c in cases if wb.case(c).state == "new"][: args.n]
    for cid in cases:
        view = timed("case_view", wb.case, cid)
        v = timed("save_reply", wb.save_reply, cid, view.version, view.draft.text or "亲，非常抱歉，我们马上处理。")
        v = timed("record_contact", wb.record_contact, cid, v, channel="chat", note="已联系客户，了解情况")
        timed("save_diagnosis", wb.save_diagnosis, cid, v, problems=["其他"], text="基准测试")
    if not cases:
        raise SystemExit(f"no open case in state 'new' in {args.db}: nothing to time")
    result = {
        "db": str(args.db), "cases": len(cases), "queue_rows": int(len(q)), "load_avg": os.getloadavg(),
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
        "store": store.dialect, "timings": {k: _summary(v) for k, v in times.items() if v},
    }
    store.close()
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
